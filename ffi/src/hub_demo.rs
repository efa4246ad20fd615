//! The demo hub server from C (`interlink_hub_demo_server_*`): what `interlink hub serve`
//! runs ([`DemoServer`]), for trying a client out and for tests. Routes and methods are
//! listed in [`interlink::hub::server::demo`]: `/demo` serves `echo(value)`, `add(a, b)`,
//! `counter(count, delayMs)` (stream), `ask(value)` (a client result of `question(value)`),
//! `broadcast(text)` and the group methods (which call `message(connectionId, text)`), …

use std::ffi::c_char;
use std::net::SocketAddr;
use std::sync::Mutex;

use interlink::hub::server::demo::{DemoOptions, DemoServer};

use crate::boundary::{Error, interlink_result};
use crate::memory::{free_handle, new_handle, opt_str_arg, write_out};
use crate::runtime::block_on;

/// A running demo hub server (opaque). Start with interlink_hub_demo_server_start, free
/// with interlink_hub_demo_server_free. Thread-safe except free.
pub struct interlink_hub_demo_server {
    server: Mutex<Option<DemoServer>>,
    port: u16,
}

/// Starts the demo server on `bind` (NULL: "127.0.0.1:0", an OS-chosen port): the demo hub
/// at `http://HOST:PORT/demo` (JSON and MessagePack, every transport, stateful reconnect
/// granted). Fails with INVALID_ARGUMENT or IO. Free `*server_out` with
/// interlink_hub_demo_server_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_demo_server_start(
    bind: *const c_char,
    server_out: *mut *mut interlink_hub_demo_server,
) -> interlink_result {
    ffi!(server_out => {
        let mut options = DemoOptions::default();
        // SAFETY: caller's contract.
        if let Some(b) = unsafe { opt_str_arg(bind, "bind") }? {
            options.bind = b
                .parse::<SocketAddr>()
                .map_err(|e| Error::invalid(format!("bind `{b}`: {e}")))?;
        }
        let server = block_on(0, DemoServer::start(options))?
            .map_err(|e| {
                Error::new(interlink_result::Io, format!("cannot start the demo server: {e}"))
            })?;
        let demo = interlink_hub_demo_server {
            port: server.local_addr().port(),
            server: Mutex::new(Some(server)),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(server_out, demo, "server_out") }
    })
}

/// The port the demo server listens on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_demo_server_local_port(
    server: *const interlink_hub_demo_server,
    port_out: *mut u16,
) -> interlink_result {
    // SAFETY: caller's contract on both pointers.
    ffi!(server, port_out => { unsafe { write_out(port_out, (*server).port, "port_out") } })
}

/// Stops the demo server (clients get a Close). Stopping twice is fine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_demo_server_stop(
    server: *const interlink_hub_demo_server,
) -> interlink_result {
    ffi!(server => {
        // SAFETY: caller's contract.
        let taken = unsafe { &*server }.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(s) = taken {
            block_on(0, s.shutdown())?;
        }
        Ok(())
    })
}

/// Stops the demo server if it runs and frees it; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_demo_server_free(server: *mut interlink_hub_demo_server) {
    ffi!(default (); => {
        if !server.is_null() {
            // SAFETY: a handle from interlink_hub_demo_server_start, not used afterwards.
            unsafe {
                interlink_hub_demo_server_stop(server);
                free_handle(server);
            }
        }
        Ok(())
    })
}
