//! [`forward`]: the engine of `interlink expose` — serve a [`RelayListener`] by forwarding
//! everything to a local HTTP/WebSocket server.
//!
//! - HTTP: each relayed request is sent to the local server with its method, request target
//!   (kept as is, so it includes the hybrid connection name), headers (hop-by-hop ones
//!   dropped) and a streaming body; the local response streams back (SSE included, see the
//!   listener's response policy). A local server that cannot be reached gives 502.
//! - WebSocket: for each accept, a WebSocket is first opened to the local server
//!   (`ws://host:port{path}`) offering the sender's subprotocols and passing its headers; a
//!   refusal there rejects the sender with the same status and reason. Otherwise the
//!   rendezvous is opened with the subprotocol the local server chose, and frames are pumped
//!   both ways as they arrive: fragments stay fragments, pings and close codes pass through,
//!   and after one side's Close the other may still send (half-close) for a while.
//!
//! We are the client of both sockets (the relay's rendezvous and the local server), so
//! [`forward_frames_as`](crate::ws::forward_frames_as) runs as [`Role::Client`]: it decodes
//! unmasked frames and re-sends them masked with a fresh key; payloads are never assembled.

use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt as _;
use interlink_core::relay::http_headers::{is_framing, is_hop_by_hop};
use interlink_core::relay::message::AcceptCommand;
use interlink_core::ws::Role;

use super::error::RelayError;
use super::listener::{
    ListenerEvent, RelayListener, offered_protocols, open_ws, reject, sender_path,
};
use crate::net::{self, Body, ClientTls, Target};

/// How long a bridged WebSocket may go on after the first Close passed (half-close).
const BRIDGE_LINGER: Duration = Duration::from_secs(30);

/// Request headers not passed to the local server: `Host` (set to the target) and the
/// framing of the relay's hop.
fn skip_for_http(name: &str) -> bool {
    name.eq_ignore_ascii_case("host") || is_hop_by_hop(name)
}

/// Upgrade headers not passed to the local server: `Host`, framing, the handshake's own
/// (the bridge makes its own handshake, without extensions) and the relay token.
fn skip_for_websocket(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n == "host"
        || is_framing(&n)
        || n.starts_with("sec-websocket-")
        || n == "servicebusauthorization"
}

/// Where requests go: the local server and a path prefix taken from the target URL.
struct Forwarder {
    target: Target,
    prefix: String,
    tls: ClientTls,
}

impl Forwarder {
    fn new(target: &str, tls: ClientTls) -> Result<Forwarder, RelayError> {
        let target = Target::parse(target)?;
        let path = target.path_and_query.split('?').next().unwrap_or("");
        let prefix = path.trim_end_matches('/').to_string();
        Ok(Forwarder {
            target,
            prefix,
            tls,
        })
    }

    /// The local URL of a sender's path and query (e.g. `/hc1/x?y`).
    fn local_url(&self, websocket: bool, path_and_query: &str) -> String {
        let scheme = match (websocket, self.target.secure) {
            (true, true) => "wss",
            (true, false) => "ws",
            (false, true) => "https",
            (false, false) => "http",
        };
        format!(
            "{scheme}://{}{}{}",
            self.target.authority(),
            self.prefix,
            path_and_query
        )
    }

    async fn http(&self, req: http::Request<Body>) -> http::Response<Body> {
        let (mut parts, body) = req.into_parts();
        let pq = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let Ok(uri) = format!("{}{}", self.prefix, pq).parse::<http::Uri>() else {
            return text_response(400, "bad request target");
        };
        parts.uri = uri;
        let skipped: Vec<http::HeaderName> = parts
            .headers
            .keys()
            .filter(|n| skip_for_http(n.as_str()))
            .cloned()
            .collect();
        for name in skipped {
            parts.headers.remove(name);
        }
        parts.extensions = http::Extensions::new();
        let req = http::Request::from_parts(parts, body);
        match net::request(&self.target, &self.tls, req).await {
            Ok(resp) => resp.map(|b| b.map_err(std::io::Error::other).boxed()),
            Err(e) => {
                tracing::debug!(error = %e, "the local server could not be reached");
                text_response(502, "Bad Gateway: the local server could not be reached")
            }
        }
    }

    async fn websocket(&self, accept: AcceptCommand, relay_tls: ClientTls, limit: Duration) {
        let protocols = offered_protocols(&accept.connect_headers);
        let protocols: Vec<&str> = protocols.iter().map(String::as_str).collect();
        let headers: Vec<(&str, &str)> = accept
            .connect_headers
            .iter()
            .filter(|(n, v)| {
                !skip_for_websocket(n)
                    && http::HeaderName::from_bytes(n.as_bytes()).is_ok()
                    && http::HeaderValue::from_str(v).is_ok()
            })
            .collect();
        let url = self.local_url(true, &sender_path(&accept.address));
        let (local, local_left, head) = match open_ws(&url, &protocols, &headers, &self.tls, limit)
            .await
        {
            Ok(ok) => ok,
            Err(e) => {
                let (status, reason) = match e {
                    RelayError::Refused { status, reason } => (status, reason),
                    e => {
                        tracing::debug!(error = %e, "the local WebSocket server failed");
                        (
                            502,
                            "Bad Gateway: the local server could not be reached".into(),
                        )
                    }
                };
                if let Err(e) = reject(&accept.address, status, &reason, &relay_tls, limit).await {
                    tracing::debug!(error = %e, "rejecting a relayed WebSocket failed");
                }
                return;
            }
        };
        let chosen = head
            .header("sec-websocket-protocol")
            .map(|p| p.trim().to_string());
        let chosen: Vec<&str> = chosen.as_deref().into_iter().collect();
        match open_ws(&accept.address, &chosen, &[], &relay_tls, limit).await {
            Ok((relay, relay_left, _)) => {
                crate::ws::forward_frames_as(
                    Role::Client,
                    relay,
                    relay_left,
                    local,
                    local_left,
                    BRIDGE_LINGER,
                )
                .await
            }
            Err(e) => tracing::debug!(error = %e, "accepting a relayed WebSocket failed"),
        }
    }
}

fn text_response(status: u16, text: &'static str) -> http::Response<Body> {
    let mut r = http::Response::new(net::full(text));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_GATEWAY);
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

/// Serves `listener` by forwarding to a local `http://host:port[/prefix]` (or `https://`,
/// verified with `tls`): HTTP requests are proxied (method, request target as is — it
/// includes the hybrid connection name — headers, streaming bodies both ways), accepted
/// WebSockets are bridged to `ws://host:port[/prefix]{path}` with the sender's subprotocols,
/// frames both ways and close codes mirrored. Replaces the listener's HTTP handler and takes
/// over its accepts. Runs until the listener stops (close it through a clone).
///
/// `target` is read before the returned future is first polled, so the future borrows
/// nothing and can be spawned; a bad `target` makes it fail at once.
pub fn forward(
    listener: RelayListener,
    target: &str,
    tls: ClientTls,
) -> impl Future<Output = Result<(), RelayError>> + Send + 'static {
    let fwd = Forwarder::new(target, tls).map(Arc::new);
    async move {
        let fwd = fwd?;
        let relay_tls = listener.options().tls.clone();
        let limit = listener.options().accept_timeout;
        let events = listener.subscribe();
        {
            let fwd = fwd.clone();
            listener.set_http_handler(move |req| {
                let fwd = fwd.clone();
                async move { fwd.http(req).await }
            });
        }
        listener.set_accept_handler(Arc::new(move |accept| {
            let fwd = fwd.clone();
            let relay_tls = relay_tls.clone();
            Box::pin(async move { fwd.websocket(accept, relay_tls, limit).await })
        }));
        while !listener.is_stopped() {
            match events.recv().await {
                Ok(ListenerEvent::Stopped { .. }) | Err(_) => break,
                Ok(_) => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_urls_keep_the_prefix_and_the_request_target() {
        let f = Forwarder::new("http://127.0.0.1:8080/api/", ClientTls::webpki()).unwrap();
        assert_eq!(f.prefix, "/api");
        assert_eq!(
            f.local_url(true, "/hc1/chat?x=1"),
            "ws://127.0.0.1:8080/api/hc1/chat?x=1"
        );
        let f = Forwarder::new("https://localhost", ClientTls::webpki()).unwrap();
        assert_eq!(f.prefix, "");
        assert_eq!(f.local_url(false, "/hc1"), "https://localhost/hc1");
        assert_eq!(f.local_url(true, "/hc1"), "wss://localhost/hc1");
        assert!(Forwarder::new("ftp://x", ClientTls::webpki()).is_err());
    }
}
