// The hub API end to end on loopback: this package's HubClient against a HubServer started
// from Node with JavaScript methods, in JSON and in MessagePack. Every wait is bounded.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Scope, interlink, rejectsWith, within } from './helpers.mjs';

const { HubClient, HubServer, HubErrorCode } = interlink;
const indexJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../index.js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it is truthy (at most `ms`). */
async function eventually(check, what, ms = 5000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A server with the methods the tests call, and what it observed. */
async function startServer(scope, { methods = {}, ...extra } = {}) {
  const seen = { sent: [], finallies: 0, connected: [], disconnected: [] };
  const server = await within(
    HubServer.start({
      methods: {
        echo: async (ctx, value) => value,
        add: (ctx, a, b) => a + b,
        nothing: (ctx) => {},
        record: (ctx, value) => {
          seen.sent.push(value);
        },
        whoami: (ctx) => ({ connectionId: ctx.connectionId, userId: ctx.userId, protocol: ctx.protocol }),
        fail: (ctx, text) => {
          throw new Error(text);
        },
        reject: async (ctx) => Promise.reject(new Error('rejected on purpose')),
        ask: async (ctx, question) => ctx.invokeCaller('question', question),
        join: (ctx, group) => ctx.addToGroup(group),
        leave: (ctx, group) => ctx.removeFromGroup(group),
        toGroup: (ctx, group, text) => ctx.clients.group(group).send('message', ctx.connectionId, text),
        toOthers: (ctx, text) => ctx.clients.others.send('message', ctx.connectionId, text),
        ...methods,
      },
      streamMethods: {
        counter: async function* (ctx, count, delayMs) {
          try {
            for (let i = 0; i < count; i++) {
              await sleep(delayMs);
              yield i;
            }
          } finally {
            seen.finallies++;
          }
        },
        letters: (ctx, word) => word.split(''),
        broken: async function* (ctx) {
          yield 'first';
          throw new Error('the stream broke');
        },
      },
      onConnected: (ctx) => {
        seen.connected.push(ctx.connectionId);
      },
      onDisconnected: (ctx, error) => {
        seen.disconnected.push([ctx.connectionId, error]);
      },
      ...extra,
    }),
    'the hub server to start',
  );
  scope.add(() => server.close());
  return { server, seen };
}

async function connect(scope, url, options = {}, setup = () => {}) {
  const client = new HubClient(url, options);
  setup(client);
  await within(client.start(), 'the client to connect');
  scope.add(() => client.stop());
  return client;
}

for (const protocol of ['json', 'messagepack']) {
  describe(`HubClient ↔ HubServer (${protocol})`, () => {
    test('invoke: values round-trip, void results, connection facts', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const { server } = await startServer(scope);
      assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/hub$/);
      const client = await connect(scope, server.url, { protocol });
      assert.equal(client.state, 'Connected');
      assert.equal(client.protocol, protocol);
      assert.deepEqual(server.connectionIds(), [client.connectionId]);

      const value = { n: 1, f: 2.5, neg: -7, s: 'héllo', nil: null, yes: true, list: [1, [2, { deep: 'x' }]], empty: {} };
      assert.deepEqual(await within(client.invoke('echo', value), 'echo'), value);
      assert.equal(await client.invoke('add', 40, 2), 42);
      assert.equal(await client.invoke('add', 'a', 'b'), 'ab');
      assert.equal(await client.invoke('nothing'), undefined);
      assert.equal(await client.invoke('echo', undefined), null);
      assert.deepEqual(await client.invoke('echo', [undefined, () => 1]), [null, null]);
      assert.deepEqual(await client.invoke('echo', { skipped: undefined, kept: 1 }), { kept: 1 });
      assert.equal(await client.invoke('echo', 2n ** 40n), 2 ** 40);
      assert.deepEqual(await client.invoke('whoami'), { connectionId: client.connectionId, userId: null, protocol });

      const bytes = Buffer.from([0, 1, 2, 254, 255]);
      const when = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 500));
      if (protocol === 'messagepack') {
        // MessagePack carries bytes (bin) and dates (timestamp) as such.
        const back = await client.invoke('echo', { bytes, when });
        assert.ok(Buffer.isBuffer(back.bytes));
        assert.deepEqual([...back.bytes], [...bytes]);
        assert.ok(back.when instanceof Date);
        assert.equal(back.when.getTime(), when.getTime());
      } else {
        // JSON has neither: bytes travel as base64 (as .NET writes a byte[]), dates as ISO text.
        assert.deepEqual(await client.invoke('echo', { bytes, when }), {
          bytes: bytes.toString('base64'),
          when: '2024-01-02T03:04:05.5Z',
        });
      }
    });

    test('a throwing or rejecting method is an ERR_INTERLINK_HUB error with its message', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const { server } = await startServer(scope);
      const client = await connect(scope, server.url, { protocol });
      const e = await rejectsWith(client.invoke('fail', 'custom failure'), HubErrorCode.Hub);
      assert.equal(e.code, 'ERR_INTERLINK_HUB');
      assert.equal(e.message, "An unexpected error occurred invoking 'fail' on the server. HubException: custom failure");
      const r = await rejectsWith(client.invoke('reject'), 'ERR_INTERLINK_HUB');
      assert.match(r.message, /HubException: rejected on purpose$/);
      assert.equal((await rejectsWith(client.invoke('missing'), 'ERR_INTERLINK_HUB')).message, "Unknown hub method 'missing'");
      assert.equal(
        (await rejectsWith(client.invoke('add', 1), 'ERR_INTERLINK_HUB')).message,
        'Invocation provides 1 argument(s) but target expects 2.',
      );
      // The connection survives failed calls.
      assert.equal(await within(client.invoke('add', 1, 1), 'a call after errors'), 2);
    });

    test('send: fire and forget, in order', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const { server, seen } = await startServer(scope);
      const client = await connect(scope, server.url, { protocol });
      for (let i = 0; i < 20; i++) await client.send('record', i);
      await eventually(() => seen.sent.length === 20, 'the sends to arrive');
      assert.deepEqual(seen.sent, [...Array(20).keys()]);
      // A failing non-blocking call reports nothing and breaks nothing.
      await client.send('fail', 'ignored');
      assert.equal(await within(client.invoke('add', 2, 2), 'a call after a failed send'), 4);
    });

    test('stream: items in order; breaking out of the loop cancels the generator', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const { server, seen } = await startServer(scope);
      const client = await connect(scope, server.url, { protocol });
      const all = [];
      for await (const n of client.stream('counter', 5, 1)) all.push(n);
      assert.deepEqual(all, [0, 1, 2, 3, 4]);
      assert.equal(seen.finallies, 1);

      const letters = [];
      for await (const l of client.stream('letters', 'hub')) letters.push(l);
      assert.deepEqual(letters, ['h', 'u', 'b'], 'a sync iterable works too');

      const some = [];
      await within(
        (async () => {
          for await (const n of client.stream('counter', 1000, 20)) {
            some.push(n);
            if (n === 2) break;
          }
        })(),
        'three items of a long stream',
      );
      assert.deepEqual(some, [0, 1, 2]);
      await eventually(() => seen.finallies === 2, "the cancelled generator's finally");

      const got = [];
      const e = await rejectsWith(
        (async () => {
          for await (const x of client.stream('broken')) got.push(x);
        })(),
        'ERR_INTERLINK_HUB',
      );
      assert.deepEqual(got, ['first']);
      assert.match(e.message, /HubException: the stream broke$/);
      assert.equal(await client.invoke('add', 1, 2), 3, 'the connection is still fine');
    });

    test('server → client calls: client results (sync, async, thrown) and lifecycle hooks', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const { server, seen } = await startServer(scope);
      let mode = 'sync';
      const client = await connect(scope, server.url, { protocol }, (c) =>
        c.on('question', async (q) => {
          if (mode === 'sync') return `answer to ${q}`;
          if (mode === 'throw') throw new Error(`no answer to ${q}`);
          if (mode === 'none') return undefined;
          await sleep(10);
          return { q, async: true };
        }),
      );
      assert.equal(await within(client.invoke('ask', 'life'), 'a client result'), 'answer to life');
      mode = 'async';
      assert.deepEqual(await client.invoke('ask', 7), { q: 7, async: true });
      mode = 'throw';
      const e = await rejectsWith(client.invoke('ask', 'x'), 'ERR_INTERLINK_HUB');
      assert.match(e.message, /HubException: no answer to x$/);
      mode = 'none';
      const none = await rejectsWith(client.invoke('ask', 'x'), 'ERR_INTERLINK_HUB');
      assert.match(none.message, /Client didn't provide a result\.$/);
      client.off('question');
      await rejectsWith(client.invoke('ask', 'x'), 'ERR_INTERLINK_HUB');

      assert.deepEqual(seen.connected, [client.connectionId]);
      const id = client.connectionId;
      await within(client.stop(), 'the client to stop');
      assert.equal(client.state, 'Disconnected');
      await eventually(() => seen.disconnected.length === 1, 'onDisconnected');
      assert.equal(seen.disconnected[0][0], id);
      assert.deepEqual(server.connectionIds(), []);
    });

    test('groups and broadcast, from methods and from the server object', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const { server } = await startServer(scope);
      const inbox = new Map();
      const make = async (name) => {
        inbox.set(name, []);
        return connect(scope, server.url, { protocol }, (c) => c.on('message', (...args) => inbox.get(name).push(args)));
      };
      const [a, b, c] = [await make('a'), await make('b'), await make('c')];
      assert.deepEqual(server.connectionIds(), [a.connectionId, b.connectionId, c.connectionId].sort());

      assert.equal(await a.invoke('join', 'red'), true);
      assert.equal(await a.invoke('join', 'red'), false, 'already a member');
      assert.equal(server.addToGroup(b.connectionId, 'red'), true);
      assert.equal(await c.invoke('toGroup', 'red', 'to red'), 2, 'the method returns how many it reached');
      await eventually(() => inbox.get('a').length === 1 && inbox.get('b').length === 1, 'the group message');
      assert.deepEqual(inbox.get('a')[0], [c.connectionId, 'to red']);
      assert.equal(server.sendToGroup('red', 'message', 'server', 'to red'), 2);
      assert.equal(await a.invoke('leave', 'red'), true);
      assert.equal(server.sendToGroup('red', 'message', 'server', 'only b'), 1);
      assert.equal(server.removeFromGroup(b.connectionId, 'red'), true);
      assert.equal(server.sendToGroup('red', 'message', 'nobody'), 0);
      assert.equal(server.groups.add(c.connectionId, 'blue'), true);
      assert.equal(server.clients.group('blue').send('message', 'via clients'), 1);

      assert.equal(server.broadcast('message', 'server', 'to all', { n: 1 }), 3);
      assert.equal(server.sendToConnection(b.connectionId, 'message', 'server', 'to b'), 1);
      assert.equal(server.sendToConnection('no-such-id', 'message', 'x'), 0);
      await a.invoke('toOthers', 'not to a');
      await eventually(
        () => inbox.get('a').length === 3 && inbox.get('b').length === 6 && inbox.get('c').length === 3,
        'every delivery',
      );
      assert.deepEqual(inbox.get('a').slice(1), [['server', 'to red'], ['server', 'to all', { n: 1 }]]);
      assert.deepEqual(inbox.get('b'), [
        [c.connectionId, 'to red'],
        ['server', 'to red'],
        ['server', 'only b'],
        ['server', 'to all', { n: 1 }],
        ['server', 'to b'],
        [a.connectionId, 'not to a'],
      ]);
      assert.deepEqual(inbox.get('c'), [['via clients'], ['server', 'to all', { n: 1 }], [a.connectionId, 'not to a']]);

      const e = (() => {
        try {
          server.addToGroup('no-such-id', 'red');
        } catch (err) {
          return err;
        }
      })();
      assert.equal(e?.code, 'ERR_INTERLINK_INVALID_ARGUMENT');
    });
  });
}

describe('HubClient and HubServer: errors and lifecycle', () => {
  test('calls need a connection; start twice is refused; bad options throw', async (t) => {
    const scope = new Scope();
    t.after(() => scope.close());
    const { server } = await startServer(scope);
    const client = new HubClient(server.url);
    assert.equal(client.state, 'Disconnected');
    assert.equal(client.connectionId, null);
    await rejectsWith(client.invoke('add', 1, 2), 'ERR_INTERLINK_HUB_STATE');
    await rejectsWith(client.send('add', 1, 2), 'ERR_INTERLINK_HUB_STATE');
    await rejectsWith(client.stream('counter', 1, 1)[Symbol.asyncIterator]().next(), 'ERR_INTERLINK_HUB_STATE');
    await within(client.start(), 'start');
    scope.add(() => client.stop());
    await rejectsWith(client.start(), 'ERR_INTERLINK_HUB_STATE');
    const cyclic = {};
    cyclic.self = cyclic;
    assert.throws(() => client.invoke('echo', cyclic), { code: 'ERR_INTERLINK_VALUE' });
    assert.throws(() => client.invoke(42), { code: 'ERR_INTERLINK_INVALID_ARGUMENT' });
    assert.throws(() => new HubClient(server.url, { protocol: 'xml' }), { code: 'ERR_INTERLINK_INVALID_ARGUMENT' });
    await rejectsWith(HubServer.start({ bind: 'not an address' }), 'ERR_INTERLINK_INVALID_ARGUMENT');
    await rejectsWith(HubServer.start({ path: 'no-slash' }), 'ERR_INTERLINK_INVALID_ARGUMENT');
  });

  test('start fails with codes: nothing listening, unknown path', async (t) => {
    const scope = new Scope();
    t.after(() => scope.close());
    const { server } = await startServer(scope);
    const wrongPath = await rejectsWith(new HubClient(server.url.replace('/hub', '/nope')).start(), 'ERR_INTERLINK_REFUSED', 404);
    assert.match(wrongPath.message, /404/);
    const closed = await HubServer.start();
    const url = closed.url;
    await closed.close();
    await rejectsWith(new HubClient(url).start(), 'ERR_INTERLINK_NET');
  });

  test('a server close ends clients: pending calls reject, onclose runs, the process can exit', async (t) => {
    const scope = new Scope();
    t.after(() => scope.close());
    const { server } = await startServer(scope, {
      methods: { slow: (ctx) => new Promise(() => {}) },
    });
    const client = new HubClient(server.url);
    const closed = new Promise((resolve) => client.onclose(resolve));
    await within(client.start(), 'start');
    const pending = rejectsWith(within(client.invoke('slow'), 'the pending call to fail'), 'ERR_INTERLINK_CLOSED');
    await sleep(50);
    await within(server.close(), 'the server to close');
    await pending;
    await within(closed, 'onclose');
    assert.equal(client.state, 'Disconnected');
  });

  test('automatic reconnect gives up with the policy and reports through the callbacks', async (t) => {
    const scope = new Scope();
    t.after(() => scope.close());
    const { server } = await startServer(scope, {
      methods: { kick: (ctx) => ctx.close('kicked', true) },
    });
    const client = new HubClient(server.url, { automaticReconnect: [0, 50] });
    const events = [];
    client.onreconnecting((e) => events.push(['reconnecting', e?.message]));
    client.onreconnected((id) => events.push(['reconnected', typeof id]));
    const closed = new Promise((resolve) => client.onclose(resolve));
    await within(client.start(), 'start');
    const first = client.connectionId;
    await client.send('kick');
    await eventually(() => events.length === 2, 'reconnecting and reconnected');
    assert.deepEqual(events, [['reconnecting', 'Server returned an error on close: kicked'], ['reconnected', 'string']]);
    assert.notEqual(client.connectionId, first);
    assert.equal(await client.invoke('add', 1, 1), 2);
    await server.close();
    const error = await within(closed, 'onclose after the policy gave up');
    assert.ok(error instanceof Error);
    assert.equal(events.filter(([e]) => e === 'reconnecting').length, 2);
  });

  test('a process with a client and a server exits once both are closed', async () => {
    const code = `
      const il = require(${JSON.stringify(indexJs)});
      (async () => {
        const server = await il.HubServer.start({ methods: { add: (ctx, a, b) => a + b } });
        const client = new il.HubClient(server.url, { protocol: 'messagepack' });
        client.on('tick', () => {});
        await client.start();
        const sum = await client.invoke('add', 1, 2);
        await client.stop();
        await server.close();
        console.log('done', sum);
      })();
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['-e', code], { timeout: 20000 });
    assert.equal(stdout.trim(), 'done 3');
  });
});
