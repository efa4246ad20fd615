// The hub objects and the event loop: an unreferenced server or started client keeps running
// (and its process alive) after GC, like a net.Server or a socket; what a terminated worker
// left open is closed with its environment.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Scope, interlink, rejectsWith, within } from './helpers.mjs';

const indexJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../index.js');

/** Runs `code` in a child node with --expose-gc; yields its stdout lines. */
function child(t, code) {
  const proc = spawn(process.execPath, ['--expose-gc', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => proc.kill('SIGKILL'));
  const lines = createInterface({ input: proc.stdout });
  const queue = [];
  const waiting = [];
  lines.on('line', (l) => (waiting.length ? waiting.shift()(l) : queue.push(l)));
  return { proc, next: (what) => within(new Promise((r) => (queue.length ? r(queue.shift()) : waiting.push(r))), what) };
}

const collect = 'for (let i = 0; i < 3; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }';

test('an unreferenced HubServer keeps serving after GC', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const { next } = child(t, `
    const il = require(${JSON.stringify(indexJs)});
    (async () => {
      let server = await il.HubServer.start({ methods: { add: (ctx, a, b) => a + b } });
      console.log(server.url);
      server = null;
      ${collect}
      console.log('collected');
    })();
  `);
  const url = await next('the child server');
  assert.equal(await next('the child to collect garbage'), 'collected');
  const client = new interlink.HubClient(url);
  await within(client.start(), 'a connection to the child server');
  scope.add(() => client.stop());
  assert.equal(await within(client.invoke('add', 20, 22), 'a call to the child server'), 42);
});

test('an unreferenced started HubClient keeps receiving after GC', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const server = await within(interlink.HubServer.start({ methods: { ready: (ctx) => true } }), 'the server');
  scope.add(() => server.close());
  const { next } = child(t, `
    const il = require(${JSON.stringify(indexJs)});
    (async () => {
      let client = new il.HubClient(${JSON.stringify(server.url)});
      client.on('ping', (n) => console.log('pinged ' + n));
      await client.start();
      client = null;
      ${collect}
      console.log('collected');
    })();
  `);
  assert.equal(await next('the child client to connect and collect'), 'collected');
  assert.equal(server.broadcast('ping', 7), 1);
  assert.equal(await next('the ping in the child'), 'pinged 7');
});

test('a HubServer left open by a terminated worker is closed with it', async () => {
  const worker = new Worker(
    `
      const { parentPort } = require('node:worker_threads');
      const il = require(${JSON.stringify(indexJs)});
      il.HubServer.start({ methods: {} }).then((s) => parentPort.postMessage(s.url));
    `,
    { eval: true },
  );
  const url = await within(
    new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
    }),
    'the worker server',
  );
  await within(worker.terminate(), 'the worker to terminate');
  const deadline = Date.now() + 5000;
  for (;;) {
    const probe = new interlink.HubClient(url);
    const refused = await probe.start().then(
      () => probe.stop().then(() => false),
      (e) => e.code === 'ERR_INTERLINK_NET',
    );
    if (refused) break;
    assert.ok(Date.now() < deadline, 'the port of the terminated worker closes within 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  await rejectsWith(new interlink.HubClient(url).start(), 'ERR_INTERLINK_NET');
});
