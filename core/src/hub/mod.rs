//! The ASP.NET Core SignalR hub protocol, sans-IO.
//!
//! Wire facts come from `shared/specs/signalr.md`. The building blocks:
//! - [`message`]: the hub messages (types 1–9) and opaque encoded values.
//! - [`value`]: [`RawValue`] helpers — serde conversion, JSON ↔ MessagePack transcoding.
//! - [`varint`]: the MessagePack frame length prefix.
//! - [`json`], [`msgpack`]: one message ↔ one message body, per protocol.
//! - [`codec`]: framing ([`encode`]) and the incremental [`HubDecoder`].
//! - [`handshake`]: the JSON handshake, its reader and the server's [`accept`] decision.

pub mod codec;
pub mod handshake;
pub mod json;
pub mod message;
pub mod msgpack;
pub mod value;
pub mod varint;

#[cfg(test)]
mod tests;

pub use codec::{
    CodecError, Decoded, HubDecoder, RECORD_SEPARATOR, decode_body, encode, encode_to_bytes,
};
pub use handshake::{
    DEFAULT_MAX_HANDSHAKE_SIZE, HANDSHAKE_CANCELED, HandshakeError, HandshakeReader,
    HandshakeRejection, HandshakeRequest, HandshakeResponse, HandshakeResponseError, accept,
    parse_response,
};
pub use message::{
    CompletionResult, Headers, HubMessage, HubProtocol, Invocation, RawValue, TransferFormat,
};
pub use value::ValueError;
