//! The async runtime behind every Promise this addon returns: a small smol backend for napi's
//! `async-runtime` SPI (no tokio anywhere).
//!
//! One executor thread (`interlink-napi`) runs the futures napi hands us. The adapters of the
//! `interlink` crate spawn their own socket tasks on smol's global executor and wake our futures
//! through channels, so this thread only waits and converts. [`SmolRuntime::shutdown`] stops the
//! thread, joins it and drops the executor, which cancels queued futures (napi then rejects
//! their promises); it is idempotent and may run before `start` (napi's contract, pitfall 8 of
//! TOOLCHAIN.md).

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use napi::bindgen_prelude::{AsyncRuntime, AsyncRuntimeRejection, AsyncRuntimeTask};
use napi::{Error, Result, Status};

/// A started executor: its thread and the channel that stops it.
struct Running {
    executor: Arc<smol::Executor<'static>>,
    stop: async_channel::Sender<()>,
    thread: JoinHandle<()>,
}

/// napi's async runtime on a dedicated smol executor thread.
#[derive(Default)]
pub struct SmolRuntime {
    running: Mutex<Option<Running>>,
}

impl SmolRuntime {
    fn running(&self) -> std::sync::MutexGuard<'_, Option<Running>> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }
}

// SAFETY: `shutdown` joins the only thread this backend owns and drops the executor (and with
// it every task and waker it holds) before returning; nothing of ours runs afterwards.
unsafe impl AsyncRuntime for SmolRuntime {
    fn spawn(
        &self,
        task: AsyncRuntimeTask,
    ) -> std::result::Result<(), AsyncRuntimeRejection<AsyncRuntimeTask>> {
        let running = self.running();
        match running.as_ref() {
            Some(r) => {
                r.executor.spawn(task).detach();
                Ok(())
            }
            None => Err(AsyncRuntimeRejection::new(
                task,
                Error::new(
                    Status::GenericFailure,
                    "the interlink runtime is not running",
                ),
            )),
        }
    }

    fn block_on(&self, future: Pin<&mut dyn Future<Output = ()>>) -> Result<()> {
        smol::block_on(future);
        Ok(())
    }

    fn start(&self) -> Result<()> {
        let mut running = self.running();
        if running.is_some() {
            return Ok(());
        }
        let executor = Arc::new(smol::Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let ex = executor.clone();
        let thread = std::thread::Builder::new()
            .name("interlink-napi".into())
            .spawn(move || {
                smol::block_on(ex.run(async move {
                    let _ = stopped.recv().await;
                }));
            })
            .map_err(|e| Error::new(Status::GenericFailure, e.to_string()))?;
        *running = Some(Running {
            executor,
            stop,
            thread,
        });
        Ok(())
    }

    fn shutdown(&self) -> Result<()> {
        let Some(r) = self.running().take() else {
            return Ok(());
        };
        r.stop.close();
        let joined = r.thread.join();
        // Dropping the last executor handle cancels the tasks still queued.
        drop(r.executor);
        joined.map_err(|_| Error::new(Status::GenericFailure, "the runtime thread panicked"))
    }
}
