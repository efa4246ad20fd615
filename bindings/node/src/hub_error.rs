//! Errors of the hub API as JavaScript sees them: an `Error` whose `code` is one of the
//! [`HubErrorCode`] strings (and `status` for HTTP refusals).
//!
//! The codes shared with the relay API keep their `ERR_INTERLINK_*` values (a refusal is
//! `ERR_INTERLINK_REFUSED` in both); three are new: `ERR_INTERLINK_HUB` (a hub method or a
//! client handler failed; the message is the peer's text), `ERR_INTERLINK_HUB_STATE` (the
//! client is not connected, or already started) and `ERR_INTERLINK_VALUE` (a value has no hub
//! form: cyclic, a too large bigint, an unknown MessagePack extension).

use std::future::Future;

use interlink::hub::client::HubClientError;
use interlink::hub::server::HubError;
use interlink_core::hub::negotiate::NegotiateError;
use napi::bindgen_prelude::{PromiseRaw, ToNapiValue, Unknown};
use napi::{Env, JsValue, Status, sys};
use napi_derive::napi;

use crate::hub_value::ValueError;

/// The `code` of every error the hub API throws or rejects with.
#[napi(string_enum)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HubErrorCode {
    /// The hub method (or the client's handler) failed: the message is its error text.
    #[napi(value = "ERR_INTERLINK_HUB")]
    Hub,
    /// The client is in the wrong state (not connected; already started).
    #[napi(value = "ERR_INTERLINK_HUB_STATE")]
    State,
    /// A value has no hub form, or a received one no JavaScript form.
    #[napi(value = "ERR_INTERLINK_VALUE")]
    Value,
    /// The connection ended (or was stopped) before the operation finished.
    #[napi(value = "ERR_INTERLINK_CLOSED")]
    Closed,
    /// A server refused: negotiate or WebSocket status (`status`), handshake, `{"error"}`.
    #[napi(value = "ERR_INTERLINK_REFUSED")]
    Refused,
    /// A 401 (`status`).
    #[napi(value = "ERR_INTERLINK_UNAUTHORIZED")]
    Unauthorized,
    /// A handshake, server or client-result timeout.
    #[napi(value = "ERR_INTERLINK_TIMEOUT")]
    Timeout,
    /// A socket, DNS, TLS or HTTP failure.
    #[napi(value = "ERR_INTERLINK_NET")]
    Net,
    /// The peer broke the hub protocol (or is a classic ASP.NET SignalR server).
    #[napi(value = "ERR_INTERLINK_PROTOCOL")]
    Protocol,
    /// An argument is malformed (URL, address, option, unknown connection).
    #[napi(value = "ERR_INTERLINK_INVALID_ARGUMENT")]
    InvalidArgument,
    /// An operating-system error (e.g. the port is taken).
    #[napi(value = "ERR_INTERLINK_IO")]
    Io,
}

impl HubErrorCode {
    /// The code string JavaScript sees.
    pub fn as_str(self) -> &'static str {
        match self {
            HubErrorCode::Hub => "ERR_INTERLINK_HUB",
            HubErrorCode::State => "ERR_INTERLINK_HUB_STATE",
            HubErrorCode::Value => "ERR_INTERLINK_VALUE",
            HubErrorCode::Closed => "ERR_INTERLINK_CLOSED",
            HubErrorCode::Refused => "ERR_INTERLINK_REFUSED",
            HubErrorCode::Unauthorized => "ERR_INTERLINK_UNAUTHORIZED",
            HubErrorCode::Timeout => "ERR_INTERLINK_TIMEOUT",
            HubErrorCode::Net => "ERR_INTERLINK_NET",
            HubErrorCode::Protocol => "ERR_INTERLINK_PROTOCOL",
            HubErrorCode::InvalidArgument => "ERR_INTERLINK_INVALID_ARGUMENT",
            HubErrorCode::Io => "ERR_INTERLINK_IO",
        }
    }
}

/// A hub failure on its way to JavaScript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubBindError {
    /// The stable code.
    pub code: HubErrorCode,
    /// `Error.message`.
    pub message: String,
    /// `Error.status`: the HTTP status of a refusal.
    pub status: Option<u16>,
}

/// The result type of fallible hub operations.
pub type HubResult<T> = Result<T, HubBindError>;

impl HubBindError {
    /// An error with `code` and `message`.
    pub fn new(code: HubErrorCode, message: impl Into<String>) -> Self {
        HubBindError {
            code,
            message: message.into(),
            status: None,
        }
    }

    /// An [`HubErrorCode::InvalidArgument`] error.
    pub fn invalid(message: impl Into<String>) -> Self {
        HubBindError::new(HubErrorCode::InvalidArgument, message)
    }

    fn with_status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    fn build<'env>(&self, env: &'env Env) -> napi::Result<Unknown<'env>> {
        let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, &self.message))?;
        obj.set("code", self.code.as_str())?;
        if let Some(status) = self.status {
            obj.set("status", u32::from(status))?;
        }
        Ok(obj.to_unknown())
    }

    /// Builds the JS `Error` (on the JavaScript thread).
    pub fn to_js(&self, env: sys::napi_env) -> napi::Result<sys::napi_value> {
        Ok(self.build(&Env::from_raw(env))?.raw())
    }

    /// The JS `Error` wrapped so that napi throws or rejects with exactly that object.
    pub fn into_napi(self, env: &Env) -> napi::Error {
        match self.build(env) {
            Ok(e) => napi::Error::from(e),
            Err(e) => e,
        }
    }
}

impl std::fmt::Display for HubBindError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

impl ToNapiValue for HubBindError {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        val.to_js(env)
    }
}

impl From<ValueError> for HubBindError {
    fn from(e: ValueError) -> Self {
        HubBindError::new(HubErrorCode::Value, e.0)
    }
}

impl From<HubClientError> for HubBindError {
    fn from(e: HubClientError) -> Self {
        use HubClientError as E;
        use HubErrorCode as C;
        let message = e.to_string();
        match e {
            E::InvalidUrl { .. } => HubBindError::new(C::InvalidArgument, message),
            E::Unauthorized => HubBindError::new(C::Unauthorized, message).with_status(401),
            E::NegotiateStatus { status, .. } => {
                HubBindError::new(C::Refused, message).with_status(status)
            }
            E::WebSocketRefused { status: 401, .. } => {
                HubBindError::new(C::Unauthorized, message).with_status(401)
            }
            E::WebSocketRefused { status, .. } => {
                HubBindError::new(C::Refused, message).with_status(status)
            }
            E::Negotiate(NegotiateError::Server(_)) | E::HandshakeRejected(_) => {
                HubBindError::new(C::Refused, message)
            }
            E::Negotiate(_) | E::TooManyRedirects | E::NoTransport | E::Protocol(_) => {
                HubBindError::new(C::Protocol, message)
            }
            E::HandshakeTimeout | E::ServerTimeout => HubBindError::new(C::Timeout, message),
            E::ServerClosed(_) | E::ConnectionClosed(_) | E::StoppedDuringStart => {
                HubBindError::new(C::Closed, message)
            }
            E::NotConnected | E::AlreadyStarted => HubBindError::new(C::State, message),
            E::Hub(_) => HubBindError::new(C::Hub, message),
            E::Transport(t) if matches!(*t, interlink::net::NetError::Timeout(_)) => {
                HubBindError::new(C::Timeout, message)
            }
            E::Transport(_) => HubBindError::new(C::Net, message),
            E::Encode(_) => HubBindError::new(C::Value, message),
            _ => HubBindError::new(C::Protocol, message),
        }
    }
}

impl From<HubError> for HubBindError {
    fn from(e: HubError) -> Self {
        use HubErrorCode as C;
        let message = e.to_string();
        match e {
            HubError::Hub(_) | HubError::Client(_) | HubError::Internal(_) => {
                HubBindError::new(C::Hub, message)
            }
            HubError::InvalidArgument { .. } | HubError::Value(_) => {
                HubBindError::new(C::Value, message)
            }
            HubError::ClientResultTimeout(_) => HubBindError::new(C::Timeout, message),
            HubError::Disconnected => HubBindError::new(C::Closed, message),
        }
    }
}

impl From<std::io::Error> for HubBindError {
    fn from(e: std::io::Error) -> Self {
        HubBindError::new(HubErrorCode::Io, e.to_string())
    }
}

/// Runs `fut` on the addon's runtime and returns a Promise of its output, converted by `conv`
/// on the JavaScript thread; a [`HubBindError`] rejects with its JS `Error`.
pub fn hub_promise<'env, T, V, F, C>(
    env: &'env Env,
    fut: F,
    conv: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = HubResult<T>> + Send + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, out| match out {
        Ok(v) => conv(env, v),
        Err(e) => Err(e.into_napi(env)),
    })
}

/// The text of a failed JavaScript call (a thrown or rejected `Error`'s message).
pub fn js_failure(e: &napi::Error) -> String {
    if e.reason.is_empty() {
        "the JavaScript handler failed".to_string()
    } else {
        e.reason.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_map_to_codes() {
        let e = HubBindError::from(HubClientError::Hub("boom".into()));
        assert_eq!(
            (e.code.as_str(), e.message.as_str()),
            ("ERR_INTERLINK_HUB", "boom")
        );
        let e = HubBindError::from(HubClientError::NegotiateStatus {
            status: 404,
            body: String::new(),
        });
        assert_eq!((e.code, e.status), (HubErrorCode::Refused, Some(404)));
        let e = HubBindError::from(HubClientError::WebSocketRefused {
            status: 401,
            body: String::new(),
        });
        assert_eq!((e.code, e.status), (HubErrorCode::Unauthorized, Some(401)));
        assert_eq!(
            HubBindError::from(HubClientError::NotConnected).code,
            HubErrorCode::State
        );
        assert_eq!(
            HubBindError::from(HubClientError::ServerTimeout).code,
            HubErrorCode::Timeout
        );
    }

    #[test]
    fn server_errors_map_to_codes() {
        assert_eq!(
            HubBindError::from(HubError::Disconnected).code,
            HubErrorCode::Closed
        );
        let e = HubBindError::from(HubError::Client("no".into()));
        assert_eq!((e.code, e.message.as_str()), (HubErrorCode::Hub, "no"));
    }
}
