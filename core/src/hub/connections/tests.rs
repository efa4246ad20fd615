use super::*;
use std::time::Duration;

const T0: Instant = Instant(1_000);

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn table() -> Connections {
    Connections::new(
        TransportConfig {
            stateful_reconnect: true,
            ..TransportConfig::default()
        },
        42,
    )
}

fn negotiate(t: &mut Connections, query: &str) -> ConnectInfo {
    match t.handle_negotiate(T0, Some(query)) {
        NegotiateResponse::Connect(info) => info,
        other => panic!("expected a connection, got {other:?}"),
    }
}

fn v1(t: &mut Connections) -> String {
    negotiate(t, "negotiateVersion=1").connection_token
}

fn stateful(t: &mut Connections) -> String {
    negotiate(t, "negotiateVersion=1&useStatefulReconnect=true").connection_token
}

fn events(t: &mut Connections) -> Vec<TableEvent> {
    std::iter::from_fn(|| t.poll_event()).collect()
}

fn status<T: std::fmt::Debug>(r: Result<T, RequestError>) -> u16 {
    r.expect_err("expected a refusal").status()
}

#[test]
fn negotiate_versions_and_stateful_grant() {
    let mut t = table();
    let v0 = negotiate(&mut t, "");
    assert_eq!(v0.negotiate_version, 0);
    assert_eq!(v0.connection_token, v0.connection_id);
    let v1 = negotiate(&mut t, "negotiateVersion=5");
    assert_eq!(v1.negotiate_version, 1);
    assert_ne!(v1.connection_token, v1.connection_id);
    assert_eq!(
        (v1.connection_id.len(), v1.connection_token.len()),
        (22, 22)
    );
    assert!(!v1.stateful_reconnect);
    assert!(negotiate(&mut t, "negotiateVersion=1&useStatefulReconnect=true").stateful_reconnect);
    assert_eq!(t.len(), 3);
    assert!(matches!(
        t.handle_negotiate(T0, Some("negotiateVersion=abc")),
        NegotiateResponse::Error(_)
    ));
    // Not allowed on this endpoint ⇒ not echoed.
    let mut off = Connections::new(TransportConfig::default(), 1);
    assert!(
        !negotiate(&mut off, "negotiateVersion=1&useStatefulReconnect=true").stateful_reconnect
    );
}

#[test]
fn negotiate_lists_only_enabled_transports() {
    let mut t = Connections::new(
        TransportConfig {
            transports: vec![TransportKind::LongPolling, TransportKind::WebSockets],
            ..TransportConfig::default()
        },
        1,
    );
    let info = negotiate(&mut t, "negotiateVersion=1");
    let kinds: Vec<_> = info
        .available_transports
        .iter()
        .map(|a| a.transport)
        .collect();
    assert_eq!(
        kinds,
        [TransportKind::LongPolling, TransportKind::WebSockets]
    );
}

#[test]
fn websocket_status_rules() {
    let mut t = table();
    assert_eq!(status(t.handle_websocket(T0, Some("nope"))), 404);
    let tok = v1(&mut t);
    let a = t.handle_websocket(T0, Some(&tok)).unwrap();
    assert!(!a.reattached && !a.stateful);
    assert_eq!(status(t.handle_websocket(T0, Some(&tok))), 409);
    assert_eq!(status(t.handle_sse(T0, Some(&tok))), 400);
    assert_eq!(status(t.handle_poll(T0, Some(&tok), false)), 400);
    assert_eq!(status(t.handle_post(T0, Some(&tok))), 405);
    assert_eq!(status(t.handle_delete(T0, Some(&tok))), 400);
}

#[test]
fn websocket_without_id_creates_a_connection() {
    let mut t = table();
    let a = t.handle_websocket(T0, None).unwrap();
    assert!(!a.stateful && !a.reattached);
    assert_eq!(t.connection_id(&a.token), Some(a.connection_id.as_str()));
    assert_eq!(t.transport(&a.token), Some(TransportKind::WebSockets));
}

#[test]
fn transport_switch_is_400() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_sse(T0, Some(&tok)).unwrap();
    let e = t.handle_websocket(T0, Some(&tok)).unwrap_err();
    assert_eq!(
        (e.status(), e.to_string().as_str()),
        (400, "Cannot change transports mid-connection")
    );
    assert_eq!(status(t.handle_poll(T0, Some(&tok), false)), 400);
    assert_eq!(status(t.handle_sse(T0, Some(&tok))), 409);
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    assert_eq!(status(t.handle_websocket(T0, Some(&tok))), 400);
    assert_eq!(status(t.handle_sse(T0, Some(&tok))), 400);
}

#[test]
fn disabled_transports_are_404() {
    let mut t = Connections::new(
        TransportConfig {
            transports: vec![TransportKind::ServerSentEvents],
            ..TransportConfig::default()
        },
        1,
    );
    let tok = v1(&mut t);
    for r in [
        t.handle_websocket(T0, Some(&tok)).map(|_| ()),
        t.handle_websocket(T0, None).map(|_| ()),
        t.handle_poll(T0, Some(&tok), false).map(|_| ()),
    ] {
        assert_eq!(status(r), 404);
    }
    assert!(t.handle_sse(T0, Some(&tok)).is_ok());
}

#[test]
fn sse_and_poll_need_an_id() {
    let mut t = table();
    assert_eq!(status(t.handle_sse(T0, None)), 400);
    assert_eq!(status(t.handle_poll(T0, None, false)), 400);
    assert_eq!(status(t.handle_sse(T0, Some("x"))), 404);
    assert_eq!(status(t.handle_poll(T0, Some("x"), false)), 404);
}

#[test]
fn post_rules() {
    let mut t = table();
    assert_eq!(status(t.handle_post(T0, None)), 400);
    assert_eq!(status(t.handle_post(T0, Some("x"))), 404);
    let tok = v1(&mut t);
    assert_eq!(status(t.handle_post(T0, Some(&tok))), 400);
    t.handle_sse(T0, Some(&tok)).unwrap();
    t.handle_post(T0, Some(&tok)).unwrap();
    let e = t.handle_post(T0, Some(&tok)).unwrap_err();
    assert_eq!(e.status(), 409);
    // The connection survives the refused POST.
    t.handle_post_done(&tok);
    t.handle_post(T0, Some(&tok)).unwrap();
    assert!(events(&mut t).is_empty());
}

#[test]
fn first_poll_is_answered_at_once_then_polls_hold() {
    let mut t = table();
    let tok = v1(&mut t);
    let PollAnswer::Started(a) = t.handle_poll(T0, Some(&tok), false).unwrap() else {
        panic!("first poll starts the connection")
    };
    assert_eq!(a.token, tok);
    assert_eq!(
        t.handle_poll(T0, Some(&tok), true).unwrap(),
        PollAnswer::Content
    );
    let PollAnswer::Held(p) = t.handle_poll(T0, Some(&tok), false).unwrap() else {
        panic!("held")
    };
    assert_eq!(
        t.poll_timeout(),
        Some(T0 + secs(15)),
        "earliest: the idle deadline set earlier"
    );
    t.handle_timeout(T0 + secs(89));
    assert!(
        events(&mut t).is_empty(),
        "still held before the poll timeout"
    );
    t.handle_timeout(T0 + secs(90));
    assert_eq!(
        events(&mut t),
        [TableEvent::PollDone {
            token: tok.clone(),
            poll: p,
            reply: PollReply::Content
        }]
    );
    assert_eq!(t.len(), 1);
}

#[test]
fn data_answers_a_held_poll() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    let PollAnswer::Held(p) = t.handle_poll(T0, Some(&tok), false).unwrap() else {
        panic!("held")
    };
    t.handle_data_queued(T0, &tok);
    assert_eq!(
        events(&mut t),
        [TableEvent::PollDone {
            token: tok.clone(),
            poll: p,
            reply: PollReply::Content
        }]
    );
    t.handle_data_queued(T0, &tok);
    assert!(events(&mut t).is_empty(), "no poll pending: data waits");
}

#[test]
fn newer_poll_supersedes_with_204() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    let PollAnswer::Held(p1) = t.handle_poll(T0, Some(&tok), false).unwrap() else {
        panic!("held")
    };
    let PollAnswer::Held(p2) = t.handle_poll(T0, Some(&tok), false).unwrap() else {
        panic!("held")
    };
    assert_ne!(p1, p2);
    assert_eq!(
        events(&mut t),
        [TableEvent::PollDone {
            token: tok.clone(),
            poll: p1,
            reply: PollReply::NoContent
        }]
    );
}

#[test]
fn delete_is_202_and_ends_the_pending_poll_with_204() {
    let mut t = table();
    assert_eq!(status(t.handle_delete(T0, None)), 400);
    assert_eq!(status(t.handle_delete(T0, Some("x"))), 404);
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    let PollAnswer::Held(p) = t.handle_poll(T0, Some(&tok), false).unwrap() else {
        panic!("held")
    };
    t.handle_delete(T0, Some(&tok)).unwrap();
    assert_eq!(
        events(&mut t),
        [
            TableEvent::PollDone {
                token: tok.clone(),
                poll: p,
                reply: PollReply::NoContent
            },
            TableEvent::Removed {
                token: tok.clone(),
                reason: Removal::Deleted
            },
        ]
    );
    assert_eq!(status(t.handle_poll(T0, Some(&tok), false)), 404);
    assert_eq!(status(t.handle_delete(T0, Some(&tok))), 404);
}

#[test]
fn closed_long_polling_answers_its_next_poll_with_204() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    assert!(t.close(T0, &tok));
    assert_eq!(
        events(&mut t),
        [TableEvent::Removed {
            token: tok.clone(),
            reason: Removal::Closed
        }]
    );
    assert_eq!(
        t.handle_poll(T0, Some(&tok), false).unwrap(),
        PollAnswer::NoContent
    );
    assert_eq!(status(t.handle_poll(T0, Some(&tok), false)), 404);
    // With a poll pending, the close answers it 204 directly.
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    let PollAnswer::Held(p) = t.handle_poll(T0, Some(&tok), false).unwrap() else {
        panic!("held")
    };
    t.close(T0, &tok);
    assert_eq!(
        events(&mut t)[0],
        TableEvent::PollDone {
            token: tok.clone(),
            poll: p,
            reply: PollReply::NoContent
        }
    );
    assert_eq!(status(t.handle_poll(T0, Some(&tok), false)), 404);
}

#[test]
fn closed_poll_marker_expires() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    t.close(T0, &tok);
    t.handle_timeout(T0 + secs(15));
    assert_eq!(status(t.handle_poll(T0 + secs(15), Some(&tok), false)), 404);
}

#[test]
fn long_polling_without_polls_expires() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    let _ = events(&mut t);
    t.handle_timeout(T0 + secs(14));
    assert_eq!(t.len(), 1);
    t.handle_timeout(T0 + secs(15));
    assert_eq!(
        events(&mut t),
        [TableEvent::Removed {
            token: tok,
            reason: Removal::PollIdle
        }]
    );
}

#[test]
fn abandoned_poll_starts_the_idle_clock() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_poll(T0, Some(&tok), false).unwrap();
    let PollAnswer::Held(p) = t.handle_poll(T0 + secs(10), Some(&tok), false).unwrap() else {
        panic!("held")
    };
    t.handle_timeout(T0 + secs(20));
    assert_eq!(t.len(), 1, "a held poll keeps the connection alive");
    t.handle_poll_abandoned(T0 + secs(30), &tok, p);
    t.handle_timeout(T0 + secs(44));
    assert_eq!(t.len(), 1);
    t.handle_timeout(T0 + secs(45));
    assert_eq!(t.len(), 0);
}

#[test]
fn never_connected_negotiations_expire() {
    let mut t = table();
    let tok = v1(&mut t);
    assert_eq!(t.poll_timeout(), Some(T0 + secs(15)));
    t.handle_timeout(T0 + secs(15));
    assert_eq!(
        events(&mut t),
        [TableEvent::Removed {
            token: tok.clone(),
            reason: Removal::NeverConnected
        }]
    );
    assert_eq!(status(t.handle_websocket(T0 + secs(16), Some(&tok))), 404);
}

#[test]
fn stateful_websocket_loss_then_reattach() {
    let mut t = table();
    let tok = stateful(&mut t);
    assert!(t.handle_websocket(T0, Some(&tok)).unwrap().stateful);
    assert_eq!(t.handle_transport_ended(T0, &tok, false), Ended::Inactive);
    assert!(events(&mut t).is_empty());
    let a = t.handle_websocket(T0 + secs(1), Some(&tok)).unwrap();
    assert!(a.reattached && a.stateful);
    assert_eq!(status(t.handle_websocket(T0, Some(&tok))), 409);
    // The old deadline passes while attached: nothing happens.
    t.handle_timeout(T0 + secs(20));
    assert_eq!(t.len(), 1);
}

#[test]
fn stateful_reattach_window_expires() {
    let mut t = table();
    let tok = stateful(&mut t);
    t.handle_websocket(T0, Some(&tok)).unwrap();
    t.handle_transport_ended(T0 + secs(5), &tok, false);
    t.handle_timeout(T0 + secs(19));
    assert_eq!(t.len(), 1);
    t.handle_timeout(T0 + secs(20));
    assert_eq!(
        events(&mut t),
        [TableEvent::Removed {
            token: tok.clone(),
            reason: Removal::ReattachTimeout
        }]
    );
    assert_eq!(status(t.handle_websocket(T0 + secs(21), Some(&tok))), 404);
}

#[test]
fn graceful_or_non_stateful_or_server_closed_websockets_are_gone() {
    let mut t = table();
    let tok = stateful(&mut t);
    t.handle_websocket(T0, Some(&tok)).unwrap();
    assert_eq!(t.handle_transport_ended(T0, &tok, true), Ended::Removed);
    assert_eq!(status(t.handle_websocket(T0, Some(&tok))), 404);

    let tok = v1(&mut t);
    t.handle_websocket(T0, Some(&tok)).unwrap();
    assert_eq!(t.handle_transport_ended(T0, &tok, false), Ended::Removed);
    assert_eq!(status(t.handle_websocket(T0, Some(&tok))), 404);

    let tok = stateful(&mut t);
    t.handle_websocket(T0, Some(&tok)).unwrap();
    assert!(t.close(T0, &tok));
    assert_eq!(t.handle_transport_ended(T0, &tok, false), Ended::Ignored);
    assert_eq!(
        status(t.handle_websocket(T0, Some(&tok))),
        404,
        "re-attach after Close"
    );
    let removed = events(&mut t)
        .into_iter()
        .filter(|e| matches!(e, TableEvent::Removed { .. }))
        .count();
    assert_eq!(removed, 3);
}

#[test]
fn sse_end_removes() {
    let mut t = table();
    let tok = v1(&mut t);
    t.handle_sse(T0, Some(&tok)).unwrap();
    assert_eq!(t.handle_transport_ended(T0, &tok, false), Ended::Removed);
    assert_eq!(status(t.handle_post(T0, Some(&tok))), 404);
}

#[test]
fn statuses_and_texts() {
    assert_eq!(RequestError::MissingId.status(), 400);
    assert_eq!(
        RequestError::TransportDisabled(TransportKind::LongPolling).status(),
        404
    );
    assert_eq!(
        RequestError::TransportDisabled(TransportKind::LongPolling).to_string(),
        "LongPolling transport is disabled"
    );
    assert_eq!(RequestError::ConcurrentPost.status(), 409);
}
