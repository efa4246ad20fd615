//! [`RelayListener`]: a Hybrid Connections listener on real sockets, driving the sans-IO
//! [`Listener`] of `interlink_core`.
//!
//! One task runs the control channel: it opens the WebSocket the core asks for, feeds it the
//! channel's messages and the clock, and carries the core's outputs out (pings, token
//! renewals, inline responses, reconnects on the SDKs' backoff schedule, stop on 404). Every
//! accept and every HTTP request is then handled in a task of its own:
//!
//! - **accept**: the accept filter decides; an accepted sender's rendezvous address is opened
//!   verbatim (no token) with the first subprotocol the sender offered, and the socket is
//!   queued for [`RelayListener::accept`]; a rejected one is answered through the reject URL
//!   (the relay's 410 counts as success).
//! - **HTTP**: requests are passed to the handler as `http::Request<Body>`. A complete response
//!   body of at most 64 KB (known from its exact size hint) goes back inline on the control
//!   channel, message and body back to back; anything larger or of unknown size (a stream,
//!   SSE) goes over a rendezvous socket opened to the request's address: the `response`
//!   message, then the body as fragments of one binary message as the handler produces them,
//!   a FIN frame, and Close 1000. Requests that arrive in the rendezvous-only form are read
//!   from their rendezvous socket (the body streams into the handler) and answered on it.
//!   Every request is answered: no handler gives 501, a panicking or overdue handler 500.
//!
//! It does not assemble WebSocket messages on the control channel beyond one text message,
//! keep rendezvous sockets open for further requests (like .NET, it closes them after each
//! response), or retry a failed accept.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use futures_lite::future;
use http_body::Body as _;
use http_body_util::BodyExt as _;
use interlink_core::relay::address::{filter_query, reject_url};
use interlink_core::relay::connection_string::ConnectionString;
use interlink_core::relay::listener::{
    Listener, ListenerConfig, ListenerOutput, TokenSource, rendezvous_response_head,
};
use interlink_core::relay::message::{
    AcceptCommand, ControlMessage, Headers, RemoteEndpoint, RequestCommand,
};
use interlink_core::time::Instant as CoreInstant;
use interlink_core::ws::{Connection, ConnectionConfig, Event, OpCode, Role, generate_key};

use super::error::{CredentialError, ProtocolViolation, RelayError};
use crate::net::{
    self, Body, BodySender, ClientTls, HandshakeOutcome, HttpHead, Stream, Target, channel_body,
    with_timeout,
};
use crate::ws::{DriveOptions, DriverEvent, WebSocket, WsCommand, drive};

/// Largest response headers sent inline on the control channel (the relay's 32 KB limit).
const INLINE_HEADERS_MAX_BYTES: usize = 32 * 1024;

/// Largest text message read on a control channel or rendezvous socket.
const TEXT_MAX_BYTES: usize = 1 << 20;

/// How long a closing socket may take to finish its close handshake.
const CLOSE_WAIT: Duration = Duration::from_secs(10);

/// Settings of a [`RelayListener`]. The defaults are the official SDKs'.
#[derive(Clone)]
pub struct ListenerOptions {
    /// TLS settings for `wss://` control channels and rendezvous addresses.
    pub tls: ClientTls,
    /// Tracking id sent as `sb-hc-id` (the relay routes `Microsoft-Relay-AllowedListeners` by it).
    pub tracking_id: Option<String>,
    /// Ping interval on the control channel (3.5 min).
    pub keepalive_interval: Duration,
    /// The control channel is reconnected when no pong (or any message) arrives this long
    /// after a ping (30 s).
    pub keepalive_timeout: Duration,
    /// Lifetime of the tokens created from a shared key (1 h); they are renewed at 80 %.
    pub token_ttl: Duration,
    /// Time to open a rendezvous address (accept, reject, request, response) (20 s, like .NET).
    pub accept_timeout: Duration,
    /// Time to open the control channel (70 s, like .NET).
    pub connect_timeout: Duration,
    /// Time the HTTP handler has to produce a response head (and a small body) before the
    /// listener answers 500 itself; below the relay's 60 s deadline (55 s).
    pub handler_timeout: Duration,
    /// Delays between reconnect attempts; the last one repeats (0, 1, 2, 5, 10, 30 s).
    pub reconnect_delays: Vec<Duration>,
}

impl Default for ListenerOptions {
    fn default() -> Self {
        ListenerOptions {
            tls: ClientTls::webpki(),
            tracking_id: None,
            keepalive_interval: Duration::from_secs(210),
            keepalive_timeout: Duration::from_secs(30),
            token_ttl: Duration::from_secs(3600),
            accept_timeout: Duration::from_secs(20),
            connect_timeout: Duration::from_secs(70),
            handler_timeout: Duration::from_secs(55),
            reconnect_delays: [0, 1, 2, 5, 10, 30].map(Duration::from_secs).to_vec(),
        }
    }
}

impl std::fmt::Debug for ListenerOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ListenerOptions")
            .field("tracking_id", &self.tracking_id)
            .field("keepalive_interval", &self.keepalive_interval)
            .field("keepalive_timeout", &self.keepalive_timeout)
            .field("token_ttl", &self.token_ttl)
            .field("accept_timeout", &self.accept_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("handler_timeout", &self.handler_timeout)
            .field("reconnect_delays", &self.reconnect_delays)
            .finish_non_exhaustive()
    }
}

/// What the accept filter decides for one sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcceptDecision {
    /// Open the rendezvous; the socket is queued for [`RelayListener::accept`].
    Accept,
    /// Refuse: the sender's handshake fails with `status` and `description`.
    Reject {
        /// HTTP status the sender sees (e.g. 400, 403).
        status: u16,
        /// Reason text the sender sees.
        description: String,
    },
}

/// A sender's WebSocket, accepted and connected through the relay.
pub struct AcceptedSocket {
    /// The socket (we are the client of the relay: our frames are masked).
    pub socket: WebSocket,
    /// The sender's path and query as the listener sees them: the hybrid connection name,
    /// any suffix, and the app query without `sb-hc-*` parameters (e.g. `/hc1/chat?room=1`).
    pub path_and_query: String,
    /// Every header of the sender's upgrade request (`connectHeaders`).
    pub headers: Headers,
    /// The sender's tracking id (its `sb-hc-id`, or one the relay made up).
    pub id: String,
    /// Where the sender connected from, if the relay said.
    pub remote_endpoint: Option<RemoteEndpoint>,
}

impl std::fmt::Debug for AcceptedSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AcceptedSocket")
            .field("path_and_query", &self.path_and_query)
            .field("id", &self.id)
            .field("protocol", &self.socket.protocol())
            .finish_non_exhaustive()
    }
}

/// Found in the extensions of every request passed to the HTTP handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    /// The relay's request id.
    pub id: String,
    /// Where the sender connected from, if the relay said.
    pub remote_endpoint: Option<RemoteEndpoint>,
    /// `true` when the request came over a rendezvous socket (large or streamed), `false`
    /// when it came inline on the control channel.
    pub via_rendezvous: bool,
}

/// A change of the listener's state, from [`RelayListener::subscribe`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerEvent {
    /// The control channel is up.
    Online,
    /// The control channel went down; a reconnect is scheduled.
    Offline {
        /// What happened.
        reason: String,
    },
    /// The listener stopped for good (closed, or the relay answered 404). Always last.
    Stopped {
        /// Why.
        reason: String,
    },
}

type HttpHandler =
    Arc<dyn Fn(http::Request<Body>) -> BoxFuture<'static, http::Response<Body>> + Send + Sync>;
type AcceptFilter = Arc<dyn Fn(&AcceptCommand) -> AcceptDecision + Send + Sync>;
/// Takes over accepts entirely (used by [`forward`](super::forward::forward)).
pub(crate) type AcceptHandler = Arc<dyn Fn(AcceptCommand) -> BoxFuture<'static, ()> + Send + Sync>;

/// The listener's clock: core instants are milliseconds since `origin`.
struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    fn now(&self) -> CoreInstant {
        CoreInstant(self.origin.elapsed().as_millis() as u64)
    }

    fn at(&self, t: CoreInstant) -> std::time::Instant {
        self.origin + Duration::from_millis(t.0)
    }
}

/// State shared by the handles, the control task and the per-request tasks.
struct Shared {
    core: Mutex<Listener>,
    clock: Clock,
    options: ListenerOptions,
    wake: async_channel::Sender<()>,
    http: RwLock<Option<HttpHandler>>,
    filter: RwLock<Option<AcceptFilter>>,
    accept_handler: RwLock<Option<AcceptHandler>>,
    accepted_tx: async_channel::Sender<AcceptedSocket>,
    accepted_rx: async_channel::Receiver<AcceptedSocket>,
    online: AtomicBool,
    stopped: AtomicBool,
    subscribers: Mutex<Vec<async_channel::Sender<ListenerEvent>>>,
    /// Closed when the control task has ended.
    done: async_channel::Receiver<()>,
}

impl Shared {
    fn core(&self) -> std::sync::MutexGuard<'_, Listener> {
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn notify(&self) {
        let _ = self.wake.try_send(());
    }

    fn request_close(&self) {
        self.core().close();
        self.notify();
    }

    fn broadcast(&self, event: ListenerEvent) {
        let mut subs = self.subscribers.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| !s.is_closed());
        for s in subs.iter() {
            let _ = s.try_send(event.clone());
        }
    }
}

/// Closes the listener when the last [`RelayListener`] clone is dropped.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.request_close();
    }
}

/// A Hybrid Connections listener: keeps the control channel up (the core [`Listener`]
/// drives backoff, token renewal and keepalive), serves HTTP requests through a handler and
/// hands accepted WebSockets to [`RelayListener::accept`].
///
/// Cheap to clone; every clone is the same listener. Dropping the last clone closes it.
#[derive(Clone)]
pub struct RelayListener {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for RelayListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelayListener")
            .field("online", &self.is_online())
            .field("stopped", &self.is_stopped())
            .finish_non_exhaustive()
    }
}

/// The token source of a connection string: its SharedAccessSignature, or its key.
fn token_source(cs: &ConnectionString) -> Result<TokenSource, CredentialError> {
    if let Some(sig) = &cs.shared_access_signature {
        return Ok(TokenSource::Fixed(sig.clone()));
    }
    match (&cs.shared_access_key_name, &cs.shared_access_key) {
        (Some(name), Some(key)) => Ok(TokenSource::SharedKey {
            key_name: name.clone(),
            key: key.clone(),
        }),
        _ => match &cs.authentication {
            Some(a) => Err(CredentialError::Unsupported(a.clone())),
            None => Err(CredentialError::Missing),
        },
    }
}

/// `entity_path`, or the connection string's `EntityPath` when it is empty.
pub(crate) fn entity_of(cs: &ConnectionString, entity_path: &str) -> Result<String, RelayError> {
    let e = entity_path.trim_matches('/');
    let e = if e.is_empty() {
        cs.entity_path.as_deref().unwrap_or("").trim_matches('/')
    } else {
        e
    };
    if e.is_empty() {
        return Err(RelayError::MissingEntityPath);
    }
    Ok(e.to_string())
}

impl RelayListener {
    /// Connects the control channel for `entity_path` (or the connection string's
    /// `EntityPath` when empty). Resolves once online, or with the first error, like .NET's
    /// `OpenAsync`: [`RelayError::Refused`] (401, 403, ...), [`RelayError::NotFound`] (404),
    /// a network error or a timeout; the listener is then stopped. Once online it reconnects
    /// on its own until closed or answered 404.
    pub async fn bind(
        cs: &ConnectionString,
        entity_path: &str,
        options: ListenerOptions,
    ) -> Result<RelayListener, RelayError> {
        let entity = entity_of(cs, entity_path)?;
        let token = token_source(cs)?;
        let clock = Clock {
            origin: std::time::Instant::now(),
        };
        let mut config = ListenerConfig::new(cs.endpoint.clone(), entity, token);
        config.token_ttl = options.token_ttl;
        config.tracking_id = options.tracking_id.clone();
        config.keepalive_interval = options.keepalive_interval;
        config.keepalive_timeout = options.keepalive_timeout;
        config.reconnect_delays = options.reconnect_delays.clone();
        config.unix_origin_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        let (wake_tx, wake_rx) = async_channel::bounded(1);
        let (accepted_tx, accepted_rx) = async_channel::bounded(64);
        let (done_tx, done_rx) = async_channel::bounded::<()>(1);
        let shared = Arc::new(Shared {
            core: Mutex::new(Listener::new(config)),
            clock,
            options,
            wake: wake_tx,
            http: RwLock::new(None),
            filter: RwLock::new(None),
            accept_handler: RwLock::new(None),
            accepted_tx,
            accepted_rx,
            online: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            subscribers: Mutex::new(Vec::new()),
            done: done_rx,
        });
        let (first_tx, first_rx) = async_channel::bounded(1);
        smol::spawn(run(shared.clone(), wake_rx, done_tx, first_tx)).detach();
        let listener = RelayListener {
            handle: Arc::new(Handle { shared }),
        };
        match first_rx.recv().await {
            Ok(Ok(())) => Ok(listener),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(RelayError::Closed),
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.handle.shared
    }

    /// Sets the HTTP handler. It gets the request as the sender sent it (path = the
    /// `requestTarget`, which includes the hybrid connection name, e.g. `/hc1/x?y`; headers;
    /// the body, streaming for large requests) with a [`RequestInfo`] extension, and returns
    /// the response; its body may stream (it is sent piece by piece). Without a handler every
    /// request gets 501.
    pub fn set_http_handler<H, F>(&self, handler: H)
    where
        H: Fn(http::Request<Body>) -> F + Send + Sync + 'static,
        F: Future<Output = http::Response<Body>> + Send + 'static,
    {
        let h: HttpHandler = Arc::new(move |req| Box::pin(handler(req)));
        *self
            .shared()
            .http
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(h);
    }

    /// Sets the filter that decides for each sender whether to accept or reject it. Without
    /// one every sender is accepted. A panicking filter rejects with 502.
    pub fn set_accept_filter(
        &self,
        filter: impl Fn(&AcceptCommand) -> AcceptDecision + Send + Sync + 'static,
    ) {
        *self
            .shared()
            .filter
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(filter));
    }

    /// Takes over accepts entirely: `handler` gets every `accept` command and must open or
    /// reject its address itself. The filter and the [`RelayListener::accept`] queue are
    /// bypassed.
    pub(crate) fn set_accept_handler(&self, handler: AcceptHandler) {
        *self
            .shared()
            .accept_handler
            .write()
            .unwrap_or_else(|p| p.into_inner()) = Some(handler);
    }

    /// The next accepted WebSocket, after its rendezvous handshake; `None` once the listener
    /// has stopped and the queue is empty.
    pub async fn accept(&self) -> Option<AcceptedSocket> {
        self.shared().accepted_rx.recv().await.ok()
    }

    /// `true` while the control channel is up.
    pub fn is_online(&self) -> bool {
        self.shared().online.load(Ordering::SeqCst)
    }

    /// `true` once the listener has stopped for good.
    pub fn is_stopped(&self) -> bool {
        self.shared().stopped.load(Ordering::SeqCst)
    }

    /// Resolves when the control channel is up (at once if it is); [`RelayError::Closed`]
    /// if the listener stops first. Bound it with [`with_timeout`](crate::net::with_timeout)-
    /// style racing if need be.
    pub async fn wait_online(&self) -> Result<(), RelayError> {
        let events = self.subscribe();
        loop {
            if self.is_stopped() {
                return Err(RelayError::Closed);
            }
            if self.is_online() {
                return Ok(());
            }
            match events.recv().await {
                Ok(ListenerEvent::Online) => return Ok(()),
                Ok(ListenerEvent::Stopped { .. }) | Err(_) => return Err(RelayError::Closed),
                Ok(ListenerEvent::Offline { .. }) => {}
            }
        }
    }

    /// A stream of state changes from now on (the last 64 are kept if not read).
    pub fn subscribe(&self) -> async_channel::Receiver<ListenerEvent> {
        let (tx, rx) = async_channel::bounded(64);
        if self.is_stopped() {
            tx.close();
        } else {
            self.shared()
                .subscribers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(tx);
        }
        rx
    }

    /// Closes the control channel with 1000 and stops; waits (at most 10 s) for the close
    /// handshake. Sockets already accepted stay open. Afterwards [`RelayListener::accept`]
    /// returns what is queued, then `None`.
    pub async fn close(&self) {
        self.shared().request_close();
        let done = self.shared().done.clone();
        future::or(
            async {
                let _ = done.recv().await;
            },
            async {
                async_io::Timer::after(CLOSE_WAIT + Duration::from_secs(1)).await;
            },
        )
        .await;
    }

    /// The options the listener runs with.
    pub fn options(&self) -> &ListenerOptions {
        &self.shared().options
    }
}

// ----- the control channel ------------------------------------------------------------

/// The control channel's WebSocket while it is up.
struct Control {
    commands: async_channel::Sender<WsCommand>,
    events: async_channel::Receiver<DriverEvent>,
    task: smol::Task<()>,
    close_code: Option<u16>,
    text: Vec<u8>,
}

enum Wake {
    Woken,
    Timer,
    Connected(Result<(Stream, BytesMut), RelayError>),
    Event(Option<DriverEvent>),
}

type Connecting = BoxFuture<'static, Result<(Stream, BytesMut), RelayError>>;

/// Starts the WebSocket driver of a client connection that delivers received data frames as
/// fragments. Returns its command sender, event receiver and task.
fn start_driven(
    stream: Stream,
    leftover: BytesMut,
    commands_capacity: Option<usize>,
) -> (
    async_channel::Sender<WsCommand>,
    async_channel::Receiver<DriverEvent>,
    smol::Task<()>,
) {
    let (ctx, crx) = match commands_capacity {
        Some(n) => async_channel::bounded(n),
        None => async_channel::unbounded(),
    };
    let (etx, erx) = async_channel::bounded(64);
    let mut config = ConnectionConfig::new(Role::Client);
    config.stream_fragments = true;
    let conn = Connection::new(config, fastrand::u64(..));
    let task = smol::spawn(async move {
        drive(
            stream,
            &leftover,
            conn,
            crx,
            etx,
            |e| e,
            DriveOptions::default(),
        )
        .await;
    });
    (ctx, erx, task)
}

/// The control task: runs the core listener until it stops.
async fn run(
    shared: Arc<Shared>,
    wake: async_channel::Receiver<()>,
    _done: async_channel::Sender<()>,
    first: async_channel::Sender<Result<(), RelayError>>,
) {
    let mut first = Some(first);
    let mut control: Option<Control> = None;
    let mut connecting: Option<Connecting> = None;
    let tls = shared.options.tls.clone();
    let connect_timeout = shared.options.connect_timeout;
    shared.core().start(shared.clock.now());
    let stop_reason = 'run: loop {
        let outputs: Vec<ListenerOutput> = {
            let mut core = shared.core();
            std::iter::from_fn(|| core.poll_output()).collect()
        };
        let mut closing = Vec::new();
        let mut stop = None;
        for out in outputs {
            match out {
                ListenerOutput::Connect { url, headers } => {
                    let tls = tls.clone();
                    connecting = Some(Box::pin(async move {
                        let headers: Vec<(&str, &str)> = headers
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_str()))
                            .collect();
                        open_ws(&url, &[], &headers, &tls, connect_timeout)
                            .await
                            .map(|(s, l, _)| (s, l))
                            .map_err(|e| match e {
                                RelayError::Refused {
                                    status: 404,
                                    reason,
                                } => RelayError::NotFound { reason },
                                e => e,
                            })
                    }));
                }
                ListenerOutput::SendText(t) => send_control(&control, WsCommand::Text(t)).await,
                ListenerOutput::SendBinary(b) => send_control(&control, WsCommand::Binary(b)).await,
                ListenerOutput::Ping => send_control(&control, WsCommand::Ping(Bytes::new())).await,
                ListenerOutput::Close { code, reason } => {
                    connecting = None;
                    if let Some(c) = control.take() {
                        let _ = c.commands.send(WsCommand::Close { code, reason }).await;
                        closing.push(c.task);
                    }
                }
                ListenerOutput::Online => {
                    shared.online.store(true, Ordering::SeqCst);
                    shared.broadcast(ListenerEvent::Online);
                    if let Some(f) = first.take() {
                        let _ = f.try_send(Ok(()));
                    }
                }
                ListenerOutput::Offline { reason } => {
                    tracing::debug!(%reason, "relay listener offline");
                    shared.online.store(false, Ordering::SeqCst);
                    shared.broadcast(ListenerEvent::Offline { reason });
                }
                ListenerOutput::Accept(accept) => {
                    smol::spawn(handle_accept(shared.clone(), accept)).detach();
                }
                ListenerOutput::Request { request, body } => {
                    smol::spawn(handle_control_request(shared.clone(), request, body)).detach();
                }
                ListenerOutput::RendezvousRequest { address, .. } => {
                    smol::spawn(handle_rendezvous_request(shared.clone(), address)).detach();
                }
                ListenerOutput::Stopped { reason } => stop = Some(reason),
            }
        }
        if let Some(reason) = stop {
            // Let the closing channel finish its handshake (bounded by the driver's linger).
            for task in closing {
                future::or(task, async {
                    async_io::Timer::after(CLOSE_WAIT).await;
                })
                .await;
            }
            break 'run reason;
        }
        for task in closing {
            task.detach();
        }

        let deadline = shared.core().poll_timeout().map(|t| shared.clock.at(t));
        let woken = async {
            let _ = wake.recv().await;
            Wake::Woken
        };
        let timer = async {
            match deadline {
                Some(d) => {
                    async_io::Timer::at(d).await;
                    Wake::Timer
                }
                None => future::pending().await,
            }
        };
        let connected = async {
            match connecting.as_mut() {
                Some(f) => Wake::Connected(f.await),
                None => future::pending().await,
            }
        };
        let event = async {
            match control.as_ref() {
                Some(c) => Wake::Event(c.events.recv().await.ok()),
                None => future::pending().await,
            }
        };
        let woke = future::or(woken, future::or(timer, future::or(connected, event))).await;
        let now = shared.clock.now();
        match woke {
            Wake::Woken => {}
            Wake::Timer => shared.core().handle_timeout(now),
            Wake::Connected(result) => {
                connecting = None;
                match result {
                    Ok((stream, leftover)) => {
                        let (commands, events, task) = start_driven(stream, leftover, None);
                        control = Some(Control {
                            commands,
                            events,
                            task,
                            close_code: None,
                            text: Vec::new(),
                        });
                        shared.core().handle_connected(now);
                    }
                    Err(e) => {
                        tracing::debug!(error = %e, "relay listener could not connect");
                        if let Some(f) = first.take() {
                            // Like OpenAsync: the first failure is the caller's, and final.
                            let _ = f.try_send(Err(e));
                            shared.core().close();
                        } else {
                            shared
                                .core()
                                .handle_connect_failed(now, e.status(), &e.to_string());
                        }
                    }
                }
            }
            Wake::Event(event) => on_control_event(&shared, &mut control, now, event),
        }
    };
    shared.online.store(false, Ordering::SeqCst);
    shared.stopped.store(true, Ordering::SeqCst);
    shared.accepted_tx.close();
    shared.broadcast(ListenerEvent::Stopped {
        reason: stop_reason,
    });
    shared
        .subscribers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clear();
    if let Some(f) = first.take() {
        let _ = f.try_send(Err(RelayError::Closed));
    }
}

async fn send_control(control: &Option<Control>, cmd: WsCommand) {
    if let Some(c) = control {
        let _ = c.commands.send(cmd).await;
    }
}

/// Feeds one event of the control channel's WebSocket to the core.
fn on_control_event(
    shared: &Shared,
    control: &mut Option<Control>,
    now: CoreInstant,
    event: Option<DriverEvent>,
) {
    let Some(c) = control.as_mut() else { return };
    match event {
        Some(DriverEvent::Ws(Event::Fragment {
            opcode: OpCode::Text,
            data,
            fin,
            ..
        })) => {
            if c.text.len() + data.len() > TEXT_MAX_BYTES {
                tracing::debug!("control message too large; dropped");
                c.text = Vec::new();
                return;
            }
            c.text.extend_from_slice(&data);
            if fin {
                let text = std::mem::take(&mut c.text);
                shared
                    .core()
                    .handle_text(now, &String::from_utf8_lossy(&text));
            }
        }
        Some(DriverEvent::Ws(Event::Fragment { data, fin, .. })) => {
            shared.core().handle_binary(now, &data, fin)
        }
        Some(DriverEvent::Ws(Event::Message(m))) => match m {
            interlink_core::ws::Message::Text(t) => shared.core().handle_text(now, &t),
            interlink_core::ws::Message::Binary(b) => shared.core().handle_binary(now, &b, true),
        },
        Some(DriverEvent::Ws(Event::Ping(_) | Event::Pong(_))) => shared.core().handle_pong(now),
        Some(DriverEvent::Ws(Event::Close(frame))) => c.close_code = frame.map(|f| f.code),
        Some(DriverEvent::Ended { error }) => {
            if let Some(e) = error {
                tracing::debug!(error = %e, "relay control channel ended");
            }
            let code = c.close_code;
            *control = None;
            shared.core().handle_closed(now, code);
        }
        None => {
            let code = c.close_code;
            *control = None;
            shared.core().handle_closed(now, code);
        }
    }
}

// ----- opening WebSockets ---------------------------------------------------------------

/// The refusal of a WebSocket handshake as an error: the reason phrase, or the start of the
/// body when the phrase is empty.
pub(crate) fn refusal(head: &HttpHead, body: &[u8]) -> RelayError {
    let reason = if head.reason.trim().is_empty() {
        let text = String::from_utf8_lossy(body);
        text.chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string()
    } else {
        head.reason.clone()
    };
    RelayError::Refused {
        status: head.status,
        reason,
    }
}

/// Opens a WebSocket to `url` (used verbatim) within `limit`: TCP, TLS for `wss`, the
/// handshake offering `protocols` with `headers`. A non-101 answer is
/// [`RelayError::Refused`].
pub(crate) async fn open_ws(
    url: &str,
    protocols: &[&str],
    headers: &[(&str, &str)],
    tls: &ClientTls,
    limit: Duration,
) -> Result<(Stream, BytesMut, HttpHead), RelayError> {
    let target = Target::parse(url)?;
    let outcome = with_timeout(limit, async {
        let stream = net::connect(&target, tls).await?;
        let key = generate_key(&mut fastrand::Rng::new());
        net::ws_handshake(stream, &target, &key, protocols, headers).await
    })
    .await
    .map_err(RelayError::from_net)?;
    match outcome {
        HandshakeOutcome::Upgraded {
            head,
            stream,
            leftover,
        } => Ok((stream, leftover, head)),
        HandshakeOutcome::Refused { head, body } => Err(refusal(&head, &body)),
    }
}

/// Answers an accept with a rejection: connects to the reject URL; the relay's 410 is
/// success.
pub(crate) async fn reject(
    address: &str,
    status: u16,
    description: &str,
    tls: &ClientTls,
    limit: Duration,
) -> Result<(), RelayError> {
    let url = reject_url(address, status, description);
    match open_ws(&url, &[], &[], tls, limit).await {
        Err(RelayError::Refused { status: 410, .. }) => Ok(()),
        // A relay that upgrades a reject has still got the message; drop the socket.
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The subprotocols a sender offered, from its `connectHeaders`, in order.
pub fn offered_protocols(headers: &Headers) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Protocol"))
        .flat_map(|(_, v)| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The path and query a sender asked for, from a rendezvous address: `/$hc` removed, the
/// query without `sb-hc-*` parameters (`ws://r/$hc/hc1/a?x=1&sb-hc-action=accept` →
/// `/hc1/a?x=1`).
pub fn sender_path(address: &str) -> String {
    let pq = match Target::parse(address) {
        Ok(t) => t.path_and_query,
        Err(_) => return "/".into(),
    };
    let (path, query) = match pq.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (pq.as_str(), None),
    };
    let rest = ["/$hc", "/%24hc"]
        .iter()
        .find_map(|prefix| {
            let head = path.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix)
                .then(|| &path[prefix.len()..])
                .filter(|r| r.is_empty() || r.starts_with('/'))
        })
        .unwrap_or(path);
    let mut out = if rest.is_empty() {
        "/".to_string()
    } else {
        rest.to_string()
    };
    if let Some(q) = query.and_then(filter_query) {
        out.push('?');
        out.push_str(&q);
    }
    out
}

// ----- accepts --------------------------------------------------------------------------

async fn handle_accept(shared: Arc<Shared>, accept: AcceptCommand) {
    let takeover = shared
        .accept_handler
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if let Some(handler) = takeover {
        return handler(accept).await;
    }
    let filter = shared
        .filter
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let decision = match filter {
        None => AcceptDecision::Accept,
        Some(f) => std::panic::catch_unwind(AssertUnwindSafe(|| f(&accept))).unwrap_or_else(|_| {
            AcceptDecision::Reject {
                status: 502,
                description: "Bad Gateway: the listener's accept filter failed".into(),
            }
        }),
    };
    let tls = &shared.options.tls;
    let limit = shared.options.accept_timeout;
    match decision {
        AcceptDecision::Accept => {
            let protocol = offered_protocols(&accept.connect_headers)
                .into_iter()
                .next();
            let protocols: Vec<&str> = protocol.as_deref().into_iter().collect();
            match open_ws(&accept.address, &protocols, &[], tls, limit).await {
                Ok((stream, leftover, head)) => {
                    let chosen = head
                        .header("sec-websocket-protocol")
                        .map(|p| p.trim().to_string())
                        .or(protocol);
                    let socket = AcceptedSocket {
                        socket: WebSocket::start(stream, &leftover, Role::Client, chosen),
                        path_and_query: sender_path(&accept.address),
                        headers: accept.connect_headers,
                        id: accept.id,
                        remote_endpoint: accept.remote_endpoint,
                    };
                    let _ = shared.accepted_tx.send(socket).await;
                }
                Err(e) => tracing::debug!(error = %e, "accepting a relayed WebSocket failed"),
            }
        }
        AcceptDecision::Reject {
            status,
            description,
        } => {
            if let Err(e) = reject(&accept.address, status, &description, tls, limit).await {
                tracing::debug!(error = %e, "rejecting a relayed WebSocket failed");
            }
        }
    }
}

// ----- HTTP -------------------------------------------------------------------------------

/// How a response goes back to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Buffer the (small, complete) body and answer inline on the control channel.
    Inline,
    /// Buffer the (small, complete) body and send it as one message on the rendezvous.
    Whole,
    /// Stream the body as fragments on a rendezvous socket.
    Stream,
}

/// Chooses how to send a response: small bodies of known size are buffered (inline on the
/// control channel when the request came there), everything else is streamed over a
/// rendezvous socket.
pub(crate) fn plan_response(
    exact_len: Option<u64>,
    headers_bytes: usize,
    on_control: bool,
    body_limit: usize,
) -> Plan {
    let small = exact_len.is_some_and(|n| n <= body_limit as u64);
    match (on_control, small) {
        (true, true) if headers_bytes <= INLINE_HEADERS_MAX_BYTES => Plan::Inline,
        (true, _) => Plan::Stream,
        (false, true) => Plan::Whole,
        (false, false) => Plan::Stream,
    }
}

/// The request handed to the handler, built from a full `request` command.
pub(crate) fn build_request(
    cmd: &RequestCommand,
    body: Body,
    via_rendezvous: bool,
) -> Result<http::Request<Body>, http::Error> {
    let mut b = http::Request::builder()
        .method(cmd.method.as_deref().unwrap_or("GET"))
        .uri(cmd.request_target.as_deref().unwrap_or("/"));
    for (name, value) in cmd.request_headers.iter() {
        if let (Ok(n), Ok(v)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            b = b.header(n, v);
        }
    }
    b.extension(RequestInfo {
        id: cmd.id.clone(),
        remote_endpoint: cmd.remote_endpoint.clone(),
        via_rendezvous,
    })
    .body(body)
}

/// Headers never passed on in a response (hop-by-hop, and the framing the relay decides).
const RESPONSE_SKIP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "te",
    "trailer",
    "upgrade",
];

/// A response's status line and headers as the `response` message carries them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head {
    pub status: u16,
    pub reason: Option<String>,
    pub headers: Headers,
}

impl Head {
    pub(crate) fn of(parts: &http::response::Parts) -> Head {
        let mut headers = Headers::new();
        for (name, value) in &parts.headers {
            if RESPONSE_SKIP.contains(&name.as_str()) {
                continue;
            }
            headers.append_joined(name.as_str(), &String::from_utf8_lossy(value.as_bytes()));
        }
        Head {
            status: parts.status.as_u16(),
            reason: parts
                .extensions
                .get::<hyper::ext::ReasonPhrase>()
                .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned()),
            headers,
        }
    }

    fn status_only(status: u16) -> Head {
        Head {
            status,
            reason: None,
            headers: Headers::new(),
        }
    }
}

/// A response with no body and this status.
fn status_response(status: u16) -> http::Response<Body> {
    let mut r = http::Response::new(net::empty());
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    r
}

/// Runs the handler on `request`: 400 if it cannot be built, 501 without a handler, 500
/// when the handler panics or takes longer than `handler_timeout`.
async fn call_handler(
    shared: &Shared,
    cmd: &RequestCommand,
    body: Body,
    via_rendezvous: bool,
) -> http::Response<Body> {
    let Ok(request) = build_request(cmd, body, via_rendezvous) else {
        return status_response(400);
    };
    let handler = shared
        .http
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let Some(handler) = handler else {
        return status_response(501);
    };
    let Ok(fut) = std::panic::catch_unwind(AssertUnwindSafe(|| handler(request))) else {
        return status_response(500);
    };
    let limit = shared.options.handler_timeout;
    let guarded = async { AssertUnwindSafe(fut).catch_unwind().await.ok() };
    let timeout = async {
        async_io::Timer::after(limit).await;
        None
    };
    match future::or(guarded, timeout).await {
        Some(r) => r,
        None => {
            tracing::debug!(request = %cmd.id, "relay HTTP handler panicked or timed out: 500");
            status_response(500)
        }
    }
}

/// Collects a small body within `limit`.
async fn collect(body: Body, limit: Duration) -> Option<Bytes> {
    future::or(
        async { body.collect().await.ok().map(|c| c.to_bytes()) },
        async {
            async_io::Timer::after(limit).await;
            None
        },
    )
    .await
}

async fn handle_control_request(shared: Arc<Shared>, request: RequestCommand, body: Option<Bytes>) {
    let body = body.map(net::full).unwrap_or_else(net::empty);
    let response = call_handler(&shared, &request, body, false).await;
    let (parts, body) = response.into_parts();
    let head = Head::of(&parts);
    let limit = shared.core().config().control_body_max_bytes;
    let plan = plan_response(
        body.size_hint().exact(),
        head.headers.byte_size(),
        true,
        limit,
    );
    if plan == Plan::Inline {
        let (head, bytes) = match collect(body, shared.options.handler_timeout).await {
            Some(b) => (head, b),
            None => (Head::status_only(500), Bytes::new()),
        };
        shared.core().respond_inline(
            &request.id,
            head.status,
            head.reason.as_deref(),
            head.headers,
            bytes,
        );
        shared.notify();
        return;
    }
    // Listener-initiated rendezvous: open the request's address and stream there.
    match Rendezvous::open(&request.address, &shared.options, false).await {
        Ok(rv) => {
            if let Err(e) = rv
                .respond(&request.id, head, body, plan, &shared.options)
                .await
            {
                tracing::debug!(error = %e, "streaming a relayed response failed");
            }
            rv.finish().await;
        }
        Err(e) => tracing::debug!(error = %e, "opening a response rendezvous failed"),
    }
}

async fn handle_rendezvous_request(shared: Arc<Shared>, address: String) {
    let mut rv = match Rendezvous::open(&address, &shared.options, true).await {
        Ok(rv) => rv,
        Err(e) => return tracing::debug!(error = %e, "opening a request rendezvous failed"),
    };
    let request = match rv.read_request(shared.options.accept_timeout).await {
        Ok(r) => r,
        Err(e) => {
            tracing::debug!(error = %e, "reading a rendezvous request failed");
            let _ = rv
                .commands
                .send(WsCommand::Close {
                    code: 1002,
                    reason: "expected a request message".into(),
                })
                .await;
            return rv.finish().await;
        }
    };
    let mut pipe = None;
    let body = match rv.binary.take() {
        Some(binary) if request.has_body() => {
            let (tx, body) = channel_body(8);
            pipe = Some(smol::spawn(pipe_body(binary, tx)));
            body
        }
        _ => net::empty(),
    };
    let response = call_handler(&shared, &request, body, true).await;
    let (parts, body) = response.into_parts();
    let head = Head::of(&parts);
    let limit = shared.core().config().control_body_max_bytes;
    let plan = plan_response(
        body.size_hint().exact(),
        head.headers.byte_size(),
        false,
        limit,
    );
    if let Err(e) = rv
        .respond(&request.id, head, body, plan, &shared.options)
        .await
    {
        tracing::debug!(error = %e, "answering a rendezvous request failed");
    }
    rv.finish().await;
    drop(pipe);
}

/// Moves a request body's fragments from the rendezvous into the handler's body. If the
/// handler drops the body, the rest is read and discarded so the socket keeps flowing.
async fn pipe_body(binary: async_channel::Receiver<(Bytes, bool)>, tx: BodySender) {
    let mut tx = Some(tx);
    loop {
        match binary.recv().await {
            Ok((data, fin)) => {
                if let Some(t) = &tx
                    && t.send(data).await.is_err()
                {
                    tx = None;
                }
                if fin {
                    return;
                }
            }
            Err(_) => {
                if let Some(t) = tx {
                    t.abort();
                }
                return;
            }
        }
    }
}

// ----- rendezvous sockets for HTTP ----------------------------------------------------------

/// A rendezvous socket opened for one HTTP request: the request comes in on it (relay-
/// initiated form) and the response goes out on it.
struct Rendezvous {
    commands: async_channel::Sender<WsCommand>,
    texts: async_channel::Receiver<String>,
    binary: Option<async_channel::Receiver<(Bytes, bool)>>,
    /// Closed once the relay sent Close or the socket ended.
    gone: async_channel::Receiver<()>,
    drive: smol::Task<()>,
    dispatch: smol::Task<()>,
}

impl Rendezvous {
    /// Opens `address` (verbatim, no token, no subprotocol). `request_body`: keep received
    /// binary fragments for [`Rendezvous::binary`]; otherwise they are discarded.
    async fn open(
        address: &str,
        options: &ListenerOptions,
        request_body: bool,
    ) -> Result<Rendezvous, RelayError> {
        let (stream, leftover, _) =
            open_ws(address, &[], &[], &options.tls, options.accept_timeout).await?;
        let (commands, events, drive) = start_driven(stream, leftover, Some(16));
        let (texts_tx, texts) = async_channel::bounded(4);
        let (binary_tx, binary) = async_channel::bounded(8);
        let (gone_tx, gone) = async_channel::bounded::<()>(1);
        let dispatch = smol::spawn(dispatch(events, texts_tx, binary_tx, gone_tx));
        Ok(Rendezvous {
            commands,
            texts,
            binary: request_body.then_some(binary),
            gone,
            drive,
            dispatch,
        })
    }

    /// Reads the full `request` message the relay sends first.
    async fn read_request(&self, limit: Duration) -> Result<RequestCommand, RelayError> {
        let text = future::or(async { self.texts.recv().await.ok() }, async {
            async_io::Timer::after(limit).await;
            None
        })
        .await
        .ok_or(ProtocolViolation::EndedEarly)?;
        match ControlMessage::parse(&text).map_err(ProtocolViolation::from)? {
            ControlMessage::Request(r) if !r.is_rendezvous_only() => Ok(r),
            _ => Err(ProtocolViolation::ExpectedRequest.into()),
        }
    }

    async fn send(&self, cmd: WsCommand) -> Result<(), RelayError> {
        self.commands
            .send(cmd)
            .await
            .map_err(|_| RelayError::Closed)
    }

    /// Sends the `response` message and the body per `plan` (never [`Plan::Inline`]), then
    /// Close 1000. A body that fails midway closes with 1011 instead (the sender sees a
    /// truncated response); the relay closing the socket stops reading the body.
    async fn respond(
        &self,
        request_id: &str,
        head: Head,
        mut body: Body,
        plan: Plan,
        options: &ListenerOptions,
    ) -> Result<(), RelayError> {
        let message = |head: Head, has_body: bool| {
            WsCommand::Text(rendezvous_response_head(
                request_id,
                head.status,
                head.reason.as_deref(),
                head.headers,
                has_body,
            ))
        };
        if plan != Plan::Stream {
            let (head, bytes) = match collect(body, options.handler_timeout).await {
                Some(b) => (head, b),
                None => (Head::status_only(500), Bytes::new()),
            };
            self.send(message(head, !bytes.is_empty())).await?;
            if !bytes.is_empty() {
                self.send(WsCommand::Binary(bytes)).await?;
            }
        } else {
            self.send(message(head, true)).await?;
            let mut first = true;
            loop {
                let next = future::or(async { Some(body.frame().await) }, async {
                    let _ = self.gone.recv().await;
                    None
                })
                .await;
                let data = match next {
                    None => return Err(RelayError::Closed),
                    Some(None) => break,
                    Some(Some(Ok(frame))) => match frame.into_data() {
                        Ok(d) if !d.is_empty() => d,
                        _ => continue,
                    },
                    Some(Some(Err(e))) => {
                        tracing::debug!(error = %e, "relayed response body failed");
                        self.send(WsCommand::Close {
                            code: 1011,
                            reason: "the response body failed".into(),
                        })
                        .await?;
                        return Err(RelayError::Closed);
                    }
                };
                self.send(WsCommand::Fragment {
                    opcode: OpCode::Binary,
                    data,
                    first,
                    fin: false,
                })
                .await?;
                first = false;
            }
            self.send(WsCommand::Fragment {
                opcode: OpCode::Binary,
                data: Bytes::new(),
                first,
                fin: true,
            })
            .await?;
        }
        self.send(WsCommand::Close {
            code: 1000,
            reason: String::new(),
        })
        .await
    }

    /// Ends the socket: closes with 1000 unless a Close was sent, then waits (bounded) for
    /// the close handshake so nothing queued is cut off.
    async fn finish(self) {
        let Rendezvous {
            commands,
            texts,
            binary,
            drive,
            dispatch,
            ..
        } = self;
        drop((commands, texts, binary));
        future::or(drive, async {
            async_io::Timer::after(CLOSE_WAIT).await;
        })
        .await;
        dispatch.detach();
    }
}

/// Sorts a rendezvous socket's events: text messages (assembled), binary fragments (with
/// backpressure while someone reads them), and the end of the socket.
async fn dispatch(
    events: async_channel::Receiver<DriverEvent>,
    texts: async_channel::Sender<String>,
    binary: async_channel::Sender<(Bytes, bool)>,
    gone: async_channel::Sender<()>,
) {
    let mut gone = Some(gone);
    let mut text = Vec::new();
    while let Ok(event) = events.recv().await {
        match event {
            DriverEvent::Ws(Event::Fragment {
                opcode: OpCode::Text,
                data,
                fin,
                ..
            }) => {
                if text.len() + data.len() <= TEXT_MAX_BYTES {
                    text.extend_from_slice(&data);
                }
                if fin {
                    let t = String::from_utf8_lossy(&std::mem::take(&mut text)).into_owned();
                    let _ = texts.try_send(t);
                }
            }
            DriverEvent::Ws(Event::Fragment { data, fin, .. }) => {
                let _ = binary.send((data, fin)).await;
            }
            DriverEvent::Ws(Event::Close(_)) | DriverEvent::Ended { .. } => {
                binary.close();
                gone.take();
            }
            DriverEvent::Ws(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_policy() {
        let limit = 64 * 1024;
        assert_eq!(plan_response(Some(0), 10, true, limit), Plan::Inline);
        assert_eq!(plan_response(Some(65536), 10, true, limit), Plan::Inline);
        assert_eq!(plan_response(Some(65537), 10, true, limit), Plan::Stream);
        assert_eq!(plan_response(None, 10, true, limit), Plan::Stream);
        assert_eq!(plan_response(Some(5), 40_000, true, limit), Plan::Stream);
        assert_eq!(plan_response(Some(5), 10, false, limit), Plan::Whole);
        assert_eq!(plan_response(Some(70_000), 10, false, limit), Plan::Stream);
        assert_eq!(plan_response(None, 10, false, limit), Plan::Stream);
    }

    #[test]
    fn size_hints_drive_the_policy() {
        let limit = 64 * 1024;
        let small = net::full(vec![0u8; 100]);
        assert_eq!(small.size_hint().exact(), Some(100));
        let (_tx, streaming) = channel_body(1);
        assert_eq!(streaming.size_hint().exact(), None);
        assert_eq!(
            plan_response(small.size_hint().exact(), 0, true, limit),
            Plan::Inline
        );
        assert_eq!(
            plan_response(streaming.size_hint().exact(), 0, true, limit),
            Plan::Stream
        );
    }

    #[test]
    fn builds_the_handler_request_from_a_request_command() {
        let text = r#"{"request":{"address":"ws://r/$hc/hc1?sb-hc-action=request&sb-hc-id=7","id":"7","requestTarget":"/hc1/a/b?x=1&y","method":"PUT","remoteEndpoint":{"address":"10.0.0.1","port":5},"requestHeaders":{"Content-Type":"text/plain","X-A":"v1, v2","Bad Name":"x"},"body":true}}"#;
        let ControlMessage::Request(cmd) = ControlMessage::parse(text).unwrap() else {
            panic!()
        };
        let req = build_request(&cmd, net::full("hi"), true).unwrap();
        assert_eq!(req.method(), http::Method::PUT);
        assert_eq!(req.uri().path(), "/hc1/a/b");
        assert_eq!(req.uri().query(), Some("x=1&y"));
        assert_eq!(req.headers()["content-type"], "text/plain");
        assert_eq!(req.headers()["x-a"], "v1, v2");
        assert_eq!(req.headers().len(), 2);
        let info = req.extensions().get::<RequestInfo>().unwrap();
        assert_eq!(info.id, "7");
        assert!(info.via_rendezvous);
        assert_eq!(info.remote_endpoint.as_ref().unwrap().port, 5);
    }

    #[test]
    fn response_head_drops_framing_headers_and_keeps_the_reason() {
        let mut resp = http::Response::builder()
            .status(201)
            .header("Content-Length", "5")
            .header("Transfer-Encoding", "chunked")
            .header("Connection", "close")
            .header("Set-Cookie", "a=1")
            .header("Set-Cookie", "b=2")
            .header("X-Y", "z")
            .body(net::empty())
            .unwrap();
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(b"Made It"));
        let (parts, _) = resp.into_parts();
        let head = Head::of(&parts);
        assert_eq!(head.status, 201);
        assert_eq!(head.reason.as_deref(), Some("Made It"));
        assert_eq!(
            head.headers.0,
            vec![
                ("set-cookie".to_string(), "a=1, b=2".to_string()),
                ("x-y".to_string(), "z".to_string())
            ]
        );
    }

    #[test]
    fn sender_paths_and_protocols() {
        assert_eq!(
            sender_path("ws://127.0.0.1:9/$hc/hc1/chat?room=1&sb-hc-action=accept&sb-hc-id=x"),
            "/hc1/chat?room=1"
        );
        assert_eq!(
            sender_path("wss://g1.example/%24HC/hc1?sb-hc-action=accept&sb-hc-id=x"),
            "/hc1"
        );
        assert_eq!(sender_path("ws://h/other/p"), "/other/p");
        let mut h = Headers::new();
        h.append_joined("Sec-WebSocket-Key", "k");
        h.append_joined("sec-websocket-protocol", "chat.v2, chat.v1");
        assert_eq!(offered_protocols(&h), vec!["chat.v2", "chat.v1"]);
        assert!(offered_protocols(&Headers::new()).is_empty());
    }

    #[test]
    fn token_sources() {
        let cs: ConnectionString = "Endpoint=sb://h/;SharedAccessKeyName=r;SharedAccessKey=k"
            .parse()
            .unwrap();
        assert!(matches!(
            token_source(&cs),
            Ok(TokenSource::SharedKey { .. })
        ));
        let cs: ConnectionString =
            "Endpoint=sb://h/;SharedAccessSignature=SharedAccessSignature sr=x"
                .parse()
                .unwrap();
        assert!(matches!(token_source(&cs), Ok(TokenSource::Fixed(_))));
        let cs: ConnectionString = "Endpoint=sb://h/;Authentication=Managed Identity"
            .parse()
            .unwrap();
        assert!(matches!(
            token_source(&cs),
            Err(CredentialError::Unsupported(_))
        ));
        let cs: ConnectionString = "Endpoint=sb://h/".parse().unwrap();
        assert_eq!(token_source(&cs), Err(CredentialError::Missing));
        assert!(matches!(
            entity_of(&cs, ""),
            Err(RelayError::MissingEntityPath)
        ));
        assert_eq!(entity_of(&cs, "/hc1/").unwrap(), "hc1");
    }

    #[test]
    fn refusals_use_the_reason_or_the_body() {
        let head = HttpHead {
            status: 401,
            reason: String::new(),
            headers: vec![],
        };
        let e = refusal(&head, b"TokenMissingOrInvalid\n");
        assert!(
            matches!(&e, RelayError::Refused { status: 401, reason } if reason == "TokenMissingOrInvalid")
        );
    }
}
