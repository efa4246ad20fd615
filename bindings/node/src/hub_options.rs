//! The options objects of the hub API, and their conversion to the io settings.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use interlink::hub::client::{DefaultReconnectPolicy, HubClientBuilder, HubProtocol};
use interlink::hub::server::HubOptions;
use napi::bindgen_prelude::Either;
use napi_derive::napi;

use crate::hub_error::{HubBindError, HubResult};
use crate::hub_methods::{Declared, HookFn, MethodFn, StreamFn};

/// Settings of a `HubClient`; the defaults are `@microsoft/signalr`'s.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct HubClientOptions {
    /// `'json'` (default) or `'messagepack'`.
    #[napi(ts_type = "'json' | 'messagepack'")]
    pub protocol: Option<String>,
    /// Sent as `Authorization: Bearer …` on negotiate and on the WebSocket upgrade.
    pub access_token: Option<String>,
    /// Extra headers for negotiate and the WebSocket upgrade.
    pub headers: Option<HashMap<String, String>>,
    /// Go straight to the WebSocket, without negotiate (no connection id).
    pub skip_negotiation: Option<bool>,
    /// Ask for stateful reconnect (re-attach after a lost WebSocket, nothing lost).
    pub stateful_reconnect: Option<bool>,
    /// Reconnect a lost connection: `true` waits 0, 2000, 10000, 30000 ms before the
    /// attempts; an array gives the delays (ms). Off by default.
    pub automatic_reconnect: Option<Either<bool, Vec<f64>>>,
    /// Send a Ping after this much send silence (15000 ms).
    pub keep_alive_interval_ms: Option<f64>,
    /// Close when nothing arrives for this long (30000 ms).
    pub server_timeout_ms: Option<f64>,
    /// How long the server may take to answer the handshake (15000 ms).
    pub handshake_timeout_ms: Option<f64>,
    /// Extra CA certificate (PEM) to trust for `https`/`wss`.
    pub ca_pem: Option<String>,
}

/// A whole, non-negative number of milliseconds as a duration (`what` names the option).
pub fn millis(v: Option<f64>, what: &str) -> HubResult<Option<Duration>> {
    match v {
        None => Ok(None),
        Some(n) if n.is_finite() && n >= 0.0 && n.fract() == 0.0 => {
            Ok(Some(Duration::from_millis(n as u64)))
        }
        Some(n) => Err(HubBindError::invalid(format!(
            "{what} must be a whole number of milliseconds, not {n}"
        ))),
    }
}

/// `'json'` / `'messagepack'` (case-insensitive).
pub fn protocol_of(name: Option<&str>) -> HubResult<HubProtocol> {
    match name.map(str::to_ascii_lowercase).as_deref() {
        None | Some("json") => Ok(HubProtocol::Json),
        Some("messagepack") => Ok(HubProtocol::MessagePack),
        Some(other) => Err(HubBindError::invalid(format!(
            "protocol must be 'json' or 'messagepack', not {other:?}"
        ))),
    }
}

/// The protocol's name as JavaScript sees it.
pub fn protocol_name(p: HubProtocol) -> &'static str {
    match p {
        HubProtocol::Json => "json",
        HubProtocol::MessagePack => "messagepack",
    }
}

impl HubClientOptions {
    /// A builder of the io client with these settings.
    pub fn builder(self, url: String) -> HubResult<HubClientBuilder> {
        let mut b = HubClientBuilder::new(url)
            .protocol(protocol_of(self.protocol.as_deref())?)
            .skip_negotiation(self.skip_negotiation.unwrap_or(false))
            .stateful_reconnect(self.stateful_reconnect.unwrap_or(false));
        if let Some(token) = self.access_token {
            b = b.access_token(token);
        }
        for (name, value) in self.headers.unwrap_or_default() {
            b = b.header(name, value);
        }
        match self.automatic_reconnect {
            None | Some(Either::A(false)) => {}
            Some(Either::A(true)) => b = b.with_default_reconnect(),
            Some(Either::B(delays)) => {
                let delays = delays
                    .into_iter()
                    .map(|d| Ok(millis(Some(d), "automaticReconnect")?.unwrap_or_default()))
                    .collect::<HubResult<Vec<_>>>()?;
                b = b.automatic_reconnect(DefaultReconnectPolicy::from_delays(delays));
            }
        }
        if let Some(d) = millis(self.keep_alive_interval_ms, "keepAliveIntervalMs")? {
            b = b.keep_alive_interval(d);
        }
        if let Some(d) = millis(self.server_timeout_ms, "serverTimeoutMs")? {
            b = b.server_timeout(d);
        }
        if let Some(d) = millis(self.handshake_timeout_ms, "handshakeTimeoutMs")? {
            b = b.handshake_timeout(d);
        }
        if let Some(pem) = &self.ca_pem {
            let tls = crate::listener::client_tls(Some(pem))
                .map_err(|e| HubBindError::invalid(e.message))?;
            b = b.tls(tls);
        }
        Ok(b)
    }
}

/// Unary calls of one connection whose results are awaited at once.
pub const PARALLEL_CALLS: usize = 1024;

/// Settings and methods of a `HubServer`; timings default to ASP.NET Core's.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct HubServerOptions {
    /// Where to listen (`127.0.0.1:0`: an OS-chosen port).
    pub bind: Option<String>,
    /// The hub's path (`/hub`).
    pub path: Option<String>,
    /// Methods by exact name: `(ctx, ...args) => result | Promise<result>`, taking
    /// `fn.length - 1` arguments.
    #[napi(ts_type = "Record<string, (ctx: HubCallContext, ...args: any[]) => any>")]
    pub methods: Option<HashMap<String, Declared<MethodFn>>>,
    /// Streaming methods: `async function* (ctx, ...args) { yield … }` (or any function
    /// returning an async or sync iterable, or a Promise of one).
    #[napi(
        ts_type = "Record<string, (ctx: HubCallContext, ...args: any[]) => AsyncIterable<any> | Iterable<any> | Promise<AsyncIterable<any> | Iterable<any>>>"
    )]
    pub stream_methods: Option<HashMap<String, Declared<StreamFn>>>,
    /// Runs when a connection completed its handshake, before its first call.
    #[napi(ts_type = "(ctx: HubCallContext) => void | Promise<void>")]
    pub on_connected: Option<Declared<HookFn>>,
    /// Runs when a connection ended (already out of its groups), with the error text if it
    /// did not end cleanly.
    #[napi(ts_type = "(ctx: HubCallContext, error?: string) => void | Promise<void>")]
    pub on_disconnected: Option<Declared<HookFn>>,
    /// Send a Ping after this much send silence (15000 ms).
    pub keep_alive_interval_ms: Option<f64>,
    /// Close a connection that sent nothing for this long (30000 ms).
    pub client_timeout_ms: Option<f64>,
    /// How long a client may take to send its handshake (15000 ms).
    pub handshake_timeout_ms: Option<f64>,
    /// Largest message accepted from a client (32768 bytes).
    pub max_message_size: Option<u32>,
    /// How long `ctx.invokeCaller` waits for the client (30000 ms).
    pub client_result_timeout_ms: Option<f64>,
    /// Grant stateful reconnect to WebSocket clients that ask (off).
    pub stateful_reconnect: Option<bool>,
}

pub fn bind_address(bind: Option<&str>) -> HubResult<SocketAddr> {
    let bind = bind.unwrap_or("127.0.0.1:0");
    bind.parse().map_err(|_| {
        HubBindError::invalid(format!(
            "bind must be an address like 127.0.0.1:0, not {bind:?}"
        ))
    })
}

/// The connection settings shared by [`HubServerOptions`] and the demo's options.
pub fn hub_options(
    base: HubOptions,
    keep_alive: Option<f64>,
    client_timeout: Option<f64>,
    handshake_timeout: Option<f64>,
) -> HubResult<HubOptions> {
    let mut o = base;
    if let Some(d) = millis(keep_alive, "keepAliveIntervalMs")? {
        o.connection.keep_alive_interval = d;
    }
    if let Some(d) = millis(client_timeout, "clientTimeoutMs")? {
        o.connection.timeout = d;
    }
    if let Some(d) = millis(handshake_timeout, "handshakeTimeoutMs")? {
        o.connection.handshake_timeout = d;
    }
    Ok(o)
}
