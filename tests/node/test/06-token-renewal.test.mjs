// (f) Listener token renewal on a raw `ws` control channel, gateway started with token_expiry_grace_secs = 0.
//
// The raw listener speaks the control-channel protocol itself: it sends
// {"renewToken":{"token":"..."}} and answers `request` messages with a `response` plus one binary body message.
// Waiting here is for the clock (a token must really expire), never for readiness.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Messages, Scope, fetchAll, startGateway, terminate, untilTime, wsHandshake } from '../lib/harness.mjs';

const scope = new Scope();
let gw;

before(async () => {
  gw = await startGateway(scope, {
    hybridConnections: ['hc1', 'hc2', 'hc3'],
    config: '[limits]\ntoken_expiry_grace_secs = 0\n',
  });
});

after(() => scope.close());

const expiryOf = (token) => Number(/[?&\s]se=(\d+)/.exec(token)?.[1] ?? NaN) * 1000;

/** Answers every control-channel `request` with 200 and `text`. */
function serveRequests(ws, text) {
  ws.on('message', (data, isBinary) => {
    if (isBinary) return; // a request body; not needed here
    let msg;
    try {
      msg = JSON.parse(data.toString());
    } catch {
      return;
    }
    if (!msg.request || !msg.request.method) return;
    ws.send(
      JSON.stringify({
        response: {
          requestId: msg.request.id,
          statusCode: 200,
          statusDescription: 'OK',
          responseHeaders: { 'content-type': 'text/plain' },
          body: true,
        },
      }),
    );
    ws.send(Buffer.from(text));
  });
}

async function openRawListener(t, hc, token) {
  const r = await wsHandshake(gw.listenUri(hc), { headers: { ServiceBusAuthorization: token } });
  if (r.ws) t.after(() => terminate(r.ws));
  assert.equal(r.status, 101, `listen on ${hc}: ${r.body}`);
  return r.ws;
}

test('a listener that sends renewToken before expiry stays connected past the original expiry', { timeout: 60000 }, async (t) => {
  const short = gw.token('hc1', 'listenonly', 3);
  const expiresAt = expiryOf(short);
  assert.ok(Number.isFinite(expiresAt), `cannot read se= from ${short}`);
  const ws = await openRawListener(t, 'hc1', short);
  let closedEarly = null;
  ws.on('close', (code, reason) => (closedEarly = { code, reason: String(reason) }));
  serveRequests(ws, 'served after renewal');

  ws.send(JSON.stringify({ renewToken: { token: gw.token('hc1', 'listenonly', 3600) } }));
  assert.ok(Date.now() < expiresAt, 'the renewal must go out before the original expiry');

  await untilTime(expiresAt + 2500);
  assert.equal(closedEarly, null, `the channel was closed after renewal: ${JSON.stringify(closedEarly)}`);
  assert.equal(ws.readyState, ws.OPEN);

  const { res, body } = await fetchAll(gw.httpUrl('hc1', '/after-expiry'), {
    headers: { ServiceBusAuthorization: gw.token('hc1', 'sendonly') },
  });
  assert.equal(res.status, 200, `body: ${body}`);
  assert.equal(body.toString(), 'served after renewal');
});

test('a listener that does not renew is closed with 1008 when its token expires', { timeout: 60000 }, async (t) => {
  const short = gw.token('hc2', 'listenonly', 3);
  const expiresAt = expiryOf(short);
  const ws = await openRawListener(t, 'hc2', short);
  const msgs = new Messages(ws);
  const closed = await msgs.closed(
    'the gateway to close the expired listener (token_expiry_grace_secs = 0)',
    Math.max(0, expiresAt - Date.now()) + 15000,
  );
  assert.equal(closed.code, 1008, `close code ${closed.code} reason ${closed.reason}`);
  assert.ok(Date.now() >= expiresAt - 1000, 'closed long before the token expired');
});

test('an invalid renewToken closes the channel with 1008', { timeout: 60000 }, async (t) => {
  const ws = await openRawListener(t, 'hc3', gw.token('hc3', 'listenonly', 3600));
  const msgs = new Messages(ws);
  const bad = gw.token('hc3', 'listenonly', 3600, 'wrong-key');
  ws.send(JSON.stringify({ renewToken: { token: bad } }));
  const closed = await msgs.closed('the gateway to close the channel after an invalid renewToken', 15000);
  assert.equal(closed.code, 1008, `close code ${closed.code} reason ${closed.reason}`);
});
