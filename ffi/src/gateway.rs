//! A relay gateway server from C (`interlink_gateway_*`): binds, serves listeners and
//! senders on the library's threads, and hands out a connection string.

use std::ffi::c_char;
use std::net::SocketAddr;

use interlink::relay::gateway::generate_key;
use interlink::relay::{GatewayOptions, GatewayServer};
use interlink_core::relay::sas::{Rights, SharedAccessRule};

use crate::boundary::{Error, interlink_result};
use crate::memory::{free_handle, new_handle, opt_str_arg, owned_string, write_out};
use crate::runtime::block_on;

/// A running relay gateway (opaque). Start with interlink_gateway_start, stop with
/// interlink_gateway_stop, free with interlink_gateway_free. Thread-safe except free.
pub struct interlink_gateway {
    server: std::sync::Mutex<Option<GatewayServer>>,
    port: u16,
    connection_string: String,
}

/// Starts a gateway on `bind` ("127.0.0.1:0" when NULL: an OS-chosen port) that accepts any
/// hybrid connection name and tokens signed by one rule with all rights: `key_name`
/// (NULL: "RootManageSharedAccessKey") and `key` (NULL: 32 random bytes, base64). Free
/// `*gateway_out` with interlink_gateway_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_start(
    bind: *const c_char,
    key_name: *const c_char,
    key: *const c_char,
    gateway_out: *mut *mut interlink_gateway,
) -> interlink_result {
    ffi!(gateway_out => {
        let mut options = GatewayOptions::local();
        // SAFETY: caller's contract on every pointer.
        let (bind, key_name, key) = unsafe {
            (opt_str_arg(bind, "bind")?, opt_str_arg(key_name, "key_name")?, opt_str_arg(key, "key")?)
        };
        if let Some(b) = bind {
            options.bind = b
                .parse::<SocketAddr>()
                .map_err(|e| Error::invalid(format!("bind `{b}`: {e}")))?;
        }
        let name = key_name.unwrap_or("RootManageSharedAccessKey");
        let key = key.map_or_else(generate_key, str::to_string);
        options.rules = vec![SharedAccessRule::new(name, key, Rights::ALL)];
        let server = block_on(0, GatewayServer::start(options))?
            .map_err(|e| Error::new(interlink_result::Io, format!("cannot start the gateway: {e}")))?;
        let gateway = interlink_gateway {
            port: server.local_addr().port(),
            connection_string: server.connection_string().to_string(),
            server: std::sync::Mutex::new(Some(server)),
        };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(gateway_out, gateway, "gateway_out") }
    })
}

/// The port the gateway listens on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_local_port(
    gateway: *const interlink_gateway,
    port_out: *mut u16,
) -> interlink_result {
    // SAFETY: caller's contract on both pointers.
    ffi!(gateway, port_out => { unsafe { write_out(port_out, (*gateway).port, "port_out") } })
}

/// A ready-to-use connection string
/// (`Endpoint=sb://127.0.0.1:PORT/;SharedAccessKeyName=…;SharedAccessKey=…`). Free
/// `*connection_string_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_connection_string(
    gateway: *const interlink_gateway,
    connection_string_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(gateway, connection_string_out => {
        // SAFETY: caller's contract on both pointers.
        unsafe {
            let cs = owned_string(&(*gateway).connection_string);
            write_out(connection_string_out, cs, "connection_string_out")
        }
    })
}

/// Stops the gateway: no new connections; control channels and rendezvous close with 1001.
/// Returns once the listening socket is closed. Stopping twice is fine.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_stop(
    gateway: *const interlink_gateway,
) -> interlink_result {
    ffi!(gateway => {
        // SAFETY: caller's contract.
        let server = unsafe { &*gateway }.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(server) = server {
            block_on(0, server.shutdown())?;
        }
        Ok(())
    })
}

/// Stops the gateway if it runs and frees it; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_gateway_free(gateway: *mut interlink_gateway) {
    ffi!(default (); => {
        if !gateway.is_null() {
            // SAFETY: a handle from interlink_gateway_start, not used afterwards.
            unsafe {
                interlink_gateway_stop(gateway);
                free_handle(gateway);
            }
        }
        Ok(())
    })
}
