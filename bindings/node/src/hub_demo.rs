//! [`start_demo_hub_server`]: the demo hub of `interlink hub serve`
//! (`interlink::hub::server::demo`) started from Node, for quick tries and tests.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use interlink::hub::server::demo::{DemoOptions, DemoServer};
use napi::Env;
use napi::bindgen_prelude::PromiseRaw;
use napi_derive::napi;

use crate::hub_error::{HubBindError, hub_promise};
use crate::hub_hold;
use crate::hub_options::{bind_address, hub_options};

/// Settings of the demo server.
#[napi(object, object_to_js = false)]
#[derive(Default)]
pub struct DemoHubServerOptions {
    /// Where to listen (`127.0.0.1:0`).
    pub bind: Option<String>,
    /// Grant stateful reconnect (on).
    pub stateful_reconnect: Option<bool>,
    /// The bearer token of `/client` (random by default).
    pub token: Option<String>,
    /// Keep-alive interval (15000 ms).
    pub keep_alive_interval_ms: Option<f64>,
    /// Client timeout (30000 ms).
    pub client_timeout_ms: Option<f64>,
}

/// A running demo hub (`interlink hub serve`): `/demo`, `/redirect` and `/client?hub=demo`
/// with `echo`, `add`, `counter` (stream), `sum` (upload), `broadcast`, `joinGroup`,
/// `leaveGroup`, `sendToGroup`, `ask` (client result of `question`), `whoami`, ...
#[napi]
pub struct DemoHubServer {
    server: Arc<Mutex<Option<DemoServer>>>,
    local_addr: SocketAddr,
    token: String,
    hold: u64,
}

/// Stops the demo server when its hold goes.
struct DemoStopper(Arc<Mutex<Option<DemoServer>>>);

impl Drop for DemoStopper {
    fn drop(&mut self) {
        drop(self.0.lock().unwrap_or_else(|p| p.into_inner()).take());
    }
}

/// Starts the demo hub of `interlink hub serve` (for quick tries and tests).
#[napi(ts_return_type = "Promise<DemoHubServer>")]
pub fn start_demo_hub_server<'env>(
    env: &'env Env,
    options: Option<DemoHubServerOptions>,
) -> napi::Result<PromiseRaw<'env, DemoHubServer>> {
    let o = options.unwrap_or_default();
    let setup = (|| {
        let base = DemoOptions::default();
        Ok::<_, HubBindError>(DemoOptions {
            bind: bind_address(o.bind.as_deref())?,
            hub: hub_options(
                base.hub,
                o.keep_alive_interval_ms,
                o.client_timeout_ms,
                None,
            )?,
            stateful_reconnect: o.stateful_reconnect.unwrap_or(base.stateful_reconnect),
            token: o.token.clone(),
        })
    })();
    hub_promise(
        env,
        async move { Ok(DemoServer::start(setup?).await?) },
        |env, server| {
            let local_addr = server.local_addr();
            let token = server.token().to_owned();
            let server = Arc::new(Mutex::new(Some(server)));
            let hold = hub_hold::hold(env, Box::new(DemoStopper(server.clone())))?;
            Ok(DemoHubServer {
                server,
                local_addr,
                token,
                hold,
            })
        },
    )
}

#[napi]
impl DemoHubServer {
    /// The demo hub's URL (`http://127.0.0.1:<port>/demo`).
    #[napi(getter)]
    pub fn url(&self) -> String {
        format!("http://{}/demo", self.local_addr)
    }

    /// The bound address.
    #[napi(getter)]
    pub fn local_addr(&self) -> String {
        self.local_addr.to_string()
    }

    /// The bearer token `/client` wants (`/redirect` hands it out).
    #[napi(getter)]
    pub fn token(&self) -> String {
        self.token.clone()
    }

    /// Closes every connection and stops serving. Idempotent.
    #[napi(ts_return_type = "Promise<void>")]
    pub fn close<'env>(&self, env: &'env Env) -> napi::Result<PromiseRaw<'env, ()>> {
        let server = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
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
