//! Automatic reconnect: the [`ReconnectPolicy`] a client asks after its connection was lost,
//! and the JS client's default schedule.

use std::time::Duration;

use super::error::HubClientError;

/// What a [`ReconnectPolicy`] is told before each reconnect attempt (the JS client's
/// `RetryContext`).
#[derive(Debug, Clone)]
pub struct RetryContext {
    /// Failed reconnect attempts so far (0 before the first attempt).
    pub previous_retry_count: u32,
    /// Time since reconnecting began.
    pub elapsed: Duration,
    /// Why the connection was lost (first call) or why the last attempt failed.
    pub retry_reason: HubClientError,
}

/// Decides whether and when a lost connection is re-established.
///
/// Asked once when the connection is lost and again after every failed attempt; `None`
/// stops reconnecting and closes the client. A failed initial `start()` never consults
/// it, and a server Close without `allowReconnect` or a local `stop()` never reconnects.
/// It does not decide about stateful re-attaches (those are one immediate attempt).
pub trait ReconnectPolicy: Send + Sync + 'static {
    /// The delay before the next attempt, or `None` to give up.
    fn next_delay(&self, context: &RetryContext) -> Option<Duration>;
}

/// A fixed schedule: attempt *n* waits `delays[n]`; after the last one the client gives up.
/// The default is the JS client's `[0, 2, 10, 30]` seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DefaultReconnectPolicy {
    delays: Vec<Duration>,
}

impl DefaultReconnectPolicy {
    /// Waits `delays[n]` before attempt *n* (0-based); gives up after `delays.len()`
    /// attempts (at once for an empty list).
    pub fn from_delays(delays: Vec<Duration>) -> Self {
        DefaultReconnectPolicy { delays }
    }

    /// The schedule.
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }
}

impl Default for DefaultReconnectPolicy {
    fn default() -> Self {
        DefaultReconnectPolicy::from_delays([0, 2, 10, 30].map(Duration::from_secs).to_vec())
    }
}

impl ReconnectPolicy for DefaultReconnectPolicy {
    fn next_delay(&self, context: &RetryContext) -> Option<Duration> {
        self.delays
            .get(context.previous_retry_count as usize)
            .copied()
    }
}

impl<F> ReconnectPolicy for F
where
    F: Fn(&RetryContext) -> Option<Duration> + Send + Sync + 'static,
{
    fn next_delay(&self, context: &RetryContext) -> Option<Duration> {
        self(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(n: u32) -> RetryContext {
        RetryContext {
            previous_retry_count: n,
            elapsed: Duration::from_secs(u64::from(n)),
            retry_reason: HubClientError::ServerTimeout,
        }
    }

    #[test]
    fn default_schedule_is_0_2_10_30_seconds_then_stop() {
        let p = DefaultReconnectPolicy::default();
        let got: Vec<_> = (0..6).map(|n| p.next_delay(&ctx(n))).collect();
        let s = |n| Some(Duration::from_secs(n));
        assert_eq!(got, vec![s(0), s(2), s(10), s(30), None, None]);
    }

    #[test]
    fn custom_delays_and_closures() {
        let p = DefaultReconnectPolicy::from_delays(vec![Duration::from_millis(5)]);
        assert_eq!(p.next_delay(&ctx(0)), Some(Duration::from_millis(5)));
        assert_eq!(p.next_delay(&ctx(1)), None);
        assert_eq!(
            DefaultReconnectPolicy::from_delays(vec![]).next_delay(&ctx(0)),
            None
        );
        let until_elapsed = |c: &RetryContext| {
            (c.elapsed < Duration::from_secs(3)).then_some(Duration::from_millis(100))
        };
        assert_eq!(
            until_elapsed.next_delay(&ctx(2)),
            Some(Duration::from_millis(100))
        );
        assert_eq!(until_elapsed.next_delay(&ctx(3)), None);
    }
}
