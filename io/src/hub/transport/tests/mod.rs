//! Loopback tests of the hub transports over real HTTP: servers bind `127.0.0.1:0`, clients
//! are io's own (`net::request`, `net::ws_handshake`, `ws::WebSocket`), every wait is
//! bounded by [`LIMIT`]. Where a test must know that a poll is held, it waits (bounded) on
//! the server's own count instead of sleeping.

mod auth_post;
mod longpoll;
mod negotiate;
mod sse;
mod websocket;

use std::future::Future;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use interlink_core::ws::Role;

use super::{
    AcceptedConnection, Acceptor, HubRoute, HubServer, HubServerOptions, TransportEvent,
    TransportOptions,
};
use crate::net::{
    self, Body, ClientTls, HandshakeOutcome, Stream, Target, connect, request, ws_handshake,
};
use crate::ws::{Received, WebSocket};

/// Upper bound for any one test; reaching it is a failure (a hang).
const LIMIT: Duration = Duration::from_secs(20);

/// Upper bound for one awaited step inside a test.
const STEP: Duration = Duration::from_secs(5);

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// Runs `fut` on the current thread, panicking after [`LIMIT`].
fn run<T>(fut: impl Future<Output = T>) -> T {
    smol::block_on(futures_lite::future::or(fut, async {
        async_io::Timer::after(LIMIT).await;
        panic!("test did not finish within {LIMIT:?}")
    }))
}

/// `fut`, or a panic naming `what` after [`STEP`].
async fn step<T>(what: &str, fut: impl Future<Output = T>) -> T {
    futures_lite::future::or(fut, async {
        async_io::Timer::after(STEP).await;
        panic!("timed out waiting for {what}")
    })
    .await
}

/// `true` if `fut` has not finished after `d` (for "is still held" checks).
async fn still_pending<T>(d: Duration, fut: impl Future<Output = T>) -> bool {
    futures_lite::future::or(
        async {
            fut.await;
            false
        },
        async {
            async_io::Timer::after(d).await;
            true
        },
    )
    .await
}

/// Options with short timeouts so expiry tests stay quick.
fn quick(stateful: bool) -> TransportOptions {
    TransportOptions {
        stateful_reconnect: stateful,
        poll_timeout: Duration::from_millis(400),
        disconnect_timeout: Duration::from_millis(400),
        ..TransportOptions::default()
    }
}

/// A running server with one route.
struct Fixture {
    server: HubServer,
    acceptor: Acceptor,
    port: u16,
}

/// A response with its body read.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.body).expect("UTF-8 body")
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
}

impl Fixture {
    async fn start(route: HubRoute) -> Fixture {
        let acceptor = route.acceptor();
        let server = HubServer::start(HubServerOptions::local(vec![route]))
            .await
            .unwrap();
        let port = server.local_addr().port();
        Fixture {
            server,
            acceptor,
            port,
        }
    }

    fn target(&self, path_and_query: &str) -> Target {
        Target::parse(&format!("http://127.0.0.1:{}{path_and_query}", self.port)).unwrap()
    }

    /// Sends a request and returns the response with its body still streaming.
    async fn send(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> http::Response<Incoming> {
        let mut req = http::Request::builder().method(method).uri(path_and_query);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let target = self.target(path_and_query);
        step(
            "a response head",
            request(&target, &ClientTls::webpki(), req.body(body).unwrap()),
        )
        .await
        .unwrap()
    }

    /// [`call_with`](Self::call_with) in a task of its own (for requests that are held).
    fn spawn_call(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> smol::Task<Answer> {
        let mut req = http::Request::builder().method(method).uri(path_and_query);
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let req = req.body(body).unwrap();
        let target = self.target(path_and_query);
        smol::spawn(async move {
            let resp = request(&target, &ClientTls::webpki(), req).await.unwrap();
            read(resp).await
        })
    }

    /// Sends a request and reads the whole answer.
    async fn call(&self, method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> Answer {
        self.call_with(method, path_and_query, headers, net::empty())
            .await
    }

    async fn call_with(
        &self,
        method: &str,
        path_and_query: &str,
        headers: &[(&str, &str)],
        body: Body,
    ) -> Answer {
        let resp = self.send(method, path_and_query, headers, body).await;
        read(resp).await
    }

    /// `POST /demo/negotiate?{query}` → (status, JSON).
    async fn negotiate(&self, query: &str) -> serde_json::Value {
        let a = self
            .call("POST", &format!("/demo/negotiate?{query}"), &[])
            .await;
        assert_eq!(a.status, 200, "{a:?}");
        a.json()
    }

    /// A v1 negotiate; returns the connection token.
    async fn token(&self, query: &str) -> String {
        let v = self.negotiate(&format!("negotiateVersion=1{query}")).await;
        v["connectionToken"].as_str().unwrap().to_owned()
    }

    /// The next accepted connection.
    async fn accept(&self) -> AcceptedConnection {
        step("an accepted connection", self.acceptor.accept())
            .await
            .expect("acceptor open")
    }

    /// A WebSocket opening handshake; `Err((status, body))` when refused.
    async fn ws_raw(
        &self,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> Result<(Stream, BytesMut), (u16, Bytes)> {
        let target = self.target(path_and_query);
        let stream = connect(&target, &ClientTls::webpki()).await.unwrap();
        let outcome = step(
            "a WebSocket handshake",
            ws_handshake(stream, &target, KEY, &[], headers),
        )
        .await
        .unwrap();
        match outcome {
            HandshakeOutcome::Upgraded {
                stream, leftover, ..
            } => Ok((stream, leftover)),
            HandshakeOutcome::Refused { head, body } => Err((head.status, body)),
        }
    }

    /// A client WebSocket (panics when refused).
    async fn ws(&self, path_and_query: &str) -> WebSocket {
        let (stream, leftover) = self.ws_raw(path_and_query, &[]).await.expect("101");
        WebSocket::start(stream, &leftover, Role::Client, None)
    }

    /// The status a refused WebSocket handshake got.
    async fn ws_status(&self, path_and_query: &str) -> u16 {
        match self.ws_raw(path_and_query, &[]).await {
            Ok(_) => 101,
            Err((status, _)) => status,
        }
    }

    /// Waits (bounded) until `n` long polls are held on the server.
    async fn held(&self, n: usize) {
        step("a held poll", async {
            while self.server.held_polls() != n {
                async_io::Timer::after(Duration::from_millis(5)).await;
            }
        })
        .await
    }
}

/// Reads a whole response.
async fn read(resp: http::Response<Incoming>) -> Answer {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = step("a response body", resp.into_body().collect())
        .await
        .unwrap()
        .to_bytes();
    Answer {
        status,
        headers,
        body,
    }
}

/// The next event of an accepted connection.
async fn event(conn: &AcceptedConnection) -> TransportEvent {
    step("a transport event", conn.events.recv())
        .await
        .expect("event channel open")
}

/// The next message on a client WebSocket.
async fn ws_recv(ws: &WebSocket) -> Option<Received> {
    step("a WebSocket message", ws.recv()).await
}
