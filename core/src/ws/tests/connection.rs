//! The connection endpoint: events, every protocol error, the close handshake, sending.

use bytes::Bytes;
use proptest::prelude::*;

use super::{close_payload, decode_chunked, frame, hex, masked, transmitted};
use crate::ws::{
    CloseFrame, Connection, ConnectionConfig, Event, FrameDecoder, FrameLimits, LocalError,
    Message, OpCode, ProtocolError, Role, State, close_code,
};

fn server() -> Connection {
    Connection::new(ConnectionConfig::new(Role::Server), 1)
}

fn streaming_server() -> Connection {
    let config = ConnectionConfig {
        stream_fragments: true,
        ..ConnectionConfig::new(Role::Server)
    };
    Connection::new(config, 1)
}

fn events(conn: &mut Connection) -> Result<Vec<Event>, ProtocolError> {
    let mut out = Vec::new();
    while let Some(e) = conn.poll_event()? {
        out.push(e);
    }
    Ok(out)
}

/// Decodes what a server-side connection sent (unmasked frames) as a client would.
fn sent_frames(bytes: &[u8]) -> Vec<(OpCode, bool, Vec<u8>)> {
    let mut dec = FrameDecoder::new(Role::Client, FrameLimits::default());
    decode_chunked(&mut dec, bytes, &[])
        .unwrap()
        .into_iter()
        .map(|(h, p)| (h.opcode, h.fin, p))
        .collect()
}

#[test]
fn golden_masked_hello_is_a_text_message() {
    let mut conn = server();
    conn.handle_input(&hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"));
    assert_eq!(
        events(&mut conn).unwrap(),
        vec![Event::Message(Message::Text("Hello".into()))]
    );
    assert_eq!(conn.poll_transmit(), None);
}

#[test]
fn client_receives_unmasked_fragments_assembled_with_ping_in_between() {
    let mut conn = Connection::new(ConnectionConfig::new(Role::Client), 7);
    conn.handle_input(&hex("01 03 48 65 6c 89 05 48 65 6c 6c 6f 80 02 6c 6f"));
    assert_eq!(
        events(&mut conn).unwrap(),
        vec![
            Event::Ping(Bytes::from_static(b"Hello")),
            Event::Message(Message::Text("Hello".into())),
        ]
    );
    // The automatic pong is masked (we are the client) and carries the ping's payload.
    let pong = transmitted(&mut conn);
    let mut dec = FrameDecoder::new(Role::Server, FrameLimits::default());
    let frames = decode_chunked(&mut dec, &pong, &[]).unwrap();
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0.opcode, OpCode::Pong);
    assert!(frames[0].0.mask.is_some());
    assert_eq!(frames[0].1, b"Hello");
}

#[test]
fn server_auto_pong_is_the_golden_unmasked_pong() {
    let mut conn = server();
    conn.handle_input(&masked(true, OpCode::Ping, b"Hello"));
    assert_eq!(
        events(&mut conn).unwrap(),
        vec![Event::Ping("Hello".into())]
    );
    assert_eq!(transmitted(&mut conn), hex("8a 05 48 65 6c 6c 6f"));
}

#[test]
fn auto_pong_can_be_disabled() {
    let config = ConnectionConfig {
        auto_pong: false,
        ..ConnectionConfig::new(Role::Server)
    };
    let mut conn = Connection::new(config, 1);
    conn.handle_input(&masked(true, OpCode::Ping, b"x"));
    assert_eq!(events(&mut conn).unwrap(), vec![Event::Ping("x".into())]);
    assert_eq!(conn.poll_transmit(), None);
    conn.send_pong(b"x").unwrap();
    assert_eq!(
        transmitted(&mut conn),
        frame(true, OpCode::Pong, b"x", None)
    );
}

#[test]
fn streaming_delivers_one_fragment_per_frame() {
    let mut conn = streaming_server();
    let mut input = masked(false, OpCode::Binary, b"ab");
    input.extend(masked(true, OpCode::Pong, b""));
    input.extend(masked(false, OpCode::Continuation, b""));
    input.extend(masked(true, OpCode::Continuation, b"cd"));
    input.extend(masked(false, OpCode::Text, &[0xE2, 0x82]));
    input.extend(masked(true, OpCode::Continuation, &[0xAC]));
    conn.handle_input(&input);
    let frag = |opcode, data: &'static [u8], first, fin| Event::Fragment {
        opcode,
        data: Bytes::from_static(data),
        first,
        fin,
    };
    assert_eq!(
        events(&mut conn).unwrap(),
        vec![
            frag(OpCode::Binary, b"ab", true, false),
            Event::Pong(Bytes::new()),
            frag(OpCode::Binary, b"", false, false),
            frag(OpCode::Binary, b"cd", false, true),
            frag(OpCode::Text, &[0xE2, 0x82], true, false),
            frag(OpCode::Text, &[0xAC], false, true),
        ]
    );
}

#[test]
fn error_after_our_close_does_not_send_a_second_close() {
    let mut conn = server();
    conn.close(close_code::GOING_AWAY, "bye").unwrap();
    let first = transmitted(&mut conn);
    assert_eq!(
        sent_frames(&first),
        vec![(OpCode::Close, true, close_payload(1001, "bye"))]
    );
    conn.handle_input(&hex("81 05 48 65 6c 6c 6f")); // unmasked: a protocol error
    assert_eq!(conn.poll_event(), Err(ProtocolError::UnmaskedFrame));
    assert_eq!(conn.poll_transmit(), None);
    assert!(conn.is_closed());
}

#[test]
fn half_close_we_close_first_and_still_receive() {
    let mut conn = server();
    conn.close(close_code::NORMAL, "done").unwrap();
    assert_eq!(conn.state(), State::CloseSent);
    assert!(!conn.is_closed());
    assert_eq!(conn.send_text("more"), Err(LocalError::Closed));
    assert_eq!(conn.send_ping(b""), Err(LocalError::Closed));
    assert_eq!(conn.close(1000, ""), Err(LocalError::Closed));
    let mut input = masked(true, OpCode::Binary, b"late data");
    input.extend(masked(true, OpCode::Ping, b"p"));
    input.extend(masked(true, OpCode::Close, &close_payload(1000, "ack")));
    conn.handle_input(&input);
    assert_eq!(
        events(&mut conn).unwrap(),
        vec![
            Event::Message(Message::Binary("late data".into())),
            Event::Ping("p".into()),
            Event::Close(Some(CloseFrame {
                code: 1000,
                reason: "ack".into()
            })),
        ]
    );
    assert_eq!(conn.state(), State::Closed);
    assert!(conn.is_closed());
    // Only our close went out: no pong after our Close.
    assert_eq!(
        sent_frames(&transmitted(&mut conn)),
        vec![(OpCode::Close, true, close_payload(1000, "done"))]
    );
}

#[test]
fn half_close_peer_closes_first_and_we_keep_sending() {
    let mut conn = server();
    conn.handle_input(&masked(
        true,
        OpCode::Close,
        &close_payload(1001, "leaving"),
    ));
    assert_eq!(
        events(&mut conn).unwrap(),
        vec![Event::Close(Some(CloseFrame {
            code: 1001,
            reason: "leaving".into()
        }))]
    );
    assert_eq!(conn.state(), State::CloseReceived);
    assert_eq!(conn.poll_transmit(), None, "no automatic echo");
    conn.send_binary(b"final response").unwrap();
    conn.close(1001, "").unwrap();
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(
        sent_frames(&transmitted(&mut conn)),
        vec![
            (OpCode::Binary, true, b"final response".to_vec()),
            (OpCode::Close, true, close_payload(1001, "")),
        ]
    );
    assert_eq!(conn.send_text("x"), Err(LocalError::Closed));
}

#[test]
fn empty_close_is_reported_as_none_and_echoed_without_status() {
    let mut conn = server();
    conn.handle_input(&masked(true, OpCode::Close, b""));
    assert_eq!(events(&mut conn).unwrap(), vec![Event::Close(None)]);
    conn.close_without_status().unwrap();
    assert!(conn.is_closed());
    assert_eq!(transmitted(&mut conn), hex("88 00"));
}

#[test]
fn input_after_closed_is_ignored() {
    let mut conn = server();
    conn.handle_input(&masked(true, OpCode::Close, b""));
    let _ = events(&mut conn).unwrap();
    conn.close(1000, "").unwrap();
    conn.handle_input(&hex("FF FF FF"));
    assert_eq!(conn.poll_event(), Ok(None));
}

#[test]
fn close_argument_errors() {
    let mut conn = server();
    for code in [999, 1004, 1005, 1006, 1015, 2999, 5000] {
        assert_eq!(
            conn.close(code, ""),
            Err(LocalError::InvalidCloseCode(code))
        );
    }
    let long = "x".repeat(124);
    assert_eq!(
        conn.close(1000, &long),
        Err(LocalError::CloseReasonTooLong(124))
    );
    assert_eq!(conn.state(), State::Open, "failed calls change nothing");
    assert_eq!(conn.poll_transmit(), None);
    conn.close(4000, &long[..123]).unwrap();
    assert_eq!(conn.state(), State::CloseSent);
}

#[test]
fn close_code_sendability() {
    for code in [
        1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
    ] {
        assert!(close_code::is_sendable(code), "{code}");
    }
    for code in [
        0,
        999,
        1004,
        1005,
        1006,
        1015,
        1016,
        2000,
        2999,
        5000,
        u16::MAX,
    ] {
        assert!(!close_code::is_sendable(code), "{code}");
    }
}

#[test]
fn control_payload_limit() {
    let mut conn = server();
    assert_eq!(
        conn.send_ping(&[0; 126]),
        Err(LocalError::ControlTooLong(126))
    );
    assert_eq!(
        conn.send_pong(&[0; 200]),
        Err(LocalError::ControlTooLong(200))
    );
    conn.send_ping(&[0; 125]).unwrap();
    assert_eq!(
        sent_frames(&transmitted(&mut conn)),
        vec![(OpCode::Ping, true, vec![0; 125])]
    );
}

#[test]
fn fragment_sends_follow_the_sequence_rules() {
    let mut conn = server();
    assert_eq!(
        conn.send_fragment(OpCode::Binary, b"x", false, true),
        Err(LocalError::FragmentSequence)
    );
    assert_eq!(
        conn.send_fragment(OpCode::Ping, b"x", true, true),
        Err(LocalError::FragmentSequence)
    );
    conn.send_fragment(OpCode::Text, &[b'a', 0xE2], true, false)
        .unwrap();
    assert_eq!(conn.send_text("other"), Err(LocalError::FragmentSequence));
    assert_eq!(
        conn.send_fragment(OpCode::Text, b"y", true, false),
        Err(LocalError::FragmentSequence)
    );
    assert_eq!(
        conn.send_fragment(OpCode::Binary, b"y", false, false),
        Err(LocalError::FragmentSequence)
    );
    assert_eq!(
        conn.send_fragment(OpCode::Text, &[0x41], false, true),
        Err(LocalError::InvalidUtf8)
    );
    assert_eq!(
        conn.send_fragment(OpCode::Text, &[0x82], false, true),
        Err(LocalError::InvalidUtf8),
        "ends mid-codepoint"
    );
    conn.send_ping(b"between").unwrap();
    conn.send_fragment(OpCode::Text, &[0x82], false, false)
        .unwrap();
    conn.send_fragment(OpCode::Text, &[0xAC], false, true)
        .unwrap();
    conn.send_binary(b"next").unwrap();
    assert_eq!(
        sent_frames(&transmitted(&mut conn)),
        vec![
            (OpCode::Text, false, vec![b'a', 0xE2]),
            (OpCode::Ping, true, b"between".to_vec()),
            (OpCode::Continuation, false, vec![0x82]),
            (OpCode::Continuation, true, vec![0xAC]),
            (OpCode::Binary, true, b"next".to_vec()),
        ]
    );
}

#[test]
fn client_masks_with_seeded_keys() {
    let send = |seed| {
        let mut conn = Connection::new(ConnectionConfig::new(Role::Client), seed);
        conn.send_text("Hello").unwrap();
        conn.send_text("Hello").unwrap();
        transmitted(&mut conn)
    };
    let a = send(42);
    assert_eq!(a, send(42), "same seed, same bytes");
    assert_ne!(a, send(43), "different seed, different masks");
    assert_ne!(a[2..6], a[13..17], "each frame gets a fresh key");
    let mut dec = FrameDecoder::new(Role::Server, FrameLimits::default());
    let frames = decode_chunked(&mut dec, &a, &[]).unwrap();
    assert!(
        frames
            .iter()
            .all(|(h, p)| h.mask.is_some() && p == b"Hello")
    );
}

#[test]
fn transmits_come_out_in_order_and_then_none() {
    let mut conn = server();
    conn.send_text("a").unwrap();
    conn.send_binary(b"b").unwrap();
    let out = conn.poll_transmit().unwrap();
    assert_eq!(
        &out[..],
        &[
            frame(true, OpCode::Text, b"a", None),
            frame(true, OpCode::Binary, b"b", None)
        ]
        .concat()[..]
    );
    assert_eq!(conn.poll_transmit(), None);
}

/// A random stream of messages, fragments and control frames from a client.
fn client_stream() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(
        (
            any::<bool>(),
            ".{0,10}",
            proptest::collection::vec(any::<u8>(), 0..20),
            0usize..12,
            any::<bool>(),
        ),
        0..6,
    )
    .prop_map(|items| {
        let mut wire = Vec::new();
        for (is_text, text, binary, cut, ping) in items {
            let (opcode, body) = if is_text {
                (OpCode::Text, text.into_bytes())
            } else {
                (OpCode::Binary, binary)
            };
            let cut = cut.min(body.len());
            wire.extend(masked(false, opcode, &body[..cut]));
            if ping {
                wire.extend(masked(true, OpCode::Ping, b"hb"));
            }
            wire.extend(masked(true, OpCode::Continuation, &body[cut..]));
        }
        wire.extend(masked(true, OpCode::Close, &close_payload(1000, "end")));
        wire
    })
}

fn run(stream: bool, wire: &[u8], chunks: &[usize]) -> (Vec<Event>, Vec<u8>) {
    let mut conn = if stream { streaming_server() } else { server() };
    let mut all = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < wire.len() {
        let n = chunks[i % chunks.len()].clamp(1, wire.len() - pos);
        i += 1;
        conn.handle_input(&wire[pos..pos + n]);
        pos += n;
        all.extend(events(&mut conn).unwrap());
    }
    assert_eq!(conn.state(), State::CloseReceived);
    (all, transmitted(&mut conn))
}

proptest! {
    #[test]
    fn connection_events_do_not_depend_on_splits(wire in client_stream(),
                                                  chunks in proptest::collection::vec(1usize..16, 1..5)) {
        for stream in [false, true] {
            let whole = run(stream, &wire, &[usize::MAX]);
            prop_assert_eq!(&run(stream, &wire, &chunks), &whole);
            prop_assert_eq!(&run(stream, &wire, &[1]), &whole);
            let last = whole.0.last().cloned();
            prop_assert_eq!(last, Some(Event::Close(Some(CloseFrame { code: 1000, reason: "end".into() }))));
        }
    }
}
