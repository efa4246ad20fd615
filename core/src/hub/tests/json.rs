//! JSON protocol: exact writer output, round trips of types 1–9 with and without headers,
//! the reader's tolerance (key order, unknown keys, whitespace) and rejections.

use bytes::{Bytes, BytesMut};

use super::{all_types, decode_known, headers, invocation, js, mp};
use crate::hub::{
    CodecError, CompletionResult, Decoded, Headers, HubMessage, HubProtocol, RawValue, ValueError,
    decode_body, encode, encode_to_bytes, json,
};

const JS: HubProtocol = HubProtocol::Json;

/// The text our writer produces, checking the trailing separator.
fn text(msg: &HubMessage) -> String {
    let framed = encode_to_bytes(JS, msg).unwrap();
    let (last, body) = framed.split_last().unwrap();
    assert_eq!(*last, 0x1E);
    assert!(!body.contains(&0x1E));
    String::from_utf8(body.to_vec()).unwrap()
}

fn decode(text: &str) -> HubMessage {
    decode_known(JS, text.as_bytes())
}

fn decode_err(text: &str) -> CodecError {
    decode_body(JS, &Bytes::copy_from_slice(text.as_bytes())).unwrap_err()
}

#[test]
fn writer_output_is_exact() {
    let mut inv = invocation(Some("1"), "m", vec![js("1"), js(r#""x""#)]);
    inv.headers = headers(&[("a", "b"), ("c", "d")]);
    inv.stream_ids = vec!["2".into()];
    let cases = [
        (
            HubMessage::Invocation(invocation(None, "method", vec![js("42")])),
            r#"{"type":1,"target":"method","arguments":[42]}"#,
        ),
        (
            HubMessage::Invocation(inv),
            r#"{"type":1,"headers":{"a":"b","c":"d"},"invocationId":"1","target":"m","arguments":[1,"x"],"streamIds":["2"]}"#,
        ),
        (
            HubMessage::StreamItem {
                headers: Headers::new(),
                invocation_id: "1".into(),
                item: js("42"),
            },
            r#"{"type":2,"invocationId":"1","item":42}"#,
        ),
        (
            HubMessage::Completion {
                headers: Headers::new(),
                invocation_id: "1".into(),
                result: CompletionResult::Void,
            },
            r#"{"type":3,"invocationId":"1"}"#,
        ),
        (
            HubMessage::Completion {
                headers: Headers::new(),
                invocation_id: "1".into(),
                result: CompletionResult::Value(js("null")),
            },
            r#"{"type":3,"invocationId":"1","result":null}"#,
        ),
        (
            HubMessage::Completion {
                headers: Headers::new(),
                invocation_id: "1".into(),
                result: CompletionResult::Error("bo\"om".into()),
            },
            r#"{"type":3,"invocationId":"1","error":"bo\"om"}"#,
        ),
        (
            HubMessage::StreamInvocation(invocation(Some("1"), "m", vec![])),
            r#"{"type":4,"invocationId":"1","target":"m","arguments":[]}"#,
        ),
        (
            HubMessage::CancelInvocation {
                headers: Headers::new(),
                invocation_id: "1".into(),
            },
            r#"{"type":5,"invocationId":"1"}"#,
        ),
        (HubMessage::Ping, r#"{"type":6}"#),
        (
            HubMessage::Close {
                error: None,
                allow_reconnect: false,
            },
            r#"{"type":7}"#,
        ),
        (
            HubMessage::Close {
                error: None,
                allow_reconnect: true,
            },
            r#"{"type":7,"allowReconnect":true}"#,
        ),
        (
            HubMessage::Close {
                error: Some("Connection closed with an error.".into()),
                allow_reconnect: false,
            },
            r#"{"type":7,"error":"Connection closed with an error."}"#,
        ),
        (
            HubMessage::Ack { sequence_id: 2 },
            r#"{"type":8,"sequenceId":2}"#,
        ),
        (
            HubMessage::Sequence { sequence_id: 3 },
            r#"{"type":9,"sequenceId":3}"#,
        ),
    ];
    for (msg, want) in cases {
        assert_eq!(text(&msg), want);
        assert_eq!(decode(want), msg, "read back {want}");
    }
}

#[test]
fn round_trip_all_types_with_and_without_headers() {
    for hdrs in [
        Headers::new(),
        headers(&[("k", "v"), ("trace\"id", "a\u{1}b")]),
    ] {
        for msg in all_types(&hdrs, js) {
            let framed = encode_to_bytes(JS, &msg).unwrap();
            assert_eq!(decode_known(JS, &framed[..framed.len() - 1]), msg);
        }
    }
}

#[test]
fn headers_are_written_only_when_present() {
    let mut inv = invocation(None, "m", vec![]);
    assert!(!text(&HubMessage::Invocation(inv.clone())).contains("headers"));
    inv.headers = headers(&[("x", "y")]);
    assert!(text(&HubMessage::Invocation(inv)).contains(r#""headers":{"x":"y"}"#));
}

#[test]
fn type_may_come_last_as_js_writes_it() {
    assert_eq!(
        decode(r#"{"target":"Echo","arguments":[1,"two"],"invocationId":"0","type":1}"#),
        HubMessage::Invocation(invocation(Some("0"), "Echo", vec![js("1"), js(r#""two""#)]))
    );
}

#[test]
fn pysignalr_style_empty_headers_are_accepted() {
    assert_eq!(
        decode(
            r#"{"type":1,"headers":{},"invocationId":"u","target":"Echo","arguments":[1],"streamIds":[]}"#
        ),
        HubMessage::Invocation(invocation(Some("u"), "Echo", vec![js("1")]))
    );
}

#[test]
fn unknown_keys_and_whitespace_are_ignored() {
    assert_eq!(
        decode(
            r#" { "type" : 2 , "extra" : {"deep":[1,{"x":null}]}, "invocationId":"7", "item" : [ 1 , 2 ] } "#
        ),
        HubMessage::StreamItem {
            headers: Headers::new(),
            invocation_id: "7".into(),
            item: js("[ 1 , 2 ]"),
        }
    );
    // Keys that belong to other types are ignored too.
    assert_eq!(
        decode(r#"{"type":6,"target":"x","headers":{"a":"b"}}"#),
        HubMessage::Ping
    );
}

#[test]
fn null_members_read_as_absent_except_result() {
    assert_eq!(
        decode(r#"{"type":3,"invocationId":"1","error":null}"#),
        HubMessage::Completion {
            headers: Headers::new(),
            invocation_id: "1".into(),
            result: CompletionResult::Void
        }
    );
    assert_eq!(
        decode(r#"{"type":3,"invocationId":"1","result":null}"#),
        HubMessage::Completion {
            headers: Headers::new(),
            invocation_id: "1".into(),
            result: CompletionResult::Value(js("null"))
        }
    );
    assert_eq!(
        decode(r#"{"type":1,"invocationId":null,"target":"m","arguments":[],"headers":null}"#),
        HubMessage::Invocation(invocation(None, "m", vec![]))
    );
    assert_eq!(
        decode(r#"{"type":7,"error":null,"allowReconnect":null}"#),
        HubMessage::Close {
            error: None,
            allow_reconnect: false
        }
    );
}

#[test]
fn unknown_type_is_reported_not_failed() {
    assert_eq!(
        decode_body(JS, &Bytes::from_static(br#"{"type":42,"whatever":[1]}"#)),
        Ok(Decoded::Unknown { type_id: 42 })
    );
}

#[test]
fn rejections() {
    assert_eq!(
        decode_err(r#"{"type":3,"invocationId":"1","result":1,"error":"e"}"#),
        CodecError::ResultAndError
    );
    assert_eq!(
        decode_err(r#"{"type":1,"arguments":[]}"#),
        CodecError::MissingField("target")
    );
    assert_eq!(
        decode_err(r#"{"type":4,"invocationId":"1","arguments":[]}"#),
        CodecError::MissingField("target")
    );
    assert_eq!(
        decode_err(r#"{"type":1,"target":"m"}"#),
        CodecError::MissingField("arguments")
    );
    for no_id in [
        r#"{"type":2,"item":1}"#,
        r#"{"type":3,"result":1}"#,
        r#"{"type":3}"#,
        r#"{"type":4,"target":"m","arguments":[]}"#,
        r#"{"type":5}"#,
    ] {
        assert_eq!(
            decode_err(no_id),
            CodecError::MissingField("invocationId"),
            "{no_id}"
        );
    }
    assert_eq!(
        decode_err(r#"{"type":2,"invocationId":"1"}"#),
        CodecError::MissingField("item")
    );
    assert_eq!(
        decode_err(r#"{"type":8}"#),
        CodecError::MissingField("sequenceId")
    );
    assert_eq!(
        decode_err(r#"{"target":"m","arguments":[]}"#),
        CodecError::MissingField("type")
    );
    // Wrong member types name the member.
    assert_eq!(
        decode_err(r#"{"type":"1"}"#),
        CodecError::InvalidField("type")
    );
    assert_eq!(
        decode_err(r#"{"type":-1}"#),
        CodecError::InvalidField("type")
    );
    assert_eq!(
        decode_err(r#"{"type":1,"target":5,"arguments":[]}"#),
        CodecError::InvalidField("target")
    );
    assert_eq!(
        decode_err(r#"{"type":1,"target":"m","arguments":{}}"#),
        CodecError::InvalidField("arguments")
    );
    assert_eq!(
        decode_err(r#"{"type":1,"invocationId":1,"target":"m","arguments":[]}"#),
        CodecError::InvalidField("invocationId")
    );
    assert_eq!(
        decode_err(r#"{"type":1,"target":"m","arguments":[],"streamIds":[1]}"#),
        CodecError::InvalidField("streamIds")
    );
    assert_eq!(
        decode_err(r#"{"type":5,"invocationId":"1","headers":{"a":1}}"#),
        CodecError::InvalidField("headers")
    );
    assert_eq!(
        decode_err(r#"{"type":7,"allowReconnect":"yes"}"#),
        CodecError::InvalidField("allowReconnect")
    );
    assert_eq!(
        decode_err(r#"{"type":3,"invocationId":"1","error":7}"#),
        CodecError::InvalidField("error")
    );
    assert_eq!(
        decode_err(r#"{"type":9,"sequenceId":-4}"#),
        CodecError::InvalidField("sequenceId")
    );
    // Not one JSON object.
    for bad in [
        "",
        "[1]",
        "42",
        r#"{"type":6"#,
        r#"{"type":6} {}"#,
        r#"{"type":6,}"#,
        r#"{"type":1,"target":"m","arguments":[1,]}"#,
    ] {
        assert!(
            matches!(decode_err(bad), CodecError::InvalidJson(_)),
            "{bad:?}"
        );
    }
    assert_eq!(
        decode_body(JS, &Bytes::from_static(b"{\"type\":6,\"x\":\"\xff\"}")),
        Err(CodecError::InvalidUtf8)
    );
}

#[test]
fn raw_values_are_zero_copy_slices() {
    let input =
        Bytes::from_static(br#"{"type":1,"target":"m","arguments":[{"a":[1,2]}, "s\"x" ,3.25]}"#);
    let Decoded::Message(HubMessage::Invocation(inv)) = json::read_message(&input).unwrap() else {
        panic!("not an invocation");
    };
    assert_eq!(
        inv.arguments,
        vec![js(r#"{"a":[1,2]}"#), js(r#""s\"x""#), js("3.25")]
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
fn msgpack_raw_values_are_transcoded_when_written() {
    let msg = HubMessage::Completion {
        headers: Headers::new(),
        invocation_id: "1".into(),
        result: CompletionResult::Value(mp("82 a1 61 93 01 ff c3 a1 62 c4 03 01 02 03")),
    };
    assert_eq!(
        text(&msg),
        r#"{"type":3,"invocationId":"1","result":{"a":[1,-1,true],"b":"AQID"}}"#
    );
}

#[test]
fn failed_encode_appends_nothing() {
    let mut out = BytesMut::from(&b"prev"[..]);
    let bad_json = HubMessage::StreamItem {
        headers: Headers::new(),
        invocation_id: "1".into(),
        item: RawValue::Json(Bytes::from_static(b"1\x1e{\"type\":6}")),
    };
    assert!(matches!(
        encode(JS, &bad_json, &mut out),
        Err(CodecError::Value(ValueError::InvalidJson(_)))
    ));
    let bad_ext = HubMessage::StreamItem {
        headers: Headers::new(),
        invocation_id: "1".into(),
        item: mp("d4 05 00"),
    };
    assert_eq!(
        encode(JS, &bad_ext, &mut out),
        Err(CodecError::Value(ValueError::UnsupportedExtension(5)))
    );
    let no_id = HubMessage::StreamInvocation(invocation(None, "m", vec![]));
    assert_eq!(
        encode(JS, &no_id, &mut out),
        Err(CodecError::MissingField("invocationId"))
    );
    assert_eq!(&out[..], b"prev");
}

#[test]
fn close_error_text_follows_dotnet() {
    assert_eq!(
        CodecError::MissingField("target").close_error(),
        "Connection closed with an error. InvalidDataException: Missing required property 'target'."
    );
    assert_eq!(
        CodecError::ResultAndError.to_string(),
        "The 'error' and 'result' properties are mutually exclusive."
    );
}

#[test]
fn member_names_with_escapes_and_argument_lists_of_any_length() {
    // Escaped member names are the same names.
    assert_eq!(
        decode(r#"{"t\u0079pe":1,"\u0074arget":"m","arguments":[1]}"#),
        HubMessage::Invocation(invocation(None, "m", vec![js("1")]))
    );
    // `arguments: null` is an absent member; duplicate members: the last one counts.
    assert_eq!(
        decode_err(r#"{"type":1,"target":"m","arguments":null}"#),
        CodecError::MissingField("arguments")
    );
    assert_eq!(
        decode(r#"{"type":1,"target":"m","arguments":[1],"arguments":[2,3]}"#),
        HubMessage::Invocation(invocation(None, "m", vec![js("2"), js("3")]))
    );
    for n in [0usize, 1, 4, 5, 100] {
        let args: Vec<String> = (0..n).map(|i| format!("[{i}, {{\"k\": {i}}}]")).collect();
        let text = format!(
            r#"{{"arguments": [ {} ], "target":"m", "type":1}}"#,
            args.join(" , ")
        );
        let expected: Vec<RawValue> = args.iter().map(|a| js(a)).collect();
        assert_eq!(
            decode(&text),
            HubMessage::Invocation(invocation(None, "m", expected))
        );
    }
    assert!(matches!(
        decode_err(r#"{"type":1,"target":"m","arguments":[1,{]}"#),
        CodecError::InvalidJson(_)
    ));
}

#[test]
fn fast_reader_and_serde_json_agree_on_edge_cases() {
    let cases: &[&str] = &[
        r#"{"type":1,"target":"m","arguments":[]}"#,
        " \t{ \"type\" : 1 , \"target\" : \"m\" , \"arguments\" : [ 1 , \"x\" , {\"a\" : [null]} ] } \r\n",
        r#"{"type":1,"target":"m","arguments":["\u00e9\n\"\\\/"]}"#,
        r#"{"type":1,"target":"m","arguments":["\u00g0"]}"#,
        "{\"type\":1,\"target\":\"m\",\"arguments\":[\"a\u{1}b\"]}",
        r#"{"type":1,"target":"m","arguments":["\x"]}"#,
        r#"{"type":1,"target":"m","arguments":[01]}"#,
        r#"{"type":1,"target":"m","arguments":[-]}"#,
        r#"{"type":1,"target":"m","arguments":[1.]}"#,
        r#"{"type":1,"target":"m","arguments":[1e+]}"#,
        r#"{"type":1,"target":"m","arguments":[-0.5e-7, 1E3, 0]}"#,
        r#"{"type":1,"target":"m","arguments":[1,]}"#,
        r#"{"type":1,"target":"m","arguments":[tru]}"#,
        r#"{"type":1,"target":"m","arguments":[{"a":1,}]}"#,
        r#"{"type":01,"target":"m","arguments":[]}"#,
        r#"{"type":1.0,"target":"m","arguments":[]}"#,
        r#"{"type":18446744073709551616,"target":"m","arguments":[]}"#,
        r#"{"type":null,"target":"m","arguments":[]}"#,
        r#"{"type":1,"target":"\u006d","arguments":[]}"#,
        r#"{"type":1,"target":"m","arguments":[],"headers":{"a":"b","a":"c"}}"#,
        r#"{"type":1,"target":"m","arguments":[],"headers":{"a":1}}"#,
        r#"{"type":1,"target":"m","arguments":[],"streamIds":["1",2]}"#,
        r#"{"type":7,"allowReconnect":true,"error":null}"#,
        r#"{"type":7,"allowReconnect":1}"#,
        r#"{"type":2,"invocationId":"1","item":  null  }"#,
        r#"{"type":1,"target":"m","arguments":[]}x"#,
        r#"{"type":1,"target":"m","arguments":[]"#,
        r#"{"type":1,"target":"m","arguments":[],}"#,
        r#"{"type":1 "target":"m"}"#,
        "\u{feff}{\"type\":6}",
        r#"{"type":6,"other":[[[[[[[[[[]]]]]]]]]]}"#,
    ];
    for text in cases {
        let b = Bytes::copy_from_slice(text.as_bytes());
        assert_eq!(
            json::read_message(&b),
            json::read_message_with_serde_json(&b),
            "{text}"
        );
    }
    // UTF-8: the fast reader checks it itself (strings, and ASCII only outside them).
    let long = "é".repeat(40);
    let e20 = "é".repeat(20);
    let start: &[u8] = br#"{"type":1,"target":"m","arguments":[""#;
    let byte_cases: Vec<Vec<u8>> = vec![
        format!(r#"{{"type":1,"target":"m","arguments":["{long}","x{long}"]}}"#).into_bytes(),
        [start, &[b'a'; 40], b"\xff\"]}"].concat(),
        [start, &[b'a'; 40], b"\xc3\"]}"].concat(),
        [start, e20.as_bytes(), b"\xe2\x82\"]}"].concat(),
        [start, e20.as_bytes(), b"\x01\"]}"].concat(),
        [start, e20.as_bytes(), b"\\n", e20.as_bytes(), b"\"]}"].concat(),
        [start, b"\xff\"]}"].concat(),
        b"{\"type\":1,\"target\":\"m\xff\",\"arguments\":[]}".to_vec(),
        b"{\"type\":1,\"target\":\"m\",\"arguments\":[]}\xc3\xa9".to_vec(),
        b"{\"type\":1,\"target\":\"m\",\"arguments\":[],\"\xc3\xa9\":1}".to_vec(),
        b"{\"type\":1,\"target\":\"m\",\"arguments\":[\"a\\u00e9\xc3\xa9\\n\xe2\x82\xac\"]}"
            .to_vec(),
    ];
    for text in byte_cases {
        let b = Bytes::from(text);
        assert_eq!(
            json::read_message(&b),
            json::read_message_with_serde_json(&b),
            "{:?}",
            String::from_utf8_lossy(&b)
        );
    }
    let deep = format!(
        "{{\"type\":6,\"x\":{}{}}}",
        "[".repeat(200),
        "]".repeat(200)
    );
    let b = Bytes::from(deep);
    assert_eq!(
        json::read_message(&b),
        json::read_message_with_serde_json(&b)
    );
    // What a client sends takes the fast reader.
    for text in [
        r#"{"type":1,"target":"send","arguments":["user-1","hello",42]}"#,
        r#"{"arguments":[],"invocationId":"0","streamIds":["1"],"target":"Up","type":4}"#,
        r#"{"type":3,"invocationId":"7","result":{"a":[1,2.5,"x\n"]},"headers":{"k":"v"}}"#,
        r#"{"type":6}"#,
    ] {
        assert!(
            json::fast_reader_takes(&Bytes::copy_from_slice(text.as_bytes())),
            "{text}"
        );
    }
}
