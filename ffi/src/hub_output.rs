//! What the hub handles hand to C: events of the client and server connections
//! (`interlink_hub_event`), frames for the transport (`interlink_hub_transmit`), and the
//! storage ([`PartsStore`]) that keeps the strings, headers and values of a borrowed view
//! alive inside the handle until the next poll of the same kind.

use std::ffi::{CString, c_char};

use bytes::Bytes;
use interlink_core::hub::{
    ClientEvent, CloseReason, CompletionResult, Headers, Invocation, Negotiated, RawValue,
    ServerEvent, Transmit,
};

use crate::hub_value::{interlink_hub_protocol, interlink_hub_result_kind, interlink_hub_value};
use crate::memory::{HeaderBlock, OptText, cstring, interlink_header};

/// Kind of an interlink_hub_event; each says which fields it fills (the others are NULL / 0).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_hub_event_kind {
    /// Both: the handshake succeeded (`protocol`, `version`, `stateful`).
    Connected = 0,
    /// Both: the peer calls a method (`invocation_id`, NULL for a call that must not be
    /// answered; `target`, `arguments`, `stream_ids`, `headers`). Answer with
    /// interlink_hub_client_complete_server_call / interlink_hub_server_complete.
    Invocation = 1,
    /// Server: the client calls a streaming method (same fields as INVOCATION); send items
    /// with interlink_hub_server_stream_item, end with interlink_hub_server_complete.
    StreamInvocation = 2,
    /// Client: one item (`item`) of stream `invocation_id`.
    StreamItem = 3,
    /// Client: call `invocation_id` finished (`result_kind`, `result` or `error`); for a
    /// stream, its end.
    Completion = 4,
    /// Server: the client cancelled its streaming call `invocation_id`.
    Cancel = 5,
    /// Server: one item (`item`) of upload stream `invocation_id` (the stream id).
    UploadItem = 6,
    /// Server: upload stream `invocation_id` ended (`error` non-NULL: the client failed it).
    UploadComplete = 7,
    /// Server: the client answered interlink_hub_server_invoke_with_result call
    /// `invocation_id` (`result_kind`, `result` or `error`).
    ClientResult = 8,
    /// Both: the transport was lost; the stateful connection waits for
    /// handle_transport_reattached (or handle_transport_closed to give up).
    TransportLost = 9,
    /// Both: a re-attached transport resumed the connection.
    Resumed = 10,
    /// Both: the connection ended (`close_reason`, `error`, `allow_reconnect`). Send the
    /// remaining transmits, then close the transport.
    Closed = 11,
}

/// Why a hub connection ended (CLOSED events).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_hub_close_reason {
    /// Not a CLOSED event.
    None = 0,
    /// The application called close.
    Local = 1,
    /// The peer sent a Close message.
    PeerClosed = 2,
    /// Nothing arrived for the configured timeout.
    TimedOut = 3,
    /// The handshake did not complete in time, or was malformed or too large.
    HandshakeCanceled = 4,
    /// The handshake was refused (`error` holds the text).
    HandshakeRejected = 5,
    /// The peer broke the hub protocol (`error` holds the violation).
    ProtocolError = 6,
    /// The transport went away and the connection cannot be resumed.
    TransportClosed = 7,
}

/// One event of interlink_hub_client_poll_event / interlink_hub_server_poll_event. Every
/// pointer borrows from the handle: valid until the next poll_event on it, or its free.
/// Values are encoded in the connection's protocol.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_hub_event {
    /// What happened; says which fields are filled.
    pub kind: interlink_hub_event_kind,
    /// CONNECTED: the protocol.
    pub protocol: interlink_hub_protocol,
    /// CONNECTED: the handshake version (2 = stateful reconnect possible).
    pub version: u32,
    /// CONNECTED: whether stateful reconnect (Ack, Sequence, replay) is in use.
    pub stateful: bool,
    /// The invocation (or upload stream) id; NULL when none.
    pub invocation_id: *const c_char,
    /// INVOCATION, STREAM_INVOCATION: the method name.
    pub target: *const c_char,
    /// INVOCATION, STREAM_INVOCATION: the arguments (NULL when none).
    pub arguments: *const interlink_hub_value,
    /// Number of `arguments`.
    pub arguments_len: usize,
    /// INVOCATION, STREAM_INVOCATION: ids of upload streams the caller will feed.
    pub stream_ids: *const *const c_char,
    /// Number of `stream_ids`.
    pub stream_ids_len: usize,
    /// INVOCATION, STREAM_INVOCATION: the message headers (NULL when none).
    pub headers: *const interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
    /// STREAM_ITEM, UPLOAD_ITEM: the item.
    pub item: interlink_hub_value,
    /// COMPLETION, CLIENT_RESULT: how the call ended.
    pub result_kind: interlink_hub_result_kind,
    /// COMPLETION, CLIENT_RESULT with result_kind VALUE: the result.
    pub result: interlink_hub_value,
    /// COMPLETION / CLIENT_RESULT with result_kind ERROR, UPLOAD_COMPLETE: the error text;
    /// CLOSED: the peer's Close error or the local reason's text. NULL when none.
    pub error: *const c_char,
    /// CLOSED: why.
    pub close_reason: interlink_hub_close_reason,
    /// CLOSED (client): the server's Close allows reconnecting.
    pub allow_reconnect: bool,
}

impl interlink_hub_event {
    fn blank(kind: interlink_hub_event_kind) -> Self {
        interlink_hub_event {
            kind,
            protocol: interlink_hub_protocol::Json,
            version: 0,
            stateful: false,
            invocation_id: std::ptr::null(),
            target: std::ptr::null(),
            arguments: std::ptr::null(),
            arguments_len: 0,
            stream_ids: std::ptr::null(),
            stream_ids_len: 0,
            headers: std::ptr::null(),
            headers_len: 0,
            item: interlink_hub_value::none(),
            result_kind: interlink_hub_result_kind::Void,
            result: interlink_hub_value::none(),
            error: std::ptr::null(),
            close_reason: interlink_hub_close_reason::None,
            allow_reconnect: false,
        }
    }
}

/// One frame for the transport, from poll_transmit: send (`data`, `len`) as one WebSocket
/// message (binary when `binary`, else text), one SSE event, or append it to the next
/// long-poll response. Borrows from the handle until its next poll_transmit, or its free.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_hub_transmit {
    /// The bytes.
    pub data: *const u8,
    /// Their number.
    pub len: usize,
    /// True for a binary frame (MessagePack hub traffic), false for text.
    pub binary: bool,
}

/// Keeps the current transmit's bytes alive.
#[derive(Default)]
pub struct TransmitStore(Bytes);

impl TransmitStore {
    /// Keeps `t` and returns its view.
    pub fn convert(&mut self, t: Transmit) -> interlink_hub_transmit {
        self.0 = t.data;
        interlink_hub_transmit {
            data: self.0.as_ptr(),
            len: self.0.len(),
            binary: t.binary,
        }
    }
}

/// The strings, headers and values of one borrowed view (a decoded message or an event).
#[derive(Default)]
pub struct PartsStore {
    invocation_id: OptText,
    target: OptText,
    error: OptText,
    headers: HeaderBlock,
    values: Vec<Bytes>,
    value_views: Vec<interlink_hub_value>,
    stream_ids: Vec<CString>,
    stream_id_ptrs: Vec<*const c_char>,
    item: Bytes,
    result: Bytes,
}

impl PartsStore {
    /// The invocation id (NULL for `None`).
    pub fn id(&mut self, id: Option<&str>) -> *const c_char {
        self.invocation_id.set(id)
    }

    /// The method name.
    pub fn target(&mut self, target: Option<&str>) -> *const c_char {
        self.target.set(target)
    }

    /// An error text (NULL for `None`).
    pub fn error(&mut self, error: Option<&str>) -> *const c_char {
        self.error.set(error)
    }

    /// The headers as an array (NULL when empty).
    pub fn headers(&mut self, headers: &Headers) -> (*const interlink_header, usize) {
        self.headers
            .set(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        (self.headers.ptr(), self.headers.len())
    }

    /// The argument values as an array (NULL when empty).
    pub fn arguments(&mut self, args: Vec<RawValue>) -> (*const interlink_hub_value, usize) {
        self.values = args.into_iter().map(into_bytes).collect();
        // Bytes data does not move with the Vec: the views stay valid while `values` lives.
        self.value_views = self.values.iter().map(interlink_hub_value::of).collect();
        if self.value_views.is_empty() {
            (std::ptr::null(), 0)
        } else {
            (self.value_views.as_ptr(), self.value_views.len())
        }
    }

    /// The ids as an array of C strings (NULL when empty).
    pub fn stream_ids(&mut self, ids: &[String]) -> (*const *const c_char, usize) {
        self.stream_ids = ids.iter().map(|s| cstring(s)).collect();
        self.stream_id_ptrs = self.stream_ids.iter().map(|c| c.as_ptr()).collect();
        if self.stream_id_ptrs.is_empty() {
            (std::ptr::null(), 0)
        } else {
            (self.stream_id_ptrs.as_ptr(), self.stream_id_ptrs.len())
        }
    }

    /// A stream or upload item.
    pub fn item(&mut self, item: RawValue) -> interlink_hub_value {
        self.item = into_bytes(item);
        interlink_hub_value::of(&self.item)
    }

    /// A completion's (kind, value, error text).
    pub fn completion(
        &mut self,
        result: CompletionResult,
    ) -> (
        interlink_hub_result_kind,
        interlink_hub_value,
        *const c_char,
    ) {
        match result {
            CompletionResult::Void => (
                interlink_hub_result_kind::Void,
                interlink_hub_value::none(),
                std::ptr::null(),
            ),
            CompletionResult::Value(v) => {
                self.result = into_bytes(v);
                (
                    interlink_hub_result_kind::Value,
                    interlink_hub_value::of(&self.result),
                    std::ptr::null(),
                )
            }
            CompletionResult::Error(e) => (
                interlink_hub_result_kind::Error,
                interlink_hub_value::none(),
                self.error(Some(&e)),
            ),
        }
    }

    fn invocation(&mut self, inv: Invocation, out: &mut interlink_hub_event) {
        out.invocation_id = self.id(inv.invocation_id.as_deref());
        out.target = self.target(Some(&inv.target));
        (out.headers, out.headers_len) = self.headers(&inv.headers);
        (out.stream_ids, out.stream_ids_len) = self.stream_ids(&inv.stream_ids);
        (out.arguments, out.arguments_len) = self.arguments(inv.arguments);
    }

    fn connected(n: Negotiated) -> interlink_hub_event {
        let mut out = interlink_hub_event::blank(interlink_hub_event_kind::Connected);
        out.protocol = n.protocol.into();
        out.version = n.version;
        out.stateful = n.stateful;
        out
    }

    fn result_event(
        &mut self,
        kind: interlink_hub_event_kind,
        invocation_id: &str,
        result: CompletionResult,
    ) -> interlink_hub_event {
        let mut out = interlink_hub_event::blank(kind);
        out.invocation_id = self.id(Some(invocation_id));
        (out.result_kind, out.result, out.error) = self.completion(result);
        out
    }

    /// Converts a client event, keeping what it points to.
    pub fn client_event(&mut self, e: ClientEvent) -> interlink_hub_event {
        use interlink_hub_event_kind as K;
        match e {
            ClientEvent::Connected(n) => Self::connected(n),
            ClientEvent::Invocation(inv) => {
                let mut out = interlink_hub_event::blank(K::Invocation);
                self.invocation(inv, &mut out);
                out
            }
            ClientEvent::StreamItem {
                invocation_id,
                item,
            } => {
                let mut out = interlink_hub_event::blank(K::StreamItem);
                out.invocation_id = self.id(Some(&invocation_id));
                out.item = self.item(item);
                out
            }
            ClientEvent::Completion {
                invocation_id,
                result,
            } => self.result_event(K::Completion, &invocation_id, result),
            ClientEvent::TransportLost => interlink_hub_event::blank(K::TransportLost),
            ClientEvent::Resumed => interlink_hub_event::blank(K::Resumed),
            ClientEvent::Closed {
                reason,
                error,
                allow_reconnect,
            } => {
                let mut out = interlink_hub_event::blank(K::Closed);
                out.close_reason = close_reason(&reason);
                out.error = self.error(error.as_deref());
                out.allow_reconnect = allow_reconnect;
                out
            }
        }
    }

    /// Converts a server event, keeping what it points to.
    pub fn server_event(&mut self, e: ServerEvent) -> interlink_hub_event {
        use interlink_hub_event_kind as K;
        match e {
            ServerEvent::Connected(n) => Self::connected(n),
            ServerEvent::Invocation(inv) => {
                let mut out = interlink_hub_event::blank(K::Invocation);
                self.invocation(inv, &mut out);
                out
            }
            ServerEvent::StreamInvocation(inv) => {
                let mut out = interlink_hub_event::blank(K::StreamInvocation);
                self.invocation(inv, &mut out);
                out
            }
            ServerEvent::Cancel { invocation_id } => {
                let mut out = interlink_hub_event::blank(K::Cancel);
                out.invocation_id = self.id(Some(&invocation_id));
                out
            }
            ServerEvent::UploadItem { stream_id, item } => {
                let mut out = interlink_hub_event::blank(K::UploadItem);
                out.invocation_id = self.id(Some(&stream_id));
                out.item = self.item(item);
                out
            }
            ServerEvent::UploadComplete { stream_id, error } => {
                let mut out = interlink_hub_event::blank(K::UploadComplete);
                out.invocation_id = self.id(Some(&stream_id));
                out.error = self.error(error.as_deref());
                out
            }
            ServerEvent::ClientResult {
                invocation_id,
                result,
            } => self.result_event(K::ClientResult, &invocation_id, result),
            ServerEvent::TransportLost => interlink_hub_event::blank(K::TransportLost),
            ServerEvent::Resumed => interlink_hub_event::blank(K::Resumed),
            ServerEvent::Closed(reason) => {
                let mut out = interlink_hub_event::blank(K::Closed);
                out.close_reason = close_reason(&reason);
                out.error = self.error(reason_text(&reason).as_deref());
                out
            }
        }
    }
}

fn into_bytes(v: RawValue) -> Bytes {
    match v {
        RawValue::Json(b) | RawValue::MessagePack(b) => b,
    }
}

fn close_reason(r: &CloseReason) -> interlink_hub_close_reason {
    use interlink_hub_close_reason as R;
    match r {
        CloseReason::Local => R::Local,
        CloseReason::PeerClosed => R::PeerClosed,
        CloseReason::TimedOut => R::TimedOut,
        CloseReason::HandshakeCanceled => R::HandshakeCanceled,
        CloseReason::HandshakeRejected(_) => R::HandshakeRejected,
        CloseReason::ProtocolError(_) => R::ProtocolError,
        CloseReason::TransportClosed => R::TransportClosed,
    }
}

/// The text a server-side close reason carries, if any.
fn reason_text(r: &CloseReason) -> Option<String> {
    match r {
        CloseReason::HandshakeRejected(text) => Some(text.clone()),
        CloseReason::ProtocolError(v) => Some(v.to_string()),
        _ => None,
    }
}
