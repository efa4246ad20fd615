//! Gateway settings shared by [`Gateway`](crate::gateway::Gateway) and
//! [`GatewayMachine`](crate::machine::GatewayMachine): hybrid connections and limits, in the
//! units JavaScript uses (milliseconds, plain numbers).

use std::time::Duration;

use interlink_core::relay::gateway::{GatewayConfig, HybridConnectionConfig, Limits};
use napi::bindgen_prelude::Either;
use napi_derive::napi;

use crate::error::BindResult;
use crate::token::whole;

/// A hybrid connection the gateway serves.
#[napi(object)]
#[derive(Clone)]
pub struct HybridConnectionSpec {
    /// Its name (may contain `/`).
    pub name: String,
    /// `true`: senders need no token (`RequiresClientAuthorization=false`).
    pub anonymous: Option<bool>,
}

/// Limits and deadlines; every field defaults to Azure Relay's value.
#[napi(object)]
#[derive(Clone, Default)]
pub struct GatewayLimits {
    /// Listeners per hybrid connection (25).
    pub max_listeners_per_connection: Option<u32>,
    /// Senders waiting for a rendezvous per hybrid connection (1000).
    pub max_pending_rendezvous_per_connection: Option<u32>,
    /// Largest body carried on the control channel (65536).
    pub control_body_max_bytes: Option<u32>,
    /// Largest control message from a listener (65536).
    pub control_message_max_bytes: Option<u32>,
    /// Largest request headers of a sender (32768; 431 beyond).
    pub request_headers_max_bytes: Option<u32>,
    /// Largest request body a sender may stream (unbounded; 413 beyond).
    pub max_request_body_bytes: Option<f64>,
    /// How long a sender may take to deliver a small request body (60000 ms; 408 after).
    pub request_body_timeout_ms: Option<f64>,
    /// How long an accept or request address stays valid (30000 ms).
    pub accept_timeout_ms: Option<f64>,
    /// How long the gateway waits for a listener's response (60000 ms; 504 after).
    pub response_timeout_ms: Option<f64>,
    /// Longest silence inside a streamed response body (60000 ms).
    pub response_idle_timeout_ms: Option<f64>,
    /// Seconds a token stays valid after its expiry (300).
    pub token_expiry_grace_secs: Option<f64>,
    /// Interval of keepalive pings on control channels (210000 ms).
    pub keepalive_interval_ms: Option<f64>,
    /// A control channel silent this long after a ping is closed (60000 ms).
    pub keepalive_timeout_ms: Option<f64>,
}

impl GatewayLimits {
    /// The core limits: the defaults with every given field applied.
    pub fn to_core(&self) -> BindResult<Limits> {
        let mut l = Limits::default();
        let set_count = |v: Option<u32>, field: &mut usize| {
            if let Some(n) = v {
                *field = n as usize;
            }
        };
        set_count(
            self.max_listeners_per_connection,
            &mut l.max_listeners_per_connection,
        );
        set_count(
            self.max_pending_rendezvous_per_connection,
            &mut l.max_pending_rendezvous_per_connection,
        );
        set_count(self.control_body_max_bytes, &mut l.control_body_max_bytes);
        set_count(
            self.control_message_max_bytes,
            &mut l.control_message_max_bytes,
        );
        set_count(
            self.request_headers_max_bytes,
            &mut l.request_headers_max_bytes,
        );
        if let Some(n) = self.max_request_body_bytes {
            l.max_request_body_bytes = Some(whole(n, "maxRequestBodyBytes")?);
        }
        if let Some(n) = self.token_expiry_grace_secs {
            l.token_expiry_grace_secs = whole(n, "tokenExpiryGraceSecs")?;
        }
        let durations = [
            (
                self.request_body_timeout_ms,
                "requestBodyTimeoutMs",
                &mut l.request_body_timeout,
            ),
            (
                self.accept_timeout_ms,
                "acceptTimeoutMs",
                &mut l.accept_timeout,
            ),
            (
                self.response_timeout_ms,
                "responseTimeoutMs",
                &mut l.response_timeout,
            ),
            (
                self.response_idle_timeout_ms,
                "responseIdleTimeoutMs",
                &mut l.response_idle_timeout,
            ),
            (
                self.keepalive_interval_ms,
                "keepaliveIntervalMs",
                &mut l.keepalive_interval,
            ),
            (
                self.keepalive_timeout_ms,
                "keepaliveTimeoutMs",
                &mut l.keepalive_timeout,
            ),
        ];
        for (v, what, field) in durations {
            if let Some(n) = v {
                *field = Duration::from_millis(whole(n, what)?);
            }
        }
        Ok(l)
    }
}

/// A list of hybrid connections given as names or specs.
pub type HybridConnections = Vec<Either<String, HybridConnectionSpec>>;

/// The core gateway config of the JS settings (`None` hybrid connections: any name exists).
pub fn gateway_config(
    hybrid_connections: Option<&HybridConnections>,
    limits: Option<&GatewayLimits>,
    public_base_url: Option<String>,
) -> BindResult<GatewayConfig> {
    let hybrid_connections = hybrid_connections.map(|list| {
        list.iter()
            .map(|h| match h {
                Either::A(name) => HybridConnectionConfig::new(name.clone()),
                Either::B(spec) if spec.anonymous == Some(true) => {
                    HybridConnectionConfig::anonymous(spec.name.clone())
                }
                Either::B(spec) => HybridConnectionConfig::new(spec.name.clone()),
            })
            .collect()
    });
    Ok(GatewayConfig {
        hybrid_connections,
        limits: limits.cloned().unwrap_or_default().to_core()?,
        public_base_url,
        ..GatewayConfig::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_to_azure_and_take_overrides() {
        let l = GatewayLimits::default().to_core().unwrap();
        assert_eq!(l, Limits::default());
        let l = GatewayLimits {
            accept_timeout_ms: Some(1500.0),
            max_listeners_per_connection: Some(2),
            ..Default::default()
        }
        .to_core()
        .unwrap();
        assert_eq!(l.accept_timeout, Duration::from_millis(1500));
        assert_eq!(l.max_listeners_per_connection, 2);
        let bad = GatewayLimits {
            keepalive_timeout_ms: Some(-1.0),
            ..Default::default()
        };
        assert!(bad.to_core().is_err());
    }

    #[test]
    fn hybrid_connections_by_name_or_spec() {
        let list: HybridConnections = vec![
            Either::A("a".into()),
            Either::B(HybridConnectionSpec {
                name: "b".into(),
                anonymous: Some(true),
            }),
        ];
        let c = gateway_config(Some(&list), None, None).unwrap();
        let hcs = c.hybrid_connections.unwrap();
        assert!(hcs[0].requires_client_authorization);
        assert!(!hcs[1].requires_client_authorization);
        assert!(
            gateway_config(None, None, None)
                .unwrap()
                .hybrid_connections
                .is_none()
        );
    }
}
