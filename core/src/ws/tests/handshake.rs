//! The HTTP/1.1 upgrade helpers.

use crate::ws::{
    HandshakeError, UpgradeRequest, accept_key, check_upgrade_request, client_request,
    error_response, generate_key, parse_response, response_101, validate_101,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// RFC 6455 §1.3: the key "dGhlIHNhbXBsZSBub25jZQ==" gives "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".
#[test]
fn accept_key_rfc_example() {
    assert_eq!(accept_key(KEY), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

#[test]
fn generated_keys_are_16_random_bytes_from_the_seed() {
    let mut rng = fastrand::Rng::with_seed(5);
    let a = generate_key(&mut rng);
    let b = generate_key(&mut rng);
    assert_eq!(STANDARD.decode(&a).unwrap().len(), 16);
    assert_ne!(a, b);
    assert_eq!(a, generate_key(&mut fastrand::Rng::with_seed(5)));
}

#[test]
fn client_request_exact_bytes() {
    let req = client_request("example.com", "/chat?x=1", KEY, &[], &[]);
    assert_eq!(
        String::from_utf8(req).unwrap(),
        "GET /chat?x=1 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
}

/// Parses request bytes with httparse and runs the server-side check on them.
fn server_check(req: &[u8]) -> (String, Result<UpgradeRequest, HandshakeError>) {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut parsed = httparse::Request::new(&mut headers);
    assert!(parsed.parse(req).unwrap().is_complete());
    let path = parsed.path.unwrap().to_owned();
    let result = check_upgrade_request(
        parsed.method.unwrap(),
        parsed.headers.iter().map(|h| (h.name, h.value)),
    );
    (path, result)
}

#[test]
fn client_request_round_trips_through_the_server_check() {
    let req = client_request(
        "h:1",
        "/a b",
        KEY,
        &["chat", "superchat"],
        &[("Authorization", "x\r\nEvil: 1")],
    );
    let text = String::from_utf8(req.clone()).unwrap();
    assert!(text.contains("Sec-WebSocket-Protocol: chat, superchat\r\n"));
    assert!(
        text.contains("Authorization: xEvil: 1\r\n"),
        "CR/LF removed: {text}"
    );
    let (path, result) = server_check(&req);
    assert_eq!(path, "/a%20b");
    assert_eq!(
        result.unwrap(),
        UpgradeRequest {
            key: KEY.into(),
            protocols: vec!["chat".into(), "superchat".into()],
            extensions: None,
        }
    );
}

/// (method, headers, expected error, HTTP status).
type UpgradeCase<'a> = (&'a str, Vec<(&'a str, &'a [u8])>, HandshakeError, u16);

#[test]
fn upgrade_request_errors_and_statuses() {
    let ok: Vec<(&str, &[u8])> = vec![
        ("Host", b"h"),
        ("upgrade", b"WebSocket"),
        ("Connection", b"keep-alive, Upgrade"),
        ("Sec-WebSocket-Version", b"13"),
        ("Sec-WebSocket-Key", KEY.as_bytes()),
        ("Sec-WebSocket-Extensions", b"permessage-deflate"),
    ];
    let result = check_upgrade_request("GET", ok.clone()).unwrap();
    assert_eq!(result.extensions.as_deref(), Some("permessage-deflate"));
    let without = |name: &str| -> Vec<(&str, &[u8])> {
        ok.iter().copied().filter(|(n, _)| *n != name).collect()
    };
    let with = |name: &'static str, value: &'static [u8]| -> Vec<(&str, &[u8])> {
        let mut h = without(name);
        h.push((name, value));
        h
    };
    let cases: Vec<UpgradeCase> = vec![
        (
            "POST",
            ok.clone(),
            HandshakeError::NotGet("POST".into()),
            400,
        ),
        ("GET", without("Host"), HandshakeError::MissingHost, 400),
        (
            "GET",
            without("upgrade"),
            HandshakeError::MissingUpgrade,
            426,
        ),
        (
            "GET",
            with("upgrade", b"h2c"),
            HandshakeError::MissingUpgrade,
            426,
        ),
        (
            "GET",
            with("Connection", b"keep-alive"),
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (
            "GET",
            with("Sec-WebSocket-Version", b"8"),
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            "GET",
            without("Sec-WebSocket-Version"),
            HandshakeError::UnsupportedVersion,
            426,
        ),
        (
            "GET",
            without("Sec-WebSocket-Key"),
            HandshakeError::BadKey,
            400,
        ),
        (
            "GET",
            with("Sec-WebSocket-Key", b"c2hvcnQ="),
            HandshakeError::BadKey,
            400,
        ),
        (
            "GET",
            [ok.clone(), vec![("sec-websocket-key", KEY.as_bytes())]].concat(),
            HandshakeError::BadKey,
            400,
        ),
    ];
    for (method, headers, error, status) in cases {
        assert_eq!(check_upgrade_request(method, headers), Err(error.clone()));
        assert_eq!(error.http_status(), status, "{error}");
        let response = String::from_utf8(error_response(&error)).unwrap();
        assert!(
            response.starts_with(&format!("HTTP/1.1 {status} ")),
            "{response}"
        );
        assert!(response.ends_with("\r\n\r\n"));
        assert_eq!(
            response.contains("Sec-WebSocket-Version: 13\r\n"),
            status == 426
        );
    }
}

#[test]
fn response_101_round_trips_through_the_client_checks() {
    let bytes = response_101(KEY, Some("chat"));
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.starts_with("HTTP/1.1 101 Switching Protocols\r\n"));
    assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    let mut buf = bytes.clone();
    buf.extend_from_slice(&[0x81, 0x00]); // the first WebSocket frame, same read
    let head = parse_response(&buf).unwrap().unwrap();
    assert_eq!(head.head_len, bytes.len());
    assert_eq!(
        (head.status, head.reason.as_str()),
        (101, "Switching Protocols")
    );
    assert_eq!(validate_101(&head, KEY), Ok(Some("chat".into())));
    let head = parse_response(&response_101(KEY, None)).unwrap().unwrap();
    assert_eq!(validate_101(&head, KEY), Ok(None));
}

#[test]
fn parse_response_needs_the_whole_head() {
    let bytes = response_101(KEY, None);
    for cut in 0..bytes.len() {
        assert_eq!(parse_response(&bytes[..cut]), Ok(None), "cut {cut}");
    }
    assert!(parse_response(&bytes).unwrap().is_some());
    assert_eq!(
        parse_response(b"HTTP/1.1 abc\r\n\r\n"),
        Err(HandshakeError::MalformedResponse)
    );
    let mut huge = b"HTTP/1.1 101 OK\r\nX: ".to_vec();
    huge.resize(20_000, b'a');
    assert_eq!(parse_response(&huge), Err(HandshakeError::HeadTooLarge));
    let mut many = b"HTTP/1.1 101 OK\r\n".to_vec();
    for i in 0..100 {
        many.extend(format!("X-{i}: y\r\n").bytes());
    }
    many.extend(b"\r\n");
    assert_eq!(parse_response(&many), Err(HandshakeError::HeadTooLarge));
}

#[test]
fn validate_101_rejects_bad_responses() {
    let accept = accept_key(KEY);
    let good = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Accept: {accept}\r\n"
    );
    let check = |extra: &str, replace: Option<(&str, &str)>| {
        let mut text = good.clone();
        if let Some((from, to)) = replace {
            text = text.replace(from, to);
        }
        text.push_str(extra);
        text.push_str("\r\n");
        validate_101(&parse_response(text.as_bytes()).unwrap().unwrap(), KEY)
    };
    assert_eq!(check("", None), Ok(None));
    assert_eq!(
        check("", Some(("101 Switching Protocols", "200 OK"))),
        Err(HandshakeError::UnexpectedStatus(200))
    );
    assert_eq!(
        check("", Some(("Upgrade: websocket", "Upgrade: h2c"))),
        Err(HandshakeError::MissingUpgrade)
    );
    assert_eq!(
        check("", Some(("Connection: upgrade", "Connection: close"))),
        Err(HandshakeError::MissingConnectionUpgrade)
    );
    assert_eq!(
        check("", Some((&accept, "AAAA"))),
        Err(HandshakeError::BadAccept)
    );
    assert_eq!(
        check(&format!("Sec-WebSocket-Accept: {accept}\r\n"), None),
        Err(HandshakeError::BadAccept),
        "repeated"
    );
    assert_eq!(
        check("Sec-WebSocket-Extensions: permessage-deflate\r\n", None),
        Err(HandshakeError::UnexpectedExtension)
    );
    assert_eq!(
        check("Sec-WebSocket-Protocol: a, b\r\n", None),
        Err(HandshakeError::MultipleProtocols)
    );
    // A response computed for another key.
    let other = "x3JJHMbDL1EzLkh9GBhXDw==";
    assert_eq!(
        validate_101(
            &parse_response(format!("{good}\r\n").as_bytes())
                .unwrap()
                .unwrap(),
            other
        ),
        Err(HandshakeError::BadAccept)
    );
}
