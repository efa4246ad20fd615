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

/// The README's Node, Python and C blocks are the files the binding suites run.
#[test]
fn readme_snippets_match() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let readme = read("README.md");
    let block = |text: &str, lang: &str| -> String {
        let start = text
            .find(&format!("```{lang}\n"))
            .unwrap_or_else(|| panic!("no {lang} block"))
            + lang.len()
            + 4;
        let end = text[start..].find("```").unwrap() + start;
        text[start..end].trim_end().to_string()
    };
    assert_eq!(
        block(&readme, "js"),
        read("bindings/node/examples/readme.mjs").trim_end()
    );
    assert_eq!(
        block(&readme, "python"),
        block(&read("bindings/python/README.md"), "python")
    );
    assert_eq!(block(&readme, "c"), read("tests/c/example.c").trim_end());
}

/// The README's "SignalR hub from Rust" example, kept runnable.
#[test]
fn readme_hub_example() -> Result<(), Box<dyn std::error::Error>> {
    use interlink::hub::client::HubClient;
    use interlink::hub::server::{Hub, HubOptions, HubService};
    use interlink::hub::transport::{HubRoute, HubServer, HubServerOptions};

    smol::block_on(async {
        let hub = Hub::new()
            .method("add", 2, |ctx, args| async move {
                let sum = args.get::<i64>(0)? + args.get::<i64>(1)?;
                Ok(Some(ctx.value(&sum)?))
            })
            .method("shout", 1, |ctx, args| async move {
                let text: String = args.get(0)?;
                ctx.clients()
                    .all()
                    .send("heard", vec![ctx.value(&text.to_uppercase())?])?;
                Ok(None)
            });
        let service = HubService::new(hub, HubOptions::default());
        let route = HubRoute::new("/chat");
        service.serve(route.acceptor());
        let server = HubServer::start(HubServerOptions::local(vec![route])).await?;

        let client = HubClient::builder(format!("http://{}/chat", server.local_addr())).build();
        let (heard_tx, heard_rx) = async_channel::unbounded();
        client.on("heard", move |args| {
            let _ = heard_tx.try_send(args[0].to_serde::<String>().unwrap_or_default());
        });
        client.start().await?;
        let sum: i64 = client.invoke_as("add", (2, 3)).await?;
        assert_eq!(sum, 5);
        client.send_as("shout", ("hello",)).await?;
        assert_eq!(heard_rx.recv().await?, "HELLO");

        client.stop().await;
        server.shutdown().await;
        Ok::<_, Box<dyn std::error::Error>>(())
    })
}
