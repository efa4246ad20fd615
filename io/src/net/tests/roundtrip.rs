//! `serve` + `request` round trips, streaming bodies, keep-alive and shutdown.

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use smol_hyper::rt::FuturesIo;

use super::{TestServer, run};
use crate::net::{
    BodyAborted, BodyClosed, ClientTls, ConnInfo, NetError, channel_body, connect, empty, full,
    request, with_timeout,
};

async fn describe(
    req: http::Request<Incoming>,
    info: ConnInfo,
) -> http::Response<crate::net::Body> {
    let head = format!(
        "{} {} host={} tls={} local={}",
        req.method(),
        req.uri(),
        req.headers()
            .get(http::header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-"),
        info.tls,
        info.local,
    );
    let body = req.into_body().collect().await.unwrap().to_bytes();
    http::Response::builder()
        .header("x-peer", info.peer.to_string())
        .body(full(format!(
            "{head} body={}",
            String::from_utf8_lossy(&body)
        )))
        .unwrap()
}

#[test]
fn get_round_trip() {
    run(async {
        let server = TestServer::start(None, describe).await;
        let target = server.target("http", "127.0.0.1", "/hello?x=1");
        let req = http::Request::get(target.path_and_query.as_str())
            .body(empty())
            .unwrap();
        let resp = request(&target, &ClientTls::webpki(), req).await.unwrap();
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let expected = format!(
            "GET /hello?x=1 host=127.0.0.1:{0} tls=false local=127.0.0.1:{0} body=",
            server.addr.port()
        );
        assert_eq!(body, expected.as_bytes());
        server.stop().await.unwrap();
    });
}

#[test]
fn absolute_request_uri_is_sent_in_origin_form() {
    run(async {
        let server = TestServer::start(None, describe).await;
        let target = server.target("http", "127.0.0.1", "/");
        let req = http::Request::delete("http://elsewhere.example/a/b?c")
            .header("host", "custom.example")
            .body(empty())
            .unwrap();
        let resp = request(&target, &ClientTls::webpki(), req).await.unwrap();
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(
            body.starts_with("DELETE /a/b?c host=custom.example "),
            "{body}"
        );
        server.stop().await.unwrap();
    });
}

#[test]
fn post_with_streaming_request_body() {
    run(async {
        let server = TestServer::start(None, describe).await;
        let target = server.target("http", "127.0.0.1", "/upload");
        let (tx, body) = channel_body(1);
        let feeder = smol::spawn(async move {
            for part in ["one,", "", "two,", "three"] {
                tx.send(Bytes::from(part)).await.unwrap();
            }
            // dropping `tx` ends the body
        });
        let req = http::Request::post("/upload").body(body).unwrap();
        let resp = request(&target, &ClientTls::webpki(), req).await.unwrap();
        feeder.await;
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.starts_with("POST /upload "), "{body}");
        assert!(body.ends_with(" body=one,two,three"), "{body}");
        server.stop().await.unwrap();
    });
}

/// The handler sends chunk 2 only after the client acknowledged chunk 1: the test can only
/// finish if chunk 1 reached the client on its own.
#[test]
fn chunked_response_arrives_piecewise() {
    run(async {
        let (ack_tx, ack_rx) = async_channel::bounded::<()>(1);
        let server = TestServer::start(None, move |_req, _info| {
            let ack_rx = ack_rx.clone();
            async move {
                let (tx, body) = channel_body(4);
                smol::spawn(async move {
                    tx.send(Bytes::from_static(b"chunk 1")).await.unwrap();
                    ack_rx.recv().await.unwrap();
                    tx.send(Bytes::from_static(b"chunk 2")).await.unwrap();
                })
                .detach();
                http::Response::new(body)
            }
        })
        .await;
        let target = server.target("http", "127.0.0.1", "/stream");
        let req = http::Request::get("/stream").body(empty()).unwrap();
        let resp = request(&target, &ClientTls::webpki(), req).await.unwrap();
        assert_eq!(
            resp.headers().get(http::header::TRANSFER_ENCODING).unwrap(),
            "chunked"
        );
        let mut body = resp.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "chunk 1");
        ack_tx.send(()).await.unwrap();
        let second = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(second, "chunk 2");
        assert!(body.frame().await.is_none());
        server.stop().await.unwrap();
    });
}

/// The handler aborts its body after the client has read the first chunk: the client's
/// body then ends with an error instead of a clean end.
#[test]
fn aborted_response_body_is_an_error_for_the_client() {
    run(async {
        let (ack_tx, ack_rx) = async_channel::bounded::<()>(1);
        let server = TestServer::start(None, move |_req, _info| {
            let ack_rx = ack_rx.clone();
            async move {
                let (tx, body) = channel_body(4);
                smol::spawn(async move {
                    tx.send(Bytes::from_static(b"partial")).await.unwrap();
                    ack_rx.recv().await.unwrap();
                    tx.abort();
                })
                .detach();
                http::Response::new(body)
            }
        })
        .await;
        let target = server.target("http", "127.0.0.1", "/");
        let req = http::Request::get("/").body(empty()).unwrap();
        let resp = request(&target, &ClientTls::webpki(), req).await.unwrap();
        let mut body = resp.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "partial");
        ack_tx.send(()).await.unwrap();
        assert!(matches!(body.frame().await, Some(Err(_))));
        server.stop().await.unwrap();
    });
}

#[test]
fn body_sender_reports_a_dropped_body_and_abort_reaches_the_reader() {
    run(async {
        let (tx, body) = channel_body(1);
        drop(body);
        assert!(tx.is_closed());
        assert_eq!(tx.send(Bytes::from_static(b"x")).await, Err(BodyClosed));

        let (tx, mut body) = channel_body(2);
        tx.send(Bytes::from_static(b"a")).await.unwrap();
        tx.abort();
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "a");
        let err = body.frame().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionAborted);
        assert!(err.get_ref().unwrap().is::<BodyAborted>());
        assert!(body.frame().await.is_none());
    });
}

/// Two requests over one hyper client connection reach the handler from the same peer
/// address, i.e. the same TCP connection.
#[test]
fn keep_alive_serves_two_requests_on_one_connection() {
    run(async {
        let server = TestServer::start(None, describe).await;
        let target = server.target("http", "127.0.0.1", "/");
        let stream = connect(&target, &ClientTls::webpki()).await.unwrap();
        let local = stream.local_addr().unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake::<_, crate::net::Body>(FuturesIo::new(stream))
                .await
                .unwrap();
        let driver = smol::spawn(conn);
        for i in 0..2 {
            let req = http::Request::get(format!("/req{i}"))
                .header("host", target.authority())
                .body(full(format!("n{i}")))
                .unwrap();
            sender.ready().await.unwrap(); // the previous exchange has finished
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.headers()["x-peer"], local.to_string().as_str());
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let body = String::from_utf8(body.to_vec()).unwrap();
            assert!(body.starts_with(&format!("GET /req{i} ")), "{body}");
            assert!(body.ends_with(&format!("body=n{i}")), "{body}");
        }
        drop(sender);
        driver.await.unwrap();
        server.stop().await.unwrap();
    });
}

/// A request whose handler never answers is cut off when the server shuts down, and
/// `serve` returns `Ok`.
#[test]
fn shutdown_drops_in_flight_connections() {
    run(async {
        let (entered_tx, entered_rx) = async_channel::bounded::<()>(1);
        let server = TestServer::start(None, move |_req, _info| {
            let entered_tx = entered_tx.clone();
            async move {
                entered_tx.send(()).await.unwrap();
                futures_lite::future::pending::<http::Response<crate::net::Body>>().await
            }
        })
        .await;
        let target = server.target("http", "127.0.0.1", "/");
        let client = smol::spawn(async move {
            let req = http::Request::get("/").body(empty()).unwrap();
            request(&target, &ClientTls::webpki(), req).await
        });
        entered_rx.recv().await.unwrap();
        server.stop().await.unwrap();
        assert!(matches!(client.await, Err(NetError::Http(_))));
    });
}

#[test]
fn connect_errors_are_typed() {
    run(async {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let target = crate::net::Target::parse(&format!("http://127.0.0.1:{port}/")).unwrap();
        match connect(&target, &ClientTls::webpki()).await {
            Err(NetError::Connect { host, port: p, .. }) => {
                assert_eq!((host.as_str(), p), ("127.0.0.1", port));
            }
            other => panic!("expected Connect, got {other:?}"),
        }

        let never = futures_lite::future::pending::<Result<(), NetError>>();
        let limit = std::time::Duration::from_millis(20);
        assert!(matches!(
            with_timeout(limit, never).await,
            Err(NetError::Timeout(l)) if l == limit
        ));
    });
}
