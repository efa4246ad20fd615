//! The server side of one hub connection: answers the handshake, turns client messages into
//! events (calls, cancels, upload items, client results) and sends replies, stream items and
//! server→client calls.

use std::collections::VecDeque;

use bytes::Bytes;

use super::engine::{Engine, TimerOutcome};
use super::{
    CloseReason, CommandError, ConnectionOptions, ConnectionStats, Negotiated, ProtocolViolation,
    Transmit,
};
use crate::hub::handshake::{self, HandshakeReader, HandshakeRequest, HandshakeResponse};
use crate::hub::invocations::{
    CallEvent, CallKind, IdGenerator, IncomingCalls, OutgoingCalls, UnknownIds, UploadEvent,
    UploadStreams,
};
use crate::hub::{
    CompletionResult, Headers, HubMessage, HubProtocol, Invocation, RawValue, TransferFormat,
};
use crate::time::Instant;

/// What the application learns from a [`ServerConnection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The handshake succeeded; hub traffic may flow.
    Connected(Negotiated),
    /// The client calls a hub method. `invocation.invocation_id` is `None` for a call that
    /// must not be answered; otherwise answer with [`ServerConnection::complete`].
    Invocation(Invocation),
    /// The client calls a streaming hub method: send items with
    /// [`ServerConnection::stream_item`], end with [`ServerConnection::complete`].
    StreamInvocation(Invocation),
    /// The client cancelled a streaming call it made (only for calls still running).
    Cancel { invocation_id: String },
    /// One item of an upload stream the client announced in `stream_ids`.
    UploadItem { stream_id: String, item: RawValue },
    /// An upload stream ended (`error` = the client failed it).
    UploadComplete {
        stream_id: String,
        error: Option<String>,
    },
    /// The client answered a call made with [`ServerConnection::invoke_with_result`].
    ClientResult {
        invocation_id: String,
        result: CompletionResult,
    },
    /// The transport was lost; the connection waits to be re-attached (stateful only).
    TransportLost,
    /// A new transport resumed the connection; nothing was lost.
    Resumed,
    /// The connection ended; flush transmits and close the transport.
    Closed(CloseReason),
}

enum State {
    Handshake {
        reader: HandshakeReader<HandshakeRequest>,
        deadline: Instant,
    },
    Open,
    Closed,
}

/// One client's connection on a hub server (see the module docs for the driving order).
pub struct ServerConnection {
    options: ConnectionOptions,
    transport_format: TransferFormat,
    stateful_allowed: bool,
    enabled: Vec<HubProtocol>,
    state: State,
    engine: Option<Engine>,
    incoming: IncomingCalls,
    outgoing: OutgoingCalls,
    uploads: UploadStreams,
    ids: IdGenerator,
    events: VecDeque<ServerEvent>,
    pending: VecDeque<Transmit>,
}

impl ServerConnection {
    /// A connection whose transport can carry `transport_format` (WebSockets and long polling
    /// carry binary, SSE text only). `stateful_allowed` = stateful reconnect was granted at
    /// negotiate; it is used when the client's handshake asks for version 2.
    pub fn new(
        options: ConnectionOptions,
        transport_format: TransferFormat,
        stateful_allowed: bool,
        enabled: &[HubProtocol],
        now: Instant,
    ) -> ServerConnection {
        let deadline = now + options.handshake_timeout;
        ServerConnection {
            state: State::Handshake {
                reader: HandshakeReader::with_max_size(options.max_message_size),
                deadline,
            },
            options,
            transport_format,
            stateful_allowed,
            enabled: enabled.to_vec(),
            engine: None,
            incoming: IncomingCalls::default(),
            outgoing: OutgoingCalls::new(UnknownIds::Ignore),
            uploads: UploadStreams::default(),
            ids: IdGenerator::default(),
            events: VecDeque::new(),
            pending: VecDeque::new(),
        }
    }

    /// The negotiated protocol once the handshake is done.
    pub fn negotiated(&self) -> Option<Negotiated> {
        let engine = self.engine.as_ref()?;
        Some(Negotiated {
            protocol: engine.protocol(),
            version: if engine.is_stateful() { 2 } else { 1 },
            stateful: engine.is_stateful(),
        })
    }

    /// Whether the handshake is done and the connection has not ended.
    pub fn is_open(&self) -> bool {
        matches!(self.state, State::Open)
    }

    /// Whether the connection has ended (a `Closed` event was queued); commands then fail
    /// with [`CommandError::NotOpen`] for good.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    pub fn stats(&self) -> ConnectionStats {
        self.engine.as_ref().map(|e| e.stats).unwrap_or_default()
    }

    /// Whether sends should be held back (stateful replay buffer at its limit).
    pub fn is_send_buffer_full(&self) -> bool {
        self.engine
            .as_ref()
            .is_some_and(Engine::is_send_buffer_full)
    }

    /// Bytes from the transport.
    pub fn handle_data(&mut self, data: &[u8], now: Instant) {
        match &mut self.state {
            State::Closed => {}
            State::Handshake { reader, .. } => match reader.feed(data) {
                Ok(None) => {}
                Ok(Some((request, rest))) => {
                    match handshake::accept(&request, self.transport_format, &self.enabled) {
                        Ok((protocol, version)) => {
                            self.open(protocol, version, now);
                            self.handle_open_data(&rest, now);
                        }
                        Err(rejection) => {
                            let text = rejection.to_string();
                            self.reject_handshake(text.clone(), now);
                            self.finish(CloseReason::HandshakeRejected(text));
                        }
                    }
                }
                Err(_) => {
                    self.reject_handshake(handshake::HANDSHAKE_CANCELED.to_string(), now);
                    self.finish(CloseReason::HandshakeCanceled);
                }
            },
            State::Open => self.handle_open_data(data, now),
        }
    }

    fn reject_handshake(&mut self, error: String, _now: Instant) {
        let data = HandshakeResponse::failure(error).to_bytes();
        self.pending.push_back(Transmit {
            data,
            binary: false,
        });
    }

    fn open(&mut self, protocol: HubProtocol, version: u32, now: Instant) {
        let stateful = self.stateful_allowed && version >= 2;
        let mut engine = Engine::new(protocol, &self.options, stateful, now);
        // The handshake response is its own frame, before any hub message.
        let binary = protocol.transfer_format() == TransferFormat::Binary;
        engine.push_raw(HandshakeResponse::success().to_bytes(), binary, now);
        self.engine = Some(engine);
        self.state = State::Open;
        self.events.push_back(ServerEvent::Connected(Negotiated {
            protocol,
            version,
            stateful,
        }));
    }

    fn handle_open_data(&mut self, data: &[u8], now: Instant) {
        let Some(engine) = &mut self.engine else {
            return;
        };
        engine.feed(data, now);
        loop {
            let Some(engine) = &mut self.engine else {
                return;
            };
            match engine.next_message(now) {
                Ok(Some(message)) => {
                    if let Err(violation) = self.on_message(message) {
                        self.fail(violation, now);
                        return;
                    }
                    if !self.is_open() {
                        return;
                    }
                }
                Ok(None) => return,
                Err(violation) => {
                    self.fail(violation, now);
                    return;
                }
            }
        }
    }

    fn on_message(&mut self, message: HubMessage) -> Result<(), ProtocolViolation> {
        match message {
            HubMessage::Invocation(invocation) => {
                let id = invocation.invocation_id.as_deref();
                if id.is_some() {
                    self.incoming.begin(id, CallKind::SingleResult)?;
                }
                self.uploads.announce(id, &invocation.stream_ids)?;
                self.events.push_back(ServerEvent::Invocation(invocation));
            }
            HubMessage::StreamInvocation(invocation) => {
                let id = invocation.invocation_id.as_deref();
                self.incoming.begin(id, CallKind::Stream)?;
                self.uploads.announce(id, &invocation.stream_ids)?;
                self.events
                    .push_back(ServerEvent::StreamInvocation(invocation));
            }
            HubMessage::StreamItem {
                invocation_id,
                item,
                ..
            } => {
                // Items for unknown streams are ignored, as ASP.NET Core does.
                if self.uploads.contains(&invocation_id)
                    && let UploadEvent::Item(item) = self.uploads.on_item(&invocation_id, item)?
                {
                    self.events.push_back(ServerEvent::UploadItem {
                        stream_id: invocation_id,
                        item,
                    });
                }
            }
            HubMessage::Completion {
                invocation_id,
                result,
                ..
            } => {
                if self.uploads.contains(&invocation_id) {
                    if let UploadEvent::Completed { error } =
                        self.uploads.on_completion(&invocation_id, result)?
                    {
                        self.events.push_back(ServerEvent::UploadComplete {
                            stream_id: invocation_id,
                            error,
                        });
                    }
                } else if let Some(CallEvent::Completed(result)) =
                    self.outgoing.on_completion(&invocation_id, result)?
                {
                    self.events.push_back(ServerEvent::ClientResult {
                        invocation_id,
                        result,
                    });
                }
            }
            HubMessage::CancelInvocation { invocation_id, .. } => {
                if self.incoming.cancel(&invocation_id) {
                    self.events.push_back(ServerEvent::Cancel { invocation_id });
                }
            }
            HubMessage::Close { .. } => self.finish(CloseReason::PeerClosed),
            HubMessage::Ping | HubMessage::Ack { .. } | HubMessage::Sequence { .. } => {}
        }
        Ok(())
    }

    /// Closes with the error text ASP.NET Core sends for a protocol violation.
    fn fail(&mut self, violation: ProtocolViolation, now: Instant) {
        let error = format!("Connection closed with an error. InvalidDataException: {violation}");
        self.send_close(Some(error), false, now);
        self.finish(CloseReason::ProtocolError(violation));
    }

    fn send_close(&mut self, error: Option<String>, allow_reconnect: bool, now: Instant) {
        if let Some(engine) = &mut self.engine
            && engine.is_attached()
        {
            let close = HubMessage::Close {
                error,
                allow_reconnect,
            };
            let _ = engine.send(&close, now);
        }
    }

    fn finish(&mut self, reason: CloseReason) {
        if matches!(self.state, State::Closed) {
            return;
        }
        if let Some(engine) = &mut self.engine {
            while let Some(t) = engine.poll_transmit() {
                self.pending.push_back(t);
            }
        }
        self.state = State::Closed;
        self.events.push_back(ServerEvent::Closed(reason));
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.state {
            State::Handshake { deadline, .. } if now >= *deadline => {
                self.reject_handshake(handshake::HANDSHAKE_CANCELED.to_string(), now);
                self.finish(CloseReason::HandshakeCanceled);
            }
            State::Open => {
                let outcome = self
                    .engine
                    .as_mut()
                    .map(|e| e.handle_timeout(now))
                    .unwrap_or(TimerOutcome::Nothing);
                if outcome == TimerOutcome::TimedOut {
                    self.send_close(Some("Connection closed with an error.".into()), false, now);
                    self.finish(CloseReason::TimedOut);
                }
            }
            _ => {}
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Handshake { deadline, .. } => Some(*deadline),
            State::Open => self.engine.as_ref().and_then(Engine::poll_timeout),
            State::Closed => None,
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.pending.pop_front() {
            return Some(t);
        }
        self.engine.as_mut()?.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// The transport ended without a clean close. A stateful connection waits to be
    /// re-attached (the driver decides how long); any other ends.
    pub fn handle_transport_lost(&mut self) {
        if !self.is_open() {
            self.finish(CloseReason::TransportClosed);
            return;
        }
        let resumable = self.engine.as_mut().is_some_and(Engine::transport_lost);
        if resumable {
            self.events.push_back(ServerEvent::TransportLost);
        } else {
            self.finish(CloseReason::TransportClosed);
        }
    }

    /// The transport closed cleanly, or the driver gave up waiting for a re-attach.
    pub fn handle_transport_closed(&mut self) {
        self.finish(CloseReason::TransportClosed);
    }

    /// A new transport took over a lost stateful connection: Sequence + replay go out.
    pub fn handle_transport_reattached(&mut self, now: Instant) {
        if let (State::Open, Some(engine)) = (&self.state, &mut self.engine)
            && !engine.is_attached()
        {
            engine.transport_reattached(now);
            self.events.push_back(ServerEvent::Resumed);
        }
    }

    fn engine_for_command(&mut self) -> Result<&mut Engine, CommandError> {
        match (&self.state, &mut self.engine) {
            (State::Open, Some(engine)) => Ok(engine),
            _ => Err(CommandError::NotOpen),
        }
    }

    fn send(&mut self, message: &HubMessage, now: Instant) -> Result<(), CommandError> {
        self.engine_for_command()?
            .send(message, now)
            .map_err(CommandError::Encode)
    }

    /// Answers a client call (single result, or the end of a stream).
    pub fn complete(
        &mut self,
        invocation_id: &str,
        result: CompletionResult,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.engine_for_command()?;
        if !self.incoming.complete(invocation_id) {
            return Err(CommandError::UnknownInvocation(invocation_id.to_string()));
        }
        // Upload streams of a finished call are dropped; later items for them are ignored.
        self.uploads.close_owner(invocation_id);
        self.send(
            &HubMessage::Completion {
                headers: Headers::new(),
                invocation_id: invocation_id.to_string(),
                result,
            },
            now,
        )
    }

    /// Sends one item of a streaming call still running.
    pub fn stream_item(
        &mut self,
        invocation_id: &str,
        item: RawValue,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.engine_for_command()?;
        if self.incoming.kind_of(invocation_id) != Some(CallKind::Stream)
            || self.incoming.is_cancelled(invocation_id)
        {
            return Err(CommandError::UnknownInvocation(invocation_id.to_string()));
        }
        self.send(
            &HubMessage::StreamItem {
                headers: Headers::new(),
                invocation_id: invocation_id.to_string(),
                item,
            },
            now,
        )
    }

    /// Calls a client method without waiting for a result.
    pub fn invoke(
        &mut self,
        target: &str,
        arguments: Vec<RawValue>,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.send(&invocation(None, target, arguments), now)
    }

    /// Calls a client method and expects a result ([`ServerEvent::ClientResult`]). Returns the
    /// invocation id.
    pub fn invoke_with_result(
        &mut self,
        target: &str,
        arguments: Vec<RawValue>,
        now: Instant,
    ) -> Result<String, CommandError> {
        self.engine_for_command()?;
        let id = self.ids.next_id();
        self.send(&invocation(Some(id.clone()), target, arguments), now)?;
        // Ids come from our own generator, so they are never pending twice.
        let _ = self.outgoing.register(id.clone(), CallKind::SingleResult);
        Ok(id)
    }

    /// Sends a message encoded once for many connections ([`crate::hub::codec::encode`] in
    /// this connection's protocol). `trackable` must match the message type (types 1–5).
    pub fn send_encoded(
        &mut self,
        frame: Bytes,
        trackable: bool,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.engine_for_command()?
            .send_encoded(frame, trackable, now);
        Ok(())
    }

    /// Ends the connection with a Close message.
    pub fn close(&mut self, error: Option<String>, allow_reconnect: bool, now: Instant) {
        if self.is_open() {
            self.send_close(error, allow_reconnect, now);
        }
        self.finish(CloseReason::Local);
    }
}

fn invocation(id: Option<String>, target: &str, arguments: Vec<RawValue>) -> HubMessage {
    HubMessage::Invocation(Invocation {
        headers: Headers::new(),
        invocation_id: id,
        target: target.to_string(),
        arguments,
        stream_ids: Vec::new(),
    })
}
