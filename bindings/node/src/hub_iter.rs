//! JavaScript iterables pulled from Rust: a server stream method's result, and the upload
//! streams a client passes as arguments.
//!
//! [`JsIterator`] takes an async iterable (`async function*`, a `Readable`), or a sync one,
//! and holds its `next` and `return` bound to the iterator as weak threadsafe functions.
//! [`Pulling`] reads it item by item; dropped before the end (a cancel, a disconnect) it
//! calls `return()` so a generator's `finally` runs.

use std::ffi::CStr;
use std::ptr;

use futures_lite::Stream;
use futures_lite::stream;
use napi::bindgen_prelude::FromNapiValue;
use napi::{Status, check_status, sys};

use crate::hub_js::{Anything, JsFn, call, notify, weak_fn};
use crate::hub_value::HubValue;

fn named(env: sys::napi_env, obj: sys::napi_value, name: &CStr) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check_status!(unsafe { sys::napi_get_named_property(env, obj, name.as_ptr(), &mut out) })?;
    Ok(out)
}

fn type_of(env: sys::napi_env, v: sys::napi_value) -> napi::Result<sys::napi_valuetype> {
    let mut t = sys::ValueType::napi_undefined;
    check_status!(unsafe { sys::napi_typeof(env, v, &mut t) })?;
    Ok(t)
}

fn is_function(env: sys::napi_env, v: sys::napi_value) -> napi::Result<bool> {
    Ok(type_of(env, v)? == sys::ValueType::napi_function)
}

/// `f.bind(this)`.
fn bind(
    env: sys::napi_env,
    f: sys::napi_value,
    this: sys::napi_value,
) -> napi::Result<sys::napi_value> {
    let bind = named(env, f, c"bind")?;
    let mut bound = ptr::null_mut();
    check_status!(unsafe { sys::napi_call_function(env, f, bind, 1, &this, &mut bound) })?;
    Ok(bound)
}

/// `obj[Symbol[name]]`, if it is a function.
fn symbol_method(
    env: sys::napi_env,
    obj: sys::napi_value,
    name: &CStr,
) -> napi::Result<Option<sys::napi_value>> {
    let mut global = ptr::null_mut();
    check_status!(unsafe { sys::napi_get_global(env, &mut global) })?;
    let symbol = named(env, named(env, global, c"Symbol")?, name)?;
    let mut method = ptr::null_mut();
    check_status!(unsafe { sys::napi_get_property(env, obj, symbol, &mut method) })?;
    Ok(is_function(env, method)?.then_some(method))
}

/// `true` for an object with a `Symbol.asyncIterator` method (an async generator, a
/// `Readable`): such a call argument is an upload stream.
pub fn is_async_iterable(env: sys::napi_env, v: sys::napi_value) -> napi::Result<bool> {
    Ok(type_of(env, v)? == sys::ValueType::napi_object
        && symbol_method(env, v, c"asyncIterator")?.is_some())
}

/// One `{done, value}` of an iterator.
pub struct Step {
    done: bool,
    value: HubValue,
}

impl FromNapiValue for Step {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let done = named(env, value, c"done")?;
        let mut coerced = ptr::null_mut();
        check_status!(unsafe { sys::napi_coerce_to_bool(env, done, &mut coerced) })?;
        Ok(Step {
            // SAFETY: napi gives us live values on the JavaScript thread.
            done: unsafe { bool::from_napi_value(env, coerced) }?,
            value: unsafe { HubValue::from_napi_value(env, named(env, value, c"value")?) }?,
        })
    }
}

/// An iterator of an (async) iterable: its `next` and `return`, bound to it.
pub struct JsIterator {
    next: JsFn<(), Step>,
    ret: Option<JsFn<(), Anything>>,
}

impl FromNapiValue for JsIterator {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let not_iterable = || {
            napi::Error::new(
                Status::InvalidArg,
                "expected an async iterable or an iterable",
            )
        };
        if type_of(env, value)? != sys::ValueType::napi_object {
            return Err(not_iterable());
        }
        let make = match symbol_method(env, value, c"asyncIterator")? {
            Some(m) => m,
            None => symbol_method(env, value, c"iterator")?.ok_or_else(not_iterable)?,
        };
        let mut iterator = ptr::null_mut();
        check_status!(unsafe {
            sys::napi_call_function(env, value, make, 0, ptr::null(), &mut iterator)
        })?;
        let next = named(env, iterator, c"next")?;
        if !is_function(env, next)? {
            return Err(not_iterable());
        }
        let ret = named(env, iterator, c"return")?;
        let ret = match is_function(env, ret)? {
            // SAFETY: a live function on the JavaScript thread.
            true => Some(unsafe { weak_fn(env, bind(env, ret, iterator)?, "return") }?),
            false => None,
        };
        Ok(JsIterator {
            // SAFETY: as above.
            next: unsafe { weak_fn(env, bind(env, next, iterator)?, "next") }?,
            ret,
        })
    }
}

/// An iterator being read.
pub struct Pulling {
    it: JsIterator,
    done: bool,
}

impl Pulling {
    /// Starts reading `it`.
    pub fn new(it: JsIterator) -> Pulling {
        Pulling { it, done: false }
    }

    /// The next item; `None` at the end; `Some(Err(message))` when `next()` threw or
    /// rejected (the iterator is finished then).
    pub async fn next(&mut self) -> Option<Result<HubValue, String>> {
        if self.done {
            return None;
        }
        match call(&self.it.next, ()).await {
            Ok(step) if !step.done => Some(Ok(step.value)),
            Ok(_) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }

    /// The items, ending at the first error.
    pub fn values(self) -> impl Stream<Item = HubValue> + Send + 'static {
        stream::unfold(self, |mut p| async move {
            match p.next().await {
                Some(Ok(v)) => Some((v, p)),
                _ => None,
            }
        })
    }
}

impl Drop for Pulling {
    fn drop(&mut self) {
        if !self.done
            && let Some(ret) = &self.it.ret
        {
            notify(ret, ());
        }
    }
}
