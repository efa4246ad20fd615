//! The listener's control channel, sans-IO: connect, stay online, renew the token, keep the
//! channel alive, and turn control messages into accepts and requests.
//!
//! # Driving a [`Listener`]
//! 1. [`Listener::start`] queues the first [`ListenerOutput::Connect`].
//! 2. The driver opens the WebSocket it names and reports the outcome with
//!    [`Listener::handle_connected`] or [`Listener::handle_connect_failed`]; then feeds
//!    messages ([`Listener::handle_text`], [`Listener::handle_binary`],
//!    [`Listener::handle_pong`]) and [`Listener::handle_closed`] when the socket ends.
//! 3. After every input, drain [`Listener::poll_output`]; sleep until
//!    [`Listener::poll_timeout`] and call [`Listener::handle_timeout`].
//! 4. Answer requests with [`Listener::respond_inline`] when the response is small and
//!    complete ([`Listener::fits_inline`]); otherwise open the request's rendezvous address
//!    and stream the response there (see [`rendezvous_response_head`]).
//!
//! Reconnects follow the SDKs' schedule 0, 1, 2, 5, 10, 30 s (reset once online) and stop
//! for good on 404. Tokens are renewed before expiry (at 80 % of their lifetime).
//!
//! What it does not do: it opens no sockets, frames no WebSocket messages (see
//! [`crate::ws`]) and runs no handlers; accepts and requests come out as events.

use crate::relay::address::Endpoint;
use crate::relay::message::{
    AcceptCommand, ControlMessage, Headers, RenewTokenCommand, RequestCommand, ResponseCommand,
    default_reason,
};
use crate::relay::sas::create_token;
use crate::time::{Instant, UnixTime};
use bytes::{Bytes, BytesMut};
use std::collections::VecDeque;
use std::time::Duration;

/// Where the listener's tokens come from.
#[derive(Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// Create tokens from a SAS rule name and key (renewed automatically).
    SharedKey {
        /// Rule name (`skn`).
        key_name: String,
        /// Key as written.
        key: String,
    },
    /// A fixed token (never renewed; the channel ends when it expires).
    Fixed(String),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::SharedKey { key_name, .. } => write!(f, "SharedKey({key_name}, <key>)"),
            TokenSource::Fixed(_) => f.write_str("Fixed(<token>)"),
        }
    }
}

/// Settings of a [`Listener`].
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// The relay namespace.
    pub endpoint: Endpoint,
    /// The hybrid connection.
    pub entity_path: String,
    /// Tokens.
    pub token: TokenSource,
    /// Lifetime of created tokens (SDK default 1 h).
    pub token_ttl: Duration,
    /// Tracking id sent as `sb-hc-id` (used by Allowed/Disallowed listener routing).
    pub tracking_id: Option<String>,
    /// Ping interval on the control channel (SDK default 3.5 min).
    pub keepalive_interval: Duration,
    /// The channel is considered dead when no pong arrives this long after a ping.
    pub keepalive_timeout: Duration,
    /// Delays between reconnect attempts; the last repeats.
    pub reconnect_delays: Vec<Duration>,
    /// Largest response body sent inline on the control channel (64 KB).
    pub control_body_max_bytes: usize,
    /// Largest response headers sent inline on the control channel (the relay's 32 KB).
    pub control_headers_max_bytes: usize,
    /// Unix time in milliseconds at `Instant(0)`.
    pub unix_origin_ms: u64,
}

impl ListenerConfig {
    /// Defaults of the official SDKs for `endpoint` / `entity_path` / `token`.
    pub fn new(endpoint: Endpoint, entity_path: impl Into<String>, token: TokenSource) -> Self {
        ListenerConfig {
            endpoint,
            entity_path: entity_path.into(),
            token,
            token_ttl: Duration::from_secs(3600),
            tracking_id: None,
            keepalive_interval: Duration::from_secs(210),
            keepalive_timeout: Duration::from_secs(30),
            reconnect_delays: [0, 1, 2, 5, 10, 30].map(Duration::from_secs).to_vec(),
            control_body_max_bytes: 64 * 1024,
            control_headers_max_bytes: 32 * 1024,
            unix_origin_ms: 0,
        }
    }
}

/// What the driver must do or learn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerOutput {
    /// Open the control channel: a WebSocket to `url` with these headers (the token).
    Connect {
        /// The listen URL.
        url: String,
        /// Extra handshake headers.
        headers: Vec<(String, String)>,
    },
    /// Send a text message on the control channel.
    SendText(String),
    /// Send a binary message on the control channel.
    SendBinary(Bytes),
    /// Send a ping on the control channel.
    Ping,
    /// Close the control channel with this code and drop the socket.
    Close {
        /// Close code.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// The control channel is up.
    Online,
    /// The control channel went down; a reconnect is scheduled unless the listener stopped.
    Offline {
        /// What happened.
        reason: String,
    },
    /// A sender wants a WebSocket: open (or reject) `accept.address`.
    Accept(AcceptCommand),
    /// An HTTP request arrived whole on the control channel.
    Request {
        /// The request.
        request: RequestCommand,
        /// Its body, if it had one.
        body: Option<Bytes>,
    },
    /// A request must be fetched from its rendezvous address (rendezvous-only form).
    RendezvousRequest {
        /// The address to open.
        address: String,
        /// The request id.
        id: String,
    },
    /// The listener stopped for good (closed by the user, or the relay answered 404).
    Stopped {
        /// Why.
        reason: String,
    },
}

/// How a listener sends a response back to the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponsePlan {
    /// Buffer the (small, complete) body and answer inline on the control channel
    /// ([`Listener::respond_inline`]).
    Inline,
    /// Buffer the (small, complete) body and send it as one binary message on the
    /// rendezvous the request came on.
    Whole,
    /// Stream the body as fragments of one binary message on a rendezvous socket (opening
    /// the request's address when the request came on the control channel).
    Stream,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Connecting,
    Online,
    WaitingToReconnect,
    Stopped,
}

/// The listener state machine. See the [module docs](self).
pub struct Listener {
    config: ListenerConfig,
    phase: Phase,
    attempt: usize,
    reconnect_at: Option<Instant>,
    renew_at: Option<Instant>,
    next_ping: Option<Instant>,
    ping_sent: Option<Instant>,
    pending_body: Option<(RequestCommand, BytesMut)>,
    out: VecDeque<ListenerOutput>,
}

impl Listener {
    /// A listener that has not started yet.
    pub fn new(config: ListenerConfig) -> Self {
        Listener {
            config,
            phase: Phase::Idle,
            attempt: 0,
            reconnect_at: None,
            renew_at: None,
            next_ping: None,
            ping_sent: None,
            pending_body: None,
            out: VecDeque::new(),
        }
    }

    /// Settings in force.
    pub fn config(&self) -> &ListenerConfig {
        &self.config
    }

    /// True while the control channel is up.
    pub fn is_online(&self) -> bool {
        self.phase == Phase::Online
    }

    /// True once the listener stopped for good.
    pub fn is_stopped(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// Starts connecting.
    pub fn start(&mut self, now: Instant) {
        if self.phase == Phase::Idle {
            self.connect(now);
        }
    }

    /// Closes the control channel (1000) and stops reconnecting.
    pub fn close(&mut self) {
        if self.phase == Phase::Online || self.phase == Phase::Connecting {
            self.out.push_back(ListenerOutput::Close {
                code: 1000,
                reason: "Normal Closure".into(),
            });
        }
        self.stop("closed by the application");
    }

    /// Next output, in order.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<ListenerOutput> {
        self.out.pop_front()
    }

    /// When to call [`Listener::handle_timeout`] next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::WaitingToReconnect => self.reconnect_at,
            Phase::Online => {
                let ping = match self.ping_sent {
                    Some(sent) => Some(sent + self.config.keepalive_timeout),
                    None => self.next_ping,
                };
                [ping, self.renew_at].into_iter().flatten().min()
            }
            _ => None,
        }
    }

    fn unix(&self, now: Instant) -> UnixTime {
        UnixTime((self.config.unix_origin_ms + now.0) / 1000)
    }

    /// The token for the control channel at `now` and when to renew it.
    fn token(&self, now: Instant) -> (String, Option<Instant>) {
        match &self.config.token {
            TokenSource::Fixed(t) => (t.clone(), None),
            TokenSource::SharedKey { key_name, key } => {
                let ttl = self.config.token_ttl;
                let expiry = UnixTime(self.unix(now).0 + ttl.as_secs().max(1));
                let audience = self.config.endpoint.audience(&self.config.entity_path);
                let renew = now + ttl.mul_f64(0.8);
                (create_token(&audience, key_name, key, expiry), Some(renew))
            }
        }
    }

    fn connect(&mut self, now: Instant) {
        let (token, renew) = self.token(now);
        self.renew_at = renew;
        let url = self.config.endpoint.listen_url(
            &self.config.entity_path,
            self.config.tracking_id.as_deref(),
            None,
        );
        self.phase = Phase::Connecting;
        self.out.push_back(ListenerOutput::Connect {
            url,
            headers: vec![("ServiceBusAuthorization".into(), token)],
        });
    }

    fn stop(&mut self, reason: &str) {
        if self.phase != Phase::Stopped {
            self.phase = Phase::Stopped;
            self.out.push_back(ListenerOutput::Stopped {
                reason: reason.into(),
            });
        }
    }

    fn schedule_reconnect(&mut self, now: Instant) {
        let delays = &self.config.reconnect_delays;
        let delay = delays
            .get(self.attempt)
            .or(delays.last())
            .copied()
            .unwrap_or(Duration::ZERO);
        self.attempt += 1;
        self.phase = Phase::WaitingToReconnect;
        self.reconnect_at = Some(now + delay);
        self.pending_body = None;
        self.ping_sent = None;
    }

    /// The control channel's handshake succeeded.
    pub fn handle_connected(&mut self, now: Instant) {
        if self.phase != Phase::Connecting {
            return;
        }
        self.phase = Phase::Online;
        self.attempt = 0;
        self.next_ping = Some(now + self.config.keepalive_interval);
        self.ping_sent = None;
        self.out.push_back(ListenerOutput::Online);
    }

    /// The control channel could not be opened; `status` is the HTTP status of a refused
    /// handshake. 404 stops the listener (the hybrid connection does not exist); everything
    /// else is retried on the backoff schedule.
    pub fn handle_connect_failed(&mut self, now: Instant, status: Option<u16>, reason: &str) {
        if self.phase != Phase::Connecting {
            return;
        }
        if status == Some(404) {
            return self.stop(&format!("the relay answered 404: {reason}"));
        }
        self.out.push_back(ListenerOutput::Offline {
            reason: reason.to_string(),
        });
        self.schedule_reconnect(now);
    }

    /// The control channel ended (peer Close with `code`, or the socket dropped).
    pub fn handle_closed(&mut self, now: Instant, code: Option<u16>) {
        if self.phase != Phase::Online && self.phase != Phase::Connecting {
            return;
        }
        let reason = match code {
            Some(c) => format!("control channel closed with {c}"),
            None => "control channel dropped".to_string(),
        };
        self.out.push_back(ListenerOutput::Offline { reason });
        self.schedule_reconnect(now);
    }

    /// A pong (or any keepalive answer) arrived.
    pub fn handle_pong(&mut self, now: Instant) {
        self.ping_sent = None;
        self.next_ping = Some(now + self.config.keepalive_interval);
    }

    /// A text message arrived on the control channel.
    pub fn handle_text(&mut self, now: Instant, text: &str) {
        if self.phase != Phase::Online {
            return;
        }
        self.handle_pong(now);
        match ControlMessage::parse(text) {
            Ok(ControlMessage::Accept(a)) => self.out.push_back(ListenerOutput::Accept(a)),
            Ok(ControlMessage::Request(r)) if r.is_rendezvous_only() => {
                self.out.push_back(ListenerOutput::RendezvousRequest {
                    address: r.address,
                    id: r.id,
                })
            }
            Ok(ControlMessage::Request(r)) if r.has_body() => {
                self.pending_body = Some((r, BytesMut::new()))
            }
            Ok(ControlMessage::Request(r)) => self.out.push_back(ListenerOutput::Request {
                request: r,
                body: None,
            }),
            // Unknown commands and ones flowing the other way are ignored, like the SDKs do.
            Ok(_) => {}
            Err(_) => {
                self.out.push_back(ListenerOutput::Close {
                    code: 1002,
                    reason: "malformed control message".into(),
                });
                self.out.push_back(ListenerOutput::Offline {
                    reason: "malformed control message".into(),
                });
                self.schedule_reconnect(now);
            }
        }
    }

    /// A binary message or fragment arrived on the control channel (a request body).
    pub fn handle_binary(&mut self, now: Instant, data: &[u8], fin: bool) {
        self.handle_pong(now);
        let Some((_, buf)) = self.pending_body.as_mut() else {
            return;
        };
        buf.extend_from_slice(data);
        if fin {
            let (request, buf) = self.pending_body.take().expect("present");
            self.out.push_back(ListenerOutput::Request {
                request,
                body: Some(buf.freeze()),
            });
        }
    }

    /// Fires reconnects, token renewal and keepalive.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::WaitingToReconnect if self.reconnect_at.is_some_and(|t| t <= now) => {
                self.reconnect_at = None;
                self.connect(now);
            }
            Phase::Online => {
                if let Some(sent) = self.ping_sent {
                    if sent + self.config.keepalive_timeout <= now {
                        self.out.push_back(ListenerOutput::Close {
                            code: 1001,
                            reason: "keepalive timeout".into(),
                        });
                        self.out.push_back(ListenerOutput::Offline {
                            reason: "keepalive timeout".into(),
                        });
                        self.schedule_reconnect(now);
                        return;
                    }
                } else if self.next_ping.is_some_and(|t| t <= now) {
                    self.ping_sent = Some(now);
                    self.out.push_back(ListenerOutput::Ping);
                }
                if self.renew_at.is_some_and(|t| t <= now) {
                    let (token, renew) = self.token(now);
                    self.renew_at = renew;
                    let msg = ControlMessage::RenewToken(RenewTokenCommand { token });
                    self.out.push_back(ListenerOutput::SendText(msg.to_json()));
                }
            }
            _ => {}
        }
    }

    /// True when a complete response body of `len` bytes can go inline on the control channel.
    pub fn fits_inline(&self, len: usize) -> bool {
        len <= self.config.control_body_max_bytes
    }

    /// The response policy: a body of known size within the control-channel limit is
    /// buffered — inline on the control channel when the request came there and the headers
    /// fit too, or whole on the rendezvous the request came on; anything else (unknown size
    /// such as SSE, or too large) is streamed over a rendezvous socket.
    pub fn plan_response(
        &self,
        exact_len: Option<u64>,
        headers_bytes: usize,
        on_control: bool,
    ) -> ResponsePlan {
        let small = exact_len.is_some_and(|n| n <= self.config.control_body_max_bytes as u64);
        match (on_control, small) {
            (true, true) if headers_bytes <= self.config.control_headers_max_bytes => {
                ResponsePlan::Inline
            }
            (true, _) => ResponsePlan::Stream,
            (false, true) => ResponsePlan::Whole,
            (false, false) => ResponsePlan::Stream,
        }
    }

    /// Answers `request_id` on the control channel with a complete body (see
    /// [`Listener::fits_inline`]). The response message and its body go out back to back.
    pub fn respond_inline(
        &mut self,
        request_id: &str,
        status: u16,
        reason: Option<&str>,
        headers: Headers,
        body: Bytes,
    ) {
        let msg = response_message(request_id, status, reason, headers, !body.is_empty());
        self.out.push_back(ListenerOutput::SendText(msg));
        if !body.is_empty() {
            self.out.push_back(ListenerOutput::SendBinary(body));
        }
    }
}

fn response_message(
    request_id: &str,
    status: u16,
    reason: Option<&str>,
    headers: Headers,
    body: bool,
) -> String {
    ControlMessage::Response(ResponseCommand {
        request_id: request_id.to_string(),
        status_code: status,
        status_description: Some(reason.unwrap_or(default_reason(status)).to_string()),
        response_headers: headers,
        body,
    })
    .to_json()
}

/// The text message that starts a response on a rendezvous socket; the body follows as one
/// binary message, streamed in fragments and ended by a FIN frame.
pub fn rendezvous_response_head(
    request_id: &str,
    status: u16,
    reason: Option<&str>,
    headers: Headers,
    body: bool,
) -> String {
    response_message(request_id, status, reason, headers, body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::sas::{Audience, Rights, SasValidator, SharedAccessRule, TokenValidator};

    fn config() -> ListenerConfig {
        let endpoint = Endpoint::new(false, "127.0.0.1", Some(9090));
        let mut c = ListenerConfig::new(
            endpoint,
            "hc1",
            TokenSource::SharedKey {
                key_name: "root".into(),
                key: "k".into(),
            },
        );
        c.unix_origin_ms = 1_700_000_000_000;
        c.tracking_id = Some("me".into());
        c
    }

    fn drain(l: &mut Listener) -> Vec<ListenerOutput> {
        std::iter::from_fn(|| l.poll_output()).collect()
    }

    #[test]
    fn connects_with_a_valid_token_and_goes_online() {
        let mut l = Listener::new(config());
        l.start(Instant(0));
        let out = drain(&mut l);
        let [ListenerOutput::Connect { url, headers }] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(
            url,
            "ws://127.0.0.1:9090/$hc/hc1?sb-hc-action=listen&sb-hc-id=me"
        );
        assert_eq!(headers[0].0, "ServiceBusAuthorization");
        let v = SasValidator::new(vec![SharedAccessRule::new("root", "k", Rights::ALL)]);
        let ok = v.validate(
            &headers[0].1,
            &Audience {
                host: "127.0.0.1",
                path: "hc1",
            },
            Rights::LISTEN,
            UnixTime(1_700_000_000),
        );
        assert!(ok.is_ok(), "{ok:?}");
        l.handle_connected(Instant(5));
        assert_eq!(drain(&mut l), vec![ListenerOutput::Online]);
        assert!(l.is_online());
    }

    #[test]
    fn reconnect_schedule_and_stop_on_404() {
        let mut l = Listener::new(config());
        l.start(Instant(0));
        drain(&mut l);
        let mut now = Instant(0);
        let mut delays = Vec::new();
        for _ in 0..8 {
            l.handle_connect_failed(now, Some(500), "boom");
            let at = l.poll_timeout().unwrap();
            delays.push((at - now).as_secs());
            now = at;
            l.handle_timeout(now);
            assert!(matches!(
                drain(&mut l).last(),
                Some(ListenerOutput::Connect { .. })
            ));
        }
        assert_eq!(delays, vec![0, 1, 2, 5, 10, 30, 30, 30]);
        // Online resets the schedule.
        l.handle_connected(now);
        l.handle_closed(now, Some(1011));
        assert_eq!(l.poll_timeout(), Some(now));
        l.handle_timeout(now);
        drain(&mut l);
        l.handle_connect_failed(now, Some(404), "no such hybrid connection");
        let out = drain(&mut l);
        assert!(
            matches!(&out[..], [ListenerOutput::Stopped { .. }]),
            "{out:?}"
        );
        assert!(l.is_stopped());
        assert_eq!(l.poll_timeout(), None);
    }

    #[test]
    fn renews_before_expiry_and_pings() {
        let mut c = config();
        c.token_ttl = Duration::from_secs(100);
        c.keepalive_interval = Duration::from_secs(30);
        let mut l = Listener::new(c);
        l.start(Instant(0));
        l.handle_connected(Instant(0));
        drain(&mut l);
        assert_eq!(l.poll_timeout(), Some(Instant(30_000)));
        l.handle_timeout(Instant(30_000));
        assert_eq!(drain(&mut l), vec![ListenerOutput::Ping]);
        l.handle_pong(Instant(30_010));
        l.handle_timeout(Instant(80_000));
        let out = drain(&mut l);
        let renew = out.iter().find_map(|o| match o {
            ListenerOutput::SendText(t) => Some(ControlMessage::parse(t).unwrap()),
            _ => None,
        });
        assert!(
            matches!(renew, Some(ControlMessage::RenewToken(_))),
            "{out:?}"
        );
    }

    #[test]
    fn missing_pong_drops_and_reconnects() {
        let mut c = config();
        c.keepalive_interval = Duration::from_secs(10);
        c.keepalive_timeout = Duration::from_secs(5);
        let mut l = Listener::new(c);
        l.start(Instant(0));
        l.handle_connected(Instant(0));
        drain(&mut l);
        l.handle_timeout(Instant(10_000));
        assert_eq!(drain(&mut l), vec![ListenerOutput::Ping]);
        l.handle_timeout(Instant(15_000));
        let out = drain(&mut l);
        assert!(matches!(out[0], ListenerOutput::Close { code: 1001, .. }));
        assert!(matches!(out[1], ListenerOutput::Offline { .. }));
        assert_eq!(l.poll_timeout(), Some(Instant(15_000)));
    }

    #[test]
    fn turns_control_messages_into_events() {
        let mut l = Listener::new(config());
        l.start(Instant(0));
        l.handle_connected(Instant(0));
        drain(&mut l);
        l.handle_text(Instant(1), r#"{"accept":{"address":"ws://x/$hc/hc1?sb-hc-action=accept&sb-hc-id=1","id":"1","connectHeaders":{"Sec-WebSocket-Key":"k"}}}"#);
        l.handle_text(Instant(1), r#"{"request":{"address":"ws://x/a","id":"2"}}"#);
        l.handle_text(Instant(1), r#"{"request":{"address":"ws://x/b","id":"3","requestTarget":"/hc1","method":"POST","requestHeaders":{},"body":true}}"#);
        assert_eq!(drain(&mut l).len(), 2, "body pending");
        l.handle_binary(Instant(2), b"he", false);
        l.handle_binary(Instant(2), b"llo", true);
        l.handle_text(Instant(3), r#"{"mystery":{}}"#);
        let out = drain(&mut l);
        let [ListenerOutput::Request { request, body }] = &out[..] else {
            panic!("{out:?}")
        };
        assert_eq!(request.id, "3");
        assert_eq!(body.as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn inline_response_is_message_then_body() {
        let mut l = Listener::new(config());
        assert!(l.fits_inline(64 * 1024));
        assert!(!l.fits_inline(64 * 1024 + 1));
        l.respond_inline("9", 200, None, Headers::new(), Bytes::from_static(b"ok"));
        let out = drain(&mut l);
        let ListenerOutput::SendText(t) = &out[0] else {
            panic!()
        };
        assert!(t.contains(r#""statusDescription":"OK""#) && t.contains(r#""body":true"#));
        assert_eq!(
            out[1],
            ListenerOutput::SendBinary(Bytes::from_static(b"ok"))
        );
    }

    #[test]
    fn response_policy() {
        let l = Listener::new(config());
        assert_eq!(l.plan_response(Some(0), 10, true), ResponsePlan::Inline);
        assert_eq!(l.plan_response(Some(65536), 10, true), ResponsePlan::Inline);
        assert_eq!(l.plan_response(Some(65537), 10, true), ResponsePlan::Stream);
        assert_eq!(l.plan_response(None, 10, true), ResponsePlan::Stream);
        assert_eq!(l.plan_response(Some(5), 40_000, true), ResponsePlan::Stream);
        assert_eq!(l.plan_response(Some(5), 10, false), ResponsePlan::Whole);
        assert_eq!(
            l.plan_response(Some(70_000), 10, false),
            ResponsePlan::Stream
        );
        assert_eq!(l.plan_response(None, 10, false), ResponsePlan::Stream);
    }
}
