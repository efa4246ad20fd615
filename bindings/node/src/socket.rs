//! [`RelayWebSocket`]: a WebSocket through the relay — one a listener accepted, or one a
//! sender opened. `send`, `receive` and `close` return Promises.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use interlink::ws::{Received, WebSocket};
use interlink_core::ws::Message;
use napi::Env;
use napi::bindgen_prelude::{Buffer, Either, PromiseRaw};
use napi_derive::napi;

use crate::error::{BindError, promise};

/// How the peer closed: code (if any) and reason.
type CloseInfo = (Option<u16>, String);

/// A message as JavaScript receives it: text as `string`, binary as `Buffer`.
pub type JsMessage = Either<String, Buffer>;

/// A WebSocket connected through the relay.
///
/// `receive()` resolves with the next message (`string` for text, `Buffer` for binary), or
/// `null` once the peer closed (then `closeCode` / `closeReason` say how) or the connection
/// ended. A received Close is answered with the same code automatically.
#[napi]
pub struct RelayWebSocket {
    socket: WebSocket,
    path: String,
    headers: HashMap<String, String>,
    id: Option<String>,
    closed: Arc<Mutex<Option<CloseInfo>>>,
}

impl RelayWebSocket {
    /// Wraps a socket with what is known about the other end.
    pub fn new(
        socket: WebSocket,
        path: String,
        headers: HashMap<String, String>,
        id: Option<String>,
    ) -> Self {
        RelayWebSocket {
            socket,
            path,
            headers,
            id,
            closed: Arc::new(Mutex::new(None)),
        }
    }
}

/// The bytes of a JS message argument, copied on the JavaScript thread.
pub fn message_bytes(data: &Either<String, Buffer>) -> Either<String, Bytes> {
    match data {
        Either::A(text) => Either::A(text.clone()),
        Either::B(buf) => Either::B(Bytes::copy_from_slice(buf)),
    }
}

#[napi]
impl RelayWebSocket {
    /// The path and query the sender used, as the listener sees it (e.g. `/hc1/chat?room=1`);
    /// for a sender's own socket, the path it connected to.
    #[napi(getter)]
    pub fn path(&self) -> String {
        self.path.clone()
    }

    /// The sender's upgrade headers (lower-case names), for an accepted socket; `{}` otherwise.
    #[napi(getter)]
    pub fn headers(&self) -> HashMap<String, String> {
        self.headers.clone()
    }

    /// The sender's tracking id, for an accepted socket.
    #[napi(getter)]
    pub fn id(&self) -> Option<String> {
        self.id.clone()
    }

    /// The subprotocol agreed in the handshake, if any.
    #[napi(getter)]
    pub fn protocol(&self) -> Option<String> {
        self.socket.protocol().map(str::to_string)
    }

    /// The peer's close code once `receive()` returned `null` because the peer closed.
    #[napi(getter)]
    pub fn close_code(&self) -> Option<u32> {
        let closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        closed.as_ref().and_then(|(c, _)| c.map(u32::from))
    }

    /// The peer's close reason once `receive()` returned `null` because the peer closed.
    #[napi(getter)]
    pub fn close_reason(&self) -> Option<String> {
        let closed = self.closed.lock().unwrap_or_else(|p| p.into_inner());
        closed.as_ref().map(|(_, r)| r.clone())
    }

    /// Sends a text (`string`) or binary (`Buffer`) message. Rejects with
    /// `ERR_INTERLINK_CLOSED` once the socket is closed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        data: Either<String, Buffer>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let socket = self.socket.clone();
        let data = message_bytes(&data);
        promise(
            env,
            async move {
                match data {
                    Either::A(t) => socket.send_text(t).await,
                    Either::B(b) => socket.send_binary(b).await,
                }
                .map_err(BindError::from)
            },
            |_, ()| Ok(()),
        )
    }

    /// The next message, or `null` once the peer closed or the connection ended.
    #[napi(ts_return_type = "Promise<string | Buffer | null>")]
    pub fn receive<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<JsMessage>>> {
        let socket = self.socket.clone();
        let closed = self.closed.clone();
        promise(
            env,
            async move {
                Ok(match socket.recv().await {
                    Some(Received::Message(m)) => Some(m),
                    Some(Received::Closed(code, reason)) => {
                        *closed.lock().unwrap_or_else(|p| p.into_inner()) = Some((code, reason));
                        None
                    }
                    None => None,
                })
            },
            |_, m| {
                Ok(m.map(|m| match m {
                    Message::Text(t) => Either::A(t),
                    Message::Binary(b) => Either::B(Buffer::from(b.to_vec())),
                }))
            },
        )
    }

    /// Starts the close handshake with `code` (default 1000) and `reason` (default empty).
    /// Resolves once the Close frame is queued; resolves too if the socket is already closed.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(
        &self,
        env: &'env Env,
        code: Option<u32>,
        reason: Option<String>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let socket = self.socket.clone();
        let code = code.unwrap_or(1000);
        let code = u16::try_from(code)
            .map_err(|_| BindError::invalid(format!("close code {code} is out of range")));
        let reason = reason.unwrap_or_default();
        promise(
            env,
            async move {
                let _ = socket.close(code?, &reason).await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}
