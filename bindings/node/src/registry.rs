//! What is open: gateways and listeners run until `shutdown()` / `close()`, like a
//! `net.Server`, even when JavaScript drops every reference to their objects. The registry
//! owns them (and a [`KeepAlive`] holding Node's event loop open) until released; when a
//! Node environment ends (a worker thread exits or is terminated), whatever it left open is
//! dropped, which closes it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use interlink::relay::{GatewayServer, RelayListener};
use napi::Env;

use crate::keepalive::KeepAlive;

/// A running thing the registry keeps alive.
pub enum Held {
    /// A gateway server.
    Gateway(Box<GatewayServer>),
    /// A listener (one clone of it; others may live in JS objects).
    Listener(RelayListener),
}

/// One open thing, with the environment that opened it and its hold on the event loop.
pub struct Entry {
    env: usize,
    /// The thing itself.
    pub held: Held,
    _keepalive: KeepAlive,
}

#[derive(Default)]
struct Registry {
    open: HashMap<u64, Entry>,
    hooked_envs: HashSet<usize>,
}

static REGISTRY: Mutex<Option<Registry>> = Mutex::new(None);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn registry() -> MutexGuard<'static, Option<Registry>> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Keeps `held` running (and the event loop of `env` alive) until [`release`]; returns its id.
/// Call on the JavaScript thread of `env`.
pub fn hold(env: &Env, held: Held) -> napi::Result<u64> {
    let keepalive = KeepAlive::new(env)?;
    let key = env.raw() as usize;
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut guard = registry();
    let reg = guard.get_or_insert_with(Registry::default);
    if reg.hooked_envs.insert(key) {
        env.add_env_cleanup_hook(key, forget_env)?;
    }
    reg.open.insert(
        id,
        Entry {
            env: key,
            held,
            _keepalive: keepalive,
        },
    );
    Ok(id)
}

/// Takes `id` out of the registry (`None` when already released). Dropping the entry lets
/// the event loop end.
pub fn release(id: u64) -> Option<Entry> {
    registry().as_mut().and_then(|r| r.open.remove(&id))
}

/// Runs `f` on the entry `id`, if it is still open.
pub fn with<T>(id: u64, f: impl FnOnce(&Entry) -> T) -> Option<T> {
    registry().as_ref().and_then(|r| r.open.get(&id)).map(f)
}

/// The cleanup hook of an environment: drops (closes) whatever it left open.
fn forget_env(key: usize) {
    let left: Vec<Entry> = {
        let mut guard = registry();
        let Some(reg) = guard.as_mut() else {
            return;
        };
        reg.hooked_envs.remove(&key);
        let ids: Vec<u64> = reg
            .open
            .iter()
            .filter(|(_, e)| e.env == key)
            .map(|(id, _)| *id)
            .collect();
        ids.iter().filter_map(|id| reg.open.remove(id)).collect()
    };
    drop(left);
}
