//! The Close frame's payload (RFC 6455 §5.5.1, §7.4): a status code and a UTF-8 reason.

use bytes::{BufMut, BytesMut};

use super::error::ProtocolError;

/// Close status codes (RFC 6455 §7.4.1, IANA "WebSocket Close Code Number Registry").
pub mod close_code {
    /// 1000: normal closure.
    pub const NORMAL: u16 = 1000;
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: u16 = 1001;
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED: u16 = 1003;
    /// 1005: no status code was present. Reported locally, never sent.
    pub const NO_STATUS: u16 = 1005;
    /// 1006: the connection dropped without a Close frame. Reported locally, never sent.
    pub const ABNORMAL: u16 = 1006;
    /// 1007: payload data inconsistent with the message type (e.g. invalid UTF-8 text).
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// 1008: a policy violation.
    pub const POLICY: u16 = 1008;
    /// 1009: a message too big to process.
    pub const TOO_BIG: u16 = 1009;
    /// 1010: (client) the server did not negotiate a required extension.
    pub const EXTENSION: u16 = 1010;
    /// 1011: (server) an unexpected internal condition.
    pub const INTERNAL: u16 = 1011;
    /// 1012: service restart (IANA registry).
    pub const SERVICE_RESTART: u16 = 1012;
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: u16 = 1014;

    /// Whether `code` may appear in a Close frame on the wire: 1000–1003, 1007–1014 and
    /// 3000–4999 (registered and private use). 1004, 1005, 1006, 1015 and everything else
    /// below 3000 are reserved or local-only; the same rule applies to codes we receive.
    pub fn is_sendable(code: u16) -> bool {
        matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// The payload of a Close frame: a status code and a reason (at most 123 bytes of UTF-8 on
/// the wire). A Close frame with an empty payload is represented as `None` where an
/// `Option<CloseFrame>` appears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code, see [`close_code`].
    pub code: u16,
    /// The human-readable reason, possibly empty.
    pub reason: String,
}

impl CloseFrame {
    /// Parses a received Close payload: empty is `None`; one byte, a code that may not be on
    /// the wire, or a reason that is not UTF-8 is a [`ProtocolError`]. Does not check the
    /// length limit of 125 (the frame decoder already did).
    pub fn decode(payload: &[u8]) -> Result<Option<CloseFrame>, ProtocolError> {
        match payload {
            [] => Ok(None),
            [_] => Err(ProtocolError::InvalidClosePayload),
            [hi, lo, reason @ ..] => {
                let code = u16::from_be_bytes([*hi, *lo]);
                if !close_code::is_sendable(code) {
                    return Err(ProtocolError::InvalidCloseCode(code));
                }
                let reason = std::str::from_utf8(reason)
                    .map_err(|_| ProtocolError::InvalidCloseReason)?
                    .to_owned();
                Ok(Some(CloseFrame { code, reason }))
            }
        }
    }

    /// Appends the payload (big-endian code, then the reason) to `out`. Does not validate; the
    /// [`Connection`](super::Connection) checks the code and the length before calling this.
    pub fn encode(&self, out: &mut BytesMut) {
        out.put_u16(self.code);
        out.put_slice(self.reason.as_bytes());
    }
}
