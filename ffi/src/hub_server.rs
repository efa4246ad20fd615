//! A SignalR hub server from C (`interlink_hub_host_*`): methods written in C (see
//! [`hub_call`](crate::hub_call)) registered on a builder, served over every transport
//! (WebSockets, Server-Sent Events, long polling) and both protocols on the library's
//! threads, plus broadcast, groups and sends to one connection from application code.
//!
//! The names are not `interlink_hub_server_*`: those belong to the sans-IO server connection
//! ([`hub_server_machine`](crate::hub_server_machine)).

use std::ffi::{c_char, c_void};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use interlink::hub::server::{Hub, HubHandle, HubOptions, HubService};
use interlink::hub::transport::{HubRoute, HubServer, HubServerOptions, TransportOptions};
use interlink_core::hub::HubProtocol;

use crate::boundary::{Error, interlink_result};
use crate::hub_call::{
    MethodDef, group_error, hub_error, interlink_hub_method, run_stream, run_unary,
};
use crate::hub_callback::{CALLBACK_DRAIN, Gate};
use crate::hub_json::args_from_json;
use crate::hub_options::interlink_hub_options;
use crate::hub_value::protocols_arg;
use crate::memory::{
    free_handle, handle, new_handle, opt_str_arg, owned_string, str_arg, write_out,
};
use crate::runtime::{UserData, block_on};

/// Settings of interlink_hub_host_start. A zeroed struct (or a NULL pointer) means the
/// defaults (ASP.NET Core's), given in parentheses. Copied by the call.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct interlink_hub_host_options {
    /// Keep-alive, client timeout, handshake timeout, largest message, stateful buffer of
    /// every connection (zero fields: defaults; see interlink_hub_options).
    pub connection: interlink_hub_options,
    /// Accepted protocols, INTERLINK_HUB_PROTOCOLS_* bits (0: both).
    pub protocols: u32,
    /// Grant stateful reconnect to WebSocket clients that ask (false).
    pub stateful_reconnect: bool,
    /// Unary calls of one connection running at once (1). A method waiting in
    /// interlink_hub_call_invoke_caller keeps its slot.
    pub max_parallel_invocations: u32,
    /// How long interlink_hub_call_invoke_caller waits for the client (30000 ms).
    pub client_result_timeout_ms: u64,
}

/// The methods of a hub to start (opaque). Create with interlink_hub_host_builder_new, add
/// methods, start any number of hosts with it, free with interlink_hub_host_builder_free.
/// Not thread-safe.
#[derive(Default)]
pub struct interlink_hub_host_builder {
    methods: Vec<(String, MethodDef)>,
}

/// A running hub server (opaque). Start with interlink_hub_host_start, stop with
/// interlink_hub_host_stop, free with interlink_hub_host_free. Thread-safe except free; its
/// functions may be called from its methods (except stop and free).
pub struct interlink_hub_host {
    server: Mutex<Option<HubServer>>,
    handle: HubHandle,
    gate: Arc<Gate>,
    port: u16,
    url: String,
}

/// Creates an empty builder. Free `*builder_out` with interlink_hub_host_builder_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_builder_new(
    builder_out: *mut *mut interlink_hub_host_builder,
) -> interlink_result {
    ffi!(builder_out => {
        let b = interlink_hub_host_builder::default();
        // SAFETY: checked out-pointer.
        unsafe { new_handle(builder_out, b, "builder_out") }
    })
}

/// Adds a method (or replaces one of the same name).
///
/// # Safety
/// `builder` and `name` as for the exported functions.
unsafe fn add(
    builder: *mut interlink_hub_host_builder,
    name: *const c_char,
    arg_count: u32,
    callback: interlink_hub_method,
    user_data: *mut c_void,
    streaming: bool,
) -> Result<(), Error> {
    let callback = callback.ok_or_else(|| Error::null("callback"))?;
    // SAFETY: forwarded contract.
    let (b, name) = unsafe { (handle(builder, "builder")?, str_arg(name, "name")?) };
    if name.is_empty() {
        return Err(Error::invalid("`name` is empty"));
    }
    let def = MethodDef {
        callback,
        user_data: UserData(user_data),
        params: arg_count as usize,
        streaming,
    };
    b.methods.retain(|(n, _)| n != name);
    b.methods.push((name.to_string(), def));
    Ok(())
}

/// Adds unary method `name` (case-sensitive) taking exactly `arg_count` arguments (calls
/// with another number fail before reaching `callback`). `user_data` is passed to every call
/// and must stay usable from library threads until every host started with this builder is
/// freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_builder_add_method(
    builder: *mut interlink_hub_host_builder,
    name: *const c_char,
    arg_count: u32,
    callback: interlink_hub_method,
    user_data: *mut c_void,
) -> interlink_result {
    // SAFETY: caller's contract on every pointer.
    ffi!(builder, name => { unsafe { add(builder, name, arg_count, callback, user_data, false) } })
}

/// Adds streaming method `name` (called with StreamInvocation): `callback` sends items with
/// interlink_hub_call_send_item; the stream ends when it returns. Otherwise as
/// interlink_hub_host_builder_add_method.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_builder_add_stream_method(
    builder: *mut interlink_hub_host_builder,
    name: *const c_char,
    arg_count: u32,
    callback: interlink_hub_method,
    user_data: *mut c_void,
) -> interlink_result {
    // SAFETY: caller's contract on every pointer.
    ffi!(builder, name => { unsafe { add(builder, name, arg_count, callback, user_data, true) } })
}

/// Frees a builder (hosts started with it keep running); NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_builder_free(builder: *mut interlink_hub_host_builder) {
    // SAFETY: NULL or a handle from interlink_hub_host_builder_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(builder) }; Ok(()) })
}

/// The hub of `methods`, whose calls pass `gate`.
fn build_hub(methods: &[(String, MethodDef)], gate: &Arc<Gate>) -> Hub {
    let mut hub = Hub::new();
    for (name, def) in methods {
        let (def, gate) = (*def, gate.clone());
        hub = if def.streaming {
            hub.stream_method(name, def.params, move |ctx, args| {
                run_stream(def, gate.clone(), ctx, args)
            })
        } else {
            hub.method(name, def.params, move |ctx, args| {
                run_unary(def, gate.clone(), ctx, args)
            })
        };
    }
    hub
}

fn hub_options(o: &interlink_hub_host_options) -> Result<HubOptions, Error> {
    let d = HubOptions::default();
    Ok(HubOptions {
        connection: o.connection.to_core(),
        protocols: match o.protocols {
            0 => vec![HubProtocol::Json, HubProtocol::MessagePack],
            mask => protocols_arg(mask)?,
        },
        max_parallel_invocations: match o.max_parallel_invocations {
            0 => d.max_parallel_invocations,
            n => n as usize,
        },
        client_result_timeout: match o.client_result_timeout_ms {
            0 => d.client_result_timeout,
            v => Duration::from_millis(v),
        },
        ..d
    })
}

/// `path` with one leading and no trailing `/` (the route's own rule).
fn route_path(path: &str) -> String {
    let trimmed = path.trim_end_matches('/');
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

/// Starts a hub with the methods of `builder` (copied: the builder may be freed or reused)
/// at `path` (NULL: "/hub"; negotiate at PATH/negotiate) on `bind` (NULL: "127.0.0.1:0", an
/// OS-chosen port), plaintext HTTP. `options` may be NULL. Fails with INVALID_ARGUMENT or IO
/// (e.g. the address is in use). Free `*host_out` with interlink_hub_host_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_start(
    builder: *const interlink_hub_host_builder,
    bind: *const c_char,
    path: *const c_char,
    options: *const interlink_hub_host_options,
    host_out: *mut *mut interlink_hub_host,
) -> interlink_result {
    ffi!(builder, host_out => {
        // SAFETY: caller's contract on every pointer.
        let (b, bind, path, o) = unsafe {
            (
                &*builder,
                opt_str_arg(bind, "bind")?,
                opt_str_arg(path, "path")?,
                options.as_ref().copied().unwrap_or_default(),
            )
        };
        let bind = match bind {
            None => SocketAddr::from(([127, 0, 0, 1], 0)),
            Some(s) => s.parse().map_err(|e| Error::invalid(format!("bind `{s}`: {e}")))?,
        };
        let path = route_path(path.unwrap_or("/hub"));
        let gate = Arc::new(Gate::default());
        let service = HubService::new(build_hub(&b.methods, &gate), hub_options(&o)?);
        let transport = TransportOptions {
            stateful_reconnect: o.stateful_reconnect,
            ..TransportOptions::default()
        };
        let route = HubRoute::new(path.clone()).with_options(transport);
        service.serve(route.acceptor());
        let options = HubServerOptions { bind, tls: None, routes: vec![route] };
        let server = block_on(0, HubServer::start(options))?.map_err(|e| {
            Error::new(interlink_result::Io, format!("cannot start the hub host: {e}"))
        })?;
        let addr = server.local_addr();
        let host = interlink_hub_host {
            server: Mutex::new(Some(server)),
            handle: service.handle(),
            gate,
            port: addr.port(),
            url: format!("http://{addr}{path}"),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(host_out, host, "host_out") }
    })
}

/// The host behind a required pointer.
///
/// # Safety
/// `p` is NULL or a live handle.
unsafe fn host_ref<'a>(p: *const interlink_hub_host) -> Result<&'a interlink_hub_host, Error> {
    // SAFETY: forwarded contract.
    unsafe { p.as_ref() }.ok_or_else(|| Error::null("host"))
}

/// The port the host listens on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_local_port(
    host: *const interlink_hub_host,
    port_out: *mut u16,
) -> interlink_result {
    // SAFETY: caller's contract on both pointers.
    ffi!(host, port_out => { unsafe { write_out(port_out, host_ref(host)?.port, "port_out") } })
}

/// The hub's URL for clients, `http://127.0.0.1:PORT/PATH`. Free `*url_out` with
/// interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_url(
    host: *const interlink_hub_host,
    url_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(host, url_out => {
        // SAFETY: caller's contract on both pointers.
        unsafe { write_out(url_out, owned_string(&host_ref(host)?.url), "url_out") }
    })
}

/// Connections open now (handshake done, not ended).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_connection_count(
    host: *const interlink_hub_host,
    count_out: *mut usize,
) -> interlink_result {
    ffi!(host, count_out => {
        // SAFETY: caller's contract on both pointers.
        unsafe { write_out(count_out, host_ref(host)?.handle.connection_count(), "count_out") }
    })
}

/// Reads the method name and the arguments of a send.
///
/// # Safety
/// Valid strings or NULL (args only).
unsafe fn send_args<'a>(
    method: *const c_char,
    args_json: *const c_char,
) -> Result<(&'a str, Vec<interlink_core::hub::RawValue>), Error> {
    // SAFETY: forwarded contract; the strings outlive the call that reads them.
    let (method, args) = unsafe {
        (
            str_arg(method, "method")?,
            opt_str_arg(args_json, "args_json")?,
        )
    };
    Ok((
        method,
        args_from_json(HubProtocol::Json, args, "args_json")?,
    ))
}

/// Calls client method `method` with `args_json` (the text of one JSON array, NULL: none)
/// on every connection, without waiting for anything (queued on each). Each connection gets
/// it in its own protocol.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_broadcast(
    host: *const interlink_hub_host,
    method: *const c_char,
    args_json: *const c_char,
) -> interlink_result {
    ffi!(host, method => {
        // SAFETY: caller's contract on every pointer.
        let (h, (method, args)) = unsafe { (host_ref(host)?, send_args(method, args_json)?) };
        h.handle.clients().all().send(method, args).map_err(hub_error)?;
        Ok(())
    })
}

/// As interlink_hub_host_broadcast, to the members of `group` (none: nothing is sent).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_send_to_group(
    host: *const interlink_hub_host,
    group: *const c_char,
    method: *const c_char,
    args_json: *const c_char,
) -> interlink_result {
    ffi!(host, group, method => {
        // SAFETY: caller's contract on every pointer.
        let (h, group, (method, args)) =
            unsafe { (host_ref(host)?, str_arg(group, "group")?, send_args(method, args_json)?) };
        h.handle.clients().group(group).send(method, args).map_err(hub_error)?;
        Ok(())
    })
}

/// As interlink_hub_host_broadcast, to one connection; NOT_FOUND when it is not open here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_send_to_connection(
    host: *const interlink_hub_host,
    connection_id: *const c_char,
    method: *const c_char,
    args_json: *const c_char,
) -> interlink_result {
    ffi!(host, connection_id, method => {
        // SAFETY: caller's contract on every pointer.
        let (h, id) = unsafe { (host_ref(host)?, str_arg(connection_id, "connection_id")?) };
        // SAFETY: as above.
        let (method, args) = unsafe { send_args(method, args_json)? };
        let reached = h.handle.clients().client(id).send(method, args).map_err(hub_error)?;
        if reached == 0 {
            return Err(not_found(id));
        }
        Ok(())
    })
}

fn not_found(id: &str) -> Error {
    Error::new(
        interlink_result::NotFound,
        format!("connection '{id}' is not open here"),
    )
}

/// Checks that connection `id` is open on `h`.
fn open_connection(h: &interlink_hub_host, id: &str) -> Result<(), Error> {
    if h.handle.connection_ids().iter().any(|c| c == id) {
        Ok(())
    } else {
        Err(not_found(id))
    }
}

/// Reads the arguments of a group membership change.
///
/// # Safety
/// Valid pointers (as for the exported functions).
unsafe fn membership_args<'a>(
    host: *const interlink_hub_host,
    connection_id: *const c_char,
    group: *const c_char,
) -> Result<(&'a interlink_hub_host, &'a str, &'a str), Error> {
    // SAFETY: forwarded contract.
    unsafe {
        Ok((
            host_ref(host)?,
            str_arg(connection_id, "connection_id")?,
            str_arg(group, "group")?,
        ))
    }
}

/// Adds connection `connection_id` to `group` (fine when it already is a member).
/// NOT_FOUND when the connection is not open here; INVALID_ARGUMENT for an empty or too long
/// group name, or too many groups.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_add_to_group(
    host: *const interlink_hub_host,
    connection_id: *const c_char,
    group: *const c_char,
) -> interlink_result {
    ffi!(host, connection_id, group => {
        // SAFETY: caller's contract on every pointer.
        let (h, id, group) = unsafe { membership_args(host, connection_id, group)? };
        open_connection(h, id)?;
        h.handle.groups().add(id, group).map_err(group_error)?;
        Ok(())
    })
}

/// Removes connection `connection_id` from `group` (fine when it was not a member).
/// NOT_FOUND when the connection is not open here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_remove_from_group(
    host: *const interlink_hub_host,
    connection_id: *const c_char,
    group: *const c_char,
) -> interlink_result {
    ffi!(host, connection_id, group => {
        // SAFETY: caller's contract on every pointer.
        let (h, id, group) = unsafe { membership_args(host, connection_id, group)? };
        open_connection(h, id)?;
        h.handle.groups().remove(id, group).map_err(group_error)?;
        Ok(())
    })
}

/// Stops the host: no new connections, every connection is closed (clients get a Close),
/// then no method starts any more; waits (at most 5 s) for methods still running. Stopping
/// twice is fine. Must not be called from one of its methods.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_stop(
    host: *const interlink_hub_host,
) -> interlink_result {
    ffi!(host => {
        // SAFETY: caller's contract.
        let h = unsafe { host_ref(host) }?;
        let server = h.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(server) = server {
            block_on(0, server.shutdown())?;
        }
        h.gate.close(CALLBACK_DRAIN);
        Ok(())
    })
}

/// Stops the host if it runs and frees it; after it returns no method starts. NULL is
/// ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_host_free(host: *mut interlink_hub_host) {
    ffi!(default (); => {
        if !host.is_null() {
            // SAFETY: a handle from interlink_hub_host_start, not used afterwards.
            unsafe {
                interlink_hub_host_stop(host);
                free_handle(host);
            }
        }
        Ok(())
    })
}
