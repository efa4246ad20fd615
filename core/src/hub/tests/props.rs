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

// ---- the fast JSON reader against serde_json ----

/// Whitespace JSON allows, and sometimes none.
fn ws() -> impl Strategy<Value = String> {
    prop_oneof![3 => Just(String::new()), 1 => "[ \t\r\n]{1,3}"]
}

/// String literals: plain, with every kind of escape, and some invalid (bad escapes, raw
/// control characters, `\u` with too few hex digits).
fn json_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => "[a-zA-Z0-9 é€😀_-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        2 => ".{0,8}".prop_map(|s| serde_json::to_string(&s).unwrap()),
        1 => "(\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}|[a-z]){0,6}".prop_map(|s| format!("\"{s}\"")),
        1 => "(\\\\[xa0]|\\\\u[0-9a-g]{0,4}|[\u{0}-\u{1f}]|[a-z]){0,4}".prop_map(|s| format!("\"{s}\"")),
        1 => Just("\"x".to_owned()),
    ]
}

/// Numbers: valid ones of every shape, and invalid ones (leading zeros, dangling signs).
fn json_number() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<u64>().prop_map(|n| n.to_string()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("18446744073709551616".to_owned()),
        "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,3})?",
        prop_oneof![
            Just("01"),
            Just("-"),
            Just("1."),
            Just(".5"),
            Just("1e"),
            Just("+1"),
            Just("1.0e+"),
            Just("-01.5")
        ]
        .prop_map(str::to_owned),
    ]
}

/// Any JSON value (sometimes not quite JSON), with whitespace inside.
fn loose_value() -> BoxedStrategy<String> {
    let leaf = prop_oneof![
        json_string(),
        json_number(),
        prop_oneof![
            Just("true"),
            Just("false"),
            Just("null"),
            Just("nul"),
            Just("truex")
        ]
        .prop_map(str::to_owned),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            (
                prop::collection::vec((ws(), inner.clone(), ws()), 0..4),
                any::<bool>()
            )
                .prop_map(|(items, trailing_comma)| {
                    let items: Vec<String> = items
                        .into_iter()
                        .map(|(a, v, b)| format!("{a}{v}{b}"))
                        .collect();
                    let comma = if trailing_comma && !items.is_empty() {
                        ","
                    } else {
                        ""
                    };
                    format!("[{}{comma}]", items.join(","))
                }),
            prop::collection::vec((json_string(), ws(), inner), 0..4).prop_map(|members| {
                let members: Vec<String> = members
                    .into_iter()
                    .map(|(k, w, v)| format!("{k}{w}:{w}{v}"))
                    .collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    })
    .boxed()
}

/// A member of a hub message object: a known name with a value of the right or a wrong
/// type, or an unknown one.
fn member() -> BoxedStrategy<String> {
    let number_like = prop_oneof![
        (1u64..10).prop_map(|n| n.to_string()),
        json_number(),
        Just("null".to_owned()),
        json_string()
    ];
    let string_like = prop_oneof![
        3 => json_string(),
        1 => Just("null".to_owned()),
        1 => json_number(),
    ];
    let array = |item: BoxedStrategy<String>| {
        prop_oneof![
            4 => prop::collection::vec((ws(), item, ws()), 0..4).prop_map(|items| {
                let items: Vec<String> =
                    items.into_iter().map(|(a, v, b)| format!("{a}{v}{b}")).collect();
                format!("[{}]", items.join(","))
            }),
            1 => Just("null".to_owned()),
            1 => loose_value(),
        ]
    };
    let headers = prop_oneof![
        4 => prop::collection::vec((json_string(), ws(), string_like.clone()), 0..3).prop_map(
            |members| {
                let members: Vec<String> =
                    members.into_iter().map(|(k, w, v)| format!("{k}{w}:{w}{v}")).collect();
                format!("{{{}}}", members.join(","))
            }
        ),
        1 => loose_value(),
    ];
    let (name, value): (BoxedStrategy<&str>, BoxedStrategy<String>) = (
        prop_oneof![
            Just("type"),
            Just("sequenceId"),
            Just("invocationId"),
            Just("target"),
            Just("error"),
            Just("arguments"),
            Just("streamIds"),
            Just("headers"),
            Just("item"),
            Just("result"),
            Just("allowReconnect"),
            Just("other"),
            Just("t\\u0079pe"),
        ]
        .boxed(),
        Just(String::new()).boxed(),
    );
    let _ = value;
    (
        name,
        number_like,
        string_like.clone(),
        array(loose_value().boxed()),
        array(string_like.boxed()),
        headers,
        loose_value(),
        ws(),
    )
        .prop_map(|(name, number, string, args, strings, headers, raw, w)| {
            let value = match name {
                "type" | "sequenceId" | "t\\u0079pe" => number,
                "invocationId" | "target" | "error" => string,
                "arguments" => args,
                "streamIds" => strings,
                "headers" => headers,
                "allowReconnect" => ["true", "false", "null", "1"][raw.len() % 4].to_owned(),
                _ => raw,
            };
            format!("\"{name}\"{w}:{w}{value}")
        })
        .boxed()
}

fn loose_message() -> BoxedStrategy<String> {
    (
        ws(),
        prop::collection::vec((member(), ws()), 0..7),
        ws(),
        prop_oneof![8 => Just(""), 1 => Just(","), 1 => Just(" {}"), 1 => Just("x")],
    )
        .prop_map(|(lead, members, trail, junk)| {
            let members: Vec<String> = members
                .into_iter()
                .map(|(m, w)| format!("{m}{w}"))
                .collect();
            format!("{lead}{{{}}}{trail}{junk}", members.join(","))
        })
        .boxed()
}

/// Messages that mostly decode: a type 1-9 (sometimes 42), the members that type needs with
/// values of the right type (strings with or without escapes, raw values of any shape),
/// sometimes an extra member, in any order.
fn likely_message() -> BoxedStrategy<String> {
    let s = || prop_oneof![4 => "[a-zA-Z0-9 é_-]{0,8}".prop_map(|s| format!("\"{s}\"")), 1 => json_string()];
    let raws = prop::collection::vec((ws(), loose_value(), ws()), 0..4).prop_map(|items| {
        let items: Vec<String> = items
            .into_iter()
            .map(|(a, v, b)| format!("{a}{v}{b}"))
            .collect();
        format!("[{}]", items.join(","))
    });
    (
        prop_oneof![
            (1u64..10).prop_map(|n| n.to_string()),
            Just("42".to_owned())
        ],
        (s(), s(), s(), raws, loose_value()),
        (
            prop::collection::vec(s(), 0..3),
            any::<u64>(),
            any::<bool>(),
        ),
        prop::option::of(member()),
        any::<prop::sample::Index>(),
        ws(),
    )
        .prop_map(
            |(ty, (id, target, error, args, raw), (ids, seq, flag), extra, shift, w)| {
                let mut members = vec![format!("\"type\":{w}{ty}")];
                let mut add =
                    |name: &str, value: String| members.push(format!("\"{name}\"{w}:{value}"));
                match ty.as_str() {
                    "1" | "4" => {
                        add("invocationId", id);
                        add("target", target);
                        add("arguments", args);
                        add("streamIds", format!("[{}]", ids.join(",")));
                    }
                    "2" => {
                        add("invocationId", id);
                        add("item", raw);
                    }
                    "3" => {
                        add("invocationId", id);
                        if flag {
                            add("result", raw)
                        } else {
                            add("error", error)
                        }
                    }
                    "5" => add("invocationId", id),
                    "7" => {
                        add("error", error);
                        add("allowReconnect", flag.to_string());
                    }
                    "8" | "9" => add("sequenceId", seq.to_string()),
                    _ => {}
                }
                add("headers", format!("{{{w}\"a\":{w}\"b\"}}"));
                if let Some(extra) = extra {
                    members.push(extra);
                }
                let k = shift.index(members.len());
                members.rotate_left(k);
                format!("{w}{{{w}{}{w}}}", members.join(&format!("{w},")))
            },
        )
        .boxed()
}

fn read_both_ways(text: &[u8]) -> Result<(), TestCaseError> {
    let text = Bytes::copy_from_slice(text);
    prop_assert_eq!(
        crate::hub::json::read_message(&text),
        crate::hub::json::read_message_with_serde_json(&text),
        "{:?}",
        String::from_utf8_lossy(&text)
    );
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// The fast JSON reader gives serde_json's result (message or error) for messages with
    /// members of every kind, right or wrong, whitespace anywhere, escapes, odd numbers,
    /// nested raw values, trailing junk.
    #[test]
    fn fast_json_reader_agrees_with_serde_json(text in loose_message(), likely in likely_message()) {
        read_both_ways(text.as_bytes())?;
        read_both_ways(likely.as_bytes())?;
    }

    /// ... and on corrupted and truncated texts.
    #[test]
    fn fast_json_reader_agrees_on_corrupted_text(
        text in prop_oneof![loose_message(), likely_message()],
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut bytes = text.into_bytes();
        for (at, b) in edits {
            if !bytes.is_empty() {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
        }
        read_both_ways(&bytes)?;
        if !bytes.is_empty() {
            read_both_ways(&bytes[..cut.index(bytes.len())])?;
        }
    }

    /// Every message our writer produces takes the fast path.
    #[test]
    fn fast_json_reader_takes_what_we_write(m in message(HubProtocol::Json)) {
        let framed = encode_to_bytes(HubProtocol::Json, &m).unwrap();
        let text = framed.slice(..framed.len() - 1);
        read_both_ways(&text)?;
        let plain = |s: &str| !s.bytes().any(crate::hub::value::escaped);
        let strings_plain = match &m {
            HubMessage::Invocation(inv) | HubMessage::StreamInvocation(inv) => {
                plain(&inv.target)
                    && inv.invocation_id.as_deref().is_none_or(plain)
                    && inv.headers.iter().all(|(k, v)| plain(k) && plain(v))
            }
            HubMessage::StreamItem { headers, invocation_id, .. }
            | HubMessage::CancelInvocation { headers, invocation_id }
            | HubMessage::Completion { headers, invocation_id, .. } => {
                plain(invocation_id) && headers.iter().all(|(k, v)| plain(k) && plain(v))
                    && !matches!(&m, HubMessage::Completion { result: CompletionResult::Error(e), .. } if !plain(e))
            }
            HubMessage::Close { error, .. } => error.as_deref().is_none_or(plain),
            _ => true,
        };
        if strings_plain {
            prop_assert!(crate::hub::json::fast_reader_takes(&text), "{:?}", text);
        }
    }
}
