//! `interlink hub serve`: the demo hub (`/demo`, `/redirect`, `/client/?hub=demo`) until
//! Ctrl-C or SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result};
use interlink::hub::server::demo::{DemoOptions, DemoServer};

/// Arguments of `interlink hub`.
#[derive(clap::Args, Debug)]
pub struct HubArgs {
    #[command(subcommand)]
    pub command: HubCommand,
}

/// `interlink hub …` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum HubCommand {
    /// Serve the demo hub over WebSockets, Server-Sent Events and long polling.
    Serve(ServeArgs),
}

/// Arguments of `interlink hub serve`.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on; port 0 lets the OS choose.
    #[arg(long, default_value = "127.0.0.1:5000")]
    pub bind: SocketAddr,
    /// Send a Ping after this much send silence (default 15000).
    #[arg(long, value_name = "MS")]
    pub keep_alive_ms: Option<u64>,
    /// Close a connection after this much receive silence (default 30000).
    #[arg(long, value_name = "MS")]
    pub client_timeout_ms: Option<u64>,
    /// How long a client may take to complete the handshake (default 15000).
    #[arg(long, value_name = "MS")]
    pub handshake_timeout_ms: Option<u64>,
    /// Do not grant stateful reconnect.
    #[arg(long)]
    pub no_stateful_reconnect: bool,
}

impl ServeArgs {
    fn options(&self) -> DemoOptions {
        let mut options = DemoOptions {
            bind: self.bind,
            stateful_reconnect: !self.no_stateful_reconnect,
            ..DemoOptions::default()
        };
        let c = &mut options.hub.connection;
        if let Some(ms) = self.keep_alive_ms {
            c.keep_alive_interval = Duration::from_millis(ms);
        }
        if let Some(ms) = self.client_timeout_ms {
            c.timeout = Duration::from_millis(ms);
        }
        if let Some(ms) = self.handshake_timeout_ms {
            c.handshake_timeout = Duration::from_millis(ms);
        }
        options
    }
}

/// Runs `interlink hub …`.
pub async fn run(args: HubArgs) -> Result<()> {
    match args.command {
        HubCommand::Serve(serve) => run_serve(serve).await,
    }
}

async fn run_serve(args: ServeArgs) -> Result<()> {
    let server = DemoServer::start(args.options())
        .await
        .with_context(|| format!("binding {}", args.bind))?;
    let addr = server.local_addr();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on http://{addr}")?;
        writeln!(out, "routes: /demo, /redirect, /client/?hub=demo")?;
        writeln!(out, "redirect token {}", server.token())?;
        out.flush()?;
    }
    crate::wait_for_shutdown().await;
    server.shutdown().await;
    Ok(())
}
