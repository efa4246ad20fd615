//! The per-connection limit on unary calls running at once, granted in arrival order.

use std::future::Future;
use std::sync::Arc;

use smol::lock::{Semaphore, SemaphoreGuardArc};

/// Hands out `max_parallel_invocations` permits to one connection's calls **in the order the
/// calls arrived**, as ASP.NET Core runs them. Each call's task awaits its permit; a call
/// only starts waiting on the semaphore once the call before it got its permit (or was
/// dropped), so tasks racing for the semaphore cannot overtake each other.
///
/// It does not limit streaming methods or methods taking upload streams (see the module
/// docs); the driver simply does not ask for a permit for those.
pub(super) struct CallPermits {
    semaphore: Arc<Semaphore>,
    /// Closed once the most recently queued call holds its permit (or was dropped).
    last_granted: Option<async_channel::Receiver<()>>,
}

impl CallPermits {
    pub(super) fn new(max_parallel: usize) -> CallPermits {
        CallPermits {
            semaphore: Arc::new(Semaphore::new(max_parallel.max(1))),
            last_granted: None,
        }
    }

    /// Queues a call behind the previous one; the future resolves to its permit.
    pub(super) fn next(&mut self) -> impl Future<Output = SemaphoreGuardArc> + Send + use<> {
        let (granted, granted_rx) = async_channel::bounded::<()>(1);
        let previous = self.last_granted.replace(granted_rx);
        let semaphore = self.semaphore.clone();
        async move {
            if let Some(previous) = previous {
                // Err once the previous call's sender is gone: it holds its permit.
                let _ = previous.recv().await;
            }
            let permit = semaphore.acquire_arc().await;
            drop(granted);
            permit
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn permits_are_granted_in_arrival_order() {
        smol::block_on(async {
            let mut permits = CallPermits::new(1);
            let order = Arc::new(Mutex::new(Vec::new()));
            let waiting: Vec<_> = (0..50).map(|i| (i, permits.next())).collect();
            // Spawn in reverse so the tasks reach the semaphore in the wrong order.
            let tasks: Vec<_> = waiting
                .into_iter()
                .rev()
                .map(|(i, permit)| {
                    let order = order.clone();
                    smol::spawn(async move {
                        let _permit = permit.await;
                        order.lock().unwrap().push(i);
                        smol::future::yield_now().await;
                    })
                })
                .collect();
            for task in tasks {
                task.await;
            }
            assert_eq!(*order.lock().unwrap(), (0..50).collect::<Vec<_>>());
        });
    }

    #[test]
    fn a_dropped_call_does_not_block_the_next() {
        smol::block_on(async {
            let mut permits = CallPermits::new(1);
            let first = permits.next();
            let second = permits.next();
            drop(first);
            let _permit = futures_lite::future::or(second, async {
                smol::Timer::after(std::time::Duration::from_secs(5)).await;
                panic!("the second call waited for a dropped one");
            })
            .await;
        });
    }
}
