//! The native side of `interlink.HubServer`: a hub (io's [`Hub`] + [`HubService`]) whose
//! methods are Python functions, served by io's [`HubServer`]; and the demo hub server.
//!
//! No Python code runs on Rust threads. Each registered method is a Rust closure that
//! queues a [`MethodCall`] (context, arguments, a one-shot reply or an item channel) and
//! waits; the package's dispatch task (`interlink/_hub.py`) takes the calls with
//! `await next_call()`, runs the Python handler in asyncio and answers (`resolve`,
//! `reject`, or `push` + `finish` for streams). When io drops a call (the caller cancelled
//! a stream, the connection ended), `await call.gone()` returns and the package cancels the
//! handler's task.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use interlink::hub::server::demo::{DemoOptions, DemoServer};
use interlink::hub::server::{
    Args, Hub, HubContext as IoContext, HubError, HubHandle, HubOptions, HubResult, HubService,
    UploadStream,
};
use interlink::hub::transport::{
    HubRoute, HubServer, HubServerOptions, Principal, TransportOptions, Unauthorized,
};
use interlink_core::hub::{HubProtocol, RawValue};
use pyo3::exceptions::PyStopAsyncIteration;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};
use smol::stream::{Stream, StreamExt as _};

use crate::convert::seconds;
use crate::detach::detached;
use crate::errors;
use crate::hub_errors;
use crate::hub_value::{from_raw, from_raw_args, to_raw, to_raw_args};

/// Stream items a Python generator may run ahead of the connection.
const STREAM_BUFFER: usize = 1;

type Item = Result<RawValue, HubError>;

/// The context of one call, as Python sees it (`ctx` of a hub method).
#[pyclass(frozen, name = "HubContext", module = "interlink._interlink")]
pub struct PyHubContext {
    ctx: IoContext,
}

/// Encodes `args` for fan-out sends: MessagePack (bytes stay `bin`; JSON clients get the
/// values transcoded, `bin` as base64).
fn fanout_args(args: &Bound<'_, PyTuple>) -> PyResult<Vec<RawValue>> {
    to_raw_args(args.as_any(), HubProtocol::MessagePack)
}

#[pymethods]
impl PyHubContext {
    /// The caller's connection id.
    #[getter]
    fn connection_id(&self) -> String {
        self.ctx.connection_id().to_string()
    }

    /// The caller's user id (from the server's `tokens`), or `None`.
    #[getter]
    fn user_id(&self) -> Option<String> {
        self.ctx.user_id().map(str::to_string)
    }

    /// The caller's claims (from the server's `tokens`: none), as `(type, value)` pairs.
    #[getter]
    fn claims(&self) -> Vec<(String, String)> {
        self.ctx.claims().to_vec()
    }

    /// The caller's hub protocol: `"json"` or `"messagepack"`.
    #[getter]
    fn protocol(&self) -> &'static str {
        self.ctx.protocol().name()
    }

    /// The caller's transport: `"WebSockets"`, `"ServerSentEvents"` or `"LongPolling"`.
    #[getter]
    fn transport(&self) -> &'static str {
        self.ctx.transport().name()
    }

    /// The query of the request that attached the connection, as `(name, value)` pairs.
    #[getter]
    fn query(&self) -> Vec<(String, String)> {
        self.ctx.query().to_vec()
    }

    /// Calls `method(*args)` on the caller and returns its result (a client result).
    /// Raises `HubError` (code `client`) with the client's error text, `TimeoutError`
    /// after the server's `client_result_timeout`, `ClosedError` when the caller is gone.
    #[pyo3(signature = (method, *args))]
    async fn invoke_caller(&self, method: String, args: Py<PyTuple>) -> PyResult<Py<PyAny>> {
        let ctx = self.ctx.clone();
        let raw = Python::attach(|py| to_raw_args(args.bind(py).as_any(), ctx.protocol()))?;
        let out = detached(async move { ctx.invoke_caller(&method, raw).await })
            .await
            .map_err(hub_errors::server)?;
        Python::attach(|py| Ok(from_raw(py, &out)?.unbind()))
    }

    /// Calls `method(*args)` on the caller without a result; returns how many connections
    /// it was queued on.
    #[pyo3(signature = (method, *args))]
    fn send_to_caller(&self, method: &str, args: &Bound<'_, PyTuple>) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        self.ctx
            .clients()
            .caller()
            .send(method, raw)
            .map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on every connection but the caller.
    #[pyo3(signature = (method, *args))]
    fn send_to_others(&self, method: &str, args: &Bound<'_, PyTuple>) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        self.ctx
            .clients()
            .others()
            .send(method, raw)
            .map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on every connection.
    #[pyo3(signature = (method, *args))]
    fn broadcast(&self, method: &str, args: &Bound<'_, PyTuple>) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        self.ctx
            .clients()
            .all()
            .send(method, raw)
            .map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on the members of `group` (`exclude_caller`: but the caller).
    #[pyo3(signature = (group, method, *args, exclude_caller = false))]
    fn send_to_group(
        &self,
        group: &str,
        method: &str,
        args: &Bound<'_, PyTuple>,
        exclude_caller: bool,
    ) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        let clients = self.ctx.clients();
        let proxy = if exclude_caller {
            clients.others_in_group(group)
        } else {
            clients.group(group)
        };
        proxy.send(method, raw).map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on one connection.
    #[pyo3(signature = (connection_id, method, *args))]
    fn send_to_connection(
        &self,
        connection_id: &str,
        method: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        let proxy = self.ctx.clients().client(connection_id);
        proxy.send(method, raw).map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on every connection of a user.
    #[pyo3(signature = (user_id, method, *args))]
    fn send_to_user(
        &self,
        user_id: &str,
        method: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        let proxy = self.ctx.clients().user(user_id);
        proxy.send(method, raw).map_err(hub_errors::server)
    }

    /// Adds the caller (or `connection_id`) to `group`; `False` if it already was a member.
    #[pyo3(signature = (group, connection_id = None))]
    fn add_to_group(&self, group: &str, connection_id: Option<&str>) -> PyResult<bool> {
        let id = connection_id.unwrap_or(self.ctx.connection_id());
        self.ctx.groups().add(id, group).map_err(hub_errors::server)
    }

    /// Removes the caller (or `connection_id`) from `group`; `False` if it was no member.
    #[pyo3(signature = (group, connection_id = None))]
    fn remove_from_group(&self, group: &str, connection_id: Option<&str>) -> PyResult<bool> {
        let id = connection_id.unwrap_or(self.ctx.connection_id());
        self.ctx
            .groups()
            .remove(id, group)
            .map_err(hub_errors::server)
    }

    /// Ends the caller's connection with a Close message (`error` is shown to the client;
    /// `allow_reconnect` lets it reconnect automatically).
    #[pyo3(signature = (error = None, allow_reconnect = false))]
    fn close(&self, error: Option<String>, allow_reconnect: bool) -> PyResult<()> {
        self.ctx
            .close(error, allow_reconnect)
            .map_err(hub_errors::server)
    }

    /// Drops the caller's transport without a Close (a stateful client re-attaches).
    fn abort(&self) -> PyResult<()> {
        self.ctx.abort().map_err(hub_errors::server)
    }

    fn __repr__(&self) -> String {
        format!("HubContext(connection_id={:?})", self.ctx.connection_id())
    }
}

/// An upload stream a client sent with its call: `async for item in stream`.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct ServerUpload {
    inner: Arc<smol::lock::Mutex<UploadStream>>,
}

#[pymethods]
impl ServerUpload {
    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        slf.call_method0(py, "_next")
    }

    /// The next item; `StopAsyncIteration` at the end, `HubError` (code `client`) when the
    /// client ended the upload with an error.
    async fn _next(&self) -> PyResult<Py<PyAny>> {
        let inner = self.inner.clone();
        let got = detached(async move { inner.lock().await.next().await }).await;
        match got {
            Some(Ok(raw)) => Python::attach(|py| Ok(from_raw(py, &raw)?.unbind())),
            Some(Err(e)) => Err(hub_errors::server(e)),
            None => Err(PyStopAsyncIteration::new_err(())),
        }
    }
}

/// What kind of method a call is for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CallKind {
    Unary,
    Stream,
    /// The `on_connected` hook (answered with `resolve(None)`).
    Connected,
    /// The `on_disconnected` hook; its one argument is the error text or `None`.
    Disconnected,
}

impl CallKind {
    fn name(self) -> &'static str {
        match self {
            CallKind::Unary => "unary",
            CallKind::Stream => "stream",
            CallKind::Connected => "connected",
            CallKind::Disconnected => "disconnected",
        }
    }
}

/// One call of a Python hub method, for the package's dispatcher (internal).
#[pyclass(frozen, module = "interlink._interlink")]
pub struct MethodCall {
    /// The method name.
    #[pyo3(get)]
    method: String,
    kind: CallKind,
    ctx: IoContext,
    args: Vec<RawValue>,
    uploads: Mutex<Vec<UploadStream>>,
    reply: Mutex<Option<async_channel::Sender<HubResult>>>,
    items: Mutex<Option<async_channel::Sender<Item>>>,
    gone: async_channel::Receiver<()>,
}

impl MethodCall {
    fn items(&self) -> Option<async_channel::Sender<Item>> {
        self.items.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[pymethods]
impl MethodCall {
    /// `"unary"`, `"stream"`, `"connected"` or `"disconnected"` (the hooks).
    #[getter]
    fn kind(&self) -> &'static str {
        self.kind.name()
    }

    /// The arguments as Python values.
    #[getter]
    fn args<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        from_raw_args(py, &self.args)
    }

    /// A new context object for the handler.
    fn context(&self) -> PyHubContext {
        PyHubContext {
            ctx: self.ctx.clone(),
        }
    }

    /// The upload streams the client sent (in `streamIds` order); taken once.
    fn take_uploads(&self) -> Vec<ServerUpload> {
        let uploads = std::mem::take(&mut *self.uploads.lock().unwrap_or_else(|p| p.into_inner()));
        uploads
            .into_iter()
            .map(|u| ServerUpload {
                inner: Arc::new(smol::lock::Mutex::new(u)),
            })
            .collect()
    }

    /// Answers a unary call with `value` (`None`: a void Completion); `False` if the call
    /// was already answered or is gone.
    fn resolve(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let result = if value.is_none() {
            None
        } else {
            Some(to_raw(value, self.ctx.protocol())?)
        };
        let tx = self.reply.lock().unwrap_or_else(|p| p.into_inner()).take();
        Ok(tx.is_some_and(|tx| tx.try_send(Ok(result)).is_ok()))
    }

    /// Answers a unary call with an error: the caller's Completion error is ASP.NET Core's
    /// `An unexpected error occurred invoking '<method>' on the server. HubException: <text>`.
    fn reject(&self, text: String) -> bool {
        let tx = self.reply.lock().unwrap_or_else(|p| p.into_inner()).take();
        tx.is_some_and(|tx| tx.try_send(Err(HubError::Hub(text))).is_ok())
    }

    /// Sends one stream item (waits while the connection's buffer is full); `False` once
    /// the caller cancelled or is gone.
    async fn push(&self, value: Py<PyAny>) -> PyResult<bool> {
        let raw = Python::attach(|py| to_raw(value.bind(py), self.ctx.protocol()))?;
        let Some(items) = self.items() else {
            return Ok(false);
        };
        Ok(detached(async move { items.send(Ok(raw)).await.is_ok() }).await)
    }

    /// Ends a stream, with an error text (the Completion error) or without.
    #[pyo3(signature = (error = None))]
    async fn finish(&self, error: Option<String>) {
        let items = self.items.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let (Some(items), Some(text)) = (items, error) {
            let _ = detached(async move { items.send(Err(HubError::Hub(text))).await }).await;
        }
    }

    /// Returns once io dropped the call (answered, cancelled by the caller, connection
    /// gone); the dispatcher then cancels a handler still running.
    async fn gone(&self) {
        let gone = self.gone.clone();
        let _ = detached(async move { gone.recv().await }).await;
    }
}

/// A stream method's items, from the Python generator; holds the call's `gone` guard.
struct ItemStream {
    items: Pin<Box<async_channel::Receiver<Item>>>,
    _guard: async_channel::Sender<()>,
}

impl Stream for ItemStream {
    type Item = Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Item>> {
        self.items.as_mut().poll_next(cx)
    }
}

type Queue = async_channel::Sender<MethodCall>;

fn closing() -> HubError {
    HubError::Internal("the hub server is closing".into())
}

/// The values and the first `uploads` upload streams of a method's arguments.
fn split_args(mut args: Args, uploads: usize) -> (Vec<RawValue>, Vec<UploadStream>) {
    let streams = (0..uploads).filter_map(|i| args.take_upload(i)).collect();
    (args.into_values(), streams)
}

/// A queued call, plus the pieces its Rust side keeps.
fn new_call(
    method: &str,
    kind: CallKind,
    ctx: IoContext,
    values: Vec<RawValue>,
    uploads: Vec<UploadStream>,
) -> (
    MethodCall,
    async_channel::Receiver<HubResult>,
    async_channel::Receiver<Item>,
    async_channel::Sender<()>,
) {
    let (reply_tx, reply_rx) = async_channel::bounded(1);
    let (items_tx, items_rx) = async_channel::bounded(STREAM_BUFFER);
    let (guard, gone) = async_channel::bounded(1);
    let call = MethodCall {
        method: method.to_string(),
        kind,
        ctx,
        args: values,
        uploads: Mutex::new(uploads),
        reply: Mutex::new(Some(reply_tx)),
        items: Mutex::new((kind == CallKind::Stream).then_some(items_tx)),
        gone,
    };
    (call, reply_rx, items_rx, guard)
}

/// Adds a Python method to `hub`: `kind` is `"unary"`, `"stream"` or `"upload"`.
fn add_method(
    hub: Hub,
    queue: &Queue,
    name: String,
    kind: &str,
    params: usize,
    uploads: usize,
) -> PyResult<Hub> {
    let q = queue.clone();
    match kind {
        "unary" | "upload" => {
            let method = name.clone();
            let f = move |ctx: IoContext, args: Args| {
                let (values, streams) = split_args(args, uploads);
                let (call, reply, _, guard) =
                    new_call(&method, CallKind::Unary, ctx, values, streams);
                let queued = q.try_send(call).is_ok();
                async move {
                    let _guard = guard;
                    if !queued {
                        return Err(closing());
                    }
                    reply.recv().await.unwrap_or_else(|_| Err(closing()))
                }
            };
            Ok(if kind == "upload" {
                hub.upload_method(&name, params, uploads, f)
            } else {
                hub.method(&name, params, f)
            })
        }
        "stream" => {
            let method = name.clone();
            Ok(hub.stream_method(&name, params, move |ctx, args| {
                let (values, _) = split_args(args, 0);
                let (call, _, items, guard) =
                    new_call(&method, CallKind::Stream, ctx, values, Vec::new());
                if q.try_send(call).is_err() {
                    let (tx, items) = async_channel::bounded(1);
                    let _ = tx.try_send(Err(closing()));
                    return ItemStream {
                        items: Box::pin(items),
                        _guard: guard,
                    };
                }
                ItemStream {
                    items: Box::pin(items),
                    _guard: guard,
                }
            }))
        }
        other => Err(errors::config(
            "invalid_argument",
            format!("unknown method kind {other:?}"),
        )),
    }
}

/// Adds the `on_connected` / `on_disconnected` hooks: each queues a call for Python and
/// waits for its answer.
fn add_hooks(mut hub: Hub, queue: &Queue, connected: bool, disconnected: bool) -> Hub {
    if connected {
        let q = queue.clone();
        hub = hub.on_connected(move |ctx| {
            let (call, reply, _, guard) = new_call(
                "on_connected",
                CallKind::Connected,
                ctx,
                Vec::new(),
                Vec::new(),
            );
            let queued = q.try_send(call).is_ok();
            async move {
                let _guard = guard;
                if queued {
                    let _ = reply.recv().await;
                }
            }
        });
    }
    if disconnected {
        let q = queue.clone();
        hub = hub.on_disconnected(move |ctx, error| {
            let error = RawValue::from_serde(HubProtocol::Json, &error)
                .unwrap_or_else(|_| RawValue::null(HubProtocol::Json));
            let (call, reply, _, guard) = new_call(
                "on_disconnected",
                CallKind::Disconnected,
                ctx,
                vec![error],
                Vec::new(),
            );
            let queued = q.try_send(call).is_ok();
            async move {
                let _guard = guard;
                if queued {
                    let _ = reply.recv().await;
                }
            }
        });
    }
    hub
}

/// Connection timings from the Python arguments.
fn hub_options(
    base: HubOptions,
    keep_alive_interval: Option<f64>,
    client_timeout: Option<f64>,
    handshake_timeout: Option<f64>,
) -> PyResult<HubOptions> {
    let mut o = base;
    if let Some(t) = keep_alive_interval {
        o.connection.keep_alive_interval = seconds("keep_alive_interval", t)?;
    }
    if let Some(t) = client_timeout {
        o.connection.timeout = seconds("client_timeout", t)?;
    }
    if let Some(t) = handshake_timeout {
        o.connection.handshake_timeout = seconds("handshake_timeout", t)?;
    }
    Ok(o)
}

fn parse_bind(bind: &str) -> PyResult<SocketAddr> {
    bind.parse()
        .map_err(|e| errors::config("invalid_argument", format!("bind {bind:?}: {e}")))
}

fn io_error(e: std::io::Error) -> PyErr {
    errors::to_pyerr(errors::classify_io(&e))
}

enum Running {
    Hub(HubServer),
    Demo(DemoServer),
}

/// The native hub server; `interlink.HubServer` wraps it.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct NativeHubServer {
    running: Mutex<Option<Running>>,
    handle: HubHandle,
    addr: SocketAddr,
    path: String,
    token: Option<String>,
    calls: (Queue, async_channel::Receiver<MethodCall>),
}

#[pymethods]
impl NativeHubServer {
    /// Binds and serves a hub whose methods are `(name, kind, params, uploads)`, with the
    /// connection hooks when asked (see `interlink.HubServer.start`).
    #[staticmethod]
    #[pyo3(signature = (bind, path, methods, *, on_connected = false, on_disconnected = false, keep_alive_interval = None, client_timeout = None, handshake_timeout = None, stateful_reconnect = true, max_parallel_invocations = 1, client_result_timeout = None, max_message_size = None, tokens = None))]
    #[allow(clippy::too_many_arguments)]
    async fn start(
        bind: String,
        path: String,
        methods: Vec<(String, String, usize, usize)>,
        on_connected: bool,
        on_disconnected: bool,
        keep_alive_interval: Option<f64>,
        client_timeout: Option<f64>,
        handshake_timeout: Option<f64>,
        stateful_reconnect: bool,
        max_parallel_invocations: usize,
        client_result_timeout: Option<f64>,
        max_message_size: Option<usize>,
        tokens: Option<HashMap<String, Option<String>>>,
    ) -> PyResult<NativeHubServer> {
        let bind = parse_bind(&bind)?;
        let mut options = hub_options(
            HubOptions::default(),
            keep_alive_interval,
            client_timeout,
            handshake_timeout,
        )?;
        options.max_parallel_invocations = max_parallel_invocations.max(1);
        if let Some(t) = client_result_timeout {
            options.client_result_timeout = seconds("client_result_timeout", t)?;
        }
        if let Some(n) = max_message_size {
            options.connection.max_message_size = n;
        }
        let (queue, calls) = async_channel::unbounded();
        let mut hub = Hub::new();
        for (name, kind, params, uploads) in methods {
            hub = add_method(hub, &queue, name, &kind, params, uploads)?;
        }
        hub = add_hooks(hub, &queue, on_connected, on_disconnected);
        let transport = TransportOptions {
            stateful_reconnect,
            ..TransportOptions::default()
        };
        let mut route = HubRoute::new(path.clone()).with_options(transport);
        if let Some(tokens) = tokens {
            route = route.with_auth(move |req| match req.token.and_then(|t| tokens.get(t)) {
                Some(user) => Ok(Principal {
                    user_id: user.clone(),
                    claims: Vec::new(),
                }),
                None => Err(Unauthorized),
            });
        }
        let service = HubService::new(hub, options);
        service.serve(route.acceptor());
        let server = detached(async move {
            HubServer::start(HubServerOptions {
                bind,
                tls: None,
                routes: vec![route],
            })
            .await
        })
        .await
        .map_err(io_error)?;
        Ok(NativeHubServer {
            addr: server.local_addr(),
            running: Mutex::new(Some(Running::Hub(server))),
            handle: service.handle(),
            path: format!("/{}", path.trim_matches('/')),
            token: None,
            calls: (queue, calls),
        })
    }

    /// Binds and serves the demo hub (`interlink hub serve`): `/demo`, `/redirect`,
    /// `/client/?hub=demo` (see `interlink.start_demo_hub_server`).
    #[staticmethod]
    #[pyo3(signature = (bind, *, keep_alive_interval = None, client_timeout = None, handshake_timeout = None, stateful_reconnect = true, token = None))]
    async fn start_demo(
        bind: String,
        keep_alive_interval: Option<f64>,
        client_timeout: Option<f64>,
        handshake_timeout: Option<f64>,
        stateful_reconnect: bool,
        token: Option<String>,
    ) -> PyResult<NativeHubServer> {
        let defaults = DemoOptions::default();
        let options = DemoOptions {
            bind: parse_bind(&bind)?,
            hub: hub_options(
                defaults.hub,
                keep_alive_interval,
                client_timeout,
                handshake_timeout,
            )?,
            stateful_reconnect,
            token,
        };
        let server = detached(async move { DemoServer::start(options).await })
            .await
            .map_err(io_error)?;
        let (queue, calls) = async_channel::unbounded();
        queue.close();
        Ok(NativeHubServer {
            addr: server.local_addr(),
            handle: server.handle(),
            token: Some(server.token().to_string()),
            running: Mutex::new(Some(Running::Demo(server))),
            path: "/demo".into(),
            calls: (queue, calls),
        })
    }

    /// The bound address, `"127.0.0.1:PORT"`.
    #[getter]
    fn local_addr(&self) -> String {
        self.addr.to_string()
    }

    /// The bound port.
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The hub's path (`/hub`; `/demo` for the demo server).
    #[getter]
    fn path(&self) -> String {
        self.path.clone()
    }

    /// The demo server's bearer token of `/client`; `None` otherwise.
    #[getter]
    fn token(&self) -> Option<String> {
        self.token.clone()
    }

    /// Calls `method(*args)` on every connection; returns how many it was queued on.
    #[pyo3(signature = (method, *args))]
    fn broadcast(&self, method: &str, args: &Bound<'_, PyTuple>) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        self.handle
            .clients()
            .all()
            .send(method, raw)
            .map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on the members of `group`.
    #[pyo3(signature = (group, method, *args))]
    fn send_to_group(
        &self,
        group: &str,
        method: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        self.handle
            .clients()
            .group(group)
            .send(method, raw)
            .map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on one connection.
    #[pyo3(signature = (connection_id, method, *args))]
    fn send_to_connection(
        &self,
        connection_id: &str,
        method: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        self.handle
            .clients()
            .client(connection_id)
            .send(method, raw)
            .map_err(hub_errors::server)
    }

    /// Calls `method(*args)` on every connection of a user.
    #[pyo3(signature = (user_id, method, *args))]
    fn send_to_user(
        &self,
        user_id: &str,
        method: &str,
        args: &Bound<'_, PyTuple>,
    ) -> PyResult<usize> {
        let raw = fanout_args(args)?;
        self.handle
            .clients()
            .user(user_id)
            .send(method, raw)
            .map_err(hub_errors::server)
    }

    /// Adds a connection to a group; `False` if it already was a member. Raises `HubError`
    /// for an unknown connection.
    fn add_to_group(&self, connection_id: &str, group: &str) -> PyResult<bool> {
        self.handle
            .groups()
            .add(connection_id, group)
            .map_err(hub_errors::server)
    }

    /// Removes a connection from a group; `False` if it was not a member.
    fn remove_from_group(&self, connection_id: &str, group: &str) -> PyResult<bool> {
        self.handle
            .groups()
            .remove(connection_id, group)
            .map_err(hub_errors::server)
    }

    /// Ids of the open connections, sorted.
    fn connection_ids(&self) -> Vec<String> {
        self.handle.connection_ids()
    }

    /// Closes one connection with a Close message; `False` if it is not open here.
    #[pyo3(signature = (connection_id, error = None, allow_reconnect = false))]
    fn close_connection(
        &self,
        connection_id: &str,
        error: Option<String>,
        allow_reconnect: bool,
    ) -> bool {
        self.handle.close(connection_id, error, allow_reconnect)
    }

    /// The next call of a Python method; `None` once the server is closed.
    async fn next_call(&self) -> Option<MethodCall> {
        let calls = self.calls.1.clone();
        detached(async move { calls.recv().await.ok() }).await
    }

    /// Stops serving: connections get a Close, calls not yet dispatched fail. Idempotent.
    async fn close(&self) {
        self.calls.0.close();
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match running {
            Some(Running::Hub(s)) => detached(async move { s.shutdown().await }).await,
            Some(Running::Demo(s)) => detached(async move { s.shutdown().await }).await,
            None => {}
        }
    }
}
