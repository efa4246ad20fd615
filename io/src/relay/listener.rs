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

mod http_serve;
mod open;

pub use open::{offered_protocols, sender_path};
pub(crate) use open::{open_ws, reject};

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures_lite::future;
use interlink_core::relay::connection_string::{ConnectionString, ConnectionStringError};
use interlink_core::relay::listener::{Listener, ListenerConfig, ListenerOutput, TokenSource};
use interlink_core::relay::message::{AcceptCommand, Headers, RemoteEndpoint};
use interlink_core::time::Instant as CoreInstant;
use interlink_core::ws::{Connection, ConnectionConfig, Event, OpCode, Role};

use super::error::{CredentialError, RelayError};
use crate::net::{Body, ClientTls, Stream};
use crate::ws::{DriveOptions, DriverEvent, WebSocket, WsCommand, drive};

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

impl AcceptDecision {
    /// Refuse with `status`; an empty `description` becomes the status's standard phrase
    /// (so every binding refuses the same way).
    pub fn reject(status: u16, description: impl Into<String>) -> Self {
        let description = description.into();
        let description = if description.is_empty() {
            interlink_core::relay::message::default_reason(status).to_string()
        } else {
            description
        };
        AcceptDecision::Reject {
            status,
            description,
        }
    }

    /// Refuse with 403 Forbidden: what a filter's plain "no" means.
    pub fn forbidden() -> Self {
        AcceptDecision::reject(403, "")
    }
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

/// The token source of a connection string (core's rule), as a credential error.
fn token_source(cs: &ConnectionString) -> Result<TokenSource, CredentialError> {
    cs.token_source().map_err(|e| match e {
        ConnectionStringError::UnsupportedAuthentication(a) => CredentialError::Unsupported(a),
        _ => CredentialError::Missing,
    })
}

/// `entity_path`, or the connection string's `EntityPath` when it is empty (core's rule).
pub(crate) fn entity_of(cs: &ConnectionString, entity_path: &str) -> Result<String, RelayError> {
    cs.entity(entity_path)
        .map_err(|_| RelayError::MissingEntityPath)
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
                    smol::spawn(http_serve::handle_control_request(
                        shared.clone(),
                        request,
                        body,
                    ))
                    .detach();
                }
                ListenerOutput::RendezvousRequest { address, .. } => {
                    smol::spawn(http_serve::handle_rendezvous_request(
                        shared.clone(),
                        address,
                    ))
                    .detach();
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn reject_decisions_fill_the_standard_phrase() {
        assert_eq!(
            AcceptDecision::forbidden(),
            AcceptDecision::Reject {
                status: 403,
                description: "Forbidden".into()
            }
        );
        assert_eq!(
            AcceptDecision::reject(409, ""),
            AcceptDecision::Reject {
                status: 409,
                description: "Conflict".into()
            }
        );
        assert_eq!(
            AcceptDecision::reject(409, "busy"),
            AcceptDecision::Reject {
                status: 409,
                description: "busy".into()
            }
        );
    }
}
