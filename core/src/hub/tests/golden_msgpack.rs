//! MessagePack golden vectors of spec §13 item 2, decoded and (where our writer must produce
//! exactly these bytes) encoded; the reader's tolerance and rejections.

use bytes::Bytes;

use super::{decode_known, h, headers, invocation, mp};
use crate::hub::{
    CodecError, CompletionResult, Decoded, Headers, HubMessage, HubProtocol, decode_body,
    encode_to_bytes, msgpack,
};

const MP: HubProtocol = HubProtocol::MessagePack;

/// The body our writer produces (without length prefix).
fn body(msg: &HubMessage) -> Vec<u8> {
    let framed = encode_to_bytes(MP, msg).unwrap();
    // Every body here is < 128 bytes: a one-byte prefix.
    assert_eq!(usize::from(framed[0]), framed.len() - 1, "prefix");
    framed[1..].to_vec()
}

fn decode_err(hex: &str) -> CodecError {
    decode_body(MP, &Bytes::from(h(hex))).unwrap_err()
}

/// Both directions: the vector decodes to `msg`, and `msg` encodes to the vector.
fn golden(hex: &str, msg: HubMessage) {
    assert_eq!(decode_known(MP, &h(hex)), msg, "decode {hex}");
    assert_eq!(body(&msg), h(hex), "encode {msg:?}");
}

fn completion(result: CompletionResult) -> HubMessage {
    HubMessage::Completion {
        headers: Headers::new(),
        invocation_id: "xyz".into(),
        result,
    }
}

#[test]
fn invocation_golden() {
    golden(
        "96 01 80 a3 78 79 7a a6 6d 65 74 68 6f 64 91 2a 90",
        HubMessage::Invocation(invocation(Some("xyz"), "method", vec![mp("2a")])),
    );
}

#[test]
fn non_blocking_invocation_golden() {
    golden(
        "96 01 80 c0 a6 6d 65 74 68 6f 64 91 2a 90",
        HubMessage::Invocation(invocation(None, "method", vec![mp("2a")])),
    );
}

#[test]
fn headers_golden() {
    let mut inv = invocation(Some("xyz"), "method", vec![mp("2a")]);
    inv.headers = headers(&[("foo", "bar")]);
    golden(
        "96 01 81 a3 66 6f 6f a3 62 61 72 a3 78 79 7a a6 6d 65 74 68 6f 64 91 2a 90",
        HubMessage::Invocation(inv),
    );
}

#[test]
fn stream_invocation_golden_with_stream_ids() {
    let mut inv = invocation(Some("xyz"), "method", vec![mp("2a")]);
    inv.stream_ids = vec!["1".into()];
    golden(
        "96 04 80 a3 78 79 7a a6 6d 65 74 68 6f 64 91 2a 91 a1 31",
        HubMessage::StreamInvocation(inv),
    );
}

#[test]
fn stream_item_golden() {
    golden(
        "94 02 80 a3 78 79 7a 2a",
        HubMessage::StreamItem {
            headers: Headers::new(),
            invocation_id: "xyz".into(),
            item: mp("2a"),
        },
    );
}

#[test]
fn completion_goldens() {
    golden(
        "95 03 80 a3 78 79 7a 01 a5 45 72 72 6f 72",
        completion(CompletionResult::Error("Error".into())),
    );
    golden(
        "94 03 80 a3 78 79 7a 02",
        completion(CompletionResult::Void),
    );
    golden(
        "95 03 80 a3 78 79 7a 03 2a",
        completion(CompletionResult::Value(mp("2a"))),
    );
}

#[test]
fn cancel_and_ping_goldens() {
    golden(
        "93 05 80 a3 78 79 7a",
        HubMessage::CancelInvocation {
            headers: Headers::new(),
            invocation_id: "xyz".into(),
        },
    );
    golden("91 06", HubMessage::Ping);
}

#[test]
fn close_goldens() {
    // JS writes 2 elements; we read it, and write .NET's 3 elements.
    let close = HubMessage::Close {
        error: Some("xyz".into()),
        allow_reconnect: false,
    };
    assert_eq!(decode_known(MP, &h("92 07 a3 78 79 7a")), close);
    assert_eq!(body(&close), h("93 07 a3 78 79 7a c2"));
    golden(
        "93 07 a3 78 79 7a c3",
        HubMessage::Close {
            error: Some("xyz".into()),
            allow_reconnect: true,
        },
    );
    golden(
        "93 07 c0 c2",
        HubMessage::Close {
            error: None,
            allow_reconnect: false,
        },
    );
}

#[test]
fn ack_and_sequence_goldens() {
    // The spec's vectors use a `uint 8` marker; our writer uses the smallest form (fixint),
    // as .NET's and JS's MessagePack writers do.
    assert_eq!(
        decode_known(MP, &h("92 08 cc 24")),
        HubMessage::Ack { sequence_id: 36 }
    );
    assert_eq!(
        decode_known(MP, &h("92 09 cc 13")),
        HubMessage::Sequence { sequence_id: 19 }
    );
    assert_eq!(body(&HubMessage::Ack { sequence_id: 36 }), h("92 08 24"));
    assert_eq!(
        body(&HubMessage::Sequence { sequence_id: 19 }),
        h("92 09 13")
    );
    golden(
        "92 08 cf 00 00 00 01 00 00 00 00",
        HubMessage::Ack {
            sequence_id: 1 << 32,
        },
    );
}

#[test]
fn five_element_invocation_is_accepted() {
    // As JS writes it when there are no streams.
    assert_eq!(
        decode_known(MP, &h("95 01 80 a1 30 a4 45 63 68 6f 91 2a")),
        HubMessage::Invocation(invocation(Some("0"), "Echo", vec![mp("2a")]))
    );
    // nil stream ids read as none.
    assert_eq!(
        decode_known(MP, &h("96 01 80 a1 30 a4 45 63 68 6f 90 c0")),
        HubMessage::Invocation(invocation(Some("0"), "Echo", vec![]))
    );
}

#[test]
fn any_integer_width_is_accepted() {
    let ping = HubMessage::Ping;
    for hex in [
        "91 cc 06",
        "91 cd 00 06",
        "91 ce 00 00 00 06",
        "91 cf 00 00 00 00 00 00 00 06",
        "91 d0 06",
        "91 d3 00 00 00 00 00 00 00 06",
    ] {
        assert_eq!(decode_known(MP, &h(hex)), ping, "{hex}");
    }
    assert_eq!(
        decode_known(MP, &h("92 cd 00 09 ce 00 01 00 00")),
        HubMessage::Sequence { sequence_id: 65536 }
    );
    assert_eq!(
        decode_known(MP, &h("95 03 80 a1 31 cc 03 2a")),
        HubMessage::Completion {
            headers: Headers::new(),
            invocation_id: "1".into(),
            result: CompletionResult::Value(mp("2a")),
        }
    );
}

#[test]
fn trailing_array_elements_are_skipped() {
    assert_eq!(decode_known(MP, &h("93 06 c3 91 80")), HubMessage::Ping);
    assert_eq!(
        decode_known(
            MP,
            &h("97 01 80 c0 a1 6d 91 2a 90 82 a1 61 01 a1 62 92 01 02")
        ),
        HubMessage::Invocation(invocation(None, "m", vec![mp("2a")]))
    );
    assert_eq!(
        decode_known(MP, &h("94 07 c0 c3 a3 78 79 7a")),
        HubMessage::Close {
            error: None,
            allow_reconnect: true
        }
    );
}

#[test]
fn nested_arguments_are_zero_copy_slices() {
    let input = Bytes::from(h(
        "96 01 80 c0 a1 6d 92 92 01 a1 78 81 a1 6b c4 02 ff 00 90",
    ));
    let Decoded::Message(HubMessage::Invocation(inv)) = msgpack::read_message(&input).unwrap()
    else {
        panic!("not an invocation");
    };
    assert_eq!(
        inv.arguments,
        vec![mp("92 01 a1 78"), mp("81 a1 6b c4 02 ff 00")]
    );
    let range = input.as_ptr_range();
    for arg in &inv.arguments {
        assert!(
            range.contains(&arg.as_bytes().as_ptr()),
            "argument was copied"
        );
    }
}

#[test]
fn unknown_type_is_reported_not_failed() {
    assert_eq!(
        decode_body(MP, &Bytes::from(h("93 0a 80 ff"))),
        Ok(Decoded::Unknown { type_id: 10 })
    );
    assert_eq!(
        decode_body(MP, &Bytes::from(h("91 00"))),
        Ok(Decoded::Unknown { type_id: 0 })
    );
}

#[test]
fn rejections() {
    // Stream invocation without id.
    assert_eq!(
        decode_err("96 04 80 c0 a1 6d 90 90"),
        CodecError::MissingField("invocationId")
    );
    // Too short for its type.
    assert_eq!(
        decode_err("93 02 80 a1 31"),
        CodecError::MissingField("item")
    );
    assert_eq!(
        decode_err("92 05 80"),
        CodecError::MissingField("invocationId")
    );
    assert_eq!(
        decode_err("94 01 80 c0 a1 6d"),
        CodecError::MissingField("arguments")
    );
    assert_eq!(
        decode_err("94 03 80 a1 31 03"),
        CodecError::MissingField("result")
    );
    assert_eq!(
        decode_err("94 03 80 a1 31 01"),
        CodecError::MissingField("error")
    );
    assert_eq!(decode_err("91 08"), CodecError::MissingField("sequenceId"));
    assert_eq!(decode_err("90"), CodecError::MissingField("type"));
    // Wrong types.
    assert_eq!(decode_err("91 ff"), CodecError::InvalidField("type"));
    assert_eq!(decode_err("91 a1 36"), CodecError::InvalidField("type"));
    assert_eq!(
        decode_err("95 01 80 c0 2a 90"),
        CodecError::InvalidField("target")
    );
    assert_eq!(
        decode_err("95 01 80 c0 a1 6d 2a"),
        CodecError::InvalidField("arguments")
    );
    assert_eq!(
        decode_err("94 02 80 2a 2a"),
        CodecError::InvalidField("invocationId")
    );
    assert_eq!(
        decode_err("94 03 80 a1 31 04"),
        CodecError::InvalidField("resultKind")
    );
    assert_eq!(
        decode_err("93 05 81 a1 61 01 a1 31"),
        CodecError::InvalidField("headers")
    );
    assert_eq!(
        decode_err("93 05 2a a1 31"),
        CodecError::InvalidField("headers")
    );
    assert_eq!(
        decode_err("93 07 c0 01"),
        CodecError::InvalidField("allowReconnect")
    );
    assert_eq!(
        decode_err("92 09 ff"),
        CodecError::InvalidField("sequenceId")
    );
    assert_eq!(
        decode_err("96 01 80 c0 a1 6d 90 91 01"),
        CodecError::InvalidField("streamIds")
    );
    // Malformed bodies.
    assert_eq!(decode_err("93 05 80 a2 ff fe"), CodecError::InvalidUtf8);
    assert!(matches!(
        decode_err("2a"),
        CodecError::InvalidMessagePack(_)
    ));
    assert!(matches!(decode_err(""), CodecError::InvalidMessagePack(_)));
    assert!(matches!(
        decode_err("94 02 80 a3 78 79"),
        CodecError::InvalidMessagePack(_)
    ));
    assert!(matches!(
        decode_err("94 02 80 a1 31 c1"),
        CodecError::InvalidMessagePack(_)
    ));
    assert!(matches!(
        decode_err("91 06 06"),
        CodecError::InvalidMessagePack(_)
    ));
    // A hostile element count fails fast instead of looping or allocating.
    assert!(matches!(
        decode_err("95 01 80 c0 a1 6d dd ff ff ff ff"),
        CodecError::InvalidMessagePack(_)
    ));
    assert!(matches!(
        decode_err("94 02 80 a1 31 dd 7f ff ff ff"),
        CodecError::InvalidMessagePack(_)
    ));
}

#[test]
fn stream_invocation_without_id_is_not_written() {
    let msg = HubMessage::StreamInvocation(invocation(None, "m", vec![]));
    assert_eq!(
        encode_to_bytes(MP, &msg),
        Err(CodecError::MissingField("invocationId"))
    );
}

#[test]
fn json_raw_values_are_transcoded_when_written() {
    let msg = HubMessage::Invocation(invocation(
        None,
        "m",
        vec![super::js(r#"{"a":[1,-1,true,null,"x"]}"#), super::js("1.5")],
    ));
    assert_eq!(
        body(&msg),
        h("96 01 80 c0 a1 6d 92 81 a1 61 95 01 ff c3 c0 a1 78 cb 3f f8 00 00 00 00 00 00 90")
    );
}
