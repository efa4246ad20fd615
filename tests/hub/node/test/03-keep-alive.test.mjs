// (c) Keep-alive and timeouts. Server --keep-alive-ms 500 against a client with withServerTimeout(2000) and
// withKeepAliveInterval(500): an idle connection stays up (server Pings), and a muted server (silence) makes the
// client close with its server-timeout error after about 2 s. Also: the server's --client-timeout-ms closes a
// client that sends nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState, MessageType, PROTOCOLS, Scope, connect, sleep, startHub } from '../lib/harness.mjs';

const SERVER_TIMEOUT_ERROR = 'Server timeout elapsed without receiving a message from the server.';

for (const protocol of PROTOCOLS) {
  test(`keep-alive, ${protocol}: idle 3 s stays connected; a muted server times out after ~2 s`, { timeout: 60000 }, async () => {
    const scope = new Scope();
    try {
      const hub = await startHub(scope, ['--keep-alive-ms', '500']);
      const c = await connect(scope, hub, { protocol, serverTimeoutMs: 2000, keepAliveMs: 500 });
      const idleStart = Date.now();
      await sleep(3000);
      assert.equal(c.conn.state, HubConnectionState.Connected, `still connected after 3 s idle\n${c.describe()}`);
      assert.equal(c.closed.all.length, 0, `no onclose while idle: ${c.closed.all}`);
      const pings = c.tap.received.filter((r) => r.msg.type === MessageType.Ping && r.at >= idleStart).length;
      // >= 2 leaves room for a server that checks send silence on a coarse (e.g. 1 s) heartbeat, as .NET does.
      assert.ok(pings >= 2, `the server sent Pings while idle (got ${pings} in 3 s with --keep-alive-ms 500)`);
      assert.equal(await c.invoke('echo', 'awake'), 'awake');
      const info = await c.invoke('connectionInfo');
      assert.ok(info.pingsReceived >= 3, `the server counted the client's Pings (pingsReceived=${info.pingsReceived})`);

      await c.send('silence', 4000);
      const t0 = Date.now();
      const err = await c.closed.next('onclose from the client-side server timeout', 8000);
      const closedAt = Date.now();
      assert.ok(err instanceof Error, `onclose got an error: ${err}`);
      assert.equal(err.message, SERVER_TIMEOUT_ERROR);
      // The client's 2 s timer restarts on every message it receives, so measure from the last one (a Ping sent just
      // before the silence began may arrive slightly before or after t0).
      const lastReceived = c.tap.received.at(-1).at;
      const silent = closedAt - lastReceived;
      assert.ok(silent >= 1500 && silent <= 3900, `the client timed out ${silent} ms after the last message (expected 1500..3900)`);
      assert.ok(closedAt - t0 <= 3900, `the client timed out ${closedAt - t0} ms after silence() was sent`);
      assert.ok(lastReceived - t0 < 1000, `nothing arrived during the silence (last message ${lastReceived - t0} ms after t0)`);
      assert.equal(c.conn.state, HubConnectionState.Disconnected);

      // The server survives a client that went away mid-silence.
      const d = await connect(scope, hub, { protocol });
      assert.equal(await d.invoke('echo', 'next'), 'next');
      hub.assertAlive();
    } finally {
      await scope.close();
    }
  });
}

test('client timeout: the server closes a connection that sends nothing for --client-timeout-ms', { timeout: 60000 }, async () => {
  const scope = new Scope();
  try {
    const hub = await startHub(scope, ['--client-timeout-ms', '1500', '--keep-alive-ms', '500']);
    // The client pings only every 60 s and would wait 120 s for the server.
    const quiet = await connect(scope, hub, { keepAliveMs: 60000, serverTimeoutMs: 120000 });
    // A well-behaved client (pings every 500 ms) on the same server must survive.
    const chatty = await connect(scope, hub, { keepAliveMs: 500, serverTimeoutMs: 5000 });
    const t0 = Date.now();
    await quiet.closed.next('the server to close the silent client', 8000);
    const elapsed = Date.now() - t0;
    assert.ok(elapsed >= 800 && elapsed <= 5000, `the server closed the silent client after ${elapsed} ms (expected ~1500)`);
    await sleep(1000);
    assert.equal(chatty.conn.state, HubConnectionState.Connected, `the pinging client is still connected\n${chatty.describe()}`);
    assert.equal(await chatty.invoke('echo', 'alive'), 'alive');
    hub.assertAlive();
  } finally {
    await scope.close();
  }
});
