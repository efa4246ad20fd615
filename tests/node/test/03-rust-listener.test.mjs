// (c) Our Rust listener (`interlink expose`) serving Microsoft's senders: fetch for HTTP and hyco-ws relayedConnect
// for WebSockets, forwarded to a local Node origin server (HTTP echo + ws echo).
//
// These tests do not constrain how `expose` maps the relayed path onto the origin's path.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Messages,
  Scope,
  fetchAll,
  hycoConnect,
  pattern,
  readAll,
  sameBytes,
  startExpose,
  startGateway,
  startOrigin,
} from '../lib/harness.mjs';

const scope = new Scope();
let gw;
let origin;
const originSeen = [];

function originHandler(req, res) {
  readAll(req)
    .then((body) => {
      originSeen.push({ method: req.method, url: req.url, headers: req.headers, bodyLength: body.length });
      res.setHeader('x-origin', 'node');
      res.setHeader('x-origin-method', req.method);
      if (req.method === 'GET') {
        res.setHeader('content-type', 'text/plain');
        return res.end('hello from origin');
      }
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('x-received-length', String(body.length));
      res.end(body);
    })
    .catch((e) => {
      res.statusCode = 500;
      res.end(String(e));
    });
}

before(async () => {
  gw = await startGateway(scope, { hybridConnections: ['hc1', 'hc2'] });
  origin = await startOrigin(scope, originHandler, { wsEcho: true });
  await startExpose(scope, gw, { hc: 'hc1', to: origin.url });
});

after(() => scope.close());

const auth = () => ({ ServiceBusAuthorization: gw.token('hc1', 'sendonly') });

test('GET through interlink expose', async () => {
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/some/path?x=1'), { headers: { ...auth(), 'X-From-Test': 'yes' } });
  assert.equal(res.status, 200, `body: ${body}`);
  assert.equal(body.toString(), 'hello from origin');
  assert.equal(res.headers.get('x-origin'), 'node');
  assert.equal(res.headers.get('x-origin-method'), 'GET');
  const s = originSeen.at(-1);
  assert.equal(s.method, 'GET');
  assert.equal(s.headers['x-from-test'], 'yes');
  assert.equal(s.headers.servicebusauthorization, undefined, 'the relay token must not reach the origin');
});

test('POST with a small body through interlink expose', async () => {
  const payload = Buffer.from('small body \u00e9');
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/echo'), {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'text/plain' },
    body: payload,
  });
  assert.equal(res.status, 200, `body: ${body}`);
  assert.equal(res.headers.get('x-origin-method'), 'POST');
  assert.equal(sameBytes(body, payload), null);
});

test('POST with a 100 KB body (and a 100 KB response) through interlink expose', async () => {
  const payload = pattern(100 * 1024, 5);
  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/echo-big'), {
    method: 'POST',
    headers: { ...auth(), 'content-type': 'application/octet-stream' },
    body: payload,
  });
  assert.equal(res.status, 200, `body: ${body.subarray(0, 200)}`);
  assert.equal(res.headers.get('x-received-length'), String(payload.length));
  assert.equal(sameBytes(body, payload), null);
  assert.equal(originSeen.at(-1).bodyLength, payload.length);
});

test('hyco-ws relayedConnect: text and binary echo through interlink expose', async (t) => {
  const local = new Scope();
  t.after(() => local.close());
  const sender = await hycoConnect(local, gw.connectUri('hc1', '/ws'), gw.token('hc1', 'sendonly'), 'hc1 via expose');
  const msgs = new Messages(sender);
  sender.send('ping through expose');
  assert.deepEqual(await msgs.next('the text echo from the origin'), { text: 'ping through expose' });
  const bin = pattern(90 * 1024, 9);
  sender.send(bin, { binary: true });
  const got = await msgs.next('the binary echo from the origin');
  assert.ok(got.binary, 'expected a binary message');
  assert.equal(sameBytes(got.binary, bin), null);
  sender.close(1000, 'done');
  const closed = await msgs.closed('the sender socket to close');
  assert.equal(closed.code, 1000);
});

test("the origin's close code reaches the hyco-ws sender through interlink expose", async (t) => {
  const local = new Scope();
  t.after(() => local.close());
  const sender = await hycoConnect(local, gw.connectUri('hc1'), gw.token('hc1', 'sendonly'), 'hc1 via expose');
  const msgs = new Messages(sender);
  sender.send('please-close'); // the origin answers with close(4003, 'origin-closed')
  const closed = await msgs.closed('the close initiated by the origin');
  assert.equal(closed.code, 4003);
  assert.equal(closed.reason, 'origin-closed');
});

test('interlink expose takes the connection string from INTERLINK_CONNECTION_STRING', async (t) => {
  const local = new Scope();
  t.after(() => local.close());
  await startExpose(local, gw, { hc: 'hc2', to: origin.url, viaEnv: true });
  const { res, body } = await fetchAll(gw.httpUrl('hc2', '/env'), {
    headers: { ServiceBusAuthorization: gw.token('hc2', 'sendonly') },
  });
  assert.equal(res.status, 200, `body: ${body}`);
  assert.equal(body.toString(), 'hello from origin');
});
