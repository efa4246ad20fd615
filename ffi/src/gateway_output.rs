//! What the sans-IO gateway asks its driver to do, as a C struct that borrows its strings
//! and bytes from the machine (valid until the next call on the machine).

use std::ffi::c_char;

use bytes::Bytes;
use interlink_core::relay::gateway::{AfterUpgrade, Output, ResponseBody, WsOut};

use crate::memory::{HeaderBlock, OptText, TextBuf, interlink_header};

/// Kind of an interlink_gateway_output.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_gateway_output_kind {
    /// Answer `conn`'s upgrade with 101 (echo `protocol` if not NULL); then drive it (feed
    /// its messages to the machine) or, when `paired`, forward frames between it and `peer`.
    Upgrade = 0,
    /// Answer `conn`'s upgrade with `status` / `reason` and close it.
    Refuse = 1,
    /// Send a message (`ws_kind`) on the driven WebSocket `conn`.
    Send = 2,
    /// Answer the HTTP sender `conn`: `status`, `reason`, `headers`; body per `body_kind`
    /// (FULL: `data`/`data_len`; STREAMING: HTTP_BODY pieces follow).
    HttpResponse = 3,
    /// A piece (`data`/`data_len`) of `conn`'s streaming response body.
    HttpBody = 4,
    /// `conn`'s streaming response body ended.
    HttpEnd = 5,
    /// `conn`'s streaming response broke off: end the connection abruptly.
    HttpAbort = 6,
    /// Stream the body of sender `conn` onto WebSocket `peer` as one binary message.
    PipeRequestBody = 7,
    /// Send `data`/`data_len` on WebSocket `conn` as one binary message.
    SendRequestBody = 8,
}

/// The message of a SEND output.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_ws_out_kind {
    /// Not a SEND output.
    None = 0,
    /// A text message: `data`/`data_len` (also NUL-terminated).
    Text = 1,
    /// A binary message: `data`/`data_len`.
    Binary = 2,
    /// A keepalive ping with an empty payload.
    Ping = 3,
    /// A Close frame with `close_code` and `reason`; close the socket once the peer answers.
    Close = 4,
}

/// How an HTTP_RESPONSE's body comes.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_body_kind {
    /// No body.
    Empty = 0,
    /// The whole body is in `data`/`data_len`.
    Full = 1,
    /// HTTP_BODY outputs follow, then HTTP_END or HTTP_ABORT.
    Streaming = 2,
}

/// One output of interlink_gateway_machine_poll_output. Fields a kind does not use are
/// zero / NULL. Pointers borrow from the machine: valid until the next call on it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_gateway_output {
    /// What to do.
    pub kind: interlink_gateway_output_kind,
    /// The connection concerned (PIPE_REQUEST_BODY: the sender; SEND_REQUEST_BODY: the WebSocket).
    pub conn: u64,
    /// UPGRADE when `paired`: the connection to pair with; PIPE_REQUEST_BODY: the WebSocket.
    pub peer: u64,
    /// UPGRADE: forward frames to `peer` (true) or drive the socket (false).
    pub paired: bool,
    /// UPGRADE: subprotocol to echo, or NULL.
    pub protocol: *const c_char,
    /// REFUSE, HTTP_RESPONSE: the HTTP status.
    pub status: u16,
    /// REFUSE, HTTP_RESPONSE: reason phrase; SEND of a Close: its reason. NULL otherwise.
    pub reason: *const c_char,
    /// SEND: which message.
    pub ws_kind: interlink_ws_out_kind,
    /// SEND of a Close: its code.
    pub close_code: u16,
    /// SEND text/binary, HTTP_RESPONSE (FULL), HTTP_BODY, SEND_REQUEST_BODY: the bytes.
    pub data: *const u8,
    /// Length of `data`.
    pub data_len: usize,
    /// HTTP_RESPONSE: headers (framing headers removed, Via added).
    pub headers: *const interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
    /// HTTP_RESPONSE: how the body comes.
    pub body_kind: interlink_body_kind,
}

impl interlink_gateway_output {
    fn blank(kind: interlink_gateway_output_kind, conn: u64) -> Self {
        interlink_gateway_output {
            kind,
            conn,
            peer: 0,
            paired: false,
            protocol: std::ptr::null(),
            status: 0,
            reason: std::ptr::null(),
            ws_kind: interlink_ws_out_kind::None,
            close_code: 0,
            data: std::ptr::null(),
            data_len: 0,
            headers: std::ptr::null(),
            headers_len: 0,
            body_kind: interlink_body_kind::Empty,
        }
    }
}

/// Storage that keeps the current output's strings and bytes alive.
#[derive(Default)]
pub struct OutputStore {
    protocol: OptText,
    reason: OptText,
    text: TextBuf,
    data: Bytes,
    headers: HeaderBlock,
}

impl OutputStore {
    fn bytes(&mut self, b: Bytes, out: &mut interlink_gateway_output) {
        self.data = b;
        out.data = if self.data.is_empty() {
            std::ptr::null()
        } else {
            self.data.as_ptr()
        };
        out.data_len = self.data.len();
    }

    /// Converts `o`, keeping what it points to in `self`.
    pub fn convert(&mut self, o: Output) -> interlink_gateway_output {
        use interlink_gateway_output_kind as K;
        match o {
            Output::Upgrade {
                conn,
                protocol,
                then,
            } => {
                let mut out = interlink_gateway_output::blank(K::Upgrade, conn.0);
                out.protocol = self.protocol.set(protocol.as_deref());
                if let AfterUpgrade::PairWith(peer) = then {
                    out.paired = true;
                    out.peer = peer.0;
                }
                out
            }
            Output::Refuse {
                conn,
                status,
                reason,
            } => {
                let mut out = interlink_gateway_output::blank(K::Refuse, conn.0);
                out.status = status;
                out.reason = self.reason.set(Some(&reason));
                out
            }
            Output::Send { conn, msg } => {
                let mut out = interlink_gateway_output::blank(K::Send, conn.0);
                match msg {
                    WsOut::Text(t) => {
                        out.ws_kind = interlink_ws_out_kind::Text;
                        (out.data, out.data_len) = self.text.set(t);
                    }
                    WsOut::Binary(b) => {
                        out.ws_kind = interlink_ws_out_kind::Binary;
                        self.bytes(b, &mut out);
                    }
                    WsOut::Ping => out.ws_kind = interlink_ws_out_kind::Ping,
                    WsOut::Close { code, reason } => {
                        out.ws_kind = interlink_ws_out_kind::Close;
                        out.close_code = code;
                        out.reason = self.reason.set(Some(&reason));
                    }
                }
                out
            }
            Output::HttpResponse {
                conn,
                status,
                reason,
                headers,
                body,
            } => {
                let mut out = interlink_gateway_output::blank(K::HttpResponse, conn.0);
                out.status = status;
                out.reason = self.reason.set(Some(&reason));
                self.headers.set(headers.iter());
                out.headers = self.headers.ptr();
                out.headers_len = self.headers.len();
                out.body_kind = match body {
                    ResponseBody::Empty => interlink_body_kind::Empty,
                    ResponseBody::Full(b) => {
                        self.bytes(b, &mut out);
                        interlink_body_kind::Full
                    }
                    ResponseBody::Streaming => interlink_body_kind::Streaming,
                };
                out
            }
            Output::HttpBody { conn, data } => {
                let mut out = interlink_gateway_output::blank(K::HttpBody, conn.0);
                self.bytes(data, &mut out);
                out
            }
            Output::HttpEnd { conn } => interlink_gateway_output::blank(K::HttpEnd, conn.0),
            Output::HttpAbort { conn } => interlink_gateway_output::blank(K::HttpAbort, conn.0),
            Output::PipeRequestBody { from, to } => {
                let mut out = interlink_gateway_output::blank(K::PipeRequestBody, from.0);
                out.peer = to.0;
                out
            }
            Output::SendRequestBody { to, data } => {
                let mut out = interlink_gateway_output::blank(K::SendRequestBody, to.0);
                self.bytes(data, &mut out);
                out
            }
        }
    }
}
