//! [`HubClientError`]: everything a hub client call, `start()` or a connection's end can
//! report, typed by cause.

use std::sync::Arc;

use interlink_core::hub::connection::SERVER_TIMEOUT;
use interlink_core::hub::handshake::HANDSHAKE_CANCELED;
use interlink_core::hub::negotiate::NegotiateError;

use crate::net::NetError;

/// The error text of calls that fail because their connection ended (the JS client's).
pub const CONNECTION_CLOSED: &str =
    "Invocation canceled due to the underlying connection being closed.";

/// Why a hub client operation failed or a connection ended.
///
/// Cheap to clone (the transport error is shared), so one error can go to every listener
/// of a lifecycle event. Variants say who is to blame: the server's answers (HTTP status,
/// `{"error"}`, handshake refusal, Close, hub errors), the network (transport, timeouts),
/// or the caller (bad URL, wrong state, values that do not encode).
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HubClientError {
    /// The hub URL cannot be used (not `http(s)://` or `ws(s)://`, bad syntax).
    #[error("invalid hub URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given (or as redirected to).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The negotiate request was answered with 401.
    #[error("negotiation was refused: 401 Unauthorized")]
    Unauthorized,
    /// The negotiate request was answered with another status than 200 (or 401).
    #[error("failed to complete negotiation with the server: status code {status}")]
    NegotiateStatus {
        /// The HTTP status.
        status: u16,
        /// The start of the response body (at most 1 KB), for diagnostics.
        body: String,
    },
    /// The negotiate answer was unusable: `{"error": …}` ([`NegotiateError::Server`]), not
    /// JSON, a classic ASP.NET SignalR server, an unrequested stateful grant, a missing key.
    #[error("{0}")]
    Negotiate(#[from] NegotiateError),
    /// More than 100 negotiate redirects in a row.
    #[error("Negotiate redirection limit exceeded.")]
    TooManyRedirects,
    /// The server does not offer WebSockets with the transfer format the protocol needs.
    #[error("Unable to connect to the server with any of the available transports.")]
    NoTransport,
    /// The WebSocket upgrade was answered with another status than 101 (404 unknown id,
    /// 401, …).
    #[error("the WebSocket connection was refused with status {status}")]
    WebSocketRefused {
        /// The HTTP status.
        status: u16,
        /// The start of the refusal body (at most 1 KB).
        body: String,
    },
    /// The server refused the hub handshake with this text.
    #[error("Server returned handshake error: {0}")]
    HandshakeRejected(String),
    /// The server did not answer the hub handshake in time.
    #[error("{}", HANDSHAKE_CANCELED)]
    HandshakeTimeout,
    /// The server sent Close with this error.
    #[error("Server returned an error on close: {0}")]
    ServerClosed(String),
    /// Nothing arrived from the server within the server timeout.
    #[error("{}", SERVER_TIMEOUT)]
    ServerTimeout,
    /// The server broke the hub protocol.
    #[error("the server broke the hub protocol: {0}")]
    Protocol(String),
    /// The connection ended (or was never there) before the operation finished; the text
    /// says how (e.g. [`CONNECTION_CLOSED`]).
    #[error("{0}")]
    ConnectionClosed(String),
    /// The client is not in the `Connected` state.
    #[error("Cannot send data if the connection is not in the 'Connected' State.")]
    NotConnected,
    /// `start()` was called while the client was not disconnected.
    #[error("Cannot start a HubConnection that is not in the 'Disconnected' state.")]
    AlreadyStarted,
    /// `stop()` was called while `start()` or a reconnect was still connecting.
    #[error("The connection was stopped during negotiation.")]
    StoppedDuringStart,
    /// The hub method failed; the server's error text.
    #[error("{0}")]
    Hub(String),
    /// A network error: DNS, TCP, TLS, HTTP, the WebSocket handshake, an operation timeout.
    #[error("transport error: {0}")]
    Transport(Arc<NetError>),
    /// A value could not be encoded or decoded (serde, JSON ↔ MessagePack).
    #[error("cannot encode or decode a value: {0}")]
    Encode(String),
}

impl From<NetError> for HubClientError {
    fn from(e: NetError) -> Self {
        HubClientError::Transport(Arc::new(e))
    }
}

impl From<interlink_core::hub::ValueError> for HubClientError {
    fn from(e: interlink_core::hub::ValueError) -> Self {
        HubClientError::Encode(e.to_string())
    }
}

impl HubClientError {
    /// `true` for 401 answers (negotiate or WebSocket upgrade): a new token is needed.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            HubClientError::Unauthorized | HubClientError::WebSocketRefused { status: 401, .. }
        )
    }
}

/// At most 1 KB of a body, as lossy UTF-8, for error reports.
pub(crate) fn body_excerpt(body: &[u8]) -> String {
    let end = body.len().min(1024);
    String::from_utf8_lossy(&body[..end]).trim().to_string()
}
