#!/usr/bin/env node
// The Node runner of the parity scenarios in tests/scenarios/ (format in its README): each
// scenario runs against a fresh Gateway with a listener and senders of this package; the
// outcome goes to $INTERLINK_SCENARIO_OUT/node/<name>.json (default
// target/scenario-outcomes/node/) for tests/scenarios/compare.py.
//
// Usage: node scenarios/run.mjs        Prints one line per scenario and "N passed, N failed".

import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../../..');
const { Gateway, RelayListener, RelaySender } = createRequire(import.meta.url)('../index.js');

const WAIT_MS = 10000;
const scenariosDir = path.join(root, 'tests/scenarios');
const outDir = path.join(process.env.INTERLINK_SCENARIO_OUT ?? path.join(root, 'target/scenario-outcomes'), 'node');

function within(promise, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${WAIT_MS} ms waiting for ${what}`)), WAIT_MS);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

/** The body a route or step describes (`body`, `body_pattern`, or none). */
function bodyOf(spec) {
  if (typeof spec.body === 'string') return Buffer.from(spec.body);
  if (typeof spec.body_pattern === 'number') return pattern(spec.body_pattern);
  return undefined;
}

/** JSON with keys sorted and no spaces, so outcomes compare byte for byte across languages. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function routeHandler(routes, hc) {
  return (req) => {
    const rawPath = req.url.split('?')[0];
    const rest = rawPath.startsWith(`/${hc}`) ? rawPath.slice(hc.length + 1) : '';
    const p = rest === '' ? '/' : rest;
    const route = routes.find((r) => r.method === req.method && r.path === p);
    if (!route) return { status: 404, body: 'no route' };
    return {
      status: route.status ?? 200,
      statusText: route.reason,
      headers: route.headers ?? {},
      body: route.echo === true ? req.body : (bodyOf(route) ?? Buffer.alloc(0)),
    };
  };
}

function echoAccepted(listener) {
  (async () => {
    for (let s = await listener.accept(); s !== null; s = await listener.accept()) {
      (async () => {
        for (let m = await s.receive(); m !== null; m = await s.receive()) {
          await s.send(m).catch(() => {});
        }
      })();
    }
  })();
}

async function httpStep(cs, hc, spec, expect) {
  const sender = new RelaySender(cs, hc, { timeoutMs: WAIT_MS });
  const resp = await within(
    sender.request({ method: spec.method ?? 'GET', path: spec.path ?? '/', headers: spec.headers, body: bodyOf(spec) }),
    `${spec.method} ${spec.path}`,
  );
  let ok = expect.status === resp.status;
  for (const [n, v] of Object.entries(expect.headers ?? {})) ok &&= resp.headers[n] === v;
  const want = bodyOf(expect);
  if (want !== undefined) ok &&= resp.body.equals(want);
  return { kind: 'http', status: resp.status, body_len: resp.body.length, ok };
}

async function websocketStep(cs, hc, spec, expect) {
  const sender = new RelaySender(cs, hc, { timeoutMs: WAIT_MS });
  const suffix = (spec.path ?? '/').replace(/^\/+/, '');
  let socket;
  try {
    socket = await within(sender.connect(suffix === '' ? null : suffix), `a WebSocket to ${hc}`);
  } catch (e) {
    const status = e.status ?? null;
    return { kind: 'websocket', refused: status, received: 0, ok: expect.refused === status };
  }
  const texts = [];
  let binary;
  let received = 0;
  for (const t of spec.send ?? []) {
    await socket.send(t);
    const r = await within(socket.receive(), 'a text echo');
    if (typeof r === 'string') {
      texts.push(r);
      received++;
    }
  }
  if (typeof spec.send_binary_pattern === 'number') {
    await socket.send(pattern(spec.send_binary_pattern));
    const r = await within(socket.receive(), 'a binary echo');
    if (Buffer.isBuffer(r)) {
      binary = r;
      received++;
    }
  }
  await socket.close(1000, '').catch(() => {});
  const wantBinary = typeof expect.received_binary_pattern === 'number' ? pattern(expect.received_binary_pattern) : undefined;
  const sameBinary = wantBinary === undefined ? binary === undefined : binary !== undefined && binary.equals(wantBinary);
  const ok = expect.refused === undefined && canonical(texts) === canonical(expect.received ?? []) && sameBinary;
  return { kind: 'websocket', refused: null, received, ok };
}

/** Runs one scenario and returns its outcome. */
async function runScenario(scenario) {
  const gw = await within(Gateway.start(), 'the gateway');
  const cs = gw.connectionString;
  const hc = scenario.hybrid_connection;
  let listener = null;
  try {
    if (scenario.listener) {
      listener = await within(RelayListener.bind(cs, hc), 'the listener');
      listener.setHttpHandler(routeHandler(scenario.listener.routes ?? [], hc));
      const ws = scenario.listener.websocket ?? { mode: 'echo' };
      if (ws.mode === 'reject') {
        listener.setAcceptFilter(() => ({ status: ws.status ?? 403, description: ws.description ?? '' }));
      }
      echoAccepted(listener);
    }
    const steps = [];
    for (const step of scenario.steps) {
      const spec = step.http ?? step.websocket;
      const target = spec.hybrid_connection ?? hc;
      steps.push(step.http ? await httpStep(cs, target, spec, step.expect) : await websocketStep(cs, target, spec, step.expect));
    }
    return { name: scenario.name, steps };
  } finally {
    if (listener) await listener.close();
    await gw.shutdown();
  }
}

const files = readdirSync(scenariosDir).filter((f) => f.endsWith('.json')).sort();
if (files.length < 4) throw new Error(`scenario files are missing in ${scenariosDir}`);
mkdirSync(outDir, { recursive: true });
let passed = 0;
let failed = 0;
for (const file of files) {
  const scenario = JSON.parse(readFileSync(path.join(scenariosDir, file), 'utf8'));
  let outcome;
  try {
    outcome = await runScenario(scenario);
  } catch (e) {
    outcome = { name: scenario.name, steps: [{ kind: 'error', ok: false, error: String(e?.message ?? e) }] };
  }
  writeFileSync(path.join(outDir, `${scenario.name}.json`), `${canonical(outcome)}\n`);
  const bad = outcome.steps.filter((s) => !s.ok);
  if (bad.length === 0) passed++;
  else failed++;
  console.log(`${bad.length === 0 ? 'ok  ' : 'FAIL'} ${scenario.name} (${outcome.steps.length} steps)${bad.length ? ` ${canonical(bad)}` : ''}`);
}
console.log(`scenarios: ${passed} passed, ${failed} failed (outcomes in ${outDir})`);
process.exitCode = failed === 0 ? 0 : 1;
