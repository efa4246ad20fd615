//! The sans-IO listener from C (`interlink_listener_machine_*`): the control channel's
//! connect, backoff, token renewal and keepalive, and control messages turned into accepts
//! and requests. Driving order (as in Rust):
//! 1. start queues CONNECT; open the WebSocket it names and report handle_connected or
//!    handle_connect_failed; feed messages (handle_text, handle_binary, handle_pong) and
//!    handle_closed when the socket ends;
//! 2. after every input drain poll_output until WOULD_BLOCK;
//! 3. sleep until poll_timeout and call handle_timeout;
//! 4. answer REQUEST outputs with respond_inline when the body fits (fits_inline).

use std::ffi::c_char;
use std::time::Duration;

use bytes::Bytes;
use interlink_core::relay::listener::{Listener, ListenerConfig, rendezvous_response_head};
use interlink_core::relay::message::Headers;
use interlink_core::time::Instant;

use crate::boundary::{Error, interlink_result};
use crate::credentials;
use crate::listener_output::{ListenerStore, interlink_listener_output};
use crate::memory::{
    bytes_arg, free_handle, handle, headers_arg, interlink_header, new_handle, opt_str_arg,
    owned_string, str_arg, text_arg, write_out,
};

/// Settings of a listener machine; zero / NULL fields take the official SDKs' defaults.
/// Everything is copied by interlink_listener_machine_new.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_listener_machine_config {
    /// Connection string: `Endpoint=sb://host[:port]/` plus `SharedAccessKeyName` and
    /// `SharedAccessKey` (tokens are created and renewed) or `SharedAccessSignature`.
    pub connection_string: *const c_char,
    /// The hybrid connection, or NULL for the connection string's `EntityPath`.
    pub entity_path: *const c_char,
    /// Tracking id sent as `sb-hc-id`, or NULL.
    pub tracking_id: *const c_char,
    /// Unix time in milliseconds at now_ms == 0 (tokens carry wall-clock expiry).
    pub unix_origin_ms: u64,
    /// Lifetime of created tokens (3600000); renewed at 80 %.
    pub token_ttl_ms: u64,
    /// Ping interval on the control channel (210000).
    pub keepalive_interval_ms: u64,
    /// No pong this long after a ping drops the channel (30000).
    pub keepalive_timeout_ms: u64,
    /// Largest response body sent inline (65536).
    pub control_body_max_bytes: u64,
    /// Reconnect delays in milliseconds (the last repeats), or NULL for 0, 1, 2, 5, 10, 30 s.
    pub reconnect_delays_ms: *const u64,
    /// Number of `reconnect_delays_ms`.
    pub reconnect_delays_len: usize,
}

/// A sans-IO listener (opaque). Create with interlink_listener_machine_new, free with
/// interlink_listener_machine_free. Not thread-safe.
pub struct interlink_listener_machine {
    listener: Listener,
    store: ListenerStore,
}

fn ms(v: u64, default: Duration) -> Duration {
    if v == 0 {
        default
    } else {
        Duration::from_millis(v)
    }
}

/// Creates a listener machine (idle until interlink_listener_machine_start). Fails with
/// INVALID_ARGUMENT for a bad connection string or no entity, AUTH when the connection
/// string has no credentials. Free `*machine_out` with interlink_listener_machine_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_new(
    config: *const interlink_listener_machine_config,
    machine_out: *mut *mut interlink_listener_machine,
) -> interlink_result {
    ffi!(config, machine_out => {
        // SAFETY: caller's contract on the config and what it points to.
        let c = unsafe { &*config };
        let cs = credentials::parse(unsafe { str_arg(c.connection_string, "connection_string") }?)?;
        let entity = credentials::entity(&cs, unsafe { opt_str_arg(c.entity_path, "entity_path") }?)?;
        let token = cs.token_source()?;
        let mut lc = ListenerConfig::new(cs.endpoint.clone(), entity, token);
        lc.tracking_id = unsafe { opt_str_arg(c.tracking_id, "tracking_id") }?.map(str::to_string);
        lc.unix_origin_ms = c.unix_origin_ms;
        lc.token_ttl = ms(c.token_ttl_ms, lc.token_ttl);
        lc.keepalive_interval = ms(c.keepalive_interval_ms, lc.keepalive_interval);
        lc.keepalive_timeout = ms(c.keepalive_timeout_ms, lc.keepalive_timeout);
        if c.control_body_max_bytes != 0 {
            lc.control_body_max_bytes = usize::try_from(c.control_body_max_bytes).unwrap_or(usize::MAX);
        }
        if c.reconnect_delays_len != 0 {
            if c.reconnect_delays_ms.is_null() {
                return Err(Error::null("reconnect_delays_ms"));
            }
            // SAFETY: non-NULL and valid for `len` entries per the contract.
            let delays = unsafe { std::slice::from_raw_parts(c.reconnect_delays_ms, c.reconnect_delays_len) };
            lc.reconnect_delays = delays.iter().map(|d| Duration::from_millis(*d)).collect();
        }
        let machine = interlink_listener_machine { listener: Listener::new(lc), store: ListenerStore::default() };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(machine_out, machine, "machine_out") }
    })
}

/// Frees a listener machine; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_free(machine: *mut interlink_listener_machine) {
    // SAFETY: NULL or a handle from interlink_listener_machine_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(machine) }; Ok(()) })
}

macro_rules! with_machine {
    ($machine:ident, |$m:ident| $body:expr) => {
        ffi!($machine => {
            // SAFETY: caller's contract on the handle.
            let $m = unsafe { handle($machine, "machine")? };
            $body;
            Ok(())
        })
    };
}

/// Starts connecting (queues CONNECT).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_start(
    machine: *mut interlink_listener_machine,
    now_ms: u64,
) -> interlink_result {
    with_machine!(machine, |m| m.listener.start(Instant(now_ms)))
}

/// Closes the control channel (1000) and stops reconnecting.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_close(
    machine: *mut interlink_listener_machine,
) -> interlink_result {
    with_machine!(machine, |m| m.listener.close())
}

/// The control channel's handshake succeeded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_handle_connected(
    machine: *mut interlink_listener_machine,
    now_ms: u64,
) -> interlink_result {
    with_machine!(machine, |m| m.listener.handle_connected(Instant(now_ms)))
}

/// The control channel could not be opened: `status` of a refused handshake (0: none, e.g.
/// a TCP failure) and a `reason` (optional). 404 stops the listener; the rest are retried.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_handle_connect_failed(
    machine: *mut interlink_listener_machine,
    status: u16,
    reason: *const c_char,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract.
        unsafe {
            let m = handle(machine, "machine")?;
            let reason = opt_str_arg(reason, "reason")?.unwrap_or("");
            m.listener.handle_connect_failed(Instant(now_ms), (status != 0).then_some(status), reason);
        }
        Ok(())
    })
}

/// A text message (UTF-8, `len` bytes) arrived on the control channel.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_handle_text(
    machine: *mut interlink_listener_machine,
    text: *const c_char,
    len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract.
        unsafe {
            let m = handle(machine, "machine")?;
            m.listener.handle_text(Instant(now_ms), text_arg(text, len, "text")?);
        }
        Ok(())
    })
}

/// A binary message or fragment (`fin` marks the last) arrived on the control channel.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_handle_binary(
    machine: *mut interlink_listener_machine,
    data: *const u8,
    len: usize,
    fin: bool,
    now_ms: u64,
) -> interlink_result {
    ffi!(machine => {
        // SAFETY: caller's contract.
        unsafe {
            let m = handle(machine, "machine")?;
            m.listener.handle_binary(Instant(now_ms), bytes_arg(data, len, "data")?, fin);
        }
        Ok(())
    })
}

/// A pong (or any keepalive answer) arrived on the control channel.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_handle_pong(
    machine: *mut interlink_listener_machine,
    now_ms: u64,
) -> interlink_result {
    with_machine!(machine, |m| m.listener.handle_pong(Instant(now_ms)))
}

/// The control channel ended: the peer's Close `code` (0: the socket dropped).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_handle_closed(
    machine: *mut interlink_listener_machine,
    code: u16,
    now_ms: u64,
) -> interlink_result {
    with_machine!(machine, |m| m
        .listener
        .handle_closed(Instant(now_ms), (code != 0).then_some(code)))
}

/// Fires reconnects, token renewal and keepalive due at `now_ms`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_handle_timeout(
    machine: *mut interlink_listener_machine,
    now_ms: u64,
) -> interlink_result {
    with_machine!(machine, |m| m.listener.handle_timeout(Instant(now_ms)))
}

/// The next output, in order: OK (filled `*output`, borrowing from the machine until the
/// next call on it) or WOULD_BLOCK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_poll_output(
    machine: *mut interlink_listener_machine,
    output: *mut interlink_listener_output,
) -> interlink_result {
    ffi!(machine, output => {
        // SAFETY: caller's contract.
        let m = unsafe { handle(machine, "machine")? };
        let Some(o) = m.listener.poll_output() else {
            return Ok(interlink_result::WouldBlock);
        };
        let out = m.store.convert(o);
        // SAFETY: checked out-pointer.
        unsafe { write_out(output, out, "output") }?;
        Ok(interlink_result::Ok)
    })
}

/// When to call handle_timeout next: OK with `*at_ms`, or WOULD_BLOCK when nothing is due.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_poll_timeout(
    machine: *const interlink_listener_machine,
    at_ms: *mut u64,
) -> interlink_result {
    ffi!(machine, at_ms => {
        // SAFETY: caller's contract.
        match unsafe { &*machine }.listener.poll_timeout() {
            // SAFETY: checked out-pointer.
            Some(t) => unsafe { write_out(at_ms, t.0, "at_ms") }.map(|_| interlink_result::Ok),
            None => Ok(interlink_result::WouldBlock),
        }
    })
}

/// Whether the control channel is up (`*online_out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_is_online(
    machine: *const interlink_listener_machine,
    online_out: *mut bool,
) -> interlink_result {
    ffi!(machine, online_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(online_out, (*machine).listener.is_online(), "online_out") }
    })
}

/// Whether a complete response body of `len` bytes may go inline (`*fits_out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_machine_fits_inline(
    machine: *const interlink_listener_machine,
    len: usize,
    fits_out: *mut bool,
) -> interlink_result {
    ffi!(machine, fits_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(fits_out, (*machine).listener.fits_inline(len), "fits_out") }
    })
}

/// Answers request `request_id` on the control channel: `status`, optional `reason` (NULL:
/// the standard phrase), headers and a complete body (see fits_inline). Queues SEND_TEXT
/// (and SEND_BINARY when the body is not empty).
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_listener_machine_respond_inline(
    machine: *mut interlink_listener_machine,
    request_id: *const c_char,
    status: u16,
    reason: *const c_char,
    headers: *const interlink_header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
) -> interlink_result {
    ffi!(machine, request_id => {
        // SAFETY: caller's contract.
        unsafe {
            let m = handle(machine, "machine")?;
            let headers = Headers(headers_arg(headers, headers_len, "headers")?);
            m.listener.respond_inline(
                str_arg(request_id, "request_id")?,
                status,
                opt_str_arg(reason, "reason")?,
                headers,
                Bytes::copy_from_slice(bytes_arg(body, body_len, "body")?),
            );
        }
        Ok(())
    })
}

/// The text message that starts a response on a request's rendezvous socket (the body, when
/// `has_body`, follows as one binary message). Free `*message_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_rendezvous_response_head(
    request_id: *const c_char,
    status: u16,
    reason: *const c_char,
    headers: *const interlink_header,
    headers_len: usize,
    has_body: bool,
    message_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(request_id, message_out => {
        // SAFETY: caller's contract.
        unsafe {
            let text = rendezvous_response_head(
                str_arg(request_id, "request_id")?,
                status,
                opt_str_arg(reason, "reason")?,
                Headers(headers_arg(headers, headers_len, "headers")?),
                has_body,
            );
            write_out(message_out, owned_string(&text), "message_out")
        }
    })
}
