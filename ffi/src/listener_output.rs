//! What the sans-IO listener asks its driver to do or tells it, as a C struct that borrows
//! its strings and bytes from the machine (valid until the next call on the machine).

use std::ffi::c_char;

use bytes::Bytes;
use interlink_core::relay::listener::ListenerOutput;
use interlink_core::relay::message::RemoteEndpoint;

use crate::memory::{HeaderBlock, OptText, TextBuf, interlink_header};

/// Kind of an interlink_listener_output.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_listener_output_kind {
    /// Open the control channel: a WebSocket to `url` with `headers` (the token); report with
    /// handle_connected or handle_connect_failed.
    Connect = 0,
    /// Send a text message (`data`/`data_len`, also NUL-terminated) on the control channel.
    SendText = 1,
    /// Send a binary message (`data`/`data_len`) on the control channel.
    SendBinary = 2,
    /// Send a ping on the control channel.
    Ping = 3,
    /// Close the control channel with `code` / `reason` and drop the socket.
    Close = 4,
    /// The control channel is up.
    Online = 5,
    /// The control channel went down (`reason`); a reconnect is scheduled.
    Offline = 6,
    /// A sender wants a WebSocket: open (or reject) `url`, the rendezvous address; `id`,
    /// `headers` (the sender's connect headers), remote endpoint.
    Accept = 7,
    /// An HTTP request arrived whole: `id`, `method`, `target`, `headers`, body in
    /// `data`/`data_len` when `has_body`; `url` is its rendezvous address. Answer with
    /// interlink_listener_machine_respond_inline (or over the rendezvous address).
    Request = 8,
    /// A request must be fetched from its rendezvous address `url` (id `id`).
    RendezvousRequest = 9,
    /// The listener stopped for good (`reason`).
    Stopped = 10,
}

/// One output of interlink_listener_machine_poll_output. Fields a kind does not use are
/// zero / NULL. Pointers borrow from the machine: valid until the next call on it.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_listener_output {
    /// What happened or what to do.
    pub kind: interlink_listener_output_kind,
    /// CONNECT: the control channel URL; ACCEPT, REQUEST, RENDEZVOUS_REQUEST: the rendezvous
    /// address (single use).
    pub url: *const c_char,
    /// ACCEPT, REQUEST, RENDEZVOUS_REQUEST: the id.
    pub id: *const c_char,
    /// REQUEST: the HTTP method.
    pub method: *const c_char,
    /// REQUEST: path and query as the sender sent them, including the hybrid connection
    /// name (e.g. "/hc1/hello?x=1").
    pub target: *const c_char,
    /// CONNECT: handshake headers; ACCEPT: the sender's headers; REQUEST: request headers.
    pub headers: *const interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
    /// SEND_TEXT, SEND_BINARY: the message; REQUEST: the body.
    pub data: *const u8,
    /// Length of `data`.
    pub data_len: usize,
    /// REQUEST: whether a body came with it.
    pub has_body: bool,
    /// CLOSE: the close code.
    pub code: u16,
    /// CLOSE, OFFLINE, STOPPED: why.
    pub reason: *const c_char,
    /// ACCEPT, REQUEST: the sender's address, or NULL when unknown.
    pub remote_address: *const c_char,
    /// ACCEPT, REQUEST: the sender's port (0 when unknown).
    pub remote_port: u16,
}

impl interlink_listener_output {
    fn blank(kind: interlink_listener_output_kind) -> Self {
        interlink_listener_output {
            kind,
            url: std::ptr::null(),
            id: std::ptr::null(),
            method: std::ptr::null(),
            target: std::ptr::null(),
            headers: std::ptr::null(),
            headers_len: 0,
            data: std::ptr::null(),
            data_len: 0,
            has_body: false,
            code: 0,
            reason: std::ptr::null(),
            remote_address: std::ptr::null(),
            remote_port: 0,
        }
    }
}

/// Storage that keeps the current output's strings and bytes alive.
#[derive(Default)]
pub struct ListenerStore {
    url: OptText,
    id: OptText,
    method: OptText,
    target: OptText,
    reason: OptText,
    remote: OptText,
    headers: HeaderBlock,
    text: TextBuf,
    data: Bytes,
}

impl ListenerStore {
    fn bytes(&mut self, b: Bytes, out: &mut interlink_listener_output) {
        self.data = b;
        out.data = if self.data.is_empty() {
            std::ptr::null()
        } else {
            self.data.as_ptr()
        };
        out.data_len = self.data.len();
    }

    fn remote(&mut self, r: Option<&RemoteEndpoint>, out: &mut interlink_listener_output) {
        out.remote_address = self.remote.set(r.map(|r| r.address.as_str()));
        out.remote_port = r.map_or(0, |r| r.port);
    }

    fn headers<'a>(
        &mut self,
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        out: &mut interlink_listener_output,
    ) {
        self.headers.set(pairs);
        out.headers = self.headers.ptr();
        out.headers_len = self.headers.len();
    }

    /// Converts `o`, keeping what it points to in `self`.
    pub fn convert(&mut self, o: ListenerOutput) -> interlink_listener_output {
        use interlink_listener_output_kind as K;
        match o {
            ListenerOutput::Connect { url, headers } => {
                let mut out = interlink_listener_output::blank(K::Connect);
                out.url = self.url.set(Some(&url));
                self.headers(
                    headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
                    &mut out,
                );
                out
            }
            ListenerOutput::SendText(t) => {
                let mut out = interlink_listener_output::blank(K::SendText);
                (out.data, out.data_len) = self.text.set(t);
                out
            }
            ListenerOutput::SendBinary(b) => {
                let mut out = interlink_listener_output::blank(K::SendBinary);
                self.bytes(b, &mut out);
                out
            }
            ListenerOutput::Ping => interlink_listener_output::blank(K::Ping),
            ListenerOutput::Close { code, reason } => {
                let mut out = interlink_listener_output::blank(K::Close);
                out.code = code;
                out.reason = self.reason.set(Some(&reason));
                out
            }
            ListenerOutput::Online => interlink_listener_output::blank(K::Online),
            ListenerOutput::Offline { reason } => {
                let mut out = interlink_listener_output::blank(K::Offline);
                out.reason = self.reason.set(Some(&reason));
                out
            }
            ListenerOutput::Stopped { reason } => {
                let mut out = interlink_listener_output::blank(K::Stopped);
                out.reason = self.reason.set(Some(&reason));
                out
            }
            ListenerOutput::Accept(a) => {
                let mut out = interlink_listener_output::blank(K::Accept);
                out.url = self.url.set(Some(&a.address));
                out.id = self.id.set(Some(&a.id));
                self.headers(a.connect_headers.iter(), &mut out);
                self.remote(a.remote_endpoint.as_ref(), &mut out);
                out
            }
            ListenerOutput::Request { request, body } => {
                let mut out = interlink_listener_output::blank(K::Request);
                out.url = self.url.set(Some(&request.address));
                out.id = self.id.set(Some(&request.id));
                out.method = self.method.set(request.method.as_deref());
                out.target = self.target.set(request.request_target.as_deref());
                self.headers(request.request_headers.iter(), &mut out);
                self.remote(request.remote_endpoint.as_ref(), &mut out);
                out.has_body = body.is_some();
                self.bytes(body.unwrap_or_default(), &mut out);
                out
            }
            ListenerOutput::RendezvousRequest { address, id } => {
                let mut out = interlink_listener_output::blank(K::RendezvousRequest);
                out.url = self.url.set(Some(&address));
                out.id = self.id.set(Some(&id));
                out
            }
        }
    }
}
