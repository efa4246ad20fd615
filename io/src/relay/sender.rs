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
use interlink_core::time::UnixTime;
use interlink_core::ws::Role;

use super::error::{CredentialError, RelayError};
use super::listener::{entity_of, open_ws};
use crate::net::{self, Body, ClientTls, Target, with_timeout};
use crate::ws::WebSocket;

/// The header senders put their token in.
const AUTH_HEADER: &str = "ServiceBusAuthorization";

/// A sender for one hybrid connection. Cheap to clone.
#[derive(Clone)]
pub struct RelaySender {
    cs: ConnectionString,
    entity: String,
    tls: ClientTls,
    timeout: Duration,
    token_ttl: Duration,
}

impl std::fmt::Debug for RelaySender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelaySender")
            .field("endpoint", &self.cs.endpoint)
            .field("entity", &self.entity)
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
        let has_key = cs.shared_access_key_name.is_some() && cs.shared_access_key.is_some();
        if let Some(a) = &cs.authentication
            && cs.shared_access_signature.is_none()
            && !has_key
        {
            return Err(CredentialError::Unsupported(a.clone()).into());
        }
        Ok(RelaySender {
            cs: cs.clone(),
            entity,
            tls,
            timeout: Duration::from_secs(cs.operation_timeout_secs.unwrap_or(70)),
            token_ttl: Duration::from_secs(3600),
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
        &self.cs.endpoint
    }

    /// The hybrid connection this sender talks to.
    pub fn entity_path(&self) -> &str {
        &self.entity
    }

    /// A fresh token, or `None` when the connection string has no credentials.
    fn token(&self) -> Result<Option<String>, RelayError> {
        let expiry = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            + self.token_ttl;
        match self.cs.token_for(&self.entity, UnixTime(expiry.as_secs())) {
            Ok(t) => Ok(Some(t)),
            Err(ConnectionStringError::MissingCredentials) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The relay URL of an HTTP request whose URI is `uri` (only its path and query are
    /// used, relative to the hybrid connection: `/x?y` → `https://ns/hc/x?y`).
    pub fn http_url(&self, uri: &http::Uri) -> String {
        let pq = match (uri.path(), uri.query()) {
            ("" | "/", None) => None,
            ("" | "/", Some(q)) => Some(format!("?{q}")),
            (_, _) => uri.path_and_query().map(|pq| pq.as_str().to_string()),
        };
        self.cs.endpoint.http_url(&self.entity, pq.as_deref())
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
        let url = self.http_url(req.uri());
        let target = Target::parse(&url)?;
        *req.uri_mut() = target
            .path_and_query
            .parse()
            .map_err(|e: http::uri::InvalidUri| RelayError::InvalidRequest(e.into()))?;
        if let Some(token) = self.token()? {
            let value = http::HeaderValue::from_str(&token)
                .map_err(|e| RelayError::InvalidRequest(e.into()))?;
            req.headers_mut().insert(AUTH_HEADER, value);
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
        let url = self
            .cs
            .endpoint
            .connect_url(&self.entity, suffix, query, None, None);
        let token = self.token()?;
        let headers: Vec<(&str, &str)> = token.iter().map(|t| (AUTH_HEADER, t.as_str())).collect();
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
        let t = s.token().unwrap().unwrap();
        assert!(t.starts_with("SharedAccessSignature sr=http%3A%2F%2F127.0.0.1%3A9090%2Fhc1&"));
        let anon: ConnectionString = "Endpoint=sb://127.0.0.1:9090/".parse().unwrap();
        let a = RelaySender::new(&anon, "hc2", ClientTls::webpki()).unwrap();
        assert_eq!(a.token().unwrap(), None);
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
