//! The native side of `interlink.Gateway`: the relay gateway server on smol, and the
//! settings shared with the sans-IO `GatewayMachine` (rules, hybrid connections, limits).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use interlink::net::ServerTls;
use interlink::relay::{GatewayOptions, GatewayServer};
use interlink_core::relay::gateway::{GatewayConfig, HybridConnectionConfig, Limits};
use interlink_core::relay::sas::{Rights, SharedAccessRule};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convert::seconds;
use crate::detach::detached;
use crate::errors;

/// SAS rules from `(name, key, rights)` tuples (`rights` like `"listen,send"`).
pub fn rules_of(rules: Vec<(String, String, String)>) -> PyResult<Vec<SharedAccessRule>> {
    rules
        .into_iter()
        .map(|(name, key, rights)| {
            let rights = Rights::parse_list(&rights)
                .map_err(|e| errors::config("invalid_rights", e.to_string()))?;
            Ok(SharedAccessRule::new(name, key, rights))
        })
        .collect()
}

/// Hybrid connections from `(name, anonymous)` pairs.
pub fn hybrid_connections_of(hcs: Vec<(String, bool)>) -> Vec<HybridConnectionConfig> {
    hcs.into_iter()
        .map(|(name, anonymous)| {
            if anonymous {
                HybridConnectionConfig::anonymous(name)
            } else {
                HybridConnectionConfig::new(name)
            }
        })
        .collect()
}

/// Applies `limits` (the names of the gateway's TOML `[limits]`, plus `close_linger_secs`
/// when `linger` is given) to `l`. Unknown names raise `ConfigError`.
pub fn apply_limits(
    l: &mut Limits,
    limits: HashMap<String, f64>,
    mut linger: Option<&mut Duration>,
) -> PyResult<()> {
    for (name, value) in limits {
        let count = || -> PyResult<usize> {
            if value >= 0.0 && value.fract() == 0.0 {
                Ok(value as usize)
            } else {
                Err(errors::config(
                    "invalid_limit",
                    format!("{name} must be a whole number >= 0, got {value}"),
                ))
            }
        };
        match name.as_str() {
            "max_listeners_per_connection" => l.max_listeners_per_connection = count()?,
            "max_pending_rendezvous_per_connection" => {
                l.max_pending_rendezvous_per_connection = count()?
            }
            "control_body_max_bytes" => l.control_body_max_bytes = count()?,
            "control_message_max_bytes" => l.control_message_max_bytes = count()?,
            "request_headers_max_bytes" => l.request_headers_max_bytes = count()?,
            "max_request_body_bytes" => l.max_request_body_bytes = Some(count()? as u64),
            "accept_timeout_secs" => l.accept_timeout = seconds(&name, value)?,
            "response_timeout_secs" => l.response_timeout = seconds(&name, value)?,
            "response_idle_timeout_secs" => l.response_idle_timeout = seconds(&name, value)?,
            "token_expiry_grace_secs" => l.token_expiry_grace_secs = count()? as u64,
            "keepalive_interval_secs" => l.keepalive_interval = seconds(&name, value)?,
            "keepalive_timeout_secs" => l.keepalive_timeout = seconds(&name, value)?,
            "close_linger_secs" if linger.is_some() => {
                if let Some(d) = linger.as_deref_mut() {
                    *d = seconds(&name, value)?;
                }
            }
            _ => {
                return Err(errors::config(
                    "invalid_limit",
                    format!("unknown limit {name:?}"),
                ));
            }
        }
    }
    Ok(())
}

/// The native gateway; `interlink.Gateway` wraps it.
#[pyclass(frozen, module = "interlink._interlink")]
pub struct NativeGateway {
    server: Mutex<Option<GatewayServer>>,
    addr: SocketAddr,
    connection_string: String,
}

#[pymethods]
impl NativeGateway {
    /// Binds and starts serving (see `interlink.Gateway.start`).
    #[staticmethod]
    #[pyo3(signature = (bind = "127.0.0.1:0".to_string(), rules = None, hybrid_connections = None, limits = HashMap::new(), tls = None))]
    async fn start(
        bind: String,
        rules: Option<Vec<(String, String, String)>>,
        hybrid_connections: Option<Vec<(String, bool)>>,
        limits: HashMap<String, f64>,
        tls: Option<(Vec<u8>, Vec<u8>)>,
    ) -> PyResult<NativeGateway> {
        let mut options = GatewayOptions::local();
        options.bind = bind
            .parse()
            .map_err(|e| errors::config("invalid_argument", format!("bind {bind:?}: {e}")))?;
        if let Some(rules) = rules {
            options.rules = rules_of(rules)?;
        }
        let mut config = GatewayConfig {
            hybrid_connections: hybrid_connections.map(hybrid_connections_of),
            ..GatewayConfig::default()
        };
        apply_limits(&mut config.limits, limits, Some(&mut options.close_linger))?;
        options.config = config;
        if let Some((cert, key)) = tls {
            options.tls = Some(
                ServerTls::from_pem(&cert, &key)
                    .map_err(|e| errors::config("tls", e.to_string()))?,
            );
        }
        let server = detached(async move { GatewayServer::start(options).await })
            .await
            .map_err(|e| errors::to_pyerr(errors::classify_io(&e)))?;
        Ok(NativeGateway {
            addr: server.local_addr(),
            connection_string: server.connection_string().to_string(),
            server: Mutex::new(Some(server)),
        })
    }

    /// The bound address, `"127.0.0.1:PORT"`.
    #[getter]
    fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The bound port.
    #[getter]
    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// A ready-to-use connection string for the gateway's managing rule.
    #[getter]
    fn connection_string(&self) -> String {
        self.connection_string.clone()
    }

    /// Counters: `listeners`, `pending_accepts`, `pending_requests` (empty once closed).
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let stats = py.detach(|| {
            self.server
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(GatewayServer::stats)
        });
        let d = PyDict::new(py);
        if let Some(s) = stats {
            d.set_item("listeners", s.listeners)?;
            d.set_item("pending_accepts", s.pending_accepts)?;
            d.set_item("pending_requests", s.pending_requests)?;
        }
        Ok(d)
    }

    /// Stops accepting, closes control channels and rendezvous with 1001 and returns once
    /// the port is closed. Idempotent.
    async fn close(&self) {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(s) = server {
            detached(async move { s.shutdown().await }).await;
        }
    }
}
