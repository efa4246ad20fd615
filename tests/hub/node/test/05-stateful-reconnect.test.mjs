// (e) Stateful reconnect: withStatefulReconnect() + withAutomaticReconnect(). The server aborts the WebSocket
// without a close frame (dropTransport, i.e. a network failure); the client re-attaches to the same connection
// (same id, no negotiate, no handshake, no onreconnecting) and both sides replay what the other did not ack, so
// nothing is lost or duplicated in either direction. JSON and MessagePack. Also: --no-stateful-reconnect.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HubConnectionState, MessageType, PROTOCOLS, Scope, connect, range, sleep, startHub, until, withTimeout } from '../lib/harness.mjs';

const T = { timeout: 60000 };

async function withHub(args, fn) {
  const scope = new Scope();
  try {
    const hub = await startHub(scope, args);
    await fn(scope, hub);
    hub.assertAlive();
  } finally {
    await scope.close();
  }
}

/** Polls connectionInfo until the server has sent an Ack (it acks on a timer); returns the last info. */
async function infoWithAcks(c) {
  let info;
  await until(
    async () => {
      info = await c.invoke('connectionInfo');
      return info.acksSent > 0;
    },
    6000,
    'connectionInfo().acksSent > 0',
    250,
  ).catch((e) => {
    throw new Error(`${e.message}; last connectionInfo: ${JSON.stringify(info)}`);
  });
  return info;
}

function assertStatefulInfo(info, c, protocol) {
  assert.equal(info.connectionId, c.conn.connectionId);
  assert.equal(info.protocol, protocol);
  assert.equal(info.transport, 'WebSockets');
  assert.equal(info.statefulReconnect, true, 'stateful reconnect was negotiated');
  assert.equal(info.version, 2, 'the client sends handshake version 2 with stateful reconnect');
  assert.ok(info.acksSent > 0, `the server sent Acks (acksSent=${info.acksSent})`);
  assert.ok(info.sequencesSent >= 1, `the server sent a Sequence on re-attach (sequencesSent=${info.sequencesSent})`);
}

for (const protocol of PROTOCOLS) {
  test(`stateful, ${protocol}: a stream survives a dropped socket, every item exactly once, same connection`, T, () =>
    withHub([], async (scope, hub) => {
      const c = await connect(scope, hub, { protocol, stateful: true, autoReconnect: true });
      const id = c.conn.connectionId;
      assert.equal(await c.invoke('whoami'), id);
      let dropAt = null;
      const s = c.stream('counter', 50, 20);
      s.onItem = (v, items) => {
        if (items.length === 15 && dropAt === null) {
          dropAt = v;
          c.conn.send('dropTransport').catch(() => {});
        }
      };
      const items = await s.wait(20000);
      assert.notEqual(dropAt, null, 'the drop was requested mid-stream');
      assert.deepEqual(items, range(50), 'all items, in order, exactly once');
      assert.equal(c.reconnecting.all.length, 0, 'no onreconnecting: the connection was re-attached, not re-made');
      assert.equal(c.closed.all.length, 0, 'no onclose');
      assert.equal(c.conn.state, HubConnectionState.Connected);
      assert.equal(c.conn.connectionId, id, 'same connectionId on the client');
      assert.equal(await c.invoke('whoami'), id, 'same connection on the server');
      const info = await infoWithAcks(c);
      assertStatefulInfo(info, c, protocol);
      assert.ok(c.tap.receivedOfType(MessageType.Sequence).length >= 1, 'the client received a Sequence message');
      assert.ok(c.tap.receivedOfType(MessageType.Ack).length >= 1, 'the client received Ack messages');
      assert.ok(c.tap.sent.some((x) => x.msg.type === MessageType.Sequence), 'the client re-attached (sent its Sequence)');
    }));

  test(`stateful, ${protocol}: invocations across dropped sockets resolve exactly once with their own values`, T, () =>
    withHub([], async (scope, hub) => {
      const c = await connect(scope, hub, { protocol, stateful: true, autoReconnect: true });
      const id = c.conn.connectionId;
      const N = 40;
      const drops = new Set([10, 28]);
      const results = new Map();
      const calls = [];
      for (let i = 0; i < N; i++) {
        calls.push(
          c.conn.invoke('echo', i).then((v) => {
            assert.ok(!results.has(i), `echo(${i}) resolved twice`);
            results.set(i, v);
          }),
        );
        // A side effect per call: a non-blocking broadcast to ourselves. A call the server ran twice would show
        // up as a duplicate message (server messages are numbered, so the client would not drop it).
        calls.push(c.conn.send('broadcast', `b${i}`));
        if (drops.has(i)) c.conn.send('dropTransport').catch(() => {});
        await sleep(15);
      }
      await withTimeout(Promise.all(calls), 20000, `all ${N} echo calls to resolve (${results.size} did)`, c.describe);
      for (let i = 0; i < N; i++) assert.equal(results.get(i), i, `echo(${i}) resolved with its own value`);

      const texts = [];
      const seen = new Set();
      while (seen.size < N) {
        const [, text] = await c.nextMessage(`the broadcasts b0..b${N - 1} (have ${seen.size}: ${[...seen].join(',')})`);
        texts.push(text);
        seen.add(text);
      }
      // Then a barrier: anything duplicated would be queued before "end".
      await c.invoke('broadcast', 'end');
      for (;;) {
        const [, text] = await c.nextMessage('the barrier broadcast "end"');
        if (text === 'end') break;
        texts.push(text);
      }
      const counts = new Map();
      for (const t of texts) counts.set(t, (counts.get(t) ?? 0) + 1);
      for (let i = 0; i < N; i++) assert.equal(counts.get(`b${i}`), 1, `broadcast b${i} ran exactly once (${texts.length} texts, first 80: ${texts.slice(0, 80).join(',')})`);
      assert.equal(texts.length, N, `no extra messages (${texts.length} texts, first 80: ${texts.slice(0, 80).join(',')})`);

      assert.equal(c.reconnecting.all.length, 0, 'no onreconnecting');
      assert.equal(c.closed.all.length, 0, 'no onclose');
      assert.equal(c.conn.connectionId, id);
      assert.equal(await c.invoke('whoami'), id, 'same connection on the server');
      const info = await infoWithAcks(c);
      assertStatefulInfo(info, c, protocol);
      assert.ok(info.sequencesSent >= 2, `two re-attaches, two Sequences (sequencesSent=${info.sequencesSent})`);
    }));
}

test('stateful off (--no-stateful-reconnect): not granted, a dropped socket means an ordinary reconnect', T, () =>
  withHub(['--no-stateful-reconnect'], async (scope, hub) => {
    const c = await connect(scope, hub, { stateful: true, autoReconnect: true });
    const oldId = c.conn.connectionId;
    const info = await c.invoke('connectionInfo');
    assert.equal(info.statefulReconnect, false, 'the server did not grant stateful reconnect');
    assert.equal(info.version, 1, 'so the client sent handshake version 1');
    await c.send('dropTransport');
    await c.reconnecting.next('onreconnecting after the drop');
    const newId = await c.reconnected.next('onreconnected', 15000);
    assert.notEqual(newId, oldId, 'a new connection');
    assert.equal(await c.invoke('whoami'), newId);
    await sleep(1500);
    const after = await c.invoke('connectionInfo');
    assert.equal(after.acksSent, 0, 'no Ack ever sent on a non-stateful connection');
    assert.equal(after.sequencesSent, 0, 'no Sequence ever sent on a non-stateful connection');
    assert.equal(c.tap.receivedOfType(MessageType.Ack).length + c.tap.receivedOfType(MessageType.Sequence).length, 0);
  }));
