//! Hub errors → `interlink.errors` classes: the client's [`HubClientError`] and the
//! server's [`HubError`] (from context operations such as `invoke_caller` or groups).
//!
//! A hub method's error Completion is `HubError` (code `hub`) with the server's text as
//! the message; refusals of negotiate and of the WebSocket upgrade map by status like the
//! relay's (401/403 `AuthError`, 404 `NotFoundError`, others `RefusedError`); a connection
//! that cannot start or ends is `HubConnectionError`, a network failure `NetworkError`.

use interlink::hub::client::HubClientError;
use interlink::hub::server::HubError;
use interlink::net::NetError;
use pyo3::prelude::*;

use crate::errors::{ErrorInfo, Kind, refusal, to_pyerr};

/// Classifies an error of the hub client.
pub fn classify_client(e: &HubClientError) -> ErrorInfo {
    let message = e.to_string();
    let (kind, code, status) = match e {
        HubClientError::InvalidUrl { .. } => (Kind::Config, "invalid_url", None),
        HubClientError::Unauthorized => (Kind::Auth, "unauthorized", Some(401)),
        HubClientError::NegotiateStatus { status, .. }
        | HubClientError::WebSocketRefused { status, .. } => {
            let (kind, code) = refusal(*status);
            (kind, code, Some(*status))
        }
        HubClientError::Negotiate(_) => (Kind::HubConnection, "negotiate", None),
        HubClientError::TooManyRedirects => (Kind::HubConnection, "too_many_redirects", None),
        HubClientError::NoTransport => (Kind::HubConnection, "no_transport", None),
        HubClientError::HandshakeRejected(_) => (Kind::HubConnection, "handshake_rejected", None),
        HubClientError::HandshakeTimeout => (Kind::Timeout, "handshake_timeout", None),
        HubClientError::ServerClosed(_) => (Kind::HubConnection, "server_closed", None),
        HubClientError::ServerTimeout => (Kind::Timeout, "server_timeout", None),
        HubClientError::Protocol(_) => (Kind::Protocol, "protocol", None),
        HubClientError::ConnectionClosed(_) => (Kind::HubConnection, "connection_closed", None),
        HubClientError::NotConnected => (Kind::HubConnection, "not_connected", None),
        HubClientError::AlreadyStarted => (Kind::HubConnection, "already_started", None),
        HubClientError::StoppedDuringStart => (Kind::HubConnection, "stopped", None),
        HubClientError::Hub(_) => (Kind::Hub, "hub", None),
        HubClientError::Transport(t) => match t.as_ref() {
            NetError::Timeout(_) => (Kind::Timeout, "timeout", None),
            _ => (Kind::Network, "network", None),
        },
        HubClientError::Encode(_) => (Kind::Config, "invalid_value", None),
        _ => (Kind::Relay, "hub_client", None),
    };
    let mut info = ErrorInfo::new(kind, code, message);
    info.status = status;
    info
}

/// Classifies an error of a server-side hub operation.
pub fn classify_server(e: &HubError) -> ErrorInfo {
    let message = e.to_string();
    let (kind, code) = match e {
        HubError::Hub(_) => (Kind::Hub, "hub"),
        HubError::Internal(_) => (Kind::Hub, "internal"),
        HubError::Client(_) => (Kind::Hub, "client"),
        HubError::InvalidArgument { .. } => (Kind::Config, "invalid_argument"),
        HubError::ClientResultTimeout(_) => (Kind::Timeout, "client_result_timeout"),
        HubError::Disconnected => (Kind::Closed, "closed"),
        HubError::Value(_) => (Kind::Config, "invalid_value"),
    };
    ErrorInfo::new(kind, code, message)
}

/// `.map_err(client)` for hub client results.
pub fn client(e: HubClientError) -> PyErr {
    to_pyerr(classify_client(&e))
}

/// `.map_err(server)` for server-side hub operations.
pub fn server(e: HubError) -> PyErr {
    to_pyerr(classify_server(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_client_errors_map_by_cause() {
        let c = classify_client(&HubClientError::Hub("boom".into()));
        assert_eq!(
            (c.kind, c.code, c.message.as_str()),
            (Kind::Hub, "hub", "boom")
        );
        let c = classify_client(&HubClientError::WebSocketRefused {
            status: 401,
            body: String::new(),
        });
        assert_eq!((c.kind, c.status), (Kind::Auth, Some(401)));
        let c = classify_client(&HubClientError::NegotiateStatus {
            status: 404,
            body: String::new(),
        });
        assert_eq!((c.kind, c.code), (Kind::NotFound, "not_found"));
        let c = classify_client(&HubClientError::NotConnected);
        assert_eq!((c.kind, c.code), (Kind::HubConnection, "not_connected"));
        let c = classify_client(&HubClientError::ServerTimeout);
        assert_eq!(c.kind, Kind::Timeout);
    }

    #[test]
    fn hub_server_errors_map_by_cause() {
        let c = classify_server(&HubError::Client("no".into()));
        assert_eq!((c.kind, c.code), (Kind::Hub, "client"));
        let c = classify_server(&HubError::Disconnected);
        assert_eq!((c.kind, c.code), (Kind::Closed, "closed"));
        assert_eq!(Kind::HubConnection.class_name(), "HubConnectionError");
    }
}
