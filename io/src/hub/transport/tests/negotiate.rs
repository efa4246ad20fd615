//! `POST {path}/negotiate` over HTTP (§13.8) and route matching.

use super::*;
use crate::hub::transport::NegotiateMode;

fn transports() -> serde_json::Value {
    serde_json::json!([
        {"transport": "WebSockets", "transferFormats": ["Text", "Binary"]},
        {"transport": "ServerSentEvents", "transferFormats": ["Text"]},
        {"transport": "LongPolling", "transferFormats": ["Text", "Binary"]},
    ])
}

#[test]
fn versions_clamp_and_invalid() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/demo")).await;
        // v0 (pysignalr): no token; the id is what the client sends as `id`.
        let v0 = fx.negotiate("").await;
        assert!(v0.get("connectionToken").is_none(), "{v0}");
        assert_eq!(v0["negotiateVersion"], 0);
        assert_eq!(v0["availableTransports"], transports());
        let id = v0["connectionId"].as_str().unwrap();
        assert_eq!(id.len(), 22);
        assert_eq!(fx.ws_status(&format!("/demo?id={id}")).await, 101);

        let v1 = fx.negotiate("negotiateVersion=1").await;
        assert_eq!(v1["negotiateVersion"], 1);
        assert_ne!(v1["connectionToken"], v1["connectionId"]);
        assert!(v1.get("useStatefulReconnect").is_none());

        assert_eq!(
            fx.negotiate("negotiateVersion=5").await["negotiateVersion"],
            1
        );
        let bad = fx.negotiate("negotiateVersion=abc").await;
        assert!(bad["error"].as_str().unwrap().contains("abc"), "{bad}");
        assert!(bad.get("connectionId").is_none());

        let a = fx.call("GET", "/demo/negotiate", &[]).await;
        assert_eq!(a.status, 405);
        let a = fx
            .call("POST", "/demo/negotiate?negotiateVersion=1", &[])
            .await;
        assert_eq!(a.headers.get("content-type").unwrap(), "application/json");
        fx.server.shutdown().await;
    });
}

#[test]
fn stateful_is_echoed_only_when_enabled() {
    run(async {
        let off = Fixture::start(HubRoute::new("/demo")).await;
        let v = off
            .negotiate("negotiateVersion=1&useStatefulReconnect=true")
            .await;
        assert!(v.get("useStatefulReconnect").is_none(), "{v}");
        let on = Fixture::start(HubRoute::new("/demo").with_options(quick(true))).await;
        let v = on
            .negotiate("negotiateVersion=1&useStatefulReconnect=true")
            .await;
        assert_eq!(v["useStatefulReconnect"], true);
        let v = on.negotiate("negotiateVersion=1").await;
        assert!(
            v.get("useStatefulReconnect").is_none(),
            "not requested: {v}"
        );
        off.server.shutdown().await;
        on.server.shutdown().await;
    });
}

#[test]
fn redirect_and_error_modes() {
    run(async {
        let fx = Fixture::start(
            HubRoute::new("/demo").with_negotiate(NegotiateMode::Redirect {
                url: "http://127.0.0.1:1/client/?hub=demo".into(),
                access_token: "jwt".into(),
            }),
        )
        .await;
        let v = fx.negotiate("negotiateVersion=1").await;
        assert_eq!(
            v,
            serde_json::json!({"url": "http://127.0.0.1:1/client/?hub=demo", "accessToken": "jwt"})
        );
        fx.server.shutdown().await;
        let fx = Fixture::start(
            HubRoute::new("/demo").with_negotiate(NegotiateMode::Error("go away".into())),
        )
        .await;
        assert_eq!(
            fx.negotiate("negotiateVersion=1").await,
            serde_json::json!({"error": "go away"})
        );
        fx.server.shutdown().await;
    });
}

#[test]
fn hub_query_selects_the_route() {
    run(async {
        let fx = Fixture::start(HubRoute::new("/client/").with_hub("demo")).await;
        let a = fx
            .call("POST", "/client/negotiate?hub=demo&negotiateVersion=1", &[])
            .await;
        assert_eq!(a.status, 200);
        let token = a.json()["connectionToken"].as_str().unwrap().to_owned();
        let wrong = fx
            .call(
                "POST",
                "/client/negotiate?hub=other&negotiateVersion=1",
                &[],
            )
            .await;
        assert_eq!(wrong.status, 404);
        assert_eq!(fx.call("POST", "/client/negotiate", &[]).await.status, 404);
        assert_eq!(
            fx.call("POST", "/elsewhere/negotiate?hub=demo", &[])
                .await
                .status,
            404
        );
        // A redirected client (pysignalr) comes straight to the URL without an id.
        assert_eq!(fx.ws_status("/client/?hub=DEMO").await, 101);
        let lazy = fx.accept().await;
        assert_eq!(lazy.connection_id.len(), 22);
        assert!(lazy.query.contains(&("hub".into(), "DEMO".into())));
        assert_eq!(
            fx.ws_status(&format!("/client/?hub=demo&id={token}")).await,
            101
        );
        fx.server.shutdown().await;
    });
}
