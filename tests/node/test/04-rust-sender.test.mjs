// (d) Our Rust HTTP sender (`interlink send`) served by Microsoft's hyco-https listener.

import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  Scope,
  closedPort,
  parseIncludeOutput,
  pattern,
  readAll,
  runInterlink,
  runSend,
  sameBytes,
  startGateway,
  startHycoHttpsListener,
} from '../lib/harness.mjs';

const scope = new Scope();
let gw;
const seen = [];

function handler(req, res) {
  readAll(req)
    .then((body) => {
      seen.push({ method: req.method, url: req.url, headers: { ...req.headers }, body });
      const u = new URL(req.url, 'http://listener.invalid');
      const route = u.pathname.replace(/^\/hc1/, '');
      res.setHeader('x-custom', 'from-hyco');
      if (route === '/created') {
        res.writeHead(201, 'Created Thing', { 'content-type': 'text/plain' });
        return res.end('made it');
      }
      if (route === '/fail') {
        res.writeHead(500, 'Listener Broke', { 'content-type': 'text/plain' });
        return res.end('listener says no');
      }
      if (req.method === 'GET') {
        res.setHeader('content-type', 'text/plain');
        return res.end(`hello ${u.searchParams.get('name') ?? 'nobody'}`);
      }
      res.setHeader('content-type', 'application/octet-stream');
      res.setHeader('content-length', String(body.length));
      res.end(body);
    })
    .catch((e) => {
      res.statusCode = 500;
      res.end(String(e));
    });
}

before(async () => {
  gw = await startGateway(scope, { hybridConnections: ['hc1'] });
  await startHycoHttpsListener(scope, gw, handler, { hc: 'hc1', rule: 'listenonly' });
});

after(() => scope.close());

const explain = (r) => `exit ${r.code}; stdout: ${r.stdout.toString().slice(0, 500)}; stderr: ${r.stderr.slice(-2000)}`;

test('interlink send GET: body on stdout, path and query reach the listener', async () => {
  const r = await runSend(gw, ['-H', 'X-Sent-By: interlink', 'hc1/greet?name=relay']);
  assert.equal(r.code, 0, explain(r));
  assert.equal(r.stdout.toString(), 'hello relay');
  const s = seen.at(-1);
  assert.equal(s.method, 'GET');
  assert.equal(s.url, '/hc1/greet?name=relay');
  assert.equal(s.headers['x-sent-by'], 'interlink');
  assert.equal(s.headers.servicebusauthorization, undefined);
});

test('interlink send -d POSTs the data and prints the echoed body', async () => {
  const r = await runSend(gw, ['-d', 'hello from the rust sender', '-H', 'Content-Type: text/plain', 'hc1/echo']);
  assert.equal(r.code, 0, explain(r));
  assert.equal(r.stdout.toString(), 'hello from the rust sender');
  const s = seen.at(-1);
  assert.equal(s.method, 'POST');
  assert.equal(s.headers['content-type'], 'text/plain');
  assert.equal(s.body.toString(), 'hello from the rust sender');
});

test('interlink send -X PUT --data-file: 100 KB body round-trips byte-exact', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'interlink-send-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const payload = pattern(100 * 1024, 11);
  const file = path.join(dir, 'body.bin');
  writeFileSync(file, payload);
  const r = await runSend(gw, ['-X', 'PUT', '--data-file', file, 'hc1/upload']);
  assert.equal(r.code, 0, explain(r));
  assert.equal(seen.at(-1).method, 'PUT');
  assert.equal(sameBytes(seen.at(-1).body, payload), null);
  assert.equal(sameBytes(r.stdout, payload), null);
});

test('interlink send -i prints the status line and headers, then a blank line, then the body', async () => {
  const r = await runSend(gw, ['-i', 'hc1/greet?name=headers']);
  assert.equal(r.code, 0, explain(r));
  const out = parseIncludeOutput(r.stdout);
  assert.equal(out.statusLine, 'HTTP/1.1 200 OK');
  assert.equal(out.headers['x-custom'], 'from-hyco');
  assert.equal(out.body.toString(), 'hello headers');
});

test('interlink send -i shows a custom status and reason phrase', async () => {
  const r = await runSend(gw, ['-i', '-X', 'POST', '-d', 'x', 'hc1/created']);
  assert.equal(r.code, 0, explain(r));
  const out = parseIncludeOutput(r.stdout);
  assert.equal(out.statusLine, 'HTTP/1.1 201 Created Thing');
  assert.equal(out.body.toString(), 'made it');
});

test('interlink send exits 0 on an error status (a response arrived)', async () => {
  const r = await runSend(gw, ['-i', 'hc1/fail']);
  assert.equal(r.code, 0, explain(r));
  const out = parseIncludeOutput(r.stdout);
  assert.equal(out.statusLine, 'HTTP/1.1 500 Listener Broke');
  assert.equal(out.body.toString(), 'listener says no');
});

test('interlink send exits non-zero on a transport error', async () => {
  const port = await closedPort();
  const cs = `Endpoint=sb://127.0.0.1:${port}/;SharedAccessKeyName=root;SharedAccessKey=${gw.keys.root.key}`;
  const r = await runInterlink(['send', '--connection-string', cs, 'hc1/nowhere'], { timeoutMs: 30000 });
  assert.notEqual(r.code, 0, `expected a non-zero exit when nothing listens on port ${port}; ${explain(r)}`);
});
