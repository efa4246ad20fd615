//! The native side of `interlink.RelayListener`.
//!
//! Python code only ever runs on the asyncio thread, except the accept filter (below). HTTP
//! requests go through a queue: the listener's Rust handler (on smol) reads the whole body,
//! queues a [`Request`] with a one-shot [`Responder`] and waits; the Python package's
//! dispatch task (`interlink/_listener.py`) takes them with `await next_request()`, runs the
//! user's handler in asyncio and calls `responder.send(response)`. A request nobody answers
//! gets 500 (the responder was dropped) or, when the queue is closed, 503.
//!
//! The accept filter is the exception: the io listener asks it synchronously, so it is called
//! on interlink's I/O thread with the interpreter attached. It must be quick and must not
//! touch the event loop.

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use interlink::net::{self, Body};
use interlink::relay::listener::sender_path;
use interlink::relay::{AcceptDecision, ListenerOptions, RelayListener, RequestInfo};
use interlink_core::relay::message::AcceptCommand;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyTuple};

use crate::convert::{py_bytes, seconds};
use crate::detach::{detached, enter};
use crate::errors;
use crate::sender::{Response, client_tls, parse_cs};
use crate::websocket::WebSocket;

/// How many requests may wait for the Python dispatcher.
const QUEUE: usize = 256;

type Reply = async_channel::Sender<http::Response<Body>>;

/// An HTTP request for the listener's handler.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct Request {
    /// Method, e.g. `GET`.
    #[pyo3(get)]
    method: String,
    /// Path and query as the sender sent it, including the hybrid connection
    /// (e.g. `/hc1/items?id=3`).
    #[pyo3(get)]
    url: String,
    /// Header pairs in order.
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    /// The relay's request id.
    #[pyo3(get)]
    id: String,
    /// `True` when the request came over a rendezvous socket (large bodies).
    #[pyo3(get)]
    via_rendezvous: bool,
    /// The sender's address as `(host, port)`, if the relay said.
    #[pyo3(get)]
    remote_address: Option<(String, u16)>,
    body: Bytes,
}

#[pymethods]
impl Request {
    /// The whole request body.
    #[getter]
    fn body(&self, py: Python<'_>) -> Py<PyBytes> {
        py_bytes(py, &self.body)
    }

    /// The path without the query.
    #[getter]
    fn path(&self) -> String {
        self.url.split('?').next().unwrap_or("").to_string()
    }

    /// The query without `?`, or `None`.
    #[getter]
    fn query(&self) -> Option<String> {
        self.url.split_once('?').map(|(_, q)| q.to_string())
    }

    /// The first value of header `name` (case-insensitive), or `None`.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }

    fn __repr__(&self) -> String {
        format!("Request({} {})", self.method, self.url)
    }
}

/// Sends the response of one request back to the relay (internal to the dispatcher).
#[pyclass(frozen, module = "interlink._interlink")]
pub struct Responder {
    tx: Mutex<Option<Reply>>,
}

#[pymethods]
impl Responder {
    /// Answers the request; `False` if it was already answered or the sender is gone.
    fn send(&self, py: Python<'_>, response: PyRef<'_, Response>) -> PyResult<bool> {
        let (status, reason, headers, body) = response.parts(py);
        let mut builder = http::Response::builder().status(status);
        if let Some(r) = reason {
            let phrase = hyper::ext::ReasonPhrase::try_from(r.into_bytes())
                .map_err(|e| errors::config("invalid_response", e.to_string()))?;
            builder = builder.extension(phrase);
        }
        for (n, v) in &headers {
            builder = builder.header(n.as_str(), v.as_str());
        }
        let resp = builder
            .body(net::full(body))
            .map_err(|e| errors::config("invalid_response", format!("invalid response: {e}")))?;
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(tx.is_some_and(|tx| tx.try_send(resp).is_ok()))
    }
}

/// What the accept filter sees of a sender that wants a WebSocket.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct AcceptInfo {
    /// The sender's path and query (e.g. `/hc1/chat?room=1`).
    #[pyo3(get)]
    path: String,
    /// The sender's upgrade request headers.
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    /// The sender's tracking id.
    #[pyo3(get)]
    id: String,
    /// The sender's address as `(host, port)`, if the relay said.
    #[pyo3(get)]
    remote_address: Option<(String, u16)>,
}

#[pymethods]
impl AcceptInfo {
    /// The first value of header `name` (case-insensitive), or `None`.
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

type Queue = (
    async_channel::Sender<(Request, Responder)>,
    async_channel::Receiver<(Request, Responder)>,
);

/// The native listener; `interlink.RelayListener` wraps it.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct NativeListener {
    inner: RelayListener,
    queue: Mutex<Option<Arc<Queue>>>,
}

fn status_response(status: u16, text: &str) -> http::Response<Body> {
    let mut resp = http::Response::new(net::full(text.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    resp
}

/// Reads one request whole and queues it for Python; waits for the answer.
async fn relay_request(queue: Arc<Queue>, req: http::Request<Body>) -> http::Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return status_response(400, "the request body broke off"),
    };
    let info = parts.extensions.get::<RequestInfo>().cloned();
    let (tx, rx) = async_channel::bounded(1);
    let request = Request {
        method: parts.method.as_str().to_string(),
        url: parts
            .uri
            .path_and_query()
            .map_or("/".to_string(), |pq| pq.as_str().to_string()),
        headers: parts
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        id: info.as_ref().map(|i| i.id.clone()).unwrap_or_default(),
        via_rendezvous: info.as_ref().is_some_and(|i| i.via_rendezvous),
        remote_address: info
            .and_then(|i| i.remote_endpoint)
            .map(|r| (r.address, r.port)),
        body,
    };
    let responder = Responder {
        tx: Mutex::new(Some(tx)),
    };
    if queue.0.send((request, responder)).await.is_err() {
        return status_response(503, "the listener is closing");
    }
    match rx.recv().await {
        Ok(resp) => resp,
        Err(_) => status_response(500, "the handler did not answer"),
    }
}

/// Asks the Python filter; any failure rejects with 502, like a panicking Rust filter.
fn decide(filter: &Py<PyAny>, cmd: &AcceptCommand) -> AcceptDecision {
    let failed = || AcceptDecision::Reject {
        status: 502,
        description: "Bad Gateway: the listener's accept filter failed".into(),
    };
    let Some(_entry) = enter() else {
        return AcceptDecision::Reject {
            status: 503,
            description: "Service Unavailable: the listener is shutting down".into(),
        };
    };
    Python::attach(|py| {
        let info = AcceptInfo {
            path: sender_path(&cmd.address),
            headers: cmd.connect_headers.0.clone(),
            id: cmd.id.clone(),
            remote_address: cmd
                .remote_endpoint
                .as_ref()
                .map(|r| (r.address.clone(), r.port)),
        };
        let verdict = match filter.call1(py, (info,)) {
            Ok(v) => v.into_bound(py),
            Err(e) => {
                e.print(py);
                return failed();
            }
        };
        if verdict.is_none() {
            return AcceptDecision::Accept;
        }
        if let Ok(b) = verdict.cast::<PyBool>() {
            return if b.is_true() {
                AcceptDecision::Accept
            } else {
                AcceptDecision::forbidden()
            };
        }
        if let Ok(status) = verdict.extract::<u16>() {
            return AcceptDecision::reject(status, "");
        }
        if verdict.cast::<PyTuple>().is_ok()
            && let Ok((status, description)) = verdict.extract::<(u16, String)>()
        {
            return AcceptDecision::Reject {
                status,
                description,
            };
        }
        failed()
    })
}

#[pymethods]
impl NativeListener {
    /// Connects the control channel; resolves once online (see `interlink.RelayListener.bind`).
    #[staticmethod]
    #[pyo3(signature = (connection_string, hybrid_connection = None, *, tracking_id = None, connect_timeout = None, accept_timeout = None, handler_timeout = None, ca_pem = None))]
    async fn bind(
        connection_string: String,
        hybrid_connection: Option<String>,
        tracking_id: Option<String>,
        connect_timeout: Option<f64>,
        accept_timeout: Option<f64>,
        handler_timeout: Option<f64>,
        ca_pem: Option<Vec<u8>>,
    ) -> PyResult<NativeListener> {
        let cs = parse_cs(&connection_string)?;
        let mut options = ListenerOptions {
            tls: client_tls(ca_pem.as_deref())?,
            tracking_id,
            ..ListenerOptions::default()
        };
        if let Some(t) = connect_timeout {
            options.connect_timeout = seconds("connect_timeout", t)?;
        }
        if let Some(t) = accept_timeout {
            options.accept_timeout = seconds("accept_timeout", t)?;
        }
        if let Some(t) = handler_timeout {
            options.handler_timeout = seconds("handler_timeout", t)?;
        }
        let hc = hybrid_connection.unwrap_or_default();
        let inner = detached(async move { RelayListener::bind(&cs, &hc, options).await })
            .await
            .map_err(errors::relay)?;
        Ok(NativeListener {
            inner,
            queue: Mutex::new(None),
        })
    }

    /// Starts routing HTTP requests to [`NativeListener::next_request`] (idempotent).
    /// Until then every request gets 501.
    fn serve_requests(&self) {
        let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
        if q.is_some() {
            return;
        }
        let queue = Arc::new(async_channel::bounded(QUEUE));
        *q = Some(queue.clone());
        self.inner
            .set_http_handler(move |req| relay_request(queue.clone(), req));
    }

    /// The next request and its responder; `None` once the listener is closed.
    async fn next_request(&self) -> PyResult<Option<(Request, Responder)>> {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let Some(queue) = queue else {
            return Ok(None);
        };
        Ok(detached(async move { queue.1.recv().await.ok() }).await)
    }

    /// Sets the accept filter: `filter(AcceptInfo)` returns `None`/`True` (accept), `False`
    /// (reject 403), a status, or `(status, description)`. Raising rejects with 502.
    fn set_accept_filter(&self, filter: Py<PyAny>) {
        self.inner
            .set_accept_filter(move |cmd| decide(&filter, cmd));
    }

    /// The next accepted WebSocket; `None` once the listener has stopped.
    async fn accept(&self) -> PyResult<Option<WebSocket>> {
        let listener = self.inner.clone();
        let accepted = detached(async move { listener.accept().await }).await;
        Ok(accepted
            .map(|a| WebSocket::new(a.socket, Some(a.path_and_query), a.headers.0, Some(a.id))))
    }

    /// `True` while the control channel is up.
    #[getter]
    fn online(&self) -> bool {
        self.inner.is_online()
    }

    /// `True` once the listener has stopped for good.
    #[getter]
    fn stopped(&self) -> bool {
        self.inner.is_stopped()
    }

    /// Waits until the control channel is up; raises `ClosedError` if it stops first.
    async fn wait_online(&self) -> PyResult<()> {
        let listener = self.inner.clone();
        detached(async move { listener.wait_online().await })
            .await
            .map_err(errors::relay)
    }

    /// Closes the control channel and the request queue; accepted sockets stay open.
    async fn close(&self) {
        let queue = self.queue.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(q) = queue {
            q.0.close();
        }
        let listener = self.inner.clone();
        detached(async move { listener.close().await }).await;
    }
}
