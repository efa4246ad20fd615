//! `interlink demo`: the whole relay on 127.0.0.1 in one process — a gateway, a listener
//! serving a small HTTP + WebSocket app, and senders reaching it through the relay — then a
//! SignalR hub round trip (`hub_demo`).

use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use http_body_util::BodyExt;
use interlink::net::{self, Body, ClientTls};
use interlink::relay::{
    GatewayOptions, GatewayServer, ListenerOptions, RelayListener, RelaySender,
};
use interlink::ws::Received;
use interlink_core::ws::Message;
use std::time::{Duration, Instant};

const HC: &str = "demo";

/// The listener's app: `/demo/hello`, `/demo/echo` (POST), `/demo/big?size=N`.
async fn app(req: http::Request<Body>) -> http::Response<Body> {
    let path = req.uri().path().trim_start_matches("/demo").to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let (status, bytes) = match path.as_str() {
        "/hello" => (200, Bytes::from_static(b"hello from behind the firewall")),
        "/echo" => (200, body),
        "/big" => {
            let size = query
                .strip_prefix("size=")
                .and_then(|s| s.parse().ok())
                .unwrap_or(0usize);
            (
                200,
                Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>()),
            )
        }
        _ => (404, Bytes::from_static(b"no such page")),
    };
    http::Response::builder()
        .status(status)
        .header("content-type", "application/octet-stream")
        .body(net::full(bytes))
        .expect("valid response")
}

async fn get(sender: &RelaySender, method: &str, path: &str, body: Bytes) -> Result<(u16, Bytes)> {
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .body(net::full(body))?;
    let resp = sender.request(req).await?;
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await?.to_bytes();
    Ok((status, bytes))
}

fn step(what: &str, started: Instant) {
    println!(
        "  ok  {what:<64} {:>7.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
}

/// Runs the demo; any failed check is an error (exit 1).
pub async fn run() -> Result<()> {
    let gateway = GatewayServer::start(GatewayOptions::local())
        .await
        .context("starting the gateway")?;
    let cs = gateway.connection_string();
    println!("gateway listening on http://{}", gateway.local_addr());
    println!("connection string: {cs}");

    let listener = RelayListener::bind(
        &cs,
        HC,
        ListenerOptions {
            tls: ClientTls::webpki(),
            ..Default::default()
        },
    )
    .await
    .context("attaching the listener")?;
    listener.set_http_handler(app);
    println!("listener online on hybrid connection '{HC}' (outbound connection only)");
    let ws_listener = listener.clone();
    let echo = smol::spawn(async move {
        while let Some(accepted) = ws_listener.accept().await {
            smol::spawn(async move {
                while let Some(Received::Message(m)) = accepted.socket.recv().await {
                    let sent = match m {
                        Message::Text(t) => accepted.socket.send_text(format!("echo: {t}")).await,
                        Message::Binary(b) => accepted.socket.send_binary(b).await,
                    };
                    if sent.is_err() {
                        break;
                    }
                }
            })
            .detach();
        }
    });

    let sender =
        RelaySender::new(&cs, HC, ClientTls::webpki())?.with_timeout(Duration::from_secs(30));
    println!("senders:");
    let t = Instant::now();
    let (status, body) = get(&sender, "GET", "/hello", Bytes::new()).await?;
    ensure!(
        status == 200 && body == "hello from behind the firewall",
        "GET /hello gave {status} {body:?}"
    );
    step("GET  /demo/hello (over the control channel)", t);

    let t = Instant::now();
    let small = Bytes::from(vec![b'x'; 1024]);
    let (status, body) = get(&sender, "POST", "/echo", small.clone()).await?;
    ensure!(
        status == 200 && body == small,
        "POST /echo (1 KiB) gave {status}, {} bytes",
        body.len()
    );
    step("POST /demo/echo, 1 KiB body", t);

    let t = Instant::now();
    let large: Bytes = (0..100 * 1024)
        .map(|i| (i % 7) as u8)
        .collect::<Vec<u8>>()
        .into();
    let (status, body) = get(&sender, "POST", "/echo", large.clone()).await?;
    ensure!(
        status == 200 && body == large,
        "POST /echo (100 KiB) gave {status}, {} bytes",
        body.len()
    );
    step(
        "POST /demo/echo, 100 KiB body (relay-initiated rendezvous)",
        t,
    );

    let t = Instant::now();
    let (status, body) = get(&sender, "GET", "/big?size=204800", Bytes::new()).await?;
    ensure!(
        status == 200
            && body.len() == 204_800
            && body.iter().enumerate().all(|(i, b)| *b == (i % 251) as u8),
        "GET /big gave {status}, {} bytes",
        body.len()
    );
    step(
        "GET  /demo/big, 200 KiB response (listener-initiated rendezvous)",
        t,
    );

    let t = Instant::now();
    let socket = sender
        .connect(Some("chat"), &[])
        .await
        .context("WebSocket through the relay")?;
    for i in 0..3 {
        socket.send_text(format!("message {i}")).await?;
        match socket.recv().await {
            Some(Received::Message(Message::Text(t))) if t == format!("echo: message {i}") => {}
            other => bail!("WebSocket echo {i}: got {other:?}"),
        }
    }
    socket.send_binary(vec![1u8, 2, 3]).await?;
    match socket.recv().await {
        Some(Received::Message(Message::Binary(b))) if b[..] == [1, 2, 3] => {}
        other => bail!("WebSocket binary echo: got {other:?}"),
    }
    socket.close(1000, "done").await?;
    step("WebSocket /demo/chat: 3 text + 1 binary echoed", t);

    let t = Instant::now();
    let missing = RelaySender::new(&cs, "nobody-listens", ClientTls::webpki())?;
    let (status, _) = get(&missing, "GET", "/", Bytes::new()).await?;
    ensure!(
        status == 502,
        "a hybrid connection without listener gave {status}, expected 502"
    );
    step("GET  /nobody-listens -> 502 (no listener)", t);

    println!("gateway stats: {:?}", gateway.stats());
    listener.close().await;
    echo.cancel().await;
    gateway.shutdown().await;

    crate::hub_demo::run(step).await?;
    println!("demo finished: every check passed");
    Ok(())
}
