//! One served route: its connection table (core) plus the io side of its connections, and
//! the request handlers that need no socket (negotiate, POST, DELETE).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use http::{Method, Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use interlink_core::hub::connections::{
    Attached, Connections, Ended, PollId, PollReply, TableEvent,
};
use interlink_core::hub::negotiate::{NegotiateResponse, TransportKind, query_value};
use interlink_core::time::Instant;

use super::helpers::{self, bearer, header_list, query_list};
use super::outbox::{ConnShared, TransportSender};
use super::{
    ACCEPT_WAIT, AcceptedConnection, AuthHook, AuthRequest, HubRoute, NegotiateMode, Principal,
    TransportEvent, TransportOptions, longpoll, sse, websocket,
};
use crate::net::{self, Body, ConnInfo};

/// What a request path addresses on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Target {
    Negotiate,
    Transport,
}

/// The parts of an attaching request the hub layer receives.
pub(super) struct RequestInfo {
    pub principal: Principal,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub remote: SocketAddr,
}

/// The table and the io state of the route's connections, under one lock.
pub(super) struct RouteState {
    pub table: Connections,
    /// Connections whose transport attached, by token.
    pub conns: HashMap<String, Arc<ConnShared>>,
    /// Held long polls waiting for their answer.
    pub polls: HashMap<PollId, async_channel::Sender<PollReply>>,
}

impl RouteState {
    /// Applies the table's events: answers held polls, finishes removed connections.
    fn drain(&mut self) {
        while let Some(event) = self.table.poll_event() {
            match event {
                TableEvent::PollDone { poll, reply, .. } => {
                    if let Some(tx) = self.polls.remove(&poll) {
                        let _ = tx.try_send(reply);
                    }
                }
                TableEvent::Removed { token, reason } => {
                    if let Some(conn) = self.conns.remove(&token) {
                        conn.finish(reason);
                    }
                }
            }
        }
    }

    /// Creates the io side of a connection whose first transport just attached.
    pub fn register(
        &mut self,
        route: &Arc<Route>,
        attached: &Attached,
        kind: TransportKind,
    ) -> (Arc<ConnShared>, async_channel::Receiver<TransportEvent>) {
        let (tx, rx) = async_channel::bounded(route.options.event_capacity.max(1));
        let conn = Arc::new(ConnShared::new(
            attached.token.clone(),
            attached.connection_id.clone(),
            kind,
            route.options.max_buffered_bytes,
            tx,
            Arc::downgrade(route),
        ));
        self.conns.insert(attached.token.clone(), conn.clone());
        (conn, rx)
    }
}

/// A route being served.
pub(super) struct Route {
    /// The path without a trailing `/` (`""` for the root).
    base: String,
    hub: Option<String>,
    pub options: TransportOptions,
    negotiate: NegotiateMode,
    auth: Option<AuthHook>,
    accept: async_channel::Sender<AcceptedConnection>,
    state: Mutex<RouteState>,
    origin: std::time::Instant,
    pub kick: async_channel::Sender<()>,
    /// Closed (never sent on) when the server shuts down: every task of the route ends.
    pub stop: async_channel::Receiver<()>,
}

impl Route {
    pub fn new(
        route: HubRoute,
        seed: u64,
        kick: async_channel::Sender<()>,
        stop: async_channel::Receiver<()>,
    ) -> Arc<Route> {
        let base = route.path.trim_end_matches('/').to_owned();
        let base = if base.is_empty() || base.starts_with('/') {
            base
        } else {
            format!("/{base}")
        };
        Arc::new(Route {
            base,
            hub: route.hub,
            state: Mutex::new(RouteState {
                table: Connections::new(route.options.core(), seed),
                conns: HashMap::new(),
                polls: HashMap::new(),
            }),
            options: route.options,
            negotiate: route.negotiate,
            auth: route.auth,
            accept: route.accept.0,
            origin: std::time::Instant::now(),
            kick,
            stop,
        })
    }

    /// Whether this route serves `path` (+ `query`), and as what.
    pub fn matches(&self, path: &str, query: Option<&str>) -> Option<Target> {
        let rest = path.strip_prefix(self.base.as_str())?;
        let target = match rest {
            "" | "/" => Target::Transport,
            "/negotiate" | "/negotiate/" => Target::Negotiate,
            _ => return None,
        };
        if let Some(hub) = &self.hub {
            let given = query_value(query, "hub")?;
            if !given.eq_ignore_ascii_case(hub) {
                return None;
            }
        }
        Some(target)
    }

    pub fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    /// Runs `f` on the table under the lock, applies the resulting events, and wakes the
    /// timer task (deadlines may have changed).
    pub fn with_table<R>(&self, f: impl FnOnce(&mut RouteState, Instant) -> R) -> R {
        let now = self.now();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let result = f(&mut state, now);
        state.drain();
        drop(state);
        let _ = self.kick.try_send(());
        result
    }

    /// The table's next deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .table
            .poll_timeout()
    }

    /// Live connections (negotiated, attached, or waiting for a re-attach).
    pub fn live(&self) -> usize {
        self.with_table(|st, _| st.table.len())
    }

    /// Every connection with an attached transport.
    pub fn attached(&self) -> Vec<Arc<ConnShared>> {
        self.with_table(|st, _| st.conns.values().cloned().collect())
    }

    pub fn transport_ended(&self, token: &str, graceful: bool) -> Ended {
        self.with_table(|st, now| st.table.handle_transport_ended(now, token, graceful))
    }

    pub fn close(&self, token: &str) {
        self.with_table(|st, now| st.table.close(now, token));
    }

    pub fn data_queued(&self, token: &str) {
        self.with_table(|st, now| st.table.handle_data_queued(now, token));
    }

    /// Hands a new connection to the hub layer; `false` (after closing it) when the
    /// acceptor is gone or stays full for [`ACCEPT_WAIT`].
    pub async fn deliver(
        &self,
        conn: &Arc<ConnShared>,
        events: async_channel::Receiver<TransportEvent>,
        stateful: bool,
        info: RequestInfo,
    ) -> bool {
        let accepted = AcceptedConnection {
            connection_id: conn.connection_id.clone(),
            connection_token: conn.token.clone(),
            transport: conn.kind,
            principal: info.principal,
            query: info.query,
            headers: info.headers,
            remote: info.remote,
            stateful,
            events,
            sender: TransportSender { conn: conn.clone() },
        };
        let sent = net::with_timeout(ACCEPT_WAIT, async {
            self.accept
                .send(accepted)
                .await
                .map_err(|_| net::NetError::Timeout(ACCEPT_WAIT))
        })
        .await
        .is_ok();
        if !sent {
            tracing::warn!("hub connection not taken by the hub layer; closing it");
            self.close(&conn.token);
        }
        sent
    }

    fn authenticate(&self, req: &Request<Incoming>, info: &ConnInfo) -> Option<Principal> {
        let Some(hook) = &self.auth else {
            return Some(Principal::default());
        };
        let token = bearer(req.headers(), req.uri().query());
        hook(&AuthRequest {
            method: req.method(),
            uri: req.uri(),
            headers: req.headers(),
            remote: info.peer,
            token: token.as_deref(),
        })
        .ok()
    }

    /// Answers one request addressed to this route.
    pub async fn handle(
        self: Arc<Self>,
        req: Request<Incoming>,
        info: ConnInfo,
        target: Target,
    ) -> Response<Body> {
        let Some(principal) = self.authenticate(&req, &info) else {
            return helpers::text(401, "Unauthorized");
        };
        let query = req.uri().query();
        let id = query_value(query, "id");
        match (target, req.method().clone()) {
            (Target::Negotiate, Method::POST) => self.negotiate(query),
            (Target::Negotiate, _) => helpers::text(405, "Method Not Allowed"),
            (Target::Transport, Method::GET) => {
                let request_info = RequestInfo {
                    principal,
                    query: query_list(query),
                    headers: header_list(req.headers()),
                    remote: info.peer,
                };
                if helpers::is_websocket(req.headers()) {
                    websocket::handle(self, req, id, request_info).await
                } else if helpers::wants_event_stream(req.headers()) {
                    sse::handle(self, id, request_info).await
                } else {
                    longpoll::handle(self, id, request_info).await
                }
            }
            (Target::Transport, Method::POST) => self.post(req, id).await,
            (Target::Transport, Method::DELETE) => {
                match self.with_table(|st, now| st.table.handle_delete(now, id.as_deref())) {
                    Ok(()) => helpers::text(202, ""),
                    Err(e) => helpers::text(e.status(), e.to_string()),
                }
            }
            (Target::Transport, _) => helpers::text(405, "Method Not Allowed"),
        }
    }

    fn negotiate(&self, query: Option<&str>) -> Response<Body> {
        let response = match &self.negotiate {
            NegotiateMode::Connect => {
                self.with_table(|st, now| st.table.handle_negotiate(now, query))
            }
            NegotiateMode::Redirect { url, access_token } => NegotiateResponse::Redirect {
                url: url.clone(),
                access_token: Some(access_token.clone()),
            },
            NegotiateMode::Error(text) => NegotiateResponse::Error(text.clone()),
        };
        helpers::json(response.to_json())
    }

    /// `POST {path}?id=`: the body goes to the hub layer piece by piece; 200 once all of it
    /// was handed over.
    async fn post(self: Arc<Self>, req: Request<Incoming>, id: Option<String>) -> Response<Body> {
        let conn = self.with_table(|st, now| {
            st.table
                .handle_post(now, id.as_deref())
                .map(|()| id.as_ref().and_then(|t| st.conns.get(t).cloned()))
        });
        let conn = match conn {
            Ok(Some(conn)) => conn,
            Ok(None) => return helpers::text(404, "No Connection with that ID"),
            Err(e) => return helpers::text(e.status(), e.to_string()),
        };
        let _guard = PostGuard {
            route: self.clone(),
            token: conn.token.clone(),
        };
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else {
                return helpers::text(400, "The request body could not be read");
            };
            if let Ok(data) = frame.into_data()
                && !data.is_empty()
                && conn.events.send(TransportEvent::Data(data)).await.is_err()
            {
                return helpers::text(404, "No Connection with that ID");
            }
        }
        helpers::text(200, "")
    }
}

/// Ends the table's POST bookkeeping however the handler ends (done or dropped).
struct PostGuard {
    route: Arc<Route>,
    token: String,
}

impl Drop for PostGuard {
    fn drop(&mut self) {
        self.route
            .with_table(|st, _| st.table.handle_post_done(&self.token));
    }
}
