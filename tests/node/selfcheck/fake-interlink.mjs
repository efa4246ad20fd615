#!/usr/bin/env node
// TEST DOUBLE ONLY. A minimal Node stand-in for the `interlink` CLI (gateway / expose / send) that follows the CLI
// contract in ../README.md. It exists to check that the interop tests themselves are correct
// (INTERLINK_BIN=selfcheck/fake-interlink.mjs npm test) while the Rust binary is unfinished.
// It is NOT a reference implementation of the relay: the spec is shared/specs/relay-hybrid-connections.md.
// Known shortcuts: request bodies are buffered; ws 8 cannot read single fragments, so the fake expose streams a
// rendezvous body as one message per chunk (marked x-fake-stream) instead of one fragmented message; no half-close,
// no keepalive.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { WebSocket, WebSocketServer } from 'ws';

const argv = process.argv.slice(2);
const debug = (...a) => process.env.FAKE_DEBUG && console.error('[fake]', ...a);
const cmd = argv.shift();
const CONTROL_LIMIT = 64 * 1024;
const HOP = new Set(['connection', 'content-length', 'host', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'close', 'keep-alive']);

function sign(sr, se, key) {
  return crypto.createHmac('sha256', key).update(`${sr}\n${se}`).digest('base64');
}
function makeToken(resource, rule, key, ttl = 3600) {
  const se = Math.floor(Date.now() / 1000) + ttl;
  const sr = encodeURIComponent(resource);
  return `SharedAccessSignature sr=${sr}&sig=${encodeURIComponent(sign(sr, se, key))}&se=${se}&skn=${rule}`;
}
function parseCs(cs) {
  const o = {};
  for (const part of cs.split(';')) {
    const i = part.indexOf('=');
    if (i > 0) o[part.slice(0, i)] = part.slice(i + 1);
  }
  const ep = new URL(o.Endpoint);
  return { host: ep.host, rule: o.SharedAccessKeyName, key: o.SharedAccessKey };
}
function closeCode(code) {
  return code >= 1000 && code < 5000 && ![1004, 1005, 1006, 1015].includes(code) ? code : 1000;
}
function pipeWs(a, b) {
  a.on('message', (d, bin) => b.readyState === WebSocket.OPEN && b.send(d, { binary: bin }));
  b.on('message', (d, bin) => a.readyState === WebSocket.OPEN && a.send(d, { binary: bin }));
  a.on('close', (c, r) => b.readyState === WebSocket.OPEN && b.close(closeCode(c), r));
  b.on('close', (c, r) => a.readyState === WebSocket.OPEN && a.close(closeCode(c), r));
  a.on('error', () => b.terminate());
  b.on('error', () => a.terminate());
}

// ---------------------------------------------------------------------------------------------------- gateway
function gateway(args) {
  const keys = {};
  const hcs = new Map();
  let bind = '127.0.0.1:0';
  const limits = { token_expiry_grace_secs: 300, max_listeners_per_connection: 25, response_timeout_secs: 60, accept_timeout_secs: 30 };
  let anyHc = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--bind') bind = args[++i];
    else if (a === '--key') {
      const v = args[++i];
      const eq = v.indexOf('=');
      let secret = v.slice(eq + 1);
      let rights = ['listen', 'send', 'manage'];
      const m = secret.match(/^(.*):((?:listen|send|manage)(?:,(?:listen|send|manage))*)$/);
      if (m) [secret, rights] = [m[1], m[2].split(',')];
      keys[v.slice(0, eq)] = { key: secret, rights };
    } else if (a === '--hybrid-connection') {
      anyHc = false;
      const [name, flag] = args[++i].split(':');
      hcs.set(name, { anonymous: flag === 'anonymous', listeners: new Set() });
    } else if (a === '--config') {
      for (const line of fs.readFileSync(args[++i], 'utf8').split('\n')) {
        const m = line.match(/^\s*(\w+)\s*=\s*(\d+)/);
        if (m) limits[m[1]] = Number(m[2]);
      }
    }
  }
  const getHc = (name) => {
    if (!hcs.has(name) && anyHc) hcs.set(name, { anonymous: false, listeners: new Set() });
    return hcs.get(name);
  };
  let port;
  const pendingHttp = new Map(); // id -> {res, method, done}
  const pendingRelayRequests = new Map(); // id -> {msg, body}
  const pendingAccepts = new Map(); // id -> {req, socket, head, timer}

  function check(token, hc, right) {
    if (!token) return { status: 401 };
    if (!token.startsWith('SharedAccessSignature ')) {
      try {
        token = decodeURIComponent(token);
      } catch {
        return { status: 401 };
      }
    }
    if (!token.startsWith('SharedAccessSignature ')) return { status: 401 };
    const p = {};
    for (const kv of token.slice(22).split('&')) {
      const i = kv.indexOf('=');
      p[kv.slice(0, i)] = kv.slice(i + 1);
    }
    const rule = keys[p.skn];
    if (!rule || !p.sr || !p.sig || !p.se) return { status: 401 };
    let sig;
    try {
      sig = decodeURIComponent(p.sig);
    } catch {
      return { status: 401 };
    }
    if (sign(p.sr, p.se, rule.key) !== sig) return { status: 401 };
    if (Number(p.se) + limits.token_expiry_grace_secs < Date.now() / 1000) return { status: 401 };
    const aud = decodeURIComponent(p.sr).toLowerCase().replace(/^[a-z]+:\/\//, '').replace(/\/+$/, '');
    const resource = `127.0.0.1:${port}/${hc}`.toLowerCase();
    if (!(resource === aud || resource.startsWith(`${aud}/`))) return { status: 401 };
    if (!rule.rights.includes(right) && !rule.rights.includes('manage')) return { status: 403 };
    return { status: 200, se: Number(p.se) };
  }

  function finishResponse(p) {
    if (p.done) return;
    p.done = true;
    clearTimeout(p.timer);
    pendingHttp.delete(p.id);
    if (!p.res.headersSent) p.res.writeHead(500);
    p.res.end();
  }

  // A `response` from a listener; `sock` is the socket the body will come on; control = control channel.
  function onResponse(listener, resp, sock, control) {
    const p = pendingHttp.get(resp.requestId);
    if (!p) {
      if (control && resp.body) listener.skipBody = true;
      return null;
    }
    const headers = {};
    for (const [k, v] of Object.entries(resp.responseHeaders ?? {})) {
      if (!['content-length', 'transfer-encoding', 'connection'].includes(k.toLowerCase())) headers[k.toLowerCase()] = v;
    }
    const via = `1.1 127.0.0.1:${port}`;
    headers.via = headers.via ? `${headers.via}, ${via}` : via;
    const { 'x-fake-stream': _marker, ...visible } = headers;
    p.res.writeHead(Number(resp.statusCode), resp.statusDescription || undefined, visible);
    p.res.flushHeaders();
    if (!resp.body) {
      finishResponse(p);
      return null;
    }
    // A body is exactly one (possibly fragmented) binary message. ws 8 only surfaces whole messages, so the fake
    // expose marks streamed bodies with x-fake-stream and sends one message per chunk plus an empty one at the end.
    p.multi = 'x-fake-stream' in headers;
    if (control) listener.bodyFor = p;
    return p;
  }
  function onBodyChunk(p, data, control) {
    if (p.done) return;
    if (data.length === 0) return finishResponse(p);
    p.res.write(data);
    if (control || !p.multi) finishResponse(p);
  }
  // A rendezvous socket carrying one response (listener- or relay-initiated).
  function serveResponseSocket(ws) {
    let p = null;
    ws.on('message', (data, isBinary) => {
      debug('rendezvous message', isBinary, data.length, isBinary ? '' : data.toString().slice(0, 200));
      if (!isBinary) {
        const msg = JSON.parse(data.toString());
        if (msg.response) p = onResponse(null, msg.response, ws, false);
        if (p === null && msg.response) ws.close(1000);
      } else if (p) {
        onBodyChunk(p, data, false);
        if (p.done) ws.close(1000);
      }
    });
    ws.on('close', () => p && finishResponse(p));
    ws.on('error', () => {});
  }

  const noProto = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  const withProto = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    handleProtocols: (protocols, req) => (req.chosenProtocol && protocols.has(req.chosenProtocol) ? req.chosenProtocol : false),
  });

  function refuse(socket, status, text) {
    socket.end(`HTTP/1.1 ${status} ${text}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`);
  }

  function pick(set) {
    const arr = [...set];
    return arr[Math.floor(Math.random() * arr.length)];
  }

  function addListener(ws, hcName, hc, se) {
    const l = { ws, hc: hcName, bodyFor: null, skipBody: false, timer: null };
    const arm = (until) => {
      clearTimeout(l.timer);
      l.timer = setTimeout(() => ws.close(1008, 'token expired'), (until + limits.token_expiry_grace_secs) * 1000 - Date.now());
    };
    arm(se);
    hc.listeners.add(l);
    ws.on('close', () => {
      clearTimeout(l.timer);
      hc.listeners.delete(l);
    });
    ws.on('error', () => {});
    ws.on('message', (data, isBinary) => {
      if (isBinary) {
        if (l.bodyFor) {
          const p = l.bodyFor;
          l.bodyFor = null;
          onBodyChunk(p, data, true);
        } else if (l.skipBody) l.skipBody = false;
        return; // stray binary after body:false is tolerated
      }
      let msg;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (msg.renewToken) {
        const r = check(msg.renewToken.token, hcName, 'listen');
        if (r.status !== 200) ws.close(1008, 'invalid token');
        else arm(r.se);
      } else if (msg.response) {
        onResponse(l, msg.response, ws, true);
      }
    });
  }

  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const rawQuery = req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : null;
    if (u.pathname.startsWith('/$hc/')) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      return res.end('This endpoint is only for web-socket requests');
    }
    const hcName = u.pathname.split('/')[1];
    const hc = getHc(hcName);
    if (!hc) {
      res.writeHead(404);
      return res.end('no such hybrid connection');
    }
    let token = null;
    let kept = [];
    if (rawQuery !== null) {
      for (const part of rawQuery.split('&')) {
        const low = part.toLowerCase();
        if (low.startsWith('sb-hc-token=')) token = decodeURIComponent(part.slice(12));
        if (!(low.startsWith('sb-hc-') && part.includes('='))) kept.push(part);
      }
    }
    const strip = new Set(HOP);
    if (token === null && req.headers.servicebusauthorization) {
      token = req.headers.servicebusauthorization;
      strip.add('servicebusauthorization');
    } else if (token === null && !hc.anonymous && req.headers.authorization) {
      token = req.headers.authorization;
      strip.add('authorization');
    }
    strip.add('servicebusauthorization');
    if (token !== null || !hc.anonymous) {
      const r = check(token, hcName, 'send');
      if (r.status !== 200) {
        res.writeHead(r.status);
        return res.end(r.status === 401 ? 'TokenMissingOrInvalid' : 'Forbidden');
      }
    }
    if (hc.listeners.size === 0) {
      res.writeHead(502);
      return res.end('no listener');
    }
    const requestHeaders = {};
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i];
      if (strip.has(k.toLowerCase())) continue;
      const existing = Object.keys(requestHeaders).find((x) => x.toLowerCase() === k.toLowerCase());
      if (existing) requestHeaders[existing] += `, ${req.rawHeaders[i + 1]}`;
      else requestHeaders[k] = req.rawHeaders[i + 1];
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const id = crypto.randomUUID();
      const address = `ws://127.0.0.1:${port}/$hc/${hcName}?sb-hc-action=request&sb-hc-id=${id}`;
      const p = { id, res, done: false, multi: false };
      p.timer = setTimeout(() => {
        if (!p.done && !res.headersSent) {
          res.writeHead(504, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: { code: 'GatewayTimeout', message: 'The request was routed to the listener but the listener did not respond in the required time' } }));
        }
        p.done = true;
        pendingHttp.delete(id);
      }, limits.response_timeout_secs * 1000);
      pendingHttp.set(id, p);
      res.on('close', () => {
        clearTimeout(p.timer);
        pendingHttp.delete(id);
      });
      const msg = {
        request: {
          address,
          id,
          requestTarget: u.pathname + (kept.length ? `?${kept.join('&')}` : ''),
          method: req.method,
          remoteEndpoint: { address: req.socket.remoteAddress, port: req.socket.remotePort },
          requestHeaders,
          body: body.length > 0,
        },
      };
      const l = pick(hc.listeners);
      if (body.length > CONTROL_LIMIT || req.headers['transfer-encoding']) {
        pendingRelayRequests.set(id, { msg, body });
        l.ws.send(JSON.stringify({ request: { address, id } }));
      } else {
        l.ws.send(JSON.stringify(msg));
        if (body.length > 0) l.ws.send(body);
      }
    });
  });

  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {});
    const u = new URL(req.url, 'http://x');
    const m = u.pathname.match(/^\/\$hc\/([^/]+)(\/.*)?$/);
    if (!m) return refuse(socket, 404, 'Not Found');
    const hcName = m[1];
    const action = u.searchParams.get('sb-hc-action') ?? 'connect';
    const token = req.headers.servicebusauthorization ?? u.searchParams.get('sb-hc-token');
    const id = u.searchParams.get('sb-hc-id');
    debug('upgrade', req.url);
    if (action === 'listen' || action === 'connect') {
      const hc = getHc(hcName);
      if (!hc) return refuse(socket, 404, 'Not Found');
      let se = null;
      if (action === 'listen' || !hc.anonymous || token) {
        const r = check(token, hcName, action === 'listen' ? 'listen' : 'send');
        if (r.status !== 200) return refuse(socket, r.status, r.status === 401 ? 'Unauthorized' : 'Forbidden');
        se = r.se;
      }
      if (action === 'listen') {
        if (hc.listeners.size >= limits.max_listeners_per_connection) return refuse(socket, 403, 'Listener quota exceeded');
        return noProto.handleUpgrade(req, socket, head, (ws) => addListener(ws, hcName, hc, se));
      }
      if (hc.listeners.size === 0) return refuse(socket, 404, 'No listener');
      const aid = id ?? crypto.randomUUID();
      const connectHeaders = {};
      for (let i = 0; i < req.rawHeaders.length; i += 2) connectHeaders[req.rawHeaders[i]] = req.rawHeaders[i + 1];
      const pend = { req, socket, head };
      pend.timer = setTimeout(() => {
        pendingAccepts.delete(aid);
        refuse(socket, 504, 'Gateway Timeout');
      }, limits.accept_timeout_secs * 1000);
      socket.on('close', () => {
        clearTimeout(pend.timer);
        pendingAccepts.delete(aid);
      });
      pendingAccepts.set(aid, pend);
      pick(hc.listeners).ws.send(
        JSON.stringify({
          accept: {
            address: `ws://127.0.0.1:${port}/$hc/${hcName}?sb-hc-action=accept&sb-hc-id=${aid}`,
            id: aid,
            connectHeaders,
            remoteEndpoint: { address: socket.remoteAddress, port: socket.remotePort },
          },
        }),
      );
      return;
    }
    if (action === 'accept') {
      const pend = pendingAccepts.get(id);
      if (!pend) return refuse(socket, 403, 'Forbidden');
      pendingAccepts.delete(id);
      clearTimeout(pend.timer);
      const status = u.searchParams.get('sb-hc-statusCode');
      if (status) {
        refuse(pend.socket, Number(status), u.searchParams.get('sb-hc-statusDescription') ?? 'Rejected');
        return refuse(socket, 410, 'Gone');
      }
      const proto = req.headers['sec-websocket-protocol']?.split(',')[0].trim();
      req.chosenProtocol = proto;
      pend.req.chosenProtocol = proto;
      return withProto.handleUpgrade(req, socket, head, (lws) => {
        withProto.handleUpgrade(pend.req, pend.socket, pend.head, (sws) => pipeWs(lws, sws));
      });
    }
    if (action === 'request') {
      const relayReq = pendingRelayRequests.get(id);
      if (relayReq) {
        pendingRelayRequests.delete(id);
        return noProto.handleUpgrade(req, socket, head, (ws) => {
          serveResponseSocket(ws);
          ws.send(JSON.stringify(relayReq.msg));
          if (relayReq.body.length) ws.send(relayReq.body);
        });
      }
      if (pendingHttp.has(id)) return noProto.handleUpgrade(req, socket, head, (ws) => serveResponseSocket(ws));
      return refuse(socket, 403, 'Forbidden');
    }
    return refuse(socket, 400, 'Bad Request');
  });

  const [host, p] = bind.split(':');
  server.listen(Number(p), host, () => {
    port = server.address().port;
    const [rule, { key }] = Object.entries(keys)[0];
    console.log(`fake-interlink gateway: listening on http://127.0.0.1:${port}`);
    console.log(`connection string: Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=${rule};SharedAccessKey=${key}`);
  });
}

// ---------------------------------------------------------------------------------------------------- expose
function expose(args) {
  let cs = process.env.INTERLINK_CONNECTION_STRING;
  let to;
  let hc;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--connection-string') cs = args[++i];
    else if (args[i] === '--to') to = args[++i];
    else hc = args[i];
  }
  const { host, rule, key } = parseCs(cs);
  const token = makeToken(`http://${host}/${hc}`, rule, key);
  const control = new WebSocket(`ws://${host}/$hc/${hc}?sb-hc-action=listen`, { headers: { ServiceBusAuthorization: token }, perMessageDeflate: false });
  control.on('open', () => console.log(`expose ${hc}: online`));
  control.on('close', (c) => {
    console.error(`control channel closed ${c}`);
    process.exit(1);
  });
  control.on('error', (e) => {
    console.error(e.message);
    process.exit(1);
  });
  let pendingBodyOf = null;
  control.on('message', (data, isBinary) => {
    if (isBinary) {
      if (pendingBodyOf) forward(pendingBodyOf, data, null);
      pendingBodyOf = null;
      return;
    }
    const msg = JSON.parse(data.toString());
    if (msg.accept) return accept(msg.accept);
    if (!msg.request) return;
    if (msg.request.method) {
      if (msg.request.body) pendingBodyOf = msg;
      else forward(msg, Buffer.alloc(0), null);
      return;
    }
    const rv = new WebSocket(msg.request.address, { perMessageDeflate: false });
    rv.on('error', () => {});
    let reqMsg = null;
    rv.on('message', (d, bin) => {
      if (!bin) {
        reqMsg = JSON.parse(d.toString());
        if (!reqMsg.request.body) forward(reqMsg, Buffer.alloc(0), rv);
      } else if (reqMsg) forward(reqMsg, d, rv);
    });
  });

  function accept(acc) {
    const local = new WebSocket(`${to.replace(/^http/, 'ws')}/`, { perMessageDeflate: false });
    local.on('error', () => {});
    local.on('open', () => {
      const rv = new WebSocket(acc.address, { perMessageDeflate: false });
      rv.on('error', () => local.terminate());
      rv.on('open', () => pipeWs(rv, local));
    });
  }

  function forward(msg, body, rv) {
    const r = msg.request;
    const path = r.requestTarget.startsWith(`/${hc}`) ? r.requestTarget.slice(hc.length + 1) || '/' : r.requestTarget;
    const req = http.request(`${to}${path.startsWith('/') ? path : `/${path}`}`, { method: r.method, headers: r.requestHeaders });
    req.on('error', (e) => console.error(e.message));
    req.on('response', (res) => {
      const headers = {};
      for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const head = { response: { requestId: r.id, statusCode: res.statusCode, statusDescription: res.statusMessage, responseHeaders: headers, body: true } };
      const streamed = { response: { ...head.response, responseHeaders: { ...headers, 'x-fake-stream': '1' } } };
      const cl = res.headers['content-length'];
      if (!rv && cl !== undefined && Number(cl) <= 60000) {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const b = Buffer.concat(chunks);
          head.response.body = b.length > 0;
          control.send(JSON.stringify(head));
          if (b.length) control.send(b);
        });
        return;
      }
      const sock = rv ?? new WebSocket(r.address, { perMessageDeflate: false });
      const queue = [JSON.stringify(streamed)];
      let open = sock.readyState === WebSocket.OPEN;
      const send = (x) => (open ? sock.send(x) : queue.push(x));
      if (!open) {
        sock.on('error', () => res.destroy());
        sock.on('open', () => {
          open = true;
          for (const x of queue) sock.send(x);
        });
      } else sock.send(queue.shift());
      res.on('data', (c) => send(c));
      res.on('end', () => send(Buffer.alloc(0)));
    });
    req.end(body);
  }
}

// ---------------------------------------------------------------------------------------------------- send
function send(args) {
  let cs = process.env.INTERLINK_CONNECTION_STRING;
  let method = null;
  const headers = [];
  let data = null;
  let include = false;
  let target;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--connection-string') cs = args[++i];
    else if (a === '-X') method = args[++i];
    else if (a === '-H') headers.push(args[++i]);
    else if (a === '-d') data = Buffer.from(args[++i]);
    else if (a === '--data-file') data = fs.readFileSync(args[++i]);
    else if (a === '-i') include = true;
    else target = a;
  }
  const { host, rule, key } = parseCs(cs);
  const hc = target.split(/[/?]/)[0];
  const req = http.request(`http://${host}/${target}`, { method: method ?? (data ? 'POST' : 'GET') });
  req.setHeader('ServiceBusAuthorization', makeToken(`http://${host}/${hc}`, rule, key));
  for (const h of headers) {
    const i = h.indexOf(':');
    req.setHeader(h.slice(0, i).trim(), h.slice(i + 1).trim());
  }
  req.on('error', (e) => {
    console.error(`send: ${e.message}`);
    process.exit(7);
  });
  req.on('response', (res) => {
    if (include) {
      let head = `HTTP/1.1 ${res.statusCode} ${res.statusMessage}\r\n`;
      for (let i = 0; i < res.rawHeaders.length; i += 2) head += `${res.rawHeaders[i]}: ${res.rawHeaders[i + 1]}\r\n`;
      process.stdout.write(`${head}\r\n`);
    }
    res.pipe(process.stdout);
    res.on('end', () => process.stdout.write('', () => process.exit(0)));
  });
  req.end(data ?? undefined);
}

if (cmd === 'gateway') gateway(argv);
else if (cmd === 'expose') expose(argv);
else if (cmd === 'send') send(argv);
else {
  console.error(`usage: fake-interlink gateway|expose|send ...`);
  process.exit(2);
}
