//! The native side of `interlink.HubClient`: a SignalR hub client (io's [`HubClient`]).
//!
//! No Python code runs on Rust threads. Server calls of client methods (`on`) are queued
//! by the Rust handler as [`ServerCall`]s, in arrival order, with a one-shot answer; the
//! package's dispatch task (`interlink/_hub.py`) takes them with `await next_call()`, runs
//! the Python handler in asyncio and answers with `resolve` / `skip` / `reject`. Lifecycle
//! events come the same way (`await next_event()`). Streams are pumped by a smol task
//! into a channel that `async for` reads; dropping or cancelling the iterator drops the
//! task and with it io's stream, which sends CancelInvocation.

use std::sync::Mutex;

use interlink::hub::client::{
    DefaultReconnectPolicy, HubClient, HubClientBuilder, HubClientError, HubClientEvent,
    HubClientState, HubStream as IoStream,
};
use interlink_core::hub::{HubProtocol, RawValue};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::PyList;
use smol::stream::StreamExt as _;

use crate::convert::{HeaderList, seconds};
use crate::detach::detached;
use crate::hub_errors;
use crate::hub_value::{from_optional, from_raw, from_raw_args, protocol_of, to_raw, to_raw_args};
use crate::sender::client_tls;

/// What a client handler answers: a value, nothing, or an error text.
type Answer = Result<Option<RawValue>, String>;

/// Items a stream buffers ahead of `async for`.
const STREAM_BUFFER: usize = 16;
/// Upload items buffered before `push` waits.
const UPLOAD_BUFFER: usize = 16;

/// A call of a client method by the server, for the Python dispatcher (internal).
#[pyclass(frozen, module = "interlink._interlink")]
pub struct ServerCall {
    /// The id of the Python handler it is for.
    #[pyo3(get)]
    handler: u64,
    /// The method name as the server sent it.
    #[pyo3(get)]
    method: String,
    args: Vec<RawValue>,
    protocol: HubProtocol,
    reply: Mutex<Option<async_channel::Sender<Answer>>>,
}

impl ServerCall {
    fn answer(&self, answer: Answer) -> bool {
        let tx = self.reply.lock().unwrap_or_else(|p| p.into_inner()).take();
        tx.is_some_and(|tx| tx.try_send(answer).is_ok())
    }
}

#[pymethods]
impl ServerCall {
    /// The arguments as Python values.
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        from_raw_args(py, &self.args)
    }

    /// Answers with `value` (the client result); `False` if already answered.
    fn resolve(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let raw = to_raw(value, self.protocol)?;
        Ok(self.answer(Ok(Some(raw))))
    }

    /// Answers without a value (the handler returned `None`).
    fn skip(&self) -> bool {
        self.answer(Ok(None))
    }

    /// Answers with an error text (the handler raised).
    fn reject(&self, text: String) -> bool {
        self.answer(Err(text))
    }
}

/// One upload stream of a call (internal): the package pushes the items of an async
/// iterator into it, then completes it.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct UploadSink {
    tx: async_channel::Sender<RawValue>,
    rx: Mutex<Option<async_channel::Receiver<RawValue>>>,
    protocol: HubProtocol,
}

impl UploadSink {
    fn take(&self) -> PyResult<async_channel::Receiver<RawValue>> {
        self.rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| crate::errors::config("invalid_argument", "upload already used"))
    }
}

#[pymethods]
impl UploadSink {
    /// Sends one item; `False` once the call no longer reads the upload.
    async fn push(&self, value: Py<PyAny>) -> PyResult<bool> {
        let raw = Python::attach(|py| to_raw(value.bind(py), self.protocol))?;
        let tx = self.tx.clone();
        Ok(detached(async move { tx.send(raw).await.is_ok() }).await)
    }

    /// Ends the upload (items already pushed still go out).
    fn complete(&self) {
        self.tx.close();
    }
}

fn take_uploads(uploads: &[Py<UploadSink>]) -> PyResult<Vec<async_channel::Receiver<RawValue>>> {
    uploads.iter().map(|u| u.get().take()).collect()
}

/// The items of a streaming call: `async for item in stream`. Leaving the loop early (the
/// iterator is dropped) or `cancel()` cancels the call on the server.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct HubStream {
    items: async_channel::Receiver<Result<RawValue, HubClientError>>,
    pump: Mutex<Option<smol::Task<()>>>,
}

async fn pump(mut stream: IoStream, out: async_channel::Sender<Result<RawValue, HubClientError>>) {
    while let Some(item) = stream.next().await {
        if out.send(item).await.is_err() {
            return;
        }
    }
}

#[pymethods]
impl HubStream {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    /// The next item; `StopAsyncIteration` after the server's Completion.
    fn __anext__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        slf.call_method0(py, "_next")
    }

    /// The coroutine behind `__anext__`. An error Completion raises `HubError`.
    async fn _next(&self) -> PyResult<Py<PyAny>> {
        let items = self.items.clone();
        let got = detached(async move { items.recv().await }).await;
        Python::attach(|py| match got {
            Ok(Ok(raw)) => Ok(from_raw(py, &raw)?.unbind()),
            Ok(Err(e)) => Err(hub_errors::client(e)),
            Err(_) => Err(PyStopAsyncIteration::new_err(())),
        })
    }

    /// Stops reading: a call still running is cancelled on the server (CancelInvocation).
    fn cancel(&self) {
        let task = self.pump.lock().unwrap_or_else(|p| p.into_inner()).take();
        drop(task);
        self.items.close();
    }

    /// Same as `cancel()`, as a coroutine (the async-iterator protocol's `aclose`).
    async fn aclose(&self) {
        self.cancel();
    }
}

fn state_name(s: HubClientState) -> &'static str {
    match s {
        HubClientState::Disconnected => "disconnected",
        HubClientState::Connecting => "connecting",
        HubClientState::Connected => "connected",
        HubClientState::Reconnecting => "reconnecting",
    }
}

/// The native hub client; `interlink.HubClient` wraps it.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct NativeHubClient {
    client: HubClient,
    url: String,
    calls: (
        async_channel::Sender<ServerCall>,
        async_channel::Receiver<ServerCall>,
    ),
    events: async_channel::Receiver<HubClientEvent>,
}

#[pymethods]
impl NativeHubClient {
    /// A disconnected client of the hub at `url` (see `interlink.HubClient`). `reconnect` is
    /// the automatic reconnect schedule in seconds (`None`: no automatic reconnect).
    #[new]
    #[pyo3(signature = (url, protocol = "json", *, access_token = None, headers = HeaderList::default(), skip_negotiation = false, stateful_reconnect = false, reconnect = None, keep_alive_interval = None, server_timeout = None, handshake_timeout = None, ca_pem = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        url: String,
        protocol: &str,
        access_token: Option<String>,
        headers: HeaderList,
        skip_negotiation: bool,
        stateful_reconnect: bool,
        reconnect: Option<Vec<f64>>,
        keep_alive_interval: Option<f64>,
        server_timeout: Option<f64>,
        handshake_timeout: Option<f64>,
        ca_pem: Option<Vec<u8>>,
    ) -> PyResult<Self> {
        let mut b = HubClientBuilder::new(url.clone())
            .protocol(protocol_of(protocol)?)
            .skip_negotiation(skip_negotiation)
            .stateful_reconnect(stateful_reconnect);
        if let Some(token) = access_token {
            b = b.access_token(token);
        }
        for (name, value) in headers.0 {
            b = b.header(name, value);
        }
        if let Some(delays) = reconnect {
            let delays = delays
                .into_iter()
                .map(|d| seconds("automatic_reconnect", d))
                .collect::<PyResult<Vec<_>>>()?;
            b = b.automatic_reconnect(DefaultReconnectPolicy::from_delays(delays));
        }
        if let Some(t) = keep_alive_interval {
            b = b.keep_alive_interval(seconds("keep_alive_interval", t)?);
        }
        if let Some(t) = server_timeout {
            b = b.server_timeout(seconds("server_timeout", t)?);
        }
        if let Some(t) = handshake_timeout {
            b = b.handshake_timeout(seconds("handshake_timeout", t)?);
        }
        if let Some(pem) = ca_pem {
            b = b.tls(client_tls(Some(&pem))?);
        }
        let client = b.build();
        let events = client.events();
        Ok(NativeHubClient {
            client,
            url,
            calls: async_channel::unbounded(),
            events,
        })
    }

    /// The hub URL.
    #[getter]
    fn url(&self) -> String {
        self.url.clone()
    }

    /// `"json"` or `"messagepack"`.
    #[getter]
    fn protocol(&self) -> &'static str {
        self.client.protocol().name()
    }

    /// `"disconnected"`, `"connecting"`, `"connected"` or `"reconnecting"`.
    #[getter]
    fn state(&self) -> &'static str {
        state_name(self.client.state())
    }

    /// The current connection's id (`None` while disconnected and with skip_negotiation).
    #[getter]
    fn connection_id(&self) -> Option<String> {
        self.client.connection_id()
    }

    /// Negotiate, WebSocket, handshake; raises when any step fails.
    async fn start(&self) -> PyResult<()> {
        let client = self.client.clone();
        detached(async move { client.start().await })
            .await
            .map_err(hub_errors::client)
    }

    /// Closes the connection and waits until the client is disconnected.
    async fn stop(&self) {
        let client = self.client.clone();
        detached(async move { client.stop().await }).await;
    }

    /// Calls `method(*args)` (+ upload streams) and returns its result (`None` for void).
    async fn invoke(
        &self,
        method: String,
        args: Py<PyAny>,
        uploads: Vec<Py<UploadSink>>,
    ) -> PyResult<Py<PyAny>> {
        let protocol = self.client.protocol();
        let raw = Python::attach(|py| to_raw_args(args.bind(py), protocol))?;
        let uploads = take_uploads(&uploads)?;
        let client = self.client.clone();
        let out = detached(async move {
            if uploads.is_empty() {
                client.invoke(&method, raw).await
            } else {
                client.invoke_with_streams(&method, raw, uploads).await
            }
        })
        .await
        .map_err(hub_errors::client)?;
        Python::attach(|py| from_optional(py, out.as_ref()))
    }

    /// Calls `method(*args)` without a result; returns once the message was queued.
    async fn send(
        &self,
        method: String,
        args: Py<PyAny>,
        uploads: Vec<Py<UploadSink>>,
    ) -> PyResult<()> {
        let protocol = self.client.protocol();
        let raw = Python::attach(|py| to_raw_args(args.bind(py), protocol))?;
        let uploads = take_uploads(&uploads)?;
        let client = self.client.clone();
        detached(async move {
            if uploads.is_empty() {
                client.send(&method, raw).await
            } else {
                client.send_with_streams(&method, raw, uploads).await
            }
        })
        .await
        .map_err(hub_errors::client)
    }

    /// Starts a streaming call; the call goes out at once.
    fn stream(
        &self,
        method: String,
        args: &Bound<'_, PyAny>,
        uploads: Vec<Py<UploadSink>>,
    ) -> PyResult<HubStream> {
        let raw = to_raw_args(args, self.client.protocol())?;
        let uploads = take_uploads(&uploads)?;
        let stream = if uploads.is_empty() {
            self.client.stream(&method, raw)
        } else {
            self.client.stream_with_streams(&method, raw, uploads)
        };
        let (tx, items) = async_channel::bounded(STREAM_BUFFER);
        Ok(HubStream {
            items,
            pump: Mutex::new(Some(smol::spawn(pump(stream, tx)))),
        })
    }

    /// A new upload stream for `invoke` / `send` / `stream`.
    fn upload(&self) -> UploadSink {
        let (tx, rx) = async_channel::bounded(UPLOAD_BUFFER);
        UploadSink {
            tx,
            rx: Mutex::new(Some(rx)),
            protocol: self.client.protocol(),
        }
    }

    /// Routes server calls of `method` (case-insensitive) to Python handler `handler`
    /// (an id the package keeps), through `next_call`.
    fn on(&self, method: String, handler: u64) {
        let queue = self.calls.0.clone();
        let protocol = self.client.protocol();
        self.client.on_async(&method.clone(), move |args| {
            let (tx, rx) = async_channel::bounded(1);
            let call = ServerCall {
                handler,
                method: method.clone(),
                args,
                protocol,
                reply: Mutex::new(Some(tx)),
            };
            // Queued here, synchronously, so calls reach Python in arrival order.
            let queued = queue.try_send(call).is_ok();
            async move {
                if !queued {
                    return Ok(None);
                }
                rx.recv().await.unwrap_or(Ok(None))
            }
        });
    }

    /// Removes every handler of `method`.
    fn off(&self, method: &str) {
        self.client.off(method);
    }

    /// The next server call for a Python handler (waits).
    async fn next_call(&self) -> Option<ServerCall> {
        let calls = self.calls.1.clone();
        detached(async move { calls.recv().await.ok() }).await
    }

    /// The next lifecycle event: `("reconnecting", error | None)`,
    /// `("reconnected", connection_id | None)` or `("closed", error | None)`.
    async fn next_event(&self) -> PyResult<Option<(String, Py<PyAny>)>> {
        let events = self.events.clone();
        let event = detached(async move { events.recv().await.ok() }).await;
        let error = |py: Python<'_>, e: Option<HubClientError>| match e {
            Some(e) => hub_errors::client(e).into_value(py).into_any(),
            None => py.None(),
        };
        Ok(event.map(|ev| {
            Python::attach(|py| match ev {
                HubClientEvent::Reconnecting { error: e } => ("reconnecting".into(), error(py, e)),
                HubClientEvent::Reconnected { connection_id } => (
                    "reconnected".into(),
                    connection_id.map_or_else(
                        || py.None(),
                        |id| {
                            id.into_pyobject(py)
                                .map_or_else(|_| py.None(), |s| s.into_any().unbind())
                        },
                    ),
                ),
                HubClientEvent::Closed { error: e } => ("closed".into(), error(py, e)),
            })
        }))
    }

    fn __repr__(&self) -> String {
        format!(
            "NativeHubClient({:?}, {})",
            self.url,
            state_name(self.client.state())
        )
    }
}
