//! Gateway rules driven in virtual time: every input is explicit, every output checked.

use super::*;
use crate::relay::message::RemoteEndpoint;
use crate::relay::sas::{SasValidator, SharedAccessRule, create_token};
use std::time::Duration;

const HOST: &str = "127.0.0.1:9090";
const KEY: &str = "c2VjcmV0LWtleQ==";
/// Unix seconds at Instant(0) in these tests.
const T0: u64 = 1_700_000_000;

fn token(rule: &str, entity: &str, ttl: u64) -> String {
    create_token(
        &format!("http://{HOST}/{entity}"),
        rule,
        KEY,
        UnixTime(T0 + ttl),
    )
}

fn gateway_with(limits: Limits, hcs: Option<Vec<HybridConnectionConfig>>) -> Gateway {
    let rules = vec![
        SharedAccessRule::new("root", KEY, Rights::ALL),
        SharedAccessRule::new("sendonly", KEY, Rights::SEND),
        SharedAccessRule::new("listenonly", KEY, Rights::LISTEN),
    ];
    let grace = limits.token_expiry_grace_secs;
    let config = GatewayConfig {
        hybrid_connections: hcs,
        limits,
        public_base_url: None,
        unix_origin_ms: T0 * 1000,
        seed: 7,
    };
    Gateway::new(
        config,
        Box::new(SasValidator::new(rules).with_expiry_grace(grace)),
    )
}

fn gateway() -> Gateway {
    gateway_with(
        Limits::default(),
        Some(vec![
            HybridConnectionConfig::new("hc1"),
            HybridConnectionConfig::anonymous("open"),
        ]),
    )
}

fn drain(g: &mut Gateway) -> Vec<Output> {
    std::iter::from_fn(|| g.poll_output()).collect()
}

fn upgrade(path: &str, query: &str, headers: &[(&str, &str)]) -> UpgradeRequest {
    let mut hs: Vec<(String, String)> = vec![
        ("Host".into(), HOST.into()),
        (
            "Sec-WebSocket-Key".into(),
            "dGhlIHNhbXBsZSBub25jZQ==".into(),
        ),
        ("Sec-WebSocket-Version".into(), "13".into()),
    ];
    hs.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    UpgradeRequest {
        path: path.into(),
        query: (!query.is_empty()).then(|| query.to_string()),
        headers: hs,
        host: HOST.into(),
        secure: false,
        remote: Some(RemoteEndpoint {
            address: "127.0.0.1".into(),
            port: 40000,
        }),
    }
}

fn http(
    method: &str,
    path_query: &str,
    headers: &[(&str, &str)],
    body: RequestBody,
) -> HttpRequest {
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p.to_string(), Some(q.to_string())),
        None => (path_query.to_string(), None),
    };
    let mut hs: Vec<(String, String)> = vec![("Host".into(), HOST.into())];
    hs.extend(headers.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    HttpRequest {
        method: method.into(),
        path,
        query,
        headers: hs,
        host: HOST.into(),
        secure: false,
        remote: None,
        body,
    }
}

/// Connects a listener on `hc1` as `conn`, asserting it was accepted.
fn listen(g: &mut Gateway, now: Instant, conn: u64, id: &str) {
    let q = format!("sb-hc-action=listen&sb-hc-id={id}");
    let tok = token("root", "hc1", 3600);
    g.handle_upgrade(
        now,
        ConnId(conn),
        upgrade("/$hc/hc1", &q, &[("ServiceBusAuthorization", &tok)]),
    );
    let out = drain(g);
    assert_eq!(
        out,
        vec![Output::Upgrade {
            conn: ConnId(conn),
            protocol: None,
            then: AfterUpgrade::Driven
        }]
    );
}

fn refused(out: &[Output]) -> Vec<(u64, u16)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Refuse { conn, status, .. } => Some((conn.0, *status)),
            _ => None,
        })
        .collect()
}

fn sent_text(out: &[Output], to: u64) -> Vec<ControlMessage> {
    out.iter()
        .filter_map(|o| match o {
            Output::Send {
                conn,
                msg: WsOut::Text(t),
            } if conn.0 == to => Some(ControlMessage::parse(t).unwrap()),
            _ => None,
        })
        .collect()
}

fn one_accept(out: &[Output], to: u64) -> AcceptCommand {
    match &sent_text(out, to)[..] {
        [ControlMessage::Accept(a)] => a.clone(),
        other => panic!("expected one accept, got {other:?}"),
    }
}

fn one_request(out: &[Output], to: u64) -> RequestCommand {
    match &sent_text(out, to)[..] {
        [ControlMessage::Request(r)] => r.clone(),
        other => panic!("expected one request, got {other:?}"),
    }
}

fn http_status(out: &[Output], to: u64) -> Option<(u16, ResponseBody)> {
    out.iter().find_map(|o| match o {
        Output::HttpResponse {
            conn, status, body, ..
        } if conn.0 == to => Some((*status, body.clone())),
        _ => None,
    })
}

fn query_id(address: &str) -> String {
    address
        .split("sb-hc-id=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string()
}

#[test]
fn listen_auth_rules() {
    let mut g = gateway();
    let now = Instant(0);
    g.handle_upgrade(
        now,
        ConnId(1),
        upgrade("/$hc/hc1", "sb-hc-action=listen", &[]),
    );
    let send_tok = token("sendonly", "hc1", 60);
    g.handle_upgrade(
        now,
        ConnId(2),
        upgrade(
            "/$hc/hc1",
            "sb-hc-action=listen",
            &[("ServiceBusAuthorization", &send_tok)],
        ),
    );
    let tok = token("root", "nothere", 60);
    g.handle_upgrade(
        now,
        ConnId(3),
        upgrade(
            "/$hc/nothere",
            "sb-hc-action=listen",
            &[("ServiceBusAuthorization", &tok)],
        ),
    );
    g.handle_upgrade(
        now,
        ConnId(4),
        upgrade("/$hc/hc1", "sb-hc-action=dance", &[]),
    );
    let wrong_key = create_token(
        &format!("http://{HOST}/hc1"),
        "root",
        "other",
        UnixTime(T0 + 60),
    );
    g.handle_upgrade(
        now,
        ConnId(5),
        upgrade(
            "/$hc/hc1",
            "sb-hc-action=listen",
            &[("ServiceBusAuthorization", &wrong_key)],
        ),
    );
    // The token may also come in the query.
    let q = format!(
        "sb-hc-action=listen&sb-hc-token={}",
        crate::relay::sas::encode_uri_component(&token("root", "hc1", 60))
    );
    g.handle_upgrade(now, ConnId(6), upgrade("/$hc/hc1", &q, &[]));
    let out = drain(&mut g);
    assert_eq!(
        refused(&out),
        vec![(1, 401), (2, 403), (3, 404), (4, 400), (5, 401)]
    );
    assert!(out.contains(&Output::Upgrade {
        conn: ConnId(6),
        protocol: None,
        then: AfterUpgrade::Driven
    }));
    assert_eq!(g.listener_count("hc1"), 1);
}

#[test]
fn twenty_sixth_listener_is_refused() {
    let mut g = gateway();
    for i in 0..25 {
        listen(&mut g, Instant(0), i, &format!("l{i}"));
    }
    let tok = token("root", "hc1", 60);
    g.handle_upgrade(
        Instant(0),
        ConnId(99),
        upgrade(
            "/$hc/hc1",
            "sb-hc-action=listen",
            &[("ServiceBusAuthorization", &tok)],
        ),
    );
    assert_eq!(refused(&drain(&mut g)), vec![(99, 403)]);
    // Once one leaves, a new one fits again.
    g.handle_disconnect(Instant(1), ConnId(3));
    listen(&mut g, Instant(2), 100, "again");
    assert_eq!(g.listener_count("hc1"), 25);
}

#[test]
fn websocket_rendezvous_pairs_sender_and_listener() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 60);
    g.handle_upgrade(
        Instant(10),
        ConnId(2),
        upgrade(
            "/$hc/hc1/sfx",
            "app=1&sb-hc-action=connect&sb-hc-id=sender-7",
            &[
                ("ServiceBusAuthorization", &tok),
                ("Sec-WebSocket-Protocol", "chat, superchat"),
            ],
        ),
    );
    let out = drain(&mut g);
    // The sender is held: no answer yet, an accept went to the listener.
    assert!(refused(&out).is_empty());
    assert!(!out.iter().any(|o| matches!(o, Output::Upgrade { .. })));
    let a = one_accept(&out, 1);
    assert_eq!(a.id, "sender-7");
    assert!(
        a.address
            .starts_with("ws://127.0.0.1:9090/$hc/hc1/sfx?app=1&sb-hc-action=accept&sb-hc-id="),
        "{}",
        a.address
    );
    assert_eq!(
        a.connect_headers.get("Sec-WebSocket-Key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    assert_eq!(
        a.connect_headers.get("Sec-WebSocket-Protocol"),
        Some("chat, superchat")
    );
    assert_eq!(
        a.connect_headers.get("ServiceBusAuthorization"),
        None,
        "the token must not leak"
    );
    assert_eq!(a.remote_endpoint.as_ref().unwrap().port, 40000);

    // The listener opens the address with its chosen protocol: both get 101 with it.
    let secret = query_id(&a.address);
    let q = format!("app=1&sb-hc-action=accept&sb-hc-id={secret}");
    g.handle_upgrade(
        Instant(20),
        ConnId(3),
        upgrade(
            "/$hc/hc1/sfx",
            &q,
            &[("Sec-WebSocket-Protocol", "superchat")],
        ),
    );
    let out = drain(&mut g);
    assert_eq!(
        out,
        vec![
            Output::Upgrade {
                conn: ConnId(3),
                protocol: Some("superchat".into()),
                then: AfterUpgrade::PairWith(ConnId(2))
            },
            Output::Upgrade {
                conn: ConnId(2),
                protocol: Some("superchat".into()),
                then: AfterUpgrade::PairWith(ConnId(3))
            },
        ]
    );
    // Single use.
    g.handle_upgrade(Instant(21), ConnId(4), upgrade("/$hc/hc1/sfx", &q, &[]));
    assert_eq!(refused(&drain(&mut g)), vec![(4, 403)]);
    assert_eq!(g.stats().pending_accepts, 0);
}

#[test]
fn accept_address_expires() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 600);
    g.handle_upgrade(
        Instant(0),
        ConnId(2),
        upgrade(
            "/$hc/hc1",
            "sb-hc-action=connect",
            &[("ServiceBusAuthorization", &tok)],
        ),
    );
    let out = drain(&mut g);
    let a = one_accept(&out, 1);
    let deadline = g.poll_timeout().unwrap();
    assert_eq!(deadline, Instant(30_000));
    g.handle_timeout(Instant(29_999));
    assert!(drain(&mut g).is_empty());
    g.handle_timeout(deadline);
    assert_eq!(refused(&drain(&mut g)), vec![(2, 504)]);
    let q = format!("sb-hc-action=accept&sb-hc-id={}", query_id(&a.address));
    g.handle_upgrade(Instant(30_001), ConnId(3), upgrade("/$hc/hc1", &q, &[]));
    assert_eq!(refused(&drain(&mut g)), vec![(3, 403)]);
}

#[test]
fn reject_gives_410_to_listener_and_status_to_sender() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    g.handle_upgrade(
        Instant(0),
        ConnId(2),
        upgrade("/$hc/open", "sb-hc-action=connect", &[]),
    );
    // "open" has no listener: 404 even though it is anonymous.
    assert_eq!(refused(&drain(&mut g)), vec![(2, 404)]);
    let tok = token("root", "hc1", 600);
    g.handle_upgrade(
        Instant(0),
        ConnId(3),
        upgrade("/$hc/hc1", "", &[("ServiceBusAuthorization", &tok)]),
    );
    let out = drain(&mut g);
    let a = one_accept(&out, 1);
    let q = format!(
        "sb-hc-action=accept&sb-hc-id={}&sb-hc-statusCode=418&sb-hc-statusDescription=Not%20today",
        query_id(&a.address)
    );
    g.handle_upgrade(Instant(5), ConnId(4), upgrade("/$hc/hc1", &q, &[]));
    let out = drain(&mut g);
    assert_eq!(
        out,
        vec![
            Output::Refuse {
                conn: ConnId(4),
                status: 410,
                reason: "Gone".into()
            },
            Output::Refuse {
                conn: ConnId(3),
                status: 418,
                reason: "Not today".into()
            },
        ]
    );
}

#[test]
fn sender_auth_and_anonymous() {
    let mut g = gateway_with(
        Limits::default(),
        Some(vec![
            HybridConnectionConfig::new("hc1"),
            HybridConnectionConfig::anonymous("open"),
        ]),
    );
    listen(&mut g, Instant(0), 1, "L");
    g.handle_upgrade(
        Instant(0),
        ConnId(2),
        upgrade("/$hc/hc1", "sb-hc-action=connect", &[]),
    );
    let listen_only = token("listenonly", "hc1", 60);
    g.handle_upgrade(
        Instant(0),
        ConnId(3),
        upgrade(
            "/$hc/hc1",
            "sb-hc-action=connect",
            &[("ServiceBusAuthorization", &listen_only)],
        ),
    );
    assert_eq!(refused(&drain(&mut g)), vec![(2, 401), (3, 403)]);
    // An anonymous hybrid connection takes tokenless HTTP senders.
    let tok = token("root", "open", 60);
    g.handle_upgrade(
        Instant(0),
        ConnId(4),
        upgrade(
            "/$hc/open",
            "sb-hc-action=listen",
            &[("ServiceBusAuthorization", &tok)],
        ),
    );
    drain(&mut g);
    g.handle_http_request(
        Instant(0),
        ConnId(5),
        http("GET", "/open/x", &[], RequestBody::Complete(Bytes::new())),
    );
    let out = drain(&mut g);
    assert_eq!(sent_text(&out, 4).len(), 1);
    g.handle_http_request(
        Instant(0),
        ConnId(6),
        http("GET", "/hc1/x", &[], RequestBody::Complete(Bytes::new())),
    );
    assert_eq!(http_status(&drain(&mut g), 6).unwrap().0, 401);
}

#[test]
fn http_over_control_channel() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 60);
    g.handle_http_request(
        Instant(100),
        ConnId(2),
        http(
            "POST",
            "/hc1/abc?x=1&sb-hc-token=zzz&y",
            &[
                ("ServiceBusAuthorization", &tok),
                ("X-A", "v1"),
                ("x-a", "v2"),
                ("Connection", "close"),
                ("Content-Length", "5"),
            ],
            RequestBody::Complete(Bytes::from_static(b"hello")),
        ),
    );
    // sb-hc-token in the query takes precedence over the header: `zzz` is not a valid token.
    assert_eq!(http_status(&drain(&mut g), 2).unwrap().0, 401);
    // Redo with the token only in the header.
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    g.handle_http_request(
        Instant(100),
        ConnId(2),
        http(
            "POST",
            "/hc1/abc?x=1&sb-hc-x&y",
            &[
                ("ServiceBusAuthorization", &tok),
                ("X-A", "v1"),
                ("x-a", "v2"),
                ("Connection", "close"),
                ("Content-Length", "5"),
            ],
            RequestBody::Complete(Bytes::from_static(b"hello")),
        ),
    );
    let out = drain(&mut g);
    let r = one_request(&out, 1);
    assert_eq!(r.method.as_deref(), Some("POST"));
    assert_eq!(r.request_target.as_deref(), Some("/hc1/abc?x=1&sb-hc-x&y"));
    assert_eq!(r.request_headers.get("x-a"), Some("v1, v2"));
    assert_eq!(r.request_headers.get("Connection"), None);
    assert_eq!(r.request_headers.get("Content-Length"), None);
    assert_eq!(r.request_headers.get("ServiceBusAuthorization"), None);
    assert!(r.has_body());
    assert!(r.address.contains("sb-hc-action=request"));
    // The body follows immediately as one binary message.
    let pos = out
        .iter()
        .position(|o| {
            matches!(
                o,
                Output::Send {
                    msg: WsOut::Text(_),
                    ..
                }
            )
        })
        .unwrap();
    assert_eq!(
        out[pos + 1],
        Output::Send {
            conn: ConnId(1),
            msg: WsOut::Binary(Bytes::from_static(b"hello"))
        }
    );

    // Response with body over the control channel: delivered whole, with Via, framing removed.
    let resp = format!(
        r#"{{"response":{{"requestId":"{}","statusCode":"201","statusDescription":"Made","responseHeaders":{{"content-length":"3","x-r":"1"}},"body":true}}}}"#,
        r.id
    );
    g.handle_text(Instant(200), ConnId(1), &resp);
    assert!(drain(&mut g).is_empty(), "held until the body arrives");
    g.handle_binary(Instant(201), ConnId(1), Bytes::from_static(b"ab"), false);
    g.handle_binary(Instant(202), ConnId(1), Bytes::from_static(b"c"), true);
    let out = drain(&mut g);
    let Output::HttpResponse {
        conn,
        status,
        reason,
        headers,
        body,
    } = &out[0]
    else {
        panic!("{out:?}")
    };
    assert_eq!((conn.0, *status, reason.as_str()), (2, 201, "Made"));
    assert_eq!(headers.get("x-r"), Some("1"));
    assert_eq!(headers.get("content-length"), None);
    assert_eq!(headers.get("Via"), Some("1.1 127.0.0.1"));
    assert_eq!(*body, ResponseBody::Full(Bytes::from_static(b"abc")));
    // A stray empty binary message after a body:false response is tolerated.
    g.handle_binary(Instant(203), ConnId(1), Bytes::new(), true);
    assert!(drain(&mut g).is_empty());
    assert_eq!(g.stats().pending_requests, 0);
    assert_eq!(g.listener_count("hc1"), 1);
}

#[test]
fn http_without_listener_and_on_hc_endpoint() {
    let mut g = gateway();
    let tok = token("root", "hc1", 60);
    g.handle_http_request(
        Instant(0),
        ConnId(1),
        http(
            "GET",
            "/hc1/x",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    g.handle_http_request(
        Instant(0),
        ConnId(2),
        http("GET", "/$hc/hc1", &[], RequestBody::Complete(Bytes::new())),
    );
    g.handle_http_request(
        Instant(0),
        ConnId(3),
        http("GET", "/nothere", &[], RequestBody::Complete(Bytes::new())),
    );
    let out = drain(&mut g);
    assert_eq!(http_status(&out, 1).unwrap().0, 502);
    assert_eq!(http_status(&out, 2).unwrap().0, 400);
    assert_eq!(http_status(&out, 3).unwrap().0, 404);
}

#[test]
fn response_deadline_gives_504_and_late_response_is_ignored() {
    let limits = Limits {
        response_timeout: Duration::from_secs(5),
        ..Default::default()
    };
    let mut g = gateway_with(limits, Some(vec![HybridConnectionConfig::new("hc1")]));
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 600);
    g.handle_http_request(
        Instant(1_000),
        ConnId(2),
        http(
            "GET",
            "/hc1",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    let out = drain(&mut g);
    let r = one_request(&out, 1);
    g.handle_timeout(Instant(5_999));
    assert!(http_status(&drain(&mut g), 2).is_none());
    g.handle_timeout(Instant(6_000));
    let (status, body) = http_status(&drain(&mut g), 2).unwrap();
    assert_eq!(status, 504);
    let ResponseBody::Full(b) = body else {
        panic!()
    };
    assert!(std::str::from_utf8(&b).unwrap().contains("GatewayTimeout"));
    // A late response (with body) is swallowed without disturbing the channel.
    let late = format!(
        r#"{{"response":{{"requestId":"{}","statusCode":200,"body":true}}}}"#,
        r.id
    );
    g.handle_text(Instant(7_000), ConnId(1), &late);
    g.handle_binary(Instant(7_001), ConnId(1), Bytes::from_static(b"late"), true);
    assert!(drain(&mut g).is_empty());
    assert_eq!(g.listener_count("hc1"), 1);
}

#[test]
fn large_request_uses_relay_initiated_rendezvous() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 600);
    let big = Bytes::from(vec![7u8; 100 * 1024]);
    g.handle_http_request(
        Instant(0),
        ConnId(2),
        http(
            "PUT",
            "/hc1/up",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(big.clone()),
        ),
    );
    let out = drain(&mut g);
    let only = one_request(&out, 1);
    assert!(only.is_rendezvous_only());
    assert!(
        !out.iter().any(|o| matches!(
            o,
            Output::Send {
                msg: WsOut::Binary(_),
                ..
            }
        )),
        "no body on the control channel"
    );
    let q = format!("sb-hc-action=request&sb-hc-id={}", query_id(&only.address));
    g.handle_upgrade(Instant(10), ConnId(3), upgrade("/$hc/hc1", &q, &[]));
    let out = drain(&mut g);
    assert_eq!(
        out[0],
        Output::Upgrade {
            conn: ConnId(3),
            protocol: None,
            then: AfterUpgrade::Driven
        }
    );
    let full = one_request(&out, 3);
    assert_eq!(full.method.as_deref(), Some("PUT"));
    assert!(full.has_body());
    assert_eq!(
        out[2],
        Output::SendRequestBody {
            to: ConnId(3),
            data: big
        }
    );
    // The response streams back on the same socket, piece by piece.
    let resp = format!(
        r#"{{"response":{{"requestId":"{}","statusCode":200,"responseHeaders":{{}},"body":true}}}}"#,
        full.id
    );
    g.handle_text(Instant(20), ConnId(3), &resp);
    g.handle_binary(Instant(21), ConnId(3), Bytes::from_static(b"part1"), false);
    let out = drain(&mut g);
    assert_eq!(
        http_status(&out, 2).unwrap(),
        (200, ResponseBody::Streaming)
    );
    assert_eq!(
        out[1],
        Output::HttpBody {
            conn: ConnId(2),
            data: Bytes::from_static(b"part1")
        }
    );
    g.handle_binary(Instant(22), ConnId(3), Bytes::new(), true);
    assert_eq!(drain(&mut g), vec![Output::HttpEnd { conn: ConnId(2) }]);
    // Closing the rendezvous after the response does not disturb anything.
    g.handle_closed(Instant(23), ConnId(3), Some(1000));
    let out = drain(&mut g);
    assert!(
        out.iter()
            .all(|o| !matches!(o, Output::HttpAbort { .. } | Output::HttpResponse { .. }))
    );
}

#[test]
fn streaming_request_body_is_piped_and_listener_initiated_response_streams() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 600);
    g.handle_http_request(
        Instant(0),
        ConnId(2),
        http(
            "POST",
            "/hc1",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Streaming,
        ),
    );
    let out = drain(&mut g);
    let only = one_request(&out, 1);
    let q = format!("sb-hc-action=request&sb-hc-id={}", query_id(&only.address));
    g.handle_upgrade(Instant(1), ConnId(3), upgrade("/$hc/hc1", &q, &[]));
    let out = drain(&mut g);
    assert!(out.contains(&Output::PipeRequestBody {
        from: ConnId(2),
        to: ConnId(3)
    }));

    // Listener-initiated: a small GET answered through a rendezvous the listener opens.
    g.handle_http_request(
        Instant(5),
        ConnId(4),
        http(
            "GET",
            "/hc1/sse",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    let out = drain(&mut g);
    let r = one_request(&out, 1);
    assert!(!r.is_rendezvous_only());
    let q = format!("sb-hc-action=request&sb-hc-id={}", query_id(&r.address));
    g.handle_upgrade(Instant(6), ConnId(5), upgrade("/$hc/hc1", &q, &[]));
    assert_eq!(
        drain(&mut g),
        vec![Output::Upgrade {
            conn: ConnId(5),
            protocol: None,
            then: AfterUpgrade::Driven
        }]
    );
    let resp = format!(
        r#"{{"response":{{"requestId":"{}","statusCode":200,"responseHeaders":{{"content-type":"text/event-stream"}},"body":true}}}}"#,
        r.id
    );
    g.handle_text(Instant(7), ConnId(5), &resp);
    g.handle_binary(
        Instant(8),
        ConnId(5),
        Bytes::from_static(b"data: 1\n\n"),
        false,
    );
    let out = drain(&mut g);
    assert_eq!(
        http_status(&out, 4).unwrap(),
        (200, ResponseBody::Streaming)
    );
    assert_eq!(
        out[1],
        Output::HttpBody {
            conn: ConnId(4),
            data: Bytes::from_static(b"data: 1\n\n")
        }
    );
    // Idle beyond the limit aborts the streamed response.
    let idle = g.config().limits.response_idle_timeout;
    g.handle_timeout(Instant(8) + idle);
    let out = drain(&mut g);
    assert!(
        out.contains(&Output::HttpAbort { conn: ConnId(4) }),
        "{out:?}"
    );
}

#[test]
fn rendezvous_closing_early_aborts_or_fails() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 600);
    g.handle_http_request(
        Instant(0),
        ConnId(2),
        http(
            "GET",
            "/hc1",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    let r = one_request(&drain(&mut g), 1);
    let q = format!("sb-hc-action=request&sb-hc-id={}", query_id(&r.address));
    g.handle_upgrade(Instant(1), ConnId(3), upgrade("/$hc/hc1", &q, &[]));
    drain(&mut g);
    g.handle_disconnect(Instant(2), ConnId(3));
    assert_eq!(http_status(&drain(&mut g), 2).unwrap().0, 502);
}

#[test]
fn renew_token_extends_and_expiry_closes_1008() {
    let limits = Limits {
        token_expiry_grace_secs: 0,
        ..Default::default()
    };
    let mut g = gateway_with(limits, Some(vec![HybridConnectionConfig::new("hc1")]));
    for conn in [1, 2] {
        let tok = token("root", "hc1", 10);
        g.handle_upgrade(
            Instant(0),
            ConnId(conn),
            upgrade(
                "/$hc/hc1",
                "sb-hc-action=listen",
                &[("ServiceBusAuthorization", &tok)],
            ),
        );
    }
    drain(&mut g);
    // Listener 1 renews (URL-encoded once more, which is tolerated) before expiry.
    let fresh = crate::relay::sas::encode_uri_component(&token("root", "hc1", 100));
    g.handle_text(
        Instant(5_000),
        ConnId(1),
        &format!(r#"{{"renewToken":{{"token":"{fresh}"}}}}"#),
    );
    assert!(drain(&mut g).is_empty(), "renewal is silent");
    // The usual form: the token as it goes in a header.
    let plain = token("root", "hc1", 100);
    g.handle_text(
        Instant(5_500),
        ConnId(1),
        &format!(r#"{{"renewToken":{{"token":"{plain}"}}}}"#),
    );
    assert!(drain(&mut g).is_empty(), "a plain renewal is accepted");
    g.handle_timeout(Instant(10_000));
    let out = drain(&mut g);
    assert_eq!(
        out,
        vec![Output::Send {
            conn: ConnId(2),
            msg: WsOut::Close {
                code: 1008,
                reason: "token expired".into()
            }
        }]
    );
    assert_eq!(g.listener_count("hc1"), 1);
    // An invalid renewal closes with 1008 too.
    g.handle_text(
        Instant(11_000),
        ConnId(1),
        r#"{"renewToken":{"token":"SharedAccessSignature sr=x&sig=y&se=1&skn=root"}}"#,
    );
    let out = drain(&mut g);
    assert!(matches!(
        &out[..],
        [Output::Send {
            conn: ConnId(1),
            msg: WsOut::Close { code: 1008, .. }
        }]
    ));
    assert_eq!(g.listener_count("hc1"), 0);
}

#[test]
fn bad_control_traffic_closes_only_that_listener() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "A");
    listen(&mut g, Instant(0), 2, "B");
    listen(&mut g, Instant(0), 3, "C");
    listen(&mut g, Instant(0), 4, "D");
    g.handle_text(Instant(1), ConnId(1), r#"{"somethingNew":{}}"#);
    assert!(drain(&mut g).is_empty(), "unknown commands are ignored");
    g.handle_text(Instant(1), ConnId(1), "not json");
    g.handle_binary(Instant(1), ConnId(2), Bytes::from_static(b"junk"), true);
    let huge = format!(r#"{{"x":"{}"}}"#, "a".repeat(70 * 1024));
    g.handle_text(Instant(1), ConnId(3), &huge);
    let out = drain(&mut g);
    let codes: Vec<(u64, u16)> = out
        .iter()
        .filter_map(|o| match o {
            Output::Send {
                conn,
                msg: WsOut::Close { code, .. },
            } => Some((conn.0, *code)),
            _ => None,
        })
        .collect();
    assert_eq!(codes, vec![(1, 1002), (2, 1002), (3, 1009)]);
    assert_eq!(g.listener_count("hc1"), 1);
}

#[test]
fn listener_leaving_fails_its_pending_requests() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "A");
    let tok = token("root", "hc1", 600);
    g.handle_http_request(
        Instant(0),
        ConnId(2),
        http(
            "GET",
            "/hc1",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    drain(&mut g);
    g.handle_closed(Instant(1), ConnId(1), Some(1000));
    let out = drain(&mut g);
    assert_eq!(
        out[0],
        Output::Send {
            conn: ConnId(1),
            msg: WsOut::Close {
                code: 1000,
                reason: String::new()
            }
        }
    );
    assert_eq!(http_status(&out, 2).unwrap().0, 502);
}

#[test]
fn keepalive_pings_then_closes_a_silent_listener() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "A");
    let interval = g.config().limits.keepalive_interval;
    let timeout = g.config().limits.keepalive_timeout;
    let t1 = Instant(0) + interval;
    assert_eq!(g.poll_timeout(), Some(t1));
    g.handle_timeout(t1);
    assert_eq!(
        drain(&mut g),
        vec![Output::Send {
            conn: ConnId(1),
            msg: WsOut::Ping
        }]
    );
    // A pong resets the cycle.
    g.handle_keepalive(t1 + Duration::from_secs(1), ConnId(1));
    g.handle_timeout(t1 + timeout);
    assert!(drain(&mut g).is_empty());
    let t2 = t1 + Duration::from_secs(1) + interval;
    g.handle_timeout(t2);
    assert_eq!(
        drain(&mut g),
        vec![Output::Send {
            conn: ConnId(1),
            msg: WsOut::Ping
        }]
    );
    g.handle_timeout(t2 + timeout);
    let out = drain(&mut g);
    assert!(
        matches!(
            &out[..],
            [Output::Send {
                msg: WsOut::Close { code: 1011, .. },
                ..
            }]
        ),
        "{out:?}"
    );
    assert_eq!(g.listener_count("hc1"), 0);
}

#[test]
fn allowed_and_disallowed_listeners_route() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "A");
    listen(&mut g, Instant(0), 2, "B");
    let tok = token("root", "hc1", 600);
    for i in 0..10 {
        g.handle_http_request(
            Instant(0),
            ConnId(100 + i),
            http(
                "GET",
                "/hc1",
                &[
                    ("ServiceBusAuthorization", &tok),
                    ("Microsoft-Relay-AllowedListeners", "B"),
                ],
                RequestBody::Complete(Bytes::new()),
            ),
        );
    }
    let out = drain(&mut g);
    assert_eq!(sent_text(&out, 2).len(), 10);
    assert_eq!(sent_text(&out, 1).len(), 0);
    assert_eq!(sent_text(&out, 2)[0].name(), "request");
    g.handle_http_request(
        Instant(0),
        ConnId(200),
        http(
            "GET",
            "/hc1",
            &[
                ("ServiceBusAuthorization", &tok),
                ("Microsoft-Relay-DisallowedListeners", "A, B"),
            ],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    let (status, body) = http_status(&drain(&mut g), 200).unwrap();
    assert_eq!(status, 404);
    assert!(
        matches!(body, ResponseBody::Full(b) if b.starts_with(b"None of the connected listeners"))
    );
}

#[test]
fn listeners_share_work_randomly() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "A");
    listen(&mut g, Instant(0), 2, "B");
    let tok = token("root", "hc1", 600);
    for i in 0..200 {
        g.handle_http_request(
            Instant(0),
            ConnId(100 + i),
            http(
                "GET",
                "/hc1",
                &[("ServiceBusAuthorization", &tok)],
                RequestBody::Complete(Bytes::new()),
            ),
        );
    }
    let out = drain(&mut g);
    let a = sent_text(&out, 1).len();
    let b = sent_text(&out, 2).len();
    assert_eq!(a + b, 200);
    assert!(a > 60 && b > 60, "uneven split {a}/{b}");
}

#[test]
fn any_name_mode_creates_and_drops_state_with_listeners() {
    let mut g = gateway_with(Limits::default(), None);
    let tok = token("root", "x1", 600);
    g.handle_http_request(
        Instant(0),
        ConnId(1),
        http(
            "GET",
            "/x1/a",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    assert_eq!(http_status(&drain(&mut g), 1).unwrap().0, 502);
    g.handle_upgrade(
        Instant(0),
        ConnId(2),
        upgrade(
            "/$hc/x1",
            "sb-hc-action=listen",
            &[("ServiceBusAuthorization", &tok)],
        ),
    );
    drain(&mut g);
    assert_eq!(g.listener_count("X1"), 1);
    g.handle_disconnect(Instant(1), ConnId(2));
    assert_eq!(g.listener_count("x1"), 0);
    assert!(g.connections.is_empty());
}

#[test]
fn finished_work_leaves_no_deadlines_behind() {
    let mut g = gateway();
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 600);
    for i in 0..50u64 {
        g.handle_http_request(
            Instant(i),
            ConnId(100 + i),
            http(
                "GET",
                "/hc1",
                &[("ServiceBusAuthorization", &tok)],
                RequestBody::Complete(Bytes::new()),
            ),
        );
        let r = one_request(&drain(&mut g), 1);
        let resp = format!(
            r#"{{"response":{{"requestId":"{}","statusCode":200,"body":false}}}}"#,
            r.id
        );
        g.handle_text(Instant(i), ConnId(1), &resp);
        assert_eq!(http_status(&drain(&mut g), 100 + i).unwrap().0, 200);
        // A sender that gives up before a listener accepts leaves nothing either.
        g.handle_upgrade(
            Instant(i),
            ConnId(1000 + i),
            upgrade(
                "/$hc/hc1",
                "sb-hc-action=connect",
                &[("ServiceBusAuthorization", &tok)],
            ),
        );
        drain(&mut g);
        g.handle_disconnect(Instant(i), ConnId(1000 + i));
    }
    let stats = g.stats();
    assert_eq!((stats.pending_requests, stats.pending_accepts), (0, 0));
    assert_eq!(
        stats.deadlines, 1,
        "only the listener's keepalive/token deadline remains"
    );
    g.handle_disconnect(Instant(100), ConnId(1));
    assert_eq!(g.stats().deadlines, 0);
}

#[test]
fn limits_past_their_values() {
    let limits = Limits {
        request_headers_max_bytes: 400,
        max_pending_rendezvous_per_connection: 2,
        control_body_max_bytes: 8,
        max_request_body_bytes: Some(1000),
        ..Default::default()
    };
    let mut g = gateway_with(limits, Some(vec![HybridConnectionConfig::new("hc1")]));
    listen(&mut g, Instant(0), 1, "L");
    let tok = token("root", "hc1", 600);
    // Headers past the limit: 431, nothing reaches the listener.
    let big = "v".repeat(300);
    g.handle_http_request(
        Instant(0),
        ConnId(2),
        http(
            "GET",
            "/hc1",
            &[("ServiceBusAuthorization", &tok), ("X-Big", &big)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    let out = drain(&mut g);
    assert_eq!(http_status(&out, 2).unwrap().0, 431);
    assert!(sent_text(&out, 1).is_empty());
    // A body past max_request_body_bytes, declared or complete: 413, nothing forwarded.
    g.handle_http_request(
        Instant(0),
        ConnId(5),
        http(
            "POST",
            "/hc1",
            &[
                ("ServiceBusAuthorization", &tok),
                ("Content-Length", "5000"),
            ],
            RequestBody::Streaming,
        ),
    );
    g.handle_http_request(
        Instant(0),
        ConnId(6),
        http(
            "POST",
            "/hc1",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::from(vec![0u8; 1001])),
        ),
    );
    let out = drain(&mut g);
    assert_eq!(
        (
            http_status(&out, 5).unwrap().0,
            http_status(&out, 6).unwrap().0
        ),
        (413, 413)
    );
    assert!(sent_text(&out, 1).is_empty());
    // Pending rendezvous past the limit: 503 for the third waiting sender.
    for c in 10..13 {
        g.handle_upgrade(
            Instant(0),
            ConnId(c),
            upgrade(
                "/$hc/hc1",
                "sb-hc-action=connect",
                &[("ServiceBusAuthorization", &tok)],
            ),
        );
    }
    assert_eq!(refused(&drain(&mut g)), vec![(12, 503)]);
    // A body larger than the control-channel limit goes through a rendezvous instead…
    g.handle_http_request(
        Instant(0),
        ConnId(3),
        http(
            "POST",
            "/hc1",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::from_static(b"0123456789")),
        ),
    );
    assert!(one_request(&drain(&mut g), 1).is_rendezvous_only());
    // …and a response body past it on the control channel closes that channel with 1009.
    g.handle_http_request(
        Instant(0),
        ConnId(4),
        http(
            "GET",
            "/hc1",
            &[("ServiceBusAuthorization", &tok)],
            RequestBody::Complete(Bytes::new()),
        ),
    );
    let r = one_request(&drain(&mut g), 1);
    g.handle_text(
        Instant(1),
        ConnId(1),
        &format!(
            r#"{{"response":{{"requestId":"{}","statusCode":200,"body":true}}}}"#,
            r.id
        ),
    );
    g.handle_binary(
        Instant(1),
        ConnId(1),
        Bytes::from_static(b"0123456789"),
        true,
    );
    let out = drain(&mut g);
    assert!(
        out.contains(&Output::Send {
            conn: ConnId(1),
            msg: WsOut::Close {
                code: 1009,
                reason: "response body too large for the control channel".into()
            }
        }),
        "{out:?}"
    );
    assert_eq!(
        http_status(&out, 4).unwrap().0,
        502,
        "the sender learns the listener failed"
    );
}
