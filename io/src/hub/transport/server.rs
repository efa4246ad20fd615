//! [`HubServer`]: the routes on one [`net::serve`] port, plus one timer task per route.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_lite::future;
use http::{Request, Response};
use hyper::body::Incoming;

use super::outbox::Status;
use super::route::Route;
use super::{HubRoute, helpers};
use crate::net::{self, Body, ConnInfo, ServerTls};

/// How long connections get to send their Close after a shutdown began.
const SHUTDOWN_GRACE: Duration = Duration::from_millis(200);

/// Where and what a [`HubServer`] serves.
#[derive(Debug)]
pub struct HubServerOptions {
    /// Address to listen on (`127.0.0.1:0` lets the OS pick the port).
    pub bind: SocketAddr,
    /// TLS (`https`/`wss`); plaintext when `None`.
    pub tls: Option<ServerTls>,
    /// The hub endpoints; a request goes to the first route that matches it.
    pub routes: Vec<HubRoute>,
}

impl HubServerOptions {
    /// `127.0.0.1:0`, plaintext, these routes.
    pub fn local(routes: Vec<HubRoute>) -> Self {
        HubServerOptions {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: None,
            routes,
        }
    }
}

/// A running HTTP front for hub endpoints. Dropping it stops serving abruptly; prefer
/// [`shutdown`](Self::shutdown).
pub struct HubServer {
    routes: Vec<Arc<Route>>,
    local_addr: SocketAddr,
    stop_serving: async_channel::Sender<()>,
    /// Dropped at shutdown: closes every route's `stop` channel.
    stop_routes: Option<async_channel::Sender<()>>,
    task: smol::Task<std::io::Result<()>>,
    timers: Vec<smol::Task<()>>,
}

impl std::fmt::Debug for HubServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HubServer")
            .field("local_addr", &self.local_addr)
            .field("routes", &self.routes.len())
            .finish()
    }
}

impl HubServer {
    /// Binds and starts serving on smol's global executor. Connection ids come from a
    /// generator seeded from the OS (std's randomly keyed hasher) and the clock.
    pub async fn start(options: HubServerOptions) -> std::io::Result<HubServer> {
        let listener = smol::net::TcpListener::bind(options.bind).await?;
        HubServer::start_on(listener, options)
    }

    /// Starts serving on a listener the caller already bound (`options.bind` is ignored):
    /// lets routes name the real port, e.g. in a redirect URL, before the server starts.
    pub fn start_on(
        listener: smol::net::TcpListener,
        options: HubServerOptions,
    ) -> std::io::Result<HubServer> {
        let local_addr = listener.local_addr()?;
        let (stop_routes, route_stop) = async_channel::bounded::<()>(1);
        let mut routes = Vec::new();
        let mut timers = Vec::new();
        for route in options.routes {
            let (kick_tx, kick_rx) = async_channel::bounded(1);
            let route = Route::new(route, entropy(), kick_tx, route_stop.clone());
            timers.push(smol::spawn(run_timer(route.clone(), kick_rx)));
            routes.push(route);
        }
        let (stop_serving, stopped) = async_channel::bounded::<()>(1);
        let served = Arc::new(routes.clone());
        let handler = move |req: Request<Incoming>, info: ConnInfo| {
            let routes = served.clone();
            async move { dispatch(&routes, req, info).await }
        };
        let task = smol::spawn(net::serve(listener, options.tls, handler, async move {
            let _ = stopped.recv().await;
        }));
        Ok(HubServer {
            routes,
            local_addr,
            stop_serving,
            stop_routes: Some(stop_routes),
            task,
            timers,
        })
    }

    /// The bound address (with the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Live connections of route `index` (in [`HubServerOptions::routes`] order):
    /// negotiated, attached or waiting for a re-attach. `0` for an unknown index.
    pub fn connections(&self, index: usize) -> usize {
        self.routes.get(index).map_or(0, |r| r.live())
    }

    /// Long polls currently held, over all routes (tests wait on it).
    #[cfg(test)]
    pub(super) fn held_polls(&self) -> usize {
        self.routes
            .iter()
            .map(|r| r.with_table(|st, _| st.polls.len()))
            .sum()
    }

    /// Stops accepting, closes every connection gracefully (WebSockets get a Close, event
    /// streams end, held polls get 204), gives them a moment, then ends every remaining
    /// socket and task.
    pub async fn shutdown(mut self) {
        let _ = self.stop_serving.try_send(());
        for route in &self.routes {
            for conn in route.attached() {
                conn.outbox.set_status(Status::Closing);
                route.close(&conn.token);
            }
        }
        async_io::Timer::after(SHUTDOWN_GRACE).await;
        self.stop_routes.take();
        let _ = (&mut self.task).await;
        for timer in self.timers.drain(..) {
            timer.cancel().await;
        }
    }
}

async fn dispatch(routes: &[Arc<Route>], req: Request<Incoming>, info: ConnInfo) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().map(str::to_owned);
    for route in routes {
        if let Some(target) = route.matches(&path, query.as_deref()) {
            return route.clone().handle(req, info, target).await;
        }
    }
    helpers::text(404, "Not Found")
}

/// Calls the table's `handle_timeout` when its next deadline passes; woken early by
/// `kick` whenever the table changed.
async fn run_timer(route: Arc<Route>, kick: async_channel::Receiver<()>) {
    loop {
        let next = route.next_deadline();
        let sleep = async {
            match next {
                Some(at) => {
                    let now = route.now();
                    let delay =
                        Duration::from_millis(at.as_millis().saturating_sub(now.as_millis()));
                    async_io::Timer::after(delay).await;
                    true
                }
                None => future::pending().await,
            }
        };
        let kicked = async {
            let _ = kick.recv().await;
            false
        };
        if future::or(sleep, kicked).await {
            route.with_table(|st, now| st.table.handle_timeout(now));
        }
        // `with_table` kicks itself: drop that wake-up so the loop does not spin.
        let _ = kick.try_recv();
    }
}

/// Seed material from the OS (via std's randomly keyed hasher) and the clock.
fn entropy() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish()
}
