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
use hyper::body::Incoming;
use interlink_core::hub::negotiate::{
    AvailableTransport, ConnectInfo, NegotiateRequest, NegotiateResponse, TransportKind,
    generate_id, query_value,
};
use interlink_core::hub::{CompletionResult, ConnectionStats, HubProtocol, RawValue};
use interlink_core::time::Instant;
use interlink_core::ws;
use smol::net::TcpListener;

use super::server_conn::run_connection;
use crate::net::{self, Body, ConnInfo, ServerTls, Upgraded};

pub(super) const BOTH: [HubProtocol; 2] = [HubProtocol::Json, HubProtocol::MessagePack];

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
    /// Serve HTTPS (the URL then names `localhost`).
    pub tls: Option<ServerTls>,
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
            tls: None,
        }
    }
}

/// What a test can make one connection do.
pub enum ServerCtl {
    /// A new socket for a lost stateful connection.
    Attach(Upgraded),
    /// Drop the socket without a Close frame (an unclean loss, 1006 on the client).
    Abort,
    /// Like `Abort`, and forget the connection: a re-attach gets 404.
    Kill,
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

pub(super) enum Phase {
    Negotiated,
    Running(async_channel::Sender<ServerCtl>),
    Ended,
}

pub(super) struct Entry {
    pub connection_id: String,
    pub stateful: bool,
    pub phase: Phase,
}

pub struct HubState {
    pub(super) config: HubConfig,
    pub(super) origin: std::time::Instant,
    /// By connection token.
    pub(super) conns: Mutex<HashMap<String, Entry>>,
    log: Mutex<Vec<String>>,
    negotiations: AtomicUsize,
    /// When not 0, negotiate answers with this status.
    refuse: AtomicU16,
}

impl HubState {
    pub(super) fn now(&self) -> Instant {
        Instant(self.origin.elapsed().as_millis() as u64)
    }

    pub(super) fn record(&self, line: String) {
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
        let tls = config.tls.clone();
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
        let task = smol::spawn(net::serve(listener, tls, handler, async move {
            let _ = stopped.recv().await;
        }));
        TestHub {
            addr,
            state,
            _stop: stop,
            _task: task,
        }
    }

    /// `http://127.0.0.1:<port>/hub`, or `https://localhost:<port>/hub` with TLS.
    pub fn url(&self) -> String {
        match self.state.config.tls {
            Some(_) => format!("https://localhost:{}/hub", self.addr.port()),
            None => format!("http://{}/hub", self.addr),
        }
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
