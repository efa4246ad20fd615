// The Gateway started from Node: options (keys and rights, hybrid connections, anonymous
// senders, limits), stats, shutdown, and its errors.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Scope, TestGateway, echoAccepted, interlink, interop, listen, rejectsWith, within } from './helpers.mjs';

const { Gateway, RelaySender, ErrorCode } = interlink;
const hycoWs = interop('hyco-ws');

test('a default gateway generates a key and serves any hybrid connection', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const gw = await within(Gateway.start(), 'the gateway to start');
  scope.add(() => gw.shutdown());
  assert.match(gw.address, /^127\.0\.0\.1:\d+$/);
  assert.equal(gw.port, Number(gw.address.split(':')[1]));
  assert.match(gw.connectionString, new RegExp(`^Endpoint=sb://127\\.0\\.0\\.1:${gw.port}/;SharedAccessKeyName=RootManageSharedAccessKey;SharedAccessKey=.+`));
  const l = await within(interlink.RelayListener.bind(gw.connectionString, 'anything/goes'), 'a listener');
  scope.add(() => l.close());
  l.setHttpHandler((req) => ({ body: req.url }));
  assert.deepEqual(gw.stats(), { listeners: 1, pendingAccepts: 0, pendingRequests: 0 });
  const r = await within(new RelaySender(gw.connectionString, 'anything/goes').request({ path: '/x' }), 'a request');
  assert.equal(r.body.toString(), '/anything/goes/x');
});

test('keys, rights, anonymous hybrid connections and limits are honoured', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const gw = await TestGateway.start(scope, {
    hybridConnections: ['hc1', { name: 'open', anonymous: true }],
    limits: { maxListenersPerConnection: 1 },
  });
  const l = await listen(scope, gw, 'open', { rule: 'listenonly' });
  l.setHttpHandler(() => ({ body: 'anonymous welcome' }));
  echoAccepted(l);
  const anon = `Endpoint=sb://${gw.host}/`;
  const r = await within(new RelaySender(anon, 'open').request(), 'an anonymous request');
  assert.equal(r.body.toString(), 'anonymous welcome');
  const ws = await within(new RelaySender(anon, 'open').connect(), 'an anonymous WebSocket');
  await ws.send('anon echo');
  assert.equal(await within(ws.receive(), 'the echo'), 'anon echo');
  await ws.close();
  assert.equal((await within(new RelaySender(anon, 'hc1').request(), 'a tokenless request')).status, 401);
  await rejectsWith(interlink.RelayListener.bind(gw.connectionString(), 'open'), ErrorCode.Refused, 403);
  await rejectsWith(interlink.RelayListener.bind(gw.connectionString(), 'hc2'), ErrorCode.NotFound, 404);
});

test("Microsoft's hyco-ws listener registers with the Node gateway", async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const gw = await TestGateway.start(scope, { hybridConnections: ['hc1'] });
  const server = hycoWs.createRelayedServer(
    { server: gw.listenUri('hc1'), token: () => gw.token('hc1', 'listenonly') },
    (ws) => ws.on('message', (m) => ws.send(`hyco says ${m}`)),
  );
  server.on('error', () => {});
  scope.add(() => new Promise((resolve) => {
    server.once('close', resolve);
    server.close();
  }));
  await within(new Promise((resolve) => server.once('listening', resolve)), 'hyco-ws to listen');
  assert.equal(gw.gateway.stats().listeners, 1);
  const ws = await within(new RelaySender(gw.connectionString('sendonly'), 'hc1').connect(), 'a WebSocket to hyco-ws');
  await ws.send('hi');
  assert.equal(await within(ws.receive(), 'the answer'), 'hyco says hi');
  await ws.close();
});

test('shutdown ends listeners, is idempotent, and stats then throw ERR_INTERLINK_CLOSED', async () => {
  const scope = new Scope();
  const gw = await TestGateway.start(scope, {});
  const l = await listen(scope, gw, 'hc1');
  await within(gw.gateway.shutdown(), 'the shutdown');
  await within(gw.gateway.shutdown(), 'a second shutdown');
  assert.throws(() => gw.gateway.stats(), { code: ErrorCode.Closed });
  const refused = await new Promise((resolve) => {
    const s = net.connect(gw.gateway.port, '127.0.0.1');
    s.once('connect', () => resolve(false));
    s.once('error', () => resolve(true));
  });
  assert.ok(refused, 'the port is closed after shutdown');
  await within(l.close(), 'closing the orphaned listener');
  await scope.close();
});

test('start errors: port in use (ERR_INTERLINK_IO), bad options (ERR_INTERLINK_INVALID_ARGUMENT)', async () => {
  const scope = new Scope();
  try {
    const gw = await TestGateway.start(scope, {});
    await rejectsWith(Gateway.start({ bind: gw.host }), ErrorCode.Io);
    await rejectsWith(Gateway.start({ bind: 'not an address' }), ErrorCode.InvalidArgument);
    await rejectsWith(Gateway.start({ keys: [{ name: 'a', key: 'b', rights: 'everything' }] }), ErrorCode.InvalidArgument);
    await rejectsWith(Gateway.start({ limits: { acceptTimeoutMs: -1 } }), ErrorCode.InvalidArgument);
  } finally {
    await scope.close();
  }
});
