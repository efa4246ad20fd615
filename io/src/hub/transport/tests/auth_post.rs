//! POST status rules and the auth hook (Bearer header and `access_token` query).

use super::*;
use crate::hub::transport::{Principal, Unauthorized};

#[test]
fn post_status_rules() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        assert_eq!(fx.call("POST", "/demo", &[]).await.status, 400);
        assert_eq!(fx.call("POST", "/demo?id=nope", &[]).await.status, 404);
        let ws_token = fx.token("").await;
        let _ws = fx.ws(&format!("/demo?id={ws_token}")).await;
        let _ws_conn = fx.accept().await;
        assert_eq!(
            fx.call("POST", &format!("/demo?id={ws_token}"), &[])
                .await
                .status,
            405
        );

        let token = fx.token("").await;
        let url = format!("/demo?id={token}");
        assert_eq!(fx.call("GET", &url, &[]).await.status, 200);
        let conn = fx.accept().await;
        // A POST whose body is still streaming holds the connection's send slot.
        let (body_tx, body) = net::channel_body(4);
        let first = fx.spawn_call("POST", &url, &[], body);
        body_tx.send(Bytes::from_static(b"part1")).await.unwrap();
        assert_eq!(
            event(&conn).await,
            TransportEvent::Data(Bytes::from_static(b"part1"))
        );
        let second = fx.call_with("POST", &url, &[], net::full(&b"x"[..])).await;
        assert_eq!(second.status, 409);
        body_tx.send(Bytes::from_static(b"part2")).await.unwrap();
        drop(body_tx);
        assert_eq!(
            event(&conn).await,
            TransportEvent::Data(Bytes::from_static(b"part2"))
        );
        assert_eq!(step("the first POST", first).await.status, 200);
        // The connection survived the refused POST.
        let again = fx.call_with("POST", &url, &[], net::full(&b"y"[..])).await;
        assert_eq!(again.status, 200);
        assert_eq!(
            event(&conn).await,
            TransportEvent::Data(Bytes::from_static(b"y"))
        );
        fx.server.shutdown().await;
    });
}

fn secured() -> HubRoute {
    HubRoute::new("/demo").with_auth(|req| match req.token {
        Some("s3cr+t") => Ok(Principal {
            user_id: Some("alice".into()),
            claims: vec![("role".into(), "admin".into())],
        }),
        _ => Err(Unauthorized),
    })
}

const BEARER: (&str, &str) = ("authorization", "Bearer s3cr+t");

#[test]
fn auth_hook_reads_bearer_and_access_token() {
    run(async {
        let fx = Fixture::start(secured()).await;
        let neg = "/demo/negotiate?negotiateVersion=1";
        assert_eq!(fx.call("POST", neg, &[]).await.status, 401);
        let wrong = ("authorization", "Bearer nope");
        assert_eq!(fx.call("POST", neg, &[wrong]).await.status, 401);
        let a = fx.call("POST", neg, &[BEARER]).await;
        assert_eq!(a.status, 200);
        let token = a.json()["connectionToken"].as_str().unwrap().to_owned();

        // WebSocket: browsers put the token in the query (URL-encoded).
        assert_eq!(fx.ws_status(&format!("/demo?id={token}")).await, 401);
        let (_stream, _) = fx
            .ws_raw(&format!("/demo?id={token}&access_token=s3cr%2Bt"), &[])
            .await
            .expect("101 with access_token");
        let conn = fx.accept().await;
        assert_eq!(conn.principal.user_id.as_deref(), Some("alice"));
        assert!(conn.query.iter().all(|(n, _)| n != "access_token"));
        assert!(conn.headers.iter().all(|(n, _)| n != "authorization"));

        // Node clients send the header on the upgrade.
        let token = fx.call("POST", neg, &[BEARER]).await.json()["connectionToken"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            fx.ws_raw(&format!("/demo?id={token}"), &[BEARER])
                .await
                .is_ok()
        );
        let _ = fx.accept().await;

        // SSE with access_token, POST with and without the header.
        let token = fx.call("POST", neg, &[BEARER]).await.json()["connectionToken"]
            .as_str()
            .unwrap()
            .to_owned();
        let sse = ("accept", "text/event-stream");
        assert_eq!(
            fx.call("GET", &format!("/demo?id={token}"), &[sse])
                .await
                .status,
            401
        );
        let stream = fx
            .send(
                "GET",
                &format!("/demo?id={token}&access_token=s3cr%2Bt"),
                &[sse],
                net::empty(),
            )
            .await;
        assert_eq!(stream.status(), 200);
        let _sse_conn = fx.accept().await;
        assert_eq!(
            fx.call("POST", &format!("/demo?id={token}"), &[])
                .await
                .status,
            401
        );
        let post = fx
            .call_with(
                "POST",
                &format!("/demo?id={token}"),
                &[BEARER],
                net::full(&b"x"[..]),
            )
            .await;
        assert_eq!(post.status, 200);

        // Long polling with the header.
        let token = fx.call("POST", neg, &[BEARER]).await.json()["connectionToken"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(
            fx.call("GET", &format!("/demo?id={token}"), &[])
                .await
                .status,
            401
        );
        assert_eq!(
            fx.call("GET", &format!("/demo?id={token}"), &[BEARER])
                .await
                .status,
            200
        );
        assert_eq!(
            fx.call("DELETE", &format!("/demo?id={token}"), &[])
                .await
                .status,
            401
        );
        fx.server.shutdown().await;
    });
}
