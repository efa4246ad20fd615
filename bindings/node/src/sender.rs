//! [`RelaySender`]: HTTP requests and WebSockets to a listener through the relay.

use std::collections::HashMap;
use std::time::Duration;

use http_body_util::BodyExt as _;
use interlink::net;
use interlink::relay;
use napi::Env;
use napi::bindgen_prelude::{Buffer, Either, PromiseRaw};
use napi_derive::napi;

use crate::error::{BindError, BindResult, ErrorCode, promise};
use crate::http_handler::header_record;
use crate::listener::{body_bytes, client_tls, connection_string};
use crate::socket::RelayWebSocket;
use crate::token::whole;

/// Settings of a sender.
#[napi(object)]
#[derive(Default)]
pub struct SenderOptions {
    /// Time to connect and get the response head or the handshake (default: the connection
    /// string's `OperationTimeout`, else 70000 ms).
    pub timeout_ms: Option<f64>,
    /// Extra CA certificate (PEM) to trust for a `wss://` gateway with a private certificate.
    pub ca_pem: Option<String>,
}

/// An HTTP request to send through the relay.
#[napi(object)]
#[derive(Default)]
pub struct SenderRequest {
    /// Method (default `GET`).
    pub method: Option<String>,
    /// Path and query after the hybrid connection, e.g. `/items?x=1` (default `/`).
    pub path: Option<String>,
    /// Request headers.
    pub headers: Option<HashMap<String, String>>,
    /// The body: bytes or UTF-8 text.
    pub body: Option<Either<String, Buffer>>,
}

/// The listener's (or the relay's) answer.
#[napi(object)]
pub struct SenderResponse {
    /// Status code; relay failures are ordinary responses (502 no listener, 504 too slow,
    /// 401/403 auth).
    pub status: u32,
    /// Reason phrase.
    pub status_text: String,
    /// Response headers, lower-case names.
    pub headers: HashMap<String, String>,
    /// The whole body.
    pub body: Buffer,
}

/// Options of `connect`.
#[napi(object)]
#[derive(Default)]
pub struct ConnectOptions {
    /// Subprotocols to offer; the one the listener picks is `socket.protocol`.
    pub protocols: Option<Vec<String>>,
}

/// A sender for one hybrid connection. Tokens come from the connection string's key (or its
/// SharedAccessSignature); a connection string without credentials sends none.
#[napi]
pub struct RelaySender {
    inner: relay::RelaySender,
}

/// The HTTP request a JS request object describes.
fn http_request(r: SenderRequest) -> BindResult<http::Request<net::Body>> {
    let mut b = http::Request::builder()
        .method(r.method.as_deref().unwrap_or("GET"))
        .uri(r.path.as_deref().unwrap_or("/"));
    for (n, v) in r.headers.iter().flatten() {
        b = b.header(n, v);
    }
    b.body(net::full(body_bytes(r.body)))
        .map_err(|e| BindError::new(ErrorCode::InvalidRequest, e.to_string()))
}

/// A complete response as it crosses to the JavaScript thread.
type Answer = (u16, String, HashMap<String, String>, bytes::Bytes);

#[napi]
impl RelaySender {
    /// A sender for `hybridConnection` (or the connection string's `EntityPath` when empty).
    /// Throws `ERR_INTERLINK_CONNECTION_STRING`, `ERR_INTERLINK_NO_ENTITY_PATH` or
    /// `ERR_INTERLINK_CREDENTIALS`.
    #[napi(constructor)]
    pub fn new(
        env: Env,
        connection_string: String,
        hybrid_connection: Option<String>,
        options: Option<SenderOptions>,
    ) -> napi::Result<Self> {
        Self::build(
            &connection_string,
            hybrid_connection.as_deref().unwrap_or(""),
            options.unwrap_or_default(),
        )
        .map_err(|e| e.into_napi(&env))
    }

    fn build(cs: &str, hc: &str, o: SenderOptions) -> BindResult<Self> {
        let cs = connection_string(cs)?;
        let mut inner = relay::RelaySender::new(&cs, hc, client_tls(o.ca_pem.as_deref())?)?;
        if let Some(t) = o.timeout_ms {
            inner = inner.with_timeout(Duration::from_millis(whole(t, "timeoutMs")?));
        }
        Ok(RelaySender { inner })
    }

    /// The hybrid connection this sender talks to.
    #[napi(getter)]
    pub fn hybrid_connection(&self) -> String {
        self.inner.entity_path().to_string()
    }

    /// Sends an HTTP request and resolves with the whole response. Rejects only when no
    /// response arrives (`ERR_INTERLINK_NET`, `ERR_INTERLINK_TIMEOUT`, ...).
    #[napi(ts_return_type = "Promise<SenderResponse>")]
    pub fn request<'env>(
        &self,
        env: &'env Env,
        request: Option<SenderRequest>,
    ) -> napi::Result<PromiseRaw<'env, SenderResponse>> {
        let sender = self.inner.clone();
        let r = request.unwrap_or_default();
        let built = http_request(r);
        promise(
            env,
            async move {
                let resp = sender.request(built?).await?;
                let status = resp.status();
                let reason = interlink::net::reason_phrase(status, resp.extensions());
                let headers = header_record(resp.headers());
                let body = resp
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| BindError::new(ErrorCode::Net, format!("response body: {e}")))?
                    .to_bytes();
                Ok::<Answer, BindError>((status.as_u16(), reason, headers, body))
            },
            |_, (status, status_text, headers, body)| {
                Ok(SenderResponse {
                    status: u32::from(status),
                    status_text,
                    headers,
                    body: Buffer::from(body.to_vec()),
                })
            },
        )
    }

    /// Opens a WebSocket to the listener. `path` is an optional path after the hybrid
    /// connection with an optional query (`"chat?room=1"`). A refused handshake rejects with
    /// `ERR_INTERLINK_REFUSED` and its `status` (404: no listener; the listener's reject
    /// status; 401/403).
    #[napi(ts_return_type = "Promise<RelayWebSocket>")]
    pub fn connect<'env>(
        &self,
        env: &'env Env,
        path: Option<String>,
        options: Option<ConnectOptions>,
    ) -> napi::Result<PromiseRaw<'env, RelayWebSocket>> {
        let sender = self.inner.clone();
        let protocols = options.and_then(|o| o.protocols).unwrap_or_default();
        let path = path.filter(|p| !p.trim_start_matches('/').is_empty());
        promise(
            env,
            async move {
                let suffix = path.as_deref().map(|p| p.trim_start_matches('/'));
                let offered: Vec<&str> = protocols.iter().map(String::as_str).collect();
                let socket = sender.connect(suffix, &offered).await?;
                let shown = format!(
                    "/{}{}",
                    sender.entity_path(),
                    suffix.map(|s| format!("/{s}")).unwrap_or_default()
                );
                Ok(RelayWebSocket::new(socket, shown, HashMap::new(), None))
            },
            |_, s| Ok(s),
        )
    }
}
