//! The ASP.NET Core SignalR hub protocol, sans-IO.
//!
//! Wire facts come from `shared/specs/signalr.md`. The building blocks:
//! - [`message`]: the hub messages (types 1–9) and opaque encoded values.

pub mod message;

pub use message::{
    CompletionResult, Headers, HubMessage, HubProtocol, Invocation, RawValue, TransferFormat,
};

// Connection building blocks (stateful reconnect, keep-alive, invocation ids) and the
// server-side registry.
pub mod keepalive;
pub mod stateful;

pub use keepalive::{HandshakeDeadline, KeepAlive, KeepAliveAction, KeepAliveConfig};
pub use stateful::{Admission, Delivery, ReceiveTracker, SendBuffer, StatefulError};
