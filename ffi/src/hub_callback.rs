//! C callbacks of the hub convenience level: the opaque [`interlink_hub_reply`] a callback
//! fills (a JSON result or an error text) plus the code it returns, turned into a [`Reply`]
//! for the Rust side; and the [`Gate`] that stops callbacks before a handle is freed without
//! waiting forever for one that never returns.
//!
//! Rule for every hub callback: returning INTERLINK_RESULT_OK without setting anything is a
//! void answer; interlink_hub_reply_set_json sets a value; the answer is an error when the
//! callback returns any other code or called interlink_hub_reply_set_error (the text set, else
//! the code's name).

use std::ffi::{CStr, c_char};
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use interlink_core::hub::{HubProtocol, RawValue};

use crate::boundary::{Error, interlink_result, result_name};
use crate::hub_json::value_from_json;
use crate::memory::{handle, str_arg};

/// The answer a hub callback fills (opaque): valid during the callback only. Thread: the
/// callback's.
#[derive(Debug, Default)]
pub struct interlink_hub_reply {
    value: Option<String>,
    error: Option<String>,
}

/// How a callback ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// OK: a JSON value, or nothing.
    Value(Option<String>),
    /// A failure with this text.
    Error(String),
}

impl Reply {
    /// The outcome of a callback that returned `code` (an interlink_result value from C,
    /// hence a plain number) after filling `reply`.
    pub fn from_callback(code: u32, reply: interlink_hub_reply) -> Reply {
        match (code, reply.error) {
            (_, Some(text)) => Reply::Error(text),
            (0, None) => Reply::Value(reply.value),
            (other, None) => {
                let name = CStr::from_bytes_with_nul(result_name(other))
                    .map_or("UNKNOWN".into(), CStr::to_string_lossy);
                Reply::Error(format!("the callback failed with {name}"))
            }
        }
    }

    /// The value in `protocol`'s format: `Ok(None)` for a void answer, `Err(text)` for a
    /// failure (also when the JSON cannot be put in `protocol`).
    pub fn into_value(self, protocol: HubProtocol) -> Result<Option<RawValue>, String> {
        match self {
            Reply::Error(text) => Err(text),
            Reply::Value(None) => Ok(None),
            Reply::Value(Some(json)) => value_from_json(protocol, &json, "result")
                .map(Some)
                .map_err(|e| e.message),
        }
    }
}

/// Sets the answer's value: the text of one JSON value (copied; checked, INVALID_ARGUMENT
/// otherwise). Replaces an earlier value. Only during the callback that got `reply`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_reply_set_json(
    reply: *mut interlink_hub_reply,
    json: *const c_char,
) -> interlink_result {
    ffi!(reply, json => {
        // SAFETY: caller's contract on both pointers.
        let (r, json) = unsafe { (handle(reply, "reply")?, str_arg(json, "json")?) };
        let _: Box<serde_json::value::RawValue> = serde_json::from_str(json)
            .map_err(|e| Error::invalid(format!("`json` is not one JSON value: {e}")))?;
        r.value = Some(json.to_string());
        Ok(())
    })
}

/// Makes the answer a failure with `text` (copied), whatever the callback returns: the
/// other side sees it as the error text. Only during the callback that got `reply`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_reply_set_error(
    reply: *mut interlink_hub_reply,
    text: *const c_char,
) -> interlink_result {
    ffi!(reply, text => {
        // SAFETY: caller's contract on both pointers.
        let (r, text) = unsafe { (handle(reply, "reply")?, str_arg(text, "text")?) };
        r.error = Some(text.to_string());
        Ok(())
    })
}

/// How long stopping or freeing a handle waits for callbacks still running; after that it
/// returns anyway and the callbacks finish on their own.
pub(crate) const CALLBACK_DRAIN: Duration = Duration::from_secs(5);

/// Lets callbacks start until it is closed; closing waits (bounded) for running ones.
#[derive(Debug)]
pub struct Gate {
    state: Mutex<GateState>,
    idle: Condvar,
}

#[derive(Debug)]
struct GateState {
    open: bool,
    running: usize,
}

impl Default for Gate {
    fn default() -> Self {
        Gate {
            state: Mutex::new(GateState {
                open: true,
                running: 0,
            }),
            idle: Condvar::new(),
        }
    }
}

/// Counts a running callback; leaving (also by a panic) wakes a waiting close.
struct Running<'a>(&'a Gate);

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.running -= 1;
        if st.running == 0 {
            self.0.idle.notify_all();
        }
    }
}

impl Gate {
    fn lock(&self) -> std::sync::MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` unless the gate is closed (`None` then).
    pub fn run<T>(&self, f: impl FnOnce() -> T) -> Option<T> {
        {
            let mut st = self.lock();
            if !st.open {
                return None;
            }
            st.running += 1;
        }
        let _running = Running(self);
        Some(f())
    }

    /// Closes the gate (no callback starts any more) and waits up to `limit` for the
    /// running ones; true when none is left.
    pub fn close(&self, limit: Duration) -> bool {
        let mut st = self.lock();
        st.open = false;
        let (st, _) = self
            .idle
            .wait_timeout_while(st, limit, |st| st.running > 0)
            .unwrap_or_else(|p| p.into_inner());
        st.running == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes() {
        let value = |v: Option<&str>| interlink_hub_reply {
            value: v.map(str::to_string),
            error: None,
        };
        assert_eq!(
            Reply::from_callback(0, value(Some("1"))),
            Reply::Value(Some("1".into()))
        );
        assert_eq!(
            Reply::from_callback(2, value(Some("1"))),
            Reply::Error("the callback failed with INTERLINK_RESULT_INVALID_ARGUMENT".into())
        );
        let failed = interlink_hub_reply {
            value: None,
            error: Some("no".into()),
        };
        assert_eq!(Reply::from_callback(0, failed), Reply::Error("no".into()));
        let mp = Reply::Value(Some("7".into()))
            .into_value(HubProtocol::MessagePack)
            .unwrap();
        assert_eq!(mp.unwrap().as_bytes().as_ref(), &[7]);
        let mut r = interlink_hub_reply::default();
        let bad = c"[1,";
        assert_eq!(
            unsafe { interlink_hub_reply_set_json(&mut r, bad.as_ptr()) },
            interlink_result::InvalidArgument
        );
    }

    #[test]
    fn the_gate_waits_for_running_callbacks_but_not_forever() {
        let gate = std::sync::Arc::new(Gate::default());
        assert_eq!(gate.run(|| 1), Some(1));
        let (started_tx, started) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let g = gate.clone();
        let t = std::thread::spawn(move || {
            g.run(|| {
                started_tx.send(()).unwrap();
                released.recv().ok();
            })
        });
        started.recv().unwrap();
        assert!(!gate.close(Duration::from_millis(50)), "still running");
        assert_eq!(gate.run(|| 2), None, "closed: nothing starts");
        release.send(()).unwrap();
        t.join().unwrap();
        assert!(gate.close(Duration::from_millis(50)));
    }
}
