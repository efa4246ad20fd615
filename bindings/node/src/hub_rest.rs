//! Rest parameters (`invoke(method, ...args)`) for the hub classes.
//!
//! napi-rs reads a fixed number of arguments, so each such method is declared in Rust with its
//! rest parameter as a `Vec<HubValue>` (and typed `...args: any[]` for TypeScript), and
//! [`install`] replaces it on the class prototype, when the module loads, by a function that
//! reads every argument it is given and calls the same Rust method.
//!
//! For the client's `invoke`, `send` and `stream`, an argument that is an async iterable (an
//! `async function*` generator, a `Readable`) is an upload stream rather than a value.
//!
//! The leading arguments must be strings. An argument that has no hub form (cyclic, nested
//! too deeply, a bigint beyond 64 bits) throws `ERR_INTERLINK_VALUE` synchronously.

use std::ptr;

use napi::bindgen_prelude::{
    ClassInstance, FromNapiValue, FunctionCallContext, MaybeTypeTag, Object, ObjectFinalize,
    ToNapiValue,
};
use napi::{Env, JsValue, check_status, sys};

use crate::hub_error::{HubBindError, HubErrorCode};
use crate::hub_iter::{JsIterator, is_async_iterable};
use crate::hub_value::HubValue;

/// A JavaScript value already made, handed back as it is.
pub struct RawJs(pub sys::napi_value);

impl ToNapiValue for RawJs {
    unsafe fn to_napi_value(_: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        Ok(val.0)
    }
}

impl FromNapiValue for RawJs {
    unsafe fn from_napi_value(_: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        Ok(RawJs(value))
    }
}

/// The converted arguments of a rest-parameter call.
pub struct RestArgs {
    /// The leading string arguments.
    pub fixed: Vec<String>,
    /// Every argument after them (but upload streams).
    pub values: Vec<HubValue>,
    /// The async iterables among them, in order, when the method takes upload streams.
    pub uploads: Vec<JsIterator>,
}

fn read_args(
    ctx: &FunctionCallContext,
    method: &str,
    names: &[&str],
    uploads: bool,
) -> Result<RestArgs, HubBindError> {
    let n = ctx.length();
    let mut fixed = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        match (i < n).then(|| ctx.get::<HubValue>(i)) {
            Some(Ok(HubValue::Str(s))) => fixed.push(s),
            _ => {
                return Err(HubBindError::invalid(format!(
                    "{method}: `{name}` must be a string"
                )));
            }
        }
    }
    let value_error =
        |e: napi::Error| HubBindError::new(HubErrorCode::Value, format!("{method}: {}", e.reason));
    let mut args = RestArgs {
        fixed,
        values: Vec::new(),
        uploads: Vec::new(),
    };
    let env = ctx.env.raw();
    for i in names.len()..n {
        let raw = ctx.get::<RawJs>(i).map_err(value_error)?.0;
        if uploads && is_async_iterable(env, raw).map_err(value_error)? {
            // SAFETY: a live argument on the JavaScript thread.
            args.uploads
                .push(unsafe { JsIterator::from_napi_value(env, raw) }.map_err(value_error)?);
        } else {
            // SAFETY: as above.
            args.values
                .push(unsafe { HubValue::from_napi_value(env, raw) }.map_err(value_error)?);
        }
    }
    Ok(args)
}

/// Replaces `exports[class].prototype[method]` by a function that reads the strings named
/// in `names`, then every further argument as a [`HubValue`] (or, with `uploads`, an async
/// iterable as an upload stream), and calls `f` on the instance.
pub fn install<C, F>(
    env: &Env,
    exports: &Object,
    class: &'static str,
    method: &'static str,
    names: &'static [&'static str],
    uploads: bool,
    f: F,
) -> napi::Result<()>
where
    C: 'static + ObjectFinalize + MaybeTypeTag,
    F: Fn(&C, &Env, RestArgs) -> napi::Result<sys::napi_value> + 'static,
{
    let func = env.create_function_from_closure::<(), RawJs, _>(method, move |ctx| {
        let this: ClassInstance<C> = ctx.this()?;
        let args = read_args(&ctx, method, names, uploads).map_err(|e| e.into_napi(ctx.env))?;
        Ok(RawJs(f(&this, ctx.env, args)?))
    })?;
    let raw = env.raw();
    let class_name =
        std::ffi::CString::new(class).map_err(|e| napi::Error::from_reason(e.to_string()))?;
    let method_name =
        std::ffi::CString::new(method).map_err(|e| napi::Error::from_reason(e.to_string()))?;
    let (mut ctor, mut proto) = (ptr::null_mut(), ptr::null_mut());
    // SAFETY: called from the module's exports hook on the JavaScript thread.
    unsafe {
        check_status!(sys::napi_get_named_property(
            raw,
            exports.raw(),
            class_name.as_ptr(),
            &mut ctor
        ))?;
        check_status!(sys::napi_get_named_property(
            raw,
            ctor,
            c"prototype".as_ptr(),
            &mut proto
        ))?;
        let value = func.raw();
        check_status!(sys::napi_set_named_property(
            raw,
            proto,
            method_name.as_ptr(),
            value
        ))?;
    }
    Ok(())
}
