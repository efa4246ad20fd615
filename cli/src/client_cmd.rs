//! `interlink expose` (a listener forwarding to a local service) and `interlink send` (a
//! curl-like HTTP sender), both through a relay named by a connection string.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use http_body_util::BodyExt;
use interlink::net::{self, ClientTls};
use interlink::relay::{ListenerOptions, RelayListener, RelaySender};
use interlink_core::relay::connection_string::ConnectionString;
use std::io::Write;
use std::path::PathBuf;

/// Where the relay is and how to sign tokens.
#[derive(clap::Args, Debug)]
pub struct RelayArgs {
    /// Azure Relay connection string (`Endpoint=sb://…;SharedAccessKeyName=…;SharedAccessKey=…`).
    #[arg(long, env = "INTERLINK_CONNECTION_STRING", hide_env_values = true)]
    pub connection_string: String,
    /// Extra CA certificate (PEM) to trust for a TLS gateway with a private certificate.
    #[arg(long)]
    pub ca_file: Option<PathBuf>,
}

impl RelayArgs {
    fn parse(&self) -> Result<(ConnectionString, ClientTls)> {
        let cs: ConnectionString = self
            .connection_string
            .parse()
            .context("reading the connection string")?;
        let mut tls = ClientTls::webpki();
        if let Some(ca) = &self.ca_file {
            let pem = std::fs::read(ca).with_context(|| format!("reading {}", ca.display()))?;
            tls = tls
                .with_extra_ca_pem(&pem)
                .context("loading the CA certificate")?;
        }
        Ok((cs, tls))
    }
}

/// Arguments of `interlink expose`.
#[derive(clap::Args, Debug)]
pub struct ExposeArgs {
    #[command(flatten)]
    pub relay: RelayArgs,
    /// The local service to forward HTTP and WebSocket traffic to, e.g. http://127.0.0.1:8080.
    #[arg(long)]
    pub to: String,
    /// The hybrid connection to listen on.
    pub hybrid_connection: String,
}

/// Runs `interlink expose` until Ctrl-C or until the relay stops the listener.
pub async fn expose(args: ExposeArgs) -> Result<()> {
    let (cs, tls) = args.relay.parse()?;
    // Check the target before going online.
    net::Target::parse(&args.to).with_context(|| format!("--to {}", args.to))?;
    let options = ListenerOptions {
        tls: tls.clone(),
        ..ListenerOptions::default()
    };
    let listener = RelayListener::bind(&cs, &args.hybrid_connection, options)
        .await
        .with_context(|| {
            format!(
                "listening on hybrid connection '{}'",
                args.hybrid_connection
            )
        })?;
    let events = listener.subscribe();
    println!("listener online: {} -> {}", args.hybrid_connection, args.to);
    let _ = std::io::stdout().flush();
    let log_events = async {
        while let Ok(ev) = events.recv().await {
            eprintln!("interlink expose: {ev:?}");
        }
    };
    let closer = listener.clone();
    let forwarding = interlink::relay::forward(listener, &args.to, tls);
    let result = futures::future::select(
        Box::pin(async { futures::join!(forwarding, log_events).0 }),
        Box::pin(async {
            crate::wait_for_shutdown().await;
            closer.close().await;
        }),
    )
    .await;
    match result {
        futures::future::Either::Left((r, _)) => r.context("forwarding"),
        futures::future::Either::Right(_) => Ok(()),
    }
}

/// Arguments of `interlink send`.
#[derive(clap::Args, Debug)]
pub struct SendArgs {
    #[command(flatten)]
    pub relay: RelayArgs,
    /// HTTP method (default GET, or POST when a body is given).
    #[arg(short = 'X', long)]
    pub method: Option<String>,
    /// A request header, `Name: value` (repeatable).
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Request body.
    #[arg(short = 'd', long, conflicts_with = "data_file")]
    pub data: Option<String>,
    /// Request body from a file.
    #[arg(long)]
    pub data_file: Option<PathBuf>,
    /// Print the status line and response headers before the body.
    #[arg(short = 'i', long)]
    pub include: bool,
    /// Exit with 22 when the status is 400 or above (like curl --fail).
    #[arg(short = 'f', long)]
    pub fail: bool,
    /// HYBRID_CONNECTION[/path][?query]
    pub target: String,
}

/// Splits `hc1/a/b?x=1` into the hybrid connection and the rest (`/a/b?x=1`).
pub fn split_target(target: &str) -> Result<(String, String)> {
    let target = target.trim_start_matches('/');
    let end = target.find(['/', '?']).unwrap_or(target.len());
    let (hc, rest) = target.split_at(end);
    if hc.is_empty() {
        bail!("the target must start with a hybrid connection name, e.g. hc1/path");
    }
    let rest = if rest.starts_with('?') {
        format!("/{rest}")
    } else if rest.is_empty() {
        "/".into()
    } else {
        rest.into()
    };
    Ok((hc.to_string(), rest))
}

/// Runs `interlink send`; returns the process exit code.
pub async fn send(args: SendArgs) -> Result<i32> {
    let (cs, tls) = args.relay.parse()?;
    let (hc, path) = split_target(&args.target)?;
    let body = match (&args.data, &args.data_file) {
        (Some(d), _) => Some(Bytes::from(d.clone())),
        (_, Some(f)) => Some(Bytes::from(
            std::fs::read(f).with_context(|| format!("reading {}", f.display()))?,
        )),
        _ => None,
    };
    let method = args.method.clone().unwrap_or_else(|| {
        if body.is_some() {
            "POST".into()
        } else {
            "GET".into()
        }
    });
    let mut builder = http::Request::builder()
        .method(method.as_str())
        .uri(path.as_str());
    for h in &args.headers {
        let Some((name, value)) = h.split_once(':') else {
            bail!("-H wants 'Name: value', got '{h}'");
        };
        builder = builder.header(name.trim(), value.trim());
    }
    let request = builder
        .body(match body {
            Some(b) => net::full(b),
            None => net::empty(),
        })
        .context("building the request")?;
    let sender = RelaySender::new(&cs, &hc, tls)?;
    let response = sender
        .request(request)
        .await
        .context("sending through the relay")?;
    let status = response.status();
    let mut out = std::io::stdout().lock();
    if args.include {
        let reason = net::reason_phrase(status, response.extensions());
        writeln!(out, "HTTP/1.1 {} {}", status.as_u16(), reason)?;
        for (n, v) in response.headers() {
            writeln!(out, "{}: {}", n, String::from_utf8_lossy(v.as_bytes()))?;
        }
        writeln!(out)?;
    }
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        let frame = frame.context("reading the response body")?;
        if let Ok(data) = frame.into_data() {
            out.write_all(&data)?;
            out.flush()?;
        }
    }
    Ok(if args.fail && status.as_u16() >= 400 {
        22
    } else {
        0
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_into_hybrid_connection_and_path() {
        assert_eq!(split_target("hc1").unwrap(), ("hc1".into(), "/".into()));
        assert_eq!(
            split_target("hc1/a/b?x=1").unwrap(),
            ("hc1".into(), "/a/b?x=1".into())
        );
        assert_eq!(
            split_target("/hc1?x").unwrap(),
            ("hc1".into(), "/?x".into())
        );
        assert!(split_target("/?x").is_err());
    }
}
