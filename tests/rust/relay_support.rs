//! Helpers shared by the relay end-to-end tests: a local gateway, listeners and senders on
//! it, and bounded waits (every wait in these tests ends within a few seconds).

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use interlink::net::{Body, ClientTls, NetError, with_timeout};
use interlink::relay::gateway::{GatewayOptions, GatewayServer};
use interlink::relay::{ListenerOptions, RelayListener, RelaySender};

/// The bound on any single wait.
pub const WAIT: Duration = Duration::from_secs(10);

/// Runs a test body on `smol::block_on`, bounded to 60 s. The body is boxed: test futures
/// are large in debug builds and would otherwise be copied around the test thread's stack.
pub fn run<F: Future<Output = ()>>(f: F) {
    let f = Box::pin(f);
    smol::block_on(async {
        with_timeout(Duration::from_secs(60), async {
            f.await;
            Ok::<(), NetError>(())
        })
        .await
        .expect("the test took longer than 60 s");
    });
}

/// Awaits `f` for at most [`WAIT`].
pub async fn within<T>(f: impl Future<Output = T>) -> T {
    with_timeout(WAIT, async { Ok::<T, NetError>(f.await) })
        .await
        .expect("timed out waiting")
}

/// A gateway on 127.0.0.1 with an OS-chosen port, any hybrid connection name.
pub async fn gateway() -> GatewayServer {
    GatewayServer::start(GatewayOptions::local())
        .await
        .expect("gateway starts")
}

/// Listener options with short timeouts.
pub fn options() -> ListenerOptions {
    ListenerOptions {
        accept_timeout: Duration::from_secs(5),
        connect_timeout: Duration::from_secs(5),
        handler_timeout: Duration::from_secs(5),
        ..ListenerOptions::default()
    }
}

/// A listener for `hc` on `gw`, online.
pub async fn listen(gw: &GatewayServer, hc: &str) -> RelayListener {
    within(RelayListener::bind(&gw.connection_string(), hc, options()))
        .await
        .expect("listener binds")
}

/// A sender for `hc` on `gw`.
pub fn sender(gw: &GatewayServer, hc: &str) -> RelaySender {
    RelaySender::new(&gw.connection_string(), hc, ClientTls::webpki())
        .expect("sender")
        .with_timeout(WAIT)
}

/// A request with `method`, `path` and `body`.
pub fn request(method: &str, path: &str, body: Body) -> http::Request<Body> {
    http::Request::builder()
        .method(method)
        .uri(path)
        .body(body)
        .unwrap()
}

/// The whole body of a response.
pub async fn body_of(resp: http::Response<Incoming>) -> Bytes {
    within(resp.into_body().collect())
        .await
        .expect("body")
        .to_bytes()
}

/// The reason phrase of a response, if it is not the canonical one.
pub fn reason_of<B>(resp: &http::Response<B>) -> Option<String> {
    resp.extensions()
        .get::<hyper::ext::ReasonPhrase>()
        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned())
}

/// `n` bytes of a recognisable pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}
