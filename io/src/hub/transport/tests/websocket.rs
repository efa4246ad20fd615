//! WebSockets: status rules (§13.9), data both ways, close semantics and stateful re-attach.

use super::*;
use crate::hub::transport::{SendError, TransportKind};
use interlink_core::ws::Message;

#[test]
fn websocket_status_rules() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        assert_eq!(fx.ws_status("/demo?id=unknown").await, 404);
        let token = fx.token("").await;
        let _first = fx.ws(&format!("/demo?id={token}")).await;
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 409);
        let sse_token = fx.token("").await;
        let sse = fx
            .send(
                "GET",
                &format!("/demo?id={sse_token}"),
                &[("accept", "text/event-stream")],
                net::empty(),
            )
            .await;
        assert_eq!(sse.status(), 200);
        let (status, body) = fx
            .ws_raw(&format!("/demo?id={sse_token}"), &[])
            .await
            .unwrap_err();
        assert_eq!(
            (status, &body[..]),
            (400, &b"Cannot change transports mid-connection"[..])
        );
        fx.server.shutdown().await;

        let options = TransportOptions {
            transports: vec![TransportKind::LongPolling],
            ..TransportOptions::default()
        };
        let fx = Fixture::start(HubRoute::new("/demo").with_options(options)).await;
        let token = fx.token("").await;
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 404);
        assert_eq!(fx.ws_status("/demo").await, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn frames_flow_both_ways_without_negotiate() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        let ws = fx.ws("/demo").await;
        let conn = fx.accept().await;
        assert_eq!(conn.transport, TransportKind::WebSockets);
        assert!(!conn.stateful);
        ws.send_text("{\"protocol\":\"json\",\"version\":1}\u{1e}")
            .await
            .unwrap();
        assert_eq!(
            event(&conn).await,
            TransportEvent::Data(Bytes::from_static(
                b"{\"protocol\":\"json\",\"version\":1}\x1e"
            ))
        );
        conn.sender
            .send(Bytes::from_static(b"{}\x1e"), false)
            .await
            .unwrap();
        conn.sender
            .send(Bytes::from_static(&[0x91, 0x06]), true)
            .await
            .unwrap();
        assert_eq!(
            ws_recv(&ws).await,
            Some(Received::Message(Message::Text("{}\u{1e}".into())))
        );
        assert_eq!(
            ws_recv(&ws).await,
            Some(Received::Message(Message::Binary(Bytes::from_static(&[
                0x91, 0x06
            ]))))
        );
        assert_eq!(
            conn.sender.send(Bytes::from_static(&[0xff]), false).await,
            Err(SendError::NotUtf8)
        );
        // The client closes (1000): graceful, the connection is over.
        ws.close(1000, "").await.unwrap();
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert!(
            conn.events.recv().await.is_err(),
            "Closed is the last event"
        );
        fx.server.shutdown().await;
    });
}

#[test]
fn server_close_sends_a_close_frame_and_forbids_reattach() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo").with_options(quick(true))).await;
        let token = fx.token("&useStatefulReconnect=true").await;
        let ws = fx.ws(&format!("/demo?id={token}")).await;
        let conn = fx.accept().await;
        assert!(conn.stateful);
        conn.sender
            .send(Bytes::from_static(b"bye"), false)
            .await
            .unwrap();
        conn.sender.close().await;
        assert_eq!(
            ws_recv(&ws).await,
            Some(Received::Message(Message::Text("bye".into())))
        );
        assert_eq!(
            ws_recv(&ws).await,
            Some(Received::Closed(Some(1000), String::new()))
        );
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(
            conn.sender.send(Bytes::from_static(b"x"), false).await,
            Err(SendError::Closed)
        );
        // The JS client re-opens with the same id after any close: 404.
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn stateful_abort_then_reattach_with_the_same_id() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo").with_options(quick(true))).await;
        let token = fx.token("&useStatefulReconnect=true").await;
        let ws = fx.ws(&format!("/demo?id={token}")).await;
        let conn = fx.accept().await;
        conn.sender.abort();
        assert_eq!(event(&conn).await, TransportEvent::Lost);
        // No Close frame reached the client: the socket just ended (1006 for browsers).
        assert_eq!(ws_recv(&ws).await, None);
        assert_eq!(
            conn.sender.send(Bytes::from_static(b"lost"), false).await,
            Err(SendError::Detached)
        );
        let ws2 = fx.ws(&format!("/demo?id={token}")).await;
        assert_eq!(event(&conn).await, TransportEvent::Reattached);
        ws2.send_text("{\"type\":9,\"sequenceId\":1}\u{1e}")
            .await
            .unwrap();
        assert_eq!(
            event(&conn).await,
            TransportEvent::Data(Bytes::from_static(b"{\"type\":9,\"sequenceId\":1}\x1e"))
        );
        conn.sender
            .send(Bytes::from_static(b"again"), false)
            .await
            .unwrap();
        assert_eq!(
            ws_recv(&ws2).await,
            Some(Received::Message(Message::Text("again".into())))
        );
        assert_eq!(fx.server.connections(0), 1);
        conn.sender.close().await;
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn client_side_loss_waits_for_reattach_then_expires() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo").with_options(quick(true))).await;
        let token = fx.token("&useStatefulReconnect=true").await;
        let (stream, _) = fx.ws_raw(&format!("/demo?id={token}"), &[]).await.unwrap();
        let conn = fx.accept().await;
        drop(stream); // EOF without a Close frame
        assert_eq!(event(&conn).await, TransportEvent::Lost);
        // Nobody comes back within the disconnect timeout (400 ms).
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(fx.server.connections(0), 0);
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn losses_without_stateful_or_graceful_closes_end_the_connection() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo").with_options(quick(true))).await;
        // Stateful not requested: an abort is final.
        let token = fx.token("").await;
        let _ws = fx.ws(&format!("/demo?id={token}")).await;
        let conn = fx.accept().await;
        conn.sender.abort();
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 404);
        // Stateful, but the client closed properly: final too.
        let token = fx.token("&useStatefulReconnect=true").await;
        let ws = fx.ws(&format!("/demo?id={token}")).await;
        let conn = fx.accept().await;
        ws.close(1000, "").await.unwrap();
        assert_eq!(event(&conn).await, TransportEvent::Closed);
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 404);
        fx.server.shutdown().await;
    });
}

#[test]
fn negotiated_but_never_connected_expires() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo").with_options(quick(false))).await;
        let token = fx.token("").await;
        assert_eq!(fx.server.connections(0), 1);
        step("the negotiation to expire", async {
            while fx.server.connections(0) != 0 {
                async_io::Timer::after(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 404);
        fx.server.shutdown().await;
    });
}
