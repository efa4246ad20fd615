//! The one error mapping of the binding: every Rust error becomes an instance of a class of
//! `interlink.errors` (pure Python, so `TimeoutError` can also subclass the builtin), carrying a
//! stable `code` string and the HTTP `status` it maps to, if any.
//!
//! [`classify`] and friends are plain Rust (unit-tested without an interpreter); [`to_pyerr`]
//! builds the Python exception.

use interlink::relay::RelayError;
use interlink::relay::error::CredentialError;
use interlink::ws::WsError;
use interlink_core::relay::sas::AuthError as SasAuthError;
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyDict;

/// Which class of `interlink.errors` an error becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `RelayError`: the base, for anything not classified below.
    Relay,
    /// `RefusedError`: a handshake refused with a status other than 401, 403, 404.
    Refused,
    /// `AuthError`: 401 / 403 refusals, missing credentials, invalid tokens.
    Auth,
    /// `NotFoundError`: 404 (no such hybrid connection, no listener).
    NotFound,
    /// `TimeoutError`: an operation ran out of time.
    Timeout,
    /// `NetworkError`: DNS, TCP, TLS, HTTP failures; binding a port.
    Network,
    /// `ClosedError`: the listener or socket is closed.
    Closed,
    /// `ConnectionClosed`: the peer closed a WebSocket (with a close code).
    ConnectionClosed,
    /// `ProtocolError`: the relay broke the protocol.
    Protocol,
    /// `ConfigError`: bad connection string, arguments or request (also a `ValueError`).
    Config,
    /// `HubError`: a hub method (or a client result) failed; the message is the peer's text.
    Hub,
    /// `HubConnectionError`: a hub connection could not start, or ended (also a
    /// `ConnectionError`).
    HubConnection,
}

impl Kind {
    /// The class name in `interlink.errors`.
    pub fn class_name(self) -> &'static str {
        match self {
            Kind::Relay => "RelayError",
            Kind::Refused => "RefusedError",
            Kind::Auth => "AuthError",
            Kind::NotFound => "NotFoundError",
            Kind::Timeout => "TimeoutError",
            Kind::Network => "NetworkError",
            Kind::Closed => "ClosedError",
            Kind::ConnectionClosed => "ConnectionClosed",
            Kind::Protocol => "ProtocolError",
            Kind::Config => "ConfigError",
            Kind::Hub => "HubError",
            Kind::HubConnection => "HubConnectionError",
        }
    }
}

/// A classified error: what Python sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorInfo {
    /// Exception class.
    pub kind: Kind,
    /// Stable machine-readable code (`"not_found"`, `"timeout"`, ...).
    pub code: &'static str,
    /// HTTP status the error maps to.
    pub status: Option<u16>,
    /// Human-readable message.
    pub message: String,
    /// For [`Kind::ConnectionClosed`]: the peer's close code and reason.
    pub close: Option<(Option<u16>, String)>,
}

impl ErrorInfo {
    /// An error of `kind` with `code` and `message`, no status.
    pub fn new(kind: Kind, code: &'static str, message: impl Into<String>) -> Self {
        ErrorInfo {
            kind,
            code,
            status: None,
            message: message.into(),
            close: None,
        }
    }

    fn with_status(mut self, status: Option<u16>) -> Self {
        self.status = status;
        self
    }
}

/// The class, code and status of a refusal with `status`.
pub fn refusal(status: u16) -> (Kind, &'static str) {
    match status {
        401 => (Kind::Auth, "unauthorized"),
        403 => (Kind::Auth, "forbidden"),
        404 => (Kind::NotFound, "not_found"),
        _ => (Kind::Refused, "refused"),
    }
}

/// Classifies an error of the relay clients.
pub fn classify(e: &RelayError) -> ErrorInfo {
    let message = e.to_string();
    let (kind, code) = match e {
        RelayError::Net(interlink::net::NetError::Timeout(_)) | RelayError::Timeout(_) => {
            (Kind::Timeout, "timeout")
        }
        RelayError::Net(_) => (Kind::Network, "network"),
        RelayError::Refused { status, .. } => refusal(*status),
        RelayError::NotFound { .. } => (Kind::NotFound, "not_found"),
        RelayError::Auth(CredentialError::Missing) => (Kind::Auth, "credentials_missing"),
        RelayError::Auth(_) => (Kind::Auth, "credentials_unsupported"),
        RelayError::ConnectionString(_) => (Kind::Config, "connection_string"),
        RelayError::MissingEntityPath => (Kind::Config, "missing_entity_path"),
        RelayError::Closed => (Kind::Closed, "closed"),
        RelayError::Protocol(_) => (Kind::Protocol, "protocol"),
        RelayError::InvalidRequest(_) => (Kind::Config, "invalid_request"),
        _ => (Kind::Relay, "relay"),
    };
    ErrorInfo::new(kind, code, message).with_status(e.status())
}

/// Classifies a token validation failure.
pub fn classify_auth(e: &SasAuthError) -> ErrorInfo {
    let code = match e {
        SasAuthError::Missing => "token_missing",
        SasAuthError::Malformed => "token_malformed",
        SasAuthError::UnknownKeyName => "unknown_key_name",
        SasAuthError::BadSignature => "bad_signature",
        SasAuthError::Expired => "token_expired",
        SasAuthError::InvalidAudience => "invalid_audience",
        SasAuthError::InsufficientRights => "insufficient_rights",
    };
    ErrorInfo::new(Kind::Auth, code, e.description()).with_status(Some(e.http_status()))
}

/// Classifies a failed WebSocket operation.
pub fn classify_ws(e: &WsError) -> ErrorInfo {
    match e {
        WsError::Closed => ErrorInfo::new(Kind::Closed, "closed", e.to_string()),
    }
}

/// Classifies an I/O error (binding the gateway's port).
pub fn classify_io(e: &std::io::Error) -> ErrorInfo {
    ErrorInfo::new(Kind::Network, "io", e.to_string())
}

/// A `ConfigError` with `code`.
pub fn config(code: &'static str, message: impl Into<String>) -> PyErr {
    to_pyerr(ErrorInfo::new(Kind::Config, code, message))
}

/// The peer closed a WebSocket with `code` and `reason`.
pub fn connection_closed(code: Option<u16>, reason: String) -> PyErr {
    let message = match code {
        Some(c) => format!("the WebSocket was closed by the peer: {c} {reason}"),
        None => "the WebSocket was closed by the peer (no status)".to_string(),
    };
    to_pyerr(ErrorInfo {
        kind: Kind::ConnectionClosed,
        code: "connection_closed",
        status: None,
        message,
        close: Some((code, reason)),
    })
}

/// Builds the Python exception for `info` (an instance of `interlink.errors.<class>`).
pub fn to_pyerr(info: ErrorInfo) -> PyErr {
    Python::attach(|py| match build(py, &info) {
        Ok(err) => err,
        Err(_) => PyRuntimeError::new_err(format!("{} ({})", info.message, info.code)),
    })
}

fn build(py: Python<'_>, info: &ErrorInfo) -> PyResult<PyErr> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = MODULE.get_or_try_init(py, || {
        PyModule::import(py, "interlink.errors").map(Bound::unbind)
    })?;
    let class = module.bind(py).getattr(info.kind.class_name())?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("code", info.code)?;
    kwargs.set_item("status", info.status)?;
    if let Some((code, reason)) = &info.close {
        kwargs.set_item("close_code", code)?;
        kwargs.set_item("close_reason", reason)?;
    }
    let instance = class.call((info.message.as_str(),), Some(&kwargs))?;
    Ok(PyErr::from_value(instance))
}

/// `.map_err(relay)` for results of the relay clients.
pub fn relay(e: RelayError) -> PyErr {
    to_pyerr(classify(&e))
}

/// `.map_err(ws)` for results of WebSocket operations.
pub fn ws(e: WsError) -> PyErr {
    to_pyerr(classify_ws(&e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn refusals_map_by_status() {
        let refused = |status| RelayError::Refused {
            status,
            reason: "x".into(),
        };
        let c = classify(&refused(401));
        assert_eq!(
            (c.kind, c.code, c.status),
            (Kind::Auth, "unauthorized", Some(401))
        );
        let c = classify(&refused(403));
        assert_eq!(
            (c.kind, c.code, c.status),
            (Kind::Auth, "forbidden", Some(403))
        );
        let c = classify(&refused(404));
        assert_eq!((c.kind, c.code), (Kind::NotFound, "not_found"));
        let c = classify(&refused(400));
        assert_eq!(
            (c.kind, c.code, c.status),
            (Kind::Refused, "refused", Some(400))
        );
        let c = classify(&RelayError::NotFound { reason: "r".into() });
        assert_eq!((c.kind, c.status), (Kind::NotFound, Some(404)));
    }

    #[test]
    fn local_errors_have_no_status() {
        let c = classify(&RelayError::Timeout(Duration::from_secs(1)));
        assert_eq!((c.kind, c.code, c.status), (Kind::Timeout, "timeout", None));
        let c = classify(&RelayError::Closed);
        assert_eq!((c.kind, c.code), (Kind::Closed, "closed"));
        let c = classify(&RelayError::MissingEntityPath);
        assert_eq!((c.kind, c.code), (Kind::Config, "missing_entity_path"));
        let c = classify(&RelayError::Auth(CredentialError::Missing));
        assert_eq!((c.kind, c.code), (Kind::Auth, "credentials_missing"));
    }

    #[test]
    fn token_failures_carry_their_status() {
        let c = classify_auth(&SasAuthError::Expired);
        assert_eq!((c.code, c.status), ("token_expired", Some(401)));
        let c = classify_auth(&SasAuthError::InsufficientRights);
        assert_eq!((c.code, c.status), ("insufficient_rights", Some(403)));
        assert_eq!(Kind::Timeout.class_name(), "TimeoutError");
    }
}
