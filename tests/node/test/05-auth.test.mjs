// (e) Handshake and authorisation errors, seen by raw `ws` clients (status from 'unexpected-response') and fetch.
//
// Hybrid connections: hc1 has a hyco-ws listener (WebSocket senders), hc2 a hyco-https listener (HTTP senders),
// hc3 is used for the listener quota, hc4 for a raw listener, "empty" never has a listener, "anon" allows anonymous senders.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Scope,
  fetchAll,
  startGateway,
  startHycoHttpsListener,
  startHycoWsListener,
  terminate,
  wsHandshake,
} from '../lib/harness.mjs';

const scope = new Scope();
let gw;

before(async () => {
  gw = await startGateway(scope, { hybridConnections: ['hc1', 'hc2', 'hc3', 'hc4', 'empty', 'anon:anonymous'] });
  await startHycoWsListener(scope, gw, (ws) => {
    ws.on('error', () => {});
    ws.on('message', (data, flags) => ws.send(data, { binary: !!(flags && flags.binary) }));
  }, { hc: 'hc1' });
  const okHandler = (req, res) => {
    req.resume();
    req.on('end', () => res.end(`ok ${req.url}`));
  };
  await startHycoHttpsListener(scope, gw, okHandler, { hc: 'hc2' });
  await startHycoHttpsListener(scope, gw, okHandler, { hc: 'anon' });
});

after(() => scope.close());

const sba = (token) => ({ ServiceBusAuthorization: token });

/** Handshake that must NOT succeed; returns the HTTP status. */
async function refused(url, headers, what) {
  const r = await wsHandshake(url, { headers });
  if (r.status === 101) {
    terminate(r.ws);
    assert.fail(`${what}: the gateway accepted the WebSocket (101), expected a refusal`);
  }
  return r;
}

test('listen without a token -> 401', async () => {
  const r = await refused(gw.listenUri('hc1'), {}, 'listen without token');
  assert.equal(r.status, 401, `body: ${r.body}`);
});

test('listen with a bad signature (wrong key) -> 401', async () => {
  const wrong = gw.token('hc1', 'root', undefined, 'not-the-right-key');
  const r = await refused(gw.listenUri('hc1'), sba(wrong), 'listen with a wrong key');
  assert.equal(r.status, 401, `body: ${r.body}`);
});

test("listen with a Send-only rule's token -> 403", async () => {
  const r = await refused(gw.listenUri('hc1'), sba(gw.token('hc1', 'sendonly')), 'listen with a Send-only token');
  assert.equal(r.status, 403, `body: ${r.body}`);
});

test('listen with a Listen token in the sb-hc-token query parameter -> 101', async (t) => {
  const url = `${gw.listenUri('hc4')}&sb-hc-token=${encodeURIComponent(gw.token('hc4', 'listenonly'))}`;
  const r = await wsHandshake(url);
  t.after(() => r.ws && terminate(r.ws));
  assert.equal(r.status, 101, `body: ${r.body}`);
});

test('unknown hybrid connection -> 404 for a listener, a WebSocket sender and an HTTP sender', async () => {
  const l = await refused(gw.listenUri('nope'), sba(gw.token('nope', 'root')), 'listen on an unknown hybrid connection');
  assert.equal(l.status, 404, `listen: ${l.body}`);
  const c = await refused(gw.connectUri('nope'), sba(gw.token('nope', 'root')), 'connect to an unknown hybrid connection');
  assert.equal(c.status, 404, `connect: ${c.body}`);
  const { res, body } = await fetchAll(gw.httpUrl('nope', '/x'), { headers: sba(gw.token('nope', 'root')) });
  assert.equal(res.status, 404, `HTTP: ${body}`);
});

test('the 26th listener on one hybrid connection is refused', async (t) => {
  const open = [];
  t.after(() => open.forEach(terminate));
  const token = gw.token('hc3', 'listenonly');
  for (let i = 1; i <= 25; i++) {
    const r = await wsHandshake(gw.listenUri('hc3'), { headers: sba(token) });
    if (r.ws) open.push(r.ws);
    assert.equal(r.status, 101, `listener #${i} of 25 should be accepted (body: ${r.body})`);
  }
  const r26 = await refused(gw.listenUri('hc3'), sba(token), 'the 26th listener');
  assert.ok(r26.status >= 400 && r26.status < 600, `26th listener: expected an error status, got ${r26.status}`);
  // The first 25 are still connected.
  assert.ok(open.every((ws) => ws.readyState === ws.OPEN), 'the 25 accepted listeners must stay open');
});

test('WebSocket sender without a token -> 401', async () => {
  const r = await refused(gw.connectUri('hc1'), {}, 'connect without token');
  assert.equal(r.status, 401, `body: ${r.body}`);
});

test("WebSocket sender with a Listen-only rule's token -> 403", async () => {
  const r = await refused(gw.connectUri('hc1'), sba(gw.token('hc1', 'listenonly')), 'connect with a Listen-only token');
  assert.equal(r.status, 403, `body: ${r.body}`);
});

test('a WebSocket sender with a Send token gets through (control for the refusals above)', async (t) => {
  const r = await wsHandshake(gw.connectUri('hc1'), { headers: sba(gw.token('hc1', 'sendonly')) });
  t.after(() => r.ws && terminate(r.ws));
  assert.equal(r.status, 101, `body: ${r.body}`);
});

test('HTTP sender without a token -> 401; with a Listen-only token -> 403; with a Send token -> 200', async () => {
  const none = await fetchAll(gw.httpUrl('hc2', '/x'));
  assert.equal(none.res.status, 401, `no token: ${none.body}`);
  const listenOnly = await fetchAll(gw.httpUrl('hc2', '/x'), { headers: sba(gw.token('hc2', 'listenonly')) });
  assert.equal(listenOnly.res.status, 403, `listen-only token: ${listenOnly.body}`);
  const ok = await fetchAll(gw.httpUrl('hc2', '/x'), { headers: sba(gw.token('hc2', 'sendonly')) });
  assert.equal(ok.res.status, 200, `send token: ${ok.body}`);
  assert.equal(ok.body.toString(), 'ok /hc2/x');
});

test('NAME:anonymous lets a tokenless HTTP sender through (listening still needs a token)', async () => {
  const { res, body } = await fetchAll(gw.httpUrl('anon', '/hello?x=1'));
  assert.equal(res.status, 200, `body: ${body}`);
  assert.equal(body.toString(), 'ok /anon/hello?x=1');
  const l = await refused(gw.listenUri('anon'), {}, 'listen on an anonymous hybrid connection without token');
  assert.equal(l.status, 401, `listen: ${l.body}`);
});

test('a non-upgrade GET on /$hc/NAME -> 400', async () => {
  const { res, body } = await fetchAll(`${gw.httpBase}/$hc/hc1`, { headers: sba(gw.token('hc1', 'root')) });
  assert.equal(res.status, 400, `body: ${body}`);
});

test('an unknown sb-hc-action -> 400', async () => {
  const r = await refused(`${gw.wsBase}/$hc/hc1?sb-hc-action=bogus`, sba(gw.token('hc1', 'root')), 'sb-hc-action=bogus');
  assert.equal(r.status, 400, `body: ${r.body}`);
});

test('no listener: a WebSocket sender gets 404, an HTTP sender gets 502', async () => {
  const c = await refused(gw.connectUri('empty'), sba(gw.token('empty', 'sendonly')), 'connect with no listener');
  assert.equal(c.status, 404, `connect: ${c.body}`);
  const { res, body } = await fetchAll(gw.httpUrl('empty', '/x'), { headers: sba(gw.token('empty', 'sendonly')) });
  assert.equal(res.status, 502, `HTTP: ${body}`);
});
