//! What every connection of one hub shares: the methods, the options, the registry of
//! connections / users / groups, and each connection's control channel. Fan-out lives
//! here: a message for many connections is encoded once per protocol and the same bytes go
//! to every target's driver.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use interlink_core::hub::{
    Headers, HubMessage, HubProtocol, Invocation, RawValue, Registry, RegistryError, Target,
    encode_to_bytes,
};
use interlink_core::time::Instant;

use super::HubOptions;
use super::driver::Control;
use super::hub::{Hub, HubError};

/// One live connection as the rest of the hub sees it.
pub(super) struct ConnEntry {
    pub protocol: HubProtocol,
    pub ctl: async_channel::Sender<Control>,
}

/// The registry and the control channels, under one lock.
pub(super) struct HubState {
    pub registry: Registry,
    pub conns: HashMap<String, ConnEntry>,
}

/// The state of one hub, shared by its drivers, contexts and handles.
pub(super) struct Shared {
    pub hub: Hub,
    pub options: HubOptions,
    state: Mutex<HubState>,
    origin: std::time::Instant,
}

impl Shared {
    pub fn new(hub: Hub, options: HubOptions) -> Arc<Shared> {
        Arc::new(Shared {
            state: Mutex::new(HubState {
                registry: Registry::new(options.registry_limits),
                conns: HashMap::new(),
            }),
            hub,
            options,
            origin: std::time::Instant::now(),
        })
    }

    pub fn lock(&self) -> MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The core's clock: milliseconds since this hub started.
    pub fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    /// The wall-clock moment of a core instant (for timers).
    pub fn deadline(&self, at: Instant) -> std::time::Instant {
        self.origin + std::time::Duration::from_millis(at.as_millis())
    }

    /// Adds an open connection (ids are unique per server; a clash is a bug upstream).
    pub fn register(
        &self,
        connection_id: &str,
        user: Option<&str>,
        protocol: HubProtocol,
        ctl: async_channel::Sender<Control>,
    ) -> Result<(), RegistryError> {
        let mut st = self.lock();
        st.registry
            .add_connection(connection_id, user.map(str::to_owned))?;
        st.conns
            .insert(connection_id.to_owned(), ConnEntry { protocol, ctl });
        Ok(())
    }

    /// Removes a connection from the registry (and every group).
    pub fn unregister(&self, connection_id: &str) {
        let mut st = self.lock();
        st.registry.remove_connection(connection_id);
        st.conns.remove(connection_id);
    }

    /// Calls `method(args…)` without a result on every connection `target` reaches; returns
    /// how many that was. The message is encoded once per protocol in use.
    pub fn send(
        &self,
        target: &Target,
        method: &str,
        args: &[RawValue],
    ) -> Result<usize, HubError> {
        let receivers: Vec<(HubProtocol, async_channel::Sender<Control>)> = {
            let st = self.lock();
            st.registry
                .targets(target)
                .iter()
                .filter_map(|id| st.conns.get(id))
                .map(|c| (c.protocol, c.ctl.clone()))
                .collect()
        };
        if receivers.is_empty() {
            return Ok(0);
        }
        let message = HubMessage::Invocation(Invocation {
            headers: Headers::new(),
            invocation_id: None,
            target: method.to_owned(),
            arguments: args.to_vec(),
            stream_ids: Vec::new(),
        });
        let mut frames: HashMap<HubProtocol, Bytes> = HashMap::new();
        let mut reached = 0;
        for (protocol, ctl) in receivers {
            let frame = match frames.get(&protocol) {
                Some(f) => f.clone(),
                None => {
                    let f = encode_to_bytes(protocol, &message)
                        .map_err(|e| HubError::Value(e.to_string()))?;
                    frames.insert(protocol, f.clone());
                    f
                }
            };
            if ctl.try_send(Control::SendEncoded(frame)).is_ok() {
                reached += 1;
            }
        }
        Ok(reached)
    }

    pub fn join_group(&self, connection_id: &str, group: &str) -> Result<bool, HubError> {
        self.lock()
            .registry
            .join_group(connection_id, group)
            .map_err(registry_error)
    }

    pub fn leave_group(&self, connection_id: &str, group: &str) -> Result<bool, HubError> {
        self.lock()
            .registry
            .leave_group(connection_id, group)
            .map_err(registry_error)
    }

    /// The control channel of one connection.
    pub fn control(&self, connection_id: &str) -> Option<async_channel::Sender<Control>> {
        self.lock().conns.get(connection_id).map(|c| c.ctl.clone())
    }
}

fn registry_error(e: RegistryError) -> HubError {
    HubError::Hub(e.to_string())
}
