//! Every [`ProtocolError`](crate::ws::ProtocolError), through a whole connection.

use super::{close_payload, decode_chunked, frame, hex, masked, transmitted};
use crate::ws::{
    CloseFrame, Connection, ConnectionConfig, Event, FrameDecoder, FrameLimits, LocalError,
    Message, OpCode, ProtocolError, Role,
};

/// (name, our role, limits, input after the preamble, expected error, close code).
type ErrorCase = (&'static str, Role, FrameLimits, Vec<u8>, ProtocolError, u16);

/// Every [`ProtocolError`]: the bytes that cause it (after a valid preamble), the expected
/// error, and the configuration. Each case is fed whole and byte by byte.
#[test]
fn every_protocol_error_fails_the_connection_with_its_close_code() {
    let small = FrameLimits {
        max_frame_payload: 10,
        max_message_size: 12,
    };
    let mut control_126 = hex("89 FE 00 7E 00 00 00 00");
    control_126.extend([0; 126]);
    let cases: Vec<ErrorCase> = vec![
        (
            "reserved opcode",
            Role::Server,
            FrameLimits::default(),
            hex("83 80 00 00 00 00"),
            ProtocolError::ReservedOpcode(3),
            1002,
        ),
        (
            "reserved opcode 0xB",
            Role::Server,
            FrameLimits::default(),
            hex("8B 80 00 00 00 00"),
            ProtocolError::ReservedOpcode(0xB),
            1002,
        ),
        (
            "rsv1",
            Role::Server,
            FrameLimits::default(),
            hex("C1 80 00 00 00 00"),
            ProtocolError::ReservedBits(0b100),
            1002,
        ),
        (
            "unmasked from client",
            Role::Server,
            FrameLimits::default(),
            hex("81 05 48 65 6c 6c 6f"),
            ProtocolError::UnmaskedFrame,
            1002,
        ),
        (
            "masked from server",
            Role::Client,
            FrameLimits::default(),
            hex("81 85 37 fa 21 3d 7f 9f 4d 51 58"),
            ProtocolError::MaskedFrame,
            1002,
        ),
        (
            "fragmented ping",
            Role::Server,
            FrameLimits::default(),
            hex("09 80 00 00 00 00"),
            ProtocolError::FragmentedControl,
            1002,
        ),
        (
            "ping of 126",
            Role::Server,
            FrameLimits::default(),
            control_126,
            ProtocolError::ControlTooLong(126),
            1002,
        ),
        (
            "length msb",
            Role::Client,
            FrameLimits::unlimited(),
            hex("82 7F 80 00 00 00 00 00 00 01"),
            ProtocolError::InvalidLength,
            1002,
        ),
        (
            "continuation first",
            Role::Server,
            FrameLimits::default(),
            masked(true, OpCode::Continuation, b"x"),
            ProtocolError::ContinuationWithoutStart,
            1002,
        ),
        (
            "new message mid-fragment",
            Role::Server,
            FrameLimits::default(),
            [
                masked(false, OpCode::Text, b"a"),
                masked(true, OpCode::Binary, b"b"),
            ]
            .concat(),
            ProtocolError::NewMessageWhileFragmented,
            1002,
        ),
        (
            "one-byte close",
            Role::Server,
            FrameLimits::default(),
            masked(true, OpCode::Close, &[3]),
            ProtocolError::InvalidClosePayload,
            1002,
        ),
        (
            "close 1005",
            Role::Server,
            FrameLimits::default(),
            masked(true, OpCode::Close, &close_payload(1005, "")),
            ProtocolError::InvalidCloseCode(1005),
            1002,
        ),
        (
            "close 999",
            Role::Server,
            FrameLimits::default(),
            masked(true, OpCode::Close, &close_payload(999, "")),
            ProtocolError::InvalidCloseCode(999),
            1002,
        ),
        (
            "close 5000",
            Role::Server,
            FrameLimits::default(),
            masked(true, OpCode::Close, &close_payload(5000, "")),
            ProtocolError::InvalidCloseCode(5000),
            1002,
        ),
        (
            "data after close",
            Role::Server,
            FrameLimits::default(),
            [
                masked(true, OpCode::Close, &close_payload(1000, "")),
                masked(true, OpCode::Text, b"late"),
            ]
            .concat(),
            ProtocolError::FrameAfterClose,
            1002,
        ),
        (
            "invalid utf8",
            Role::Server,
            FrameLimits::default(),
            masked(true, OpCode::Text, b"ok\xFF"),
            ProtocolError::InvalidUtf8,
            1007,
        ),
        (
            "utf8 cut at fin",
            Role::Server,
            FrameLimits::default(),
            [
                masked(false, OpCode::Text, b"\xE2"),
                masked(true, OpCode::Continuation, b"\x82"),
            ]
            .concat(),
            ProtocolError::InvalidUtf8,
            1007,
        ),
        (
            "bad close reason",
            Role::Server,
            FrameLimits::default(),
            masked(true, OpCode::Close, &[0x03, 0xE8, 0xC0, 0x80]),
            ProtocolError::InvalidCloseReason,
            1007,
        ),
        (
            "frame too big",
            Role::Server,
            small,
            masked(true, OpCode::Binary, &[0; 11]),
            ProtocolError::FrameTooBig { len: 11, limit: 10 },
            1009,
        ),
        (
            "message too big",
            Role::Server,
            small,
            [
                masked(false, OpCode::Binary, &[0; 6]),
                masked(true, OpCode::Continuation, &[0; 7]),
            ]
            .concat(),
            ProtocolError::MessageTooBig { limit: 12 },
            1009,
        ),
    ];
    for (name, role, limits, bytes, error, code) in cases {
        assert_eq!(error.close_code(), code, "{name}: close code mapping");
        // A valid message first, so errors are shown to stop the stream, not to start it.
        let preamble = match role {
            Role::Server => masked(true, OpCode::Binary, b"hi"),
            Role::Client => frame(true, OpCode::Binary, b"hi", None),
        };
        let bytes = [preamble, bytes].concat();
        for bytewise in [false, true] {
            let config = ConnectionConfig {
                limits,
                ..ConnectionConfig::new(role)
            };
            let mut conn = Connection::new(config, 3);
            let mut seen = Vec::new();
            let mut result = Ok(());
            let pieces: Vec<&[u8]> = if bytewise {
                bytes.chunks(1).collect()
            } else {
                vec![&bytes]
            };
            for piece in pieces {
                conn.handle_input(piece);
                loop {
                    match conn.poll_event() {
                        Ok(Some(e)) => seen.push(e),
                        Ok(None) => break,
                        Err(e) => {
                            result = Err(e);
                            break;
                        }
                    }
                }
                if result.is_err() {
                    break;
                }
            }
            assert_eq!(result, Err(error.clone()), "{name} (bytewise {bytewise})");
            assert_eq!(
                seen[0],
                Event::Message(Message::Binary("hi".into())),
                "{name}"
            );
            assert!(conn.is_closed(), "{name}");
            assert_eq!(
                conn.poll_event(),
                Ok(None),
                "{name}: no events after an error"
            );
            // Our Close carries the error's code (masked when we are the client).
            let sent = transmitted(&mut conn);
            let peer_role = match role {
                Role::Server => Role::Client,
                Role::Client => Role::Server,
            };
            let mut dec = FrameDecoder::new(peer_role, FrameLimits::default());
            let frames = decode_chunked(&mut dec, &sent, &[]).unwrap();
            let (h, payload) = frames.last().expect("a close frame");
            assert_eq!(h.opcode, OpCode::Close, "{name}");
            let close = CloseFrame::decode(payload).unwrap().unwrap();
            assert_eq!(close.code, code, "{name}");
            assert_eq!(
                close.reason,
                error.to_string(),
                "{name}: reason is the error text"
            );
            assert_eq!(conn.send_text("x"), Err(LocalError::Closed), "{name}");
        }
    }
}
