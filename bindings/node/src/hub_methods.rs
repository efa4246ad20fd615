//! JavaScript functions as hub methods: the options' `methods`, `streamMethods`,
//! `onConnected` and `onDisconnected` turned into an `interlink::hub::server::Hub`.
//!
//! - A method is called as `f(ctx, ...args)`; it takes `f.length - 1` arguments (a call
//!   with another count is refused, as ASP.NET Core does), so declare them: no rest or
//!   default parameters. What it returns, or what its Promise resolves to, is the result
//!   (`undefined`: a void Completion); a throw or rejection is an error Completion with
//!   ASP.NET Core's text and the error's message
//!   (`An unexpected error occurred invoking 'x' on the server. HubException: <message>`).
//! - A stream method returns an async iterable (an `async function*` is the natural way), a
//!   sync iterable, or a Promise of either; each item is a StreamItem. When the caller
//!   cancels (or disconnects) the iterator's `return()` is called, so a generator's
//!   `finally` runs.
//!
//! Calls start in arrival order, as soon as they arrive (the JavaScript function is queued on
//! the connection's task; only its result is awaited elsewhere), like event handlers: an
//! async method that awaits lets the connection's next calls start, and a method awaiting
//! `ctx.invokeCaller` blocks nothing.
//!
//! The functions live in a [`JsHub`] slot that the server empties on `close()`, which
//! releases them.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use futures_lite::stream;
use interlink::hub::server::{Hub, HubContext, HubError};
use interlink_core::hub::{HubProtocol, RawValue};
use napi::bindgen_prelude::FromNapiValue;
use napi::sys;

use crate::hub_context::HubCallContext;
use crate::hub_iter::{JsIterator, Pulling};
use crate::hub_js::{Anything, JsFn, WithHead, arity, call, call_now, weak_fn};
use crate::hub_value::HubValue;

/// A unary method: `(ctx, ...args) => result | Promise<result>`.
pub type MethodFn = JsFn<WithHead<HubCallContext>, HubValue>;
/// A stream method: `(ctx, ...args) => iterable | Promise<iterable>`.
pub type StreamFn = JsFn<WithHead<HubCallContext>, JsIterator>;
/// A connect / disconnect hook.
pub type HookFn = JsFn<WithHead<HubCallContext>, Anything>;

/// A JavaScript function and how many arguments (after `ctx`) it declares.
pub struct Declared<F> {
    /// The function.
    pub f: F,
    /// `f.length - 1`.
    pub params: usize,
}

macro_rules! declared_from_js {
    ($t:ty, $what:literal) => {
        impl FromNapiValue for Declared<$t> {
            unsafe fn from_napi_value(
                env: sys::napi_env,
                value: sys::napi_value,
            ) -> napi::Result<Self> {
                // SAFETY: napi hands us a live env and value on the JavaScript thread.
                let (f, params) = unsafe { (weak_fn(env, value, $what)?, arity(env, value)?) };
                Ok(Declared {
                    params: params.saturating_sub(1),
                    f,
                })
            }
        }
    };
}

declared_from_js!(MethodFn, "a hub method");
declared_from_js!(StreamFn, "a stream method");
declared_from_js!(HookFn, "a hook");

/// The JavaScript side of one hub, until the server closes.
#[derive(Default)]
pub struct JsHub {
    methods: HashMap<String, Arc<MethodFn>>,
    streams: HashMap<String, Arc<StreamFn>>,
    on_connected: Option<Arc<HookFn>>,
    on_disconnected: Option<Arc<HookFn>>,
}

/// The slot the hub's Rust closures read the functions from.
pub type Slot = Arc<Mutex<Option<JsHub>>>;

fn lock(slot: &Slot) -> std::sync::MutexGuard<'_, Option<JsHub>> {
    slot.lock().unwrap_or_else(|p| p.into_inner())
}

fn closing() -> HubError {
    HubError::Internal("the server is closing".into())
}

/// Reads the arguments of a call.
fn values(args: Vec<RawValue>) -> Result<Vec<HubValue>, HubError> {
    HubValue::from_raws(&args).map_err(|e| HubError::InvalidArgument {
        index: 0,
        reason: e.0,
    })
}

/// A JavaScript call queued now (calls start in arrival order), awaited later.
type Started<R> = Pin<Box<dyn Future<Output = Result<R, String>> + Send>>;

/// Calls the function `pick` chooses from the slot with `ctx` and the arguments, at once.
fn start<R, F>(
    slot: &Slot,
    pick: F,
    ctx: HubContext,
    args: Vec<RawValue>,
) -> Result<Started<R>, HubError>
where
    R: FromNapiValue + Send + 'static,
    F: FnOnce(&JsHub) -> Option<Arc<JsFn<WithHead<HubCallContext>, R>>>,
{
    let f = lock(slot).as_ref().and_then(pick).ok_or_else(closing)?;
    let args = values(args)?;
    Ok(Box::pin(call_now(
        &f,
        WithHead(HubCallContext::new(ctx), args),
    )))
}

/// A unary method's result, once the JavaScript call settled.
async fn method_result(
    started: Result<Started<HubValue>, HubError>,
    protocol: HubProtocol,
) -> Result<Option<RawValue>, HubError> {
    let result = started?.await.map_err(HubError::Hub)?;
    if result.is_undefined() {
        return Ok(None);
    }
    result
        .to_raw(protocol)
        .map(Some)
        .map_err(|e| HubError::Value(e.0))
}

enum Pull {
    Start(Result<Started<JsIterator>, HubError>, HubProtocol),
    Pulling(Pulling, HubProtocol),
    Done,
}

/// One step of a stream method: start it, then pull its items.
async fn pull(state: Pull) -> Option<(Result<RawValue, HubError>, Pull)> {
    let (mut p, protocol) = match state {
        Pull::Done => return None,
        Pull::Pulling(p, protocol) => (p, protocol),
        Pull::Start(started, protocol) => {
            let started = match started {
                Ok(s) => s,
                Err(e) => return Some((Err(e), Pull::Done)),
            };
            match started.await {
                Ok(it) => (Pulling::new(it), protocol),
                Err(text) => return Some((Err(HubError::Hub(text)), Pull::Done)),
            }
        }
    };
    match p.next().await? {
        Err(text) => Some((Err(HubError::Hub(text)), Pull::Done)),
        // A value without a hub form ends the stream (dropping `p` calls `return()`).
        Ok(value) => match value.to_raw(protocol) {
            Ok(raw) => Some((Ok(raw), Pull::Pulling(p, protocol))),
            Err(e) => Some((Err(HubError::Value(e.0)), Pull::Done)),
        },
    }
}

/// Runs a connect / disconnect hook; its failure has nowhere to go (the connection is
/// already set up, or gone).
async fn run_hook(f: Option<Arc<HookFn>>, ctx: HubContext, extra: Vec<HubValue>) {
    if let Some(f) = f {
        let _ = call(&f, WithHead(HubCallContext::new(ctx), extra)).await;
    }
}

impl JsHub {
    /// The functions of the options.
    pub fn new(
        methods: HashMap<String, Declared<MethodFn>>,
        streams: HashMap<String, Declared<StreamFn>>,
        on_connected: Option<Declared<HookFn>>,
        on_disconnected: Option<Declared<HookFn>>,
    ) -> (JsHub, Vec<(String, usize, bool)>) {
        let mut shape = Vec::new();
        let mut hub = JsHub {
            on_connected: on_connected.map(|d| Arc::new(d.f)),
            on_disconnected: on_disconnected.map(|d| Arc::new(d.f)),
            ..JsHub::default()
        };
        for (name, d) in methods {
            shape.push((name.clone(), d.params, false));
            hub.methods.insert(name, Arc::new(d.f));
        }
        for (name, d) in streams {
            shape.push((name.clone(), d.params, true));
            hub.streams.insert(name, Arc::new(d.f));
        }
        (hub, shape)
    }

    /// The Rust hub whose methods call the functions in `slot`; `shape` lists each
    /// method's name, argument count and whether it streams.
    pub fn hub(slot: &Slot, shape: Vec<(String, usize, bool)>) -> Hub {
        let mut hub = Hub::new();
        for (name, params, streaming) in shape {
            let slot = slot.clone();
            let key = name.clone();
            hub = if streaming {
                hub.stream_method(&name, params, move |ctx, args| {
                    let protocol = ctx.protocol();
                    let started = start(
                        &slot,
                        |h| h.streams.get(&key).cloned(),
                        ctx,
                        args.into_values(),
                    );
                    stream::unfold(Pull::Start(started, protocol), pull)
                })
            } else {
                hub.method(&name, params, move |ctx, args| {
                    let protocol = ctx.protocol();
                    let started = start(
                        &slot,
                        |h| h.methods.get(&key).cloned(),
                        ctx,
                        args.into_values(),
                    );
                    method_result(started, protocol)
                })
            };
        }
        let s = slot.clone();
        hub = hub.on_connected(move |ctx| {
            let f = lock(&s).as_ref().and_then(|h| h.on_connected.clone());
            run_hook(f, ctx, Vec::new())
        });
        let s = slot.clone();
        hub.on_disconnected(move |ctx, error| {
            let f = lock(&s).as_ref().and_then(|h| h.on_disconnected.clone());
            let extra = vec![error.map_or(HubValue::Undefined, HubValue::Str)];
            run_hook(f, ctx, extra)
        })
    }
}
