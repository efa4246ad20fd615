//! [`Gateway`]: the relay gateway server (Azure Relay Hybrid Connections wire protocol) on a
//! local port, started from JavaScript.

use std::net::SocketAddr;
use std::time::Duration;

use interlink::net::ServerTls;
use interlink::relay::{GatewayOptions as IoGatewayOptions, GatewayServer};
use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::config::{GatewayLimits, HybridConnections, gateway_config};
use crate::error::{BindError, BindResult, ErrorCode, promise};
use crate::registry::{self, Held};
use crate::token::{SharedAccessKey, rules_of, whole};

/// A certificate chain and key for `wss://` / `https://`.
#[napi(object)]
pub struct TlsSpec {
    /// PEM certificate chain, leaf first.
    pub cert_pem: String,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key_pem: String,
}

/// Settings of a gateway.
#[napi(object)]
#[derive(Default)]
pub struct GatewayOptions {
    /// Address to listen on (default `127.0.0.1:0`: an OS-chosen port).
    pub bind: Option<String>,
    /// SAS keys that sign valid tokens (default: one generated `RootManageSharedAccessKey`
    /// with all rights).
    pub keys: Option<Vec<SharedAccessKey>>,
    /// The hybrid connections that exist, by name or spec (default: any name).
    #[napi(ts_type = "Array<string | HybridConnectionSpec>")]
    pub hybrid_connections: Option<HybridConnections>,
    /// Limits and deadlines.
    pub limits: Option<GatewayLimits>,
    /// Base URL (`ws://host:port`) for rendezvous addresses (default: from each listener's Host).
    pub public_base_url: Option<String>,
    /// How long a paired WebSocket may go on after the first Close (default 30000 ms).
    pub close_linger_ms: Option<f64>,
    /// TLS; plaintext when absent.
    pub tls: Option<TlsSpec>,
}

/// Counters of a running gateway.
#[napi(object)]
pub struct GatewayStats {
    /// Connected listener control channels.
    pub listeners: u32,
    /// Senders waiting for a rendezvous.
    pub pending_accepts: u32,
    /// HTTP requests in flight.
    pub pending_requests: u32,
}

fn io_options(o: GatewayOptions) -> BindResult<IoGatewayOptions> {
    let mut io = IoGatewayOptions::local();
    if let Some(bind) = &o.bind {
        io.bind = bind
            .parse::<SocketAddr>()
            .map_err(|e| BindError::invalid(format!("bind {bind:?}: {e}")))?;
    }
    if let Some(keys) = &o.keys {
        io.rules = rules_of(keys)?;
    }
    io.config = gateway_config(
        o.hybrid_connections.as_ref(),
        o.limits.as_ref(),
        o.public_base_url,
    )?;
    if let Some(ms) = o.close_linger_ms {
        io.close_linger = Duration::from_millis(whole(ms, "closeLingerMs")?);
    }
    if let Some(tls) = o.tls {
        io.tls = Some(
            ServerTls::from_pem(tls.cert_pem.as_bytes(), tls.key_pem.as_bytes())
                .map_err(|e| BindError::invalid(format!("tls: {e}")))?,
        );
    }
    Ok(io)
}

/// A running relay gateway. Microsoft's `hyco-ws` / `hyco-https` and this package's listener
/// and sender talk to it. Like a `net.Server`, it runs (and keeps Node's event loop alive)
/// until `shutdown()`, even if the object itself is no longer referenced.
#[napi]
pub struct Gateway {
    id: u64,
    address: SocketAddr,
    connection_string: String,
}

#[napi]
impl Gateway {
    /// Binds and starts serving. Rejects with `ERR_INTERLINK_IO` when the address cannot be
    /// bound, `ERR_INTERLINK_INVALID_ARGUMENT` for bad options.
    #[napi(ts_return_type = "Promise<Gateway>")]
    pub fn start<'env>(
        env: &'env Env,
        options: Option<GatewayOptions>,
    ) -> napi::Result<PromiseRaw<'env, Gateway>> {
        let options = io_options(options.unwrap_or_default());
        promise(
            env,
            async move { Ok(GatewayServer::start(options?).await?) },
            |env, server| {
                let address = server.local_addr();
                let connection_string = server.connection_string().to_string();
                Ok(Gateway {
                    id: registry::hold(env, Held::Gateway(Box::new(server)))?,
                    address,
                    connection_string,
                })
            },
        )
    }

    /// The bound address, e.g. `127.0.0.1:41234`.
    #[napi(getter)]
    pub fn address(&self) -> String {
        self.address.to_string()
    }

    /// The bound port.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.address.port())
    }

    /// A ready-to-use connection string with the manage (or first) key:
    /// `Endpoint=sb://HOST:PORT/;SharedAccessKeyName=…;SharedAccessKey=…`.
    #[napi(getter)]
    pub fn connection_string(&self) -> String {
        self.connection_string.clone()
    }

    /// Connected listeners and pending work. Throws `ERR_INTERLINK_CLOSED` after `shutdown()`.
    #[napi]
    pub fn stats(&self, env: Env) -> napi::Result<GatewayStats> {
        let stats = registry::with(self.id, |e| match &e.held {
            Held::Gateway(s) => Some(s.stats()),
            Held::Listener(_) => None,
        });
        let Some(Some(st)) = stats else {
            return Err(
                BindError::new(ErrorCode::Closed, "the gateway is shut down").into_napi(&env),
            );
        };
        let n = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
        Ok(GatewayStats {
            listeners: n(st.listeners),
            pending_accepts: n(st.pending_accepts),
            pending_requests: n(st.pending_requests),
        })
    }

    /// Stops accepting, closes control channels with 1001 and drops forwarded pairs; resolves
    /// once the port is closed. Calling it again resolves at once.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn shutdown<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let entry = registry::release(self.id);
        promise(
            env,
            async move {
                if let Some(registry::Entry {
                    held: Held::Gateway(s),
                    ..
                }) = entry
                {
                    s.shutdown().await;
                }
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}
