//! ASP.NET Core SignalR hub adapters on real sockets, driving the sans-IO
//! [`interlink_core::hub`] state machines.
//!
//! - [`client`]: a hub client (negotiate, WebSockets, JSON / MessagePack, automatic and
//!   stateful reconnect).

pub mod client;
