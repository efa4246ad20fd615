//! Property tests: arbitrary input never panics a decoder or a state machine, and the
//! gateway's bookkeeping stays consistent under random event sequences (a stand-in for
//! coverage-guided fuzzing, which needs a nightly toolchain).

use crate::relay::address::parse_hc_request;
use crate::relay::connection_string::ConnectionString;
use crate::relay::gateway::{
    ConnId, Gateway, GatewayConfig, HttpRequest, HybridConnectionConfig, RequestBody,
    UpgradeRequest,
};
use crate::relay::message::ControlMessage;
use crate::relay::sas::{Rights, SasToken, SasValidator, SharedAccessRule, create_token};
use crate::time::{Instant, UnixTime};
use crate::ws::{Connection, ConnectionConfig, Role};
use bytes::Bytes;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn text_decoders_never_panic(s in ".{0,200}") {
        let _ = ControlMessage::parse(&s);
        let _ = SasToken::parse(&s);
        let _ = s.parse::<ConnectionString>();
        let _ = parse_hc_request(&format!("/$hc/{s}"), Some(&s));
    }

    #[test]
    fn json_shaped_control_messages_never_panic(name in "(accept|request|response|renewToken|x)", body in "[\\[\\]{}\":,a-zA-Z0-9 ]{0,80}") {
        let _ = ControlMessage::parse(&format!("{{\"{name}\":{body}}}"));
    }

    #[test]
    fn websocket_endpoint_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512), split in 1usize..64, server in any::<bool>()) {
        let role = if server { Role::Server } else { Role::Client };
        let mut conn = Connection::new(ConnectionConfig::new(role), 1);
        for chunk in bytes.chunks(split) {
            conn.handle_input(chunk);
            while let Ok(Some(_)) = conn.poll_event() {}
            while conn.poll_transmit().is_some() {}
        }
    }
}

#[derive(Debug, Clone)]
enum Op {
    Listen(u8),
    Connect(u8),
    Http(u8, bool),
    Text(u8, String),
    Binary(u8, Vec<u8>, bool),
    Closed(u8),
    Disconnect(u8),
    Advance(u16),
    UseAddress(u8, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..8).prop_map(Op::Listen),
        (0u8..8).prop_map(Op::Connect),
        ((0u8..8), any::<bool>()).prop_map(|(c, big)| Op::Http(c, big)),
        (
            (0u8..8),
            prop_oneof![
                Just(r#"{"response":{"requestId":"x","statusCode":200,"body":true}}"#.to_string()),
                Just(r#"{"renewToken":{"token":"nope"}}"#.to_string()),
                ".{0,20}"
            ]
        )
            .prop_map(|(c, t)| Op::Text(c, t)),
        (
            (0u8..8),
            proptest::collection::vec(any::<u8>(), 0..8),
            any::<bool>()
        )
            .prop_map(|(c, b, f)| Op::Binary(c, b, f)),
        (0u8..8).prop_map(Op::Closed),
        (0u8..8).prop_map(Op::Disconnect),
        (0u16..40_000).prop_map(Op::Advance),
        ((0u8..8), (0u8..8)).prop_map(|(a, b)| Op::UseAddress(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gateway_survives_random_event_sequences(ops in proptest::collection::vec(op(), 1..60)) {
        let key = "k";
        let mut g = Gateway::new(
            GatewayConfig {
                hybrid_connections: Some(vec![HybridConnectionConfig::new("hc")]),
                unix_origin_ms: 1_700_000_000_000,
                ..GatewayConfig::default()
            },
            Box::new(SasValidator::new(vec![SharedAccessRule::new("r", key, Rights::ALL)])),
        );
        let token = create_token("http://h/hc", "r", key, UnixTime(1_700_000_000 + 3600));
        let mut now = Instant(0);
        let mut addresses: Vec<String> = Vec::new();
        let upgrade = |query: String| UpgradeRequest {
            path: "/$hc/hc".into(),
            query: Some(query),
            headers: vec![("ServiceBusAuthorization".into(), token.clone()), ("Sec-WebSocket-Key".into(), "a".into())],
            host: "h".into(),
            secure: false,
            remote: None,
        };
        for op in ops {
            match op {
                Op::Listen(c) => g.handle_upgrade(now, ConnId(c as u64), upgrade("sb-hc-action=listen".into())),
                Op::Connect(c) => g.handle_upgrade(now, ConnId(c as u64), upgrade("sb-hc-action=connect".into())),
                Op::Http(c, big) => g.handle_http_request(now, ConnId(c as u64), HttpRequest {
                    method: "POST".into(), path: "/hc/x".into(), query: None,
                    headers: vec![("ServiceBusAuthorization".into(), token.clone())],
                    host: "h".into(), secure: false, remote: None,
                    body: if big { RequestBody::Streaming } else { RequestBody::Complete(Bytes::from_static(b"b")) },
                }),
                Op::Text(c, t) => g.handle_text(now, ConnId(c as u64), &t),
                Op::Binary(c, b, fin) => g.handle_binary(now, ConnId(c as u64), Bytes::from(b), fin),
                Op::Closed(c) => g.handle_closed(now, ConnId(c as u64), Some(1000)),
                Op::Disconnect(c) => g.handle_disconnect(now, ConnId(c as u64)),
                Op::Advance(ms) => { now = now + std::time::Duration::from_millis(ms as u64); g.handle_timeout(now) }
                Op::UseAddress(i, c) => {
                    if let Some(a) = addresses.get(i as usize) {
                        let q = a.split_once('?').map(|(_, q)| q.to_string()).unwrap_or_default();
                        g.handle_upgrade(now, ConnId(c as u64 + 100), upgrade(q));
                    }
                }
            }
            while let Some(out) = g.poll_output() {
                if let crate::relay::gateway::Output::Send { msg: crate::relay::gateway::WsOut::Text(t), .. } = &out {
                    match ControlMessage::parse(t) {
                        Ok(ControlMessage::Accept(a)) => addresses.push(a.address),
                        Ok(ControlMessage::Request(r)) => addresses.push(r.address),
                        _ => {}
                    }
                }
            }
            let stats = g.stats();
            prop_assert!(stats.listeners <= 8);
            prop_assert!(g.listener_count("hc") == stats.listeners);
        }
    }
}
