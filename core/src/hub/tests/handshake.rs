//! Handshake: exact writer output, request / response parsing, the reader's buffering, size
//! limit and leftover bytes, and the server's decision with .NET's texts.

use bytes::Bytes;

use crate::hub::{
    DEFAULT_MAX_HANDSHAKE_SIZE, HANDSHAKE_CANCELED, HandshakeError, HandshakeReader,
    HandshakeRejection, HandshakeRequest, HandshakeResponse, HandshakeResponseError, HubProtocol,
    TransferFormat, accept, parse_response,
};

const BOTH: &[HubProtocol] = &[HubProtocol::Json, HubProtocol::MessagePack];

fn req(protocol: &str, version: u32) -> HandshakeRequest {
    HandshakeRequest {
        protocol: protocol.into(),
        version,
    }
}

#[test]
fn request_writer_is_exact() {
    assert_eq!(
        &HandshakeRequest::new(HubProtocol::Json, 1).to_bytes()[..],
        b"{\"protocol\":\"json\",\"version\":1}\x1e"
    );
    assert_eq!(
        &HandshakeRequest::new(HubProtocol::MessagePack, 2).to_bytes()[..],
        b"{\"protocol\":\"messagepack\",\"version\":2}\x1e"
    );
}

#[test]
fn response_writer_is_exact() {
    assert_eq!(&HandshakeResponse::success().to_bytes()[..], b"{}\x1e");
    assert_eq!(
        &HandshakeResponse::failure("say \"no\"").to_bytes()[..],
        b"{\"error\":\"say \\\"no\\\"\"}\x1e"
    );
}

#[test]
fn request_parsing() {
    assert_eq!(
        HandshakeRequest::parse(br#"{"protocol":"json","version":1}"#),
        Ok(req("json", 1))
    );
    assert_eq!(
        HandshakeRequest::parse(b"{\"version\":2,\"x\":[1],\"protocol\":\"messagepack\"}\x1e"),
        Ok(req("messagepack", 2))
    );
    assert_eq!(
        HandshakeRequest::parse(br#"{"version":1}"#),
        Err(HandshakeError::MissingField("protocol"))
    );
    assert_eq!(
        HandshakeRequest::parse(br#"{"protocol":"json"}"#),
        Err(HandshakeError::MissingField("version"))
    );
    for bad in [
        r#"{"protocol":"json","version":"1"}"#,
        r#"{"protocol":"json","version":-1}"#,
        r#"{"protocol":"json","version":1.5}"#,
        r#"{"protocol":"json","version":4294967296}"#,
    ] {
        assert_eq!(
            HandshakeRequest::parse(bad.as_bytes()),
            Err(HandshakeError::InvalidField("version")),
            "{bad}"
        );
    }
    assert_eq!(
        HandshakeRequest::parse(br#"{"protocol":1,"version":1}"#),
        Err(HandshakeError::InvalidField("protocol"))
    );
    assert!(matches!(
        HandshakeRequest::parse(b""),
        Err(HandshakeError::InvalidJson(_))
    ));
    assert!(matches!(
        HandshakeRequest::parse(b"[]"),
        Err(HandshakeError::InvalidJson(_))
    ));
    assert_eq!(
        HandshakeRequest::parse(b"{\"\xff\":1}"),
        Err(HandshakeError::InvalidUtf8)
    );
}

#[test]
fn client_checks_the_response_like_the_js_client() {
    assert_eq!(parse_response(b"{}"), Ok(()));
    assert_eq!(parse_response(b"{}\x1e"), Ok(()));
    assert_eq!(parse_response(br#"{"minorVersion":0}"#), Ok(()));
    assert_eq!(parse_response(br#"{"error":""}"#), Ok(()));
    let rejected =
        parse_response(br#"{"error":"The protocol 'x' is not supported."}"#).unwrap_err();
    assert_eq!(
        rejected,
        HandshakeResponseError::Rejected("The protocol 'x' is not supported.".into())
    );
    assert_eq!(
        rejected.to_string(),
        "Server returned handshake error: The protocol 'x' is not supported."
    );
    let not_a_reply = parse_response(br#"{"type":6}"#).unwrap_err();
    assert_eq!(
        not_a_reply,
        HandshakeResponseError::Invalid(HandshakeError::NotAHandshakeResponse)
    );
    assert_eq!(
        not_a_reply.to_string(),
        "Expected a handshake response from the server."
    );
    assert!(matches!(
        parse_response(b"{"),
        Err(HandshakeResponseError::Invalid(
            HandshakeError::InvalidJson(_)
        ))
    ));
    assert_eq!(
        parse_response(br#"{"error":5}"#),
        Err(HandshakeResponseError::Invalid(
            HandshakeError::InvalidField("error")
        ))
    );
}

#[test]
fn accept_json_and_messagepack_versions_0_to_2() {
    for version in 0..=2 {
        assert_eq!(
            accept(&req("json", version), TransferFormat::Text, BOTH),
            Ok((HubProtocol::Json, version))
        );
        assert_eq!(
            accept(&req("messagepack", version), TransferFormat::Binary, BOTH),
            Ok((HubProtocol::MessagePack, version))
        );
    }
    assert_eq!(
        accept(&req("json", 1), TransferFormat::Binary, BOTH),
        Ok((HubProtocol::Json, 1))
    );
}

#[test]
fn rejections_carry_dotnet_texts_in_dotnet_order() {
    let text = |r: &HandshakeRequest, t, enabled| accept(r, t, enabled).unwrap_err().to_string();
    assert_eq!(
        text(&req("blazorpack", 1), TransferFormat::Binary, BOTH),
        "The protocol 'blazorpack' is not supported."
    );
    assert_eq!(
        text(
            &req("messagepack", 1),
            TransferFormat::Binary,
            &[HubProtocol::Json]
        ),
        "The protocol 'messagepack' is not supported."
    );
    assert_eq!(
        text(&req("JSON", 1), TransferFormat::Binary, BOTH),
        "The protocol 'JSON' is not supported."
    );
    assert_eq!(
        text(&req("json", 3), TransferFormat::Text, BOTH),
        "The server does not support version 3 of the 'json' protocol."
    );
    assert_eq!(
        text(&req("messagepack", 1), TransferFormat::Text, BOTH),
        "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format."
    );
    // Protocol before version, version before transport.
    assert!(matches!(
        accept(&req("nope", 9), TransferFormat::Text, BOTH),
        Err(HandshakeRejection::ProtocolNotSupported(_))
    ));
    assert!(matches!(
        accept(&req("messagepack", 9), TransferFormat::Text, BOTH),
        Err(HandshakeRejection::VersionNotSupported { version: 9, .. })
    ));
    let rejection = accept(&req("x", 1), TransferFormat::Text, BOTH).unwrap_err();
    assert_eq!(
        &rejection.response().to_bytes()[..],
        b"{\"error\":\"The protocol 'x' is not supported.\"}\x1e"
    );
    assert_eq!(HANDSHAKE_CANCELED, "Handshake was canceled.");
}

#[test]
fn reader_byte_by_byte_returns_the_rest() {
    let wire = b"{\"protocol\":\"messagepack\",\"version\":1}\x1e\x02\x91\x06";
    let mut reader = HandshakeReader::<HandshakeRequest>::new();
    let mut got = None;
    for (i, b) in wire.iter().enumerate() {
        if let Some(done) = reader.feed(&[*b]).unwrap() {
            assert_eq!(i, wire.len() - 4, "complete at the separator");
            got = Some(done);
            break;
        }
        assert_eq!(reader.buffered_len(), i + 1);
    }
    assert_eq!(got, Some((req("messagepack", 1), Bytes::new())));
    assert_eq!(reader.feed(b"x"), Err(HandshakeError::AlreadyComplete));

    let mut reader = HandshakeReader::<HandshakeRequest>::new();
    assert_eq!(
        reader.feed(wire),
        Ok(Some((
            req("messagepack", 1),
            Bytes::from_static(b"\x02\x91\x06")
        )))
    );
}

#[test]
fn reader_size_limit() {
    let mut reader = HandshakeReader::<HandshakeResponse>::with_max_size(4);
    assert_eq!(reader.feed(b"{  }"), Ok(None));
    assert_eq!(
        reader.feed(b"\x1e"),
        Ok(Some((HandshakeResponse::success(), Bytes::new())))
    );

    let mut reader = HandshakeReader::<HandshakeResponse>::with_max_size(4);
    assert_eq!(reader.feed(b"{   "), Ok(None));
    assert_eq!(reader.feed(b"}"), Err(HandshakeError::TooLarge { max: 4 }));

    let mut reader = HandshakeReader::<HandshakeResponse>::with_max_size(4);
    assert_eq!(
        reader.feed(b"{   }\x1e"),
        Err(HandshakeError::TooLarge { max: 4 })
    );

    let mut reader = HandshakeReader::<HandshakeRequest>::new();
    assert_eq!(
        reader.feed(&vec![b' '; DEFAULT_MAX_HANDSHAKE_SIZE]),
        Ok(None)
    );
    assert_eq!(
        reader.feed(b" "),
        Err(HandshakeError::TooLarge { max: 32 * 1024 })
    );
}

#[test]
fn reader_reports_a_bad_handshake() {
    let mut reader = HandshakeReader::<HandshakeResponse>::new();
    assert_eq!(
        reader.feed(b"{\"type\":1,\"target\":\"x\",\"arguments\":[]}\x1e"),
        Err(HandshakeError::NotAHandshakeResponse)
    );
    let mut reader = HandshakeReader::<HandshakeRequest>::new();
    assert_eq!(
        reader.feed(b"{\"protocol\":\"json\"}\x1e{}"),
        Err(HandshakeError::MissingField("version"))
    );
}
