//! [`GatewayMachine`]: the sans-IO relay gateway of `interlink-core`, driven from JavaScript.
//!
//! JavaScript owns the sockets and the clock: it numbers connections, feeds what happened
//! (`handleUpgrade`, `handleHttpRequest`, `handleText`, `handleBinary`, `handleKeepalive`,
//! `handleClosed`, `handleDisconnect`, `handleTimeout`; times are milliseconds on any monotonic
//! clock), drains `pollOutput()` until `null`, and sleeps until new input or `pollTimeout()`.

use bytes::Bytes;
use interlink_core::relay::gateway::{
    AfterUpgrade, ConnId, Gateway, HttpRequest, Output, RequestBody, ResponseBody, UpgradeRequest,
    WsOut,
};
use interlink_core::relay::message::RemoteEndpoint;
use interlink_core::relay::sas::SasValidator;
use interlink_core::time::Instant;
use napi::Env;
use napi::bindgen_prelude::Buffer;
use napi_derive::napi;

use crate::config::{GatewayLimits, HybridConnections, gateway_config};
use crate::error::{BindError, BindResult};
use crate::token::{SharedAccessKey, rules_of, whole};

/// Settings of a `GatewayMachine`.
#[napi(object)]
#[derive(Default)]
pub struct MachineOptions {
    /// SAS keys that sign valid tokens (default none: only anonymous senders get in).
    pub keys: Option<Vec<SharedAccessKey>>,
    /// The hybrid connections that exist (default: any name, senders need a token).
    #[napi(ts_type = "Array<string | HybridConnectionSpec>")]
    pub hybrid_connections: Option<HybridConnections>,
    /// Limits and deadlines.
    pub limits: Option<GatewayLimits>,
    /// Base URL for rendezvous addresses (default: from each listener's `host`).
    pub public_base_url: Option<String>,
    /// Unix time in ms at time 0 of the caller's clock, for token expiry (default 0).
    pub unix_origin_ms: Option<f64>,
    /// Seed of the id and listener-choice generator (default 0; use randomness in
    /// production: rendezvous addresses are bearer secrets).
    pub seed: Option<f64>,
}

/// A WebSocket upgrade request as the driver read it.
#[napi(object)]
pub struct MachineUpgrade {
    /// Raw path, e.g. `/$hc/hc1/suffix`.
    pub path: String,
    /// Raw query without `?`.
    pub query: Option<String>,
    /// Headers in order; repeats as separate entries.
    pub headers: Option<Vec<(String, String)>>,
    /// The `Host` header.
    pub host: String,
    /// Whether the connection came over TLS.
    pub secure: Option<bool>,
    /// The client's address.
    pub remote_address: Option<String>,
    /// The client's port.
    pub remote_port: Option<u32>,
}

/// A sender's plain HTTP request as the driver read it.
#[napi(object)]
pub struct MachineHttpRequest {
    /// Method, e.g. `GET`.
    pub method: String,
    /// Raw path, e.g. `/hc1/abc`.
    pub path: String,
    /// Raw query without `?`.
    pub query: Option<String>,
    /// Headers in order.
    pub headers: Option<Vec<(String, String)>>,
    /// The `Host` header.
    pub host: String,
    /// Whether the connection came over TLS.
    pub secure: Option<bool>,
    /// The whole body (default empty).
    pub body: Option<Buffer>,
    /// `true`: the driver holds a streaming body and pipes it when told (`pipeRequestBody`).
    pub streaming: Option<bool>,
    /// The client's address.
    pub remote_address: Option<String>,
    /// The client's port.
    pub remote_port: Option<u32>,
}

/// One thing the gateway asks its driver to do; `type` tells which.
#[napi(discriminant = "type", discriminant_case = "camelCase")]
pub enum MachineOutput {
    /// Answer the upgrade with 101 (echoing `protocol`); then feed the socket's messages to
    /// the machine, or, with `pairWith`, forward frames to and from that connection.
    Upgrade {
        /// The connection.
        conn: i64,
        /// Subprotocol to echo.
        protocol: Option<String>,
        /// The connection to forward frames with; absent: the machine drives this socket.
        pair_with: Option<i64>,
    },
    /// Answer the upgrade with `status` and close.
    Refuse {
        /// The connection.
        conn: i64,
        /// HTTP status.
        status: u32,
        /// Reason phrase / short body.
        reason: String,
    },
    /// Send a text message on a driven WebSocket.
    SendText {
        /// The WebSocket.
        conn: i64,
        /// The message.
        text: String,
    },
    /// Send a binary message on a driven WebSocket.
    SendBinary {
        /// The WebSocket.
        conn: i64,
        /// The message.
        data: Buffer,
    },
    /// Send an empty ping on a driven WebSocket.
    SendPing {
        /// The WebSocket.
        conn: i64,
    },
    /// Send Close on a driven WebSocket, then close it once answered (or after a linger).
    SendClose {
        /// The WebSocket.
        conn: i64,
        /// Close code.
        code: u32,
        /// Close reason.
        reason: String,
    },
    /// Answer a sender's HTTP request.
    HttpResponse {
        /// The sender's connection.
        conn: i64,
        /// Status code.
        status: u32,
        /// Reason phrase.
        reason: String,
        /// Headers in order.
        headers: Vec<(String, String)>,
        /// The whole body; absent when empty or streaming.
        body: Option<Buffer>,
        /// `true`: pieces follow as `httpBody`, ended by `httpEnd` or `httpAbort`.
        streaming: bool,
    },
    /// A piece of a streaming response body.
    HttpBody {
        /// The sender's connection.
        conn: i64,
        /// The bytes.
        data: Buffer,
    },
    /// A streaming response ended normally.
    HttpEnd {
        /// The sender's connection.
        conn: i64,
    },
    /// A streaming response broke off: end the sender's connection abruptly.
    HttpAbort {
        /// The sender's connection.
        conn: i64,
    },
    /// Stream the body of `from`'s request onto WebSocket `to` as one fragmented binary message.
    PipeRequestBody {
        /// The sender holding the body.
        from: i64,
        /// The rendezvous WebSocket.
        to: i64,
    },
    /// Send a whole request body on WebSocket `to` as one binary message.
    SendRequestBody {
        /// The rendezvous WebSocket.
        to: i64,
        /// The body.
        data: Buffer,
    },
}

fn js_id(c: ConnId) -> i64 {
    c.0 as i64
}

fn buffer(b: Bytes) -> Buffer {
    Buffer::from(b.to_vec())
}

impl From<Output> for MachineOutput {
    fn from(o: Output) -> Self {
        match o {
            Output::Upgrade {
                conn,
                protocol,
                then,
            } => MachineOutput::Upgrade {
                conn: js_id(conn),
                protocol,
                pair_with: match then {
                    AfterUpgrade::Driven => None,
                    AfterUpgrade::PairWith(p) => Some(js_id(p)),
                },
            },
            Output::Refuse {
                conn,
                status,
                reason,
            } => MachineOutput::Refuse {
                conn: js_id(conn),
                status: u32::from(status),
                reason,
            },
            Output::Send { conn, msg } => {
                let conn = js_id(conn);
                match msg {
                    WsOut::Text(text) => MachineOutput::SendText { conn, text },
                    WsOut::Binary(b) => MachineOutput::SendBinary {
                        conn,
                        data: buffer(b),
                    },
                    WsOut::Ping => MachineOutput::SendPing { conn },
                    WsOut::Close { code, reason } => MachineOutput::SendClose {
                        conn,
                        code: u32::from(code),
                        reason,
                    },
                }
            }
            Output::HttpResponse {
                conn,
                status,
                reason,
                headers,
                body,
            } => MachineOutput::HttpResponse {
                conn: js_id(conn),
                status: u32::from(status),
                reason,
                headers: headers.0,
                streaming: matches!(body, ResponseBody::Streaming),
                body: match body {
                    ResponseBody::Full(b) => Some(buffer(b)),
                    ResponseBody::Empty | ResponseBody::Streaming => None,
                },
            },
            Output::HttpBody { conn, data } => MachineOutput::HttpBody {
                conn: js_id(conn),
                data: buffer(data),
            },
            Output::HttpEnd { conn } => MachineOutput::HttpEnd { conn: js_id(conn) },
            Output::HttpAbort { conn } => MachineOutput::HttpAbort { conn: js_id(conn) },
            Output::PipeRequestBody { from, to } => MachineOutput::PipeRequestBody {
                from: js_id(from),
                to: js_id(to),
            },
            Output::SendRequestBody { to, data } => MachineOutput::SendRequestBody {
                to: js_id(to),
                data: buffer(data),
            },
        }
    }
}

fn remote(address: Option<String>, port: Option<u32>) -> Option<RemoteEndpoint> {
    address.map(|address| RemoteEndpoint {
        address,
        port: port.and_then(|p| u16::try_from(p).ok()).unwrap_or(0),
    })
}

/// The relay gateway as a sans-IO state machine: no sockets, no clock, no tasks.
#[napi]
pub struct GatewayMachine {
    core: Gateway,
}

/// A time or connection id argument, checked.
fn time(now: f64) -> BindResult<Instant> {
    whole(now, "now").map(Instant)
}

fn conn_id(conn: i64) -> BindResult<ConnId> {
    u64::try_from(conn)
        .map(ConnId)
        .map_err(|_| BindError::invalid(format!("connection id {conn} is negative")))
}

#[napi]
impl GatewayMachine {
    /// A machine with the given settings. Throws `ERR_INTERLINK_INVALID_ARGUMENT` for bad ones.
    #[napi(constructor)]
    pub fn new(env: Env, options: Option<MachineOptions>) -> napi::Result<Self> {
        Self::build(options.unwrap_or_default()).map_err(|e| e.into_napi(&env))
    }

    fn build(o: MachineOptions) -> BindResult<Self> {
        let mut config = gateway_config(
            o.hybrid_connections.as_ref(),
            o.limits.as_ref(),
            o.public_base_url,
        )?;
        config.unix_origin_ms = whole(o.unix_origin_ms.unwrap_or(0.0), "unixOriginMs")?;
        config.seed = whole(o.seed.unwrap_or(0.0), "seed")?;
        let rules = rules_of(o.keys.as_deref().unwrap_or_default())?;
        let validator =
            SasValidator::new(rules).with_expiry_grace(config.limits.token_expiry_grace_secs);
        Ok(GatewayMachine {
            core: Gateway::new(config, Box::new(validator)),
        })
    }

    fn feed(
        &mut self,
        env: &Env,
        now: f64,
        conn: i64,
        input: impl FnOnce(&mut Gateway, Instant, ConnId),
    ) -> napi::Result<()> {
        let (now, conn) = time(now)
            .and_then(|now| Ok((now, conn_id(conn)?)))
            .map_err(|e| e.into_napi(env))?;
        input(&mut self.core, now, conn);
        Ok(())
    }

    /// A WebSocket upgrade request arrived on connection `conn`.
    #[napi]
    pub fn handle_upgrade(
        &mut self,
        env: Env,
        now: f64,
        conn: i64,
        request: MachineUpgrade,
    ) -> napi::Result<()> {
        let req = UpgradeRequest {
            path: request.path,
            query: request.query,
            headers: request.headers.unwrap_or_default(),
            host: request.host,
            secure: request.secure.unwrap_or(false),
            remote: remote(request.remote_address, request.remote_port),
        };
        self.feed(&env, now, conn, |g, now, c| g.handle_upgrade(now, c, req))
    }

    /// A sender's plain HTTP request arrived on connection `conn`.
    #[napi]
    pub fn handle_http_request(
        &mut self,
        env: Env,
        now: f64,
        conn: i64,
        request: MachineHttpRequest,
    ) -> napi::Result<()> {
        let body = if request.streaming == Some(true) {
            RequestBody::Streaming
        } else {
            RequestBody::Complete(
                request
                    .body
                    .map(|b| Bytes::copy_from_slice(&b))
                    .unwrap_or_default(),
            )
        };
        let req = HttpRequest {
            method: request.method,
            path: request.path,
            query: request.query,
            headers: request.headers.unwrap_or_default(),
            host: request.host,
            secure: request.secure.unwrap_or(false),
            remote: remote(request.remote_address, request.remote_port),
            body,
        };
        self.feed(&env, now, conn, |g, now, c| {
            g.handle_http_request(now, c, req)
        })
    }

    /// A text message arrived on a driven WebSocket.
    #[napi]
    pub fn handle_text(&mut self, env: Env, now: f64, conn: i64, text: String) -> napi::Result<()> {
        self.feed(&env, now, conn, |g, now, c| g.handle_text(now, c, &text))
    }

    /// A binary message (or, with `fin` false, a fragment of one) arrived on a driven WebSocket.
    #[napi]
    pub fn handle_binary(
        &mut self,
        env: Env,
        now: f64,
        conn: i64,
        data: Buffer,
        fin: Option<bool>,
    ) -> napi::Result<()> {
        let data = Bytes::copy_from_slice(&data);
        let fin = fin.unwrap_or(true);
        self.feed(&env, now, conn, |g, now, c| {
            g.handle_binary(now, c, data, fin)
        })
    }

    /// A ping or pong arrived on a driven WebSocket.
    #[napi]
    pub fn handle_keepalive(&mut self, env: Env, now: f64, conn: i64) -> napi::Result<()> {
        self.feed(&env, now, conn, |g, now, c| g.handle_keepalive(now, c))
    }

    /// The peer of a driven WebSocket sent Close with `code` (absent: no status).
    #[napi]
    pub fn handle_closed(
        &mut self,
        env: Env,
        now: f64,
        conn: i64,
        code: Option<u32>,
    ) -> napi::Result<()> {
        let code = code.and_then(|c| u16::try_from(c).ok());
        self.feed(&env, now, conn, |g, now, c| g.handle_closed(now, c, code))
    }

    /// A connection went away.
    #[napi]
    pub fn handle_disconnect(&mut self, env: Env, now: f64, conn: i64) -> napi::Result<()> {
        self.feed(&env, now, conn, |g, now, c| g.handle_disconnect(now, c))
    }

    /// The time from `pollTimeout()` has come.
    #[napi]
    pub fn handle_timeout(&mut self, env: Env, now: f64) -> napi::Result<()> {
        let now = time(now).map_err(|e| e.into_napi(&env))?;
        self.core.handle_timeout(now);
        Ok(())
    }

    /// The next thing to do, or `null` when there is nothing left.
    #[napi]
    pub fn poll_output(&mut self) -> Option<MachineOutput> {
        self.core.poll_output().map(MachineOutput::from)
    }

    /// When `handleTimeout` should be called next (ms), or `null` for no deadline.
    #[napi]
    pub fn poll_timeout(&self) -> Option<f64> {
        self.core.poll_timeout().map(|t| t.0 as f64)
    }

    /// Listeners connected to hybrid connection `name`.
    #[napi]
    pub fn listener_count(&self, name: String) -> u32 {
        u32::try_from(self.core.listener_count(&name)).unwrap_or(u32::MAX)
    }
}
