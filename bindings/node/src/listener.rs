//! [`RelayListener`]: a Hybrid Connections listener whose HTTP handler and accept filter are
//! JavaScript functions, called through threadsafe functions from the relay's tasks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interlink::net::ClientTls;
use interlink::relay::{self, AcceptDecision, ListenerOptions as IoListenerOptions};
use interlink_core::relay::connection_string::ConnectionString;
use interlink_core::relay::message::AcceptCommand;
use napi::Env;
use napi::bindgen_prelude::{Buffer, Either, PromiseRaw};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;

use crate::error::{BindError, BindResult, ErrorCode, promise};
use crate::http_handler::{HttpHandler, serve};
use crate::registry::{self, Held};
use crate::socket::RelayWebSocket;
use crate::token::whole;

/// How long a sender's accept waits for the JavaScript accept filter before it is rejected.
const FILTER_WAIT: Duration = Duration::from_secs(5);

/// Settings of a listener; the defaults are the official SDKs'.
#[napi(object)]
#[derive(Default)]
pub struct ListenerOptions {
    /// Time to open a rendezvous (accept, reject, request, response) (20000 ms).
    pub accept_timeout_ms: Option<f64>,
    /// Time to open the control channel (70000 ms).
    pub connect_timeout_ms: Option<f64>,
    /// Time the HTTP handler has before the listener answers 500 itself (55000 ms).
    pub handler_timeout_ms: Option<f64>,
    /// Ping interval on the control channel (210000 ms).
    pub keepalive_interval_ms: Option<f64>,
    /// Reconnect when nothing arrives this long after a ping (30000 ms).
    pub keepalive_timeout_ms: Option<f64>,
    /// Lifetime of the tokens made from the key; renewed at 80 % (3600 s).
    pub token_ttl_seconds: Option<f64>,
    /// Tracking id sent as `sb-hc-id`.
    pub tracking_id: Option<String>,
    /// Delays between reconnect attempts, the last repeating (0, 1000, 2000, 5000, 10000, 30000).
    pub reconnect_delays_ms: Option<Vec<f64>>,
    /// Extra CA certificate (PEM) to trust for a `wss://` gateway with a private certificate.
    pub ca_pem: Option<String>,
}

/// Client TLS: the web PKI roots plus an optional extra CA.
pub fn client_tls(ca_pem: Option<&str>) -> BindResult<ClientTls> {
    let tls = ClientTls::webpki();
    match ca_pem {
        None => Ok(tls),
        Some(pem) => tls
            .with_extra_ca_pem(pem.as_bytes())
            .map_err(|e| BindError::invalid(format!("caPem: {e}"))),
    }
}

/// Parses a connection string, with the binding's error code.
pub fn connection_string(cs: &str) -> BindResult<ConnectionString> {
    cs.parse().map_err(|e| {
        BindError::new(
            ErrorCode::ConnectionString,
            format!("connection string: {e}"),
        )
    })
}

impl ListenerOptions {
    fn to_io(&self) -> BindResult<IoListenerOptions> {
        let d = IoListenerOptions::default();
        let ms = |v: Option<f64>, what: &str, default: Duration| -> BindResult<Duration> {
            v.map_or(Ok(default), |n| Ok(Duration::from_millis(whole(n, what)?)))
        };
        let reconnect_delays = match &self.reconnect_delays_ms {
            None => d.reconnect_delays.clone(),
            Some(v) => v
                .iter()
                .map(|n| Ok(Duration::from_millis(whole(*n, "reconnectDelaysMs")?)))
                .collect::<BindResult<_>>()?,
        };
        Ok(IoListenerOptions {
            tls: client_tls(self.ca_pem.as_deref())?,
            tracking_id: self.tracking_id.clone(),
            keepalive_interval: ms(
                self.keepalive_interval_ms,
                "keepaliveIntervalMs",
                d.keepalive_interval,
            )?,
            keepalive_timeout: ms(
                self.keepalive_timeout_ms,
                "keepaliveTimeoutMs",
                d.keepalive_timeout,
            )?,
            token_ttl: match self.token_ttl_seconds {
                Some(n) => Duration::from_secs(whole(n, "tokenTtlSeconds")?),
                None => d.token_ttl,
            },
            accept_timeout: ms(self.accept_timeout_ms, "acceptTimeoutMs", d.accept_timeout)?,
            connect_timeout: ms(
                self.connect_timeout_ms,
                "connectTimeoutMs",
                d.connect_timeout,
            )?,
            handler_timeout: ms(
                self.handler_timeout_ms,
                "handlerTimeoutMs",
                d.handler_timeout,
            )?,
            reconnect_delays,
        })
    }
}

/// A sender asking for a WebSocket, as the accept filter sees it.
#[napi(object)]
pub struct AcceptInfo {
    /// The sender's path and query as the listener sees it (e.g. `/hc1/chat?room=1`).
    pub path: String,
    /// The sender's upgrade headers.
    pub headers: HashMap<String, String>,
    /// The sender's tracking id.
    pub id: String,
    /// The sender's address, if the relay said.
    pub remote_address: Option<String>,
    /// The sender's port, if the relay said.
    pub remote_port: Option<u32>,
}

/// An accept filter's refusal: the sender's handshake fails with `status` and `description`.
#[napi(object)]
pub struct AcceptRejection {
    /// HTTP status the sender sees (e.g. 403).
    pub status: u32,
    /// Reason text the sender sees.
    pub description: Option<String>,
}

type AcceptFilter = ThreadsafeFunction<
    AcceptInfo,
    Option<Either<bool, AcceptRejection>>,
    AcceptInfo,
    napi::Status,
    false,
>;

fn headers_of(h: &interlink_core::relay::message::Headers) -> HashMap<String, String> {
    h.iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.to_string()))
        .collect()
}

/// Asks the JavaScript filter (blocking this relay task's thread, at most [`FILTER_WAIT`]).
fn decide(filter: &Mutex<Option<Arc<AcceptFilter>>>, cmd: &AcceptCommand) -> AcceptDecision {
    let Some(f) = filter.lock().unwrap_or_else(|p| p.into_inner()).clone() else {
        return AcceptDecision::Accept;
    };
    let info = AcceptInfo {
        path: relay::listener::sender_path(&cmd.address),
        headers: headers_of(&cmd.connect_headers),
        id: cmd.id.clone(),
        remote_address: cmd.remote_endpoint.as_ref().map(|r| r.address.clone()),
        remote_port: cmd.remote_endpoint.as_ref().map(|r| u32::from(r.port)),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel(1);
    f.call_with_return_value(
        info,
        ThreadsafeFunctionCallMode::NonBlocking,
        move |r, _| {
            let _ = tx.send(r.ok());
            Ok(())
        },
    );
    let failed = |what: &str| AcceptDecision::Reject {
        status: 502,
        description: format!("Bad Gateway: the listener's accept filter {what}"),
    };
    match rx.recv_timeout(FILTER_WAIT) {
        Ok(Some(None | Some(Either::A(true)))) => AcceptDecision::Accept,
        Ok(Some(Some(Either::A(false)))) => AcceptDecision::forbidden(),
        Ok(Some(Some(Either::B(r)))) => AcceptDecision::reject(
            u16::try_from(r.status).unwrap_or(502),
            r.description.unwrap_or_default(),
        ),
        Ok(None) => failed("failed"),
        Err(_) => failed("did not answer"),
    }
}

/// A Hybrid Connections listener: serves HTTP requests through a JavaScript handler and hands
/// accepted WebSockets to `accept()`. Like a `net.Server`, it runs (and keeps Node's event
/// loop alive) until `close()`, even if the object itself is no longer referenced.
#[napi]
pub struct RelayListener {
    inner: relay::RelayListener,
    id: u64,
    handler: Arc<Mutex<Option<Arc<HttpHandler>>>>,
    filter: Arc<Mutex<Option<Arc<AcceptFilter>>>>,
}

#[napi]
impl RelayListener {
    /// Connects the control channel for `hybridConnection` (or the connection string's
    /// `EntityPath` when empty) and resolves once online. Rejects with
    /// `ERR_INTERLINK_NOT_FOUND` (404), `ERR_INTERLINK_REFUSED` (401, 403, ...),
    /// `ERR_INTERLINK_NET`, `ERR_INTERLINK_TIMEOUT`, ... Once online it reconnects on its own.
    #[napi(ts_return_type = "Promise<RelayListener>")]
    pub fn bind<'env>(
        env: &'env Env,
        connection_string: String,
        hybrid_connection: Option<String>,
        options: Option<ListenerOptions>,
    ) -> napi::Result<PromiseRaw<'env, RelayListener>> {
        let setup = self::connection_string(&connection_string)
            .and_then(|cs| Ok((cs, options.unwrap_or_default().to_io()?)));
        let hc = hybrid_connection.unwrap_or_default();
        promise(
            env,
            async move {
                let (cs, options) = setup?;
                let inner = relay::RelayListener::bind(&cs, &hc, options).await?;
                let handler: Arc<Mutex<Option<Arc<HttpHandler>>>> = Arc::default();
                let filter: Arc<Mutex<Option<Arc<AcceptFilter>>>> = Arc::default();
                let h = handler.clone();
                inner.set_http_handler(move |req| serve(h.clone(), req));
                let f = filter.clone();
                inner.set_accept_filter(move |cmd| decide(&f, cmd));
                Ok((inner, handler, filter))
            },
            |env, (inner, handler, filter)| {
                Ok(RelayListener {
                    id: registry::hold(env, Held::Listener(inner.clone()))?,
                    inner,
                    handler,
                    filter,
                })
            },
        )
    }

    /// Sets (or with `null` removes) the HTTP handler. It gets `{method, url, headers, body,
    /// ...}` (`url` includes the hybrid connection, e.g. `/hc1/x?y`) and returns, or resolves
    /// to, `{status, statusText?, headers?, body?}`. A throwing handler, a rejected promise or
    /// a malformed response gives 500; no handler gives 501.
    #[napi(
        ts_args_type = "handler: ((request: RelayRequest) => RelayResponse | Promise<RelayResponse>) | null"
    )]
    pub fn set_http_handler(&self, handler: Option<HttpHandler>) {
        *self.handler.lock().unwrap_or_else(|p| p.into_inner()) = handler.map(Arc::new);
    }

    /// Sets (or with `null` removes) the accept filter, called synchronously for each sender
    /// before its WebSocket is accepted: return `true` / `undefined` to accept, `false` to
    /// refuse with 403, or `{status, description}` to refuse with that status. Without a
    /// filter every sender is accepted. A throwing filter refuses with 502.
    #[napi(
        ts_args_type = "filter: ((info: AcceptInfo) => boolean | AcceptRejection | undefined | null) | null"
    )]
    pub fn set_accept_filter(&self, filter: Option<AcceptFilter>) {
        *self.filter.lock().unwrap_or_else(|p| p.into_inner()) = filter.map(Arc::new);
    }

    /// The next accepted WebSocket, or `null` once the listener is closed and the queue empty.
    #[napi(ts_return_type = "Promise<RelayWebSocket | null>")]
    pub fn accept<'env>(
        &self,
        env: &'env Env,
    ) -> napi::Result<PromiseRaw<'env, Option<RelayWebSocket>>> {
        let inner = self.inner.clone();
        promise(
            env,
            async move {
                Ok(inner.accept().await.map(|a| {
                    RelayWebSocket::new(
                        a.socket,
                        a.path_and_query,
                        headers_of(&a.headers),
                        Some(a.id),
                    )
                }))
            },
            |_, s| Ok(s),
        )
    }

    /// `true` while the control channel is up.
    #[napi(getter)]
    pub fn online(&self) -> bool {
        self.inner.is_online()
    }

    /// `true` once the listener stopped for good (closed, or the hybrid connection is gone).
    #[napi(getter)]
    pub fn stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    /// Closes the control channel (sockets already accepted stay open), drops the handler and
    /// filter and lets Node's event loop end.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        self.handler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        self.filter.lock().unwrap_or_else(|p| p.into_inner()).take();
        let entry = registry::release(self.id);
        let inner = self.inner.clone();
        promise(
            env,
            async move {
                inner.close().await;
                drop(entry);
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}

/// The body of a JS message or response, as bytes.
pub fn body_bytes(body: Option<Either<String, Buffer>>) -> bytes::Bytes {
    match body {
        None => bytes::Bytes::new(),
        Some(Either::A(s)) => bytes::Bytes::from(s),
        Some(Either::B(b)) => bytes::Bytes::copy_from_slice(&b),
    }
}
