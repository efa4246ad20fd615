//! The connection table below the hub protocol (spec `signalr.md` §5, §8, §13.9), sans-IO.
//!
//! [`Connections`] decides, for one hub endpoint, what every negotiate, WebSocket, Server-Sent
//! Events, long-poll, POST and DELETE request is answered with, and when connections expire.
//! It owns no sockets and no bytes: the driver (the `interlink` crate's hub transport) moves
//! data and tells the table what happened to its transports. Time is always an argument.
//!
//! Driver call order, every time something happens:
//! 1. a `handle_*` call (or [`Connections::close`]) with `now`;
//! 2. act on its return value (answer the request);
//! 3. drain [`Connections::poll_event`] until `None` (held polls to answer, connections gone);
//! 4. sleep until [`Connections::poll_timeout`], then call [`Connections::handle_timeout`]
//!    (and drain events again).
//!
//! Request ids are the connection *token* (the `id=` query value); the public
//! `connection_id` is only reported. What the table does **not** do: authentication,
//! reading query strings other than the value handed in, buffering data, or the hub
//! handshake.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};

use super::negotiate::{
    AvailableTransport, ConnectInfo, NegotiateRequest, NegotiateResponse, TransportKind,
    generate_id,
};
use crate::time::Instant;

mod types;

pub use types::{
    Attached, Ended, PollAnswer, PollId, PollReply, Removal, RequestError, TableEvent,
    TransportConfig,
};

#[derive(Debug)]
enum Phase {
    Negotiated {
        expires: Instant,
    },
    /// `inactive_until`: `None` while a socket is attached.
    WebSocket {
        inactive_until: Option<Instant>,
    },
    ServerSentEvents,
    /// `held`: the pending poll and its deadline; `idle_until`: when no poll is pending.
    LongPolling {
        held: Option<(PollId, Instant)>,
        idle_until: Option<Instant>,
    },
}

#[derive(Debug)]
struct Entry {
    connection_id: String,
    stateful_granted: bool,
    phase: Phase,
    post_active: bool,
}

/// The connections of one hub endpoint and the status rules of its HTTP requests. See the
/// module docs for the call order.
#[derive(Debug)]
pub struct Connections {
    config: TransportConfig,
    rng: fastrand::Rng,
    entries: HashMap<String, Entry>,
    /// Long-polling connections closed by the server while no poll was pending: their next
    /// poll gets 204. Token → expiry.
    closed_polls: HashMap<String, Instant>,
    /// Deadlines (possibly stale: re-checked when due).
    timers: BinaryHeap<Reverse<(Instant, String)>>,
    events: VecDeque<TableEvent>,
    next_poll: PollId,
}

impl Connections {
    /// An empty table. Ids and tokens come from a generator seeded with `seed` (seed it from
    /// real entropy in production).
    pub fn new(config: TransportConfig, seed: u64) -> Self {
        Connections {
            config,
            rng: fastrand::Rng::with_seed(seed),
            entries: HashMap::new(),
            closed_polls: HashMap::new(),
            timers: BinaryHeap::new(),
            events: VecDeque::new(),
            next_poll: 1,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &TransportConfig {
        &self.config
    }

    /// Live connections (negotiated, attached or waiting for a re-attach).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// `true` when no connection is live.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The public id of the connection with this token, if it is live.
    pub fn connection_id(&self, token: &str) -> Option<&str> {
        self.entries.get(token).map(|e| e.connection_id.as_str())
    }

    /// The transport attached to (or last used by) the connection, if one was attached.
    pub fn transport(&self, token: &str) -> Option<TransportKind> {
        match self.entries.get(token)?.phase {
            Phase::Negotiated { .. } => None,
            Phase::WebSocket { .. } => Some(TransportKind::WebSockets),
            Phase::ServerSentEvents => Some(TransportKind::ServerSentEvents),
            Phase::LongPolling { .. } => Some(TransportKind::LongPolling),
        }
    }

    fn enabled(&self, kind: TransportKind) -> Result<(), RequestError> {
        if self.config.transports.contains(&kind) {
            Ok(())
        } else {
            Err(RequestError::TransportDisabled(kind))
        }
    }

    fn schedule(&mut self, at: Instant, token: &str) {
        self.timers.push(Reverse((at, token.to_owned())));
    }

    fn fresh_ids(&mut self) -> (String, String) {
        let id = generate_id(&mut self.rng);
        let mut token = generate_id(&mut self.rng);
        while token == id {
            token = generate_id(&mut self.rng);
        }
        (id, token)
    }

    /// Negotiate: parses the query and creates a connection, or answers the query's error.
    pub fn handle_negotiate(&mut self, now: Instant, query: Option<&str>) -> NegotiateResponse {
        match NegotiateRequest::parse(query) {
            Ok(request) => NegotiateResponse::Connect(self.negotiate(now, request)),
            Err(e) => NegotiateResponse::Error(e.to_string()),
        }
    }

    /// Creates a negotiated connection that expires unless a transport arrives within the
    /// disconnect timeout. Version 0 uses the id as the token.
    pub fn negotiate(&mut self, now: Instant, request: NegotiateRequest) -> ConnectInfo {
        let (connection_id, token) = self.fresh_ids();
        let token = if request.version == 0 {
            connection_id.clone()
        } else {
            token
        };
        let stateful = request.stateful_reconnect && self.config.stateful_reconnect;
        let expires = now + self.config.disconnect_timeout;
        self.entries.insert(
            token.clone(),
            Entry {
                connection_id: connection_id.clone(),
                stateful_granted: stateful,
                phase: Phase::Negotiated { expires },
                post_active: false,
            },
        );
        self.schedule(expires, &token);
        ConnectInfo {
            connection_id,
            connection_token: token,
            negotiate_version: request.version,
            available_transports: self
                .config
                .transports
                .iter()
                .map(|t| AvailableTransport::full(*t))
                .collect(),
            stateful_reconnect: stateful,
        }
    }

    /// A WebSocket upgrade with this `id`. Without an id a connection is created on the spot
    /// (`skipNegotiation`, or a redirect target reached without negotiating). A stateful
    /// connection waiting after a loss is re-attached.
    pub fn handle_websocket(
        &mut self,
        _now: Instant,
        id: Option<&str>,
    ) -> Result<Attached, RequestError> {
        self.enabled(TransportKind::WebSockets)?;
        let Some(token) = id else {
            let (connection_id, token) = self.fresh_ids();
            self.entries.insert(
                token.clone(),
                Entry {
                    connection_id: connection_id.clone(),
                    stateful_granted: false,
                    phase: Phase::WebSocket {
                        inactive_until: None,
                    },
                    post_active: false,
                },
            );
            return Ok(Attached {
                token,
                connection_id,
                stateful: false,
                reattached: false,
            });
        };
        let entry = self.entries.get_mut(token).ok_or(RequestError::UnknownId)?;
        let reattached = match entry.phase {
            Phase::Negotiated { .. } => false,
            Phase::WebSocket {
                inactive_until: None,
            } => return Err(RequestError::AlreadyAttached(TransportKind::WebSockets)),
            Phase::WebSocket {
                inactive_until: Some(_),
            } => true,
            Phase::ServerSentEvents | Phase::LongPolling { .. } => {
                return Err(RequestError::TransportSwitch);
            }
        };
        entry.phase = Phase::WebSocket {
            inactive_until: None,
        };
        Ok(Attached {
            token: token.to_owned(),
            connection_id: entry.connection_id.clone(),
            stateful: entry.stateful_granted,
            reattached,
        })
    }

    /// A Server-Sent Events request (`GET` with `Accept: text/event-stream`).
    pub fn handle_sse(
        &mut self,
        _now: Instant,
        id: Option<&str>,
    ) -> Result<Attached, RequestError> {
        self.enabled(TransportKind::ServerSentEvents)?;
        let token = id.ok_or(RequestError::MissingId)?;
        let entry = self.entries.get_mut(token).ok_or(RequestError::UnknownId)?;
        match entry.phase {
            Phase::Negotiated { .. } => {}
            Phase::ServerSentEvents => {
                return Err(RequestError::AlreadyAttached(
                    TransportKind::ServerSentEvents,
                ));
            }
            Phase::WebSocket { .. } | Phase::LongPolling { .. } => {
                return Err(RequestError::TransportSwitch);
            }
        }
        entry.phase = Phase::ServerSentEvents;
        Ok(Attached {
            token: token.to_owned(),
            connection_id: entry.connection_id.clone(),
            stateful: false,
            reattached: false,
        })
    }

    /// A long poll (`GET` without upgrade or event-stream). `has_data`: frames are queued
    /// for this connection right now. A poll already pending is answered 204.
    pub fn handle_poll(
        &mut self,
        now: Instant,
        id: Option<&str>,
        has_data: bool,
    ) -> Result<PollAnswer, RequestError> {
        self.enabled(TransportKind::LongPolling)?;
        let token = id.ok_or(RequestError::MissingId)?;
        if self.closed_polls.remove(token).is_some() {
            return Ok(PollAnswer::NoContent);
        }
        let poll = self.next_poll;
        let (poll_timeout, idle) = (self.config.poll_timeout, self.config.disconnect_timeout);
        let entry = self.entries.get_mut(token).ok_or(RequestError::UnknownId)?;
        let answer = match &mut entry.phase {
            phase @ Phase::Negotiated { .. } => {
                *phase = Phase::LongPolling {
                    held: None,
                    idle_until: Some(now + idle),
                };
                PollAnswer::Started(Attached {
                    token: token.to_owned(),
                    connection_id: entry.connection_id.clone(),
                    stateful: false,
                    reattached: false,
                })
            }
            Phase::LongPolling { held, idle_until } => {
                if let Some((old, _)) = held.take() {
                    self.events.push_back(TableEvent::PollDone {
                        token: token.to_owned(),
                        poll: old,
                        reply: PollReply::NoContent,
                    });
                }
                if has_data {
                    *idle_until = Some(now + idle);
                    PollAnswer::Content
                } else {
                    self.next_poll += 1;
                    *held = Some((poll, now + poll_timeout));
                    *idle_until = None;
                    PollAnswer::Held(poll)
                }
            }
            Phase::WebSocket { .. } | Phase::ServerSentEvents => {
                return Err(RequestError::TransportSwitch);
            }
        };
        let at = match answer {
            PollAnswer::Held(_) => now + poll_timeout,
            _ => now + idle,
        };
        self.schedule(at, token);
        Ok(answer)
    }

    /// Data was queued for a long-polling connection: a held poll is answered (200).
    pub fn handle_data_queued(&mut self, now: Instant, token: &str) {
        let idle = self.config.disconnect_timeout;
        if let Some(Entry {
            phase: Phase::LongPolling { held, idle_until },
            ..
        }) = self.entries.get_mut(token)
            && let Some((poll, _)) = held.take()
        {
            *idle_until = Some(now + idle);
            self.events.push_back(TableEvent::PollDone {
                token: token.to_owned(),
                poll,
                reply: PollReply::Content,
            });
            self.schedule(now + idle, token);
        }
    }

    /// A held poll's request went away before it was answered (the client disconnected).
    pub fn handle_poll_abandoned(&mut self, now: Instant, token: &str, poll: PollId) {
        let idle = self.config.disconnect_timeout;
        if let Some(Entry {
            phase: Phase::LongPolling { held, idle_until },
            ..
        }) = self.entries.get_mut(token)
            && held.is_some_and(|(p, _)| p == poll)
        {
            *held = None;
            *idle_until = Some(now + idle);
            self.schedule(now + idle, token);
        }
    }

    /// A POST (send half of SSE and long polling) starts. On `Ok`, call
    /// [`handle_post_done`](Self::handle_post_done) when its body has been handed over.
    pub fn handle_post(&mut self, _now: Instant, id: Option<&str>) -> Result<(), RequestError> {
        let token = id.ok_or(RequestError::MissingId)?;
        let entry = self.entries.get_mut(token).ok_or(RequestError::UnknownId)?;
        match entry.phase {
            Phase::WebSocket { .. } => return Err(RequestError::PostOnWebSocket),
            Phase::Negotiated { .. } => return Err(RequestError::NotConnected),
            Phase::ServerSentEvents | Phase::LongPolling { .. } => {}
        }
        if entry.post_active {
            return Err(RequestError::ConcurrentPost);
        }
        entry.post_active = true;
        Ok(())
    }

    /// The POST started by [`handle_post`](Self::handle_post) ended (or was abandoned).
    pub fn handle_post_done(&mut self, token: &str) {
        if let Some(entry) = self.entries.get_mut(token) {
            entry.post_active = false;
        }
    }

    /// `DELETE {base}?id=`: ends a long-polling connection (answer 202); its pending poll
    /// gets 204.
    pub fn handle_delete(&mut self, _now: Instant, id: Option<&str>) -> Result<(), RequestError> {
        let token = id.ok_or(RequestError::MissingId)?;
        if self.closed_polls.remove(token).is_some() {
            return Ok(());
        }
        let entry = self.entries.get(token).ok_or(RequestError::UnknownId)?;
        if !matches!(entry.phase, Phase::LongPolling { .. }) {
            return Err(RequestError::DeleteNotLongPolling);
        }
        self.remove(token, Removal::Deleted);
        Ok(())
    }

    /// The attached WebSocket or event stream ended. `graceful`: a Close frame was exchanged
    /// (or the server ended it). An ungraceful loss of a stateful WebSocket keeps the
    /// connection for a re-attach; anything else removes it.
    pub fn handle_transport_ended(&mut self, now: Instant, token: &str, graceful: bool) -> Ended {
        let deadline = now + self.config.disconnect_timeout;
        let Some(entry) = self.entries.get_mut(token) else {
            return Ended::Ignored;
        };
        match &mut entry.phase {
            Phase::WebSocket { inactive_until } if inactive_until.is_none() => {
                if entry.stateful_granted && !graceful {
                    *inactive_until = Some(deadline);
                    self.schedule(deadline, token);
                    return Ended::Inactive;
                }
            }
            Phase::ServerSentEvents => {}
            _ => return Ended::Ignored,
        }
        self.remove(token, Removal::TransportEnded);
        Ended::Removed
    }

    /// The server ends the connection: it is removed at once (a later re-attach or request
    /// gets 404). A pending long poll gets 204; with none pending, the next poll gets 204.
    /// Returns `false` when the token was unknown.
    pub fn close(&mut self, now: Instant, token: &str) -> bool {
        let Some(entry) = self.entries.get(token) else {
            return false;
        };
        if let Phase::LongPolling { held: None, .. } = entry.phase {
            let expires = now + self.config.disconnect_timeout;
            self.closed_polls.insert(token.to_owned(), expires);
            self.schedule(expires, token);
        }
        self.remove(token, Removal::Closed);
        true
    }

    fn remove(&mut self, token: &str, reason: Removal) {
        let Some(entry) = self.entries.remove(token) else {
            return;
        };
        if let Phase::LongPolling {
            held: Some((poll, _)),
            ..
        } = entry.phase
        {
            self.events.push_back(TableEvent::PollDone {
                token: token.to_owned(),
                poll,
                reply: PollReply::NoContent,
            });
        }
        self.events.push_back(TableEvent::Removed {
            token: token.to_owned(),
            reason,
        });
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next (possibly early:
    /// a spurious call is harmless).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _))| *at)
    }

    /// Applies every deadline due at `now`: expired negotiations, re-attach windows and idle
    /// long polling are removed; held polls past the poll timeout are answered 200.
    pub fn handle_timeout(&mut self, now: Instant) {
        let idle = self.config.disconnect_timeout;
        while let Some(Reverse((at, _))) = self.timers.peek() {
            if *at > now {
                break;
            }
            let Some(Reverse((_, token))) = self.timers.pop() else {
                break;
            };
            if self.closed_polls.get(&token).is_some_and(|t| *t <= now) {
                self.closed_polls.remove(&token);
            }
            let Some(entry) = self.entries.get_mut(&token) else {
                continue;
            };
            let removal = match &mut entry.phase {
                Phase::Negotiated { expires } if *expires <= now => Some(Removal::NeverConnected),
                Phase::WebSocket {
                    inactive_until: Some(t),
                } if *t <= now => Some(Removal::ReattachTimeout),
                Phase::LongPolling { held, idle_until } => {
                    if let Some((poll, _)) = held.take_if(|(_, deadline)| *deadline <= now) {
                        *idle_until = Some(now + idle);
                        self.events.push_back(TableEvent::PollDone {
                            token: token.clone(),
                            poll,
                            reply: PollReply::Content,
                        });
                        self.timers.push(Reverse((now + idle, token.clone())));
                        None
                    } else if idle_until.is_some_and(|t| t <= now) {
                        Some(Removal::PollIdle)
                    } else {
                        None
                    }
                }
                _ => None,
            };
            if let Some(reason) = removal {
                self.remove(&token, reason);
            }
        }
    }

    /// The next thing the driver must do, or `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<TableEvent> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
