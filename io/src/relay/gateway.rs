//! The relay gateway server: one port serving `/$hc/{path}` WebSocket upgrades (listeners'
//! control channels, senders, rendezvous) and `/{path}` HTTP senders, around the sans-IO
//! [`Gateway`].
//!
//! The adapter only moves bytes: every decision (auth, routing, deadlines, limits) is made by
//! the core. Inputs from all connections are fed under one lock; outputs are dispatched to
//! per-connection channels without waiting, except response-body pieces, which wait for the
//! sender to take them (backpressure on the listener). Paired WebSockets are forwarded frame
//! by frame by [`forward_frames`], outside the core.

use crate::net::{self, Body, BodySender, ConnInfo, ServerTls};
use crate::ws::{DriveOptions, DriverEvent, WsCommand, drive, forward_frames};
use bytes::{Bytes, BytesMut};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use interlink_core::relay::address::Endpoint;
use interlink_core::relay::connection_string::ConnectionString;
use interlink_core::relay::gateway::{
    AfterUpgrade, ConnId, Gateway, GatewayConfig, GatewayStats, HttpRequest, Output, RequestBody,
    ResponseBody, UpgradeRequest, WsOut,
};
use interlink_core::relay::message::{Headers, RemoteEndpoint};
use interlink_core::relay::sas::{Rights, SasValidator, SharedAccessRule, TokenValidator};
use interlink_core::time::Instant;
use interlink_core::ws::{self, Connection, ConnectionConfig, Event, OpCode, Role};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// How long upgraded connections get to finish after a shutdown began.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(1);

/// Settings of a [`GatewayServer`].
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// Address to listen on (`127.0.0.1:0` lets the OS choose the port).
    pub bind: SocketAddr,
    /// TLS for `wss://` / `https://`; plaintext when `None`.
    pub tls: Option<ServerTls>,
    /// Hybrid connections and limits.
    pub config: GatewayConfig,
    /// SAS rules that sign valid tokens.
    pub rules: Vec<SharedAccessRule>,
    /// How long a paired WebSocket may go on after the first Close passed (half-close).
    pub close_linger: Duration,
}

impl GatewayOptions {
    /// A local default: `127.0.0.1:0`, any hybrid connection name, one generated rule
    /// `RootManageSharedAccessKey` with Listen, Send and Manage rights.
    pub fn local() -> Self {
        GatewayOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            config: GatewayConfig::default(),
            rules: vec![SharedAccessRule::new(
                "RootManageSharedAccessKey",
                generate_key(),
                Rights::ALL,
            )],
            close_linger: Duration::from_secs(30),
        }
    }
}

/// A random SAS key: 32 random bytes, base64, like Azure's generated keys.
pub fn generate_key() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    let mut rng = fastrand::Rng::with_seed(entropy());
    for b in &mut bytes {
        *b = rng.u8(..);
    }
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Seed material from the OS (via std's randomly keyed hasher) and the clock.
fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}

/// What a waiting upgrade request is told.
enum Decision {
    Upgrade {
        protocol: Option<String>,
        then: Then,
    },
    Refuse {
        status: u16,
        reason: String,
    },
}

enum Then {
    Driven {
        commands: async_channel::Receiver<WsCommand>,
    },
    /// Wait for the peer's upgraded stream.
    PairWait(async_channel::Receiver<(net::Upgraded, BytesMut)>),
    /// Hand our upgraded stream to the peer.
    PairGive(async_channel::Sender<(net::Upgraded, BytesMut)>),
}

/// What a waiting HTTP sender is told.
enum HttpOut {
    Response(Response<Body>),
    Pipe {
        to: async_channel::Sender<WsCommand>,
    },
}

/// Per-connection channels the dispatcher writes to.
enum Slot {
    /// An upgrade request waiting for its decision; `commands` is created early so messages
    /// for a driven WebSocket can queue before its 101 goes out.
    Upgrade {
        decision: Option<async_channel::Sender<Decision>>,
        commands: (
            async_channel::Sender<WsCommand>,
            async_channel::Receiver<WsCommand>,
        ),
    },
    /// A driven WebSocket.
    Ws {
        commands: async_channel::Sender<WsCommand>,
    },
    /// An HTTP sender.
    Http { tx: async_channel::Sender<HttpOut> },
}

struct Shared {
    gateway: Gateway,
    slots: HashMap<ConnId, Slot>,
    bodies: HashMap<ConnId, BodySender>,
    /// Bodies aborted while their sending end was out for a delivery.
    aborted: std::collections::HashSet<ConnId>,
}

struct Inner {
    shared: Mutex<Shared>,
    origin: std::time::Instant,
    next_id: AtomicU64,
    timer_kick: async_channel::Sender<()>,
    /// Closed (never sent on) when the server shuts down: upgraded connections end then.
    closing: async_channel::Receiver<()>,
    closing_tx: Mutex<Option<async_channel::Sender<()>>>,
    control_body_max: usize,
    control_message_max: usize,
    max_request_body: Option<u64>,
    request_body_timeout: Duration,
    close_linger: Duration,
}

/// A response-body step that must be carried out after the lock is released.
enum BodyWork {
    /// Hand a piece to the sender (waits while the sender's buffer is full).
    Data(ConnId, Bytes),
    /// The body is complete: drop its sending end.
    End(ConnId),
}

impl Inner {
    fn now(&self) -> Instant {
        Instant(self.origin.elapsed().as_millis() as u64)
    }

    fn next_conn(&self) -> ConnId {
        ConnId(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Feeds one input under the lock, then dispatches the outputs; body pieces are delivered
    /// after the lock is released, waiting for the sender to take them.
    async fn feed(&self, input: impl FnOnce(&mut Gateway, Instant)) {
        let work = self.feed_sync(input);
        self.deliver_bodies(work).await;
    }

    fn feed_sync(&self, input: impl FnOnce(&mut Gateway, Instant)) -> Vec<BodyWork> {
        let now = self.now();
        let mut shared = self.shared.lock().expect("gateway lock");
        let before = shared.gateway.poll_timeout();
        input(&mut shared.gateway, now);
        let work = dispatch(&mut shared);
        let after = shared.gateway.poll_timeout();
        drop(shared);
        if after.is_some() && (before.is_none() || after < before) {
            let _ = self.timer_kick.try_send(());
        }
        work
    }

    async fn deliver_bodies(&self, work: Vec<BodyWork>) {
        for item in work {
            let (conn, data) = match item {
                BodyWork::Data(conn, data) => (conn, data),
                BodyWork::End(conn) => {
                    self.shared
                        .lock()
                        .expect("gateway lock")
                        .bodies
                        .remove(&conn);
                    continue;
                }
            };
            let sender = self
                .shared
                .lock()
                .expect("gateway lock")
                .bodies
                .remove(&conn);
            let Some(sender) = sender else { continue };
            if sender.send(data).await.is_ok() {
                let mut shared = self.shared.lock().expect("gateway lock");
                if shared.aborted.remove(&conn) {
                    sender.abort();
                } else {
                    shared.bodies.insert(conn, sender);
                }
            } else {
                // The sender went away mid-body.
                self.feed_sync(|g, now| g.handle_disconnect(now, conn));
                let mut shared = self.shared.lock().expect("gateway lock");
                shared.slots.remove(&conn);
                shared.aborted.remove(&conn);
            }
        }
    }
}

/// Carries out every pending output. Never waits.
fn dispatch(shared: &mut Shared) -> Vec<BodyWork> {
    let mut work = Vec::new();
    let mut pairs: HashMap<ConnId, Then> = HashMap::new();
    while let Some(out) = shared.gateway.poll_output() {
        match out {
            Output::Upgrade {
                conn,
                protocol,
                then,
            } => {
                let Some(Slot::Upgrade { decision, commands }) = shared.slots.get_mut(&conn) else {
                    continue;
                };
                let decision_tx = decision.take();
                let then = match then {
                    AfterUpgrade::Driven => {
                        let rx = commands.1.clone();
                        let tx = commands.0.clone();
                        shared.slots.insert(conn, Slot::Ws { commands: tx });
                        Then::Driven { commands: rx }
                    }
                    AfterUpgrade::PairWith(peer) => {
                        shared.slots.remove(&conn);
                        match pairs.remove(&conn) {
                            Some(mine) => mine,
                            None => {
                                let (tx, rx) = async_channel::bounded(1);
                                pairs.insert(peer, Then::PairGive(tx));
                                Then::PairWait(rx)
                            }
                        }
                    }
                };
                if let Some(d) = decision_tx {
                    let _ = d.try_send(Decision::Upgrade { protocol, then });
                }
            }
            Output::Refuse {
                conn,
                status,
                reason,
            } => {
                if let Some(Slot::Upgrade {
                    decision: Some(d), ..
                }) = shared.slots.remove(&conn)
                {
                    let _ = d.try_send(Decision::Refuse { status, reason });
                }
            }
            Output::Send { conn, msg } => {
                let commands = match shared.slots.get(&conn) {
                    Some(Slot::Ws { commands }) => commands.clone(),
                    Some(Slot::Upgrade { commands, .. }) => commands.0.clone(),
                    _ => continue,
                };
                let cmd = match msg {
                    WsOut::Text(t) => WsCommand::Text(t),
                    WsOut::Binary(b) => WsCommand::Binary(b),
                    WsOut::Ping => WsCommand::Ping(Bytes::new()),
                    WsOut::Close { code, reason } => WsCommand::Close { code, reason },
                };
                let _ = commands.try_send(cmd);
            }
            Output::SendRequestBody { to, data } => {
                if let Some(Slot::Ws { commands }) = shared.slots.get(&to) {
                    let _ = commands.try_send(WsCommand::Binary(data));
                }
            }
            Output::PipeRequestBody { from, to } => {
                let target = match shared.slots.get(&to) {
                    Some(Slot::Ws { commands }) => commands.clone(),
                    _ => continue,
                };
                if let Some(Slot::Http { tx }) = shared.slots.get(&from) {
                    let _ = tx.try_send(HttpOut::Pipe { to: target });
                }
            }
            Output::HttpResponse {
                conn,
                status,
                reason,
                headers,
                body,
            } => {
                let streaming = body == ResponseBody::Streaming;
                // A complete answer ends the sender's business with the gateway; a streaming
                // one keeps the slot until HttpEnd / HttpAbort.
                let slot = if streaming {
                    shared.slots.get(&conn).and_then(|s| match s {
                        Slot::Http { tx } => Some(tx.clone()),
                        _ => None,
                    })
                } else {
                    match shared.slots.remove(&conn) {
                        Some(Slot::Http { tx }) => Some(tx),
                        Some(other) => {
                            shared.slots.insert(conn, other);
                            None
                        }
                        None => None,
                    }
                };
                let Some(tx) = slot else {
                    continue;
                };
                let body = match body {
                    ResponseBody::Empty => net::empty(),
                    ResponseBody::Full(b) => net::full(b),
                    ResponseBody::Streaming => {
                        let (sender, body) = net::channel_body(16);
                        shared.bodies.insert(conn, sender);
                        body
                    }
                };
                let _ = tx.try_send(HttpOut::Response(build_response(
                    status, &reason, &headers, body,
                )));
            }
            Output::HttpBody { conn, data } => work.push(BodyWork::Data(conn, data)),
            Output::HttpEnd { conn } => {
                // Pieces queued before the end still go out: the end is the last work item.
                work.push(BodyWork::End(conn));
                shared.slots.remove(&conn);
            }
            Output::HttpAbort { conn } => {
                match shared.bodies.remove(&conn) {
                    Some(b) => b.abort(),
                    // Out for a delivery: aborted when it comes back.
                    None => {
                        shared.aborted.insert(conn);
                    }
                }
                shared.slots.remove(&conn);
            }
        }
    }
    work
}

fn build_response(status: u16, reason: &str, headers: &Headers, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
    for (n, v) in headers.iter() {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(n.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            resp.headers_mut().append(name, value);
        }
    }
    let status = resp.status();
    // A phrase HTTP cannot carry is dropped: the standard one goes out instead.
    let _ = net::set_reason_phrase(resp.extensions_mut(), status, reason);
    resp
}

fn text_response(status: u16, reason: &str) -> Response<Body> {
    let mut headers = Headers::new();
    headers.append_joined("Content-Type", "text/plain; charset=utf-8");
    build_response(
        status,
        reason,
        &headers,
        net::full(Bytes::from(reason.to_string())),
    )
}

/// Tells the gateway a connection went away when its task ends early (client gone).
struct DisconnectGuard {
    inner: Arc<Inner>,
    conn: ConnId,
    armed: bool,
}

impl Drop for DisconnectGuard {
    fn drop(&mut self) {
        if self.armed {
            let conn = self.conn;
            let work = self
                .inner
                .feed_sync(|g, now| g.handle_disconnect(now, conn));
            drop(work);
            let mut shared = self.inner.shared.lock().expect("gateway lock");
            shared.slots.remove(&conn);
            shared.bodies.remove(&conn);
            shared.aborted.remove(&conn);
        }
    }
}

/// A running relay gateway.
pub struct GatewayServer {
    inner: Arc<Inner>,
    local_addr: SocketAddr,
    connection_string: ConnectionString,
    stop: async_channel::Sender<()>,
    task: smol::Task<std::io::Result<()>>,
}

impl GatewayServer {
    /// Binds and starts serving on smol's global executor.
    pub async fn start(options: GatewayOptions) -> std::io::Result<GatewayServer> {
        let listener = smol::net::TcpListener::bind(options.bind).await?;
        let local_addr = listener.local_addr()?;
        let unix_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let mut config = options.config.clone();
        config.unix_origin_ms = unix_ms;
        if config.seed == 0 {
            config.seed = entropy();
        }
        let validator: Box<dyn TokenValidator> = Box::new(
            SasValidator::new(options.rules.clone())
                .with_expiry_grace(config.limits.token_expiry_grace_secs),
        );
        let (kick_tx, kick_rx) = async_channel::bounded(1);
        let (closing_tx, closing_rx) = async_channel::bounded::<()>(1);
        let inner = Arc::new(Inner {
            control_body_max: config.limits.control_body_max_bytes,
            control_message_max: config.limits.control_message_max_bytes,
            max_request_body: config.limits.max_request_body_bytes,
            request_body_timeout: config.limits.request_body_timeout,
            shared: Mutex::new(Shared {
                gateway: Gateway::new(config, validator),
                slots: HashMap::new(),
                bodies: HashMap::new(),
                aborted: Default::default(),
            }),
            origin: std::time::Instant::now(),
            next_id: AtomicU64::new(1),
            timer_kick: kick_tx,
            closing: closing_rx,
            closing_tx: Mutex::new(Some(closing_tx)),
            close_linger: options.close_linger,
        });
        let rule = options
            .rules
            .iter()
            .find(|r| r.rights.allows(Rights::MANAGE))
            .or(options.rules.first());
        let mut connection_string = ConnectionString::new(Endpoint::new(
            options.tls.is_some(),
            local_addr.ip().to_string(),
            Some(local_addr.port()),
        ));
        if let Some(rule) = rule {
            connection_string.shared_access_key_name = Some(rule.name.clone());
            connection_string.shared_access_key = Some(rule.key.clone());
        }
        let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
        let timer_inner = inner.clone();
        let handler_inner = inner.clone();
        let tls = options.tls.clone();
        let task = smol::spawn(async move {
            let timers = smol::spawn(run_timers(timer_inner, kick_rx));
            let handler = move |req: Request<Incoming>, info: ConnInfo| {
                let inner = handler_inner.clone();
                async move { handle(inner, req, info).await }
            };
            let result = net::serve(listener, tls, handler, async move {
                let _ = stop_rx.recv().await;
            })
            .await;
            timers.cancel().await;
            result
        });
        Ok(GatewayServer {
            inner,
            local_addr,
            connection_string,
            stop: stop_tx,
            task,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// A ready-to-use connection string: `Endpoint=sb://HOST:PORT/;SharedAccessKeyName=…;SharedAccessKey=…`.
    pub fn connection_string(&self) -> ConnectionString {
        self.connection_string.clone()
    }

    /// Counters of connected listeners and pending work.
    pub fn stats(&self) -> GatewayStats {
        self.inner
            .shared
            .lock()
            .expect("gateway lock")
            .gateway
            .stats()
    }

    /// Connections the adapter is tracking: upgrade requests waiting for an answer, driven
    /// WebSockets (control channels, request rendezvous) and HTTP senders waiting for a
    /// response or streaming one. Paired WebSockets are not counted (they are forwarded
    /// without the gateway). Returns to the number of control channels when traffic stops.
    pub fn connections_in_flight(&self) -> usize {
        self.inner.shared.lock().expect("gateway lock").slots.len()
    }

    /// Stops accepting, closes control channels and rendezvous with 1001 (going away),
    /// drops forwarded pairs, and returns once the listening socket is closed.
    pub async fn shutdown(self) {
        let _ = self.stop.try_send(());
        let _ = self.task.await;
        let driven: Vec<async_channel::Sender<WsCommand>> = {
            let shared = self.inner.shared.lock().expect("gateway lock");
            shared
                .slots
                .values()
                .filter_map(|s| match s {
                    Slot::Ws { commands } => Some(commands.clone()),
                    _ => None,
                })
                .collect()
        };
        for commands in driven {
            let _ = commands.try_send(WsCommand::Close {
                code: 1001,
                reason: "gateway shutting down".into(),
            });
        }
        // Give the Close frames a moment to go out, then end every upgraded connection.
        async_io::Timer::after(SHUTDOWN_GRACE.min(Duration::from_millis(200))).await;
        self.inner.closing_tx.lock().expect("gateway lock").take();
    }
}

async fn run_timers(inner: Arc<Inner>, kick: async_channel::Receiver<()>) {
    loop {
        let next = inner
            .shared
            .lock()
            .expect("gateway lock")
            .gateway
            .poll_timeout();
        let wait = async {
            match next {
                Some(at) => {
                    let now = inner.now();
                    let delay = Duration::from_millis(at.0.saturating_sub(now.0));
                    async_io::Timer::after(delay).await;
                }
                None => futures_lite::future::pending().await,
            }
        };
        let kicked = futures_lite::future::or(async { kick.recv().await.is_ok() }, async {
            wait.await;
            false
        })
        .await;
        if !kicked {
            inner.feed(|g, now| g.handle_timeout(now)).await;
        }
    }
}

fn header_pairs(headers: &http::HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                canonical_name(n.as_str()),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

/// `content-type` → `Content-Type` (hyper lower-cases names; listeners see the usual form).
fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = true;
    for c in name.chars() {
        out.push(if upper { c.to_ascii_uppercase() } else { c });
        upper = c == '-';
    }
    out
}

fn host_of(req: &Request<Incoming>, info: &ConnInfo) -> String {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| info.local.to_string())
}

fn remote_of(info: &ConnInfo) -> Option<RemoteEndpoint> {
    Some(RemoteEndpoint {
        address: info.peer.ip().to_string(),
        port: info.peer.port(),
    })
}

async fn handle(inner: Arc<Inner>, req: Request<Incoming>, info: ConnInfo) -> Response<Body> {
    let is_upgrade = req
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if is_upgrade {
        handle_upgrade(inner, req, info).await
    } else {
        handle_http(inner, req, info).await
    }
}

async fn handle_upgrade(
    inner: Arc<Inner>,
    mut req: Request<Incoming>,
    info: ConnInfo,
) -> Response<Body> {
    let header_list: Vec<(&str, &[u8])> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let key = match ws::check_upgrade_request(req.method().as_str(), header_list) {
        Ok(u) => u.key,
        Err(e) => return text_response(e.http_status(), &e.to_string()),
    };
    let conn = inner.next_conn();
    let (dtx, drx) = async_channel::bounded(1);
    inner.shared.lock().expect("gateway lock").slots.insert(
        conn,
        Slot::Upgrade {
            decision: Some(dtx),
            commands: async_channel::unbounded(),
        },
    );
    let mut guard = DisconnectGuard {
        inner: inner.clone(),
        conn,
        armed: true,
    };
    let upgrade_req = UpgradeRequest {
        path: req.uri().path().to_string(),
        query: req.uri().query().map(str::to_string),
        headers: header_pairs(req.headers()),
        host: host_of(&req, &info),
        secure: info.tls,
        remote: remote_of(&info),
    };
    inner
        .feed(|g, now| g.handle_upgrade(now, conn, upgrade_req))
        .await;
    let Ok(decision) = drx.recv().await else {
        return text_response(500, "Internal Server Error");
    };
    match decision {
        Decision::Refuse { status, reason } => {
            guard.armed = false;
            text_response(status, &reason)
        }
        Decision::Upgrade { protocol, then } => {
            guard.armed = false;
            let on_upgrade = hyper::upgrade::on(&mut req);
            let task_inner = inner.clone();
            smol::spawn(async move {
                let guard = DisconnectGuard {
                    inner: task_inner.clone(),
                    conn,
                    armed: true,
                };
                let Ok(stream) = net::upgraded(on_upgrade).await else {
                    return;
                };
                match then {
                    Then::Driven { commands } => {
                        let closing = task_inner.closing.clone();
                        futures_lite::future::or(
                            run_driven(task_inner, conn, stream, commands),
                            async move {
                                let _ = closing.recv().await;
                                async_io::Timer::after(SHUTDOWN_GRACE).await;
                            },
                        )
                        .await
                    }
                    Then::PairGive(tx) => {
                        drop(guard);
                        let _ = tx.send((stream, BytesMut::new())).await;
                        return;
                    }
                    Then::PairWait(rx) => {
                        // The pair is no longer the gateway's business.
                        let mut guard = guard;
                        guard.armed = false;
                        let closing = task_inner.closing.clone();
                        if let Ok((peer, peer_left)) = rx.recv().await {
                            let pair = forward_frames(
                                stream,
                                BytesMut::new(),
                                peer,
                                peer_left,
                                task_inner.close_linger,
                            );
                            futures_lite::future::or(pair, async move {
                                let _ = closing.recv().await;
                            })
                            .await;
                        }
                        return;
                    }
                }
                drop(guard);
            })
            .detach();
            let mut resp = Response::new(net::empty());
            *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            for (name, value) in ws::response_101_headers(&key, protocol.as_deref()) {
                // Values come from the core with CR/LF removed, so they are valid headers.
                if let Ok(value) = HeaderValue::from_str(&value) {
                    resp.headers_mut().insert(name, value);
                }
            }
            resp
        }
    }
}

/// Runs a WebSocket whose messages the gateway consumes (control channel or request
/// rendezvous).
async fn run_driven(
    inner: Arc<Inner>,
    conn: ConnId,
    stream: net::Upgraded,
    commands: async_channel::Receiver<WsCommand>,
) {
    let mut config = ConnectionConfig::new(Role::Server);
    config.stream_fragments = true;
    config.limits.max_frame_payload = (inner.control_body_max as u64).max(64 << 20);
    config.limits.max_message_size = u64::MAX;
    let connection = Connection::new(config, fastrand::u64(..));
    let (etx, erx) = async_channel::bounded(16);
    let options = DriveOptions {
        echo_close: false,
        close_linger: Duration::from_secs(5),
    };
    let driver = drive(stream, &[], connection, commands, etx, |e| e, options);
    let feeder = async {
        let mut text = BytesMut::new();
        while let Ok(ev) = erx.recv().await {
            match ev {
                DriverEvent::Ws(Event::Fragment {
                    opcode: OpCode::Text,
                    data,
                    fin,
                    ..
                }) => {
                    // Text messages are control messages: joined, then handed over whole.
                    text.extend_from_slice(&data);
                    if fin || text.len() > inner.control_message_max {
                        // An oversized message is handed over as is: the gateway refuses it.
                        let message = String::from_utf8_lossy(&text).into_owned();
                        text.clear();
                        inner
                            .feed(|g, now| g.handle_text(now, conn, &message))
                            .await;
                    }
                }
                DriverEvent::Ws(Event::Fragment { data, fin, .. }) => {
                    inner
                        .feed(|g, now| g.handle_binary(now, conn, data, fin))
                        .await;
                }
                DriverEvent::Ws(Event::Message(m)) => match m {
                    ws::Message::Text(t) => inner.feed(|g, now| g.handle_text(now, conn, &t)).await,
                    ws::Message::Binary(b) => {
                        inner
                            .feed(|g, now| g.handle_binary(now, conn, b, true))
                            .await
                    }
                },
                DriverEvent::Ws(Event::Ping(_) | Event::Pong(_)) => {
                    inner.feed(|g, now| g.handle_keepalive(now, conn)).await;
                }
                DriverEvent::Ws(Event::Close(frame)) => {
                    let code = frame.map(|f| f.code);
                    inner.feed(|g, now| g.handle_closed(now, conn, code)).await;
                }
                DriverEvent::Ended { .. } => break,
            }
        }
    };
    futures::join!(driver, feeder);
    inner.feed(|g, now| g.handle_disconnect(now, conn)).await;
    inner
        .shared
        .lock()
        .expect("gateway lock")
        .slots
        .remove(&conn);
}

async fn handle_http(inner: Arc<Inner>, req: Request<Incoming>, info: ConnInfo) -> Response<Body> {
    let (parts, incoming) = req.into_parts();
    let content_length = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let chunked = parts.headers.contains_key(http::header::TRANSFER_ENCODING);
    // The 413 for a declared length past `max_request_body_bytes` is the gateway's (core);
    // only a body whose size is not declared up front is counted here, while it streams.
    let mut held_body = None;
    let body = match (content_length, chunked) {
        (Some(len), false)
            if len as usize <= inner.control_body_max
                && inner.max_request_body.is_none_or(|max| len <= max) =>
        {
            match net::with_timeout(inner.request_body_timeout, async {
                incoming.collect().await.map_err(net::NetError::from)
            })
            .await
            {
                Ok(c) => RequestBody::Complete(c.to_bytes()),
                Err(net::NetError::Timeout(_)) => {
                    return text_response(
                        408,
                        "Request Timeout: the request body did not arrive in time",
                    );
                }
                Err(_) => {
                    return text_response(400, "Bad Request: the request body could not be read");
                }
            }
        }
        (None, false) => RequestBody::Complete(Bytes::new()),
        _ => {
            held_body = Some(incoming);
            RequestBody::Streaming
        }
    };
    let conn = inner.next_conn();
    let (tx, rx) = async_channel::unbounded();
    inner
        .shared
        .lock()
        .expect("gateway lock")
        .slots
        .insert(conn, Slot::Http { tx });
    let guard = DisconnectGuard {
        inner: inner.clone(),
        conn,
        armed: true,
    };
    let request = HttpRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: header_pairs(&parts.headers),
        host: parts
            .headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string)
            .unwrap_or_else(|| info.local.to_string()),
        secure: info.tls,
        remote: remote_of(&info),
        body,
    };
    inner
        .feed(|g, now| g.handle_http_request(now, conn, request))
        .await;
    loop {
        match rx.recv().await {
            Ok(HttpOut::Response(resp)) => {
                // The response body (if streaming) is fed by the rendezvous task; if the
                // sender goes away, delivery fails and the gateway learns of it there.
                let mut guard = guard;
                guard.armed = false;
                if let Some(body) = held_body.take() {
                    drop(body);
                }
                return resp;
            }
            Ok(HttpOut::Pipe { to }) => {
                if let Some(body) = held_body.take() {
                    smol::spawn(pipe_body(body, to, inner.max_request_body)).detach();
                }
            }
            Err(_) => return text_response(502, "Bad Gateway"),
        }
    }
}

/// Streams a sender's request body onto a rendezvous WebSocket as one fragmented binary
/// message, with backpressure (a bounded channel between the two).
async fn pipe_body(mut body: Incoming, to: async_channel::Sender<WsCommand>, max: Option<u64>) {
    let (ctx, crx) = async_channel::bounded::<Bytes>(8);
    if to
        .send(WsCommand::StreamFrom {
            opcode: OpCode::Binary,
            chunks: crx,
        })
        .await
        .is_err()
    {
        return;
    }
    let mut total = 0u64;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            let _ = to.try_send(WsCommand::Close {
                code: 1011,
                reason: "sender body failed".into(),
            });
            return;
        };
        if let Ok(data) = frame.into_data() {
            total += data.len() as u64;
            if max.is_some_and(|m| total > m) {
                let _ = to.try_send(WsCommand::Close {
                    code: 1009,
                    reason: "request body too large".into(),
                });
                return;
            }
            if !data.is_empty() && ctx.send(data).await.is_err() {
                return;
            }
        }
    }
}
