//! ASP.NET Core SignalR hub adapters on real sockets, driving the sans-IO
//! [`interlink_core::hub`] state machines.
//!
//! - [`transport`]: negotiate and the server-side HTTP transports (WebSockets, Server-Sent
//!   Events, long polling) that carry a hub connection's bytes.
//! - [`server`]: hubs — methods, groups, client results — served over those transports.
//! - [`client`]: a hub client (negotiate, WebSockets, JSON / MessagePack, automatic and
//!   stateful reconnect).

pub mod client;
pub mod server;
pub mod transport;
