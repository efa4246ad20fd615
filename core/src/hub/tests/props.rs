//! Property tests: encode → decode is the identity for arbitrary messages in both protocols
//! and any chunking; JSON → MessagePack → JSON keeps compact JSON text; decoders never panic.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::js;
use crate::hub::{
    CompletionResult, Headers, HubDecoder, HubMessage, HubProtocol, Invocation, RawValue, encode,
    encode_to_bytes,
};

/// Compact JSON text of an arbitrary value, as serde_json (and our transcoder) writes it.
fn json_text() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        any::<bool>().prop_map(|b| b.to_string()),
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| serde_json::Number::from_f64(f).unwrap().to_string()),
        ".*".prop_map(|s| serde_json::to_string(&s).unwrap()),
    ];
    leaf.prop_recursive(4, 32, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec((".{0,8}", inner), 0..5).prop_map(|kv| {
                let members: Vec<String> = kv
                    .into_iter()
                    .map(|(k, v)| format!("{}:{v}", serde_json::to_string(&k).unwrap()))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
}

fn raw(protocol: HubProtocol) -> impl Strategy<Value = RawValue> {
    json_text().prop_map(move |t| js(&t).to_protocol(protocol).unwrap())
}

fn headers() -> impl Strategy<Value = Headers> {
    prop::collection::btree_map(".{0,6}", ".{0,6}", 0..3)
}

fn invocation(protocol: HubProtocol, id_required: bool) -> impl Strategy<Value = Invocation> {
    let id = if id_required {
        ".{0,6}".prop_map(Some).boxed()
    } else {
        prop::option::of(".{0,6}").boxed()
    };
    (
        headers(),
        id,
        ".{0,10}",
        prop::collection::vec(raw(protocol), 0..4),
        prop::collection::vec("[0-9]{1,3}", 0..3),
    )
        .prop_map(
            |(headers, invocation_id, target, arguments, stream_ids)| Invocation {
                headers,
                invocation_id,
                target,
                arguments,
                stream_ids,
            },
        )
}

fn message(protocol: HubProtocol) -> impl Strategy<Value = HubMessage> {
    let result = prop_oneof![
        Just(CompletionResult::Void),
        raw(protocol).prop_map(CompletionResult::Value),
        ".{0,10}".prop_map(CompletionResult::Error),
    ];
    prop_oneof![
        invocation(protocol, false).prop_map(HubMessage::Invocation),
        (headers(), ".{0,6}", raw(protocol)).prop_map(|(headers, invocation_id, item)| {
            HubMessage::StreamItem {
                headers,
                invocation_id,
                item,
            }
        }),
        (headers(), ".{0,6}", result).prop_map(|(headers, invocation_id, result)| {
            HubMessage::Completion {
                headers,
                invocation_id,
                result,
            }
        }),
        invocation(protocol, true).prop_map(HubMessage::StreamInvocation),
        (headers(), ".{0,6}").prop_map(|(headers, invocation_id)| {
            HubMessage::CancelInvocation {
                headers,
                invocation_id,
            }
        }),
        Just(HubMessage::Ping),
        (prop::option::of(".{0,10}"), any::<bool>()).prop_map(|(error, allow_reconnect)| {
            HubMessage::Close {
                error,
                allow_reconnect,
            }
        }),
        any::<u64>().prop_map(|sequence_id| HubMessage::Ack { sequence_id }),
        any::<u64>().prop_map(|sequence_id| HubMessage::Sequence { sequence_id }),
    ]
}

fn protocol_and_messages() -> impl Strategy<Value = (HubProtocol, Vec<HubMessage>, Vec<usize>)> {
    prop_oneof![Just(HubProtocol::Json), Just(HubProtocol::MessagePack)].prop_flat_map(|p| {
        (
            Just(p),
            prop::collection::vec(message(p), 1..6),
            prop::collection::vec(1usize..64, 0..20),
        )
    })
}

proptest! {
    #[test]
    fn encode_then_decode_is_identity_in_any_chunking((protocol, msgs, cuts) in protocol_and_messages()) {
        let mut wire = BytesMut::new();
        for m in &msgs {
            encode(protocol, m, &mut wire).unwrap();
        }
        let wire = wire.freeze();
        let mut dec = HubDecoder::new(protocol, usize::MAX);
        let mut out = Vec::new();
        let mut at = 0usize;
        for cut in cuts.into_iter().chain(std::iter::once(usize::MAX)) {
            let end = at.saturating_add(cut).min(wire.len());
            dec.feed_bytes(wire.slice(at..end));
            at = end;
            while let Some(m) = dec.next_message().unwrap() {
                out.push(m);
            }
        }
        prop_assert_eq!(out, msgs);
        prop_assert_eq!(dec.buffered_len(), 0);
    }

    #[test]
    fn compact_json_survives_msgpack_and_back(text in json_text()) {
        let mp = js(&text).to_msgpack().unwrap();
        let back = RawValue::MessagePack(mp.clone()).to_json().unwrap();
        prop_assert_eq!(std::str::from_utf8(&back).unwrap(), text.as_str());
        // And MessagePack written by us survives JSON and back, byte for byte.
        prop_assert_eq!(js(std::str::from_utf8(&back).unwrap()).to_msgpack().unwrap(), mp);
    }

    /// Arbitrary bytes never panic a decoder, and whatever decodes re-encodes to a message
    /// that decodes the same.
    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(data in prop::collection::vec(any::<u8>(), 0..256)) {
        for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
            let mut dec = HubDecoder::new(protocol, 128);
            dec.feed_bytes(Bytes::from(data.clone()));
            while let Ok(Some(m)) = dec.next_message() {
                let mut again = HubDecoder::new(protocol, usize::MAX);
                again.feed_bytes(encode_to_bytes(protocol, &m).unwrap());
                prop_assert_eq!(again.next_message(), Ok(Some(m)));
            }
        }
        let _ = RawValue::MessagePack(Bytes::from(data.clone())).to_json();
        let _ = RawValue::Json(Bytes::from(data)).to_msgpack();
    }
}

fn mutated() -> impl Strategy<Value = (HubProtocol, Vec<u8>)> {
    protocol_and_messages().prop_flat_map(|(protocol, msgs, _)| {
        let mut wire = BytesMut::new();
        for m in &msgs {
            encode(protocol, m, &mut wire).unwrap();
        }
        let len = wire.len();
        (
            Just(protocol),
            Just(wire.to_vec()),
            prop::collection::vec((0..len, any::<u8>()), 1..4),
        )
            .prop_map(|(p, mut wire, edits)| {
                for (at, byte) in edits {
                    wire[at] = byte;
                }
                (p, wire)
            })
    })
}

proptest! {
    /// Valid streams with a few bytes overwritten: the decoder reports errors or messages,
    /// never panics, and every message it returns survives re-encoding.
    #[test]
    fn corrupted_streams_fail_cleanly((protocol, wire) in mutated()) {
        let mut dec = HubDecoder::new(protocol, 1 << 16);
        dec.feed(&wire);
        while let Ok(Some(m)) = dec.next_message() {
            let mut again = HubDecoder::new(protocol, usize::MAX);
            again.feed_bytes(encode_to_bytes(protocol, &m).unwrap());
            prop_assert_eq!(again.next_message(), Ok(Some(m)));
        }
    }
}

/// The frame `encode` writes in place, built the straightforward way: the body on its own,
/// then its prefix and the body.
fn frame_the_slow_way(protocol: HubProtocol, msg: &HubMessage) -> Vec<u8> {
    let mut frame = BytesMut::new();
    match protocol {
        HubProtocol::Json => {
            crate::hub::json::write_message(msg, &mut frame).unwrap();
            frame.extend_from_slice(&[crate::hub::RECORD_SEPARATOR]);
        }
        HubProtocol::MessagePack => {
            let mut body = Vec::new();
            crate::hub::msgpack::write_message(msg, &mut body).unwrap();
            crate::hub::varint::encode(body.len(), &mut frame).unwrap();
            frame.extend_from_slice(&body);
        }
    }
    frame.to_vec()
}

proptest! {
    /// Messages with raw values of either format, written in either protocol (so values are
    /// transcoded and size hints are only estimates): the in-place frame is the slow frame,
    /// and with MessagePack values the MessagePack size hint is exact.
    #[test]
    fn in_place_frames_equal_slow_frames(
        (values, msgs, _) in protocol_and_messages(),
        protocol in prop_oneof![Just(HubProtocol::Json), Just(HubProtocol::MessagePack)],
    ) {
        for m in &msgs {
            let mut out = BytesMut::from(&b"prev"[..]);
            encode(protocol, m, &mut out).unwrap();
            prop_assert_eq!(&out[..4], b"prev");
            let slow = frame_the_slow_way(protocol, m);
            prop_assert_eq!(&out[4..], slow.as_slice());
            if (values, protocol) == (HubProtocol::MessagePack, HubProtocol::MessagePack) {
                let mut body = Vec::new();
                crate::hub::msgpack::write_message(m, &mut body).unwrap();
                prop_assert_eq!(crate::hub::msgpack::body_size_hint(m), body.len());
            }
        }
    }
}
