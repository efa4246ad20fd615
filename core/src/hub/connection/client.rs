//! The client side of one hub connection: sends the handshake, makes calls (single result,
//! streaming, non-blocking, with upload streams), answers server calls and reports what the
//! server sent.

use std::collections::VecDeque;

use super::engine::{Engine, TimerOutcome};
use super::{
    CloseReason, CommandError, ConnectionOptions, ConnectionStats, Negotiated, ProtocolViolation,
    Transmit,
};
use crate::hub::handshake::{self, HandshakeReader, HandshakeResponse};
use crate::hub::invocations::{CallEvent, CallKind, IdGenerator, OutgoingCalls, UnknownIds};
use crate::hub::{CompletionResult, Headers, HubMessage, HubProtocol, Invocation, RawValue};
use crate::time::Instant;

/// The JS client's error text when the server stays silent past the timeout.
pub const SERVER_TIMEOUT: &str =
    "Server timeout elapsed without receiving a message from the server.";

/// What the application learns from a [`ClientConnection`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// The server accepted the handshake.
    Connected(Negotiated),
    /// The server calls a client method; with an id it expects an answer through
    /// [`ClientConnection::complete_server_call`].
    Invocation(Invocation),
    /// One item of a stream this client requested.
    StreamItem {
        invocation_id: String,
        item: RawValue,
    },
    /// A call this client made finished (for streams: the end of the stream).
    Completion {
        invocation_id: String,
        result: CompletionResult,
    },
    /// The transport was lost; waiting to be re-attached (stateful only).
    TransportLost,
    /// A re-attached transport resumed the connection.
    Resumed,
    /// The connection ended. `error` is the server's Close error or a local reason's text;
    /// `allow_reconnect` is the server's Close flag.
    Closed {
        reason: CloseReason,
        error: Option<String>,
        allow_reconnect: bool,
    },
}

enum State {
    Handshake {
        reader: HandshakeReader<HandshakeResponse>,
        deadline: Instant,
    },
    Open,
    Closed,
}

/// One connection of a hub client (see the module docs for the driving order).
pub struct ClientConnection {
    options: ConnectionOptions,
    protocol: HubProtocol,
    stateful: bool,
    state: State,
    engine: Engine,
    outgoing: OutgoingCalls,
    server_calls: Vec<String>,
    ids: IdGenerator,
    events: VecDeque<ClientEvent>,
    pending: VecDeque<Transmit>,
}

impl ClientConnection {
    /// Starts a connection over a freshly opened transport: the handshake request (version 2
    /// when `stateful`, i.e. the server granted stateful reconnect at negotiate) is queued.
    pub fn new(
        options: ConnectionOptions,
        protocol: HubProtocol,
        stateful: bool,
        now: Instant,
    ) -> ClientConnection {
        let mut engine = Engine::new(protocol, &options, stateful, now);
        let request = handshake::HandshakeRequest::new(protocol, if stateful { 2 } else { 1 });
        // The handshake always goes as text, even for MessagePack.
        engine.push_raw(request.to_bytes(), false, now);
        ClientConnection {
            state: State::Handshake {
                reader: HandshakeReader::with_max_size(options.max_message_size),
                deadline: now + options.handshake_timeout,
            },
            options,
            protocol,
            stateful,
            engine,
            outgoing: OutgoingCalls::new(UnknownIds::Ignore),
            server_calls: Vec::new(),
            ids: IdGenerator::default(),
            events: VecDeque::new(),
            pending: VecDeque::new(),
        }
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
        self.engine.stats
    }

    pub fn options(&self) -> &ConnectionOptions {
        &self.options
    }

    /// Whether sends should be held back (stateful replay buffer at its limit).
    pub fn is_send_buffer_full(&self) -> bool {
        self.engine.is_send_buffer_full()
    }

    pub fn handle_data(&mut self, data: &[u8], now: Instant) {
        match &mut self.state {
            State::Closed => {}
            State::Handshake { reader, .. } => match reader.feed(data) {
                Ok(None) => {}
                Ok(Some((response, rest))) => match response.into_result() {
                    Ok(()) => {
                        self.state = State::Open;
                        self.events.push_back(ClientEvent::Connected(Negotiated {
                            protocol: self.protocol,
                            version: if self.stateful { 2 } else { 1 },
                            stateful: self.stateful,
                        }));
                        self.handle_open_data(&rest, now);
                    }
                    Err(error) => {
                        let text = error.to_string();
                        self.finish(
                            CloseReason::HandshakeRejected(text.clone()),
                            Some(text),
                            false,
                        );
                    }
                },
                Err(error) => {
                    let violation = ProtocolViolation::Handshake(error.to_string());
                    let text = violation.to_string();
                    self.finish(CloseReason::ProtocolError(violation), Some(text), false);
                }
            },
            State::Open => self.handle_open_data(data, now),
        }
    }

    fn handle_open_data(&mut self, data: &[u8], now: Instant) {
        self.engine.feed(data, now);
        while self.is_open() {
            match self.engine.next_message(now) {
                Ok(Some(message)) => self.on_message(message, now),
                Ok(None) => return,
                Err(violation) => {
                    let text = violation.to_string();
                    self.finish(CloseReason::ProtocolError(violation), Some(text), false);
                }
            }
        }
    }

    fn on_message(&mut self, message: HubMessage, now: Instant) {
        match message {
            HubMessage::Invocation(invocation) => {
                if let Some(id) = &invocation.invocation_id {
                    self.server_calls.push(id.clone());
                }
                self.events.push_back(ClientEvent::Invocation(invocation));
            }
            HubMessage::StreamInvocation(invocation) => {
                // Clients offer no streaming methods; refuse like a missing handler.
                if let Some(id) = invocation.invocation_id {
                    let _ = self.engine.send(
                        &HubMessage::Completion {
                            headers: Headers::new(),
                            invocation_id: id,
                            result: CompletionResult::Error(
                                "Client does not support streaming invocations.".into(),
                            ),
                        },
                        now,
                    );
                }
            }
            HubMessage::StreamItem {
                invocation_id,
                item,
                ..
            } => {
                // Items for unknown or finished calls are ignored, as the JS client does.
                if let Ok(Some(CallEvent::Item(item))) =
                    self.outgoing.on_stream_item(&invocation_id, item)
                {
                    self.events.push_back(ClientEvent::StreamItem {
                        invocation_id,
                        item,
                    });
                }
            }
            HubMessage::Completion {
                invocation_id,
                result,
                ..
            } => {
                if let Ok(Some(CallEvent::Completed(result))) =
                    self.outgoing.on_completion(&invocation_id, result)
                {
                    self.events.push_back(ClientEvent::Completion {
                        invocation_id,
                        result,
                    });
                }
            }
            HubMessage::Close {
                error,
                allow_reconnect,
            } => self.finish(CloseReason::PeerClosed, error, allow_reconnect),
            HubMessage::CancelInvocation { .. }
            | HubMessage::Ping
            | HubMessage::Ack { .. }
            | HubMessage::Sequence { .. } => {}
        }
    }

    fn finish(&mut self, reason: CloseReason, error: Option<String>, allow_reconnect: bool) {
        if matches!(self.state, State::Closed) {
            return;
        }
        while let Some(t) = self.engine.poll_transmit() {
            self.pending.push_back(t);
        }
        self.state = State::Closed;
        // Calls still waiting fail with the connection.
        let reason_text = error.clone().unwrap_or_else(|| {
            "Invocation canceled due to the underlying connection being closed.".into()
        });
        for id in self.outgoing.drain() {
            self.events.push_back(ClientEvent::Completion {
                invocation_id: id,
                result: CompletionResult::Error(reason_text.clone()),
            });
        }
        self.events.push_back(ClientEvent::Closed {
            reason,
            error,
            allow_reconnect,
        });
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let timed_out = match &self.state {
            State::Handshake { deadline, .. } => (now >= *deadline).then_some((
                CloseReason::HandshakeCanceled,
                handshake::HANDSHAKE_CANCELED,
            )),
            State::Open => (self.engine.handle_timeout(now) == TimerOutcome::TimedOut)
                .then_some((CloseReason::TimedOut, SERVER_TIMEOUT)),
            State::Closed => None,
        };
        if let Some((reason, text)) = timed_out {
            self.finish(reason, Some(text.into()), false);
        }
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Handshake { deadline, .. } => Some(*deadline),
            State::Open => self.engine.poll_timeout(),
            State::Closed => None,
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.pending.pop_front() {
            return Some(t);
        }
        self.engine.poll_transmit()
    }

    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// The transport ended without a clean close; a stateful connection waits for
    /// [`ClientConnection::handle_transport_reattached`].
    pub fn handle_transport_lost(&mut self) {
        if self.is_open() && self.engine.transport_lost() {
            self.events.push_back(ClientEvent::TransportLost);
        } else {
            self.finish(CloseReason::TransportClosed, None, false);
        }
    }

    /// The transport closed cleanly, or re-attaching failed.
    pub fn handle_transport_closed(&mut self) {
        self.finish(CloseReason::TransportClosed, None, false);
    }

    /// The same connection (same token) is open again on a new socket: Sequence + replay go
    /// out, no handshake.
    pub fn handle_transport_reattached(&mut self, now: Instant) {
        if self.is_open() && !self.engine.is_attached() {
            self.engine.transport_reattached(now);
            self.events.push_back(ClientEvent::Resumed);
        }
    }

    fn check_open(&self) -> Result<(), CommandError> {
        if self.is_open() {
            Ok(())
        } else {
            Err(CommandError::NotOpen)
        }
    }

    fn call(
        &mut self,
        kind: Option<CallKind>,
        target: &str,
        arguments: Vec<RawValue>,
        stream_ids: Vec<String>,
        now: Instant,
    ) -> Result<Option<String>, CommandError> {
        self.check_open()?;
        let id = kind.map(|_| self.ids.next_id());
        let invocation = Invocation {
            headers: Headers::new(),
            invocation_id: id.clone(),
            target: target.to_string(),
            arguments,
            stream_ids,
        };
        let message = if kind == Some(CallKind::Stream) {
            HubMessage::StreamInvocation(invocation)
        } else {
            HubMessage::Invocation(invocation)
        };
        self.engine
            .send(&message, now)
            .map_err(CommandError::Encode)?;
        if let (Some(kind), Some(id)) = (kind, &id) {
            // Ids come from our own generator, so they are never pending twice.
            let _ = self.outgoing.register(id.clone(), kind);
        }
        Ok(id)
    }

    /// A new id for an upload stream (shares the counter with invocation ids, like the JS
    /// client); pass it in `stream_ids` of a call, then feed it with
    /// [`ClientConnection::upload_item`] and end it with [`ClientConnection::upload_complete`].
    pub fn new_stream_id(&mut self) -> String {
        self.ids.next_id()
    }

    /// Calls a hub method and expects one [`ClientEvent::Completion`]. Returns its id.
    pub fn invoke(
        &mut self,
        target: &str,
        arguments: Vec<RawValue>,
        stream_ids: Vec<String>,
        now: Instant,
    ) -> Result<String, CommandError> {
        self.call(
            Some(CallKind::SingleResult),
            target,
            arguments,
            stream_ids,
            now,
        )
        .map(Option::unwrap_or_default)
    }

    /// Calls a hub method without waiting for (or getting) a result.
    pub fn send(
        &mut self,
        target: &str,
        arguments: Vec<RawValue>,
        stream_ids: Vec<String>,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.call(None, target, arguments, stream_ids, now)
            .map(|_| ())
    }

    /// Calls a streaming hub method: items come as [`ClientEvent::StreamItem`], the end as a
    /// [`ClientEvent::Completion`]. Returns the invocation id.
    pub fn stream(
        &mut self,
        target: &str,
        arguments: Vec<RawValue>,
        stream_ids: Vec<String>,
        now: Instant,
    ) -> Result<String, CommandError> {
        self.call(Some(CallKind::Stream), target, arguments, stream_ids, now)
            .map(Option::unwrap_or_default)
    }

    /// Stops a stream this client requested: later items are dropped; the server's final
    /// Completion is still reported.
    pub fn cancel(&mut self, invocation_id: &str, now: Instant) -> Result<(), CommandError> {
        self.check_open()?;
        if !self.outgoing.cancel(invocation_id) {
            return Err(CommandError::UnknownInvocation(invocation_id.to_string()));
        }
        self.engine
            .send(
                &HubMessage::CancelInvocation {
                    headers: Headers::new(),
                    invocation_id: invocation_id.to_string(),
                },
                now,
            )
            .map_err(CommandError::Encode)
    }

    /// Sends one item of an upload stream.
    pub fn upload_item(
        &mut self,
        stream_id: &str,
        item: RawValue,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        let message = HubMessage::StreamItem {
            headers: Headers::new(),
            invocation_id: stream_id.to_string(),
            item,
        };
        self.engine
            .send(&message, now)
            .map_err(CommandError::Encode)
    }

    /// Ends an upload stream (`error` fails it on the server).
    pub fn upload_complete(
        &mut self,
        stream_id: &str,
        error: Option<String>,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        let result = error.map_or(CompletionResult::Void, CompletionResult::Error);
        let message = HubMessage::Completion {
            headers: Headers::new(),
            invocation_id: stream_id.to_string(),
            result,
        };
        self.engine
            .send(&message, now)
            .map_err(CommandError::Encode)
    }

    /// Answers a server call that carried an id (its result, or an error such as the JS
    /// client's `Client didn't provide a result.`).
    pub fn complete_server_call(
        &mut self,
        invocation_id: &str,
        result: CompletionResult,
        now: Instant,
    ) -> Result<(), CommandError> {
        self.check_open()?;
        let Some(index) = self.server_calls.iter().position(|id| id == invocation_id) else {
            return Err(CommandError::UnknownInvocation(invocation_id.to_string()));
        };
        self.server_calls.swap_remove(index);
        let message = HubMessage::Completion {
            headers: Headers::new(),
            invocation_id: invocation_id.to_string(),
            result,
        };
        self.engine
            .send(&message, now)
            .map_err(CommandError::Encode)
    }

    /// Stops the connection: a Close message goes out, then the transport may close.
    pub fn close(&mut self, now: Instant) {
        if self.is_open() {
            let _ = self.engine.send(
                &HubMessage::Close {
                    error: None,
                    allow_reconnect: false,
                },
                now,
            );
        }
        self.finish(CloseReason::Local, None, false);
    }
}

/// The JS client's answer when no handler returns a result for a server call.
pub const NO_CLIENT_RESULT: &str = "Client didn't provide a result.";
