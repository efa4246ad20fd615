//! Tests of the ws module: golden vectors from RFC 6455 §5.7, every error, split invariance,
//! the close handshake, forwarding and the upgrade helpers.

mod connection;
mod decoder;
mod errors;
mod frame;
mod handshake;
mod utf8;

use bytes::BytesMut;

use super::{
    CloseFrame, Connection, FrameDecoder, FrameHeader, FrameItem, OpCode, ProtocolError,
    encode_frame,
};

/// Bytes from space-separated hex, e.g. `"81 05 48"`.
pub(super) fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

/// One encoded frame.
pub(super) fn frame(fin: bool, opcode: OpCode, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(&mut out, fin, opcode, payload, mask);
    out.to_vec()
}

/// A frame as a client would send it (masked with a fixed key).
pub(super) fn masked(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frame(fin, opcode, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// Feeds `input` to `decoder` in chunks of the given sizes (cycled; the rest at once if
/// `chunks` is empty) and returns every frame as (header, whole payload), or the first error.
pub(super) fn decode_chunked(
    decoder: &mut FrameDecoder,
    input: &[u8],
    chunks: &[usize],
) -> Result<Vec<(FrameHeader, Vec<u8>)>, ProtocolError> {
    let mut buf = BytesMut::new();
    let mut frames: Vec<(FrameHeader, Vec<u8>)> = Vec::new();
    let mut open = false;
    let mut pos = 0;
    let mut i = 0;
    loop {
        while let Some(item) = decoder.decode(&mut buf)? {
            match item {
                FrameItem::Header(h) => {
                    assert!(!open, "header inside a frame");
                    open = true;
                    frames.push((h, Vec::new()));
                }
                FrameItem::Payload(p) => {
                    assert!(open && !p.is_empty(), "payload outside a frame or empty");
                    frames.last_mut().unwrap().1.extend_from_slice(&p);
                }
                FrameItem::FrameEnd => {
                    assert!(open, "end outside a frame");
                    open = false;
                    let (h, payload) = frames.last().unwrap();
                    assert_eq!(h.payload_len, payload.len() as u64);
                }
            }
        }
        if pos == input.len() {
            assert!(!open, "input ended inside a frame");
            return Ok(frames);
        }
        let n = if chunks.is_empty() {
            input.len() - pos
        } else {
            chunks[i % chunks.len()].max(1).min(input.len() - pos)
        };
        i += 1;
        buf.extend_from_slice(&input[pos..pos + n]);
        pos += n;
    }
}

/// Everything the connection queued for the transport.
pub(super) fn transmitted(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = conn.poll_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

/// A Close frame payload.
pub(super) fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut out = BytesMut::new();
    CloseFrame {
        code,
        reason: reason.into(),
    }
    .encode(&mut out);
    out.to_vec()
}
