// Interop proof: Microsoft's JavaScript client (@microsoft/signalr, pinned in
// devDependencies) against a HubServer started from Node with JavaScript methods, over each
// transport it speaks. Every wait is bounded.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Scope, interlink, within } from './helpers.mjs';

const require = createRequire(import.meta.url);
const signalR = require('@microsoft/signalr');

/** A server whose methods exercise calls, client results, streams and messages. */
async function startServer(scope) {
  const server = await within(
    interlink.HubServer.start({
      methods: {
        add: (ctx, a, b) => a + b,
        echo: async (ctx, value) => value,
        ask: async (ctx, question) => `the client said: ${await ctx.invokeCaller('question', question)}`,
        fail: (ctx) => {
          throw new Error('refused by the JavaScript method');
        },
        shout: (ctx, text) => ctx.clients.caller.send('shouted', text.toUpperCase(), ctx.connectionId),
      },
      streamMethods: {
        counter: async function* (ctx, count) {
          for (let i = 0; i < count; i++) yield { i };
        },
      },
    }),
    'the hub server to start',
  );
  scope.add(() => server.close());
  return server;
}

/** A @microsoft/signalr connection to `url` over `transport`, started. */
async function connect(scope, url, transport, setup) {
  const connection = new signalR.HubConnectionBuilder()
    .withUrl(url, { transport })
    .configureLogging(signalR.LogLevel.None)
    .build();
  setup(connection);
  await within(connection.start(), `@microsoft/signalr to connect (${transport})`);
  scope.add(() => connection.stop());
  return connection;
}

const transports = [
  ['WebSockets', signalR.HttpTransportType.WebSockets],
  ['ServerSentEvents', signalR.HttpTransportType.ServerSentEvents],
  ['LongPolling', signalR.HttpTransportType.LongPolling],
];

for (const [name, transport] of transports) {
  test(`@microsoft/signalr over ${name}: invoke, client result, error, stream, messages`, async (t) => {
    const scope = new Scope();
    t.after(() => scope.close());
    const server = await startServer(scope);
    const shouted = [];
    const connection = await connect(scope, server.url, transport, (c) => {
      c.on('question', async (q) => `re: ${q}`);
      c.on('shouted', (text, id) => shouted.push([text, id]));
    });
    assert.deepEqual(server.connectionIds(), [connection.connectionId]);

    assert.equal(await within(connection.invoke('add', 2, 3), 'invoke add'), 5);
    assert.deepEqual(await connection.invoke('echo', { a: [1, 'x', null] }), { a: [1, 'x', null] });
    assert.equal(await within(connection.invoke('ask', 'hi'), 'a client result'), 'the client said: re: hi');
    await assert.rejects(connection.invoke('fail'), {
      message: "An unexpected error occurred invoking 'fail' on the server. HubException: refused by the JavaScript method",
    });

    const items = [];
    await within(
      new Promise((resolve, reject) =>
        connection.stream('counter', 3).subscribe({ next: (v) => items.push(v), complete: resolve, error: reject }),
      ),
      'the stream',
    );
    assert.deepEqual(items, [{ i: 0 }, { i: 1 }, { i: 2 }]);

    await connection.invoke('shout', 'hey');
    assert.equal(server.broadcast('shouted', 'from the server', 'server'), 1);
    const deadline = Date.now() + 5000;
    while (shouted.length < 2) {
      assert.ok(Date.now() < deadline, 'the messages arrive within 5 s');
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(shouted, [['HEY', connection.connectionId], ['from the server', 'server']]);
  });
}
