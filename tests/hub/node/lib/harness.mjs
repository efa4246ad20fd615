// Shared harness for the SignalR hub interop tests (real @microsoft/signalr 10.0.11 client).
//
// Starts `interlink hub serve` (binary from env INTERLINK_BIN, default <repo>/target/release/interlink) per test,
// reads readiness from its stdout (never sleeps for it), bounds every wait with a timeout that fails with a clear
// message (plus the server's stdout/stderr tail and the client's log tail), and tears everything down.
//
// CLI contract relied upon (see ../../README.md):
//   interlink hub serve --bind 127.0.0.1:0 [--keep-alive-ms N] [--client-timeout-ms N] [--handshake-timeout-ms N]
//                       [--no-stateful-reconnect]
//     stdout: a line containing "listening on http://127.0.0.1:PORT"; a line "redirect token <token>"
//     routes: /demo, /redirect (negotiate → url + accessToken), /client/?hub=demo (Bearer or access_token required)

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as signalR from '@microsoft/signalr';
import { MessagePackHubProtocol } from '@microsoft/signalr-protocol-msgpack';

export { signalR, MessagePackHubProtocol };
export const { HttpTransportType, HubConnectionBuilder, HubConnectionState, JsonHubProtocol, LogLevel, MessageType, Subject } =
  signalR;

// ---------------------------------------------------------------------------
// The binary under test

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../..');

function resolveBin() {
  const bin = process.env.INTERLINK_BIN || path.join(REPO, 'target/release/interlink');
  const abs = path.resolve(bin);
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    throw new Error(
      `interlink binary not found: ${abs} (INTERLINK_BIN=${process.env.INTERLINK_BIN ?? '<unset>'}).\n` +
        'Build it (cargo build --release -p interlink-cli) or point INTERLINK_BIN at it.',
    );
  }
  return abs;
}

/** Absolute path of the interlink binary. Importing this module fails fast when it is missing. */
export const BIN = resolveBin();

// ---------------------------------------------------------------------------
// Small async utilities

/** Races `promise` against a timer; on timeout rejects with "timed out after N ms waiting for WHAT". */
export function withTimeout(promise, ms, what, extra = () => '') {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      let more = '';
      try {
        more = extra() || '';
      } catch {
        /* ignore */
      }
      reject(new Error(`timed out after ${ms} ms waiting for ${what}${more ? `\n${more}` : ''}`));
    }, ms);
  });
  return Promise.race([Promise.resolve(promise), timeout]).finally(() => clearTimeout(timer));
}

export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A plain delay: only where the point is that time passes (idle periods, grace periods). */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `fn` (async allowed) until it returns a truthy value; returns it. Bounded. */
export async function until(fn, ms, what, every = 100) {
  const deadline = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(every);
  }
}

/** A LIFO list of cleanup functions; `close()` runs them all, each bounded, and never throws. */
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
        await withTimeout(Promise.resolve().then(fn), 15000, 'a cleanup step');
      } catch (err) {
        console.error(`[harness] cleanup error: ${err?.stack ?? err}`);
      }
    }
  }
}

/** A queue of values with bounded `next()`; `all` keeps every value ever pushed. */
export class Queue {
  #items = [];
  #waiters = [];
  all = [];
  push(v) {
    this.all.push(v);
    const w = this.#waiters.shift();
    w ? w(v) : this.#items.push(v);
  }
  get pending() {
    return this.#items.length;
  }
  next(what, ms = 10000, extra) {
    if (this.#items.length) return Promise.resolve(this.#items.shift());
    let waiter;
    const p = new Promise((resolve) => {
      waiter = resolve;
      this.#waiters.push(resolve);
    });
    return withTimeout(p, ms, what, extra).catch((e) => {
      const i = this.#waiters.indexOf(waiter);
      if (i >= 0) this.#waiters.splice(i, 1);
      throw e;
    });
  }
}

// ---------------------------------------------------------------------------
// The server process

const liveChildren = new Set();
process.on('exit', () => {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

/** A long-running interlink child process whose stdout is read line by line. */
export class Proc {
  #waiters = new Set();
  constructor(name, args) {
    this.name = name;
    this.args = args;
    this.lines = [];
    this.stderr = '';
    this.exit = null;
    this.spawnError = null;
    this.child = spawn(BIN, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RUST_BACKTRACE: process.env.RUST_BACKTRACE ?? '1', NO_PROXY: '127.0.0.1,localhost', no_proxy: '127.0.0.1,localhost' },
    });
    liveChildren.add(this.child);
    this.exited = new Promise((resolve) => {
      this.child.on('error', (err) => {
        this.spawnError = err;
        this.exit = { code: null, signal: null };
        liveChildren.delete(this.child);
        this.#notify();
        resolve(this.exit);
      });
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        liveChildren.delete(this.child);
        this.#notify();
        resolve(this.exit);
      });
    });
    createInterface({ input: this.child.stdout }).on('line', (line) => {
      this.lines.push(line);
      this.#notify();
    });
    this.child.stderr.on('data', (d) => {
      this.stderr += d;
      if (this.stderr.length > 64 * 1024) this.stderr = this.stderr.slice(-32 * 1024);
    });
  }

  #notify() {
    for (const w of this.#waiters) w();
  }

  describe() {
    const exit = this.spawnError
      ? `failed to start: ${this.spawnError.message}`
      : this.exit
        ? `exited (code ${this.exit.code}, signal ${this.exit.signal})`
        : 'still running';
    return (
      `[${this.name}] ${BIN} ${this.args.join(' ')}\n  status: ${exit}\n` +
      `  stdout (tail):\n    ${this.lines.slice(-20).join('\n    ')}\n` +
      `  stderr (tail):\n    ${this.stderr.slice(-3000).split('\n').join('\n    ')}`
    );
  }

  /** Resolves with the match of the first stdout line (past or future) matching `re`. */
  waitForLine(re, ms, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const m = line.match(re);
          if (m) return finish(null, m);
        }
        if (this.exit) return finish(new Error(`${this.name} ended before printing ${what}\n${this.describe()}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`timed out after ${ms} ms waiting for ${this.name} to print ${what}\n${this.describe()}`)),
        ms,
      );
      const finish = (err, m) => {
        clearTimeout(timer);
        this.#waiters.delete(check);
        err ? reject(err) : resolve(m);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** SIGTERM, then SIGKILL if it has not exited after 5 s. */
  async stop() {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    let timer;
    const killed = new Promise((resolve) => {
      timer = setTimeout(() => {
        this.child.kill('SIGKILL');
        resolve();
      }, 5000);
    });
    await Promise.race([this.exited, killed]);
    clearTimeout(timer);
    return this.exited;
  }
}

/**
 * Starts `interlink hub serve --bind 127.0.0.1:0 ...extraArgs` and waits for its "listening on" line.
 * Returns {proc, port, base, url(path), describe(), assertAlive(), redirectToken()}.
 */
export async function startHub(scope, extraArgs = []) {
  const proc = new Proc('hub', ['hub', 'serve', '--bind', '127.0.0.1:0', ...extraArgs]);
  scope.add(() => proc.stop());
  const m = await proc.waitForLine(/listening on (http:\/\/127\.0\.0\.1:(\d+))/, 20000, '"listening on http://127.0.0.1:PORT"');
  const base = m[1];
  const hub = {
    proc,
    base,
    port: Number(m[2]),
    url: (p) => base + p,
    describe: () => proc.describe(),
    /** Fails the test if the server died (crash, panic) while the test ran. */
    assertAlive() {
      if (proc.exit) throw new Error(`the hub server is no longer running\n${proc.describe()}`);
    },
    /**
     * The token of the "redirect token <token>" stdout line. If the server has not printed it yet (e.g. it prints
     * it per redirect negotiate), one negotiate on /redirect is made first to provoke it.
     */
    async redirectToken() {
      const re = /redirect token (\S+)/;
      const found = () => proc.lines.map((l) => l.match(re)).filter(Boolean).at(-1);
      let got = found();
      if (!got) got = await proc.waitForLine(re, 1000, 'a "redirect token <token>" line').catch(() => null);
      if (!got) {
        const res = await withTimeout(fetch(base + '/redirect/negotiate?negotiateVersion=1', { method: 'POST' }), 10000, 'POST /redirect/negotiate');
        await res.arrayBuffer();
        got = await proc.waitForLine(re, 5000, 'a "redirect token <token>" line');
      }
      return got[1];
    },
  };
  return hub;
}

// ---------------------------------------------------------------------------
// The client

/**
 * An IHubProtocol that delegates to the real JSON or MessagePack protocol and records every parsed incoming message
 * (before the client's own stateful-reconnect dedupe) and every outgoing one. Only observes; never alters.
 */
export class TapProtocol {
  constructor(inner) {
    this.inner = inner;
    this.name = inner.name;
    this.version = inner.version;
    this.transferFormat = inner.transferFormat;
    this.received = [];
    this.sent = [];
  }
  parseMessages(input, logger) {
    const msgs = this.inner.parseMessages(input, logger);
    const now = Date.now();
    for (const m of msgs) this.received.push({ at: now, msg: m });
    return msgs;
  }
  writeMessage(message) {
    this.sent.push({ at: Date.now(), msg: message });
    return this.inner.writeMessage(message);
  }
  receivedOfType(type) {
    return this.received.filter((r) => r.msg.type === type).map((r) => r.msg);
  }
}

export const PROTOCOLS = ['json', 'messagepack'];

/** A logger that keeps the client's log in memory (printed only with HUB_TEST_VERBOSE=1). */
class MemoryLogger {
  constructor(tag) {
    this.tag = tag;
    this.lines = [];
  }
  log(level, message) {
    const line = `${new Date().toISOString()} ${LogLevel[level]} ${message}`;
    this.lines.push(line);
    if (this.lines.length > 400) this.lines.splice(0, 200);
    if (process.env.HUB_TEST_VERBOSE) console.error(`[client ${this.tag}] ${line}`);
  }
  tail(n = 25) {
    return this.lines.slice(-n).join('\n    ');
  }
}

let clientCounter = 0;

/**
 * Builds and starts a HubConnection against `hub` with the real client and returns a small wrapper:
 *   conn (HubConnection), tap (TapProtocol), logger, messages (Queue of [connectionId, text] from `message`),
 *   closed (Queue of onclose errors), reconnecting / reconnected (Queues), invoke/send/stream helpers (bounded).
 * options: path ('/demo'), protocol ('json'|'messagepack'), transport, skipNegotiation, accessTokenFactory, headers,
 *          autoReconnect (true | delays array), stateful (true | {bufferSize}), serverTimeoutMs, keepAliveMs,
 *          start (default true), startTimeoutMs.
 */
export async function connect(scope, hub, options = {}) {
  const {
    path: hubPath = '/demo',
    protocol = 'json',
    transport,
    skipNegotiation,
    accessTokenFactory,
    headers,
    autoReconnect,
    stateful,
    serverTimeoutMs,
    keepAliveMs,
    start = true,
    startTimeoutMs = 15000,
  } = options;
  const tag = `#${++clientCounter} ${protocol}${transport ? ` ${HttpTransportType[transport]}` : ''}`;
  const logger = new MemoryLogger(tag);
  const tap = new TapProtocol(protocol === 'messagepack' ? new MessagePackHubProtocol() : new JsonHubProtocol());
  const httpOptions = { logger };
  if (transport !== undefined) httpOptions.transport = transport;
  if (skipNegotiation !== undefined) httpOptions.skipNegotiation = skipNegotiation;
  if (accessTokenFactory) httpOptions.accessTokenFactory = accessTokenFactory;
  if (headers) httpOptions.headers = headers;
  let builder = new HubConnectionBuilder().withUrl(hub.url(hubPath), httpOptions).withHubProtocol(tap).configureLogging(logger);
  if (autoReconnect) builder = Array.isArray(autoReconnect) ? builder.withAutomaticReconnect(autoReconnect) : builder.withAutomaticReconnect();
  if (stateful) builder = stateful === true ? builder.withStatefulReconnect() : builder.withStatefulReconnect(stateful);
  if (serverTimeoutMs !== undefined) builder = builder.withServerTimeout(serverTimeoutMs);
  if (keepAliveMs !== undefined) builder = builder.withKeepAliveInterval(keepAliveMs);
  const conn = builder.build();

  const describe = () => `  client ${tag} log (tail):\n    ${logger.tail()}\n${hub.describe()}`;
  const c = {
    tag,
    conn,
    tap,
    logger,
    describe,
    messages: new Queue(),
    closed: new Queue(),
    reconnecting: new Queue(),
    reconnected: new Queue(),
    /** invoke with a bound; the error of a rejected invoke is passed through unchanged. */
    invoke(method, ...args) {
      return withTimeout(conn.invoke(method, ...args), 15000, `invoke("${method}") on client ${tag}`, describe);
    },
    /** send (resolves once the invocation was handed to the transport). */
    send(method, ...args) {
      return withTimeout(conn.send(method, ...args), 15000, `send("${method}") on client ${tag}`, describe);
    },
    /** conn.stream(...) subscribed into a collector: {items, sub, done (bounded via wait())}. */
    stream(method, ...args) {
      return collect(conn.stream(method, ...args), `stream("${method}") on client ${tag}`, describe);
    },
    nextMessage(what = 'a "message" invocation', ms = 10000) {
      return c.messages.next(`${what} on client ${tag}`, ms, describe);
    },
    async start() {
      await withTimeout(conn.start(), startTimeoutMs, `start() of client ${tag}`, describe);
    },
    async stop() {
      await withTimeout(conn.stop(), 15000, `stop() of client ${tag}`, describe);
    },
  };
  conn.on('message', (connectionId, text) => c.messages.push([connectionId, text]));
  conn.onclose((err) => c.closed.push(err));
  conn.onreconnecting((err) => c.reconnecting.push(err));
  conn.onreconnected((id) => c.reconnected.push(id));
  scope.add(async () => {
    try {
      await conn.stop();
    } catch {
      /* best effort */
    }
  });
  if (start) {
    try {
      await c.start();
    } catch (e) {
      e.message += `\n${describe()}`;
      throw e;
    }
  }
  return c;
}

/** Subscribes to an IStreamResult and collects items; `wait(ms)` resolves with all items on completion. */
export function collect(streamResult, what = 'a stream', extra = () => '', onItem) {
  const items = [];
  const done = deferred();
  let completed = false;
  const col = {
    items,
    error: null,
    get completed() {
      return completed;
    },
    onItem,
    sub: null,
    wait(ms = 15000) {
      return withTimeout(done.promise, ms, `${what} to complete (got ${items.length} items: ${JSON.stringify(items.slice(-10))})`, extra);
    },
  };
  col.sub = streamResult.subscribe({
    next: (v) => {
      items.push(v);
      if (col.onItem) col.onItem(v, items);
    },
    error: (e) => {
      col.error = e;
      done.reject(e);
    },
    complete: () => {
      completed = true;
      done.resolve(items);
    },
  });
  // Avoid unhandled-rejection noise when a test does not wait on an erroring stream.
  done.promise.catch(() => {});
  return col;
}

export const range = (n) => Array.from({ length: n }, (_, i) => i);

/**
 * Delivery barrier: every client in `clients` waits for a broadcast `marker` sent by `from`. Because one
 * connection's messages arrive in order, anything the server sent a client before the marker is then already
 * queued, so "the client has nothing but the marker" proves it did not receive something earlier.
 * Returns, per client, the messages (texts) it received before the marker.
 */
export async function barrier(from, clients, marker) {
  await from.invoke('broadcast', marker);
  const out = [];
  for (const c of clients) {
    const before = [];
    for (;;) {
      const [, text] = await c.nextMessage(`the barrier broadcast "${marker}"`);
      if (text === marker) break;
      before.push(text);
    }
    out.push(before);
  }
  return out;
}
