//! The relay itself, sans-IO: listeners' control channels, senders' WebSocket rendezvous
//! and HTTP requests, with every deadline driven by the caller's clock.
//!
//! # Driving a [`Gateway`]
//! The driver accepts connections on one port and numbers them ([`ConnId`]). Then, always in
//! this order:
//! 1. feed what happened: [`Gateway::handle_upgrade`] for a WebSocket upgrade request,
//!    [`Gateway::handle_http_request`] for a sender's plain request, and for connections the
//!    gateway drives ([`AfterUpgrade::Driven`]) their messages: [`Gateway::handle_text`],
//!    [`Gateway::handle_binary`], [`Gateway::handle_keepalive`], [`Gateway::handle_closed`];
//!    [`Gateway::handle_disconnect`] when any connection goes away;
//! 2. drain [`Gateway::poll_output`] until `None` and carry each [`Output`] out in order;
//! 3. sleep until new input or [`Gateway::poll_timeout`], then call
//!    [`Gateway::handle_timeout`] and drain again.
//!
//! Paired WebSockets (a sender and its listener's rendezvous) are forwarded by the driver
//! without the gateway: frames, close codes and half-close pass through unchanged.
//!
//! # What it does not do
//! No sockets, no clock, no WebSocket framing (see [`crate::ws`]), no HTTP parsing: the
//! driver hands over parsed heads and whole messages or fragments.

mod config;
pub mod http;
mod timers;
mod types;

pub use config::{GatewayConfig, HybridConnectionConfig, Limits};
pub use types::*;

use crate::relay::address::{self, Action};
use crate::relay::message::{
    AcceptCommand, ControlMessage, Headers, RequestCommand, ResponseCommand, default_reason,
};
use crate::relay::sas::{Audience, AuthError, Rights, TokenValidator};
use crate::time::{Instant, UnixTime};
use bytes::{Bytes, BytesMut};
use std::collections::{HashMap, VecDeque};
use timers::{TimerKey, Timers};

/// The relay gateway state machine. See the [module docs](self) for the driving order.
pub struct Gateway {
    config: GatewayConfig,
    validator: Box<dyn TokenValidator>,
    rng: fastrand::Rng,
    conns: HashMap<ConnId, ConnState>,
    connections: HashMap<String, HcState>,
    accepts: HashMap<String, PendingAccept>,
    requests: HashMap<String, PendingRequest>,
    timers: Timers,
    out: VecDeque<Output>,
}

/// What the gateway knows about a connection it tracks.
enum ConnState {
    /// A sender's upgrade held until a listener opens the rendezvous.
    HeldSender { accept: String },
    /// A listener's control channel.
    Listener(Box<ListenerState>),
    /// A request rendezvous opened by a listener.
    Rendezvous {
        request: String,
        phase: RendezvousPhase,
    },
    /// A sender's HTTP request in flight.
    HttpSender { request: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RendezvousPhase {
    /// Waiting for the listener's `response` message.
    AwaitResponse,
    /// Response head forwarded; body fragments stream to the sender.
    Body,
    /// Response complete; later traffic is ignored.
    Done,
}

struct ListenerState {
    hc: String,
    entity_path: String,
    tracking_id: String,
    base_url: String,
    token_deadline: Instant,
    expect: Expect,
    next_ping: Instant,
    ping_sent: Option<Instant>,
}

/// Control-channel framing: after `body:true` exactly one binary message follows.
enum Expect {
    Command,
    Body {
        /// The request being answered; `None` when the request is gone and the body is dropped.
        request: Option<String>,
        head: Option<(u16, String, Headers)>,
        buf: BytesMut,
    },
}

#[derive(Default)]
struct HcState {
    listeners: Vec<ConnId>,
    pending_accepts: usize,
}

struct PendingAccept {
    sender: ConnId,
    hc: String,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestPhase {
    /// Rendezvous-only request sent; waiting for the listener to open the address.
    AwaitRendezvous,
    /// Request delivered; waiting for the response head.
    AwaitResponse,
    /// Head sent to the sender; body streaming.
    Streaming,
}

enum PendingBody {
    None,
    Bytes(Bytes),
    Stream,
}

struct PendingRequest {
    sender: ConnId,
    listener: ConnId,
    phase: RequestPhase,
    deadline: Instant,
    /// The full request, kept for the relay-initiated rendezvous.
    command: RequestCommand,
    body: PendingBody,
    rendezvous: Option<ConnId>,
    via_host: String,
}

/// Why a listener's control channel is being closed.
struct CloseReason(u16, &'static str);

impl Gateway {
    /// A gateway with the given settings, checking tokens with `validator`.
    pub fn new(config: GatewayConfig, validator: Box<dyn TokenValidator>) -> Self {
        let mut connections = HashMap::new();
        if let Some(list) = &config.hybrid_connections {
            for hc in list {
                connections.insert(hc.name.to_ascii_lowercase(), HcState::default());
            }
        }
        Gateway {
            rng: fastrand::Rng::with_seed(config.seed),
            config,
            validator,
            conns: HashMap::new(),
            connections,
            accepts: HashMap::new(),
            requests: HashMap::new(),
            timers: Timers::default(),
            out: VecDeque::new(),
        }
    }

    /// The settings in force.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// Counters of what is connected and pending.
    pub fn stats(&self) -> GatewayStats {
        GatewayStats {
            listeners: self.connections.values().map(|h| h.listeners.len()).sum(),
            pending_accepts: self.accepts.len(),
            pending_requests: self.requests.len(),
            deadlines: self.timers.len(),
        }
    }

    /// Listeners connected to hybrid connection `name`.
    pub fn listener_count(&self, name: &str) -> usize {
        self.connections
            .get(&name.to_ascii_lowercase())
            .map_or(0, |h| h.listeners.len())
    }

    /// Next thing for the driver to do, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Gateway::handle_timeout`] should be called next (may be early, never late).
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    fn unix(&self, now: Instant) -> UnixTime {
        UnixTime((self.config.unix_origin_ms + now.0) / 1000)
    }

    fn instant_of_unix(&self, secs: u64) -> Instant {
        Instant((secs.saturating_mul(1000)).saturating_sub(self.config.unix_origin_ms))
    }

    fn schedule(&mut self, at: Instant, key: TimerKey) {
        self.timers.set(at, key);
    }

    fn new_id(&mut self) -> String {
        let a = self.rng.u64(..);
        let b = self.rng.u64(..);
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    /// Finds the hybrid connection an entity path belongs to: the longest configured name
    /// that equals the path or prefixes it at a `/`; with no configured list, the first
    /// segment (its state is created when its first listener connects).
    fn resolve(&self, entity_path: &str) -> Option<(String, String)> {
        let lower = entity_path.to_ascii_lowercase();
        match &self.config.hybrid_connections {
            Some(list) => list
                .iter()
                .map(|h| h.name.to_ascii_lowercase())
                .filter(|n| lower == *n || lower.starts_with(&format!("{n}/")))
                .max_by_key(|n| n.len())
                .map(|n| {
                    let name = entity_path[..n.len()].to_string();
                    (n, name)
                }),
            None => {
                let first = entity_path.split('/').next().filter(|s| !s.is_empty())?;
                Some((first.to_ascii_lowercase(), first.to_string()))
            }
        }
    }

    fn requires_auth(&self, hc: &str) -> bool {
        match &self.config.hybrid_connections {
            Some(list) => list
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(hc))
                .is_none_or(|h| h.requires_client_authorization),
            None => true,
        }
    }

    fn authorize(
        &self,
        now: Instant,
        token: Option<&str>,
        host: &str,
        entity_path: &str,
        rights: Rights,
    ) -> Result<u64, AuthError> {
        let token = token.ok_or(AuthError::Missing)?;
        let host = strip_port(host);
        let audience = Audience {
            host,
            path: entity_path,
        };
        self.validator
            .validate(token, &audience, rights, self.unix(now))
            .map(|v| v.expiry)
    }

    fn refuse(&mut self, conn: ConnId, status: u16, reason: impl Into<String>) {
        self.out.push_back(Output::Refuse {
            conn,
            status,
            reason: reason.into(),
        });
    }

    fn send(&mut self, conn: ConnId, msg: WsOut) {
        self.out.push_back(Output::Send { conn, msg });
    }

    // ----- upgrades -------------------------------------------------------------------

    /// A WebSocket upgrade request arrived on connection `conn`. The gateway answers with
    /// [`Output::Upgrade`] or [`Output::Refuse`], now or later (a sender's upgrade is held
    /// until a listener opens the rendezvous).
    pub fn handle_upgrade(&mut self, now: Instant, conn: ConnId, req: UpgradeRequest) {
        self.forget_reused(now, conn);
        if !req.path.starts_with("/$hc/") {
            return self.refuse(conn, 404, "Not Found: WebSocket requests go to /$hc/{path}");
        }
        let parsed = match address::parse_hc_request(&req.path, req.query.as_deref()) {
            Ok(p) => p,
            Err(e) => return self.refuse(conn, e.http_status(), e.to_string()),
        };
        let header_token = header(&req.headers, "ServiceBusAuthorization");
        let token = parsed.token.clone().or(header_token);
        match parsed.action {
            Action::Listen => self.upgrade_listen(now, conn, &req, &parsed, token),
            Action::Connect => self.upgrade_connect(now, conn, &req, &parsed, token),
            Action::Accept => self.upgrade_accept(conn, &req, &parsed),
            Action::Request => self.upgrade_request(now, conn, &parsed),
        }
    }

    fn upgrade_listen(
        &mut self,
        now: Instant,
        conn: ConnId,
        req: &UpgradeRequest,
        parsed: &address::HcRequest,
        token: Option<String>,
    ) {
        let Some((hc, _)) = self.resolve(&parsed.entity_path) else {
            return self.refuse(
                conn,
                404,
                format!(
                    "Not Found: no hybrid connection at '{}'",
                    parsed.entity_path
                ),
            );
        };
        let expiry = match self.authorize(
            now,
            token.as_deref(),
            &req.host,
            &parsed.entity_path,
            Rights::LISTEN,
        ) {
            Ok(e) => e,
            Err(e) => return self.refuse(conn, e.http_status(), e.description()),
        };
        let max = self.config.limits.max_listeners_per_connection;
        let state = self.connections.entry(hc.clone()).or_default();
        if state.listeners.len() >= max {
            return self.refuse(
                conn,
                403,
                format!(
                    "Forbidden: the hybrid connection already has the maximum of {max} listeners"
                ),
            );
        }
        state.listeners.push(conn);
        let tracking_id = match parsed.id.clone() {
            Some(id) => id,
            None => self.new_id(),
        };
        let base_url =
            self.config.public_base_url.clone().unwrap_or_else(|| {
                format!("{}://{}", if req.secure { "wss" } else { "ws" }, req.host)
            });
        let grace = self.config.limits.token_expiry_grace_secs;
        let token_deadline = self.instant_of_unix(expiry.saturating_add(grace));
        let next_ping = now + self.config.limits.keepalive_interval;
        self.conns.insert(
            conn,
            ConnState::Listener(Box::new(ListenerState {
                hc,
                entity_path: parsed.entity_path.clone(),
                tracking_id,
                base_url,
                token_deadline,
                expect: Expect::Command,
                next_ping,
                ping_sent: None,
            })),
        );
        self.schedule(token_deadline.min(next_ping), TimerKey::Listener(conn));
        self.out.push_back(Output::Upgrade {
            conn,
            protocol: None,
            then: AfterUpgrade::Driven,
        });
    }

    fn upgrade_connect(
        &mut self,
        now: Instant,
        conn: ConnId,
        req: &UpgradeRequest,
        parsed: &address::HcRequest,
        token: Option<String>,
    ) {
        let Some((hc, _)) = self.resolve(&parsed.entity_path) else {
            return self.refuse(
                conn,
                404,
                format!(
                    "Not Found: no hybrid connection at '{}'",
                    parsed.entity_path
                ),
            );
        };
        if self.requires_auth(&hc)
            && let Err(e) = self.authorize(
                now,
                token.as_deref(),
                &req.host,
                &parsed.entity_path,
                Rights::SEND,
            )
        {
            return self.refuse(conn, e.http_status(), e.description());
        }
        let Some(state) = self
            .connections
            .get(&hc)
            .filter(|s| !s.listeners.is_empty())
        else {
            return self.refuse(
                conn,
                404,
                "Not Found: no listener is connected to this hybrid connection",
            );
        };
        if state.pending_accepts >= self.config.limits.max_pending_rendezvous_per_connection {
            return self.refuse(
                conn,
                503,
                "Service Unavailable: too many connections waiting for a listener",
            );
        }
        let listener = state.listeners[self.rng.usize(..state.listeners.len())];
        let secret = self.new_id();
        let Some(ConnState::Listener(l)) = self.conns.get(&listener) else {
            unreachable!("registered listeners are tracked")
        };
        let mut address =
            address::rendezvous_url(&l.base_url, &parsed.entity_path, Action::Accept, &secret);
        if let (Some(q), Some(at)) = (&parsed.app_query, address.find('?')) {
            // The accept address carries the sender's app query, as Azure's does.
            address.insert_str(at + 1, &format!("{q}&"));
        }
        let mut connect_headers = Headers::new();
        for (n, v) in &req.headers {
            if !n.eq_ignore_ascii_case("ServiceBusAuthorization") {
                connect_headers.append_joined(n, v);
            }
        }
        let id = parsed.id.clone().unwrap_or_else(|| secret.clone());
        let accept = ControlMessage::Accept(AcceptCommand {
            address,
            id,
            connect_headers,
            remote_endpoint: req.remote.clone(),
        });
        self.send(listener, WsOut::Text(accept.to_json()));
        let deadline = now + self.config.limits.accept_timeout;
        self.connections
            .get_mut(&hc)
            .expect("resolved")
            .pending_accepts += 1;
        self.accepts.insert(
            secret.clone(),
            PendingAccept {
                sender: conn,
                hc,
                deadline,
            },
        );
        self.conns.insert(
            conn,
            ConnState::HeldSender {
                accept: secret.clone(),
            },
        );
        self.schedule(deadline, TimerKey::Accept(secret));
    }

    /// Forgets a request and its deadline.
    fn remove_request(&mut self, id: &str) -> Option<PendingRequest> {
        self.timers.cancel(&TimerKey::Request(id.to_string()));
        self.requests.remove(id)
    }

    /// Forgets a pending accept and its deadline.
    fn remove_accept(&mut self, secret: &str) -> Option<PendingAccept> {
        self.timers.cancel(&TimerKey::Accept(secret.to_string()));
        self.accepts.remove(secret)
    }

    fn take_accept(&mut self, secret: &str) -> Option<PendingAccept> {
        let pending = self.remove_accept(secret)?;
        if let Some(h) = self.connections.get_mut(&pending.hc) {
            h.pending_accepts = h.pending_accepts.saturating_sub(1);
        }
        self.conns.remove(&pending.sender);
        Some(pending)
    }

    fn upgrade_accept(&mut self, conn: ConnId, req: &UpgradeRequest, parsed: &address::HcRequest) {
        let pending = parsed.id.as_deref().and_then(|id| self.take_accept(id));
        let Some(pending) = pending else {
            return self.refuse(
                conn,
                403,
                "Forbidden: the rendezvous address is invalid, used or expired",
            );
        };
        if let Some(status) = parsed.status_code {
            let text = parsed
                .status_description
                .clone()
                .unwrap_or_else(|| default_reason(status).to_string());
            self.refuse(conn, 410, "Gone");
            self.refuse(pending.sender, status, text);
            return;
        }
        let protocol = header(&req.headers, "Sec-WebSocket-Protocol")
            .map(|p| p.split(',').next().unwrap_or("").trim().to_string())
            .filter(|p| !p.is_empty());
        self.out.push_back(Output::Upgrade {
            conn,
            protocol: protocol.clone(),
            then: AfterUpgrade::PairWith(pending.sender),
        });
        self.out.push_back(Output::Upgrade {
            conn: pending.sender,
            protocol,
            then: AfterUpgrade::PairWith(conn),
        });
    }

    fn upgrade_request(&mut self, now: Instant, conn: ConnId, parsed: &address::HcRequest) {
        let id = parsed.id.clone().unwrap_or_default();
        let response_deadline = now + self.config.limits.response_timeout;
        let Some(req) = self
            .requests
            .get_mut(&id)
            .filter(|r| r.rendezvous.is_none())
        else {
            return self.refuse(
                conn,
                403,
                "Forbidden: the rendezvous address is invalid, used or expired",
            );
        };
        req.rendezvous = Some(conn);
        let mut to_send = Vec::new();
        match req.phase {
            RequestPhase::AwaitRendezvous => {
                // Relay-initiated: deliver the full request on the new socket.
                to_send.push(Output::Send {
                    conn,
                    msg: WsOut::Text(ControlMessage::Request(req.command.clone()).to_json()),
                });
                match std::mem::replace(&mut req.body, PendingBody::None) {
                    PendingBody::None => {}
                    PendingBody::Bytes(data) => {
                        to_send.push(Output::SendRequestBody { to: conn, data })
                    }
                    PendingBody::Stream => to_send.push(Output::PipeRequestBody {
                        from: req.sender,
                        to: conn,
                    }),
                }
                req.phase = RequestPhase::AwaitResponse;
                req.deadline = response_deadline;
                self.schedule(response_deadline, TimerKey::Request(id.clone()));
            }
            RequestPhase::AwaitResponse => {} // listener-initiated: the response comes on it
            RequestPhase::Streaming => {
                return self.refuse(conn, 403, "Forbidden: the request was already answered");
            }
        }
        self.out.push_back(Output::Upgrade {
            conn,
            protocol: None,
            then: AfterUpgrade::Driven,
        });
        self.out.extend(to_send);
        self.conns.insert(
            conn,
            ConnState::Rendezvous {
                request: id,
                phase: RendezvousPhase::AwaitResponse,
            },
        );
    }

    // ----- HTTP senders ---------------------------------------------------------------

    /// A sender's plain HTTP request arrived on connection `conn`. The gateway answers with
    /// [`Output::HttpResponse`] (now for errors, later with the listener's response).
    pub fn handle_http_request(&mut self, now: Instant, conn: ConnId, req: HttpRequest) {
        self.forget_reused(now, conn);
        let http_error = |status: u16, text: String| Output::HttpResponse {
            conn,
            status,
            reason: default_reason(status).to_string(),
            headers: Headers(vec![(
                "Content-Type".into(),
                "text/plain; charset=utf-8".into(),
            )]),
            body: ResponseBody::Full(Bytes::from(text)),
        };
        if req.path == "/$hc" || req.path.starts_with("/$hc/") {
            self.out.push_back(http_error(
                400,
                "This endpoint is only for web-socket requests".into(),
            ));
            return;
        }
        let entity = percent_encoding::percent_decode_str(req.path.trim_start_matches('/'))
            .decode_utf8_lossy()
            .into_owned();
        let Some((hc, hc_name)) = self.resolve(&entity) else {
            self.out.push_back(http_error(
                404,
                format!("No hybrid connection at '{entity}'"),
            ));
            return;
        };
        let header_bytes: usize = req.headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        if header_bytes > self.config.limits.request_headers_max_bytes {
            self.out.push_back(http_error(
                431,
                "Request headers exceed the relay's limit".into(),
            ));
            return;
        }
        if let Some(max) = self.config.limits.max_request_body_bytes {
            let declared =
                header(&req.headers, "Content-Length").and_then(|v| v.trim().parse::<u64>().ok());
            let complete = match &req.body {
                RequestBody::Complete(b) => Some(b.len() as u64),
                RequestBody::Streaming => None,
            };
            if declared.max(complete).is_some_and(|n| n > max) {
                self.out.push_back(http_error(
                    413,
                    "Payload Too Large: the request body exceeds the relay's limit".into(),
                ));
                return;
            }
        }
        let requires_auth = self.requires_auth(&hc);
        let (mut headers, token) = http::filter_request_headers(
            &req.headers,
            http::query_token(req.query.as_deref()),
            requires_auth,
        );
        if requires_auth {
            let token = token.map(|t| t.token);
            if let Err(e) = self.authorize(now, token.as_deref(), &req.host, &entity, Rights::SEND)
            {
                self.out
                    .push_back(http_error(e.http_status(), e.description().to_string()));
                return;
            }
        }
        // Route: Allowed/Disallowed listener headers select among the listeners.
        let allowed = header(&req.headers, "Microsoft-Relay-AllowedListeners");
        let disallowed = header(&req.headers, "Microsoft-Relay-DisallowedListeners");
        headers.remove("Microsoft-Relay-AllowedListeners");
        headers.remove("Microsoft-Relay-DisallowedListeners");
        let all = self
            .connections
            .get(&hc)
            .map(|h| h.listeners.clone())
            .unwrap_or_default();
        if all.is_empty() {
            self.out.push_back(http_error(
                502,
                "No listener is connected to this hybrid connection".into(),
            ));
            return;
        }
        let in_list = |list: &Option<String>, id: &str| {
            list.as_deref()
                .is_some_and(|l| l.split(',').any(|x| x.trim().eq_ignore_ascii_case(id)))
        };
        let candidates: Vec<ConnId> = all
            .into_iter()
            .filter(|c| match self.conns.get(c) {
                Some(ConnState::Listener(l)) => {
                    (allowed.is_none() || in_list(&allowed, &l.tracking_id))
                        && !in_list(&disallowed, &l.tracking_id)
                }
                _ => false,
            })
            .collect();
        if candidates.is_empty() {
            self.out.push_back(http_error(
                404,
                "None of the connected listeners meet the AllowedListeners/DisallowedListeners criteria".into(),
            ));
            return;
        }
        let listener = candidates[self.rng.usize(..candidates.len())];
        let id = self.new_id();
        let (base_url, via_host) = match self.conns.get(&listener) {
            Some(ConnState::Listener(l)) => (l.base_url.clone(), strip_port(&req.host).to_string()),
            _ => unreachable!("candidates are listeners"),
        };
        let address = address::rendezvous_url(&base_url, &hc_name, Action::Request, &id);
        let mut target = req.path.clone();
        if let Some(q) = req.query.as_deref().and_then(address::filter_query) {
            target.push('?');
            target.push_str(&q);
        }
        let (has_body, body) = match req.body {
            RequestBody::Complete(b) if b.is_empty() => (false, PendingBody::None),
            RequestBody::Complete(b) => (true, PendingBody::Bytes(b)),
            RequestBody::Streaming => (true, PendingBody::Stream),
        };
        let command = RequestCommand {
            address: address.clone(),
            id: id.clone(),
            request_target: Some(target),
            method: Some(req.method.clone()),
            remote_endpoint: req.remote.clone(),
            request_headers: headers,
            body: Some(has_body),
        };
        let full_json = ControlMessage::Request(command.clone()).to_json();
        let limits = &self.config.limits;
        let inline = match &body {
            PendingBody::None => true,
            PendingBody::Bytes(b) => b.len() <= limits.control_body_max_bytes,
            PendingBody::Stream => false,
        } && full_json.len() <= limits.control_message_max_bytes;
        let (phase, deadline) = if inline {
            self.send(listener, WsOut::Text(full_json));
            if let PendingBody::Bytes(b) = &body {
                self.send(listener, WsOut::Binary(b.clone()));
            }
            (
                RequestPhase::AwaitResponse,
                now + self.config.limits.response_timeout,
            )
        } else {
            let only = RequestCommand {
                address,
                id: id.clone(),
                request_target: None,
                method: None,
                remote_endpoint: None,
                request_headers: Headers::new(),
                body: None,
            };
            self.send(
                listener,
                WsOut::Text(ControlMessage::Request(only).to_json()),
            );
            (
                RequestPhase::AwaitRendezvous,
                now + self.config.limits.accept_timeout,
            )
        };
        self.requests.insert(
            id.clone(),
            PendingRequest {
                sender: conn,
                listener,
                phase,
                deadline,
                command,
                body: if inline { PendingBody::None } else { body },
                rendezvous: None,
                via_host,
            },
        );
        self.conns.insert(
            conn,
            ConnState::HttpSender {
                request: id.clone(),
            },
        );
        self.schedule(deadline, TimerKey::Request(id));
    }

    // ----- messages on driven WebSockets ----------------------------------------------

    /// A text message arrived on a driven WebSocket (control channel or request rendezvous).
    pub fn handle_text(&mut self, now: Instant, conn: ConnId, text: &str) {
        match self.conns.get_mut(&conn) {
            Some(ConnState::Listener(l)) => {
                l.ping_sent = None;
                l.next_ping = now + self.config.limits.keepalive_interval;
                if matches!(l.expect, Expect::Body { .. }) {
                    return self.close_listener(
                        conn,
                        CloseReason(1002, "expected the announced body message"),
                    );
                }
                if text.len() > self.config.limits.control_message_max_bytes {
                    return self
                        .close_listener(conn, CloseReason(1009, "control message too large"));
                }
                match ControlMessage::parse(text) {
                    Ok(ControlMessage::Response(r)) => self.control_response(conn, r),
                    Ok(ControlMessage::RenewToken(t)) => self.renew_token(now, conn, &t.token),
                    // Commands flowing the wrong way and unknown ones are ignored, like Azure.
                    Ok(_) => {}
                    Err(_) => {
                        self.close_listener(conn, CloseReason(1002, "malformed control message"))
                    }
                }
            }
            Some(ConnState::Rendezvous { request, phase }) => {
                let request = request.clone();
                if *phase != RendezvousPhase::AwaitResponse {
                    if *phase == RendezvousPhase::Done {
                        return;
                    }
                    return self.fail_rendezvous(
                        conn,
                        &request,
                        1002,
                        "unexpected text during a response body",
                    );
                }
                match ControlMessage::parse(text) {
                    Ok(ControlMessage::Response(r)) if r.request_id == request => {
                        let streaming = r.body;
                        if self.start_response(&request, r, ResponseBody::Streaming, streaming) {
                            let next = if streaming {
                                RendezvousPhase::Body
                            } else {
                                RendezvousPhase::Done
                            };
                            self.conns.insert(
                                conn,
                                ConnState::Rendezvous {
                                    request: request.clone(),
                                    phase: next,
                                },
                            );
                            if streaming {
                                self.arm_idle(now, &request);
                            }
                        }
                    }
                    _ => {
                        self.fail_rendezvous(conn, &request, 1002, "expected the response message")
                    }
                }
            }
            _ => {}
        }
    }

    /// A binary message or one fragment of it arrived on a driven WebSocket. `fin` marks the
    /// message's last fragment; whole messages are `first = fin = true`.
    pub fn handle_binary(&mut self, now: Instant, conn: ConnId, data: Bytes, fin: bool) {
        let limit = self.config.limits.control_body_max_bytes;
        match self.conns.get_mut(&conn) {
            Some(ConnState::Listener(l)) => {
                l.ping_sent = None;
                l.next_ping = now + self.config.limits.keepalive_interval;
                let Expect::Body { buf, .. } = &mut l.expect else {
                    // hyco-https sends a stray empty binary message after `body:false`.
                    if data.is_empty() {
                        return;
                    }
                    return self
                        .close_listener(conn, CloseReason(1002, "unexpected binary message"));
                };
                if buf.len() + data.len() > limit {
                    return self.close_listener(
                        conn,
                        CloseReason(1009, "response body too large for the control channel"),
                    );
                }
                buf.extend_from_slice(&data);
                if !fin {
                    return;
                }
                let Expect::Body { request, head, buf } =
                    std::mem::replace(&mut l.expect, Expect::Command)
                else {
                    unreachable!()
                };
                if let (Some(request), Some((status, reason, headers))) = (request, head) {
                    self.finish_control_response(&request, status, reason, headers, buf.freeze());
                }
            }
            Some(ConnState::Rendezvous { request, phase }) => {
                let request = request.clone();
                match *phase {
                    RendezvousPhase::Body => {}
                    RendezvousPhase::Done if data.is_empty() => return,
                    _ => {
                        return self.fail_rendezvous(
                            conn,
                            &request,
                            1002,
                            "unexpected binary message",
                        );
                    }
                }
                let Some(req) = self.requests.get(&request) else {
                    return;
                };
                let sender = req.sender;
                if !data.is_empty() {
                    self.out.push_back(Output::HttpBody { conn: sender, data });
                }
                if fin {
                    self.out.push_back(Output::HttpEnd { conn: sender });
                    self.finish_request(&request);
                    self.conns.insert(
                        conn,
                        ConnState::Rendezvous {
                            request,
                            phase: RendezvousPhase::Done,
                        },
                    );
                } else {
                    self.arm_idle(now, &request);
                }
            }
            _ => {}
        }
    }

    /// A ping or pong arrived on a driven WebSocket (the driver answers pings itself).
    pub fn handle_keepalive(&mut self, now: Instant, conn: ConnId) {
        if let Some(ConnState::Listener(l)) = self.conns.get_mut(&conn) {
            l.ping_sent = None;
            l.next_ping = now + self.config.limits.keepalive_interval;
        }
    }

    /// The peer of a driven WebSocket sent Close. The gateway answers with a Close of the
    /// same code and forgets the connection.
    pub fn handle_closed(&mut self, now: Instant, conn: ConnId, code: Option<u16>) {
        if matches!(
            self.conns.get(&conn),
            Some(ConnState::Listener(_) | ConnState::Rendezvous { .. })
        ) {
            let code = code
                .filter(|c| crate::ws::close_code::is_sendable(*c))
                .unwrap_or(1000);
            self.send(
                conn,
                WsOut::Close {
                    code,
                    reason: String::new(),
                },
            );
        }
        self.handle_disconnect(now, conn);
    }

    /// A connection went away (socket closed, sender gave up, pair ended). Everything that
    /// depended on it is cleaned up; nothing else is disturbed.
    pub fn handle_disconnect(&mut self, _now: Instant, conn: ConnId) {
        match self.conns.remove(&conn) {
            Some(ConnState::HeldSender { accept }) => {
                if let Some(p) = self.remove_accept(&accept)
                    && let Some(h) = self.connections.get_mut(&p.hc)
                {
                    h.pending_accepts = h.pending_accepts.saturating_sub(1);
                }
            }
            Some(ConnState::Listener(l)) => self.forget_listener(conn, &l),
            Some(ConnState::Rendezvous { request, phase }) if phase != RendezvousPhase::Done => {
                self.abort_request(
                    &request,
                    "the listener's rendezvous closed before the response ended",
                );
            }
            Some(ConnState::Rendezvous { .. }) => {}
            Some(ConnState::HttpSender { request }) => {
                if let Some(r) = self.remove_request(&request)
                    && let Some(rv) = r.rendezvous
                {
                    if let Some(ConnState::Rendezvous { phase, .. }) = self.conns.get_mut(&rv) {
                        *phase = RendezvousPhase::Done;
                    }
                    self.send(
                        rv,
                        WsOut::Close {
                            code: 1001,
                            reason: "sender gone".into(),
                        },
                    );
                }
            }
            None => {}
        }
    }

    /// Fires every deadline that is due: expired accept addresses (the held sender gets 504),
    /// response deadlines (504 with Azure's JSON body), idle streamed responses (aborted),
    /// expired listener tokens (close 1008) and keepalive pings and timeouts.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(key) = self.timers.pop_due(now) {
            match key {
                TimerKey::Accept(secret) => {
                    if self.accepts.get(&secret).is_some_and(|p| p.deadline <= now) {
                        let p = self.take_accept(&secret).expect("present");
                        self.refuse(
                            p.sender,
                            504,
                            "Gateway Timeout: the listener did not accept the connection in time",
                        );
                    }
                }
                TimerKey::Request(id) => self.request_timer(now, &id),
                TimerKey::Listener(conn) => self.listener_timer(now, conn),
            }
        }
    }

    // ----- internals ------------------------------------------------------------------

    /// Connection ids must be unique while a connection lives; if a driver reuses one, the
    /// old use ends first so the bookkeeping stays consistent.
    fn forget_reused(&mut self, now: Instant, conn: ConnId) {
        if self.conns.contains_key(&conn) {
            self.handle_disconnect(now, conn);
        }
    }

    fn request_timer(&mut self, now: Instant, id: &str) {
        let Some(req) = self.requests.get(id) else {
            return;
        };
        if req.deadline > now {
            let at = req.deadline;
            return self.schedule(at, TimerKey::Request(id.to_string()));
        }
        match req.phase {
            RequestPhase::AwaitRendezvous | RequestPhase::AwaitResponse => {
                let secs = self.config.limits.response_timeout.as_secs();
                let req = self.remove_request(id).expect("present");
                self.conns.remove(&req.sender);
                if let Some(rv) = req.rendezvous {
                    self.conns.insert(
                        rv,
                        ConnState::Rendezvous {
                            request: id.to_string(),
                            phase: RendezvousPhase::Done,
                        },
                    );
                    self.send(
                        rv,
                        WsOut::Close {
                            code: 1011,
                            reason: "response deadline passed".into(),
                        },
                    );
                }
                self.out.push_back(Output::HttpResponse {
                    conn: req.sender,
                    status: 504,
                    reason: "Gateway Timeout".into(),
                    headers: Headers(vec![("Content-Type".into(), "application/json".into())]),
                    body: ResponseBody::Full(Bytes::from(http::gateway_timeout_body(secs))),
                });
            }
            RequestPhase::Streaming => {
                if let Some(rv) = req.rendezvous {
                    self.send(
                        rv,
                        WsOut::Close {
                            code: 1011,
                            reason: "response body idle too long".into(),
                        },
                    );
                }
                self.abort_request(id, "idle");
            }
        }
    }

    fn listener_timer(&mut self, now: Instant, conn: ConnId) {
        let limits = self.config.limits.clone();
        let Some(ConnState::Listener(l)) = self.conns.get_mut(&conn) else {
            return;
        };
        if l.token_deadline <= now {
            return self.close_listener(conn, CloseReason(1008, "token expired"));
        }
        if let Some(sent) = l.ping_sent {
            if sent + limits.keepalive_timeout <= now {
                return self.close_listener(conn, CloseReason(1011, "keepalive timeout"));
            }
        } else if l.next_ping <= now {
            l.ping_sent = Some(now);
            self.send(conn, WsOut::Ping);
        }
        self.arm_listener(conn);
    }

    /// Sets a listener's one deadline: the earlier of its token expiry and its next
    /// keepalive step (ping due, or pong overdue).
    fn arm_listener(&mut self, conn: ConnId) {
        let Some(ConnState::Listener(l)) = self.conns.get(&conn) else {
            return;
        };
        let next = match l.ping_sent {
            Some(sent) => sent + self.config.limits.keepalive_timeout,
            None => l.next_ping,
        };
        let at = next.min(l.token_deadline);
        self.schedule(at, TimerKey::Listener(conn));
    }

    fn renew_token(&mut self, now: Instant, conn: ConnId, raw: &str) {
        let Some(ConnState::Listener(l)) = self.conns.get(&conn) else {
            return;
        };
        let token = crate::relay::sas::normalize_token(raw).into_owned();
        let host = l.base_url.split("://").nth(1).unwrap_or("").to_string();
        let entity = l.entity_path.clone();
        match self.authorize(now, Some(&token), &host, &entity, Rights::LISTEN) {
            Ok(expiry) => {
                let deadline = self.instant_of_unix(
                    expiry.saturating_add(self.config.limits.token_expiry_grace_secs),
                );
                if let Some(ConnState::Listener(l)) = self.conns.get_mut(&conn) {
                    l.token_deadline = deadline;
                }
                self.arm_listener(conn);
            }
            Err(_) => self.close_listener(conn, CloseReason(1008, "invalid token")),
        }
    }

    fn control_response(&mut self, conn: ConnId, r: ResponseCommand) {
        let known = self
            .requests
            .get(&r.request_id)
            .is_some_and(|q| q.listener == conn && q.phase == RequestPhase::AwaitResponse);
        let Some(ConnState::Listener(l)) = self.conns.get_mut(&conn) else {
            return;
        };
        if r.body {
            // The request stays under the response deadline until its body has arrived.
            let reason = r
                .status_description
                .clone()
                .unwrap_or_else(|| default_reason(r.status_code).to_string());
            l.expect = Expect::Body {
                request: known.then(|| r.request_id.clone()),
                head: known.then(|| (r.status_code, reason, r.response_headers.clone())),
                buf: BytesMut::new(),
            };
        } else if known {
            let id = r.request_id.clone();
            self.start_response(&id, r, ResponseBody::Empty, false);
        }
    }

    fn finish_control_response(
        &mut self,
        request: &str,
        status: u16,
        reason: String,
        headers: Headers,
        body: Bytes,
    ) {
        let Some(req) = self.remove_request(request) else {
            return;
        };
        self.conns.remove(&req.sender);
        self.out.push_back(Output::HttpResponse {
            conn: req.sender,
            status,
            reason,
            headers: http::filter_response_headers(&headers, &req.via_host),
            body: if body.is_empty() {
                ResponseBody::Empty
            } else {
                ResponseBody::Full(body)
            },
        });
    }

    /// Sends the response head to the sender. With `streaming`, the request stays open for
    /// body pieces; otherwise it is finished. Returns false when the request is gone.
    fn start_response(
        &mut self,
        request: &str,
        r: ResponseCommand,
        body: ResponseBody,
        streaming: bool,
    ) -> bool {
        let Some(req) = self.requests.get_mut(request) else {
            return false;
        };
        let reason = r
            .status_description
            .unwrap_or_else(|| default_reason(r.status_code).to_string());
        let headers = http::filter_response_headers(&r.response_headers, &req.via_host);
        let sender = req.sender;
        req.phase = RequestPhase::Streaming;
        self.out.push_back(Output::HttpResponse {
            conn: sender,
            status: r.status_code,
            reason,
            headers,
            body: if streaming { body } else { ResponseBody::Empty },
        });
        if !streaming {
            self.finish_request(request);
        }
        true
    }

    fn arm_idle(&mut self, now: Instant, request: &str) {
        if let Some(req) = self.requests.get_mut(request) {
            req.deadline = now + self.config.limits.response_idle_timeout;
            let at = req.deadline;
            // One timer entry is enough: when it fires early, request_timer re-arms it.
            if req.phase != RequestPhase::Streaming {
                req.phase = RequestPhase::Streaming;
            }
            self.schedule(at, TimerKey::Request(request.to_string()));
        }
    }

    fn finish_request(&mut self, request: &str) {
        if let Some(req) = self.remove_request(request) {
            self.conns.remove(&req.sender);
        }
    }

    /// Ends a request whose listener side broke: 502 if nothing was sent yet, abort otherwise.
    fn abort_request(&mut self, request: &str, why: &str) {
        let Some(req) = self.remove_request(request) else {
            return;
        };
        self.conns.remove(&req.sender);
        if req.phase == RequestPhase::Streaming {
            self.out.push_back(Output::HttpAbort { conn: req.sender });
        } else {
            self.out.push_back(Output::HttpResponse {
                conn: req.sender,
                status: 502,
                reason: "Bad Gateway".into(),
                headers: Headers(vec![(
                    "Content-Type".into(),
                    "text/plain; charset=utf-8".into(),
                )]),
                body: ResponseBody::Full(Bytes::from(format!("Bad Gateway: {why}"))),
            });
        }
    }

    fn fail_rendezvous(&mut self, conn: ConnId, request: &str, code: u16, why: &'static str) {
        self.send(
            conn,
            WsOut::Close {
                code,
                reason: why.into(),
            },
        );
        self.conns.insert(
            conn,
            ConnState::Rendezvous {
                request: request.to_string(),
                phase: RendezvousPhase::Done,
            },
        );
        self.abort_request(request, why);
    }

    fn close_listener(&mut self, conn: ConnId, reason: CloseReason) {
        let Some(ConnState::Listener(l)) = self.conns.remove(&conn) else {
            return;
        };
        self.send(
            conn,
            WsOut::Close {
                code: reason.0,
                reason: reason.1.into(),
            },
        );
        self.forget_listener(conn, &l);
    }

    fn forget_listener(&mut self, conn: ConnId, l: &ListenerState) {
        self.timers.cancel(&TimerKey::Listener(conn));
        if let Some(h) = self.connections.get_mut(&l.hc) {
            h.listeners.retain(|c| *c != conn);
            if self.config.hybrid_connections.is_none()
                && h.listeners.is_empty()
                && h.pending_accepts == 0
            {
                self.connections.remove(&l.hc);
            }
        }
        // Requests waiting on this control channel (no rendezvous of their own) fail now.
        let orphaned: Vec<String> = self
            .requests
            .iter()
            .filter(|(_, r)| r.listener == conn && r.rendezvous.is_none())
            .map(|(id, _)| id.clone())
            .collect();
        for id in orphaned {
            self.abort_request(&id, "the listener disconnected");
        }
    }
}

fn header(headers: &[(String, String)], name: &str) -> Option<String> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) => h,
        _ => host,
    }
}

#[cfg(test)]
mod tests;
