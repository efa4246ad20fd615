// The runtime under the Promises: many concurrent calls, worker threads, and the event loop
// held open exactly while a gateway or listener runs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Scope, TestGateway, interlink, listen, within } from './helpers.mjs';

const indexJs = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../index.js');
const run = promisify(execFile);

test('200 concurrent requests all get their own answer', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const gw = await TestGateway.start(scope, {});
  const l = await listen(scope, gw, 'hc1');
  l.setHttpHandler(async (req) => {
    await new Promise((r) => setTimeout(r, Math.random() * 20));
    return { body: req.url };
  });
  const sender = new interlink.RelaySender(gw.connectionString('sendonly'), 'hc1');
  const answers = await within(
    Promise.all(Array.from({ length: 200 }, (_, i) => sender.request({ path: `/n/${i}` }))),
    '200 concurrent requests',
    30000,
  );
  answers.forEach((a, i) => assert.equal(a.body.toString(), `/hc1/n/${i}`));
});

test('the addon works in a worker thread, and the main thread after the worker exits', async (t) => {
  const scope = new Scope();
  t.after(() => scope.close());
  const code = `
    const { parentPort } = require('node:worker_threads');
    const il = require(${JSON.stringify(indexJs)});
    (async () => {
      const gw = await il.Gateway.start();
      const l = await il.RelayListener.bind(gw.connectionString, 'w');
      l.setHttpHandler(() => ({ body: 'from the worker' }));
      const r = await new il.RelaySender(gw.connectionString, 'w').request();
      await l.close();
      await gw.shutdown();
      parentPort.postMessage(r.body.toString());
    })().catch((e) => parentPort.postMessage('error: ' + e.message));
  `;
  const worker = new Worker(code, { eval: true });
  const message = await within(new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  }), 'the worker');
  assert.equal(message, 'from the worker');
  assert.equal(await within(new Promise((resolve) => worker.once('exit', resolve)), 'the worker to exit'), 0);
  const gw = await TestGateway.start(scope, {});
  const l = await listen(scope, gw, 'hc1');
  l.setHttpHandler(() => ({ body: 'main thread still fine' }));
  const r = await within(new interlink.RelaySender(gw.connectionString(), 'hc1').request(), 'a request after the worker');
  assert.equal(r.body.toString(), 'main thread still fine');
});

test('a process exits once its gateway and listener are closed', async () => {
  const code = `
    const il = require(${JSON.stringify(indexJs)});
    (async () => {
      const gw = await il.Gateway.start();
      const l = await il.RelayListener.bind(gw.connectionString, 'x');
      l.setHttpHandler(() => ({}));
      await l.close();
      await gw.shutdown();
      console.log('closed');
    })();
  `;
  const { stdout } = await run(process.execPath, ['-e', code], { timeout: 20000 });
  assert.equal(stdout.trim(), 'closed');
});

test('an unreferenced gateway and listener keep running (and their process alive) after GC', async (t) => {
  // The child drops every reference, forces garbage collection, and its script ends: only
  // the open gateway and listener keep it alive, and both must still serve.
  const code = `
    const il = require(${JSON.stringify(indexJs)});
    (async () => {
      let gw = await il.Gateway.start();
      let l = await il.RelayListener.bind(gw.connectionString, 'kept');
      l.setHttpHandler(() => ({ body: 'still here' }));
      console.log(gw.connectionString);
      gw = null;
      l = null;
      for (let i = 0; i < 3; i++) { global.gc(); await new Promise((r) => setImmediate(r)); }
      console.log('collected');
    })();
  `;
  const child = spawn(process.execPath, ['--expose-gc', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  const exited = new Promise((resolve) => child.once('exit', (c, signal) => resolve(signal ?? c)));
  const lines = createInterface({ input: child.stdout });
  const next = () => new Promise((resolve) => lines.once('line', resolve));
  const cs = await within(next(), 'the child gateway');
  assert.equal(await within(next(), 'the child to collect garbage'), 'collected');
  const port = Number(/127\.0\.0\.1:(\d+)/.exec(cs)[1]);
  const bare = await within(fetch(`http://127.0.0.1:${port}/kept/x`), 'a request to the child gateway');
  assert.equal(bare.status, 401, 'the child gateway answers (no token: 401)');
  const res = await within(new interlink.RelaySender(cs, 'kept').request(), 'a request to the child listener');
  assert.equal(res.body.toString(), 'still here');
  child.kill('SIGTERM');
  assert.equal(await within(exited, 'the child to exit'), 'SIGTERM');
});

test('what a terminated worker left open is closed with its environment', async () => {
  const code = `
    const { parentPort } = require('node:worker_threads');
    const il = require(${JSON.stringify(indexJs)});
    il.Gateway.start().then((gw) => parentPort.postMessage(gw.port));
  `;
  const worker = new Worker(code, { eval: true });
  const port = await within(new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  }), 'the worker gateway');
  const refused = () => new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', () => resolve(true));
  });
  assert.equal(await refused(), false, 'the worker gateway is up');
  await within(worker.terminate(), 'the worker to terminate');
  const deadline = Date.now() + 5000;
  while (!(await refused())) {
    assert.ok(Date.now() < deadline, 'the port of the terminated worker closes within 5 s');
    await new Promise((r) => setTimeout(r, 50));
  }
});
