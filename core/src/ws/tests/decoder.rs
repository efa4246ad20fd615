//! The streaming decoder: golden vectors, piecewise delivery, split invariance, forwarding.

use bytes::BytesMut;
use proptest::prelude::*;

use super::{decode_chunked, frame, hex, masked};
use crate::ws::{
    FrameDecoder, FrameHeader, FrameItem, FrameLimits, OpCode, ProtocolError, Role, apply_mask,
};

fn client_side() -> FrameDecoder {
    FrameDecoder::new(Role::Client, FrameLimits::default())
}

fn server_side() -> FrameDecoder {
    FrameDecoder::new(Role::Server, FrameLimits::default())
}

#[test]
fn golden_unmasked_hello_decodes() {
    let frames = decode_chunked(&mut client_side(), &hex("81 05 48 65 6c 6c 6f"), &[]).unwrap();
    assert_eq!(frames.len(), 1);
    let (h, payload) = &frames[0];
    assert!(h.fin && h.mask.is_none() && h.opcode == OpCode::Text && h.rsv == 0);
    assert_eq!(payload, b"Hello");
}

#[test]
fn golden_masked_hello_decodes_unmasked() {
    let bytes = hex("81 85 37 fa 21 3d 7f 9f 4d 51 58");
    let frames = decode_chunked(&mut server_side(), &bytes, &[]).unwrap();
    assert_eq!(frames[0].0.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
    assert_eq!(frames[0].1, b"Hello");
}

#[test]
fn golden_fragments_and_ping_decode() {
    let mut bytes = hex("01 03 48 65 6c");
    bytes.extend(hex("89 05 48 65 6c 6c 6f"));
    bytes.extend(hex("80 02 6c 6f"));
    let mut dec = client_side();
    let frames = decode_chunked(&mut dec, &bytes, &[1]).unwrap();
    let kinds: Vec<(OpCode, bool, &[u8])> = frames
        .iter()
        .map(|(h, p)| (h.opcode, h.fin, p.as_slice()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (OpCode::Text, false, &b"Hel"[..]),
            (OpCode::Ping, true, &b"Hello"[..]),
            (OpCode::Continuation, true, &b"lo"[..]),
        ]
    );
    assert_eq!(dec.message_opcode(), Some(OpCode::Text));
    assert!(!dec.in_message());
}

#[test]
fn golden_long_lengths_decode() {
    for len in [256usize, 65536] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let bytes = frame(true, OpCode::Binary, &payload, None);
        let frames = decode_chunked(&mut client_side(), &bytes, &[7, 1000, 3]).unwrap();
        assert_eq!(frames[0].0.payload_len, len as u64);
        assert_eq!(frames[0].1, payload);
    }
}

#[test]
fn payload_is_yielded_as_it_arrives() {
    let bytes = masked(true, OpCode::Binary, b"abcdef");
    let mut dec = server_side();
    let mut buf = BytesMut::from(&bytes[..1]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        None,
        "one header byte is not enough"
    );
    buf.extend_from_slice(&bytes[1..6 + 2]); // header (6 bytes) + "ab"
    assert!(matches!(
        dec.decode(&mut buf).unwrap(),
        Some(FrameItem::Header(_))
    ));
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(FrameItem::Payload("ab".into()))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    buf.extend_from_slice(&bytes[8..]);
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(FrameItem::Payload("cdef".into()))
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(FrameItem::FrameEnd));
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert!(buf.is_empty());
}

#[test]
fn empty_frame_yields_header_then_end() {
    let mut buf = BytesMut::from(&frame(true, OpCode::Binary, b"", None)[..]);
    let mut dec = client_side();
    assert!(
        matches!(dec.decode(&mut buf).unwrap(), Some(FrameItem::Header(h)) if h.payload_len == 0)
    );
    assert_eq!(dec.decode(&mut buf).unwrap(), Some(FrameItem::FrameEnd));
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
}

#[test]
fn non_minimal_length_is_accepted() {
    let mut bytes = hex("82 7E 00 03");
    bytes.extend_from_slice(b"abc");
    let frames = decode_chunked(&mut client_side(), &bytes, &[]).unwrap();
    assert_eq!(frames[0].1, b"abc");
}

#[test]
fn decoder_errors_in_header_order_and_poisoning() {
    // Reserved bits are reported before anything else in the header.
    let mut dec = server_side();
    let mut buf = BytesMut::from(&hex("F3")[..]);
    assert_eq!(
        dec.decode(&mut buf),
        Err(ProtocolError::ReservedBits(0b111))
    );
    buf.extend_from_slice(&masked(true, OpCode::Text, b"ok"));
    assert_eq!(
        dec.decode(&mut buf),
        Err(ProtocolError::ReservedBits(0b111))
    );
    // Detected from the first byte, before the rest of the header arrives.
    let mut dec = server_side();
    let mut buf = BytesMut::from(&hex("83")[..]);
    assert_eq!(dec.decode(&mut buf), Err(ProtocolError::ReservedOpcode(3)));
}

#[test]
fn invalid_utf8_fails_at_the_bad_piece() {
    let mut dec = server_side();
    let bytes = masked(true, OpCode::Text, &[b'a', b'b', 0xFF, b'c']);
    let mut buf = BytesMut::from(&bytes[..6 + 2]);
    assert!(matches!(
        dec.decode(&mut buf).unwrap(),
        Some(FrameItem::Header(_))
    ));
    assert_eq!(
        dec.decode(&mut buf).unwrap(),
        Some(FrameItem::Payload("ab".into()))
    );
    buf.extend_from_slice(&bytes[8..9]);
    assert_eq!(dec.decode(&mut buf), Err(ProtocolError::InvalidUtf8));
}

#[test]
fn text_ending_mid_codepoint_fails_at_the_final_frame_end() {
    let mut input = masked(false, OpCode::Text, b"\xE2");
    input.extend(masked(true, OpCode::Continuation, b"\x82"));
    // Every frame but the last one decodes; the error comes at the final FrameEnd.
    let mut dec = server_side();
    let mut buf = BytesMut::from(&input[..]);
    let mut items = Vec::new();
    let error = loop {
        match dec.decode(&mut buf) {
            Ok(Some(item)) => items.push(item),
            Ok(None) => panic!("error expected"),
            Err(e) => break e,
        }
    };
    assert_eq!(error, ProtocolError::InvalidUtf8);
    assert_eq!(
        items.len(),
        5,
        "header, piece, end, header, piece: {items:?}"
    );
}

#[test]
fn binary_is_not_utf8_checked() {
    let bytes = masked(true, OpCode::Binary, &[0xFF, 0xC0]);
    assert!(decode_chunked(&mut server_side(), &bytes, &[]).is_ok());
}

#[test]
fn unlimited_limits_accept_a_huge_announced_length() {
    let mut dec = FrameDecoder::new(Role::Client, FrameLimits::unlimited());
    let mut buf = BytesMut::from(&hex("82 7F 00 00 00 10 00 00 00 00")[..]);
    match dec.decode(&mut buf).unwrap() {
        Some(FrameItem::Header(h)) => assert_eq!(h.payload_len, 1 << 36),
        other => panic!("{other:?}"),
    }
    assert_eq!(FrameLimits::default().max_frame_payload, 16 * 1024 * 1024);
    assert_eq!(FrameLimits::default().max_message_size, 64 * 1024 * 1024);
}

/// Forwards masked client frames the way the relay does: header without mask, then the
/// unmasked pieces as they come.
fn forward(input: &[u8], chunks: &[usize]) -> Vec<u8> {
    let mut dec = FrameDecoder::new(Role::Server, FrameLimits::unlimited());
    let mut buf = BytesMut::new();
    let mut out = BytesMut::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < input.len() {
        let n = chunks[i % chunks.len()].clamp(1, input.len() - pos);
        i += 1;
        buf.extend_from_slice(&input[pos..pos + n]);
        pos += n;
        while let Some(item) = dec.decode(&mut buf).unwrap() {
            match item {
                FrameItem::Header(h) => h.with_mask(None).encode(&mut out),
                FrameItem::Payload(piece) => out.extend_from_slice(&piece),
                FrameItem::FrameEnd => {}
            }
        }
    }
    out.to_vec()
}

#[test]
fn forwarded_frames_equal_the_originals_unmasked() {
    let mut input = masked(false, OpCode::Binary, &[1; 300]);
    input.extend(masked(true, OpCode::Ping, b"p"));
    input.extend(masked(true, OpCode::Continuation, &[2; 70000]));
    let mut expected = frame(false, OpCode::Binary, &[1; 300], None);
    expected.extend(frame(true, OpCode::Ping, b"p", None));
    expected.extend(frame(true, OpCode::Continuation, &[2; 70000], None));
    assert_eq!(forward(&input, &[1, 4096, 13]), expected);
}

#[test]
fn forwarding_with_a_new_mask_masks_pieces_at_their_offset() {
    let new_key = [9, 8, 7, 6];
    let input = masked(true, OpCode::Binary, b"streamed body bytes");
    let mut dec = server_side();
    let mut buf = BytesMut::new();
    let mut out = BytesMut::new();
    let mut offset = 0u64;
    for b in &input {
        buf.extend_from_slice(std::slice::from_ref(b));
        while let Some(item) = dec.decode(&mut buf).unwrap() {
            match item {
                FrameItem::Header(h) => h.with_mask(Some(new_key)).encode(&mut out),
                FrameItem::Payload(piece) => {
                    let mut piece = piece.to_vec();
                    apply_mask(new_key, offset, &mut piece);
                    offset += piece.len() as u64;
                    out.extend_from_slice(&piece);
                }
                FrameItem::FrameEnd => {}
            }
        }
    }
    let expected = frame(true, OpCode::Binary, b"streamed body bytes", Some(new_key));
    assert_eq!(out.to_vec(), expected);
}

/// A random stream of client frames: messages (text or binary, split into fragments) with
/// pings in between, and the frames expected after decoding.
fn frames_strategy() -> impl Strategy<Value = (Vec<u8>, Vec<(FrameHeader, Vec<u8>)>)> {
    let message = (
        any::<bool>(),
        ".{0,12}",
        proptest::collection::vec(any::<u8>(), 0..40),
        proptest::collection::vec(0usize..40, 0..3),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..5)),
        any::<[u8; 4]>(),
    );
    proptest::collection::vec(message, 0..5).prop_map(|messages| {
        let mut wire = Vec::new();
        let mut expected = Vec::new();
        for (is_text, text, binary, cuts, ping, key) in messages {
            let (opcode, body) = if is_text {
                (OpCode::Text, text.into_bytes())
            } else {
                (OpCode::Binary, binary)
            };
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(body.len())).collect();
            cuts.push(0);
            cuts.push(body.len());
            cuts.sort_unstable();
            let count = cuts.len() - 1;
            for (i, w) in cuts.windows(2).enumerate() {
                let op = if i == 0 { opcode } else { OpCode::Continuation };
                let fin = i + 1 == count;
                let piece = &body[w[0]..w[1]];
                wire.extend(frame(fin, op, piece, Some(key)));
                let header = FrameHeader {
                    fin,
                    rsv: 0,
                    opcode: op,
                    mask: Some(key),
                    payload_len: piece.len() as u64,
                };
                expected.push((header, piece.to_vec()));
                if i == 0
                    && let Some(ping) = &ping
                {
                    wire.extend(frame(true, OpCode::Ping, ping, Some(key)));
                    let header = FrameHeader {
                        opcode: OpCode::Ping,
                        fin: true,
                        payload_len: ping.len() as u64,
                        ..header
                    };
                    expected.push((header, ping.clone()));
                }
            }
        }
        (wire, expected)
    })
}

proptest! {
    #[test]
    fn any_split_decodes_the_same((wire, expected) in frames_strategy(),
                                  chunks in proptest::collection::vec(1usize..20, 1..6)) {
        let whole = decode_chunked(&mut server_side(), &wire, &[]).unwrap();
        prop_assert_eq!(&whole, &expected);
        let chunked = decode_chunked(&mut server_side(), &wire, &chunks).unwrap();
        prop_assert_eq!(&chunked, &expected);
        let bytewise = decode_chunked(&mut server_side(), &wire, &[1]).unwrap();
        prop_assert_eq!(&bytewise, &expected);
    }

    #[test]
    fn forwarding_is_identity_up_to_mask((wire, expected) in frames_strategy(),
                                         chunks in proptest::collection::vec(1usize..20, 1..6)) {
        let mut unmasked = Vec::new();
        for (h, payload) in &expected {
            unmasked.extend(frame(h.fin, h.opcode, payload, None));
        }
        prop_assert_eq!(forward(&wire, &chunks), unmasked);
    }
}
