//! The ASP.NET Core SignalR hub protocol, sans-IO.
//!
//! Wire facts come from `shared/specs/signalr.md`. The building blocks:
//! - [`message`]: the hub messages (types 1–9) and opaque encoded values.
//! - [`value`]: [`RawValue`] helpers — serde conversion, JSON ↔ MessagePack transcoding.
//! - [`varint`]: the MessagePack frame length prefix.
//! - [`json`], [`msgpack`]: one message ↔ one message body, per protocol.
//! - [`codec`]: framing ([`encode`]) and the incremental [`HubDecoder`].
//! - [`handshake`]: the JSON handshake, its reader and the server's [`accept`] decision.
//! - [`stateful`]: stateful reconnect — numbering, Ack, dedupe, Sequence and replay (§8).
//! - [`keepalive`]: Ping after send silence, timeout after receive silence, handshake deadline.
//! - [`invocations`]: invocation and upload-stream id bookkeeping of one endpoint (§1).
//! - [`registry`]: the server-side connection / user / group registry and message targets.
//! - [`connection`]: the client and server connection state machines built from the above.
//! - [`negotiate`]: the negotiate query and bodies, transport names, connection ids.
//! - [`connections`]: the connection table below the hub protocol: which HTTP request on
//!   which transport is answered with which status, long-poll timing, stateful re-attach.

pub mod codec;
pub mod connection;
pub mod connections;
pub mod handshake;
pub mod invocations;
pub mod json;
pub mod keepalive;
pub mod message;
pub mod msgpack;
pub mod negotiate;
pub mod registry;
pub mod stateful;
pub mod value;
pub mod varint;

#[cfg(test)]
mod tests;

pub use codec::{
    CodecError, Decoded, HubDecoder, RECORD_SEPARATOR, decode_body, encode, encode_to_bytes,
};
pub use connection::{
    ClientConnection, ClientEvent, CloseReason, CommandError, ConnectionOptions, ConnectionStats,
    Negotiated, ProtocolViolation, ServerConnection, ServerEvent, Transmit,
};
pub use handshake::{
    DEFAULT_MAX_HANDSHAKE_SIZE, HANDSHAKE_CANCELED, HandshakeError, HandshakeReader,
    HandshakeRejection, HandshakeRequest, HandshakeResponse, HandshakeResponseError, accept,
    parse_response,
};
pub use invocations::{
    CallEvent, CallKind, IdGenerator, IncomingCalls, InvocationError, InvocationMisuse,
    OutgoingCalls, UnknownIds, UploadEvent, UploadStreams,
};
pub use keepalive::{HandshakeDeadline, KeepAlive, KeepAliveAction, KeepAliveConfig};
pub use message::{
    CompletionResult, Headers, HubMessage, HubProtocol, Invocation, RawValue, TransferFormat,
};
pub use registry::{Registry, RegistryError, RegistryLimits, RemovedConnection, Target};
pub use stateful::{Admission, Delivery, ReceiveTracker, SendBuffer, StatefulError};
pub use value::ValueError;
