//! The sans-IO relay gateway from C (`interlink_gateway_machine_*`): the driver accepts
//! connections, numbers them, feeds upgrades, HTTP requests and driven WebSockets' messages
//! with the time, and carries out the outputs. Driving order (as in Rust):
//! 1. feed: handle_upgrade / handle_http_request / handle_text / handle_binary /
//!    handle_keepalive / handle_closed / handle_disconnect;
//! 2. drain poll_output until WOULD_BLOCK, carrying each output out in order;
//! 3. sleep until new input or poll_timeout, then handle_timeout and drain again.

use std::ffi::c_char;
use std::time::Duration;

use bytes::Bytes;
use interlink_core::relay::gateway::{
    ConnId, Gateway, GatewayConfig, HttpRequest, HybridConnectionConfig, Limits, RequestBody,
    UpgradeRequest,
};
use interlink_core::relay::sas::SasValidator;
use interlink_core::time::Instant;

use crate::boundary::{Error, interlink_result};
use crate::gateway_output::{OutputStore, interlink_gateway_output};
use crate::memory::{
    bytes_arg, free_handle, handle, headers_arg, interlink_header, new_handle, opt_str_arg,
    str_arg, text_arg, write_out,
};
use crate::sas::{interlink_sas_rule, rules_arg};

/// A hybrid connection the gateway serves.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_hybrid_connection {
    /// Entity name (may contain '/'), matched case-insensitively.
    pub name: *const c_char,
    /// false: senders need no token.
    pub requires_client_authorization: bool,
}

/// Sizes, counts and deadlines of the gateway. Fill with interlink_limits_default, then
/// change what you need. Times are milliseconds unless the name says seconds.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct interlink_limits {
    /// Listeners per hybrid connection (25).
    pub max_listeners_per_connection: u64,
    /// Senders waiting for a rendezvous per hybrid connection (1000); 503 beyond.
    pub max_pending_rendezvous_per_connection: u64,
    /// Largest body carried on the control channel (65536).
    pub control_body_max_bytes: u64,
    /// Largest control message from a listener (65536); close 1009 beyond.
    pub control_message_max_bytes: u64,
    /// Largest total size of a sender's request headers (32768); 431 beyond.
    pub request_headers_max_bytes: u64,
    /// Largest request body; 0 = unbounded (the default); 413 beyond.
    pub max_request_body_bytes: u64,
    /// How long a sender may take to deliver a small (inline) request body (60000); 408 after.
    pub request_body_timeout_ms: u64,
    /// How long an accept or request address stays valid (30000).
    pub accept_timeout_ms: u64,
    /// How long the gateway waits for a listener's response (60000); 504 after.
    pub response_timeout_ms: u64,
    /// Longest silence inside a streamed response body (60000).
    pub response_idle_timeout_ms: u64,
    /// Seconds a token stays valid after its expiry (300).
    pub token_expiry_grace_secs: u64,
    /// Interval of keepalive pings on control channels (210000).
    pub keepalive_interval_ms: u64,
    /// A control channel silent this long after a ping is closed (60000).
    pub keepalive_timeout_ms: u64,
}

impl From<&Limits> for interlink_limits {
    fn from(l: &Limits) -> Self {
        interlink_limits {
            max_listeners_per_connection: l.max_listeners_per_connection as u64,
            max_pending_rendezvous_per_connection: l.max_pending_rendezvous_per_connection as u64,
            control_body_max_bytes: l.control_body_max_bytes as u64,
            control_message_max_bytes: l.control_message_max_bytes as u64,
            request_headers_max_bytes: l.request_headers_max_bytes as u64,
            max_request_body_bytes: l.max_request_body_bytes.unwrap_or(0),
            request_body_timeout_ms: l.request_body_timeout.as_millis() as u64,
            accept_timeout_ms: l.accept_timeout.as_millis() as u64,
            response_timeout_ms: l.response_timeout.as_millis() as u64,
            response_idle_timeout_ms: l.response_idle_timeout.as_millis() as u64,
            token_expiry_grace_secs: l.token_expiry_grace_secs,
            keepalive_interval_ms: l.keepalive_interval.as_millis() as u64,
            keepalive_timeout_ms: l.keepalive_timeout.as_millis() as u64,
        }
    }
}

impl From<&interlink_limits> for Limits {
    // Assigned one by one so that limits added to core later keep their defaults whether or
    // not this struct carries them yet.
    #[allow(clippy::field_reassign_with_default)]
    fn from(l: &interlink_limits) -> Self {
        let size = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        let mut out = Limits::default();
        out.max_listeners_per_connection = size(l.max_listeners_per_connection);
        out.max_pending_rendezvous_per_connection = size(l.max_pending_rendezvous_per_connection);
        out.control_body_max_bytes = size(l.control_body_max_bytes);
        out.control_message_max_bytes = size(l.control_message_max_bytes);
        out.request_headers_max_bytes = size(l.request_headers_max_bytes);
        out.max_request_body_bytes =
            (l.max_request_body_bytes != 0).then_some(l.max_request_body_bytes);
        out.request_body_timeout = Duration::from_millis(l.request_body_timeout_ms);
        out.accept_timeout = Duration::from_millis(l.accept_timeout_ms);
        out.response_timeout = Duration::from_millis(l.response_timeout_ms);
        out.response_idle_timeout = Duration::from_millis(l.response_idle_timeout_ms);
        out.token_expiry_grace_secs = l.token_expiry_grace_secs;
        out.keepalive_interval = Duration::from_millis(l.keepalive_interval_ms);
        out.keepalive_timeout = Duration::from_millis(l.keepalive_timeout_ms);
        out
    }
}

/// Settings of a gateway machine. Everything is copied by interlink_gateway_machine_new.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_gateway_machine_config {
    /// SAS rules whose tokens are valid.
    pub rules: *const interlink_sas_rule,
    /// Number of `rules`.
    pub rules_len: usize,
    /// The hybrid connections that exist; with 0 of them any name exists (senders need tokens).
    pub hybrid_connections: *const interlink_hybrid_connection,
    /// Number of `hybrid_connections`.
    pub hybrid_connections_len: usize,
    /// Limits, or NULL for the defaults (interlink_limits_default).
    pub limits: *const interlink_limits,
    /// Base URL of rendezvous addresses ("ws://host:port"), or NULL to use each listener's
    /// Host header.
    pub public_base_url: *const c_char,
    /// Unix time in milliseconds at now_ms == 0 (token expiry needs the wall clock).
    pub unix_origin_ms: u64,
    /// Seed of ids and rendezvous secrets: use real entropy outside tests.
    pub seed: u64,
}

/// A sans-IO relay gateway (opaque). Create with interlink_gateway_machine_new, free with
/// interlink_gateway_machine_free. Not thread-safe.
pub struct interlink_gateway_machine {
    gateway: Gateway,
    store: OutputStore,
}

/// Fills `limits` with the defaults (Azure Relay's published values).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_limits_default(
    limits: *mut interlink_limits,
) -> interlink_result {
    ffi!(limits => {
        // SAFETY: checked out-pointer.
        unsafe { write_out(limits, interlink_limits::from(&Limits::default()), "limits") }
    })
}

/// Creates a gateway machine from `config` (copied). Free `*machine_out` with
/// interlink_gateway_machine_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_new(
    config: *const interlink_gateway_machine_config,
    machine_out: *mut *mut interlink_gateway_machine,
) -> interlink_result {
    ffi!(config, machine_out => {
        // SAFETY: caller's contract on the config and everything it points to.
        let c = unsafe { &*config };
        let rules = unsafe { rules_arg(c.rules, c.rules_len) }?;
        let hcs = if c.hybrid_connections_len == 0 {
            None
        } else {
            if c.hybrid_connections.is_null() {
                return Err(Error::null("hybrid_connections"));
            }
            // SAFETY: valid for `len` entries per the contract.
            let list = unsafe {
                std::slice::from_raw_parts(c.hybrid_connections, c.hybrid_connections_len)
            };
            let mut hcs = Vec::with_capacity(list.len());
            for h in list {
                // SAFETY: valid string per the contract.
                let name = unsafe { str_arg(h.name, "hybrid connection name") }?;
                hcs.push(HybridConnectionConfig {
                    name: name.to_string(),
                    requires_client_authorization: h.requires_client_authorization,
                });
            }
            Some(hcs)
        };
        // SAFETY: NULL or a valid limits struct.
        let limits = unsafe { c.limits.as_ref() }.map(Limits::from).unwrap_or_default();
        let grace = limits.token_expiry_grace_secs;
        // SAFETY: NULL or a valid string.
        let base = unsafe { opt_str_arg(c.public_base_url, "public_base_url") }?;
        let config = GatewayConfig {
            hybrid_connections: hcs,
            limits,
            public_base_url: base.map(str::to_string),
            unix_origin_ms: c.unix_origin_ms,
            seed: c.seed,
        };
        let validator = SasValidator::new(rules).with_expiry_grace(grace);
        let machine = interlink_gateway_machine {
            gateway: Gateway::new(config, Box::new(validator)),
            store: OutputStore::default(),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(machine_out, machine, "machine_out") }
    })
}

/// Frees a gateway machine; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_free(machine: *mut interlink_gateway_machine) {
    // SAFETY: NULL or a handle from interlink_gateway_machine_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(machine) }; Ok(()) })
}

/// A WebSocket upgrade request arrived on connection `conn` (numbers are the driver's,
/// unique while the connection lives): `path` ("/$hc/hc1"), optional `query` (without '?'),
/// the request headers, and the `host` it was sent to. Plain `ws`; set public_base_url for
/// TLS addresses.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_upgrade(
    machine: *mut interlink_gateway_machine,
    conn: u64,
    path: *const c_char,
    query: *const c_char,
    headers: *const interlink_header,
    headers_len: usize,
    host: *const c_char,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine, path, host => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let m = handle(machine, "machine")?;
            let req = UpgradeRequest {
                path: str_arg(path, "path")?.to_string(),
                query: opt_str_arg(query, "query")?.map(str::to_string),
                headers: headers_arg(headers, headers_len, "headers")?,
                host: str_arg(host, "host")?.to_string(),
                secure: false,
                remote: None,
            };
            m.gateway.handle_upgrade(Instant(now_ms), ConnId(conn), req);
        }
        Ok(())
    })
}

/// A sender's plain HTTP request arrived on connection `conn`. With `body_streaming` false,
/// `body`/`body_len` is the whole body; with true, the driver keeps the body stream and
/// pipes it when told (PIPE_REQUEST_BODY).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_http_request(
    machine: *mut interlink_gateway_machine,
    conn: u64,
    method: *const c_char,
    path: *const c_char,
    query: *const c_char,
    headers: *const interlink_header,
    headers_len: usize,
    host: *const c_char,
    body: *const u8,
    body_len: usize,
    body_streaming: bool,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine, method, path, host => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let m = handle(machine, "machine")?;
            let body = if body_streaming {
                RequestBody::Streaming
            } else {
                RequestBody::Complete(Bytes::copy_from_slice(bytes_arg(body, body_len, "body")?))
            };
            let req = HttpRequest {
                method: str_arg(method, "method")?.to_string(),
                path: str_arg(path, "path")?.to_string(),
                query: opt_str_arg(query, "query")?.map(str::to_string),
                headers: headers_arg(headers, headers_len, "headers")?,
                host: str_arg(host, "host")?.to_string(),
                secure: false,
                remote: None,
                body,
            };
            m.gateway.handle_http_request(Instant(now_ms), ConnId(conn), req);
        }
        Ok(())
    })
}

/// A text message (UTF-8, `len` bytes) arrived on the driven WebSocket `conn`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_text(
    machine: *mut interlink_gateway_machine,
    conn: u64,
    text: *const c_char,
    len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let m = handle(machine, "machine")?;
            let text = text_arg(text, len, "text")?;
            m.gateway.handle_text(Instant(now_ms), ConnId(conn), text);
        }
        Ok(())
    })
}

/// A binary message, or one fragment of it (`fin` marks the last), arrived on the driven
/// WebSocket `conn`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_binary(
    machine: *mut interlink_gateway_machine,
    conn: u64,
    data: *const u8,
    len: usize,
    fin: bool,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let m = handle(machine, "machine")?;
            let data = Bytes::copy_from_slice(bytes_arg(data, len, "data")?);
            m.gateway.handle_binary(Instant(now_ms), ConnId(conn), data, fin);
        }
        Ok(())
    })
}

/// A ping or pong arrived on the driven WebSocket `conn` (answer pings yourself).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_keepalive(
    machine: *mut interlink_gateway_machine,
    conn: u64,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract.
        unsafe { handle(machine, "machine")? }.gateway.handle_keepalive(Instant(now_ms), ConnId(conn));
        Ok(())
    })
}

/// The peer of the driven WebSocket `conn` sent Close with `code` (0: no status code).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_closed(
    machine: *mut interlink_gateway_machine,
    conn: u64,
    code: u16,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract.
        let m = unsafe { handle(machine, "machine")? };
        m.gateway.handle_closed(Instant(now_ms), ConnId(conn), (code != 0).then_some(code));
        Ok(())
    })
}

/// Connection `conn` went away (socket closed, sender gave up, pair ended).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_disconnect(
    machine: *mut interlink_gateway_machine,
    conn: u64,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract.
        unsafe { handle(machine, "machine")? }.gateway.handle_disconnect(Instant(now_ms), ConnId(conn));
        Ok(())
    })
}

/// Fires every deadline due at `now_ms` (expired accepts, response deadlines, keepalive).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_handle_timeout(
    machine: *mut interlink_gateway_machine,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract.
        unsafe { handle(machine, "machine")? }.gateway.handle_timeout(Instant(now_ms));
        Ok(())
    })
}

/// The next output, in order: OK (filled `*output`, whose pointers borrow from the machine
/// until the next call on it) or WOULD_BLOCK (nothing more now).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_poll_output(
    machine: *mut interlink_gateway_machine,
    output: *mut interlink_gateway_output,
) -> interlink_result {
    ffi!(machine, output => {
        // SAFETY: caller's contract.
        let m = unsafe { handle(machine, "machine")? };
        let Some(o) = m.gateway.poll_output() else {
            return Ok(interlink_result::WouldBlock);
        };
        let out = m.store.convert(o);
        // SAFETY: checked out-pointer.
        unsafe { write_out(output, out, "output") }?;
        Ok(interlink_result::Ok)
    })
}

/// When to call handle_timeout next: OK with `*at_ms`, or WOULD_BLOCK when no deadline is
/// pending.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_poll_timeout(
    machine: *const interlink_gateway_machine,
    at_ms: *mut u64,
) -> interlink_result {
    ffi!(machine, at_ms => {
        // SAFETY: caller's contract.
        let m = unsafe { &*machine };
        match m.gateway.poll_timeout() {
            // SAFETY: checked out-pointer.
            Some(t) => unsafe { write_out(at_ms, t.0, "at_ms") }.map(|_| interlink_result::Ok),
            None => Ok(interlink_result::WouldBlock),
        }
    })
}

/// How many listeners are connected to hybrid connection `name`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_machine_listener_count(
    machine: *const interlink_gateway_machine,
    name: *const c_char,
    count_out: *mut usize,
) -> interlink_result {
    ffi!(machine, name, count_out => {
        // SAFETY: caller's contract.
        unsafe {
            let n = (*machine).gateway.listener_count(str_arg(name, "name")?);
            write_out(count_out, n, "count_out")
        }
    })
}
