//! The streaming frame decoder: header, then payload pieces as they arrive, then the frame's
//! end. Never buffers a payload.

use bytes::{Buf, Bytes, BytesMut};

use super::Role;
use super::error::ProtocolError;
use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, apply_mask};
use super::utf8::Utf8Validator;

/// Size limits enforced while decoding; exceeding one is a [`ProtocolError`] with close code
/// 1009.
///
/// The default is 16 MiB per frame and 64 MiB per message. Both limits are checked from the
/// frame header, before any payload byte is accepted. `max_message_size` counts the payload
/// of all frames of one (possibly fragmented) message, in streaming mode too: a forwarder that
/// streams unbounded bodies sets it to `u64::MAX` (see [`FrameLimits::unlimited`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// The largest payload of a single frame, in bytes.
    pub max_frame_payload: u64,
    /// The largest total payload of one message (all its fragments), in bytes.
    pub max_message_size: u64,
}

impl Default for FrameLimits {
    /// 16 MiB per frame, 64 MiB per message.
    fn default() -> Self {
        FrameLimits {
            max_frame_payload: 16 << 20,
            max_message_size: 64 << 20,
        }
    }
}

impl FrameLimits {
    /// No limits at all (only the wire format's own: 2^63 − 1 bytes per frame). For streaming
    /// forwarders that hold no payload in memory.
    pub const fn unlimited() -> Self {
        FrameLimits {
            max_frame_payload: u64::MAX,
            max_message_size: u64::MAX,
        }
    }
}

/// One step of decoding, as returned by [`FrameDecoder::decode`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameItem {
    /// A complete, validated frame header. Its `mask` is the key as received; the payload
    /// pieces that follow are already unmasked.
    Header(FrameHeader),
    /// The next piece of the current frame's payload, unmasked; never empty. The pieces of a
    /// frame add up to exactly `payload_len` bytes.
    Payload(Bytes),
    /// The current frame's payload is complete (also yielded for empty payloads).
    FrameEnd,
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    Header,
    Payload { header: FrameHeader, offset: u64 },
}

/// A streaming WebSocket frame decoder for one direction of one connection.
///
/// For each frame it yields [`FrameItem::Header`], then zero or more
/// [`FrameItem::Payload`] pieces as bytes arrive, then [`FrameItem::FrameEnd`]. It checks
/// everything that can be checked without holding a payload: reserved bits and opcodes,
/// masking against the [`Role`], control frame rules, the fragmentation sequence (including
/// control frames interleaved in a fragmented message), the [`FrameLimits`], and the UTF-8 of
/// text messages (incrementally, failing at the first bad byte). It does not interpret
/// control payloads (use [`CloseFrame::decode`](super::CloseFrame::decode)) and does not
/// enforce the close handshake (the [`Connection`](super::Connection) does).
///
/// After an error the decoder is poisoned: every later call returns the same error.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    role: Role,
    limits: FrameLimits,
    stage: Stage,
    /// A data message has started and its final frame has not ended yet.
    msg_open: bool,
    /// The opcode (Text/Binary) of the most recent data frame's message.
    msg_opcode: Option<OpCode>,
    /// Payload bytes of the current message, announced so far.
    msg_len: u64,
    utf8: Utf8Validator,
    error: Option<ProtocolError>,
}

impl FrameDecoder {
    /// A decoder for frames sent by our peer: `role` is *our* role, so a [`Role::Server`]
    /// decoder requires masked frames and a [`Role::Client`] decoder rejects them.
    pub fn new(role: Role, limits: FrameLimits) -> Self {
        FrameDecoder {
            role,
            limits,
            stage: Stage::Header,
            msg_open: false,
            msg_opcode: None,
            msg_len: 0,
            utf8: Utf8Validator::new(),
            error: None,
        }
    }

    /// The opcode (Text or Binary) of the message the most recent data frame belongs to —
    /// what a Continuation frame continues. `None` before the first data frame.
    pub fn message_opcode(&self) -> Option<OpCode> {
        self.msg_opcode
    }

    /// Whether a fragmented data message is in progress (its final frame has not ended).
    pub fn in_message(&self) -> bool {
        self.msg_open
    }

    /// Decodes the next item from the front of `buf`, consuming exactly the bytes it used.
    /// The caller appends received bytes to `buf` and calls again until `Ok(None)` ("need more
    /// data"). Any split of the input gives the same items, except that payload pieces follow
    /// the split.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<FrameItem>, ProtocolError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = self.decode_inner(buf);
        if let Err(e) = &result {
            self.error = Some(e.clone());
        }
        result
    }

    fn decode_inner(&mut self, buf: &mut BytesMut) -> Result<Option<FrameItem>, ProtocolError> {
        match self.stage {
            Stage::Header => {
                let Some((header, used)) = self.parse_header(buf)? else {
                    return Ok(None);
                };
                buf.advance(used);
                if header.opcode.is_data() {
                    if header.opcode != OpCode::Continuation {
                        self.msg_opcode = Some(header.opcode);
                        self.msg_open = true;
                        self.msg_len = 0;
                        self.utf8.reset();
                    }
                    self.msg_len += header.payload_len;
                }
                self.stage = Stage::Payload { header, offset: 0 };
                Ok(Some(FrameItem::Header(header)))
            }
            Stage::Payload { header, offset } => {
                let remaining = header.payload_len - offset;
                if remaining == 0 {
                    self.stage = Stage::Header;
                    if header.opcode.is_data() && header.fin {
                        self.msg_open = false;
                        if self.msg_opcode == Some(OpCode::Text) && !self.utf8.is_complete() {
                            return Err(ProtocolError::InvalidUtf8);
                        }
                    }
                    return Ok(Some(FrameItem::FrameEnd));
                }
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = remaining.min(buf.len() as u64) as usize;
                let mut piece = buf.split_to(n);
                if let Some(mask) = header.mask {
                    apply_mask(mask, offset, &mut piece);
                }
                if header.opcode.is_data() && self.msg_opcode == Some(OpCode::Text) {
                    self.utf8
                        .feed(&piece)
                        .map_err(|()| ProtocolError::InvalidUtf8)?;
                }
                self.stage = Stage::Payload {
                    header,
                    offset: offset + n as u64,
                };
                Ok(Some(FrameItem::Payload(piece.freeze())))
            }
        }
    }

    /// Parses and validates a header at the front of `buf` without consuming it. Checks run
    /// as soon as the bytes they need are present, always in the same order, so an error does
    /// not depend on how the input was split.
    fn parse_header(&self, buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let Some(&b0) = buf.first() else {
            return Ok(None);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0b111;
        if rsv != 0 {
            return Err(ProtocolError::ReservedBits(rsv));
        }
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
        match opcode {
            OpCode::Close | OpCode::Ping | OpCode::Pong if !fin => {
                return Err(ProtocolError::FragmentedControl);
            }
            OpCode::Continuation if !self.msg_open => {
                return Err(ProtocolError::ContinuationWithoutStart);
            }
            OpCode::Text | OpCode::Binary if self.msg_open => {
                return Err(ProtocolError::NewMessageWhileFragmented);
            }
            _ => {}
        }

        let Some(&b1) = buf.get(1) else {
            return Ok(None);
        };
        let masked = b1 & 0x80 != 0;
        match (self.role, masked) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let (ext_len, len7) = match b1 & 0x7F {
            126 => (2, None),
            127 => (8, None),
            n => (0, Some(u64::from(n))),
        };
        let total = 2 + ext_len + if masked { 4 } else { 0 };
        if buf.len() < total {
            return Ok(None);
        }

        // Lengths that were not encoded minimally are accepted (RFC 6455 §5.2 asks senders for
        // the minimal form; rejecting it buys nothing).
        let payload_len = match len7 {
            Some(n) => n,
            None if ext_len == 2 => u64::from(u16::from_be_bytes([buf[2], buf[3]])),
            None => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&buf[2..10]);
                let n = u64::from_be_bytes(b);
                if n >> 63 != 0 {
                    return Err(ProtocolError::InvalidLength);
                }
                n
            }
        };
        if opcode.is_control() && payload_len > MAX_CONTROL_PAYLOAD as u64 {
            return Err(ProtocolError::ControlTooLong(payload_len));
        }
        if payload_len > self.limits.max_frame_payload {
            return Err(ProtocolError::FrameTooBig {
                len: payload_len,
                limit: self.limits.max_frame_payload,
            });
        }
        if opcode.is_data() {
            let before = if opcode == OpCode::Continuation {
                self.msg_len
            } else {
                0
            };
            if before.saturating_add(payload_len) > self.limits.max_message_size {
                return Err(ProtocolError::MessageTooBig {
                    limit: self.limits.max_message_size,
                });
            }
        }
        let mask = masked.then(|| {
            let at = 2 + ext_len;
            [buf[at], buf[at + 1], buf[at + 2], buf[at + 3]]
        });
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len,
        };
        Ok(Some((header, total)))
    }
}
