// This package's HubClient against the CLI's demo hub (startDemoHubServer), in JSON and in
// MessagePack: echo, add, the counter stream, the sum upload, client results, groups, the
// redirect route. Every wait is bounded.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { Scope, interlink, rejectsWith, within } from './helpers.mjs';

const { HubClient, startDemoHubServer } = interlink;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function demo(scope) {
  const server = await within(startDemoHubServer(), 'the demo hub to start');
  scope.add(() => server.close());
  assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/demo$/);
  return server;
}

async function connect(scope, url, options, setup = () => {}) {
  const client = new HubClient(url, options);
  setup(client);
  await within(client.start(), `the client to connect to ${url}`);
  scope.add(() => client.stop());
  return client;
}

for (const protocol of ['json', 'messagepack']) {
  describe(`HubClient → demo hub (${protocol})`, () => {
    test('echo, add, counter, sum (upload), ask (client result), whoami', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const server = await demo(scope);
      const client = await connect(scope, server.url, { protocol }, (c) => c.on('question', (v) => ({ doubled: v * 2 })));

      const value = { text: 'hi', list: [1, 2.5, null, true], nested: { ok: 'yes' } };
      assert.deepEqual(await within(client.invoke('echo', value), 'echo'), value);
      assert.equal(await client.invoke('add', 40, 2), 42);
      assert.equal(await client.invoke('add', 0.5, 0.25), 0.75);
      await rejectsWith(client.invoke('add', 'a', 1), 'ERR_INTERLINK_HUB');

      const counted = [];
      for await (const n of client.stream('counter', 5, 1)) counted.push(n);
      assert.deepEqual(counted, [0, 1, 2, 3, 4]);
      const firstTwo = [];
      for await (const n of client.stream('counter', 1000, 5)) {
        firstTwo.push(n);
        if (firstTwo.length === 2) break;
      }
      assert.deepEqual(firstTwo, [0, 1]);

      async function* numbers() {
        for (let i = 1; i <= 10; i++) {
          await sleep(1);
          yield i;
        }
      }
      assert.equal(await within(client.invoke('sum', numbers()), 'sum of an async generator'), 55);
      assert.equal(await within(client.invoke('sum', Readable.from([1.5, 2.5])), 'sum of a Readable'), 4);
      const sums = [];
      for await (const total of client.stream('counter', 2, 1)) sums.push(total);
      assert.deepEqual(sums, [0, 1], 'the connection is fine after uploads');

      assert.deepEqual(await within(client.invoke('ask', 21), 'ask'), { doubled: 42 });
      assert.equal(await client.invoke('whoami'), client.connectionId);
    });

    test('groups and broadcast reach the right clients', async (t) => {
      const scope = new Scope();
      t.after(() => scope.close());
      const server = await demo(scope);
      const inbox = { a: [], b: [] };
      const a = await connect(scope, server.url, { protocol }, (c) => c.on('message', (id, text) => inbox.a.push([id, text])));
      const b = await connect(scope, server.url, { protocol: 'json' }, (c) => c.on('message', (id, text) => inbox.b.push([id, text])));
      await a.invoke('joinGroup', 'room');
      await b.invoke('sendToGroup', 'room', 'to the room');
      await b.invoke('broadcast', 'to everyone');
      await a.invoke('leaveGroup', 'room');
      await b.invoke('sendToGroup', 'room', 'to nobody');
      const deadline = Date.now() + 5000;
      while (inbox.a.length < 2 || inbox.b.length < 1) {
        assert.ok(Date.now() < deadline, 'the messages arrive within 5 s');
        await sleep(10);
      }
      await sleep(50);
      assert.deepEqual(inbox.a, [[b.connectionId, 'to the room'], [b.connectionId, 'to everyone']]);
      assert.deepEqual(inbox.b, [[b.connectionId, 'to everyone']]);
    });
  });
}

test('the demo redirect route hands out its token; /client refuses without it', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const server = await demo(scope);
  const base = server.url.replace(/\/demo$/, '');
  const viaRedirect = await connect(scope, `${base}/redirect`, {});
  assert.equal(await within(viaRedirect.invoke('add', 1, 2), 'a call after the redirect'), 3);
  await rejectsWith(new HubClient(`${base}/client/?hub=demo`).start(), 'ERR_INTERLINK_UNAUTHORIZED', 401);
  const direct = await connect(scope, `${base}/client/?hub=demo`, { accessToken: server.token, protocol: 'messagepack' });
  assert.equal(await direct.invoke('echo', 'with a token'), 'with a token');
});

test('a server Close reaches onclose with its error; closeMe with allowReconnect reconnects', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const server = await demo(scope);
  const client = new HubClient(server.url);
  const closed = new Promise((resolve) => client.onclose(resolve));
  await within(client.start(), 'start');
  await client.send('closeMe', 'go away', false);
  const error = await within(closed, 'onclose');
  assert.equal(error.code, 'ERR_INTERLINK_CLOSED');
  assert.equal(error.message, 'Server returned an error on close: go away');

  const again = new HubClient(server.url, { automaticReconnect: [0], protocol: 'messagepack' });
  const reconnected = new Promise((resolve) => again.onreconnected(resolve));
  await within(again.start(), 'start');
  scope.add(() => again.stop());
  const first = again.connectionId;
  await again.send('closeMe', 'come back', true);
  const id = await within(reconnected, 'onreconnected');
  assert.equal(id, again.connectionId);
  assert.notEqual(id, first);
  assert.equal(await again.invoke('add', 2, 2), 4);
});
