//! A SignalR hub client over WebSockets (JSON or MessagePack), driving the sans-IO
//! [`ClientConnection`](interlink_core::hub::ClientConnection).
//!
//! ```no_run
//! # use interlink::hub::client::*;
//! # async fn demo() -> Result<(), HubClientError> {
//! let client = HubClientBuilder::new("http://127.0.0.1:5000/chat")
//!     .with_default_reconnect()
//!     .build();
//! client.on("ReceiveMessage", |args| println!("{} arguments", args.len()));
//! client.start().await?;
//! let sum: i64 = client.invoke_as("Add", (1, 2)).await?;
//! client.stop().await;
//! # Ok(()) }
//! ```
//!
//! How it works: `start()` negotiates (`POST …/negotiate?negotiateVersion=1`, following
//! redirects with their bearer tokens), opens `ws(s)://…?id=<token>` and completes the hub
//! handshake; a failed start is never retried. Each connection then runs in one driver task
//! (`driver.rs`); a supervisor task (`session.rs`) reconnects after a loss when a
//! [`ReconnectPolicy`] is set: a server Close with `allowReconnect`, a timeout or a broken
//! socket ⇒ `Reconnecting` ⇒ full negotiate ⇒ new connection id ⇒ `Reconnected`. A server
//! Close without `allowReconnect` closes the client with `Server returned an error on close:
//! …`. With stateful reconnect granted, an unclean socket loss first re-attaches the same
//! connection on a new socket (nothing lost, no events); only if that fails does the normal
//! reconnect run. Calls pending when their connection ends fail.
//!
//! Lifecycle events come both ways: callbacks ([`HubClient::on_reconnecting`],
//! [`HubClient::on_reconnected`], [`HubClient::on_close`]) run on the supervisor task and
//! must not block; [`HubClient::events`] gives a channel of [`HubClientEvent`]s.
//!
//! What it does not do: Server-Sent Events or long polling, the browser-style
//! `access_token` query parameter (the token goes in `Authorization: Bearer`), or
//! retrying a failed `start()`.

mod builder;
mod calls;
mod connect;
mod driver;
mod error;
mod handlers;
mod negotiate;
mod reconnect;
mod session;

#[cfg(test)]
mod tests;

pub use builder::HubClientBuilder;
pub use calls::HubStream;
pub use error::{CONNECTION_CLOSED, HubClientError};
pub use handlers::{ClientResult, IntoClientResult};
pub use interlink_core::hub::{HubProtocol, RawValue};
pub use negotiate::{
    ConnectTarget, MAX_REDIRECTS, NegotiateFlow, NegotiateStep, negotiate_url, websocket_url,
};
pub use reconnect::{DefaultReconnectPolicy, ReconnectPolicy, RetryContext};

use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use interlink_core::time::Instant as CoreInstant;

use builder::Options;
use driver::{Command, Control};
use handlers::Handlers;

/// Where a client stands (the JS client's `HubConnectionState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubClientState {
    Disconnected,
    Connecting,
    Connected,
    Reconnecting,
}

/// A lifecycle event, from [`HubClient::events`] or the callbacks.
#[derive(Debug, Clone)]
pub enum HubClientEvent {
    /// The connection was lost and a reconnect begins; the reason, if any.
    Reconnecting { error: Option<HubClientError> },
    /// A new connection is up (its id; `None` after `skipNegotiation`).
    Reconnected { connection_id: Option<String> },
    /// The client is disconnected for good: `None` after `stop()` or a server Close without
    /// error; otherwise why (the last reconnect failure when the policy gave up).
    Closed { error: Option<HubClientError> },
}

/// The client's clock: core instants are milliseconds since `origin`.
pub(crate) struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    pub(crate) fn now(&self) -> CoreInstant {
        CoreInstant(self.origin.elapsed().as_millis() as u64)
    }

    pub(crate) fn at(&self, t: CoreInstant) -> std::time::Instant {
        self.origin + Duration::from_millis(t.0)
    }
}

/// How the handle reaches the current connection's driver.
#[derive(Clone)]
pub(crate) struct ConnHandle {
    pub commands: async_channel::Sender<Command>,
    pub control: async_channel::Sender<Control>,
}

/// A started client: closing `stop` stops it; `done` closes when it has stopped.
pub(crate) struct Session {
    pub stop: async_channel::Sender<()>,
    pub done: async_channel::Receiver<()>,
}

pub(crate) struct State {
    pub status: HubClientState,
    pub conn: Option<ConnHandle>,
    pub connection_id: Option<String>,
    pub session: Option<Session>,
}

type Callback = Arc<dyn Fn(&HubClientEvent) + Send + Sync>;

#[derive(Default)]
struct Listeners {
    subscribers: Vec<async_channel::Sender<HubClientEvent>>,
    callbacks: Vec<Callback>,
}

/// What every clone of a [`HubClient`], its driver and its supervisor share.
pub(crate) struct Shared {
    pub options: Options,
    pub clock: Clock,
    pub handlers: Handlers,
    state: Mutex<State>,
    listeners: Mutex<Listeners>,
    pub next_key: AtomicU64,
}

impl Shared {
    pub(crate) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn listeners(&self) -> MutexGuard<'_, Listeners> {
        self.listeners.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs the callbacks (outside the lock) and feeds the subscribers.
    pub(crate) fn emit(&self, event: HubClientEvent) {
        let callbacks = {
            let mut l = self.listeners();
            l.subscribers.retain(|s| s.try_send(event.clone()).is_ok());
            l.callbacks.clone()
        };
        for cb in callbacks {
            if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(&event))).is_err() {
                tracing::warn!("a hub client event callback panicked");
            }
        }
    }
}

/// Stops the client when the last [`HubClient`] clone is dropped.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        // The session's tasks hold `Shared`, not `Handle`: closing `stop` ends them (the
        // connection sends Close on its own task).
        drop(self.shared.state().session.take());
    }
}

/// A SignalR hub client. Cheap to clone; every clone is the same client. See the
/// [module docs](self) for the connection rules.
///
/// Dropping the last clone stops it in the background; [`HubClient::stop`] waits for that.
#[derive(Clone)]
pub struct HubClient {
    handle: Arc<Handle>,
}

impl std::fmt::Debug for HubClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubClient")
            .field("url", &self.handle.shared.options.url)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

impl HubClient {
    /// Starts building a client of the hub at `url`.
    pub fn builder(url: impl Into<String>) -> HubClientBuilder {
        HubClientBuilder::new(url)
    }

    pub(crate) fn from_options(options: Options) -> HubClient {
        HubClient {
            handle: Arc::new(Handle {
                shared: Arc::new(Shared {
                    options,
                    clock: Clock {
                        origin: std::time::Instant::now(),
                    },
                    handlers: Handlers::default(),
                    state: Mutex::new(State {
                        status: HubClientState::Disconnected,
                        conn: None,
                        connection_id: None,
                        session: None,
                    }),
                    listeners: Mutex::new(Listeners::default()),
                    next_key: AtomicU64::new(0),
                }),
            }),
        }
    }

    /// Connects: negotiate, WebSocket, hub handshake. Fails (and is not retried) when any
    /// step fails; [`HubClientError::AlreadyStarted`] unless disconnected.
    pub async fn start(&self) -> Result<(), HubClientError> {
        session::start(&self.handle.shared).await
    }

    /// Sends Close, closes the socket and waits until the client is disconnected (also
    /// cancels a running start or reconnect). Pending calls fail. Does nothing when already
    /// disconnected.
    pub async fn stop(&self) {
        let Some(session) = self.handle.shared.state().session.take() else {
            return;
        };
        drop(session.stop);
        let _ = session.done.recv().await;
    }

    /// Where the client stands.
    pub fn state(&self) -> HubClientState {
        self.handle.shared.state().status
    }

    /// The public id of the current connection (`None` while not connected and after
    /// `skipNegotiation`).
    pub fn connection_id(&self) -> Option<String> {
        self.handle.shared.state().connection_id.clone()
    }

    /// The hub protocol in use.
    pub fn protocol(&self) -> HubProtocol {
        self.handle.shared.options.protocol
    }

    /// Handles server calls of `method` (case-insensitive). The handler runs on the
    /// connection's task and must not block. Its return value answers calls that expect a
    /// result (see [`IntoClientResult`]); with several handlers exactly one may provide a
    /// result. Calls expecting a result with no handler get `Client didn't provide a
    /// result.`.
    pub fn on<F, R>(&self, method: &str, handler: F)
    where
        F: Fn(Vec<RawValue>) -> R + Send + Sync + 'static,
        R: IntoClientResult,
    {
        self.handle
            .shared
            .handlers
            .add(method, handlers::sync_handler(handler));
    }

    /// Like [`on`](Self::on) with an async handler (run in a task of its own).
    pub fn on_async<F, Fut, R>(&self, method: &str, handler: F)
    where
        F: Fn(Vec<RawValue>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
        R: IntoClientResult,
    {
        self.handle
            .shared
            .handlers
            .add(method, handlers::async_handler(handler));
    }

    /// Removes every handler of `method`.
    pub fn off(&self, method: &str) {
        self.handle.shared.handlers.remove(method);
    }

    fn add_callback(&self, cb: Callback) {
        self.handle.shared.listeners().callbacks.push(cb);
    }

    /// Called when a lost connection starts reconnecting, with the reason.
    pub fn on_reconnecting(&self, f: impl Fn(Option<&HubClientError>) + Send + Sync + 'static) {
        self.add_callback(Arc::new(move |e| {
            if let HubClientEvent::Reconnecting { error } = e {
                f(error.as_ref());
            }
        }));
    }

    /// Called when a reconnect succeeded, with the new connection id.
    pub fn on_reconnected(&self, f: impl Fn(Option<&str>) + Send + Sync + 'static) {
        self.add_callback(Arc::new(move |e| {
            if let HubClientEvent::Reconnected { connection_id } = e {
                f(connection_id.as_deref());
            }
        }));
    }

    /// Called when the client is disconnected for good (not for a failed `start()`).
    pub fn on_close(&self, f: impl Fn(Option<&HubClientError>) + Send + Sync + 'static) {
        self.add_callback(Arc::new(move |e| {
            if let HubClientEvent::Closed { error } = e {
                f(error.as_ref());
            }
        }));
    }

    /// Every lifecycle event from now on (unbounded; drop the receiver to unsubscribe).
    pub fn events(&self) -> async_channel::Receiver<HubClientEvent> {
        let (tx, rx) = async_channel::unbounded();
        self.handle.shared.listeners().subscribers.push(tx);
        rx
    }

    pub(crate) fn connected(&self) -> Result<ConnHandle, HubClientError> {
        let state = self.handle.shared.state();
        match (&state.status, &state.conn) {
            (HubClientState::Connected, Some(handle)) => Ok(handle.clone()),
            _ => Err(HubClientError::NotConnected),
        }
    }
}
