//! Server-Sent Events: status rules, exact headers, framing, POST, close and disconnect.

use super::*;
use crate::hub::transport::{SendError, TransportKind};

/// Reads from an event stream until `buf` ends with `suffix`.
async fn read_until(body: &mut Incoming, buf: &mut Vec<u8>, suffix: &[u8]) {
    step("event-stream bytes", async {
        while !buf.ends_with(suffix) {
            let frame = body.frame().await.expect("stream open").expect("no error");
            if let Ok(data) = frame.into_data() {
                buf.extend_from_slice(&data);
            }
        }
    })
    .await
}

const SSE: (&str, &str) = ("accept", "text/event-stream");

#[test]
fn sse_status_rules() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        assert_eq!(fx.call("GET", "/demo", &[SSE]).await.status, 400);
        assert_eq!(fx.call("GET", "/demo?id=nope", &[SSE]).await.status, 404);
        let token = fx.token("").await;
        let first = fx
            .send("GET", &format!("/demo?id={token}"), &[SSE], net::empty())
            .await;
        assert_eq!(first.status(), 200);
        let second = fx.call("GET", &format!("/demo?id={token}"), &[SSE]).await;
        assert_eq!(second.status, 409);
        let poll = fx.call("GET", &format!("/demo?id={token}"), &[]).await;
        assert_eq!(poll.status, 400, "switching to long polling");
        fx.server.shutdown().await;
    });
}

#[test]
fn event_stream_headers_framing_post_and_close() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        let token = fx.token("").await;
        let resp = fx
            .send("GET", &format!("/demo?id={token}"), &[SSE], net::empty())
            .await;
        assert_eq!(resp.status(), 200);
        let h = resp.headers();
        assert_eq!(h["content-type"], "text/event-stream");
        assert_eq!(h["cache-control"], "no-cache,no-store");
        assert_eq!(h["pragma"], "no-cache");
        assert_eq!(h["content-encoding"], "identity");
        let mut body = resp.into_body();
        let mut buf = Vec::new();
        read_until(&mut body, &mut buf, b":\r\n").await;
        assert_eq!(buf, b":\r\n", "the comment comes at once");

        let conn = fx.accept().await;
        assert_eq!(conn.transport, TransportKind::ServerSentEvents);
        conn.sender
            .send(Bytes::from_static(b"{}\x1e"), false)
            .await
            .unwrap();
        conn.sender
            .send(Bytes::from_static(b"a\nb"), false)
            .await
            .unwrap();
        buf.clear();
        read_until(&mut body, &mut buf, b"data: b\r\n\r\n").await;
        assert_eq!(buf, b"data: {}\x1e\r\n\r\ndata: a\r\ndata: b\r\n\r\n");
        assert_eq!(
            conn.sender.send(Bytes::from_static(&[1]), true).await,
            Err(SendError::BinaryNotSupported)
        );

        let post = fx
            .call_with(
                "POST",
                &format!("/demo?id={token}"),
                &[],
                net::full(&b"{\"type\":6}\x1e"[..]),
            )
            .await;
        assert_eq!(post.status, 200);
        assert_eq!(
            event(&conn).await,
            TransportEvent::Data(Bytes::from_static(b"{\"type\":6}\x1e"))
        );

        conn.sender
            .send(Bytes::from_static(b"last"), false)
            .await
            .unwrap();
        conn.sender.close().await;
        buf.clear();
        step("the end of the stream", async {
            while let Some(frame) = body.frame().await {
                buf.extend_from_slice(&frame.unwrap().into_data().unwrap_or_default());
            }
        })
        .await;
        assert_eq!(
            buf, b"data: last\r\n\r\n",
            "queued frames go out before the end"
        );
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        let post = fx.call("POST", &format!("/demo?id={token}"), &[]).await;
        assert_eq!(post.status, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn client_disconnect_ends_the_connection() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        let token = fx.token("").await;
        let resp = fx
            .send("GET", &format!("/demo?id={token}"), &[SSE], net::empty())
            .await;
        let conn = fx.accept().await;
        drop(resp);
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(fx.server.connections(0), 0);
        fx.server.shutdown().await;
    });
}
