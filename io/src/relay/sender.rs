//! [`RelaySender`]: the sending side of Hybrid Connections — HTTP requests and WebSockets to
//! a listener through the relay.
//!
//! Tokens are created per call from the connection string's key (1 h lifetime, audience
//! `http://host[:port]/{hc}`) or taken from its SharedAccessSignature, and sent in the
//! `ServiceBusAuthorization` header; a connection string without credentials sends none
//! (for hybrid connections that do not require client authorization). It does not retry,
//! pool connections or follow redirects.

use std::time::{Duration, SystemTime};

use hyper::body::Incoming;
use interlink_core::relay::address::Endpoint;
use interlink_core::relay::connection_string::{ConnectionString, ConnectionStringError};
use interlink_core::relay::sender::{SenderConfig, SenderRequest};
use interlink_core::time::Instant;
use interlink_core::ws::Role;

use super::error::{CredentialError, RelayError};
use super::listener::{entity_of, open_ws};
use crate::net::{self, Body, ClientTls, Target, with_timeout};
use crate::ws::WebSocket;

/// A sender for one hybrid connection. Cheap to clone.
#[derive(Clone)]
pub struct RelaySender {
    /// URLs and tokens come from the core's sender rules.
    config: SenderConfig,
    /// The clock origin behind `config.unix_origin_ms`.
    origin: std::time::Instant,
    tls: ClientTls,
    timeout: Duration,
}

impl std::fmt::Debug for RelaySender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelaySender")
            .field("endpoint", &self.config.endpoint)
            .field("entity", &self.config.entity_path)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl RelaySender {
    /// A sender for `entity_path` (or the connection string's `EntityPath` when empty).
    /// Fails when no hybrid connection is named or the connection string asks for an
    /// authentication this client does not do (e.g. Managed Identity). The operation timeout
    /// is the connection string's `OperationTimeout`, else 70 s (like .NET).
    pub fn new(
        cs: &ConnectionString,
        entity_path: &str,
        tls: ClientTls,
    ) -> Result<Self, RelayError> {
        let entity = entity_of(cs, entity_path)?;
        // No credentials at all is an anonymous sender; an unsupported kind is an error.
        let token = match cs.token_source() {
            Ok(t) => Some(t),
            Err(ConnectionStringError::MissingCredentials) => None,
            Err(ConnectionStringError::UnsupportedAuthentication(a)) => {
                return Err(CredentialError::Unsupported(a).into());
            }
            Err(e) => return Err(e.into()),
        };
        let unix_origin_ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis() as u64;
        Ok(RelaySender {
            config: SenderConfig {
                endpoint: cs.endpoint.clone(),
                entity_path: entity,
                token,
                token_ttl: Duration::from_secs(3600),
                unix_origin_ms,
            },
            origin: std::time::Instant::now(),
            tls,
            timeout: Duration::from_secs(cs.operation_timeout_secs.unwrap_or(70)),
        })
    }

    /// The same sender with another operation timeout (connecting plus waiting for the
    /// response head or the WebSocket handshake).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The relay namespace this sender talks to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.config.endpoint
    }

    /// The hybrid connection this sender talks to.
    pub fn entity_path(&self) -> &str {
        &self.config.entity_path
    }

    /// Milliseconds since this sender was made (the core's clock input).
    fn now(&self) -> Instant {
        Instant(self.origin.elapsed().as_millis() as u64)
    }

    /// The token this sender would send now, if it has credentials.
    #[cfg(test)]
    fn token(&self) -> Option<String> {
        self.config
            .http(self.now(), None)
            .headers
            .into_iter()
            .next()
            .map(|(_, t)| t)
    }

    /// The relay URL of an HTTP request whose URI is `uri` (only its path and query are
    /// used, relative to the hybrid connection: `/x?y` → `https://ns/hc/x?y`).
    pub fn http_url(&self, uri: &http::Uri) -> String {
        self.http_request(uri).url
    }

    fn http_request(&self, uri: &http::Uri) -> SenderRequest {
        let pq = match (uri.path(), uri.query()) {
            ("" | "/", None) => None,
            ("" | "/", Some(q)) => Some(format!("?{q}")),
            (_, _) => uri.path_and_query().map(|pq| pq.as_str().to_string()),
        };
        self.config.http(self.now(), pq.as_deref())
    }

    /// Sends an HTTP request through the relay to the listener. The request's URI path and
    /// query are relative to the hybrid connection (`/x?y` → `https://ns/hc/x?y`); the token
    /// goes in `ServiceBusAuthorization`. Returns once the response head has arrived (within
    /// the operation timeout); the body streams. Relay errors are ordinary responses (502 no
    /// listener, 504 listener too slow, 401/403 auth).
    pub async fn request(
        &self,
        mut req: http::Request<Body>,
    ) -> Result<http::Response<Incoming>, RelayError> {
        let SenderRequest { url, headers } = self.http_request(req.uri());
        let target = Target::parse(&url)?;
        *req.uri_mut() = target
            .path_and_query
            .parse()
            .map_err(|e: http::uri::InvalidUri| RelayError::InvalidRequest(e.into()))?;
        for (name, value) in headers {
            let name = http::HeaderName::from_bytes(name.as_bytes())
                .map_err(|e| RelayError::InvalidRequest(e.into()))?;
            let value = http::HeaderValue::from_str(&value)
                .map_err(|e| RelayError::InvalidRequest(e.into()))?;
            req.headers_mut().insert(name, value);
        }
        with_timeout(self.timeout, net::request(&target, &self.tls, req))
            .await
            .map_err(RelayError::from_net)
    }

    /// Opens a WebSocket to the listener through the relay (`sb-hc-action=connect`).
    /// `suffix_and_query` is an optional path after the hybrid connection (decoded text,
    /// encoded per segment here) and an optional app query (already encoded, kept as is),
    /// e.g. `Some("chat/room?x=1")` or `Some("?x=1")`. `protocols` are offered to the
    /// listener; the one it picks is [`WebSocket::protocol`]. A refused handshake (no
    /// listener: 404; the listener's reject status; 401/403) is [`RelayError::Refused`].
    pub async fn connect(
        &self,
        suffix_and_query: Option<&str>,
        protocols: &[&str],
    ) -> Result<WebSocket, RelayError> {
        let (suffix, query) = match suffix_and_query {
            Some(s) => match s.split_once('?') {
                Some((p, q)) => (Some(p), Some(q)),
                None => (Some(s), None),
            },
            None => (None, None),
        };
        let SenderRequest { url, headers } = self.config.websocket(self.now(), suffix, query, None);
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let (stream, leftover, head) =
            open_ws(&url, protocols, &headers, &self.tls, self.timeout).await?;
        let protocol = head
            .header("sec-websocket-protocol")
            .map(|p| p.trim().to_string());
        Ok(WebSocket::start(stream, &leftover, Role::Client, protocol))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sender() -> RelaySender {
        let cs: ConnectionString =
            "Endpoint=sb://127.0.0.1:9090/;SharedAccessKeyName=r;SharedAccessKey=k;EntityPath=hc1"
                .parse()
                .unwrap();
        RelaySender::new(&cs, "", ClientTls::webpki()).unwrap()
    }

    #[test]
    fn http_urls_are_relative_to_the_hybrid_connection() {
        let s = sender();
        let url = |u: &str| s.http_url(&u.parse().unwrap());
        assert_eq!(url("/"), "http://127.0.0.1:9090/hc1");
        assert_eq!(url("/x/y?a=1"), "http://127.0.0.1:9090/hc1/x/y?a=1");
        assert_eq!(url("/?a=1"), "http://127.0.0.1:9090/hc1?a=1");
        assert_eq!(url("https://other/x"), "http://127.0.0.1:9090/hc1/x");
    }

    #[test]
    fn tokens_and_entities() {
        let s = sender();
        assert_eq!(s.entity_path(), "hc1");
        let t = s.token().unwrap();
        assert!(t.starts_with("SharedAccessSignature sr=http%3A%2F%2F127.0.0.1%3A9090%2Fhc1&"));
        let anon: ConnectionString = "Endpoint=sb://127.0.0.1:9090/".parse().unwrap();
        let a = RelaySender::new(&anon, "hc2", ClientTls::webpki()).unwrap();
        assert_eq!(a.token(), None);
        assert!(matches!(
            RelaySender::new(&anon, "", ClientTls::webpki()),
            Err(RelayError::MissingEntityPath)
        ));
        let mi: ConnectionString = "Endpoint=sb://h/;Authentication=Managed Identity"
            .parse()
            .unwrap();
        assert!(matches!(
            RelaySender::new(&mi, "hc", ClientTls::webpki()),
            Err(RelayError::Auth(CredentialError::Unsupported(_)))
        ));
    }
}
