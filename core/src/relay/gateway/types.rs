//! Inputs and outputs of the gateway state machine.

use crate::relay::message::{Headers, RemoteEndpoint};
use bytes::Bytes;

/// A connection the driver accepted on the gateway's port (an upgrade request, a WebSocket
/// after the upgrade, or an HTTP sender's request). The driver picks the numbers; they must
/// be unique while the connection lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// A WebSocket upgrade request as the driver read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// Raw path, e.g. `/$hc/hc1/suffix`.
    pub path: String,
    /// Raw query without `?`.
    pub query: Option<String>,
    /// Request headers in order, repeats as separate entries.
    pub headers: Vec<(String, String)>,
    /// The `Host` header (authority the client used).
    pub host: String,
    /// Whether the connection came in over TLS.
    pub secure: bool,
    /// The client's address.
    pub remote: Option<RemoteEndpoint>,
}

/// The body of a sender's HTTP request as the driver holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestBody {
    /// The whole body (possibly empty) has been read.
    Complete(Bytes),
    /// The body is large, chunked or still arriving; the driver keeps the stream and pipes it
    /// when told to by [`Output::PipeRequestBody`].
    Streaming,
}

/// A sender's plain HTTP request (not an upgrade).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Raw path, e.g. `/hc1/abc`.
    pub path: String,
    /// Raw query without `?`.
    pub query: Option<String>,
    /// Request headers in order, repeats as separate entries.
    pub headers: Vec<(String, String)>,
    /// The `Host` header.
    pub host: String,
    /// Whether the connection came in over TLS.
    pub secure: bool,
    /// The client's address.
    pub remote: Option<RemoteEndpoint>,
    /// The body.
    pub body: RequestBody,
}

/// What to do with a WebSocket once its 101 has been sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterUpgrade {
    /// Feed its messages to the gateway (`handle_text`, `handle_binary`, …): a control channel
    /// or a request rendezvous.
    Driven,
    /// Forward frames to and from the other connection, which gets the mirror instruction.
    /// Close frames pass through both ways (half-close); the pair ends when both Closes have
    /// passed or either socket drops. The gateway no longer tracks either connection.
    PairWith(ConnId),
}

/// A WebSocket message the gateway wants sent on a driven connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsOut {
    /// A text message.
    Text(String),
    /// A complete binary message.
    Binary(Bytes),
    /// A keepalive ping with an empty payload.
    Ping,
    /// A Close frame; the driver closes the socket once the peer answers or after a short linger.
    Close {
        /// Close code.
        code: u16,
        /// Reason text (short).
        reason: String,
    },
}

/// How the body of a response to a sender is delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseBody {
    /// No body.
    Empty,
    /// The whole body.
    Full(Bytes),
    /// Pieces follow as [`Output::HttpBody`], ended by [`Output::HttpEnd`] or [`Output::HttpAbort`].
    Streaming,
}

/// What the gateway asks its driver to do, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Answer an upgrade request with 101, echoing `protocol` in `Sec-WebSocket-Protocol`.
    Upgrade {
        /// The connection that sent the upgrade request.
        conn: ConnId,
        /// Subprotocol to echo, if any.
        protocol: Option<String>,
        /// What to do with the WebSocket afterwards.
        then: AfterUpgrade,
    },
    /// Answer an upgrade request with an error status and close the connection.
    Refuse {
        /// The connection that sent the upgrade request.
        conn: ConnId,
        /// HTTP status.
        status: u16,
        /// Reason phrase / description (also used as a small text body).
        reason: String,
    },
    /// Send a message on a driven WebSocket.
    Send {
        /// The WebSocket.
        conn: ConnId,
        /// The message.
        msg: WsOut,
    },
    /// Answer a sender's HTTP request.
    HttpResponse {
        /// The sender's connection.
        conn: ConnId,
        /// Status code.
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Headers (framing headers removed, `Via` added).
        headers: Headers,
        /// How the body comes.
        body: ResponseBody,
    },
    /// A piece of a streaming response body.
    HttpBody {
        /// The sender's connection.
        conn: ConnId,
        /// The bytes.
        data: Bytes,
    },
    /// A streaming response body ended normally.
    HttpEnd {
        /// The sender's connection.
        conn: ConnId,
    },
    /// A streaming response broke off; the driver ends the sender's connection abruptly so the
    /// sender sees an incomplete response rather than a truncated success.
    HttpAbort {
        /// The sender's connection.
        conn: ConnId,
    },
    /// Stream the body of `from`'s request onto WebSocket `to` as one binary message made of
    /// fragments, ending with a FIN frame (empty if need be).
    PipeRequestBody {
        /// The sender whose body the driver holds.
        from: ConnId,
        /// The rendezvous WebSocket.
        to: ConnId,
    },
    /// Send a complete request body on WebSocket `to` as one binary message (a body that was
    /// read whole but is too large for the control channel).
    SendRequestBody {
        /// The rendezvous WebSocket.
        to: ConnId,
        /// The body.
        data: Bytes,
    },
}

/// Counters for observability and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GatewayStats {
    /// Connected control channels.
    pub listeners: usize,
    /// Senders waiting for a rendezvous.
    pub pending_accepts: usize,
    /// HTTP requests in flight.
    pub pending_requests: usize,
    /// Deadlines set (one per listener, pending accept and request in flight).
    pub deadlines: usize,
}
