//! The hub server end to end: the demo server on 127.0.0.1 (OS port) driven by core's
//! `ClientConnection` over a real WebSocket, and by plain HTTP requests for long polling and
//! Server-Sent Events. Every wait is bounded.

mod hub_support;

use std::time::Duration;

use bytes::Bytes;
use hub_support::{TestClient, http, negotiate, open_ws, run, server, within};
use interlink_core::hub::{ClientEvent, CompletionResult, ConnectionOptions, HubProtocol};
use serde_json::{Value, json};

const PROTOCOLS: [HubProtocol; 2] = [HubProtocol::Json, HubProtocol::MessagePack];

#[test]
fn handshake_and_unary_methods_in_both_protocols() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        for protocol in PROTOCOLS {
            let mut c = TestClient::connect(port, "/demo", protocol, false).await;
            for v in [
                json!("hé ✓"),
                json!(42),
                json!(-3.25),
                json!([1, "two"]),
                json!({"a": {"b": null}}),
            ] {
                assert_eq!(c.call("echo", vec![v.clone()]).await, v);
            }
            assert_eq!(c.call("add", vec![json!(2), json!(3)]).await, json!(5));
            assert_eq!(c.call("add", vec![json!(0.5), json!(1)]).await, json!(1.5));
            assert_eq!(c.call("whoami", vec![]).await, json!(c.connection_id));
            let info = c.call("connectionInfo", vec![]).await;
            assert_eq!(info["connectionId"], json!(c.connection_id));
            assert_eq!(info["protocol"], json!(protocol.name()));
            assert_eq!(info["version"], json!(1));
            assert_eq!(info["transport"], json!("WebSockets"));
            assert_eq!(info["statefulReconnect"], json!(false));
            assert_eq!(info["acksSent"], json!(0));
            assert_eq!(srv.handle().connection_count(), 1);
            let now = c.now();
            c.conn.close(now);
            c.flush().await;
            within("the server to drop the connection", async {
                while srv.handle().connection_count() != 0 {
                    smol::Timer::after(Duration::from_millis(10)).await;
                }
            })
            .await;
        }
        srv.shutdown().await;
    });
}

#[test]
fn refusals_use_aspnet_core_texts() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        let mut c = TestClient::connect(port, "/demo", HubProtocol::Json, false).await;
        assert_eq!(
            c.call_err("noSuchMethod", vec![json!(1)]).await,
            "Unknown hub method 'noSuchMethod'"
        );
        assert_eq!(
            c.call_err("Echo", vec![json!(1)]).await,
            "Unknown hub method 'Echo'"
        );
        assert_eq!(
            c.call_err("echo", vec![json!(1), json!(2)]).await,
            "Invocation provides 2 argument(s) but target expects 1."
        );
        assert_eq!(
            c.call_err("counter", vec![json!(1), json!(1)]).await,
            "The client attempted to invoke the streaming 'counter' method with a non-streaming invocation."
        );
        let id = c.stream("echo", vec![json!(1)]).await;
        assert_eq!(
            c.completion(&id).await,
            CompletionResult::Error(
                "The client attempted to invoke the non-streaming 'echo' method with a streaming invocation."
                    .into()
            )
        );
        let bad = c.call_err("add", vec![json!("x"), json!(1)]).await;
        assert!(
            bad.starts_with("An unexpected error occurred invoking 'add' on the server."),
            "{bad}"
        );
        // The connection survives every refusal.
        assert_eq!(c.call("echo", vec![json!("still")]).await, json!("still"));
        srv.shutdown().await;
    });
}

#[test]
fn streams_complete_and_cancel() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        for protocol in PROTOCOLS {
            let mut c = TestClient::connect(port, "/demo", protocol, false).await;
            let id = c.stream("counter", vec![json!(4), json!(5)]).await;
            let mut items = Vec::new();
            while let Some(v) = c.stream_next(&id).await {
                items.push(v);
            }
            assert_eq!(items, vec![json!(0), json!(1), json!(2), json!(3)]);

            let id = c.stream("counter", vec![json!(1000), json!(10)]).await;
            assert_eq!(c.stream_next(&id).await, Some(json!(0)));
            assert_eq!(c.stream_next(&id).await, Some(json!(1)));
            let now = c.now();
            c.conn.cancel(&id, now).unwrap();
            c.flush().await;
            smol::Timer::after(Duration::from_millis(300)).await;
            assert_eq!(c.call("echo", vec![json!("alive")]).await, json!("alive"));
            let after = c.conn.stats().messages_received;
            smol::Timer::after(Duration::from_millis(300)).await;
            assert_eq!(c.call("echo", vec![json!("again")]).await, json!("again"));
            // Only the echo's Completion arrived meanwhile: the stream stopped.
            assert_eq!(c.conn.stats().messages_received, after + 1);
        }
        srv.shutdown().await;
    });
}

#[test]
fn upload_stream_sums() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        for protocol in PROTOCOLS {
            let mut c = TestClient::connect(port, "/demo", protocol, false).await;
            let sid = c.conn.new_stream_id();
            let now = c.now();
            let id = c
                .conn
                .invoke("sum", vec![], vec![sid.clone()], now)
                .unwrap();
            for n in 1..=10 {
                let item = c.v(json!(n));
                c.conn.upload_item(&sid, item, now).unwrap();
            }
            c.conn.upload_complete(&sid, None, now).unwrap();
            match c.completion(&id).await {
                CompletionResult::Value(v) => assert_eq!(v.to_serde::<Value>().unwrap(), json!(55)),
                other => panic!("sum gave {other:?}"),
            }
            // An upload the client fails fails the call with its text.
            let sid = c.conn.new_stream_id();
            let now = c.now();
            let id = c
                .conn
                .invoke("sum", vec![], vec![sid.clone()], now)
                .unwrap();
            c.conn
                .upload_complete(&sid, Some("gave up".into()), now)
                .unwrap();
            match c.completion(&id).await {
                CompletionResult::Error(e) => assert!(e.ends_with("HubException: gave up"), "{e}"),
                other => panic!("failed upload gave {other:?}"),
            }
        }
        srv.shutdown().await;
    });
}

#[test]
fn broadcast_and_groups_reach_the_right_clients() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        let mut a = TestClient::connect(port, "/demo", HubProtocol::Json, false).await;
        let mut b = TestClient::connect(port, "/demo", HubProtocol::MessagePack, false).await;
        a.call("broadcast", vec![json!("hi all")]).await;
        assert_eq!(
            a.message().await,
            (a.connection_id.clone(), "hi all".into())
        );
        assert_eq!(
            b.message().await,
            (a.connection_id.clone(), "hi all".into())
        );

        b.call("joinGroup", vec![json!("g1")]).await;
        a.call("sendToGroup", vec![json!("g1"), json!("to g1")])
            .await;
        assert_eq!(b.message().await, (a.connection_id.clone(), "to g1".into()));
        b.call("leaveGroup", vec![json!("g1")]).await;
        a.call("sendToGroup", vec![json!("g1"), json!("nobody")])
            .await;
        // A barrier: b's next message is the broadcast, not the group message.
        a.call("broadcast", vec![json!("marker")]).await;
        assert_eq!(b.message().await.1, "marker");
        assert_eq!(a.message().await.1, "marker");
        assert!(!a.has_message() && !b.has_message());

        // Application code outside of methods.
        let reached = srv
            .handle()
            .clients()
            .all()
            .send(
                "message",
                vec![a.v(json!("app")), a.v(json!("from the app"))],
            )
            .unwrap();
        assert_eq!(reached, 2);
        assert_eq!(a.message().await.1, "from the app");
        assert_eq!(b.message().await.1, "from the app");
        srv.shutdown().await;
    });
}

#[test]
fn ask_returns_the_client_result_or_its_error() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        for protocol in PROTOCOLS {
            let mut c = TestClient::connect(port, "/demo", protocol, false).await;
            c.answer = Some(Box::new(move |args| {
                let v: Value = args[0].to_serde().unwrap();
                if v == json!("fail") {
                    CompletionResult::Error("nope from the client".into())
                } else {
                    CompletionResult::Value(
                        interlink_core::hub::RawValue::from_serde(
                            protocol,
                            &json!(format!("answer to {v}")),
                        )
                        .unwrap(),
                    )
                }
            }));
            assert_eq!(
                c.call("ask", vec![json!("life")]).await,
                json!("answer to \"life\"")
            );
            let e = c.call_err("ask", vec![json!("fail")]).await;
            assert!(e.contains("nope from the client"), "{e}");
        }
        srv.shutdown().await;
    });
}

#[test]
fn close_with_allow_reconnect_then_reattach_is_404() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        let mut c = TestClient::connect(port, "/demo", HubProtocol::Json, true).await;
        c.resumable = false;
        c.send("closeMe", vec![json!("bye"), json!(true)]).await;
        assert_eq!(c.closed().await, (Some("bye".into()), true));
        let again = open_ws(port, &format!("/demo?id={}", c.token)).await;
        assert_eq!(again.err(), Some(404), "a re-attach after Close");

        let mut d = TestClient::connect(port, "/demo", HubProtocol::MessagePack, false).await;
        d.send("closeMe", vec![Value::Null, json!(false)]).await;
        assert_eq!(d.closed().await, (None, false));
        srv.shutdown().await;
    });
}

#[test]
fn stateful_reattach_replays_without_loss() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        for protocol in PROTOCOLS {
            let mut c = TestClient::connect(port, "/demo", protocol, true).await;
            let id = c.stream("counter", vec![json!(30), json!(10)]).await;
            let mut items = Vec::new();
            for _ in 0..5 {
                items.push(c.stream_next(&id).await.unwrap());
            }
            c.send("dropTransport", vec![]).await;
            c.wait_for("the transport loss", |e| {
                matches!(e, ClientEvent::TransportLost).then_some(())
            })
            .await;
            c.reattach(port, "/demo").await;
            while let Some(v) = c.stream_next(&id).await {
                items.push(v);
            }
            let expected: Vec<Value> = (0..30).map(|i| json!(i)).collect();
            assert_eq!(items, expected, "every item exactly once, in order");
            assert_eq!(c.call("whoami", vec![]).await, json!(c.connection_id));
            let info = c.call("connectionInfo", vec![]).await;
            assert_eq!(info["statefulReconnect"], json!(true));
            assert_eq!(info["version"], json!(2));
            assert!(info["sequencesSent"].as_u64().unwrap() >= 1, "{info}");
        }
        srv.shutdown().await;
    });
}

#[test]
fn keep_alive_pings_and_client_timeout() {
    run(async {
        let srv = server(|o| {
            o.hub.connection.keep_alive_interval = Duration::from_millis(100);
            o.hub.connection.timeout = Duration::from_millis(600);
        })
        .await;
        let port = srv.local_addr().port();
        let quiet_options = ConnectionOptions {
            keep_alive_interval: Duration::from_secs(60),
            ..ConnectionOptions::default()
        };
        let n = negotiate(port, "/demo", "").await;
        let token = n["connectionToken"].as_str().unwrap().to_owned();
        let ws = open_ws(port, &format!("/demo?id={token}")).await.unwrap();
        let mut quiet = TestClient::over(ws, HubProtocol::Json, false, quiet_options);
        quiet.wait_connected().await;
        let started = std::time::Instant::now();
        let (error, _) = quiet.closed().await;
        assert_eq!(error.as_deref(), Some("Connection closed with an error."));
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
        assert!(
            quiet.conn.stats().pings_received >= 2,
            "{:?}",
            quiet.conn.stats()
        );

        // A client that pings every 100 ms stays past the timeout, and gets Pings.
        let chatty_options = ConnectionOptions {
            keep_alive_interval: Duration::from_millis(100),
            ..ConnectionOptions::default()
        };
        let n = negotiate(port, "/demo", "").await;
        let token = n["connectionToken"].as_str().unwrap().to_owned();
        let ws = open_ws(port, &format!("/demo?id={token}")).await.unwrap();
        let mut chatty = TestClient::over(ws, HubProtocol::Json, false, chatty_options);
        chatty.wait_connected().await;
        chatty.idle(Duration::from_millis(1200)).await;
        assert_eq!(chatty.call("echo", vec![json!(1)]).await, json!(1));
        assert!(
            chatty.conn.stats().pings_received >= 5,
            "{:?}",
            chatty.conn.stats()
        );
        srv.shutdown().await;
    });
}

#[test]
fn long_polling_round_trip() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        let n = negotiate(port, "/demo", "").await;
        let path = format!("/demo?id={}", n["connectionToken"].as_str().unwrap());
        assert_eq!(
            http(port, "GET", &path, &[], Bytes::new()).await.status,
            200,
            "first poll"
        );
        let hs = Bytes::from_static(b"{\"protocol\":\"json\",\"version\":1}\x1e");
        assert_eq!(http(port, "POST", &path, &[], hs).await.status, 200);
        let reply = http(port, "GET", &path, &[], Bytes::new()).await;
        assert_eq!(&reply.body[..], b"{}\x1e");
        let call = Bytes::from_static(
            b"{\"type\":1,\"invocationId\":\"1\",\"target\":\"echo\",\"arguments\":[\"lp\"]}\x1e",
        );
        assert_eq!(http(port, "POST", &path, &[], call).await.status, 200);
        let reply = http(port, "GET", &path, &[], Bytes::new()).await;
        let text = std::str::from_utf8(&reply.body).unwrap();
        let msg: Value = serde_json::from_str(text.trim_end_matches('\x1e')).unwrap();
        assert_eq!(msg, json!({"type": 3, "invocationId": "1", "result": "lp"}));
        assert_eq!(
            http(port, "DELETE", &path, &[], Bytes::new()).await.status,
            202
        );
        srv.shutdown().await;
    });
}

#[test]
fn server_sent_events_round_trip() {
    run(async {
        use http_body_util::BodyExt as _;
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        let n = negotiate(port, "/demo", "").await;
        let path = format!("/demo?id={}", n["connectionToken"].as_str().unwrap());
        let target =
            interlink::net::Target::parse(&format!("http://127.0.0.1:{port}{path}")).unwrap();
        let req = http::Request::get(&path)
            .header("accept", "text/event-stream")
            .body(interlink::net::empty())
            .unwrap();
        let resp = within(
            "the event stream",
            interlink::net::request(&target, &interlink::net::ClientTls::webpki(), req),
        )
        .await
        .unwrap();
        assert_eq!(resp.status(), 200);
        let mut body = resp.into_body();
        let hs = Bytes::from_static(b"{\"protocol\":\"json\",\"version\":1}\x1e");
        assert_eq!(http(port, "POST", &path, &[], hs).await.status, 200);
        let call = Bytes::from_static(
            b"{\"type\":1,\"invocationId\":\"7\",\"target\":\"add\",\"arguments\":[40,2]}\x1e",
        );
        assert_eq!(http(port, "POST", &path, &[], call).await.status, 200);
        let mut seen = String::new();
        while !seen.contains("\"invocationId\":\"7\"") {
            let frame = within("an event", body.frame()).await.unwrap().unwrap();
            if let Ok(data) = frame.into_data() {
                seen.push_str(std::str::from_utf8(&data).unwrap());
            }
        }
        assert!(seen.contains("data: {}\u{1e}"), "{seen:?}");
        assert!(seen.contains("\"result\":42"), "{seen:?}");
        srv.shutdown().await;
    });
}

#[test]
fn client_route_needs_the_token_and_redirect_hands_it_out() {
    run(async {
        let srv = server(|_| {}).await;
        let port = srv.local_addr().port();
        let r = negotiate(port, "/redirect", "").await;
        assert_eq!(
            r["url"],
            json!(format!("http://127.0.0.1:{port}/client/?hub=demo"))
        );
        assert_eq!(r["accessToken"], json!(srv.token()));
        let no_token = http(
            port,
            "POST",
            "/client/negotiate?hub=demo&negotiateVersion=1",
            &[],
            Bytes::new(),
        )
        .await;
        assert_eq!(no_token.status, 401);
        let bearer = format!("Bearer {}", srv.token());
        let ok = http(
            port,
            "POST",
            "/client/negotiate?hub=demo&negotiateVersion=1",
            &[("authorization", &bearer)],
            Bytes::new(),
        )
        .await;
        assert_eq!(ok.status, 200);
        let token = ok.json()["connectionToken"].as_str().unwrap().to_owned();
        let ws = open_ws(
            port,
            &format!("/client/?hub=demo&id={token}&access_token={}", srv.token()),
        )
        .await
        .expect("the WebSocket with access_token opens");
        let mut c = TestClient::over(ws, HubProtocol::Json, false, ConnectionOptions::default());
        c.wait_connected().await;
        assert_eq!(
            c.call("echo", vec![json!("via /client")]).await,
            json!("via /client")
        );
        srv.shutdown().await;
    });
}
