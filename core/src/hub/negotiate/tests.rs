use super::*;

fn req(query: &str) -> Result<NegotiateRequest, NegotiateQueryError> {
    NegotiateRequest::parse(Some(query))
}

#[test]
fn version_missing_is_zero_and_name_is_case_insensitive() {
    assert_eq!(NegotiateRequest::parse(None).unwrap().version, 0);
    assert_eq!(req("").unwrap().version, 0);
    assert_eq!(req("negotiateVersion=1").unwrap().version, 1);
    assert_eq!(req("NEGOTIATEVERSION=1").unwrap().version, 1);
    assert_eq!(req("negotiateversion=0").unwrap().version, 0);
}

#[test]
fn version_above_one_is_clamped() {
    assert_eq!(req("negotiateVersion=5").unwrap().version, 1);
    assert_eq!(req("negotiateVersion=99999999999").unwrap().version, 1);
}

#[test]
fn invalid_or_negative_version_is_an_error_text() {
    let e = req("negotiateVersion=abc").unwrap_err();
    assert_eq!(e, NegotiateQueryError::InvalidVersion("abc".into()));
    assert!(e.to_string().contains("'abc'"));
    let e = req("negotiateVersion=-1").unwrap_err();
    assert_eq!(e, NegotiateQueryError::UnsupportedVersion(-1));
    assert!(req("negotiateVersion=").is_err());
    assert!(req("negotiateVersion=1.5").is_err());
}

#[test]
fn stateful_flag() {
    assert!(!req("negotiateVersion=1").unwrap().stateful_reconnect);
    assert!(
        req("negotiateVersion=1&useStatefulReconnect=true")
            .unwrap()
            .stateful_reconnect
    );
    assert!(req("useStatefulReconnect=True").unwrap().stateful_reconnect);
    assert!(
        !req("useStatefulReconnect=false")
            .unwrap()
            .stateful_reconnect
    );
}

#[test]
fn query_pairs_decode_percent_and_plus() {
    let pairs: Vec<_> = query_pairs("a=1&&b=x%2By+z&c&access_token=ey%2E.%3D").collect();
    assert_eq!(
        pairs,
        vec![
            ("a".into(), "1".into()),
            ("b".into(), "x+y z".into()),
            ("c".into(), String::new()),
            ("access_token".into(), "ey..=".into()),
        ]
    );
    assert_eq!(
        query_value(Some("id=abc&id=def"), "id").as_deref(),
        Some("abc")
    );
    assert_eq!(query_value(Some("ID=abc"), "id"), None);
    assert_eq!(query_value(None, "id"), None);
}

#[test]
fn ids_are_22_url_safe_chars_and_reproducible() {
    let mut a = fastrand::Rng::with_seed(7);
    let mut b = fastrand::Rng::with_seed(7);
    let id = generate_id(&mut a);
    assert_eq!(id.len(), 22);
    assert!(
        id.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
    assert_eq!(id, generate_id(&mut b));
    assert_ne!(id, generate_id(&mut a));
}

fn connect(version: u32, stateful: bool) -> NegotiateResponse {
    NegotiateResponse::Connect(ConnectInfo {
        connection_id: "id1".into(),
        connection_token: if version == 0 {
            "id1".into()
        } else {
            "tok1".into()
        },
        negotiate_version: version,
        available_transports: TransportKind::ALL.map(AvailableTransport::full).to_vec(),
        stateful_reconnect: stateful,
    })
}

const TRANSPORTS: &str = r#""availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]},{"transport":"ServerSentEvents","transferFormats":["Text"]},{"transport":"LongPolling","transferFormats":["Text","Binary"]}]"#;

#[test]
fn v1_body_exact() {
    assert_eq!(
        connect(1, false).to_json(),
        format!(
            r#"{{"connectionId":"id1","connectionToken":"tok1","negotiateVersion":1,{TRANSPORTS}}}"#
        )
    );
    assert_eq!(
        connect(1, true).to_json(),
        format!(
            r#"{{"connectionId":"id1","connectionToken":"tok1","negotiateVersion":1,{TRANSPORTS},"useStatefulReconnect":true}}"#
        )
    );
}

#[test]
fn v0_body_has_no_token() {
    assert_eq!(
        connect(0, false).to_json(),
        format!(r#"{{"connectionId":"id1","negotiateVersion":0,{TRANSPORTS}}}"#)
    );
}

#[test]
fn redirect_and_error_bodies() {
    let r = NegotiateResponse::Redirect {
        url: "http://h/client/?hub=demo".into(),
        access_token: Some("jwt".into()),
    };
    assert_eq!(
        r.to_json(),
        r#"{"url":"http://h/client/?hub=demo","accessToken":"jwt"}"#
    );
    let e = NegotiateResponse::Error("nope \"x\"".into());
    assert_eq!(e.to_json(), r#"{"error":"nope \"x\""}"#);
}

#[test]
fn parse_round_trips_what_we_write() {
    for (v, s) in [(0, false), (1, false), (1, true)] {
        let body = connect(v, s).to_json();
        assert_eq!(
            NegotiateResponse::parse(body.as_bytes(), s).unwrap(),
            connect(v, s)
        );
    }
    let r = NegotiateResponse::Redirect {
        url: "u".into(),
        access_token: Some("t".into()),
    };
    assert_eq!(
        NegotiateResponse::parse(r.to_json().as_bytes(), false).unwrap(),
        r
    );
}

#[test]
fn parse_is_tolerant() {
    let body = br#"{"extra":{"a":1},"negotiateVersion":1,"connectionToken":"t","connectionId":"i",
        "availableTransports":[{"transport":"Carrier","transferFormats":["Text"]},
        {"transport":"WebSockets","transferFormats":["Text","Smoke"]}]}"#;
    let NegotiateResponse::Connect(info) = NegotiateResponse::parse(body, false).unwrap() else {
        panic!("expected connect")
    };
    assert_eq!(info.connection_token, "t");
    assert_eq!(
        info.available_transports,
        vec![AvailableTransport {
            transport: TransportKind::WebSockets,
            transfer_formats: vec![TransferFormat::Text],
        }]
    );
    // Azure's redirect carries an empty transport list, and no version at all ⇒ v0.
    let body = br#"{"url":"https://svc/client/?hub=x","accessToken":"j","availableTransports":[]}"#;
    assert!(matches!(
        NegotiateResponse::parse(body, false).unwrap(),
        NegotiateResponse::Redirect { .. }
    ));
    let NegotiateResponse::Connect(info) =
        NegotiateResponse::parse(br#"{"connectionId":"abc"}"#, false).unwrap()
    else {
        panic!("expected connect")
    };
    assert_eq!(
        (info.negotiate_version, info.connection_token.as_str()),
        (0, "abc")
    );
}

#[test]
fn parse_errors() {
    let p = |b: &str, s| NegotiateResponse::parse(b.as_bytes(), s);
    assert_eq!(
        p(r#"{"error":"go away"}"#, false),
        Err(NegotiateError::Server("go away".into()))
    );
    assert_eq!(
        p(r#"{"ProtocolVersion":"1.5","ConnectionId":"x"}"#, false),
        Err(NegotiateError::ClassicServer)
    );
    assert!(
        NegotiateError::ClassicServer
            .to_string()
            .contains("classic ASP.NET SignalR server")
    );
    let granted = r#"{"connectionId":"i","connectionToken":"t","negotiateVersion":1,"useStatefulReconnect":true}"#;
    assert_eq!(
        p(granted, false),
        Err(NegotiateError::UnrequestedStatefulReconnect)
    );
    assert!(p(granted, true).is_ok());
    assert_eq!(
        p(r#"{"connectionId":"i","negotiateVersion":1}"#, false),
        Err(NegotiateError::Missing("connectionToken"))
    );
    assert!(matches!(p("[1]", false), Err(NegotiateError::Malformed(_))));
    assert!(matches!(p("{", false), Err(NegotiateError::Malformed(_))));
}

#[test]
fn transport_names_and_formats() {
    for t in TransportKind::ALL {
        assert_eq!(TransportKind::from_name(t.name()), Some(t));
    }
    assert_eq!(TransportKind::from_name("websockets"), None);
    assert_eq!(
        TransportKind::ServerSentEvents.transfer_formats(),
        &[TransferFormat::Text]
    );
}
