//! `hub-bench`: micro-benchmarks of interlink-core's SignalR hub layer.
//!
//! `hub-bench codec` times the hub codecs (JSON and MessagePack; encode, decode whole and in
//! chunks) and, in the same run, SignalR's own JavaScript protocols in Node on the same
//! messages and bytes, after checking that each side decodes the other's encoding. Prints
//! one Markdown table. `--quick` is a seconds-long smoke test.
//!
//! `hub-bench fanout` measures the hub server's broadcast: one 1 KiB message to N WebSocket
//! clients (deliveries/s, delivery latency, server CPU and RSS), against a raw WebSocket
//! broadcast server in the same run. The server runs as a child process (`hub-bench
//! fanout-server`, internal). See benches/README.md.

#[path = "../../hub_codec.rs"]
mod hub_codec;
#[path = "../../hub_fanout.rs"]
mod hub_fanout;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use hub_codec::{Case, Js, JsReport, Params, RustRates, WorkDir};
use interlink_benches::procs::CpuSnapshot;
use interlink_benches::report::{Table, machine, utc_now};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Micro-benchmarks of the hub protocol layer.
#[derive(Parser, Debug)]
#[command(name = "hub-bench")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Hub codec throughput: Rust vs @microsoft/signalr's JS protocols in Node.
    Codec(CodecArgs),
    /// Hub server fan-out: one broadcast to N WebSocket clients, vs a raw WebSocket server.
    Fanout(FanoutArgs),
    /// The server process of `fanout` (started by it).
    #[command(hide = true)]
    FanoutServer(FanoutServerArgs),
}

#[derive(Args, Debug)]
struct FanoutArgs {
    /// Client counts N, one server instance each [default: 1000,10000; quick: 200].
    #[arg(long, value_delimiter = ',')]
    clients: Vec<usize>,
    /// Broadcasts measured one at a time, per server and N [default: 20; quick: 5].
    #[arg(long)]
    rounds: Option<usize>,
    /// Warm-up broadcasts before each series.
    #[arg(long, default_value_t = 2)]
    warmup: usize,
    /// Broadcasts in flight in the pipelined series (1 = skip it) [default: 8; quick: 4].
    #[arg(long)]
    pipeline: Option<usize>,
    /// Broadcasts of the pipelined series [default: 64; quick: 16].
    #[arg(long)]
    pipeline_rounds: Option<usize>,
    /// Hub protocol of the clients.
    #[arg(long, value_enum, default_value = "json")]
    protocol: hub_fanout::Protocol,
    /// Bytes of the broadcast hub frame (= the WebSocket message).
    #[arg(long, default_value_t = 1024)]
    size: usize,
    /// Servers to measure.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "hub,ws")]
    servers: Vec<hub_fanout::ServerKind>,
    /// SMOL_THREADS of the server process.
    #[arg(long, default_value_t = 1)]
    server_threads: usize,
    /// Clients opening their connection at the same time.
    #[arg(long, default_value_t = 64)]
    connect_concurrency: usize,
    /// How long one broadcast may take to reach every client, in ms.
    #[arg(long, default_value_t = 30_000)]
    round_timeout_ms: u64,
    /// N = 200 and few rounds: a smoke test of a few seconds (CI).
    #[arg(long)]
    quick: bool,
}

impl FanoutArgs {
    fn params(&self) -> hub_fanout::Params {
        let q = self.quick;
        let clients = if !self.clients.is_empty() {
            self.clients.clone()
        } else if q {
            vec![200]
        } else {
            vec![1000, 10_000]
        };
        hub_fanout::Params {
            clients,
            servers: self.servers.clone(),
            rounds: self.rounds.unwrap_or(if q { 5 } else { 20 }).max(1),
            warmup: self.warmup,
            pipeline: self.pipeline.unwrap_or(if q { 4 } else { 8 }).max(1),
            pipeline_rounds: self.pipeline_rounds.unwrap_or(if q { 16 } else { 64 }),
            protocol: self.protocol,
            size: self.size,
            server_threads: self.server_threads.max(1),
            connect_concurrency: self.connect_concurrency.max(1),
            round_timeout: Duration::from_millis(self.round_timeout_ms.max(1)),
        }
    }
}

#[derive(Args, Debug)]
struct FanoutServerArgs {
    /// Which server.
    #[arg(long, value_enum)]
    kind: hub_fanout::ServerKind,
    /// An inherited listening socket; without it, a fresh 127.0.0.1 port (printed on
    /// stderr).
    #[arg(long)]
    listen_fd: Option<i32>,
}

#[derive(Args, Debug)]
struct CodecArgs {
    /// Short budgets and batches (a smoke test of a few seconds, e.g. for CI).
    #[arg(long)]
    quick: bool,
    /// Messages per decoded batch, small case [default: 10000, quick: 1000].
    #[arg(long)]
    small_n: Option<usize>,
    /// Messages per decoded batch, large case [default: 16, quick: 4].
    #[arg(long)]
    large_n: Option<usize>,
    /// Bytes of the large argument.
    #[arg(long, default_value_t = 65536)]
    large_size: usize,
    /// Timed milliseconds per case and side [default: 1000, quick: 50].
    #[arg(long)]
    budget_ms: Option<u64>,
    /// Warm-up milliseconds per case and side [default: 300, quick: 20].
    #[arg(long)]
    warmup_ms: Option<u64>,
    /// Slices of the budget; the median slice rate is reported [default: 5, quick: 3].
    #[arg(long)]
    reps: Option<usize>,
    /// Chunk size of the incremental decode.
    #[arg(long, default_value_t = 4096)]
    chunk: usize,
    /// Time only these cases (e.g. `json/large,msgpack/small`); with `--rust-only`, for
    /// profiling one case with perf.
    #[arg(long, value_delimiter = ',')]
    cases: Vec<String>,
    /// Skip the JS timing (the cross-check still runs) and print only the Rust rates.
    #[arg(long)]
    rust_only: bool,
    /// The Node.js binary.
    #[arg(long, env = "NODE", default_value = "node")]
    node: PathBuf,
    /// The folder of codec-bench.mjs and its package.json (default: benches/js of this
    /// workspace); `npm ci` runs there when node_modules is missing.
    #[arg(long)]
    js_dir: Option<PathBuf>,
}

impl CodecArgs {
    fn params(&self) -> Params {
        let q = self.quick;
        Params {
            small_n: self.small_n.unwrap_or(if q { 1000 } else { 10_000 }).max(1),
            large_n: self.large_n.unwrap_or(if q { 4 } else { 16 }).max(1),
            large_size: self.large_size.max(1),
            budget: Duration::from_millis(self.budget_ms.unwrap_or(if q { 50 } else { 1000 })),
            warmup: Duration::from_millis(self.warmup_ms.unwrap_or(if q { 20 } else { 300 })),
            reps: self.reps.unwrap_or(if q { 3 } else { 5 }).max(1),
            chunk: self.chunk.max(1),
        }
    }
}

fn main() -> Result<()> {
    match Cli::parse().cmd {
        Cmd::Codec(args) => codec(&args),
        Cmd::Fanout(args) => hub_fanout::run(&args.params()),
        Cmd::FanoutServer(args) => hub_fanout::run_server(args.kind, args.listen_fd),
    }
}

fn codec(args: &CodecArgs) -> Result<()> {
    let p = args.params();
    let js = Js {
        node: args.node.clone(),
        dir: args
            .js_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/js"))),
    };
    js.ensure_installed()?;
    let node_version = js.version()?;
    let started = Instant::now();
    let date = utc_now();

    let cases = hub_codec::cases(&p)?;
    let work = WorkDir::new()?;
    let js_frames = hub_codec::cross_check(&cases, &js, &work, &p)
        .context("cross-check of the Rust and JS codecs FAILED: the comparison is void")?;
    eprintln!(
        "hub-bench: cross-check passed (Rust → JS and JS → Rust, every message compared, whole and in {} B chunks)",
        p.chunk
    );

    // Per case: Rust, then Node on the same case, so both rows of a ratio see about the same
    // machine load. CPU of the (reaped) Node child counts as ours.
    let cases: Vec<Case> = cases
        .into_iter()
        .filter(|c| args.cases.is_empty() || args.cases.contains(&c.key()))
        .collect();
    let (mut rust, mut js_rates) = (Vec::new(), JsReport::new());
    let (mut rust_others, mut js_others) = (Vec::new(), Vec::new());
    for case in &cases {
        eprintln!("hub-bench: Rust {}", case.key());
        let cpu0 = CpuSnapshot::now();
        rust.push(hub_codec::bench_rust(&p, case)?);
        let cpu1 = CpuSnapshot::now();
        rust_others.push(cpu0.others_percent(&cpu1));
        if args.rust_only {
            println!("{} Rust msg/s: {:?}", case.key(), rust.last());
            continue;
        }
        eprintln!("hub-bench: Node {node_version} {}", case.key());
        let (_, mut one) = js.bench(&work.0, &p, &case.key())?;
        js_others.push(cpu1.others_percent(&CpuSnapshot::now()));
        js_rates.append(&mut one);
    }
    if args.rust_only {
        return Ok(());
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;

    print_report(&Report {
        p: &p,
        cases: &cases,
        rust: &rust,
        js: &js_rates,
        js_frames: &js_frames,
        node_version: &node_version,
        date: &date,
        others: (mean(&rust_others), mean(&js_others)),
        elapsed: started.elapsed(),
    })
}

struct Report<'a> {
    p: &'a Params,
    cases: &'a [Case],
    rust: &'a [RustRates],
    js: &'a JsReport,
    js_frames: &'a BTreeMap<String, usize>,
    node_version: &'a str,
    date: &'a str,
    others: (f64, f64),
    elapsed: Duration,
}

/// 1234567.8 → "1,234,568".
fn thousands(v: f64) -> String {
    let s = format!("{:.0}", v.max(0.0));
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn mb(msgs_per_s: f64, bytes: usize) -> String {
    let v = msgs_per_s * bytes as f64 / 1e6;
    if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.1}×", a / b)
    } else {
        "—".into()
    }
}

fn print_report(r: &Report) -> Result<()> {
    let p = r.p;
    println!("### Hub codec: interlink-core vs @microsoft/signalr 10.0.11 (Node)\n");
    println!("- date: {}", r.date);
    println!("- machine: {}", machine());
    println!("- node: {}", r.node_version);
    println!(
        "- batches: small × {}, large × {} ({} B argument); {} ms per case and side after {} ms warm-up, median of {} slices; chunks of {} B",
        p.small_n,
        p.large_n,
        p.large_size,
        p.budget.as_millis(),
        p.warmup.as_millis(),
        p.reps,
        p.chunk
    );
    println!(
        "- CPU used by other processes: {:.0} % of the machine during the Rust parts, {:.0} % during the Node parts (above ~5 % the numbers are noisy)",
        r.others.0, r.others.1
    );
    let mut sizes = Vec::new();
    for c in r.cases {
        let js = r.js_frames.get(&c.key()).copied().unwrap_or(0);
        sizes.push(format!("{} {} B (JS {} B)", c.key(), c.frame_bytes(), js));
    }
    println!("- framed message sizes: {}", sizes.join(", "));
    println!("- MB/s = 10^6 bytes of framed messages per second; Rust/JS = ratio of msg/s\n");

    let mut t = Table::new(&[
        "protocol",
        "message",
        "operation",
        "Rust msg/s",
        "Rust MB/s",
        "JS msg/s",
        "JS MB/s",
        "Rust/JS",
    ]);
    let mut utf8 = Table::new(&[
        "message",
        "JS encode + TextEncoder msg/s",
        "Rust/JS",
        "JS TextDecoder + decode msg/s",
        "Rust/JS",
    ]);
    for (c, rr) in r.cases.iter().zip(r.rust) {
        let key = c.key();
        let row =
            r.js.get(&key)
                .with_context(|| format!("{key}: missing from the JS bench report"))?;
        let get = |k: &str| row.get(k).copied().unwrap_or(0.0);
        let js_frame = get("frame_bytes") as usize;
        let rust_frame = c.frame_bytes();
        let decode_frame = get("batch_bytes") as usize / c.n;
        let (js_enc, js_dec) = (get("encode_msgs_per_s"), get("decode_msgs_per_s"));
        let proto = match c.protocol {
            interlink_core::hub::HubProtocol::Json => "JSON",
            interlink_core::hub::HubProtocol::MessagePack => "MessagePack",
        };
        let what = match (c.size, c.protocol) {
            (hub_codec::Size::Small, _) => format!("small ({rust_frame} B)"),
            (hub_codec::Size::Large, interlink_core::hub::HubProtocol::Json) => {
                format!("large ({} KiB string)", p.large_size / 1024)
            }
            (hub_codec::Size::Large, _) => format!("large ({} KiB bin)", p.large_size / 1024),
        };
        let rows: [(&str, f64, usize, f64, usize); 5] = [
            ("encode", rr.encode, rust_frame, js_enc, js_frame),
            (
                "encode incl. args",
                rr.encode_args,
                rust_frame,
                js_enc,
                js_frame,
            ),
            ("decode", rr.decode, rust_frame, js_dec, decode_frame),
            (
                "decode, 4 KiB chunks",
                rr.decode_chunks,
                rust_frame,
                js_dec,
                decode_frame,
            ),
            (
                "decode incl. args",
                rr.decode_args,
                rust_frame,
                js_dec,
                decode_frame,
            ),
        ];
        for (op, rust, rb, js, jb) in rows {
            let op = if op.starts_with("decode, ") {
                format!("decode, {} B chunks", p.chunk)
            } else {
                op.to_string()
            };
            t.row(vec![
                proto.into(),
                what.clone(),
                op,
                thousands(rust),
                mb(rust, rb),
                thousands(js),
                mb(js, jb),
                ratio(rust, js),
            ]);
        }
        if c.protocol == interlink_core::hub::HubProtocol::Json {
            let (e, d) = (get("encode_utf8_msgs_per_s"), get("decode_utf8_msgs_per_s"));
            utf8.row(vec![
                what,
                thousands(e),
                ratio(rr.encode, e),
                thousands(d),
                ratio(rr.decode, d),
            ]);
        }
    }
    println!("{}\n", t.render());
    println!(
        "JSON in JS with the UTF-8 conversion a transport adds (writeMessage returns a string, parseMessages takes one; the Rust codec works on UTF-8 bytes):\n"
    );
    println!("{}\n", utf8.render());
    println!("- whole run: {:.1} s", r.elapsed.as_secs_f64());
    Ok(())
}
