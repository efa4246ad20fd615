//! `forward` (the `interlink expose` engine) end to end: a sender talks through the relay
//! gateway and a forwarding listener to a local HTTP/WebSocket server, over loopback.

#[path = "relay_support.rs"]
mod support;

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use interlink::net::{Body, ClientTls, ConnInfo, channel_body, empty, full, serve, upgraded};
use interlink::relay::gateway::GatewayServer;
use interlink::relay::{RelayError, RelayListener, forward};
use interlink::ws::{DriveOptions, DriverEvent, Received, WebSocket, WsCommand, drive};
use interlink_core::ws::{Connection, ConnectionConfig, Event, Message, OpCode, Role, accept_key};
use support::{body_of, gateway, listen, pattern, reason_of, request, run, sender, within};

/// A WebSocket upgrade answered by the local server; `streaming`: report each received
/// fragment instead of echoing messages.
fn upgrade(mut req: http::Request<Incoming>, streaming: bool) -> http::Response<Body> {
    let header = |n: &str| {
        req.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    let key = header("sec-websocket-key");
    let chosen = header("sec-websocket-protocol")
        .split(',')
        .map(|p| p.trim().to_string())
        .find(|p| p == "v2");
    let origin = header("x-origin-test");
    let on = hyper::upgrade::on(&mut req);
    let protocol = chosen.clone();
    smol::spawn(async move {
        let io = upgraded(on).await.unwrap();
        if streaming {
            // Tell the client about every fragment as it arrives.
            let (ctx, crx) = async_channel::unbounded();
            let (etx, erx) = async_channel::bounded(16);
            let mut config = ConnectionConfig::new(Role::Server);
            config.stream_fragments = true;
            let conn = Connection::new(config, 7);
            smol::spawn(async move {
                drive(io, &[], conn, crx, etx, |e| e, DriveOptions::default()).await;
            })
            .detach();
            while let Ok(ev) = erx.recv().await {
                match ev {
                    DriverEvent::Ws(Event::Fragment { data, fin, .. }) => {
                        let note = format!("got {} fin={fin}", data.len());
                        ctx.send(WsCommand::Text(note)).await.unwrap();
                    }
                    DriverEvent::Ended { .. } => break,
                    _ => {}
                }
            }
            return;
        }
        let ws = WebSocket::start(io, &[], Role::Server, protocol);
        ws.send_text(format!("hello origin={origin}"))
            .await
            .unwrap();
        while let Some(Received::Message(m)) = ws.recv().await {
            match m {
                Message::Text(t) if t == "close please" => {
                    ws.close(4003, "local bye").await.unwrap();
                }
                Message::Text(t) => ws.send_text(t).await.unwrap(),
                Message::Binary(b) => ws.send_binary(b).await.unwrap(),
            }
        }
    })
    .detach();
    let mut resp = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", accept_key(&key));
    if let Some(p) = chosen {
        resp = resp.header("sec-websocket-protocol", p);
    }
    resp.body(empty()).unwrap()
}

/// The local application behind `forward`.
async fn local_app(
    req: http::Request<Incoming>,
    sse_go: async_channel::Receiver<()>,
) -> http::Response<Body> {
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/hc1/ws" => upgrade(req, false),
        "/hc1/frag" => upgrade(req, true),
        "/hc1/echo" => {
            // Streams the request body straight back.
            let ct = req.headers().get("content-type").cloned();
            let mut resp = http::Response::new(req.into_body().map_err(io::Error::other).boxed());
            if let Some(ct) = ct {
                resp.headers_mut().insert("content-type", ct);
            }
            resp
        }
        "/hc1/sse" => {
            let (tx, body) = channel_body(4);
            smol::spawn(async move {
                tx.send(Bytes::from("data: 1\n\n")).await.unwrap();
                sse_go.recv().await.unwrap();
                tx.send(Bytes::from("data: 2\n\n")).await.unwrap();
            })
            .detach();
            http::Response::builder()
                .header("content-type", "text/event-stream")
                .body(body)
                .unwrap()
        }
        "/hc1/big" => http::Response::new(full(pattern(200_000))),
        _ if path.starts_with("/hc1/info") => {
            let text = format!(
                "{} {} host={} x-a={}",
                req.method(),
                req.uri(),
                req.headers()
                    .get("host")
                    .map(|v| v.to_str().unwrap())
                    .unwrap_or(""),
                req.headers()
                    .get("x-a")
                    .map(|v| v.to_str().unwrap())
                    .unwrap_or(""),
            );
            http::Response::new(full(text))
        }
        _ => {
            let mut resp = http::Response::builder()
                .status(404)
                .body(full("nothing here"))
                .unwrap();
            resp.extensions_mut()
                .insert(hyper::ext::ReasonPhrase::from_static(b"Nothing Here"));
            resp
        }
    }
}

/// The local server, the gateway and a forwarding listener for `hc1`.
struct Setup {
    gw: GatewayServer,
    listener: RelayListener,
    local: SocketAddr,
    stop_local: async_channel::Sender<()>,
    sse_go: async_channel::Sender<()>,
    forwarding: smol::Task<Result<(), RelayError>>,
}

async fn setup() -> Setup {
    let tcp = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = tcp.local_addr().unwrap();
    let (stop_local, stop_rx) = async_channel::bounded::<()>(1);
    let (sse_go, sse_rx) = async_channel::bounded::<()>(1);
    smol::spawn(serve(
        tcp,
        None,
        move |req, _info: ConnInfo| local_app(req, sse_rx.clone()),
        async move {
            let _ = stop_rx.recv().await;
        },
    ))
    .detach();
    let gw = gateway().await;
    let listener = listen(&gw, "hc1").await;
    let forwarding = smol::spawn(forward(
        listener.clone(),
        &format!("http://{local}"),
        ClientTls::webpki(),
    ));
    Setup {
        gw,
        listener,
        local,
        stop_local,
        sse_go,
        forwarding,
    }
}

impl Setup {
    async fn teardown(self) {
        self.listener.close().await;
        within(self.forwarding).await.unwrap();
        let _ = self.stop_local.try_send(());
        self.gw.shutdown().await;
    }
}

#[test]
fn http_is_proxied_with_target_headers_and_bodies() {
    run(async {
        let s = setup().await;
        let tx = sender(&s.gw, "hc1");

        let mut req = request("GET", "/info/a?b=1", empty());
        req.headers_mut().insert("x-a", "A".parse().unwrap());
        let resp = within(tx.request(req)).await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(
            body_of(resp).await,
            format!("GET /hc1/info/a?b=1 host={} x-a=A", s.local)
        );

        let resp = within(tx.request(request("POST", "/echo", full(pattern(150_000)))))
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(body_of(resp).await, pattern(150_000));

        let resp = within(tx.request(request("GET", "/big", empty())))
            .await
            .unwrap();
        assert_eq!(body_of(resp).await, pattern(200_000));

        let resp = within(tx.request(request("GET", "/missing", empty())))
            .await
            .unwrap();
        assert_eq!(resp.status(), 404);
        assert_eq!(reason_of(&resp).as_deref(), Some("Nothing Here"));
        assert_eq!(body_of(resp).await, "nothing here");

        s.teardown().await;
    });
}

#[test]
fn sse_from_the_local_server_streams() {
    run(async {
        let s = setup().await;
        let resp = within(sender(&s.gw, "hc1").request(request("GET", "/sse", empty())))
            .await
            .unwrap();
        assert_eq!(resp.headers()["content-type"], "text/event-stream");
        let mut body = resp.into_body();
        let mut got = Vec::new();
        while got.len() < 9 {
            let frame = within(body.frame()).await.expect("more").unwrap();
            if let Ok(d) = frame.into_data() {
                got.extend_from_slice(&d);
            }
        }
        assert_eq!(got, b"data: 1\n\n");
        s.sse_go.send(()).await.unwrap();
        assert_eq!(
            within(body.collect()).await.unwrap().to_bytes(),
            "data: 2\n\n"
        );
        s.teardown().await;
    });
}

#[test]
fn unreachable_local_server_gives_502() {
    run(async {
        let s = setup().await;
        let _ = s.stop_local.try_send(());
        // Wait until the local port refuses connections.
        for _ in 0..100 {
            if smol::net::TcpStream::connect(s.local).await.is_err() {
                break;
            }
            smol::Timer::after(std::time::Duration::from_millis(20)).await;
        }
        let resp = within(sender(&s.gw, "hc1").request(request("GET", "/info", empty())))
            .await
            .unwrap();
        assert_eq!(resp.status(), 502);
        let err = within(sender(&s.gw, "hc1").connect(Some("ws"), &[]))
            .await
            .err()
            .unwrap();
        assert_eq!(err.status(), Some(502));
        s.teardown().await;
    });
}

#[test]
fn websockets_are_bridged_with_subprotocols_and_close_codes() {
    run(async {
        let s = setup().await;
        let tx = sender(&s.gw, "hc1");
        let ws = within(tx.connect(Some("ws"), &["v1", "v2"])).await.unwrap();
        assert_eq!(ws.protocol(), Some("v2"), "the local server's choice");
        assert_eq!(
            within(ws.recv()).await,
            Some(Received::Message(Message::Text("hello origin=".into())))
        );
        ws.send_text("ping 1").await.unwrap();
        assert_eq!(
            within(ws.recv()).await,
            Some(Received::Message(Message::Text("ping 1".into())))
        );
        let big = Bytes::from(pattern(250_000));
        ws.send_binary(big.clone()).await.unwrap();
        assert_eq!(
            within(ws.recv()).await,
            Some(Received::Message(Message::Binary(big)))
        );
        // The local server closes: its code reaches the sender.
        ws.send_text("close please").await.unwrap();
        assert_eq!(
            within(ws.recv()).await,
            Some(Received::Closed(Some(4003), "local bye".into()))
        );

        // The sender closes: the local server echoes the code back.
        let ws = within(tx.connect(Some("ws"), &[])).await.unwrap();
        assert_eq!(ws.protocol(), None);
        within(ws.recv()).await;
        ws.close(4004, "sender bye").await.unwrap();
        assert!(matches!(
            within(ws.recv()).await,
            Some(Received::Closed(Some(4004), _))
        ));

        // A path the local server refuses: the sender sees its status and reason.
        match within(tx.connect(Some("nope"), &[])).await {
            Err(RelayError::Refused { status, reason }) => {
                assert_eq!((status, reason.as_str()), (404, "Nothing Here"));
            }
            other => panic!("expected a refusal, got {:?}", other.map(|_| ())),
        }
        s.teardown().await;
    });
}

#[test]
fn websocket_fragments_stream_through_the_bridge() {
    run(async {
        let s = setup().await;
        let ws = within(sender(&s.gw, "hc1").connect(Some("frag"), &[]))
            .await
            .unwrap();
        // The first fragment must reach the local server before the message is finished.
        ws.send(WsCommand::Fragment {
            opcode: OpCode::Binary,
            data: Bytes::from_static(b"abc"),
            first: true,
            fin: false,
        })
        .await
        .unwrap();
        assert_eq!(
            within(ws.recv()).await,
            Some(Received::Message(Message::Text("got 3 fin=false".into())))
        );
        ws.send(WsCommand::Fragment {
            opcode: OpCode::Binary,
            data: Bytes::from_static(b"de"),
            first: false,
            fin: true,
        })
        .await
        .unwrap();
        assert_eq!(
            within(ws.recv()).await,
            Some(Received::Message(Message::Text("got 2 fin=true".into())))
        );
        s.teardown().await;
    });
}
