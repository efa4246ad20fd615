//! The client's negotiate rules without IO: negotiate and WebSocket URLs, and the redirect
//! loop ([`NegotiateFlow`]) that turns negotiate answers into the WebSocket to open.
//!
//! [`connect`](super::connect) does the HTTP; this module only decides what to ask next.

use interlink_core::hub::TransferFormat;
use interlink_core::hub::negotiate::{NegotiateResponse, TransportKind};

use super::error::HubClientError;

/// At most this many negotiate requests follow each other through redirects (the JS
/// client's limit).
pub const MAX_REDIRECTS: u32 = 100;

/// A hub URL split into its parts; the fragment is dropped.
struct Parts<'a> {
    secure: bool,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

fn parts(url: &str) -> Result<Parts<'_>, HubClientError> {
    let bad = |reason: &str| HubClientError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let url = url.split_once('#').map_or(url, |(u, _)| u);
    let (scheme, rest) = url.split_once("://").ok_or_else(|| bad("not absolute"))?;
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "http" | "ws" => false,
        "https" | "wss" => true,
        _ => return Err(bad("the scheme must be http, https, ws or wss")),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    if authority.is_empty() {
        return Err(bad("missing host"));
    }
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Ok(Parts {
        secure,
        authority,
        path,
        query,
    })
}

fn join(scheme: &str, authority: &str, path: &str, query: &[String]) -> String {
    let path = if path.is_empty() { "/" } else { path };
    let mut url = format!("{scheme}://{authority}{path}");
    if !query.is_empty() {
        url.push('?');
        url.push_str(&query.join("&"));
    }
    url
}

fn query_pieces(query: Option<&str>) -> Vec<String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

fn has_param(pieces: &[String], name: &str) -> Option<String> {
    pieces.iter().find_map(|p| {
        let (n, v) = p.split_once('=').unwrap_or((p, ""));
        (n == name).then(|| v.to_string())
    })
}

/// The negotiate URL of a hub URL, like the JS client builds it: `http(s)` scheme (`ws` →
/// `http`, `wss` → `https`), `/negotiate` appended to the path, the query kept, plus
/// `negotiateVersion=1` unless present and `useStatefulReconnect=true` when `stateful`
/// (unless present). Returns the URL and whether stateful reconnect is requested (a
/// `useStatefulReconnect=true` already in the URL requests it too).
pub fn negotiate_url(hub_url: &str, stateful: bool) -> Result<(String, bool), HubClientError> {
    let p = parts(hub_url)?;
    let path = if p.path.ends_with('/') {
        format!("{}negotiate", p.path)
    } else {
        format!("{}/negotiate", p.path)
    };
    let mut query = query_pieces(p.query);
    if has_param(&query, "negotiateVersion").is_none() {
        query.push("negotiateVersion=1".into());
    }
    let requested = match has_param(&query, "useStatefulReconnect") {
        Some(v) => v == "true",
        None if stateful => {
            query.push("useStatefulReconnect=true".into());
            true
        }
        None => false,
    };
    let scheme = if p.secure { "https" } else { "http" };
    Ok((join(scheme, p.authority, &path, &query), requested))
}

/// The WebSocket URL of a hub URL: `http` → `ws`, `https` → `wss`, the query kept, and
/// `id=<token>` appended when there is a connection token (no token: the `skipNegotiation`
/// path, or a server that creates the connection on upgrade).
pub fn websocket_url(hub_url: &str, token: Option<&str>) -> Result<String, HubClientError> {
    let p = parts(hub_url)?;
    let mut query = query_pieces(p.query);
    if let Some(token) = token {
        query.push(format!("id={}", encode_component(token)));
    }
    let scheme = if p.secure { "wss" } else { "ws" };
    Ok(join(scheme, p.authority, p.path, &query))
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Where negotiation ended: the WebSocket to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTarget {
    /// `ws(s)://…?id=<token>`.
    pub websocket_url: String,
    /// The bearer token for the upgrade (the caller's, or the last redirect's).
    pub access_token: Option<String>,
    /// The public connection id (`None` after `skipNegotiation`).
    pub connection_id: Option<String>,
    /// Stateful reconnect was granted (handshake version 2).
    pub stateful: bool,
}

/// What to do after a negotiate answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateStep {
    /// Negotiate again at [`NegotiateFlow::request`] (a redirect was followed).
    Again,
    /// Open this WebSocket.
    Connect(ConnectTarget),
}

/// The negotiate loop of one connection attempt: negotiate at the hub URL, follow redirects
/// (new URL, new bearer token) at most [`MAX_REDIRECTS`] times, then pick WebSockets.
///
/// It does no HTTP and no retries; a failed request ends the attempt.
#[derive(Debug, Clone)]
pub struct NegotiateFlow {
    url: String,
    access_token: Option<String>,
    stateful: bool,
    format: TransferFormat,
    requests: u32,
}

impl NegotiateFlow {
    /// Starts at `hub_url` with the caller's token; `format` is what the hub protocol needs
    /// from the transport.
    pub fn new(
        hub_url: &str,
        access_token: Option<String>,
        stateful: bool,
        format: TransferFormat,
    ) -> Self {
        NegotiateFlow {
            url: hub_url.to_string(),
            access_token,
            stateful,
            format,
            requests: 0,
        }
    }

    /// The next negotiate request: its URL and whether it asks for stateful reconnect.
    pub fn request(&self) -> Result<(String, bool), HubClientError> {
        negotiate_url(&self.url, self.stateful)
    }

    /// The bearer token for the next request.
    pub fn access_token(&self) -> Option<&str> {
        self.access_token.as_deref()
    }

    /// The hub URL currently negotiated with (changes with redirects).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Takes the (parsed) answer to [`NegotiateFlow::request`].
    pub fn handle(&mut self, response: NegotiateResponse) -> Result<NegotiateStep, HubClientError> {
        self.requests += 1;
        match response {
            NegotiateResponse::Redirect { url, access_token } => {
                if self.requests >= MAX_REDIRECTS {
                    return Err(HubClientError::TooManyRedirects);
                }
                // Check the new URL now, so the error names it.
                parts(&url)?;
                self.url = url;
                if access_token.is_some() {
                    self.access_token = access_token;
                }
                Ok(NegotiateStep::Again)
            }
            NegotiateResponse::Error(text) => Err(HubClientError::Negotiate(
                interlink_core::hub::negotiate::NegotiateError::Server(text),
            )),
            NegotiateResponse::Connect(info) => {
                let websockets = info.available_transports.iter().any(|t| {
                    t.transport == TransportKind::WebSockets
                        && t.transfer_formats.contains(&self.format)
                });
                if !websockets {
                    return Err(HubClientError::NoTransport);
                }
                Ok(NegotiateStep::Connect(ConnectTarget {
                    websocket_url: websocket_url(&self.url, Some(&info.connection_token))?,
                    access_token: self.access_token.clone(),
                    connection_id: Some(info.connection_id),
                    stateful: info.stateful_reconnect,
                }))
            }
        }
    }

    /// The target for `skipNegotiation`: the hub URL as a WebSocket URL, without an id.
    pub fn skip(&self) -> Result<ConnectTarget, HubClientError> {
        Ok(ConnectTarget {
            websocket_url: websocket_url(&self.url, None)?,
            access_token: self.access_token.clone(),
            connection_id: None,
            stateful: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use interlink_core::hub::negotiate::{AvailableTransport, ConnectInfo};

    #[test]
    fn negotiate_urls_keep_the_query_and_add_the_version() {
        let n = |u: &str, s: bool| negotiate_url(u, s).unwrap();
        assert_eq!(
            n("http://h:5000/chat", false),
            (
                "http://h:5000/chat/negotiate?negotiateVersion=1".into(),
                false
            )
        );
        assert_eq!(
            n("https://svc/client/?hub=chat&asrs.op=%2Fchat#frag", false).0,
            "https://svc/client/negotiate?hub=chat&asrs.op=%2Fchat&negotiateVersion=1"
        );
        assert_eq!(
            n("ws://h/hub?negotiateVersion=0", true),
            (
                "http://h/hub/negotiate?negotiateVersion=0&useStatefulReconnect=true".into(),
                true
            )
        );
        assert_eq!(
            n("wss://h", false).0,
            "https://h/negotiate?negotiateVersion=1"
        );
        assert_eq!(
            n("http://h/hub?useStatefulReconnect=true", false),
            (
                "http://h/hub/negotiate?useStatefulReconnect=true&negotiateVersion=1".into(),
                true
            )
        );
        assert!(matches!(
            negotiate_url("ftp://h/x", false),
            Err(HubClientError::InvalidUrl { .. })
        ));
        assert!(negotiate_url("/relative", false).is_err());
        assert!(negotiate_url("http:///x", false).is_err());
    }

    #[test]
    fn websocket_urls_map_schemes_and_append_the_token() {
        assert_eq!(
            websocket_url("http://h:1/chat", Some("tok")).unwrap(),
            "ws://h:1/chat?id=tok"
        );
        assert_eq!(
            websocket_url("https://svc/client/?hub=chat", Some("a+b/c=")).unwrap(),
            "wss://svc/client/?hub=chat&id=a%2Bb%2Fc%3D"
        );
        assert_eq!(websocket_url("HTTPS://h", None).unwrap(), "wss://h/");
        assert_eq!(websocket_url("ws://h/x?y=1", None).unwrap(), "ws://h/x?y=1");
    }

    fn connect(id: &str, token: &str, transports: Vec<AvailableTransport>) -> NegotiateResponse {
        NegotiateResponse::Connect(ConnectInfo {
            connection_id: id.into(),
            connection_token: token.into(),
            negotiate_version: 1,
            available_transports: transports,
            stateful_reconnect: false,
        })
    }

    #[test]
    fn redirects_change_url_and_token_then_connect_uses_the_token_as_id() {
        let mut flow = NegotiateFlow::new(
            "http://app/chat",
            Some("user".into()),
            false,
            TransferFormat::Binary,
        );
        let redirect = NegotiateResponse::Redirect {
            url: "https://svc/client/?hub=chat".into(),
            access_token: Some("jwt".into()),
        };
        assert_eq!(flow.handle(redirect).unwrap(), NegotiateStep::Again);
        assert_eq!(
            flow.request().unwrap().0,
            "https://svc/client/negotiate?hub=chat&negotiateVersion=1"
        );
        assert_eq!(flow.access_token(), Some("jwt"));
        let ws = vec![AvailableTransport::full(TransportKind::WebSockets)];
        let NegotiateStep::Connect(target) = flow.handle(connect("cid", "ctok", ws)).unwrap()
        else {
            panic!("expected a connect");
        };
        assert_eq!(
            target,
            ConnectTarget {
                websocket_url: "wss://svc/client/?hub=chat&id=ctok".into(),
                access_token: Some("jwt".into()),
                connection_id: Some("cid".into()),
                stateful: false,
            }
        );
    }

    #[test]
    fn version_0_uses_the_connection_id_and_version_1_the_token() {
        let v0 = br#"{"connectionId":"pub0","availableTransports":[{"transport":"WebSockets","transferFormats":["Text"]}]}"#;
        let v1 = br#"{"connectionId":"pub1","connectionToken":"secret","negotiateVersion":1,"availableTransports":[{"transport":"WebSockets","transferFormats":["Text","Binary"]}]}"#;
        for (body, id, url) in [
            (&v0[..], "pub0", "ws://a/h?x=1&id=pub0"),
            (&v1[..], "pub1", "ws://a/h?x=1&id=secret"),
        ] {
            let mut flow = NegotiateFlow::new("http://a/h?x=1", None, false, TransferFormat::Text);
            let parsed = NegotiateResponse::parse(body, false).unwrap();
            let NegotiateStep::Connect(t) = flow.handle(parsed).unwrap() else {
                panic!("expected a connect");
            };
            assert_eq!(t.connection_id.as_deref(), Some(id));
            assert_eq!(t.websocket_url, url);
        }
    }

    #[test]
    fn the_hundredth_redirect_is_an_error() {
        let mut flow = NegotiateFlow::new("http://a/h", None, false, TransferFormat::Text);
        for i in 1..MAX_REDIRECTS {
            let r = NegotiateResponse::Redirect {
                url: format!("http://a/h{i}"),
                access_token: None,
            };
            assert_eq!(flow.handle(r).unwrap(), NegotiateStep::Again, "hop {i}");
        }
        let r = NegotiateResponse::Redirect {
            url: "http://a/last".into(),
            access_token: None,
        };
        assert!(matches!(
            flow.handle(r),
            Err(HubClientError::TooManyRedirects)
        ));
    }

    #[test]
    fn websockets_must_carry_the_protocols_format() {
        let sse_only = vec![AvailableTransport::full(TransportKind::ServerSentEvents)];
        let text_ws = vec![AvailableTransport {
            transport: TransportKind::WebSockets,
            transfer_formats: vec![TransferFormat::Text],
        }];
        let mut flow = NegotiateFlow::new("http://a/h", None, false, TransferFormat::Binary);
        assert!(matches!(
            flow.handle(connect("i", "t", sse_only)),
            Err(HubClientError::NoTransport)
        ));
        assert!(matches!(
            flow.handle(connect("i", "t", text_ws.clone())),
            Err(HubClientError::NoTransport)
        ));
        let mut flow = NegotiateFlow::new("http://a/h", None, false, TransferFormat::Text);
        assert!(matches!(
            flow.handle(connect("i", "t", text_ws)),
            Ok(NegotiateStep::Connect(_))
        ));
        assert_eq!(flow.skip().unwrap().websocket_url, "ws://a/h");
        assert_eq!(flow.skip().unwrap().connection_id, None);
    }
}
