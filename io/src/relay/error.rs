//! [`RelayError`]: what the relay listener, sender and forwarder report, typed by layer and
//! blame (network, the relay's refusal, our credentials, the peer breaking the protocol).

use std::time::Duration;

use interlink_core::relay::connection_string::ConnectionStringError;
use interlink_core::relay::message::MessageError;

use crate::net::NetError;

/// Everything the relay clients ([`RelayListener`](super::listener::RelayListener),
/// [`RelaySender`](super::sender::RelaySender), [`forward`](super::forward::forward)) can
/// fail with.
///
/// [`RelayError::status`] gives the HTTP status a failure maps to, when there is one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// DNS, TCP, TLS, HTTP or handshake failure (retrying may help).
    #[error(transparent)]
    Net(#[from] NetError),
    /// The relay (or the far end) answered a WebSocket handshake with something other than
    /// `101`: 401 (token missing or invalid), 403 (wrong rights, expired address), a listener's
    /// reject status, 5xx... `reason` is the reason phrase (Azure puts its details there), or
    /// the start of the body when the phrase is empty.
    #[error("the relay refused: {status} {reason}")]
    Refused {
        /// HTTP status of the refusal.
        status: u16,
        /// Reason phrase or body text.
        reason: String,
    },
    /// The relay answered the listener's handshake with 404: the hybrid connection does not
    /// exist. A listener stops for good on this (like the .NET SDK).
    #[error("the hybrid connection does not exist: {reason}")]
    NotFound {
        /// The relay's reason text.
        reason: String,
    },
    /// No usable credentials to sign tokens with.
    #[error("credentials: {0}")]
    Auth(#[from] CredentialError),
    /// The connection string is malformed.
    #[error("connection string: {0}")]
    ConnectionString(#[from] ConnectionStringError),
    /// No hybrid connection named: neither the `entity_path` argument nor `EntityPath`.
    #[error("no hybrid connection named (entity path is empty)")]
    MissingEntityPath,
    /// The listener (or socket) was closed by the application or stopped for good.
    #[error("closed")]
    Closed,
    /// An operation did not finish in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The relay broke the Hybrid Connections protocol.
    #[error("protocol: {0}")]
    Protocol(#[from] ProtocolViolation),
    /// An HTTP request given to the sender cannot be sent (bad URI or header).
    #[error("invalid request: {0}")]
    InvalidRequest(#[from] http::Error),
}

/// Why no token could be produced.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialError {
    /// The connection string has neither `SharedAccessSignature` nor
    /// `SharedAccessKeyName` + `SharedAccessKey` (a listener always needs one).
    #[error("neither SharedAccessSignature nor SharedAccessKeyName and SharedAccessKey")]
    Missing,
    /// `Authentication=…` (e.g. Managed Identity) is not supported by this client.
    #[error("authentication `{0}` is not supported")]
    Unsupported(String),
}

/// How the relay broke the protocol on a control channel or rendezvous socket.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolViolation {
    /// A control message that does not parse.
    #[error("malformed control message: {0}")]
    Malformed(#[from] MessageError),
    /// A rendezvous socket opened for a request did not start with a `request` message.
    #[error("the rendezvous did not start with a request message")]
    ExpectedRequest,
    /// A binary message arrived where a text message was expected.
    #[error("unexpected binary message")]
    UnexpectedBinary,
    /// A text message larger than the client accepts.
    #[error("control message larger than {0} bytes")]
    MessageTooLarge(usize),
    /// The socket ended before the expected message or body was complete.
    #[error("the socket ended early")]
    EndedEarly,
}

impl RelayError {
    /// The HTTP status this error maps to: the refusal's status, 404 for
    /// [`RelayError::NotFound`], `None` for everything else.
    pub fn status(&self) -> Option<u16> {
        match self {
            RelayError::Refused { status, .. } => Some(*status),
            RelayError::NotFound { .. } => Some(404),
            _ => None,
        }
    }

    /// Turns a timed-out [`NetError`] into [`RelayError::Timeout`], other errors into
    /// [`RelayError::Net`].
    pub(crate) fn from_net(e: NetError) -> RelayError {
        match e {
            NetError::Timeout(d) => RelayError::Timeout(d),
            e => RelayError::Net(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        let refused = RelayError::Refused {
            status: 403,
            reason: "Forbidden".into(),
        };
        assert_eq!(refused.status(), Some(403));
        assert_eq!(refused.to_string(), "the relay refused: 403 Forbidden");
        assert_eq!(
            RelayError::NotFound { reason: "x".into() }.status(),
            Some(404)
        );
        assert_eq!(RelayError::Closed.status(), None);
        let t = RelayError::from_net(NetError::Timeout(Duration::from_secs(1)));
        assert!(matches!(t, RelayError::Timeout(_)));
    }
}
