//! Keep-alive and timeouts of a hub connection (spec `signalr.md` §6), in virtual time.
//!
//! - [`KeepAlive`]: send a Ping after `interval` without sending anything (15 s), give up
//!   after `timeout` without receiving anything (30 s). The same rules serve both ends: the
//!   .NET server (KeepAliveInterval / ClientTimeoutInterval) and the JS client
//!   (keepAliveIntervalInMilliseconds / serverTimeoutInMilliseconds).
//! - [`HandshakeDeadline`]: the handshake must complete within 15 s.
//!
//! What it does not do: it sends nothing and closes nothing. It tells the driver when to wake
//! up ([`KeepAlive::poll_timeout`]) and what is due then ([`KeepAlive::handle_timeout`]); the
//! driver writes the Ping, or sends Close and aborts the transport.

use std::time::Duration;

use crate::time::Instant;

/// Default Ping interval after send silence (.NET KeepAliveInterval, JS keepAlive).
pub const DEFAULT_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(15);
/// Default receive-silence timeout (.NET ClientTimeoutInterval, JS serverTimeout).
pub const DEFAULT_KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(30);
/// Default handshake timeout (.NET HandshakeTimeout).
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(15);

/// Settings of a [`KeepAlive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeepAliveConfig {
    /// Send a Ping after this long without sending anything.
    pub interval: Duration,
    /// The peer is gone after this long without receiving anything (rule of thumb: twice the
    /// peer's interval).
    pub timeout: Duration,
    /// False on transports with inherent keep-alive (long polling): nothing ever fires.
    pub enabled: bool,
}

impl Default for KeepAliveConfig {
    fn default() -> Self {
        KeepAliveConfig {
            interval: DEFAULT_KEEPALIVE_INTERVAL,
            timeout: DEFAULT_KEEPALIVE_TIMEOUT,
            enabled: true,
        }
    }
}

impl KeepAliveConfig {
    /// Settings for long polling: keep-alive disabled.
    pub fn disabled() -> Self {
        KeepAliveConfig {
            enabled: false,
            ..KeepAliveConfig::default()
        }
    }
}

/// What is due at a keep-alive timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveAction {
    /// Nothing was sent for `interval`: send a Ping (it counts as a send).
    SendPing,
    /// Nothing was received for `timeout`: the peer is gone. Send Close with an error if the
    /// transport still works, then abort it. Fires once.
    TimedOut,
}

/// Keep-alive timers of one connection. Start it when the handshake completes.
///
/// Driving: call [`on_send`](Self::on_send) for every message written (any type) and
/// [`on_receive`](Self::on_receive) for every message read; sleep until
/// [`poll_timeout`](Self::poll_timeout) and call [`handle_timeout`](Self::handle_timeout),
/// which returns at most one action per call (call it again until `None`).
#[derive(Debug, Clone)]
pub struct KeepAlive {
    config: KeepAliveConfig,
    last_send: Instant,
    last_receive: Instant,
    timed_out: bool,
}

impl KeepAlive {
    /// Timers counting from `now` in both directions.
    pub fn new(config: KeepAliveConfig, now: Instant) -> Self {
        KeepAlive {
            config,
            last_send: now,
            last_receive: now,
            timed_out: false,
        }
    }

    /// Settings in force.
    pub fn config(&self) -> &KeepAliveConfig {
        &self.config
    }

    /// We wrote a message at `now`: postpones the next Ping.
    pub fn on_send(&mut self, now: Instant) {
        self.last_send = self.last_send.max(now);
    }

    /// We read a message at `now`: postpones the timeout. Does not postpone Pings (the peer
    /// needs our traffic, not its own).
    pub fn on_receive(&mut self, now: Instant) {
        self.last_receive = self.last_receive.max(now);
    }

    /// True once [`KeepAliveAction::TimedOut`] fired.
    pub fn is_timed_out(&self) -> bool {
        self.timed_out
    }

    fn ping_at(&self) -> Instant {
        self.last_send + self.config.interval
    }

    fn timeout_at(&self) -> Instant {
        self.last_receive + self.config.timeout
    }

    /// When [`handle_timeout`](Self::handle_timeout) has something to do; `None` when
    /// disabled or timed out.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if !self.config.enabled || self.timed_out {
            return None;
        }
        Some(self.ping_at().min(self.timeout_at()))
    }

    /// What is due at `now`. The timeout wins over a Ping due at the same time.
    #[must_use = "a returned action must be carried out"]
    pub fn handle_timeout(&mut self, now: Instant) -> Option<KeepAliveAction> {
        if !self.config.enabled || self.timed_out {
            return None;
        }
        if now >= self.timeout_at() {
            self.timed_out = true;
            return Some(KeepAliveAction::TimedOut);
        }
        if now >= self.ping_at() {
            self.last_send = now;
            return Some(KeepAliveAction::SendPing);
        }
        None
    }
}

/// The deadline for completing the handshake (request read on a server, response read on a
/// client). The .NET server answers an expired one with `Handshake was canceled.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeDeadline {
    deadline: Option<Instant>,
}

impl HandshakeDeadline {
    /// A deadline `timeout` after `now`.
    pub fn new(now: Instant, timeout: Duration) -> Self {
        HandshakeDeadline {
            deadline: Some(now + timeout),
        }
    }

    /// A deadline 15 s after `now`.
    pub fn with_default(now: Instant) -> Self {
        HandshakeDeadline::new(now, DEFAULT_HANDSHAKE_TIMEOUT)
    }

    /// The handshake completed: the deadline no longer applies.
    pub fn complete(&mut self) {
        self.deadline = None;
    }

    /// When to check again; `None` once completed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// True if the handshake is still pending at or after the deadline.
    pub fn is_expired(&self, now: Instant) -> bool {
        self.deadline.is_some_and(|d| now >= d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Instant {
        Instant::from_millis(secs * 1000)
    }

    #[test]
    fn ping_only_after_send_silence() {
        let mut ka = KeepAlive::new(KeepAliveConfig::default(), s(0));
        assert_eq!(ka.poll_timeout(), Some(s(15)));
        assert_eq!(ka.handle_timeout(s(14)), None);
        ka.on_send(s(10));
        assert_eq!(ka.poll_timeout(), Some(s(25)), "a send postpones the Ping");
        ka.on_receive(s(20));
        assert_eq!(ka.handle_timeout(s(24)), None);
        assert_eq!(ka.handle_timeout(s(25)), Some(KeepAliveAction::SendPing));
        assert_eq!(ka.handle_timeout(s(25)), None, "the Ping counts as a send");
        assert_eq!(ka.poll_timeout(), Some(s(40)));
    }

    #[test]
    fn receives_do_not_postpone_pings() {
        let mut ka = KeepAlive::new(KeepAliveConfig::default(), s(0));
        for t in 1..15 {
            ka.on_receive(s(t));
        }
        assert_eq!(ka.handle_timeout(s(15)), Some(KeepAliveAction::SendPing));
    }

    #[test]
    fn timeout_only_after_receive_silence() {
        let mut ka = KeepAlive::new(KeepAliveConfig::default(), s(0));
        // Sending keeps going (our Pings), the peer stays silent.
        let mut now = s(0);
        while let Some(at) = ka.poll_timeout() {
            now = at;
            if let Some(action) = ka.handle_timeout(now) {
                if action == KeepAliveAction::TimedOut {
                    break;
                }
                ka.on_send(now);
            }
        }
        assert_eq!(now, s(30));
        assert!(ka.is_timed_out());
        assert_eq!(ka.poll_timeout(), None);
        assert_eq!(ka.handle_timeout(s(100)), None, "fires once");
    }

    #[test]
    fn receives_postpone_the_timeout_sends_do_not() {
        let mut ka = KeepAlive::new(KeepAliveConfig::default(), s(0));
        ka.on_send(s(29));
        ka.on_receive(s(20));
        assert_eq!(ka.handle_timeout(s(30)), None);
        assert_eq!(ka.handle_timeout(s(50)), Some(KeepAliveAction::TimedOut));
    }

    #[test]
    fn timeout_wins_when_both_are_due() {
        let cfg = KeepAliveConfig {
            interval: Duration::from_secs(30),
            ..KeepAliveConfig::default()
        };
        let mut ka = KeepAlive::new(cfg, s(0));
        assert_eq!(ka.handle_timeout(s(30)), Some(KeepAliveAction::TimedOut));
    }

    #[test]
    fn disabled_never_fires() {
        let mut ka = KeepAlive::new(KeepAliveConfig::disabled(), s(0));
        assert_eq!(ka.poll_timeout(), None);
        assert_eq!(ka.handle_timeout(s(3600)), None);
        assert!(!ka.is_timed_out());
    }

    #[test]
    fn out_of_order_instants_do_not_move_timers_back() {
        let mut ka = KeepAlive::new(KeepAliveConfig::default(), s(0));
        ka.on_send(s(10));
        ka.on_send(s(5));
        assert_eq!(ka.poll_timeout(), Some(s(25)));
    }

    #[test]
    fn handshake_deadline() {
        let mut hs = HandshakeDeadline::with_default(s(1));
        assert_eq!(hs.poll_timeout(), Some(s(16)));
        assert!(!hs.is_expired(s(15)));
        assert!(hs.is_expired(s(16)));
        hs.complete();
        assert_eq!(hs.poll_timeout(), None);
        assert!(!hs.is_expired(s(100)));
    }
}
