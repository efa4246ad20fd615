//! The ASP.NET Core SignalR hub protocol, sans-IO.
//!
//! Wire facts come from `shared/specs/signalr.md`. The building blocks:
//! - [`message`]: the hub messages (types 1–9) and opaque encoded values.
//! - [`stateful`]: stateful reconnect — numbering, Ack, dedupe, Sequence and replay (§8).
//! - [`keepalive`]: Ping after send silence, timeout after receive silence, handshake deadline.
//! - [`invocations`]: invocation and upload-stream id bookkeeping of one endpoint (§1).
//! - [`registry`]: the server-side connection / user / group registry and message targets.

pub mod message;

pub use message::{
    CompletionResult, Headers, HubMessage, HubProtocol, Invocation, RawValue, TransferFormat,
};

// Connection building blocks (stateful reconnect, keep-alive, invocation ids) and the
// server-side registry.
pub mod invocations;
pub mod keepalive;
pub mod registry;
pub mod stateful;

pub use invocations::{
    CallEvent, CallKind, IdGenerator, IncomingCalls, InvocationError, InvocationMisuse,
    OutgoingCalls, UnknownIds, UploadEvent, UploadStreams,
};
pub use keepalive::{HandshakeDeadline, KeepAlive, KeepAliveAction, KeepAliveConfig};
pub use registry::{Registry, RegistryError, RegistryLimits, RemovedConnection, Target};
pub use stateful::{Admission, Delivery, ReceiveTracker, SendBuffer, StatefulError};
