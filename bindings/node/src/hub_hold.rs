//! What keeps a started hub client or a running hub server going: like a socket or a
//! `net.Server`, each holds Node's event loop open (and itself alive, even when JavaScript
//! drops every reference) until it ends. A held entry is released by its owner (`close()`,
//! `stop()`, the connection ending); an environment that ends (a worker exits or is
//! terminated) drops whatever it still held, which stops it.

use std::any::Any;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use napi::Env;

use crate::keepalive::KeepAlive;

/// One held thing with its environment and its hold on the event loop.
pub struct Held {
    env: usize,
    _keepalive: KeepAlive,
    _what: Box<dyn Any + Send>,
}

#[derive(Default)]
struct Table {
    open: HashMap<u64, Held>,
    hooked_envs: HashSet<usize>,
}

static TABLE: Mutex<Option<Table>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn table() -> MutexGuard<'static, Option<Table>> {
    TABLE.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps `what` (and the event loop of `env`) alive until [`release`]; returns its id. Call
/// on the JavaScript thread of `env`.
pub fn hold(env: &Env, what: Box<dyn Any + Send>) -> napi::Result<u64> {
    let keepalive = KeepAlive::new(env)?;
    let key = env.raw() as usize;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut guard = table();
    let t = guard.get_or_insert_with(Table::default);
    if t.hooked_envs.insert(key) {
        env.add_env_cleanup_hook(key, forget_env)?;
    }
    t.open.insert(
        id,
        Held {
            env: key,
            _keepalive: keepalive,
            _what: what,
        },
    );
    Ok(id)
}

/// Takes `id` out (`None` when already released); dropping the entry lets the loop end.
/// Callable from any thread.
pub fn release(id: u64) -> Option<Held> {
    table().as_mut().and_then(|t| t.open.remove(&id))
}

/// The cleanup hook of an environment: drops what it left held.
fn forget_env(key: usize) {
    let left: Vec<Held> = {
        let mut guard = table();
        let Some(t) = guard.as_mut() else {
            return;
        };
        t.hooked_envs.remove(&key);
        let ids: Vec<u64> = t
            .open
            .iter()
            .filter(|(_, h)| h.env == key)
            .map(|(id, _)| *id)
            .collect();
        ids.iter().filter_map(|id| t.open.remove(id)).collect()
    };
    drop(left);
}
