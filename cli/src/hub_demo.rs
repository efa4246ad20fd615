//! The hub part of `interlink demo`: the demo hub server on 127.0.0.1 (OS port) and the Rust
//! hub client calling it over a WebSocket.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, ensure};
use futures::StreamExt as _;
use interlink::hub::client::{HubClientBuilder, HubProtocol};
use interlink::hub::server::demo::{DemoOptions, DemoServer};

/// Runs the hub round trips; `step` prints one checked line.
pub async fn run(step: fn(&str, Instant)) -> Result<()> {
    let server = DemoServer::start(DemoOptions::default())
        .await
        .context("starting the hub server")?;
    let url = format!("http://{}/demo", server.local_addr());
    println!("hub server listening on {url}");
    let timeout = async {
        smol::Timer::after(Duration::from_secs(30)).await;
        Err(anyhow!("the hub round trips took longer than 30 s"))
    };
    let result = smol::future::or(round_trips(&url, step), timeout).await;
    server.shutdown().await;
    result
}

async fn round_trips(url: &str, step: fn(&str, Instant)) -> Result<()> {
    for protocol in [HubProtocol::Json, HubProtocol::MessagePack] {
        let t = Instant::now();
        let client = HubClientBuilder::new(url).protocol(protocol).build();
        client.start().await.context("connecting the hub client")?;
        let echoed: String = client.invoke_as("echo", ("hello hub",)).await?;
        ensure!(echoed == "hello hub", "echo gave {echoed:?}");
        let sum: i64 = client.invoke_as("add", (40, 2)).await?;
        ensure!(sum == 42, "add(40, 2) gave {sum}");
        let args = client.arguments((3, 1))?;
        let items: Vec<i64> = client
            .stream("counter", args)
            .map(|item| item.ok().and_then(|v| v.to_serde().ok()).unwrap_or(-1))
            .collect()
            .await;
        ensure!(items == [0, 1, 2], "counter(3) gave {items:?}");
        client.stop().await;
        step(
            &format!(
                "hub /demo, WebSocket + {}: echo, add, stream",
                protocol.name()
            ),
            t,
        );
    }
    Ok(())
}
