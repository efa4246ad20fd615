//! `interlink`: the relay gateway, a listener that exposes a local service, a curl-like
//! sender, and a self-contained demo.

mod client_cmd;
mod demo_cmd;
mod gateway_cmd;
mod hub_cmd;
mod hub_demo;

use clap::{Parser, Subcommand};

/// interlink — reach services behind firewalls through a relay (Azure Relay Hybrid
/// Connections compatible).
#[derive(Parser, Debug)]
#[command(name = "interlink", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the relay gateway (listeners connect out to it; senders reach them through it).
    Gateway(gateway_cmd::GatewayArgs),
    /// Listen on a hybrid connection and forward its HTTP and WebSocket traffic to a local
    /// service.
    Expose(client_cmd::ExposeArgs),
    /// Send an HTTP request through the relay (curl-like); the body goes to stdout.
    Send(client_cmd::SendArgs),
    /// SignalR hubs: `hub serve` runs the demo hub.
    Hub(hub_cmd::HubArgs),
    /// Run a gateway, a listener and senders, then a hub server and a hub client, on
    /// 127.0.0.1 and show them working.
    Demo,
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn wait_for_shutdown() {
    let (tx, rx) = async_channel::bounded::<()>(1);
    let _ = ctrlc_hook(tx);
    let _ = rx.recv().await;
}

fn ctrlc_hook(tx: async_channel::Sender<()>) -> std::io::Result<()> {
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
    ])?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = tx.try_send(());
        }
    });
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    if std::env::var_os("SMOL_THREADS").is_none() {
        // smol's global executor runs one thread unless told otherwise; the gateway and the
        // forwarders should use every core. SAFETY: no other thread exists yet.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        unsafe { std::env::set_var("SMOL_THREADS", cores.to_string()) };
    }
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("INTERLINK_LOG")
                .unwrap_or_else(|_| "warn".into()),
        )
        .init();
    let result = smol::block_on(async {
        match cli.command {
            Command::Gateway(args) => gateway_cmd::run(args).await.map(|()| 0),
            Command::Expose(args) => client_cmd::expose(args).await.map(|()| 0),
            Command::Send(args) => client_cmd::send(args).await,
            Command::Hub(args) => hub_cmd::run(args).await.map(|()| 0),
            Command::Demo => demo_cmd::run().await.map(|()| 0),
        }
    });
    match result {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("interlink: {e:#}");
            std::process::exit(1);
        }
    }
}
