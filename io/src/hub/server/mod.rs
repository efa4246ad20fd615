//! The hub server: methods ([`Hub`]) served over the connections that the transport layer
//! ([`crate::hub::transport`]) accepts.
//!
//! [`HubService`] owns one hub's state — its methods, options, and the core
//! [`Registry`](interlink_core::hub::Registry) of connections, users and groups. Give it the
//! [`Acceptor`] of every route that serves this hub ([`HubService::serve`]); each accepted
//! connection gets one driver task running a core
//! [`ServerConnection`](interlink_core::hub::ServerConnection): transport bytes in, frames
//! out, keep-alive and handshake timers, stateful re-attach. Each call a client makes runs
//! as its own task; its result goes back to the driver, which writes the Completion.
//!
//! ```no_run
//! use interlink::hub::server::{Hub, HubOptions, HubService};
//! use interlink::hub::transport::{HubRoute, HubServer, HubServerOptions};
//!
//! # async fn example() -> std::io::Result<()> {
//! let hub = Hub::new().method("echo", 1, |_ctx, args| async move {
//!     Ok(Some(args.raw(0)?.clone()))
//! });
//! let service = HubService::new(hub, HubOptions::default());
//! let route = HubRoute::new("/echo");
//! service.serve(route.acceptor());
//! let server = HubServer::start(HubServerOptions::local(vec![route])).await?;
//! println!("listening on http://{}", server.local_addr());
//! # Ok(()) }
//! ```
//!
//! **Parallel calls.** At most [`HubOptions::max_parallel_invocations`] unary calls of one
//! connection run at once (ASP.NET Core's `MaximumParallelInvocationsPerClient`, default 1);
//! later ones wait in arrival order. Unlike ASP.NET Core the connection keeps reading
//! meanwhile, so upload items, cancels and client results still arrive; streaming methods
//! and methods taking upload streams do not count. A method that waits for a client result
//! ([`HubContext::invoke_caller`]) keeps its slot: with the default of 1, the caller's other
//! calls wait until the client answered (or the timeout passed).
//!
//! **Back-pressure.** Stream items of streaming methods wait (up to
//! [`HubOptions::stream_buffer`] per connection) while the connection's stateful replay
//! buffer is full or its transport queue is; fire-and-forget sends to other connections
//! ([`ClientProxy::send`]) are queued on each target without a bound and never wait.
//!
//! What it does not do: no typed argument binding (methods read [`Args`]), no method
//! overloads, no authorization per method (the route's auth hook decides who connects), no
//! scale-out across processes.

mod context;
pub mod demo;
mod dispatch;
mod driver;
mod hub;
mod shared;

use std::sync::Arc;
use std::time::Duration;

use interlink_core::hub::{ConnectionOptions, HubProtocol, RegistryLimits};

pub use context::{ClientProxy, Clients, ConnectionInfo, Groups, HubContext, HubHandle};
pub use hub::{Args, BoxFuture, BoxStream, Hub, HubError, HubResult, UploadStream};

use crate::hub::transport::{AcceptedConnection, Acceptor};
use driver::Driver;
use shared::Shared;

/// Settings of one hub. Defaults are ASP.NET Core's.
#[derive(Debug, Clone)]
pub struct HubOptions {
    /// Keep-alive (15 s; off for long polling whatever this says), client timeout (30 s),
    /// handshake timeout (15 s), largest message (32 KB), stateful replay buffer (100 000 B).
    pub connection: ConnectionOptions,
    /// Protocols accepted in the handshake.
    pub protocols: Vec<HubProtocol>,
    /// Unary calls of one connection running at once (1); see the module docs.
    pub max_parallel_invocations: usize,
    /// How long [`HubContext::invoke_caller`] waits for the client's answer (30 s).
    pub client_result_timeout: Duration,
    /// Stream items queued per connection before streaming methods wait (10, ASP.NET
    /// Core's `StreamBufferCapacity`).
    pub stream_buffer: usize,
    /// Group limits.
    pub registry_limits: RegistryLimits,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions {
            connection: ConnectionOptions::default(),
            protocols: vec![HubProtocol::Json, HubProtocol::MessagePack],
            max_parallel_invocations: 1,
            client_result_timeout: Duration::from_secs(30),
            stream_buffer: 10,
            registry_limits: RegistryLimits::default(),
        }
    }
}

/// One hub being served: its state and the accept loops of its routes. Cheap to clone
/// (clones share the hub).
#[derive(Clone)]
pub struct HubService {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for HubService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubService")
            .field("hub", &self.shared.hub)
            .field("options", &self.shared.options)
            .finish()
    }
}

impl HubService {
    /// A service for `hub`.
    pub fn new(hub: Hub, options: HubOptions) -> HubService {
        HubService {
            shared: Shared::new(hub, options),
        }
    }

    /// Application access to the hub (broadcast, groups) from outside its methods.
    pub fn handle(&self) -> HubHandle {
        HubHandle {
            shared: self.shared.clone(),
        }
    }

    /// Serves every connection `acceptor` yields, on smol's global executor, until the
    /// transport server is gone. Several routes may feed one service (they share the hub's
    /// connections and groups).
    pub fn serve(&self, acceptor: Acceptor) {
        let service = self.clone();
        smol::spawn(async move {
            while let Some(accepted) = acceptor.accept().await {
                let service = service.clone();
                smol::spawn(async move { service.run_connection(accepted).await }).detach();
            }
        })
        .detach();
    }

    /// Drives one accepted connection until it ends.
    pub async fn run_connection(&self, accepted: AcceptedConnection) {
        Driver::new(self.shared.clone(), accepted).run().await
    }
}
