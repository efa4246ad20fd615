// Shared helpers of the binding's tests: the package under test, Microsoft's hyco packages
// (installed by tests/node), bounded waits, and a gateway started from Node with known keys.

import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);

/** The package under test (its generated loader). */
export const interlink = require('../index.js');

const interopRequire = createRequire(path.join(here, '../../../tests/node/package.json'));

/** Loads a package installed by tests/node (hyco-https, hyco-ws, ws). */
export function interop(name) {
  try {
    return interopRequire(name);
  } catch (e) {
    throw new Error(`${name} is not installed: run \`npm install --no-audit --no-fund\` in tests/node (${e.message})`);
  }
}

/** Races `promise` against a timer that rejects with "timed out after N ms waiting for WHAT". */
export function within(promise, what, ms = 10000) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

/** `n` bytes of a recognisable pattern (byte i = i % 251), like the parity scenarios. */
export function pattern(n) {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = i % 251;
  return b;
}

/** A LIFO list of cleanups, each bounded; `close()` never throws. */
export class Scope {
  #fns = [];
  add(fn) {
    this.#fns.push(fn);
    return fn;
  }
  async close() {
    while (this.#fns.length) {
      const fn = this.#fns.pop();
      try {
        await within(Promise.resolve().then(fn), 'a cleanup step', 15000);
      } catch (e) {
        console.error(`cleanup: ${e?.stack ?? e}`);
      }
    }
  }
}

/** The rules every test gateway has: `root` (all rights), `sendonly`, `listenonly`. */
export function testKeys() {
  const k = () => randomBytes(32).toString('base64');
  return [
    { name: 'root', key: k() },
    { name: 'sendonly', key: k(), rights: 'send' },
    { name: 'listenonly', key: k(), rights: 'listen' },
  ];
}

/** A gateway started from Node on 127.0.0.1:0, with URL and token helpers. */
export class TestGateway {
  constructor(gateway, keys) {
    this.gateway = gateway;
    this.keys = keys;
    this.host = gateway.address;
  }
  /** Starts one (registered in `scope` for shutdown). */
  static async start(scope, options = {}) {
    const keys = options.keys ?? testKeys();
    const gateway = await within(interlink.Gateway.start({ ...options, keys }), 'the gateway to start');
    scope.add(() => gateway.shutdown());
    return new TestGateway(gateway, keys);
  }
  key(rule) {
    const k = this.keys.find((k) => k.name === rule);
    if (!k) throw new Error(`no key ${rule}`);
    return k.key;
  }
  connectionString(rule = 'root') {
    return `Endpoint=sb://${this.host}/;SharedAccessKeyName=${rule};SharedAccessKey=${this.key(rule)}`;
  }
  listenUri(hc = 'hc1') {
    return `ws://${this.host}/$hc/${hc}?sb-hc-action=listen`;
  }
  connectUri(hc = 'hc1', suffix = '') {
    return `ws://${this.host}/$hc/${hc}${suffix}${suffix.includes('?') ? '&' : '?'}sb-hc-action=connect`;
  }
  httpUrl(hc = 'hc1', pathAndQuery = '') {
    return `http://${this.host}/${hc}${pathAndQuery}`;
  }
  /** A token made by this package's createToken. */
  token(hc = 'hc1', rule = 'root') {
    return interlink.createToken(`http://${this.host}/${hc}`, rule, this.key(rule));
  }
}

/** A listener of this package on `hc`, online (closed by `scope`). */
export async function listen(scope, gw, hc = 'hc1', options = {}) {
  const l = await within(
    interlink.RelayListener.bind(gw.connectionString(options.rule ?? 'root'), hc, options.listener),
    `the listener on ${hc} to come online`,
  );
  scope.add(() => l.close());
  return l;
}

/** Echoes every message on every socket `listener.accept()` yields, until it yields null. */
export function echoAccepted(listener) {
  return (async () => {
    for (;;) {
      const socket = await listener.accept();
      if (socket === null) return;
      (async () => {
        for (;;) {
          const m = await socket.receive();
          if (m === null) return;
          await socket.send(m).catch(() => {});
        }
      })();
    }
  })();
}

/** The `interlink` binary (INTERLINK_BIN, else target/release/interlink of this workspace). */
export function interlinkBin() {
  const bin = process.env.INTERLINK_BIN ?? path.join(here, '../../../target/release/interlink');
  if (!existsSync(bin)) {
    throw new Error(`no interlink binary at ${bin}: build it (cargo build --release -p interlink-cli) or set INTERLINK_BIN`);
  }
  return bin;
}

/** Runs the interlink binary; resolves `{code, stdout: Buffer, stderr}` (bounded). */
export function runInterlink(args, { env = {}, ms = 20000 } = {}) {
  return within(
    new Promise((resolve, reject) => {
      const child = spawn(interlinkBin(), args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
      const out = [];
      const err = [];
      child.stdout.on('data', (d) => out.push(d));
      child.stderr.on('data', (d) => err.push(d));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() }));
    }),
    `interlink ${args[0]}`,
    ms,
  );
}

/** Asserts that `promise` rejects with an Error carrying `code` (and `status`, if given). */
export async function rejectsWith(promise, code, status) {
  try {
    await promise;
  } catch (e) {
    if (!(e instanceof Error)) throw new Error(`rejected with a non-Error: ${e}`);
    if (e.code !== code) throw new Error(`expected code ${code}, got ${e.code}: ${e.message}`);
    if (status !== undefined && e.status !== status) {
      throw new Error(`expected status ${status}, got ${e.status}: ${e.message}`);
    }
    return e;
  }
  throw new Error(`expected a rejection with ${code}, but it resolved`);
}
