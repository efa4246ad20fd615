//! [`HubServer`]: a SignalR hub served from Node, its methods JavaScript functions
//! ([`crate::hub_methods`]), over `interlink::hub::server` and `interlink::hub::transport`
//! (negotiate, WebSockets, Server-Sent Events, long polling; JSON and MessagePack); and
//! [`start_demo_hub_server`], the CLI's demo hub.
//!
//! Like a `net.Server`, a running server keeps Node's event loop alive (and itself running,
//! even unreferenced) until `close()`.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use interlink::hub::server::{HubHandle, HubOptions, HubService};
use interlink::hub::transport::{
    HubRoute, HubServer as IoServer, HubServerOptions as IoServerOptions, TransportOptions,
};
use napi::bindgen_prelude::{Object, PromiseRaw};
use napi::{Env, sys};
use napi_derive::napi;

use crate::hub_context::{HubClientProxy, HubClients, HubGroups};
use crate::hub_error::{HubBindError, HubResult, hub_promise};
use crate::hub_hold;
use crate::hub_methods::{JsHub, Slot};
use crate::hub_options::{HubServerOptions, PARALLEL_CALLS, bind_address, hub_options, millis};
use crate::hub_rest::{RestArgs, install};
use crate::hub_value::HubValue;

/// What a running server shares between its JavaScript object and its hold.
struct Running {
    server: Mutex<Option<IoServer>>,
    slot: Slot,
}

/// Dropped when the hold goes (at `close()`, or when the environment ends): stops serving.
struct Stopper(Arc<Running>);

impl Drop for Stopper {
    fn drop(&mut self) {
        drop(
            self.0
                .server
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take(),
        );
        self.0.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// A hub served from Node; see `HubServer.start`.
#[napi]
pub struct HubServer {
    running: Arc<Running>,
    handle: HubHandle,
    hold: u64,
    local_addr: SocketAddr,
    path: String,
}

#[napi]
impl HubServer {
    /// Binds and serves the hub at `path` (negotiate, WebSockets, Server-Sent Events, long
    /// polling; JSON and MessagePack). Rejects with `ERR_INTERLINK_IO` when the address
    /// cannot be bound, `ERR_INTERLINK_INVALID_ARGUMENT` for bad options.
    #[napi(ts_return_type = "Promise<HubServer>")]
    pub fn start<'env>(
        env: &'env Env,
        options: Option<HubServerOptions>,
    ) -> napi::Result<PromiseRaw<'env, HubServer>> {
        let setup = Self::setup(options.unwrap_or_default());
        hub_promise(
            env,
            async move {
                let (service, route, bind, slot, path) = setup?;
                let server = IoServer::start(IoServerOptions {
                    bind,
                    tls: None,
                    routes: vec![route],
                })
                .await?;
                Ok((service, server, slot, path))
            },
            |env, (service, server, slot, path)| {
                let local_addr = server.local_addr();
                let running = Arc::new(Running {
                    server: Mutex::new(Some(server)),
                    slot,
                });
                let hold = hub_hold::hold(env, Box::new(Stopper(running.clone())))?;
                Ok(HubServer {
                    running,
                    handle: service.handle(),
                    hold,
                    local_addr,
                    path,
                })
            },
        )
    }

    /// The hub URL (`http://127.0.0.1:<port>/hub`).
    #[napi(getter)]
    pub fn url(&self) -> String {
        format!("http://{}{}", self.local_addr, self.path)
    }

    /// The bound address (`127.0.0.1:<port>`).
    #[napi(getter)]
    pub fn local_addr(&self) -> String {
        self.local_addr.to_string()
    }

    /// The bound port.
    #[napi(getter)]
    pub fn port(&self) -> u32 {
        u32::from(self.local_addr.port())
    }

    /// Calls `method(...args)` on every connection; returns how many it was queued on.
    #[napi(ts_args_type = "method: string, ...args: any[]")]
    pub fn broadcast(&self, env: &Env, method: String, args: Vec<HubValue>) -> napi::Result<u32> {
        HubClientProxy::deliver(&self.handle.clients().all(), &method, &args)
            .map_err(|e| e.into_napi(env))
    }

    /// Calls `method(...args)` on the members of `group`.
    #[napi(ts_args_type = "group: string, method: string, ...args: any[]")]
    pub fn send_to_group(
        &self,
        env: &Env,
        group: String,
        method: String,
        args: Vec<HubValue>,
    ) -> napi::Result<u32> {
        HubClientProxy::deliver(&self.handle.clients().group(&group), &method, &args)
            .map_err(|e| e.into_napi(env))
    }

    /// Calls `method(...args)` on one connection (0: it is not connected here).
    #[napi(ts_args_type = "connectionId: string, method: string, ...args: any[]")]
    pub fn send_to_connection(
        &self,
        env: &Env,
        connection_id: String,
        method: String,
        args: Vec<HubValue>,
    ) -> napi::Result<u32> {
        HubClientProxy::deliver(
            &self.handle.clients().client(&connection_id),
            &method,
            &args,
        )
        .map_err(|e| e.into_napi(env))
    }

    /// Adds a connection to a group; `false` if it already was a member. Throws
    /// `ERR_INTERLINK_INVALID_ARGUMENT` for an unknown connection.
    #[napi]
    pub fn add_to_group(
        &self,
        env: Env,
        connection_id: String,
        group: String,
    ) -> napi::Result<bool> {
        HubGroups::new(self.handle.groups()).add(env, connection_id, group)
    }

    /// Removes a connection from a group; `false` if it was not a member.
    #[napi]
    pub fn remove_from_group(
        &self,
        env: Env,
        connection_id: String,
        group: String,
    ) -> napi::Result<bool> {
        HubGroups::new(self.handle.groups()).remove(env, connection_id, group)
    }

    /// The ids of the open connections, sorted.
    #[napi]
    pub fn connection_ids(&self) -> Vec<String> {
        self.handle.connection_ids()
    }

    /// Calls on connections (`all`, `group(name)`, `client(id)`, ...).
    #[napi(getter)]
    pub fn clients(&self) -> HubClients {
        HubClients::new(self.handle.clients())
    }

    /// Group membership.
    #[napi(getter)]
    pub fn groups(&self) -> HubGroups {
        HubGroups::new(self.handle.groups())
    }

    /// Stops accepting, closes every connection (clients get a Close), releases the
    /// methods and lets Node's event loop end. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let server = self
            .running
            .server
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        let hold = self.hold;
        hub_promise(
            env,
            async move {
                if let Some(server) = server {
                    server.shutdown().await;
                }
                drop(hub_hold::release(hold));
                Ok(())
            },
            |_, ()| Ok(()),
        )
    }
}

type Setup = (HubService, HubRoute, SocketAddr, Slot, String);

impl HubServer {
    fn setup(o: HubServerOptions) -> HubResult<Setup> {
        let bind = bind_address(o.bind.as_deref())?;
        let path = o.path.unwrap_or_else(|| "/hub".into());
        if !path.starts_with('/') {
            return Err(HubBindError::invalid(format!(
                "path must start with '/', not {path:?}"
            )));
        }
        let mut options = hub_options(
            HubOptions::default(),
            o.keep_alive_interval_ms,
            o.client_timeout_ms,
            o.handshake_timeout_ms,
        )?;
        if let Some(n) = o.max_message_size {
            options.connection.max_message_size = n as usize;
        }
        // JavaScript methods start as calls arrive (see `hub_methods`); the permits only
        // bound how many results are awaited at once per connection.
        options.max_parallel_invocations = PARALLEL_CALLS;
        if let Some(d) = millis(o.client_result_timeout_ms, "clientResultTimeoutMs")? {
            options.client_result_timeout = d;
        }
        let (js, shape) = JsHub::new(
            o.methods.unwrap_or_default(),
            o.stream_methods.unwrap_or_default(),
            o.on_connected,
            o.on_disconnected,
        );
        let slot: Slot = Arc::new(Mutex::new(Some(js)));
        let service = HubService::new(JsHub::hub(&slot, shape), options);
        let transport = TransportOptions {
            stateful_reconnect: o.stateful_reconnect.unwrap_or(false),
            ..TransportOptions::default()
        };
        let route = HubRoute::new(path.clone()).with_options(transport);
        service.serve(route.acceptor());
        Ok((service, route, bind, slot, path))
    }
}

/// The rest-parameter forms of `broadcast`, `sendToGroup` and `sendToConnection`.
pub fn install_rest(env: &Env, exports: &Object) -> napi::Result<()> {
    fn number(env: &Env, n: u32) -> napi::Result<sys::napi_value> {
        // SAFETY: on the JavaScript thread of `env`.
        unsafe { <u32 as napi::bindgen_prelude::ToNapiValue>::to_napi_value(env.raw(), n) }
    }
    install::<HubServer, _>(
        env,
        exports,
        "HubServer",
        "broadcast",
        &["method"],
        false,
        |s, env, a: RestArgs| {
            let [method] = <[String; 1]>::try_from(a.fixed).unwrap_or_default();
            number(env, s.broadcast(env, method, a.values)?)
        },
    )?;
    install::<HubServer, _>(
        env,
        exports,
        "HubServer",
        "sendToGroup",
        &["group", "method"],
        false,
        |s, env, a: RestArgs| {
            let [group, method] = <[String; 2]>::try_from(a.fixed).unwrap_or_default();
            number(env, s.send_to_group(env, group, method, a.values)?)
        },
    )?;
    install::<HubServer, _>(
        env,
        exports,
        "HubServer",
        "sendToConnection",
        &["connectionId", "method"],
        false,
        |s, env, a: RestArgs| {
            let [id, method] = <[String; 2]>::try_from(a.fixed).unwrap_or_default();
            number(env, s.send_to_connection(env, id, method, a.values)?)
        },
    )
}
