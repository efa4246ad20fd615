//! WebSockets on async byte streams, driven by the sans-IO [`interlink_core::ws`] codec.
//!
//! Three pieces:
//! - [`drive`]: the one driver loop (read → feed → drain events → write transmits) that runs
//!   a [`Connection`] on a stream, taking [`WsCommand`]s and emitting [`DriverEvent`]s through
//!   channels. The gateway and the listener run their control channels on it.
//! - [`WebSocket`]: an application-facing handle on top of [`drive`] (send, receive, close).
//! - [`forward_frames`]: the relay's data path: frames of two client connections forwarded
//!   to each other frame by frame, unmasked, without assembling messages, with close codes and
//!   half-close passed through.

use bytes::{Bytes, BytesMut};
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_lite::future;
use interlink_core::ws::{
    Connection, ConnectionConfig, Event, FrameDecoder, FrameItem, FrameLimits, Message, OpCode,
    Role, apply_mask,
};
use std::time::Duration;

/// Read buffer size of drivers and forwarders.
const READ_CHUNK: usize = 16 * 1024;

/// Read buffer of the frame forwarder (larger: it is the data path).
const PUMP_CHUNK: usize = 32 * 1024;

/// Commands applied per wake-up before the output is written (one write for a burst).
const COMMAND_BATCH: usize = 64;

/// Something to send on a driven WebSocket.
#[derive(Debug, Clone)]
pub enum WsCommand {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
    /// One frame of a message being streamed.
    Fragment {
        /// Text or Binary.
        opcode: OpCode,
        /// Payload.
        data: Bytes,
        /// First frame of the message.
        first: bool,
        /// Last frame of the message.
        fin: bool,
    },
    /// A ping.
    Ping(Bytes),
    /// Stream one message from `chunks`, each chunk one frame; the channel closing ends the
    /// message with a FIN frame (empty if need be). Other commands wait until it ends.
    StreamFrom {
        /// Text or Binary.
        opcode: OpCode,
        /// The pieces.
        chunks: async_channel::Receiver<Bytes>,
    },
    /// Start (or answer) the close handshake.
    Close {
        /// Close code.
        code: u16,
        /// Reason.
        reason: String,
    },
}

/// What a [`drive`] loop reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DriverEvent {
    /// An event of the WebSocket.
    Ws(Event),
    /// The WebSocket is finished (handshake done, socket closed, or an error); always last.
    Ended {
        /// What went wrong, if anything.
        error: Option<String>,
    },
}

/// Settings of a [`drive`] loop.
#[derive(Debug, Clone, Copy)]
pub struct DriveOptions {
    /// Answer the peer's Close with the same code automatically (applications), or leave it
    /// to the caller (the gateway, which decides itself).
    pub echo_close: bool,
    /// How long to wait for the peer's Close after ours before dropping the socket.
    pub close_linger: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        DriveOptions {
            echo_close: true,
            close_linger: Duration::from_secs(5),
        }
    }
}

enum Wake {
    Read(std::io::Result<usize>),
    Command(Option<WsCommand>),
    Chunk(Option<Bytes>),
    Linger,
}

/// A message being streamed from a channel.
struct Streaming {
    opcode: OpCode,
    chunks: async_channel::Receiver<Bytes>,
    first: bool,
}

fn apply(
    conn: &mut Connection,
    cmd: WsCommand,
    streaming: &mut Option<Streaming>,
) -> Result<(), String> {
    let r = match cmd {
        WsCommand::StreamFrom { opcode, chunks } => {
            *streaming = Some(Streaming {
                opcode,
                chunks,
                first: true,
            });
            Ok(())
        }
        WsCommand::Text(t) => conn.send_text(&t),
        WsCommand::Binary(b) => conn.send_binary(&b),
        WsCommand::Fragment {
            opcode,
            data,
            first,
            fin,
        } => conn.send_fragment(opcode, &data, first, fin),
        WsCommand::Ping(b) => conn.send_ping(&b),
        WsCommand::Close { code, reason } => conn.close(code, &reason),
    };
    r.map_err(|e| e.to_string())
}

/// Runs `conn` on `stream` until the close handshake ends or the socket fails. Bytes already
/// read past the HTTP head go in `leftover`. Commands come from `commands` (the handle being
/// dropped closes with 1000); events go to `events`, each wrapped by `wrap`, ending with
/// [`DriverEvent::Ended`]. Sending on `events` waits when the channel is full (backpressure
/// on the peer).
pub async fn drive<S, T>(
    stream: S,
    leftover: &[u8],
    mut conn: Connection,
    commands: async_channel::Receiver<WsCommand>,
    events: async_channel::Sender<T>,
    wrap: impl Fn(DriverEvent) -> T,
    options: DriveOptions,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut reader, mut writer) = stream.split();
    let mut scratch = vec![0u8; READ_CHUNK];
    let mut commands_open = true;
    let mut close_started: Option<std::time::Instant> = None;
    let mut streaming: Option<Streaming> = None;
    if !leftover.is_empty() {
        conn.handle_input(leftover);
    }
    let error = 'run: loop {
        loop {
            match conn.poll_event() {
                Ok(Some(ev)) => {
                    if let Event::Close(frame) = &ev
                        && options.echo_close
                        && conn.state() == interlink_core::ws::State::CloseReceived
                    {
                        let code = frame
                            .as_ref()
                            .map(|f| f.code)
                            .filter(|c| interlink_core::ws::close_code::is_sendable(*c));
                        let _ = match code {
                            Some(c) => conn.close(c, ""),
                            None => conn.close_without_status(),
                        };
                    }
                    let _ = events.send(wrap(DriverEvent::Ws(ev))).await;
                }
                Ok(None) => break,
                Err(e) => {
                    // The connection queued its Close with the error's code; flush it below.
                    while let Some(b) = conn.poll_transmit() {
                        if writer.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                    let _ = writer.flush().await;
                    break 'run Some(e.to_string());
                }
            }
        }
        while let Some(b) = conn.poll_transmit() {
            if let Err(e) = writer.write_all(&b).await {
                break 'run Some(e.to_string());
            }
        }
        if let Err(e) = writer.flush().await {
            break 'run Some(e.to_string());
        }
        if conn.is_closed() {
            break None;
        }
        if conn.state() == interlink_core::ws::State::CloseSent && close_started.is_none() {
            close_started = Some(std::time::Instant::now());
        }
        let read = async { Wake::Read(reader.read(&mut scratch).await) };
        let chunk = async {
            match &streaming {
                Some(s) => Wake::Chunk(s.chunks.recv().await.ok()),
                None => future::pending().await,
            }
        };
        let command = async {
            if commands_open && streaming.is_none() {
                Wake::Command(commands.recv().await.ok())
            } else {
                future::pending().await
            }
        };
        let linger = async {
            match close_started {
                Some(t) => {
                    async_io::Timer::at(t + options.close_linger).await;
                    Wake::Linger
                }
                None => future::pending().await,
            }
        };
        match future::or(read, future::or(chunk, future::or(command, linger))).await {
            Wake::Chunk(piece) => {
                let s = streaming.as_mut().expect("chunk only while streaming");
                let fin = piece.is_none();
                let data = piece.unwrap_or_default();
                if let Err(e) = conn.send_fragment(s.opcode, &data, s.first, fin) {
                    tracing::debug!("streamed websocket message refused: {e}");
                    streaming = None;
                } else {
                    s.first = false;
                    if fin {
                        streaming = None;
                    }
                }
            }
            Wake::Read(Ok(0)) => break Some("connection closed without a Close frame".into()),
            Wake::Read(Ok(n)) => conn.handle_input(&scratch[..n]),
            Wake::Read(Err(e)) => break Some(e.to_string()),
            Wake::Command(Some(cmd)) => {
                // Take what else is already queued so a burst goes out in one write.
                let burst = std::iter::once(cmd)
                    .chain(std::iter::from_fn(|| commands.try_recv().ok()).take(COMMAND_BATCH - 1));
                for cmd in burst {
                    let stream_starts = matches!(cmd, WsCommand::StreamFrom { .. });
                    if let Err(e) = apply(&mut conn, cmd, &mut streaming) {
                        tracing::debug!("websocket command refused: {e}");
                    }
                    if stream_starts {
                        // Later commands wait until the streamed message has ended.
                        break;
                    }
                }
            }
            Wake::Command(None) => {
                commands_open = false;
                if conn.state() == interlink_core::ws::State::Open
                    || conn.state() == interlink_core::ws::State::CloseReceived
                {
                    let _ = conn.close(1000, "");
                }
            }
            Wake::Linger => break Some("the peer did not answer our Close in time".into()),
        }
    };
    let _ = writer.close().await;
    let _ = events.send(wrap(DriverEvent::Ended { error })).await;
}

/// An application's WebSocket: a cloneable sending side and a receiving side, backed by a
/// [`drive`] task on smol's global executor.
///
/// Received Close frames are answered with the same code. Dropping every clone closes the
/// socket with 1000.
#[derive(Clone)]
pub struct WebSocket {
    commands: async_channel::Sender<WsCommand>,
    events: async_channel::Receiver<DriverEvent>,
    protocol: Option<String>,
}

/// Why a WebSocket operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WsError {
    /// The connection is closed.
    #[error("the WebSocket is closed")]
    Closed,
}

/// What [`WebSocket::recv`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// A message.
    Message(Message),
    /// The peer closed with this code (`None`: no status) and reason.
    Closed(Option<u16>, String),
}

impl WebSocket {
    /// Starts a WebSocket on `stream` (after the HTTP upgrade; `leftover` are bytes already
    /// read past the head). `role` is our side. `protocol` is the negotiated subprotocol.
    pub fn start<S>(stream: S, leftover: &[u8], role: Role, protocol: Option<String>) -> WebSocket
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (ctx, crx) = async_channel::bounded(64);
        let (etx, erx) = async_channel::bounded(64);
        let conn = Connection::new(ConnectionConfig::new(role), fastrand::u64(..));
        let leftover = leftover.to_vec();
        smol::spawn(async move {
            drive(
                stream,
                &leftover,
                conn,
                crx,
                etx,
                |e| e,
                DriveOptions::default(),
            )
            .await;
        })
        .detach();
        WebSocket {
            commands: ctx,
            events: erx,
            protocol,
        }
    }

    /// The subprotocol agreed in the handshake.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Sends a text message.
    pub async fn send_text(&self, text: impl Into<String>) -> Result<(), WsError> {
        self.commands
            .send(WsCommand::Text(text.into()))
            .await
            .map_err(|_| WsError::Closed)
    }

    /// Sends a binary message.
    pub async fn send_binary(&self, data: impl Into<Bytes>) -> Result<(), WsError> {
        self.commands
            .send(WsCommand::Binary(data.into()))
            .await
            .map_err(|_| WsError::Closed)
    }

    /// Sends any command (fragments, pings).
    pub async fn send(&self, cmd: WsCommand) -> Result<(), WsError> {
        self.commands.send(cmd).await.map_err(|_| WsError::Closed)
    }

    /// Starts the close handshake.
    pub async fn close(&self, code: u16, reason: &str) -> Result<(), WsError> {
        self.send(WsCommand::Close {
            code,
            reason: reason.into(),
        })
        .await
    }

    /// The next message, or the peer's Close; `None` once the connection has ended.
    pub async fn recv(&self) -> Option<Received> {
        loop {
            match self.events.recv().await.ok()? {
                DriverEvent::Ws(Event::Message(m)) => return Some(Received::Message(m)),
                DriverEvent::Ws(Event::Close(f)) => {
                    return Some(match f {
                        Some(f) => Received::Closed(Some(f.code), f.reason),
                        None => Received::Closed(None, String::new()),
                    });
                }
                DriverEvent::Ws(_) => continue,
                DriverEvent::Ended { .. } => return None,
            }
        }
    }
}

/// How one direction of a forwarded pair ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirectionEnd {
    /// A Close frame passed; this direction carries nothing more.
    CloseForwarded,
    /// The reading socket ended or failed, or the writing one failed.
    Broken,
}

/// Copies frames from `reader` to `writer` piece by piece as they arrive. `role` is our side
/// toward both peers: as [`Role::Server`] the peers are clients (frames arrive masked and
/// leave unmasked); as [`Role::Client`] the peers are servers (frames arrive unmasked and
/// leave masked with a fresh key per frame).
async fn pump<R, W>(role: Role, mut reader: R, leftover: BytesMut, mut writer: W) -> DirectionEnd
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut decoder = FrameDecoder::new(role, FrameLimits::unlimited());
    let mut rng = fastrand::Rng::new();
    let mut input = leftover;
    let mut out = BytesMut::with_capacity(PUMP_CHUNK + 16);
    let mut scratch = vec![0u8; PUMP_CHUNK];
    let mut mask: Option<[u8; 4]> = None;
    let mut offset = 0u64;
    let mut in_close = false;
    loop {
        loop {
            match decoder.decode(&mut input) {
                Ok(Some(FrameItem::Header(h))) => {
                    in_close = h.opcode == OpCode::Close;
                    mask = (role == Role::Client).then(|| rng.u32(..).to_be_bytes());
                    offset = 0;
                    h.with_mask(mask).encode(&mut out);
                }
                Ok(Some(FrameItem::Payload(p))) => {
                    let start = out.len();
                    out.extend_from_slice(&p);
                    if let Some(key) = mask {
                        apply_mask(key, offset, &mut out[start..]);
                        offset += p.len() as u64;
                    }
                }
                Ok(Some(FrameItem::FrameEnd)) if in_close => {
                    let ok = writer.write_all(&out).await.is_ok() && writer.flush().await.is_ok();
                    return if ok {
                        DirectionEnd::CloseForwarded
                    } else {
                        DirectionEnd::Broken
                    };
                }
                Ok(Some(FrameItem::FrameEnd)) => {}
                Ok(None) => break,
                Err(e) => {
                    tracing::debug!("forwarded websocket broke the protocol: {e}");
                    return DirectionEnd::Broken;
                }
            }
        }
        if !out.is_empty() {
            if writer.write_all(&out).await.is_err() || writer.flush().await.is_err() {
                return DirectionEnd::Broken;
            }
            out.clear();
            // A burst of large frames may have grown the buffers: give the memory back
            // before waiting (idle pairs should cost little).
            if out.capacity() > 4 * PUMP_CHUNK {
                out = BytesMut::with_capacity(PUMP_CHUNK + 16);
            }
        }
        if input.is_empty() && input.capacity() > 4 * PUMP_CHUNK {
            input = BytesMut::new();
        }
        match reader.read(&mut scratch).await {
            Ok(0) | Err(_) => return DirectionEnd::Broken,
            Ok(n) => input.extend_from_slice(&scratch[..n]),
        }
    }
}

/// Forwards WebSocket frames between two client connections (`a` and `b`, both masking
/// toward us) until both Close frames have passed or either socket drops. Frames go out
/// unmasked with their opcode, FIN bit and payload unchanged; message boundaries and
/// fragmentation are preserved, payloads are never assembled. After the first Close passes,
/// the other side may go on sending (half-close) for at most `linger`.
pub async fn forward_frames<A, B>(
    a: A,
    a_leftover: BytesMut,
    b: B,
    b_leftover: BytesMut,
    linger: Duration,
) where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    forward_frames_as(Role::Server, a, a_leftover, b, b_leftover, linger).await
}

/// [`forward_frames`] for either side: `role` is what we are toward both peers
/// ([`Role::Client`] bridges two servers, re-masking every frame).
pub async fn forward_frames_as<A, B>(
    role: Role,
    a: A,
    a_leftover: BytesMut,
    b: B,
    b_leftover: BytesMut,
    linger: Duration,
) where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let (ar, aw) = a.split();
    let (br, bw) = b.split();
    let a_to_b = std::pin::pin!(pump(role, ar, a_leftover, bw));
    let b_to_a = std::pin::pin!(pump(role, br, b_leftover, aw));
    let rest = match futures::future::select(a_to_b, b_to_a).await {
        futures::future::Either::Left((end, other)) => (end, futures::future::Either::Left(other)),
        futures::future::Either::Right((end, other)) => {
            (end, futures::future::Either::Right(other))
        }
    };
    if let (DirectionEnd::CloseForwarded, other) = rest {
        let other = async {
            match other {
                futures::future::Either::Left(f) => f.await,
                futures::future::Either::Right(f) => f.await,
            };
        };
        future::or(other, async {
            async_io::Timer::after(linger).await;
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interlink_core::ws::{CloseFrame, State, encode_frame};
    use smol::net::{TcpListener, TcpStream};

    /// A raw client endpoint over TCP, stepped by hand (no automatic Close echo).
    struct RawClient {
        tcp: TcpStream,
        conn: Connection,
    }

    impl RawClient {
        fn new(tcp: TcpStream, seed: u64) -> Self {
            RawClient {
                tcp,
                conn: Connection::new(ConnectionConfig::new(Role::Client), seed),
            }
        }

        async fn flush(&mut self) {
            while let Some(b) = self.conn.poll_transmit() {
                self.tcp.write_all(&b).await.unwrap();
            }
        }

        async fn next_event(&mut self) -> Event {
            let mut buf = [0u8; 4096];
            loop {
                if let Some(ev) = self.conn.poll_event().unwrap() {
                    return ev;
                }
                let n = self.tcp.read(&mut buf).await.unwrap();
                assert!(n > 0, "connection ended before the next event");
                self.conn.handle_input(&buf[..n]);
            }
        }
    }

    /// Two clients whose server sides are joined by `forward_frames`.
    async fn forwarded_pair() -> (RawClient, RawClient) {
        let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let a = TcpStream::connect(addr).await.unwrap();
        let (a_srv, _) = server.accept().await.unwrap();
        let b = TcpStream::connect(addr).await.unwrap();
        let (b_srv, _) = server.accept().await.unwrap();
        smol::spawn(forward_frames(
            a_srv,
            BytesMut::new(),
            b_srv,
            BytesMut::new(),
            Duration::from_secs(5),
        ))
        .detach();
        (RawClient::new(a, 1), RawClient::new(b, 2))
    }

    fn within<T>(f: impl std::future::Future<Output = T>) -> T {
        smol::block_on(future::or(async { Some(f.await) }, async {
            async_io::Timer::after(Duration::from_secs(10)).await;
            None
        }))
        .expect("timed out")
    }

    #[test]
    fn frames_messages_and_fragments_pass_unchanged() {
        within(async {
            let (mut a, mut b) = forwarded_pair().await;
            a.conn.send_text("hello").unwrap();
            a.conn
                .send_fragment(OpCode::Binary, b"ab", true, false)
                .unwrap();
            a.conn
                .send_fragment(OpCode::Binary, b"cd", false, true)
                .unwrap();
            a.flush().await;
            assert_eq!(
                b.next_event().await,
                Event::Message(Message::Text("hello".into()))
            );
            assert_eq!(
                b.next_event().await,
                Event::Message(Message::Binary(Bytes::from_static(b"abcd")))
            );
            b.conn.send_ping(b"p").unwrap();
            b.flush().await;
            // Pings are end to end: A's endpoint sees it (and answers it).
            assert_eq!(a.next_event().await, Event::Ping(Bytes::from_static(b"p")));
            a.flush().await;
            assert_eq!(b.next_event().await, Event::Pong(Bytes::from_static(b"p")));
        });
    }

    #[test]
    fn half_close_lets_the_other_side_finish() {
        within(async {
            let (mut a, mut b) = forwarded_pair().await;
            a.conn.close(4000, "done sending").unwrap();
            a.flush().await;
            assert_eq!(
                b.next_event().await,
                Event::Close(Some(CloseFrame {
                    code: 4000,
                    reason: "done sending".into()
                }))
            );
            assert_eq!(b.conn.state(), State::CloseReceived);
            // B still sends after A's Close, then closes with its own code.
            b.conn.send_text("late reply").unwrap();
            b.conn.close(4001, "bye").unwrap();
            b.flush().await;
            assert_eq!(
                a.next_event().await,
                Event::Message(Message::Text("late reply".into()))
            );
            assert_eq!(
                a.next_event().await,
                Event::Close(Some(CloseFrame {
                    code: 4001,
                    reason: "bye".into()
                }))
            );
            assert_eq!(a.conn.state(), State::Closed);
        });
    }
    /// Decodes masked frames (as a server would) into (opcode, fin, payload, masked).
    fn frames(wire: &[u8]) -> Vec<(OpCode, bool, Vec<u8>)> {
        let mut dec = FrameDecoder::new(Role::Server, FrameLimits::unlimited());
        let mut buf = BytesMut::from(wire);
        let mut out = Vec::new();
        let mut cur: Option<(OpCode, bool, Vec<u8>)> = None;
        while let Some(item) = dec.decode(&mut buf).unwrap() {
            match item {
                FrameItem::Header(h) => {
                    assert!(h.mask.is_some(), "frames toward a server are masked");
                    cur = Some((h.opcode, h.fin, Vec::new()));
                }
                FrameItem::Payload(p) => cur.as_mut().unwrap().2.extend_from_slice(&p),
                FrameItem::FrameEnd => out.push(cur.take().unwrap()),
            }
        }
        out
    }

    #[test]
    fn pump_remasks_frames_and_keeps_fragments_and_close() {
        let mut wire = BytesMut::new();
        encode_frame(&mut wire, false, OpCode::Text, b"hel", None);
        encode_frame(&mut wire, true, OpCode::Ping, b"p", None);
        encode_frame(&mut wire, true, OpCode::Continuation, b"lo", None);
        let big = vec![7u8; 200_000];
        encode_frame(&mut wire, true, OpCode::Binary, &big, None);
        let mut close = BytesMut::new();
        CloseFrame {
            code: 4001,
            reason: "bye".into(),
        }
        .encode(&mut close);
        encode_frame(&mut wire, true, OpCode::Close, &close, None);
        encode_frame(&mut wire, true, OpCode::Text, b"after close", None);
        // The first 5 bytes come as "leftover", the rest from the reader.
        let leftover = BytesMut::from(&wire[..5]);
        let reader = futures::io::Cursor::new(wire[5..].to_vec());
        let mut written = Vec::new();
        let end = smol::block_on(pump(Role::Client, reader, leftover, &mut written));
        assert_eq!(end, DirectionEnd::CloseForwarded);
        let got = frames(&written);
        assert_eq!(got.len(), 5, "nothing after the Close is forwarded");
        assert_eq!(got[0], (OpCode::Text, false, b"hel".to_vec()));
        assert_eq!(got[1], (OpCode::Ping, true, b"p".to_vec()));
        assert_eq!(got[2], (OpCode::Continuation, true, b"lo".to_vec()));
        assert_eq!(got[3].2.len(), big.len());
        assert!(got[3].2.iter().all(|b| *b == 7));
        let c = CloseFrame::decode(&got[4].2).unwrap().unwrap();
        assert_eq!((c.code, c.reason.as_str()), (4001, "bye"));
    }

    #[test]
    fn pump_rejects_masked_input_and_reports_eof() {
        let mut wire = BytesMut::new();
        encode_frame(&mut wire, true, OpCode::Text, b"x", Some([1, 2, 3, 4]));
        let mut written = Vec::new();
        let end = smol::block_on(pump(
            Role::Client,
            futures::io::Cursor::new(wire.to_vec()),
            BytesMut::new(),
            &mut written,
        ));
        assert_eq!(end, DirectionEnd::Broken);
        assert!(written.is_empty());
        let end = smol::block_on(pump(
            Role::Client,
            futures::io::Cursor::new(Vec::new()),
            BytesMut::new(),
            &mut written,
        ));
        assert_eq!(end, DirectionEnd::Broken);
    }
}
