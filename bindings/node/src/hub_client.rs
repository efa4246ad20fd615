//! [`HubClient`]: a SignalR hub client for JavaScript, over `interlink::hub::client`.
//!
//! Shaped like `@microsoft/signalr`'s `HubConnection`: `start`/`stop`, `invoke`/`send`/
//! `stream` with rest arguments (see [`crate::hub_rest`]), `on(method, handler)` (the handler's
//! return value, or what its Promise resolves to, answers server calls that expect a client
//! result), and `onreconnecting`/`onreconnected`/`onclose`. Like a socket, a started client
//! keeps Node's event loop alive until it is stopped or closes.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use futures_lite::StreamExt as _;
use interlink::hub::client::{
    HubClient as IoClient, HubClientError, HubClientState, HubProtocol, RawValue,
};
use napi::bindgen_prelude::{Object, PromiseRaw, ToNapiValue};
use napi::threadsafe_function::ThreadsafeFunctionCallMode;
use napi::{Env, sys};
use napi_derive::napi;

use crate::hub_error::{HubBindError, hub_promise};
use crate::hub_hold;
use crate::hub_iter::{JsIterator, Pulling};
use crate::hub_js::{Anything, JsFn, Spread, call_now, notify};
use crate::hub_options::{HubClientOptions, protocol_name};
use crate::hub_rest::RestArgs;
use crate::hub_stream::HubStream;
use crate::hub_value::HubValue;

/// `undefined` or an `Error`: what `onclose` / `onreconnecting` callbacks get.
pub struct MaybeError(Option<HubBindError>);

impl ToNapiValue for MaybeError {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            Some(e) => e.to_js(env),
            // SAFETY: on the JavaScript thread of `env`.
            None => unsafe { <()>::to_napi_value(env, ()) },
        }
    }
}

type ErrorCallback = JsFn<MaybeError, Anything>;
type IdCallback = JsFn<Option<String>, Anything>;
/// A handler of `on(method, handler)`.
pub type ClientHandler = JsFn<Spread, HubValue>;

/// What the client's Rust callbacks share with the JavaScript object.
#[derive(Default)]
struct Shared {
    /// Holds of started sessions, oldest first (each released when its session closes).
    holds: Mutex<VecDeque<u64>>,
    reconnecting: Mutex<Vec<Arc<ErrorCallback>>>,
    reconnected: Mutex<Vec<Arc<IdCallback>>>,
    closed: Mutex<Vec<Arc<ErrorCallback>>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// Releases the hold `id` (a start that failed).
    fn forget(&self, id: u64) {
        lock(&self.holds).retain(|h| *h != id);
        drop(hub_hold::release(id));
    }

    /// The oldest session closed: runs the `onclose` callbacks, then lets the event loop go.
    fn session_closed(&self, error: Option<&HubClientError>) {
        let held = lock(&self.holds).pop_front().and_then(hub_hold::release);
        // Released once every callback ran (each call owns a clone).
        let guard = Arc::new(Mutex::new(held));
        for cb in lock(&self.closed).iter() {
            let g = guard.clone();
            let arg = MaybeError(error.cloned().map(Into::into));
            let _ = cb.call_with_return_value(
                arg,
                ThreadsafeFunctionCallMode::NonBlocking,
                move |_, _| {
                    drop(g);
                    Ok(())
                },
            );
        }
        // The last clone may hold the last client handle: drop it on a task of its own, not
        // inside the client's callback.
        smol::spawn(async move { drop(guard) }).detach();
    }
}

/// A SignalR hub client (WebSockets; JSON or MessagePack).
///
/// ```js
/// const client = new HubClient('http://127.0.0.1:5000/chat', { protocol: 'messagepack' });
/// client.on('message', (user, text) => console.log(user, text));
/// await client.start();
/// console.log(await client.invoke('add', 1, 2)); // 3
/// for await (const n of client.stream('counter', 3, 10)) console.log(n);
/// await client.stop();
/// ```
#[napi]
pub struct HubClient {
    inner: IoClient,
    shared: Arc<Shared>,
}

#[napi]
impl HubClient {
    /// A disconnected client of the hub at `url` (`http(s)://…`, or `ws(s)://…`); throws
    /// `ERR_INTERLINK_INVALID_ARGUMENT` for bad options. Register handlers, then `start()`.
    #[napi(constructor)]
    pub fn new(env: Env, url: String, options: Option<HubClientOptions>) -> napi::Result<Self> {
        let inner = options
            .unwrap_or_default()
            .builder(url)
            .map_err(|e| e.into_napi(&env))?
            .build();
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        inner.on_reconnecting(move |error| {
            for cb in lock(&s.reconnecting).iter() {
                notify(cb, MaybeError(error.cloned().map(Into::into)));
            }
        });
        let s = shared.clone();
        inner.on_reconnected(move |id| {
            for cb in lock(&s.reconnected).iter() {
                notify(cb, id.map(str::to_owned));
            }
        });
        let s = shared.clone();
        inner.on_close(move |error| s.session_closed(error));
        Ok(HubClient { inner, shared })
    }

    /// Negotiates, opens the WebSocket and completes the handshake. Rejects (and is not
    /// retried) when a step fails: `ERR_INTERLINK_REFUSED` / `ERR_INTERLINK_UNAUTHORIZED`
    /// (with `status`), `ERR_INTERLINK_NET`, `ERR_INTERLINK_TIMEOUT`,
    /// `ERR_INTERLINK_HUB_STATE` when not disconnected.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn start<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let id = hub_hold::hold(env, Box::new(self.inner.clone()))?;
        lock(&self.shared.holds).push_back(id);
        let (inner, shared) = (self.inner.clone(), self.shared.clone());
        hub_promise(
            env,
            async move {
                inner.start().await.map_err(|e| {
                    shared.forget(id);
                    HubBindError::from(e)
                })
            },
            |_, ()| Ok(()),
        )
    }

    /// Closes the connection (pending calls reject with `ERR_INTERLINK_CLOSED`) and resolves
    /// once disconnected; also cancels a running start or reconnect.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn stop<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        hub_promise(
            env,
            async move {
                inner.stop().await;
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }

    /// The id of the current connection (`null` while not connected and after
    /// `skipNegotiation`).
    #[napi(getter)]
    pub fn connection_id(&self) -> Option<String> {
        self.inner.connection_id()
    }

    /// `'Disconnected'`, `'Connecting'`, `'Connected'` or `'Reconnecting'`.
    #[napi(
        getter,
        ts_return_type = "'Disconnected' | 'Connecting' | 'Connected' | 'Reconnecting'"
    )]
    pub fn state(&self) -> &'static str {
        match self.inner.state() {
            HubClientState::Disconnected => "Disconnected",
            HubClientState::Connecting => "Connecting",
            HubClientState::Connected => "Connected",
            HubClientState::Reconnecting => "Reconnecting",
        }
    }

    /// `'json'` or `'messagepack'`.
    #[napi(getter, ts_return_type = "'json' | 'messagepack'")]
    pub fn protocol(&self) -> &'static str {
        protocol_name(self.inner.protocol())
    }

    /// Calls a hub method and resolves to its result (`undefined` for a void method).
    /// Rejects with `ERR_INTERLINK_HUB` and the server's text when the method fails,
    /// `ERR_INTERLINK_CLOSED` when the connection ends first, `ERR_INTERLINK_HUB_STATE` when
    /// not connected. An async iterable argument is an upload stream.
    #[napi(
        ts_args_type = "method: string, ...args: any[]",
        ts_return_type = "Promise<any>"
    )]
    pub fn invoke<'env>(
        &self,
        env: &'env Env,
        method: String,
        args: Vec<HubValue>,
    ) -> napi::Result<PromiseRaw<'env, HubValue>> {
        self.invoke_with(env, method, args, Vec::new())
    }

    /// Calls a hub method without waiting for it to run (no result, no error from the
    /// server); resolves once the message is handed to the connection. An async iterable
    /// argument is an upload stream.
    #[napi(
        ts_args_type = "method: string, ...args: any[]",
        ts_return_type = "Promise<void>"
    )]
    pub fn send<'env>(
        &self,
        env: &'env Env,
        method: String,
        args: Vec<HubValue>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        self.send_with(env, method, args, Vec::new())
    }

    /// Calls a streaming hub method: an async iterable of its items (the call goes out on
    /// the first `next()`; leaving a `for await` loop early cancels it on the server). An
    /// async iterable argument is an upload stream.
    #[napi(ts_args_type = "method: string, ...args: any[]")]
    pub fn stream(&self, method: String, args: Vec<HubValue>) -> HubStream {
        self.stream_with(method, args, Vec::new())
    }

    /// Handles server calls of `method` (case-insensitive). The handler gets the call's
    /// arguments; when the server expects a result (a client result), what it returns, or
    /// what its Promise resolves to, is the answer, and a throw or rejection is the error
    /// text the server sees. Handlers run in arrival order.
    #[napi(ts_args_type = "method: string, handler: (...args: any[]) => any")]
    pub fn on(&self, method: String, handler: ClientHandler) {
        let handler = Arc::new(handler);
        let protocol = self.inner.protocol();
        self.inner.on_async(&method, move |args: Vec<RawValue>| {
            let answer =
                HubValue::from_raws(&args).map(|values| call_now(&handler, Spread(values)));
            async move {
                let value = answer.map_err(|e| e.0)?.await?;
                if value.is_undefined() {
                    Ok(None)
                } else {
                    value.to_raw(protocol).map(Some).map_err(|e| e.0)
                }
            }
        });
    }

    /// Removes every handler of `method`.
    #[napi]
    pub fn off(&self, method: String) {
        self.inner.off(&method);
    }

    /// Called with the error when a lost connection starts reconnecting.
    #[napi(ts_args_type = "callback: (error?: Error) => void")]
    pub fn onreconnecting(&self, callback: ErrorCallback) {
        lock(&self.shared.reconnecting).push(Arc::new(callback));
    }

    /// Called with the new connection id when a reconnect succeeded.
    #[napi(ts_args_type = "callback: (connectionId?: string) => void")]
    pub fn onreconnected(&self, callback: IdCallback) {
        lock(&self.shared.reconnected).push(Arc::new(callback));
    }

    /// Called when the client is disconnected for good (after `stop()`, a server Close, or
    /// when reconnecting gave up), with the error if it did not end cleanly.
    #[napi(ts_args_type = "callback: (error?: Error) => void")]
    pub fn onclose(&self, callback: ErrorCallback) {
        lock(&self.shared.closed).push(Arc::new(callback));
    }
}

/// Upload streams: the items of each JavaScript iterable, encoded in `protocol`.
fn upload_streams(uploads: Vec<JsIterator>, protocol: HubProtocol) -> Vec<Upload> {
    uploads
        .into_iter()
        .map(|it| {
            let items = Pulling::new(it)
                .values()
                .filter_map(move |v| v.to_raw(protocol).ok());
            Box::pin(items) as Upload
        })
        .collect()
}

/// One upload stream of a call.
type Upload = std::pin::Pin<Box<dyn futures_lite::Stream<Item = RawValue> + Send>>;

impl HubClient {
    fn invoke_with<'env>(
        &self,
        env: &'env Env,
        method: String,
        args: Vec<HubValue>,
        uploads: Vec<JsIterator>,
    ) -> napi::Result<PromiseRaw<'env, HubValue>> {
        let inner = self.inner.clone();
        let uploads = upload_streams(uploads, inner.protocol());
        hub_promise(
            env,
            async move {
                let args = HubValue::to_raws(&args, inner.protocol())?;
                match inner.invoke_with_streams(&method, args, uploads).await? {
                    Some(raw) => Ok(HubValue::from_raw(&raw)?),
                    None => Ok(HubValue::Undefined),
                }
            },
            |_, v| Ok(v),
        )
    }

    fn send_with<'env>(
        &self,
        env: &'env Env,
        method: String,
        args: Vec<HubValue>,
        uploads: Vec<JsIterator>,
    ) -> napi::Result<PromiseRaw<'env, ()>> {
        let inner = self.inner.clone();
        let uploads = upload_streams(uploads, inner.protocol());
        hub_promise(
            env,
            async move {
                let args = HubValue::to_raws(&args, inner.protocol())?;
                Ok(inner.send_with_streams(&method, args, uploads).await?)
            },
            |_, ()| Ok(()),
        )
    }

    fn stream_with(
        &self,
        method: String,
        args: Vec<HubValue>,
        uploads: Vec<JsIterator>,
    ) -> HubStream {
        let uploads = upload_streams(uploads, self.inner.protocol());
        HubStream::new(
            HubValue::to_raws(&args, self.inner.protocol())
                .map(|args| self.inner.stream_with_streams(&method, args, uploads))
                .map_err(Into::into),
        )
    }
}

/// The rest-parameter forms of `invoke`, `send` and `stream` (see [`crate::hub_rest`]).
pub fn install_rest(env: &Env, exports: &Object) -> napi::Result<()> {
    use crate::hub_rest::install;
    fn method(fixed: Vec<String>) -> String {
        fixed.into_iter().next().unwrap_or_default()
    }
    install::<HubClient, _>(
        env,
        exports,
        "HubClient",
        "invoke",
        &["method"],
        true,
        |c, env, a: RestArgs| {
            Ok(napi::JsValue::raw(&c.invoke_with(
                env,
                method(a.fixed),
                a.values,
                a.uploads,
            )?))
        },
    )?;
    install::<HubClient, _>(
        env,
        exports,
        "HubClient",
        "send",
        &["method"],
        true,
        |c, env, a: RestArgs| {
            Ok(napi::JsValue::raw(&c.send_with(
                env,
                method(a.fixed),
                a.values,
                a.uploads,
            )?))
        },
    )?;
    install::<HubClient, _>(
        env,
        exports,
        "HubClient",
        "stream",
        &["method"],
        true,
        |c, env, a: RestArgs| {
            let stream = c.stream_with(method(a.fixed), a.values, a.uploads);
            // SAFETY: on the JavaScript thread of `env`.
            unsafe { HubStream::to_napi_value(env.raw(), stream) }
        },
    )
}
