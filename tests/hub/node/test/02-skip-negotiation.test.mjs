// (b) skipNegotiation: true with transport WebSockets: the client opens the WebSocket on the hub URL directly
// (no negotiate, no id); the server creates the connection lazily. JSON and MessagePack.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpTransportType, PROTOCOLS, Scope, connect, range, startHub } from '../lib/harness.mjs';

for (const protocol of PROTOCOLS) {
  test(`skipNegotiation + WebSockets, ${protocol}: echo works, client connectionId is null, whoami is not`, { timeout: 60000 }, async () => {
    const scope = new Scope();
    try {
      const hub = await startHub(scope);
      const opts = { protocol, skipNegotiation: true, transport: HttpTransportType.WebSockets };
      const c = await connect(scope, hub, opts);
      assert.equal(await c.invoke('echo', 'direct'), 'direct');
      assert.equal(await c.invoke('add', 20, 22), 42);
      assert.equal(c.conn.connectionId, null, 'without negotiate the client knows no connectionId');
      const id = await c.invoke('whoami');
      assert.ok(typeof id === 'string' && id.length > 0, `whoami returns a non-empty id: ${JSON.stringify(id)}`);
      const info = await c.invoke('connectionInfo');
      assert.equal(info.connectionId, id);
      assert.equal(info.transport, 'WebSockets');
      assert.equal(info.protocol, protocol);
      assert.equal(info.statefulReconnect, false);

      const s = c.stream('counter', 4, 5);
      assert.deepEqual(await s.wait(10000), range(4));

      // A second direct client is a different connection, and server→client calls reach both.
      const d = await connect(scope, hub, opts);
      const id2 = await d.invoke('whoami');
      assert.notEqual(id2, id, 'two direct connections have different ids');
      await d.invoke('broadcast', 'to both');
      assert.deepEqual(await c.nextMessage(), [id2, 'to both']);
      assert.deepEqual(await d.nextMessage(), [id2, 'to both']);

      await c.stop();
      assert.equal(await c.closed.next('onclose after stop()'), undefined, 'a clean stop has no error');
      assert.equal(await d.invoke('echo', 'still'), 'still');
      hub.assertAlive();
    } finally {
      await scope.close();
    }
  });
}
