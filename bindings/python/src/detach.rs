//! How Rust futures meet asyncio, and how Rust threads enter Python safely.
//!
//! An `async fn` in `#[pymethods]` becomes a native coroutine (pyo3 `experimental-async`):
//! asyncio calls `send()`, which polls the Rust future on the event loop's thread, and the
//! future's waker (called by smol's reactor or executor threads) schedules the next `send()`
//! with `call_soon_threadsafe`. No executor of ours is involved; the I/O behind the futures
//! runs on smol's global executor and reactor, started by the `interlink` crate.
//!
//! [`detached`] wraps every such future:
//! - each poll runs with the interpreter released, so a poll never holds it while it takes a
//!   Rust lock, and a smol thread that holds such a lock and needs the interpreter can get it;
//! - the inner future never sees pyo3's waker: it gets a forwarding waker whose target is
//!   dropped with the coroutine, so a registration left in smol's reactor cannot wake (and
//!   enter Python) after the coroutine is gone.
//!
//! Forwarded wakes go through one thread of their own (`wake_elsewhere`): a Rust thread that
//! wakes a coroutine never waits for the interpreter itself, so it cannot deadlock with a
//! Python thread over a lock it holds while waking. Every entry into Python from a Rust
//! thread (a forwarded wake, the accept filter) goes through [`enter`]. At interpreter exit the package's `atexit` hook calls [`shutdown`]: no
//! new entries, and it waits for the ones in flight. Otherwise a thread blocked on the
//! interpreter lock during finalization is ended with `pthread_exit`, which aborts the
//! process when it unwinds through Rust frames.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

static SHUT_DOWN: AtomicBool = AtomicBool::new(false);
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Permission to enter Python from a Rust thread; released on drop.
pub struct Entry(());

impl Drop for Entry {
    fn drop(&mut self) {
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An [`Entry`], or `None` once the interpreter is shutting down.
pub fn enter() -> Option<Entry> {
    IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
    let entry = Entry(());
    if SHUT_DOWN.load(Ordering::SeqCst) {
        return None;
    }
    Some(entry)
}

/// Called by the package's `atexit` hook: refuses new entries into Python from Rust threads
/// and waits (at most 5 s, interpreter released) for those in flight.
#[pyfunction]
pub fn _shutdown(py: Python<'_>) {
    SHUT_DOWN.store(true, Ordering::SeqCst);
    py.detach(|| {
        let start = Instant::now();
        while IN_FLIGHT.load(Ordering::SeqCst) > 0 && start.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

/// Forwards wakes to the current coroutine's waker, while there is one.
struct Forward {
    target: Mutex<Option<Waker>>,
}

impl Forward {
    fn set(&self, waker: Option<Waker>) -> Option<Waker> {
        std::mem::replace(
            &mut *self.target.lock().unwrap_or_else(|p| p.into_inner()),
            waker,
        )
    }
}

impl Wake for Forward {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if let Some(waker) = self.set(None) {
            wake_elsewhere(waker);
        }
    }
}

/// Wakes a coroutine's (asyncio) waker on the one thread kept for that.
///
/// Waking it needs the interpreter (`call_soon_threadsafe`), and whoever calls a waker may
/// hold a lock: `event-listener` (behind async-channel) wakes while it holds its list's
/// mutex. Were that thread to wait for the interpreter there, a Python thread holding the
/// interpreter and taking the same mutex (dropping a cancelled coroutine's `recv()`, a
/// `try_send`) would deadlock with it. The waker thread holds no lock when it waits.
fn wake_elsewhere(waker: Waker) {
    static WAKER_THREAD: OnceLock<mpsc::Sender<Waker>> = OnceLock::new();
    let tx = WAKER_THREAD.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Waker>();
        let spawned = std::thread::Builder::new()
            .name("interlink-asyncio-waker".into())
            .spawn(move || {
                for waker in rx {
                    if let Some(_entry) = enter() {
                        waker.wake();
                    }
                }
            });
        if let Err(e) = spawned {
            eprintln!("interlink: cannot start the asyncio waker thread: {e}");
        }
        tx
    });
    // Fails only when the thread could not start (reported above).
    let _ = tx.send(waker);
}

/// A future polled with the interpreter released, through a forwarding waker.
pub struct Detached<F: Future> {
    inner: Pin<Box<F>>,
    forward: Arc<Forward>,
    waker: Waker,
}

/// Wraps `fut` (see the module docs).
pub fn detached<F>(fut: F) -> Detached<F>
where
    F: Future + Send,
    F::Output: Send,
{
    let forward = Arc::new(Forward {
        target: Mutex::new(None),
    });
    Detached {
        inner: Box::pin(fut),
        waker: Waker::from(forward.clone()),
        forward,
    }
}

impl<F> Future for Detached<F>
where
    F: Future + Send,
    F::Output: Send,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        drop(this.forward.set(Some(cx.waker().clone())));
        let waker = &this.waker;
        let inner = &mut this.inner;
        Python::attach(|py| py.detach(|| inner.as_mut().poll(&mut Context::from_waker(waker))))
    }
}

impl<F: Future> Drop for Detached<F> {
    fn drop(&mut self) {
        drop(self.forward.set(None));
    }
}
