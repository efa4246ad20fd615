//! The length prefix of MessagePack hub frames (spec `signalr.md` §2): a LEB128-style VarInt
//! of 1–5 bytes, 7 bits per byte, least significant group first, the high bit set on every
//! byte but the last. The largest length is `0x7FFF_FFFF` (`FF FF FF FF 07`).
//!
//! This module only encodes and decodes the prefix; [`HubDecoder`](super::HubDecoder) uses it
//! to cut frames and enforces the configured message size limit.

use bytes::{BufMut, BytesMut};

use super::codec::CodecError;

/// The largest length a prefix may carry: 2³¹ − 1 bytes.
pub const MAX_LEN: usize = 0x7FFF_FFFF;

/// The longest prefix: 5 bytes.
pub const MAX_PREFIX_LEN: usize = 5;

/// Appends the prefix for a body of `len` bytes to `out`.
///
/// Fails with [`CodecError::MessageTooLarge`] when `len` exceeds [`MAX_LEN`]; nothing is
/// written then.
pub fn encode(len: usize, out: &mut BytesMut) -> Result<(), CodecError> {
    let (bytes, n) = prefix(len)?;
    out.put_slice(&bytes[..n]);
    Ok(())
}

/// The prefix for a body of `len` bytes: a buffer and how many of its bytes are the prefix.
///
/// Fails like [`encode`] when `len` exceeds [`MAX_LEN`].
pub fn prefix(len: usize) -> Result<([u8; MAX_PREFIX_LEN], usize), CodecError> {
    if len > MAX_LEN {
        return Err(CodecError::MessageTooLarge {
            len: len as u64,
            max: MAX_LEN as u64,
        });
    }
    let mut bytes = [0; MAX_PREFIX_LEN];
    let mut rest = len;
    for (i, byte) in bytes.iter_mut().enumerate() {
        let group = (rest & 0x7F) as u8;
        rest >>= 7;
        if rest == 0 {
            *byte = group;
            return Ok((bytes, i + 1));
        }
        *byte = group | 0x80;
    }
    unreachable!("a length of at most 2^31 - 1 takes at most 5 groups of 7 bits")
}

/// How many bytes the prefix for `len` takes (1–5; lengths over [`MAX_LEN`] count as 5).
pub fn encoded_len(len: usize) -> usize {
    match len {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        0x20_0000..0x1000_0000 => 4,
        _ => 5,
    }
}

/// Decodes a prefix from the front of `buf`.
///
/// Returns `Ok(None)` when `buf` ends before the prefix does (feed more bytes), or
/// `Ok(Some((len, prefix_bytes)))`. Overlong but valid encodings (`80 00` for 0) are accepted,
/// as .NET does. Fails with [`CodecError::VarIntTooLong`] when a fifth byte still has its
/// continuation bit set (a sixth byte would follow), and with [`CodecError::MessageTooLarge`]
/// when the five-byte value exceeds [`MAX_LEN`].
pub fn decode(buf: &[u8]) -> Result<Option<(usize, usize)>, CodecError> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().take(MAX_PREFIX_LEN).enumerate() {
        value |= u64::from(byte & 0x7F) << (7 * i);
        if byte & 0x80 == 0 {
            if value > MAX_LEN as u64 {
                return Err(CodecError::MessageTooLarge {
                    len: value,
                    max: MAX_LEN as u64,
                });
            }
            return Ok(Some((value as usize, i + 1)));
        }
        if i + 1 == MAX_PREFIX_LEN {
            return Err(CodecError::VarIntTooLong);
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(len: usize) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(len, &mut out).unwrap();
        out.to_vec()
    }

    #[test]
    fn golden_prefixes() {
        let cases: &[(usize, &[u8])] = &[
            (0, &[0x00]),
            (53, &[0x35]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (5248, &[0x80, 0x29]),
            (16_383, &[0xFF, 0x7F]),
            (16_384, &[0x80, 0x80, 0x01]),
            (MAX_LEN, &[0xFF, 0xFF, 0xFF, 0xFF, 0x07]),
        ];
        for &(len, wire) in cases {
            assert_eq!(enc(len), wire, "encode {len}");
            assert_eq!(decode(wire), Ok(Some((len, wire.len()))), "decode {len}");
        }
    }

    #[test]
    fn decode_ignores_the_body_after_the_prefix() {
        assert_eq!(decode(&[0x80, 0x29, 0xAA, 0xBB]), Ok(Some((5248, 2))));
    }

    #[test]
    fn incomplete_prefix_needs_more_data() {
        assert_eq!(decode(&[]), Ok(None));
        assert_eq!(decode(&[0x80]), Ok(None));
        assert_eq!(decode(&[0xFF, 0xFF, 0xFF, 0xFF]), Ok(None));
    }

    #[test]
    fn overlong_encoding_is_accepted() {
        assert_eq!(decode(&[0x80, 0x00]), Ok(Some((0, 2))));
    }

    #[test]
    fn sixth_byte_is_rejected() {
        assert_eq!(
            decode(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(CodecError::VarIntTooLong)
        );
        // Rejected as soon as the fifth byte shows a continuation bit.
        assert_eq!(
            decode(&[0xFF, 0xFF, 0xFF, 0xFF, 0x87]),
            Err(CodecError::VarIntTooLong)
        );
    }

    #[test]
    fn over_two_gigabytes_is_rejected() {
        // 2^31 = 80 80 80 80 08.
        assert_eq!(
            decode(&[0x80, 0x80, 0x80, 0x80, 0x08]),
            Err(CodecError::MessageTooLarge {
                len: 1 << 31,
                max: MAX_LEN as u64
            })
        );
        assert!(matches!(
            decode(&[0xFF, 0xFF, 0xFF, 0xFF, 0x7F]),
            Err(CodecError::MessageTooLarge { .. })
        ));
        let mut out = BytesMut::new();
        assert!(encode(MAX_LEN + 1, &mut out).is_err());
        assert!(out.is_empty());
    }

    #[test]
    fn every_length_round_trips_across_group_boundaries() {
        for shift in 0..31 {
            for len in [(1usize << shift) - 1, 1 << shift, (1 << shift) + 1] {
                let wire = enc(len);
                assert_eq!(decode(&wire), Ok(Some((len, wire.len()))));
            }
        }
    }

    #[test]
    fn encoded_len_and_prefix_agree_with_encode() {
        for shift in 0..31 {
            for len in [(1usize << shift) - 1, 1 << shift, (1 << shift) + 1] {
                let len = len.min(MAX_LEN);
                let wire = enc(len);
                assert_eq!(encoded_len(len), wire.len(), "{len}");
                let (bytes, n) = prefix(len).unwrap();
                assert_eq!(&bytes[..n], wire.as_slice(), "{len}");
            }
        }
        assert_eq!(encoded_len(MAX_LEN), MAX_PREFIX_LEN);
        assert!(prefix(MAX_LEN + 1).is_err());
    }
}
