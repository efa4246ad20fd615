//! The task of one hub connection: runs the core [`ClientConnection`] on a WebSocket.
//!
//! It feeds received frames to `handle_data`, sends every `poll_transmit` as one Text or
//! Binary frame, acts on `poll_event` (results to callers, server calls to handlers),
//! sleeps until `poll_timeout`, and takes commands from the [`HubClient`] handle. While the
//! stateful replay buffer is full it holds new commands back. After an unclean socket loss
//! of a stateful connection it re-opens the WebSocket with the same id once (no negotiate,
//! no handshake). It ends with the connection and reports how ([`Outcome`]); reconnecting
//! with a new connection is the session's business, not this task's.
//!
//! [`HubClient`]: super::HubClient

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::channel::oneshot;
use futures::future::BoxFuture;
use futures::stream::BoxStream;
use futures_lite::future;
use interlink_core::hub::connection::NO_CLIENT_RESULT;
use interlink_core::hub::invocations::CallKind;
use interlink_core::hub::{
    ClientConnection, ClientEvent, CloseReason, CommandError, CompletionResult, Invocation,
    RawValue, Transmit,
};
use interlink_core::ws::{Event, Message};

use super::Shared;
use super::connect::{WsLink, open_websocket};
use super::error::{CONNECTION_CLOSED, HubClientError};
use super::handlers::{HandlerCall, call, combine};
use crate::ws::{DriverEvent, WsCommand};

/// An upload stream given to a call.
pub(crate) type Upload = BoxStream<'static, RawValue>;

/// Where the result of a call goes.
pub(crate) enum Reply {
    /// `invoke`: the value (`None` = void) or the error.
    Invoke(oneshot::Sender<Result<Option<RawValue>, HubClientError>>),
    /// `send`: whether the message went out.
    Send(oneshot::Sender<Result<(), HubClientError>>),
    /// `stream`: items, then the channel closes; `key` names it for cancellation.
    Stream {
        key: u64,
        items: async_channel::Sender<Result<RawValue, HubClientError>>,
    },
}

/// What the handle asks of the connection (held back while the send buffer is full).
pub(crate) enum Command {
    Call {
        /// `None`: a non-blocking `send`.
        kind: Option<CallKind>,
        target: String,
        args: Vec<RawValue>,
        uploads: Vec<Upload>,
        reply: Reply,
    },
    UploadItem {
        id: String,
        item: RawValue,
    },
    UploadComplete {
        id: String,
    },
}

/// Small signals that are never held back.
pub(crate) enum Control {
    /// The [`HubStream`](super::HubStream) with this key was dropped.
    CancelStream(u64),
    /// An async handler finished a server call.
    ServerCallResult {
        id: String,
        result: CompletionResult,
    },
}

/// How a connection ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `stop()`.
    Stopped,
    /// The server or the network ended it; `reconnect` says whether a policy may bring it
    /// back (false only for a server Close without `allowReconnect`).
    Ended {
        error: Option<HubClientError>,
        reconnect: bool,
    },
}

enum Pending {
    Invoke(oneshot::Sender<Result<Option<RawValue>, HubClientError>>),
    Stream {
        key: u64,
        items: async_channel::Sender<Result<RawValue, HubClientError>>,
    },
}

enum Wake {
    Ws(Option<DriverEvent>),
    Command(Command),
    Control(Control),
    Stop,
    Timer,
    Reattached(Result<WsLink, HubClientError>),
}

/// Where to re-open the socket of a stateful connection.
pub(crate) struct Reopen {
    pub url: String,
    pub headers: Vec<(String, String)>,
}

/// Channels between the handle and one connection.
pub(crate) struct Channels {
    pub commands: async_channel::Receiver<Command>,
    pub commands_tx: async_channel::Sender<Command>,
    pub control: async_channel::Receiver<Control>,
    pub control_tx: async_channel::Sender<Control>,
    /// Closed (never sent on) when `stop()` is called.
    pub stop: async_channel::Receiver<()>,
}

pub(crate) struct Driver {
    shared: Arc<Shared>,
    conn: ClientConnection,
    ws: Option<WsLink>,
    /// The peer sent a normal WebSocket Close: its end is not a loss.
    ws_clean: bool,
    last_ws_error: Option<String>,
    reopen: Reopen,
    ch: Channels,
    pending: HashMap<String, Pending>,
    stream_ids: HashMap<u64, String>,
    tasks: Vec<smol::Task<()>>,
    ready: Option<oneshot::Sender<Result<(), HubClientError>>>,
    reattach: Option<BoxFuture<'static, Result<WsLink, HubClientError>>>,
}

impl Driver {
    pub(crate) fn new(
        shared: Arc<Shared>,
        conn: ClientConnection,
        ws: WsLink,
        reopen: Reopen,
        ch: Channels,
        ready: oneshot::Sender<Result<(), HubClientError>>,
    ) -> Driver {
        Driver {
            shared,
            conn,
            ws: Some(ws),
            ws_clean: false,
            last_ws_error: None,
            reopen,
            ch,
            pending: HashMap::new(),
            stream_ids: HashMap::new(),
            tasks: Vec::new(),
            ready: Some(ready),
            reattach: None,
        }
    }

    /// Runs the connection to its end.
    pub(crate) async fn run(mut self) -> Outcome {
        loop {
            if let Some(outcome) = self.drain() {
                self.reject_queued_commands();
                if let Some(ws) = self.ws.take() {
                    ws.close(Duration::from_secs(1)).await;
                }
                return outcome;
            }
            let wake = self.wait().await;
            let now = self.shared.clock.now();
            match wake {
                Wake::Ws(Some(DriverEvent::Ws(event))) => match event {
                    Event::Message(Message::Text(text)) => {
                        self.conn.handle_data(text.as_bytes(), now)
                    }
                    Event::Message(Message::Binary(data)) => self.conn.handle_data(&data, now),
                    Event::Close(frame) => {
                        self.ws_clean = matches!(frame.map(|f| f.code), None | Some(1000 | 1001));
                    }
                    _ => {}
                },
                Wake::Ws(ended) => {
                    self.ws = None;
                    if let Some(DriverEvent::Ended { error }) = ended {
                        self.last_ws_error = error;
                    }
                    if self.ws_clean {
                        self.conn.handle_transport_closed();
                    } else {
                        self.conn.handle_transport_lost();
                    }
                }
                Wake::Command(command) => self.command(command, now),
                Wake::Control(Control::CancelStream(key)) => {
                    if let Some(id) = self.stream_ids.remove(&key) {
                        self.pending.remove(&id);
                        let _ = self.conn.cancel(&id, now);
                    }
                }
                Wake::Control(Control::ServerCallResult { id, result }) => {
                    let _ = self.conn.complete_server_call(&id, result, now);
                }
                Wake::Stop => self.conn.close(now),
                Wake::Timer => self.conn.handle_timeout(now),
                Wake::Reattached(result) => {
                    self.reattach = None;
                    match result {
                        Ok(link) => {
                            self.ws = Some(link);
                            self.ws_clean = false;
                            self.conn.handle_transport_reattached(now);
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "stateful re-attach failed");
                            self.last_ws_error = Some(e.to_string());
                            self.conn.handle_transport_closed();
                        }
                    }
                }
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let Driver {
            shared,
            conn,
            ws,
            ch,
            reattach,
            ..
        } = self;
        let accepting = conn.is_open() && !conn.is_send_buffer_full();
        let deadline = conn.poll_timeout().map(|t| shared.clock.at(t));
        let socket = async {
            match ws {
                Some(link) => Wake::Ws(link.events.recv().await.ok()),
                None => future::pending().await,
            }
        };
        let command = async {
            match accepting {
                // We hold a sender ourselves: the channel never closes under us.
                true => match ch.commands.recv().await {
                    Ok(c) => Wake::Command(c),
                    Err(_) => future::pending().await,
                },
                false => future::pending().await,
            }
        };
        let control = async {
            match ch.control.recv().await {
                Ok(c) => Wake::Control(c),
                Err(_) => future::pending().await,
            }
        };
        let stop = async {
            let _ = ch.stop.recv().await;
            Wake::Stop
        };
        let timer = async {
            match deadline {
                Some(at) => {
                    async_io::Timer::at(at).await;
                    Wake::Timer
                }
                None => future::pending().await,
            }
        };
        let reattached = async {
            match reattach {
                Some(f) => Wake::Reattached(f.await),
                None => future::pending().await,
            }
        };
        future::or(
            stop,
            future::or(
                socket,
                future::or(control, future::or(timer, future::or(reattached, command))),
            ),
        )
        .await
    }

    /// The connection is over: refuses new commands and fails the queued ones. Until the
    /// session notices the end, handles still see `Connected` and may queue calls here;
    /// a queued call would otherwise wait forever (its sender keeps the channel alive).
    fn reject_queued_commands(&mut self) {
        self.ch.commands.close();
        while let Ok(command) = self.ch.commands.try_recv() {
            if let Command::Call { reply, .. } = command {
                fail(reply, HubClientError::NotConnected);
            }
        }
    }

    fn transmit(&mut self, t: Transmit) {
        let Some(ws) = &self.ws else { return };
        let cmd = if t.binary {
            WsCommand::Binary(t.data)
        } else {
            WsCommand::Text(String::from_utf8_lossy(&t.data).into_owned())
        };
        let _ = ws.commands.try_send(cmd);
    }

    /// Sends what the connection produced and acts on its events; `Some` once it has ended.
    fn drain(&mut self) -> Option<Outcome> {
        loop {
            while let Some(t) = self.conn.poll_transmit() {
                self.transmit(t);
            }
            let events: Vec<ClientEvent> = std::iter::from_fn(|| self.conn.poll_event()).collect();
            if events.is_empty() {
                return None;
            }
            // Calls still pending at the end fail with the connection's error; the core
            // reports them as error Completions carrying this text just before `Closed`.
            let ending = events.iter().find_map(|e| match e {
                ClientEvent::Closed {
                    reason,
                    error,
                    allow_reconnect,
                } => Some((
                    error
                        .clone()
                        .unwrap_or_else(|| CONNECTION_CLOSED.to_string()),
                    self.outcome(reason, error.as_deref(), *allow_reconnect),
                )),
                _ => None,
            });
            for event in events {
                self.event(event, ending.as_ref());
            }
            if let Some((_, outcome)) = ending {
                while let Some(t) = self.conn.poll_transmit() {
                    self.transmit(t);
                }
                if let Some(ready) = self.ready.take() {
                    let error = match &outcome {
                        Outcome::Ended { error: Some(e), .. } => e.clone(),
                        _ => HubClientError::StoppedDuringStart,
                    };
                    let _ = ready.send(Err(error));
                }
                return Some(outcome);
            }
        }
    }

    fn outcome(&self, reason: &CloseReason, error: Option<&str>, allow: bool) -> Outcome {
        let (error, reconnect) = match reason {
            CloseReason::Local => return Outcome::Stopped,
            CloseReason::PeerClosed => {
                (error.map(|e| HubClientError::ServerClosed(e.into())), allow)
            }
            CloseReason::TimedOut => (Some(HubClientError::ServerTimeout), true),
            CloseReason::HandshakeCanceled => (Some(HubClientError::HandshakeTimeout), true),
            CloseReason::HandshakeRejected(text) => {
                (Some(HubClientError::HandshakeRejected(text.clone())), true)
            }
            CloseReason::ProtocolError(v) => (Some(HubClientError::Protocol(v.to_string())), true),
            CloseReason::TransportClosed => {
                let text = match &self.last_ws_error {
                    Some(e) => format!("WebSocket closed with an error: {e}"),
                    None => "WebSocket closed.".to_string(),
                };
                (Some(HubClientError::ConnectionClosed(text)), true)
            }
        };
        Outcome::Ended { error, reconnect }
    }

    fn event(&mut self, event: ClientEvent, ending: Option<&(String, Outcome)>) {
        let now = self.shared.clock.now();
        match event {
            ClientEvent::Connected(_) => {
                if let Some(ready) = self.ready.take() {
                    let _ = ready.send(Ok(()));
                }
            }
            ClientEvent::Invocation(invocation) => self.dispatch(invocation),
            ClientEvent::StreamItem {
                invocation_id,
                item,
            } => {
                let gone = match self.pending.get(&invocation_id) {
                    Some(Pending::Stream { items, .. }) => items.try_send(Ok(item)).is_err(),
                    _ => false,
                };
                if gone {
                    // The consumer dropped the stream before its cancel arrived.
                    if let Some(Pending::Stream { key, .. }) = self.pending.remove(&invocation_id) {
                        self.stream_ids.remove(&key);
                    }
                    let _ = self.conn.cancel(&invocation_id, now);
                }
            }
            ClientEvent::Completion {
                invocation_id,
                result,
            } => {
                let error = |text: String| match ending {
                    Some((synthetic, outcome)) if *synthetic == text => match outcome {
                        Outcome::Ended { error: Some(e), .. } => e.clone(),
                        _ => HubClientError::ConnectionClosed(CONNECTION_CLOSED.into()),
                    },
                    _ => HubClientError::Hub(text),
                };
                match self.pending.remove(&invocation_id) {
                    Some(Pending::Invoke(tx)) => {
                        let _ = tx.send(match result {
                            CompletionResult::Value(v) => Ok(Some(v)),
                            CompletionResult::Void => Ok(None),
                            CompletionResult::Error(text) => Err(error(text)),
                        });
                    }
                    Some(Pending::Stream { key, items }) => {
                        self.stream_ids.remove(&key);
                        if let CompletionResult::Error(text) = result {
                            let _ = items.try_send(Err(error(text)));
                        }
                    }
                    None => {}
                }
            }
            ClientEvent::TransportLost => {
                let url = self.reopen.url.clone();
                let headers = self.reopen.headers.clone();
                let tls = self.shared.options.tls.clone();
                let limit = self.shared.options.connection.handshake_timeout;
                tracing::debug!("WebSocket lost; re-attaching the stateful connection");
                self.reattach = Some(Box::pin(async move {
                    open_websocket(&url, &headers, &tls, limit).await
                }));
            }
            ClientEvent::Resumed => tracing::debug!("stateful connection resumed"),
            ClientEvent::Closed { .. } => {}
        }
    }

    fn command(&mut self, command: Command, now: interlink_core::time::Instant) {
        match command {
            Command::Call {
                kind,
                target,
                args,
                uploads,
                reply,
            } => {
                let ids: Vec<String> = uploads.iter().map(|_| self.conn.new_stream_id()).collect();
                let sent = match kind {
                    None => self
                        .conn
                        .send(&target, args, ids.clone(), now)
                        .map(|()| None),
                    Some(CallKind::SingleResult) => {
                        self.conn.invoke(&target, args, ids.clone(), now).map(Some)
                    }
                    Some(CallKind::Stream) => {
                        self.conn.stream(&target, args, ids.clone(), now).map(Some)
                    }
                };
                let id = match sent {
                    Ok(id) => id,
                    Err(e) => return fail(reply, command_error(e)),
                };
                match (reply, id) {
                    (Reply::Send(tx), _) => {
                        let _ = tx.send(Ok(()));
                    }
                    (Reply::Invoke(tx), Some(id)) => {
                        self.pending.insert(id, Pending::Invoke(tx));
                    }
                    (Reply::Stream { key, items }, Some(id)) => {
                        if items.is_closed() {
                            let _ = self.conn.cancel(&id, now);
                        } else {
                            self.stream_ids.insert(key, id.clone());
                            self.pending.insert(id, Pending::Stream { key, items });
                        }
                    }
                    (reply, None) => fail(reply, HubClientError::NotConnected),
                }
                for (id, upload) in ids.into_iter().zip(uploads) {
                    self.spawn(forward_upload(id, upload, self.ch.commands_tx.clone()));
                }
            }
            Command::UploadItem { id, item } => {
                let _ = self.conn.upload_item(&id, item, now);
            }
            Command::UploadComplete { id } => {
                let _ = self.conn.upload_complete(&id, None, now);
            }
        }
    }

    fn spawn(&mut self, fut: impl std::future::Future<Output = ()> + Send + 'static) {
        self.tasks.retain(|t| !t.is_finished());
        self.tasks.push(smol::spawn(fut));
    }

    /// Calls the handlers of a server call; answers it when it carries an id.
    fn dispatch(&mut self, invocation: Invocation) {
        let now = self.shared.clock.now();
        let handlers = self.shared.handlers.get(&invocation.target);
        let id = invocation.invocation_id;
        if handlers.is_empty() {
            tracing::warn!(method = %invocation.target, "no client method with this name");
            if let Some(id) = id {
                let error = CompletionResult::Error(NO_CLIENT_RESULT.into());
                let _ = self.conn.complete_server_call(&id, error, now);
            }
            return;
        }
        let calls: Vec<HandlerCall> = handlers
            .iter()
            .map(|h| call(h, invocation.arguments.clone()))
            .collect();
        if calls.iter().all(|c| matches!(c, HandlerCall::Ready(_))) {
            let results = calls
                .into_iter()
                .map(|c| match c {
                    HandlerCall::Ready(r) => r,
                    HandlerCall::Later(_) => None,
                })
                .collect();
            if let Some(id) = id {
                let _ = self.conn.complete_server_call(&id, combine(results), now);
            }
            return;
        }
        let control = self.ch.control_tx.clone();
        self.spawn(async move {
            let mut results = Vec::with_capacity(calls.len());
            for c in calls {
                results.push(match c {
                    HandlerCall::Ready(r) => r,
                    HandlerCall::Later(f) => f.await,
                });
            }
            if let Some(id) = id {
                let result = combine(results);
                let _ = control.send(Control::ServerCallResult { id, result }).await;
            }
        });
    }
}

/// Feeds one upload stream into the connection, then ends it with a Completion.
async fn forward_upload(id: String, mut upload: Upload, commands: async_channel::Sender<Command>) {
    while let Some(item) = upload.next().await {
        let item = Command::UploadItem {
            id: id.clone(),
            item,
        };
        if commands.send(item).await.is_err() {
            return;
        }
    }
    let _ = commands.send(Command::UploadComplete { id }).await;
}

fn command_error(e: CommandError) -> HubClientError {
    match e {
        CommandError::NotOpen | CommandError::UnknownInvocation(_) => HubClientError::NotConnected,
        CommandError::Encode(e) => HubClientError::Encode(e.to_string()),
    }
}

fn fail(reply: Reply, error: HubClientError) {
    match reply {
        Reply::Invoke(tx) => {
            let _ = tx.send(Err(error));
        }
        Reply::Send(tx) => {
            let _ = tx.send(Err(error));
        }
        Reply::Stream { items, .. } => {
            let _ = items.try_send(Err(error));
        }
    }
}
