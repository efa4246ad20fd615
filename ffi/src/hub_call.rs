//! Hub methods written in C: the callback type ([`interlink_hub_method`]), how a call runs
//! (on smol's blocking pool, a library thread, never on the connection's task), and what a
//! method can do with its call (`interlink_hub_call_*`: the caller's id, stream items, client
//! results, the caller's groups).

use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

use interlink::hub::server::{Args, HubContext, HubError, HubResult};
use interlink_core::hub::RawValue;

use crate::boundary::{Error, interlink_result};
use crate::hub_callback::{Gate, Reply, interlink_hub_reply};
use crate::hub_json::{args_from_json, args_to_json, result_to_json, value_from_json};
use crate::memory::{cstring, opt_str_arg, owned_string, str_arg, write_out};
use crate::runtime::{UserData, block_on};

/// A hub method written in C, registered with interlink_hub_host_builder_add_method or
/// _add_stream_method. `args_json` is the text of one JSON array holding exactly the
/// declared number of arguments; `call` and `args_json` are valid during the call only.
///
/// A unary method answers with interlink_hub_reply_set_json (none: a void result). A
/// streaming method sends its items with interlink_hub_call_send_item before returning; its
/// reply value is ignored. Either fails, and the caller gets an error Completion ("An
/// unexpected error occurred invoking 'NAME' on the server. HubException: TEXT"), when it
/// returns another interlink_result value than OK or calls interlink_hub_reply_set_error
/// (TEXT: that text, else the code's name).
///
/// Called on a library thread (smol's blocking pool): calls of different connections run
/// at once, a connection's unary calls one at a time (max_parallel_invocations). It may block
/// (e.g. interlink_hub_call_invoke_caller) and may call the interlink_hub_host_* functions,
/// but not interlink_hub_host_stop / _free of its own host.
pub type interlink_hub_method = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        call: *const interlink_hub_call,
        args_json: *const c_char,
        reply: *mut interlink_hub_reply,
    ) -> u32,
>;

type MethodFn = unsafe extern "C" fn(
    *mut c_void,
    *const interlink_hub_call,
    *const c_char,
    *mut interlink_hub_reply,
) -> u32;

/// One C method as registered.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MethodDef {
    pub callback: MethodFn,
    pub user_data: UserData,
    pub params: usize,
    pub streaming: bool,
}

/// What items of a streaming call go into.
type Items = smol::channel::Sender<Result<RawValue, HubError>>;

const STOPPING: &str = "the hub host is stopping";

/// One call of a C method (opaque), given to the method; valid during the call only.
pub struct interlink_hub_call {
    ctx: HubContext,
    connection_id: CString,
    /// Streaming methods only.
    items: Option<Items>,
}

/// Calls the C method once (on the current, blocking thread).
fn call_c(def: &MethodDef, ctx: HubContext, args: Args, items: Option<Items>) -> Reply {
    let args = match args_to_json(&args.into_values()) {
        Ok(a) => cstring(&a),
        Err(e) => return Reply::Error(e.message),
    };
    let call = interlink_hub_call {
        connection_id: cstring(ctx.connection_id()),
        ctx,
        items,
    };
    let mut reply = interlink_hub_reply::default();
    // SAFETY: the method's contract; every pointer is valid for the call.
    let code = unsafe { (def.callback)(def.user_data.0, &call, args.as_ptr(), &mut reply) };
    Reply::from_callback(code, reply)
}

/// Runs a unary C method on the blocking pool, unless its host is stopping.
pub(crate) async fn run_unary(
    def: MethodDef,
    gate: Arc<Gate>,
    ctx: HubContext,
    args: Args,
) -> HubResult {
    let protocol = ctx.protocol();
    smol::unblock(move || {
        gate.run(|| call_c(&def, ctx, args, None))
            .unwrap_or_else(|| Reply::Error(STOPPING.into()))
            .into_value(protocol)
            .map_err(HubError::Hub)
    })
    .await
}

/// Runs a streaming C method on the blocking pool; its items arrive on the returned
/// channel. When the caller cancels, the channel's receiver is dropped and
/// interlink_hub_call_send_item reports CLOSED to the method.
pub(crate) fn run_stream(
    def: MethodDef,
    gate: Arc<Gate>,
    ctx: HubContext,
    args: Args,
) -> smol::channel::Receiver<Result<RawValue, HubError>> {
    let (items, rx) = smol::channel::bounded(1);
    smol::unblock(move || {
        let reply = gate
            .run(|| call_c(&def, ctx, args, Some(items.clone())))
            .unwrap_or_else(|| Reply::Error(STOPPING.into()));
        if let Reply::Error(text) = reply {
            let _ = items.send_blocking(Err(HubError::Hub(text)));
        }
    })
    .detach();
    rx
}

/// A hub failure on its way to C.
pub(crate) fn hub_error(e: HubError) -> Error {
    let message = e.to_string();
    let code = match e {
        HubError::Hub(_) | HubError::Client(_) => interlink_result::HubError,
        HubError::ClientResultTimeout(_) => interlink_result::Timeout,
        HubError::Disconnected => interlink_result::Closed,
        HubError::InvalidArgument { .. } | HubError::Value(_) => interlink_result::InvalidArgument,
        _ => interlink_result::Io,
    };
    Error::new(code, message)
}

/// Group operations fail for a bad group name or a limit (registry policy).
pub(crate) fn group_error(e: HubError) -> Error {
    Error::invalid(e.to_string())
}

/// The call behind a required pointer.
///
/// # Safety
/// `p` is NULL or a call given to a running method.
unsafe fn call_ref<'a>(p: *const interlink_hub_call) -> Result<&'a interlink_hub_call, Error> {
    // SAFETY: forwarded contract.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null("call"))
}

/// The caller's connection id; `*id_out` is owned by the call (valid until the method
/// returns).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_call_connection_id(
    call: *const interlink_hub_call,
    id_out: *mut *const c_char,
) -> interlink_result {
    ffi!(call, id_out => {
        // SAFETY: caller's contract on both pointers.
        unsafe { write_out(id_out, call_ref(call)?.connection_id.as_ptr(), "id_out") }
    })
}

/// Sends one item of a streaming method (`item_json`: the text of one JSON value, copied).
/// Blocks while the caller's buffer is full. CLOSED once the caller cancelled the stream or
/// disconnected (stop producing and return); INVALID_STATE in a unary method.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_call_send_item(
    call: *const interlink_hub_call,
    item_json: *const c_char,
) -> interlink_result {
    ffi!(call, item_json => {
        // SAFETY: caller's contract on both pointers.
        let (c, json) = unsafe { (call_ref(call)?, str_arg(item_json, "item_json")?) };
        let items = c.items.as_ref().ok_or_else(|| {
            let text = "not a streaming method: set a reply instead";
            Error::new(interlink_result::InvalidState, text)
        })?;
        let item = value_from_json(c.ctx.protocol(), json, "item_json")?;
        items.send_blocking(Ok(item)).map_err(|_| {
            Error::new(interlink_result::Closed, "the caller cancelled the stream or disconnected")
        })
    })
}

/// Calls client method `method` on the caller with `args_json` (the text of one JSON array,
/// NULL: none) and waits for its answer (a client result), at most the host's
/// client_result_timeout_ms. With `result_json_out` not NULL, `*result_json_out` gets the
/// answer as JSON text (free with interlink_string_free). Fails with HUB_ERROR (the client's
/// error text, e.g. "Client didn't provide a result."), TIMEOUT or CLOSED.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_call_invoke_caller(
    call: *const interlink_hub_call,
    method: *const c_char,
    args_json: *const c_char,
    result_json_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(call, method => {
        // SAFETY: caller's contract on every pointer.
        let (c, method, args) = unsafe {
            (call_ref(call)?, str_arg(method, "method")?, opt_str_arg(args_json, "args_json")?)
        };
        let args = args_from_json(c.ctx.protocol(), args, "args_json")?;
        let answer = block_on(0, c.ctx.invoke_caller(method, args))?.map_err(hub_error)?;
        let text = result_to_json(Some(&answer))?;
        if !result_json_out.is_null() {
            // SAFETY: checked not NULL; writable per the contract.
            unsafe { write_out(result_json_out, owned_string(&text), "result_json_out") }?;
        }
        Ok(())
    })
}

/// Adds the caller to `group` (fine when it already is a member). INVALID_ARGUMENT for an
/// empty or too long name, or too many groups.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_call_add_to_group(
    call: *const interlink_hub_call,
    group: *const c_char,
) -> interlink_result {
    ffi!(call, group => {
        // SAFETY: caller's contract on both pointers.
        let (c, group) = unsafe { (call_ref(call)?, str_arg(group, "group")?) };
        c.ctx.groups().add(c.ctx.connection_id(), group).map_err(group_error)?;
        Ok(())
    })
}

/// Removes the caller from `group` (fine when it was not a member).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_call_remove_from_group(
    call: *const interlink_hub_call,
    group: *const c_char,
) -> interlink_result {
    ffi!(call, group => {
        // SAFETY: caller's contract on both pointers.
        let (c, group) = unsafe { (call_ref(call)?, str_arg(group, "group")?) };
        c.ctx.groups().remove(c.ctx.connection_id(), group).map_err(group_error)?;
        Ok(())
    })
}
