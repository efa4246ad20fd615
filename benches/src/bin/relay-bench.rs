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
    wait_ws_path, within, ws_connect,
};
use interlink_benches::procs::{
    self, CpuSnapshot, GatewayProc, KEY, KEY_NAME, Tools, Tunnel, interlink_bin, raise_nofile,
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
    /// Only these paths (comma-separated: direct, interlink, bore, rathole) in `ws`, `http`,
    /// `rendezvous` and the tunnel part of `memory`, e.g. to profile one; ratios need `direct`.
    #[arg(long, global = true, value_delimiter = ',')]
    paths: Vec<String>,
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
    #[arg(long, default_value_t = 64 * 1024)]
    small_count: usize,
    /// Runs per path and size (the median is reported); paths alternate within each round.
    #[arg(long, default_value_t = 5)]
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

/// Starts bore and rathole (each when found) forwarding to 127.0.0.1:`port` and checks that
/// a WebSocket echo goes through; returns the tunnels and notes about those skipped.
async fn start_tunnels(common: &Common, port: u16) -> (Vec<Tunnel>, Vec<String>) {
    let mut notes = Vec::new();
    let mut tunnels = Vec::new();
    if common.no_tunnels {
        notes.push("bore and rathole left out (--no-tunnels)".to_string());
        return (tunnels, notes);
    }
    let tools = Tools {
        dir: common.tools.clone(),
    };
    type Starter = fn(&std::path::Path, u16) -> Result<Tunnel>;
    let starters: [(&str, Starter); 2] = [
        ("bore", procs::start_bore),
        ("rathole", procs::start_rathole),
    ];
    for (name, start) in starters {
        if !common.paths.is_empty() && !common.paths.iter().any(|p| p == name) {
            continue;
        }
        let Some(path) = tools.find(name) else {
            notes.push(format!(
                "{name}: not found in {} — skipped",
                tools.dir.display()
            ));
            continue;
        };
        let started = match start(&path, port) {
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
    (tunnels, notes)
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
        let (tunnels, notes) = start_tunnels(common, direct.addr.port()).await;
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

    /// The WebSocket paths, direct first, filtered by `--paths`.
    fn ws_paths(&self, only: &[String]) -> Result<Vec<WsPath>> {
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
        v.retain(|p| only.is_empty() || only.iter().any(|o| o == p.key()));
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
    /// The name `--paths` takes.
    fn key(&self) -> &str {
        match self {
            WsPath::Direct(_) => "direct",
            WsPath::Relay { .. } => "interlink",
            WsPath::Tunnel { name, .. } => name,
        }
    }

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

/// Prints how busy other processes kept the machine since `start` (noise indicator).
fn background(start: &CpuSnapshot) {
    println!(
        "- CPU used by other processes while this table ran: {:.0} % of the machine \
         (0 % = quiet; above ~5 % the numbers are noisy)",
        start.others_percent(&CpuSnapshot::now())
    );
}

// ----- scenario 1 + 2: WebSocket throughput ---------------------------------------------

async fn run_ws(common: &Common, args: &WsArgs) -> Result<()> {
    let cpu0 = CpuSnapshot::now();
    let paths = Paths::start(common).await?;
    let ws_paths = paths.ws_paths(&common.paths)?;
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
                apps::ws_load_spawned(ws.clone(), *size, (count / 8).max(1)),
            )
            .await
            .with_context(|| format!("warm-up on {}", p.name()))?;
            close_ws(ws).await;
        }
        for _ in 0..args.reps {
            for (pi, p) in ws_paths.iter().enumerate() {
                let ws = p.connect().await?;
                let cpu0 = cpu_time(p.pids());
                let d = within(
                    Duration::from_secs(120),
                    apps::ws_load_spawned(ws.clone(), *size, *count),
                )
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
    let has_direct = ws_paths.first().is_some_and(|p| p.key() == "direct");
    let direct: Vec<f64> = results[0].iter().map(|(v, _)| median(v)).collect();
    for (pi, p) in ws_paths.iter().enumerate() {
        let mut row = vec![p.name()];
        for (si, (mbps, cpu)) in results[pi].iter().enumerate() {
            let m = median(mbps);
            let (lo, hi) = min_max(mbps);
            row.push(format!("{m:.0} ({lo:.0}–{hi:.0})"));
            row.push(if has_direct {
                format!("{:.2}", m / direct[si])
            } else {
                "—".into()
            });
            row.push(if p.pids().is_empty() {
                "—".into()
            } else {
                format!("{:.2}", median(cpu))
            });
        }
        table.row(row);
    }
    background(&cpu0);
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
    let cpu0 = CpuSnapshot::now();
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
    let only = &common.paths;
    for list in [&mut fresh, &mut keep] {
        list.retain(|(name, _)| only.is_empty() || only.contains(name));
    }
    let gw_rss0 = paths.gateway.rss_kib()?;
    let mut through_gateway = 0usize;
    for (mode, list) in [("new per request", &fresh), ("keep-alive", &keep)] {
        for &k in &args.concurrency {
            let mut direct_rps = 0.0;
            for (name, path) in list.iter() {
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
                if name == "interlink" {
                    through_gateway += warm + r.latencies.len();
                }
                let rps = r.rps();
                if name == "direct" {
                    direct_rps = rps;
                }
                table.row(vec![
                    name.clone(),
                    mode.into(),
                    k.to_string(),
                    format!("{rps:.0}"),
                    ms(r.latencies.percentile(50.0)),
                    ms(r.latencies.percentile(99.0)),
                    if direct_rps > 0.0 {
                        format!("{:.2}", rps / direct_rps)
                    } else {
                        "—".into()
                    },
                ]);
            }
        }
    }
    background(&cpu0);
    println!("\n{}", table.render());
    gateway_growth(&paths.gateway, gw_rss0, through_gateway, "HTTP requests").await?;
    paths.stop().await;
    Ok(())
}

/// Prints how much the gateway's RSS grew over `n` operations (after a settling pause).
async fn gateway_growth(gw: &GatewayProc, before: u64, n: usize, what: &str) -> Result<()> {
    if n == 0 {
        return Ok(());
    }
    let after = settle_rss(&[gw.child.pid()]).await?;
    println!(
        "\n- gateway RSS {before} KiB → {after} KiB over {n} {what} (all finished): {:.0} bytes retained per operation",
        (after as f64 - before as f64) * 1024.0 / n as f64
    );
    Ok(())
}

// ----- scenario 4: rendezvous ------------------------------------------------------------

async fn run_rendezvous(common: &Common, args: &RendezvousArgs) -> Result<()> {
    let cpu0 = CpuSnapshot::now();
    let paths = Paths::start(common).await?;
    let ws_paths = paths.ws_paths(&common.paths)?;
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
    let gw_rss0 = paths.gateway.rss_kib()?;
    let mut through_gateway = 0usize;
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
        if p.key() == "interlink" {
            through_gateway += 5 + s.len();
        }
        if i == 0 && p.key() == "direct" {
            direct_p50 = s.percentile(50.0);
        }
        table.row(vec![
            p.name(),
            s.len().to_string(),
            ms(s.percentile(50.0)),
            ms(s.percentile(99.0)),
            ms(s.mean()),
            if direct_p50.is_zero() {
                "—".into()
            } else {
                format!(
                    "{:.1}×",
                    s.percentile(50.0).as_secs_f64() / direct_p50.as_secs_f64()
                )
            },
        ]);
    }
    background(&cpu0);
    println!("\n{}", table.render());
    gateway_growth(
        &paths.gateway,
        gw_rss0,
        through_gateway,
        "WebSocket connects",
    )
    .await?;
    paths.stop().await;
    Ok(())
}

// ----- scenario 5: memory ----------------------------------------------------------------

/// Sum of the RSS of `pids` once in-flight work has settled: the lowest of a few readings.
async fn settle_rss(pids: &[u32]) -> Result<u64> {
    async_io::Timer::after(Duration::from_millis(500)).await;
    let mut best = u64::MAX;
    for _ in 0..5 {
        let mut sum = 0;
        for pid in pids {
            sum += procs::rss_kib(*pid)?;
        }
        best = best.min(sum);
        async_io::Timer::after(Duration::from_millis(100)).await;
    }
    Ok(best)
}

/// RSS (KiB, summed over the relay's processes) before and after opening pairs.
struct PairRss {
    before: u64,
    idle: u64,
    small: u64,
    large: u64,
}

/// Opens `n` WebSockets with `connect` (each ending at a [`apps::serve_ws`] echo) and reads
/// the RSS of `pids` before, with the pairs idle, after one 1 KiB and after one 64 KiB text
/// echo on every pair. Returns the readings and the sockets (still open).
async fn measure_pairs<F, Fut>(
    pids: &[u32],
    n: usize,
    connect: F,
) -> Result<(PairRss, Vec<WebSocket>)>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<WebSocket>>,
{
    let before = settle_rss(pids).await?;
    let t = Instant::now();
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        pairs.push(
            within(Duration::from_secs(30), connect())
                .await
                .with_context(|| format!("pair {i}"))?,
        );
    }
    eprintln!("  {n} pairs open ({:?})", t.elapsed());
    let idle = settle_rss(pids).await?;
    let mut after = Vec::new();
    for size in [1024, 64 * 1024] {
        let msg = "x".repeat(size);
        let t = Instant::now();
        // 100 at a time: bore's sockets keep Nagle on, so one echo may wait 40 ms for an ACK.
        for chunk in pairs.chunks(100) {
            for r in futures::future::join_all(chunk.iter().map(|ws| echo_once(ws, &msg))).await {
                r?;
            }
        }
        eprintln!("  {size} B echoed on {n} pairs ({:?})", t.elapsed());
        after.push(settle_rss(pids).await?);
    }
    Ok((
        PairRss {
            before,
            idle,
            small: after[0],
            large: after[1],
        },
        pairs,
    ))
}

async fn close_all(sockets: Vec<WebSocket>) {
    for ws in sockets {
        let _ = ws.close(1000, "").await;
    }
}

async fn run_memory(common: &Common, args: &MemoryArgs) -> Result<()> {
    let cpu0 = CpuSnapshot::now();
    // Harness: idle listeners + both ends of every pair; gateway: the same plus the pairs.
    let need = (args.listeners + 3 * args.pairs + 256) as u64;
    let (soft, hard) = raise_nofile(need);
    if soft < need {
        bail!("the fd limit is {soft} (hard {hard}); {need} are needed: raise it with `ulimit -n`");
    }
    let bin = common.interlink_bin.clone().unwrap_or_else(interlink_bin);
    let gw = GatewayProc::start(&bin, common.gateway_threads)?;
    let gw_pid = [gw.child.pid()];
    let cs = gw.connection_string();
    header("Gateway memory: `interlink gateway` child process, VmRSS from /proc/PID/status");
    println!(
        "- idle listeners: raw control channels (WebSocket upgrade with `sb-hc-action=listen` \
         and a SAS token), {} per hybrid connection over {} names, held open and unread",
        args.listeners.div_ceil(args.hybrid_connections.max(1)),
        args.hybrid_connections
    );
    println!(
        "- pairs: `RelaySender::connect` to one `RelayListener` in the harness, all held \
         open; then one 1 KiB, then one 64 KiB text message echoed on every pair"
    );
    println!("- fd limit (soft/hard) of the harness and its children: {soft}/{hard}");
    let mut table = Table::new(&[
        "state",
        "N",
        "gateway RSS KiB",
        "Δ RSS KiB",
        "KiB per item",
        "gateway fds",
    ]);
    let fds = || procs::open_fds(gw.child.pid()).to_string();
    let rss0 = settle_rss(&gw_pid).await?;
    table.row(vec![
        "started, nothing connected".into(),
        "0".into(),
        rss0.to_string(),
        "—".into(),
        "—".into(),
        fds(),
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
    let rss1 = settle_rss(&gw_pid).await?;
    table.row(vec![
        "+ idle listeners".into(),
        args.listeners.to_string(),
        rss1.to_string(),
        (rss1 as i64 - rss0 as i64).to_string(),
        per(rss1, rss0, args.listeners),
        fds(),
    ]);

    let listener = RelayListener::bind(&cs, "pairs", Default::default()).await?;
    let l = listener.clone();
    // Each accepted socket lives in its serve_ws task until the sender closes it.
    let accept_task = smol::spawn(async move {
        while let Some(a) = l.accept().await {
            smol::spawn(apps::serve_ws(a.socket)).detach();
        }
    });
    let sender = RelaySender::new(&cs, "pairs", ClientTls::webpki())?;
    let sender = &sender;
    let (relay, pairs) = measure_pairs(&gw_pid, args.pairs, move || async move {
        Ok(sender.connect(None, &[]).await?)
    })
    .await?;
    for (label, rss) in [
        ("+ open pairs (idle)", relay.idle),
        ("+ one 1 KiB echo on every pair", relay.small),
        ("+ one 64 KiB echo on every pair", relay.large),
    ] {
        table.row(vec![
            label.into(),
            args.pairs.to_string(),
            rss.to_string(),
            (rss as i64 - relay.before as i64).to_string(),
            per(rss, relay.before, args.pairs),
            fds(),
        ]);
    }
    println!(
        "- the pair rows are measured against the RSS after the pairs' listener attached \
         ({} KiB); KiB per item = Δ RSS / N",
        relay.before
    );
    background(&cpu0);
    println!("\n{}", table.render());
    close_all(pairs).await;
    drop(idle);
    accept_task.cancel().await;
    listener.close().await;
    drop(gw);

    // The same pairs through the tunnels (their server + client processes).
    let direct = DirectServer::start().await?;
    let (tunnels, notes) = start_tunnels(common, direct.addr.port()).await;
    let mut cmp = Table::new(&[
        "relay (processes measured)",
        "N pairs",
        "KiB/pair idle",
        "KiB/pair after 1 KiB echo",
        "KiB/pair after 64 KiB echo",
    ]);
    let row = |name: &str, r: &PairRss| {
        vec![
            name.to_string(),
            args.pairs.to_string(),
            per(r.idle, r.before, args.pairs),
            per(r.small, r.before, args.pairs),
            per(r.large, r.before, args.pairs),
        ]
    };
    cmp.row(row("interlink (gateway)", &relay));
    for t in &tunnels {
        let pids: Vec<u32> = t.children.iter().map(|c| c.pid()).collect();
        let addr = SocketAddr::from(([127, 0, 0, 1], t.public_port));
        let (r, pairs) = measure_pairs(&pids, args.pairs, || ws_connect(addr)).await?;
        cmp.row(row(&format!("{} (server + client)", t.name), &r));
        close_all(pairs).await;
    }
    println!("\n#### Relay-side memory per open WebSocket pair, same run\n");
    for n in &notes {
        println!("- note: {n}");
    }
    background(&cpu0);
    println!("\n{}", cmp.render());
    drop(tunnels);
    direct.stop().await;
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
