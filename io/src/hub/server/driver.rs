//! One task per connection drives its [`ServerConnection`]: transport events in, transmits
//! out, timers, and the hub's side — method tasks report back through the connection's
//! control channel (replies, sends, client-result calls, close) and stream channel (stream
//! items, held back while the stateful replay buffer is full).
//!
//! What it does not do: no HTTP (the transport layer hands over an
//! [`AcceptedConnection`]), no method lookup rules (see `dispatch`).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use interlink_core::hub::{
    CloseReason, CompletionResult, ConnectionOptions, RawValue, ServerConnection, ServerEvent,
    TransferFormat,
};
use smol::Task;
use smol::future::FutureExt as _;

use super::context::{CallerInfo, ConnectionInfo, HubContext};
use super::dispatch::Call;
use super::hub::HubError;
use super::shared::Shared;
use crate::hub::transport::{AcceptedConnection, TransportEvent, TransportKind, TransportSender};

/// Feeds one upload stream (`Err` = the client failed it).
pub(super) type UploadSender = async_channel::Sender<Result<RawValue, String>>;

/// Requests to a connection's driver, from its method tasks, other connections (fan-out)
/// and [`HubHandle`](super::HubHandle)s. Always accepted (unbounded).
pub(crate) enum Control {
    /// A pre-encoded, trackable frame (a fire-and-forget Invocation).
    SendEncoded(Bytes),
    /// A unary call finished.
    Complete {
        id: String,
        method: String,
        result: Result<Option<RawValue>, HubError>,
    },
    /// A non-blocking call (no id) finished.
    Done(u64),
    /// Call a method on this client and route its Completion to `reply`.
    InvokeWithResult {
        method: String,
        args: Vec<RawValue>,
        reply: async_channel::Sender<Result<RawValue, HubError>>,
    },
    /// Report the connection state.
    Info(async_channel::Sender<ConnectionInfo>),
    /// Send Close and end.
    Close {
        error: Option<String>,
        allow_reconnect: bool,
    },
    /// Drop the transport without a Close.
    Abort,
    /// Send nothing and time nothing out for a while.
    Mute(Duration),
    /// `on_connected` finished: held calls may run.
    Connected,
}

/// Output of streaming methods, bounded: read only while the connection can send.
pub(super) enum StreamOut {
    Item {
        id: String,
        item: RawValue,
    },
    End {
        id: String,
        method: String,
        error: Option<HubError>,
    },
}

/// What woke the driver.
enum Wake {
    Transport(Option<TransportEvent>),
    Control(Control),
    Stream(StreamOut),
    Timer,
}

/// The state of one connection's driver.
pub(super) struct Driver {
    pub shared: Arc<Shared>,
    pub conn: ServerConnection,
    pub caller: Arc<CallerInfo>,
    pub sender: TransportSender,
    events: async_channel::Receiver<TransportEvent>,
    pub ctl_tx: async_channel::Sender<Control>,
    ctl_rx: async_channel::Receiver<Control>,
    pub stream_tx: async_channel::Sender<StreamOut>,
    stream_rx: async_channel::Receiver<StreamOut>,
    /// Running unary calls with an id.
    pub tasks: HashMap<String, Task<()>>,
    /// Running streaming calls.
    pub streams: HashMap<String, Task<()>>,
    /// Running non-blocking calls.
    pub background: HashMap<u64, Task<()>>,
    pub next_background: u64,
    /// Open upload streams: stream id → (owning call, item sender).
    pub uploads: HashMap<String, (Option<String>, UploadSender)>,
    /// Client-result calls awaiting the client's Completion.
    client_calls: HashMap<String, async_channel::Sender<Result<RawValue, HubError>>>,
    /// Limits running unary calls (see `HubOptions::max_parallel_invocations`).
    pub permits: Arc<smol::lock::Semaphore>,
    muted_until: Option<std::time::Instant>,
    /// `on_connected` is running; calls wait in `held`.
    pub hook_running: bool,
    pub held: VecDeque<Call>,
    connected: bool,
    transport_gone: bool,
    closed: Option<CloseReason>,
}

impl Driver {
    pub fn new(shared: Arc<Shared>, accepted: AcceptedConnection) -> Driver {
        let now = shared.now();
        let mut options: ConnectionOptions = shared.options.connection.clone();
        // Long polling keeps itself alive (spec §5/§6): no Pings, no client timeout.
        options.keep_alive_enabled &= accepted.transport != TransportKind::LongPolling;
        let format = match accepted.transport {
            TransportKind::ServerSentEvents => TransferFormat::Text,
            _ => TransferFormat::Binary,
        };
        let conn = ServerConnection::new(
            options,
            format,
            accepted.stateful,
            &shared.options.protocols,
            now,
        );
        let (ctl_tx, ctl_rx) = async_channel::unbounded();
        let (stream_tx, stream_rx) = async_channel::bounded(shared.options.stream_buffer.max(1));
        let caller = Arc::new(CallerInfo {
            connection_id: accepted.connection_id,
            user_id: accepted.principal.user_id,
            claims: accepted.principal.claims,
            // Replaced by the negotiated protocol at Connected.
            protocol: shared
                .options
                .protocols
                .first()
                .copied()
                .unwrap_or(interlink_core::hub::HubProtocol::Json),
            transport: accepted.transport,
            query: accepted.query,
            ctl: ctl_tx.clone(),
        });
        let permits = Arc::new(smol::lock::Semaphore::new(
            shared.options.max_parallel_invocations.max(1),
        ));
        Driver {
            shared,
            conn,
            caller,
            sender: accepted.sender,
            events: accepted.events,
            ctl_tx,
            ctl_rx,
            stream_tx,
            stream_rx,
            tasks: HashMap::new(),
            streams: HashMap::new(),
            background: HashMap::new(),
            next_background: 0,
            uploads: HashMap::new(),
            client_calls: HashMap::new(),
            permits,
            muted_until: None,
            hook_running: false,
            held: VecDeque::new(),
            connected: false,
            transport_gone: false,
            closed: None,
        }
    }

    pub fn context(&self) -> HubContext {
        HubContext {
            caller: self.caller.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Drives the connection until it ends, then cleans up and runs `on_disconnected`.
    pub async fn run(mut self) {
        loop {
            self.drain_events().await;
            self.flush().await;
            if let Some(reason) = self.closed.clone() {
                self.finish(reason).await;
                return;
            }
            let wake = self.wait().await;
            let now = self.shared.now();
            match wake {
                Wake::Transport(Some(TransportEvent::Data(data))) => {
                    self.conn.handle_data(&data, now)
                }
                Wake::Transport(Some(TransportEvent::Lost)) => self.conn.handle_transport_lost(),
                Wake::Transport(Some(TransportEvent::Reattached)) => {
                    self.conn.handle_transport_reattached(now)
                }
                Wake::Transport(Some(TransportEvent::Closed) | None) => {
                    self.transport_gone = true;
                    self.conn.handle_transport_closed();
                }
                Wake::Control(c) => self.on_control(c),
                Wake::Stream(out) => self.on_stream_out(out),
                Wake::Timer => {
                    if let Some(until) = self.muted_until
                        && std::time::Instant::now() >= until
                    {
                        self.muted_until = None;
                    }
                    if self.muted_until.is_none() {
                        self.conn.handle_timeout(now);
                    }
                }
            }
        }
    }

    async fn wait(&mut self) -> Wake {
        let deadline = match self.muted_until {
            Some(until) => Some(until),
            None => self.conn.poll_timeout().map(|t| self.shared.deadline(t)),
        };
        let streams_ready = !self.conn.is_send_buffer_full() && self.muted_until.is_none();
        let ctl = async {
            match self.ctl_rx.recv().await {
                Ok(c) => Wake::Control(c),
                // We hold a sender ourselves, so this does not happen.
                Err(_) => std::future::pending().await,
            }
        };
        let transport = async {
            if self.transport_gone {
                std::future::pending().await
            } else {
                Wake::Transport(self.events.recv().await.ok())
            }
        };
        let streams = async {
            if streams_ready {
                match self.stream_rx.recv().await {
                    Ok(out) => Wake::Stream(out),
                    Err(_) => std::future::pending().await,
                }
            } else {
                std::future::pending().await
            }
        };
        let timer = async {
            match deadline {
                Some(at) => {
                    smol::Timer::at(at).await;
                    Wake::Timer
                }
                None => std::future::pending().await,
            }
        };
        ctl.or(transport).or(streams).or(timer).await
    }

    /// Sends what the connection produced (held while muted).
    async fn flush(&mut self) {
        if self.muted_until.is_some() && self.closed.is_none() {
            return;
        }
        while let Some(t) = self.conn.poll_transmit() {
            if self.transport_gone {
                continue;
            }
            // Detached (stateful, waiting for a re-attach): the core replays later.
            // Closed: the transport's Closed event follows.
            let _ = self.sender.send(t.data, t.binary).await;
        }
    }

    async fn drain_events(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            match event {
                ServerEvent::Connected(negotiated) => self.on_connected(negotiated.protocol),
                ServerEvent::Invocation(inv) => self.dispatch(inv, false),
                ServerEvent::StreamInvocation(inv) => self.dispatch(inv, true),
                ServerEvent::Cancel { invocation_id } => {
                    // Dropping the task drops the method's stream; a unary call runs on.
                    let running = self.streams.remove(&invocation_id).is_some();
                    let held = self
                        .held
                        .iter()
                        .position(|c| c.is_stream() && c.id.as_deref() == Some(&invocation_id));
                    if let Some(i) = held {
                        self.held.remove(i);
                    }
                    if running || held.is_some() {
                        let now = self.shared.now();
                        let _ = self
                            .conn
                            .complete(&invocation_id, CompletionResult::Void, now);
                    }
                }
                ServerEvent::UploadItem { stream_id, item } => {
                    if let Some((_, tx)) = self.uploads.get(&stream_id) {
                        let _ = tx.try_send(Ok(item));
                    }
                }
                ServerEvent::UploadComplete { stream_id, error } => {
                    if let Some((_, tx)) = self.uploads.remove(&stream_id)
                        && let Some(error) = error
                    {
                        let _ = tx.try_send(Err(error));
                    }
                }
                ServerEvent::ClientResult {
                    invocation_id,
                    result,
                } => {
                    if let Some(reply) = self.client_calls.remove(&invocation_id) {
                        let answer = match result {
                            CompletionResult::Value(v) => Ok(v),
                            CompletionResult::Void => Ok(RawValue::null(self.caller.protocol)),
                            CompletionResult::Error(e) => Err(HubError::Client(e)),
                        };
                        let _ = reply.try_send(answer);
                    }
                }
                ServerEvent::TransportLost => {
                    tracing::debug!(id = %self.caller.connection_id, "hub transport lost; waiting for a re-attach")
                }
                ServerEvent::Resumed => {
                    tracing::debug!(id = %self.caller.connection_id, "hub connection resumed")
                }
                ServerEvent::Closed(reason) => self.closed = Some(reason),
            }
        }
    }

    fn on_connected(&mut self, protocol: interlink_core::hub::HubProtocol) {
        let mut caller = (*self.caller).clone();
        caller.protocol = protocol;
        self.caller = Arc::new(caller);
        let registered = self.shared.register(
            &self.caller.connection_id,
            self.caller.user_id.as_deref(),
            protocol,
            self.ctl_tx.clone(),
        );
        if let Err(e) = registered {
            tracing::warn!("hub connection not registered: {e}");
            let now = self.shared.now();
            self.conn
                .close(Some("Connection closed with an error.".into()), false, now);
            return;
        }
        self.connected = true;
        if let Some(hook) = self.shared.hub.on_connected.clone() {
            // Its own task, so the hook may use the connection (client results, info).
            self.hook_running = true;
            let fut = hook(self.context());
            let ctl = self.ctl_tx.clone();
            smol::spawn(async move {
                let _ = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(fut)).await;
                let _ = ctl.send(Control::Connected).await;
            })
            .detach();
        }
    }

    fn on_control(&mut self, c: Control) {
        let now = self.shared.now();
        match c {
            Control::SendEncoded(frame) => {
                let _ = self.conn.send_encoded(frame, true, now);
            }
            Control::Complete { id, method, result } => {
                if let Some(task) = self.tasks.remove(&id) {
                    task.detach();
                }
                self.uploads
                    .retain(|_, (owner, _)| owner.as_deref() != Some(&id));
                let result = match result {
                    Ok(Some(value)) => CompletionResult::Value(value),
                    Ok(None) => CompletionResult::Void,
                    Err(e) => CompletionResult::Error(failure_text(&e, &method)),
                };
                let _ = self.conn.complete(&id, result, now);
            }
            Control::Done(key) => {
                if let Some(task) = self.background.remove(&key) {
                    task.detach();
                }
            }
            Control::InvokeWithResult {
                method,
                args,
                reply,
            } => match self.conn.invoke_with_result(&method, args, now) {
                Ok(id) => {
                    self.client_calls.insert(id, reply);
                }
                Err(_) => {
                    let _ = reply.try_send(Err(HubError::Disconnected));
                }
            },
            Control::Info(reply) => {
                if let Some(n) = self.conn.negotiated() {
                    let _ = reply.try_send(ConnectionInfo {
                        connection_id: self.caller.connection_id.clone(),
                        protocol: n.protocol,
                        version: n.version,
                        transport: self.caller.transport,
                        stateful: n.stateful,
                        stats: self.conn.stats(),
                    });
                }
            }
            Control::Close {
                error,
                allow_reconnect,
            } => self.conn.close(error, allow_reconnect, now),
            Control::Abort => self.sender.abort(),
            Control::Mute(d) => self.muted_until = Some(std::time::Instant::now() + d),
            Control::Connected => {
                self.hook_running = false;
                while let Some(call) = self.held.pop_front() {
                    self.start(call);
                }
            }
        }
    }

    fn on_stream_out(&mut self, out: StreamOut) {
        let now = self.shared.now();
        match out {
            StreamOut::Item { id, item } => {
                // Fails for a cancelled or finished stream: the item is dropped.
                let _ = self.conn.stream_item(&id, item, now);
            }
            StreamOut::End { id, method, error } => {
                if let Some(task) = self.streams.remove(&id) {
                    task.detach();
                }
                let result = match error {
                    None => CompletionResult::Void,
                    Some(e) => CompletionResult::Error(failure_text(&e, &method)),
                };
                let _ = self.conn.complete(&id, result, now);
            }
        }
    }

    /// The connection ended: flush, close the transport, unregister, stop its calls.
    async fn finish(mut self, reason: CloseReason) {
        self.flush().await;
        if !self.transport_gone && reason != CloseReason::TransportClosed {
            self.sender.close().await;
        }
        self.shared.unregister(&self.caller.connection_id);
        self.tasks.clear();
        self.streams.clear();
        self.background.clear();
        self.uploads.clear();
        self.client_calls.clear();
        if self.connected
            && let Some(hook) = self.shared.hub.on_disconnected.clone()
        {
            let error = match &reason {
                CloseReason::Local | CloseReason::PeerClosed => None,
                other => Some(close_description(other)),
            };
            // A panicking hook must not take the server down.
            let ctx = self.context();
            let _ =
                futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(hook(ctx, error)))
                    .await;
        }
    }
}

/// The Completion error text for a failed call, logging failures the caller does not see.
pub(super) fn failure_text(e: &HubError, method: &str) -> String {
    if matches!(e, HubError::Internal(_) | HubError::Value(_)) {
        tracing::warn!("hub method '{method}' failed: {e}");
    }
    e.completion_text(method)
}

fn close_description(reason: &CloseReason) -> String {
    match reason {
        CloseReason::TimedOut => "the client timed out".into(),
        CloseReason::HandshakeCanceled => "the handshake was canceled".into(),
        CloseReason::HandshakeRejected(text) => format!("the handshake was rejected: {text}"),
        CloseReason::ProtocolError(v) => format!("protocol error: {v}"),
        CloseReason::TransportClosed => "the transport closed".into(),
        CloseReason::Local | CloseReason::PeerClosed => "closed".into(),
    }
}
