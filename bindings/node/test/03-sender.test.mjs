// This package's RelaySender against Microsoft's listeners (hyco-https for HTTP, hyco-ws for
// WebSockets) behind a Gateway started from Node, and the sender's typed errors.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { Scope, TestGateway, interlink, interop, listen, pattern, rejectsWith, within } from './helpers.mjs';

const hycoHttps = interop('hyco-https');
const hycoWs = interop('hyco-ws');
const { RelaySender, ErrorCode } = interlink;
const scope = new Scope();
let gw;

function readAll(stream) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    stream.on('data', (c) => chunks.push(typeof c === 'string' ? Buffer.from(c) : c));
    stream.on('end', () => resolve(Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

/** Closes a hyco relayed server and waits (bounded) for its control channel to close. */
async function closeHyco(server) {
  const closed = new Promise((resolve) => server.once('close', resolve));
  try {
    server.close();
  } catch {
    /* hyco throws when the channel is not open */
  }
  await within(closed, 'the hyco control channel to close', 5000).catch(() => server.controlChannel?.terminate?.());
}

/** Starts a hyco relayed server (hyco-https or hyco-ws) and waits for its 'listening'. */
async function startHyco(make, hc, { callListen = false } = {}) {
  const token = () => hycoHttps.createRelayToken(gw.listenUri(hc), 'listenonly', gw.key('listenonly'));
  const server = make({ server: gw.listenUri(hc), token });
  const errors = [];
  server.on('error', (e) => errors.push(e?.message ?? String(e)));
  const listening = new Promise((resolve) => server.once('listening', resolve));
  if (callListen) server.listen();
  scope.add(() => closeHyco(server));
  await within(listening, `the hyco listener on ${hc} (errors: ${errors.join('; ') || 'none'})`);
  return server;
}

before(async () => {
  gw = await TestGateway.start(scope, { hybridConnections: ['hc1', 'ws1', 'idle', 'slow'] });
  await startHyco(
    (opts) =>
      hycoHttps.createRelayedServer(opts, (req, res) => {
        readAll(req).then((body) => {
          const route = new URL(req.url, 'http://x').pathname.replace(/^\/hc1/, '');
          if (route === '/echo') {
            res.setHeader('x-method', req.method);
            res.setHeader('x-seen-header', req.headers['x-test'] ?? '');
            res.end(body);
          } else if (route === '/big') {
            res.setHeader('content-type', 'application/octet-stream');
            res.end(pattern(70 * 1024));
          } else {
            res.writeHead(202, 'Accepted Indeed', { 'x-url': req.url });
            res.end('hi from hyco-https');
          }
        });
      }),
    'hc1',
    { callListen: true },
  );
  await startHyco(
    (opts) =>
      hycoWs.createRelayedServer(opts, (ws) => {
        ws.on('error', () => {});
        ws.on('message', (data, flags) => {
          if (data === 'close me') ws.close(4005, 'as asked');
          else ws.send(data, { binary: !!(flags && flags.binary) });
        });
      }),
    'ws1',
  );
});

after(() => scope.close());

test('HTTP through a hyco-https listener: status, reason, headers, bodies', async () => {
  const sender = new RelaySender(gw.connectionString('sendonly'), 'hc1');
  assert.equal(sender.hybridConnection, 'hc1');
  const hello = await within(sender.request({ path: '/hello?a=1' }), 'GET /hello');
  assert.equal(hello.status, 202);
  assert.equal(hello.statusText, 'Accepted Indeed');
  assert.equal(hello.headers['x-url'], '/hc1/hello?a=1');
  assert.equal(hello.body.toString(), 'hi from hyco-https');
  const large = pattern(100 * 1024);
  const echo = await within(
    sender.request({ method: 'POST', path: '/echo', headers: { 'x-test': 'yes' }, body: large }),
    'POST /echo 100 KB',
  );
  assert.equal(echo.status, 200);
  assert.equal(echo.headers['x-method'], 'POST');
  assert.equal(echo.headers['x-seen-header'], 'yes');
  assert.ok(echo.body.equals(large), 'the 100 KB echo is exact');
  const text = await within(sender.request({ method: 'PUT', path: '/echo', body: 'text body' }), 'PUT text');
  assert.equal(text.body.toString(), 'text body');
  const big = await within(sender.request({ path: '/big' }), 'GET /big');
  assert.ok(big.body.equals(pattern(70 * 1024)), 'the 70 KB response is exact');
});

test('WebSocket through a hyco-ws listener: text, binary, close code', async () => {
  const sender = new RelaySender(gw.connectionString('sendonly'), 'ws1');
  const ws = await within(sender.connect('chat'), 'connect to the hyco-ws listener');
  await ws.send('hello hyco');
  assert.equal(await within(ws.receive(), 'the text echo'), 'hello hyco');
  const bin = pattern(200 * 1024);
  await ws.send(bin);
  const got = await within(ws.receive(), 'the binary echo');
  assert.ok(Buffer.isBuffer(got) && got.equals(bin), 'the 200 KB binary echo is exact');
  for (let i = 0; i < 20; i++) await ws.send(`m${i}`);
  for (let i = 0; i < 20; i++) assert.equal(await within(ws.receive(), `echo ${i}`), `m${i}`);
  await ws.send('close me');
  assert.equal(await within(ws.receive(), 'the close'), null);
  assert.equal(ws.closeCode, 4005);
  assert.equal(ws.closeReason, 'as asked');
});

test('refusals: no listener (404), wrong key (401), wrong rights (403)', async () => {
  const nobody = new RelaySender(gw.connectionString('sendonly'), 'idle');
  const e = await rejectsWith(nobody.connect(), ErrorCode.Refused, 404);
  assert.match(e.message, /404/);
  const noListener = await within(nobody.request({ path: '/' }), 'an HTTP request without listener');
  assert.equal(noListener.status, 502);
  const badKey = `Endpoint=sb://${gw.host}/;SharedAccessKeyName=root;SharedAccessKey=wrong`;
  await rejectsWith(new RelaySender(badKey, 'ws1').connect(), 'ERR_INTERLINK_REFUSED', 401);
  await rejectsWith(new RelaySender(gw.connectionString('listenonly'), 'ws1').connect(), 'ERR_INTERLINK_REFUSED', 403);
  assert.equal((await within(new RelaySender(badKey, 'hc1').request(), 'HTTP with a bad key')).status, 401);
});

test('listener errors: unknown hybrid connection (404), no credentials, closed', async () => {
  const e = await rejectsWith(interlink.RelayListener.bind(gw.connectionString(), 'nope'), ErrorCode.NotFound, 404);
  assert.ok(e instanceof Error);
  await rejectsWith(
    interlink.RelayListener.bind(gw.connectionString('sendonly'), 'idle'),
    ErrorCode.Refused,
    403,
  );
  await rejectsWith(interlink.RelayListener.bind(`Endpoint=sb://${gw.host}/`, 'idle'), ErrorCode.Credentials);
  const l = await listen(scope, gw, 'idle');
  assert.equal(l.online, true);
  await l.close();
  assert.equal(l.stopped, true);
  assert.equal(await within(l.accept(), 'accept after close'), null);
});

test('timeouts and bad arguments have their own codes', async () => {
  const l = await listen(scope, gw, 'slow');
  l.setHttpHandler(() => new Promise((resolve) => setTimeout(() => resolve({ body: "too late" }), 1000)));
  const impatient = new RelaySender(gw.connectionString('sendonly'), 'slow', { timeoutMs: 300 });
  await rejectsWith(impatient.request(), ErrorCode.Timeout);
  assert.throws(() => new RelaySender('not a connection string', 'hc1'), { code: ErrorCode.ConnectionString });
  assert.throws(() => new RelaySender(`Endpoint=sb://${gw.host}/`), { code: 'ERR_INTERLINK_NO_ENTITY_PATH' });
  assert.throws(() => new RelaySender(gw.connectionString(), 'hc1', { timeoutMs: -1 }), { code: 'ERR_INTERLINK_INVALID_ARGUMENT' });
  await rejectsWith(
    new RelaySender(gw.connectionString(), 'hc1').request({ method: 'NOT A METHOD' }),
    ErrorCode.InvalidRequest,
  );
  const unreachable = new RelaySender('Endpoint=sb://127.0.0.1:1/;SharedAccessKeyName=a;SharedAccessKey=b', 'hc1');
  await rejectsWith(unreachable.request(), ErrorCode.Net);
});
