//! The wire format of one WebSocket frame (RFC 6455 §5.2): opcodes, the header, masking.
//!
//! Encoding only; decoding (which must cope with partial input) is in
//! [`decoder`](super::decoder).

use bytes::{BufMut, BytesMut};

/// A frame's opcode (RFC 6455 §5.2, §11.8). Reserved opcodes (3–7, 0xB–0xF) have no variant:
/// the decoder rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a later frame of a fragmented message.
    Continuation,
    /// `0x1`: the first (or only) frame of a UTF-8 text message.
    Text,
    /// `0x2`: the first (or only) frame of a binary message.
    Binary,
    /// `0x8`: the close handshake.
    Close,
    /// `0x9`: a ping; the peer answers with a pong carrying the same payload.
    Ping,
    /// `0xA`: a pong (solicited or not).
    Pong,
}

impl OpCode {
    /// The opcode for the 4-bit wire value, `None` for reserved values.
    pub fn from_u8(value: u8) -> Option<OpCode> {
        Some(match value {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong: never fragmented, payload at most 125 bytes.
    pub fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }

    /// Continuation, Text and Binary.
    pub fn is_data(self) -> bool {
        !self.is_control()
    }
}

/// The largest payload a control frame may carry (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A decoded or to-be-encoded frame header (everything before the payload).
///
/// `payload_len` is the length on the wire; `mask` is the masking key if the MASK bit is set.
/// Encoding does not check the header's consistency (a control frame with `fin: false`, a
/// reserved bit): the [`FrameDecoder`](super::FrameDecoder) and the
/// [`Connection`](super::Connection) do that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The FIN bit: this is the last frame of its message.
    pub fin: bool,
    /// RSV1..RSV3 as the low three bits (RSV1 = `0b100`). Always zero without extensions.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, if the frame is masked.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Appends the header's wire bytes to `out`, using the minimal length encoding
    /// (7-bit, then 16-bit `0x7E`, then 64-bit `0x7F`).
    pub fn encode(&self, out: &mut BytesMut) {
        out.reserve(self.encoded_len());
        let b0 = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        out.put_u8(b0);
        match self.payload_len {
            n @ 0..=125 => out.put_u8(mask_bit | n as u8),
            n @ 126..=0xFFFF => {
                out.put_u8(mask_bit | 126);
                out.put_u16(n as u16);
            }
            n => {
                out.put_u8(mask_bit | 127);
                out.put_u64(n);
            }
        }
        if let Some(mask) = self.mask {
            out.put_slice(&mask);
        }
    }

    /// The number of bytes [`encode`](Self::encode) writes: 2 to 14.
    pub fn encoded_len(&self) -> usize {
        let ext = match self.payload_len {
            0..=125 => 0,
            126..=0xFFFF => 2,
            _ => 8,
        };
        2 + ext + if self.mask.is_some() { 4 } else { 0 }
    }

    /// The same header with another masking key (or none).
    ///
    /// This is the forwarding step: the [`FrameDecoder`](super::FrameDecoder) yields payload
    /// pieces already unmasked, so `header.with_mask(None).encode(out)` followed by the pieces
    /// is the frame re-sent unmasked (server to client). To re-send masked, mask each piece with
    /// [`apply_mask`] at its offset within the payload.
    pub fn with_mask(self, mask: Option<[u8; 4]>) -> FrameHeader {
        FrameHeader { mask, ..self }
    }
}

/// XORs `data` with the masking key (RFC 6455 §5.3), in place; masking and unmasking are the
/// same operation.
///
/// `offset` is the position of `data[0]` within the frame's payload, so a payload can be
/// (un)masked piece by piece as it arrives. Works on eight bytes at a time.
pub fn apply_mask(mask: [u8; 4], offset: u64, data: &mut [u8]) {
    let shift = (offset % 4) as usize;
    let m = [
        mask[shift],
        mask[(shift + 1) % 4],
        mask[(shift + 2) % 4],
        mask[(shift + 3) % 4],
    ];
    let wide = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word) ^ wide;
        chunk.copy_from_slice(&x.to_ne_bytes());
    }
    // The remainder starts at a multiple of 8 from `data[0]`, so the rotated key lines up.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i % 4];
    }
}

/// Appends one complete frame to `out`: the header, then `payload`, masked with `mask` if
/// given.
///
/// No validation: the caller picks a legal combination (the [`Connection`](super::Connection)
/// send methods do). Copies `payload` once.
pub fn encode_frame(
    out: &mut BytesMut,
    fin: bool,
    opcode: OpCode,
    payload: &[u8],
    mask: Option<[u8; 4]>,
) {
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    out.reserve(header.encoded_len() + payload.len());
    header.encode(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(mask) = mask {
        apply_mask(mask, 0, &mut out[start..]);
    }
}
