//! A relay listener from C (`interlink_listener_*`): keeps the control channel up on the
//! library's threads, answers HTTP requests through a C handler, filters WebSocket senders
//! through an optional C callback, and hands accepted WebSockets to
//! interlink_listener_accept.

use std::ffi::{c_char, c_void};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http_body_util::BodyExt as _;
use interlink::net::{self, Body, ClientTls};
use interlink::relay::listener::{RequestInfo, sender_path};
use interlink::relay::{AcceptDecision, ListenerOptions, RelayListener};
use interlink_core::relay::message::AcceptCommand;

use crate::boundary::{Error, interlink_result};
use crate::credentials;
use crate::memory::{
    HeaderBlock, bytes_arg, cstring, free_handle, handle, interlink_header, new_handle,
    opt_str_arg, str_arg,
};
use crate::runtime::{UserData, block_on};
use crate::websocket::interlink_websocket;

/// An HTTP request given to an interlink_http_handler; valid during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_http_request {
    /// The method, e.g. "GET".
    pub method: *const c_char,
    /// Path and query as the sender sent them, including the hybrid connection name
    /// (e.g. "/hc1/hello?x=1").
    pub target: *const c_char,
    /// The relay's request id.
    pub id: *const c_char,
    /// Request headers (hop-by-hop and auth headers removed).
    pub headers: *const interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
    /// The whole request body (NULL when empty).
    pub body: *const u8,
    /// Its length.
    pub body_len: usize,
}

/// The response an interlink_http_handler fills (opaque; status 200, no headers, empty body
/// unless set). Valid during the handler call only.
pub struct interlink_http_response_writer {
    status: u16,
    reason: Option<String>,
    headers: Vec<(http::HeaderName, http::HeaderValue)>,
    body: Vec<u8>,
}

/// Answers one HTTP request: read `request`, fill `response` with the
/// interlink_http_response_writer_* functions. Called on a library thread (several may run
/// at once); must not call interlink_listener_free.
pub type interlink_http_handler = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        request: *const interlink_http_request,
        response: *mut interlink_http_response_writer,
    ),
>;

/// A sender's WebSocket request given to an interlink_accept_filter; valid during the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_accept_request {
    /// The sender's tracking id.
    pub id: *const c_char,
    /// The sender's path and query as the listener sees them (e.g. "/hc1/chat?room=1").
    pub target: *const c_char,
    /// The sender's upgrade headers.
    pub headers: *const interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
}

/// Decides whether to accept a sender's WebSocket: return 0 to accept, or an HTTP status
/// (e.g. 403) to reject it, optionally pointing `*description` at a reason (copied after
/// the call). Runs on the listener's thread: it must be quick and must not call blocking
/// interlink functions.
pub type interlink_accept_filter = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        request: *const interlink_accept_request,
        description: *mut *const c_char,
    ) -> u16,
>;

/// Stops callbacks before the listener is freed: callbacks run under the read lock,
/// interlink_listener_free takes the write lock and closes it.
#[derive(Default)]
struct Gate(RwLock<bool>);

impl Gate {
    fn run<T>(&self, closed: T, f: impl FnOnce() -> T) -> T {
        let open = self.0.read().unwrap_or_else(|p| p.into_inner());
        if *open { f() } else { closed }
    }

    fn close(&self) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = false;
    }
}

/// A relay listener (opaque). Create with interlink_listener_bind, free with
/// interlink_listener_free. Thread-safe except free.
pub struct interlink_listener {
    listener: RelayListener,
    gate: Arc<Gate>,
}

fn respond(status: u16, text: &'static str) -> http::Response<Body> {
    let mut r = http::Response::new(net::full(text));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    r
}

/// Calls the C handler for one request (on a blocking-pool thread).
fn call_handler(
    handler: unsafe extern "C" fn(
        *mut c_void,
        *const interlink_http_request,
        *mut interlink_http_response_writer,
    ),
    user_data: UserData,
    parts: &http::request::Parts,
    body: &Bytes,
) -> http::Response<Body> {
    let method = cstring(parts.method.as_str());
    let target = cstring(parts.uri.path_and_query().map_or("/", |pq| pq.as_str()));
    let id = cstring(
        parts
            .extensions
            .get::<RequestInfo>()
            .map_or("", |i| i.id.as_str()),
    );
    let mut headers = HeaderBlock::default();
    headers.set(
        parts
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap_or(""))),
    );
    let request = interlink_http_request {
        method: method.as_ptr(),
        target: target.as_ptr(),
        id: id.as_ptr(),
        headers: headers.ptr(),
        headers_len: headers.len(),
        body: if body.is_empty() {
            std::ptr::null()
        } else {
            body.as_ptr()
        },
        body_len: body.len(),
    };
    let mut writer = interlink_http_response_writer {
        status: 200,
        reason: None,
        headers: Vec::new(),
        body: Vec::new(),
    };
    // SAFETY: the C handler's contract; every pointer is valid for the call.
    unsafe { handler(user_data.0, &request, &mut writer) };
    let mut response = http::Response::new(net::full(writer.body));
    *response.status_mut() = http::StatusCode::from_u16(writer.status).unwrap_or_default();
    response
        .headers_mut()
        .extend(writer.headers.into_iter().map(|(n, v)| (Some(n), v)));
    if let Some(reason) = writer.reason {
        let status = response.status();
        // A phrase HTTP cannot carry is dropped: the standard one goes out instead.
        let _ = net::set_reason_phrase(response.extensions_mut(), status, &reason);
    }
    response
}

/// Calls the C accept filter for one sender.
fn call_filter(
    filter: unsafe extern "C" fn(
        *mut c_void,
        *const interlink_accept_request,
        *mut *const c_char,
    ) -> u16,
    user_data: UserData,
    accept: &AcceptCommand,
) -> AcceptDecision {
    let id = cstring(&accept.id);
    let target = cstring(&sender_path(&accept.address));
    let mut headers = HeaderBlock::default();
    headers.set(accept.connect_headers.iter());
    let request = interlink_accept_request {
        id: id.as_ptr(),
        target: target.as_ptr(),
        headers: headers.ptr(),
        headers_len: headers.len(),
    };
    let mut description: *const c_char = std::ptr::null();
    // SAFETY: the C filter's contract; every pointer is valid for the call.
    let status = unsafe { filter(user_data.0, &request, &mut description) };
    if status == 0 {
        return AcceptDecision::Accept;
    }
    // SAFETY: NULL or a string valid until the filter returned (we are right after it).
    let description = unsafe { opt_str_arg(description, "description") }
        .ok()
        .flatten()
        .unwrap_or("")
        .to_string();
    AcceptDecision::reject(status, description)
}

/// Binds a listener for `hybrid_connection` (NULL: the connection string's `EntityPath`)
/// and waits until its control channel is up (at most 70 s, the .NET default). `handler`
/// (may be NULL: every request gets 501) answers HTTP requests with `user_data`, which must
/// stay usable from library threads until interlink_listener_free returns. Fails with
/// REFUSED (401/403: see interlink_last_error_status), NOT_FOUND, IO or TIMEOUT. Free
/// `*listener_out` with interlink_listener_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_bind(
    connection_string: *const c_char,
    hybrid_connection: *const c_char,
    handler: interlink_http_handler,
    user_data: *mut c_void,
    listener_out: *mut *mut interlink_listener,
) -> interlink_result {
    ffi!(connection_string, listener_out => {
        // SAFETY: caller's contract on every pointer.
        let cs = credentials::parse(unsafe { str_arg(connection_string, "connection_string") }?)?;
        let hc = unsafe { opt_str_arg(hybrid_connection, "hybrid_connection") }?.unwrap_or("");
        let options = ListenerOptions { tls: ClientTls::webpki(), ..Default::default() };
        let listener = block_on(0, RelayListener::bind(&cs, hc, options))??;
        let gate = Arc::new(Gate(RwLock::new(true)));
        if let Some(handler) = handler {
            let user_data = UserData(user_data);
            let gate = gate.clone();
            listener.set_http_handler(move |req: http::Request<Body>| {
                let gate = gate.clone();
                async move {
                    let (parts, body) = req.into_parts();
                    let Ok(body) = body.collect().await.map(|c| c.to_bytes()) else {
                        return respond(400, "the request body broke off");
                    };
                    smol::unblock(move || {
                        gate.run(respond(503, "the listener is closing"), || {
                            call_handler(handler, user_data, &parts, &body)
                        })
                    })
                    .await
                }
            });
        }
        let l = interlink_listener { listener, gate };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(listener_out, l, "listener_out") }
    })
}

/// Sets (or with NULL removes) the filter deciding whether each WebSocket sender is accepted
/// (without one, all are). `user_data` as for interlink_listener_bind.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_set_accept_filter(
    listener: *const interlink_listener,
    filter: interlink_accept_filter,
    user_data: *mut c_void,
) -> interlink_result {
    ffi!(listener => {
        // SAFETY: caller's contract.
        let l = unsafe { &*listener };
        let user_data = UserData(user_data);
        let gate = l.gate.clone();
        l.listener.set_accept_filter(move |accept| match filter {
            Some(f) => gate.run(
                AcceptDecision::Reject { status: 503, description: "the listener is closing".into() },
                || call_filter(f, user_data, accept),
            ),
            None => AcceptDecision::Accept,
        });
        Ok(())
    })
}

/// Waits for the next accepted WebSocket (at most `timeout_ms`; 0 = no limit). OK with
/// `*websocket_out` (free with interlink_websocket_free), TIMEOUT, or CLOSED once the
/// listener is closed and nothing is queued.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_accept(
    listener: *const interlink_listener,
    timeout_ms: u32,
    websocket_out: *mut *mut interlink_websocket,
) -> interlink_result {
    ffi!(listener, websocket_out => {
        // SAFETY: caller's contract.
        let l = unsafe { &*listener };
        let accepted = block_on(timeout_ms, l.listener.accept())?
            .ok_or_else(|| Error::new(interlink_result::Closed, "the listener is closed"))?;
        let ws = interlink_websocket::new(accepted.socket, &accepted.path_and_query);
        // SAFETY: checked out-pointer.
        unsafe { new_handle(websocket_out, ws, "websocket_out") }
    })
}

/// Closes the control channel (1000) and stops reconnecting; waits (at most about 11 s)
/// for the close handshake. Accepted WebSockets stay open. Closing twice is fine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_close(
    listener: *const interlink_listener,
) -> interlink_result {
    ffi!(listener => {
        // SAFETY: caller's contract.
        block_on(0, unsafe { &*listener }.listener.close())?;
        Ok(())
    })
}

/// Closes the listener if needed and frees it; after it returns no callback runs any more.
/// NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_listener_free(listener: *mut interlink_listener) {
    ffi!(default (); => {
        if !listener.is_null() {
            // SAFETY: a handle from interlink_listener_bind, not used afterwards.
            unsafe {
                (*listener).gate.close();
                interlink_listener_close(listener);
                free_handle(listener);
            }
        }
        Ok(())
    })
}

/// Sets the response status (default 200) and reason phrase (NULL: the standard one).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_http_response_writer_set_status(
    response: *mut interlink_http_response_writer,
    status: u16,
    reason: *const c_char,
) -> interlink_result {
    ffi!(response => {
        if !(100..=999).contains(&status) {
            return Err(Error::invalid(format!("status {status} is not 100-999")));
        }
        // SAFETY: caller's contract.
        unsafe {
            let w = handle(response, "response")?;
            w.status = status;
            w.reason = opt_str_arg(reason, "reason")?.map(str::to_string);
        }
        Ok(())
    })
}

/// Adds a response header (INVALID_ARGUMENT for a name or value HTTP does not allow).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_http_response_writer_add_header(
    response: *mut interlink_http_response_writer,
    name: *const c_char,
    value: *const c_char,
) -> interlink_result {
    ffi!(response, name, value => {
        // SAFETY: caller's contract.
        unsafe {
            let w = handle(response, "response")?;
            let (n, v) = (str_arg(name, "name")?, str_arg(value, "value")?);
            let n = http::HeaderName::from_bytes(n.as_bytes()).map_err(|_| Error::invalid(format!("bad header name `{n}`")))?;
            let v = http::HeaderValue::from_str(v).map_err(|_| Error::invalid("bad header value"))?;
            w.headers.push((n, v));
        }
        Ok(())
    })
}

/// Sets the response body (copied).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_http_response_writer_set_body(
    response: *mut interlink_http_response_writer,
    data: *const u8,
    len: usize,
) -> interlink_result {
    ffi!(response => {
        // SAFETY: caller's contract.
        unsafe { handle(response, "response")?.body = bytes_arg(data, len, "data")?.to_vec() };
        Ok(())
    })
}
