//! The relay listener and sender against the relay gateway, over loopback: HTTP inline and
//! through rendezvous (both directions), streamed responses, WebSockets, rejects, close codes
//! and the listener's connection errors.

#[path = "relay_support.rs"]
mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use interlink::net::{Body, channel_body, empty, full};
use interlink::relay::gateway::{GatewayOptions, GatewayServer};
use interlink::relay::{
    AcceptDecision, ListenerEvent, ListenerOptions, RelayError, RelayListener, RequestInfo,
};
use interlink::ws::Received;
use interlink_core::relay::gateway::HybridConnectionConfig;
use interlink_core::relay::sas::{Rights, SharedAccessRule};
use interlink_core::ws::Message;
use support::{body_of, gateway, listen, pattern, reason_of, request, run, sender, within};

/// Answers with a description of the request: method, target, a header, how it came, and
/// the body (its length and a checksum).
fn describe_handler(listener: &RelayListener) {
    listener.set_http_handler(|req: http::Request<Body>| async move {
        let info = req.extensions().get::<RequestInfo>().cloned().unwrap();
        let method = req.method().clone();
        let target = req.uri().to_string();
        let xa = req
            .headers()
            .get("x-a")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let sum: u64 = body.iter().map(|b| u64::from(*b)).sum();
        let text = format!(
            "{method} {target} x-a={xa} rendezvous={} len={} sum={sum}",
            info.via_rendezvous,
            body.len()
        );
        http::Response::builder()
            .status(201)
            .extension(hyper::ext::ReasonPhrase::from_static(b"Made It"))
            .header("x-reply", "yes")
            .body(full(text))
            .unwrap()
    });
}

#[test]
fn http_get_and_post_inline() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        describe_handler(&listener);
        let s = sender(&gw, "hc1");

        let mut req = request("GET", "/x/y?a=1&b", empty());
        req.headers_mut().insert("x-a", "one".parse().unwrap());
        let resp = within(s.request(req)).await.unwrap();
        assert_eq!(resp.status(), 201);
        assert_eq!(reason_of(&resp).as_deref(), Some("Made It"));
        assert_eq!(resp.headers()["x-reply"], "yes");
        assert_eq!(
            body_of(resp).await,
            "GET /hc1/x/y?a=1&b x-a=one rendezvous=false len=0 sum=0"
        );

        let resp = within(s.request(request("POST", "/", full("hello"))))
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        assert_eq!(
            body_of(resp).await,
            "POST /hc1 x-a= rendezvous=false len=5 sum=532"
        );

        listener.close().await;
        assert!(listener.is_stopped());
        gw.shutdown().await;
    });
}

#[test]
fn large_request_arrives_through_a_rendezvous() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        describe_handler(&listener);
        let body = pattern(100 * 1024);
        let sum: u64 = body.iter().map(|b| u64::from(*b)).sum();
        let resp = within(sender(&gw, "hc1").request(request("PUT", "/big", full(body))))
            .await
            .unwrap();
        assert_eq!(resp.status(), 201);
        assert_eq!(
            body_of(resp).await,
            format!("PUT /hc1/big x-a= rendezvous=true len=102400 sum={sum}")
        );
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn streamed_request_body_reaches_the_handler() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        describe_handler(&listener);
        let (tx, body) = channel_body(4);
        smol::spawn(async move {
            for _ in 0..10 {
                tx.send(Bytes::from(vec![1u8; 1000])).await.unwrap();
            }
        })
        .detach();
        let resp = within(sender(&gw, "hc1").request(request("POST", "/up", body)))
            .await
            .unwrap();
        assert_eq!(
            body_of(resp).await,
            "POST /hc1/up x-a= rendezvous=true len=10000 sum=10000"
        );
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn large_response_goes_through_a_rendezvous() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        listener.set_http_handler(|_req| async move {
            http::Response::builder()
                .header("content-type", "application/octet-stream")
                .body(full(pattern(70 * 1024)))
                .unwrap()
        });
        let resp = within(sender(&gw, "hc1").request(request("GET", "/", empty())))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.headers()["content-type"], "application/octet-stream");
        assert_eq!(body_of(resp).await, pattern(70 * 1024));
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn sse_response_streams_piece_by_piece() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        // The handler writes event 2 only after the test has received event 1: if the
        // response were buffered anywhere, the test would time out.
        let (go_tx, go_rx) = async_channel::bounded::<()>(1);
        listener.set_http_handler(move |_req| {
            let go = go_rx.clone();
            async move {
                let (tx, body) = channel_body(4);
                smol::spawn(async move {
                    tx.send(Bytes::from("data: one\n\n")).await.unwrap();
                    go.recv().await.unwrap();
                    tx.send(Bytes::from("data: two\n\n")).await.unwrap();
                })
                .detach();
                http::Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(body)
                    .unwrap()
            }
        });
        let resp = within(sender(&gw, "hc1").request(request("GET", "/events", empty())))
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut body = resp.into_body();
        let mut got = Vec::new();
        while got.len() < 11 {
            let frame = within(body.frame()).await.expect("more body").unwrap();
            if let Ok(d) = frame.into_data() {
                got.extend_from_slice(&d);
            }
        }
        assert_eq!(got, b"data: one\n\n");
        go_tx.send(()).await.unwrap();
        let rest = within(body.collect()).await.unwrap().to_bytes();
        assert_eq!(rest, "data: two\n\n");
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn missing_handler_gives_501_and_a_panicking_one_500() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        let s = sender(&gw, "hc1");
        let resp = within(s.request(request("GET", "/", empty())))
            .await
            .unwrap();
        assert_eq!(resp.status(), 501);
        listener.set_http_handler(|req: http::Request<Body>| async move {
            if req.uri().path() == "/hc1/panic" {
                panic!("handler failure (expected by the test)");
            }
            http::Response::builder().status(204).body(empty()).unwrap()
        });
        let resp = within(s.request(request("GET", "/panic", empty())))
            .await
            .unwrap();
        assert_eq!(resp.status(), 500);
        let resp = within(s.request(request("DELETE", "/ok", empty())))
            .await
            .unwrap();
        assert_eq!(resp.status(), 204);
        assert!(body_of(resp).await.is_empty());
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn concurrent_requests_of_every_kind() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        listener.set_http_handler(|req: http::Request<Body>| async move {
            let n: usize = req.uri().query().unwrap().parse().unwrap();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body.len(), n);
            http::Response::new(full(pattern(n)))
        });
        let s = sender(&gw, "hc1");
        let sizes = [0usize, 10, 1000, 65_536, 65_537, 100_000, 5, 200_000];
        let tasks: Vec<_> = sizes
            .iter()
            .map(|&n| {
                let s = s.clone();
                smol::spawn(async move {
                    let resp = s
                        .request(request("POST", &format!("/c?{n}"), full(pattern(n))))
                        .await
                        .unwrap();
                    assert_eq!(resp.status(), 200);
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body, pattern(n), "size {n}");
                })
            })
            .collect();
        for t in tasks {
            within(t).await;
        }
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn websocket_echo_with_subprotocol_and_path() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        let s = sender(&gw, "hc1");
        let connecting = smol::spawn(async move {
            s.connect(Some("chat/room?x=1"), &["echo.v2", "echo.v1"])
                .await
        });
        let accepted = within(listener.accept()).await.expect("accepted");
        assert_eq!(accepted.path_and_query, "/hc1/chat/room?x=1");
        assert_eq!(accepted.socket.protocol(), Some("echo.v2"));
        assert!(accepted.headers.get("Sec-WebSocket-Key").is_some());
        let server = accepted.socket;
        smol::spawn(async move {
            while let Some(Received::Message(m)) = server.recv().await {
                match m {
                    Message::Text(t) => server.send_text(format!("echo {t}")).await.unwrap(),
                    Message::Binary(b) => server.send_binary(b).await.unwrap(),
                }
            }
        })
        .detach();
        let client = within(connecting).await.expect("connected");
        assert_eq!(client.protocol(), Some("echo.v2"));
        client.send_text("hi").await.unwrap();
        assert_eq!(
            within(client.recv()).await,
            Some(Received::Message(Message::Text("echo hi".into())))
        );
        let big = Bytes::from(pattern(300_000));
        client.send_binary(big.clone()).await.unwrap();
        assert_eq!(
            within(client.recv()).await,
            Some(Received::Message(Message::Binary(big)))
        );
        client.close(1000, "").await.unwrap();
        assert!(matches!(
            within(client.recv()).await,
            Some(Received::Closed(Some(1000), _))
        ));
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn close_codes_pass_both_ways() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        let s = sender(&gw, "hc1");

        // Sender closes.
        let c = smol::spawn({
            let s = s.clone();
            async move { s.connect(None, &[]).await }
        });
        let server = within(listener.accept()).await.unwrap().socket;
        let client = within(c).await.unwrap();
        client.close(4001, "sender bye").await.unwrap();
        assert_eq!(
            within(server.recv()).await,
            Some(Received::Closed(Some(4001), "sender bye".into()))
        );

        // Listener closes.
        let c = smol::spawn(async move { s.connect(None, &[]).await });
        let server = within(listener.accept()).await.unwrap().socket;
        let client = within(c).await.unwrap();
        server.close(4002, "listener bye").await.unwrap();
        assert_eq!(
            within(client.recv()).await,
            Some(Received::Closed(Some(4002), "listener bye".into()))
        );
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn rejected_sender_gets_the_status_and_text() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        listener.set_accept_filter(|accept| {
            if accept.address.contains("/private") {
                AcceptDecision::Reject {
                    status: 409,
                    description: "Not today, thanks".into(),
                }
            } else {
                AcceptDecision::Accept
            }
        });
        let s = sender(&gw, "hc1");
        match within(s.connect(Some("private"), &[])).await {
            Err(RelayError::Refused { status, reason }) => {
                assert_eq!(status, 409);
                assert_eq!(reason, "Not today, thanks");
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
        // Others still get in.
        let c = smol::spawn(async move { s.connect(Some("public"), &[]).await });
        let acc = within(listener.accept()).await.unwrap();
        assert_eq!(acc.path_and_query, "/hc1/public");
        within(c).await.unwrap();
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn sender_without_listener_gets_404_and_502() {
    run(async {
        let gw = gateway().await;
        let s = sender(&gw, "nobody");
        let err = within(s.connect(None, &[])).await.err().unwrap();
        assert_eq!(err.status(), Some(404));
        let resp = within(s.request(request("GET", "/", empty())))
            .await
            .unwrap();
        assert_eq!(resp.status(), 502);
        gw.shutdown().await;
    });
}

#[test]
fn bind_surfaces_401_403_and_404() {
    run(async {
        let mut options = GatewayOptions::local();
        options
            .rules
            .push(SharedAccessRule::new("sendonly", "sendkey", Rights::SEND));
        options.config.hybrid_connections = Some(vec![HybridConnectionConfig::new("hc1")]);
        let gw = GatewayServer::start(options).await.unwrap();
        let good = gw.connection_string();

        let mut wrong_key = good.clone();
        wrong_key.shared_access_key = Some("not the key".into());
        let err = within(RelayListener::bind(&wrong_key, "hc1", support::options()))
            .await
            .unwrap_err();
        assert!(
            matches!(err, RelayError::Refused { status: 401, .. }),
            "{err:?}"
        );

        let mut send_only = good.clone();
        send_only.shared_access_key_name = Some("sendonly".into());
        send_only.shared_access_key = Some("sendkey".into());
        let err = within(RelayListener::bind(&send_only, "hc1", support::options()))
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(403), "{err:?}");

        let err = within(RelayListener::bind(&good, "nope", support::options()))
            .await
            .unwrap_err();
        assert!(matches!(err, RelayError::NotFound { .. }), "{err:?}");
        assert_eq!(err.status(), Some(404));

        let mut no_creds = good.clone();
        no_creds.shared_access_key = None;
        let err = within(RelayListener::bind(&no_creds, "hc1", support::options()))
            .await
            .unwrap_err();
        assert!(matches!(err, RelayError::Auth(_)), "{err:?}");

        // Nothing is listening on a closed port: a network error, not a hang.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let nowhere =
            format!("Endpoint=sb://127.0.0.1:{port}/;SharedAccessKeyName=a;SharedAccessKey=b")
                .parse()
                .unwrap();
        let err = within(RelayListener::bind(&nowhere, "hc1", support::options()))
            .await
            .unwrap_err();
        assert!(matches!(err, RelayError::Net(_)), "{err:?}");
        assert_eq!(gw.stats().listeners, 0);
        gw.shutdown().await;
    });
}

#[test]
fn close_stops_the_listener() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        let events = listener.subscribe();
        assert!(listener.is_online());
        assert_eq!(gw.stats().listeners, 1);
        listener.close().await;
        assert!(!listener.is_online());
        assert!(listener.accept().await.is_none());
        assert!(matches!(
            within(events.recv()).await,
            Ok(ListenerEvent::Stopped { .. })
        ));
        // The relay has forgotten the control channel.
        for _ in 0..100 {
            if gw.stats().listeners == 0 {
                break;
            }
            smol::Timer::after(Duration::from_millis(20)).await;
        }
        assert_eq!(gw.stats().listeners, 0);
        gw.shutdown().await;
    });
}

/// A TCP forwarder to `target` whose connections can all be cut at once (a network outage
/// between the listener and the relay).
struct CuttingProxy {
    addr: std::net::SocketAddr,
    generation: Arc<Mutex<(async_channel::Sender<()>, async_channel::Receiver<()>)>>,
    _task: smol::Task<()>,
}

impl CuttingProxy {
    async fn start(target: std::net::SocketAddr) -> CuttingProxy {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let generation = Arc::new(Mutex::new(async_channel::bounded(1)));
        let g = generation.clone();
        let task = smol::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let cut = g.lock().unwrap().1.clone();
                smol::spawn(async move {
                    let Ok(outbound) = smol::net::TcpStream::connect(target).await else {
                        return;
                    };
                    let (mut to_gateway, mut to_listener) = (outbound.clone(), inbound.clone());
                    let up = futures::io::copy(inbound, &mut to_gateway);
                    let down = futures::io::copy(outbound, &mut to_listener);
                    futures::future::select(
                        Box::pin(async {
                            let _ = futures::future::select(Box::pin(up), Box::pin(down)).await;
                        }),
                        Box::pin(async {
                            let _ = cut.recv().await;
                        }),
                    )
                    .await;
                })
                .detach();
            }
        });
        CuttingProxy {
            addr,
            generation,
            _task: task,
        }
    }

    /// Drops every connection made so far.
    fn cut(&self) {
        let mut g = self.generation.lock().unwrap();
        let old = std::mem::replace(&mut *g, async_channel::bounded(1));
        old.0.close();
    }
}

#[test]
fn listener_reconnects_after_an_outage() {
    run(async {
        let gw = gateway().await;
        let proxy = CuttingProxy::start(gw.local_addr()).await;
        let mut via_proxy = gw.connection_string();
        via_proxy.endpoint.port = Some(proxy.addr.port());
        let listener = within(RelayListener::bind(
            &via_proxy,
            "hc1",
            ListenerOptions {
                reconnect_delays: vec![Duration::ZERO, Duration::from_millis(100)],
                ..support::options()
            },
        ))
        .await
        .unwrap();
        listener.set_http_handler(|_req| async { http::Response::new(full("back")) });
        let events = listener.subscribe();
        proxy.cut();
        assert!(matches!(
            within(events.recv()).await,
            Ok(ListenerEvent::Offline { .. })
        ));
        assert_eq!(within(events.recv()).await, Ok(ListenerEvent::Online));
        assert!(listener.is_online());
        // The relay may still hold the dead channel until it notices; retry until the new one
        // answers.
        let s = sender(&gw, "hc1");
        let mut answered = false;
        for _ in 0..50 {
            let resp = within(s.request(request("GET", "/", empty())))
                .await
                .unwrap();
            if resp.status() == 200 {
                assert_eq!(body_of(resp).await, "back");
                answered = true;
                break;
            }
            smol::Timer::after(Duration::from_millis(50)).await;
        }
        assert!(answered);
        listener.close().await;
        gw.shutdown().await;
    });
}

#[test]
fn gateway_shutdown_takes_listeners_offline() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        let events = listener.subscribe();
        gw.shutdown().await;
        // The control channel is closed with 1001: the listener notices and goes offline.
        match within(events.recv()).await {
            Ok(ListenerEvent::Offline { reason }) => assert!(reason.contains("1001"), "{reason}"),
            other => panic!("expected Offline, got {other:?}"),
        }
        assert!(!listener.is_online());
        listener.close().await;
    });
}

#[test]
fn finished_http_requests_leave_nothing_behind() {
    run(async {
        let gw = gateway().await;
        let listener = listen(&gw, "hc1").await;
        listener.set_http_handler(|_req| async { http::Response::new(interlink::net::full("ok")) });
        let sender = sender(&gw, "hc1");
        let anonymous: interlink_core::relay::connection_string::ConnectionString =
            format!("Endpoint=sb://{}/", gw.local_addr())
                .parse()
                .unwrap();
        let unauthorized = interlink::relay::RelaySender::new(
            &anonymous,
            "hc1",
            interlink::net::ClientTls::webpki(),
        )
        .unwrap();
        for i in 0..40 {
            let resp =
                within(sender.request(request("GET", &format!("/x{i}"), interlink::net::empty())))
                    .await
                    .unwrap();
            assert_eq!(resp.status(), 200);
            assert_eq!(body_of(resp).await, "ok");
            let resp = within(unauthorized.request(request("GET", "/", interlink::net::empty())))
                .await
                .unwrap();
            assert_eq!(resp.status(), 401);
            let _ = body_of(resp).await;
        }
        // Only the control channel is left (give the last answers a moment to be released).
        let mut left = usize::MAX;
        for _ in 0..100 {
            left = gw.connections_in_flight();
            if left == 1 {
                break;
            }
            smol::Timer::after(Duration::from_millis(10)).await;
        }
        assert_eq!(left, 1, "per-request state leaked");
        assert_eq!(gw.stats().pending_requests, 0);
        listener.close().await;
    });
}

/// Sends raw bytes to the gateway and returns the status line of its answer.
async fn raw_status(addr: std::net::SocketAddr, request: &str) -> String {
    use futures::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = smol::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 1024];
    let n = within(tcp.read(&mut buf)).await.unwrap();
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    text.lines().next().unwrap_or_default().to_string()
}

#[test]
fn body_limits_give_413_and_408() {
    run(async {
        let mut options = interlink::relay::GatewayOptions::local();
        options.config.limits.max_request_body_bytes = Some(1000);
        options.config.limits.request_body_timeout = Duration::from_millis(300);
        let gw = interlink::relay::GatewayServer::start(options)
            .await
            .unwrap();
        let listener = listen(&gw, "hc1").await;
        listener.set_http_handler(|_req| async { http::Response::new(interlink::net::full("ok")) });
        let addr = gw.local_addr();
        // Declared larger than the limit: refused before any byte of it is read.
        let status = raw_status(
            addr,
            "POST /hc1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 5000\r\n\r\n",
        )
        .await;
        assert!(status.starts_with("HTTP/1.1 413"), "{status}");
        // A small body that never arrives: 408 once request_body_timeout has passed.
        let status = raw_status(
            addr,
            "POST /hc1/x HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc",
        )
        .await;
        assert!(status.starts_with("HTTP/1.1 408"), "{status}");
        assert_eq!(gw.stats().pending_requests, 0);
        listener.close().await;
    });
}
