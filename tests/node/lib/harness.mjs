// Shared harness for the Node interop tests.
//
// Starts the interlink binary (env INTERLINK_BIN) as child processes, waits for
// readiness by reading their stdout lines (never by sleeping), bounds every wait
// with a timeout that fails with a clear message, and tears everything down.
//
// CLI contract relied upon (see README.md):
//   interlink gateway --bind 127.0.0.1:0 --key RULE=SECRET[:RIGHTS]... --hybrid-connection NAME[:anonymous]... [--config FILE]
//     stdout: "... listening on http://127.0.0.1:PORT ..." and "... Endpoint=sb://127.0.0.1:PORT/;SharedAccessKeyName=..;SharedAccessKey=.. ..."
//   interlink expose --connection-string CS --to http://127.0.0.1:PORT HC      stdout: a line containing "online"
//   interlink send --connection-string CS [-X M] [-H 'N: v']... [-d DATA | --data-file F] [-i] HC[/path][?query]

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import http from 'node:http';
import net from 'node:net';
import hycoHttps from 'hyco-https';
import hycoWs from 'hyco-ws';
import WebSocket, { WebSocketServer } from 'ws';

export { hycoHttps, hycoWs, WebSocket };

// ---------------------------------------------------------------------------
// The binary under test

function resolveBin() {
  const bin = process.env.INTERLINK_BIN;
  if (!bin) {
    throw new Error(
      'INTERLINK_BIN is not set. Build the gateway and point INTERLINK_BIN at it, e.g.\n' +
        '  cargo build -p interlink-cli && INTERLINK_BIN=$PWD/target/debug/interlink npm --prefix tests/node test',
    );
  }
  const abs = path.resolve(bin);
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    throw new Error(`INTERLINK_BIN=${bin} does not exist or is not a file (resolved to ${abs})`);
  }
  return abs;
}

/** Absolute path of the interlink binary. Importing this module fails fast when INTERLINK_BIN is unset. */
export const BIN = resolveBin();

// ---------------------------------------------------------------------------
// Small async utilities

/** Races `promise` against a timer; on timeout rejects with "timed out after N ms waiting for WHAT". */
export function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Waits for a wall-clock deadline (used only where the point is that time passes, e.g. token expiry). */
export function untilTime(epochMs) {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, epochMs - Date.now())));
}

/** A LIFO list of cleanup functions; `close()` runs them all, each bounded, and never throws. */
export class Scope {
  #fns = [];
  add(fn) {
    this.#fns.push(fn);
    return fn;
  }
  async close() {
    while (this.#fns.length) {
      const fn = this.#fns.pop();
      try {
        await withTimeout(Promise.resolve().then(fn), 15000, 'a cleanup step');
      } catch (err) {
        console.error(`[harness] cleanup error: ${err?.stack ?? err}`);
      }
    }
  }
}

/** Deterministic, non-repeating test payload: byte i*4..i*4+3 holds the big-endian counter i. */
export function pattern(size, seed = 0) {
  const buf = Buffer.alloc(size);
  for (let i = 0; i * 4 < size; i++) {
    const word = Buffer.alloc(4);
    word.writeUInt32BE((i + seed * 0x9e3779b1) >>> 0);
    word.copy(buf, i * 4, 0, Math.min(4, size - i * 4));
  }
  return buf;
}

/** Asserts two buffers are byte-identical with a short, useful message. */
export function sameBytes(actual, expected) {
  if (Buffer.compare(actual, expected) === 0) return null;
  let i = 0;
  while (i < actual.length && i < expected.length && actual[i] === expected[i]) i++;
  return `bodies differ: got ${actual.length} bytes, expected ${expected.length}; first difference at byte ${i}`;
}

/**
 * Reads a readable stream to the end with 'data'/'end' events. (hyco-https's IncomingMessage never finishes
 * under `for await`, so do not use async iteration on it.)
 */
export function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** A free TCP port on 127.0.0.1 (bound then released): for "nothing listens here" tests only. */
export async function closedPort() {
  const srv = net.createServer();
  await new Promise((res) => srv.listen(0, '127.0.0.1', res));
  const { port } = srv.address();
  await new Promise((res) => srv.close(res));
  return port;
}

// ---------------------------------------------------------------------------
// Child processes

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

const childEnv = () => ({
  ...process.env,
  RUST_BACKTRACE: process.env.RUST_BACKTRACE ?? '1',
  NO_PROXY: '127.0.0.1,localhost',
  no_proxy: '127.0.0.1,localhost',
});

/** A long-running interlink child process whose stdout is read line by line. */
export class Proc {
  constructor(name, args, { env = {} } = {}) {
    this.name = name;
    this.args = args;
    this.lines = [];
    this.stderr = '';
    this.exit = null; // {code, signal} once exited
    this.spawnError = null;
    this.#waiters = new Set();
    this.child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...childEnv(), ...env } });
    liveChildren.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.spawnError = err;
        this.exit = { code: null, signal: null };
        liveChildren.delete(this.child);
        this.#notify();
        resolve(this.exit);
      });
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        liveChildren.delete(this.child);
        this.#notify();
        resolve(this.exit);
      });
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.#notify();
    });
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
      if (this.stderr.length > 64 * 1024) this.stderr = this.stderr.slice(-32 * 1024);
    });
  }

  #waiters;
  #notify() {
    for (const w of this.#waiters) w();
  }

  /** Diagnostics for failure messages: command, exit status, stdout lines and the stderr tail. */
  describe() {
    const exit = this.spawnError
      ? `failed to start: ${this.spawnError.message}`
      : this.exit
        ? `exited (code ${this.exit.code}, signal ${this.exit.signal})`
        : 'still running';
    return (
      `[${this.name}] ${BIN} ${this.args.join(' ')}\n  status: ${exit}\n` +
      `  stdout:\n    ${this.lines.slice(-20).join('\n    ')}\n` +
      `  stderr (tail):\n    ${this.stderr.slice(-3000).split('\n').join('\n    ')}`
    );
  }

  /** Resolves with the regex match of the first stdout line (past or future) matching `re`. */
  waitForLine(re, ms, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const m = line.match(re);
          if (m) return finish(null, m);
        }
        if (this.exit) return finish(new Error(`${this.name} ended before printing ${what}\n${this.describe()}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${ms} ms waiting for ${this.name} to print ${what}\n${this.describe()}`)),
        ms,
      );
      const finish = (err, m) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        err ? reject(err) : resolve(m);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited after 5 s. */
  async stop() {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 5000);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }
}

/**
 * Runs a short-lived interlink command (e.g. `send`) to completion.
 * Resolves {code, signal, stdout: Buffer, stderr: string}; kills it and rejects after `timeoutMs`.
 */
export function runInterlink(args, { timeoutMs = 20000, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...childEnv(), ...env } });
    liveChildren.add(child);
    const out = [];
    let err = '';
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `timed out after ${timeoutMs} ms waiting for: interlink ${args.join(' ')}\n` +
            `  stdout so far: ${Buffer.concat(out).toString().slice(0, 2000)}\n  stderr: ${err.slice(-3000)}`,
        ),
      );
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      reject(new Error(`could not run ${BIN}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      liveChildren.delete(child);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: err });
    });
  });
}

// ---------------------------------------------------------------------------
// The gateway

/** Default SAS rules: "root" has all rights, the others exactly one. Keys look like Azure's (base64, 44 chars). */
export function defaultKeys() {
  const k = () => randomBytes(32).toString('base64');
  return {
    root: { key: k(), rights: null },
    sendonly: { key: k(), rights: 'send' },
    listenonly: { key: k(), rights: 'listen' },
  };
}

export class Gateway {
  constructor(proc, port, keys, printedConnectionString) {
    this.proc = proc;
    this.port = port;
    this.keys = keys;
    this.printedConnectionString = printedConnectionString;
    this.host = `127.0.0.1:${port}`;
    this.httpBase = `http://${this.host}`;
    this.wsBase = `ws://${this.host}`;
  }
  /** ws://127.0.0.1:PORT/$hc/HC?sb-hc-action=listen */
  listenUri(hc = 'hc1') {
    return `${this.wsBase}/$hc/${hc}?sb-hc-action=listen`;
  }
  /** ws://127.0.0.1:PORT/$hc/HC[suffix]?sb-hc-action=connect */
  connectUri(hc = 'hc1', suffix = '') {
    return `${this.wsBase}/$hc/${hc}${suffix}?sb-hc-action=connect`;
  }
  /** http://127.0.0.1:PORT/HC[pathAndQuery] */
  httpUrl(hc = 'hc1', pathAndQuery = '') {
    return `${this.httpBase}/${hc}${pathAndQuery}`;
  }
  /** A SAS token made by hyco's own createRelayToken: audience http://127.0.0.1:PORT/HC (port kept). */
  token(hc = 'hc1', rule = 'root', ttlSeconds = undefined, key = undefined) {
    const k = key ?? this.keys[rule]?.key;
    if (!k) throw new Error(`no key for rule ${rule}`);
    return hycoHttps.createRelayToken(`${this.wsBase}/$hc/${hc}`, rule, k, ttlSeconds);
  }
  connectionString(rule = 'root') {
    return `Endpoint=sb://${this.host}/;SharedAccessKeyName=${rule};SharedAccessKey=${this.keys[rule].key}`;
  }
  stop() {
    return this.proc.stop();
  }
}

/**
 * Starts `interlink gateway` on 127.0.0.1:0 and waits until it printed its address and connection string.
 * @param {object} o
 * @param {string[]} [o.hybridConnections] e.g. ['hc1', 'anon:anonymous']
 * @param {object} [o.keys] {rule: {key, rights}} (default: defaultKeys())
 * @param {string} [o.config] TOML text, written to a temp file and passed as --config
 */
export async function startGateway(scope, { hybridConnections = ['hc1'], keys = defaultKeys(), config } = {}) {
  const args = ['gateway', '--bind', '127.0.0.1:0'];
  for (const [rule, { key, rights }] of Object.entries(keys)) {
    args.push('--key', `${rule}=${key}${rights ? `:${rights}` : ''}`);
  }
  for (const hc of hybridConnections) args.push('--hybrid-connection', hc);
  if (config !== undefined) {
    const dir = mkdtempSync(path.join(tmpdir(), 'interlink-node-'));
    const file = path.join(dir, 'gateway.toml');
    writeFileSync(file, config);
    scope.add(() => rmSync(dir, { recursive: true, force: true }));
    args.push('--config', file);
  }
  const proc = new Proc('gateway', args);
  scope.add(() => proc.stop());
  const m = await proc.waitForLine(
    /listening on http:\/\/127\.0\.0\.1:(\d+)/,
    20000,
    '"listening on http://127.0.0.1:PORT"',
  );
  const port = Number(m[1]);
  const cs = await proc.waitForLine(
    new RegExp(`(Endpoint=sb://127\\.0\\.0\\.1:${port}/;SharedAccessKeyName=[^;\\s]+;SharedAccessKey=[^;\\s]+)`),
    20000,
    `"Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=…;SharedAccessKey=…"`,
  );
  return new Gateway(proc, port, keys, cs[1]);
}

// ---------------------------------------------------------------------------
// Listeners and senders built from Microsoft's packages

/**
 * A hyco-https listener (`createRelayedServer(...).listen()`), resolved once its control channel is open.
 * `handler(req, res)` is the usual Node request handler.
 */
export async function startHycoHttpsListener(scope, gw, handler, { hc = 'hc1', rule = 'root' } = {}) {
  const errors = [];
  const server = hycoHttps.createRelayedServer(
    { server: gw.listenUri(hc), token: () => gw.token(hc, rule) },
    handler,
  );
  server.on('error', (e) => errors.push(e?.message ?? String(e)));
  const listening = new Promise((resolve) => server.once('listening', resolve));
  server.listen();
  scope.add(() => closeHycoServer(server));
  await withTimeout(listening, 15000, `the hyco-https listener on ${hc} to connect; errors: ${errors.join('; ') || 'none'}`).catch(
    (e) => {
      throw new Error(`${e.message}\n${gw.proc.describe()}`);
    },
  );
  return server;
}

/** A hyco-ws listener (`createRelayedServer`), resolved once its control channel is open. */
export async function startHycoWsListener(scope, gw, onConnection, { hc = 'hc1', rule = 'root' } = {}) {
  const errors = [];
  const server = hycoWs.createRelayedServer({ server: gw.listenUri(hc), token: () => gw.token(hc, rule) }, onConnection);
  // hyco-ws emits 'error' unconditionally: without a listener it would throw.
  server.on('error', (e) => errors.push(e?.message ?? String(e)));
  const listening = new Promise((resolve) => server.once('listening', resolve));
  scope.add(() => closeHycoServer(server));
  await withTimeout(listening, 15000, `the hyco-ws listener on ${hc} to connect; errors: ${errors.join('; ') || 'none'}`).catch(
    (e) => {
      throw new Error(`${e.message}\n${gw.proc.describe()}`);
    },
  );
  return server;
}

/** Closes a hyco-https / hyco-ws relayed server and waits (bounded) for its control channel to close. */
export async function closeHycoServer(server) {
  if (server.closeRequested) return;
  const closed = new Promise((resolve) => server.once('close', resolve));
  try {
    server.close();
  } catch {
    /* hyco throws if the channel is not open; closeRequested is set anyway */
  }
  const cc = server.controlChannel;
  // ws 1.x uses numeric readyState constants too: 3 = CLOSED.
  if (!cc || cc.readyState === 3) return;
  await withTimeout(closed, 5000, 'the hyco control channel to close').catch(() => {
    try {
      cc.terminate();
    } catch {
      /* ignore */
    }
  });
}

/** hyco-ws `relayedConnect`, resolved with the open socket (ws 1.1.5 API). */
export async function hycoConnect(scope, uri, token, what = uri) {
  const opened = deferred();
  const client = hycoWs.relayedConnect(uri, token, () => opened.resolve());
  client.on('error', (e) => opened.reject(new Error(`relayedConnect to ${what} failed: ${e?.message ?? e}`)));
  scope.add(() => terminate(client));
  await withTimeout(opened.promise, 15000, `relayedConnect to ${what} to open`);
  return client;
}

/** Closes any ws-like socket hard (works for ws 1.x, 6.x and 8.x). */
export function terminate(sock) {
  try {
    if (sock.readyState !== 3) sock.terminate();
  } catch {
    /* ignore */
  }
}

/**
 * Collects messages of a ws 1.x / 6.x / 8.x socket, normalised to {text} or {binary: Buffer}.
 * next(what) resolves with the next message (bounded), closed(what) with {code, reason}.
 */
export class Messages {
  #queue = [];
  #waiters = [];
  #closed = deferred();
  constructor(sock) {
    sock.on('message', (data, flags) => {
      const isBinary = typeof flags === 'boolean' ? flags : !!(flags && flags.binary);
      const msg = isBinary ? { binary: Buffer.from(data) } : { text: Buffer.isBuffer(data) ? data.toString('utf8') : String(data) };
      const w = this.#waiters.shift();
      w ? w(msg) : this.#queue.push(msg);
    });
    sock.on('close', (code, reason) => this.#closed.resolve({ code, reason: Buffer.isBuffer(reason) ? reason.toString() : String(reason ?? '') }));
  }
  next(what = 'the next WebSocket message', ms = 15000) {
    if (this.#queue.length) return Promise.resolve(this.#queue.shift());
    return withTimeout(new Promise((resolve) => this.#waiters.push(resolve)), ms, what);
  }
  closed(what = 'the WebSocket to close', ms = 15000) {
    return withTimeout(this.#closed.promise, ms, what);
  }
}

/**
 * A raw WebSocket (ws 8) handshake. Resolves {status: 101, ws} on success, or {status, body} when the server
 * answered the upgrade with a non-101 response. Rejects on transport errors or after the timeout.
 */
export function wsHandshake(url, { headers = {}, timeoutMs = 15000 } = {}) {
  const done = deferred();
  const ws = new WebSocket(url, { headers, perMessageDeflate: false, handshakeTimeout: timeoutMs });
  ws.on('open', () => done.resolve({ status: 101, ws }));
  ws.on('unexpected-response', (req, res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => done.resolve({ status: res.statusCode, statusMessage: res.statusMessage, body: Buffer.concat(chunks).toString() }));
    res.on('error', () => done.resolve({ status: res.statusCode, statusMessage: res.statusMessage, body: '' }));
    // Do not wait for a body that may never end on a kept-alive connection.
    setTimeout(() => req.destroy(), 2000).unref();
  });
  ws.on('error', (e) => done.reject(new Error(`WebSocket handshake to ${url} failed: ${e.message}`)));
  return withTimeout(done.promise, timeoutMs + 1000, `the WebSocket handshake to ${url}`).catch((e) => {
    terminate(ws);
    throw e;
  });
}

/**
 * A plain node:http request (used where fetch would rewrite headers: repeated and hop-by-hop headers).
 * `headers` may hold arrays (sent as repeated header lines). `body` may be a Buffer or an array of chunks
 * (sent chunked). Resolves {status, statusMessage, headers, body: Buffer}.
 */
export function httpRequest(url, { method = 'GET', headers = {}, body, timeoutMs = 20000 } = {}) {
  return withTimeout(
    new Promise((resolve, reject) => {
      const req = http.request(url, { method, agent: false });
      for (const [k, v] of Object.entries(headers)) req.setHeader(k, v);
      req.on('response', async (res) => {
        try {
          const data = await readAll(res);
          resolve({ status: res.statusCode, statusMessage: res.statusMessage, headers: res.headers, body: data });
        } catch (e) {
          reject(e);
        }
      });
      req.on('error', reject);
      if (Array.isArray(body)) {
        for (const c of body) req.write(c);
        req.end();
      } else {
        req.end(body);
      }
    }),
    timeoutMs,
    `${method} ${url}`,
  );
}

/** fetch with a bounded wait for headers and body. Resolves {res, body: Buffer}. */
export async function fetchAll(url, init = {}, timeoutMs = 20000) {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), timeoutMs);
  try {
    const res = await fetch(url, { ...init, signal: ac.signal });
    const body = Buffer.from(await res.arrayBuffer());
    return { res, body };
  } catch (e) {
    if (ac.signal.aborted) throw new Error(`timed out after ${timeoutMs} ms waiting for ${init.method ?? 'GET'} ${url}`);
    throw new Error(`${init.method ?? 'GET'} ${url} failed: ${e.message}${e.cause ? ` (${e.cause.message ?? e.cause})` : ''}`);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------------------
// Our Rust listener and sender

/** Runs `interlink expose ... --to http://127.0.0.1:PORT HC` and waits for its "online" line. */
export async function startExpose(scope, gw, { hc = 'hc1', to, rule = 'root', viaEnv = false } = {}) {
  const cs = gw.connectionString(rule);
  const args = viaEnv ? ['expose', '--to', to, hc] : ['expose', '--connection-string', cs, '--to', to, hc];
  const proc = new Proc('expose', args, { env: viaEnv ? { INTERLINK_CONNECTION_STRING: cs } : {} });
  scope.add(() => proc.stop());
  await proc.waitForLine(/online/, 20000, 'a line containing "online"').catch((e) => {
    throw new Error(`${e.message}\n${gw.proc.describe()}`);
  });
  return proc;
}

/** Runs `interlink send --connection-string CS ...args` to completion. */
export function runSend(gw, args, { rule = 'root', timeoutMs = 20000 } = {}) {
  return runInterlink(['send', '--connection-string', gw.connectionString(rule), ...args], { timeoutMs });
}

/** Splits `interlink send -i` output into {statusLine, headers (lowercased names), body: Buffer}. */
export function parseIncludeOutput(buf) {
  const text = buf.toString('latin1');
  const m = text.match(/\r?\n\r?\n/);
  if (!m) throw new Error(`no blank line after the headers in -i output: ${JSON.stringify(text.slice(0, 500))}`);
  const head = text.slice(0, m.index).split(/\r?\n/);
  const headers = {};
  for (const line of head.slice(1)) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return { statusLine: head[0], headers, body: buf.subarray(m.index + m[0].length) };
}

// ---------------------------------------------------------------------------
// A local origin server (for `interlink expose`): HTTP echo + WebSocket echo

/**
 * Starts an http server on 127.0.0.1:0 with `handler` and, when `wsEcho`, a ws 8 echo server on upgrades.
 * Resolves {server, port, url, wss}.
 */
export async function startOrigin(scope, handler, { wsEcho = true } = {}) {
  const server = http.createServer(handler);
  const sockets = new Set();
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  let wss = null;
  if (wsEcho) {
    wss = new WebSocketServer({ server, perMessageDeflate: false });
    wss.on('connection', (ws, req) => {
      ws.on('error', () => {});
      ws.on('message', (data, isBinary) => {
        const text = isBinary ? null : data.toString();
        // ws 8 echoes a peer's close code by itself; this lets a test make the origin close first.
        if (text === 'please-close') return ws.close(4003, 'origin-closed');
        ws.send(data, { binary: isBinary });
      });
    });
  }
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  scope.add(async () => {
    if (wss) for (const c of wss.clients) c.terminate();
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
    if (wss) await new Promise((resolve) => wss.close(resolve));
  });
  const { port } = server.address();
  return { server, port, url: `http://127.0.0.1:${port}`, wss };
}
