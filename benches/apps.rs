//! The application code every path runs: one WebSocket sink/echo and one HTTP echo, served
//! directly on loopback (hyper server + HTTP upgrade + [`WebSocket`]) or behind a
//! [`RelayListener`], and the client loads that drive them (the same client code on every
//! path: [`net::connect`] + [`net::ws_handshake`] + [`WebSocket`], or [`RelaySender`]).

use crate::report::Samples;
use anyhow::{Context, Result, bail, ensure};
use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use interlink::net::{self, Body, ClientTls, ConnInfo, HandshakeOutcome, Stream, Target};
use interlink::relay::{ListenerOptions, RelayListener, RelaySender};
use interlink::ws::{Received, WebSocket};
use interlink_core::relay::address::Endpoint;
use interlink_core::relay::connection_string::ConnectionString;
use interlink_core::relay::sas::create_token;
use interlink_core::time::UnixTime;
use interlink_core::ws::{Message, Role};
use smol_hyper::rt::FuturesIo;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

/// The text message that ends a load: the sink answers with the bytes it counted.
const END: &str = "end";

/// Serves one WebSocket: binary messages are counted and dropped; the text `end` is answered
/// with the byte count since the last `end`; any other text is echoed back.
pub async fn serve_ws(ws: WebSocket) {
    let mut bytes: u64 = 0;
    while let Some(Received::Message(m)) = ws.recv().await {
        let sent = match m {
            Message::Binary(b) => {
                bytes += b.len() as u64;
                Ok(())
            }
            Message::Text(t) if t == END => {
                let n = std::mem::take(&mut bytes);
                ws.send_text(n.to_string()).await
            }
            Message::Text(t) => ws.send_text(t).await,
        };
        if sent.is_err() {
            break;
        }
    }
}

/// The HTTP app: answers every request with its body (200).
pub async fn echo_http<B>(req: http::Request<B>) -> http::Response<Body>
where
    B: http_body::Body<Data = Bytes>,
{
    let body = match req.into_body().collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            let mut r = http::Response::new(net::empty());
            *r.status_mut() = http::StatusCode::BAD_REQUEST;
            return r;
        }
    };
    http::Response::builder()
        .status(200)
        .header("content-type", "application/octet-stream")
        .body(net::full(body))
        .expect("a valid response")
}

async fn direct_handler(mut req: http::Request<Incoming>, _info: ConnInfo) -> http::Response<Body> {
    let wants_ws = req
        .headers()
        .get(http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !wants_ws {
        return echo_http(req).await;
    }
    let headers: Vec<(&str, &[u8])> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_bytes()))
        .collect();
    let key = match interlink_core::ws::check_upgrade_request(req.method().as_str(), headers) {
        Ok(u) => u.key,
        Err(e) => {
            let mut r = http::Response::new(net::full(e.to_string()));
            *r.status_mut() = http::StatusCode::from_u16(e.http_status())
                .unwrap_or(http::StatusCode::BAD_REQUEST);
            return r;
        }
    };
    let on_upgrade = hyper::upgrade::on(&mut req);
    smol::spawn(async move {
        if let Ok(stream) = net::upgraded(on_upgrade).await {
            serve_ws(WebSocket::start(stream, &[], Role::Server, None)).await;
        }
    })
    .detach();
    http::Response::builder()
        .status(http::StatusCode::SWITCHING_PROTOCOLS)
        .header(http::header::UPGRADE, "websocket")
        .header(http::header::CONNECTION, "Upgrade")
        .header(
            http::header::SEC_WEBSOCKET_ACCEPT,
            interlink_core::ws::accept_key(&key),
        )
        .body(net::empty())
        .expect("a valid response")
}

/// The app served directly: `interlink::net::serve` on 127.0.0.1 (OS-chosen port), WebSocket
/// upgrades to [`serve_ws`], every other request to [`echo_http`].
pub struct DirectServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: async_channel::Sender<()>,
    task: smol::Task<std::io::Result<()>>,
}

impl DirectServer {
    /// Binds and serves on smol's global executor.
    pub async fn start() -> Result<DirectServer> {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let task = smol::spawn(net::serve(listener, None, direct_handler, async move {
            let _ = stopped.recv().await;
        }));
        Ok(DirectServer { addr, stop, task })
    }

    /// Stops serving (sockets already upgraded stay with their tasks).
    pub async fn stop(self) {
        let _ = self.stop.try_send(());
        let _ = self.task.await;
    }
}

/// A relay listener on `hc` serving the same app: accepted WebSockets to [`serve_ws`], HTTP
/// requests to [`echo_http`].
pub async fn relay_app(cs: &ConnectionString, hc: &str) -> Result<(RelayListener, smol::Task<()>)> {
    let listener = RelayListener::bind(
        cs,
        hc,
        ListenerOptions {
            tls: ClientTls::webpki(),
            ..Default::default()
        },
    )
    .await
    .with_context(|| format!("binding a listener on '{hc}'"))?;
    listener.set_http_handler(echo_http::<Body>);
    let l = listener.clone();
    let task = smol::spawn(async move {
        while let Some(accepted) = l.accept().await {
            smol::spawn(serve_ws(accepted.socket)).detach();
        }
    });
    Ok((listener, task))
}

/// A WebSocket client connection to `ws://addr/ws` (TCP + handshake), like the relay
/// sender's own (`open_ws`), minus the relay.
pub async fn ws_connect(addr: SocketAddr) -> Result<WebSocket> {
    let target = Target::parse(&format!("ws://{addr}/ws"))?;
    let stream = net::connect(&target, &ClientTls::webpki()).await?;
    let key = interlink_core::ws::generate_key(&mut fastrand::Rng::new());
    match net::ws_handshake(stream, &target, &key, &[], &[]).await? {
        HandshakeOutcome::Upgraded {
            stream, leftover, ..
        } => Ok(WebSocket::start(stream, &leftover, Role::Client, None)),
        HandshakeOutcome::Refused { head, .. } => {
            bail!("ws://{addr}/ws refused: {} {}", head.status, head.reason)
        }
    }
}

/// Runs `fut` for at most `limit`.
pub async fn within<T>(limit: Duration, fut: impl Future<Output = Result<T>>) -> Result<T> {
    futures_lite::future::or(fut, async {
        async_io::Timer::after(limit).await;
        bail!("timed out after {limit:?}")
    })
    .await
}

/// Sends a text and waits for its echo.
pub async fn echo_once(ws: &WebSocket, text: &str) -> Result<()> {
    ws.send_text(text).await?;
    match ws.recv().await {
        Some(Received::Message(Message::Text(t))) if t == text => Ok(()),
        other => bail!("expected the echo of {text:?}, got {other:?}"),
    }
}

/// Closes with 1000 and waits (at most 2 s) for the connection to end.
pub async fn close_ws(ws: WebSocket) {
    let _ = ws.close(1000, "").await;
    let _ = within(Duration::from_secs(2), async {
        while ws.recv().await.is_some() {}
        Ok(())
    })
    .await;
}

/// Waits (at most `limit`) until a WebSocket echo works through 127.0.0.1:`port` — for
/// tunnels, which open their public port some time after starting.
pub async fn wait_ws_path(port: u16, limit: Duration) -> Result<()> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    let mut last = None;
    while start.elapsed() < limit {
        let attempt = within(Duration::from_secs(2), async {
            let ws = ws_connect(addr).await?;
            echo_once(&ws, "ready?").await?;
            close_ws(ws).await;
            Ok(())
        })
        .await;
        match attempt {
            Ok(()) => return Ok(()),
            Err(e) => last = Some(e),
        }
        async_io::Timer::after(Duration::from_millis(100)).await;
    }
    bail!(
        "no WebSocket echo through 127.0.0.1:{port} after {limit:?}: {}",
        last.map(|e| e.to_string()).unwrap_or_default()
    )
}

/// Streams `count` binary messages of `size` bytes on `ws` (to [`serve_ws`]), then `end`, and
/// waits for the sink's byte count. Returns the time from the first send to the answer.
pub async fn ws_load(ws: &WebSocket, size: usize, count: usize) -> Result<Duration> {
    let payload = Bytes::from((0..size).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let start = Instant::now();
    for _ in 0..count {
        ws.send_binary(payload.clone()).await?;
    }
    ws.send_text(END).await?;
    let answer = ws.recv().await;
    let elapsed = start.elapsed();
    let expected = (size * count).to_string();
    match answer {
        Some(Received::Message(Message::Text(t))) if t == expected => Ok(elapsed),
        other => bail!("the sink answered {other:?}, expected {expected}"),
    }
}

/// How HTTP requests reach the echo app.
#[derive(Clone)]
pub enum HttpPath {
    /// `interlink::net::request` to `url` per request: a new TCP connection each time.
    Fresh {
        /// Request URL.
        url: String,
    },
    /// `RelaySender::request` per request (a new TCP connection to the gateway each time).
    Relay(RelaySender),
    /// One HTTP/1.1 connection per worker (hyper client), reused for every request;
    /// `headers` go on each request.
    KeepAlive {
        /// Request URL.
        url: String,
        /// Extra headers (the relay token).
        headers: Vec<(String, String)>,
    },
}

/// One concurrent sender of an HTTP load.
enum Worker {
    Fresh(Target),
    Relay(RelaySender),
    KeepAlive {
        target: Target,
        headers: Vec<(String, String)>,
        conn: hyper::client::conn::http1::SendRequest<Body>,
    },
}

impl HttpPath {
    /// A keep-alive path to a relay gateway: `http://gateway/hc/echo` with a token in
    /// `ServiceBusAuthorization`.
    pub fn relay_keepalive(cs: &ConnectionString, hc: &str) -> HttpPath {
        let expiry = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            + 3600;
        let token = create_token(
            &cs.endpoint.audience(hc),
            cs.shared_access_key_name.as_deref().unwrap_or_default(),
            cs.shared_access_key.as_deref().unwrap_or_default(),
            UnixTime(expiry),
        );
        HttpPath::KeepAlive {
            url: cs.endpoint.http_url(hc, Some("/echo")),
            headers: vec![("ServiceBusAuthorization".into(), token)],
        }
    }

    async fn worker(&self) -> Result<Worker> {
        Ok(match self {
            HttpPath::Fresh { url } => Worker::Fresh(Target::parse(url)?),
            HttpPath::Relay(s) => Worker::Relay(s.clone()),
            HttpPath::KeepAlive { url, headers } => {
                let target = Target::parse(url)?;
                let stream: Stream = net::connect(&target, &ClientTls::webpki()).await?;
                let (conn, driver) =
                    hyper::client::conn::http1::handshake(FuturesIo::new(stream)).await?;
                smol::spawn(async move {
                    let _ = driver.await;
                })
                .detach();
                Worker::KeepAlive {
                    target,
                    headers: headers.clone(),
                    conn,
                }
            }
        })
    }
}

fn post(
    target: &Target,
    body: &Bytes,
    headers: &[(String, String)],
) -> Result<http::Request<Body>> {
    let mut b = http::Request::builder()
        .method("POST")
        .uri(&target.path_and_query)
        .header(http::header::HOST, target.authority())
        .header("content-type", "application/octet-stream");
    for (n, v) in headers {
        b = b.header(n, v);
    }
    Ok(b.body(net::full(body.clone()))?)
}

impl Worker {
    /// One POST of `body`; checks the echo.
    async fn post(&mut self, body: &Bytes) -> Result<()> {
        let resp = match self {
            Worker::Fresh(target) => {
                net::request(target, &ClientTls::webpki(), post(target, body, &[])?).await?
            }
            Worker::Relay(sender) => {
                let req = http::Request::builder()
                    .method("POST")
                    .uri("/echo")
                    .header("content-type", "application/octet-stream")
                    .body(net::full(body.clone()))?;
                sender.request(req).await?
            }
            Worker::KeepAlive {
                target,
                headers,
                conn,
            } => {
                conn.ready().await?;
                conn.send_request(post(target, body, headers)?).await?
            }
        };
        let status = resp.status();
        let got = resp.into_body().collect().await?.to_bytes();
        ensure!(
            status == 200 && got == *body,
            "echo failed: {status}, {} bytes",
            got.len()
        );
        Ok(())
    }
}

/// Result of an HTTP load.
pub struct HttpResult {
    /// Per-request latencies.
    pub latencies: Samples,
    /// Wall time of the whole load.
    pub elapsed: Duration,
}

impl HttpResult {
    /// Requests per second.
    pub fn rps(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }
}

/// `total` POSTs of `body_len` bytes by `concurrency` workers (each sequential), through
/// `path`. Keep-alive connections are opened before the clock starts.
pub async fn http_load(
    path: &HttpPath,
    concurrency: usize,
    total: usize,
    body_len: usize,
) -> Result<HttpResult> {
    let body = Bytes::from(vec![b'x'; body_len]);
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        workers.push(path.worker().await?);
    }
    let per = total / concurrency.max(1);
    let start = Instant::now();
    let tasks: Vec<smol::Task<Result<Vec<Duration>>>> = workers
        .into_iter()
        .map(|mut w| {
            let body = body.clone();
            smol::spawn(async move {
                let mut lat = Vec::with_capacity(per);
                for _ in 0..per {
                    let t = Instant::now();
                    w.post(&body).await?;
                    lat.push(t.elapsed());
                }
                Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::with_capacity(total);
    for t in tasks {
        all.extend(t.await?);
    }
    Ok(HttpResult {
        elapsed: start.elapsed(),
        latencies: Samples::new(all),
    })
}

/// A raw listener control channel: the WebSocket upgrade of `sb-hc-action=listen` on `hc`
/// with a valid token, then nothing (the socket is held open, unread).
pub async fn raw_listener(
    gateway: SocketAddr,
    hc: &str,
    key_name: &str,
    key: &str,
) -> Result<Stream> {
    let expiry = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        + 3600;
    let endpoint = Endpoint::new(false, gateway.ip().to_string(), Some(gateway.port()));
    let token = create_token(&endpoint.audience(hc), key_name, key, UnixTime(expiry));
    let target = Target::parse(&endpoint.listen_url(hc, None, None))?;
    let stream = net::connect(&target, &ClientTls::webpki()).await?;
    let key = interlink_core::ws::generate_key(&mut fastrand::Rng::new());
    match net::ws_handshake(
        stream,
        &target,
        &key,
        &[],
        &[("ServiceBusAuthorization", &token)],
    )
    .await?
    {
        HandshakeOutcome::Upgraded { stream, .. } => Ok(stream),
        HandshakeOutcome::Refused { head, .. } => {
            bail!("listen on '{hc}' refused: {} {}", head.status, head.reason)
        }
    }
}

/// [`ws_load`] run as a task on smol's global executor, next to the WebSocket drivers (no
/// cross-thread wake-up per message, unlike a loop on the `block_on` thread).
pub async fn ws_load_spawned(ws: WebSocket, size: usize, count: usize) -> Result<Duration> {
    smol::spawn(async move { ws_load(&ws, size, count).await }).await
}
