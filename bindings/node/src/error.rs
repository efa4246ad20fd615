//! Errors as JavaScript sees them: an `Error` whose `code` is one of the stable
//! [`ErrorCode`] strings, with `status` (an HTTP status) and `reason` when the failure has them.
//!
//! Rust failures ([`RelayError`], token and argument errors) become a [`BindError`] off the
//! JavaScript thread; [`BindError::into_napi`] builds the JS object on the JavaScript thread
//! (napi then throws it, or rejects the Promise with it, verbatim).

use std::future::Future;

use interlink::relay::RelayError;
use interlink::ws::WsError;
use interlink_core::relay::sas::AuthError;
use napi::bindgen_prelude::{JsValue, PromiseRaw, ToNapiValue};
use napi::{Env, Status};
use napi_derive::napi;

/// The stable `code` of every error this package throws or rejects with.
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// A socket, DNS, TLS or HTTP failure (retrying may help).
    #[napi(value = "ERR_INTERLINK_NET")]
    Net,
    /// The relay (or the listener) answered the handshake with a non-101 status; see `status`.
    #[napi(value = "ERR_INTERLINK_REFUSED")]
    Refused,
    /// The hybrid connection does not exist (`status` 404); a listener stops for good on it.
    #[napi(value = "ERR_INTERLINK_NOT_FOUND")]
    NotFound,
    /// A token was refused: `status` is 401 or 403, `reason` says why.
    #[napi(value = "ERR_INTERLINK_UNAUTHORIZED")]
    Unauthorized,
    /// The connection string has no usable credentials (or asks for an unsupported kind).
    #[napi(value = "ERR_INTERLINK_CREDENTIALS")]
    Credentials,
    /// The connection string does not parse.
    #[napi(value = "ERR_INTERLINK_CONNECTION_STRING")]
    ConnectionString,
    /// No hybrid connection was named (argument and `EntityPath` both empty).
    #[napi(value = "ERR_INTERLINK_NO_ENTITY_PATH")]
    NoEntityPath,
    /// The listener, socket or gateway is closed.
    #[napi(value = "ERR_INTERLINK_CLOSED")]
    Closed,
    /// An operation did not finish in time.
    #[napi(value = "ERR_INTERLINK_TIMEOUT")]
    Timeout,
    /// The relay broke the Hybrid Connections protocol.
    #[napi(value = "ERR_INTERLINK_PROTOCOL")]
    Protocol,
    /// A request cannot be sent as given (bad method, path or header).
    #[napi(value = "ERR_INTERLINK_INVALID_REQUEST")]
    InvalidRequest,
    /// An argument is out of range or malformed (rights list, address, number).
    #[napi(value = "ERR_INTERLINK_INVALID_ARGUMENT")]
    InvalidArgument,
    /// An operating-system error (e.g. the gateway's port is taken).
    #[napi(value = "ERR_INTERLINK_IO")]
    Io,
    /// A failure this version does not classify further.
    #[napi(value = "ERR_INTERLINK_UNKNOWN")]
    Unknown,
}

impl ErrorCode {
    /// The code string JavaScript sees.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Net => "ERR_INTERLINK_NET",
            ErrorCode::Refused => "ERR_INTERLINK_REFUSED",
            ErrorCode::NotFound => "ERR_INTERLINK_NOT_FOUND",
            ErrorCode::Unauthorized => "ERR_INTERLINK_UNAUTHORIZED",
            ErrorCode::Credentials => "ERR_INTERLINK_CREDENTIALS",
            ErrorCode::ConnectionString => "ERR_INTERLINK_CONNECTION_STRING",
            ErrorCode::NoEntityPath => "ERR_INTERLINK_NO_ENTITY_PATH",
            ErrorCode::Closed => "ERR_INTERLINK_CLOSED",
            ErrorCode::Timeout => "ERR_INTERLINK_TIMEOUT",
            ErrorCode::Protocol => "ERR_INTERLINK_PROTOCOL",
            ErrorCode::InvalidRequest => "ERR_INTERLINK_INVALID_REQUEST",
            ErrorCode::InvalidArgument => "ERR_INTERLINK_INVALID_ARGUMENT",
            ErrorCode::Io => "ERR_INTERLINK_IO",
            ErrorCode::Unknown => "ERR_INTERLINK_UNKNOWN",
        }
    }
}

/// A failure on its way to JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindError {
    /// The stable code.
    pub code: ErrorCode,
    /// The message (`Error.message`).
    pub message: String,
    /// The HTTP status the failure maps to, if any (`Error.status`).
    pub status: Option<u16>,
    /// A short machine-readable detail, if any (`Error.reason`), e.g. the relay's reason
    /// phrase or `"expired"` for a token.
    pub reason: Option<String>,
}

/// The result type of the binding's fallible operations.
pub type BindResult<T> = std::result::Result<T, BindError>;

impl BindError {
    /// An error with `code` and `message` and nothing else.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        BindError {
            code,
            message: message.into(),
            status: None,
            reason: None,
        }
    }

    /// An [`ErrorCode::InvalidArgument`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        BindError::new(ErrorCode::InvalidArgument, message)
    }

    /// The same error with `status` set.
    pub fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// The same error with `reason` set.
    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// Builds the JS `Error` (on the JavaScript thread) and wraps it so napi throws or
    /// rejects with exactly that object.
    pub fn into_napi(self, env: &Env) -> napi::Error {
        match self.to_js(env) {
            Ok(e) => e,
            Err(e) => e,
        }
    }

    fn to_js(&self, env: &Env) -> napi::Result<napi::Error> {
        let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, &self.message))?;
        obj.set("code", self.code.as_str())?;
        if let Some(status) = self.status {
            obj.set("status", u32::from(status))?;
        }
        if let Some(reason) = &self.reason {
            obj.set("reason", reason.as_str())?;
        }
        Ok(napi::Error::from(obj.to_unknown()))
    }
}

impl std::fmt::Display for BindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl From<RelayError> for BindError {
    fn from(e: RelayError) -> Self {
        let message = e.to_string();
        match e {
            RelayError::Net(_) => BindError::new(ErrorCode::Net, message),
            RelayError::Refused { status, reason } => BindError::new(ErrorCode::Refused, message)
                .with_status(status)
                .with_reason(reason),
            RelayError::NotFound { reason } => BindError::new(ErrorCode::NotFound, message)
                .with_status(404)
                .with_reason(reason),
            RelayError::Auth(_) => BindError::new(ErrorCode::Credentials, message),
            RelayError::ConnectionString(_) => BindError::new(ErrorCode::ConnectionString, message),
            RelayError::MissingEntityPath => BindError::new(ErrorCode::NoEntityPath, message),
            RelayError::Closed => BindError::new(ErrorCode::Closed, message),
            RelayError::Timeout(_) => BindError::new(ErrorCode::Timeout, message),
            RelayError::Protocol(_) => BindError::new(ErrorCode::Protocol, message),
            RelayError::InvalidRequest(_) => BindError::new(ErrorCode::InvalidRequest, message),
            _ => BindError::new(ErrorCode::Unknown, message),
        }
    }
}

impl From<AuthError> for BindError {
    fn from(e: AuthError) -> Self {
        let reason = match e {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::UnknownKeyName => "unknown-key-name",
            AuthError::BadSignature => "bad-signature",
            AuthError::Expired => "expired",
            AuthError::InvalidAudience => "invalid-audience",
            AuthError::InsufficientRights => "insufficient-rights",
        };
        BindError::new(ErrorCode::Unauthorized, e.description())
            .with_status(e.http_status())
            .with_reason(reason)
    }
}

impl From<WsError> for BindError {
    fn from(e: WsError) -> Self {
        BindError::new(ErrorCode::Closed, e.to_string())
    }
}

impl From<std::io::Error> for BindError {
    fn from(e: std::io::Error) -> Self {
        BindError::new(ErrorCode::Io, e.to_string())
    }
}

/// Runs `fut` on the addon's runtime and returns a Promise of its output, converted by `conv`
/// on the JavaScript thread; a [`BindError`] rejects the Promise with its JS `Error`.
pub fn promise<'env, T, V, F, C>(
    env: &'env Env,
    fut: F,
    conv: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = BindResult<T>> + Send + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, out| match out {
        Ok(v) => conv(env, v),
        Err(e) => Err(e.into_napi(env)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn relay_errors_keep_their_status() {
        let e = BindError::from(RelayError::Refused {
            status: 403,
            reason: "not today".into(),
        });
        assert_eq!(e.code, ErrorCode::Refused);
        assert_eq!(e.status, Some(403));
        assert_eq!(e.reason.as_deref(), Some("not today"));
        let e = BindError::from(RelayError::NotFound { reason: "x".into() });
        assert_eq!((e.code, e.status), (ErrorCode::NotFound, Some(404)));
        let e = BindError::from(RelayError::Timeout(Duration::from_secs(1)));
        assert_eq!((e.code, e.status), (ErrorCode::Timeout, None));
        assert_eq!(
            BindError::from(RelayError::MissingEntityPath).code,
            ErrorCode::NoEntityPath
        );
    }

    #[test]
    fn auth_errors_map_to_401_and_403() {
        let e = BindError::from(AuthError::Expired);
        assert_eq!(e.code.as_str(), "ERR_INTERLINK_UNAUTHORIZED");
        assert_eq!(e.status, Some(401));
        assert_eq!(e.reason.as_deref(), Some("expired"));
        assert_eq!(
            BindError::from(AuthError::InsufficientRights).status,
            Some(403)
        );
    }
}
