//! The sender side, sans-IO: what to send to reach a listener (URL, token header) and what
//! a relay's answer means, with the retry rule of the SDKs.
//!
//! A WebSocket sender's handshake can fail transiently: 404 means "no listener right now"
//! (the .NET client retries it) and 5xx are relay hiccups. [`SenderAttempts`] turns those
//! into retries with backoff until the operation deadline, and everything else (401, 403,
//! a listener's reject status) into a final answer.
//!
//! What it does not do: no sockets, no HTTP or WebSocket framing; the driver opens the
//! connection [`SenderAttempts::poll_connect`] names and reports the status it got.

use crate::relay::address::Endpoint;
use crate::relay::listener::TokenSource;
use crate::relay::sas::create_token;
use crate::time::{Instant, UnixTime};
use std::time::Duration;

/// Where a sender goes and how it signs.
#[derive(Debug, Clone)]
pub struct SenderConfig {
    /// The relay namespace.
    pub endpoint: Endpoint,
    /// The hybrid connection.
    pub entity_path: String,
    /// Tokens (`None`: anonymous sender).
    pub token: Option<TokenSource>,
    /// Lifetime of created tokens.
    pub token_ttl: Duration,
    /// Unix time in milliseconds at `Instant(0)`.
    pub unix_origin_ms: u64,
}

/// One request to make: URL and extra headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderRequest {
    /// Where to send it.
    pub url: String,
    /// Headers to add (the token as `ServiceBusAuthorization`).
    pub headers: Vec<(String, String)>,
}

impl SenderConfig {
    fn token_at(&self, now: Instant) -> Option<String> {
        match self.token.as_ref()? {
            TokenSource::Fixed(t) => Some(t.clone()),
            TokenSource::SharedKey { key_name, key } => {
                let expiry = (self.unix_origin_ms + now.0) / 1000 + self.token_ttl.as_secs().max(1);
                let audience = self.endpoint.audience(&self.entity_path);
                Some(create_token(&audience, key_name, key, UnixTime(expiry)))
            }
        }
    }

    fn with_token(&self, url: String, now: Instant) -> SenderRequest {
        let headers = self
            .token_at(now)
            .map(|t| vec![("ServiceBusAuthorization".to_string(), t)])
            .unwrap_or_default();
        SenderRequest { url, headers }
    }

    /// The WebSocket upgrade for `sb-hc-action=connect`, with an optional path suffix and app
    /// query and a tracking id.
    pub fn websocket(
        &self,
        now: Instant,
        suffix: Option<&str>,
        app_query: Option<&str>,
        id: Option<&str>,
    ) -> SenderRequest {
        let url = self
            .endpoint
            .connect_url(&self.entity_path, suffix, app_query, id, None);
        self.with_token(url, now)
    }

    /// An HTTP request to `{entity}{path_and_query}` (no `$hc`).
    pub fn http(&self, now: Instant, path_and_query: Option<&str>) -> SenderRequest {
        let url = self.endpoint.http_url(&self.entity_path, path_and_query);
        self.with_token(url, now)
    }
}

/// What a relay's answer to a sender's WebSocket handshake means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectOutcome {
    /// Connected; the listener chose this subprotocol.
    Connected,
    /// Worth retrying: no listener yet (404), relay busy or failing (5xx but 501/505).
    Transient {
        /// The status.
        status: u16,
    },
    /// Final: auth failure, a listener's reject status, or another client error.
    Failed {
        /// The status.
        status: u16,
    },
}

/// Classifies a handshake answer.
pub fn classify(status: u16) -> ConnectOutcome {
    match status {
        101 => ConnectOutcome::Connected,
        404 | 408 | 429 | 500 | 502 | 503 | 504 => ConnectOutcome::Transient { status },
        _ => ConnectOutcome::Failed { status },
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptStep {
    /// Open this WebSocket now.
    Connect(SenderRequest),
    /// Wait until this instant, then call [`SenderAttempts::handle_timeout`].
    Wait(Instant),
    /// Done: connected.
    Connected,
    /// Done: failed with this status (or `None`: the deadline passed with no answer).
    Failed(Option<u16>),
}

/// A WebSocket connect with retries of transient failures until a deadline (the .NET
/// client's operation timeout, 70 s by default), backoff 0, 1, 2, 5, 10, 30 s.
#[derive(Debug, Clone)]
pub struct SenderAttempts {
    config: SenderConfig,
    suffix: Option<String>,
    app_query: Option<String>,
    deadline: Instant,
    attempt: usize,
    step: AttemptStep,
    last_status: Option<u16>,
}

const BACKOFF_SECS: [u64; 6] = [0, 1, 2, 5, 10, 30];

impl SenderAttempts {
    /// Starts a connect at `now` that gives up at `now + timeout`.
    pub fn new(
        config: SenderConfig,
        now: Instant,
        timeout: Duration,
        suffix: Option<&str>,
        app_query: Option<&str>,
    ) -> Self {
        let step = AttemptStep::Connect(config.websocket(now, suffix, app_query, None));
        SenderAttempts {
            config,
            suffix: suffix.map(str::to_string),
            app_query: app_query.map(str::to_string),
            deadline: now + timeout,
            attempt: 0,
            step,
            last_status: None,
        }
    }

    /// What to do now.
    #[must_use]
    pub fn poll_step(&self) -> &AttemptStep {
        &self.step
    }

    /// The driver got this status for the last [`AttemptStep::Connect`] (`None`: the
    /// connection failed before any answer, treated as transient).
    pub fn handle_response(&mut self, now: Instant, status: Option<u16>) {
        let outcome = match status {
            Some(s) => classify(s),
            None => ConnectOutcome::Transient { status: 0 },
        };
        self.last_status = status.or(self.last_status);
        self.step = match outcome {
            ConnectOutcome::Connected => AttemptStep::Connected,
            ConnectOutcome::Failed { status } => AttemptStep::Failed(Some(status)),
            ConnectOutcome::Transient { .. } => {
                let delay =
                    Duration::from_secs(BACKOFF_SECS[self.attempt.min(BACKOFF_SECS.len() - 1)]);
                self.attempt += 1;
                let at = now + delay;
                if at >= self.deadline {
                    AttemptStep::Failed(self.last_status)
                } else {
                    AttemptStep::Wait(at)
                }
            }
        };
        if self.step == AttemptStep::Wait(now) {
            self.retry(now);
        }
    }

    /// Time passed; a due retry becomes a new [`AttemptStep::Connect`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if let AttemptStep::Wait(at) = self.step {
            if now >= self.deadline {
                self.step = AttemptStep::Failed(self.last_status);
            } else if now >= at {
                self.retry(now);
            }
        }
    }

    fn retry(&mut self, now: Instant) {
        self.step = AttemptStep::Connect(self.config.websocket(
            now,
            self.suffix.as_deref(),
            self.app_query.as_deref(),
            None,
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::relay::sas::{Audience, Rights, SasValidator, SharedAccessRule, TokenValidator};

    fn config() -> SenderConfig {
        SenderConfig {
            endpoint: Endpoint::new(false, "127.0.0.1", Some(9090)),
            entity_path: "hc1".into(),
            token: Some(TokenSource::SharedKey {
                key_name: "send".into(),
                key: "k".into(),
            }),
            token_ttl: Duration::from_secs(3600),
            unix_origin_ms: 1_700_000_000_000,
        }
    }

    #[test]
    fn requests_carry_a_valid_send_token() {
        let c = config();
        let ws = c.websocket(Instant(0), Some("chat"), Some("a=1"), Some("id7"));
        assert!(
            ws.url
                .starts_with("ws://127.0.0.1:9090/$hc/hc1/chat?a=1&sb-hc-action=connect"),
            "{}",
            ws.url
        );
        let http = c.http(Instant(0), Some("/x?y=1"));
        assert_eq!(http.url, "http://127.0.0.1:9090/hc1/x?y=1");
        let v = SasValidator::new(vec![SharedAccessRule::new("send", "k", Rights::SEND)]);
        for r in [ws, http] {
            let (name, token) = &r.headers[0];
            assert_eq!(name, "ServiceBusAuthorization");
            let aud = Audience {
                host: "127.0.0.1",
                path: "hc1",
            };
            assert!(
                v.validate(token, &aud, Rights::SEND, UnixTime(1_700_000_000))
                    .is_ok()
            );
        }
        let anonymous = SenderConfig {
            token: None,
            ..config()
        };
        assert!(anonymous.http(Instant(0), None).headers.is_empty());
    }

    #[test]
    fn classification() {
        assert_eq!(classify(101), ConnectOutcome::Connected);
        assert_eq!(classify(404), ConnectOutcome::Transient { status: 404 });
        assert_eq!(classify(503), ConnectOutcome::Transient { status: 503 });
        for s in [400, 401, 403, 410, 418, 501] {
            assert_eq!(classify(s), ConnectOutcome::Failed { status: s });
        }
    }

    #[test]
    fn retries_404_with_backoff_until_the_deadline() {
        let mut a = SenderAttempts::new(config(), Instant(0), Duration::from_secs(10), None, None);
        assert!(matches!(a.poll_step(), AttemptStep::Connect(_)));
        // First retry is immediate.
        a.handle_response(Instant(10), Some(404));
        assert!(matches!(a.poll_step(), AttemptStep::Connect(_)));
        a.handle_response(Instant(20), Some(404));
        assert_eq!(a.poll_step(), &AttemptStep::Wait(Instant(1_020)));
        a.handle_timeout(Instant(1_000));
        assert_eq!(a.poll_step(), &AttemptStep::Wait(Instant(1_020)));
        a.handle_timeout(Instant(1_020));
        assert!(matches!(a.poll_step(), AttemptStep::Connect(_)));
        a.handle_response(Instant(1_030), None);
        assert_eq!(a.poll_step(), &AttemptStep::Wait(Instant(3_030)));
        a.handle_timeout(Instant(3_030));
        a.handle_response(Instant(3_040), Some(503));
        // 5 s later would pass 10 s? 3.04 + 5 = 8.04 < 10: wait.
        assert_eq!(a.poll_step(), &AttemptStep::Wait(Instant(8_040)));
        a.handle_timeout(Instant(8_040));
        a.handle_response(Instant(8_050), Some(404));
        // 8.05 + 10 s is past the deadline: give up with the last status.
        assert_eq!(a.poll_step(), &AttemptStep::Failed(Some(404)));
    }

    #[test]
    fn final_answers_end_at_once() {
        let mut a = SenderAttempts::new(config(), Instant(0), Duration::from_secs(70), None, None);
        a.handle_response(Instant(1), Some(401));
        assert_eq!(a.poll_step(), &AttemptStep::Failed(Some(401)));
        let mut b = SenderAttempts::new(config(), Instant(0), Duration::from_secs(70), None, None);
        b.handle_response(Instant(1), Some(101));
        assert_eq!(b.poll_step(), &AttemptStep::Connected);
    }
}
