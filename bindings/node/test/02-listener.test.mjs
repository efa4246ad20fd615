// This package's RelayListener (behind a Gateway started from Node) serving plain HTTP
// senders (fetch), WebSocket senders (the `ws` package) and the Rust sender (`interlink send`).

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Scope, TestGateway, echoAccepted, interop, listen, pattern, runInterlink, within } from './helpers.mjs';

const WebSocket = interop('ws');
const scope = new Scope();
let gw;
let listener;
const seen = [];

async function handler(req) {
  seen.push(req);
  const route = new URL(req.url, 'http://listener.invalid').pathname.replace(/^\/hc1/, '');
  switch (route) {
    case '/hello':
      return { status: 200, headers: { 'content-type': 'text/plain', 'x-listener': 'node' }, body: 'hello from node' };
    case '/echo':
      return { status: 200, headers: { 'x-method': req.method, 'x-length': String(req.body.length) }, body: req.body };
    case '/big':
      return { body: pattern(200 * 1024) };
    case '/teapot':
      return { status: 418, statusText: 'Short And Stout', body: '' };
    case '/slow':
      await new Promise((r) => setTimeout(r, 50));
      return { status: 201, body: Buffer.from('late but fine') };
    case '/throws':
      throw new Error('boom');
    case '/rejects':
      return Promise.reject(new Error('async boom'));
    case '/garbage':
      return 42;
    default:
      return { status: 404, body: 'no route' };
  }
}

before(async () => {
  gw = await TestGateway.start(scope, { hybridConnections: ['hc1', 'hc2', 'hc3'] });
  listener = await listen(scope, gw, 'hc1', { rule: 'listenonly' });
  listener.setHttpHandler(handler);
  echoAccepted(listener);
});

after(() => scope.close());

const auth = (rule = 'sendonly') => ({ ServiceBusAuthorization: gw.token('hc1', rule) });

async function get(pathAndQuery, init = {}) {
  const res = await within(fetch(gw.httpUrl('hc1', pathAndQuery), { ...init, headers: { ...auth(), ...init.headers } }), `fetch ${pathAndQuery}`);
  return { res, body: Buffer.from(await within(res.arrayBuffer(), `the body of ${pathAndQuery}`)) };
}

test('fetch GET reaches the JS handler with method, url, headers and body', async () => {
  const { res, body } = await get('/hello?x=1', { headers: { 'x-trace': 'abc' } });
  assert.equal(res.status, 200);
  assert.equal(body.toString(), 'hello from node');
  assert.equal(res.headers.get('x-listener'), 'node');
  const req = seen.at(-1);
  assert.equal(req.method, 'GET');
  assert.equal(req.url, '/hc1/hello?x=1');
  assert.equal(req.headers['x-trace'], 'abc');
  assert.equal(req.headers.servicebusauthorization, undefined, 'the token is not passed on');
  assert.ok(Buffer.isBuffer(req.body) && req.body.length === 0);
  assert.equal(typeof req.id, 'string');
  assert.equal(req.viaRendezvous, false);
});

test('POST bodies come back byte for byte, small and large (rendezvous)', async () => {
  const small = await get('/echo', { method: 'POST', body: 'ping' });
  assert.equal(small.body.toString(), 'ping');
  assert.equal(small.res.headers.get('x-method'), 'POST');
  const large = pattern(100 * 1024);
  const big = await get('/echo', { method: 'PUT', body: large });
  assert.equal(big.res.status, 200);
  assert.equal(big.res.headers.get('x-length'), String(large.length));
  assert.ok(big.body.equals(large), 'the 100 KB echo is byte-exact');
  assert.equal(seen.at(-1).viaRendezvous, true);
  const { body } = await get('/big');
  assert.ok(body.equals(pattern(200 * 1024)), 'the 200 KB response is byte-exact');
});

test('status, reason phrase and async handlers', async () => {
  const teapot = await get('/teapot');
  assert.equal(teapot.res.status, 418);
  assert.equal(teapot.res.statusText, 'Short And Stout');
  const slow = await get('/slow');
  assert.equal(slow.res.status, 201);
  assert.equal(slow.body.toString(), 'late but fine');
  const missing = await get('/nowhere');
  assert.equal(missing.res.status, 404);
});

test('a throwing, rejecting or malformed handler gives 500, no handler gives 501', async () => {
  for (const route of ['/throws', '/rejects', '/garbage']) {
    const { res, body } = await get(route);
    assert.equal(res.status, 500, `${route} answers 500`);
    assert.match(body.toString(), /handler/);
  }
  const bare = await listen(scope, gw, 'hc2');
  const res = await within(fetch(gw.httpUrl('hc2', '/x'), { headers: { ServiceBusAuthorization: gw.token('hc2') } }), 'fetch hc2');
  assert.equal(res.status, 501);
  bare.setHttpHandler(() => ({ body: 'now there is one' }));
  const again = await within(fetch(gw.httpUrl('hc2', '/x'), { headers: { ServiceBusAuthorization: gw.token('hc2') } }), 'fetch hc2 again');
  assert.equal(await again.text(), 'now there is one');
});

/** Opens a `ws` sender; resolves the open socket, or rejects with the handshake status. */
function wsConnect(suffix = '', hc = 'hc1', headers = {}) {
  return within(
    new Promise((resolve, reject) => {
      const ws = new WebSocket(gw.connectUri(hc, suffix), { headers: { ...headers, ServiceBusAuthorization: gw.token(hc, 'sendonly') } });
      ws.once('open', () => resolve(ws));
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`handshake ${res.statusCode}`), { status: res.statusCode })));
      ws.once('error', reject);
      scope.add(() => ws.terminate());
    }),
    'the ws sender to connect',
  );
}

function nextMessage(ws) {
  return within(new Promise((resolve) => ws.once('message', (data, isBinary) => resolve(isBinary ? data : data.toString()))), 'a ws message');
}

test('ws senders: text and binary echo through accepted sockets', async () => {
  const ws = await wsConnect('/chat?room=1');
  ws.send('hello');
  assert.equal(await nextMessage(ws), 'hello');
  const bin = pattern(70000);
  ws.send(bin);
  const got = await nextMessage(ws);
  assert.ok(Buffer.isBuffer(got) && got.equals(bin), 'the 70000-byte binary echo is exact');
  ws.close();
});

test('accepted sockets know the path and headers, and their close code reaches the sender', async () => {
  const l = await listen(scope, gw, 'hc3');
  const accepted = within(l.accept(), 'the accept');
  const ws = await wsConnect('/room/7?x=1', 'hc3', { 'x-custom': 'yes' });
  const socket = await accepted;
  assert.equal(socket.path, '/hc3/room/7?x=1');
  assert.equal(socket.headers['x-custom'], 'yes');
  assert.equal(socket.headers.servicebusauthorization, undefined);
  assert.equal(typeof socket.id, 'string');
  ws.send('first');
  assert.equal(await within(socket.receive(), 'the first message'), 'first');
  const closed = within(new Promise((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() }))), 'the close');
  await socket.close(4001, 'bye');
  assert.deepEqual(await closed, { code: 4001, reason: 'bye' });
  assert.equal(await within(socket.receive(), 'the end of the socket'), null);
  await assert.rejects(socket.send('too late'), { code: 'ERR_INTERLINK_CLOSED' });
});

test('the accept filter refuses with 403 or a chosen status, and sees the sender', async () => {
  const infos = [];
  listener.setAcceptFilter((info) => {
    infos.push(info);
    if (info.path.includes('deny')) return false;
    if (info.path.includes('teapot')) return { status: 418, description: 'short and stout' };
    if (info.path.includes('crash')) throw new Error('filter bug');
    return true;
  });
  try {
    await assert.rejects(wsConnect('/deny'), { status: 403 });
    await assert.rejects(wsConnect('/teapot'), { status: 418 });
    await assert.rejects(wsConnect('/crash'), { status: 502 });
    const ok = await wsConnect('/fine');
    ok.send('still echoing');
    assert.equal(await nextMessage(ok), 'still echoing');
    ok.close();
    assert.deepEqual(infos.map((i) => i.path), ['/hc1/deny', '/hc1/teapot', '/hc1/crash', '/hc1/fine']);
    assert.equal(typeof infos[0].id, 'string');
  } finally {
    listener.setAcceptFilter(null);
  }
});

test('the Rust sender (interlink send) reaches the Node listener', async () => {
  const cs = gw.connectionString('sendonly');
  const hello = await runInterlink(['send', '--connection-string', cs, '-H', 'x-from: rust', 'hc1/hello']);
  assert.equal(hello.code, 0, hello.stderr);
  assert.equal(hello.stdout.toString(), 'hello from node');
  assert.equal(seen.at(-1).headers['x-from'], 'rust');
  const dir = mkdtempSync(path.join(tmpdir(), 'interlink-node-'));
  try {
    const file = path.join(dir, 'body.bin');
    writeFileSync(file, pattern(100 * 1024));
    const put = await runInterlink(['send', '--connection-string', cs, '-X', 'PUT', '--data-file', file, 'hc1/echo']);
    assert.equal(put.code, 0, put.stderr);
    assert.ok(put.stdout.equals(pattern(100 * 1024)), 'the 100 KB echo via the Rust sender is exact');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const teapot = await runInterlink(['send', '--connection-string', cs, '-i', 'hc1/teapot']);
  assert.match(teapot.stdout.toString(), /^HTTP\/1\.1 418 Short And Stout\r?\n/);
});
