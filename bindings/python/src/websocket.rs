//! `WebSocket`: a relayed WebSocket (a sender's connection, or one a listener accepted).

use interlink::ws::{Received, WebSocket as IoWebSocket};
use interlink_core::ws::Message;
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyString};

use crate::convert::Outgoing;
use crate::detach::detached;
use crate::errors;

/// A WebSocket through the relay. `await send(str | bytes)`, `await receive()`,
/// `await close(code, reason)`, and `async for message in socket`.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct WebSocket {
    inner: IoWebSocket,
    /// For accepted sockets: the sender's path and query as the listener sees it
    /// (e.g. `/hc1/chat?room=1`); `None` on the sender's side.
    #[pyo3(get)]
    path: Option<String>,
    /// For accepted sockets: the sender's upgrade request headers.
    #[pyo3(get)]
    headers: Vec<(String, String)>,
    /// For accepted sockets: the sender's tracking id.
    #[pyo3(get)]
    id: Option<String>,
}

/// What one receive gave, before it becomes a Python value.
enum Got {
    Text(String),
    Binary(bytes::Bytes),
    Closed(Option<u16>, String),
    Ended,
}

impl WebSocket {
    /// Wraps an io WebSocket.
    pub fn new(
        inner: IoWebSocket,
        path: Option<String>,
        headers: Vec<(String, String)>,
        id: Option<String>,
    ) -> Self {
        WebSocket {
            inner,
            path,
            headers,
            id,
        }
    }

    async fn next(&self) -> Got {
        let socket = self.inner.clone();
        detached(async move {
            match socket.recv().await {
                Some(Received::Message(Message::Text(t))) => Got::Text(t),
                Some(Received::Message(Message::Binary(b))) => Got::Binary(b),
                Some(Received::Closed(code, reason)) => Got::Closed(code, reason),
                None => Got::Ended,
            }
        })
        .await
    }
}

fn message(py: Python<'_>, got: Got) -> PyResult<Option<Py<PyAny>>> {
    Ok(match got {
        Got::Text(t) => Some(PyString::new(py, &t).into_any().unbind()),
        Got::Binary(b) => Some(PyBytes::new(py, &b).into_any().unbind()),
        Got::Closed(..) | Got::Ended => None,
    })
}

#[pymethods]
impl WebSocket {
    /// The subprotocol agreed in the handshake, if any.
    #[getter]
    fn protocol(&self) -> Option<String> {
        self.inner.protocol().map(str::to_string)
    }

    /// Sends a message: `str` as text, `bytes` as binary. Raises `ClosedError` once the
    /// socket is closed.
    async fn send(&self, message: Outgoing) -> PyResult<()> {
        let socket = self.inner.clone();
        detached(async move {
            match message {
                Outgoing::Text(t) => socket.send_text(t).await,
                Outgoing::Binary(b) => socket.send_binary(b).await,
            }
        })
        .await
        .map_err(errors::ws)
    }

    /// The next message (`str` or `bytes`). Raises `ConnectionClosed` (with `close_code`
    /// and `close_reason`) when the peer closed, `ClosedError` once the socket has ended.
    async fn receive(&self) -> PyResult<Py<PyAny>> {
        let got = self.next().await;
        Python::attach(|py| match got {
            Got::Closed(code, reason) => Err(errors::connection_closed(code, reason)),
            Got::Ended => Err(errors::to_pyerr(errors::ErrorInfo::new(
                errors::Kind::Closed,
                "closed",
                "the WebSocket has ended",
            ))),
            got => Ok(message(py, got)?.expect("a message")),
        })
    }

    /// Starts the close handshake with `code` and `reason`; later messages from the peer can
    /// still be received until its Close arrives. Closing a closed socket does nothing.
    #[pyo3(signature = (code = 1000, reason = String::new()))]
    async fn close(&self, code: u16, reason: String) {
        let socket = self.inner.clone();
        // The only failure is "already closed", which is what the caller wants.
        let _ = detached(async move { socket.close(code, &reason).await }).await;
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next message; iteration ends when the peer closes or the socket ends.
    fn __anext__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        slf.call_method0(py, "_next")
    }

    /// The coroutine behind `__anext__`: a message, or `StopAsyncIteration` at the end.
    async fn _next(&self) -> PyResult<Py<PyAny>> {
        let got = self.next().await;
        Python::attach(|py| match message(py, got)? {
            Some(m) => Ok(m),
            None => Err(PyStopAsyncIteration::new_err(())),
        })
    }

    fn __repr__(&self) -> String {
        match &self.path {
            Some(p) => format!("WebSocket(path={p:?})"),
            None => "WebSocket(sender)".to_string(),
        }
    }
}
