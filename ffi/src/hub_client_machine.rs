//! The sans-IO hub client from C (`interlink_hub_client_*`): one SignalR connection over a
//! transport the caller runs (after negotiate, which the caller does over HTTP). Driving
//! order, as in Rust (`interlink_core::hub::connection`):
//! 1. create it once the transport is open (the handshake request is queued at once);
//! 2. feed every chunk the transport delivers with handle_data; report a lost transport with
//!    handle_transport_lost, a new one with handle_transport_reattached, a clean end with
//!    handle_transport_closed;
//! 3. after every input and every command drain poll_transmit (each one transport frame) and
//!    poll_event until WOULD_BLOCK; sleep until poll_timeout and call handle_timeout;
//! 4. after a CLOSED event send the remaining transmits and close the transport.
//!
//! Values (arguments, items, results) cross as encoded bytes in the connection's protocol.

use std::ffi::c_char;

use interlink_core::hub::{ClientConnection, CommandError, HubProtocol, RawValue};
use interlink_core::time::Instant;

use crate::boundary::{Error, interlink_result};
use crate::hub_options::{interlink_hub_options, interlink_hub_stats};
use crate::hub_output::{PartsStore, TransmitStore, interlink_hub_event, interlink_hub_transmit};
use crate::hub_value::{
    command_error, interlink_hub_value, protocol_arg, result_arg, strings_arg, value_arg,
    values_arg,
};
use crate::memory::{
    bytes_arg, free_handle, handle, new_handle, opt_str_arg, owned_string, str_arg, write_out,
};

/// A hub client connection (opaque). Create with interlink_hub_client_new, free with
/// interlink_hub_client_free. Not thread-safe.
pub struct interlink_hub_client {
    conn: ClientConnection,
    protocol: HubProtocol,
    event: PartsStore,
    transmit: TransmitStore,
}

impl interlink_hub_client {
    /// Whether the connection has ended.
    fn ended(&self) -> bool {
        self.conn.is_closed()
    }

    fn check(&self, r: Result<(), CommandError>) -> Result<(), Error> {
        r.map_err(|e| command_error(e, self.ended()))
    }
}

/// The handle behind a required pointer.
unsafe fn client_ref<'a>(
    p: *mut interlink_hub_client,
) -> Result<&'a mut interlink_hub_client, Error> {
    // SAFETY: forwarded contract.
    unsafe { handle(p, "client") }
}

/// Writes an id to an optional `char **` out-parameter (caller-owned string).
unsafe fn id_out(out: *mut *mut c_char, id: &str) {
    if !out.is_null() {
        // SAFETY: non-NULL and writable per the contract.
        unsafe { out.write(owned_string(id)) };
    }
}

/// Creates a client connection over a freshly opened transport and queues the handshake
/// request (version 2 when `stateful`, i.e. negotiate granted stateful reconnect).
/// `options` may be NULL (defaults); `protocol` is an interlink_hub_protocol value. Free
/// `*client_out` with interlink_hub_client_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_new(
    options: *const interlink_hub_options,
    protocol: u32,
    stateful: bool,
    now_ms: u64,
    client_out: *mut *mut interlink_hub_client,
) -> interlink_result {
    ffi!(client_out => {
        let protocol = protocol_arg(protocol, "protocol")?;
        // SAFETY: caller's contract.
        let options = unsafe { interlink_hub_options::read(options) };
        let c = interlink_hub_client {
            conn: ClientConnection::new(options, protocol, stateful, Instant(now_ms)),
            protocol,
            event: PartsStore::default(),
            transmit: TransmitStore::default(),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(client_out, c, "client_out") }
    })
}

/// Frees a client connection; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_free(client: *mut interlink_hub_client) {
    // SAFETY: NULL or a handle from interlink_hub_client_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(client) }; Ok(()) })
}

/// Bytes the transport delivered (any split). After the connection ended they are ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_handle_data(
    client: *mut interlink_hub_client,
    data: *const u8,
    len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(client => {
        // SAFETY: caller's contract.
        unsafe { client_ref(client)?.conn.handle_data(bytes_arg(data, len, "data")?, Instant(now_ms)) };
        Ok(())
    })
}

/// Fires the handshake deadline, keep-alive Pings, Acks and the server timeout due at
/// `now_ms`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_handle_timeout(
    client: *mut interlink_hub_client,
    now_ms: u64,
) -> interlink_result {
    ffi!(client => {
        // SAFETY: caller's contract.
        unsafe { client_ref(client)? }.conn.handle_timeout(Instant(now_ms));
        Ok(())
    })
}

/// The transport ended without a clean close: a stateful connection reports TRANSPORT_LOST
/// and waits for handle_transport_reattached; any other ends (CLOSED).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_handle_transport_lost(
    client: *mut interlink_hub_client,
) -> interlink_result {
    ffi!(client => {
        // SAFETY: caller's contract.
        unsafe { client_ref(client)? }.conn.handle_transport_lost();
        Ok(())
    })
}

/// The transport closed cleanly, or re-attaching failed: the connection ends (CLOSED).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_handle_transport_closed(
    client: *mut interlink_hub_client,
) -> interlink_result {
    ffi!(client => {
        // SAFETY: caller's contract.
        unsafe { client_ref(client)? }.conn.handle_transport_closed();
        Ok(())
    })
}

/// The same connection (same connection token) is open again on a new transport: Sequence
/// and the replay of un-acked messages are queued, no handshake (RESUMED). Ignored unless
/// the connection is stateful and its transport was lost.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_handle_transport_reattached(
    client: *mut interlink_hub_client,
    now_ms: u64,
) -> interlink_result {
    ffi!(client => {
        // SAFETY: caller's contract.
        unsafe { client_ref(client)? }.conn.handle_transport_reattached(Instant(now_ms));
        Ok(())
    })
}

/// The next frame to send: OK (filled `*transmit`, borrowing from the client until its next
/// poll_transmit or free) or WOULD_BLOCK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_poll_transmit(
    client: *mut interlink_hub_client,
    transmit: *mut interlink_hub_transmit,
) -> interlink_result {
    ffi!(client, transmit => {
        // SAFETY: caller's contract.
        let c = unsafe { client_ref(client)? };
        let Some(t) = c.conn.poll_transmit() else {
            return Ok(interlink_result::WouldBlock);
        };
        let view = c.transmit.convert(t);
        // SAFETY: checked out-pointer.
        unsafe { write_out(transmit, view, "transmit") }?;
        Ok(interlink_result::Ok)
    })
}

/// The next event: OK (filled `*event`, borrowing from the client until its next
/// poll_event or free) or WOULD_BLOCK.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_poll_event(
    client: *mut interlink_hub_client,
    event: *mut interlink_hub_event,
) -> interlink_result {
    ffi!(client, event => {
        // SAFETY: caller's contract.
        let c = unsafe { client_ref(client)? };
        let Some(e) = c.conn.poll_event() else {
            return Ok(interlink_result::WouldBlock);
        };
        let view = c.event.client_event(e);
        // SAFETY: checked out-pointer.
        unsafe { write_out(event, view, "event") }?;
        Ok(interlink_result::Ok)
    })
}

/// When to call handle_timeout next: OK with `*at_ms`, or WOULD_BLOCK when nothing is due.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_poll_timeout(
    client: *const interlink_hub_client,
    at_ms: *mut u64,
) -> interlink_result {
    ffi!(client, at_ms => {
        // SAFETY: caller's contract.
        match unsafe { &*client }.conn.poll_timeout() {
            // SAFETY: checked out-pointer.
            Some(t) => unsafe { write_out(at_ms, t.0, "at_ms") }.map(|_| interlink_result::Ok),
            None => Ok(interlink_result::WouldBlock),
        }
    })
}

/// Whether the handshake completed and the connection has not ended (`*open_out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_is_open(
    client: *const interlink_hub_client,
    open_out: *mut bool,
) -> interlink_result {
    ffi!(client, open_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(open_out, (*client).conn.is_open(), "open_out") }
    })
}

/// Whether sends should be held back because the stateful replay buffer is at its limit
/// (`*full_out`); an Ack from the server frees it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_is_send_buffer_full(
    client: *const interlink_hub_client,
    full_out: *mut bool,
) -> interlink_result {
    ffi!(client, full_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(full_out, (*client).conn.is_send_buffer_full(), "full_out") }
    })
}

/// The connection's counters (`*stats_out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_stats(
    client: *const interlink_hub_client,
    stats_out: *mut interlink_hub_stats,
) -> interlink_result {
    ffi!(client, stats_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(stats_out, (*client).conn.stats().into(), "stats_out") }
    })
}

/// Arguments and upload stream ids of a call, read from C.
///
/// # Safety
/// As [`values_arg`] and [`strings_arg`].
unsafe fn call_args(
    protocol: HubProtocol,
    arguments: *const interlink_hub_value,
    arguments_len: usize,
    stream_ids: *const *const c_char,
    stream_ids_len: usize,
) -> Result<(Vec<RawValue>, Vec<String>), Error> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok((
            values_arg(protocol, arguments, arguments_len, "arguments")?,
            strings_arg(stream_ids, stream_ids_len, "stream_ids")?,
        ))
    }
}

/// Which of the three call commands.
#[derive(Clone, Copy)]
enum Call {
    Invoke,
    Send,
    Stream,
}

#[allow(clippy::too_many_arguments)]
unsafe fn call(
    kind: Call,
    client: *mut interlink_hub_client,
    target: *const c_char,
    arguments: *const interlink_hub_value,
    arguments_len: usize,
    stream_ids: *const *const c_char,
    stream_ids_len: usize,
    now_ms: u64,
    invocation_id_out: *mut *mut c_char,
) -> Result<(), Error> {
    // SAFETY (whole body): the caller's contract on every pointer.
    let c = unsafe { client_ref(client)? };
    let target = unsafe { str_arg(target, "target") }?;
    let (args, ids) = unsafe {
        call_args(
            c.protocol,
            arguments,
            arguments_len,
            stream_ids,
            stream_ids_len,
        )
    }?;
    let now = Instant(now_ms);
    let id = match kind {
        Call::Invoke => c.conn.invoke(target, args, ids, now).map(Some),
        Call::Stream => c.conn.stream(target, args, ids, now).map(Some),
        Call::Send => c.conn.send(target, args, ids, now).map(|()| None),
    };
    let ended = c.ended();
    let id = id.map_err(|e| command_error(e, ended))?;
    if let Some(id) = id {
        unsafe { id_out(invocation_id_out, &id) };
    }
    Ok(())
}

/// Calls hub method `target` with `arguments` (encoded in the connection's protocol) and the
/// ids of upload streams it will feed (`stream_ids`, from interlink_hub_client_new_stream_id;
/// NULL when none). One COMPLETION event with the returned id answers it. The id goes to
/// `*invocation_id_out` when that is not NULL (owned by the caller: free it with
/// interlink_string_free). INVALID_STATE before the handshake completed, CLOSED after the
/// connection ended, INVALID_ARGUMENT for a bad value.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_hub_client_invoke(
    client: *mut interlink_hub_client,
    target: *const c_char,
    arguments: *const interlink_hub_value,
    arguments_len: usize,
    stream_ids: *const *const c_char,
    stream_ids_len: usize,
    now_ms: u64,
    invocation_id_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(client, target => {
        // SAFETY: caller's contract.
        unsafe {
            call(Call::Invoke, client, target, arguments, arguments_len, stream_ids,
                 stream_ids_len, now_ms, invocation_id_out)
        }
    })
}

/// Calls hub method `target` without wanting a result (no id, no reply). Errors as
/// interlink_hub_client_invoke.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_send(
    client: *mut interlink_hub_client,
    target: *const c_char,
    arguments: *const interlink_hub_value,
    arguments_len: usize,
    stream_ids: *const *const c_char,
    stream_ids_len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(client, target => {
        // SAFETY: caller's contract.
        unsafe {
            call(Call::Send, client, target, arguments, arguments_len, stream_ids,
                 stream_ids_len, now_ms, std::ptr::null_mut())
        }
    })
}

/// Calls streaming hub method `target`: STREAM_ITEM events bring the items, one COMPLETION
/// event the end. The id goes to `*invocation_id_out` as for interlink_hub_client_invoke
/// (caller-owned; free with interlink_string_free). Errors as interlink_hub_client_invoke.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_hub_client_stream(
    client: *mut interlink_hub_client,
    target: *const c_char,
    arguments: *const interlink_hub_value,
    arguments_len: usize,
    stream_ids: *const *const c_char,
    stream_ids_len: usize,
    now_ms: u64,
    invocation_id_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(client, target => {
        // SAFETY: caller's contract.
        unsafe {
            call(Call::Stream, client, target, arguments, arguments_len, stream_ids,
                 stream_ids_len, now_ms, invocation_id_out)
        }
    })
}

/// Cancels stream `invocation_id` this client requested: later items are dropped; the
/// server's final COMPLETION still comes. NOT_FOUND for an id that is not a running call.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_cancel(
    client: *mut interlink_hub_client,
    invocation_id: *const c_char,
    now_ms: u64,
) -> interlink_result {
    ffi!(client, invocation_id => {
        // SAFETY: caller's contract.
        let c = unsafe { client_ref(client)? };
        let id = unsafe { str_arg(invocation_id, "invocation_id") }?;
        let r = c.conn.cancel(id, Instant(now_ms));
        c.check(r)
    })
}

/// A new upload stream id (`*stream_id_out`, owned by the caller: free it with
/// interlink_string_free): pass it in `stream_ids` of a call, feed it with
/// interlink_hub_client_upload_item, end it with interlink_hub_client_upload_complete.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_new_stream_id(
    client: *mut interlink_hub_client,
    stream_id_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(client, stream_id_out => {
        // SAFETY: caller's contract.
        let id = unsafe { client_ref(client)? }.conn.new_stream_id();
        // SAFETY: checked out-pointer.
        unsafe { write_out(stream_id_out, owned_string(&id), "stream_id_out") }
    })
}

/// Sends one item (`item`, `item_len` bytes encoded in the connection's protocol) of upload
/// stream `stream_id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_upload_item(
    client: *mut interlink_hub_client,
    stream_id: *const c_char,
    item: *const u8,
    item_len: usize,
    now_ms: u64,
) -> interlink_result {
    ffi!(client, stream_id, item => {
        // SAFETY: caller's contract.
        let c = unsafe { client_ref(client)? };
        let id = unsafe { str_arg(stream_id, "stream_id") }?;
        let value = unsafe { value_arg(c.protocol, item, item_len, "item") }?;
        let r = c.conn.upload_item(id, value, Instant(now_ms));
        c.check(r)
    })
}

/// Ends upload stream `stream_id`; a non-NULL `error` fails it on the server.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_upload_complete(
    client: *mut interlink_hub_client,
    stream_id: *const c_char,
    error: *const c_char,
    now_ms: u64,
) -> interlink_result {
    ffi!(client, stream_id => {
        // SAFETY: caller's contract.
        let c = unsafe { client_ref(client)? };
        let id = unsafe { str_arg(stream_id, "stream_id") }?;
        let error = unsafe { opt_str_arg(error, "error") }?.map(str::to_string);
        let r = c.conn.upload_complete(id, error, Instant(now_ms));
        c.check(r)
    })
}

/// Answers server call `invocation_id` (an INVOCATION event with an id): `result_kind` (an
/// interlink_hub_result_kind value) VOID, VALUE with (`result`, `result_len`) encoded in the
/// connection's protocol, or ERROR with the `error` text (the JS client sends "Client didn't
/// provide a result." when it has no handler). NOT_FOUND when that call is not waiting.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_hub_client_complete_server_call(
    client: *mut interlink_hub_client,
    invocation_id: *const c_char,
    result_kind: u32,
    result: *const u8,
    result_len: usize,
    error: *const c_char,
    now_ms: u64,
) -> interlink_result {
    ffi!(client, invocation_id => {
        // SAFETY: caller's contract.
        let c = unsafe { client_ref(client)? };
        let id = unsafe { str_arg(invocation_id, "invocation_id") }?;
        let result = unsafe { result_arg(c.protocol, result_kind, result, result_len, error) }?;
        let r = c.conn.complete_server_call(id, result, Instant(now_ms));
        c.check(r)
    })
}

/// Stops the connection: a Close message is queued (when open) and CLOSED follows; calls
/// still waiting complete with an error. Send the remaining transmits, then close the
/// transport. Closing twice is harmless.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_client_close(
    client: *mut interlink_hub_client,
    now_ms: u64,
) -> interlink_result {
    ffi!(client => {
        // SAFETY: caller's contract.
        unsafe { client_ref(client)? }.conn.close(Instant(now_ms));
        Ok(())
    })
}
