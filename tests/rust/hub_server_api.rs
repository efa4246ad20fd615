//! The hub server's library API with hubs of the test's own: hooks, the parallel-invocation
//! limit, errors of methods, application-side sends, handshake refusals and timeouts, and
//! the demo hub's `silence`. 127.0.0.1, OS ports, bounded waits.

mod hub_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hub_support::{TestClient, open_ws, run, server, within};
use interlink::hub::server::{Hub, HubError, HubOptions, HubService};
use interlink::hub::transport::{HubRoute, HubServer, HubServerOptions};
use interlink::ws::Received;
use interlink_core::hub::{CompletionResult, ConnectionOptions, HubProtocol};
use interlink_core::ws::Message;
use serde_json::{Value, json};

/// Serves `hub` at `/hub`; returns the server, its port and the service.
async fn serve(hub: Hub, options: HubOptions) -> (HubServer, u16, HubService) {
    let service = HubService::new(hub, options);
    let route = HubRoute::new("/hub");
    service.serve(route.acceptor());
    let server = HubServer::start(HubServerOptions::local(vec![route]))
        .await
        .expect("the server starts");
    let port = server.local_addr().port();
    (server, port, service)
}

fn slow_hub() -> Hub {
    Hub::new().method("slow", 0, |_ctx, _args| async move {
        smol::Timer::after(Duration::from_millis(300)).await;
        Ok(None)
    })
}

/// Two slow calls at once: how long until both completed.
async fn two_slow_calls(port: u16) -> Duration {
    let mut c = TestClient::connect(port, "/hub", HubProtocol::Json, false).await;
    let started = std::time::Instant::now();
    let now = c.now();
    let a = c.conn.invoke("slow", vec![], vec![], now).unwrap();
    let b = c.conn.invoke("slow", vec![], vec![], now).unwrap();
    assert_eq!(c.completion(&a).await, CompletionResult::Void);
    assert_eq!(c.completion(&b).await, CompletionResult::Void);
    started.elapsed()
}

#[test]
fn parallel_invocations_are_limited_per_connection() {
    run(async {
        let (server, port, _) = serve(slow_hub(), HubOptions::default()).await;
        let serial = two_slow_calls(port).await;
        assert!(
            serial >= Duration::from_millis(590),
            "limit 1 ran both at once: {serial:?}"
        );
        server.shutdown().await;

        let options = HubOptions {
            max_parallel_invocations: 2,
            ..HubOptions::default()
        };
        let (server, port, _) = serve(slow_hub(), options).await;
        let parallel = two_slow_calls(port).await;
        assert!(
            parallel < Duration::from_millis(550),
            "limit 2 ran them one by one: {parallel:?}"
        );
        server.shutdown().await;
    });
}

#[test]
fn hooks_run_around_the_connection_and_calls_wait_for_on_connected() {
    run(async {
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
        let hub = Hub::new()
            .on_connected(move |ctx| {
                let log = l1.clone();
                async move {
                    // A client result from the hook: the driver keeps running meanwhile.
                    let arg = ctx.value("hello?").unwrap();
                    let answer = ctx.invoke_caller("greet", vec![arg]).await;
                    let answer: Value = answer.unwrap().to_serde().unwrap();
                    log.lock().unwrap().push(format!("connected {answer}"));
                }
            })
            .on_disconnected(move |ctx, error| {
                let log = l2.clone();
                async move {
                    let groups = ctx.clients().group("g").send("x", vec![]).unwrap();
                    log.lock()
                        .unwrap()
                        .push(format!("disconnected {error:?} reaching {groups}"));
                }
            })
            .method("joinG", 0, |ctx, _args| async move {
                ctx.groups().add(ctx.connection_id(), "g")?;
                Ok(None)
            })
            .method("log", 0, move |ctx, _args| {
                let log = l3.clone();
                async move {
                    let lines = log.lock().unwrap().clone();
                    Ok(Some(ctx.value(&lines)?))
                }
            });
        let (server, port, service) = serve(hub, HubOptions::default()).await;
        let mut c = TestClient::connect(port, "/hub", HubProtocol::Json, false).await;
        c.answer = Some(Box::new(|args| {
            let q: String = args[0].to_serde().unwrap();
            CompletionResult::Value(
                interlink_core::hub::RawValue::from_serde(HubProtocol::Json, &format!("hi, {q}"))
                    .unwrap(),
            )
        }));
        // Sent right after the handshake: it runs once on_connected finished.
        assert_eq!(
            c.call("log", vec![]).await,
            json!(["connected \"hi, hello?\""])
        );
        c.call("joinG", vec![]).await;
        let now = c.now();
        c.conn.close(now);
        c.flush().await;
        within("on_disconnected", async {
            while log.lock().unwrap().len() < 2 {
                smol::Timer::after(Duration::from_millis(10)).await;
            }
        })
        .await;
        // Out of its groups before the hook ran.
        assert_eq!(log.lock().unwrap()[1], "disconnected None reaching 0");
        assert_eq!(service.handle().connection_count(), 0);
        server.shutdown().await;
    });
}

#[test]
fn method_errors_are_masked_unless_meant_for_the_caller() {
    run(async {
        let hub = Hub::new()
            .method("hub", 0, |_c, _a| async move {
                Err(HubError::Hub("not allowed".into()))
            })
            .method("internal", 0, |_c, _a| async move {
                Err(HubError::Internal("db down".into()))
            })
            .stream_method("broken", 0, |_c, _a| {
                futures::stream::iter(vec![
                    Ok(interlink_core::hub::RawValue::null(HubProtocol::Json)),
                    Err(HubError::Hub("mid-stream".into())),
                ])
            });
        let (server, port, service) = serve(hub, HubOptions::default()).await;
        let mut c = TestClient::connect(port, "/hub", HubProtocol::Json, false).await;
        assert_eq!(
            c.call_err("hub", vec![]).await,
            "An unexpected error occurred invoking 'hub' on the server. HubException: not allowed"
        );
        assert_eq!(
            c.call_err("internal", vec![]).await,
            "An unexpected error occurred invoking 'internal' on the server."
        );
        let id = c.stream("broken", vec![]).await;
        assert_eq!(c.stream_next(&id).await, Some(Value::Null));
        assert_eq!(
            c.completion(&id).await,
            CompletionResult::Error(
                "An unexpected error occurred invoking 'broken' on the server. HubException: mid-stream".into()
            )
        );
        // Application code closes a connection.
        assert!(
            service
                .handle()
                .close(&c.connection_id, Some("go away".into()), false)
        );
        assert_eq!(c.closed().await, (Some("go away".into()), false));
        server.shutdown().await;
    });
}

/// The text frames a WebSocket receives until it closes (bounded).
async fn frames_until_close(ws: &interlink::ws::WebSocket) -> Vec<String> {
    let mut frames = Vec::new();
    within("the socket to close", async {
        while let Some(Received::Message(Message::Text(t))) = ws.recv().await {
            frames.push(t);
        }
    })
    .await;
    frames
}

#[test]
fn handshake_refusals_and_timeout() {
    run(async {
        let srv = server(|o| o.hub.connection.handshake_timeout = Duration::from_millis(300)).await;
        let port = srv.local_addr().port();
        let ws = open_ws(port, "/demo").await.unwrap();
        ws.send_text("{\"protocol\":\"xml\",\"version\":1}\u{1e}")
            .await
            .unwrap();
        assert_eq!(
            frames_until_close(&ws).await,
            ["{\"error\":\"The protocol 'xml' is not supported.\"}\u{1e}"]
        );
        let ws = open_ws(port, "/demo").await.unwrap();
        ws.send_text("{\"protocol\":\"json\",\"version\":3}\u{1e}")
            .await
            .unwrap();
        assert_eq!(
            frames_until_close(&ws).await,
            ["{\"error\":\"The server does not support version 3 of the 'json' protocol.\"}\u{1e}"]
        );
        let started = std::time::Instant::now();
        let ws = open_ws(port, "/demo").await.unwrap();
        assert_eq!(
            frames_until_close(&ws).await,
            ["{\"error\":\"Handshake was canceled.\"}\u{1e}"]
        );
        assert!(
            started.elapsed() >= Duration::from_millis(250),
            "{:?}",
            started.elapsed()
        );
        srv.shutdown().await;
    });
}

#[test]
fn silence_mutes_the_caller_without_timing_it_out() {
    run(async {
        let srv = server(|o| {
            o.hub.connection.keep_alive_interval = Duration::from_millis(100);
            o.hub.connection.timeout = Duration::from_millis(400);
        })
        .await;
        let port = srv.local_addr().port();
        let n = hub_support::negotiate(port, "/demo", "").await;
        let ws = open_ws(
            port,
            &format!("/demo?id={}", n["connectionToken"].as_str().unwrap()),
        )
        .await
        .unwrap();
        // This client never pings: only the mute keeps the server from timing it out.
        let options = ConnectionOptions {
            keep_alive_interval: Duration::from_secs(60),
            ..ConnectionOptions::default()
        };
        let mut c = TestClient::over(ws, HubProtocol::Json, false, options);
        c.wait_connected().await;
        c.send("silence", vec![json!(800)]).await;
        let before = c.conn.stats().messages_received;
        let pings_before = c.conn.stats().pings_received;
        c.idle(Duration::from_millis(600)).await;
        assert_eq!(
            c.conn.stats().pings_received,
            pings_before,
            "no Pings while muted"
        );
        assert_eq!(c.conn.stats().messages_received, before);
        assert!(!c.ended, "not timed out while muted");
        // After the mute the client timeout applies again (the client never pings).
        let (error, _) = c.closed().await;
        assert_eq!(error.as_deref(), Some("Connection closed with an error."));
        srv.shutdown().await;
    });
}

#[test]
fn a_streaming_method_can_take_an_upload() {
    run(async {
        use futures::StreamExt as _;
        let hub = Hub::new().upload_stream_method("doubled", 0, 1, |ctx, mut args| {
            let upload = args.take_upload(0).expect("the upload");
            upload.map(move |item| {
                let n: i64 = item?.to_serde()?;
                ctx.value(&(n * 2))
            })
        });
        let (server, port, _) = serve(hub, HubOptions::default()).await;
        let mut c = TestClient::connect(port, "/hub", HubProtocol::MessagePack, false).await;
        let sid = c.conn.new_stream_id();
        let now = c.now();
        let id = c
            .conn
            .stream("doubled", vec![], vec![sid.clone()], now)
            .unwrap();
        for n in 1..=3 {
            let item = c.v(json!(n));
            c.conn.upload_item(&sid, item, now).unwrap();
        }
        c.conn.upload_complete(&sid, None, now).unwrap();
        c.flush().await;
        let mut items = Vec::new();
        while let Some(v) = c.stream_next(&id).await {
            items.push(v);
        }
        assert_eq!(items, [json!(2), json!(4), json!(6)]);
        server.shutdown().await;
    });
}
