//! The one error type of `interlink::net`, typed by layer (URL, DNS, TCP, TLS, HTTP, handshake).

use std::io;
use std::time::Duration;

/// Everything that can go wrong in `interlink::net`.
///
/// Variants are split by layer so callers can decide what is worth a retry (a refused TCP
/// connection, a timeout) and what is not (a bad URL, a certificate the peer will never
/// accept). This type never carries a free-form message as its only content.
///
/// It does not cover protocol errors of the relay or hub state machines: those are
/// `interlink_core` errors.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NetError {
    /// The URL could not be turned into a [`Target`](super::Target).
    #[error("invalid URL {url:?}: {reason}")]
    BadUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: UrlError,
    },
    /// DNS resolution of the host failed.
    #[error("cannot resolve {host:?}: {source}")]
    Resolve {
        /// The host that was looked up.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// DNS resolution succeeded but returned no address.
    #[error("{host:?} resolved to no address")]
    NoAddress {
        /// The host that was looked up.
        host: String,
    },
    /// Every resolved address refused or failed the TCP connection; `source` is the last error.
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        /// The host connected to.
        host: String,
        /// The port connected to.
        port: u16,
        /// The error of the last address tried.
        #[source]
        source: io::Error,
    },
    /// An I/O error on an established connection (including during a TLS handshake when the
    /// error is not a TLS protocol error).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// A TLS protocol or certificate error (for example an unknown issuer, a name mismatch,
    /// or an alert from the peer).
    #[error("TLS error: {0}")]
    Tls(#[from] futures_rustls::rustls::Error),
    /// The host is neither a DNS name nor an IP address usable for TLS server name checks.
    #[error("{0:?} is not a valid TLS server name")]
    InvalidServerName(String),
    /// PEM input held no usable certificate or key.
    #[error("bad PEM input: {0}")]
    Pem(#[from] PemError),
    /// An HTTP/1.1 error reported by hyper (connection closed mid-message, malformed
    /// message, failed upgrade, ...).
    #[error("HTTP error: {0}")]
    Http(#[from] hyper::Error),
    /// A header name or value given by the caller cannot be sent (bad characters, CR/LF).
    #[error("invalid header {name:?}")]
    InvalidHeader {
        /// The offending header name.
        name: String,
    },
    /// The WebSocket / HTTP handshake response could not be read or does not follow the
    /// protocol.
    #[error("handshake failed: {0}")]
    Handshake(#[from] HandshakeError),
    /// An operation wrapped in [`with_timeout`](super::with_timeout) did not finish in time.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

impl NetError {
    /// Turns an I/O error from a TLS stream into [`NetError::Tls`] when it wraps a rustls
    /// error, and into [`NetError::Io`] otherwise.
    pub(crate) fn from_tls_io(e: io::Error) -> NetError {
        let tls = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<futures_rustls::rustls::Error>())
            .cloned();
        match tls {
            Some(t) => NetError::Tls(t),
            None => NetError::Io(e),
        }
    }
}

/// Why a URL was rejected by [`Target::parse`](super::Target::parse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrlError {
    /// Not a syntactically valid absolute URI.
    #[error("not a valid absolute URL")]
    Syntax,
    /// The scheme is not one of `ws`, `wss`, `http`, `https`.
    #[error("unsupported scheme (expected ws, wss, http or https)")]
    UnsupportedScheme,
    /// The URL has no host.
    #[error("missing host")]
    MissingHost,
    /// The URL carries `user:password@`; credentials go in headers, never in the URL.
    #[error("credentials in the URL are not supported")]
    Credentials,
    /// The port is not a number in 1..=65535.
    #[error("invalid port")]
    InvalidPort,
}

/// Why PEM input was rejected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PemError {
    /// The input held no `CERTIFICATE` block.
    #[error("no certificate found")]
    NoCertificate,
    /// The input held no private key block (PKCS#8, PKCS#1 or SEC1).
    #[error("no private key found")]
    NoPrivateKey,
    /// A block was found but could not be decoded.
    #[error("malformed PEM: {0}")]
    Malformed(#[from] futures_rustls::pki_types::pem::Error),
    /// A certificate could not be added to the root store.
    #[error("unusable CA certificate: {0}")]
    BadCa(futures_rustls::rustls::Error),
    /// A PEM file could not be read.
    #[error("cannot read {path}: {source}")]
    File {
        /// The file that could not be read.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// A WebSocket or HTTP response head that could not be read or violates the protocol.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The peer closed the connection before the response head was complete.
    #[error("connection closed before the response head was complete")]
    UnexpectedEof,
    /// The response head exceeds the size limit (bytes).
    #[error("response head larger than {0} bytes")]
    HeadTooLarge(usize),
    /// The response head is not valid HTTP/1.x, or a 101 breaks RFC 6455 (no `Upgrade:
    /// websocket`, no `Connection: upgrade`, a wrong `Sec-WebSocket-Accept`, an extension):
    /// the core's verdict.
    #[error("invalid handshake response: {0}")]
    Invalid(interlink_core::ws::HandshakeError),
    /// The server selected a subprotocol that the client did not offer.
    #[error("server selected subprotocol {0:?} which was not offered")]
    UnexpectedProtocol(String),
}
