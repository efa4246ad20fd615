// (g) The HTTP transports with the real client: LongPolling (JSON and MessagePack) and ServerSentEvents (JSON):
// invoke, server→client stream, broadcasts both ways with a WebSocket client, a client result, and a clean stop.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpTransportType, HubConnectionState, Scope, Subject, connect, range, sleep, startHub } from '../lib/harness.mjs';

const CASES = [
  ['LongPolling', HttpTransportType.LongPolling, 'json'],
  ['LongPolling', HttpTransportType.LongPolling, 'messagepack'],
  ['ServerSentEvents', HttpTransportType.ServerSentEvents, 'json'],
];

for (const [name, transport, protocol] of CASES) {
  test(`${name}, ${protocol}: echo, stream, broadcast, client result, upload, clean stop`, { timeout: 60000 }, async () => {
    const scope = new Scope();
    try {
      const hub = await startHub(scope);
      const c = await connect(scope, hub, { protocol, transport });
      assert.equal(await c.invoke('echo', `over ${name}`), `over ${name}`);
      assert.deepEqual(await c.invoke('echo', { nested: [1, { two: 2 }] }), { nested: [1, { two: 2 }] });
      assert.equal(await c.invoke('add', 40, 2), 42);
      const info = await c.invoke('connectionInfo');
      assert.equal(info.transport, name);
      assert.equal(info.protocol, protocol);
      assert.equal(info.connectionId, c.conn.connectionId);
      assert.equal(info.statefulReconnect, false);

      assert.deepEqual(await c.stream('counter', 5, 10).wait(10000), range(5));

      const ws = await connect(scope, hub, { protocol: 'json' });
      await ws.invoke('broadcast', 'from ws');
      assert.deepEqual(await c.nextMessage('the broadcast from the WebSocket client'), [ws.conn.connectionId, 'from ws']);
      assert.deepEqual(await ws.nextMessage('its own broadcast'), [ws.conn.connectionId, 'from ws']);
      await c.send('broadcast', `from ${name}`);
      assert.deepEqual(await ws.nextMessage(`the broadcast from the ${name} client`), [c.conn.connectionId, `from ${name}`]);
      assert.deepEqual(await c.nextMessage('its own broadcast'), [c.conn.connectionId, `from ${name}`]);

      c.conn.on('question', (v) => `${name} says ${v}`);
      assert.equal(await c.invoke('ask', 'hi'), `${name} says hi`, 'a client result travels back over the send half');

      const up = new Subject();
      const sum = c.invoke('sum', up);
      for (const n of [1, 2, 3, 4]) up.next(n);
      up.complete();
      assert.equal(await sum, 10);

      // Idle for a while: LongPolling re-polls, SSE stays open; nothing breaks.
      await sleep(1500);
      assert.equal(c.conn.state, HubConnectionState.Connected);
      assert.equal(await c.invoke('echo', 'after idle'), 'after idle');

      await c.stop();
      assert.equal(await c.closed.next('onclose after stop()'), undefined, 'a clean stop has no error');
      assert.equal(c.conn.state, HubConnectionState.Disconnected);
      await ws.invoke('broadcast', 'after stop');
      assert.deepEqual(await ws.nextMessage(), [ws.conn.connectionId, 'after stop']);
      hub.assertAlive();
    } finally {
      await scope.close();
    }
  });
}
