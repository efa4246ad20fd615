//! `GatewayMachine`: the sans-IO relay gateway of `interlink_core`, driven from Python.
//!
//! Same contract as the Rust type (`interlink_core::relay::gateway::Gateway`): feed inputs
//! with `handle_*` (time `now` in milliseconds of the caller's monotonic clock), drain
//! `poll_output()` until `None`, sleep until `poll_timeout()` and call `handle_timeout`.
//! No sockets, no clock, no threads.

use std::collections::HashMap;

use interlink_core::relay::gateway::{
    AfterUpgrade, ConnId, Gateway, GatewayConfig, HttpRequest, Output, RequestBody, ResponseBody,
    UpgradeRequest, WsOut,
};
use interlink_core::relay::message::RemoteEndpoint;
use interlink_core::relay::sas::SasValidator;
use interlink_core::time::Instant;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};

use crate::convert::{BodyArg, HeaderList, py_bytes};
use crate::gateway::{apply_limits, hybrid_connections_of, rules_of};

/// One thing the gateway asks its driver to do. `kind` says which; the other attributes
/// are `None` (or empty) when the kind has no such field.
///
/// Kinds: `upgrade` (answer 101; `pair_with` is the connection to forward to, `None` for a
/// driven socket), `refuse` (`status`, `reason`), `send_text` (`text`), `send_binary`
/// (`data`), `send_ping`, `send_close` (`code`, `reason`), `http_response` (`status`,
/// `reason`, `headers`, `data` or `streaming`), `http_body` (`data`), `http_end`,
/// `http_abort`, `pipe_request_body` (`from_conn` → `conn`), `send_request_body` (`data`).
#[pyclass(frozen, module = "interlink._interlink")]
pub struct GatewayOutput {
    out: Output,
}

#[pymethods]
impl GatewayOutput {
    /// Which output this is (see the class docs).
    #[getter]
    fn kind(&self) -> &'static str {
        match &self.out {
            Output::Upgrade { .. } => "upgrade",
            Output::Refuse { .. } => "refuse",
            Output::Send { msg, .. } => match msg {
                WsOut::Text(_) => "send_text",
                WsOut::Binary(_) => "send_binary",
                WsOut::Ping => "send_ping",
                WsOut::Close { .. } => "send_close",
            },
            Output::HttpResponse { .. } => "http_response",
            Output::HttpBody { .. } => "http_body",
            Output::HttpEnd { .. } => "http_end",
            Output::HttpAbort { .. } => "http_abort",
            Output::PipeRequestBody { .. } => "pipe_request_body",
            Output::SendRequestBody { .. } => "send_request_body",
        }
    }

    /// The connection the output is for (for pipes and request bodies: the rendezvous).
    #[getter]
    fn conn(&self) -> u64 {
        match &self.out {
            Output::Upgrade { conn, .. }
            | Output::Refuse { conn, .. }
            | Output::Send { conn, .. }
            | Output::HttpResponse { conn, .. }
            | Output::HttpBody { conn, .. }
            | Output::HttpEnd { conn }
            | Output::HttpAbort { conn } => conn.0,
            Output::PipeRequestBody { to, .. } | Output::SendRequestBody { to, .. } => to.0,
        }
    }

    /// For `upgrade`: the connection to forward frames to, `None` for a driven socket.
    #[getter]
    fn pair_with(&self) -> Option<u64> {
        match &self.out {
            Output::Upgrade {
                then: AfterUpgrade::PairWith(c),
                ..
            } => Some(c.0),
            _ => None,
        }
    }

    /// For `upgrade`: the subprotocol to echo.
    #[getter]
    fn protocol(&self) -> Option<String> {
        match &self.out {
            Output::Upgrade { protocol, .. } => protocol.clone(),
            _ => None,
        }
    }

    /// For `refuse` and `http_response`: the HTTP status.
    #[getter]
    fn status(&self) -> Option<u16> {
        match &self.out {
            Output::Refuse { status, .. } | Output::HttpResponse { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// For `refuse`, `http_response` and `send_close`: the reason text.
    #[getter]
    fn reason(&self) -> Option<String> {
        match &self.out {
            Output::Refuse { reason, .. } | Output::HttpResponse { reason, .. } => {
                Some(reason.clone())
            }
            Output::Send {
                msg: WsOut::Close { reason, .. },
                ..
            } => Some(reason.clone()),
            _ => None,
        }
    }

    /// For `send_close`: the close code.
    #[getter]
    fn code(&self) -> Option<u16> {
        match &self.out {
            Output::Send {
                msg: WsOut::Close { code, .. },
                ..
            } => Some(*code),
            _ => None,
        }
    }

    /// For `send_text`: the message.
    #[getter]
    fn text(&self) -> Option<String> {
        match &self.out {
            Output::Send {
                msg: WsOut::Text(t),
                ..
            } => Some(t.clone()),
            _ => None,
        }
    }

    /// For `send_binary`, `http_body`, `send_request_body` and a whole `http_response` body.
    #[getter]
    fn data(&self, py: Python<'_>) -> Option<Py<PyBytes>> {
        let b = match &self.out {
            Output::Send {
                msg: WsOut::Binary(b),
                ..
            }
            | Output::HttpBody { data: b, .. }
            | Output::SendRequestBody { data: b, .. }
            | Output::HttpResponse {
                body: ResponseBody::Full(b),
                ..
            } => b,
            Output::HttpResponse {
                body: ResponseBody::Empty,
                ..
            } => return Some(py_bytes(py, b"")),
            _ => return None,
        };
        Some(py_bytes(py, b))
    }

    /// For `http_response`: the header pairs.
    #[getter]
    fn headers(&self) -> Vec<(String, String)> {
        match &self.out {
            Output::HttpResponse { headers, .. } => headers.0.clone(),
            _ => Vec::new(),
        }
    }

    /// For `http_response`: `True` when the body follows as `http_body` outputs.
    #[getter]
    fn streaming(&self) -> bool {
        matches!(
            &self.out,
            Output::HttpResponse {
                body: ResponseBody::Streaming,
                ..
            }
        )
    }

    /// For `pipe_request_body`: the sender whose request body the driver holds.
    #[getter(from_conn)]
    fn source_conn(&self) -> Option<u64> {
        match &self.out {
            Output::PipeRequestBody { from, .. } => Some(from.0),
            _ => None,
        }
    }

    fn __repr__(&self) -> String {
        format!("GatewayOutput({:?})", self.out)
    }
}

/// The relay gateway as a sans-IO state machine (see the module docs for the driving order).
#[pyclass(module = "interlink._interlink")]
pub struct GatewayMachine {
    gw: Gateway,
}

fn remote_of(remote: Option<(String, u16)>) -> Option<RemoteEndpoint> {
    remote.map(|(address, port)| RemoteEndpoint { address, port })
}

#[pymethods]
impl GatewayMachine {
    /// A gateway that accepts tokens signed by `rules` (`(name, key, rights)` tuples), serving
    /// `hybrid_connections` (`(name, anonymous)` pairs; `None`: any name, senders need a
    /// token), with `limits` (the names of the TOML `[limits]`). `unix_origin_ms` is the wall
    /// clock at `now == 0` (token expiry); `seed` drives ids and rendezvous secrets.
    #[new]
    #[pyo3(signature = (rules = Vec::new(), hybrid_connections = None, *, limits = HashMap::new(), unix_origin_ms = 0, seed = 0, public_base_url = None))]
    fn new(
        rules: Vec<(String, String, String)>,
        hybrid_connections: Option<Vec<(String, bool)>>,
        limits: HashMap<String, f64>,
        unix_origin_ms: u64,
        seed: u64,
        public_base_url: Option<String>,
    ) -> PyResult<Self> {
        let mut config = GatewayConfig {
            hybrid_connections: hybrid_connections.map(hybrid_connections_of),
            public_base_url,
            unix_origin_ms,
            seed,
            ..GatewayConfig::default()
        };
        apply_limits(&mut config.limits, limits, None)?;
        let grace = config.limits.token_expiry_grace_secs;
        let validator = SasValidator::new(rules_of(rules)?).with_expiry_grace(grace);
        Ok(GatewayMachine {
            gw: Gateway::new(config, Box::new(validator)),
        })
    }

    /// A WebSocket upgrade request on connection `conn`: raw `path` (`/$hc/...`), raw `query`
    /// without `?`, request `headers`, the `Host` header, TLS or not, the client's address.
    #[pyo3(signature = (now, conn, path, query = None, headers = HeaderList::default(), host = "localhost".to_string(), secure = false, remote = None))]
    #[allow(clippy::too_many_arguments)]
    fn handle_upgrade(
        &mut self,
        now: u64,
        conn: u64,
        path: String,
        query: Option<String>,
        headers: HeaderList,
        host: String,
        secure: bool,
        remote: Option<(String, u16)>,
    ) {
        let req = UpgradeRequest {
            path,
            query,
            headers: headers.0,
            host,
            secure,
            remote: remote_of(remote),
        };
        self.gw.handle_upgrade(Instant(now), ConnId(conn), req);
    }

    /// A sender's plain HTTP request on `conn`. `streaming=True` says the driver holds a body
    /// still arriving (it pipes it when told); otherwise `body` is the whole body.
    #[pyo3(signature = (now, conn, method, path, query = None, headers = HeaderList::default(), host = "localhost".to_string(), secure = false, remote = None, body = BodyArg::default(), streaming = false))]
    #[allow(clippy::too_many_arguments)]
    fn handle_http_request(
        &mut self,
        now: u64,
        conn: u64,
        method: String,
        path: String,
        query: Option<String>,
        headers: HeaderList,
        host: String,
        secure: bool,
        remote: Option<(String, u16)>,
        body: BodyArg,
        streaming: bool,
    ) {
        let req = HttpRequest {
            method,
            path,
            query,
            headers: headers.0,
            host,
            secure,
            remote: remote_of(remote),
            body: if streaming {
                RequestBody::Streaming
            } else {
                RequestBody::Complete(body.0)
            },
        };
        self.gw.handle_http_request(Instant(now), ConnId(conn), req);
    }

    /// A text message on a driven WebSocket.
    fn handle_text(&mut self, now: u64, conn: u64, text: &str) {
        self.gw.handle_text(Instant(now), ConnId(conn), text);
    }

    /// A binary message (or fragment, `fin=False`) on a driven WebSocket.
    #[pyo3(signature = (now, conn, data, fin = true))]
    fn handle_binary(&mut self, now: u64, conn: u64, data: BodyArg, fin: bool) {
        self.gw
            .handle_binary(Instant(now), ConnId(conn), data.0, fin);
    }

    /// A ping or pong arrived on a driven WebSocket.
    fn handle_keepalive(&mut self, now: u64, conn: u64) {
        self.gw.handle_keepalive(Instant(now), ConnId(conn));
    }

    /// A driven WebSocket received a Close frame with `code` (or none).
    #[pyo3(signature = (now, conn, code = None))]
    fn handle_closed(&mut self, now: u64, conn: u64, code: Option<u16>) {
        self.gw.handle_closed(Instant(now), ConnId(conn), code);
    }

    /// Connection `conn` went away.
    fn handle_disconnect(&mut self, now: u64, conn: u64) {
        self.gw.handle_disconnect(Instant(now), ConnId(conn));
    }

    /// Time passed: deadlines up to `now` fire.
    fn handle_timeout(&mut self, now: u64) {
        self.gw.handle_timeout(Instant(now));
    }

    /// The next output, or `None` when there is nothing to do.
    fn poll_output(&mut self) -> Option<GatewayOutput> {
        self.gw.poll_output().map(|out| GatewayOutput { out })
    }

    /// When `handle_timeout` should be called next (ms), or `None`.
    fn poll_timeout(&self) -> Option<u64> {
        self.gw.poll_timeout().map(|t| t.0)
    }

    /// Listeners connected to hybrid connection `name`.
    fn listener_count(&self, name: &str) -> usize {
        self.gw.listener_count(name)
    }

    /// Counters: `listeners`, `pending_accepts`, `pending_requests`.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let s = self.gw.stats();
        let d = PyDict::new(py);
        d.set_item("listeners", s.listeners)?;
        d.set_item("pending_accepts", s.pending_accepts)?;
        d.set_item("pending_requests", s.pending_requests)?;
        Ok(d)
    }
}
