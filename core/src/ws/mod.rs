//! WebSocket (RFC 6455), sans-IO: a frame codec, a connection endpoint and the HTTP/1.1
//! upgrade helpers.
//!
//! Nothing here touches a socket, a clock or a thread. Bytes go in as `&[u8]` / [`BytesMut`]
//! and come out as [`Bytes`]; every decoder accepts any split of its input (one byte at a time
//! included) and answers "need more data" with `Ok(None)`.
//!
//! The layers, from low to high:
//! - [`frame`]: [`OpCode`], [`FrameHeader`], [`apply_mask`] and [`encode_frame`] — the wire
//!   format of one frame.
//! - [`decoder`]: [`FrameDecoder`], a streaming decoder that yields a frame's header, then its
//!   unmasked payload in pieces as they arrive, then [`FrameItem::FrameEnd`]. It enforces the
//!   per-frame and per-message rules (masking, reserved bits, fragmentation, UTF-8 of text,
//!   size limits) but never buffers a payload. This is the relay's forwarding hot path: a
//!   received frame is re-sent as `FrameHeader { mask: None, ..header }` followed by the same
//!   pieces (see [`FrameHeader::with_mask`]).
//! - [`connection`]: [`Connection`], one endpoint after the handshake: assembled messages or
//!   per-frame fragments, ping/pong, and the close handshake with half-close.
//! - [`close`]: [`CloseFrame`] and the [`close_code`] constants.
//! - [`handshake`]: the HTTP/1.1 upgrade on both sides (request/response bytes, validation).
//! - [`utf8`]: [`Utf8Validator`], incremental UTF-8 validation across arbitrary splits.
//!
//! What this module does **not** do: no extensions (permessage-deflate is neither offered nor
//! accepted, so every reserved bit must be zero), no timers (ping intervals and close timeouts
//! belong to the driver), no TLS, no HTTP beyond the upgrade head.
//!
//! [`Bytes`]: bytes::Bytes
//! [`BytesMut`]: bytes::BytesMut

pub mod close;
pub mod connection;
pub mod decoder;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod utf8;

#[cfg(test)]
mod tests;

pub use close::{CloseFrame, close_code};
pub use connection::{Connection, ConnectionConfig, Event, Message, State};
pub use decoder::{FrameDecoder, FrameItem, FrameLimits};
pub use error::{HandshakeError, LocalError, ProtocolError};
pub use frame::{FrameHeader, OpCode, apply_mask, encode_frame};
pub use handshake::{
    ResponseHead, UpgradeRequest, accept_key, check_upgrade_request, client_request,
    error_response, generate_key, parse_response, response_101, response_101_headers, validate_101,
};
pub use utf8::Utf8Validator;

/// Which end of the connection we are; decides who masks.
///
/// RFC 6455 §5.1: a client masks every frame it sends and a server masks none. So a
/// [`Role::Server`] endpoint requires masked frames from its peer and sends unmasked ones; a
/// [`Role::Client`] endpoint masks what it sends and rejects masked frames from its peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We mask what we send; the peer (a server) must not mask.
    Client,
    /// The peer (a client) must mask; we send unmasked.
    Server,
}
