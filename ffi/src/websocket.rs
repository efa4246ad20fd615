//! WebSockets through the relay from C (`interlink_websocket_*`): a sender's connect, or a
//! socket a listener accepted; send, receive with a timeout, close.

use std::ffi::{CString, c_char};

use interlink::net::ClientTls;
use interlink::relay::RelaySender;
use interlink::ws::{Received, WebSocket};
use interlink_core::ws::Message;

use crate::boundary::{Error, interlink_result};
use crate::credentials;
use crate::memory::{
    bytes_arg, cstring, free_handle, interlink_bytes, new_handle, opt_str_arg, str_arg, text_arg,
    write_out,
};
use crate::runtime::block_on;

/// A WebSocket through the relay (opaque): from interlink_websocket_connect or
/// interlink_listener_accept; free with interlink_websocket_free (which closes it with
/// 1000). Thread-safe except free: one thread may send while another receives.
pub struct interlink_websocket {
    ws: WebSocket,
    target: CString,
}

impl interlink_websocket {
    /// Wraps a socket; `target` is its path and query.
    pub fn new(ws: WebSocket, target: &str) -> Self {
        interlink_websocket {
            ws,
            target: cstring(target),
        }
    }
}

/// Kind of an interlink_ws_message.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_ws_message_kind {
    /// A text message (`data`, UTF-8, not NUL-terminated).
    Text = 0,
    /// A binary message (`data`).
    Binary = 1,
    /// The peer closed with `close_code` (0: no status); `data` holds the reason.
    Close = 2,
}

/// A received message. `data` is owned by the caller: free it with interlink_bytes_free.
#[repr(C)]
#[derive(Debug)]
pub struct interlink_ws_message {
    /// What arrived.
    pub kind: interlink_ws_message_kind,
    /// The payload (CLOSE: the reason).
    pub data: interlink_bytes,
    /// CLOSE: the code, 0 when none.
    pub close_code: u16,
}

/// Opens a WebSocket to the listener of `hybrid_connection` (NULL: the connection string's
/// `EntityPath`) through the relay, with an optional `path_and_query` after the hybrid
/// connection (e.g. "chat?room=1"), within `timeout_ms` (0: the connection string's
/// OperationTimeout, else 70 s). A refused handshake is REFUSED with the status in
/// interlink_last_error_status() (404: no listener; the listener's reject status; 401/403).
/// Free `*websocket_out` with interlink_websocket_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_websocket_connect(
    connection_string: *const c_char,
    hybrid_connection: *const c_char,
    path_and_query: *const c_char,
    timeout_ms: u32,
    websocket_out: *mut *mut interlink_websocket,
) -> interlink_result {
    ffi!(connection_string, websocket_out => {
        // SAFETY: caller's contract on every pointer.
        let (cs, hc, pq) = unsafe {
            (
                credentials::parse(str_arg(connection_string, "connection_string")?)?,
                opt_str_arg(hybrid_connection, "hybrid_connection")?.unwrap_or(""),
                opt_str_arg(path_and_query, "path_and_query")?,
            )
        };
        let mut sender = RelaySender::new(&cs, hc, ClientTls::webpki())?;
        if timeout_ms != 0 {
            sender = sender.with_timeout(std::time::Duration::from_millis(timeout_ms.into()));
        }
        let pq = pq.map(|p| p.trim_start_matches('/')).filter(|p| !p.is_empty());
        let ws = block_on(0, sender.connect(pq, &[]))??;
        let target = match pq {
            Some(pq) if !pq.starts_with('?') => format!("/{}/{pq}", sender.entity_path()),
            Some(pq) => format!("/{}{pq}", sender.entity_path()),
            None => format!("/{}", sender.entity_path()),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(websocket_out, interlink_websocket::new(ws, &target), "websocket_out") }
    })
}

/// The socket's path and query (for an accepted socket, as the sender asked, e.g.
/// "/hc1/chat?room=1"). Borrowed: valid until interlink_websocket_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_websocket_target(
    websocket: *const interlink_websocket,
    target_out: *mut *const c_char,
) -> interlink_result {
    ffi!(websocket, target_out => {
        // SAFETY: caller's contract on both pointers.
        unsafe { write_out(target_out, (*websocket).target.as_ptr(), "target_out") }
    })
}

/// Sends a text message (`len` bytes of UTF-8). CLOSED once the socket has ended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_websocket_send_text(
    websocket: *const interlink_websocket,
    text: *const c_char,
    len: usize,
) -> interlink_result {
    ffi!(websocket => {
        // SAFETY: caller's contract.
        let (ws, text) = unsafe { (&(*websocket).ws, text_arg(text, len, "text")?.to_string()) };
        block_on(0, ws.send_text(text))?.map_err(|e| Error::new(interlink_result::Closed, e.to_string()))
    })
}

/// Sends a binary message. CLOSED once the socket has ended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_websocket_send_binary(
    websocket: *const interlink_websocket,
    data: *const u8,
    len: usize,
) -> interlink_result {
    ffi!(websocket => {
        // SAFETY: caller's contract.
        let (ws, data) = unsafe { (&(*websocket).ws, bytes_arg(data, len, "data")?.to_vec()) };
        block_on(0, ws.send_binary(data))?.map_err(|e| Error::new(interlink_result::Closed, e.to_string()))
    })
}

/// Waits (at most `timeout_ms`; 0 = no limit) for the next message or the peer's Close:
/// OK with `*message` (free `message->data` with interlink_bytes_free), TIMEOUT, or CLOSED
/// once the socket has ended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_websocket_recv(
    websocket: *const interlink_websocket,
    timeout_ms: u32,
    message: *mut interlink_ws_message,
) -> interlink_result {
    ffi!(websocket, message => {
        // SAFETY: caller's contract.
        let ws = unsafe { &(*websocket).ws };
        let received = block_on(timeout_ms, ws.recv())?
            .ok_or_else(|| Error::new(interlink_result::Closed, "the WebSocket has ended"))?;
        let (kind, data, close_code) = match received {
            Received::Message(Message::Text(t)) => (interlink_ws_message_kind::Text, t.into_bytes(), 0),
            Received::Message(Message::Binary(b)) => (interlink_ws_message_kind::Binary, b.to_vec(), 0),
            Received::Closed(code, reason) => {
                (interlink_ws_message_kind::Close, reason.into_bytes(), code.unwrap_or(0))
            }
        };
        let out = interlink_ws_message { kind, data: interlink_bytes::from_vec(data), close_code };
        // SAFETY: checked out-pointer.
        unsafe { write_out(message, out, "message") }
    })
}

/// Starts the close handshake with `code` and an optional `reason`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_websocket_close(
    websocket: *const interlink_websocket,
    code: u16,
    reason: *const c_char,
) -> interlink_result {
    ffi!(websocket => {
        // SAFETY: caller's contract.
        let (ws, reason) = unsafe { (&(*websocket).ws, opt_str_arg(reason, "reason")?.unwrap_or("")) };
        block_on(0, ws.close(code, reason))?.map_err(|e| Error::new(interlink_result::Closed, e.to_string()))
    })
}

/// Frees the socket (closing it with 1000 if still open); NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_websocket_free(websocket: *mut interlink_websocket) {
    // SAFETY: NULL or a handle from connect/accept, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(websocket) }; Ok(()) })
}
