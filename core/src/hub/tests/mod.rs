//! Tests of the hub codecs: golden vectors of spec §13, readers' tolerance and rejections,
//! incremental decoding at every split, transcoding, handshake, property round trips.

mod decoder;
mod direct;
mod encode;
mod golden_msgpack;
mod handshake;
mod json;
mod props;
mod value;

use bytes::Bytes;

use super::{CompletionResult, Decoded, Headers, HubMessage, HubProtocol, Invocation, RawValue};

/// Bytes from hex text such as `"96 01 80"`.
pub(super) fn h(hex: &str) -> Vec<u8> {
    hex.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).expect("hex byte"))
        .collect()
}

pub(super) fn mp(hex: &str) -> RawValue {
    RawValue::MessagePack(Bytes::from(h(hex)))
}

pub(super) fn js(text: &str) -> RawValue {
    RawValue::Json(Bytes::copy_from_slice(text.as_bytes()))
}

pub(super) fn headers(pairs: &[(&str, &str)]) -> Headers {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

pub(super) fn invocation(id: Option<&str>, target: &str, args: Vec<RawValue>) -> Invocation {
    Invocation {
        headers: Headers::new(),
        invocation_id: id.map(str::to_owned),
        target: target.to_owned(),
        arguments: args,
        stream_ids: Vec::new(),
    }
}

/// One message of each type 1–9, with raw values built by `raw` (text of a JSON value), and
/// `hdrs` on every message that carries headers.
pub(super) fn all_types(hdrs: &Headers, raw: impl Fn(&str) -> RawValue) -> Vec<HubMessage> {
    let mut inv = invocation(
        Some("1"),
        "Send",
        vec![raw("42"), raw(r#"{"a":[true,null]}"#)],
    );
    inv.headers = hdrs.clone();
    let mut non_blocking = invocation(None, "Fire", vec![]);
    non_blocking.headers = hdrs.clone();
    let mut upload = invocation(Some("2"), "Upload", vec![raw(r#""x""#)]);
    upload.headers = hdrs.clone();
    upload.stream_ids = vec!["3".into(), "4".into()];
    let mut stream = invocation(Some("5"), "Counter", vec![raw("10"), raw("-1.5")]);
    stream.headers = hdrs.clone();
    vec![
        HubMessage::Invocation(inv),
        HubMessage::Invocation(non_blocking),
        HubMessage::Invocation(upload),
        HubMessage::StreamItem {
            headers: hdrs.clone(),
            invocation_id: "3".into(),
            item: raw("[1,2,3]"),
        },
        HubMessage::Completion {
            headers: hdrs.clone(),
            invocation_id: "1".into(),
            result: CompletionResult::Value(raw("null")),
        },
        HubMessage::Completion {
            headers: hdrs.clone(),
            invocation_id: "3".into(),
            result: CompletionResult::Void,
        },
        HubMessage::Completion {
            headers: hdrs.clone(),
            invocation_id: "2".into(),
            result: CompletionResult::Error("boom \"quoted\"\n".into()),
        },
        HubMessage::StreamInvocation(stream),
        HubMessage::CancelInvocation {
            headers: hdrs.clone(),
            invocation_id: "5".into(),
        },
        HubMessage::Ping,
        HubMessage::Close {
            error: None,
            allow_reconnect: false,
        },
        HubMessage::Close {
            error: Some("Connection closed with an error.".into()),
            allow_reconnect: true,
        },
        HubMessage::Ack { sequence_id: 2 },
        HubMessage::Sequence {
            sequence_id: u64::MAX,
        },
    ]
}

/// Decodes one message body that must be a known message.
pub(super) fn decode_known(protocol: HubProtocol, body: &[u8]) -> HubMessage {
    match super::decode_body(protocol, &Bytes::copy_from_slice(body)) {
        Ok(Decoded::Message(m)) => m,
        other => panic!("expected a message, got {other:?}"),
    }
}
