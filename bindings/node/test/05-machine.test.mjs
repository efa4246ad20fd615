// GatewayMachine: the sans-IO gateway driven from JavaScript with virtual time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { interlink } from './helpers.mjs';

const { GatewayMachine, createToken, ErrorCode } = interlink;
const key = 'machine-test-key';
const HOST = 'relay.test:9090';
const token = createToken(`http://${HOST}/hc1`, 'root', key);
const auth = [['ServiceBusAuthorization', token]];

function drain(m) {
  const out = [];
  for (let o = m.pollOutput(); o !== null; o = m.pollOutput()) out.push(o);
  return out;
}

function machine(limits = {}) {
  const m = new GatewayMachine({
    keys: [{ name: 'root', key }],
    hybridConnections: ['hc1', { name: 'open', anonymous: true }],
    limits: { acceptTimeoutMs: 1000, ...limits },
    seed: 42,
  });
  m.handleUpgrade(0, 1, { path: '/$hc/hc1', query: 'sb-hc-action=listen', headers: auth, host: HOST });
  assert.deepEqual(drain(m), [{ type: 'upgrade', conn: 1 }]);
  assert.equal(m.listenerCount('hc1'), 1);
  return m;
}

function acceptId(text) {
  const { accept } = JSON.parse(text);
  return /[?&]sb-hc-id=([^&]+)/.exec(accept.address)[1];
}

test('a WebSocket rendezvous: connect -> accept text -> accept upgrade pairs the two', () => {
  const m = machine();
  m.handleUpgrade(5, 2, { path: '/$hc/hc1/chat', query: 'sb-hc-action=connect&room=1', headers: [...auth, ['X-App', 'yes']], host: HOST });
  const [send, ...rest] = drain(m);
  assert.equal(rest.length, 0);
  assert.equal(send.type, 'sendText');
  assert.equal(send.conn, 1);
  const accept = JSON.parse(send.text).accept;
  assert.match(accept.address, /^ws:\/\/relay\.test:9090\/\$hc\/hc1\/chat\?room=1&sb-hc-action=accept&sb-hc-id=/);
  assert.equal(accept.connectHeaders['X-App'], 'yes');
  assert.equal(accept.connectHeaders.ServiceBusAuthorization, undefined);
  const id = acceptId(send.text);
  m.handleUpgrade(6, 3, { path: '/$hc/hc1/chat', query: `sb-hc-action=accept&sb-hc-id=${id}`, host: HOST });
  assert.deepEqual(drain(m), [
    { type: 'upgrade', conn: 3, pairWith: 2 },
    { type: 'upgrade', conn: 2, pairWith: 3 },
  ]);
  m.handleUpgrade(7, 4, { path: '/$hc/hc1/chat', query: `sb-hc-action=accept&sb-hc-id=${id}`, host: HOST });
  const [again] = drain(m);
  assert.equal(again.type, 'refuse');
  assert.equal(again.status, 403);
});

test('refusals, anonymous senders and the accept deadline', () => {
  const m = machine();
  m.handleUpgrade(1, 2, { path: '/$hc/hc1', query: 'sb-hc-action=connect', host: HOST });
  const [noToken] = drain(m);
  assert.deepEqual([noToken.type, noToken.conn, noToken.status], ['refuse', 2, 401]);
  m.handleUpgrade(1, 3, { path: '/$hc/open', query: 'sb-hc-action=connect', host: HOST });
  const [noListener] = drain(m);
  assert.deepEqual([noListener.type, noListener.status], ['refuse', 404]);
  m.handleUpgrade(2, 4, { path: '/$hc/hc1', query: 'sb-hc-action=connect', headers: auth, host: HOST });
  assert.equal(drain(m)[0].type, 'sendText');
  assert.equal(m.pollTimeout(), 1002);
  m.handleTimeout(1001);
  assert.deepEqual(drain(m), []);
  m.handleTimeout(1002);
  const [expired] = drain(m);
  assert.equal(expired.type, 'refuse');
  assert.equal(expired.conn, 4);
});

test('an HTTP request goes to the listener and its response back to the sender', () => {
  const m = machine();
  m.handleHttpRequest(10, 5, { method: 'POST', path: '/hc1/items', query: 'x=1', headers: auth, host: HOST, body: Buffer.from('ping') });
  const out = drain(m);
  assert.deepEqual(out.map((o) => [o.type, o.conn]), [['sendText', 1], ['sendBinary', 1]]);
  const { request } = JSON.parse(out[0].text);
  assert.equal(request.method, 'POST');
  assert.equal(request.requestTarget, '/hc1/items?x=1');
  assert.equal(request.body, true);
  assert.equal(out[1].data.toString(), 'ping');
  m.handleText(11, 1, JSON.stringify({ response: { requestId: request.id, statusCode: 201, responseHeaders: { 'x-a': 'b' }, body: true } }));
  assert.deepEqual(drain(m), []);
  m.handleBinary(12, 1, Buffer.from('pong'));
  const [resp] = drain(m);
  assert.equal(resp.type, 'httpResponse');
  assert.equal(resp.conn, 5);
  assert.equal(resp.status, 201);
  assert.equal(resp.streaming, false);
  assert.equal(resp.body.toString(), 'pong');
  assert.ok(resp.headers.some(([n, v]) => n.toLowerCase() === 'x-a' && v === 'b'));
});

test('keepalive pings, close and disconnect', () => {
  const m = machine({ keepaliveIntervalMs: 100 });
  assert.equal(m.pollTimeout(), 100);
  m.handleTimeout(100);
  assert.deepEqual(drain(m), [{ type: 'sendPing', conn: 1 }]);
  m.handleKeepalive(101, 1);
  m.handleClosed(102, 1, 1000);
  assert.deepEqual(drain(m), [{ type: 'sendClose', conn: 1, code: 1000, reason: '' }]);
  assert.equal(m.listenerCount('hc1'), 0);
  m.handleDisconnect(103, 1);
  assert.deepEqual(drain(m), []);
});

test('bad arguments throw ERR_INTERLINK_INVALID_ARGUMENT', () => {
  const m = machine();
  assert.throws(() => m.handleUpgrade(0, -1, { path: '/$hc/hc1', host: HOST }), { code: ErrorCode.InvalidArgument });
  assert.throws(() => m.handleTimeout(-5), { code: 'ERR_INTERLINK_INVALID_ARGUMENT' });
  assert.throws(() => new GatewayMachine({ keys: [{ name: 'a', key: 'b', rights: 'all' }] }), { code: ErrorCode.InvalidArgument });
  assert.equal(new GatewayMachine().pollOutput(), null);
  assert.equal(new GatewayMachine().pollTimeout(), null);
});
