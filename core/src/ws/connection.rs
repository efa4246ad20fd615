//! One WebSocket endpoint after the HTTP upgrade, sans-IO: messages or fragments in, frames
//! out, ping/pong and the close handshake with half-close.

use bytes::{Bytes, BytesMut};

use super::Role;
use super::close::{CloseFrame, close_code};
use super::decoder::{FrameDecoder, FrameItem, FrameLimits};
use super::error::{LocalError, ProtocolError};
use super::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, encode_frame};
use super::utf8::Utf8Validator;

/// How a [`Connection`] behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionConfig {
    /// Our side of the connection; decides who masks.
    pub role: Role,
    /// Frame and message size limits for what we receive.
    pub limits: FrameLimits,
    /// `false`: data frames are assembled into whole [`Event::Message`]s of at most
    /// `limits.max_message_size` bytes. `true`: each received data frame is delivered as one
    /// [`Event::Fragment`] as soon as the frame is complete (held in memory up to
    /// `limits.max_frame_payload`); messages are never assembled.
    pub stream_fragments: bool,
    /// Answer each received Ping with a Pong carrying the same payload (queued for
    /// [`Connection::poll_transmit`] when the Ping is returned by
    /// [`Connection::poll_event`]), unless we already sent our Close. Default `true`.
    pub auto_pong: bool,
}

impl ConnectionConfig {
    /// Default limits, assembled messages, automatic pongs.
    pub fn new(role: Role) -> Self {
        ConnectionConfig {
            role,
            limits: FrameLimits::default(),
            stream_fragments: false,
            auto_pong: true,
        }
    }
}

/// Where the close handshake stands (RFC 6455 §7).
///
/// | from | event | to |
/// |---|---|---|
/// | `Open` | we call [`Connection::close`] | `CloseSent` |
/// | `Open` | the peer's Close arrives | `CloseReceived` |
/// | `CloseSent` | the peer's Close arrives | `Closed` |
/// | `CloseReceived` | we call [`Connection::close`] | `Closed` |
/// | any | a [`ProtocolError`] (our Close with its code is queued if not sent yet) | `Closed` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Both directions open.
    Open,
    /// We sent Close: we send nothing more but still receive the peer's frames.
    CloseSent,
    /// The peer sent Close: it sends nothing more; we may still send until we call `close`.
    CloseReceived,
    /// Both Close frames were exchanged, or the connection failed. The driver closes the
    /// transport once [`Connection::poll_transmit`] is drained.
    Closed,
}

/// A received message (when `stream_fragments` is `false`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, already validated as UTF-8.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

/// Something that happened on the connection, returned by [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A whole message (only when `stream_fragments` is `false`).
    Message(Message),
    /// One received data frame (only when `stream_fragments` is `true`). `opcode` is the
    /// message's type (Text or Binary), also for continuation frames; `first` marks the
    /// message's first frame and `fin` its last. Text fragments are valid UTF-8 as a sequence,
    /// but one fragment may start or end in the middle of a code point.
    Fragment {
        /// Text or Binary: the type of the message this frame belongs to.
        opcode: OpCode,
        /// The frame's unmasked payload (may be empty).
        data: Bytes,
        /// This frame started the message.
        first: bool,
        /// This frame ends the message.
        fin: bool,
    },
    /// The peer's Ping payload. With `auto_pong` the Pong is already queued.
    Ping(Bytes),
    /// The peer's Pong payload.
    Pong(Bytes),
    /// The peer's Close (`None` if it carried no status code). This connection never echoes a
    /// Close by itself:
    /// - if we had not sent Close, the state is now [`State::CloseReceived`]; we may still
    ///   send data, and the caller finishes the handshake by calling [`Connection::close`]
    ///   (typically echoing the peer's code, or [`Connection::close_without_status`]);
    /// - if we had sent Close, the state is now [`State::Closed`] and the handshake is done.
    Close(Option<CloseFrame>),
}

/// Payload pieces collected until a frame or message is complete; a single piece is kept
/// without copying.
#[derive(Debug, Default)]
enum Accum {
    #[default]
    Empty,
    One(Bytes),
    Many(BytesMut),
}

impl Accum {
    fn push(&mut self, piece: Bytes) {
        *self = match std::mem::take(self) {
            Accum::Empty => Accum::One(piece),
            Accum::One(first) => {
                let mut all = BytesMut::with_capacity(first.len() + piece.len());
                all.extend_from_slice(&first);
                all.extend_from_slice(&piece);
                Accum::Many(all)
            }
            Accum::Many(mut all) => {
                all.extend_from_slice(&piece);
                Accum::Many(all)
            }
        }
    }

    fn take(&mut self) -> Bytes {
        match std::mem::take(self) {
            Accum::Empty => Bytes::new(),
            Accum::One(b) => b,
            Accum::Many(m) => m.freeze(),
        }
    }
}

/// One endpoint of a WebSocket connection after the HTTP handshake, sans-IO.
///
/// Call order, every time something happens:
/// 1. [`handle_input`](Self::handle_input) with the bytes read from the transport (for a
///    client, first the bytes left after the handshake's response head), or a `send_*` /
///    [`close`](Self::close) call;
/// 2. drain [`poll_event`](Self::poll_event) until it returns `Ok(None)` or an error;
/// 3. drain [`poll_transmit`](Self::poll_transmit) until `None`, writing each chunk in order.
///
/// Once [`is_closed`](Self::is_closed) is true and `poll_transmit` is drained, the driver
/// closes the transport. Timers (ping interval, close timeout) are the driver's business.
///
/// Half-close: after we [`close`](Self::close), the peer's data frames are still delivered
/// until its Close arrives; after the peer's Close, we may still send until we call `close`
/// (the connection never echoes a Close by itself, see [`Event::Close`]).
///
/// A [`ProtocolError`] from `poll_event` fails the connection: a Close with the error's code
/// (1002, 1007 or 1009) is queued if we had not sent one, the state becomes
/// [`State::Closed`] and no more events are produced.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    decoder: FrameDecoder,
    inbuf: BytesMut,
    outbuf: BytesMut,
    rng: fastrand::Rng,
    state: State,
    failed: bool,
    /// Header of the frame being received.
    frame: Option<FrameHeader>,
    /// Payload of the frame being received (control frames; data frames when streaming).
    frame_buf: Accum,
    /// Payload of the message being assembled (data frames when not streaming).
    msg_buf: Accum,
    /// The opcode of the fragmented message we are sending, if any.
    sending: Option<OpCode>,
    send_utf8: Utf8Validator,
}

impl Connection {
    /// A connection in [`State::Open`]. When we are the client, masking keys come from a
    /// `fastrand::Rng` seeded with `rng_seed` (seed from a real entropy source in production).
    pub fn new(config: ConnectionConfig, rng_seed: u64) -> Self {
        Connection {
            decoder: FrameDecoder::new(config.role, config.limits),
            config,
            inbuf: BytesMut::new(),
            outbuf: BytesMut::new(),
            rng: fastrand::Rng::with_seed(rng_seed),
            state: State::Open,
            failed: false,
            frame: None,
            frame_buf: Accum::Empty,
            msg_buf: Accum::Empty,
            sending: None,
            send_utf8: Utf8Validator::new(),
        }
    }

    /// Buffers bytes received from the transport. Nothing is decoded until
    /// [`poll_event`](Self::poll_event).
    pub fn handle_input(&mut self, bytes: &[u8]) {
        self.inbuf.extend_from_slice(bytes);
    }

    /// The next event decoded from the buffered input: `Ok(None)` means more input is needed
    /// (or the connection is closed). See [`Connection`] for what an error does.
    #[must_use = "events must be drained until Ok(None)"]
    pub fn poll_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        if self.failed || self.state == State::Closed {
            return Ok(None);
        }
        match self.next_event() {
            Ok(event) => Ok(event),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn next_event(&mut self) -> Result<Option<Event>, ProtocolError> {
        loop {
            let Some(item) = self.decoder.decode(&mut self.inbuf)? else {
                return Ok(None);
            };
            match item {
                FrameItem::Header(header) => {
                    if self.state == State::CloseReceived {
                        return Err(ProtocolError::FrameAfterClose);
                    }
                    self.frame = Some(header);
                }
                FrameItem::Payload(piece) => {
                    let data = self.frame.is_some_and(|h| h.opcode.is_data());
                    if data && !self.config.stream_fragments {
                        self.msg_buf.push(piece);
                    } else {
                        self.frame_buf.push(piece);
                    }
                }
                FrameItem::FrameEnd => {
                    let Some(header) = self.frame.take() else {
                        continue;
                    };
                    if let Some(event) = self.end_frame(header)? {
                        return Ok(Some(event));
                    }
                }
            }
        }
    }

    fn end_frame(&mut self, header: FrameHeader) -> Result<Option<Event>, ProtocolError> {
        match header.opcode {
            OpCode::Close => {
                let frame = CloseFrame::decode(&self.frame_buf.take())?;
                self.state = match self.state {
                    State::CloseSent => State::Closed,
                    _ => State::CloseReceived,
                };
                Ok(Some(Event::Close(frame)))
            }
            OpCode::Ping => {
                let payload = self.frame_buf.take();
                if self.config.auto_pong && self.state == State::Open {
                    self.write_frame(true, OpCode::Pong, &payload);
                }
                Ok(Some(Event::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(Event::Pong(self.frame_buf.take()))),
            OpCode::Continuation | OpCode::Text | OpCode::Binary => {
                let opcode = self.decoder.message_opcode().unwrap_or(header.opcode);
                if self.config.stream_fragments {
                    return Ok(Some(Event::Fragment {
                        opcode,
                        data: self.frame_buf.take(),
                        first: header.opcode != OpCode::Continuation,
                        fin: header.fin,
                    }));
                }
                if !header.fin {
                    return Ok(None);
                }
                let payload = self.msg_buf.take();
                let message = if opcode == OpCode::Text {
                    // The decoder validated the UTF-8 already; this cannot fail.
                    let text = String::from_utf8(Vec::from(payload))
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                    Message::Text(text)
                } else {
                    Message::Binary(payload)
                };
                Ok(Some(Event::Message(message)))
            }
        }
    }

    /// Fails the connection: queue our Close with the error's code (and its text as the
    /// reason, for the peer's logs) unless we already sent one.
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        if matches!(self.state, State::Open | State::CloseReceived) {
            let mut reason = error.to_string();
            truncate_at_char(&mut reason, MAX_CONTROL_PAYLOAD - 2);
            let mut payload = BytesMut::new();
            CloseFrame {
                code: error.close_code(),
                reason,
            }
            .encode(&mut payload);
            self.write_frame(true, OpCode::Close, &payload);
        }
        self.state = State::Closed;
        self.failed = true;
        self.frame_buf = Accum::Empty;
        self.msg_buf = Accum::Empty;
        error
    }

    /// Sends a whole text message as one frame.
    pub fn send_text(&mut self, s: &str) -> Result<(), LocalError> {
        self.send_whole(OpCode::Text, s.as_bytes())
    }

    /// Sends a whole binary message as one frame.
    pub fn send_binary(&mut self, b: &[u8]) -> Result<(), LocalError> {
        self.send_whole(OpCode::Binary, b)
    }

    fn send_whole(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), LocalError> {
        self.check_can_send()?;
        if self.sending.is_some() {
            return Err(LocalError::FragmentSequence);
        }
        self.write_frame(true, opcode, payload);
        Ok(())
    }

    /// Sends one frame of a fragmented message: `opcode` is the message's type (Text or
    /// Binary) on every fragment; the first goes out with that opcode, later ones as
    /// Continuation. `first && fin` sends a whole message. Pings, pongs and `close` may be
    /// interleaved; other messages may not until the `fin` fragment is sent. Text is checked
    /// as UTF-8 across fragments (a fragment may end mid-codepoint unless `fin`).
    pub fn send_fragment(
        &mut self,
        opcode: OpCode,
        data: &[u8],
        first: bool,
        fin: bool,
    ) -> Result<(), LocalError> {
        self.check_can_send()?;
        let in_sequence = match (first, self.sending) {
            (true, None) => matches!(opcode, OpCode::Text | OpCode::Binary),
            (false, Some(open)) => open == opcode,
            _ => false,
        };
        if !in_sequence {
            return Err(LocalError::FragmentSequence);
        }
        if opcode == OpCode::Text {
            let mut utf8 = if first {
                Utf8Validator::new()
            } else {
                self.send_utf8.clone()
            };
            if utf8.feed(data).is_err() || (fin && !utf8.is_complete()) {
                return Err(LocalError::InvalidUtf8);
            }
            self.send_utf8 = utf8;
        }
        let wire_opcode = if first { opcode } else { OpCode::Continuation };
        self.write_frame(fin, wire_opcode, data);
        self.sending = if fin { None } else { Some(opcode) };
        Ok(())
    }

    /// Sends a Ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, b: &[u8]) -> Result<(), LocalError> {
        self.send_control(OpCode::Ping, b)
    }

    /// Sends a Pong (payload at most 125 bytes); unsolicited pongs are a heartbeat.
    pub fn send_pong(&mut self, b: &[u8]) -> Result<(), LocalError> {
        self.send_control(OpCode::Pong, b)
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), LocalError> {
        self.check_can_send()?;
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(LocalError::ControlTooLong(payload.len()));
        }
        self.write_frame(true, opcode, payload);
        Ok(())
    }

    /// Sends our Close with `code` (see [`close_code::is_sendable`]) and `reason` (at most
    /// 123 bytes). From `Open` this half-closes (we keep receiving until the peer's Close);
    /// from `CloseReceived` it completes the handshake. Nothing can be sent afterwards.
    pub fn close(&mut self, code: u16, reason: &str) -> Result<(), LocalError> {
        self.check_can_send()?;
        if !close_code::is_sendable(code) {
            return Err(LocalError::InvalidCloseCode(code));
        }
        if reason.len() > MAX_CONTROL_PAYLOAD - 2 {
            return Err(LocalError::CloseReasonTooLong(reason.len()));
        }
        let mut payload = BytesMut::with_capacity(2 + reason.len());
        CloseFrame {
            code,
            reason: reason.to_owned(),
        }
        .encode(&mut payload);
        self.send_close_payload(&payload);
        Ok(())
    }

    /// Like [`close`](Self::close) but with an empty payload (no status code), e.g. to echo a
    /// peer's Close that carried none.
    pub fn close_without_status(&mut self) -> Result<(), LocalError> {
        self.check_can_send()?;
        self.send_close_payload(&[]);
        Ok(())
    }

    fn send_close_payload(&mut self, payload: &[u8]) {
        self.write_frame(true, OpCode::Close, payload);
        self.state = match self.state {
            State::CloseReceived => State::Closed,
            _ => State::CloseSent,
        };
    }

    fn check_can_send(&self) -> Result<(), LocalError> {
        match self.state {
            State::Open | State::CloseReceived if !self.failed => Ok(()),
            _ => Err(LocalError::Closed),
        }
    }

    fn write_frame(&mut self, fin: bool, opcode: OpCode, payload: &[u8]) {
        let mask = match self.config.role {
            Role::Client => Some(self.rng.u32(..).to_be_bytes()),
            Role::Server => None,
        };
        encode_frame(&mut self.outbuf, fin, opcode, payload, mask);
    }

    /// All bytes queued for the transport since the last call, in order; `None` when nothing
    /// is queued.
    #[must_use = "transmits must be written to the transport"]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.outbuf.is_empty() {
            None
        } else {
            Some(self.outbuf.split().freeze())
        }
    }

    /// The close handshake's state.
    pub fn state(&self) -> State {
        self.state
    }

    /// Both Close frames were exchanged, or the connection failed with a protocol error (and
    /// our Close is queued). The driver closes the transport after draining `poll_transmit`.
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}
