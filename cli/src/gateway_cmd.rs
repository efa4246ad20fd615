//! `interlink gateway`: serve the relay.

use anyhow::{Context, Result, bail};
use interlink::net::ServerTls;
use interlink::relay::gateway::generate_key;
use interlink::relay::{GatewayOptions, GatewayServer};
use interlink_core::relay::gateway::{HybridConnectionConfig, Limits};
use interlink_core::relay::sas::{Rights, SharedAccessRule};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `interlink gateway`.
#[derive(clap::Args, Debug)]
pub struct GatewayArgs {
    /// Address to listen on; port 0 lets the OS choose.
    #[arg(long, default_value = "127.0.0.1:9090")]
    pub bind: Option<SocketAddr>,
    /// A SAS rule: RULE=SECRET, optionally with rights as RULE=SECRET:listen,send (default: all).
    /// Repeatable. Without any, one rule with all rights is generated and printed.
    #[arg(long = "key", value_name = "RULE=SECRET[:RIGHTS]")]
    pub keys: Vec<String>,
    /// A hybrid connection that exists (NAME, or NAME:anonymous to let senders in without a
    /// token). Repeatable. When given, other names get 404; without any, every name exists.
    #[arg(long = "hybrid-connection", value_name = "NAME[:anonymous]")]
    pub hybrid_connections: Vec<String>,
    /// TOML file with the same settings plus [limits] and [tls].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// TLS certificate chain (PEM); serves wss:// and https:// when given with --tls-key.
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// The TOML form of the gateway settings.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    bind: Option<SocketAddr>,
    public_base_url: Option<String>,
    #[serde(default, rename = "key")]
    keys: Vec<FileKey>,
    #[serde(default, rename = "hybrid_connection")]
    hybrid_connections: Vec<FileHybridConnection>,
    #[serde(default)]
    limits: FileLimits,
    tls: Option<FileTls>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileKey {
    name: String,
    secret: String,
    rights: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileHybridConnection {
    name: String,
    #[serde(default)]
    anonymous: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTls {
    cert: PathBuf,
    key: PathBuf,
}

/// `[limits]`: every gateway limit, with Azure's values as defaults.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileLimits {
    max_listeners_per_connection: Option<usize>,
    max_pending_rendezvous_per_connection: Option<usize>,
    control_body_max_bytes: Option<usize>,
    control_message_max_bytes: Option<usize>,
    request_headers_max_bytes: Option<usize>,
    max_request_body_bytes: Option<u64>,
    accept_timeout_secs: Option<u64>,
    request_body_timeout_secs: Option<u64>,
    response_timeout_secs: Option<u64>,
    response_idle_timeout_secs: Option<u64>,
    token_expiry_grace_secs: Option<u64>,
    keepalive_interval_secs: Option<u64>,
    keepalive_timeout_secs: Option<u64>,
    close_linger_secs: Option<u64>,
}

impl FileLimits {
    fn apply(&self, l: &mut Limits) {
        let secs = Duration::from_secs;
        if let Some(v) = self.max_listeners_per_connection {
            l.max_listeners_per_connection = v
        }
        if let Some(v) = self.max_pending_rendezvous_per_connection {
            l.max_pending_rendezvous_per_connection = v
        }
        if let Some(v) = self.control_body_max_bytes {
            l.control_body_max_bytes = v
        }
        if let Some(v) = self.control_message_max_bytes {
            l.control_message_max_bytes = v
        }
        if let Some(v) = self.request_headers_max_bytes {
            l.request_headers_max_bytes = v
        }
        if let Some(v) = self.max_request_body_bytes {
            l.max_request_body_bytes = Some(v)
        }
        if let Some(v) = self.request_body_timeout_secs {
            l.request_body_timeout = secs(v)
        }
        if let Some(v) = self.accept_timeout_secs {
            l.accept_timeout = secs(v)
        }
        if let Some(v) = self.response_timeout_secs {
            l.response_timeout = secs(v)
        }
        if let Some(v) = self.response_idle_timeout_secs {
            l.response_idle_timeout = secs(v)
        }
        if let Some(v) = self.token_expiry_grace_secs {
            l.token_expiry_grace_secs = v
        }
        if let Some(v) = self.keepalive_interval_secs {
            l.keepalive_interval = secs(v)
        }
        if let Some(v) = self.keepalive_timeout_secs {
            l.keepalive_timeout = secs(v)
        }
    }
}

/// Parses `RULE=SECRET[:RIGHTS]`.
pub fn parse_key(spec: &str) -> Result<SharedAccessRule> {
    let Some((name, rest)) = spec.split_once('=') else {
        bail!("--key wants RULE=SECRET[:RIGHTS], got '{spec}'");
    };
    if name.is_empty() {
        bail!("--key '{spec}': the rule name is empty");
    }
    // Base64 keys never contain ':', so a suffix after the last ':' that names rights is rights.
    let (secret, rights) = match rest.rsplit_once(':') {
        Some((secret, rights)) if Rights::parse_list(rights).is_ok() && !rights.is_empty() => {
            (secret, Rights::parse_list(rights).expect("checked"))
        }
        _ => (rest, Rights::ALL),
    };
    if secret.is_empty() {
        bail!("--key '{spec}': the secret is empty");
    }
    Ok(SharedAccessRule::new(name, secret, rights))
}

/// Parses `NAME[:anonymous]`.
pub fn parse_hybrid_connection(spec: &str) -> Result<HybridConnectionConfig> {
    match spec.rsplit_once(':') {
        Some((name, "anonymous")) if !name.is_empty() => {
            Ok(HybridConnectionConfig::anonymous(name))
        }
        Some((_, other)) => {
            bail!("--hybrid-connection '{spec}': unknown option '{other}' (only 'anonymous')")
        }
        None if spec.is_empty() => bail!("--hybrid-connection needs a name"),
        None => Ok(HybridConnectionConfig::new(spec)),
    }
}

/// Builds the server options from the command line and the optional TOML file (the command
/// line wins where both say something).
pub fn options(args: &GatewayArgs) -> Result<GatewayOptions> {
    let file: FileConfig = match &args.config {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?
        }
        None => FileConfig::default(),
    };
    let mut options = GatewayOptions::local();
    options.bind = args
        .bind
        .or(file.bind)
        .unwrap_or_else(|| "127.0.0.1:9090".parse().expect("valid"));
    let mut rules = Vec::new();
    for k in &file.keys {
        let rights = match &k.rights {
            Some(r) => {
                Rights::parse_list(r).map_err(|e| anyhow::anyhow!("key '{}': {e}", k.name))?
            }
            None => Rights::ALL,
        };
        rules.push(SharedAccessRule::new(
            k.name.clone(),
            k.secret.clone(),
            rights,
        ));
    }
    for k in &args.keys {
        rules.push(parse_key(k)?);
    }
    if rules.is_empty() {
        rules.push(SharedAccessRule::new(
            "RootManageSharedAccessKey",
            generate_key(),
            Rights::ALL,
        ));
    }
    options.rules = rules;
    let mut hcs: Vec<HybridConnectionConfig> = file
        .hybrid_connections
        .iter()
        .map(|h| HybridConnectionConfig {
            name: h.name.clone(),
            requires_client_authorization: !h.anonymous,
        })
        .collect();
    for h in &args.hybrid_connections {
        hcs.push(parse_hybrid_connection(h)?);
    }
    options.config.hybrid_connections = (!hcs.is_empty()).then_some(hcs);
    options.config.public_base_url = file.public_base_url.clone();
    file.limits.apply(&mut options.config.limits);
    if let Some(s) = file.limits.close_linger_secs {
        options.close_linger = Duration::from_secs(s);
    }
    let tls_files = match (&args.tls_cert, &args.tls_key, &file.tls) {
        (Some(c), Some(k), _) => Some((c.clone(), k.clone())),
        (_, _, Some(t)) => Some((t.cert.clone(), t.key.clone())),
        _ => None,
    };
    if let Some((cert, key)) = tls_files {
        options.tls = Some(
            ServerTls::from_files(&cert, &key)
                .with_context(|| "loading the TLS certificate and key")?,
        );
    }
    Ok(options)
}

/// Runs the gateway until Ctrl-C / SIGTERM.
pub async fn run(args: GatewayArgs) -> Result<()> {
    let options = options(&args)?;
    let scheme = if options.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let server = GatewayServer::start(options.clone())
        .await
        .with_context(|| format!("binding {}", options.bind))?;
    let addr = server.local_addr();
    println!("interlink gateway listening on {scheme}://{addr}");
    match &options.config.hybrid_connections {
        Some(list) => {
            let names: Vec<String> = list
                .iter()
                .map(|h| {
                    if h.requires_client_authorization {
                        h.name.clone()
                    } else {
                        format!("{} (anonymous senders)", h.name)
                    }
                })
                .collect();
            println!("hybrid connections: {}", names.join(", "));
        }
        None => println!("hybrid connections: any name"),
    }
    println!("connection string: {}", server.connection_string());
    crate::wait_for_shutdown().await;
    server.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_specs() {
        let r = parse_key("rule=abc+/=").unwrap();
        assert_eq!(
            (r.name.as_str(), r.key.as_str(), r.rights),
            ("rule", "abc+/=", Rights::ALL)
        );
        let r = parse_key("s=secret:send").unwrap();
        assert_eq!((r.key.as_str(), r.rights), ("secret", Rights::SEND));
        let r = parse_key("l=secret:listen,send").unwrap();
        assert_eq!(r.rights, Rights::LISTEN | Rights::SEND);
        assert!(parse_key("nosecret").is_err());
        assert!(parse_key("=x").is_err());
        assert!(parse_key("a=").is_err());
    }

    #[test]
    fn hybrid_connection_specs() {
        assert!(
            parse_hybrid_connection("hc1")
                .unwrap()
                .requires_client_authorization
        );
        assert!(
            !parse_hybrid_connection("hc1:anonymous")
                .unwrap()
                .requires_client_authorization
        );
        assert!(parse_hybrid_connection("hc1:weird").is_err());
    }

    #[test]
    fn toml_file_sets_limits() {
        let file: FileConfig = toml::from_str(
            "bind = \"127.0.0.1:0\"\n[[key]]\nname = \"k\"\nsecret = \"s\"\nrights = \"send\"\n[[hybrid_connection]]\nname = \"a\"\nanonymous = true\n[limits]\ntoken_expiry_grace_secs = 0\nresponse_timeout_secs = 120\n",
        )
        .unwrap();
        let mut limits = Limits::default();
        file.limits.apply(&mut limits);
        assert_eq!(limits.token_expiry_grace_secs, 0);
        assert_eq!(limits.response_timeout, Duration::from_secs(120));
        assert_eq!(limits.max_listeners_per_connection, 25);
        assert!(file.hybrid_connections[0].anonymous);
        assert!(
            toml::from_str::<FileConfig>("nonsense = 1").is_err(),
            "unknown settings are errors"
        );
    }
}
