//! HTTP upgrades on the server (`upgraded`) and the raw WebSocket client handshake.

use bytes::BytesMut;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use hyper::body::Incoming;
use smol::net::TcpListener;

use super::{TestServer, run};
use crate::net::{
    Body, ClientTls, ConnInfo, HandshakeError, HandshakeOutcome, MAX_HEAD_LEN, NetError, Stream,
    Target, connect, empty, full, request, upgraded, ws_handshake,
};
use interlink_core::ws::{HandshakeError as CoreHandshakeError, accept_key};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// `/ws`: answers a WebSocket upgrade (selecting `echo.v1` when offered) and echoes raw
/// bytes on the upgraded stream. Anything else: 404 with a reason phrase and a body.
pub(super) async fn ws_echo(
    mut req: http::Request<Incoming>,
    _info: ConnInfo,
) -> http::Response<Body> {
    if req.uri().path() != "/ws" {
        let mut resp = http::Response::builder()
            .status(404)
            .header("content-type", "text/plain")
            .body(full("no such hybrid connection"))
            .unwrap();
        resp.extensions_mut()
            .insert(hyper::ext::ReasonPhrase::from_static(
                b"Endpoint does not exist",
            ));
        return resp;
    }
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let key = header("sec-websocket-key");
    let offers_echo = header("sec-websocket-protocol")
        .split(',')
        .any(|p| p.trim() == "echo.v1");
    let on = hyper::upgrade::on(&mut req);
    smol::spawn(async move {
        let mut io = upgraded(on).await.unwrap();
        assert!(
            io.stream().is_some(),
            "hyper's IO type should downcast to Stream"
        );
        let mut buf = [0u8; 1024];
        loop {
            let n = io.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            io.write_all(&buf[..n]).await.unwrap();
            io.flush().await.unwrap();
        }
    })
    .detach();
    let mut resp = http::Response::builder()
        .status(101)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", accept_key(&key));
    if offers_echo {
        resp = resp.header("sec-websocket-protocol", "echo.v1");
    }
    resp.body(empty()).unwrap()
}

/// Writes `msg`, then reads (from `leftover` first, then `stream`) exactly `msg.len()` bytes.
pub(super) async fn echo_round_trip(
    stream: &mut Stream,
    leftover: &mut BytesMut,
    msg: &[u8],
) -> Vec<u8> {
    stream.write_all(msg).await.unwrap();
    stream.flush().await.unwrap();
    let mut got = leftover.split().to_vec();
    while got.len() < msg.len() {
        let mut buf = [0u8; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "EOF after {} echoed bytes", got.len());
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn upgrade_then_echo_raw_bytes() {
    run(async {
        let server = TestServer::start(None, ws_echo).await;
        let target = server.target("ws", "127.0.0.1", "/ws");
        let stream = connect(&target, &ClientTls::webpki()).await.unwrap();
        let outcome = ws_handshake(
            stream,
            &target,
            KEY,
            &["other", "echo.v1"],
            &[("x-trace", "1")],
        )
        .await
        .unwrap();
        let HandshakeOutcome::Upgraded {
            head,
            mut stream,
            mut leftover,
        } = outcome
        else {
            panic!("expected an upgrade, got {outcome:?}");
        };
        assert_eq!(head.status, 101);
        assert_eq!(head.header("sec-websocket-protocol"), Some("echo.v1"));
        for msg in [&b"\x81\x05hello"[..], &[0u8, 1, 2, 255, 254][..]] {
            assert_eq!(echo_round_trip(&mut stream, &mut leftover, msg).await, msg);
        }
        server.stop().await.unwrap();
    });
}

#[test]
fn refused_handshake_returns_status_reason_and_body() {
    run(async {
        let server = TestServer::start(None, ws_echo).await;
        let target = server.target("ws", "127.0.0.1", "/missing");
        let stream = connect(&target, &ClientTls::webpki()).await.unwrap();
        match ws_handshake(stream, &target, KEY, &[], &[]).await.unwrap() {
            HandshakeOutcome::Refused { head, body } => {
                assert_eq!(head.status, 404);
                assert_eq!(head.reason, "Endpoint does not exist");
                assert_eq!(head.header("content-type"), Some("text/plain"));
                assert_eq!(body, "no such hybrid connection");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        server.stop().await.unwrap();
    });
}

/// Bytes sent in the same write as the upgrade request are buffered by hyper and must come
/// out of `upgraded()` first.
#[test]
fn bytes_behind_the_request_head_reach_the_upgraded_stream() {
    run(async {
        let server = TestServer::start(None, ws_echo).await;
        let target = server.target("ws", "127.0.0.1", "/ws");
        let mut stream = connect(&target, &ClientTls::webpki()).await.unwrap();
        let raw = format!(
            "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\nearly bytes",
            target.authority()
        );
        stream.write_all(raw.as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let body = loop {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "EOF; got {:?}", String::from_utf8_lossy(&got));
            got.extend_from_slice(&buf[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n")
                && got.len() >= end + 4 + b"early bytes".len()
            {
                break got.split_off(end + 4);
            }
        };
        assert!(
            got.starts_with(b"HTTP/1.1 101 "),
            "{:?}",
            String::from_utf8_lossy(&got)
        );
        assert_eq!(body, b"early bytes");
        server.stop().await.unwrap();
    });
}

/// The client side of an upgrade through `request` + `upgraded`.
#[test]
fn client_request_upgrade_via_hyper() {
    run(async {
        let server = TestServer::start(None, ws_echo).await;
        let target = server.target("ws", "127.0.0.1", "/ws");
        let req = http::Request::get("/ws")
            .header("upgrade", "websocket")
            .header("connection", "Upgrade")
            .header("sec-websocket-key", KEY)
            .header("sec-websocket-version", "13")
            .body(empty())
            .unwrap();
        let mut resp = request(&target, &ClientTls::webpki(), req).await.unwrap();
        assert_eq!(resp.status(), 101);
        assert_eq!(
            resp.headers()["sec-websocket-accept"],
            accept_key(KEY).as_str()
        );
        let mut io = upgraded(hyper::upgrade::on(&mut resp)).await.unwrap();
        assert!(io.stream().is_some_and(|s| !s.is_tls()));
        io.write_all(b"over hyper").await.unwrap();
        io.flush().await.unwrap();
        let mut buf = [0u8; 10];
        io.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"over hyper");
        server.stop().await.unwrap();
    });
}

/// A one-shot raw server: reads one request head, writes `response` in a single write,
/// then closes. Returns the target to reach it.
async fn canned_server(response: &'static [u8]) -> Target {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    smol::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let mut got = Vec::new();
        while !got.windows(4).any(|w| w == b"\r\n\r\n") {
            let mut buf = [0u8; 1024];
            let n = tcp.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            got.extend_from_slice(&buf[..n]);
        }
        tcp.write_all(response).await.unwrap();
        tcp.close().await.unwrap();
    })
    .detach();
    Target::parse(&format!("ws://127.0.0.1:{port}/x")).unwrap()
}

async fn handshake_with(
    response: &'static [u8],
    protocols: &[&str],
) -> Result<HandshakeOutcome, NetError> {
    let target = canned_server(response).await;
    let stream = connect(&target, &ClientTls::webpki()).await.unwrap();
    ws_handshake(stream, &target, KEY, protocols, &[]).await
}

#[test]
fn bytes_behind_the_101_head_are_returned() {
    run(async {
        let outcome = handshake_with(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n\x81\x03abc",
            &[],
        )
        .await
        .unwrap();
        let HandshakeOutcome::Upgraded {
            mut stream,
            leftover,
            ..
        } = outcome
        else {
            panic!("expected an upgrade, got {outcome:?}");
        };
        // However the bytes were split by TCP, leftover + the rest of the stream is the frame.
        let mut all = leftover.to_vec();
        stream.read_to_end(&mut all).await.unwrap();
        assert_eq!(all, b"\x81\x03abc");
    });
}

#[test]
fn chunked_refusal_body_is_decoded() {
    run(async {
        let outcome = handshake_with(
            b"HTTP/1.1 401 Unauthorized: token expired\r\nTransfer-Encoding: chunked\r\n\r\n\
              6\r\nunauth\r\n6;ext=1\r\norized\r\n0\r\n\r\n",
            &[],
        )
        .await
        .unwrap();
        match outcome {
            HandshakeOutcome::Refused { head, body } => {
                assert_eq!(
                    (head.status, head.reason.as_str()),
                    (401, "Unauthorized: token expired")
                );
                assert_eq!(body, "unauthorized");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        // Close-delimited body, no length.
        let outcome = handshake_with(b"HTTP/1.1 410 Gone\r\n\r\nlistener gone", &[])
            .await
            .unwrap();
        assert!(matches!(outcome, HandshakeOutcome::Refused { head, body }
            if head.status == 410 && body == "listener gone"));
    });
}

#[test]
fn invalid_101_answers_are_errors() {
    run(async {
        let bad_accept: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n\r\n";
        assert!(matches!(
            handshake_with(bad_accept, &[]).await,
            Err(NetError::Handshake(HandshakeError::Invalid(
                CoreHandshakeError::BadAccept
            )))
        ));
        let no_upgrade: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
        assert!(matches!(
            handshake_with(no_upgrade, &[]).await,
            Err(NetError::Handshake(HandshakeError::Invalid(
                CoreHandshakeError::MissingUpgrade
            )))
        ));
        let unoffered: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
              Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
              Sec-WebSocket-Protocol: mqtt\r\n\r\n";
        assert!(matches!(
            handshake_with(unoffered, &["chat"]).await,
            Err(NetError::Handshake(HandshakeError::UnexpectedProtocol(p))) if p == "mqtt"
        ));
        assert!(matches!(
            handshake_with(b"HTTP/1.1 101 Switch", &[]).await,
            Err(NetError::Handshake(HandshakeError::UnexpectedEof))
        ));
        let huge = format!(
            "HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n",
            "a".repeat(MAX_HEAD_LEN)
        );
        let huge: &'static [u8] = Box::leak(huge.into_bytes().into_boxed_slice());
        assert!(matches!(
            handshake_with(huge, &[]).await,
            Err(NetError::Handshake(HandshakeError::HeadTooLarge(
                MAX_HEAD_LEN
            )))
        ));
        assert!(matches!(
            handshake_with(b"HTTX/1.1 200 OK\r\n\r\n", &[]).await,
            Err(NetError::Handshake(HandshakeError::Invalid(
                CoreHandshakeError::MalformedResponse
            )))
        ));
    });
}
