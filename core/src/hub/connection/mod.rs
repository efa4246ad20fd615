//! Hub connection state machines: one [`ServerConnection`] per client on a hub server and one
//! [`ClientConnection`] per connection a hub client holds.
//!
//! Both take the bytes their transport delivered and the current time, and give back frames to
//! send, events for the application and the next deadline. They run the handshake, the
//! keep-alive rules (Ping after send silence, timeout after receive silence), invocation
//! bookkeeping and, when negotiated, stateful reconnect (numbering, Acks, replay after a
//! re-attached transport).
//!
//! # Driving a connection
//! 1. Create it when the transport is attached (the client's handshake request is queued at
//!    once).
//! 2. Feed every chunk the transport delivers with `handle_data`; report a lost transport with
//!    `handle_transport_lost` and a new one with `handle_transport_reattached`.
//! 3. After every input and every command drain `poll_transmit` (send each [`Transmit`] as one
//!    transport frame) and `poll_event`; sleep until `poll_timeout` and call `handle_timeout`.
//! 4. Once a `Closed` event came out, flush the remaining transmits and close the transport.
//!
//! What it does not do: no sockets, no HTTP (see `hub::negotiate` / `hub::connections`), no
//! method dispatch (the application maps targets to handlers).

mod client;
mod engine;
mod server;

#[cfg(test)]
mod tests;

pub use client::{ClientConnection, ClientEvent, NO_CLIENT_RESULT, SERVER_TIMEOUT};
pub use server::{ServerConnection, ServerEvent};

use std::time::Duration;

use bytes::Bytes;

use crate::hub::HubProtocol;
use crate::hub::codec::CodecError;

/// One frame for the transport: send `data` as one WebSocket message (binary or text), one SSE
/// event, or append it to the next long-poll response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub data: Bytes,
    /// `true` for a binary WebSocket frame (MessagePack hub traffic).
    pub binary: bool,
}

/// Settings shared by both sides. Defaults are ASP.NET Core's and the JS client's.
#[derive(Debug, Clone)]
pub struct ConnectionOptions {
    /// Send a Ping after this much send silence (15 s).
    pub keep_alive_interval: Duration,
    /// Close after this much receive silence (30 s): the server's client timeout or the
    /// client's server timeout.
    pub timeout: Duration,
    /// How long the peer may take to complete the handshake (15 s).
    pub handshake_timeout: Duration,
    /// Largest message accepted from the peer (server: 32 KB like ASP.NET Core's
    /// `MaximumReceiveMessageSize`; the handshake is capped by it too).
    pub max_message_size: usize,
    /// Stateful reconnect: bytes of un-acked messages kept for replay before sends are held
    /// back (100 000).
    pub stateful_buffer_bytes: usize,
    /// Stateful reconnect: how long after new messages arrive the Ack goes out (1 s).
    pub ack_interval: Duration,
    /// Whether keep-alive runs (off for long polling, which keeps itself alive).
    pub keep_alive_enabled: bool,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        ConnectionOptions {
            keep_alive_interval: Duration::from_secs(15),
            timeout: Duration::from_secs(30),
            handshake_timeout: Duration::from_secs(15),
            max_message_size: 32 * 1024,
            stateful_buffer_bytes: 100_000,
            ack_interval: Duration::from_secs(1),
            keep_alive_enabled: true,
        }
    }
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The application called `close`.
    Local,
    /// The peer sent a Close message.
    PeerClosed,
    /// Nothing arrived for the configured timeout.
    TimedOut,
    /// The handshake did not complete in time or was too large.
    HandshakeCanceled,
    /// The handshake was refused (the text went to the peer).
    HandshakeRejected(String),
    /// The peer broke the protocol.
    ProtocolError(ProtocolViolation),
    /// The transport went away and the connection cannot be resumed.
    TransportClosed,
}

/// A protocol violation by the peer; the connection closes with an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolViolation {
    /// Bytes that are not a valid hub message.
    #[error("{0}")]
    InvalidData(#[from] CodecError),
    /// A stateful-reconnect rule was broken (bad Ack or Sequence).
    #[error("{0}")]
    Stateful(#[from] crate::hub::stateful::StatefulError),
    /// An invocation rule was broken (reused id, stream shape).
    #[error("{0}")]
    Invocation(#[from] crate::hub::invocations::InvocationError),
    /// The handshake response could not be read or carried an error.
    #[error("{0}")]
    Handshake(String),
}

/// Misuse by the local application (not the peer's fault); the connection stays as it was.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The handshake has not completed, or the connection has ended.
    #[error("the connection is not open")]
    NotOpen,
    /// No invocation with this id awaits a reply from us (unknown, non-blocking or finished).
    #[error("no active invocation with id {0}")]
    UnknownInvocation(String),
    /// A value could not be encoded in this connection's protocol.
    #[error("cannot encode the message: {0}")]
    Encode(CodecError),
}

/// Counters a driver may expose for diagnostics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    pub pings_sent: u64,
    pub pings_received: u64,
    pub acks_sent: u64,
    pub sequences_sent: u64,
    pub messages_sent: u64,
    pub messages_received: u64,
    pub duplicates_dropped: u64,
}

/// The negotiated shape of an open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub protocol: HubProtocol,
    /// The handshake version (2 = stateful reconnect possible).
    pub version: u32,
    /// Whether Ack / Sequence and replay are in use.
    pub stateful: bool,
}
