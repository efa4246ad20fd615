// (b) Microsoft's hyco-ws listener (createRelayedServer) and hyco-ws sender (relayedConnect) through our gateway.
//
// hyco-https cannot serve WebSockets (any `accept` crashes it: "Extensions is not defined"), so hyco-ws is the
// listener here. Both ends use hyco-ws's bundled ws 1.1.5.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  Messages,
  Scope,
  deferred,
  hycoConnect,
  pattern,
  sameBytes,
  startGateway,
  startHycoWsListener,
  withTimeout,
} from '../lib/harness.mjs';

const scope = new Scope();
let gw;
// Each accepted rendezvous socket is handed to whichever test asked for the next one.
let nextConnection = null;

before(async () => {
  gw = await startGateway(scope, { hybridConnections: ['hc1'] });
  await startHycoWsListener(
    scope,
    gw,
    (ws) => {
      ws.on('error', () => {});
      const waiter = nextConnection;
      nextConnection = null;
      if (waiter) waiter.resolve(ws);
      else ws.close(1011, 'unexpected connection');
    },
    { hc: 'hc1', rule: 'listenonly' },
  );
});

after(() => scope.close());

/** Connects a hyco-ws sender and returns both ends: {sender, listener} (ws 1.1.5 sockets). */
async function connectPair(t, suffix = '') {
  const local = new Scope();
  t.after(() => local.close());
  const accepted = deferred();
  nextConnection = accepted;
  const senderPromise = hycoConnect(local, gw.connectUri('hc1', suffix), gw.token('hc1', 'sendonly'), 'hc1 (hyco-ws sender)');
  const listenerSide = withTimeout(accepted.promise, 15000, 'the hyco-ws listener to get the connection');
  const [sender, listener] = await Promise.all([senderPromise, listenerSide]);
  local.add(() => {
    if (listener.readyState !== 3) listener.terminate();
  });
  // The listener's socket may still be connecting when the sender already is open (or vice versa).
  if (listener.readyState !== 1) {
    await withTimeout(new Promise((resolve, reject) => {
      listener.once('open', resolve);
      listener.once('error', reject);
    }), 15000, 'the listener side of the rendezvous to open');
  }
  return { sender, listener };
}

function echo(ws) {
  ws.on('message', (data, flags) => ws.send(data, { binary: !!(flags && flags.binary) }));
}

test('text and binary messages are echoed through the relay', async (t) => {
  const { sender, listener } = await connectPair(t, '/sfx');
  echo(listener);
  const msgs = new Messages(sender);

  sender.send('hello over hyco-ws');
  assert.deepEqual(await msgs.next('the text echo'), { text: 'hello over hyco-ws' });

  const unicode = 'caf\u00e9 \u4e16\u754c \ud83d\ude80';
  sender.send(unicode);
  assert.deepEqual(await msgs.next('the unicode text echo'), { text: unicode });

  const bin = pattern(1000, 1);
  sender.send(bin, { binary: true });
  const got = await msgs.next('the binary echo');
  assert.ok(got.binary, `expected a binary message, got ${JSON.stringify(got).slice(0, 100)}`);
  assert.equal(sameBytes(got.binary, bin), null);

  const large = pattern(200 * 1024, 2);
  sender.send(large, { binary: true });
  const gotLarge = await msgs.next('the 200 KB binary echo');
  assert.ok(gotLarge.binary);
  assert.equal(sameBytes(gotLarge.binary, large), null);

  // Many messages keep their order.
  for (let i = 0; i < 50; i++) sender.send(`m${i}`);
  for (let i = 0; i < 50; i++) assert.deepEqual(await msgs.next(`echo #${i}`), { text: `m${i}` });
});

test("the listener's close code and reason reach the sender", async (t) => {
  const { sender, listener } = await connectPair(t);
  const senderMsgs = new Messages(sender);
  listener.close(4001, 'bye');
  const closed = await senderMsgs.closed('the sender to see the close from the listener');
  assert.equal(closed.code, 4001);
  assert.equal(closed.reason, 'bye');
});

test("the sender's close code and reason reach the listener", async (t) => {
  const { sender, listener } = await connectPair(t);
  const listenerMsgs = new Messages(listener);
  sender.close(4002, 'ciao from sender');
  const closed = await listenerMsgs.closed('the listener to see the close from the sender');
  assert.equal(closed.code, 4002);
  assert.equal(closed.reason, 'ciao from sender');
});

test('listener -> sender messages work too, and two connections stay independent', async (t) => {
  const a = await connectPair(t);
  const b = await connectPair(t);
  const am = new Messages(a.sender);
  const bm = new Messages(b.sender);
  b.listener.send('to b');
  a.listener.send('to a');
  assert.deepEqual(await am.next('message on connection a'), { text: 'to a' });
  assert.deepEqual(await bm.next('message on connection b'), { text: 'to b' });
});
