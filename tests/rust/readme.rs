//! The README's "Use it from Rust" example, kept runnable.

use http_body_util::BodyExt;
use interlink::net::{self, ClientTls};
use interlink::relay::{
    GatewayOptions, GatewayServer, ListenerOptions, RelayListener, RelaySender,
};

#[test]
fn readme_example() -> Result<(), Box<dyn std::error::Error>> {
    smol::block_on(async {
        let gateway = GatewayServer::start(GatewayOptions::local()).await?;
        let cs = gateway.connection_string();

        let listener = RelayListener::bind(&cs, "hc1", ListenerOptions::default()).await?;
        listener.set_http_handler(|req: http::Request<net::Body>| async move {
            http::Response::new(net::full(format!("hello from {}", req.uri())))
        });

        let sender = RelaySender::new(&cs, "hc1", ClientTls::webpki())?;
        let resp = sender
            .request(http::Request::get("/greet").body(net::empty())?)
            .await?;
        let body = resp.into_body().collect().await?.to_bytes();
        assert_eq!(body, "hello from /hc1/greet");

        listener.close().await;
        gateway.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
