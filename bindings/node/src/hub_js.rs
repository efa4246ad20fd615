//! Calling JavaScript functions from hub tasks: threadsafe functions that spread hub values
//! as separate arguments (`f(...values)` or `f(ctx, ...values)`), accept a value or a Promise
//! back, and turn a throw or a rejection into its message.
//!
//! Every function here is held *weakly* (it does not keep Node's event loop alive): what
//! owns them (a started client, a running server) holds the loop open on its own, like a
//! socket does, and lets it go when it ends.

use std::future::Future;

use napi::bindgen_prelude::{FromNapiValue, JsValuesTupleIntoVec, Promise, ToNapiValue};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Status, check_status, sys};

use crate::hub_error::js_failure;
use crate::hub_value::HubValue;

/// A weakly held threadsafe function called with `T` (spread by its
/// [`JsValuesTupleIntoVec`]) that returns `R` (or a Promise of it, see [`Returned`]).
pub type JsFn<T, R> = ThreadsafeFunction<T, Returned<R>, T, Status, false, true>;

/// Hub values passed as separate arguments: `f(...values)`.
pub struct Spread(pub Vec<HubValue>);

impl JsValuesTupleIntoVec for Spread {
    // napi's own impls of this trait take the raw env the same way.
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn into_vec(self, env: sys::napi_env) -> napi::Result<Vec<sys::napi_value>> {
        self.0
            .into_iter()
            // SAFETY: called by napi on the JavaScript thread of `env`.
            .map(|v| unsafe { HubValue::to_napi_value(env, v) })
            .collect()
    }
}

/// One first argument, then hub values: `f(head, ...values)`.
pub struct WithHead<H>(pub H, pub Vec<HubValue>);

impl<H: ToNapiValue> JsValuesTupleIntoVec for WithHead<H> {
    #[allow(clippy::not_unsafe_ptr_arg_deref)]
    fn into_vec(self, env: sys::napi_env) -> napi::Result<Vec<sys::napi_value>> {
        // SAFETY: called by napi on the JavaScript thread of `env`.
        let mut out = vec![unsafe { H::to_napi_value(env, self.0) }?];
        out.extend(Spread(self.1).into_vec(env)?);
        Ok(out)
    }
}

/// What a JavaScript function returned: a value, or a Promise of one (awaited off the
/// JavaScript thread; the value is read on it when the Promise settles).
pub enum Returned<R: FromNapiValue + 'static> {
    /// Returned directly.
    Ready(R),
    /// A Promise (or any native Promise-like the engine recognises).
    Pending(Promise<R>),
}

impl<R: FromNapiValue + 'static> FromNapiValue for Returned<R> {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut is_promise = false;
        check_status!(unsafe { sys::napi_is_promise(env, value, &mut is_promise) })?;
        // SAFETY: napi hands us a live env and value on the JavaScript thread.
        unsafe {
            if is_promise {
                Ok(Returned::Pending(Promise::from_napi_value(env, value)?))
            } else {
                Ok(Returned::Ready(R::from_napi_value(env, value)?))
            }
        }
    }
}

impl<R: FromNapiValue + 'static> Returned<R> {
    /// The value, once a Promise settled; a rejection is its message.
    pub async fn settle(self) -> Result<R, String> {
        match self {
            Returned::Ready(r) => Ok(r),
            Returned::Pending(p) => p.await.map_err(|e| js_failure(&e)),
        }
    }
}

/// Makes a weak threadsafe function of the JavaScript function `value`.
///
/// # Safety
/// `env` and `value` must be live, on the JavaScript thread (as in `from_napi_value`).
pub unsafe fn weak_fn<T, R>(
    env: sys::napi_env,
    value: sys::napi_value,
    what: &str,
) -> napi::Result<JsFn<T, R>>
where
    T: JsValuesTupleIntoVec + 'static,
    R: FromNapiValue + 'static,
{
    let mut ty = sys::ValueType::napi_undefined;
    check_status!(unsafe { sys::napi_typeof(env, value, &mut ty) })?;
    if ty != sys::ValueType::napi_function {
        return Err(napi::Error::new(
            Status::InvalidArg,
            format!("{what} must be a function"),
        ));
    }
    // SAFETY: a live function value on the JavaScript thread.
    unsafe { JsFn::<T, R>::from_napi_value(env, value) }
}

/// The declared parameter count (`fn.length`) of a JavaScript function.
///
/// # Safety
/// As [`weak_fn`].
pub unsafe fn arity(env: sys::napi_env, value: sys::napi_value) -> napi::Result<usize> {
    let mut length = std::ptr::null_mut();
    check_status!(unsafe {
        sys::napi_get_named_property(env, value, c"length".as_ptr(), &mut length)
    })?;
    // SAFETY: as above.
    Ok(unsafe { u32::from_napi_value(env, length) }? as usize)
}

/// Calls `f` and waits for its result (a Promise is awaited). A throw, a rejection, or a
/// result that cannot be read is `Err(message)`.
pub async fn call<T, R>(f: &JsFn<T, R>, args: T) -> Result<R, String>
where
    T: JsValuesTupleIntoVec + 'static,
    R: FromNapiValue + Send + 'static,
{
    let returned = f.call_async_catch(args).await.map_err(|e| js_failure(&e))?;
    returned.settle().await
}

/// Like [`call`], but the call is queued at once (so calls keep their order) and only the
/// wait is deferred to the returned future.
pub fn call_now<T, R>(
    f: &JsFn<T, R>,
    args: T,
) -> impl Future<Output = Result<R, String>> + Send + use<T, R>
where
    T: JsValuesTupleIntoVec + 'static,
    R: FromNapiValue + Send + 'static,
{
    let (tx, rx) = async_channel::bounded(1);
    let status = f.call_with_return_value(
        args,
        ThreadsafeFunctionCallMode::NonBlocking,
        move |r, _| {
            let _ = tx.try_send(r.map_err(|e| js_failure(&e)));
            Ok(())
        },
    );
    async move {
        if status != Status::Ok {
            return Err(format!(
                "the JavaScript handler cannot be called ({status})"
            ));
        }
        match rx.recv().await {
            Ok(returned) => returned?.settle().await,
            Err(_) => Err("the JavaScript environment is gone".to_string()),
        }
    }
}

/// Calls `f` without waiting for anything (its result and errors are ignored).
pub fn notify<T, R>(f: &JsFn<T, R>, args: T)
where
    T: JsValuesTupleIntoVec + 'static,
    R: FromNapiValue + 'static,
{
    let _ = f.call_with_return_value(args, ThreadsafeFunctionCallMode::NonBlocking, |_, _| Ok(()));
}

/// A result nobody reads: accepts any value.
pub struct Anything;

impl FromNapiValue for Anything {
    unsafe fn from_napi_value(_: sys::napi_env, _: sys::napi_value) -> napi::Result<Self> {
        Ok(Anything)
    }
}
