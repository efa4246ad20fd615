// (f) Azure-SignalR-style redirect: negotiate on /redirect answers {url, accessToken}; the real client follows to
// /client/?hub=demo with "Authorization: Bearer <accessToken>" (and access_token= for SSE) on every request.
// /client/?hub=demo without a (valid) token is refused with 401.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpTransportType, PROTOCOLS, Scope, connect, range, startHub, withTimeout } from '../lib/harness.mjs';

const T = { timeout: 60000 };

async function withHub(fn) {
  const scope = new Scope();
  try {
    const hub = await startHub(scope);
    await fn(scope, hub);
    hub.assertAlive();
  } finally {
    await scope.close();
  }
}

describe('redirect', () => {
  for (const protocol of PROTOCOLS) {
    test(`/redirect → /client/?hub=demo with the Bearer token, ${protocol}: echo, stream, broadcast`, T, () =>
      withHub(async (scope, hub) => {
        const c = await connect(scope, hub, { path: '/redirect', protocol });
        assert.equal(await c.invoke('echo', 'via redirect'), 'via redirect');
        const info = await c.invoke('connectionInfo');
        assert.equal(info.transport, 'WebSockets');
        assert.equal(info.protocol, protocol);
        assert.ok(c.conn.connectionId, 'the client got a connectionId from the second negotiate');
        assert.equal(info.connectionId, c.conn.connectionId);
        assert.deepEqual(await c.stream('counter', 3, 5).wait(10000), range(3));
        // It is the same demo hub: a client on /demo and one through the redirect see each other's broadcasts.
        const d = await connect(scope, hub, { protocol });
        await d.invoke('broadcast', 'from /demo');
        assert.deepEqual(await c.nextMessage(), [d.conn.connectionId, 'from /demo']);
        assert.deepEqual(await d.nextMessage(), [d.conn.connectionId, 'from /demo']);
        await c.invoke('broadcast', 'from /client');
        assert.deepEqual(await d.nextMessage(), [c.conn.connectionId, 'from /client']);
        assert.deepEqual(await c.nextMessage(), [c.conn.connectionId, 'from /client']);
        await c.stop();
      }));
  }

  for (const [name, transport, protocol] of [
    ['ServerSentEvents', HttpTransportType.ServerSentEvents, 'json'],
    ['LongPolling', HttpTransportType.LongPolling, 'json'],
    ['LongPolling', HttpTransportType.LongPolling, 'messagepack'],
  ]) {
    test(`/redirect with transport ${name}, ${protocol}: the token is sent on every request`, T, () =>
      withHub(async (scope, hub) => {
        const c = await connect(scope, hub, { path: '/redirect', protocol, transport });
        assert.equal(await c.invoke('echo', `redirect ${name}`), `redirect ${name}`);
        assert.equal((await c.invoke('connectionInfo')).transport, name);
        assert.deepEqual(await c.stream('counter', 3, 5).wait(10000), range(3));
        await c.stop();
        assert.equal(await c.closed.next('onclose after stop()'), undefined);
      }));
  }

  test('/client/?hub=demo directly: no token → start fails with 401; a wrong token → 401; the real token works', T, () =>
    withHub(async (scope, hub) => {
      await assert.rejects(connect(scope, hub, { path: '/client/?hub=demo' }), (e) => {
        assert.match(e.message, /401/, e.message);
        return true;
      });
      await assert.rejects(connect(scope, hub, { path: '/client/?hub=demo', accessTokenFactory: () => 'not-the-token' }), (e) => {
        assert.match(e.message, /401/, e.message);
        return true;
      });
      // The same refusal for a WebSocket without negotiate.
      await assert.rejects(
        connect(scope, hub, { path: '/client/?hub=demo', skipNegotiation: true, transport: HttpTransportType.WebSockets }),
        Error,
      );
      const token = await hub.redirectToken();
      const c = await connect(scope, hub, { path: '/client/?hub=demo', accessTokenFactory: () => token });
      assert.equal(await c.invoke('echo', 'with token'), 'with token');
      const raw = await withTimeout(
        fetch(hub.url('/client/negotiate?hub=demo&negotiateVersion=1'), { method: 'POST' }),
        10000,
        'POST /client/negotiate without a token',
      );
      await raw.arrayBuffer();
      assert.equal(raw.status, 401, 'negotiate without a token');
    }));
});
