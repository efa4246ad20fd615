//! Long polling: first poll at once, held polls, superseded polls, DELETE, timeouts, close,
//! backpressure.

use super::*;
use crate::hub::transport::{SendError, TransportKind};

#[test]
fn poll_status_rules() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        assert_eq!(fx.call("GET", "/demo", &[]).await.status, 400);
        assert_eq!(fx.call("GET", "/demo?id=nope", &[]).await.status, 404);
        assert_eq!(fx.call("DELETE", "/demo", &[]).await.status, 400);
        assert_eq!(fx.call("DELETE", "/demo?id=nope", &[]).await.status, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn first_poll_at_once_then_data_or_hold() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        let token = fx.token("").await;
        let poll = format!("/demo?id={token}&_=1");
        let first = fx.call("GET", &poll, &[]).await;
        assert_eq!((first.status, first.body.len()), (200, 0));
        let conn = fx.accept().await;
        assert_eq!(conn.transport, TransportKind::LongPolling);

        // Data already queued: answered at once, frames concatenated.
        conn.sender
            .send(Bytes::from_static(b"{}\x1e"), false)
            .await
            .unwrap();
        conn.sender
            .send(Bytes::from_static(b"{\"type\":6}\x1e"), false)
            .await
            .unwrap();
        let a = fx.call("GET", &poll, &[]).await;
        assert_eq!((a.status, a.text()), (200, "{}\x1e{\"type\":6}\x1e"));
        assert_eq!(a.headers["content-type"], "text/plain; charset=utf-8");

        // Nothing queued: held until data arrives.
        let held = fx.spawn_call("GET", &poll, &[], net::empty());
        fx.held(1).await;
        conn.sender
            .send(Bytes::from_static(&[0x91, 0x06]), true)
            .await
            .unwrap();
        let a = step("the held poll", held).await;
        assert_eq!((a.status, &a.body[..]), (200, &[0x91, 0x06][..]));
        assert_eq!(a.headers["content-type"], "application/octet-stream");
        fx.server.shutdown().await;
    });
}

#[test]
fn held_poll_times_out_with_200_empty() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo").with_options(quick(false))).await;
        let token = fx.token("").await;
        let poll = format!("/demo?id={token}");
        assert_eq!(fx.call("GET", &poll, &[]).await.status, 200);
        let _conn = fx.accept().await;
        let a = fx.call("GET", &poll, &[]).await; // held for the 400 ms poll timeout
        assert_eq!((a.status, a.body.len()), (200, 0));
        assert_eq!(fx.server.connections(0), 1, "the connection lives on");
        fx.server.shutdown().await;
    });
}

#[test]
fn newer_poll_supersedes_and_delete_ends_with_202_and_204() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        let token = fx.token("").await;
        let poll = format!("/demo?id={token}");
        assert_eq!(fx.call("GET", &poll, &[]).await.status, 200);
        let conn = fx.accept().await;
        let old = fx.spawn_call("GET", &poll, &[], net::empty());
        fx.held(1).await;
        let new = fx.spawn_call("GET", &poll, &[], net::empty());
        assert_eq!(step("the superseded poll", old).await.status, 204);
        fx.held(1).await;
        let del = fx.call("DELETE", &poll, &[]).await;
        assert_eq!(del.status, 202);
        assert_eq!(step("the pending poll", new).await.status, 204);
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(fx.call("GET", &poll, &[]).await.status, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn server_close_delivers_queued_frames_then_204() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        let token = fx.token("").await;
        let poll = format!("/demo?id={token}");
        assert_eq!(fx.call("GET", &poll, &[]).await.status, 200);
        let conn = fx.accept().await;
        conn.sender
            .send(Bytes::from_static(b"{\"type\":7}\x1e"), false)
            .await
            .unwrap();
        let sender = conn.sender.clone();
        let mut closing = smol::spawn(async move { sender.close().await });
        assert!(
            still_pending(Duration::from_millis(50), &mut closing).await,
            "close() waits until the queued frame was polled"
        );
        let a = fx.call("GET", &poll, &[]).await;
        assert_eq!((a.status, a.text()), (200, "{\"type\":7}\x1e"));
        step("close()", closing).await;
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(fx.call("GET", &poll, &[]).await.status, 204, "closed ⇒ 204");
        assert_eq!(fx.call("GET", &poll, &[]).await.status, 404);
        assert_eq!(
            conn.sender.send(Bytes::from_static(b"x"), false).await,
            Err(SendError::Closed)
        );
        fx.server.shutdown().await;
    });
}

#[test]
fn full_queue_holds_the_sender_until_a_poll_drains_it() {
    run(async {
        let options = TransportOptions {
            max_buffered_bytes: 8,
            ..TransportOptions::default()
        };
        let fx = Fixture::start(HubRoute::new("/demo").with_options(options)).await;
        let token = fx.token("").await;
        let poll = format!("/demo?id={token}");
        assert_eq!(fx.call("GET", &poll, &[]).await.status, 200);
        let conn = fx.accept().await;
        conn.sender
            .try_send(Bytes::from_static(b"123456"), false)
            .unwrap();
        assert_eq!(
            conn.sender.try_send(Bytes::from_static(b"789"), false),
            Err(SendError::Full)
        );
        let sender = conn.sender.clone();
        let mut blocked =
            smol::spawn(async move { sender.send(Bytes::from_static(b"789"), false).await });
        assert!(still_pending(Duration::from_millis(100), &mut blocked).await);
        assert_eq!(fx.call("GET", &poll, &[]).await.text(), "123456");
        step("the blocked send", blocked).await.unwrap();
        assert_eq!(fx.call("GET", &poll, &[]).await.text(), "789");
        fx.server.shutdown().await;
    });
}
