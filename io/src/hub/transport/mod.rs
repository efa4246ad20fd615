//! The HTTP side of SignalR connections: negotiate and the three server transports
//! (WebSockets, Server-Sent Events, long polling) for one or more hub endpoints on one
//! [`net::serve`](crate::net::serve) port. It moves raw bytes; the hub protocol (handshake,
//! messages, keep-alive, stateful buffers) is the layer above.
//!
//! Every status decision comes from the sans-IO
//! [`Connections`](interlink_core::hub::connections::Connections) table of each route; this
//! module authenticates requests, runs sockets and streams, and queues frames.
//!
//! Per route (`/demo`, or `/client/` with a required `?hub=demo`) it serves:
//!
//! | request | what |
//! |---|---|
//! | `POST {path}/negotiate` | negotiate answer, per [`NegotiateMode`] |
//! | `GET {path}` + `Upgrade: websocket` | WebSocket (`id` optional: created on the spot without) |
//! | `GET {path}` + `Accept: text/event-stream` | Server-Sent Events |
//! | other `GET {path}` | long poll |
//! | `POST {path}?id=` | client→server data for SSE and long polling |
//! | `DELETE {path}?id=` | ends a long-polling connection (202) |
//!
//! **Hand-over to the hub layer.** Each route's [`Acceptor`] yields one
//! [`AcceptedConnection`] per connection, when its first transport attaches (the WebSocket
//! upgrade, the event stream, or the first long poll — which is answered 200 at once). The
//! connection's inbound side is a bounded channel of [`TransportEvent`]s (a hub layer that
//! does not read slows the client down); its outbound side is a [`TransportSender`] with a
//! byte-bounded queue.
//!
//! What it does not do: no hub protocol, no CORS, no cookies or sessions, no HTTP/2, no
//! compression; authentication is whatever the route's hook decides.

mod helpers;
mod longpoll;
mod outbox;
mod route;
mod server;
mod sse;
mod websocket;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use interlink_core::hub::connections::TransportConfig;
pub use interlink_core::hub::negotiate::TransportKind;

pub use outbox::{SendError, TransportSender};
pub use server::{HubServer, HubServerOptions};

/// Transport settings of one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportOptions {
    /// Enabled transports, in the order negotiate advertises them. All three by default.
    pub transports: Vec<TransportKind>,
    /// Grant stateful reconnect (WebSockets) to clients that ask. Default `false`.
    pub stateful_reconnect: bool,
    /// How long a long poll is held without data before it is answered 200 empty. 90 s.
    pub poll_timeout: Duration,
    /// How long a connection lives without a transport (never connected, stateful
    /// WebSocket waiting for re-attach, long polling between polls). 15 s.
    pub disconnect_timeout: Duration,
    /// Outbound bytes queued per connection before [`TransportSender::send`] waits. 64 KiB.
    pub max_buffered_bytes: usize,
    /// Largest WebSocket frame accepted from a client (larger ⇒ close 1009). 1 MiB.
    pub max_frame_bytes: u64,
    /// Inbound [`TransportEvent`]s queued per connection before reading from the client
    /// pauses. 32.
    pub event_capacity: usize,
}

impl Default for TransportOptions {
    fn default() -> Self {
        let core = TransportConfig::default();
        TransportOptions {
            transports: core.transports,
            stateful_reconnect: core.stateful_reconnect,
            poll_timeout: core.poll_timeout,
            disconnect_timeout: core.disconnect_timeout,
            max_buffered_bytes: 64 * 1024,
            max_frame_bytes: 1 << 20,
            event_capacity: 32,
        }
    }
}

impl TransportOptions {
    fn core(&self) -> TransportConfig {
        TransportConfig {
            transports: self.transports.clone(),
            stateful_reconnect: self.stateful_reconnect,
            poll_timeout: self.poll_timeout,
            disconnect_timeout: self.disconnect_timeout,
        }
    }
}

/// What `POST {path}/negotiate` answers (always HTTP 200 once authenticated).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NegotiateMode {
    /// Create a connection here (v0 or v1 body).
    #[default]
    Connect,
    /// Send the client elsewhere: `{"url": …, "accessToken": …}` (Azure SignalR style).
    Redirect {
        /// Where the client goes next.
        url: String,
        /// The bearer token it uses there.
        access_token: String,
    },
    /// Refuse: `{"error": …}`.
    Error(String),
}

/// Who is calling, as decided by a route's auth hook.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// The user id (SignalR's `UserIdentifier`, Azure's `nameid`), if any.
    pub user_id: Option<String>,
    /// Claims as (type, value) pairs; a type may repeat.
    pub claims: Vec<(String, String)>,
}

/// An auth hook's refusal: the request is answered 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unauthorized")]
pub struct Unauthorized;

/// What an auth hook sees of a request.
#[derive(Debug)]
pub struct AuthRequest<'a> {
    /// The method.
    pub method: &'a http::Method,
    /// The request target (path and query).
    pub uri: &'a http::Uri,
    /// The headers.
    pub headers: &'a http::HeaderMap,
    /// The client's address.
    pub remote: SocketAddr,
    /// The bearer token: `Authorization: Bearer …`, else the URL-decoded `access_token`
    /// query parameter.
    pub token: Option<&'a str>,
}

type AuthHook = Arc<dyn Fn(&AuthRequest<'_>) -> Result<Principal, Unauthorized> + Send + Sync>;

/// Something that happened on a connection's inbound side, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransportEvent {
    /// Bytes from the client: one WebSocket frame, or a piece of a POST body. Boundaries
    /// carry no meaning (hub messages may span or share pieces).
    Data(Bytes),
    /// A stateful WebSocket dropped without a Close frame: the connection waits (the
    /// disconnect timeout) for the client to re-attach. Sends fail with
    /// [`SendError::Detached`] meanwhile.
    Lost,
    /// The client re-attached after [`Lost`](Self::Lost); sending works again.
    Reattached,
    /// The connection is over (the last event; the channel closes after it).
    Closed,
}

/// One connection, handed to the hub layer when its first transport attached.
#[derive(Debug)]
pub struct AcceptedConnection {
    /// The public id (`Context.ConnectionId`).
    pub connection_id: String,
    /// The secret token (the `id=` value; equal to the id after a v0 negotiate).
    pub connection_token: String,
    /// The transport in use.
    pub transport: TransportKind,
    /// What the auth hook returned for the attaching request.
    pub principal: Principal,
    /// The attaching request's query, decoded, without `access_token`.
    pub query: Vec<(String, String)>,
    /// The attaching request's headers, without `Authorization`, `Cookie` and the
    /// WebSocket handshake headers.
    pub headers: Vec<(String, String)>,
    /// The client's address.
    pub remote: SocketAddr,
    /// Stateful reconnect is in force (negotiated, allowed, and on WebSockets).
    pub stateful: bool,
    /// Inbound events; ends after [`TransportEvent::Closed`].
    pub events: async_channel::Receiver<TransportEvent>,
    /// Outbound frames and closing.
    pub sender: TransportSender,
}

/// Yields the connections of one route. Cheap to clone; each connection goes to one clone.
#[derive(Debug, Clone)]
pub struct Acceptor {
    rx: async_channel::Receiver<AcceptedConnection>,
}

impl Acceptor {
    /// The next connection, or `None` once the server is gone.
    pub async fn accept(&self) -> Option<AcceptedConnection> {
        self.rx.recv().await.ok()
    }
}

/// How long an attaching request waits for the hub layer to take its connection
/// (the [`Acceptor`] queue is full) before it is answered 503.
const ACCEPT_WAIT: Duration = Duration::from_secs(5);

/// One hub endpoint: a path, optionally a required `hub=` query value, transport options,
/// a negotiate mode and an auth hook. Build it, take its [`acceptor`](Self::acceptor),
/// then hand it to [`HubServer::start`].
pub struct HubRoute {
    path: String,
    hub: Option<String>,
    options: TransportOptions,
    negotiate: NegotiateMode,
    auth: Option<AuthHook>,
    accept: (
        async_channel::Sender<AcceptedConnection>,
        async_channel::Receiver<AcceptedConnection>,
    ),
}

impl std::fmt::Debug for HubRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubRoute")
            .field("path", &self.path)
            .field("hub", &self.hub)
            .field("options", &self.options)
            .field("negotiate", &self.negotiate)
            .field("auth", &self.auth.is_some())
            .finish()
    }
}

impl HubRoute {
    /// A route at `path` (e.g. `/demo`; a trailing `/` is ignored): all transports, no
    /// auth (every caller is an anonymous [`Principal`]), [`NegotiateMode::Connect`].
    pub fn new(path: impl Into<String>) -> HubRoute {
        HubRoute {
            path: path.into(),
            hub: None,
            options: TransportOptions::default(),
            negotiate: NegotiateMode::Connect,
            auth: None,
            accept: async_channel::bounded(64),
        }
    }

    /// Serves only requests whose `hub` query value is `hub` (ASCII case-insensitive), as
    /// Azure SignalR's `/client/?hub=demo`.
    pub fn with_hub(mut self, hub: impl Into<String>) -> HubRoute {
        self.hub = Some(hub.into());
        self
    }

    /// Sets the transport options.
    pub fn with_options(mut self, options: TransportOptions) -> HubRoute {
        self.options = options;
        self
    }

    /// Sets what negotiate answers.
    pub fn with_negotiate(mut self, mode: NegotiateMode) -> HubRoute {
        self.negotiate = mode;
        self
    }

    /// Authenticates every request of this route (negotiate, WebSocket, SSE, polls, POST,
    /// DELETE); `Err(Unauthorized)` answers 401. Called synchronously on the request path.
    pub fn with_auth(
        mut self,
        hook: impl Fn(&AuthRequest<'_>) -> Result<Principal, Unauthorized> + Send + Sync + 'static,
    ) -> HubRoute {
        self.auth = Some(Arc::new(hook));
        self
    }

    /// The receiving end of this route's connections.
    pub fn acceptor(&self) -> Acceptor {
        Acceptor {
            rx: self.accept.1.clone(),
        }
    }
}
