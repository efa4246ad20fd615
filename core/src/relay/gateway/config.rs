//! Settings of the relay gateway: which hybrid connections exist and every limit.
//!
//! Defaults are Azure Relay's published values (spec §5). Unlike Azure, every limit is a
//! setting: the 60 s response deadline in particular is a common complaint there.

use std::time::Duration;

/// One hybrid connection the gateway serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HybridConnectionConfig {
    /// Entity name (may contain `/`); matched case-insensitively.
    pub name: String,
    /// When false, senders need no token (`RequiresClientAuthorization=false`).
    pub requires_client_authorization: bool,
}

impl HybridConnectionConfig {
    /// A hybrid connection whose senders need a Send token.
    pub fn new(name: impl Into<String>) -> Self {
        HybridConnectionConfig {
            name: name.into(),
            requires_client_authorization: true,
        }
    }

    /// A hybrid connection that lets senders in without a token.
    pub fn anonymous(name: impl Into<String>) -> Self {
        HybridConnectionConfig {
            name: name.into(),
            requires_client_authorization: false,
        }
    }
}

/// Sizes, counts and deadlines enforced by the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Listeners per hybrid connection (Azure: 25). The next one is refused with 403.
    pub max_listeners_per_connection: usize,
    /// Senders waiting for a listener's rendezvous per hybrid connection; beyond it, 503.
    pub max_pending_rendezvous_per_connection: usize,
    /// Largest request or response body carried on the control channel (Azure: 64 KB).
    /// Larger request bodies go through a rendezvous; a larger response body on the control
    /// channel closes the channel with 1009.
    pub control_body_max_bytes: usize,
    /// Largest control-channel text message accepted from a listener; beyond it, close 1009.
    pub control_message_max_bytes: usize,
    /// Largest total size of a sender's request headers (Azure: 32 KB); beyond it, 431.
    pub request_headers_max_bytes: usize,
    /// Largest request body a sender may stream; `None` = unbounded. Beyond it, 413.
    pub max_request_body_bytes: Option<u64>,
    /// How long a sender may take to deliver a small (inline) request body; 408 after.
    pub request_body_timeout: Duration,
    /// How long an accept or request address stays valid (Azure: about 30 s).
    pub accept_timeout: Duration,
    /// How long the gateway waits for a listener's response (Azure: 60 s, fixed there); 504 after.
    pub response_timeout: Duration,
    /// Longest silence inside a streamed response body (Azure: 60 s); the response is aborted after.
    pub response_idle_timeout: Duration,
    /// Extra seconds a token stays valid after its `se` (clock skew, renew-at-expiry clients).
    pub token_expiry_grace_secs: u64,
    /// Interval of the gateway's keepalive pings on control channels.
    pub keepalive_interval: Duration,
    /// A control channel silent this long after a ping is closed.
    pub keepalive_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_listeners_per_connection: 25,
            max_pending_rendezvous_per_connection: 1_000,
            control_body_max_bytes: 64 * 1024,
            control_message_max_bytes: 64 * 1024,
            request_headers_max_bytes: 32 * 1024,
            max_request_body_bytes: None,
            request_body_timeout: Duration::from_secs(60),
            accept_timeout: Duration::from_secs(30),
            response_timeout: Duration::from_secs(60),
            response_idle_timeout: Duration::from_secs(60),
            token_expiry_grace_secs: 300,
            keepalive_interval: Duration::from_secs(210),
            keepalive_timeout: Duration::from_secs(60),
        }
    }
}

/// Everything a [`Gateway`](super::Gateway) needs besides its token validator.
#[derive(Debug, Clone, Default)]
pub struct GatewayConfig {
    /// The hybrid connections that exist; `None` means any name exists and requires sender auth.
    pub hybrid_connections: Option<Vec<HybridConnectionConfig>>,
    /// Limits and deadlines.
    pub limits: Limits,
    /// Base URL (`ws://host:port` or `wss://host`) for rendezvous addresses; when `None` each
    /// listener gets addresses built from the Host header it connected with.
    pub public_base_url: Option<String>,
    /// Unix time in milliseconds at `Instant(0)`: maps the driver's monotonic clock to the
    /// wall clock that token expiry needs.
    pub unix_origin_ms: u64,
    /// Seed of the generator behind ids, rendezvous secrets and listener choice. Drivers
    /// seed it from OS entropy: accept addresses are bearer secrets.
    pub seed: u64,
}
