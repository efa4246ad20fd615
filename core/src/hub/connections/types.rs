//! The configuration, answers, events and errors of [`Connections`](super::Connections).

use std::time::Duration;

use crate::hub::negotiate::TransportKind;

/// How one hub endpoint treats connections.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportConfig {
    /// Enabled transports, in the order negotiate advertises them. Requests on any other
    /// transport are answered 404.
    pub transports: Vec<TransportKind>,
    /// Grant `useStatefulReconnect=true` when a client asks (WebSockets only). Default `false`.
    pub stateful_reconnect: bool,
    /// How long a long poll is held when there is nothing to send (then 200 empty). 90 s.
    pub poll_timeout: Duration,
    /// How long a connection may go without a transport: negotiated but never connected,
    /// stateful WebSocket waiting for re-attach, long polling between polls, closed long
    /// polling waiting to tell its next poll. 15 s.
    pub disconnect_timeout: Duration,
}

impl Default for TransportConfig {
    fn default() -> Self {
        TransportConfig {
            transports: TransportKind::ALL.to_vec(),
            stateful_reconnect: false,
            poll_timeout: Duration::from_secs(90),
            disconnect_timeout: Duration::from_secs(15),
        }
    }
}

/// Identifies one long-poll request, as handed out by
/// [`Connections::handle_poll`](super::Connections::handle_poll).
pub type PollId = u64;

/// Why a request is refused; [`RequestError::status`] is the HTTP status, the `Display`
/// text the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// No `id` on a request that needs one (400).
    #[error("Connection ID required")]
    MissingId,
    /// No connection has this token (404); also every request on a finished connection.
    #[error("No Connection with that ID")]
    UnknownId,
    /// The transport is not enabled on this endpoint (404).
    #[error("{} transport is disabled", .0.name())]
    TransportDisabled(TransportKind),
    /// The connection already uses another transport (400).
    #[error("Cannot change transports mid-connection")]
    TransportSwitch,
    /// A WebSocket or event stream is already attached to the connection (409).
    #[error("The connection already has an active {} transport", .0.name())]
    AlreadyAttached(TransportKind),
    /// POST on a WebSocket connection (405).
    #[error("POST requests are not allowed for WebSocket connections.")]
    PostOnWebSocket,
    /// A POST arrived while another one of the same connection is still running (409).
    #[error("Another POST request is already in progress for this connection")]
    ConcurrentPost,
    /// POST before any transport was attached (400).
    #[error("The connection has no transport yet")]
    NotConnected,
    /// DELETE is only for long polling (400).
    #[error("Cannot terminate this connection using the DELETE endpoint.")]
    DeleteNotLongPolling,
}

impl RequestError {
    /// The HTTP status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            RequestError::UnknownId | RequestError::TransportDisabled(_) => 404,
            RequestError::AlreadyAttached(_) | RequestError::ConcurrentPost => 409,
            RequestError::PostOnWebSocket => 405,
            RequestError::MissingId
            | RequestError::TransportSwitch
            | RequestError::NotConnected
            | RequestError::DeleteNotLongPolling => 400,
        }
    }
}

/// A transport was attached to a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// The token (key of the table; the `id=` value).
    pub token: String,
    /// The public id.
    pub connection_id: String,
    /// Stateful reconnect is in force (negotiated, granted, and the transport is WebSockets).
    pub stateful: bool,
    /// `false`: the connection's first transport (hand it to the hub layer). `true`: a
    /// stateful WebSocket re-attached after a loss.
    pub reattached: bool,
}

/// How to answer a long poll, from [`Connections::handle_poll`](super::Connections::handle_poll).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PollAnswer {
    /// The connection's first poll: answer 200 empty now; the connection starts.
    Started(Attached),
    /// Answer 200 now with whatever is queued.
    Content,
    /// Answer 204: the connection was closed by the server.
    NoContent,
    /// Hold the request until a [`TableEvent::PollDone`] for this poll.
    Held(PollId),
}

/// How a held poll ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollReply {
    /// 200 with whatever is queued (nothing after the poll timeout).
    Content,
    /// 204: superseded by a newer poll, or the connection ended.
    NoContent,
}

/// Why a connection left the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// Negotiated, but no transport arrived within the disconnect timeout.
    NeverConnected,
    /// A stateful WebSocket was not re-attached within the disconnect timeout.
    ReattachTimeout,
    /// Long polling: no poll arrived within the disconnect timeout.
    PollIdle,
    /// The client sent DELETE (long polling).
    Deleted,
    /// The server side closed it ([`Connections::close`](super::Connections::close)).
    Closed,
    /// Its transport ended for good
    /// ([`Connections::handle_transport_ended`](super::Connections::handle_transport_ended)).
    TransportEnded,
}

/// What the driver must do, from [`Connections::poll_event`](super::Connections::poll_event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableEvent {
    /// Answer held poll `poll` of connection `token`.
    PollDone {
        token: String,
        poll: PollId,
        reply: PollReply,
    },
    /// The connection is gone: release its transport, tell the hub layer it closed.
    Removed { token: String, reason: Removal },
}

/// How a transport ended, from
/// [`Connections::handle_transport_ended`](super::Connections::handle_transport_ended).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Stateful WebSocket lost ungracefully: the connection waits for a re-attach.
    Inactive,
    /// The connection was removed (a [`TableEvent::Removed`] is queued).
    Removed,
    /// The token was unknown or the transport was not attached; nothing changed.
    Ignored,
}
