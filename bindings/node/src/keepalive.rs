//! [`KeepAlive`]: keeps Node's event loop alive while a gateway or listener runs, the way an
//! open `net.Server` does, through a threadsafe function that is never called.

use napi::Env;
use napi::threadsafe_function::ThreadsafeFunction;

/// Holds the event loop open until dropped (dropping releases it, from any thread).
pub struct KeepAlive {
    _tsfn: ThreadsafeFunction<(), (), (), napi::Status, false>,
}

impl KeepAlive {
    /// Starts holding the loop open. Call on the JavaScript thread.
    pub fn new(env: &Env) -> napi::Result<KeepAlive> {
        let noop =
            env.create_function_from_closure::<(), (), _>("interlinkKeepAlive", |_| Ok(()))?;
        let tsfn = noop
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .build()?;
        Ok(KeepAlive { _tsfn: tsfn })
    }
}
