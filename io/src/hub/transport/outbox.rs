//! The per-connection send queue ([`Outbox`]) and its public face, [`TransportSender`].
//!
//! Frames wait in the outbox until the attached transport takes them: the WebSocket and
//! Server-Sent Events pumps take them as soon as they can write, a long poll takes all of
//! them when it is answered. The queue is bounded by bytes; see [`TransportSender::send`].

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use bytes::Bytes;
use interlink_core::hub::connections::{Ended, Removal};
use interlink_core::hub::negotiate::TransportKind;

use super::TransportEvent;
use super::route::Route;

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection is closed (or closing): nothing more is sent.
    #[error("the connection is closed")]
    Closed,
    /// A stateful WebSocket lost its socket and waits for a re-attach: the frame was
    /// discarded. The hub layer replays from its own buffer after
    /// [`TransportEvent::Reattached`].
    #[error("no transport is attached (stateful connection waiting for a re-attach)")]
    Detached,
    /// The queue is at its byte limit (only from [`TransportSender::try_send`]).
    #[error("the send queue is full")]
    Full,
    /// A text frame that is not UTF-8.
    #[error("a text frame must be UTF-8")]
    NotUtf8,
    /// A binary frame on Server-Sent Events, which carries text only.
    #[error("Server-Sent Events carry text frames only")]
    BinaryNotSupported,
}

/// One queued frame.
#[derive(Debug, Clone)]
pub(super) struct Frame {
    pub data: Bytes,
    pub binary: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
    /// Frames are accepted.
    Open,
    /// Stateful WebSocket without a socket: frames are refused with `Detached`.
    Detached,
    /// Graceful end: no new frames; the transport sends what is queued, then ends.
    Closing,
    /// Finished: queued frames are dropped.
    Closed,
}

struct State {
    frames: VecDeque<Frame>,
    bytes: usize,
    status: Status,
}

/// What a pump gets from [`Outbox::next`].
pub(super) enum Next {
    /// Every frame queued so far, in order.
    Frames(Vec<Frame>),
    /// Nothing more will come: closing and drained, closed, or detached.
    End,
}

/// A byte-bounded frame queue with one consumer (the transport) and any number of senders
/// (served one at a time, in the order they arrive at the internal lock).
pub(super) struct Outbox {
    state: Mutex<State>,
    limit: usize,
    /// Signalled when frames arrive or the status changes (wakes the consumer).
    data: (async_channel::Sender<()>, async_channel::Receiver<()>),
    /// Signalled when room frees up or the status changes (wakes the waiting sender).
    room: (async_channel::Sender<()>, async_channel::Receiver<()>),
    /// Lets one sender at a time wait for room, so a single wake-up slot suffices.
    turn: smol::lock::Mutex<()>,
}

impl Outbox {
    pub fn new(limit: usize) -> Self {
        Outbox {
            state: Mutex::new(State {
                frames: VecDeque::new(),
                bytes: 0,
                status: Status::Open,
            }),
            limit: limit.max(1),
            data: async_channel::bounded(1),
            room: async_channel::bounded(1),
            turn: smol::lock::Mutex::new(()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wake_all(&self) {
        let _ = self.data.0.try_send(());
        let _ = self.room.0.try_send(());
    }

    /// Queues `frame` if there is room (a frame always fits an empty queue). `Ok(true)` when
    /// the queue was empty before. `Err(Full)` when it does not fit.
    fn try_push(&self, frame: Frame) -> Result<bool, SendError> {
        let mut s = self.lock();
        match s.status {
            Status::Open => {}
            Status::Detached => return Err(SendError::Detached),
            Status::Closing | Status::Closed => return Err(SendError::Closed),
        }
        if s.bytes > 0 && s.bytes + frame.data.len() > self.limit {
            return Err(SendError::Full);
        }
        let was_empty = s.frames.is_empty();
        s.bytes += frame.data.len();
        s.frames.push_back(frame);
        drop(s);
        let _ = self.data.0.try_send(());
        Ok(was_empty)
    }

    /// Queues `frame`, waiting while the queue is at its byte limit.
    async fn push(&self, frame: Frame) -> Result<bool, SendError> {
        let _turn = self.turn.lock().await;
        loop {
            match self.try_push(frame.clone()) {
                Err(SendError::Full) => {
                    let _ = self.room.1.recv().await;
                }
                other => return other,
            }
        }
    }

    /// Waits for queued frames (all of them are taken) or the end.
    pub async fn next(&self) -> Next {
        loop {
            {
                let mut s = self.lock();
                if s.status == Status::Closed || s.status == Status::Detached {
                    return Next::End;
                }
                if !s.frames.is_empty() {
                    let frames = s.frames.drain(..).collect();
                    s.bytes = 0;
                    drop(s);
                    let _ = self.room.0.try_send(());
                    return Next::Frames(frames);
                }
                if s.status == Status::Closing {
                    return Next::End;
                }
            }
            let _ = self.data.1.recv().await;
        }
    }

    /// Takes every queued frame now (long polling).
    pub fn drain(&self) -> Vec<Frame> {
        let mut s = self.lock();
        let frames: Vec<Frame> = s.frames.drain(..).collect();
        s.bytes = 0;
        drop(s);
        let _ = self.room.0.try_send(());
        frames
    }

    pub fn has_frames(&self) -> bool {
        !self.lock().frames.is_empty()
    }

    pub fn status(&self) -> Status {
        self.lock().status
    }

    /// Sets the status. Nothing leaves `Closing` (a graceful close keeps draining what is
    /// queued) or `Closed`. Entering `Open` (re-attach) or `Detached` drops queued frames:
    /// the hub layer replays after a re-attach.
    pub fn set_status(&self, status: Status) {
        let mut s = self.lock();
        let allowed = !matches!(s.status, Status::Closing | Status::Closed);
        if allowed {
            if matches!(status, Status::Open | Status::Detached) {
                s.frames.clear();
                s.bytes = 0;
            }
            s.status = status;
        }
        drop(s);
        self.wake_all();
    }

    /// Waits until the queue is empty or closed, at most `limit`.
    async fn drained(&self, limit: Duration) {
        let wait = async {
            loop {
                {
                    let s = self.lock();
                    if s.frames.is_empty() || s.status == Status::Closed {
                        return;
                    }
                }
                let _ = self.room.1.recv().await;
            }
        };
        futures_lite::future::or(wait, async {
            async_io::Timer::after(limit).await;
        })
        .await;
    }
}

/// The WebSocket or event stream currently attached to a connection: how to drop it and
/// whether its end was already reported to the table (exactly once, by whoever comes first:
/// its task, or [`TransportSender::abort`]).
pub(super) struct Attachment {
    pub abort: async_channel::Sender<()>,
    ended: Mutex<Option<Ended>>,
}

impl Attachment {
    pub fn new(abort: async_channel::Sender<()>) -> Self {
        Attachment {
            abort,
            ended: Mutex::new(None),
        }
    }

    /// Reports the end of this transport to the table once; later calls return the first
    /// answer.
    pub fn end(&self, route: &Route, token: &str, graceful: bool) -> Ended {
        let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
        *ended.get_or_insert_with(|| route.transport_ended(token, graceful))
    }
}

/// What a connection's tasks, its [`TransportSender`]s and its route share.
pub(super) struct ConnShared {
    pub token: String,
    pub connection_id: String,
    pub kind: TransportKind,
    pub outbox: Outbox,
    pub events: async_channel::Sender<TransportEvent>,
    pub route: Weak<Route>,
    /// The attached WebSocket or event stream (none for long polling).
    pub attachment: Mutex<Option<Arc<Attachment>>>,
    /// Ends when the current WebSocket's task has finished (a re-attach waits for it).
    pub ws_done: Mutex<Option<async_channel::Receiver<()>>>,
    closed_sent: AtomicBool,
}

impl ConnShared {
    pub fn new(
        token: String,
        connection_id: String,
        kind: TransportKind,
        limit: usize,
        events: async_channel::Sender<TransportEvent>,
        route: Weak<Route>,
    ) -> Self {
        ConnShared {
            token,
            connection_id,
            kind,
            outbox: Outbox::new(limit),
            events,
            route,
            attachment: Mutex::new(None),
            ws_done: Mutex::new(None),
            closed_sent: AtomicBool::new(false),
        }
    }

    pub fn current_attachment(&self) -> Option<Arc<Attachment>> {
        self.attachment
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The table removed the connection: stop taking frames (a graceful close keeps
    /// draining) and tell the hub layer `Closed`, once. Called under the route lock, so it
    /// never waits: the event is sent from a small task.
    pub fn finish(&self, reason: Removal) {
        tracing::debug!(connection = %self.connection_id, ?reason, "hub connection removed");
        self.outbox.set_status(Status::Closed);
        if !self.closed_sent.swap(true, Ordering::SeqCst) {
            let events = self.events.clone();
            smol::spawn(async move {
                let _ = events.send(TransportEvent::Closed).await;
                events.close();
            })
            .detach();
        }
    }
}

/// The sending half of one connection, handed to the hub layer in
/// [`AcceptedConnection`](super::AcceptedConnection). Cheap to clone; every clone feeds the
/// same queue.
///
/// Frames are queued per connection up to `TransportOptions::max_buffered_bytes` (a single
/// larger frame is accepted when the queue is empty). [`send`](Self::send) waits while the
/// queue is full — a slow client slows its sender down — and [`try_send`](Self::try_send)
/// fails with [`SendError::Full`] instead. It does not split, merge or re-encode frames,
/// except that long polling answers a poll with every queued frame concatenated.
#[derive(Clone)]
pub struct TransportSender {
    pub(super) conn: Arc<ConnShared>,
}

impl std::fmt::Debug for TransportSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportSender")
            .field("connection_id", &self.conn.connection_id)
            .field("transport", &self.conn.kind)
            .finish()
    }
}

impl TransportSender {
    /// The transport this connection uses.
    pub fn transport(&self) -> TransportKind {
        self.conn.kind
    }

    /// The public connection id.
    pub fn connection_id(&self) -> &str {
        &self.conn.connection_id
    }

    fn frame(&self, data: Bytes, binary: bool) -> Result<Frame, SendError> {
        if binary && self.conn.kind == TransportKind::ServerSentEvents {
            return Err(SendError::BinaryNotSupported);
        }
        if !binary && std::str::from_utf8(&data).is_err() {
            return Err(SendError::NotUtf8);
        }
        Ok(Frame { data, binary })
    }

    fn queued(&self, was_empty: bool) {
        if was_empty
            && self.conn.kind == TransportKind::LongPolling
            && let Some(route) = self.conn.route.upgrade()
        {
            route.data_queued(&self.conn.token);
        }
    }

    /// Queues one frame: a WebSocket text or binary message, one Server-Sent Event (text
    /// only), or part of the next long-poll answer. Waits while the queue is full. Empty
    /// frames are skipped.
    pub async fn send(&self, frame: Bytes, binary: bool) -> Result<(), SendError> {
        let frame = self.frame(frame, binary)?;
        if frame.data.is_empty() {
            return Ok(());
        }
        let was_empty = self.conn.outbox.push(frame).await?;
        self.queued(was_empty);
        Ok(())
    }

    /// [`send`](Self::send) without waiting: [`SendError::Full`] when the frame does not fit.
    pub fn try_send(&self, frame: Bytes, binary: bool) -> Result<(), SendError> {
        let frame = self.frame(frame, binary)?;
        if frame.data.is_empty() {
            return Ok(());
        }
        let was_empty = self.conn.outbox.try_push(frame)?;
        self.queued(was_empty);
        Ok(())
    }

    /// `true` once the connection is closing or closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.conn.outbox.status(), Status::Closing | Status::Closed)
    }

    /// Ends the connection gracefully: frames already queued are still delivered, then a
    /// WebSocket gets a Close frame (1000), an event stream ends, and a long-polling client
    /// gets 204 on its next poll (this call waits, at most the disconnect timeout, until
    /// its queued frames were polled). The connection is removed from the table — a later
    /// re-attach gets 404 — and the hub layer receives [`TransportEvent::Closed`].
    pub async fn close(&self) {
        let Some(route) = self.conn.route.upgrade() else {
            return;
        };
        self.conn.outbox.set_status(Status::Closing);
        if self.conn.kind == TransportKind::LongPolling {
            let limit = route.options.disconnect_timeout;
            self.conn.outbox.drained(limit).await;
        }
        route.close(&self.conn.token);
    }

    /// Drops the transport without a goodbye: a WebSocket's socket is closed without a
    /// Close frame (the client sees 1006), an event stream is cut. On a stateful WebSocket
    /// this is a loss: the hub layer gets [`TransportEvent::Lost`] and the client may
    /// re-attach. Anything else ends with [`TransportEvent::Closed`]. Long polling has no
    /// socket to drop: the connection is closed at once, queued frames are discarded.
    pub fn abort(&self) {
        let Some(route) = self.conn.route.upgrade() else {
            return;
        };
        match self.conn.current_attachment() {
            Some(att) if self.conn.kind != TransportKind::LongPolling => {
                att.end(&route, &self.conn.token, false);
                let _ = att.abort.try_send(());
            }
            _ => {
                self.conn.outbox.set_status(Status::Closed);
                route.close(&self.conn.token);
            }
        }
    }
}
