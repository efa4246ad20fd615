//! What a hub method sees: [`HubContext`] (the caller, its connection, client results),
//! [`Clients`] / [`ClientProxy`] (fire-and-forget calls to other connections), [`Groups`],
//! and [`HubHandle`] for application code outside of methods.

use std::sync::Arc;
use std::time::Duration;

use interlink_core::hub::{ConnectionStats, HubProtocol, RawValue, Target};
use serde::Serialize;

use super::driver::Control;
use super::hub::HubError;
use super::shared::Shared;
use crate::hub::transport::TransportKind;

/// Who the caller is and how it is connected; fixed for the connection's life.
#[derive(Clone)]
pub(super) struct CallerInfo {
    pub connection_id: String,
    pub user_id: Option<String>,
    pub claims: Vec<(String, String)>,
    pub protocol: HubProtocol,
    pub transport: TransportKind,
    pub query: Vec<(String, String)>,
    pub ctl: async_channel::Sender<Control>,
}

/// A snapshot of one connection's state, from [`HubContext::connection_info`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionInfo {
    pub connection_id: String,
    pub protocol: HubProtocol,
    /// The handshake version (2 = stateful reconnect possible).
    pub version: u32,
    pub transport: TransportKind,
    /// Whether stateful reconnect (Ack / Sequence, replay) is in use.
    pub stateful: bool,
    pub stats: ConnectionStats,
}

/// The context of one call (or of a connect / disconnect hook): the caller and access to
/// the rest of the hub. Cheap to clone; usable after the call returned (sends to a closed
/// connection are dropped).
#[derive(Clone)]
pub struct HubContext {
    pub(super) caller: Arc<CallerInfo>,
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for HubContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubContext")
            .field("connection_id", &self.caller.connection_id)
            .field("user_id", &self.caller.user_id)
            .finish()
    }
}

impl HubContext {
    /// The caller's public connection id (`Context.ConnectionId`).
    pub fn connection_id(&self) -> &str {
        &self.caller.connection_id
    }

    /// The caller's user id, from the route's auth hook.
    pub fn user_id(&self) -> Option<&str> {
        self.caller.user_id.as_deref()
    }

    /// The caller's claims, from the route's auth hook.
    pub fn claims(&self) -> &[(String, String)] {
        &self.caller.claims
    }

    /// The caller's hub protocol (the format of its arguments).
    pub fn protocol(&self) -> HubProtocol {
        self.caller.protocol
    }

    /// The caller's transport.
    pub fn transport(&self) -> TransportKind {
        self.caller.transport
    }

    /// The query of the request that attached the connection (without `access_token`).
    pub fn query(&self) -> &[(String, String)] {
        &self.caller.query
    }

    /// Encodes `value` in the caller's protocol (for results and arguments).
    pub fn value<T: Serialize + ?Sized>(&self, value: &T) -> Result<RawValue, HubError> {
        RawValue::from_serde(self.caller.protocol, value)
            .map_err(|e| HubError::Value(e.to_string()))
    }

    /// Fire-and-forget calls to connections of this hub, relative to the caller.
    pub fn clients(&self) -> Clients {
        Clients {
            shared: self.shared.clone(),
            caller: Some(self.caller.connection_id.clone()),
        }
    }

    /// Group membership of any connection of this hub.
    pub fn groups(&self) -> Groups {
        Groups {
            shared: self.shared.clone(),
        }
    }

    /// Calls `method(args…)` on the caller and waits for its result (a client result).
    /// Fails with the client's error text ([`HubError::Client`]), after
    /// [`HubOptions::client_result_timeout`](super::HubOptions::client_result_timeout), or
    /// when the connection ends.
    pub async fn invoke_caller(
        &self,
        method: &str,
        args: Vec<RawValue>,
    ) -> Result<RawValue, HubError> {
        let (tx, rx) = async_channel::bounded(1);
        self.control(Control::InvokeWithResult {
            method: method.to_owned(),
            args,
            reply: tx,
        })?;
        let limit = self.shared.options.client_result_timeout;
        let timeout = async {
            smol::Timer::after(limit).await;
            Err(HubError::ClientResultTimeout(limit))
        };
        let answer = async { rx.recv().await.unwrap_or(Err(HubError::Disconnected)) };
        smol::future::or(answer, timeout).await
    }

    /// The caller's connection state and counters.
    pub async fn connection_info(&self) -> Result<ConnectionInfo, HubError> {
        let (tx, rx) = async_channel::bounded(1);
        self.control(Control::Info(tx))?;
        rx.recv().await.map_err(|_| HubError::Disconnected)
    }

    /// Ends the caller's connection with a Close message (`error` shown to the client,
    /// `allow_reconnect` lets it reconnect automatically).
    pub fn close(&self, error: Option<String>, allow_reconnect: bool) -> Result<(), HubError> {
        self.control(Control::Close {
            error,
            allow_reconnect,
        })
    }

    /// Drops the caller's transport without a Close message (a stateful WebSocket may
    /// re-attach).
    pub fn abort(&self) -> Result<(), HubError> {
        self.control(Control::Abort)
    }

    /// Sends nothing to the caller (no replies, no Pings) and does not time it out for
    /// `duration`; held frames go out afterwards. A test aid for client-side timeouts.
    pub fn mute(&self, duration: Duration) -> Result<(), HubError> {
        self.control(Control::Mute(duration))
    }

    fn control(&self, c: Control) -> Result<(), HubError> {
        self.caller
            .ctl
            .try_send(c)
            .map_err(|_| HubError::Disconnected)
    }
}

/// Picks the connections a fire-and-forget call goes to. From a [`HubContext`] the
/// caller-relative choices ([`caller`](Self::caller), [`others`](Self::others),
/// [`others_in_group`](Self::others_in_group)) know the caller; from a [`HubHandle`] they
/// reach no one.
#[derive(Clone)]
pub struct Clients {
    shared: Arc<Shared>,
    caller: Option<String>,
}

impl Clients {
    fn proxy(&self, target: Target) -> ClientProxy {
        ClientProxy {
            shared: self.shared.clone(),
            target,
        }
    }

    fn caller_list(&self) -> Vec<String> {
        self.caller.iter().cloned().collect()
    }

    /// Every connection.
    pub fn all(&self) -> ClientProxy {
        self.all_except(Vec::new())
    }

    /// Every connection but `excluded`.
    pub fn all_except(&self, excluded: Vec<String>) -> ClientProxy {
        self.proxy(Target::All { excluded })
    }

    /// The caller.
    pub fn caller(&self) -> ClientProxy {
        self.proxy(Target::Connections(self.caller_list()))
    }

    /// Every connection but the caller.
    pub fn others(&self) -> ClientProxy {
        self.all_except(self.caller_list())
    }

    /// One connection.
    pub fn client(&self, connection_id: &str) -> ClientProxy {
        self.proxy(Target::Connection(connection_id.to_owned()))
    }

    /// Several connections.
    pub fn clients(&self, connection_ids: Vec<String>) -> ClientProxy {
        self.proxy(Target::Connections(connection_ids))
    }

    /// The members of a group.
    pub fn group(&self, name: &str) -> ClientProxy {
        self.group_except(name, Vec::new())
    }

    /// The members of several groups (each connection once).
    pub fn groups(&self, names: Vec<String>) -> ClientProxy {
        self.proxy(Target::Groups(names))
    }

    /// The members of a group but `excluded`.
    pub fn group_except(&self, name: &str, excluded: Vec<String>) -> ClientProxy {
        self.proxy(Target::Group {
            name: name.to_owned(),
            excluded,
        })
    }

    /// The members of a group but the caller.
    pub fn others_in_group(&self, name: &str) -> ClientProxy {
        self.group_except(name, self.caller_list())
    }

    /// Every connection of a user.
    pub fn user(&self, user_id: &str) -> ClientProxy {
        self.proxy(Target::User(user_id.to_owned()))
    }

    /// Every connection of several users.
    pub fn users(&self, user_ids: Vec<String>) -> ClientProxy {
        self.proxy(Target::Users(user_ids))
    }
}

/// A chosen set of connections (resolved when [`send`](Self::send) runs).
#[derive(Clone)]
pub struct ClientProxy {
    shared: Arc<Shared>,
    target: Target,
}

impl ClientProxy {
    /// Calls `method(args…)` on every chosen connection, without waiting for anything: the
    /// message is encoded once per protocol and queued on each connection. Returns how many
    /// connections it was queued on. Arguments in either protocol are transcoded as needed.
    pub fn send(&self, method: &str, args: Vec<RawValue>) -> Result<usize, HubError> {
        self.shared.send(&self.target, method, &args)
    }
}

/// Group membership. Unknown connections are an error; groups exist while they have
/// members.
#[derive(Clone)]
pub struct Groups {
    shared: Arc<Shared>,
}

impl Groups {
    /// Adds a connection to a group; `Ok(false)` if it already was a member.
    pub fn add(&self, connection_id: &str, group: &str) -> Result<bool, HubError> {
        self.shared.join_group(connection_id, group)
    }

    /// Removes a connection from a group; `Ok(false)` if it was not a member.
    pub fn remove(&self, connection_id: &str, group: &str) -> Result<bool, HubError> {
        self.shared.leave_group(connection_id, group)
    }
}

/// The hub from application code outside of methods: broadcast, groups, closing a
/// connection. Cheap to clone.
#[derive(Clone)]
pub struct HubHandle {
    pub(super) shared: Arc<Shared>,
}

impl std::fmt::Debug for HubHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubHandle")
            .field("connections", &self.connection_count())
            .finish()
    }
}

impl HubHandle {
    /// Fire-and-forget calls to connections (no caller: `caller()` / `others()` reach no
    /// one / everyone).
    pub fn clients(&self) -> Clients {
        Clients {
            shared: self.shared.clone(),
            caller: None,
        }
    }

    /// Group membership.
    pub fn groups(&self) -> Groups {
        Groups {
            shared: self.shared.clone(),
        }
    }

    /// Open connections (handshake done, not ended).
    pub fn connection_count(&self) -> usize {
        self.shared.lock().conns.len()
    }

    /// Ids of the open connections, sorted.
    pub fn connection_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.shared.lock().conns.keys().cloned().collect();
        ids.sort();
        ids
    }

    /// Closes one connection with a Close message; `false` if it is not open here.
    pub fn close(&self, connection_id: &str, error: Option<String>, allow_reconnect: bool) -> bool {
        self.shared.control(connection_id).is_some_and(|ctl| {
            ctl.try_send(Control::Close {
                error,
                allow_reconnect,
            })
            .is_ok()
        })
    }
}
