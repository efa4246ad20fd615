//! `hub-bench fanout`: one broadcast of a 1 KiB hub message to N WebSocket clients, through
//! interlink's hub server and, in the same run, through a minimal WebSocket server built on
//! the same io pieces (the baseline of the "hub / raw WS" ratio).
//!
//! **Processes.** The server under test is a child process (`hub-bench fanout-server`), so
//! the clients do not take the server's threads: `--kind hub` is a `HubService` with one
//! method, `broadcast(payload)`, which calls `clients().others().send("msg", [payload])`
//! (encoded once, the same bytes queued on every connection); `--kind ws` is
//! `interlink::net::serve` + io's WebSocket `drive` loop per socket that answers the SignalR
//! handshake with `{}` and, for each message of its control socket, queues that very frame
//! on every other socket. The parent binds the listening socket (port from the OS) and
//! hands it down as an inherited fd.
//!
//! **Clients.** All in the parent, on one thread (a `LocalExecutor`), one task per
//! connection: TCP connect, io's client WebSocket handshake (`net::ws_handshake`, the
//! SignalR `skipNegotiation` path), then a core WebSocket [`Connection`] and a core hub
//! [`ClientConnection`] driven by hand — the SignalR handshake, keep-alive Pings every 15 s,
//! decoding of every message. No `HubClient` (its tasks and channels per connection would
//! cost more than the server work measured). A controller connection triggers each
//! broadcast: a hub client invoking `broadcast` (hub) or a raw WebSocket sending the encoded
//! hub frame (ws). The payload carries its sequence number and the parent's clock at the
//! trigger; a client takes the clock again when its hub decoder hands out the Invocation.
//! Both readings come from the parent's `std::time::Instant`, so no clock is shared across
//! processes.
//!
//! **Rounds.** Per server and N: connect N clients (and check the counts), warm-up, then R
//! rounds one at a time (a round ends when all N got the message) and then a pipelined run
//! with K broadcasts in flight. deliveries/s = N × rounds / (first trigger → last
//! delivery). Every wait is bounded.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd};
use std::process::Command;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures_lite::future;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use interlink::hub::server::{Hub, HubOptions, HubService};
use interlink::hub::transport::{HubRoute, HubServer, HubServerOptions};
use interlink::net::{self, Body, ConnInfo, HandshakeOutcome, Stream, Target};
use interlink::ws::{DriveOptions, DriverEvent, WsCommand, drive};
use interlink_benches::procs::{self, Child, CpuSnapshot};
use interlink_benches::report::{Samples, Table, machine, ms, utc_now};
use interlink_core::hub::{
    ClientConnection, ClientEvent, ConnectionOptions, Headers, HubMessage, HubProtocol, Invocation,
    RawValue, encode_to_bytes,
};
use interlink_core::ws::{Connection, ConnectionConfig, Event, Message, OpCode, Role};

/// Where clients connect (both servers).
const HUB_PATH: &str = "/fanout";
/// The ws server's trigger socket.
const CONTROL_PATH: &str = "/control";
/// The hub method the controller invokes.
const BROADCAST_METHOD: &str = "broadcast";
/// The client method every broadcast calls.
const CLIENT_METHOD: &str = "msg";
/// Payload prefix: `#` + 10-digit sequence + `:` + 20-digit nanoseconds + `:`.
const STAMP_LEN: usize = 33;
/// Read buffer of one client.
const READ_BUF: usize = 4096;
/// TCP connect + WebSocket handshake + SignalR handshake of one client.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// Which server a run measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServerKind {
    /// interlink's hub server (`HubService` + `HubServer`).
    Hub,
    /// The raw WebSocket broadcast baseline.
    Ws,
}

impl ServerKind {
    fn arg(self) -> &'static str {
        match self {
            ServerKind::Hub => "hub",
            ServerKind::Ws => "ws",
        }
    }

    fn label(self) -> &'static str {
        match self {
            ServerKind::Hub => "interlink hub",
            ServerKind::Ws => "raw WebSocket",
        }
    }
}

/// The hub protocol of the clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Protocol {
    Json,
    Messagepack,
}

impl Protocol {
    fn hub(self) -> HubProtocol {
        match self {
            Protocol::Json => HubProtocol::Json,
            Protocol::Messagepack => HubProtocol::MessagePack,
        }
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Params {
    pub clients: Vec<usize>,
    pub servers: Vec<ServerKind>,
    pub rounds: usize,
    pub warmup: usize,
    pub pipeline: usize,
    pub pipeline_rounds: usize,
    pub protocol: Protocol,
    /// Bytes of the hub frame (the WebSocket message payload).
    pub size: usize,
    pub server_threads: usize,
    pub connect_concurrency: usize,
    pub round_timeout: Duration,
}

// ---------------------------------------------------------------------------------------
// The server process.

/// `hub-bench fanout-server`: serves `kind` on the inherited listening socket `listen_fd`
/// (or on a fresh 127.0.0.1 port, printed on stderr, when run by hand) until killed.
pub fn run_server(kind: ServerKind, listen_fd: Option<i32>) -> Result<()> {
    smol::block_on(async {
        let listener = match listen_fd {
            Some(fd) => {
                // SAFETY: the parent passed us this listening socket and nothing else here
                // owns the descriptor.
                let std = unsafe { std::net::TcpListener::from_raw_fd(fd) };
                std.set_nonblocking(true)?;
                smol::net::TcpListener::try_from(std)?
            }
            None => smol::net::TcpListener::bind("127.0.0.1:0").await?,
        };
        eprintln!(
            "fanout-server ({}) listening on {} (pid {})",
            kind.arg(),
            listener.local_addr()?,
            std::process::id()
        );
        match kind {
            ServerKind::Hub => serve_hub(listener).await,
            ServerKind::Ws => serve_ws(listener).await,
        }
    })
}

async fn serve_hub(listener: smol::net::TcpListener) -> Result<()> {
    let hub = Hub::new().method(BROADCAST_METHOD, 1, |ctx, args| async move {
        let payload = args.raw(0)?.clone();
        ctx.clients().others().send(CLIENT_METHOD, vec![payload])?;
        Ok(None)
    });
    let service = HubService::new(hub, HubOptions::default());
    let route = HubRoute::new(HUB_PATH);
    service.serve(route.acceptor());
    let server = HubServer::start_on(listener, HubServerOptions::local(vec![route]))?;
    future::pending::<()>().await;
    drop(server);
    Ok(())
}

/// The baseline's connections: each socket's command channel, by a local id.
#[derive(Default)]
struct RawRegistry {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, async_channel::Sender<WsCommand>>>,
}

impl RawRegistry {
    /// Queues `message` (one frame, same bytes) on every registered socket.
    fn broadcast(&self, message: Message) {
        let (opcode, data) = match message {
            Message::Text(s) => (OpCode::Text, Bytes::from(s)),
            Message::Binary(b) => (OpCode::Binary, b),
        };
        let conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        for tx in conns.values() {
            let _ = tx.try_send(WsCommand::Fragment {
                opcode,
                data: data.clone(),
                first: true,
                fin: true,
            });
        }
    }
}

async fn serve_ws(listener: smol::net::TcpListener) -> Result<()> {
    let registry = Arc::new(RawRegistry::default());
    let handler = move |mut req: Request<Incoming>, _info: ConnInfo| {
        let registry = registry.clone();
        async move {
            let checked = interlink_core::ws::check_upgrade_request(
                req.method().as_str(),
                req.headers()
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_bytes())),
            );
            let key = match checked {
                Ok(upgrade) => upgrade.key,
                Err(e) => {
                    let mut resp = Response::new(net::empty());
                    *resp.status_mut() =
                        StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
                    return resp;
                }
            };
            let control = req.uri().path() == CONTROL_PATH;
            let on_upgrade = hyper::upgrade::on(&mut req);
            smol::spawn(raw_session(registry, on_upgrade, control)).detach();
            let mut resp: Response<Body> = Response::new(net::empty());
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            for (name, value) in interlink_core::ws::response_101_headers(&key, None) {
                if let Ok(value) = HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(name, value);
                }
            }
            resp
        }
    };
    net::serve(listener, None, handler, future::pending::<()>()).await?;
    Ok(())
}

/// One socket of the baseline: io's `drive` loop plus a reader of its events. A client
/// socket is registered for broadcasts when its SignalR handshake request arrives (answered
/// with `{}`); later messages (keep-alive Pings) are read and dropped. Each message of a
/// control socket is broadcast.
async fn raw_session(
    registry: Arc<RawRegistry>,
    on_upgrade: hyper::upgrade::OnUpgrade,
    control: bool,
) {
    let Ok(stream) = net::upgraded(on_upgrade).await else {
        return;
    };
    let conn = Connection::new(ConnectionConfig::new(Role::Server), fastrand::u64(..));
    let (cmd_tx, cmd_rx) = async_channel::unbounded();
    let (ev_tx, ev_rx) = async_channel::bounded(16);
    let driver = drive(
        stream,
        &[],
        conn,
        cmd_rx,
        ev_tx,
        |e| e,
        DriveOptions::default(),
    );
    let id = registry.next.fetch_add(1, Ordering::Relaxed);
    let reader = async {
        let mut registered = false;
        while let Ok(event) = ev_rx.recv().await {
            match event {
                DriverEvent::Ws(Event::Message(m)) if control => registry.broadcast(m),
                DriverEvent::Ws(Event::Message(Message::Text(t)))
                    if !registered && t.ends_with('\u{1e}') =>
                {
                    registered = true;
                    registry
                        .conns
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(id, cmd_tx.clone());
                    let _ = cmd_tx.send(WsCommand::Text("{}\u{1e}".into())).await;
                }
                DriverEvent::Ended { .. } => break,
                _ => {}
            }
        }
        registry
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
        drop(cmd_tx);
    };
    futures::join!(driver, reader);
}

/// Starts `hub-bench fanout-server --kind KIND` on a listening socket bound here.
fn spawn_server(kind: ServerKind, threads: usize) -> Result<(Child, SocketAddr)> {
    use std::os::unix::process::CommandExt;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("binding 127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let fd = listener.as_raw_fd();
    let exe = std::env::current_exe().context("the hub-bench binary")?;
    let mut cmd = Command::new(exe);
    cmd.args(["fanout-server", "--kind", kind.arg(), "--listen-fd"])
        .arg(fd.to_string())
        .env("SMOL_THREADS", threads.to_string())
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null());
    // SAFETY: fcntl is async-signal-safe; it clears close-on-exec on the listening socket
    // in the child only, so the server inherits it.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = Child::spawn(&format!("fanout-server ({})", kind.arg()), &mut cmd)?;
    drop(listener);
    std::thread::sleep(Duration::from_millis(100));
    child.check_running()?;
    Ok((child, addr))
}

// ---------------------------------------------------------------------------------------
// The clients (parent process, one thread).

/// CPU time (user + system, all threads) of process `pid`, or of this process for `None`,
/// in seconds, from the process's CPU-time clock (`clock_getcpuclockid`; nanoseconds,
/// where /proc/PID/stat counts 10 ms ticks).
fn cpu_seconds(pid: Option<u32>) -> f64 {
    let mut clock: libc::clockid_t = libc::CLOCK_PROCESS_CPUTIME_ID;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: both calls only write the values we pass.
    unsafe {
        if let Some(pid) = pid
            && libc::clock_getcpuclockid(pid as libc::pid_t, &mut clock) != 0
        {
            return 0.0;
        }
        if libc::clock_gettime(clock, &mut ts) != 0 {
            return 0.0;
        }
    }
    ts.tv_sec as f64 + ts.tv_nsec as f64 / 1e9
}

/// One broadcast being delivered.
struct Round {
    remaining: usize,
    latencies: Vec<Duration>,
    /// When its last delivery arrived (since `origin`).
    last: Duration,
}

/// State shared by the client tasks and the coordinator of one server instance.
struct Run {
    origin: Instant,
    protocol: HubProtocol,
    /// Expected WebSocket message size of a broadcast.
    frame_len: usize,
    /// The payload string (stamp overwritten per broadcast).
    payload: String,
    rounds: RefCell<Vec<Round>>,
    done: async_channel::Sender<usize>,
    connected: async_channel::Sender<Result<(), String>>,
    failures: Cell<usize>,
    first_failure: RefCell<Option<String>>,
}

impl Run {
    fn core_now(&self) -> interlink_core::time::Instant {
        interlink_core::time::Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    fn deadline(&self, at: interlink_core::time::Instant) -> Instant {
        self.origin + Duration::from_millis(at.as_millis())
    }

    fn fail(&self, what: String) {
        self.failures.set(self.failures.get() + 1);
        let mut first = self.first_failure.borrow_mut();
        if first.is_none() {
            *first = Some(what);
        }
    }

    /// A new round expecting `n` deliveries; returns its sequence number.
    fn new_round(&self, n: usize) -> usize {
        let mut rounds = self.rounds.borrow_mut();
        rounds.push(Round {
            remaining: n,
            latencies: Vec::with_capacity(n),
            last: Duration::ZERO,
        });
        rounds.len() - 1
    }

    /// The payload of broadcast `seq`, stamped now.
    fn stamped(&self, seq: usize) -> String {
        let now = self.origin.elapsed().as_nanos() as u64;
        let mut s = format!("#{seq:010}:{now:020}:");
        s.push_str(&self.payload[STAMP_LEN..]);
        s
    }

    /// A client received `raw` (the broadcast's argument) in a WebSocket message of
    /// `ws_len` bytes.
    fn delivered(&self, raw: &RawValue, ws_len: usize) {
        let now = self.origin.elapsed();
        if ws_len != self.frame_len {
            self.fail(format!(
                "a broadcast arrived as {ws_len} B, expected {} B",
                self.frame_len
            ));
            return;
        }
        let Some((seq, sent)) = parse_stamp(raw.as_bytes()) else {
            self.fail("a broadcast without a readable stamp".into());
            return;
        };
        let mut rounds = self.rounds.borrow_mut();
        let Some(round) = rounds.get_mut(seq).filter(|r| r.remaining > 0) else {
            drop(rounds);
            self.fail(format!("broadcast {seq} arrived more often than sent"));
            return;
        };
        round
            .latencies
            .push(now.saturating_sub(Duration::from_nanos(sent)));
        round.last = now;
        round.remaining -= 1;
        if round.remaining == 0 {
            let _ = self.done.try_send(seq);
        }
    }
}

/// `(seq, sent_ns)` from an encoded string argument (JSON string or MessagePack str).
fn parse_stamp(raw: &[u8]) -> Option<(usize, u64)> {
    let skip = match *raw.first()? {
        b'"' | 0xa0..=0xbf => 1,
        0xd9 => 2,
        0xda => 3,
        0xdb => 5,
        _ => return None,
    };
    let s = raw.get(skip..skip + STAMP_LEN)?;
    if s[0] != b'#' || s[11] != b':' || s[32] != b':' {
        return None;
    }
    let seq = std::str::from_utf8(&s[1..11]).ok()?.parse().ok()?;
    let sent = std::str::from_utf8(&s[12..32]).ok()?.parse().ok()?;
    Some((seq, sent))
}

/// The broadcast's hub frame for `payload` (what the hub server sends, byte for byte).
fn broadcast_frame(protocol: HubProtocol, payload: &str) -> Result<Bytes> {
    let arg = RawValue::from_serde(protocol, payload)?;
    let msg = HubMessage::Invocation(Invocation {
        headers: Headers::new(),
        invocation_id: None,
        target: CLIENT_METHOD.into(),
        arguments: vec![arg],
        stream_ids: Vec::new(),
    });
    Ok(encode_to_bytes(protocol, &msg)?)
}

/// A payload string of the length that makes the broadcast frame exactly `size` bytes.
fn sized_payload(protocol: HubProtocol, size: usize) -> Result<String> {
    let probe = "x".repeat(size.max(STAMP_LEN + 64));
    let overhead = broadcast_frame(protocol, &probe)?.len() - probe.len();
    if size < overhead + STAMP_LEN {
        bail!("--size {size} is too small: the frame alone takes {overhead} B");
    }
    let payload = format!("#{:010}:{:020}:", 0, 0) + &"x".repeat(size - overhead - STAMP_LEN);
    let len = broadcast_frame(protocol, &payload)?.len();
    if len != size {
        bail!("could not size the payload: frame is {len} B, wanted {size} B");
    }
    Ok(payload)
}

/// What a client connection does besides receiving.
enum PeerRole {
    /// A hub client on `/fanout` that records broadcasts.
    Receiver,
    /// A hub client on `/fanout` that invokes `broadcast(payload)` for each sequence number.
    HubController(async_channel::Receiver<usize>),
    /// A WebSocket on `/control` that sends the encoded broadcast frame for each one.
    RawController(async_channel::Receiver<usize>),
}

enum Wake {
    Read(std::io::Result<usize>),
    Timer,
    Trigger(Option<usize>),
}

/// Opens one client and runs it until it fails (or its task is dropped). Reports the
/// outcome of connecting on `run.connected`.
async fn peer(run: Rc<Run>, addr: SocketAddr, role: PeerRole, gate: Rc<smol::lock::Semaphore>) {
    let mut permit = Some(gate.acquire().await);
    let path = match role {
        PeerRole::RawController(_) => CONTROL_PATH,
        _ => HUB_PATH,
    };
    let opened = net::with_timeout(CONNECT_TIMEOUT, async {
        let target = Target::parse(&format!("ws://{addr}{path}"))?;
        let tcp = smol::net::TcpStream::connect(addr).await?;
        tcp.set_nodelay(true)?;
        let key = interlink_core::ws::generate_key(&mut fastrand::Rng::new());
        net::ws_handshake(Stream::from(tcp), &target, &key, &[], &[]).await
    })
    .await;
    let (mut stream, leftover) = match opened {
        Ok(HandshakeOutcome::Upgraded {
            stream, leftover, ..
        }) => (stream, leftover),
        Ok(HandshakeOutcome::Refused { head, .. }) => {
            let _ = run
                .connected
                .try_send(Err(format!("WebSocket refused: {}", head.status)));
            return;
        }
        Err(e) => {
            let _ = run.connected.try_send(Err(format!("connect: {e}")));
            return;
        }
    };
    let mut ws = Connection::new(ConnectionConfig::new(Role::Client), fastrand::u64(..));
    ws.handle_input(&leftover);
    let mut hub = match role {
        PeerRole::RawController(_) => {
            // No hub protocol on the control socket: it is up now.
            let _ = run.connected.try_send(Ok(()));
            permit = None;
            None
        }
        _ => {
            let options = ConnectionOptions {
                // The raw baseline sends no Pings; keep its clients from timing out while
                // 10,000 connect. (Clients still send their own Pings every 15 s.)
                timeout: Duration::from_secs(600),
                ..ConnectionOptions::default()
            };
            Some(ClientConnection::new(
                options,
                run.protocol,
                false,
                run.core_now(),
            ))
        }
    };
    let triggers = match &role {
        PeerRole::HubController(rx) | PeerRole::RawController(rx) => Some(rx.clone()),
        PeerRole::Receiver => None,
    };
    let receiver = matches!(role, PeerRole::Receiver);
    let mut reported = hub.is_none();
    let mut buf = vec![0u8; READ_BUF];
    let mut timer = async_io::Timer::never();
    let mut armed: Option<Instant> = None;
    let outcome: Result<(), String> = 'run: loop {
        // WebSocket messages → hub connection → events.
        loop {
            let message = match ws.poll_event() {
                Ok(Some(Event::Message(m))) => m,
                Ok(Some(Event::Close(_))) => {
                    break 'run Err("the server closed the WebSocket".into());
                }
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => break 'run Err(format!("WebSocket protocol error: {e}")),
            };
            let Some(conn) = hub.as_mut() else { continue };
            let (data, len): (&[u8], usize) = match &message {
                Message::Text(t) => (t.as_bytes(), t.len()),
                Message::Binary(b) => (b, b.len()),
            };
            conn.handle_data(data, run.core_now());
            while let Some(event) = conn.poll_event() {
                match event {
                    ClientEvent::Connected(_) => {
                        let _ = run.connected.try_send(Ok(()));
                        reported = true;
                        permit = None;
                    }
                    ClientEvent::Invocation(inv) if receiver && inv.target == CLIENT_METHOD => {
                        match inv.arguments.first() {
                            Some(arg) if inv.arguments.len() == 1 => run.delivered(arg, len),
                            _ => run.fail("a broadcast with the wrong arguments".into()),
                        }
                    }
                    ClientEvent::Closed { reason, error, .. } => {
                        break 'run Err(format!("hub connection closed: {reason:?} {error:?}"));
                    }
                    _ => {}
                }
            }
        }
        if let Some(conn) = hub.as_mut() {
            while let Some(t) = conn.poll_transmit() {
                let sent = if t.binary {
                    ws.send_binary(&t.data)
                } else {
                    ws.send_text(std::str::from_utf8(&t.data).unwrap_or_default())
                };
                if let Err(e) = sent {
                    break 'run Err(format!("WebSocket send: {e}"));
                }
            }
            if let Some(at) = conn.poll_timeout().map(|t| run.deadline(t))
                && armed.is_none_or(|a| at < a)
            {
                timer.set_at(at);
                armed = Some(at);
            }
        }
        while let Some(bytes) = ws.poll_transmit() {
            if let Err(e) = stream.write_all(&bytes).await {
                break 'run Err(format!("write: {e}"));
            }
        }
        let read = async { Wake::Read(stream.read(&mut buf).await) };
        let tick = async {
            (&mut timer).await;
            Wake::Timer
        };
        let trigger = async {
            match &triggers {
                Some(rx) => Wake::Trigger(rx.recv().await.ok()),
                None => future::pending().await,
            }
        };
        match future::or(read, future::or(tick, trigger)).await {
            Wake::Read(Ok(0)) => break Err("the server closed the connection".into()),
            Wake::Read(Ok(n)) => ws.handle_input(&buf[..n]),
            Wake::Read(Err(e)) => break Err(format!("read: {e}")),
            Wake::Timer => {
                armed = None;
                if let Some(conn) = hub.as_mut() {
                    conn.handle_timeout(run.core_now());
                }
            }
            Wake::Trigger(None) => break Ok(()),
            Wake::Trigger(Some(seq)) => {
                let payload = run.stamped(seq);
                let sent = match hub.as_mut() {
                    Some(conn) => RawValue::from_serde(run.protocol, &payload)
                        .map_err(|e| e.to_string())
                        .and_then(|arg| {
                            conn.send(BROADCAST_METHOD, vec![arg], Vec::new(), run.core_now())
                                .map_err(|e| e.to_string())
                        }),
                    None => match broadcast_frame(run.protocol, &payload) {
                        Ok(frame) if run.protocol == HubProtocol::Json => ws
                            .send_text(std::str::from_utf8(&frame).unwrap_or_default())
                            .map_err(|e| e.to_string()),
                        Ok(frame) => ws.send_binary(&frame).map_err(|e| e.to_string()),
                        Err(e) => Err(e.to_string()),
                    },
                };
                if let Err(e) = sent {
                    break Err(format!("trigger {seq}: {e}"));
                }
            }
        }
    };
    drop(permit);
    if let Err(e) = outcome {
        // Before the hub handshake finished this is a failed connect, else a broken client.
        if reported {
            run.fail(e);
        } else {
            let _ = run.connected.try_send(Err(e));
        }
    }
}

/// One measured series of broadcasts.
struct Series {
    kind: ServerKind,
    n: usize,
    in_flight: usize,
    rounds: usize,
    elapsed: Duration,
    latencies: Samples,
    server_cpu: f64,
    client_cpu: f64,
    others: f64,
}

impl Series {
    fn deliveries_per_s(&self) -> f64 {
        (self.n * self.rounds) as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Setup and memory of one server instance.
struct Instance {
    kind: ServerKind,
    n: usize,
    connect: Duration,
    rss_start: u64,
    rss_connected: u64,
    rss_end: u64,
    fds: usize,
    series: Vec<Series>,
}

/// Everything measured against one server process.
struct Session<'a> {
    run: Rc<Run>,
    trigger: async_channel::Sender<usize>,
    done: async_channel::Receiver<usize>,
    server: &'a Child,
    p: &'a Params,
    kind: ServerKind,
    n: usize,
}

impl Session<'_> {
    fn check_failures(&self) -> Result<()> {
        if self.run.failures.get() > 0 {
            bail!(
                "{} client failure(s), first: {}",
                self.run.failures.get(),
                self.run.first_failure.borrow().clone().unwrap_or_default()
            );
        }
        Ok(())
    }

    /// `rounds` broadcasts, at most `window` in flight; returns the first sequence number,
    /// the time from the first trigger to the last delivery, and the time taken.
    async fn broadcasts(&self, rounds: usize, window: usize) -> Result<(usize, Duration)> {
        let first = self.run.rounds.borrow().len();
        let start = self.run.origin.elapsed();
        let (mut sent, mut finished) = (0, 0);
        while finished < rounds {
            while sent < rounds && sent - finished < window.max(1) {
                let seq = self.run.new_round(self.n);
                self.trigger
                    .send(seq)
                    .await
                    .context("the controller connection is gone")?;
                sent += 1;
            }
            let limit = self.p.round_timeout;
            let got = future::or(async { self.done.recv().await.ok() }, async {
                async_io::Timer::after(limit).await;
                None
            })
            .await;
            self.check_failures()?;
            if got.is_none() {
                let rounds = self.run.rounds.borrow();
                let missing: usize = rounds[first..].iter().map(|r| r.remaining).sum();
                bail!(
                    "{} with N = {}: {missing} deliveries still missing after {limit:?} (round timeout)",
                    self.kind.label(),
                    self.n
                );
            }
            finished += 1;
        }
        let rounds = self.run.rounds.borrow();
        let last = rounds[first..]
            .iter()
            .map(|r| r.last)
            .max()
            .unwrap_or(start);
        Ok((first, last.saturating_sub(start)))
    }

    async fn series(&self, rounds: usize, window: usize) -> Result<Series> {
        if self.p.warmup > 0 {
            self.broadcasts(self.p.warmup, window).await?;
        }
        let pid = Some(self.server.pid());
        let (cpu0, srv0, own0) = (CpuSnapshot::now(), cpu_seconds(pid), cpu_seconds(None));
        let (first, elapsed) = self.broadcasts(rounds, window).await?;
        let (cpu1, srv1, own1) = (CpuSnapshot::now(), cpu_seconds(pid), cpu_seconds(None));
        let latencies = {
            let mut rounds_ = self.run.rounds.borrow_mut();
            let mut all = Vec::with_capacity(self.n * rounds);
            for r in &mut rounds_[first..first + rounds] {
                all.append(&mut r.latencies);
            }
            Samples::new(all)
        };
        Ok(Series {
            kind: self.kind,
            n: self.n,
            in_flight: window,
            rounds,
            elapsed,
            latencies,
            server_cpu: srv1 - srv0,
            client_cpu: own1 - own0,
            others: cpu0.others_percent(&cpu1),
        })
    }
}

/// Starts a `kind` server, connects `n` clients and a controller, runs the series.
async fn measure_instance(
    ex: &smol::LocalExecutor<'static>,
    p: &Params,
    kind: ServerKind,
    n: usize,
) -> Result<Instance> {
    let (server, addr) = spawn_server(kind, p.server_threads)?;
    let pid = server.pid();
    eprintln!(
        "hub-bench fanout: {} server pid {pid} on {addr}, connecting {n} clients",
        kind.label()
    );
    let protocol = p.protocol.hub();
    let (done_tx, done_rx) = async_channel::unbounded();
    let (conn_tx, conn_rx) = async_channel::unbounded();
    let run = Rc::new(Run {
        origin: Instant::now(),
        protocol,
        frame_len: p.size,
        payload: sized_payload(protocol, p.size)?,
        rounds: RefCell::new(Vec::new()),
        done: done_tx,
        connected: conn_tx,
        failures: Cell::new(0),
        first_failure: RefCell::new(None),
    });
    async_io::Timer::after(Duration::from_millis(200)).await;
    let rss_start = procs::rss_kib(pid)?;

    let gate = Rc::new(smol::lock::Semaphore::new(p.connect_concurrency.max(1)));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(n + 1);
    for _ in 0..n {
        tasks.push(ex.spawn(peer(run.clone(), addr, PeerRole::Receiver, gate.clone())));
    }
    let limit = CONNECT_TIMEOUT + Duration::from_millis(20 * n as u64);
    let wait_all = async {
        let (mut ok, mut first_err) = (0, None);
        for _ in 0..n {
            match conn_rx.recv().await {
                Ok(Ok(())) => ok += 1,
                Ok(Err(e)) => {
                    first_err.get_or_insert(e);
                }
                Err(_) => break,
            }
        }
        Some((ok, first_err))
    };
    let waited = future::or(wait_all, async {
        async_io::Timer::after(limit).await;
        None
    })
    .await;
    let Some((opened, first_err)) = waited else {
        bail!(
            "{}: {n} clients did not connect within {limit:?}",
            kind.label()
        );
    };
    if opened < n {
        bail!(
            "{}: opened only {opened} of {n} WebSocket clients; first error: {}",
            kind.label(),
            first_err.unwrap_or_default()
        );
    }
    let connect = started.elapsed();
    // The controller comes last, so every receiver is registered when it triggers.
    let (trigger_tx, trigger_rx) = async_channel::bounded(64);
    let role = match kind {
        ServerKind::Hub => PeerRole::HubController(trigger_rx),
        ServerKind::Ws => PeerRole::RawController(trigger_rx),
    };
    tasks.push(ex.spawn(peer(run.clone(), addr, role, gate.clone())));
    match future::or(async { conn_rx.recv().await.ok() }, async {
        async_io::Timer::after(CONNECT_TIMEOUT).await;
        None
    })
    .await
    {
        Some(Ok(())) => {}
        other => bail!("the controller did not connect: {other:?}"),
    }
    async_io::Timer::after(Duration::from_millis(300)).await;
    let rss_connected = procs::rss_kib(pid)?;
    let fds = procs::open_fds(pid);
    eprintln!(
        "hub-bench fanout: {n} clients connected in {:.2} s; server RSS {rss_connected} KiB",
        connect.as_secs_f64()
    );

    let session = Session {
        run: run.clone(),
        trigger: trigger_tx,
        done: done_rx,
        server: &server,
        p,
        kind,
        n,
    };
    let mut series = Vec::new();
    series.push(session.series(p.rounds, 1).await?);
    if p.pipeline > 1 && p.pipeline_rounds > 0 {
        series.push(session.series(p.pipeline_rounds, p.pipeline).await?);
    }
    session.check_failures()?;
    let rss_end = procs::rss_kib(pid)?;
    drop(session);
    for t in tasks {
        t.cancel().await;
    }
    drop(server);
    Ok(Instance {
        kind,
        n,
        connect,
        rss_start,
        rss_connected,
        rss_end,
        fds,
        series,
    })
}

/// Checks the file-descriptor and port budget for `max_n` clients (+ the server's side,
/// in its own process).
fn check_limits(max_n: usize) -> Result<(u64, u64)> {
    let want = max_n as u64 + 512;
    let (soft, hard) = procs::raise_nofile(want);
    if soft < want {
        bail!(
            "{max_n} clients need about {want} file descriptors per process, but RLIMIT_NOFILE is {soft} (hard {hard}): raise it (`ulimit -n {want}` as root or in limits.conf) or use fewer --clients"
        );
    }
    if let Ok(range) = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range") {
        let v: Vec<u64> = range
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if let [lo, hi] = v[..]
            && hi + 1 - lo < max_n as u64 + 100
        {
            bail!(
                "{max_n} loopback clients need {max_n} ephemeral ports, net.ipv4.ip_local_port_range has {}",
                hi + 1 - lo
            );
        }
    }
    Ok((soft, hard))
}

/// Runs everything and prints the report.
pub fn run(p: &Params) -> Result<()> {
    let max_n = p.clients.iter().copied().max().unwrap_or(0);
    if max_n == 0 {
        bail!("--clients must name at least one N > 0");
    }
    let limits = check_limits(max_n)?;
    let date = utc_now();
    let started = Instant::now();
    let ex = smol::LocalExecutor::new();
    let instances = smol::block_on(ex.run(async {
        let mut out = Vec::new();
        for &n in &p.clients {
            for &kind in &p.servers {
                out.push(measure_instance(&ex, p, kind, n).await?);
            }
        }
        Ok::<_, anyhow::Error>(out)
    }))?;
    print_report(p, &instances, &date, limits, started.elapsed());
    Ok(())
}

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

fn print_report(
    p: &Params,
    instances: &[Instance],
    date: &str,
    limits: (u64, u64),
    elapsed: Duration,
) {
    let proto = match p.protocol {
        Protocol::Json => "JSON",
        Protocol::Messagepack => "MessagePack",
    };
    println!(
        "### Hub fan-out: one {} B {proto} hub message to N WebSocket clients\n",
        p.size
    );
    println!("- date: {date}");
    println!("- machine: {}", machine());
    println!(
        "- server: a child process, SMOL_THREADS={}; clients: {} connections in the harness process on one thread (core WebSocket + ClientConnection per connection, skipNegotiation)",
        p.server_threads,
        p.clients
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(" / ")
    );
    println!(
        "- per server and N: {} warm-up round(s), then {} rounds one at a time (in flight 1), then {} rounds with {} in flight; latency = trigger in the harness → Invocation decoded by the client, over every delivery",
        p.warmup, p.rounds, p.pipeline_rounds, p.pipeline
    );
    println!(
        "- hub / raw WS: ratio of deliveries/s (and of server CPU per delivery) against the raw WebSocket server of the same N and in-flight count (same clients, same {} B frames)",
        p.size
    );
    println!(
        "- CPU µs per delivery: user+system CPU time of the server process, and of the harness (all clients), over the series ÷ deliveries (the processes' CPU-time clocks)"
    );
    println!("- fd limit (soft/hard): {}/{}\n", limits.0, limits.1);

    let mut t = Table::new(&[
        "N",
        "server",
        "in flight",
        "rounds",
        "deliveries/s",
        "hub / raw WS",
        "p50 ms",
        "p99 ms",
        "max ms",
        "mean ms",
        "server CPU µs/delivery",
        "CPU hub / raw WS",
        "clients CPU µs/delivery",
        "other procs CPU",
    ]);
    for inst in instances {
        for s in &inst.series {
            let baseline = instances
                .iter()
                .filter(|i| i.kind == ServerKind::Ws && i.n == s.n)
                .flat_map(|i| &i.series)
                .find(|b| b.in_flight == s.in_flight);
            let per_delivery = |x: &Series| x.server_cpu * 1e6 / (x.n * x.rounds) as f64;
            let (ratio, cpu_ratio) = match (s.kind, baseline) {
                (ServerKind::Hub, Some(b)) => (
                    format!("{:.2}", s.deliveries_per_s() / b.deliveries_per_s()),
                    format!("{:.2}", per_delivery(s) / per_delivery(b).max(1e-9)),
                ),
                (ServerKind::Ws, _) => ("1.00".into(), "1.00".into()),
                _ => ("—".into(), "—".into()),
            };
            let deliveries = (s.n * s.rounds) as f64;
            t.row(vec![
                thousands(s.n as f64),
                s.kind.label().into(),
                s.in_flight.to_string(),
                s.rounds.to_string(),
                thousands(s.deliveries_per_s()),
                ratio,
                ms(s.latencies.percentile(50.0)),
                ms(s.latencies.percentile(99.0)),
                ms(s.latencies.percentile(100.0)),
                ms(s.latencies.mean()),
                format!("{:.2}", per_delivery(s)),
                cpu_ratio,
                format!("{:.2}", s.client_cpu * 1e6 / deliveries),
                format!("{:.0} %", s.others),
            ]);
        }
    }
    println!("{}\n", t.render());

    let mut m = Table::new(&[
        "N",
        "server",
        "connect N s",
        "server RSS idle KiB",
        "RSS with N clients KiB",
        "KiB per connection",
        "RSS after the rounds KiB",
        "server fds",
    ]);
    for inst in instances {
        m.row(vec![
            thousands(inst.n as f64),
            inst.kind.label().into(),
            format!("{:.2}", inst.connect.as_secs_f64()),
            inst.rss_start.to_string(),
            inst.rss_connected.to_string(),
            format!(
                "{:.1}",
                inst.rss_connected.saturating_sub(inst.rss_start) as f64 / inst.n as f64
            ),
            inst.rss_end.to_string(),
            inst.fds.to_string(),
        ]);
    }
    println!("{}\n", m.render());
    println!("- whole run: {:.1} s", elapsed.as_secs_f64());
}
