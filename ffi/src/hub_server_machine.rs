//! The sans-IO hub server connection from C (`interlink_hub_server_*`): one client's
//! connection on a hub server, over a transport the caller runs (negotiate and the HTTP
//! routes are the caller's). Driving order, as in Rust (`interlink_core::hub::connection`):
//! 1. create it when the client's transport is attached; it waits for the handshake;
//! 2. feed every chunk the transport delivers with handle_data; report a lost transport with
//!    handle_transport_lost, a new one with handle_transport_reattached, a clean end (or
//!    giving up on a lost stateful transport) with handle_transport_closed;
//! 3. after every input and every command drain poll_transmit (each one transport frame) and
//!    poll_event until WOULD_BLOCK; sleep until poll_timeout and call handle_timeout;
//! 4. after a CLOSED event send the remaining transmits and close the transport.
//!
//! Method dispatch is the application's: INVOCATION / STREAM_INVOCATION events name the target.

use std::ffi::c_char;

use bytes::Bytes;
use interlink_core::hub::{CommandError, HubProtocol, ServerConnection, TransferFormat};
use interlink_core::time::Instant;

use crate::boundary::{Error, interlink_result};
use crate::hub_options::{interlink_hub_options, interlink_hub_stats};
use crate::hub_output::{PartsStore, TransmitStore, interlink_hub_event, interlink_hub_transmit};
use crate::hub_value::{
    command_error, interlink_hub_protocol, interlink_hub_value, protocols_arg, result_arg,
    value_arg, values_arg,
};
use crate::memory::{
    bytes_arg, free_handle, handle, new_handle, opt_str_arg, owned_string, str_arg, write_out,
};

/// The transfer formats a transport carries (interlink_hub_server_new's `transfer_format`,
/// taken as a `uint32_t`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_hub_transfer_format {
    /// Text only (Server-Sent Events): the messagepack protocol is refused.
    Text = 0,
    /// Binary and text (WebSockets, long polling).
    Binary = 1,
}

/// The negotiated shape of an open connection (interlink_hub_server_negotiated).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_hub_negotiated {
    /// The protocol the client chose.
    pub protocol: interlink_hub_protocol,
    /// The handshake version (2 = stateful reconnect possible).
    pub version: u32,
    /// Whether Ack / Sequence and replay are in use.
    pub stateful: bool,
}

/// One client's connection on a hub server (opaque). Create with interlink_hub_server_new,
/// free with interlink_hub_server_free. Not thread-safe.
pub struct interlink_hub_server {
    conn: ServerConnection,
    event: PartsStore,
    transmit: TransmitStore,
}

impl interlink_hub_server {
    /// Whether the connection has ended.
    fn ended(&self) -> bool {
        self.conn.is_closed()
    }

    fn check<T>(&self, r: Result<T, CommandError>) -> Result<T, Error> {
        r.map_err(|e| command_error(e, self.ended()))
    }

    /// The protocol values from C are encoded in (NotOpen before the handshake).
    fn protocol(&self) -> Result<HubProtocol, Error> {
        match self.conn.negotiated() {
            Some(n) if self.conn.is_open() => Ok(n.protocol),
            _ => self.check(Err(CommandError::NotOpen)),
        }
    }
}

/// The handle behind a required pointer.
unsafe fn server_ref<'a>(
    p: *mut interlink_hub_server,
) -> Result<&'a mut interlink_hub_server, Error> {
    // SAFETY: forwarded contract.
    unsafe { handle(p, "server") }
}

/// Creates a server connection for a client whose transport carries `transfer_format` (an
/// interlink_hub_transfer_format value), offering the protocols of `protocols`
/// (INTERLINK_HUB_PROTOCOLS_* bits). `stateful_allowed`: negotiate granted stateful
/// reconnect (used when the handshake asks for version 2). `options` may be NULL (defaults).
/// Free `*server_out` with interlink_hub_server_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_new(
    options: *const interlink_hub_options,
    transfer_format: u32,
    stateful_allowed: bool,
    protocols: u32,
    now_ms: u64,
    server_out: *mut *mut interlink_hub_server,
) -> interlink_result {
    ffi!(server_out => {
        let format = match transfer_format {
            0 => TransferFormat::Text,
            1 => TransferFormat::Binary,
            f => return Err(Error::invalid(format!(
                "`transfer_format` is {f}, not an interlink_hub_transfer_format"
            ))),
        };
        let enabled = protocols_arg(protocols)?;
        // SAFETY: caller's contract.
        let options = unsafe { interlink_hub_options::read(options) };
        let s = interlink_hub_server {
            conn: ServerConnection::new(options, format, stateful_allowed, &enabled, Instant(now_ms)),
            event: PartsStore::default(),
            transmit: TransmitStore::default(),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(server_out, s, "server_out") }
    })
}

/// Frees a server connection; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_free(server: *mut interlink_hub_server) {
    // SAFETY: NULL or a handle from interlink_hub_server_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(server) }; Ok(()) })
}

/// Bytes the transport delivered (any split). After the connection ended they are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_handle_data(
    server: *mut interlink_hub_server,
    data: *const u8,
    len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(server => {
        // SAFETY: caller's contract.
        unsafe { server_ref(server)?.conn.handle_data(bytes_arg(data, len, "data")?, Instant(now_ms)) };
        Ok(())
    })
}

/// Fires the handshake deadline, keep-alive Pings, Acks and the client timeout due at
/// `now_ms`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_handle_timeout(
    server: *mut interlink_hub_server,
    now_ms: u64,
) -> interlink_result {
    ffi!(server => {
        // SAFETY: caller's contract.
        unsafe { server_ref(server)? }.conn.handle_timeout(Instant(now_ms));
        Ok(())
    })
}

/// The transport ended without a clean close: a stateful connection reports TRANSPORT_LOST
/// and waits (the driver decides how long); any other ends (CLOSED).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_handle_transport_lost(
    server: *mut interlink_hub_server,
) -> interlink_result {
    ffi!(server => {
        // SAFETY: caller's contract.
        unsafe { server_ref(server)? }.conn.handle_transport_lost();
        Ok(())
    })
}

/// The transport closed cleanly, or the driver gave up waiting for a re-attach (CLOSED).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_handle_transport_closed(
    server: *mut interlink_hub_server,
) -> interlink_result {
    ffi!(server => {
        // SAFETY: caller's contract.
        unsafe { server_ref(server)? }.conn.handle_transport_closed();
        Ok(())
    })
}

/// A new transport took over a lost stateful connection: Sequence and the replay are queued
/// (RESUMED). Ignored unless the connection is stateful and its transport was lost.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_handle_transport_reattached(
    server: *mut interlink_hub_server,
    now_ms: u64,
) -> interlink_result {
    ffi!(server => {
        // SAFETY: caller's contract.
        unsafe { server_ref(server)? }.conn.handle_transport_reattached(Instant(now_ms));
        Ok(())
    })
}

/// The next frame to send: OK (filled `*transmit`, borrowing from the server until its next
/// poll_transmit or free) or WOULD_BLOCK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_poll_transmit(
    server: *mut interlink_hub_server,
    transmit: *mut interlink_hub_transmit,
) -> interlink_result {
    ffi!(server, transmit => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let Some(t) = s.conn.poll_transmit() else {
            return Ok(interlink_result::WouldBlock);
        };
        let view = s.transmit.convert(t);
        // SAFETY: checked out-pointer.
        unsafe { write_out(transmit, view, "transmit") }?;
        Ok(interlink_result::Ok)
    })
}

/// The next event: OK (filled `*event`, borrowing from the server until its next
/// poll_event or free) or WOULD_BLOCK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_poll_event(
    server: *mut interlink_hub_server,
    event: *mut interlink_hub_event,
) -> interlink_result {
    ffi!(server, event => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let Some(e) = s.conn.poll_event() else {
            return Ok(interlink_result::WouldBlock);
        };
        let view = s.event.server_event(e);
        // SAFETY: checked out-pointer.
        unsafe { write_out(event, view, "event") }?;
        Ok(interlink_result::Ok)
    })
}

/// When to call handle_timeout next: OK with `*at_ms`, or WOULD_BLOCK when nothing is due.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_poll_timeout(
    server: *const interlink_hub_server,
    at_ms: *mut u64,
) -> interlink_result {
    ffi!(server, at_ms => {
        // SAFETY: caller's contract.
        match unsafe { &*server }.conn.poll_timeout() {
            // SAFETY: checked out-pointer.
            Some(t) => unsafe { write_out(at_ms, t.0, "at_ms") }.map(|_| interlink_result::Ok),
            None => Ok(interlink_result::WouldBlock),
        }
    })
}

/// Whether the handshake completed and the connection has not ended (`*open_out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_is_open(
    server: *const interlink_hub_server,
    open_out: *mut bool,
) -> interlink_result {
    ffi!(server, open_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(open_out, (*server).conn.is_open(), "open_out") }
    })
}

/// The protocol, version and statefulness the handshake settled (`*negotiated_out`);
/// WOULD_BLOCK before a successful handshake.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_negotiated(
    server: *const interlink_hub_server,
    negotiated_out: *mut interlink_hub_negotiated,
) -> interlink_result {
    ffi!(server, negotiated_out => {
        // SAFETY: caller's contract.
        let Some(n) = (unsafe { &*server }).conn.negotiated() else {
            return Ok(interlink_result::WouldBlock);
        };
        let out = interlink_hub_negotiated {
            protocol: n.protocol.into(),
            version: n.version,
            stateful: n.stateful,
        };
        // SAFETY: checked out-pointer.
        unsafe { write_out(negotiated_out, out, "negotiated_out") }.map(|_| interlink_result::Ok)
    })
}

/// Whether sends should be held back because the stateful replay buffer is at its limit
/// (`*full_out`); an Ack from the client frees it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_is_send_buffer_full(
    server: *const interlink_hub_server,
    full_out: *mut bool,
) -> interlink_result {
    ffi!(server, full_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(full_out, (*server).conn.is_send_buffer_full(), "full_out") }
    })
}

/// The connection's counters (`*stats_out`; zeros before the handshake).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_stats(
    server: *const interlink_hub_server,
    stats_out: *mut interlink_hub_stats,
) -> interlink_result {
    ffi!(server, stats_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(stats_out, (*server).conn.stats().into(), "stats_out") }
    })
}

/// Answers client call `invocation_id` (an INVOCATION with an id, or the end of a
/// STREAM_INVOCATION): `result_kind` (an interlink_hub_result_kind value) VOID, VALUE with
/// (`result`, `result_len`) in the connection's protocol, or ERROR with the `error` text.
/// NOT_FOUND when that call is not running (unknown, non-blocking or already completed);
/// INVALID_STATE before the handshake, CLOSED after the end.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_hub_server_complete(
    server: *mut interlink_hub_server,
    invocation_id: *const c_char,
    result_kind: u32,
    result: *const u8,
    result_len: usize,
    error: *const c_char,
    now_ms: u64,
) -> interlink_result {
    ffi!(server, invocation_id => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let id = unsafe { str_arg(invocation_id, "invocation_id") }?;
        let protocol = s.protocol()?;
        let result = unsafe { result_arg(protocol, result_kind, result, result_len, error) }?;
        let r = s.conn.complete(id, result, Instant(now_ms));
        s.check(r)
    })
}

/// Sends one item (`item`, `item_len` bytes in the connection's protocol) of streaming call
/// `invocation_id`. NOT_FOUND when it is not a running stream (or the client cancelled it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_stream_item(
    server: *mut interlink_hub_server,
    invocation_id: *const c_char,
    item: *const u8,
    item_len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(server, invocation_id, item => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let id = unsafe { str_arg(invocation_id, "invocation_id") }?;
        let protocol = s.protocol()?;
        let value = unsafe { value_arg(protocol, item, item_len, "item") }?;
        let r = s.conn.stream_item(id, value, Instant(now_ms));
        s.check(r)
    })
}

/// Calls client method `target` with `arguments` (in the connection's protocol) without
/// waiting for a result.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_invoke(
    server: *mut interlink_hub_server,
    target: *const c_char,
    arguments: *const interlink_hub_value,
    arguments_len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(server, target => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let target = unsafe { str_arg(target, "target") }?;
        let protocol = s.protocol()?;
        let args = unsafe { values_arg(protocol, arguments, arguments_len, "arguments") }?;
        let r = s.conn.invoke(target, args, Instant(now_ms));
        s.check(r)
    })
}

/// Calls client method `target` and expects its result (a CLIENT_RESULT event with the id
/// written to `*invocation_id_out`, which is required and owned by the caller: free it with
/// interlink_string_free).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_invoke_with_result(
    server: *mut interlink_hub_server,
    target: *const c_char,
    arguments: *const interlink_hub_value,
    arguments_len: usize,
    now_ms: u64,
    invocation_id_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(server, target, invocation_id_out => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let target = unsafe { str_arg(target, "target") }?;
        let protocol = s.protocol()?;
        let args = unsafe { values_arg(protocol, arguments, arguments_len, "arguments") }?;
        let r = s.conn.invoke_with_result(target, args, Instant(now_ms));
        let id = s.check(r)?;
        // SAFETY: checked out-pointer.
        unsafe { write_out(invocation_id_out, owned_string(&id), "invocation_id_out") }
    })
}

/// Sends one message already framed in this connection's protocol (from
/// interlink_hub_encode; one encoding can serve many connections). `trackable` must be true
/// exactly for message types 1–5 (stateful reconnect numbers and replays those). The bytes
/// are copied and not checked.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_send_encoded(
    server: *mut interlink_hub_server,
    frame: *const u8,
    frame_len: usize,
    trackable: bool,
    now_ms: u64,
) -> interlink_result {
    ffi!(server, frame => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let bytes = unsafe { bytes_arg(frame, frame_len, "frame") }?;
        if bytes.is_empty() {
            return Err(Error::invalid("`frame` is empty"));
        }
        let r = s.conn.send_encoded(Bytes::copy_from_slice(bytes), trackable, Instant(now_ms));
        s.check(r)
    })
}

/// Ends the connection: a Close message with `error` (NULL: none) and `allow_reconnect` is
/// queued (when open) and CLOSED follows. Send the remaining transmits, then close the
/// transport. Closing twice is harmless.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_server_close(
    server: *mut interlink_hub_server,
    error: *const c_char,
    allow_reconnect: bool,
    now_ms: u64,
) -> interlink_result {
    ffi!(server => {
        // SAFETY: caller's contract.
        let s = unsafe { server_ref(server)? };
        let error = unsafe { opt_str_arg(error, "error") }?.map(str::to_string);
        s.conn.close(error, allow_reconnect, Instant(now_ms));
        Ok(())
    })
}
