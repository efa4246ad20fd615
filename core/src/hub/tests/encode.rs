//! The encoder's buffer sizing: the MessagePack body size hint (exact for MessagePack raw
//! values), the room left for the length prefix and the move when a transcoded value makes
//! the prefix shorter or longer, the JSON size hint.

use bytes::BytesMut;

use super::{all_types, headers, invocation, js, mp};
use crate::hub::{
    CodecError, Headers, HubMessage, HubProtocol, RawValue, encode, encode_to_bytes, json, msgpack,
    varint,
};

const MP: HubProtocol = HubProtocol::MessagePack;

fn msgpack_body(msg: &HubMessage) -> Vec<u8> {
    let mut body = Vec::new();
    msgpack::write_message(msg, &mut body).unwrap();
    body
}

/// The frame as prefix + body, built the straightforward way.
fn expected_frame(msg: &HubMessage) -> Vec<u8> {
    let body = msgpack_body(msg);
    let mut frame = BytesMut::new();
    varint::encode(body.len(), &mut frame).unwrap();
    frame.extend_from_slice(&body);
    frame.to_vec()
}

fn big_messages() -> Vec<HubMessage> {
    let long = |n: usize| "é".repeat(n / 2);
    let many: Headers = (0..20)
        .map(|i| (format!("k{i}"), long(300)))
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    let mut inv = invocation(
        Some(&long(70_000)),
        &long(300),
        (0..20).map(|i| mp(&format!("{:02x}", i))).collect(),
    );
    inv.headers = many.clone();
    inv.stream_ids = (0..17).map(|i| i.to_string()).collect();
    let bin = RawValue::MessagePack({
        let mut v = vec![0xC5, 0x40, 0x00];
        v.resize(3 + 0x4000, 7);
        v.into()
    });
    vec![
        HubMessage::Invocation(inv),
        HubMessage::StreamItem {
            headers: many,
            invocation_id: long(40),
            item: bin,
        },
        HubMessage::Ack {
            sequence_id: u64::MAX,
        },
        HubMessage::Sequence { sequence_id: 300 },
        HubMessage::Close {
            error: Some(long(100_000)),
            allow_reconnect: true,
        },
    ]
}

#[test]
fn msgpack_size_hint_is_exact_for_msgpack_values() {
    let to_mp = |t: &str| js(t).to_protocol(MP).unwrap();
    let mut msgs = all_types(&Headers::new(), to_mp);
    msgs.extend(all_types(
        &headers(&[("a", "b"), ("long", &"x".repeat(40))]),
        to_mp,
    ));
    msgs.extend(big_messages());
    for msg in &msgs {
        let body = msgpack_body(msg);
        assert_eq!(msgpack::body_size_hint(msg), body.len(), "{msg:?}");
        assert_eq!(encode_to_bytes(MP, msg).unwrap(), expected_frame(msg));
    }
}

#[test]
fn prefix_room_adapts_when_a_transcoded_value_changes_the_prefix_size() {
    // 20 escapes: 122 B of JSON text, 21 B of MessagePack — the hint (≥ 128) asks for a
    // 2-byte prefix, the body needs 1.
    let shrinking = js(&format!("\"{}\"", r"\u0041".repeat(20)));
    // 25 numbers `1e9`: 101 B of JSON, 226 B of MessagePack (float 64).
    let growing = js(&format!("[{}]", vec!["1e9"; 25].join(",")));
    // Around the 16 KiB boundary: 2 → 3 bytes.
    let growing_more = js(&format!("[{}]", vec!["1e9"; 3_500].join(",")));
    let shrinking_more = js(&format!("\"{}\"", r"\u0041".repeat(3_000)));
    for (value, hint_prefix, body_prefix) in [
        (shrinking, 2, 1),
        (growing, 1, 2),
        (growing_more, 2, 3),
        (shrinking_more, 3, 2),
    ] {
        let msg = HubMessage::Invocation(invocation(None, "m", vec![value.clone()]));
        let body = msgpack_body(&msg);
        assert_eq!(
            varint::encoded_len(msgpack::body_size_hint(&msg)),
            hint_prefix
        );
        assert_eq!(varint::encoded_len(body.len()), body_prefix);
        // Alone, and after bytes already in the buffer.
        assert_eq!(encode_to_bytes(MP, &msg).unwrap(), expected_frame(&msg));
        let mut out = BytesMut::from(&b"prev"[..]);
        encode(MP, &msg, &mut out).unwrap();
        assert_eq!(&out[..4], b"prev");
        assert_eq!(&out[4..], expected_frame(&msg).as_slice());
        let decoded = super::decode_known(MP, &out[4 + body_prefix..]);
        let HubMessage::Invocation(inv) = decoded else {
            panic!("{decoded:?}")
        };
        assert_eq!(inv.arguments, vec![value.to_protocol(MP).unwrap()]);
    }
}

#[test]
fn failed_msgpack_encode_leaves_the_buffer_as_it_was() {
    let mut out = BytesMut::from(&b"prev"[..]);
    let no_id = HubMessage::StreamInvocation(invocation(None, "m", vec![mp("2a")]));
    assert_eq!(
        encode(MP, &no_id, &mut out),
        Err(CodecError::MissingField("invocationId"))
    );
    // A bad JSON value after a good one: the body was half written.
    let bad = HubMessage::Invocation(invocation(None, "m", vec![js("1"), js("[1,")]));
    assert!(matches!(
        encode(MP, &bad, &mut out),
        Err(CodecError::Value(_))
    ));
    assert_eq!(&out[..], b"prev");
}

#[test]
fn json_size_hint_is_exact_without_escapes() {
    let mut msgs = all_types(&headers(&[("a", "b")]), js);
    msgs.extend(all_types(&Headers::new(), js));
    msgs.push(HubMessage::Close {
        error: Some("x".into()),
        allow_reconnect: false,
    });
    for msg in &msgs {
        let mut out = BytesMut::new();
        json::write_message(msg, &mut out).unwrap();
        let hint = json::size_hint(msg);
        match msg {
            HubMessage::Ack { .. } | HubMessage::Sequence { .. } => {
                assert!(hint >= out.len(), "{msg:?}")
            }
            // "boom \"quoted\"\n": 3 escapes.
            HubMessage::Completion {
                result: crate::hub::CompletionResult::Error(_),
                ..
            } => assert_eq!(hint + 3, out.len(), "{msg:?}"),
            _ => assert_eq!(hint, out.len(), "{msg:?}"),
        }
    }
}

#[test]
fn a_separator_anywhere_in_a_json_value_is_refused() {
    use crate::hub::{CompletionResult, ValueError};
    for len in [1usize, 15, 16, 31, 32, 33, 63, 64, 65, 100, 1000] {
        for at in [0, len / 2, len - 1] {
            let mut text = vec![b' '; len];
            text[at] = crate::hub::RECORD_SEPARATOR;
            let value = RawValue::Json(text.into());
            let messages = [
                HubMessage::Invocation(invocation(None, "m", vec![js("1"), value.clone()])),
                HubMessage::StreamItem {
                    headers: Headers::new(),
                    invocation_id: "1".into(),
                    item: value.clone(),
                },
                HubMessage::Completion {
                    headers: Headers::new(),
                    invocation_id: "1".into(),
                    result: CompletionResult::Value(value.clone()),
                },
            ];
            for msg in &messages {
                let mut out = BytesMut::from(&b"prev"[..]);
                assert!(matches!(
                    encode(HubProtocol::Json, msg, &mut out),
                    Err(CodecError::Value(ValueError::InvalidJson(_)))
                ));
                assert_eq!(&out[..], b"prev");
            }
        }
    }
}
