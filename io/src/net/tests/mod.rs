//! Loopback tests for `interlink::net`: servers bind `127.0.0.1:0`, every test is bounded
//! by [`LIMIT`], and no assertion depends on timing.

mod roundtrip;
mod tls;
mod ws;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::body::Incoming;
use smol::net::TcpListener;

use super::{Body, ConnInfo, ServerTls, Target, serve};

/// Upper bound for any one test; reaching it is a failure (a hang), never a measurement.
const LIMIT: Duration = Duration::from_secs(20);

/// Runs `fut` to completion on the current thread, panicking if it takes longer than
/// [`LIMIT`].
fn run<T>(fut: impl Future<Output = T>) -> T {
    smol::block_on(futures_lite::future::or(fut, async {
        async_io::Timer::after(LIMIT).await;
        panic!("test did not finish within {LIMIT:?}")
    }))
}

/// A [`serve`] instance on `127.0.0.1:0`, stopped by [`TestServer::stop`].
struct TestServer {
    addr: SocketAddr,
    stop: async_channel::Sender<()>,
    task: smol::Task<io::Result<()>>,
}

impl TestServer {
    async fn start<H, F>(tls: Option<ServerTls>, handler: H) -> TestServer
    where
        H: Fn(http::Request<Incoming>, ConnInfo) -> F + Clone + Send + Sync + 'static,
        F: Future<Output = http::Response<Body>> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let shutdown = async move {
            let _ = stopped.recv().await;
        };
        let task = smol::spawn(serve(listener, tls, handler, shutdown));
        TestServer { addr, stop, task }
    }

    /// A target on this server: `scheme://host:port/path`.
    fn target(&self, scheme: &str, host: &str, path: &str) -> Target {
        Target::parse(&format!("{scheme}://{host}:{}{path}", self.addr.port())).unwrap()
    }

    /// Resolves `shutdown` and waits for `serve` to return.
    async fn stop(self) -> io::Result<()> {
        drop(self.stop);
        self.task.await
    }
}
