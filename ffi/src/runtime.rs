//! How the convenience functions run: the io adapters spawn their tasks on smol's global
//! executor (threads owned by the library); a blocking C call waits on the caller's thread
//! with `smol::block_on`, bounded by the caller's timeout.

use std::ffi::c_void;
use std::future::Future;
use std::time::Duration;

use crate::boundary::{Error, interlink_result};

/// Runs `fut` to completion on the calling thread; with `timeout_ms` > 0, fails with
/// `TIMEOUT` when it takes longer (`fut` is dropped, i.e. cancelled).
pub fn block_on<T>(timeout_ms: u32, fut: impl Future<Output = T>) -> Result<T, Error> {
    if timeout_ms == 0 {
        return Ok(smol::block_on(fut));
    }
    smol::block_on(smol::future::or(async { Some(fut.await) }, async {
        smol::Timer::after(Duration::from_millis(timeout_ms.into())).await;
        None
    }))
    .ok_or_else(|| {
        Error::new(
            interlink_result::Timeout,
            format!("timed out after {timeout_ms} ms"),
        )
    })
}

/// A caller's `user_data` pointer, handed to callbacks on library threads. The caller
/// promises it may be used from any thread (documented on every function taking one).
#[derive(Debug, Clone, Copy)]
pub struct UserData(pub *mut c_void);

// SAFETY: the C caller guarantees user_data may be used from the library's threads.
unsafe impl Send for UserData {}
// SAFETY: as above; the library never dereferences it, it only passes it back.
unsafe impl Sync for UserData {}
