//! WebSocket errors, typed by blame: [`ProtocolError`] (the peer broke RFC 6455 or a limit),
//! [`LocalError`] (our caller misused the API), [`HandshakeError`] (the HTTP upgrade failed).

use super::close::close_code;

/// The peer violated RFC 6455 or exceeded a configured limit. Each variant maps to the close
/// code to send back ([`close_code`](Self::close_code)): 1002 protocol error, 1007 invalid
/// payload data, 1009 too big.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// A reserved opcode (3–7, 0xB–0xF).
    #[error("reserved opcode {0:#x}")]
    ReservedOpcode(u8),
    /// RSV1–RSV3 set without a negotiated extension (the value is the three bits).
    #[error("reserved bits {0:#05b} set without an extension")]
    ReservedBits(u8),
    /// A client sent an unmasked frame (we are the server).
    #[error("unmasked frame from client")]
    UnmaskedFrame,
    /// A server sent a masked frame (we are the client).
    #[error("masked frame from server")]
    MaskedFrame,
    /// A control frame with FIN = 0.
    #[error("fragmented control frame")]
    FragmentedControl,
    /// A control frame with a payload over 125 bytes.
    #[error("control frame payload of {0} bytes (max 125)")]
    ControlTooLong(u64),
    /// A 64-bit payload length with the most significant bit set.
    #[error("payload length has its most significant bit set")]
    InvalidLength,
    /// A continuation frame with no fragmented message in progress.
    #[error("continuation frame without a message to continue")]
    ContinuationWithoutStart,
    /// A Text or Binary frame while a fragmented message is still in progress.
    #[error("new data message while a fragmented message is in progress")]
    NewMessageWhileFragmented,
    /// A Close frame whose payload is exactly one byte.
    #[error("close frame payload of one byte")]
    InvalidClosePayload,
    /// A Close frame with a code that may not appear on the wire (e.g. 1005, 1006, 999).
    #[error("close code {0} is not allowed on the wire")]
    InvalidCloseCode(u16),
    /// Any frame after the peer's own Close frame.
    #[error("frame received after the peer's close")]
    FrameAfterClose,
    /// A text message that is not valid UTF-8.
    #[error("text message is not valid UTF-8")]
    InvalidUtf8,
    /// A close reason that is not valid UTF-8.
    #[error("close reason is not valid UTF-8")]
    InvalidCloseReason,
    /// A frame whose payload exceeds [`FrameLimits::max_frame_payload`](super::FrameLimits).
    #[error("frame payload of {len} bytes exceeds the limit of {limit}")]
    FrameTooBig {
        /// The announced payload length.
        len: u64,
        /// The configured limit.
        limit: u64,
    },
    /// A message whose total size exceeds
    /// [`FrameLimits::max_message_size`](super::FrameLimits).
    #[error("message exceeds the limit of {limit} bytes")]
    MessageTooBig {
        /// The configured limit.
        limit: u64,
    },
}

impl ProtocolError {
    /// The close code to send the peer for this error: 1002, 1007 or 1009.
    pub fn close_code(&self) -> u16 {
        match self {
            ProtocolError::InvalidUtf8 | ProtocolError::InvalidCloseReason => {
                close_code::INVALID_PAYLOAD
            }
            ProtocolError::FrameTooBig { .. } | ProtocolError::MessageTooBig { .. } => {
                close_code::TOO_BIG
            }
            _ => close_code::PROTOCOL_ERROR,
        }
    }
}

/// Our caller asked for something the protocol forbids; nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LocalError {
    /// We already sent a Close frame (or failed the connection); no more frames may be sent.
    #[error("the connection is closing or closed: nothing more may be sent")]
    Closed,
    /// A ping or pong payload over 125 bytes.
    #[error("control payload of {0} bytes (max 125)")]
    ControlTooLong(usize),
    /// A close reason over 123 bytes (125 minus the 2-byte code).
    #[error("close reason of {0} bytes (max 123)")]
    CloseReasonTooLong(usize),
    /// A close code that may not be sent (see [`close_code::is_sendable`]).
    #[error("close code {0} may not be sent")]
    InvalidCloseCode(u16),
    /// Fragments out of order: `first` while a message is open, a continuation with none open,
    /// a different opcode mid-message, a control opcode, or a whole message while a fragmented
    /// one is open.
    #[error("fragment out of sequence")]
    FragmentSequence,
    /// Text fragments that are not valid UTF-8 (checked across fragments; a fragment may end
    /// mid-codepoint unless it is the last).
    #[error("text is not valid UTF-8")]
    InvalidUtf8,
}

/// The HTTP/1.1 upgrade failed. Server-side variants carry the HTTP status to answer with
/// ([`http_status`](Self::http_status)); client-side variants (about the server's response)
/// mean the client must not use the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// Server side: the request method is not GET.
    #[error("upgrade request method is {0}, not GET")]
    NotGet(String),
    /// Server side: no `Host` header.
    #[error("missing Host header")]
    MissingHost,
    /// Either side: no `Upgrade: websocket`.
    #[error("missing or wrong Upgrade header (want websocket)")]
    MissingUpgrade,
    /// Either side: `Connection` does not contain the `upgrade` token.
    #[error("Connection header lacks the upgrade token")]
    MissingConnectionUpgrade,
    /// Server side: `Sec-WebSocket-Version` missing or not 13.
    #[error("unsupported Sec-WebSocket-Version (want 13)")]
    UnsupportedVersion,
    /// Server side: `Sec-WebSocket-Key` missing, repeated, or not 16 bytes of base64.
    #[error("missing or malformed Sec-WebSocket-Key")]
    BadKey,
    /// Client side: the response head is not valid HTTP/1.1.
    #[error("malformed HTTP response head")]
    MalformedResponse,
    /// Client side: the response head is larger than [`MAX_HEAD_LEN`](super::handshake::MAX_HEAD_LEN)
    /// or has too many headers.
    #[error("HTTP response head too large")]
    HeadTooLarge,
    /// Client side: the status is not 101.
    #[error("unexpected HTTP status {0}")]
    UnexpectedStatus(u16),
    /// Client side: `Sec-WebSocket-Accept` missing or not matching our key.
    #[error("missing or wrong Sec-WebSocket-Accept")]
    BadAccept,
    /// Client side: the server selected an extension, and we offer none.
    #[error("server selected an extension we did not offer")]
    UnexpectedExtension,
    /// Client side: more than one `Sec-WebSocket-Protocol` value in the response.
    #[error("server selected more than one subprotocol")]
    MultipleProtocols,
}

impl HandshakeError {
    /// The HTTP status a server answers with: 426 Upgrade Required when the request is not a
    /// (version 13) WebSocket upgrade, 400 Bad Request otherwise. Client-side variants map to
    /// 400 as well; a client has no one to answer.
    pub fn http_status(&self) -> u16 {
        match self {
            HandshakeError::MissingUpgrade | HandshakeError::UnsupportedVersion => 426,
            _ => 400,
        }
    }
}
