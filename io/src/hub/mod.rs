//! SignalR hub adapters.
//!
//! - [`transport`]: negotiate and the server-side HTTP transports (WebSockets, Server-Sent
//!   Events, long polling) that carry a hub connection's bytes.
//! - [`server`]: hubs — methods, groups, client results — served over those transports.

pub mod server;
pub mod transport;
