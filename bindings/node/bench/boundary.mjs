#!/usr/bin/env node
// Boundary benchmark (issue §6): the sans-IO rendezvous loop driven from Node through
// GatewayMachine, the same loop every language runs.
//
// Setup: one GatewayMachine, one listener registered by a `listen` upgrade. Per iteration:
//   handleUpgrade(connect, new conn id) -> drain pollOutput -> take the accept text ->
//   extract the sb-hc-id= value from its address -> handleUpgrade(accept with that id) ->
//   drain outputs (2 upgrades).
// Reports operations (iterations) per second for N = 100000, best and median of 5 runs, for
// an anonymous hybrid connection and for one whose connects carry a SAS token (an HMAC check
// per iteration).
//
// Usage: node bench/boundary.mjs [N] [RUNS]

import { createRequire } from 'node:module';

const { GatewayMachine, createToken } = createRequire(import.meta.url)('../index.js');

const N = Number(process.argv[2] ?? 100000);
const RUNS = Number(process.argv[3] ?? 5);
const HOST = 'bench.local:9090';
const KEY = 'boundary-benchmark-key';

function setup(withToken) {
  const m = new GatewayMachine({
    keys: [{ name: 'root', key: KEY }],
    hybridConnections: [{ name: 'bench', anonymous: !withToken }],
    seed: 1,
  });
  const token = createToken(`http://${HOST}/bench`, 'root', KEY);
  const headers = [['ServiceBusAuthorization', token]];
  m.handleUpgrade(0, 1, { path: '/$hc/bench', query: 'sb-hc-action=listen', headers, host: HOST });
  const first = m.pollOutput();
  if (first?.type !== 'upgrade' || m.pollOutput() !== null) throw new Error(`listen failed: ${JSON.stringify(first)}`);
  return { m, connect: { path: '/$hc/bench', query: 'sb-hc-action=connect', headers: withToken ? headers : undefined, host: HOST } };
}

/** Runs `n` rendezvous iterations starting at connection id `conn`; returns the next id. */
function loop({ m, connect }, n, conn) {
  for (let i = 0; i < n; i++) {
    const now = i;
    m.handleUpgrade(now, conn, connect);
    let text = null;
    for (let o = m.pollOutput(); o !== null; o = m.pollOutput()) {
      if (o.type === 'sendText') text = o.text;
    }
    if (text === null) throw new Error('no accept message');
    const address = JSON.parse(text).accept.address;
    const at = address.indexOf('sb-hc-id=') + 9;
    const end = address.indexOf('&', at);
    const id = address.slice(at, end < 0 ? undefined : end);
    m.handleUpgrade(now, conn + 1, { path: '/$hc/bench', query: `sb-hc-action=accept&sb-hc-id=${id}`, host: HOST });
    let upgrades = 0;
    for (let o = m.pollOutput(); o !== null; o = m.pollOutput()) {
      if (o.type === 'upgrade') upgrades++;
    }
    if (upgrades !== 2) throw new Error(`expected 2 upgrades, got ${upgrades}`);
    conn += 2;
  }
  return conn;
}

function measure(withToken) {
  const rates = [];
  for (let r = 0; r < RUNS; r++) {
    const state = setup(withToken);
    const next = loop(state, Math.min(10000, N), 2);
    const t0 = process.hrtime.bigint();
    loop(state, N, next);
    const secs = Number(process.hrtime.bigint() - t0) / 1e9;
    rates.push(N / secs);
  }
  rates.sort((a, b) => a - b);
  return { best: rates.at(-1), median: rates[Math.floor(rates.length / 2)] };
}

const fmt = (x) => Math.round(x).toLocaleString('en-US');
console.log(`boundary benchmark (Node ${process.version}, N = ${N}, ${RUNS} runs each)`);
for (const [label, withToken] of [['anonymous', false], ['sas-token', true]]) {
  const { best, median } = measure(withToken);
  console.log(`node ${label.padEnd(9)} ${fmt(median).padStart(9)} ops/s median  ${fmt(best).padStart(9)} ops/s best  (${(1e6 / median).toFixed(2)} us/op)`);
}
