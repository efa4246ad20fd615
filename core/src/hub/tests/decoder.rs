//! The incremental decoder: every split point, byte by byte, several messages per chunk,
//! unknown types skipped, the size limit, poisoning, and a JSON handshake followed by binary
//! frames in one chunk.

use bytes::{Bytes, BytesMut};

use super::{all_types, h, headers, invocation, js, mp};
use crate::hub::{
    CodecError, HandshakeReader, HandshakeResponse, Headers, HubDecoder, HubMessage, HubProtocol,
    RawValue, encode,
};

fn raw_for(protocol: HubProtocol) -> impl Fn(&str) -> RawValue {
    move |text| js(text).to_protocol(protocol).unwrap()
}

/// Every message type, with and without headers, framed back to back.
fn stream_of(protocol: HubProtocol) -> (Vec<HubMessage>, Vec<u8>) {
    let mut msgs = all_types(&Headers::new(), raw_for(protocol));
    msgs.extend(all_types(&headers(&[("h", "1")]), raw_for(protocol)));
    let mut wire = BytesMut::new();
    for m in &msgs {
        encode(protocol, m, &mut wire).unwrap();
    }
    (msgs, wire.to_vec())
}

fn drain(dec: &mut HubDecoder, into: &mut Vec<HubMessage>) {
    while let Some(m) = dec.next_message().unwrap() {
        into.push(m);
    }
}

fn decode_in_chunks(protocol: HubProtocol, chunks: &[&[u8]]) -> Vec<HubMessage> {
    let mut dec = HubDecoder::new(protocol, 1 << 20);
    let mut out = Vec::new();
    for chunk in chunks {
        dec.feed(chunk);
        drain(&mut dec, &mut out);
    }
    assert_eq!(dec.buffered_len(), 0, "bytes left over");
    out
}

#[test]
fn every_split_point_both_protocols() {
    for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
        let (msgs, wire) = stream_of(protocol);
        assert_eq!(
            decode_in_chunks(protocol, &[&wire]),
            msgs,
            "{protocol:?} one chunk"
        );
        for split in 0..=wire.len() {
            let (a, b) = wire.split_at(split);
            assert_eq!(
                decode_in_chunks(protocol, &[a, b]),
                msgs,
                "{protocol:?} split {split}"
            );
        }
    }
}

#[test]
fn byte_by_byte_both_protocols() {
    for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
        let (msgs, wire) = stream_of(protocol);
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(decode_in_chunks(protocol, &bytes), msgs, "{protocol:?}");
    }
}

#[test]
fn partial_message_waits_and_is_counted_as_buffered() {
    let mut dec = HubDecoder::new(HubProtocol::MessagePack, 1024);
    dec.feed(&h("02 91"));
    assert_eq!(dec.next_message(), Ok(None));
    assert_eq!(dec.buffered_len(), 2);
    dec.feed(&h("06 02"));
    assert_eq!(dec.next_message(), Ok(Some(HubMessage::Ping)));
    assert_eq!(dec.buffered_len(), 1);
    assert_eq!(dec.next_message(), Ok(None));
}

#[test]
fn unknown_types_are_skipped_and_counted() {
    let mut dec = HubDecoder::new(HubProtocol::Json, 1024);
    dec.feed(b"{\"type\":99,\"x\":[1]}\x1e{\"type\":6}\x1e{\"type\":0}\x1e");
    assert_eq!(dec.next_message(), Ok(Some(HubMessage::Ping)));
    assert_eq!(dec.skipped_unknown(), 1);
    assert_eq!(dec.next_message(), Ok(None));
    assert_eq!(dec.skipped_unknown(), 2);

    let mut dec = HubDecoder::new(HubProtocol::MessagePack, 1024);
    dec.feed(&h("03 92 0a 80 02 91 06"));
    assert_eq!(dec.next_message(), Ok(Some(HubMessage::Ping)));
    assert_eq!(dec.skipped_unknown(), 1);
}

#[test]
fn json_size_limit_counts_text_without_separator() {
    // Exactly at the limit: fine, with or without its separator yet.
    let mut dec = HubDecoder::new(HubProtocol::Json, 10);
    dec.feed(b"{\"type\":6}");
    assert_eq!(dec.next_message(), Ok(None));
    dec.feed(b"\x1e");
    assert_eq!(dec.next_message(), Ok(Some(HubMessage::Ping)));

    // One byte more without a separator fails at once.
    let mut dec = HubDecoder::new(HubProtocol::Json, 10);
    dec.feed(b"{\"type\": 6");
    assert_eq!(dec.next_message(), Ok(None));
    dec.feed(b"}");
    let err = CodecError::MessageTooLarge { len: 11, max: 10 };
    assert_eq!(dec.next_message(), Err(err.clone()));
    // Poisoned: the same error, whatever follows.
    dec.feed(b"\x1e{\"type\":6}\x1e");
    assert_eq!(dec.next_message(), Err(err));

    // A long message arriving whole with its separator fails too.
    let mut dec = HubDecoder::new(HubProtocol::Json, 10);
    dec.feed(b"{\"type\": 6}\x1e");
    assert_eq!(
        dec.next_message(),
        Err(CodecError::MessageTooLarge { len: 11, max: 10 })
    );
}

#[test]
fn msgpack_size_limit_is_checked_on_the_prefix() {
    let mut dec = HubDecoder::new(HubProtocol::MessagePack, 100);
    dec.feed(&h("65"));
    assert_eq!(
        dec.next_message(),
        Err(CodecError::MessageTooLarge { len: 101, max: 100 })
    );
    let mut dec = HubDecoder::new(HubProtocol::MessagePack, 100);
    dec.feed(&h("ff ff ff ff 07"));
    assert_eq!(
        dec.next_message(),
        Err(CodecError::MessageTooLarge {
            len: 0x7FFF_FFFF,
            max: 100
        })
    );
    let mut dec = HubDecoder::new(HubProtocol::MessagePack, usize::MAX);
    dec.feed(&h("80 80 80 80 80 01"));
    assert_eq!(dec.next_message(), Err(CodecError::VarIntTooLong));
}

#[test]
fn invalid_message_poisons_the_decoder() {
    let mut dec = HubDecoder::new(HubProtocol::Json, 1024);
    dec.feed(b"{\"type\":6}\x1e{\"type\":1}\x1e{\"type\":6}\x1e");
    assert_eq!(dec.next_message(), Ok(Some(HubMessage::Ping)));
    let err = CodecError::MissingField("target");
    assert_eq!(dec.next_message(), Err(err.clone()));
    assert_eq!(dec.next_message(), Err(err));
}

#[test]
fn feed_bytes_takes_over_unshared_buffers_without_copy() {
    let msg = HubMessage::StreamItem {
        headers: Headers::new(),
        invocation_id: "1".into(),
        item: mp("92 01 02"),
    };
    let mut wire = BytesMut::new();
    encode(HubProtocol::MessagePack, &msg, &mut wire).unwrap();
    let wire: Bytes = Bytes::from(wire.to_vec());
    let range = wire.as_ptr_range();
    let mut dec = HubDecoder::new(HubProtocol::MessagePack, 1024);
    dec.feed_bytes(wire);
    let Some(HubMessage::StreamItem { item, .. }) = dec.next_message().unwrap() else {
        panic!("not a stream item");
    };
    assert_eq!(item, mp("92 01 02"));
    assert!(range.contains(&item.as_bytes().as_ptr()), "item was copied");

    // Shared or appended data is copied, and still decodes.
    let shared = Bytes::from_static(b"{\"type\":6}\x1e{\"ty");
    let mut dec = HubDecoder::new(HubProtocol::Json, 1024);
    dec.feed_bytes(shared.clone());
    dec.feed_bytes(Bytes::from_static(b"pe\":6}\x1e"));
    assert_eq!(dec.next_message(), Ok(Some(HubMessage::Ping)));
    assert_eq!(dec.next_message(), Ok(Some(HubMessage::Ping)));
    assert_eq!(dec.next_message(), Ok(None));
}

#[test]
fn json_handshake_then_binary_frames_in_one_chunk() {
    let msgs = vec![
        HubMessage::Ping,
        HubMessage::Invocation(invocation(Some("0"), "Echo", vec![mp("a2 68 69")])),
    ];
    let mut chunk = BytesMut::from(&b"{}\x1e"[..]);
    for m in &msgs {
        encode(HubProtocol::MessagePack, m, &mut chunk).unwrap();
    }
    // Split anywhere: the handshake reader hands over the bytes after the separator.
    for split in 0..=chunk.len() {
        let mut reader = HandshakeReader::<HandshakeResponse>::new();
        let mut dec = HubDecoder::new(HubProtocol::MessagePack, 1024);
        let mut out = Vec::new();
        let mut handshake = None;
        for part in [&chunk[..split], &chunk[split..]] {
            if handshake.is_none() {
                if let Some((resp, rest)) = reader.feed(part).unwrap() {
                    handshake = Some(resp);
                    dec.feed_bytes(rest);
                }
            } else {
                dec.feed(part);
            }
            drain(&mut dec, &mut out);
        }
        assert_eq!(
            handshake,
            Some(HandshakeResponse::success()),
            "split {split}"
        );
        assert_eq!(out, msgs, "split {split}");
    }
}
