//! Helpers of the hub server end-to-end tests: the demo server on 127.0.0.1 with an
//! OS-chosen port, and a small test client — core's `ClientConnection` over io's WebSocket —
//! whose every wait is bounded.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use interlink::hub::server::demo::{DemoOptions, DemoServer};
use interlink::net::{self, ClientTls, HandshakeOutcome, Target, connect, request, ws_handshake};
use interlink::ws::{Received, WebSocket};
use interlink_core::hub::{
    ClientConnection, ClientEvent, CompletionResult, ConnectionOptions, HubProtocol, RawValue,
};
use interlink_core::time::Instant;
use interlink_core::ws::{Message, Role};
use serde_json::Value;

/// The bound on one awaited step.
pub const STEP: Duration = Duration::from_secs(10);

/// Runs a test body on `smol::block_on`, bounded to 60 s.
pub fn run<F: Future<Output = ()>>(f: F) {
    let f = Box::pin(f);
    smol::block_on(smol::future::or(f, async {
        smol::Timer::after(Duration::from_secs(60)).await;
        panic!("the test took longer than 60 s");
    }));
}

/// `fut`, or a panic naming `what` after [`STEP`].
pub async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    smol::future::or(fut, async {
        smol::Timer::after(STEP).await;
        panic!("timed out waiting for {what}")
    })
    .await
}

/// The demo server with these options changed from the defaults.
pub async fn server(tune: impl FnOnce(&mut DemoOptions)) -> DemoServer {
    let mut options = DemoOptions::default();
    tune(&mut options);
    DemoServer::start(options)
        .await
        .expect("the demo server starts")
}

/// A response with its body read.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

/// One HTTP request to the server; the whole answer.
pub async fn http(
    port: u16,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: Bytes,
) -> Answer {
    let mut req = http::Request::builder().method(method).uri(path_and_query);
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let target = Target::parse(&format!("http://127.0.0.1:{port}{path_and_query}")).unwrap();
    let resp = within(
        "a response",
        request(
            &target,
            &ClientTls::webpki(),
            req.body(net::full(body)).unwrap(),
        ),
    )
    .await
    .expect("the request succeeds");
    let status = resp.status().as_u16();
    let body = within("a response body", resp.into_body().collect())
        .await
        .expect("the body is read")
        .to_bytes();
    Answer { status, body }
}

/// A v1 negotiate on `path` (e.g. `/demo`): the JSON answer.
pub async fn negotiate(port: u16, path: &str, query: &str) -> Value {
    let a = http(
        port,
        "POST",
        &format!("{path}/negotiate?negotiateVersion=1{query}"),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(a.status, 200, "negotiate: {a:?}");
    a.json()
}

/// Opens a WebSocket; `Err(status)` when refused.
pub async fn open_ws(port: u16, path_and_query: &str) -> Result<WebSocket, u16> {
    let target = Target::parse(&format!("http://127.0.0.1:{port}{path_and_query}")).unwrap();
    let stream = connect(&target, &ClientTls::webpki()).await.unwrap();
    let outcome = within(
        "a WebSocket handshake",
        ws_handshake(stream, &target, "dGhlIHNhbXBsZSBub25jZQ==", &[], &[]),
    )
    .await
    .unwrap();
    match outcome {
        HandshakeOutcome::Upgraded {
            stream, leftover, ..
        } => Ok(WebSocket::start(stream, &leftover, Role::Client, None)),
        HandshakeOutcome::Refused { head, .. } => Err(head.status),
    }
}

/// Answers a server call (client result) from its arguments.
pub type Answerer = Box<dyn Fn(&[RawValue]) -> CompletionResult + Send>;

/// A hub client for tests: core's `ClientConnection` over a WebSocket. Events that a wait
/// was not looking for are kept in order for later waits.
pub struct TestClient {
    pub ws: WebSocket,
    pub conn: ClientConnection,
    pub protocol: HubProtocol,
    pub token: String,
    pub connection_id: String,
    origin: std::time::Instant,
    seen: VecDeque<ClientEvent>,
    /// Answer server calls (client results) with this function.
    pub answer: Option<Answerer>,
    pub ended: bool,
    /// Report a socket that ended as lost (stateful: wait for a re-attach) instead of closed.
    pub resumable: bool,
}

impl TestClient {
    /// Negotiates on `path`, opens the WebSocket and completes the handshake.
    pub async fn connect(
        port: u16,
        path: &str,
        protocol: HubProtocol,
        stateful: bool,
    ) -> TestClient {
        let query = if stateful {
            "&useStatefulReconnect=true"
        } else {
            ""
        };
        let n = negotiate(port, path, query).await;
        let token = n["connectionToken"].as_str().unwrap().to_owned();
        let granted = n["useStatefulReconnect"].as_bool().unwrap_or(false);
        let ws = open_ws(port, &format!("{path}?id={token}"))
            .await
            .expect("the WebSocket opens");
        let mut client = TestClient::over(ws, protocol, granted, ConnectionOptions::default());
        client.token = token;
        client.connection_id = n["connectionId"].as_str().unwrap().to_owned();
        client.wait_connected().await;
        client
    }

    /// A client over an open WebSocket (handshake queued, not yet sent).
    pub fn over(
        ws: WebSocket,
        protocol: HubProtocol,
        stateful: bool,
        options: ConnectionOptions,
    ) -> TestClient {
        let origin = std::time::Instant::now();
        let conn = ClientConnection::new(options, protocol, stateful, Instant::from_millis(0));
        TestClient {
            ws,
            conn,
            protocol,
            token: String::new(),
            connection_id: String::new(),
            origin,
            seen: VecDeque::new(),
            answer: None,
            ended: false,
            resumable: stateful,
        }
    }

    pub fn now(&self) -> Instant {
        Instant::from_millis(self.origin.elapsed().as_millis() as u64)
    }

    /// A value in this client's protocol.
    pub fn v(&self, value: Value) -> RawValue {
        RawValue::from_serde(self.protocol, &value).unwrap()
    }

    pub async fn flush(&mut self) {
        while let Some(t) = self.conn.poll_transmit() {
            let sent = if t.binary {
                self.ws.send_binary(t.data).await
            } else {
                self.ws
                    .send_text(String::from_utf8(t.data.to_vec()).unwrap())
                    .await
            };
            if sent.is_err() {
                break;
            }
        }
    }

    /// Waits until `pick` accepts an event (bounded); the others stay queued.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&ClientEvent) -> Option<T>,
    ) -> T {
        let deadline = std::time::Instant::now() + STEP;
        loop {
            if let Some(i) = self.seen.iter().position(|e| pick(e).is_some()) {
                let e = self.seen.remove(i).unwrap();
                return pick(&e).unwrap();
            }
            while let Some(e) = self.conn.poll_event() {
                if let ClientEvent::Invocation(inv) = &e
                    && let (Some(id), Some(answer)) = (&inv.invocation_id, &self.answer)
                {
                    let result = answer(&inv.arguments);
                    let now = self.now();
                    let _ = self.conn.complete_server_call(id, result, now);
                }
                self.seen.push_back(e);
            }
            if self.seen.iter().any(|e| pick(e).is_some()) {
                continue;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}; events: {:?}",
                self.seen
            );
            self.step(deadline).await;
        }
    }

    /// Drives the connection for `d` (answering Pings, sending its own), keeping events.
    pub async fn idle(&mut self, d: Duration) {
        let until = std::time::Instant::now() + d;
        while std::time::Instant::now() < until {
            while let Some(e) = self.conn.poll_event() {
                self.seen.push_back(e);
            }
            self.step(until).await;
        }
    }

    /// Sends what is pending, then waits for one input (socket or timer, at most until
    /// `deadline`) and feeds it.
    async fn step(&mut self, deadline: std::time::Instant) {
        self.flush().await;
        let timer_at = self
            .conn
            .poll_timeout()
            .map(|t| self.origin + Duration::from_millis(t.as_millis()))
            .unwrap_or(deadline)
            .min(deadline);
        let ws = self.ws.clone();
        let ended = self.ended;
        let got = smol::future::or(
            async move {
                if ended {
                    std::future::pending::<()>().await;
                }
                Some(ws.recv().await)
            },
            async {
                smol::Timer::at(timer_at).await;
                None
            },
        )
        .await;
        let now = self.now();
        match got {
            Some(Some(Received::Message(Message::Text(t)))) => {
                self.conn.handle_data(t.as_bytes(), now)
            }
            Some(Some(Received::Message(Message::Binary(b)))) => self.conn.handle_data(&b, now),
            Some(Some(Received::Closed(..)) | None) => {
                self.ended = true;
                if self.resumable {
                    self.conn.handle_transport_lost();
                } else {
                    self.conn.handle_transport_closed();
                }
            }
            None => self.conn.handle_timeout(now),
        }
        self.flush().await;
    }

    pub async fn wait_connected(&mut self) {
        self.wait_for("Connected", |e| {
            matches!(e, ClientEvent::Connected(_)).then_some(())
        })
        .await;
    }

    /// Waits for the Completion of `id`.
    pub async fn completion(&mut self, id: &str) -> CompletionResult {
        self.wait_for("a Completion", |e| match e {
            ClientEvent::Completion {
                invocation_id,
                result,
            } if invocation_id == id => Some(result.clone()),
            _ => None,
        })
        .await
    }

    /// Invokes `target(args)` and waits for its Completion.
    pub async fn invoke(&mut self, target: &str, args: Vec<Value>) -> CompletionResult {
        let args = args.into_iter().map(|a| self.v(a)).collect();
        let now = self.now();
        let id = self.conn.invoke(target, args, Vec::new(), now).unwrap();
        self.completion(&id).await
    }

    /// Invokes and expects a value, returned as JSON.
    pub async fn call(&mut self, target: &str, args: Vec<Value>) -> Value {
        match self.invoke(target, args).await {
            CompletionResult::Value(v) => v.to_serde().unwrap(),
            CompletionResult::Void => Value::Null,
            CompletionResult::Error(e) => panic!("{target} failed: {e}"),
        }
    }

    /// Invokes and expects an error text.
    pub async fn call_err(&mut self, target: &str, args: Vec<Value>) -> String {
        match self.invoke(target, args).await {
            CompletionResult::Error(e) => e,
            other => panic!("{target} did not fail: {other:?}"),
        }
    }

    /// Sends a non-blocking invocation.
    pub async fn send(&mut self, target: &str, args: Vec<Value>) {
        let args = args.into_iter().map(|a| self.v(a)).collect();
        let now = self.now();
        self.conn.send(target, args, Vec::new(), now).unwrap();
        self.flush().await;
    }

    /// Starts a stream; returns its id.
    pub async fn stream(&mut self, target: &str, args: Vec<Value>) -> String {
        let args = args.into_iter().map(|a| self.v(a)).collect();
        let now = self.now();
        let id = self.conn.stream(target, args, Vec::new(), now).unwrap();
        self.flush().await;
        id
    }

    /// The next item of stream `id`, or `None` at its Completion.
    pub async fn stream_next(&mut self, id: &str) -> Option<Value> {
        self.wait_for("a stream item or its end", |e| match e {
            ClientEvent::StreamItem {
                invocation_id,
                item,
            } if invocation_id == id => Some(Some(item.to_serde::<Value>().unwrap())),
            ClientEvent::Completion { invocation_id, .. } if invocation_id == id => Some(None),
            _ => None,
        })
        .await
    }

    /// The next `message(connectionId, text)` call from the server.
    pub async fn message(&mut self) -> (String, String) {
        self.wait_for("a message invocation", |e| match e {
            ClientEvent::Invocation(inv) if inv.target == "message" => Some((
                inv.arguments[0].to_serde().unwrap(),
                inv.arguments[1].to_serde().unwrap(),
            )),
            _ => None,
        })
        .await
    }

    /// Waits for the connection to end: (server's error, allowReconnect).
    pub async fn closed(&mut self) -> (Option<String>, bool) {
        self.wait_for("the connection to close", |e| match e {
            ClientEvent::Closed {
                error,
                allow_reconnect,
                ..
            } => Some((error.clone(), *allow_reconnect)),
            _ => None,
        })
        .await
    }

    /// Whether any queued event is a `message` invocation.
    pub fn has_message(&self) -> bool {
        self.seen
            .iter()
            .any(|e| matches!(e, ClientEvent::Invocation(inv) if inv.target == "message"))
    }
}

impl TestClient {
    /// Opens a new WebSocket with the same token and resumes the stateful connection.
    pub async fn reattach(&mut self, port: u16, path: &str) {
        let ws = open_ws(port, &format!("{path}?id={}", self.token))
            .await
            .expect("the re-attach WebSocket opens");
        self.ws = ws;
        self.ended = false;
        let now = self.now();
        self.conn.handle_transport_reattached(now);
        self.flush().await;
    }
}
