//! A SignalR hub client from C (`interlink_hub_connect`, `interlink_hub_connection_*`,
//! `interlink_hub_stream_*`): [`HubClient`] on the library's threads, blocking calls on the
//! caller's thread, values as JSON text.
//!
//! Client methods the server calls (`interlink_hub_connection_on`) run on one thread per
//! connection, owned by the library ("handler thread"), one at a time in arrival order, so a
//! slow C handler delays the next handler of that connection but never the connection
//! itself (keep-alive, other calls). Freeing the connection waits at most
//! [`CALLBACK_DRAIN`] for a running handler.
//!
//! The names are not `interlink_hub_client_*`: those belong to the sans-IO client
//! ([`hub_client_machine`](crate::hub_client_machine)).

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use interlink::hub::client::{
    HubClient, HubClientBuilder, HubClientError, HubClientState, HubProtocol, HubStream, RawValue,
};
use smol::stream::StreamExt as _;

use crate::boundary::{Error, interlink_result};
use crate::hub_callback::{CALLBACK_DRAIN, Reply, interlink_hub_reply};
use crate::hub_json::{args_from_json, args_to_json, result_to_json, value_to_json};
use crate::hub_value::protocol_arg;
use crate::memory::{
    cstring, free_handle, handle, new_handle, opt_str_arg, owned_string, str_arg, write_out,
};
use crate::runtime::{UserData, block_on};

/// Settings of interlink_hub_connect / interlink_hub_connection_new. A zeroed struct (or a
/// NULL pointer) means the defaults, given in parentheses. Copied by the call.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_hub_connect_options {
    /// The wire protocol, an interlink_hub_protocol value (JSON). Values still cross the C
    /// API as JSON text.
    pub protocol: u32,
    /// Sent as `Authorization: Bearer …` on negotiate and the WebSocket upgrade (NULL: none).
    pub access_token: *const c_char,
    /// Go straight to the WebSocket at the URL, without negotiate (false): no connection id,
    /// no stateful reconnect.
    pub skip_negotiation: bool,
    /// Reconnect a lost connection after 0, 2, 10 and 30 s, then give up (false).
    pub automatic_reconnect: bool,
    /// Ask for stateful reconnect: an unclean WebSocket loss re-attaches the same connection
    /// and nothing is lost, when the server grants it (false).
    pub stateful_reconnect: bool,
    /// Send a Ping after this much send silence (15000 ms).
    pub keep_alive_interval_ms: u64,
    /// Close the connection when nothing arrives for this long (30000 ms).
    pub server_timeout_ms: u64,
    /// How long the hub handshake (and opening the WebSocket) may take (15000 ms).
    pub handshake_timeout_ms: u64,
    /// Bound of interlink_hub_connection_invoke and _send: TIMEOUT after this long (0: no
    /// bound besides the connection's own end).
    pub call_timeout_ms: u32,
}

/// Where a connection stands (the JS client's `HubConnectionState`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_hub_connection_state {
    /// Not connected (before start, after stop, or closed for good).
    Disconnected = 0,
    /// Start is running.
    Connecting = 1,
    /// Connected: calls may be made.
    Connected = 2,
    /// Lost and reconnecting (automatic reconnect).
    Reconnecting = 3,
}

/// A client method the server calls, registered with interlink_hub_connection_on.
/// `method` is the name it was registered with, `args_json` the arguments as the text of one
/// JSON array; both valid during the call. When the server expects a result (a client
/// result), answer with interlink_hub_reply_set_json; return INTERLINK_RESULT_OK, or any
/// other interlink_result value (or call interlink_hub_reply_set_error) to answer with an
/// error. Called on the connection's handler thread (one call at a time, in arrival order);
/// it may call interlink_hub_connection_invoke/_send/_stream_open on any connection but must
/// not free its own.
pub type interlink_hub_handler = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        method: *const c_char,
        args_json: *const c_char,
        reply: *mut interlink_hub_reply,
    ) -> u32,
>;

type HandlerFn = unsafe extern "C" fn(
    *mut c_void,
    *const c_char,
    *const c_char,
    *mut interlink_hub_reply,
) -> u32;

/// The answer a handler gives the connection.
type Answer = Result<Option<RawValue>, String>;

const CLOSING: &str = "the hub connection is being freed";

/// One server call for the handler thread.
struct Job {
    handler: HandlerFn,
    user_data: UserData,
    method: String,
    args: Vec<RawValue>,
    answer: smol::channel::Sender<Answer>,
}

/// The handler thread of one connection and the queue feeding it.
struct Dispatcher {
    jobs: smol::channel::Sender<Job>,
    closing: Arc<AtomicBool>,
    /// The thread, and a channel that disconnects when it has ended.
    thread: Mutex<(mpsc::Receiver<()>, Option<JoinHandle<()>>)>,
}

impl Dispatcher {
    fn start(protocol: HubProtocol) -> Result<Dispatcher, Error> {
        let (jobs, queue) = smol::channel::unbounded::<Job>();
        let closing = Arc::new(AtomicBool::new(false));
        let (finished_tx, finished) = mpsc::channel::<()>();
        let flag = closing.clone();
        let thread = std::thread::Builder::new()
            .name("interlink-hub-handlers".into())
            .spawn(move || {
                let _finished = finished_tx;
                while let Ok(job) = queue.recv_blocking() {
                    let answer = if flag.load(Ordering::Acquire) {
                        Err(CLOSING.to_string())
                    } else {
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            run_handler(&job, protocol)
                        }))
                        .unwrap_or_else(|_| Err("the client handler panicked".into()))
                    };
                    let _ = job.answer.try_send(answer);
                }
            })
            .map_err(|e| {
                Error::new(
                    interlink_result::Io,
                    format!("cannot start the handler thread: {e}"),
                )
            })?;
        Ok(Dispatcher {
            jobs,
            closing,
            thread: Mutex::new((finished, Some(thread))),
        })
    }

    /// No handler starts any more; queued calls are answered with an error.
    fn close(&self) {
        self.closing.store(true, Ordering::Release);
        self.jobs.close();
    }

    /// Waits (bounded) for the thread to end; joins it when it did.
    fn wait(&self, limit: Duration) {
        let mut guard = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        let (finished, thread) = &mut *guard;
        if let Err(mpsc::RecvTimeoutError::Disconnected) = finished.recv_timeout(limit)
            && let Some(thread) = thread.take()
        {
            let _ = thread.join();
        }
    }
}

/// Calls the C handler of one job (on the handler thread).
fn run_handler(job: &Job, protocol: HubProtocol) -> Answer {
    let args = args_to_json(&job.args).map_err(|e| e.message)?;
    let (method, args) = (cstring(&job.method), cstring(&args));
    let mut reply = interlink_hub_reply::default();
    // SAFETY: the handler's contract; every pointer is valid for the call.
    let code =
        unsafe { (job.handler)(job.user_data.0, method.as_ptr(), args.as_ptr(), &mut reply) };
    Reply::from_callback(code, reply).into_value(protocol)
}

/// A SignalR hub client connection (opaque). Create with interlink_hub_connect (or
/// interlink_hub_connection_new + interlink_hub_connection_start), free with
/// interlink_hub_connection_free. Thread-safe except free: several threads may call
/// invoke/send/stream_open at once.
pub struct interlink_hub_connection {
    client: HubClient,
    protocol: HubProtocol,
    call_timeout_ms: u32,
    dispatcher: Dispatcher,
}

/// A streaming call's items (opaque), from interlink_hub_connection_stream_open. Free with
/// interlink_hub_stream_free (which cancels the call if it has not ended). Use from one
/// thread at a time. It may outlive its connection: it then ends with CLOSED.
pub struct interlink_hub_stream {
    stream: HubStream,
    /// An item (or the end) that arrived while the call was being sent.
    pending: Option<Option<Result<RawValue, HubClientError>>>,
    done: bool,
}

/// The result code and text of a client error.
fn client_error(e: HubClientError) -> Error {
    use interlink_result as R;
    let message = e.to_string();
    let code = match &e {
        HubClientError::InvalidUrl { .. } | HubClientError::Encode(_) => R::InvalidArgument,
        HubClientError::Unauthorized => return Error::new(R::Auth, message).with_status(401),
        HubClientError::NegotiateStatus { status, .. }
        | HubClientError::WebSocketRefused { status, .. } => {
            return Error::new(R::Refused, message).with_status(*status);
        }
        HubClientError::HandshakeRejected(_) | HubClientError::NoTransport => R::Refused,
        HubClientError::Negotiate(_)
        | HubClientError::TooManyRedirects
        | HubClientError::Protocol(_) => R::Protocol,
        HubClientError::HandshakeTimeout | HubClientError::ServerTimeout => R::Timeout,
        HubClientError::ServerClosed(_)
        | HubClientError::ConnectionClosed(_)
        | HubClientError::StoppedDuringStart => R::Closed,
        HubClientError::NotConnected | HubClientError::AlreadyStarted => R::InvalidState,
        HubClientError::Hub(_) => R::HubError,
        _ => R::Io,
    };
    Error::new(code, message)
}

fn ms(v: u64) -> Option<Duration> {
    (v != 0).then(|| Duration::from_millis(v))
}

/// The builder for `url` with `options` (NULL: defaults).
///
/// # Safety
/// `options` is NULL or valid, its `access_token` NULL or a valid string.
unsafe fn builder(
    url: &str,
    options: *const interlink_hub_connect_options,
) -> Result<(HubClientBuilder, HubProtocol, u32), Error> {
    let mut b = HubClientBuilder::new(url);
    // SAFETY: forwarded contract.
    let Some(o) = (unsafe { options.as_ref() }) else {
        return Ok((b, HubProtocol::Json, 0));
    };
    let protocol = protocol_arg(o.protocol, "options.protocol")?;
    b = b
        .protocol(protocol)
        .skip_negotiation(o.skip_negotiation)
        .stateful_reconnect(o.stateful_reconnect);
    // SAFETY: forwarded contract.
    if let Some(token) = unsafe { opt_str_arg(o.access_token, "options.access_token") }? {
        b = b.access_token(token);
    }
    if o.automatic_reconnect {
        b = b.with_default_reconnect();
    }
    if let Some(d) = ms(o.keep_alive_interval_ms) {
        b = b.keep_alive_interval(d);
    }
    if let Some(d) = ms(o.server_timeout_ms) {
        b = b.server_timeout(d);
    }
    if let Some(d) = ms(o.handshake_timeout_ms) {
        b = b.handshake_timeout(d);
    }
    Ok((b, protocol, o.call_timeout_ms))
}

/// The connection behind a required pointer.
///
/// # Safety
/// `p` is NULL or a live handle.
unsafe fn conn<'a>(
    p: *const interlink_hub_connection,
) -> Result<&'a interlink_hub_connection, Error> {
    // SAFETY: forwarded contract.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null("connection"))
}

/// Creates a client of the hub at `url` (`http(s)://…` or `ws(s)://…`) without connecting
/// yet, so handlers can be registered first (interlink_hub_connection_on), then
/// interlink_hub_connection_start. `options` may be NULL (defaults). Starts the connection's
/// handler thread. Free `*connection_out` with interlink_hub_connection_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_new(
    url: *const c_char,
    options: *const interlink_hub_connect_options,
    connection_out: *mut *mut interlink_hub_connection,
) -> interlink_result {
    ffi!(url, connection_out => {
        // SAFETY: caller's contract on every pointer.
        let (b, protocol, call_timeout_ms) = unsafe { builder(str_arg(url, "url")?, options) }?;
        let c = interlink_hub_connection {
            client: b.build(),
            protocol,
            call_timeout_ms,
            dispatcher: Dispatcher::start(protocol)?,
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(connection_out, c, "connection_out") }
    })
}

/// Connects: negotiate, WebSocket, hub handshake (bounded by the handshake timeout and a
/// 100 s negotiate timeout). A failed start is not retried. Fails with INVALID_ARGUMENT (bad
/// URL), AUTH (401), REFUSED (see interlink_last_error_status), PROTOCOL, TIMEOUT, IO, or
/// INVALID_STATE when not disconnected. After interlink_hub_connection_stop it may be called
/// again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_start(
    connection: *const interlink_hub_connection,
) -> interlink_result {
    ffi!(connection => {
        // SAFETY: caller's contract.
        let c = unsafe { conn(connection) }?;
        block_on(0, c.client.start())?.map_err(client_error)
    })
}

/// interlink_hub_connection_new and interlink_hub_connection_start in one call: on failure
/// nothing is left to free and `*connection_out` is untouched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connect(
    url: *const c_char,
    options: *const interlink_hub_connect_options,
    connection_out: *mut *mut interlink_hub_connection,
) -> interlink_result {
    ffi!(url, connection_out => {
        let mut c: *mut interlink_hub_connection = std::ptr::null_mut();
        // SAFETY: caller's contract; `c` is ours until handed out. A failing call already
        // recorded its error, which freeing leaves alone.
        unsafe {
            let mut code = interlink_hub_connection_new(url, options, &mut c);
            if code == interlink_result::Ok {
                code = interlink_hub_connection_start(c);
            }
            if code != interlink_result::Ok {
                interlink_hub_connection_free(c);
                return Ok(code);
            }
            write_out(connection_out, c, "connection_out")?;
        }
        Ok(interlink_result::Ok)
    })
}

/// Registers `handler` (not NULL) for server calls of `method` (case-insensitive), with
/// `user_data`, which must stay usable from the handler thread until
/// interlink_hub_connection_free returns. Several handlers may share a method; of those
/// answering a call that expects a result, exactly one may set a value. Calls arriving
/// before registration are missed: register before interlink_hub_connection_start.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_on(
    connection: *const interlink_hub_connection,
    method: *const c_char,
    handler: interlink_hub_handler,
    user_data: *mut c_void,
) -> interlink_result {
    ffi!(connection, method => {
        let handler = handler.ok_or_else(|| Error::null("handler"))?;
        // SAFETY: caller's contract on every pointer.
        let (c, method) = unsafe { (conn(connection)?, str_arg(method, "method")?) };
        let jobs = c.dispatcher.jobs.clone();
        let user_data = UserData(user_data);
        let registered = method.to_string();
        c.client.on_async(method, move |args: Vec<RawValue>| {
            // Queued here, in the connection's order; answered by the handler thread.
            let (answer, answered) = smol::channel::bounded(1);
            let job = Job { handler, user_data, method: registered.clone(), args, answer };
            let queued = jobs.try_send(job).is_ok();
            async move {
                if !queued {
                    return Err(CLOSING.to_string());
                }
                answered.recv().await.unwrap_or_else(|_| Err(CLOSING.to_string()))
            }
        });
        Ok(())
    })
}

/// Removes every handler of `method` (case-insensitive).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_off(
    connection: *const interlink_hub_connection,
    method: *const c_char,
) -> interlink_result {
    ffi!(connection, method => {
        // SAFETY: caller's contract on both pointers.
        let (c, method) = unsafe { (conn(connection)?, str_arg(method, "method")?) };
        c.client.off(method);
        Ok(())
    })
}

/// Calls hub method `method` (case-sensitive on interlink servers) with `args_json` (the text
/// of one JSON array, NULL: no arguments) and waits for its result (bounded by the options'
/// `call_timeout_ms`). With `result_json_out` not NULL, `*result_json_out` gets the result as
/// JSON text (`null` for a void method; free with interlink_string_free). Fails with
/// HUB_ERROR when the method failed (the server's text is the last error message),
/// INVALID_ARGUMENT (bad JSON), INVALID_STATE (not connected), CLOSED (the connection ended
/// first) or TIMEOUT.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_invoke(
    connection: *const interlink_hub_connection,
    method: *const c_char,
    args_json: *const c_char,
    result_json_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(connection, method => {
        // SAFETY: caller's contract on every pointer.
        let (c, method, args) = unsafe {
            (conn(connection)?, str_arg(method, "method")?, opt_str_arg(args_json, "args_json")?)
        };
        let args = args_from_json(c.protocol, args, "args_json")?;
        let result = block_on(c.call_timeout_ms, c.client.invoke(method, args))?
            .map_err(client_error)?;
        let text = result_to_json(result.as_ref())?;
        if !result_json_out.is_null() {
            // SAFETY: checked not NULL; writable per the contract.
            unsafe { write_out(result_json_out, owned_string(&text), "result_json_out") }?;
        }
        Ok(())
    })
}

/// Calls hub method `method` without asking for a result (fire and forget); returns once the
/// message is handed to the connection. Arguments and failures as for
/// interlink_hub_connection_invoke (no HUB_ERROR: the server's outcome is not reported).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_send(
    connection: *const interlink_hub_connection,
    method: *const c_char,
    args_json: *const c_char,
) -> interlink_result {
    ffi!(connection, method => {
        // SAFETY: caller's contract on every pointer.
        let (c, method, args) = unsafe {
            (conn(connection)?, str_arg(method, "method")?, opt_str_arg(args_json, "args_json")?)
        };
        let args = args_from_json(c.protocol, args, "args_json")?;
        block_on(c.call_timeout_ms, c.client.send(method, args))?.map_err(client_error)
    })
}

/// Calls streaming hub method `method` (arguments as for interlink_hub_connection_invoke);
/// read the items with interlink_hub_stream_next. Fails with INVALID_STATE when not
/// connected. Free `*stream_out` with interlink_hub_stream_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_stream_open(
    connection: *const interlink_hub_connection,
    method: *const c_char,
    args_json: *const c_char,
    stream_out: *mut *mut interlink_hub_stream,
) -> interlink_result {
    ffi!(connection, method, stream_out => {
        // SAFETY: caller's contract on every pointer.
        let (c, method, args) = unsafe {
            (conn(connection)?, str_arg(method, "method")?, opt_str_arg(args_json, "args_json")?)
        };
        let args = args_from_json(c.protocol, args, "args_json")?;
        let mut stream = c.client.stream(method, args);
        // The first poll sends the invocation (and reports "not connected" right away).
        let pending = smol::block_on(smol::future::poll_once(stream.next()));
        if let Some(Some(Err(e))) = pending {
            return Err(client_error(e));
        }
        let s = interlink_hub_stream { stream, pending, done: false };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(stream_out, s, "stream_out") }
    })
}

/// Waits for the next item (at most `timeout_ms`; 0: no limit). OK with `*done_out` false
/// and `*item_json_out` the item as JSON text (free with interlink_string_free); OK with
/// `*done_out` true and `*item_json_out` NULL once the stream has ended (again on every later
/// call). HUB_ERROR (the server's text as last error) or CLOSED when it ended with an error,
/// with `*done_out` true. TIMEOUT leaves the stream usable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_stream_next(
    stream: *mut interlink_hub_stream,
    timeout_ms: u32,
    item_json_out: *mut *mut c_char,
    done_out: *mut bool,
) -> interlink_result {
    ffi!(stream, item_json_out, done_out => {
        // SAFETY: caller's contract on every pointer.
        let s = unsafe {
            item_json_out.write(std::ptr::null_mut());
            done_out.write(false);
            handle(stream, "stream")?
        };
        let item = match (s.done, s.pending.take()) {
            (true, _) => None,
            (false, Some(item)) => item,
            (false, None) => block_on(timeout_ms, s.stream.next())?,
        };
        match item {
            Some(Ok(value)) => {
                let text = value_to_json(&value)?;
                // SAFETY: checked out-pointer.
                unsafe { item_json_out.write(owned_string(&text)) };
                Ok(())
            }
            Some(Err(e)) => {
                s.done = true;
                // SAFETY: checked out-pointer.
                unsafe { done_out.write(true) };
                Err(client_error(e))
            }
            None => {
                s.done = true;
                // SAFETY: checked out-pointer.
                unsafe { done_out.write(true) };
                Ok(())
            }
        }
    })
}

/// Frees a stream; if it has not ended the call is cancelled on the server
/// (CancelInvocation). NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_stream_free(stream: *mut interlink_hub_stream) {
    // SAFETY: NULL or a handle from stream_open, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(stream) }; Ok(()) })
}

/// The connection id the server gave (free `*id_out` with interlink_string_free); NULL when
/// there is none (not connected, or skip_negotiation).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_id(
    connection: *const interlink_hub_connection,
    id_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(connection, id_out => {
        // SAFETY: caller's contract on both pointers.
        let c = unsafe { conn(connection) }?;
        let id = c.client.connection_id().map_or(std::ptr::null_mut(), |id| owned_string(&id));
        // SAFETY: checked out-pointer.
        unsafe { write_out(id_out, id, "id_out") }
    })
}

/// Where the connection stands.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_get_state(
    connection: *const interlink_hub_connection,
    state_out: *mut interlink_hub_connection_state,
) -> interlink_result {
    ffi!(connection, state_out => {
        // SAFETY: caller's contract on both pointers.
        let c = unsafe { conn(connection) }?;
        let state = match c.client.state() {
            HubClientState::Disconnected => interlink_hub_connection_state::Disconnected,
            HubClientState::Connecting => interlink_hub_connection_state::Connecting,
            HubClientState::Connected => interlink_hub_connection_state::Connected,
            HubClientState::Reconnecting => interlink_hub_connection_state::Reconnecting,
        };
        // SAFETY: checked out-pointer.
        unsafe { write_out(state_out, state, "state_out") }
    })
}

/// Sends Close, closes the socket and waits until disconnected (also cancels a running
/// start or reconnect); pending calls fail with CLOSED. Stopping twice is fine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_stop(
    connection: *const interlink_hub_connection,
) -> interlink_result {
    ffi!(connection => {
        // SAFETY: caller's contract.
        let c = unsafe { conn(connection) }?;
        block_on(0, c.client.stop())
    })
}

/// Stops the connection if needed and frees it. No handler starts after it began; it waits
/// (at most 5 s) for a running handler to return. NULL is ignored. Must not be called from
/// a handler of this connection.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_connection_free(connection: *mut interlink_hub_connection) {
    ffi!(default (); => {
        if connection.is_null() {
            return Ok(());
        }
        // SAFETY: a handle from interlink_hub_connection_new, not used afterwards (a handler
        // still running may use it until the wait below ends).
        let c = unsafe { &*connection };
        c.dispatcher.close();
        let stopped = block_on(0, c.client.stop());
        c.dispatcher.wait(CALLBACK_DRAIN);
        // SAFETY: as above; nothing of ours refers to it any more.
        unsafe { free_handle(connection) };
        stopped
    })
}
