//! An in-memory client ↔ server pair in virtual time: no sockets, the clock jumps to the next
//! deadline. Covers the handshake, calls, streams, keep-alive, timeouts and stateful reconnect.

use std::time::Duration;

use super::*;
use crate::hub::codec::{HubDecoder, encode};
use crate::hub::{CompletionResult, HubMessage, HubProtocol, RawValue, TransferFormat};
use crate::time::Instant;
use bytes::BytesMut;

const BOTH: [HubProtocol; 2] = [HubProtocol::Json, HubProtocol::MessagePack];

fn value(protocol: HubProtocol, v: i64) -> RawValue {
    RawValue::from_serde(protocol, &v).unwrap()
}

fn number(v: &RawValue) -> i64 {
    v.to_serde::<i64>().unwrap()
}

/// Client and server joined by a lossless in-memory "transport" that can be cut.
struct Pair {
    now: Instant,
    client: ClientConnection,
    server: ServerConnection,
    client_events: Vec<ClientEvent>,
    server_events: Vec<ServerEvent>,
    /// Every frame the server sent (for wire assertions).
    server_wire: Vec<Transmit>,
    client_wire: Vec<Transmit>,
    /// While false, frames are dropped (the socket is dead).
    link_up: bool,
    /// While true, the server's frames never arrive (a muted server).
    server_muted: bool,
    client_muted: bool,
}

impl Pair {
    fn new(protocol: HubProtocol, stateful: bool) -> Pair {
        Pair::with_options(protocol, stateful, ConnectionOptions::default())
    }

    fn with_options(protocol: HubProtocol, stateful: bool, options: ConnectionOptions) -> Pair {
        let now = Instant::from_millis(1_000);
        let server = ServerConnection::new(
            options.clone(),
            TransferFormat::Binary,
            stateful,
            &BOTH,
            now,
        );
        let client = ClientConnection::new(options, protocol, stateful, now);
        let mut pair = Pair {
            now,
            client,
            server,
            client_events: Vec::new(),
            server_events: Vec::new(),
            server_wire: Vec::new(),
            client_wire: Vec::new(),
            link_up: true,
            server_muted: false,
            client_muted: false,
        };
        pair.pump();
        pair
    }

    /// Moves frames both ways until nothing is left, collecting events.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(t) = self.client.poll_transmit() {
                moved = true;
                self.client_wire.push(t.clone());
                if self.link_up && !self.client_muted {
                    self.server.handle_data(&t.data, self.now);
                }
            }
            while let Some(t) = self.server.poll_transmit() {
                moved = true;
                self.server_wire.push(t.clone());
                if self.link_up && !self.server_muted {
                    self.client.handle_data(&t.data, self.now);
                }
            }
            while let Some(e) = self.client.poll_event() {
                moved = true;
                self.client_events.push(e);
            }
            while let Some(e) = self.server.poll_event() {
                moved = true;
                self.server_events.push(e);
            }
            if !moved {
                return;
            }
        }
    }

    /// Advances virtual time to `until`, firing every deadline on the way.
    fn run_until(&mut self, until: Instant) {
        self.pump();
        loop {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.client.handle_timeout(self.now);
                    self.server.handle_timeout(self.now);
                    self.pump();
                }
                _ => break,
            }
        }
        self.now = until;
        self.pump();
    }

    fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    fn take_server_events(&mut self) -> Vec<ServerEvent> {
        std::mem::take(&mut self.server_events)
    }

    fn take_client_events(&mut self) -> Vec<ClientEvent> {
        std::mem::take(&mut self.client_events)
    }

    /// Every message of a wire capture, decoded (handshake frame skipped).
    fn decode(protocol: HubProtocol, wire: &[Transmit]) -> Vec<HubMessage> {
        let mut decoder = HubDecoder::new(protocol, 1 << 20);
        let mut out = Vec::new();
        for t in wire.iter().skip(1) {
            decoder.feed(&t.data);
            while let Some(m) = decoder.next_message().unwrap() {
                out.push(m);
            }
        }
        out
    }
}

#[test]
fn handshake_opens_both_sides_and_the_response_is_its_own_frame() {
    for protocol in BOTH {
        let mut pair = Pair::new(protocol, false);
        assert!(pair.client.is_open() && pair.server.is_open());
        assert!(matches!(
            pair.take_server_events()[..],
            [ServerEvent::Connected(Negotiated {
                version: 1,
                stateful: false,
                ..
            })]
        ));
        assert!(matches!(
            pair.take_client_events()[..],
            [ClientEvent::Connected(_)]
        ));
        assert_eq!(pair.server_wire.len(), 1);
        assert_eq!(&pair.server_wire[0].data[..], b"{}\x1e");
        assert!(!pair.client_wire[0].binary, "the handshake request is text");
        assert_eq!(
            pair.server_wire[0].binary,
            protocol == HubProtocol::MessagePack
        );
    }
}

#[test]
fn handshake_rejections_use_the_aspnet_texts() {
    let now = Instant::from_millis(0);
    let cases: [(&[u8], TransferFormat, &str); 3] = [
        (
            b"{\"protocol\":\"xml\",\"version\":1}\x1e",
            TransferFormat::Binary,
            "The protocol 'xml' is not supported.",
        ),
        (
            b"{\"protocol\":\"json\",\"version\":3}\x1e",
            TransferFormat::Binary,
            "The server does not support version 3 of the 'json' protocol.",
        ),
        (
            b"{\"protocol\":\"messagepack\",\"version\":1}\x1e",
            TransferFormat::Text,
            "Cannot use the 'messagepack' protocol on the current transport. The transport does not support 'Binary' transfer format.",
        ),
    ];
    for (request, format, text) in cases {
        let mut server =
            ServerConnection::new(ConnectionOptions::default(), format, false, &BOTH, now);
        server.handle_data(request, now);
        let reply = server.poll_transmit().unwrap();
        let expected = format!("{{\"error\":\"{text}\"}}\x1e");
        assert_eq!(&reply.data[..], expected.as_bytes());
        assert!(server.poll_transmit().is_none(), "nothing after the error");
        assert_eq!(
            server.poll_event(),
            Some(ServerEvent::Closed(CloseReason::HandshakeRejected(
                text.into()
            )))
        );
    }
}

#[test]
fn handshake_times_out_after_15_seconds() {
    let now = Instant::from_millis(0);
    let mut server = ServerConnection::new(
        ConnectionOptions::default(),
        TransferFormat::Binary,
        false,
        &BOTH,
        now,
    );
    server.handle_data(b"{\"protocol\":", now);
    assert_eq!(server.poll_timeout(), Some(Instant::from_millis(15_000)));
    server.handle_timeout(Instant::from_millis(14_999));
    assert!(server.poll_event().is_none());
    server.handle_timeout(Instant::from_millis(15_000));
    assert_eq!(
        &server.poll_transmit().unwrap().data[..],
        b"{\"error\":\"Handshake was canceled.\"}\x1e"
    );
    assert_eq!(
        server.poll_event(),
        Some(ServerEvent::Closed(CloseReason::HandshakeCanceled))
    );
}

#[test]
fn nothing_is_sent_before_the_handshake_response() {
    let now = Instant::from_millis(0);
    let mut server = ServerConnection::new(
        ConnectionOptions::default(),
        TransferFormat::Binary,
        false,
        &BOTH,
        now,
    );
    assert_eq!(server.invoke("x", vec![], now), Err(CommandError::NotOpen));
    assert!(server.poll_transmit().is_none());
}

#[test]
fn invoke_round_trip_and_non_blocking_calls_get_no_reply() {
    for protocol in BOTH {
        let mut pair = Pair::new(protocol, false);
        pair.take_server_events();
        let id = pair
            .client
            .invoke(
                "add",
                vec![value(protocol, 2), value(protocol, 3)],
                vec![],
                pair.now,
            )
            .unwrap();
        assert_eq!(id, "0");
        pair.pump();
        let [ServerEvent::Invocation(inv)] = &pair.take_server_events()[..] else {
            panic!("expected one invocation");
        };
        assert_eq!(inv.target, "add");
        let sum = number(&inv.arguments[0]) + number(&inv.arguments[1]);
        pair.server
            .complete("0", CompletionResult::Value(value(protocol, sum)), pair.now)
            .unwrap();
        pair.pump();
        let events = pair.take_client_events();
        let Some(ClientEvent::Completion {
            invocation_id,
            result: CompletionResult::Value(v),
        }) = events.last()
        else {
            panic!("expected a completion, got {events:?}");
        };
        assert_eq!((invocation_id.as_str(), number(v)), ("0", 5));

        // Non-blocking: the server must not (and cannot) answer.
        pair.client
            .send("broadcast", vec![value(protocol, 1)], vec![], pair.now)
            .unwrap();
        pair.pump();
        let [ServerEvent::Invocation(inv)] = &pair.take_server_events()[..] else {
            panic!("expected the send");
        };
        assert_eq!(inv.invocation_id, None);
        assert!(
            pair.server
                .complete("1", CompletionResult::Void, pair.now)
                .is_err()
        );
        // A second completion for a finished call is refused locally.
        assert_eq!(
            pair.server.complete("0", CompletionResult::Void, pair.now),
            Err(CommandError::UnknownInvocation("0".into()))
        );
    }
}

#[test]
fn server_streams_and_client_cancels() {
    for protocol in BOTH {
        let mut pair = Pair::new(protocol, false);
        pair.take_server_events();
        pair.take_client_events();
        let id = pair
            .client
            .stream("counter", vec![], vec![], pair.now)
            .unwrap();
        pair.pump();
        assert!(matches!(
            pair.take_server_events()[..],
            [ServerEvent::StreamInvocation(_)]
        ));
        for i in 0..3 {
            pair.server
                .stream_item(&id, value(protocol, i), pair.now)
                .unwrap();
        }
        pair.pump();
        let items: Vec<i64> = pair
            .take_client_events()
            .iter()
            .map(|e| match e {
                ClientEvent::StreamItem { item, .. } => number(item),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(items, [0, 1, 2]);
        pair.client.cancel(&id, pair.now).unwrap();
        pair.pump();
        assert_eq!(
            pair.take_server_events(),
            [ServerEvent::Cancel {
                invocation_id: id.clone()
            }]
        );
        // Items after the cancel are dropped; the server's Completion still ends the call.
        assert!(
            pair.server
                .stream_item(&id, value(protocol, 9), pair.now)
                .is_err()
        );
        pair.server
            .complete(&id, CompletionResult::Void, pair.now)
            .unwrap();
        pair.pump();
        assert_eq!(
            pair.take_client_events(),
            [ClientEvent::Completion {
                invocation_id: id.clone(),
                result: CompletionResult::Void
            }]
        );
        // A cancel for an unknown id is ignored by the server.
        pair.server.handle_data(
            &frame(
                protocol,
                &HubMessage::CancelInvocation {
                    headers: Default::default(),
                    invocation_id: "nope".into(),
                },
            ),
            pair.now,
        );
        pair.pump();
        assert!(pair.take_server_events().is_empty());
        assert!(pair.server.is_open());
    }
}

fn frame(protocol: HubProtocol, message: &HubMessage) -> bytes::Bytes {
    let mut out = BytesMut::new();
    encode(protocol, message, &mut out).unwrap();
    out.freeze()
}

#[test]
fn upload_stream_items_reach_the_server_in_order() {
    for protocol in BOTH {
        let mut pair = Pair::new(protocol, false);
        pair.take_server_events();
        let stream_id = pair.client.new_stream_id();
        let call = pair
            .client
            .invoke("sum", vec![], vec![stream_id.clone()], pair.now)
            .unwrap();
        assert_ne!(call, stream_id, "ids share one counter");
        for i in 1..=3 {
            pair.client
                .upload_item(&stream_id, value(protocol, i), pair.now)
                .unwrap();
        }
        pair.client
            .upload_complete(&stream_id, None, pair.now)
            .unwrap();
        pair.pump();
        let events = pair.take_server_events();
        assert!(
            matches!(&events[0], ServerEvent::Invocation(inv) if inv.stream_ids == [stream_id.clone()])
        );
        let items: Vec<i64> = events[1..4]
            .iter()
            .map(|e| match e {
                ServerEvent::UploadItem { item, .. } => number(item),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(items, [1, 2, 3]);
        assert_eq!(
            events[4],
            ServerEvent::UploadComplete {
                stream_id,
                error: None
            }
        );
    }
}

#[test]
fn server_calls_the_client_and_gets_its_result() {
    for protocol in BOTH {
        let mut pair = Pair::new(protocol, false);
        pair.take_client_events();
        pair.take_server_events();
        let id = pair
            .server
            .invoke_with_result("question", vec![value(protocol, 7)], pair.now)
            .unwrap();
        pair.pump();
        let [ClientEvent::Invocation(inv)] = &pair.take_client_events()[..] else {
            panic!("expected the server call");
        };
        assert_eq!(inv.invocation_id.as_deref(), Some(id.as_str()));
        pair.client
            .complete_server_call(&id, CompletionResult::Value(value(protocol, 49)), pair.now)
            .unwrap();
        pair.pump();
        let [
            ServerEvent::ClientResult {
                invocation_id,
                result: CompletionResult::Value(v),
            },
        ] = &pair.take_server_events()[..]
        else {
            panic!("expected the client result");
        };
        assert_eq!((invocation_id.as_str(), number(v)), (id.as_str(), 49));
    }
}

#[test]
fn a_peer_reusing_its_own_id_is_a_protocol_error() {
    let mut pair = Pair::new(HubProtocol::Json, false);
    pair.take_server_events();
    let call = HubMessage::Invocation(crate::hub::Invocation {
        headers: Default::default(),
        invocation_id: Some("9".into()),
        target: "echo".into(),
        arguments: vec![],
        stream_ids: vec![],
    });
    let bytes = frame(HubProtocol::Json, &call);
    pair.server.handle_data(&bytes, pair.now);
    pair.server.handle_data(&bytes, pair.now);
    pair.pump();
    let events = pair.take_server_events();
    assert!(matches!(
        events.last(),
        Some(ServerEvent::Closed(CloseReason::ProtocolError(_)))
    ));
    let Some(ClientEvent::Closed {
        error: Some(error), ..
    }) = pair.take_client_events().pop()
    else {
        panic!("client should see the Close");
    };
    assert!(
        error.starts_with("Connection closed with an error."),
        "{error}"
    );
}

#[test]
fn pings_follow_send_silence_and_an_idle_pair_stays_up() {
    let mut pair = Pair::new(HubProtocol::Json, false);
    pair.advance(Duration::from_secs(120));
    assert!(pair.client.is_open() && pair.server.is_open());
    let server_pings = pair.server.stats().pings_sent;
    // One ping per 15 s of silence over 120 s.
    assert!((7..=8).contains(&server_pings), "{server_pings}");
    assert_eq!(pair.server.stats().acks_sent, 0);
    // Steady sending from the server means it never needs a ping.
    let before = pair.server.stats().pings_sent;
    for _ in 0..10 {
        pair.server.invoke("tick", vec![], pair.now).unwrap();
        pair.advance(Duration::from_secs(10));
    }
    assert_eq!(pair.server.stats().pings_sent, before);
}

#[test]
fn a_muted_server_times_the_client_out_after_30_seconds() {
    let mut pair = Pair::new(HubProtocol::Json, false);
    pair.take_client_events();
    let muted_at = pair.now;
    pair.server_muted = true;
    pair.advance(Duration::from_secs(29));
    assert!(pair.client.is_open());
    pair.advance(Duration::from_secs(2));
    let Some(ClientEvent::Closed { reason, error, .. }) = pair.take_client_events().pop() else {
        panic!("the client should have closed");
    };
    assert_eq!(reason, CloseReason::TimedOut);
    assert_eq!(error.as_deref(), Some(super::client::SERVER_TIMEOUT));
    assert!(pair.now - muted_at >= Duration::from_secs(30));
}

#[test]
fn a_silent_client_is_closed_by_the_server_and_long_polling_is_exempt() {
    let mut pair = Pair::new(HubProtocol::MessagePack, false);
    pair.take_server_events();
    pair.client_muted = true;
    pair.advance(Duration::from_secs(31));
    assert_eq!(
        pair.take_server_events().pop(),
        Some(ServerEvent::Closed(CloseReason::TimedOut))
    );

    let options = ConnectionOptions {
        keep_alive_enabled: false,
        ..ConnectionOptions::default()
    };
    let mut pair = Pair::with_options(HubProtocol::Json, false, options);
    pair.client_muted = true;
    pair.server_muted = true;
    pair.advance(Duration::from_secs(600));
    assert!(pair.server.is_open() && pair.client.is_open());
    assert_eq!(pair.server.stats().pings_sent, 0);
}

#[test]
fn peer_close_reaches_the_client_with_allow_reconnect() {
    let mut pair = Pair::new(HubProtocol::Json, false);
    pair.take_client_events();
    pair.server.close(Some("bye".into()), true, pair.now);
    pair.pump();
    assert_eq!(
        pair.take_client_events(),
        [ClientEvent::Closed {
            reason: CloseReason::PeerClosed,
            error: Some("bye".into()),
            allow_reconnect: true
        }]
    );
}

#[test]
fn non_stateful_connections_never_send_ack_or_sequence() {
    for protocol in BOTH {
        let mut pair = Pair::new(protocol, false);
        for i in 0..20 {
            pair.client
                .send("x", vec![value(protocol, i)], vec![], pair.now)
                .unwrap();
            pair.server
                .invoke("y", vec![value(protocol, i)], pair.now)
                .unwrap();
            pair.advance(Duration::from_secs(3));
        }
        for message in Pair::decode(protocol, &pair.server_wire)
            .into_iter()
            .chain(Pair::decode(protocol, &pair.client_wire))
        {
            assert!(
                !matches!(
                    message,
                    HubMessage::Ack { .. } | HubMessage::Sequence { .. }
                ),
                "{message:?}"
            );
        }
    }
}

#[test]
fn stateful_reconnect_delivers_exactly_once_both_ways() {
    for protocol in BOTH {
        let mut pair = Pair::new(protocol, true);
        assert!(matches!(
            pair.take_server_events()[..],
            [ServerEvent::Connected(Negotiated {
                version: 2,
                stateful: true,
                ..
            })]
        ));
        pair.take_client_events();
        let mut sent_down = 0;
        let mut sent_up = 0;
        for round in 0..6 {
            for _ in 0..5 {
                pair.server
                    .invoke("down", vec![value(protocol, sent_down)], pair.now)
                    .unwrap();
                sent_down += 1;
                pair.client
                    .send("up", vec![value(protocol, sent_up)], vec![], pair.now)
                    .unwrap();
                sent_up += 1;
            }
            if round % 2 == 0 {
                // Let Acks flow for some of it, so replay covers acked and un-acked parts.
                pair.advance(Duration::from_millis(1_500));
            }
            // The socket dies with frames in flight: some of them are lost.
            pair.link_up = false;
            pair.server
                .invoke("down", vec![value(protocol, sent_down)], pair.now)
                .unwrap();
            sent_down += 1;
            pair.client
                .send("up", vec![value(protocol, sent_up)], vec![], pair.now)
                .unwrap();
            sent_up += 1;
            pair.pump();
            pair.server.handle_transport_lost();
            pair.client.handle_transport_lost();
            pair.link_up = true;
            // Sent while detached: buffered, replayed later.
            pair.server
                .invoke("down", vec![value(protocol, sent_down)], pair.now)
                .unwrap();
            sent_down += 1;
            pair.client.handle_transport_reattached(pair.now);
            pair.server.handle_transport_reattached(pair.now);
            pair.pump();
        }
        pair.advance(Duration::from_secs(2));
        let down: Vec<i64> = pair
            .take_client_events()
            .iter()
            .filter_map(|e| match e {
                ClientEvent::Invocation(inv) => Some(number(&inv.arguments[0])),
                _ => None,
            })
            .collect();
        let up: Vec<i64> = pair
            .take_server_events()
            .iter()
            .filter_map(|e| match e {
                ServerEvent::Invocation(inv) => Some(number(&inv.arguments[0])),
                _ => None,
            })
            .collect();
        assert_eq!(down, (0..sent_down).collect::<Vec<_>>());
        assert_eq!(up, (0..sent_up).collect::<Vec<_>>());
        assert!(pair.server.stats().acks_sent > 0);
        assert!(pair.client.stats().acks_sent > 0);
        assert_eq!(pair.server.stats().sequences_sent, 6);
        assert!(
            pair.client.stats().duplicates_dropped + pair.server.stats().duplicates_dropped > 0
        );
    }
}

#[test]
fn a_sequence_beyond_what_was_received_is_fatal() {
    let mut pair = Pair::new(HubProtocol::Json, true);
    pair.take_server_events();
    pair.server.handle_transport_lost();
    pair.server.handle_transport_reattached(pair.now);
    pair.server.handle_data(
        &frame(HubProtocol::Json, &HubMessage::Sequence { sequence_id: 5 }),
        pair.now,
    );
    let events: Vec<_> = std::iter::from_fn(|| pair.server.poll_event()).collect();
    let Some(ServerEvent::Closed(CloseReason::ProtocolError(violation))) = events.last() else {
        panic!("expected a protocol error, got {events:?}");
    };
    assert_eq!(
        violation.to_string(),
        "Sequence ID greater than amount of messages we've received."
    );
}

#[test]
fn a_full_replay_buffer_asks_the_driver_to_hold_sends_until_acked() {
    let options = ConnectionOptions {
        stateful_buffer_bytes: 1_000,
        ..ConnectionOptions::default()
    };
    let mut pair = Pair::with_options(HubProtocol::Json, true, options);
    pair.client_muted = true; // no Acks come back
    let big = RawValue::from_serde(HubProtocol::Json, &"x".repeat(300)).unwrap();
    let mut sent = 0;
    while !pair.server.is_send_buffer_full() {
        pair.server
            .invoke("m", vec![big.clone()], pair.now)
            .unwrap();
        sent += 1;
        assert!(sent < 10, "the buffer never filled");
    }
    assert!(sent >= 3);
    pair.client_muted = false;
    pair.client.send("wake", vec![], vec![], pair.now).unwrap();
    pair.advance(Duration::from_secs(2));
    assert!(
        !pair.server.is_send_buffer_full(),
        "the client's Ack frees the buffer"
    );
}
