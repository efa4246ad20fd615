//! A minimal hub endpoint for the client's loopback tests, built from `net::serve` and the
//! core [`ServerConnection`]: negotiate (v1, v0, redirect, errors), the WebSocket upgrade
//! (new connection, stateful re-attach, 404/409), and a few hub methods. It is a test
//! fixture, not the real hub server (that one lives in `io/src/hub/server*`).
//!
//! Methods: `Echo(x)`, `Add(a, b)`, `Fail(text)`, `Void()`, `Hang()` (never answers),
//! `Notify(x)` (logs, then calls the client's `Notified(x)`), `Counter(n, ms)` (stream of
//! 0..n, one item per `ms`), `Sum()` with upload streams (sum of every item),
//! `AskClient(method, x)` (calls the client with a result and returns it), `CloseMe(error,
//! allowReconnect)`, `ConnectionId()`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::channel::oneshot;
use futures_lite::future;
use hyper::body::Incoming;
use interlink_core::hub::negotiate::{
    AvailableTransport, ConnectInfo, NegotiateRequest, NegotiateResponse, TransportKind,
    generate_id, query_value,
};
use interlink_core::hub::{
    CompletionResult, ConnectionOptions, ConnectionStats, HubProtocol, Invocation, RawValue,
    ServerConnection, ServerEvent, TransferFormat,
};
use interlink_core::time::Instant;
use interlink_core::ws::{self, Connection, ConnectionConfig, Event, Message, Role};
use smol::net::TcpListener;

use crate::net::{self, Body, ConnInfo, Upgraded};
use crate::ws::{DriveOptions, DriverEvent, WsCommand, drive};

const BOTH: [HubProtocol; 2] = [HubProtocol::Json, HubProtocol::MessagePack];

/// How the test hub behaves.
#[derive(Clone)]
pub struct HubConfig {
    /// Grant stateful reconnect when asked.
    pub stateful: bool,
    /// The server's keep-alive interval.
    pub keep_alive: Duration,
    /// `/hub/negotiate` redirects to `/client/?hub=chat` with token `jwt`, which the
    /// `/client` endpoints then require.
    pub redirect: bool,
    /// Answer negotiate with `{"error": …}`.
    pub negotiate_error: Option<String>,
    /// Require `Authorization: Bearer <token>` on negotiate and upgrade.
    pub require_token: Option<String>,
    /// Answer negotiate in version 0 (no connectionToken), whatever was asked.
    pub version0: bool,
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig {
            stateful: false,
            keep_alive: Duration::from_secs(15),
            redirect: false,
            negotiate_error: None,
            require_token: None,
            version0: false,
        }
    }
}

/// What a test can make one connection do.
pub enum ServerCtl {
    /// A new socket for a lost stateful connection.
    Attach(Upgraded),
    /// Drop the socket without a Close frame (an unclean loss, 1006 on the client).
    Abort,
    /// Send Close.
    Close {
        error: Option<String>,
        allow_reconnect: bool,
    },
    /// Call a client method; with `reply`, ask for a result.
    Invoke {
        method: String,
        args: Vec<RawValue>,
        reply: Option<oneshot::Sender<CompletionResult>>,
    },
    Stats(oneshot::Sender<ConnectionStats>),
    /// Internal: the next item of a `Counter` stream (`None` ends it).
    Tick {
        id: String,
        value: Option<i64>,
    },
}

enum Phase {
    Negotiated,
    Running(async_channel::Sender<ServerCtl>),
    Ended,
}

struct Entry {
    connection_id: String,
    stateful: bool,
    phase: Phase,
}

pub struct HubState {
    config: HubConfig,
    origin: std::time::Instant,
    /// By connection token.
    conns: Mutex<HashMap<String, Entry>>,
    log: Mutex<Vec<String>>,
    negotiations: AtomicUsize,
    /// When not 0, negotiate answers with this status.
    refuse: AtomicU16,
}

impl HubState {
    fn now(&self) -> Instant {
        Instant(self.origin.elapsed().as_millis() as u64)
    }

    fn record(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }
}

/// The running test hub on `127.0.0.1:0`.
pub struct TestHub {
    pub addr: SocketAddr,
    state: Arc<HubState>,
    _stop: async_channel::Sender<()>,
    _task: smol::Task<std::io::Result<()>>,
}

impl TestHub {
    pub async fn start(config: HubConfig) -> TestHub {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(HubState {
            config,
            origin: std::time::Instant::now(),
            conns: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            negotiations: AtomicUsize::new(0),
            refuse: AtomicU16::new(0),
        });
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let handler_state = state.clone();
        let handler = move |req, info| handle(handler_state.clone(), req, info);
        let task = smol::spawn(net::serve(listener, None, handler, async move {
            let _ = stopped.recv().await;
        }));
        TestHub {
            addr,
            state,
            _stop: stop,
            _task: task,
        }
    }

    /// `http://127.0.0.1:<port>/hub`.
    pub fn url(&self) -> String {
        format!("http://{}/hub", self.addr)
    }

    pub fn log(&self) -> Vec<String> {
        self.state.log.lock().unwrap().clone()
    }

    pub fn negotiations(&self) -> usize {
        self.state.negotiations.load(Ordering::SeqCst)
    }

    /// Makes negotiate answer `status` (0: normal again).
    pub fn refuse_negotiate(&self, status: u16) {
        self.state.refuse.store(status, Ordering::SeqCst);
    }

    pub async fn control(&self, connection_id: &str, ctl: ServerCtl) {
        let tx = {
            let conns = self.state.conns.lock().unwrap();
            conns.values().find_map(|e| match &e.phase {
                Phase::Running(tx) if e.connection_id == connection_id => Some(tx.clone()),
                _ => None,
            })
        };
        tx.expect("no running connection with this id")
            .send(ctl)
            .await
            .unwrap();
    }

    pub async fn stats(&self, connection_id: &str) -> ConnectionStats {
        let (tx, rx) = oneshot::channel();
        self.control(connection_id, ServerCtl::Stats(tx)).await;
        rx.await.unwrap()
    }
}

fn text(status: u16, body: &str) -> http::Response<Body> {
    let mut resp = http::Response::new(net::full(body.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap();
    resp
}

async fn handle(
    state: Arc<HubState>,
    req: http::Request<Incoming>,
    info: ConnInfo,
) -> http::Response<Body> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_string();
    let pq = req
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let needed = if state.config.redirect && pq.starts_with("/client") {
        Some("jwt".to_string())
    } else {
        state.config.require_token.clone()
    };
    let authorized = needed.is_none_or(|t| auth == format!("Bearer {t}"));
    if req.method() == http::Method::POST && req.uri().path().ends_with("/negotiate") {
        state.record(format!("negotiate {pq} {auth}"));
        state.negotiations.fetch_add(1, Ordering::SeqCst);
        if !authorized {
            return text(401, "");
        }
        negotiate(&state, &req, &info)
    } else if req.headers().contains_key(http::header::UPGRADE) {
        state.record(format!("ws {pq} {auth}"));
        if !authorized {
            return text(401, "");
        }
        upgrade(state, req)
    } else {
        text(404, "")
    }
}

fn negotiate(
    state: &HubState,
    req: &http::Request<Incoming>,
    info: &ConnInfo,
) -> http::Response<Body> {
    let refuse = state.refuse.load(Ordering::SeqCst);
    if refuse != 0 {
        return text(refuse, "refused");
    }
    let config = &state.config;
    let response = if let Some(error) = &config.negotiate_error {
        NegotiateResponse::Error(error.clone())
    } else if config.redirect && req.uri().path() == "/hub/negotiate" {
        NegotiateResponse::Redirect {
            url: format!("http://{}/client/?hub=chat", info.local),
            access_token: Some("jwt".into()),
        }
    } else {
        let asked = NegotiateRequest::parse(req.uri().query()).unwrap_or_default();
        let mut rng = fastrand::Rng::new();
        let connection_id = generate_id(&mut rng);
        let version = if config.version0 { 0 } else { asked.version };
        let token = if version == 0 {
            connection_id.clone()
        } else {
            generate_id(&mut rng)
        };
        let stateful = asked.stateful_reconnect && config.stateful;
        state.conns.lock().unwrap().insert(
            token.clone(),
            Entry {
                connection_id: connection_id.clone(),
                stateful,
                phase: Phase::Negotiated,
            },
        );
        NegotiateResponse::Connect(ConnectInfo {
            connection_id,
            connection_token: token,
            negotiate_version: version,
            available_transports: vec![AvailableTransport::full(TransportKind::WebSockets)],
            stateful_reconnect: stateful,
        })
    };
    text(200, &response.to_json())
}

fn upgrade(state: Arc<HubState>, mut req: http::Request<Incoming>) -> http::Response<Body> {
    let headers: Vec<(&str, &[u8])> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let key = match ws::check_upgrade_request(req.method().as_str(), headers) {
        Ok(u) => u.key,
        Err(e) => return text(400, &e.to_string()),
    };
    enum Then {
        Start(
            String,
            async_channel::Receiver<ServerCtl>,
            async_channel::Sender<ServerCtl>,
        ),
        Attach(async_channel::Sender<ServerCtl>),
    }
    let then = {
        let mut conns = state.conns.lock().unwrap();
        let token = query_value(req.uri().query(), "id").unwrap_or_else(|| {
            // No id (skipNegotiation): the connection is created here.
            let id = generate_id(&mut fastrand::Rng::new());
            conns.insert(
                id.clone(),
                Entry {
                    connection_id: id.clone(),
                    stateful: false,
                    phase: Phase::Negotiated,
                },
            );
            id
        });
        let Some(entry) = conns.get_mut(&token) else {
            return text(404, "No Connection with that ID");
        };
        match &entry.phase {
            Phase::Negotiated => {
                let (tx, rx) = async_channel::unbounded();
                entry.phase = Phase::Running(tx.clone());
                Then::Start(token, rx, tx)
            }
            Phase::Running(tx) if entry.stateful => Then::Attach(tx.clone()),
            Phase::Running(_) => return text(409, "Connection already in use"),
            Phase::Ended => return text(404, "No Connection with that ID"),
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    smol::spawn(async move {
        let Ok(stream) = net::upgraded(on_upgrade).await else {
            return;
        };
        match then {
            Then::Start(token, rx, tx) => run_connection(state, token, stream, rx, tx).await,
            Then::Attach(tx) => {
                let _ = tx.send(ServerCtl::Attach(stream)).await;
            }
        }
    })
    .detach();
    let mut resp = http::Response::new(net::empty());
    *resp.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
    for (name, value) in ws::response_101_headers(&key, None) {
        resp.headers_mut()
            .insert(name, http::HeaderValue::from_str(&value).unwrap());
    }
    resp
}

/// The server side of one socket; dropping it drops the socket without a Close frame.
struct Link {
    commands: async_channel::Sender<WsCommand>,
    events: async_channel::Receiver<DriverEvent>,
    _task: smol::Task<()>,
}

fn start_link(stream: Upgraded) -> Link {
    let (ctx, crx) = async_channel::unbounded();
    let (etx, erx) = async_channel::bounded(64);
    let conn = Connection::new(ConnectionConfig::new(Role::Server), fastrand::u64(..));
    let task = smol::spawn(async move {
        drive(stream, &[], conn, crx, etx, |e| e, DriveOptions::default()).await;
    });
    Link {
        commands: ctx,
        events: erx,
        _task: task,
    }
}

/// The hub methods' state on one connection.
#[derive(Default)]
struct App {
    protocol: Option<HubProtocol>,
    producers: HashMap<String, smol::Task<()>>,
    /// Upload stream id → owning invocation id.
    uploads: HashMap<String, String>,
    /// Owning invocation id → (uploads still open, sum so far).
    sums: HashMap<String, (usize, i64)>,
    /// Our call to the client → the client call that asked for it.
    asks: HashMap<String, String>,
    replies: HashMap<String, oneshot::Sender<CompletionResult>>,
}

fn int(v: &RawValue) -> i64 {
    v.to_serde::<i64>().unwrap_or_default()
}

impl App {
    fn value<T: serde::Serialize>(&self, v: &T) -> RawValue {
        RawValue::from_serde(self.protocol.unwrap_or(HubProtocol::Json), v).unwrap()
    }

    fn event(
        &mut self,
        ev: ServerEvent,
        conn: &mut ServerConnection,
        now: Instant,
        hub: &HubState,
        id: &str,
        ctl: &async_channel::Sender<ServerCtl>,
    ) {
        match ev {
            ServerEvent::Connected(n) => {
                self.protocol = Some(n.protocol);
                hub.record(format!("connected {id} stateful={}", n.stateful));
            }
            ServerEvent::Invocation(inv) => self.call(inv, conn, now, hub, id),
            ServerEvent::StreamInvocation(inv) => {
                let call_id = inv.invocation_id.clone().unwrap_or_default();
                let n = inv.arguments.first().map_or(0, int);
                let ms = inv.arguments.get(1).map_or(10, int) as u64;
                let (tx, cid) = (ctl.clone(), call_id.clone());
                let task = smol::spawn(async move {
                    for i in 0..n {
                        async_io::Timer::after(Duration::from_millis(ms)).await;
                        let tick = ServerCtl::Tick {
                            id: cid.clone(),
                            value: Some(i),
                        };
                        let _ = tx.send(tick).await;
                    }
                    let _ = tx
                        .send(ServerCtl::Tick {
                            id: cid,
                            value: None,
                        })
                        .await;
                });
                self.producers.insert(call_id, task);
            }
            ServerEvent::Cancel { invocation_id } => {
                hub.record(format!("cancel {invocation_id}"));
                self.producers.remove(&invocation_id);
                let _ = conn.complete(&invocation_id, CompletionResult::Void, now);
            }
            ServerEvent::UploadItem { stream_id, item } => {
                if let Some(owner) = self.uploads.get(&stream_id)
                    && let Some(sum) = self.sums.get_mut(owner)
                {
                    sum.1 += int(&item);
                }
            }
            ServerEvent::UploadComplete { stream_id, .. } => {
                let Some(owner) = self.uploads.remove(&stream_id) else {
                    return;
                };
                let done = self.sums.get_mut(&owner).map(|s| {
                    s.0 -= 1;
                    (s.0 == 0).then_some(s.1)
                });
                if let Some(Some(total)) = done {
                    self.sums.remove(&owner);
                    hub.record(format!("sum {total}"));
                    let v = self.value(&total);
                    let _ = conn.complete(&owner, CompletionResult::Value(v), now);
                }
            }
            ServerEvent::ClientResult {
                invocation_id,
                result,
            } => {
                if let Some(owner) = self.asks.remove(&invocation_id) {
                    let _ = conn.complete(&owner, result, now);
                } else if let Some(tx) = self.replies.remove(&invocation_id) {
                    let _ = tx.send(result);
                }
            }
            ServerEvent::TransportLost => hub.record(format!("lost {id}")),
            ServerEvent::Resumed => hub.record(format!("resumed {id}")),
            ServerEvent::Closed(reason) => hub.record(format!("closed {id} {reason:?}")),
        }
    }

    fn call(
        &mut self,
        inv: Invocation,
        conn: &mut ServerConnection,
        now: Instant,
        hub: &HubState,
        id: &str,
    ) {
        let args = &inv.arguments;
        let result = match inv.target.as_str() {
            "Echo" => CompletionResult::Value(args[0].clone()),
            "Add" => CompletionResult::Value(self.value(&(int(&args[0]) + int(&args[1])))),
            "Fail" => CompletionResult::Error(args[0].to_serde().unwrap()),
            "Void" => CompletionResult::Void,
            "ConnectionId" => CompletionResult::Value(self.value(&id)),
            "Hang" => return,
            "Notify" => {
                hub.record(format!("notify {}", int(&args[0])));
                let _ = conn.invoke("Notified", args.clone(), now);
                CompletionResult::Void
            }
            "Sum" => {
                let owner = inv.invocation_id.clone().unwrap_or_default();
                for s in &inv.stream_ids {
                    self.uploads.insert(s.clone(), owner.clone());
                }
                self.sums.insert(owner, (inv.stream_ids.len(), 0));
                return;
            }
            "AskClient" => {
                let method: String = args[0].to_serde().unwrap();
                if let (Ok(ask), Some(owner)) = (
                    conn.invoke_with_result(&method, vec![args[1].clone()], now),
                    inv.invocation_id.clone(),
                ) {
                    self.asks.insert(ask, owner);
                }
                return;
            }
            "CloseMe" => {
                let error: Option<String> = args[0].to_serde().unwrap();
                conn.close(error, int(&args[1]) != 0, now);
                return;
            }
            other => CompletionResult::Error(format!("Unknown hub method '{other}'")),
        };
        if let Some(call_id) = &inv.invocation_id {
            let _ = conn.complete(call_id, result, now);
        }
    }
}

enum Wake {
    Link(Option<DriverEvent>),
    Ctl(Option<ServerCtl>),
    Timer,
}

async fn run_connection(
    hub: Arc<HubState>,
    token: String,
    stream: Upgraded,
    ctl: async_channel::Receiver<ServerCtl>,
    ctl_tx: async_channel::Sender<ServerCtl>,
) {
    let (id, stateful) = {
        let conns = hub.conns.lock().unwrap();
        let e = &conns[&token];
        (e.connection_id.clone(), e.stateful)
    };
    let options = ConnectionOptions {
        keep_alive_interval: hub.config.keep_alive,
        ack_interval: Duration::from_millis(50),
        ..ConnectionOptions::default()
    };
    let mut conn =
        ServerConnection::new(options, TransferFormat::Binary, stateful, &BOTH, hub.now());
    let mut link = Some(start_link(stream));
    let mut clean = false;
    let mut app = App::default();
    loop {
        let mut closed = false;
        loop {
            let mut moved = false;
            while let Some(t) = conn.poll_transmit() {
                moved = true;
                if let Some(l) = &link {
                    let cmd = if t.binary {
                        WsCommand::Binary(t.data)
                    } else {
                        WsCommand::Text(String::from_utf8(t.data.to_vec()).unwrap())
                    };
                    let _ = l.commands.try_send(cmd);
                }
            }
            while let Some(ev) = conn.poll_event() {
                moved = true;
                closed |= matches!(ev, ServerEvent::Closed(_));
                app.event(ev, &mut conn, hub.now(), &hub, &id, &ctl_tx);
            }
            if !moved {
                break;
            }
        }
        if closed {
            if let Some(l) = link.take() {
                let _ = l.commands.try_send(WsCommand::Close {
                    code: 1000,
                    reason: String::new(),
                });
                let drain = async { while l.events.recv().await.is_ok() {} };
                future::or(drain, async {
                    async_io::Timer::after(Duration::from_secs(1)).await;
                })
                .await;
            }
            if let Some(e) = hub.conns.lock().unwrap().get_mut(&token) {
                e.phase = Phase::Ended;
            }
            return;
        }
        let deadline = conn
            .poll_timeout()
            .map(|t| hub.origin + Duration::from_millis(t.0));
        let wake = {
            let socket = async {
                match &link {
                    Some(l) => Wake::Link(l.events.recv().await.ok()),
                    None => future::pending().await,
                }
            };
            let control = async { Wake::Ctl(ctl.recv().await.ok()) };
            let timer = async {
                match deadline {
                    Some(at) => {
                        async_io::Timer::at(at).await;
                        Wake::Timer
                    }
                    // A lost stateful connection waits at most 10 s to be re-attached.
                    None => {
                        async_io::Timer::after(Duration::from_secs(10)).await;
                        Wake::Timer
                    }
                }
            };
            future::or(socket, future::or(control, timer)).await
        };
        let now = hub.now();
        match wake {
            Wake::Link(Some(DriverEvent::Ws(Event::Message(Message::Text(t))))) => {
                conn.handle_data(t.as_bytes(), now)
            }
            Wake::Link(Some(DriverEvent::Ws(Event::Message(Message::Binary(b))))) => {
                conn.handle_data(&b, now)
            }
            Wake::Link(Some(DriverEvent::Ws(Event::Close(_)))) => clean = true,
            Wake::Link(Some(DriverEvent::Ws(_))) => {}
            Wake::Link(_) => {
                link = None;
                if clean {
                    conn.handle_transport_closed();
                } else {
                    conn.handle_transport_lost();
                }
            }
            Wake::Ctl(None) => return,
            Wake::Ctl(Some(c)) => match c {
                ServerCtl::Attach(stream) => {
                    link = Some(start_link(stream));
                    clean = false;
                    conn.handle_transport_reattached(now);
                }
                ServerCtl::Abort => {
                    link = None;
                    conn.handle_transport_lost();
                }
                ServerCtl::Close {
                    error,
                    allow_reconnect,
                } => conn.close(error, allow_reconnect, now),
                ServerCtl::Invoke {
                    method,
                    args,
                    reply,
                } => match reply {
                    Some(tx) => {
                        if let Ok(call) = conn.invoke_with_result(&method, args, now) {
                            app.replies.insert(call, tx);
                        }
                    }
                    None => {
                        let _ = conn.invoke(&method, args, now);
                    }
                },
                ServerCtl::Stats(tx) => {
                    let _ = tx.send(conn.stats());
                }
                ServerCtl::Tick { id, value } => {
                    let _ = match value {
                        Some(v) => conn.stream_item(&id, app.value(&v), now),
                        None => conn.complete(&id, CompletionResult::Void, now),
                    };
                }
            },
            Wake::Timer => {
                if link.is_none() && conn.poll_timeout().is_none() {
                    conn.handle_transport_closed();
                } else {
                    conn.handle_timeout(now);
                }
            }
        }
    }
}
