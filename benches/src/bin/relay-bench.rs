//! `relay-bench`: end-to-end load harness of the interlink relay, on 127.0.0.1 only.
//!
//! Subcommands: `ws` (WebSocket throughput: direct / interlink / bore / rathole), `http`
//! (requests/s and latency), `rendezvous` (WebSocket setup time), `memory` (gateway RSS per
//! idle listener and per open pair), `all`. Every loop has a fixed count; each prints a
//! Markdown table. See benches/README.md.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use interlink::net::{ClientTls, Stream};
use interlink::relay::{RelayListener, RelaySender};
use interlink::ws::WebSocket;
use interlink_benches::apps::{
    self, DirectServer, HttpPath, close_ws, echo_once, http_load, raw_listener, relay_app,
    wait_ws_path, within, ws_connect, ws_load,
};
use interlink_benches::procs::{
    self, GatewayProc, KEY, KEY_NAME, Tools, Tunnel, interlink_bin, raise_nofile,
};
use interlink_benches::report::{Samples, Table, machine, median, ms, utc_now};
use interlink_core::relay::connection_string::ConnectionString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// End-to-end benchmarks of the interlink relay (loopback only).
#[derive(Parser, Debug)]
#[command(name = "relay-bench")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    common: Common,
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Folder holding the `bore` and `rathole` binaries; a missing one is skipped.
    #[arg(
        long,
        global = true,
        env = "INTERLINK_BENCH_TOOLS",
        default_value = "/tmp/interlink-bench-tools/bin"
    )]
    tools: PathBuf,
    /// The `interlink` binary (default: target/release/interlink of this workspace).
    #[arg(long, global = true, env = "INTERLINK_BIN")]
    interlink_bin: Option<PathBuf>,
    /// Leave bore and rathole out.
    #[arg(long, global = true)]
    no_tunnels: bool,
    /// SMOL_THREADS of the gateway child process (default: unset, i.e. smol's default of 1).
    #[arg(long, global = true)]
    gateway_threads: Option<usize>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// WebSocket throughput: direct vs interlink vs bore vs rathole.
    Ws(WsArgs),
    /// HTTP requests/s and latency: direct vs interlink (vs tunnels).
    Http(HttpArgs),
    /// Time for a sender to get an open WebSocket (accept + rendezvous).
    Rendezvous(RendezvousArgs),
    /// Gateway RSS with idle listeners and open sender↔listener pairs.
    Memory(MemoryArgs),
    /// Everything above, one after the other.
    All {
        #[command(flatten)]
        ws: WsArgs,
        #[command(flatten)]
        http: HttpArgs,
        #[command(flatten)]
        rendezvous: RendezvousArgs,
        #[command(flatten)]
        memory: MemoryArgs,
    },
}

#[derive(Args, Debug, Clone)]
struct WsArgs {
    /// Size of the large messages, bytes.
    #[arg(long, default_value_t = 64 * 1024)]
    large_size: usize,
    /// Number of large messages per run.
    #[arg(long, default_value_t = 4096)]
    large_count: usize,
    /// Size of the small messages, bytes.
    #[arg(long, default_value_t = 1024)]
    small_size: usize,
    /// Number of small messages per run.
    #[arg(long, default_value_t = 32 * 1024)]
    small_count: usize,
    /// Runs per path and size (the median is reported); paths alternate within each round.
    #[arg(long, default_value_t = 3)]
    reps: usize,
}

#[derive(Args, Debug, Clone)]
struct HttpArgs {
    /// Requests per measurement.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Concurrent senders (comma-separated list).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    concurrency: Vec<usize>,
    /// Request body size, bytes (echoed back).
    #[arg(long, default_value_t = 100)]
    body: usize,
}

#[derive(Args, Debug, Clone)]
struct RendezvousArgs {
    /// Sequential connects per path.
    #[arg(long, default_value_t = 200)]
    connects: usize,
}

#[derive(Args, Debug, Clone)]
struct MemoryArgs {
    /// Idle listeners (raw control channels).
    #[arg(long, default_value_t = 1000)]
    listeners: usize,
    /// Hybrid connections to spread them over (the gateway takes 25 listeners per name).
    #[arg(long, default_value_t = 50)]
    hybrid_connections: usize,
    /// Open sender↔listener WebSocket pairs.
    #[arg(long, default_value_t = 1000)]
    pairs: usize,
}

/// Everything the data-path scenarios share: the app served directly, behind the relay, and
/// behind each tunnel that could be started.
struct Paths {
    direct: DirectServer,
    gateway: GatewayProc,
    cs: ConnectionString,
    _listener: RelayListener,
    _accepts: smol::Task<()>,
    tunnels: Vec<Tunnel>,
    notes: Vec<String>,
}

const HC: &str = "bench";

impl Paths {
    async fn start(common: &Common) -> Result<Paths> {
        let bin = common.interlink_bin.clone().unwrap_or_else(interlink_bin);
        let direct = DirectServer::start().await?;
        let gateway = GatewayProc::start(&bin, common.gateway_threads)?;
        let cs = gateway.connection_string();
        let (listener, accepts) = relay_app(&cs, HC).await?;
        let mut notes = Vec::new();
        let mut tunnels = Vec::new();
        if common.no_tunnels {
            notes.push("bore and rathole left out (--no-tunnels)".to_string());
        } else {
            let tools = Tools {
                dir: common.tools.clone(),
            };
            type Starter = fn(&std::path::Path, u16) -> Result<Tunnel>;
            let starters: [(&str, Starter); 2] = [
                ("bore", procs::start_bore),
                ("rathole", procs::start_rathole),
            ];
            for (name, start) in starters {
                let Some(path) = tools.find(name) else {
                    notes.push(format!(
                        "{name}: not found in {} — skipped",
                        tools.dir.display()
                    ));
                    continue;
                };
                let started = match start(&path, direct.addr.port()) {
                    Ok(t) => wait_ws_path(t.public_port, Duration::from_secs(10))
                        .await
                        .map(|()| t),
                    Err(e) => Err(e),
                };
                match started {
                    Ok(t) => tunnels.push(t),
                    Err(e) => notes.push(format!("{name}: could not start ({e:#}) — skipped")),
                }
            }
        }
        Ok(Paths {
            direct,
            gateway,
            cs,
            _listener: listener,
            _accepts: accepts,
            tunnels,
            notes,
        })
    }

    fn sender(&self) -> Result<RelaySender> {
        Ok(RelaySender::new(&self.cs, HC, ClientTls::webpki())?
            .with_timeout(Duration::from_secs(30)))
    }

    /// The WebSocket paths, direct first.
    fn ws_paths(&self) -> Result<Vec<WsPath>> {
        let mut v = vec![
            WsPath::Direct(self.direct.addr),
            WsPath::Relay {
                sender: self.sender()?,
                pids: vec![self.gateway.child.pid()],
            },
        ];
        for t in &self.tunnels {
            v.push(WsPath::Tunnel {
                name: t.name,
                addr: SocketAddr::from(([127, 0, 0, 1], t.public_port)),
                pids: t.children.iter().map(|c| c.pid()).collect(),
            });
        }
        Ok(v)
    }

    fn print_notes(&self) {
        for n in &self.notes {
            println!("- note: {n}");
        }
    }

    async fn stop(self) {
        drop(self.tunnels);
        self.direct.stop().await;
    }
}

enum WsPath {
    Direct(SocketAddr),
    Relay {
        sender: RelaySender,
        pids: Vec<u32>,
    },
    Tunnel {
        name: &'static str,
        addr: SocketAddr,
        pids: Vec<u32>,
    },
}

impl WsPath {
    fn name(&self) -> String {
        match self {
            WsPath::Direct(_) => "direct (loopback)".into(),
            WsPath::Relay { .. } => "interlink gateway".into(),
            WsPath::Tunnel { name, .. } => format!("{name} tunnel"),
        }
    }

    async fn connect(&self) -> Result<WebSocket> {
        match self {
            WsPath::Direct(addr) | WsPath::Tunnel { addr, .. } => ws_connect(*addr).await,
            WsPath::Relay { sender, .. } => Ok(sender.connect(None, &[]).await?),
        }
    }

    /// The relay's processes (for their CPU time).
    fn pids(&self) -> &[u32] {
        match self {
            WsPath::Direct(_) => &[],
            WsPath::Relay { pids, .. } | WsPath::Tunnel { pids, .. } => pids,
        }
    }
}

/// user + system CPU time of `pids`, from /proc/PID/stat (clock ticks of 10 ms).
fn cpu_time(pids: &[u32]) -> Duration {
    let tick = 1.0 / 100.0;
    let mut total = 0.0;
    for pid in pids {
        if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            && let Some(rest) = s.rsplit_once(')').map(|(_, r)| r)
        {
            let f: Vec<&str> = rest.split_whitespace().collect();
            // After "pid (comm)": state is field 3, utime 14, stime 15 (1-based).
            let ticks: f64 = [11, 12]
                .iter()
                .filter_map(|i| f.get(*i).and_then(|v| v.parse::<f64>().ok()))
                .sum();
            total += ticks * tick;
        }
    }
    Duration::from_secs_f64(total)
}

fn header(title: &str) {
    println!("\n### {title}\n");
    println!("- date: {}", utc_now());
    println!("- machine: {}", machine());
}

// ----- scenario 1 + 2: WebSocket throughput ---------------------------------------------

async fn run_ws(common: &Common, args: &WsArgs) -> Result<()> {
    let paths = Paths::start(common).await?;
    let ws_paths = paths.ws_paths()?;
    header("WebSocket throughput (sender → sink, binary messages)");
    println!(
        "- {} runs per cell, median (min–max) in MB/s (10^6 bytes/s); paths alternate within each round",
        args.reps
    );
    println!(
        "- relay CPU: user+system CPU seconds of the relay's own processes per GB carried \
         (interlink: the gateway; bore/rathole: their server + client)"
    );
    paths.print_notes();
    let sizes = [
        (args.large_size, args.large_count),
        (args.small_size, args.small_count),
    ];
    let mut columns = vec!["path".to_string()];
    for (size, count) in sizes {
        let label = size_label(size);
        columns.push(format!("{label} × {count} MB/s"));
        columns.push("vs direct".into());
        columns.push(format!("{label} relay CPU s/GB"));
    }
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    let mut table = Table::new(&cols);
    // results[path][size] = (MB/s samples, cpu s/GB samples)
    let mut results = vec![vec![(Vec::new(), Vec::new()); sizes.len()]; ws_paths.len()];
    for (si, (size, count)) in sizes.iter().enumerate() {
        for p in &ws_paths {
            let ws = p.connect().await?;
            within(
                Duration::from_secs(120),
                ws_load(&ws, *size, (count / 8).max(1)),
            )
            .await
            .with_context(|| format!("warm-up on {}", p.name()))?;
            close_ws(ws).await;
        }
        for _ in 0..args.reps {
            for (pi, p) in ws_paths.iter().enumerate() {
                let ws = p.connect().await?;
                let cpu0 = cpu_time(p.pids());
                let d = within(Duration::from_secs(120), ws_load(&ws, *size, *count))
                    .await
                    .with_context(|| format!("load on {}", p.name()))?;
                let cpu = cpu_time(p.pids()).saturating_sub(cpu0);
                close_ws(ws).await;
                let bytes = (*size * *count) as f64;
                results[pi][si].0.push(bytes / d.as_secs_f64() / 1e6);
                results[pi][si].1.push(cpu.as_secs_f64() / (bytes / 1e9));
            }
        }
    }
    let direct: Vec<f64> = results[0].iter().map(|(v, _)| median(v)).collect();
    for (pi, p) in ws_paths.iter().enumerate() {
        let mut row = vec![p.name()];
        for (si, (mbps, cpu)) in results[pi].iter().enumerate() {
            let m = median(mbps);
            let (lo, hi) = min_max(mbps);
            row.push(format!("{m:.0} ({lo:.0}–{hi:.0})"));
            row.push(if pi == 0 {
                "1.00".into()
            } else {
                format!("{:.2}", m / direct[si])
            });
            row.push(if p.pids().is_empty() {
                "—".into()
            } else {
                format!("{:.2}", median(cpu))
            });
        }
        table.row(row);
    }
    println!("\n{}", table.render());
    paths.stop().await;
    Ok(())
}

fn size_label(size: usize) -> String {
    if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

fn min_max(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
            (lo.min(*x), hi.max(*x))
        })
}

// ----- scenario 3: HTTP ------------------------------------------------------------------

async fn run_http(common: &Common, args: &HttpArgs) -> Result<()> {
    let paths = Paths::start(common).await?;
    header(&format!(
        "HTTP: {} B POST echoed, {} requests per row",
        args.body, args.requests
    ));
    println!(
        "- new connection: one TCP connection per request (`interlink::net::request`; \
         `RelaySender::request` for interlink — it does not pool)"
    );
    println!(
        "- keep-alive: one hyper HTTP/1.1 connection per sender, reused (interlink: to the \
         gateway's HTTP endpoint with a SAS token in ServiceBusAuthorization)"
    );
    println!("- ratio: req/s against the direct row of the same mode and concurrency");
    paths.print_notes();
    let direct_url = format!("http://{}/echo", paths.direct.addr);
    let mut fresh: Vec<(String, HttpPath)> = vec![
        (
            "direct".into(),
            HttpPath::Fresh {
                url: direct_url.clone(),
            },
        ),
        ("interlink".into(), HttpPath::Relay(paths.sender()?)),
    ];
    let mut keep: Vec<(String, HttpPath)> = vec![
        (
            "direct".into(),
            HttpPath::KeepAlive {
                url: direct_url,
                headers: vec![],
            },
        ),
        ("interlink".into(), HttpPath::relay_keepalive(&paths.cs, HC)),
    ];
    for t in &paths.tunnels {
        let url = format!("http://127.0.0.1:{}/echo", t.public_port);
        fresh.push((t.name.into(), HttpPath::Fresh { url: url.clone() }));
        keep.push((
            t.name.into(),
            HttpPath::KeepAlive {
                url,
                headers: vec![],
            },
        ));
    }
    let mut table = Table::new(&[
        "path",
        "connections",
        "senders",
        "req/s",
        "p50 ms",
        "p99 ms",
        "vs direct",
    ]);
    for (mode, list) in [("new per request", &fresh), ("keep-alive", &keep)] {
        for &k in &args.concurrency {
            let mut direct_rps = 0.0;
            for (i, (name, path)) in list.iter().enumerate() {
                let warm = (args.requests / 10).max(k);
                within(
                    Duration::from_secs(120),
                    http_load(path, k, warm, args.body),
                )
                .await
                .with_context(|| format!("HTTP warm-up on {name}"))?;
                let r = within(
                    Duration::from_secs(300),
                    http_load(path, k, args.requests, args.body),
                )
                .await
                .with_context(|| format!("HTTP load on {name}"))?;
                let rps = r.rps();
                if i == 0 {
                    direct_rps = rps;
                }
                table.row(vec![
                    name.clone(),
                    mode.into(),
                    k.to_string(),
                    format!("{rps:.0}"),
                    ms(r.latencies.percentile(50.0)),
                    ms(r.latencies.percentile(99.0)),
                    format!("{:.2}", rps / direct_rps),
                ]);
            }
        }
    }
    println!("\n{}", table.render());
    paths.stop().await;
    Ok(())
}

// ----- scenario 4: rendezvous ------------------------------------------------------------

async fn run_rendezvous(common: &Common, args: &RendezvousArgs) -> Result<()> {
    let paths = Paths::start(common).await?;
    let ws_paths = paths.ws_paths()?;
    header(&format!(
        "WebSocket setup: {} sequential connects per path, until the sender holds an open WebSocket",
        args.connects
    ));
    println!(
        "- direct and tunnels: TCP connect + WebSocket handshake to the app; interlink: \
         `RelaySender::connect` (sender upgrade → accept on the control channel → listener \
         opens the rendezvous → both upgraded)"
    );
    println!("- each socket is closed (and its close awaited) before the next connect, untimed");
    paths.print_notes();
    let mut table = Table::new(&["path", "N", "p50 ms", "p99 ms", "mean ms", "p50 vs direct"]);
    let mut direct_p50 = Duration::ZERO;
    for (i, p) in ws_paths.iter().enumerate() {
        for _ in 0..5 {
            close_ws(p.connect().await?).await;
        }
        let mut v = Vec::with_capacity(args.connects);
        for _ in 0..args.connects {
            let t = Instant::now();
            let ws = within(Duration::from_secs(30), p.connect())
                .await
                .with_context(|| format!("connect on {}", p.name()))?;
            v.push(t.elapsed());
            echo_once(&ws, "hi").await?;
            close_ws(ws).await;
        }
        let s = Samples::new(v);
        if i == 0 {
            direct_p50 = s.percentile(50.0);
        }
        table.row(vec![
            p.name(),
            s.len().to_string(),
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            ms(s.mean()),
            format!(
                "{:.1}×",
                s.percentile(50.0).as_secs_f64() / direct_p50.as_secs_f64()
            ),
        ]);
    }
    println!("\n{}", table.render());
    paths.stop().await;
    Ok(())
}

// ----- scenario 5: memory ----------------------------------------------------------------

async fn settle_rss(gw: &GatewayProc) -> Result<u64> {
    // Let in-flight work finish, then take the lowest of a few readings.
    async_io::Timer::after(Duration::from_millis(500)).await;
    let mut best = u64::MAX;
    for _ in 0..5 {
        best = best.min(gw.rss_kib()?);
        async_io::Timer::after(Duration::from_millis(100)).await;
    }
    Ok(best)
}

async fn run_memory(common: &Common, args: &MemoryArgs) -> Result<()> {
    let need = (args.listeners + 2 * args.pairs + 256) as u64;
    let (soft, hard) = raise_nofile(need);
    if soft < need {
        bail!("the fd limit is {soft} (hard {hard}); {need} are needed: raise it with `ulimit -n`");
    }
    let bin = common.interlink_bin.clone().unwrap_or_else(interlink_bin);
    let gw = GatewayProc::start(&bin, common.gateway_threads)?;
    let cs = gw.connection_string();
    header(&format!(
        "Gateway memory: `interlink gateway` child process, VmRSS from /proc/{}/status",
        gw.child.pid()
    ));
    println!(
        "- idle listeners: raw control channels (WebSocket upgrade with `sb-hc-action=listen` \
         and a SAS token), {} per hybrid connection over {} names, held open and unread",
        args.listeners.div_ceil(args.hybrid_connections.max(1)),
        args.hybrid_connections
    );
    println!(
        "- pairs: `RelaySender::connect` to one `RelayListener` in the harness, all held \
         open; then one 1 KiB message echoed on every pair"
    );
    println!("- fd limit (soft/hard) of the harness and the gateway: {soft}/{hard}");
    let mut table = Table::new(&[
        "state",
        "N",
        "gateway RSS KiB",
        "Δ RSS KiB",
        "KiB per item",
        "gateway fds",
    ]);
    let rss0 = settle_rss(&gw).await?;
    table.row(vec![
        "started, nothing connected".into(),
        "0".into(),
        rss0.to_string(),
        "—".into(),
        "—".into(),
        procs::open_fds(gw.child.pid()).to_string(),
    ]);

    let mut idle: Vec<Stream> = Vec::with_capacity(args.listeners);
    for i in 0..args.listeners {
        let hc = format!("idle{}", i % args.hybrid_connections.max(1));
        idle.push(
            raw_listener(gw.addr, &hc, KEY_NAME, KEY)
                .await
                .with_context(|| format!("idle listener {i}"))?,
        );
    }
    let rss1 = settle_rss(&gw).await?;
    table.row(vec![
        "+ idle listeners".into(),
        args.listeners.to_string(),
        rss1.to_string(),
        (rss1 as i64 - rss0 as i64).to_string(),
        per(rss1, rss0, args.listeners),
        procs::open_fds(gw.child.pid()).to_string(),
    ]);

    let listener = RelayListener::bind(&cs, "pairs", Default::default()).await?;
    let l = listener.clone();
    // Each accepted socket lives in its serve_ws task until the sender closes it.
    let accept_task = smol::spawn(async move {
        while let Some(a) = l.accept().await {
            smol::spawn(apps::serve_ws(a.socket)).detach();
        }
    });
    let rss2 = settle_rss(&gw).await?;
    let sender = RelaySender::new(&cs, "pairs", ClientTls::webpki())?;
    let mut pairs = Vec::with_capacity(args.pairs);
    for i in 0..args.pairs {
        pairs.push(
            within(Duration::from_secs(30), async {
                Ok(sender.connect(None, &[]).await?)
            })
            .await
            .with_context(|| format!("pair {i}"))?,
        );
    }
    let rss3 = settle_rss(&gw).await?;
    table.row(vec![
        "+ open pairs (idle)".into(),
        args.pairs.to_string(),
        rss3.to_string(),
        (rss3 as i64 - rss2 as i64).to_string(),
        per(rss3, rss2, args.pairs),
        procs::open_fds(gw.child.pid()).to_string(),
    ]);
    let msg = "x".repeat(1024);
    for ws in &pairs {
        echo_once(ws, &msg).await?;
    }
    let rss4 = settle_rss(&gw).await?;
    table.row(vec![
        "+ one 1 KiB echo on every pair".into(),
        args.pairs.to_string(),
        rss4.to_string(),
        (rss4 as i64 - rss2 as i64).to_string(),
        per(rss4, rss2, args.pairs),
        procs::open_fds(gw.child.pid()).to_string(),
    ]);
    println!(
        "- the pair rows are measured against the RSS after the pairs' listener attached \
         ({rss2} KiB); KiB per item = Δ RSS / N"
    );
    println!("\n{}", table.render());
    drop(pairs);
    drop(idle);
    accept_task.cancel().await;
    listener.close().await;
    Ok(())
}

fn per(after: u64, before: u64, n: usize) -> String {
    format!("{:.1}", (after as f64 - before as f64) / n.max(1) as f64)
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    smol::block_on(async {
        match &cli.cmd {
            Cmd::Ws(a) => run_ws(&cli.common, a).await,
            Cmd::Http(a) => run_http(&cli.common, a).await,
            Cmd::Rendezvous(a) => run_rendezvous(&cli.common, a).await,
            Cmd::Memory(a) => run_memory(&cli.common, a).await,
            Cmd::All {
                ws,
                http,
                rendezvous,
                memory,
            } => {
                run_ws(&cli.common, ws).await?;
                run_http(&cli.common, http).await?;
                run_rendezvous(&cli.common, rendezvous).await?;
                run_memory(&cli.common, memory).await
            }
        }
    })
}
