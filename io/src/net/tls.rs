//! TLS settings for clients ([`ClientTls`]) and servers ([`ServerTls`]), and [`connect`].
//!
//! rustls with the `ring` provider, chosen explicitly so the process-wide default provider
//! never matters. Both sides offer ALPN `http/1.1` only: everything here speaks HTTP/1.1
//! (WebSocket upgrades included).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::sync::Arc;

use futures_rustls::pki_types::pem::{self, PemObject};
use futures_rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use futures_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use futures_rustls::{TlsAcceptor, TlsConnector};
use smol::net::TcpStream;

use super::error::{NetError, PemError};
use super::stream::Stream;
use super::url::Target;

const ALPN_HTTP11: &[u8] = b"http/1.1";

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Client TLS settings: the Mozilla (webpki) roots by default, plus optional extra CA
/// certificates (PEM), e.g. the private CA of a test gateway.
///
/// Cheap to clone (two `Arc`s). It does no client-certificate authentication, no
/// certificate pinning and no revocation checks; those need a [`rustls::ClientConfig`] of
/// your own.
#[derive(Clone)]
pub struct ClientTls {
    roots: Arc<RootCertStore>,
    config: Arc<ClientConfig>,
}

impl ClientTls {
    /// Trusts the webpki (Mozilla) root certificates, nothing else.
    pub fn webpki() -> Self {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        Self::with_roots(Arc::new(roots))
    }

    /// Additionally trusts every `CERTIFICATE` block of `pem` as a root.
    ///
    /// Fails with [`PemError::NoCertificate`] when `pem` holds none, and with
    /// [`PemError::BadCa`] when a certificate is not usable as a trust anchor.
    pub fn with_extra_ca_pem(self, pem: &[u8]) -> Result<Self, NetError> {
        let certs = read_certs(pem)?;
        let mut roots = Arc::unwrap_or_clone(self.roots);
        for cert in certs {
            roots.add(cert).map_err(PemError::BadCa)?;
        }
        Ok(Self::with_roots(Arc::new(roots)))
    }

    /// The rustls configuration used by [`connect`], e.g. to hand to another TLS user.
    pub fn config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    fn with_roots(roots: Arc<RootCertStore>) -> Self {
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Self {
            roots,
            config: Arc::new(config),
        }
    }
}

impl Default for ClientTls {
    /// Same as [`ClientTls::webpki`].
    fn default() -> Self {
        Self::webpki()
    }
}

impl fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTls")
            .field("roots", &self.roots.len())
            .finish_non_exhaustive()
    }
}

/// Server TLS settings: one certificate chain and its private key, from PEM.
///
/// Cheap to clone (an `Arc`). It does no SNI-based certificate selection, no client
/// certificate verification and no certificate reloading.
#[derive(Clone)]
pub struct ServerTls {
    config: Arc<ServerConfig>,
}

impl ServerTls {
    /// Builds the settings from a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1).
    ///
    /// Fails with [`NetError::Pem`] when either input holds no usable block, and with
    /// [`NetError::Tls`] when the key does not fit the certificate or is unsupported.
    pub fn from_pem(cert_chain: &[u8], key: &[u8]) -> Result<Self, NetError> {
        let certs = read_certs(cert_chain)?;
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|e| match e {
            pem::Error::NoItemsFound => PemError::NoPrivateKey,
            e => PemError::Malformed(e),
        })?;
        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions")
            .with_no_client_auth()
            .with_single_cert(certs, key)?;
        config.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
        Ok(Self {
            config: Arc::new(config),
        })
    }

    /// Reads both PEM files (synchronously: meant for start-up) and calls
    /// [`from_pem`](ServerTls::from_pem).
    pub fn from_files(cert: &Path, key: &Path) -> Result<Self, NetError> {
        let read = |path: &Path| {
            std::fs::read(path).map_err(|source| PemError::File {
                path: path.to_owned(),
                source,
            })
        };
        Self::from_pem(&read(cert)?, &read(key)?)
    }

    /// The rustls configuration used by [`serve`](super::serve).
    pub fn config(&self) -> Arc<ServerConfig> {
        self.config.clone()
    }

    pub(crate) fn acceptor(&self) -> TlsAcceptor {
        TlsAcceptor::from(self.config.clone())
    }
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls").finish_non_exhaustive()
    }
}

fn read_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, PemError> {
    let certs = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    if certs.is_empty() {
        return Err(PemError::NoCertificate);
    }
    Ok(certs)
}

/// Opens a TCP connection to `target` (TCP_NODELAY on), then, when `target.secure`, runs
/// the TLS handshake with SNI and certificate checks against `target.host`.
///
/// Each resolved address is tried in turn; the error of the last one is returned as
/// [`NetError::Connect`]. It has no timeout of its own (an unreachable address waits for
/// the OS connect timeout): wrap it in [`with_timeout`](super::with_timeout). It does no
/// proxying and no happy-eyeballs racing.
pub async fn connect(target: &Target, tls: &ClientTls) -> Result<Stream, NetError> {
    let tcp = connect_tcp(&target.host, target.port).await?;
    tcp.set_nodelay(true)?;
    if !target.secure {
        return Ok(Stream::Tcp(tcp));
    }
    let name = ServerName::try_from(target.host.clone())
        .map_err(|_| NetError::InvalidServerName(target.host.clone()))?;
    let stream = TlsConnector::from(tls.config.clone())
        .connect(name, tcp)
        .await
        .map_err(NetError::from_tls_io)?;
    Ok(Stream::ClientTls(Box::new(stream)))
}

async fn connect_tcp(host: &str, port: u16) -> Result<TcpStream, NetError> {
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => smol::net::resolve((host, port))
            .await
            .map_err(|source| NetError::Resolve {
                host: host.to_owned(),
                source,
            })?,
    };
    let mut last = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => {
                tracing::debug!(%addr, error = %e, "TCP connect failed");
                last = Some(e);
            }
        }
    }
    Err(match last {
        Some(source) => NetError::Connect {
            host: host.to_owned(),
            port,
            source,
        },
        None => NetError::NoAddress {
            host: host.to_owned(),
        },
    })
}
