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
pub mod invocations;
pub mod keepalive;
pub mod stateful;

pub use invocations::{
    CallEvent, CallKind, IdGenerator, IncomingCalls, InvocationError, InvocationMisuse,
    OutgoingCalls, UnknownIds, UploadEvent, UploadStreams,
};
pub use keepalive::{HandshakeDeadline, KeepAlive, KeepAliveAction, KeepAliveConfig};
pub use stateful::{Admission, Delivery, ReceiveTracker, SendBuffer, StatefulError};
