//! The sans-IO sender helpers from C (`interlink_sender_*`): the URL and token header of a
//! sender's WebSocket connect or HTTP request, the meaning of a handshake status, and
//! connect attempts with the SDKs' retry schedule.

use std::ffi::c_char;
use std::time::Duration;

use interlink_core::relay::sender::{
    AttemptStep, ConnectOutcome, SenderAttempts, SenderConfig, SenderRequest, classify,
};
use interlink_core::time::Instant;

use crate::boundary::interlink_result;
use crate::credentials;
use crate::memory::{
    HeaderBlock, OptText, free_handle, handle, interlink_header, new_handle, opt_str_arg, str_arg,
    write_out,
};

/// A sender's configuration (opaque): endpoint, hybrid connection, token source. Create
/// with interlink_sender_new, free with interlink_sender_free. Not thread-safe.
pub struct interlink_sender {
    config: SenderConfig,
    request: RequestStore,
}

/// A request to make: the URL and headers (the token). Borrows from the handle that filled
/// it, until the next call on that handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_sender_request {
    /// Where to connect or send.
    pub url: *const c_char,
    /// Headers to add (`ServiceBusAuthorization`; none for an anonymous sender).
    pub headers: *const interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
}

#[derive(Default)]
struct RequestStore {
    url: OptText,
    headers: HeaderBlock,
}

impl RequestStore {
    fn convert(&mut self, r: &SenderRequest) -> interlink_sender_request {
        let url = self.url.set(Some(&r.url));
        self.headers
            .set(r.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        interlink_sender_request {
            url,
            headers: self.headers.ptr(),
            headers_len: self.headers.len(),
        }
    }
}

/// What a relay's answer to a sender's WebSocket handshake means.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_connect_outcome {
    /// 101: connected.
    Connected = 0,
    /// Worth retrying: no listener yet (404), relay busy or failing (408, 429, 5xx but 501/505).
    Transient = 1,
    /// Final: auth failure, a listener's reject status, or another client error.
    Failed = 2,
}

/// Kind of an interlink_attempt_step.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_attempt_step_kind {
    /// Open the WebSocket `url` with `headers` now, then report with handle_response.
    Connect = 0,
    /// Wait until `wait_until_ms`, then call handle_timeout.
    Wait = 1,
    /// Done: connected.
    Connected = 2,
    /// Done: failed with `status` (0: the deadline passed with no answer).
    Failed = 3,
}

/// What a connect attempt asks for next. Borrows from the attempts handle.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_attempt_step {
    /// What to do.
    pub kind: interlink_attempt_step_kind,
    /// CONNECT: the request.
    pub request: interlink_sender_request,
    /// WAIT: until when.
    pub wait_until_ms: u64,
    /// FAILED: the last status, or 0.
    pub status: u16,
}

/// A WebSocket connect with retries of transient failures until a deadline (opaque).
/// Create with interlink_sender_attempts_new, free with interlink_sender_attempts_free.
pub struct interlink_sender_attempts {
    attempts: SenderAttempts,
    request: RequestStore,
}

/// Creates a sender for `entity_path` (NULL: the connection string's `EntityPath`) from a
/// connection string; without credentials in it the sender is anonymous. Tokens last one
/// hour from the `now_ms` they are made at; `unix_origin_ms` is the Unix time in ms at
/// now_ms == 0. Free `*sender_out` with interlink_sender_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_new(
    connection_string: *const c_char,
    entity_path: *const c_char,
    unix_origin_ms: u64,
    sender_out: *mut *mut interlink_sender,
) -> interlink_result {
    ffi!(connection_string, sender_out => {
        // SAFETY: caller's contract on every pointer.
        let cs = credentials::parse(unsafe { str_arg(connection_string, "connection_string") }?)?;
        let entity = credentials::entity(&cs, unsafe { opt_str_arg(entity_path, "entity_path") }?)?;
        let config = SenderConfig {
            endpoint: cs.endpoint.clone(),
            entity_path: entity,
            token: credentials::token_source(&cs),
            token_ttl: Duration::from_secs(3600),
            unix_origin_ms,
        };
        let sender = interlink_sender { config, request: RequestStore::default() };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(sender_out, sender, "sender_out") }
    })
}

/// Frees a sender; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_free(sender: *mut interlink_sender) {
    // SAFETY: NULL or a handle from interlink_sender_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(sender) }; Ok(()) })
}

/// The WebSocket upgrade (`sb-hc-action=connect`) to open at `now_ms`, with optional path
/// `suffix` (decoded text), `app_query` (encoded) and tracking `id`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_websocket(
    sender: *mut interlink_sender,
    now_ms: u64,
    suffix: *const c_char,
    app_query: *const c_char,
    id: *const c_char,
    request_out: *mut interlink_sender_request,
) -> interlink_result {
    ffi!(sender, request_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let s = handle(sender, "sender")?;
            let r = s.config.websocket(
                Instant(now_ms),
                opt_str_arg(suffix, "suffix")?,
                opt_str_arg(app_query, "app_query")?,
                opt_str_arg(id, "id")?,
            );
            let out = s.request.convert(&r);
            write_out(request_out, out, "request_out")
        }
    })
}

/// The HTTP request to send at `now_ms` to `{entity}{path_and_query}` (optional, encoded,
/// e.g. "/hello?x=1").
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_http(
    sender: *mut interlink_sender,
    now_ms: u64,
    path_and_query: *const c_char,
    request_out: *mut interlink_sender_request,
) -> interlink_result {
    ffi!(sender, request_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let s = handle(sender, "sender")?;
            let r = s.config.http(Instant(now_ms), opt_str_arg(path_and_query, "path_and_query")?);
            let out = s.request.convert(&r);
            write_out(request_out, out, "request_out")
        }
    })
}

/// Classifies the HTTP status a relay answered a sender's handshake with.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_classify(
    status: u16,
    outcome_out: *mut interlink_connect_outcome,
) -> interlink_result {
    ffi!(outcome_out => {
        let outcome = match classify(status) {
            ConnectOutcome::Connected => interlink_connect_outcome::Connected,
            ConnectOutcome::Transient { .. } => interlink_connect_outcome::Transient,
            ConnectOutcome::Failed { .. } => interlink_connect_outcome::Failed,
        };
        // SAFETY: checked out-pointer.
        unsafe { write_out(outcome_out, outcome, "outcome_out") }
    })
}

/// Starts a WebSocket connect at `now_ms` that gives up `timeout_ms` later (backoff 0, 1, 2,
/// 5, 10, 30 s between transient failures). Free `*attempts_out` with
/// interlink_sender_attempts_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_attempts_new(
    sender: *const interlink_sender,
    now_ms: u64,
    timeout_ms: u64,
    suffix: *const c_char,
    app_query: *const c_char,
    attempts_out: *mut *mut interlink_sender_attempts,
) -> interlink_result {
    ffi!(sender, attempts_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let attempts = SenderAttempts::new(
                (*sender).config.clone(),
                Instant(now_ms),
                Duration::from_millis(timeout_ms),
                opt_str_arg(suffix, "suffix")?,
                opt_str_arg(app_query, "app_query")?,
            );
            let a = interlink_sender_attempts { attempts, request: RequestStore::default() };
            new_handle(attempts_out, a, "attempts_out")
        }
    })
}

/// Frees connect attempts; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_attempts_free(attempts: *mut interlink_sender_attempts) {
    // SAFETY: NULL or a handle from interlink_sender_attempts_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(attempts) }; Ok(()) })
}

/// What to do now (borrows from the handle until the next call on it).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_attempts_poll_step(
    attempts: *mut interlink_sender_attempts,
    step_out: *mut interlink_attempt_step,
) -> interlink_result {
    ffi!(attempts, step_out => {
        // SAFETY: caller's contract on every pointer.
        let a = unsafe { handle(attempts, "attempts")? };
        let empty = interlink_sender_request {
            url: std::ptr::null(),
            headers: std::ptr::null(),
            headers_len: 0,
        };
        let mut step = interlink_attempt_step {
            kind: interlink_attempt_step_kind::Connected,
            request: empty,
            wait_until_ms: 0,
            status: 0,
        };
        match a.attempts.poll_step() {
            AttemptStep::Connect(r) => {
                step.kind = interlink_attempt_step_kind::Connect;
                step.request = a.request.convert(r);
            }
            AttemptStep::Wait(at) => {
                step.kind = interlink_attempt_step_kind::Wait;
                step.wait_until_ms = at.0;
            }
            AttemptStep::Connected => {}
            AttemptStep::Failed(status) => {
                step.kind = interlink_attempt_step_kind::Failed;
                step.status = status.unwrap_or(0);
            }
        }
        // SAFETY: checked out-pointer.
        unsafe { write_out(step_out, step, "step_out") }
    })
}

/// The last CONNECT got `status` (0: the connection failed before any answer, transient).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_attempts_handle_response(
    attempts: *mut interlink_sender_attempts,
    now_ms: u64,
    status: u16,
) -> interlink_result {
    ffi!(attempts => {
        // SAFETY: caller's contract.
        let a = unsafe { handle(attempts, "attempts")? };
        a.attempts.handle_response(Instant(now_ms), (status != 0).then_some(status));
        Ok(())
    })
}

/// Time passed: a due retry becomes a new CONNECT step.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_sender_attempts_handle_timeout(
    attempts: *mut interlink_sender_attempts,
    now_ms: u64,
) -> interlink_result {
    ffi!(attempts => {
        // SAFETY: caller's contract.
        unsafe { handle(attempts, "attempts")? }.attempts.handle_timeout(Instant(now_ms));
        Ok(())
    })
}
