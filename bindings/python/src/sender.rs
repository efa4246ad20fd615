//! `RelaySender` (HTTP requests and WebSockets to a listener through the relay) and
//! `Response` (what a sender gets back, and what a listener's handler returns).

use bytes::Bytes;
use http_body_util::BodyExt as _;
use interlink::net::{self, ClientTls};
use interlink::relay::RelaySender as IoSender;
use interlink_core::relay::connection_string::ConnectionString;
use pyo3::prelude::*;
use pyo3::types::PyBytes;

use crate::convert::{BodyArg, HeaderList, py_bytes, seconds};
use crate::detach::detached;
use crate::errors;
use crate::websocket::WebSocket;

/// Parses a connection string, raising `ConfigError` (code `connection_string`).
pub fn parse_cs(cs: &str) -> PyResult<ConnectionString> {
    cs.parse::<ConnectionString>()
        .map_err(|e| errors::config("connection_string", format!("connection string: {e}")))
}

/// Client TLS: the public web roots, plus `ca_pem` when given.
pub fn client_tls(ca_pem: Option<&[u8]>) -> PyResult<ClientTls> {
    let tls = ClientTls::webpki();
    match ca_pem {
        None => Ok(tls),
        Some(pem) => tls
            .with_extra_ca_pem(pem)
            .map_err(|e| errors::config("tls", e.to_string())),
    }
}

/// An HTTP response: `status`, `headers` (list of `(name, value)`), `body` (bytes) and an
/// optional `reason` phrase. Senders receive one; listener handlers return one.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct Response {
    /// Status code.
    #[pyo3(get)]
    status: u16,
    /// Header pairs in order (repeats kept).
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    /// The body.
    #[pyo3(get)]
    body: Py<PyBytes>,
    /// Reason phrase, when not the canonical one for the status.
    #[pyo3(get)]
    reason: Option<String>,
}

impl Response {
    /// The parts of this response for building an `http::Response`.
    pub fn parts(&self, py: Python<'_>) -> (u16, Option<String>, Vec<(String, String)>, Bytes) {
        (
            self.status,
            self.reason.clone(),
            self.headers.clone(),
            Bytes::copy_from_slice(self.body.as_bytes(py)),
        )
    }
}

#[pymethods]
impl Response {
    /// A response with `status` (100-999), `headers`, `body` and an optional `reason`.
    #[new]
    #[pyo3(signature = (status = 200, headers = HeaderList::default(), body = BodyArg::default(), reason = None))]
    fn new(
        py: Python<'_>,
        status: u16,
        headers: HeaderList,
        body: BodyArg,
        reason: Option<String>,
    ) -> PyResult<Self> {
        if !(100..=999).contains(&status) {
            return Err(errors::config(
                "invalid_response",
                format!("status {status} is not between 100 and 999"),
            ));
        }
        Ok(Response {
            status,
            headers: headers.0,
            body: py_bytes(py, &body.0),
            reason,
        })
    }

    /// The first value of header `name` (case-insensitive), or `None`.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    /// The body decoded as UTF-8 (invalid bytes replaced).
    #[getter]
    fn text(&self, py: Python<'_>) -> String {
        String::from_utf8_lossy(self.body.as_bytes(py)).into_owned()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!(
            "Response(status={}, headers={} items, body={} bytes)",
            self.status,
            self.headers.len(),
            self.body.as_bytes(py).len()
        )
    }
}

/// A sender for one hybrid connection: HTTP requests and WebSockets to its listener.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct RelaySender {
    inner: IoSender,
}

#[pymethods]
impl RelaySender {
    /// A sender for `hybrid_connection` (or the connection string's `EntityPath`).
    /// `timeout` (seconds) bounds connecting plus waiting for the response head or the
    /// handshake (default: the connection string's `OperationTimeout`, else 70 s).
    /// `ca_pem` adds trusted root certificates (PEM) for `wss://` / `https://`.
    #[new]
    #[pyo3(signature = (connection_string, hybrid_connection = None, *, timeout = None, ca_pem = None))]
    fn new(
        connection_string: &str,
        hybrid_connection: Option<&str>,
        timeout: Option<f64>,
        ca_pem: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let cs = parse_cs(connection_string)?;
        let tls = client_tls(ca_pem.as_deref())?;
        let mut inner =
            IoSender::new(&cs, hybrid_connection.unwrap_or(""), tls).map_err(errors::relay)?;
        if let Some(t) = timeout {
            inner = inner.with_timeout(seconds("timeout", t)?);
        }
        Ok(RelaySender { inner })
    }

    /// The hybrid connection this sender talks to.
    #[getter]
    fn hybrid_connection(&self) -> String {
        self.inner.entity_path().to_string()
    }

    /// Sends an HTTP request to the listener; `path` (with an optional query) is relative to
    /// the hybrid connection. Returns the whole response. Relay failures are responses too
    /// (502 no listener, 504 listener too slow, 401/403 auth); raises on network errors and
    /// timeouts.
    #[pyo3(signature = (method = "GET".to_string(), path = "/".to_string(), headers = HeaderList::default(), body = BodyArg::default()))]
    async fn request(
        &self,
        method: String,
        path: String,
        headers: HeaderList,
        body: BodyArg,
    ) -> PyResult<Response> {
        let mut builder = http::Request::builder()
            .method(method.as_str())
            .uri(path.as_str());
        for (n, v) in &headers.0 {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let req = builder
            .body(net::full(body.0))
            .map_err(|e| errors::config("invalid_request", format!("invalid request: {e}")))?;
        let sender = self.inner.clone();
        let (status, reason, headers, bytes) = detached(async move {
            let resp = sender.request(req).await.map_err(errors::relay)?;
            let status = resp.status();
            let reason = Some(interlink::net::reason_phrase(status, resp.extensions()));
            let headers: Vec<(String, String)> = resp
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_string(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let bytes = resp.into_body().collect().await.map_err(|e| {
                errors::to_pyerr(errors::ErrorInfo::new(
                    errors::Kind::Network,
                    "network",
                    format!("reading the response body: {e}"),
                ))
            })?;
            Ok::<_, PyErr>((status.as_u16(), reason, headers, bytes.to_bytes()))
        })
        .await?;
        Python::attach(|py| {
            Ok(Response {
                status,
                headers,
                body: py_bytes(py, &bytes),
                reason,
            })
        })
    }

    /// Opens a WebSocket to the listener. `path` is an optional path after the hybrid
    /// connection with an optional query (e.g. `"chat?room=1"`); `protocols` are offered
    /// subprotocols. A refused handshake raises (`NotFoundError` when nobody listens,
    /// `AuthError`, `RefusedError` with the listener's status).
    #[pyo3(signature = (path = None, protocols = Vec::new()))]
    async fn connect(&self, path: Option<String>, protocols: Vec<String>) -> PyResult<WebSocket> {
        let sender = self.inner.clone();
        let socket = detached(async move {
            let suffix = path.as_deref().map(|p| p.trim_start_matches('/'));
            let suffix = suffix.filter(|s| !s.is_empty());
            let offered: Vec<&str> = protocols.iter().map(String::as_str).collect();
            sender.connect(suffix, &offered).await
        })
        .await
        .map_err(errors::relay)?;
        Ok(WebSocket::new(socket, None, Vec::new(), None))
    }

    fn __repr__(&self) -> String {
        format!(
            "RelaySender(hybrid_connection={:?})",
            self.inner.entity_path()
        )
    }
}
