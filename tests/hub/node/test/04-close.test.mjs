// (d) Server Close messages and withAutomaticReconnect(): Close with an error and allowReconnect false ends the
// connection (onclose with the server's error, no reconnect); Close with allowReconnect true makes the client
// reconnect with a full negotiate and a new connectionId. JSON and MessagePack.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState, PROTOCOLS, Scope, connect, sleep, startHub } from '../lib/harness.mjs';

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

for (const protocol of PROTOCOLS) {
  describe(`server Close, ${protocol}`, () => {
    test('closeMe("bye", false): onclose with the server error, no reconnect', T, () =>
      withHub(async (scope, hub) => {
        const c = await connect(scope, hub, { protocol, autoReconnect: true });
        const other = await connect(scope, hub, { protocol, autoReconnect: true });
        await c.send('closeMe', 'bye', false);
        const err = await c.closed.next('onclose after closeMe("bye", false)');
        assert.ok(err instanceof Error, `onclose got an error: ${err}`);
        assert.match(err.message, /Server returned an error on close/);
        assert.match(err.message, /bye/);
        await sleep(500);
        assert.equal(c.reconnecting.all.length, 0, 'no onreconnecting');
        assert.equal(c.conn.state, HubConnectionState.Disconnected);
        // Only the caller was closed.
        assert.equal(other.conn.state, HubConnectionState.Connected);
        assert.equal(await other.invoke('echo', 'unaffected'), 'unaffected');
        assert.equal(other.closed.all.length + other.reconnecting.all.length, 0);
      }));

    test('closeMe(null, false): onclose without an error, no reconnect', T, () =>
      withHub(async (scope, hub) => {
        const c = await connect(scope, hub, { protocol, autoReconnect: true });
        await c.send('closeMe', null, false);
        const err = await c.closed.next('onclose after closeMe(null, false)');
        assert.equal(err, undefined, `a Close without error gives onclose() no error, got: ${err}`);
        await sleep(500);
        assert.equal(c.reconnecting.all.length, 0, 'no onreconnecting');
        assert.equal(c.conn.state, HubConnectionState.Disconnected);
      }));

    test('closeMe(null, true): onreconnecting → onreconnected with a new connectionId', T, () =>
      withHub(async (scope, hub) => {
        const c = await connect(scope, hub, { protocol, autoReconnect: true });
        const oldId = c.conn.connectionId;
        assert.equal(await c.invoke('whoami'), oldId);
        await c.send('closeMe', null, true);
        const why = await c.reconnecting.next('onreconnecting after closeMe(null, true)');
        assert.equal(why, undefined, `a Close without error reconnects with no error, got: ${why}`);
        const newId = await c.reconnected.next('onreconnected', 15000);
        assert.ok(typeof newId === 'string' && newId.length > 0, `onreconnected got an id: ${newId}`);
        assert.notEqual(newId, oldId, 'the reconnect made a new connection');
        assert.equal(c.conn.connectionId, newId);
        assert.equal(await c.invoke('whoami'), newId);
        assert.equal(await c.invoke('echo', 'back'), 'back');
        assert.equal(c.closed.all.length, 0, 'no onclose');
        assert.equal(c.reconnecting.all.length, 1, 'exactly one reconnect');
      }));

    test('closeMe("bye", true): onreconnecting gets the server error, then a new connection', T, () =>
      withHub(async (scope, hub) => {
        const c = await connect(scope, hub, { protocol, autoReconnect: true });
        const oldId = c.conn.connectionId;
        await c.send('closeMe', 'bye', true);
        const why = await c.reconnecting.next('onreconnecting after closeMe("bye", true)');
        assert.ok(why instanceof Error && /Server returned an error on close/.test(why.message) && /bye/.test(why.message), `onreconnecting error: ${why}`);
        const newId = await c.reconnected.next('onreconnected', 15000);
        assert.notEqual(newId, oldId);
        assert.equal(await c.invoke('whoami'), newId);
      }));
  });
}
