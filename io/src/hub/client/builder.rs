//! [`HubClientBuilder`]: the settings of a hub client, defaults from the JS client.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use interlink_core::hub::{ConnectionOptions, HubProtocol};

use super::HubClient;
use super::reconnect::{DefaultReconnectPolicy, ReconnectPolicy};
use crate::net::ClientTls;

/// Produces a bearer token before every negotiate (and WebSocket upgrade).
pub(crate) type TokenFactory = Arc<dyn Fn() -> BoxFuture<'static, String> + Send + Sync>;

/// Where the bearer token comes from.
#[derive(Clone, Default)]
pub(crate) enum AccessToken {
    #[default]
    None,
    Fixed(String),
    Factory(TokenFactory),
}

impl AccessToken {
    pub(crate) async fn get(&self) -> Option<String> {
        match self {
            AccessToken::None => None,
            AccessToken::Fixed(t) => Some(t.clone()),
            AccessToken::Factory(f) => Some(f().await),
        }
    }
}

/// Everything a client was built with.
#[derive(Clone)]
pub(crate) struct Options {
    pub url: String,
    pub protocol: HubProtocol,
    pub access_token: AccessToken,
    pub headers: Vec<(String, String)>,
    pub skip_negotiation: bool,
    pub stateful_reconnect: bool,
    pub reconnect: Option<Arc<dyn ReconnectPolicy>>,
    pub connection: ConnectionOptions,
    pub tls: ClientTls,
    pub http_timeout: Duration,
}

/// Builds a [`HubClient`]. Defaults: JSON, negotiate, no token, no automatic reconnect,
/// keep-alive 15 s, server timeout 30 s, handshake timeout 15 s, webpki roots.
///
/// Only the WebSockets transport is spoken; Server-Sent Events and long polling are not.
#[must_use]
pub struct HubClientBuilder {
    options: Options,
}

impl HubClientBuilder {
    /// A client of the hub at `url` (`http(s)://…`; `ws(s)://` works too).
    pub fn new(url: impl Into<String>) -> Self {
        let connection = ConnectionOptions {
            // Servers may send large results; the JS client has no limit at all.
            max_message_size: 16 << 20,
            ..ConnectionOptions::default()
        };
        HubClientBuilder {
            options: Options {
                url: url.into(),
                protocol: HubProtocol::Json,
                access_token: AccessToken::None,
                headers: Vec::new(),
                skip_negotiation: false,
                stateful_reconnect: false,
                reconnect: None,
                connection,
                tls: ClientTls::webpki(),
                http_timeout: Duration::from_secs(100),
            },
        }
    }

    /// `HubProtocol::Json` (text frames) or `HubProtocol::MessagePack` (binary frames).
    pub fn protocol(mut self, protocol: HubProtocol) -> Self {
        self.options.protocol = protocol;
        self
    }

    /// Sends `Authorization: Bearer <token>` on negotiate and on the WebSocket upgrade
    /// (a redirect's `accessToken` replaces it for that connection).
    pub fn access_token(mut self, token: impl Into<String>) -> Self {
        self.options.access_token = AccessToken::Fixed(token.into());
        self
    }

    /// Like [`access_token`](Self::access_token), but asks `factory` for a fresh token
    /// before each connection attempt (start, every reconnect).
    pub fn access_token_factory<F, Fut>(mut self, factory: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = String> + Send + 'static,
    {
        self.options.access_token = AccessToken::Factory(Arc::new(move || Box::pin(factory())));
        self
    }

    /// An extra header for negotiate and the WebSocket upgrade (not `Authorization` when a
    /// token is set: that one wins).
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.headers.push((name.into(), value.into()));
        self
    }

    /// Goes straight to the WebSocket at the hub URL, without negotiate (no connection id,
    /// no stateful reconnect).
    pub fn skip_negotiation(mut self, skip: bool) -> Self {
        self.options.skip_negotiation = skip;
        self
    }

    /// Asks for stateful reconnect: after an unclean WebSocket loss the same connection is
    /// re-attached on a new socket and nothing sent is lost (when the server grants it).
    pub fn stateful_reconnect(mut self, enabled: bool) -> Self {
        self.options.stateful_reconnect = enabled;
        self
    }

    /// The replay buffer of stateful reconnect: un-acknowledged bytes kept before sends are
    /// held back (100 000).
    pub fn stateful_reconnect_buffer_size(mut self, bytes: usize) -> Self {
        self.options.connection.stateful_buffer_bytes = bytes;
        self
    }

    /// Reconnects a lost connection with `policy` (e.g. [`DefaultReconnectPolicy`]).
    pub fn automatic_reconnect(mut self, policy: impl ReconnectPolicy) -> Self {
        self.options.reconnect = Some(Arc::new(policy));
        self
    }

    /// [`automatic_reconnect`](Self::automatic_reconnect) with the default schedule
    /// (0, 2, 10, 30 s).
    pub fn with_default_reconnect(self) -> Self {
        self.automatic_reconnect(DefaultReconnectPolicy::default())
    }

    /// Sends a Ping after this much send silence (15 s).
    pub fn keep_alive_interval(mut self, interval: Duration) -> Self {
        self.options.connection.keep_alive_interval = interval;
        self
    }

    /// Closes the connection when nothing arrives for this long (30 s; should be about twice
    /// the server's keep-alive interval).
    pub fn server_timeout(mut self, timeout: Duration) -> Self {
        self.options.connection.timeout = timeout;
        self
    }

    /// How long the server may take to answer the hub handshake (15 s); also bounds opening
    /// the WebSocket.
    pub fn handshake_timeout(mut self, timeout: Duration) -> Self {
        self.options.connection.handshake_timeout = timeout;
        self
    }

    /// Largest hub message accepted from the server (16 MiB).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.options.connection.max_message_size = bytes;
        self
    }

    /// How long a negotiate request may take (100 s, the JS client's HTTP timeout).
    pub fn http_timeout(mut self, timeout: Duration) -> Self {
        self.options.http_timeout = timeout;
        self
    }

    /// TLS settings for `https` / `wss` (webpki roots by default).
    pub fn tls(mut self, tls: ClientTls) -> Self {
        self.options.tls = tls;
        self
    }

    /// The client, disconnected: register handlers, then call [`HubClient::start`].
    pub fn build(self) -> HubClient {
        HubClient::from_options(self.options)
    }
}
