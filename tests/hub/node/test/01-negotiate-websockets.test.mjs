// (a) negotiate + WebSockets with the real @microsoft/signalr client, JSON and MessagePack:
// invoke (echo, add), send (non-blocking), server→client calls (broadcast, groups), client results (ask),
// server→client streams (complete and cancel) and client→server upload streams (Subject → sum).

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MessageType,
  PROTOCOLS,
  Scope,
  Subject,
  barrier,
  connect,
  range,
  sleep,
  startHub,
  until,
} from '../lib/harness.mjs';

const T = { timeout: 60000 };

/** One server per test; `fn(scope, hub)`; the server must still be alive at the end. */
function hubTest(name, fn, args = []) {
  test(name, T, async () => {
    const scope = new Scope();
    try {
      const hub = await startHub(scope, args);
      await fn(scope, hub);
      hub.assertAlive();
    } finally {
      await scope.close();
    }
  });
}

for (const protocol of PROTOCOLS) {
  describe(`negotiate + WebSockets, ${protocol}`, () => {
    hubTest('invoke: echo round-trips values, add adds, connectionInfo describes the connection', async (scope, hub) => {
      const c = await connect(scope, hub, { protocol });
      const values = [
        'hello',
        '',
        'h\u00e9llo \u2713 \u{1F680}',
        42,
        -3.25,
        2 ** 40,
        true,
        false,
        [1, 'two', [3]],
        { text: 'x', n: 1, list: [1, 'two', { three: 3 }], inner: { flag: false, nothing: null } },
      ];
      for (const v of values) {
        assert.deepEqual(await c.invoke('echo', v), v, `echo(${JSON.stringify(v)})`);
      }
      // null may come back as a result of null (JSON "result":null / msgpack kind 3 + nil) or as a void completion.
      assert.equal((await c.invoke('echo', null)) ?? null, null, 'echo(null)');
      if (protocol === 'messagepack') {
        const bytes = new Uint8Array([0, 1, 2, 127, 128, 255, 0x1e]);
        const back = await c.invoke('echo', bytes);
        assert.ok(back instanceof Uint8Array, `echo(Uint8Array) came back as ${Object.prototype.toString.call(back)}`);
        assert.deepEqual([...back], [...bytes], 'echo(Uint8Array) bytes');
      }
      assert.equal(await c.invoke('add', 2, 3), 5);
      assert.equal(await c.invoke('add', -7, 100), 93);

      const id = c.conn.connectionId;
      assert.ok(typeof id === 'string' && id.length > 0, `the client has a connectionId after negotiate: ${id}`);
      assert.equal(await c.invoke('whoami'), id, 'whoami = the connectionId from negotiate');
      const info = await c.invoke('connectionInfo');
      assert.equal(info.connectionId, id);
      assert.equal(info.protocol, protocol);
      assert.equal(info.version, 1, 'the client sends handshake version 1 without stateful reconnect');
      assert.equal(info.transport, 'WebSockets');
      assert.equal(info.statefulReconnect, false);
      assert.equal(info.acksSent, 0, 'no Ack on a non-stateful connection');
      assert.equal(info.sequencesSent, 0, 'no Sequence on a non-stateful connection');
      assert.ok(info.pingsReceived >= 1, `the client sends a Ping right after the handshake; pingsReceived=${info.pingsReceived}`);
      assert.equal(c.tap.receivedOfType(MessageType.Ack).length + c.tap.receivedOfType(MessageType.Sequence).length, 0);

      // An unknown method fails the invocation, not the connection.
      await assert.rejects(c.invoke('noSuchMethod', 1), Error);
      assert.equal(await c.invoke('echo', 'still here'), 'still here');
    });

    hubTest('send is non-blocking: it runs (broadcast arrives) and gets no Completion', async (scope, hub) => {
      const c = await connect(scope, hub, { protocol });
      await c.send('broadcast', 'fire and forget');
      assert.deepEqual(await c.nextMessage('the broadcast made with send'), [c.conn.connectionId, 'fire and forget']);
      await barrier(c, [c], 'after-send');
      // Every Completion the server sent answers an invocation that carried an id; send() carried none.
      const sentIds = c.tap.sent
        .filter((s) => s.msg.type === MessageType.Invocation && s.msg.invocationId !== undefined && s.msg.invocationId !== null)
        .map((s) => s.msg.invocationId);
      const completions = c.tap.receivedOfType(MessageType.Completion).map((m) => m.invocationId);
      assert.deepEqual([...completions].sort(), [...sentIds].sort(), 'completions answer exactly the blocking invocations');
      const sendInvocation = c.tap.sent.find((s) => s.msg.type === MessageType.Invocation && s.msg.arguments?.[0] === 'fire and forget');
      assert.ok(sendInvocation && !sendInvocation.msg.invocationId, 'send() went out without an invocation id');
    });

    hubTest('broadcast reaches every client, with the sender\'s connectionId', async (scope, hub) => {
      const a = await connect(scope, hub, { protocol });
      const b = await connect(scope, hub, { protocol });
      assert.notEqual(a.conn.connectionId, b.conn.connectionId);
      await a.invoke('broadcast', 'hi all');
      assert.deepEqual(await a.nextMessage(), [a.conn.connectionId, 'hi all']);
      assert.deepEqual(await b.nextMessage(), [a.conn.connectionId, 'hi all']);
      await b.send('broadcast', 'from b');
      assert.deepEqual(await a.nextMessage(), [b.conn.connectionId, 'from b']);
      assert.deepEqual(await b.nextMessage(), [b.conn.connectionId, 'from b']);
    });

    hubTest('groups: members receive sendToGroup, non-members and leavers do not', async (scope, hub) => {
      const a = await connect(scope, hub, { protocol });
      const b = await connect(scope, hub, { protocol });
      const c = await connect(scope, hub, { protocol });
      await a.invoke('joinGroup', 'g1');
      await b.invoke('joinGroup', 'g1');
      await c.invoke('sendToGroup', 'g1', 'hello g1');
      assert.deepEqual(await a.nextMessage('the group message'), [c.conn.connectionId, 'hello g1']);
      assert.deepEqual(await b.nextMessage('the group message'), [c.conn.connectionId, 'hello g1']);
      let before = await barrier(c, [a, b, c], 'marker-1');
      assert.deepEqual(before, [[], [], []], 'the non-member sender got nothing of the group message');

      await b.invoke('leaveGroup', 'g1');
      await a.invoke('sendToGroup', 'g1', 'second');
      assert.deepEqual(await a.nextMessage('the second group message'), [a.conn.connectionId, 'second']);
      before = await barrier(a, [a, b, c], 'marker-2');
      assert.deepEqual(before, [[], [], []], 'the member that left and the non-member got nothing');

      await c.invoke('sendToGroup', 'nobody-here', 'into the void');
      before = await barrier(c, [a, b, c], 'marker-3');
      assert.deepEqual(before, [[], [], []], 'a send to an empty group reaches no one');
    });

    hubTest('client results: ask invokes the client\'s question handler and returns its result or error', async (scope, hub) => {
      const c = await connect(scope, hub, { protocol });
      c.conn.on('question', async (v) => {
        if (v === 'fail') throw new Error('nope from the client');
        if (typeof v === 'number') {
          await sleep(50);
          return v * 2;
        }
        return `answer to ${v}`;
      });
      assert.equal(await c.invoke('ask', 'life'), 'answer to life');
      assert.equal(await c.invoke('ask', 21), 42, 'an async handler result');
      const q = c.tap.receivedOfType(MessageType.Invocation).find((m) => m.target === 'question');
      assert.ok(q && q.invocationId, 'the server\'s question invocation carries an id (it expects a result)');
      await assert.rejects(c.invoke('ask', 'fail'), (e) => {
        assert.match(e.message, /nope from the client/);
        return true;
      });
      // A client without a handler answers "Client didn't provide a result."
      const other = await connect(scope, hub, { protocol });
      await assert.rejects(other.invoke('ask', 'anyone?'), (e) => {
        assert.match(e.message, /Client didn't provide a result/);
        return true;
      });
      assert.equal(await c.invoke('echo', 'after'), 'after');
      assert.equal(await other.invoke('echo', 'after'), 'after');
    });

    hubTest('stream("counter", 5, 10) yields 0..4 then completes', async (scope, hub) => {
      const c = await connect(scope, hub, { protocol });
      const s = c.stream('counter', 5, 10);
      assert.deepEqual(await s.wait(10000), range(5));
      const zero = c.stream('counter', 0, 10);
      assert.deepEqual(await zero.wait(10000), [], 'an empty stream completes');
    });

    hubTest('stream cancel: dispose sends CancelInvocation, the server stops, the connection keeps working', async (scope, hub) => {
      const c = await connect(scope, hub, { protocol });
      const s = c.stream('counter', 1000, 20);
      await until(() => s.items.length >= 2, 10000, 'two counter items');
      s.sub.dispose();
      const streamId = c.tap.sent.find((x) => x.msg.type === MessageType.StreamInvocation && x.msg.target === 'counter')?.msg.invocationId;
      assert.ok(streamId !== undefined, 'the StreamInvocation went out');
      await until(
        () => c.tap.sent.some((x) => x.msg.type === MessageType.CancelInvocation && x.msg.invocationId === streamId),
        5000,
        'the CancelInvocation to go out',
      );
      assert.equal(await c.invoke('echo', 'alive'), 'alive');
      assert.deepEqual(s.items, range(s.items.length), 'items before the cancel were in order');
      const itemsFor = () => c.tap.received.filter((r) => r.msg.type === MessageType.StreamItem && r.msg.invocationId === streamId).length;
      await sleep(500); // items already in flight when the cancel arrived
      const n1 = itemsFor();
      await sleep(1000); // 50 item periods
      const n2 = itemsFor();
      assert.equal(n2, n1, `the server kept streaming after CancelInvocation (${n1} → ${n2} items)`);
      assert.ok(n1 < 60, `the server stopped soon after the cancel (got ${n1} items in total)`);
      const completions = c.tap.receivedOfType(MessageType.Completion).filter((m) => m.invocationId === streamId);
      assert.ok(completions.length <= 1, 'at most one Completion for the cancelled stream');
      assert.equal(await c.invoke('add', 1, 1), 2);
      const again = c.stream('counter', 3, 5);
      assert.deepEqual(await again.wait(10000), range(3), 'a new stream after the cancel works');
    });

    hubTest('upload: a Subject streamed to sum', async (scope, hub) => {
      const c = await connect(scope, hub, { protocol });
      const subject = new Subject();
      const result = c.invoke('sum', subject);
      for (const n of range(11)) {
        subject.next(n);
        if (n % 3 === 0) await sleep(10);
      }
      subject.complete();
      assert.equal(await result, 55);
      const inv = c.tap.sent.find((x) => x.msg.type === MessageType.Invocation && x.msg.target === 'sum');
      assert.equal(inv?.msg.streamIds?.length, 1, 'the invocation declared one upload stream');

      const empty = new Subject();
      const zero = c.invoke('sum', empty);
      empty.complete();
      assert.equal(await zero, 0, 'the sum of an empty upload');

      // Two uploads at once stay apart.
      const s1 = new Subject();
      const s2 = new Subject();
      const r1 = c.invoke('sum', s1);
      const r2 = c.invoke('sum', s2);
      for (let i = 1; i <= 5; i++) {
        s1.next(i);
        s2.next(i * 100);
      }
      s1.complete();
      s2.complete();
      assert.deepEqual(await Promise.all([r1, r2]), [15, 1500]);
    });
  });
}
