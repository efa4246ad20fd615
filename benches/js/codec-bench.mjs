// The JavaScript side of `hub-bench codec` (benches/src/bin/hub-bench.rs): SignalR's own
// JsonHubProtocol (@microsoft/signalr) and MessagePackHubProtocol
// (@microsoft/signalr-protocol-msgpack) on the same workloads as the Rust codec. The harness
// starts this script and reads one JSON object from stdout; see benches/README.md, "Hub codec".
//
//   node codec-bench.mjs verify --dir DIR [workload]
//       decodes the batches the Rust codec wrote to DIR/rust-<protocol>-<size>.bin, checks the
//       message count and every message against this side's own messages, then writes this
//       side's encoding of the same batches to DIR/js-<protocol>-<size>.bin for the harness to
//       check in turn. Exits non-zero on any mismatch.
//   node codec-bench.mjs bench --dir DIR [workload] [--budget-ms MS] [--warmup-ms MS] [--reps N]
//                              [--cases json/small,msgpack/large,...]
//       times writeMessage (encode) and parseMessages (decode, of the Rust-encoded batch in
//       DIR: the very bytes the Rust decoder reads).
//
// workload: --small-n N --large-n N --large-size BYTES (the harness passes its own values).
// Every timing loop is bounded by a time budget and an iteration cap.
//
// Output (one line): verify: {"json/small": {"decoded": N, "js_frame_bytes": B}, ...};
// bench: ["<node version>", {"json/small": {"encode_msgs_per_s": …, …}, ...}]: only numbers
// below the top level, so the harness reads it into plain maps.

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import { JsonHubProtocol, MessageType, NullLogger } from "@microsoft/signalr";
import { MessagePackHubProtocol } from "@microsoft/signalr-protocol-msgpack";

// ---- the workload: must match benches/hub_codec.rs (checked by `verify`) ----

const SMALL_TARGET = "send";
const SMALL_USER = "user-1";
const SMALL_TEXT = "hello world, this is a short chat message #42";
const SMALL_NUMBER = 42;
const LARGE_TARGET = "upload";
const BASE64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function largeString(size) {
  const chars = new Array(size);
  for (let i = 0; i < size; i++) chars[i] = BASE64_ALPHABET[(i * 7 + 3) % 64];
  return chars.join("");
}

function largeBytes(size) {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = (i * 31 + 7) & 0xff;
  return b;
}

// The shape HubConnection.send() builds: a non-blocking invocation, no headers, no stream ids.
function message(protocol, size, largeSize) {
  if (size === "small") {
    return {
      type: MessageType.Invocation,
      target: SMALL_TARGET,
      arguments: [SMALL_USER, SMALL_TEXT, SMALL_NUMBER],
    };
  }
  const payload = protocol === "json" ? largeString(largeSize) : largeBytes(largeSize);
  return { type: MessageType.Invocation, target: LARGE_TARGET, arguments: [payload] };
}

// ---- arguments ----

function parseArgs(argv) {
  const mode = argv[0];
  const opts = {
    mode,
    dir: null,
    smallN: 10000,
    largeN: 16,
    largeSize: 65536,
    budgetMs: 1000,
    warmupMs: 300,
    reps: 5,
    cases: null,
  };
  const names = {
    "--dir": ["dir", String],
    "--small-n": ["smallN", Number],
    "--large-n": ["largeN", Number],
    "--large-size": ["largeSize", Number],
    "--budget-ms": ["budgetMs", Number],
    "--warmup-ms": ["warmupMs", Number],
    "--reps": ["reps", Number],
    "--cases": ["cases", (v) => v.split(",")],
  };
  for (let i = 1; i < argv.length; i += 2) {
    const spec = names[argv[i]];
    if (!spec || i + 1 >= argv.length) throw new Error(`unknown or incomplete option ${argv[i]}`);
    opts[spec[0]] = spec[1](argv[i + 1]);
  }
  if (mode !== "verify" && mode !== "bench") throw new Error("mode must be verify or bench");
  if (!opts.dir) throw new Error("--dir is required");
  for (const k of ["smallN", "largeN", "largeSize", "budgetMs", "reps"]) {
    if (!Number.isInteger(opts[k]) || opts[k] <= 0) throw new Error(`--${k} must be a positive integer`);
  }
  return opts;
}

const CASES = [
  ["json", "small"],
  ["json", "large"],
  ["msgpack", "small"],
  ["msgpack", "large"],
];

function protocolOf(name) {
  return name === "json" ? new JsonHubProtocol() : new MessagePackHubProtocol();
}

function countOf(opts, size) {
  return size === "small" ? opts.smallN : opts.largeN;
}

// parseMessages' input as the transports hand it over: a string for JSON (text frames), an
// ArrayBuffer of exactly the batch for MessagePack.
function readInput(dir, proto, size) {
  const buf = readFileSync(join(dir, `rust-${proto}-${size}.bin`));
  if (proto === "json") return new TextDecoder("utf-8", { fatal: true }).decode(buf);
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
}

function byteLength(encoded) {
  return typeof encoded === "string" ? Buffer.byteLength(encoded, "utf8") : encoded.byteLength;
}

// ---- verify ----

function verify(opts) {
  const report = {};
  for (const [proto, size] of CASES) {
    const protocol = protocolOf(proto);
    const msg = message(proto, size, opts.largeSize);
    const n = countOf(opts, size);
    const input = readInput(opts.dir, proto, size);
    const parsed = protocol.parseMessages(input, NullLogger.instance);
    if (parsed.length !== n) {
      throw new Error(`${proto}/${size}: JS decoded ${parsed.length} messages of the Rust batch, want ${n}`);
    }
    parsed.forEach((m, i) => {
      const same =
        m.type === msg.type &&
        m.target === msg.target &&
        m.invocationId === undefined &&
        isDeepStrictEqual(m.arguments, msg.arguments) &&
        (m.streamIds === undefined || m.streamIds.length === 0) &&
        (m.headers === undefined || Object.keys(m.headers).length === 0);
      if (!same) throw new Error(`${proto}/${size}: Rust message ${i} decodes in JS to a different message`);
    });
    // This side's encoding of the same batch, for the harness to decode.
    const parts = [];
    for (let i = 0; i < n; i++) {
      const e = protocol.writeMessage(msg);
      parts.push(typeof e === "string" ? Buffer.from(e, "utf8") : Buffer.from(e));
    }
    writeFileSync(join(opts.dir, `js-${proto}-${size}.bin`), Buffer.concat(parts));
    report[`${proto}/${size}`] = { decoded: parsed.length, js_frame_bytes: parts[0].length };
  }
  return report;
}

// ---- bench ----

// Runs `batch` (which returns how many messages it handled) for `budgetMs`, split into `reps`
// slices; returns the median slice rate. Bounded by an iteration cap as well.
function measure(opts, batch) {
  const MAX_ITERS = 10_000_000;
  const warmEnd = performance.now() + opts.warmupMs;
  for (let i = 0; i < MAX_ITERS && performance.now() < warmEnd; i++) batch();
  const slice = opts.budgetMs / opts.reps;
  const rates = [];
  for (let r = 0; r < opts.reps; r++) {
    let msgs = 0;
    const start = performance.now();
    let elapsed = 0;
    for (let i = 0; i < MAX_ITERS; i++) {
      msgs += batch();
      elapsed = performance.now() - start;
      if (elapsed >= slice) break;
    }
    rates.push(msgs / (elapsed / 1000));
  }
  rates.sort((a, b) => a - b);
  return rates[Math.floor(rates.length / 2)];
}

let sink = 0; // keeps results alive so no work is optimized away

function bench(opts) {
  const results = {};
  const utf8 = new TextEncoder();
  const fromUtf8 = new TextDecoder("utf-8", { fatal: true });
  for (const [proto, size] of CASES) {
    if (opts.cases && !opts.cases.includes(`${proto}/${size}`)) continue;
    const protocol = protocolOf(proto);
    const msg = message(proto, size, opts.largeSize);
    const n = countOf(opts, size);
    const logger = NullLogger.instance;
    const frameBytes = byteLength(protocol.writeMessage(msg));
    const encodeBatch = size === "small" ? 1000 : 16;

    const encode = measure(opts, () => {
      // .length of the string / .byteLength of the ArrayBuffer: O(1), no extra pass.
      for (let i = 0; i < encodeBatch; i++) {
        const e = protocol.writeMessage(msg);
        sink ^= (proto === "json" ? e.length : e.byteLength) & 1;
      }
      return encodeBatch;
    });

    const input = readInput(opts.dir, proto, size);
    const batchBytes = proto === "json" ? Buffer.byteLength(input, "utf8") : input.byteLength;
    const decode = measure(opts, () => {
      const got = protocol.parseMessages(input, logger);
      if (got.length !== n) throw new Error(`decoded ${got.length} of ${n}`);
      sink ^= got[got.length - 1].arguments.length & 1;
      return n;
    });

    const row = {
      n,
      frame_bytes: frameBytes,
      batch_bytes: batchBytes,
      encode_msgs_per_s: encode,
      decode_msgs_per_s: decode,
    };
    if (proto === "json") {
      // What a transport adds around the JSON protocol: the string to UTF-8 bytes and back.
      const bytes = readFileSync(join(opts.dir, `rust-${proto}-${size}.bin`));
      row.encode_utf8_msgs_per_s = measure(opts, () => {
        for (let i = 0; i < encodeBatch; i++) sink ^= utf8.encode(protocol.writeMessage(msg)).length & 1;
        return encodeBatch;
      });
      row.decode_utf8_msgs_per_s = measure(opts, () => {
        const got = protocol.parseMessages(fromUtf8.decode(bytes), logger);
        if (got.length !== n) throw new Error(`decoded ${got.length} of ${n}`);
        return n;
      });
    }
    row.sink = sink;
    results[`${proto}/${size}`] = row;
  }
  return [process.version, results];
}

const opts = parseArgs(process.argv.slice(2));
const out = opts.mode === "verify" ? verify(opts) : bench(opts);
process.stdout.write(JSON.stringify(out) + "\n");
