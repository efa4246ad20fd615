//! Settings and counters of hub connections (`interlink_hub_options`, `interlink_hub_stats`),
//! shared by the client and server handles.

use std::time::Duration;

use interlink_core::hub::{ConnectionOptions, ConnectionStats};

use crate::boundary::interlink_result;
use crate::memory::write_out;

/// Settings of a hub connection (client or server). Zero fields take the defaults (ASP.NET
/// Core's and the JS client's, in parentheses), so `{0}` is a valid value; or fill it with
/// interlink_hub_options_default and change what you need. Copied by the *_new functions.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct interlink_hub_options {
    /// Send a Ping after this much send silence (15000 ms).
    pub keep_alive_interval_ms: u64,
    /// Close after this much receive silence (30000 ms): the server's client timeout or the
    /// client's server timeout.
    pub timeout_ms: u64,
    /// How long the peer may take to complete the handshake (15000 ms).
    pub handshake_timeout_ms: u64,
    /// Largest message accepted from the peer, the handshake included (32768 bytes).
    pub max_message_size: u64,
    /// Stateful reconnect: bytes of un-acked messages kept for replay before
    /// *_is_send_buffer_full says to hold sends back (100000).
    pub stateful_buffer_bytes: u64,
    /// Stateful reconnect: how long after new messages arrive the Ack goes out (1000 ms).
    pub ack_interval_ms: u64,
    /// True turns keep-alive off (Pings and the receive timeout), e.g. for long polling,
    /// which keeps itself alive (false).
    pub keep_alive_disabled: bool,
}

fn size(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn ms(v: u64, default: Duration) -> Duration {
    if v == 0 {
        default
    } else {
        Duration::from_millis(v)
    }
}

impl interlink_hub_options {
    /// Core options from these (zero fields: the defaults).
    pub fn to_core(&self) -> ConnectionOptions {
        let d = ConnectionOptions::default();
        ConnectionOptions {
            keep_alive_interval: ms(self.keep_alive_interval_ms, d.keep_alive_interval),
            timeout: ms(self.timeout_ms, d.timeout),
            handshake_timeout: ms(self.handshake_timeout_ms, d.handshake_timeout),
            max_message_size: match self.max_message_size {
                0 => d.max_message_size,
                v => size(v),
            },
            stateful_buffer_bytes: match self.stateful_buffer_bytes {
                0 => d.stateful_buffer_bytes,
                v => size(v),
            },
            ack_interval: ms(self.ack_interval_ms, d.ack_interval),
            keep_alive_enabled: !self.keep_alive_disabled,
        }
    }

    /// Core options from an optional C pointer (NULL: the defaults).
    ///
    /// # Safety
    /// `p` is NULL or valid for reading.
    pub unsafe fn read(p: *const Self) -> ConnectionOptions {
        // SAFETY: forwarded contract.
        unsafe { p.as_ref() }.copied().unwrap_or_default().to_core()
    }
}

impl From<&ConnectionOptions> for interlink_hub_options {
    fn from(o: &ConnectionOptions) -> Self {
        interlink_hub_options {
            keep_alive_interval_ms: o.keep_alive_interval.as_millis() as u64,
            timeout_ms: o.timeout.as_millis() as u64,
            handshake_timeout_ms: o.handshake_timeout.as_millis() as u64,
            max_message_size: o.max_message_size as u64,
            stateful_buffer_bytes: o.stateful_buffer_bytes as u64,
            ack_interval_ms: o.ack_interval.as_millis() as u64,
            keep_alive_disabled: !o.keep_alive_enabled,
        }
    }
}

/// Fills `options` with the defaults (every field set explicitly).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_options_default(
    options: *mut interlink_hub_options,
) -> interlink_result {
    ffi!(options => {
        let d = interlink_hub_options::from(&ConnectionOptions::default());
        // SAFETY: checked out-pointer.
        unsafe { write_out(options, d, "options") }
    })
}

/// Counters of one hub connection, for diagnostics and tests.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct interlink_hub_stats {
    /// Pings sent after send silence.
    pub pings_sent: u64,
    /// Pings received.
    pub pings_received: u64,
    /// Acks sent (stateful reconnect).
    pub acks_sent: u64,
    /// Sequence messages sent, one per re-attached transport (stateful reconnect).
    pub sequences_sent: u64,
    /// Hub messages sent (the handshake not included).
    pub messages_sent: u64,
    /// Hub messages received (the handshake not included).
    pub messages_received: u64,
    /// Replayed messages dropped because they had been processed (stateful reconnect).
    pub duplicates_dropped: u64,
}

impl From<ConnectionStats> for interlink_hub_stats {
    fn from(s: ConnectionStats) -> Self {
        interlink_hub_stats {
            pings_sent: s.pings_sent,
            pings_received: s.pings_received,
            acks_sent: s.acks_sent,
            sequences_sent: s.sequences_sent,
            messages_sent: s.messages_sent,
            messages_received: s.messages_received,
            duplicates_dropped: s.duplicates_dropped,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_default_and_defaults_round_trip() {
        let zero = interlink_hub_options::default().to_core();
        let d = ConnectionOptions::default();
        assert_eq!(zero.timeout, d.timeout);
        assert_eq!(zero.max_message_size, d.max_message_size);
        assert!(zero.keep_alive_enabled);
        let mut filled = interlink_hub_options::default();
        assert_eq!(
            unsafe { interlink_hub_options_default(&mut filled) },
            interlink_result::Ok
        );
        assert_eq!(filled.keep_alive_interval_ms, 15_000);
        assert_eq!(filled.to_core().ack_interval, d.ack_interval);
    }
}
