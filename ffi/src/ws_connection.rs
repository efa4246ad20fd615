//! The sans-IO WebSocket codec from C (`interlink_ws_connection_*`): one endpoint after the
//! HTTP upgrade. Call order, every time something happens:
//! 1. feed bytes read from the transport, or send_* / close;
//! 2. drain poll_event until WOULD_BLOCK (or an error: the connection failed, its Close is
//!    queued);
//! 3. drain poll_transmit until WOULD_BLOCK, writing each chunk in order.

use std::ffi::c_char;

use bytes::Bytes;
use interlink_core::ws::handshake::accept_key;
use interlink_core::ws::{Connection, ConnectionConfig, Event, Message, Role, State};

use crate::boundary::interlink_result;
use crate::memory::{
    OptText, TextBuf, bytes_arg, free_handle, handle, interlink_bytes, new_handle, opt_str_arg,
    owned_string, str_arg, text_arg, write_out,
};

/// A WebSocket endpoint (opaque). Create with interlink_ws_connection_new, free with
/// interlink_ws_connection_free. Not thread-safe.
pub struct interlink_ws_connection {
    conn: Connection,
    text: TextBuf,
    data: Bytes,
    reason: OptText,
}

/// Kind of an interlink_ws_event.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_ws_event_kind {
    /// A whole text message in `data`/`data_len` (also NUL-terminated).
    Text = 0,
    /// A whole binary message in `data`/`data_len`.
    Binary = 1,
    /// The peer's ping (payload in `data`); the pong is already queued.
    Ping = 2,
    /// The peer's pong (payload in `data`).
    Pong = 3,
    /// The peer's Close: `close_code` (0: no status) and `reason`. Answer with close (e.g.
    /// the same code) unless you closed first.
    Close = 4,
}

/// One event of interlink_ws_connection_poll_event; borrows from the connection until the
/// next call on it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_ws_event {
    /// What arrived.
    pub kind: interlink_ws_event_kind,
    /// The payload (NULL when empty).
    pub data: *const u8,
    /// Its length.
    pub data_len: usize,
    /// CLOSE: the code (0 when the Close carried none).
    pub close_code: u16,
    /// CLOSE: the reason ("" when none); NULL for other kinds.
    pub reason: *const c_char,
}

/// Where the close handshake stands.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_ws_state {
    /// Both directions open.
    Open = 0,
    /// We sent Close; the peer's frames still arrive.
    CloseSent = 1,
    /// The peer sent Close; we may still send until we close.
    CloseReceived = 2,
    /// Done (or failed): close the transport once poll_transmit is drained.
    Closed = 3,
}

/// Creates a WebSocket endpoint: `client` true masks what it sends (we opened the
/// connection), false expects masked frames (we accepted it). `seed` seeds the masking keys
/// (use real entropy outside tests). Free `*conn_out` with interlink_ws_connection_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_new(
    client: bool,
    seed: u64,
    conn_out: *mut *mut interlink_ws_connection,
) -> interlink_result {
    ffi!(conn_out => {
        let role = if client { Role::Client } else { Role::Server };
        let c = interlink_ws_connection {
            conn: Connection::new(ConnectionConfig::new(role), seed),
            text: TextBuf::default(),
            data: Bytes::new(),
            reason: OptText::default(),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(conn_out, c, "conn_out") }
    })
}

/// Frees a WebSocket endpoint; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_free(conn: *mut interlink_ws_connection) {
    // SAFETY: NULL or a handle from interlink_ws_connection_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(conn) }; Ok(()) })
}

/// Buffers bytes read from the transport (decoded by poll_event).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_feed(
    conn: *mut interlink_ws_connection,
    data: *const u8,
    len: usize,
) -> interlink_result {
    ffi!(conn => {
        // SAFETY: caller's contract.
        unsafe { handle(conn, "conn")?.conn.handle_input(bytes_arg(data, len, "data")?) };
        Ok(())
    })
}

/// The next event: OK (filled `*event`), WOULD_BLOCK (more input needed, or closed), or
/// PROTOCOL when the peer broke the protocol (the connection failed; its Close is queued for
/// poll_transmit).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_poll_event(
    conn: *mut interlink_ws_connection,
    event: *mut interlink_ws_event,
) -> interlink_result {
    ffi!(conn, event => {
        // SAFETY: caller's contract.
        let c = unsafe { handle(conn, "conn")? };
        let Some(ev) = c.conn.poll_event()? else {
            return Ok(interlink_result::WouldBlock);
        };
        let mut out = interlink_ws_event {
            kind: interlink_ws_event_kind::Binary,
            data: std::ptr::null(),
            data_len: 0,
            close_code: 0,
            reason: std::ptr::null(),
        };
        let payload = |c: &mut interlink_ws_connection, b: Bytes, out: &mut interlink_ws_event| {
            c.data = b;
            out.data = if c.data.is_empty() { std::ptr::null() } else { c.data.as_ptr() };
            out.data_len = c.data.len();
        };
        match ev {
            Event::Message(Message::Text(t)) => {
                out.kind = interlink_ws_event_kind::Text;
                (out.data, out.data_len) = c.text.set(t);
            }
            Event::Message(Message::Binary(b)) => payload(c, b, &mut out),
            Event::Ping(b) => {
                out.kind = interlink_ws_event_kind::Ping;
                payload(c, b, &mut out);
            }
            Event::Pong(b) => {
                out.kind = interlink_ws_event_kind::Pong;
                payload(c, b, &mut out);
            }
            Event::Close(frame) => {
                out.kind = interlink_ws_event_kind::Close;
                out.close_code = frame.as_ref().map_or(0, |f| f.code);
                out.reason = c.reason.set(Some(frame.as_ref().map_or("", |f| f.reason.as_str())));
            }
            // Fragments only appear with stream_fragments, which this handle never sets.
            Event::Fragment { .. } => return Err(crate::boundary::Error::new(
                interlink_result::InvalidState,
                "unexpected fragment event",
            )),
        }
        // SAFETY: checked out-pointer.
        unsafe { write_out(event, out, "event") }?;
        Ok(interlink_result::Ok)
    })
}

/// Queues a text message (`len` bytes of UTF-8). CLOSED after close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_send_text(
    conn: *mut interlink_ws_connection,
    text: *const c_char,
    len: usize,
) -> interlink_result {
    ffi!(conn => {
        // SAFETY: caller's contract.
        unsafe { handle(conn, "conn")?.conn.send_text(text_arg(text, len, "text")?)? };
        Ok(())
    })
}

/// Queues a binary message. CLOSED after close.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_send_binary(
    conn: *mut interlink_ws_connection,
    data: *const u8,
    len: usize,
) -> interlink_result {
    ffi!(conn => {
        // SAFETY: caller's contract.
        unsafe { handle(conn, "conn")?.conn.send_binary(bytes_arg(data, len, "data")?)? };
        Ok(())
    })
}

/// Queues a ping (payload at most 125 bytes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_send_ping(
    conn: *mut interlink_ws_connection,
    data: *const u8,
    len: usize,
) -> interlink_result {
    ffi!(conn => {
        // SAFETY: caller's contract.
        unsafe { handle(conn, "conn")?.conn.send_ping(bytes_arg(data, len, "data")?)? };
        Ok(())
    })
}

/// Queues our Close with `code` (0: a Close without status) and an optional `reason` (at
/// most 123 bytes). From OPEN this half-closes; from CLOSE_RECEIVED it completes the
/// handshake.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_close(
    conn: *mut interlink_ws_connection,
    code: u16,
    reason: *const c_char,
) -> interlink_result {
    ffi!(conn => {
        // SAFETY: caller's contract.
        unsafe {
            let c = handle(conn, "conn")?;
            if code == 0 {
                c.conn.close_without_status()?;
            } else {
                c.conn.close(code, opt_str_arg(reason, "reason")?.unwrap_or(""))?;
            }
        }
        Ok(())
    })
}

/// Every byte queued for the transport since the last call: OK with `*bytes_out` (owned by
/// the caller: free with interlink_bytes_free), or WOULD_BLOCK when nothing is queued.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_poll_transmit(
    conn: *mut interlink_ws_connection,
    bytes_out: *mut interlink_bytes,
) -> interlink_result {
    ffi!(conn, bytes_out => {
        // SAFETY: caller's contract.
        let c = unsafe { handle(conn, "conn")? };
        match c.conn.poll_transmit() {
            Some(b) => {
                // SAFETY: checked out-pointer.
                unsafe { write_out(bytes_out, interlink_bytes::from_vec(b.to_vec()), "bytes_out") }?;
                Ok(interlink_result::Ok)
            }
            None => Ok(interlink_result::WouldBlock),
        }
    })
}

/// The close handshake's state.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_connection_state(
    conn: *const interlink_ws_connection,
    state_out: *mut interlink_ws_state,
) -> interlink_result {
    ffi!(conn, state_out => {
        // SAFETY: caller's contract.
        let state = match unsafe { &*conn }.conn.state() {
            State::Open => interlink_ws_state::Open,
            State::CloseSent => interlink_ws_state::CloseSent,
            State::CloseReceived => interlink_ws_state::CloseReceived,
            State::Closed => interlink_ws_state::Closed,
        };
        // SAFETY: checked out-pointer.
        unsafe { write_out(state_out, state, "state_out") }
    })
}

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (for drivers answering upgrades).
/// Free `*accept_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_ws_accept_key(
    key: *const c_char,
    accept_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(key, accept_out => {
        // SAFETY: caller's contract.
        unsafe {
            let accept = accept_key(str_arg(key, "key")?.trim());
            write_out(accept_out, owned_string(&accept), "accept_out")
        }
    })
}
