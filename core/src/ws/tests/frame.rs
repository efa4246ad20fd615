//! Encoding: RFC 6455 §5.7 golden vectors, header lengths, masking.

use bytes::BytesMut;
use proptest::prelude::*;

use super::{frame, hex};
use crate::ws::{FrameHeader, OpCode, apply_mask};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

#[test]
fn golden_unmasked_text_hello() {
    assert_eq!(
        frame(true, OpCode::Text, b"Hello", None),
        hex("81 05 48 65 6c 6c 6f")
    );
}

#[test]
fn golden_masked_text_hello() {
    assert_eq!(
        frame(true, OpCode::Text, b"Hello", Some(KEY)),
        hex("81 85 37 fa 21 3d 7f 9f 4d 51 58")
    );
}

#[test]
fn golden_fragmented_text() {
    assert_eq!(
        frame(false, OpCode::Text, b"Hel", None),
        hex("01 03 48 65 6c")
    );
    assert_eq!(
        frame(true, OpCode::Continuation, b"lo", None),
        hex("80 02 6c 6f")
    );
}

#[test]
fn golden_ping_and_masked_pong() {
    assert_eq!(
        frame(true, OpCode::Ping, b"Hello", None),
        hex("89 05 48 65 6c 6c 6f")
    );
    assert_eq!(
        frame(true, OpCode::Pong, b"Hello", Some(KEY)),
        hex("8a 85 37 fa 21 3d 7f 9f 4d 51 58")
    );
}

#[test]
fn golden_256_byte_binary_uses_16_bit_length() {
    let payload = vec![0xAB; 256];
    let bytes = frame(true, OpCode::Binary, &payload, None);
    assert_eq!(&bytes[..4], &hex("82 7E 01 00")[..]);
    assert_eq!(&bytes[4..], &payload[..]);
}

#[test]
fn golden_64k_binary_uses_64_bit_length() {
    let payload = vec![0x5A; 65536];
    let bytes = frame(true, OpCode::Binary, &payload, None);
    assert_eq!(&bytes[..10], &hex("82 7F 00 00 00 00 00 01 00 00")[..]);
    assert_eq!(bytes.len(), 10 + 65536);
}

#[test]
fn header_length_boundaries() {
    for (len, unmasked) in [(0u64, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
        for mask in [None, Some(KEY)] {
            let h = FrameHeader {
                fin: true,
                rsv: 0,
                opcode: OpCode::Binary,
                mask,
                payload_len: len,
            };
            let mut out = BytesMut::new();
            h.encode(&mut out);
            let expected = unmasked + if mask.is_some() { 4 } else { 0 };
            assert_eq!(out.len(), expected, "len {len} mask {mask:?}");
            assert_eq!(h.encoded_len(), expected);
        }
    }
}

#[test]
fn header_encodes_rsv_and_opcode_bits() {
    let h = FrameHeader {
        fin: false,
        rsv: 0b101,
        opcode: OpCode::Close,
        mask: None,
        payload_len: 0,
    };
    let mut out = BytesMut::new();
    h.encode(&mut out);
    assert_eq!(&out[..], &[0b0101_1000, 0][..]);
}

#[test]
fn opcode_wire_values_round_trip() {
    for v in 0u8..16 {
        match OpCode::from_u8(v) {
            Some(op) => assert_eq!(op.as_u8(), v),
            None => assert!(matches!(v, 3..=7 | 0xB..=0xF), "{v} should be valid"),
        }
    }
    assert!(OpCode::Ping.is_control() && !OpCode::Ping.is_data());
    assert!(OpCode::Continuation.is_data() && !OpCode::Text.is_control());
}

fn naive_mask(mask: [u8; 4], offset: u64, data: &mut [u8]) {
    for (i, b) in data.iter_mut().enumerate() {
        *b ^= mask[((offset + i as u64) % 4) as usize];
    }
}

proptest! {
    #[test]
    fn apply_mask_matches_bytewise(data in proptest::collection::vec(any::<u8>(), 0..70),
                                   mask in any::<[u8; 4]>(), offset in 0u64..20) {
        let mut fast = data.clone();
        let mut slow = data.clone();
        apply_mask(mask, offset, &mut fast);
        naive_mask(mask, offset, &mut slow);
        prop_assert_eq!(&fast, &slow);
        apply_mask(mask, offset, &mut fast);
        prop_assert_eq!(fast, data);
    }

    #[test]
    fn apply_mask_piecewise_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..70),
                                         mask in any::<[u8; 4]>(),
                                         cuts in proptest::collection::vec(0usize..70, 0..5)) {
        let mut whole = data.clone();
        apply_mask(mask, 0, &mut whole);
        let mut pieces = data.clone();
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        for w in cuts.windows(2) {
            apply_mask(mask, w[0] as u64, &mut pieces[w[0]..w[1]]);
        }
        prop_assert_eq!(pieces, whole);
    }
}
