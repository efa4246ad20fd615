//! [`HubStream`]: the items of a streaming hub call as a JavaScript async iterable.
//!
//! `for await (const item of client.stream('counter', 3, 10))` sends the StreamInvocation on
//! the first `next()`; leaving the loop early (`break`, `return`, a throw in the body) calls
//! `return()`, which drops the Rust stream and so sends CancelInvocation. An error
//! Completion rejects that `next()` with an `ERR_INTERLINK_HUB` error and ends the stream.

use std::future::Future;
use std::sync::{Arc, Mutex};

use futures_lite::StreamExt as _;
use futures_lite::future;
use interlink::hub::client::HubStream as IoStream;
use napi::Env;
use napi::bindgen_prelude::{AsyncGenerator, ToNapiValue};
use napi::sys;
use napi_derive::napi;

use crate::hub_error::{HubBindError, HubResult};
use crate::hub_value::HubValue;

/// One item as JavaScript gets it, or the error that rejects `next()`. (Named `Value` so that
/// napi's typings give the items the type `any`.)
pub struct Value(HubResult<HubValue>);

impl ToNapiValue for Value {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        match val.0 {
            // SAFETY: napi calls this on the JavaScript thread of `env`.
            Ok(v) => unsafe { HubValue::to_napi_value(env, v) },
            Err(e) => Err(e.into_napi(&Env::from_raw(env))),
        }
    }
}

struct State {
    stream: smol::lock::Mutex<Option<IoStream>>,
    /// An error to give on the first `next()` (arguments that could not be encoded).
    error: Mutex<Option<HubBindError>>,
    cancel: async_channel::Sender<()>,
    cancelled: async_channel::Receiver<()>,
}

/// The items of a streaming call: an async iterable (use `for await`). Leaving the loop
/// early cancels the call on the server.
#[napi(async_iterator)]
pub struct HubStream {
    state: Arc<State>,
}

impl HubStream {
    /// A stream of `stream`'s items, or one that fails with `error` at once.
    pub fn new(stream: HubResult<IoStream>) -> HubStream {
        let (cancel, cancelled) = async_channel::bounded(1);
        let (stream, error) = match stream {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        HubStream {
            state: Arc::new(State {
                stream: smol::lock::Mutex::new(stream),
                error: Mutex::new(error),
                cancel,
                cancelled,
            }),
        }
    }
}

#[napi]
impl AsyncGenerator for HubStream {
    type Yield = Value;
    type Next = ();
    type Return = ();

    fn next(
        &mut self,
        _value: Option<()>,
    ) -> impl Future<Output = napi::Result<Option<Value>>> + Send + 'static {
        let state = self.state.clone();
        async move {
            let error = state.error.lock().unwrap_or_else(|p| p.into_inner()).take();
            if let Some(e) = error {
                return Ok(Some(Value(Err(e))));
            }
            let mut slot = state.stream.lock().await;
            let Some(stream) = slot.as_mut() else {
                return Ok(None);
            };
            let cancelled = state.cancelled.clone();
            let item = future::or(async { Some(stream.next().await) }, async {
                let _ = cancelled.recv().await;
                None
            })
            .await;
            match item {
                Some(Some(Ok(raw))) => {
                    Ok(Some(Value(HubValue::from_raw(&raw).map_err(Into::into))))
                }
                Some(Some(Err(e))) => {
                    *slot = None;
                    Ok(Some(Value(Err(e.into()))))
                }
                Some(None) | None => {
                    *slot = None;
                    Ok(None)
                }
            }
        }
    }

    fn complete(
        &mut self,
        _value: Option<()>,
    ) -> impl Future<Output = napi::Result<Option<Value>>> + Send + 'static {
        self.state.cancel.close();
        let state = self.state.clone();
        async move {
            // Dropping the stream before its end sends CancelInvocation.
            state.stream.lock().await.take();
            Ok(None)
        }
    }
}
