//! Our hub client against our hub server, end to end: `interlink::hub::client::HubClient`
//! against the in-process demo server (`DemoServer` on 127.0.0.1:0), for the scenarios the
//! third-party interop suites in `tests/hub/` run against `interlink hub serve`. Every test
//! runs in JSON and in MessagePack; every wait is bounded (`hub_support::within`, 10 s a step,
//! 60 s a test), and reaching a bound is a failure.
//!
//! - (a) negotiate + WebSockets: `echo` of strings, numbers, nested objects; `add`; a hub
//!   error; `send` (its broadcast comes back); `message` between two clients; groups
//!   (members receive, a non-member and a leaver do not); client results via `ask` (value,
//!   async value, the handler's error text, no handler); `counter` streams; dropping a stream
//!   after 2 items (the connection keeps working; a custom hub proves the server dropped its
//!   stream); uploads to `sum`.
//! - (b) `skip_negotiation`: no connection id on the client, a real one on the server.
//! - (c) keep-alive: server Pings every 500 ms keep a client with a 2 s server timeout up; a
//!   muted server (`silence`) makes it close with the server-timeout error after about 2 s;
//!   the server's client timeout closes a client that sends nothing.
//! - (d) automatic reconnect after `closeMe(…, true)` (new connection id); `closeMe(…,
//!   false)` closes for good with the server's error, pending calls fail with it, and calls
//!   racing the end fail instead of hanging; a server that is gone makes the policy give up.
//! - (e) stateful reconnect: a `dropTransport` mid-stream loses and duplicates nothing, keeps
//!   the connection id and raises no event (also mid-upload, and behind `/redirect`);
//!   invocations and sends across two drops each run and resolve exactly once; without the
//!   server's grant a drop is an ordinary reconnect.
//! - (f) `/redirect` is followed to `/client/?hub=demo` with its bearer token; `/client`
//!   without (or with a wrong) token fails to start with `Unauthorized`; negotiate error
//!   modes (`{"error"}`, a redirect loop, 404, no WebSockets, nothing listening).
//!
//! Not applicable: (g) long polling and Server-Sent Events — `HubClient` speaks only the
//! WebSockets transport (the server side of those is covered by `hub_server_e2e.rs` and
//! `tests/hub/`). Nor the browser-style `access_token` query parameter: our client always
//! sends `Authorization: Bearer`. Raw frames (Pings, Acks, Sequences, CancelInvocation) are
//! invisible through the client API; what they cause is asserted instead (a client that stays
//! up, the server's `connectionInfo` counters, a server stream that is dropped).

mod hub_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures::{StreamExt as _, stream};
use hub_support::{run, server, within};
use interlink::hub::client::{
    DefaultReconnectPolicy, HubClient, HubClientBuilder, HubClientError, HubClientEvent,
    HubClientState, HubProtocol, HubStream, RawValue,
};
use interlink::hub::server::demo::DemoServer;
use interlink::hub::server::{Hub, HubError, HubOptions, HubService};
use interlink::hub::transport::{
    HubRoute, HubServer, HubServerOptions, NegotiateMode, TransportKind, TransportOptions,
};
use interlink_core::hub::connection::SERVER_TIMEOUT;
use interlink_core::hub::negotiate::NegotiateError;
use serde_json::{Value, json};

/// Runs `$scenario(protocol)` as two tests, `$scenario::json` and `$scenario::messagepack`.
macro_rules! both_protocols {
    ($($scenario:ident),* $(,)?) => {$(
        mod $scenario {
            use super::*;

            #[test]
            fn json() {
                run(super::$scenario(HubProtocol::Json));
            }

            #[test]
            fn messagepack() {
                run(super::$scenario(HubProtocol::MessagePack));
            }
        }
    )*};
}

both_protocols!(
    a_calls_and_values,
    a_broadcasts_and_groups,
    a_client_results,
    a_streams_and_cancel,
    a_cancel_reaches_the_server,
    a_uploads,
    b_skip_negotiation,
    c_keep_alive_and_server_timeout,
    c_server_closes_a_silent_client,
    d_automatic_reconnect,
    d_close_without_reconnect,
    d_pending_calls_fail_with_the_close_error,
    d_reconnect_gives_up_when_the_server_is_gone,
    e_stateful_stream_survives_a_drop,
    e_stateful_calls_across_drops,
    e_stateful_upload_across_a_drop,
    e_stateful_reattach_after_a_redirect,
    e_no_stateful_grant_means_a_new_connection,
    f_redirect_with_token,
    f_client_route_needs_the_token,
    f_negotiate_errors,
);

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

async fn sleep(d: Duration) {
    smol::Timer::after(d).await;
}

fn url(srv: &DemoServer, path: &str) -> String {
    format!("http://{}{path}", srv.local_addr())
}

fn builder(srv: &DemoServer, path: &str, protocol: HubProtocol) -> HubClientBuilder {
    HubClient::builder(url(srv, path)).protocol(protocol)
}

/// Reconnects at once, then after 100 and 500 ms; then gives up.
fn fast_reconnect() -> DefaultReconnectPolicy {
    DefaultReconnectPolicy::from_delays(vec![Duration::ZERO, ms(100), ms(500)])
}

async fn start(c: &HubClient) {
    within("start()", c.start())
        .await
        .unwrap_or_else(|e| panic!("start() failed: {e:?}"));
    assert_eq!(c.state(), HubClientState::Connected);
}

async fn connected(b: HubClientBuilder) -> HubClient {
    let c = b.build();
    start(&c).await;
    c
}

/// `start()` must fail; its error.
async fn start_fails(c: &HubClient) -> HubClientError {
    let err = within("start() to fail", c.start())
        .await
        .expect_err("start() should fail");
    assert_eq!(c.state(), HubClientState::Disconnected, "after {err:?}");
    err
}

async fn stop(c: &HubClient) {
    within("stop()", c.stop()).await;
    assert_eq!(c.state(), HubClientState::Disconnected);
}

/// `echo(v)`, as JSON.
async fn echo(c: &HubClient, v: &Value) -> Value {
    let arg = c.value(v).expect("the value encodes");
    match within("echo", c.invoke("echo", vec![arg])).await {
        Ok(Some(r)) => r.to_serde().expect("the echo decodes"),
        Ok(None) => Value::Null,
        Err(e) => panic!("echo({v}) failed: {e:?}"),
    }
}

async fn whoami(c: &HubClient) -> String {
    within("whoami", c.invoke_as::<String, _>("whoami", ()))
        .await
        .expect("whoami")
}

async fn connection_info(c: &HubClient) -> Value {
    within(
        "connectionInfo",
        c.invoke_as::<Value, _>("connectionInfo", ()),
    )
    .await
    .expect("connectionInfo")
}

/// Invokes a void method; `args` is the JSON array of its arguments.
async fn call(c: &HubClient, method: &str, args: Value) {
    let args = c.arguments(args).expect("the arguments encode");
    let got = within(method, c.invoke(method, args)).await;
    assert!(matches!(got, Ok(None)), "{method}: {got:?}");
}

/// Registers a `message(connectionId, text)` handler; its calls, in order.
fn inbox(c: &HubClient) -> async_channel::Receiver<(String, String)> {
    let (tx, rx) = async_channel::unbounded();
    c.on("message", move |args: Vec<RawValue>| {
        let from: String = args[0].to_serde().expect("the sender id");
        let text: String = args[1].to_serde().expect("the text");
        let _ = tx.try_send((from, text));
    });
    rx
}

async fn next_message(rx: &async_channel::Receiver<(String, String)>) -> (String, String) {
    within("a message call", rx.recv())
        .await
        .expect("the client is alive")
}

async fn next_event(rx: &async_channel::Receiver<HubClientEvent>, what: &str) -> HubClientEvent {
    within(what, rx.recv())
        .await
        .expect("the events channel is open")
}

/// Every event queued so far.
fn drain<T>(rx: &async_channel::Receiver<T>) -> Vec<T> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

/// The items of a stream of integers, to its end.
async fn ints(s: HubStream) -> Vec<i64> {
    within(
        "a stream to complete",
        s.map(|r| {
            r.expect("a stream item")
                .to_serde::<i64>()
                .expect("an integer")
        })
        .collect::<Vec<_>>(),
    )
    .await
}

fn counter(c: &HubClient, count: u64, delay_ms: u64) -> HubStream {
    c.stream("counter", c.arguments((count, delay_ms)).unwrap())
}

fn range(n: i64) -> Vec<i64> {
    (0..n).collect()
}

/// An upload of these integers, one every `gap`.
fn upload(
    protocol: HubProtocol,
    items: Vec<i64>,
    gap: Duration,
) -> impl futures::Stream<Item = RawValue> + Send + 'static {
    stream::iter(items).then(move |i| async move {
        if !gap.is_zero() {
            sleep(gap).await;
        }
        RawValue::from_serde(protocol, &i).unwrap()
    })
}

async fn sum(c: &HubClient, items: Vec<i64>, gap: Duration) -> i64 {
    let got = within(
        "sum",
        c.invoke_with_streams("sum", vec![], vec![upload(c.protocol(), items, gap)]),
    )
    .await
    .expect("sum")
    .expect("sum returns a value");
    got.to_serde().expect("an integer")
}

// ---------------------------------------------------------------------------------------
// (a) negotiate + WebSockets
// ---------------------------------------------------------------------------------------

async fn a_calls_and_values(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = connected(builder(&srv, "/demo", protocol)).await;
    let id = c.connection_id().expect("a negotiated connection id");
    assert_eq!(whoami(&c).await, id);

    for v in [
        json!("hé ✓ 😀"),
        json!(""),
        json!(42),
        json!(-7),
        json!(1_u64 << 40),
        json!(-3.25),
        json!(true),
        json!(null),
        json!([1, "two", [3.5, null]]),
        json!({"a": {"b": [1, 2, {"c": null}]}, "d": "e", "f": false}),
    ] {
        assert_eq!(echo(&c, &v).await, v, "echo({v}) in {protocol:?}");
    }
    let five = within("add", c.invoke_as::<i64, _>("add", (2, 3))).await;
    assert_eq!(five.unwrap(), 5);
    let half = within("add", c.invoke_as::<f64, _>("add", (0.5, 1))).await;
    assert_eq!(half.unwrap(), 1.5);

    // Hub errors carry the server's text, and the connection stays open.
    let err = within("noSuchMethod", c.invoke("noSuchMethod", vec![])).await;
    assert!(
        matches!(&err, Err(HubClientError::Hub(t)) if t == "Unknown hub method 'noSuchMethod'"),
        "{err:?}"
    );
    let err = within("add(\"x\", 1)", c.invoke_as::<i64, _>("add", ("x", 1))).await;
    assert!(
        matches!(&err, Err(HubClientError::Hub(t)) if t.ends_with("HubException: add takes two numbers")),
        "{err:?}"
    );
    assert_eq!(echo(&c, &json!("still here")).await, json!("still here"));

    let info = connection_info(&c).await;
    assert_eq!(info["connectionId"], json!(id));
    assert_eq!(info["protocol"], json!(protocol.name()));
    assert_eq!(info["version"], json!(1));
    assert_eq!(info["transport"], json!("WebSockets"));
    assert_eq!(info["statefulReconnect"], json!(false));
    assert_eq!(info["acksSent"], json!(0));
    assert_eq!(info["sequencesSent"], json!(0));

    stop(&c).await;
    assert_eq!(c.connection_id(), None);
    assert!(matches!(
        c.invoke("echo", vec![]).await,
        Err(HubClientError::NotConnected)
    ));
    srv.shutdown().await;
}

async fn a_broadcasts_and_groups(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let a = builder(&srv, "/demo", protocol).build();
    let b = builder(&srv, "/demo", protocol).build();
    let (a_in, b_in) = (inbox(&a), inbox(&b));
    start(&a).await;
    start(&b).await;
    let (a_id, b_id) = (a.connection_id().unwrap(), b.connection_id().unwrap());
    assert_ne!(a_id, b_id);

    // `send` has no Completion: its broadcast coming back proves it ran.
    within("send", a.send_as("broadcast", ("via send",)))
        .await
        .expect("send");
    let sent = (a_id.clone(), "via send".to_string());
    assert_eq!(next_message(&a_in).await, sent);
    assert_eq!(next_message(&b_in).await, sent);
    call(&b, "broadcast", json!(["from b"])).await;
    let from_b = (b_id.clone(), "from b".to_string());
    assert_eq!(next_message(&a_in).await, from_b);
    assert_eq!(next_message(&b_in).await, from_b);

    // Groups: only members receive. Each broadcast afterwards is a barrier: the server
    // queues a connection's messages in order, so anything that should not have arrived
    // would come before it.
    call(&a, "joinGroup", json!(["g"])).await;
    call(&a, "sendToGroup", json!(["g", "to g"])).await;
    assert_eq!(next_message(&a_in).await, (a_id.clone(), "to g".into()));
    call(&a, "broadcast", json!(["barrier 1"])).await;
    assert_eq!(
        next_message(&a_in).await,
        (a_id.clone(), "barrier 1".into())
    );
    assert_eq!(
        next_message(&b_in).await,
        (a_id.clone(), "barrier 1".into()),
        "the non-member got nothing before the barrier"
    );
    call(&a, "leaveGroup", json!(["g"])).await;
    call(&b, "sendToGroup", json!(["g", "after leave"])).await;
    call(&b, "broadcast", json!(["barrier 2"])).await;
    assert_eq!(
        next_message(&a_in).await,
        (b_id.clone(), "barrier 2".into()),
        "the leaver got nothing before the barrier"
    );
    assert_eq!(
        next_message(&b_in).await,
        (b_id.clone(), "barrier 2".into())
    );
    assert!(drain(&a_in).is_empty() && drain(&b_in).is_empty());

    stop(&a).await;
    stop(&b).await;
    srv.shutdown().await;
}

async fn a_client_results(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    // A sync handler returning a value computed from the question.
    let answering = builder(&srv, "/demo", protocol).build();
    answering.on(
        "question",
        move |args: Vec<RawValue>| -> Result<RawValue, String> {
            let q: Value = args[0].to_serde().map_err(|e| e.to_string())?;
            RawValue::from_serde(protocol, &json!({"question": q, "answer": 42}))
                .map_err(|e| e.to_string())
        },
    );
    // An async handler.
    let slow = builder(&srv, "/demo", protocol).build();
    slow.on_async("question", |args: Vec<RawValue>| async move {
        sleep(ms(50)).await;
        Ok::<RawValue, String>(args[0].clone())
    });
    // A handler that fails, and a client without any handler.
    let refusing = builder(&srv, "/demo", protocol).build();
    refusing.on(
        "question",
        |_args: Vec<RawValue>| -> Result<RawValue, String> { Err("no thanks, I am busy".into()) },
    );
    let mute = builder(&srv, "/demo", protocol).build();
    for c in [&answering, &slow, &refusing, &mute] {
        start(c).await;
    }

    let got = within("ask", answering.invoke_as::<Value, _>("ask", ("life?",))).await;
    assert_eq!(got.unwrap(), json!({"question": "life?", "answer": 42}));
    let got = within(
        "ask",
        slow.invoke_as::<Value, _>("ask", (json!({"n": [1, 2]}),)),
    )
    .await;
    assert_eq!(got.unwrap(), json!({"n": [1, 2]}));

    let err = within(
        "ask",
        refusing.invoke("ask", vec![refusing.value("q").unwrap()]),
    )
    .await;
    match &err {
        Err(HubClientError::Hub(text)) => assert_eq!(
            text,
            "An unexpected error occurred invoking 'ask' on the server. \
             HubException: no thanks, I am busy"
        ),
        other => panic!("ask with a failing handler: {other:?}"),
    }
    let err = within("ask", mute.invoke("ask", vec![mute.value("q").unwrap()])).await;
    assert!(
        matches!(&err, Err(HubClientError::Hub(t)) if t.ends_with("Client didn't provide a result.")),
        "{err:?}"
    );
    // The failed client results did not hurt the connections.
    assert_eq!(echo(&refusing, &json!(1)).await, json!(1));
    assert_eq!(echo(&mute, &json!(2)).await, json!(2));
    for c in [&answering, &slow, &refusing, &mute] {
        stop(c).await;
    }
    srv.shutdown().await;
}

async fn a_streams_and_cancel(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = connected(builder(&srv, "/demo", protocol)).await;
    assert_eq!(ints(counter(&c, 5, 10)).await, range(5));
    assert_eq!(ints(counter(&c, 0, 10)).await, Vec::<i64>::new());

    // Drop a long stream after 2 items; the connection keeps working.
    let mut long = counter(&c, 1000, 20);
    for want in 0..2 {
        let item = within("a counter item", long.next()).await;
        let got: i64 = item
            .expect("an item")
            .expect("no error")
            .to_serde()
            .unwrap();
        assert_eq!(got, want);
    }
    drop(long);
    assert_eq!(
        echo(&c, &json!("after cancel")).await,
        json!("after cancel")
    );
    assert_eq!(ints(counter(&c, 3, 5)).await, range(3));
    // Two streams at once keep their items apart.
    let (x, y) = futures::join!(ints(counter(&c, 4, 5)), ints(counter(&c, 6, 3)));
    assert_eq!((x, y), (range(4), range(6)));

    // A stream error (bad arguments) is a last `Err` item.
    let mut bad = c.stream("counter", c.arguments(("x", 1)).unwrap());
    let first = within("the stream error", bad.next()).await;
    assert!(
        matches!(&first, Some(Err(HubClientError::Hub(_)))),
        "{first:?}"
    );
    assert!(within("the stream end", bad.next()).await.is_none());
    assert_eq!(c.state(), HubClientState::Connected);
    stop(&c).await;
    srv.shutdown().await;
}

/// What the `ticks` stream of the custom hub reports when the server drops it: how many
/// items it had produced.
struct DropReport {
    produced: Arc<AtomicU64>,
    report: async_channel::Sender<u64>,
}

impl Drop for DropReport {
    fn drop(&mut self) {
        let _ = self.report.try_send(self.produced.load(Ordering::SeqCst));
    }
}

/// A hub whose `ticks(count, delayMs)` stream reports on `report` when the server drops it
/// (finished or cancelled), on `/ticks` of a server of its own.
async fn ticks_server() -> (HubServer, async_channel::Receiver<u64>) {
    let (tx, rx) = async_channel::unbounded();
    let hub = Hub::new()
        .method("echo", 1, |_ctx, args| async move {
            Ok(Some(args.raw(0)?.clone()))
        })
        .stream_method("ticks", 2, move |ctx, args| {
            let count: u64 = args.get(0).unwrap_or(0);
            let delay: u64 = args.get(1).unwrap_or(0);
            let guard = DropReport {
                produced: Arc::new(AtomicU64::new(0)),
                report: tx.clone(),
            };
            stream::unfold((0u64, guard), move |(i, guard)| {
                let ctx = ctx.clone();
                async move {
                    if i >= count {
                        return None;
                    }
                    sleep(ms(delay)).await;
                    guard.produced.store(i + 1, Ordering::SeqCst);
                    let item: Result<RawValue, HubError> = ctx.value(&i);
                    Some((item, (i + 1, guard)))
                }
            })
        });
    let service = HubService::new(hub, HubOptions::default());
    let route = HubRoute::new("/ticks");
    service.serve(route.acceptor());
    let srv = HubServer::start(HubServerOptions::local(vec![route]))
        .await
        .expect("the ticks server starts");
    (srv, rx)
}

async fn a_cancel_reaches_the_server(protocol: HubProtocol) {
    let (srv, dropped) = ticks_server().await;
    let c = connected(
        HubClient::builder(format!("http://{}/ticks", srv.local_addr())).protocol(protocol),
    )
    .await;
    // A stream that completes is dropped once, after all its items.
    let done = c.stream("ticks", c.arguments((3, 1)).unwrap());
    assert_eq!(ints(done).await, range(3));
    let produced = within("the finished stream's drop", dropped.recv()).await;
    assert_eq!(produced.unwrap(), 3);

    // 100 000 ticks at 10 ms would take 1000 s: only a cancel ends it in time.
    let mut s = c.stream("ticks", c.arguments((100_000, 10)).unwrap());
    for want in 0..2 {
        let item = within("a tick", s.next()).await;
        let got: i64 = item
            .expect("an item")
            .expect("no error")
            .to_serde()
            .unwrap();
        assert_eq!(got, want);
    }
    drop(s);
    let produced = within("the server to drop the cancelled stream", dropped.recv())
        .await
        .unwrap();
    assert!(
        (2..100).contains(&produced),
        "the server stopped after {produced} items"
    );
    assert_eq!(echo(&c, &json!("next")).await, json!("next"));
    stop(&c).await;
    srv.shutdown().await;
}

async fn a_uploads(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = connected(builder(&srv, "/demo", protocol)).await;
    assert_eq!(sum(&c, (1..=10).collect(), Duration::ZERO).await, 55);
    assert_eq!(sum(&c, vec![], Duration::ZERO).await, 0);
    assert_eq!(sum(&c, vec![5, 6, 7], ms(20)).await, 18);
    // Two uploads at once on one connection.
    let (x, y) = futures::join!(
        sum(&c, (1..=20).collect(), ms(2)),
        sum(&c, vec![100, 200, 300], ms(5))
    );
    assert_eq!((x, y), (210, 600));
    // The connection still serves ordinary calls.
    assert_eq!(echo(&c, &json!([1, 2])).await, json!([1, 2]));
    stop(&c).await;
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// (b) skip negotiation
// ---------------------------------------------------------------------------------------

async fn b_skip_negotiation(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let direct = || {
        builder(&srv, "/demo", protocol)
            .skip_negotiation(true)
            // Not granted without negotiate.
            .stateful_reconnect(true)
            .build()
    };
    let (a, b) = (direct(), direct());
    let (a_in, b_in) = (inbox(&a), inbox(&b));
    let a_events = a.events();
    start(&a).await;
    start(&b).await;
    assert_eq!(
        a.connection_id(),
        None,
        "no connection id without negotiate"
    );
    let (a_id, b_id) = (whoami(&a).await, whoami(&b).await);
    assert!(!a_id.is_empty());
    assert_ne!(a_id, b_id, "two direct clients are two connections");

    assert_eq!(
        echo(&a, &json!({"k": [1, "v"]})).await,
        json!({"k": [1, "v"]})
    );
    let sum = within("add", b.invoke_as::<i64, _>("add", (40, 2))).await;
    assert_eq!(sum.unwrap(), 42);
    assert_eq!(ints(counter(&a, 3, 5)).await, range(3));
    let info = connection_info(&a).await;
    assert_eq!(info["transport"], json!("WebSockets"));
    assert_eq!(info["statefulReconnect"], json!(false));
    assert_eq!(info["version"], json!(1));

    call(&a, "broadcast", json!(["direct"])).await;
    assert_eq!(next_message(&b_in).await, (a_id.clone(), "direct".into()));
    assert_eq!(next_message(&a_in).await, (a_id.clone(), "direct".into()));

    stop(&a).await;
    match next_event(&a_events, "Closed after stop()").await {
        HubClientEvent::Closed { error: None } => {}
        other => panic!("after stop(): {other:?}"),
    }
    assert_eq!(echo(&b, &json!("b lives")).await, json!("b lives"));
    stop(&b).await;
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// (c) keep-alive and timeouts
// ---------------------------------------------------------------------------------------

async fn c_keep_alive_and_server_timeout(protocol: HubProtocol) {
    let srv = server(|o| o.hub.connection.keep_alive_interval = ms(500)).await;
    let c = builder(&srv, "/demo", protocol)
        .keep_alive_interval(ms(500))
        .server_timeout(ms(2000))
        .build();
    let events = c.events();
    start(&c).await;

    // 3 s idle > the 2 s server timeout: only the server's Pings keep it up.
    sleep(ms(3000)).await;
    assert_eq!(c.state(), HubClientState::Connected);
    assert!(drain(&events).is_empty(), "no event while idle");
    assert_eq!(echo(&c, &json!("awake")).await, json!("awake"));
    let pings = connection_info(&c).await["pingsReceived"].as_u64().unwrap();
    assert!(pings >= 3, "the server counted {pings} client Pings in 3 s");

    within("send(silence)", c.send_as("silence", (4000,)))
        .await
        .expect("send");
    let t0 = Instant::now();
    let event = next_event(&events, "the client's server timeout").await;
    let elapsed = t0.elapsed();
    match &event {
        HubClientEvent::Closed {
            error: Some(e @ HubClientError::ServerTimeout),
        } => assert_eq!(e.to_string(), SERVER_TIMEOUT),
        other => panic!("expected Closed with the server timeout: {other:?}"),
    }
    // The 2 s timer restarts on every message; the last Ping came at most 500 ms before
    // the silence began.
    assert!(
        elapsed >= ms(1400) && elapsed <= ms(3900),
        "the client timed out {elapsed:?} after silence()"
    );
    assert_eq!(c.state(), HubClientState::Disconnected);

    // The server carries on.
    let d = connected(builder(&srv, "/demo", protocol)).await;
    assert_eq!(echo(&d, &json!("next")).await, json!("next"));
    stop(&d).await;
    srv.shutdown().await;
}

async fn c_server_closes_a_silent_client(protocol: HubProtocol) {
    let srv = server(|o| {
        o.hub.connection.timeout = ms(1500);
        o.hub.connection.keep_alive_interval = ms(500);
    })
    .await;
    // Pings only every 60 s.
    let quiet = builder(&srv, "/demo", protocol)
        .keep_alive_interval(Duration::from_secs(60))
        .server_timeout(Duration::from_secs(120))
        .build();
    let chatty = builder(&srv, "/demo", protocol)
        .keep_alive_interval(ms(500))
        .server_timeout(ms(5000))
        .build();
    let quiet_events = quiet.events();
    let t0 = Instant::now();
    start(&quiet).await;
    start(&chatty).await;
    let event = next_event(&quiet_events, "the server to close the silent client").await;
    let elapsed = t0.elapsed();
    match &event {
        HubClientEvent::Closed {
            error: Some(HubClientError::ServerClosed(text)),
        } => assert_eq!(text, "Connection closed with an error."),
        other => panic!("expected Closed by the server: {other:?}"),
    }
    assert!(
        elapsed >= ms(1000) && elapsed <= ms(5000),
        "closed after {elapsed:?} (client timeout 1.5 s)"
    );
    sleep(ms(1000)).await;
    assert_eq!(chatty.state(), HubClientState::Connected);
    assert_eq!(echo(&chatty, &json!("alive")).await, json!("alive"));
    stop(&chatty).await;
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// (d) Close and automatic reconnect
// ---------------------------------------------------------------------------------------

async fn expect_reconnect(
    c: &HubClient,
    events: &async_channel::Receiver<HubClientEvent>,
    old_id: &str,
    reason: Option<&str>,
) -> String {
    match next_event(events, "Reconnecting").await {
        HubClientEvent::Reconnecting { error } => assert_eq!(
            error.map(|e| e.to_string()).as_deref(),
            reason,
            "the reason for reconnecting"
        ),
        other => panic!("expected Reconnecting: {other:?}"),
    }
    let new_id = match next_event(events, "Reconnected").await {
        HubClientEvent::Reconnected {
            connection_id: Some(id),
        } => id,
        other => panic!("expected Reconnected with an id: {other:?}"),
    };
    assert_ne!(new_id, old_id, "a reconnect is a new connection");
    assert_eq!(c.state(), HubClientState::Connected);
    assert_eq!(c.connection_id().as_deref(), Some(new_id.as_str()));
    assert_eq!(whoami(c).await, new_id);
    new_id
}

async fn d_automatic_reconnect(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = builder(&srv, "/demo", protocol)
        .automatic_reconnect(fast_reconnect())
        .build();
    let messages = inbox(&c);
    let events = c.events();
    start(&c).await;
    let first = c.connection_id().unwrap();

    c.send_as("closeMe", (None::<String>, true)).await.unwrap();
    let second = expect_reconnect(&c, &events, &first, None).await;
    // Handlers survive the reconnect.
    call(&c, "broadcast", json!(["after reconnect"])).await;
    assert_eq!(
        next_message(&messages).await,
        (second.clone(), "after reconnect".into())
    );

    c.send_as("closeMe", ("going away", true)).await.unwrap();
    let reason = "Server returned an error on close: going away";
    let third = expect_reconnect(&c, &events, &second, Some(reason)).await;
    assert_ne!(third, first);
    assert!(drain(&events).is_empty(), "no other event");
    assert_eq!(
        srv.handle().connection_count(),
        1,
        "the old connections are gone"
    );

    stop(&c).await;
    match next_event(&events, "Closed after stop()").await {
        HubClientEvent::Closed { error: None } => {}
        other => panic!("after stop(): {other:?}"),
    }
    srv.shutdown().await;
}

async fn d_close_without_reconnect(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let b = || {
        builder(&srv, "/demo", protocol)
            .automatic_reconnect(fast_reconnect())
            .build()
    };
    let (c, other) = (b(), b());
    let events = c.events();
    start(&c).await;
    start(&other).await;

    // An error without allowReconnect: closed for good, no reconnect attempt.
    c.send_as("closeMe", ("bye", false)).await.unwrap();
    match next_event(&events, "Closed").await {
        HubClientEvent::Closed { error: Some(e) } => {
            assert!(
                matches!(&e, HubClientError::ServerClosed(t) if t == "bye"),
                "{e:?}"
            );
            assert_eq!(e.to_string(), "Server returned an error on close: bye");
        }
        event => panic!("expected Closed without reconnecting: {event:?}"),
    }
    assert_eq!(c.state(), HubClientState::Disconnected);
    assert_eq!(c.connection_id(), None);
    sleep(ms(300)).await;
    assert!(drain(&events).is_empty(), "no reconnect after the Close");
    assert_eq!(
        echo(&other, &json!("unaffected")).await,
        json!("unaffected")
    );

    // Without an error: closed cleanly; and the client can be started again.
    start(&c).await;
    c.send_as("closeMe", (None::<String>, false)).await.unwrap();
    match next_event(&events, "Closed").await {
        HubClientEvent::Closed { error: None } => {}
        event => panic!("expected a clean Closed: {event:?}"),
    }
    assert_eq!(c.state(), HubClientState::Disconnected);
    stop(&other).await;
    srv.shutdown().await;
}

async fn d_pending_calls_fail_with_the_close_error(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = builder(&srv, "/demo", protocol)
        .automatic_reconnect(fast_reconnect())
        .build();
    start(&c).await;
    let mut s = counter(&c, 1000, 20);
    let first = within("the first item", s.next()).await;
    assert_eq!(first.unwrap().unwrap().to_serde::<i64>().unwrap(), 0);
    // The server closes before (or instead of) completing closeMe itself.
    let close = within(
        "closeMe",
        c.invoke("closeMe", c.arguments(("bye", false)).unwrap()),
    )
    .await;
    assert!(
        matches!(&close, Ok(None) | Err(HubClientError::ServerClosed(_))),
        "{close:?}"
    );
    // The pending stream fails with the connection's error, then ends.
    let mut last = None;
    while let Some(item) = within("the stream to end", s.next()).await {
        last = Some(item);
    }
    match last {
        Some(Err(HubClientError::ServerClosed(text))) => assert_eq!(text, "bye"),
        other => panic!("the stream's last item: {other:?}"),
    }
    // Calls made right after the end (the client may still say Connected for a moment,
    // until the connection's task has closed its socket) fail at once; none hangs, and a
    // stream does not end silently.
    let late = within(
        "an invoke racing the end of the connection",
        c.invoke("echo", vec![c.value(&1).unwrap()]),
    )
    .await;
    assert!(
        matches!(
            &late,
            Err(HubClientError::NotConnected | HubClientError::ConnectionClosed(_))
        ),
        "{late:?}"
    );
    let mut late = c.stream("counter", c.arguments((1, 1)).unwrap());
    let item = within("a stream racing the end of the connection", late.next()).await;
    assert!(matches!(&item, Some(Err(_))), "{item:?}");
    within("the client to be disconnected", async {
        while c.state() != HubClientState::Disconnected {
            sleep(ms(5)).await;
        }
    })
    .await;
    assert!(matches!(
        c.invoke("echo", vec![]).await,
        Err(HubClientError::NotConnected)
    ));
    srv.shutdown().await;
}

async fn d_reconnect_gives_up_when_the_server_is_gone(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = builder(&srv, "/demo", protocol)
        .automatic_reconnect(DefaultReconnectPolicy::from_delays(vec![ms(50), ms(100)]))
        .build();
    let events = c.events();
    start(&c).await;
    // The shutdown closes the WebSocket (no hub Close): a loss, so the client reconnects.
    srv.shutdown().await;
    match next_event(&events, "Reconnecting").await {
        HubClientEvent::Reconnecting {
            error: Some(HubClientError::ConnectionClosed(_)),
        } => {}
        other => panic!("expected Reconnecting after the shutdown: {other:?}"),
    }
    // Both attempts find nothing listening; then the policy gives up with the last reason.
    match next_event(&events, "Closed").await {
        HubClientEvent::Closed {
            error: Some(HubClientError::Transport(_)),
        } => {}
        other => panic!("expected Closed with a transport error: {other:?}"),
    }
    assert_eq!(c.state(), HubClientState::Disconnected);
    assert!(drain(&events).is_empty());
}

// ---------------------------------------------------------------------------------------
// (e) stateful reconnect
// ---------------------------------------------------------------------------------------

fn stateful(srv: &DemoServer, protocol: HubProtocol) -> HubClient {
    builder(srv, "/demo", protocol)
        .stateful_reconnect(true)
        .automatic_reconnect(fast_reconnect())
        .build()
}

/// Polls `connectionInfo` until the server has sent an Ack (it acks on a 1 s timer).
async fn info_with_acks(c: &HubClient) -> Value {
    let deadline = Instant::now() + Duration::from_secs(6);
    loop {
        let info = connection_info(c).await;
        if info["acksSent"].as_u64().unwrap_or(0) > 0 {
            return info;
        }
        assert!(Instant::now() < deadline, "no Ack sent: {info}");
        sleep(ms(250)).await;
    }
}

fn assert_stateful(info: &Value, id: &str, protocol: HubProtocol, sequences: u64) {
    assert_eq!(info["connectionId"], json!(id));
    assert_eq!(info["protocol"], json!(protocol.name()));
    assert_eq!(info["transport"], json!("WebSockets"));
    assert_eq!(info["statefulReconnect"], json!(true), "{info}");
    assert_eq!(info["version"], json!(2), "{info}");
    assert!(info["acksSent"].as_u64().unwrap() > 0, "{info}");
    let sent = info["sequencesSent"].as_u64().unwrap();
    assert!(
        sent >= sequences,
        "{sent} Sequences, want ≥ {sequences}: {info}"
    );
}

async fn e_stateful_stream_survives_a_drop(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = stateful(&srv, protocol);
    let events = c.events();
    start(&c).await;
    let id = c.connection_id().unwrap();

    let mut s = counter(&c, 50, 20);
    let mut items = Vec::new();
    within("50 counter items across a drop", async {
        while let Some(item) = s.next().await {
            items.push(item.expect("no stream error").to_serde::<i64>().unwrap());
            if items.len() == 15 {
                c.send("dropTransport", vec![]).await.expect("send");
            }
        }
    })
    .await;
    assert_eq!(items, range(50), "every item once, in order");
    assert!(drain(&events).is_empty(), "a re-attach raises no event");
    assert_eq!(c.state(), HubClientState::Connected);
    assert_eq!(c.connection_id(), Some(id.clone()));
    assert_eq!(whoami(&c).await, id, "the same connection on the server");
    // sequencesSent ≥ 1 proves the socket really was replaced.
    assert_stateful(&info_with_acks(&c).await, &id, protocol, 1);
    stop(&c).await;
    srv.shutdown().await;
}

async fn e_stateful_calls_across_drops(protocol: HubProtocol) {
    const N: i64 = 40;
    let srv = server(|_| {}).await;
    let c = stateful(&srv, protocol);
    let messages = inbox(&c);
    let events = c.events();
    start(&c).await;
    let id = c.connection_id().unwrap();

    let mut calls = Vec::new();
    for i in 0..N {
        let client = c.clone();
        calls.push(smol::spawn(async move {
            let got = client.invoke_as::<i64, _>("echo", (i,)).await;
            (i, got)
        }));
        // A side effect per call: a call the server ran twice would broadcast twice.
        c.send_as("broadcast", (format!("b{i}"),))
            .await
            .unwrap_or_else(|e| panic!("send b{i}: {e:?}"));
        if i == 10 || i == 28 {
            c.send("dropTransport", vec![]).await.expect("send");
        }
        sleep(ms(15)).await;
    }
    for call in calls {
        let (i, got) = within("an echo across the drops", call).await;
        assert_eq!(got.unwrap_or_else(|e| panic!("echo({i}): {e:?}")), i);
    }

    // Then a barrier: a duplicate would be queued before "end".
    call(&c, "broadcast", json!(["end"])).await;
    let mut texts = Vec::new();
    loop {
        let (from, text) = next_message(&messages).await;
        assert_eq!(from, id);
        if text == "end" {
            break;
        }
        texts.push(text);
    }
    let want: Vec<String> = (0..N).map(|i| format!("b{i}")).collect();
    assert_eq!(texts, want, "each broadcast ran exactly once, in order");

    assert!(drain(&events).is_empty(), "a re-attach raises no event");
    assert_eq!(c.connection_id(), Some(id.clone()));
    assert_eq!(whoami(&c).await, id);
    assert_stateful(&info_with_acks(&c).await, &id, protocol, 2);
    stop(&c).await;
    srv.shutdown().await;
}

async fn e_stateful_upload_across_a_drop(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let c = stateful(&srv, protocol);
    let events = c.events();
    start(&c).await;
    let id = c.connection_id().unwrap();
    // 30 items 20 ms apart: the upload is still running at the drop.
    let uploading = c.clone();
    let total = smol::spawn(async move { sum(&uploading, (1..=30).collect(), ms(20)).await });
    sleep(ms(250)).await;
    c.send("dropTransport", vec![]).await.expect("send");
    assert_eq!(within("the upload's sum", total).await, 465);
    assert!(drain(&events).is_empty(), "a re-attach raises no event");
    assert_stateful(&info_with_acks(&c).await, &id, protocol, 1);
    stop(&c).await;
    srv.shutdown().await;
}

async fn e_stateful_reattach_after_a_redirect(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    // The re-attach goes to `/client/?hub=demo` with the redirect's token.
    let c = builder(&srv, "/redirect", protocol)
        .stateful_reconnect(true)
        .automatic_reconnect(fast_reconnect())
        .build();
    let events = c.events();
    start(&c).await;
    let id = c.connection_id().unwrap();
    let mut s = counter(&c, 30, 20);
    let mut items = Vec::new();
    within("30 counter items across a drop", async {
        while let Some(item) = s.next().await {
            items.push(item.expect("no stream error").to_serde::<i64>().unwrap());
            if items.len() == 10 {
                c.send("dropTransport", vec![]).await.expect("send");
            }
        }
    })
    .await;
    assert_eq!(items, range(30));
    assert!(drain(&events).is_empty(), "a re-attach raises no event");
    assert_eq!(whoami(&c).await, id);
    assert_stateful(&info_with_acks(&c).await, &id, protocol, 1);
    stop(&c).await;
    srv.shutdown().await;
}

async fn e_no_stateful_grant_means_a_new_connection(protocol: HubProtocol) {
    let srv = server(|o| o.stateful_reconnect = false).await;
    let c = stateful(&srv, protocol);
    let events = c.events();
    start(&c).await;
    let first = c.connection_id().unwrap();
    let info = connection_info(&c).await;
    assert_eq!(info["statefulReconnect"], json!(false));
    assert_eq!(info["version"], json!(1));

    c.send("dropTransport", vec![]).await.expect("send");
    match next_event(&events, "Reconnecting").await {
        HubClientEvent::Reconnecting {
            error: Some(HubClientError::ConnectionClosed(_)),
        } => {}
        other => panic!("expected Reconnecting after a lost socket: {other:?}"),
    }
    let second = match next_event(&events, "Reconnected").await {
        HubClientEvent::Reconnected {
            connection_id: Some(id),
        } => id,
        other => panic!("expected Reconnected: {other:?}"),
    };
    assert_ne!(second, first);
    assert_eq!(whoami(&c).await, second);
    let info = connection_info(&c).await;
    assert_eq!(
        (info["acksSent"].clone(), info["sequencesSent"].clone()),
        (json!(0), json!(0))
    );
    stop(&c).await;
    srv.shutdown().await;
}

// ---------------------------------------------------------------------------------------
// (f) redirect, tokens, negotiate errors
// ---------------------------------------------------------------------------------------

async fn f_redirect_with_token(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    // No token of our own: `/client` accepts only the one `/redirect` hands out.
    let c = builder(&srv, "/redirect", protocol).build();
    let c_in = inbox(&c);
    start(&c).await;
    let id = c.connection_id().expect("an id from the second negotiate");
    assert_eq!(
        echo(&c, &json!("via redirect")).await,
        json!("via redirect")
    );
    let info = connection_info(&c).await;
    assert_eq!(info["connectionId"], json!(id));
    assert_eq!(info["transport"], json!("WebSockets"));
    assert_eq!(info["protocol"], json!(protocol.name()));
    assert_eq!(ints(counter(&c, 3, 5)).await, range(3));

    // The same hub as `/demo`.
    let d = builder(&srv, "/demo", protocol).build();
    let d_in = inbox(&d);
    start(&d).await;
    let d_id = d.connection_id().unwrap();
    call(&d, "broadcast", json!(["from /demo"])).await;
    assert_eq!(
        next_message(&c_in).await,
        (d_id.clone(), "from /demo".into())
    );
    assert_eq!(
        next_message(&d_in).await,
        (d_id.clone(), "from /demo".into())
    );
    call(&c, "broadcast", json!(["from /client"])).await;
    assert_eq!(
        next_message(&d_in).await,
        (id.clone(), "from /client".into())
    );
    assert_eq!(
        next_message(&c_in).await,
        (id.clone(), "from /client".into())
    );

    // A reconnect follows the redirect again.
    let r = builder(&srv, "/redirect", protocol)
        .automatic_reconnect(fast_reconnect())
        .build();
    let r_events = r.events();
    start(&r).await;
    let r_id = r.connection_id().unwrap();
    r.send_as("closeMe", (None::<String>, true)).await.unwrap();
    expect_reconnect(&r, &r_events, &r_id, None).await;
    assert_eq!(connection_info(&r).await["transport"], json!("WebSockets"));

    for client in [&c, &d, &r] {
        stop(client).await;
    }
    srv.shutdown().await;
}

async fn f_client_route_needs_the_token(protocol: HubProtocol) {
    let srv = server(|_| {}).await;
    let client_url = "/client/?hub=demo";

    let err = start_fails(&builder(&srv, client_url, protocol).build()).await;
    assert!(matches!(err, HubClientError::Unauthorized), "{err:?}");
    assert!(err.is_unauthorized());
    let wrong = builder(&srv, client_url, protocol)
        .access_token("not-the-token")
        .with_default_reconnect()
        .build();
    let err = start_fails(&wrong).await;
    assert!(matches!(err, HubClientError::Unauthorized), "{err:?}");
    // A direct WebSocket without the token is refused at the upgrade.
    let err = start_fails(
        &builder(&srv, client_url, protocol)
            .skip_negotiation(true)
            .build(),
    )
    .await;
    assert!(
        matches!(err, HubClientError::WebSocketRefused { status: 401, .. }),
        "{err:?}"
    );
    assert!(err.is_unauthorized());

    // With the token: negotiated, and direct.
    let ok = connected(builder(&srv, client_url, protocol).access_token(srv.token())).await;
    assert_eq!(echo(&ok, &json!("with token")).await, json!("with token"));
    assert_eq!(whoami(&ok).await, ok.connection_id().unwrap());
    let direct = connected(
        builder(&srv, client_url, protocol)
            .skip_negotiation(true)
            .access_token(srv.token()),
    )
    .await;
    assert_eq!(echo(&direct, &json!("direct")).await, json!("direct"));
    stop(&ok).await;
    stop(&direct).await;
    srv.shutdown().await;
}

async fn f_negotiate_errors(protocol: HubProtocol) {
    let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes = vec![
        HubRoute::new("/refuse").with_negotiate(NegotiateMode::Error("go away".into())),
        HubRoute::new("/loop").with_negotiate(NegotiateMode::Redirect {
            url: format!("http://{addr}/loop"),
            access_token: "t".into(),
        }),
        HubRoute::new("/polling").with_options(TransportOptions {
            transports: vec![TransportKind::LongPolling, TransportKind::ServerSentEvents],
            ..TransportOptions::default()
        }),
    ];
    let srv = HubServer::start_on(
        listener,
        HubServerOptions {
            bind: addr,
            tls: None,
            routes,
        },
    )
    .expect("the server starts");
    let client = |path: &str| {
        HubClient::builder(format!("http://{addr}{path}"))
            .protocol(protocol)
            .with_default_reconnect()
            .build()
    };

    let err = start_fails(&client("/refuse")).await;
    assert!(
        matches!(&err, HubClientError::Negotiate(NegotiateError::Server(t)) if t == "go away"),
        "{err:?}"
    );
    let err = start_fails(&client("/loop")).await;
    assert!(matches!(err, HubClientError::TooManyRedirects), "{err:?}");
    let err = start_fails(&client("/nowhere")).await;
    assert!(
        matches!(err, HubClientError::NegotiateStatus { status: 404, .. }),
        "{err:?}"
    );
    let err = start_fails(&client("/polling")).await;
    assert!(matches!(err, HubClientError::NoTransport), "{err:?}");

    // Nothing listening.
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_port = free.local_addr().unwrap().port();
    drop(free);
    let nobody = HubClient::builder(format!("http://127.0.0.1:{closed_port}/demo"))
        .protocol(protocol)
        .build();
    let err = start_fails(&nobody).await;
    assert!(matches!(err, HubClientError::Transport(_)), "{err:?}");
    srv.shutdown().await;
}
