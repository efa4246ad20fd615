//! The hub codec benchmark behind `hub-bench codec`: interlink-core's SignalR hub codecs
//! (`encode_to_bytes`, `HubDecoder`) against `@microsoft/signalr`'s `JsonHubProtocol` and
//! `@microsoft/signalr-protocol-msgpack`'s `MessagePackHubProtocol` in Node, on the same
//! messages and the same bytes, in one run. See benches/README.md, "Hub codec".
//!
//! The workload (kept in step with benches/js/codec-bench.mjs, which the cross-check proves):
//! - small: a non-blocking Invocation `send("user-1", "hello world, …", 42)` — what
//!   `HubConnection.send` builds — about 100 B of JSON;
//! - large: an Invocation `upload(x)` with one 64 KiB argument: a base64-alphabet string in
//!   JSON, a `bin` (`Uint8Array` in JS, raw bytes here) in MessagePack.

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use interlink_core::hub::{
    Headers, HubDecoder, HubMessage, HubProtocol, Invocation, RawValue, encode_to_bytes,
};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const SMALL_TARGET: &str = "send";
pub const SMALL_USER: &str = "user-1";
pub const SMALL_TEXT: &str = "hello world, this is a short chat message #42";
pub const SMALL_NUMBER: i64 = 42;
pub const LARGE_TARGET: &str = "upload";
const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Upper bound on timed iterations of one slice, whatever the clock says.
const MAX_ITERS: u64 = 10_000_000;

/// Workload sizes and time budgets of one run.
#[derive(Debug, Clone)]
pub struct Params {
    /// Messages per decoded batch, small case.
    pub small_n: usize,
    /// Messages per decoded batch, large case.
    pub large_n: usize,
    /// Bytes of the large argument (string characters / binary bytes).
    pub large_size: usize,
    /// Timed budget per case (split into `reps` slices; the median slice is reported).
    pub budget: Duration,
    /// Untimed warm-up per case.
    pub warmup: Duration,
    pub reps: usize,
    /// Chunk size of the incremental decode.
    pub chunk: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Size {
    Small,
    Large,
}

impl Size {
    pub fn name(self) -> &'static str {
        match self {
            Size::Small => "small",
            Size::Large => "large",
        }
    }
}

/// `json` / `msgpack`: the file and JSON key names shared with the Node script.
pub fn proto_key(p: HubProtocol) -> &'static str {
    match p {
        HubProtocol::Json => "json",
        HubProtocol::MessagePack => "msgpack",
    }
}

/// The application values behind a message (what "incl. args" rows serialize / deserialize).
#[derive(Debug, Clone)]
pub enum AppArgs {
    Small {
        user: String,
        text: String,
        number: i64,
    },
    LargeText(String),
    LargeBin(Vec<u8>),
}

/// One case: a protocol and a message size, its message and the Rust-encoded batch.
pub struct Case {
    pub protocol: HubProtocol,
    pub size: Size,
    pub n: usize,
    pub args: AppArgs,
    pub msg: HubMessage,
    /// `n` framed messages back to back, as the Rust encoder writes them.
    pub batch: Bytes,
}

impl Case {
    pub fn key(&self) -> String {
        format!("{}/{}", proto_key(self.protocol), self.size.name())
    }

    pub fn frame_bytes(&self) -> usize {
        self.batch.len() / self.n
    }

    /// A `max_message_size` that admits the large messages (the .NET default, 32 KB, would not).
    pub fn max_message_size(&self) -> usize {
        self.frame_bytes() * 2 + 4096
    }
}

pub fn large_text(size: usize) -> String {
    (0..size)
        .map(|i| char::from(BASE64_ALPHABET[(i * 7 + 3) % 64]))
        .collect()
}

pub fn large_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| ((i * 31 + 7) & 0xff) as u8).collect()
}

/// A MessagePack `bin` object holding `b` (smallest header, as @msgpack/msgpack writes it).
pub fn bin_value(b: &[u8]) -> Bytes {
    let mut v = Vec::with_capacity(b.len() + 5);
    if let Ok(n) = u8::try_from(b.len()) {
        v.extend_from_slice(&[0xc4, n]);
    } else if let Ok(n) = u16::try_from(b.len()) {
        v.push(0xc5);
        v.extend_from_slice(&n.to_be_bytes());
    } else {
        v.push(0xc6);
        v.extend_from_slice(&(b.len() as u32).to_be_bytes());
    }
    v.extend_from_slice(b);
    Bytes::from(v)
}

/// The bytes of a MessagePack `bin` object (a slice, no copy), `None` for anything else.
pub fn bin_payload(raw: &Bytes) -> Option<Bytes> {
    let (&marker, rest) = raw.split_first()?;
    let (len, header) = match marker {
        0xc4 => (usize::from(*rest.first()?), 2),
        0xc5 => (
            usize::from(u16::from_be_bytes(rest.get(..2)?.try_into().ok()?)),
            3,
        ),
        0xc6 => (
            u32::from_be_bytes(rest.get(..4)?.try_into().ok()?) as usize,
            5,
        ),
        _ => return None,
    };
    (raw.len() == header + len).then(|| raw.slice(header..))
}

/// Serializes the application values and builds the message (the "encode incl. args" work).
pub fn build_message(protocol: HubProtocol, args: &AppArgs) -> Result<HubMessage> {
    let (target, arguments) = match args {
        AppArgs::Small { user, text, number } => (
            SMALL_TARGET,
            vec![
                RawValue::from_serde(protocol, user)?,
                RawValue::from_serde(protocol, text)?,
                RawValue::from_serde(protocol, number)?,
            ],
        ),
        AppArgs::LargeText(s) => (LARGE_TARGET, vec![RawValue::from_serde(protocol, s)?]),
        AppArgs::LargeBin(b) => (LARGE_TARGET, vec![RawValue::MessagePack(bin_value(b))]),
    };
    Ok(HubMessage::Invocation(Invocation {
        headers: Headers::new(),
        invocation_id: None,
        target: target.to_string(),
        arguments,
        stream_ids: Vec::new(),
    }))
}

/// Deserializes a decoded message's arguments into application values (the "decode incl.
/// args" work); returns a number derived from them so nothing is optimized away.
pub fn read_args(msg: &HubMessage, size: Size, protocol: HubProtocol) -> Result<usize> {
    let HubMessage::Invocation(inv) = msg else {
        bail!("not an invocation: {msg:?}");
    };
    match (size, protocol, inv.arguments.as_slice()) {
        (Size::Small, _, [user, text, number]) => {
            let user: String = user.to_serde()?;
            let text: String = text.to_serde()?;
            let number: i64 = number.to_serde()?;
            Ok(black_box(user).len() + black_box(text).len() + black_box(number) as usize)
        }
        (Size::Large, HubProtocol::Json, [s]) => Ok(black_box(s.to_serde::<String>()?).len()),
        (Size::Large, HubProtocol::MessagePack, [RawValue::MessagePack(b)]) => {
            Ok(black_box(bin_payload(b).context("large argument is not a bin")?).len())
        }
        _ => bail!("unexpected arguments: {:?}", inv.arguments.len()),
    }
}

/// The four cases, messages built and batches encoded.
pub fn cases(p: &Params) -> Result<Vec<Case>> {
    let mut out = Vec::new();
    for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
        for size in [Size::Small, Size::Large] {
            let (n, args) = match (size, protocol) {
                (Size::Small, _) => (
                    p.small_n,
                    AppArgs::Small {
                        user: SMALL_USER.into(),
                        text: SMALL_TEXT.into(),
                        number: SMALL_NUMBER,
                    },
                ),
                (Size::Large, HubProtocol::Json) => {
                    (p.large_n, AppArgs::LargeText(large_text(p.large_size)))
                }
                (Size::Large, HubProtocol::MessagePack) => {
                    (p.large_n, AppArgs::LargeBin(large_bytes(p.large_size)))
                }
            };
            let msg = build_message(protocol, &args)?;
            let frame = encode_to_bytes(protocol, &msg)?;
            let mut batch = Vec::with_capacity(frame.len() * n);
            for _ in 0..n {
                batch.extend_from_slice(&frame);
            }
            out.push(Case {
                protocol,
                size,
                n,
                args,
                msg,
                batch: Bytes::from(batch),
            });
        }
    }
    Ok(out)
}

/// Decodes `bytes` fed in `chunk`-sized pieces (all at once when `None`), calling `each` on
/// every message; returns the count.
pub fn decode_all(
    case: &Case,
    bytes: &[u8],
    chunk: Option<usize>,
    mut each: impl FnMut(HubMessage) -> Result<()>,
) -> Result<usize> {
    let mut dec = HubDecoder::new(case.protocol, case.max_message_size());
    let mut count = 0;
    let step = chunk.unwrap_or(bytes.len()).max(1);
    for piece in bytes.chunks(step) {
        dec.feed(piece);
        while let Some(m) = dec.next_message()? {
            each(m)?;
            count += 1;
        }
    }
    ensure!(
        dec.buffered_len() == 0,
        "{} bytes left undecoded",
        dec.buffered_len()
    );
    Ok(count)
}

// ---- timing ----

/// Runs `batch` (returns how many messages it handled) for the warm-up, then for
/// `params.budget` split into `params.reps` slices; returns the median slice rate (msg/s).
pub fn measure(p: &Params, mut batch: impl FnMut() -> Result<usize>) -> Result<f64> {
    let warm_end = Instant::now() + p.warmup;
    let mut i = 0;
    while i < MAX_ITERS && Instant::now() < warm_end {
        batch()?;
        i += 1;
    }
    let slice = p.budget / p.reps.max(1) as u32;
    let mut rates = Vec::with_capacity(p.reps);
    for _ in 0..p.reps.max(1) {
        let start = Instant::now();
        let mut msgs = 0usize;
        let mut elapsed = Duration::ZERO;
        for _ in 0..MAX_ITERS {
            msgs += batch()?;
            elapsed = start.elapsed();
            if elapsed >= slice {
                break;
            }
        }
        rates.push(msgs as f64 / elapsed.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[rates.len() / 2])
}

/// The Rust rates of one case, msg/s.
#[derive(Debug, Clone, Copy)]
pub struct RustRates {
    pub encode: f64,
    pub encode_args: f64,
    pub decode: f64,
    pub decode_chunks: f64,
    pub decode_args: f64,
}

pub fn bench_rust(p: &Params, case: &Case) -> Result<RustRates> {
    let proto = case.protocol;
    let encode_batch = match case.size {
        Size::Small => 1000,
        Size::Large => 16,
    };
    let encode = measure(p, || {
        for _ in 0..encode_batch {
            black_box(encode_to_bytes(proto, black_box(&case.msg))?);
        }
        Ok(encode_batch)
    })?;
    let encode_args = measure(p, || {
        for _ in 0..encode_batch {
            let msg = build_message(proto, black_box(&case.args))?;
            black_box(encode_to_bytes(proto, &msg)?);
        }
        Ok(encode_batch)
    })?;
    let checked = |count: usize| {
        ensure!(count == case.n, "decoded {count} of {}", case.n);
        Ok(count)
    };
    let decode = measure(p, || {
        checked(decode_all(case, &case.batch, None, |m| {
            black_box(m);
            Ok(())
        })?)
    })?;
    let decode_chunks = measure(p, || {
        checked(decode_all(case, &case.batch, Some(p.chunk), |m| {
            black_box(m);
            Ok(())
        })?)
    })?;
    let decode_args = measure(p, || {
        checked(decode_all(case, &case.batch, None, |m| {
            black_box(read_args(&m, case.size, proto)?);
            Ok(())
        })?)
    })?;
    Ok(RustRates {
        encode,
        encode_args,
        decode,
        decode_chunks,
        decode_args,
    })
}

// ---- the Node side ----

/// Where the Node script lives and how to start it.
pub struct Js {
    pub node: PathBuf,
    pub dir: PathBuf,
}

/// Per case, the numbers the Node script printed.
pub type JsReport = BTreeMap<String, BTreeMap<String, f64>>;

impl Js {
    /// Runs `npm ci` in the script's folder when its dependencies are not installed.
    pub fn ensure_installed(&self) -> Result<()> {
        let probe = self
            .dir
            .join("node_modules/@microsoft/signalr-protocol-msgpack/package.json");
        if probe.exists() {
            return Ok(());
        }
        eprintln!("hub-bench: npm ci --prefix {}", self.dir.display());
        let status = Command::new("npm")
            .arg("ci")
            .arg("--prefix")
            .arg(&self.dir)
            .args(["--no-audit", "--no-fund"])
            .stdin(Stdio::null())
            .stdout(Stdio::from(std::io::stderr()))
            .status()
            .context("starting npm (is Node.js installed?)")?;
        ensure!(status.success(), "npm ci failed: {status}");
        Ok(())
    }

    pub fn version(&self) -> Result<String> {
        let out = Command::new(&self.node)
            .arg("--version")
            .output()
            .with_context(|| format!("starting {}", self.node.display()))?;
        ensure!(out.status.success(), "node --version failed");
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Runs the script in `mode` on the files in `work` (only `cases` when given) and
    /// returns its stdout.
    fn run(&self, mode: &str, work: &Path, p: &Params, cases: Option<&str>) -> Result<Bytes> {
        let script = self.dir.join("codec-bench.mjs");
        let ms = |d: Duration| d.as_millis().max(1).to_string();
        let mut cmd = Command::new(&self.node);
        cmd.arg(&script)
            .arg(mode)
            .arg("--dir")
            .arg(work)
            .args(["--small-n", &p.small_n.to_string()])
            .args(["--large-n", &p.large_n.to_string()])
            .args(["--large-size", &p.large_size.to_string()])
            .args(["--budget-ms", &ms(p.budget)])
            .args(["--warmup-ms", &ms(p.warmup)])
            .args(["--reps", &p.reps.to_string()]);
        if let Some(keys) = cases {
            cmd.args(["--cases", keys]);
        }
        let out = cmd
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("starting {} {}", self.node.display(), script.display()))?;
        if !out.status.success() {
            bail!("node {} {mode} failed: {}", script.display(), out.status);
        }
        Ok(Bytes::from(out.stdout))
    }

    /// `verify`: JS decodes the Rust batches in `work` (and checks every message), then writes
    /// its own encodings there.
    pub fn verify(&self, work: &Path, p: &Params) -> Result<JsReport> {
        let out = self.run("verify", work, p, None)?;
        RawValue::Json(out)
            .to_serde()
            .context("reading the verify report of the Node script")
    }

    /// `bench` of one case (its key, e.g. `json/small`): the JS rates; returns the Node
    /// version and the numbers.
    pub fn bench(&self, work: &Path, p: &Params, case: &str) -> Result<(String, JsReport)> {
        let out = self.run("bench", work, p, Some(case))?;
        RawValue::Json(out)
            .to_serde()
            .context("reading the bench report of the Node script")
    }
}

/// A temporary folder for the exchanged batches, removed on drop.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new() -> Result<WorkDir> {
        let dir = std::env::temp_dir().join(format!("hub-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(WorkDir(dir))
    }

    pub fn file(&self, who: &str, case: &Case) -> PathBuf {
        self.0.join(format!(
            "{who}-{}-{}.bin",
            proto_key(case.protocol),
            case.size.name()
        ))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The cross-check, before any timing: Rust decodes its own batch whole and in chunks; JS
/// decodes the Rust batch (count and every message checked in the script); Rust decodes the
/// JS encoding (count and every message compared with its own). Returns the JS frame sizes.
pub fn cross_check(
    cases: &[Case],
    js: &Js,
    work: &WorkDir,
    p: &Params,
) -> Result<BTreeMap<String, usize>> {
    for case in cases {
        let own = |m: HubMessage| {
            ensure!(
                m == case.msg,
                "{}: Rust round trip changed the message",
                case.key()
            );
            Ok(())
        };
        let whole = decode_all(case, &case.batch, None, own)?;
        let chunked = decode_all(case, &case.batch, Some(p.chunk), own)?;
        ensure!(
            whole == case.n && chunked == case.n,
            "{}: Rust decoded {whole} / {chunked} (chunked) of its own {} messages",
            case.key(),
            case.n
        );
        read_args(&case.msg, case.size, case.protocol)?;
        std::fs::write(work.file("rust", case), &case.batch)?;
    }
    let report = js.verify(&work.0, p)?;
    let mut js_frames = BTreeMap::new();
    for case in cases {
        let key = case.key();
        let row = report
            .get(&key)
            .with_context(|| format!("{key}: missing from the JS verify report"))?;
        let decoded = row.get("decoded").copied().unwrap_or(-1.0);
        ensure!(
            decoded == case.n as f64,
            "{key}: JS decoded {decoded} of the {} Rust-encoded messages",
            case.n
        );
        let js_bytes = Bytes::from(std::fs::read(work.file("js", case))?);
        let mut bad = 0usize;
        let count = decode_all(case, &js_bytes, Some(p.chunk), |m| {
            if m != case.msg {
                bad += 1;
            }
            Ok(())
        })
        .with_context(|| format!("{key}: Rust could not decode the JS encoding"))?;
        ensure!(
            count == case.n && bad == 0,
            "{key}: Rust decoded {count} of the {} JS-encoded messages, {bad} different from the original",
            case.n
        );
        js_frames.insert(key, js_bytes.len() / case.n);
    }
    Ok(js_frames)
}
