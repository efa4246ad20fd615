//! Hybrid Connection addresses (spec §1, §4, §7): building the listen / connect / HTTP URLs a
//! client uses, parsing the `/$hc/{path}?{query}` requests a relay receives, and the `sb-hc-*`
//! query filtering the service applies before a listener sees the query.
//!
//! Not here: resolving which part of a path is the hybrid connection and which is the suffix
//! (only the relay knows its entities; see [`HcRequest::split_entity`]), and any validation of
//! tokens (see [`crate::relay::sas`]).

use std::fmt;

use percent_encoding::percent_decode_str;

use crate::relay::sas::{encode_uri_component, strip_prefix_ignore_case};

/// `sb-hc-action`.
pub const PARAM_ACTION: &str = "sb-hc-action";
/// `sb-hc-id`: optional tracking id.
pub const PARAM_ID: &str = "sb-hc-id";
/// `sb-hc-token`: URL-encoded SAS token.
pub const PARAM_TOKEN: &str = "sb-hc-token";
/// `sb-hc-statusCode`: reject only.
pub const PARAM_STATUS_CODE: &str = "sb-hc-statusCode";
/// `sb-hc-statusDescription`: reject only.
pub const PARAM_STATUS_DESCRIPTION: &str = "sb-hc-statusDescription";
/// The path segment that marks a WebSocket endpoint.
pub const HC_SEGMENT: &str = "$hc";

/// The `sb-hc-action` of a WebSocket request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// A listener opens its control channel.
    Listen,
    /// A sender opens a WebSocket (also what a request with no action means).
    Connect,
    /// A listener joins a WebSocket rendezvous (or rejects it).
    Accept,
    /// A listener joins an HTTP rendezvous.
    Request,
}

impl Action {
    /// The query value: `"listen"`, `"connect"`, `"accept"` or `"request"`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::Listen => "listen",
            Action::Connect => "connect",
            Action::Accept => "accept",
            Action::Request => "request",
        }
    }

    /// Parses a query value, ASCII case-insensitively; `None` for anything else (including "").
    pub fn parse(s: &str) -> Option<Action> {
        [
            Action::Listen,
            Action::Connect,
            Action::Accept,
            Action::Request,
        ]
        .into_iter()
        .find(|a| a.as_str().eq_ignore_ascii_case(s))
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a `/$hc/{path}?{query}` WebSocket request asks for, parsed by the relay. It only
/// describes the request; whether the entity exists or the token is valid is decided elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HcRequest {
    /// Percent-decoded path after `/$hc/`, no leading or trailing slash: the hybrid connection
    /// plus any suffix, e.g. `"hc1/sfx"`.
    pub entity_path: String,
    /// `sb-hc-action`; [`Action::Connect`] when absent.
    pub action: Action,
    /// `sb-hc-id`, percent-decoded.
    pub id: Option<String>,
    /// `sb-hc-token`, percent-decoded once (`+` kept; see [`crate::relay::sas::normalize_token`]).
    pub token: Option<String>,
    /// `sb-hc-statusCode` (reject), 100–599.
    pub status_code: Option<u16>,
    /// `sb-hc-statusDescription` (reject), decoded with `+` as space.
    pub status_description: Option<String>,
    /// The query with every `sb-hc-*=` parameter removed ([`filter_query`]), as the listener sees it.
    pub app_query: Option<String>,
}

impl HcRequest {
    /// Splits [`HcRequest::entity_path`] into (hybrid connection, suffix) by trying the longest
    /// segment prefix for which `is_entity` is true. `None` when no prefix names an entity.
    pub fn split_entity(&self, is_entity: impl Fn(&str) -> bool) -> Option<(&str, Option<&str>)> {
        let path = self.entity_path.as_str();
        let mut end = path.len();
        loop {
            if is_entity(&path[..end]) {
                let suffix = path.get(end + 1..).filter(|s| !s.is_empty());
                return Some((&path[..end], suffix));
            }
            end = path[..end].rfind('/')?;
        }
    }
}

/// Why a `$hc` request line is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    /// The path does not start with `/$hc/` (404: the path names no WebSocket endpoint).
    #[error("the path is not a hybrid connection endpoint (/$hc/...)")]
    NotHybridConnectionPath,
    /// `sb-hc-action` has an unknown value (400).
    #[error("unknown sb-hc-action `{0}`")]
    BadAction(String),
    /// Nothing follows `/$hc/` (404: no hybrid connection named).
    #[error("no hybrid connection named after /$hc/")]
    EmptyPath,
    /// `sb-hc-statusCode` is not a number in 100–599 (400).
    #[error("sb-hc-statusCode `{0}` is not a status code in 100-599")]
    BadStatusCode(String),
    /// The path or an `sb-hc-*` value does not percent-decode to UTF-8 (400).
    #[error("the path or an sb-hc-* value is not valid percent-encoded UTF-8")]
    BadEncoding,
}

impl AddressError {
    /// The HTTP status the relay answers with. Path problems are 404 (.NET listeners stop
    /// retrying only on 404, which is right for a path that can never work); the rest are 400.
    pub fn http_status(&self) -> u16 {
        match self {
            AddressError::NotHybridConnectionPath | AddressError::EmptyPath => 404,
            _ => 400,
        }
    }
}

/// Parses the path and query of a `$hc` WebSocket request. `path` starts with `/`; `query` is
/// the text after `?` (a leading `?` is tolerated). `$` may be written `%24`; `$hc` is matched
/// case-insensitively. The first occurrence of each `sb-hc-*` parameter wins.
pub fn parse_hc_request(path: &str, query: Option<&str>) -> Result<HcRequest, AddressError> {
    let rest = ["/$hc", "/%24hc"]
        .iter()
        .find_map(|p| strip_prefix_ignore_case(path, p))
        .ok_or(AddressError::NotHybridConnectionPath)?;
    if !(rest.is_empty() || rest.starts_with('/')) {
        return Err(AddressError::NotHybridConnectionPath);
    }
    let decoded = decode(rest)?;
    let entity_path = decoded.trim_matches('/');
    if entity_path.is_empty() {
        return Err(AddressError::EmptyPath);
    }
    let mut req = HcRequest {
        entity_path: entity_path.to_string(),
        action: Action::Connect,
        id: None,
        token: None,
        status_code: None,
        status_description: None,
        app_query: None,
    };
    let query = query
        .map(|q| q.strip_prefix('?').unwrap_or(q))
        .unwrap_or("");
    let mut action = None;
    for (name, value) in query.split('&').filter_map(|p| p.split_once('=')) {
        if name.eq_ignore_ascii_case(PARAM_ACTION) && action.is_none() {
            let v = decode(value)?;
            action = Some(Action::parse(&v).ok_or(AddressError::BadAction(v))?);
        } else if name.eq_ignore_ascii_case(PARAM_ID) && req.id.is_none() {
            req.id = Some(decode(value)?);
        } else if name.eq_ignore_ascii_case(PARAM_TOKEN) && req.token.is_none() {
            req.token = Some(decode(value)?);
        } else if name.eq_ignore_ascii_case(PARAM_STATUS_CODE) && req.status_code.is_none() {
            let v = decode(value)?;
            let code = v.parse().ok().filter(|c| (100..=599).contains(c));
            req.status_code = Some(code.ok_or(AddressError::BadStatusCode(v))?);
        } else if name.eq_ignore_ascii_case(PARAM_STATUS_DESCRIPTION)
            && req.status_description.is_none()
        {
            req.status_description = Some(decode(&value.replace('+', " "))?);
        }
    }
    req.action = action.unwrap_or(Action::Connect);
    req.app_query = filter_query(query);
    Ok(req)
}

/// Removes every `sb-hc-*` parameter that contains `=` (name matched ASCII case-insensitively);
/// everything else is kept byte for byte, including `sb-hc-x` without `=`, empty pairs and a
/// trailing `&`. A leading `?` is ignored. `None` when nothing remains.
pub fn filter_query(query: &str) -> Option<String> {
    let query = query.strip_prefix('?').unwrap_or(query);
    let kept: Vec<&str> = query
        .split('&')
        .filter(|part| match part.split_once('=') {
            Some((name, _)) => strip_prefix_ignore_case(name, "sb-hc-").is_none(),
            None => true,
        })
        .collect();
    let joined = kept.join("&");
    (!joined.is_empty()).then_some(joined)
}

/// Where a client connects: a relay namespace host. `secure` true → `wss`/`https`.
/// It holds no path and no credentials.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// TLS (`wss`/`https`) or plain (`ws`/`http`).
    pub secure: bool,
    /// Host name or IP address; IPv6 without brackets.
    pub host: String,
    /// Port, `None` for the scheme's default.
    pub port: Option<u16>,
}

impl Endpoint {
    /// Convenience constructor.
    pub fn new(secure: bool, host: impl Into<String>, port: Option<u16>) -> Self {
        Endpoint {
            secure,
            host: host.into(),
            port,
        }
    }

    /// `"host"` or `"host:port"`, IPv6 hosts bracketed.
    pub fn authority(&self) -> String {
        let host = if self.host.contains(':') && !self.host.starts_with('[') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(p) => format!("{host}:{p}"),
            None => host,
        }
    }

    fn base(&self, secure_scheme: &str, plain_scheme: &str) -> String {
        let scheme = if self.secure {
            secure_scheme
        } else {
            plain_scheme
        };
        format!("{scheme}://{}", self.authority())
    }

    /// `wss://host[:port]/$hc/{entity_path}?sb-hc-action=listen[&sb-hc-id=…][&sb-hc-token=…]`.
    /// The entity path is encoded per segment, `id` and `token` like `encodeURIComponent`.
    pub fn listen_url(&self, entity_path: &str, id: Option<&str>, token: Option<&str>) -> String {
        let mut url = format!(
            "{}/{HC_SEGMENT}/{}?",
            self.base("wss", "ws"),
            encode_path(entity_path)
        );
        push_sb_params(&mut url, Action::Listen, id, token);
        url
    }

    /// `wss://host[:port]/$hc/{entity_path}[/{suffix}]?[{app_query}&]sb-hc-action=connect[&sb-hc-id=…][&sb-hc-token=…]`.
    /// `entity_path` and `suffix` are decoded text (encoded here per segment); `app_query` is
    /// already-encoded query text and is copied verbatim (an empty one is dropped).
    pub fn connect_url(
        &self,
        entity_path: &str,
        suffix: Option<&str>,
        app_query: Option<&str>,
        id: Option<&str>,
        token: Option<&str>,
    ) -> String {
        let mut url = format!(
            "{}/{HC_SEGMENT}/{}",
            self.base("wss", "ws"),
            encode_path(entity_path)
        );
        if let Some(s) = suffix
            .map(|s| s.trim_start_matches('/'))
            .filter(|s| !s.is_empty())
        {
            url.push('/');
            url.push_str(&encode_path(s));
        }
        url.push('?');
        if let Some(q) = app_query
            .map(|q| q.strip_prefix('?').unwrap_or(q))
            .filter(|q| !q.is_empty())
        {
            url.push_str(q);
            url.push('&');
        }
        push_sb_params(&mut url, Action::Connect, id, token);
        url
    }

    /// `https://host[:port]/{entity_path}[{path_and_query}]` — the HTTP sender URL (no `$hc`).
    /// `path_and_query` (e.g. `"/x?a=1"` or `"?a=1"`) is already encoded and copied verbatim;
    /// a `/` is put in front of it unless it starts with `/` or `?`.
    pub fn http_url(&self, entity_path: &str, path_and_query: Option<&str>) -> String {
        let mut url = format!(
            "{}/{}",
            self.base("https", "http"),
            encode_path(entity_path)
        );
        if let Some(pq) = path_and_query.filter(|s| !s.is_empty()) {
            if !pq.starts_with(['/', '?']) {
                url.push('/');
            }
            url.push_str(pq);
        }
        url
    }

    /// Token audience for this endpoint and entity: `http://host[:port]/{entity_path}` (Node
    /// style, which the relay and the service accept; the path is encoded per segment).
    pub fn audience(&self, entity_path: &str) -> String {
        format!("http://{}/{}", self.authority(), encode_path(entity_path))
    }
}

/// Appends `sb-hc-statusCode` / `sb-hc-statusDescription` to an accept address (the reject
/// path). The address is otherwise used verbatim; the description is `encodeURIComponent`-ed.
pub fn reject_url(accept_address: &str, status: u16, description: &str) -> String {
    let mut url = accept_address.to_string();
    if !url.contains('?') {
        url.push('?');
    } else if !url.ends_with(['?', '&']) {
        url.push('&');
    }
    url.push_str(&format!(
        "{PARAM_STATUS_CODE}={status}&{PARAM_STATUS_DESCRIPTION}={}",
        encode_uri_component(description)
    ));
    url
}

/// Builds the single-use address the relay hands out:
/// `{base}/$hc/{entity_path}?sb-hc-action=accept|request&sb-hc-id={id}`.
/// `base_ws` is e.g. `"ws://127.0.0.1:9090"` (a trailing `/` is tolerated).
pub fn rendezvous_url(base_ws: &str, entity_path: &str, action: Action, id: &str) -> String {
    let mut url = format!(
        "{}/{HC_SEGMENT}/{}?",
        base_ws.trim_end_matches('/'),
        encode_path(entity_path)
    );
    push_sb_params(&mut url, action, Some(id), None);
    url
}

/// Encodes a decoded path (`a/b c` → `a/b%20c`): each `/`-separated segment like `encodeURIComponent`.
fn encode_path(path: &str) -> String {
    let path = path.trim_matches('/');
    path.split('/')
        .map(encode_uri_component)
        .collect::<Vec<_>>()
        .join("/")
}

fn push_sb_params(url: &mut String, action: Action, id: Option<&str>, token: Option<&str>) {
    url.push_str(&format!("{PARAM_ACTION}={}", action.as_str()));
    if let Some(id) = id {
        url.push_str(&format!("&{PARAM_ID}={}", encode_uri_component(id)));
    }
    if let Some(token) = token {
        url.push_str(&format!("&{PARAM_TOKEN}={}", encode_uri_component(token)));
    }
}

fn decode(s: &str) -> Result<String, AddressError> {
    percent_decode_str(s)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| AddressError::BadEncoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn local() -> Endpoint {
        Endpoint::new(false, "127.0.0.1", Some(9090))
    }

    #[test]
    fn action_strings() {
        for a in [
            Action::Listen,
            Action::Connect,
            Action::Accept,
            Action::Request,
        ] {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert_eq!(Action::parse(&a.as_str().to_uppercase()), Some(a));
            assert_eq!(a.to_string(), a.as_str());
        }
        assert_eq!(Action::parse("send"), None);
        assert_eq!(Action::parse(""), None);
    }

    #[test]
    fn query_filtering_table() {
        assert_eq!(filter_query("?a=1&a=2&").as_deref(), Some("a=1&a=2&"));
        assert_eq!(filter_query("&&&").as_deref(), Some("&&&"));
        assert_eq!(filter_query("?sb-hc-x").as_deref(), Some("sb-hc-x"));
        assert_eq!(
            filter_query("sb-hc-x&sb-hc-y=1").as_deref(),
            Some("sb-hc-x")
        );
        assert_eq!(
            filter_query("sb-hc-action=listen&sb-hc-id=1&SB-HC-TOKEN=t&sb-hc-anything="),
            None
        );
        assert_eq!(
            filter_query("foo=bar&sb-hc-action=connect&baz=").as_deref(),
            Some("foo=bar&baz=")
        );
        assert_eq!(
            filter_query("x=sb-hc-action=1").as_deref(),
            Some("x=sb-hc-action=1")
        );
        assert_eq!(filter_query(""), None);
        assert_eq!(filter_query("?"), None);
    }

    #[test]
    fn parses_listen_request() {
        let r = parse_hc_request("/$hc/hc1", Some("sb-hc-action=listen&sb-hc-id=G%201&sb-hc-token=SharedAccessSignature%20sr%3Dx%26sig%3Da%2Bb")).unwrap();
        assert_eq!(r.entity_path, "hc1");
        assert_eq!(r.action, Action::Listen);
        assert_eq!(r.id.as_deref(), Some("G 1"));
        assert_eq!(
            r.token.as_deref(),
            Some("SharedAccessSignature sr=x&sig=a+b")
        );
        assert_eq!(r.app_query, None);
    }

    #[test]
    fn no_action_means_connect_and_app_query_is_kept() {
        let r = parse_hc_request("/$hc/hc1/sfx/", Some("?a=1&sb-hc-x&sb-hc-id=7&")).unwrap();
        assert_eq!(r.entity_path, "hc1/sfx");
        assert_eq!(r.action, Action::Connect);
        assert_eq!(r.id.as_deref(), Some("7"));
        assert_eq!(r.app_query.as_deref(), Some("a=1&sb-hc-x&"));
        let bare = parse_hc_request("/%24HC/my%20hc", None).unwrap();
        assert_eq!(
            (bare.entity_path.as_str(), bare.action),
            ("my hc", Action::Connect)
        );
    }

    #[test]
    fn parses_reject_parameters() {
        let q = "sb-hc-action=accept&sb-hc-id=abc&sb-hc-statusCode=401&sb-hc-statusDescription=Go+away%21";
        let r = parse_hc_request("/$hc/hc1", Some(q)).unwrap();
        assert_eq!(r.action, Action::Accept);
        assert_eq!(r.status_code, Some(401));
        assert_eq!(r.status_description.as_deref(), Some("Go away!"));
    }

    #[test]
    fn parse_errors_and_statuses() {
        let e = |p: &str, q: Option<&str>| parse_hc_request(p, q).unwrap_err();
        assert_eq!(e("/hc1", None), AddressError::NotHybridConnectionPath);
        assert_eq!(e("/$hcx/hc1", None), AddressError::NotHybridConnectionPath);
        assert_eq!(e("/$hc", None), AddressError::EmptyPath);
        assert_eq!(e("/$hc//", None), AddressError::EmptyPath);
        assert_eq!(
            e("/$hc/a", Some("sb-hc-action=dance")),
            AddressError::BadAction("dance".into())
        );
        assert_eq!(
            e("/$hc/a", Some("sb-hc-action=")),
            AddressError::BadAction(String::new())
        );
        assert_eq!(
            e("/$hc/a", Some("sb-hc-statusCode=99")),
            AddressError::BadStatusCode("99".into())
        );
        assert_eq!(
            e("/$hc/a", Some("sb-hc-statusCode=x")),
            AddressError::BadStatusCode("x".into())
        );
        assert_eq!(e("/$hc/a%FF", None), AddressError::BadEncoding);
        assert_eq!(AddressError::NotHybridConnectionPath.http_status(), 404);
        assert_eq!(AddressError::EmptyPath.http_status(), 404);
        assert_eq!(AddressError::BadAction(String::new()).http_status(), 400);
        assert_eq!(AddressError::BadEncoding.http_status(), 400);
        // An `sb-hc-action` without `=` is app query, not an action.
        let r = parse_hc_request("/$hc/a", Some("sb-hc-action")).unwrap();
        assert_eq!(
            (r.action, r.app_query.as_deref()),
            (Action::Connect, Some("sb-hc-action"))
        );
    }

    #[test]
    fn split_entity_prefers_longest_known() {
        let r = parse_hc_request("/$hc/a/b/c/d", None).unwrap();
        assert_eq!(
            r.split_entity(|e| e == "a" || e == "a/b"),
            Some(("a/b", Some("c/d")))
        );
        assert_eq!(r.split_entity(|e| e == "a/b/c/d"), Some(("a/b/c/d", None)));
        assert_eq!(r.split_entity(|e| e == "b"), None);
    }

    #[test]
    fn url_templates() {
        let azure = Endpoint::new(true, "ns.servicebus.windows.net", None);
        assert_eq!(
            azure.listen_url("hc1", None, None),
            "wss://ns.servicebus.windows.net/$hc/hc1?sb-hc-action=listen"
        );
        assert_eq!(
            local().listen_url(
                "hc1",
                Some("g 1"),
                Some("SharedAccessSignature sr=a&sig=b+c=")
            ),
            "ws://127.0.0.1:9090/$hc/hc1?sb-hc-action=listen&sb-hc-id=g%201&sb-hc-token=SharedAccessSignature%20sr%3Da%26sig%3Db%2Bc%3D"
        );
        assert_eq!(
            azure.connect_url("hc1", Some("sfx/x y"), Some("?a=1"), Some("id"), None),
            "wss://ns.servicebus.windows.net/$hc/hc1/sfx/x%20y?a=1&sb-hc-action=connect&sb-hc-id=id"
        );
        assert_eq!(
            local().connect_url("hc1", None, Some(""), None, None),
            "ws://127.0.0.1:9090/$hc/hc1?sb-hc-action=connect"
        );
        assert_eq!(
            azure.http_url("hc1", Some("/x?a=1")),
            "https://ns.servicebus.windows.net/hc1/x?a=1"
        );
        assert_eq!(
            azure.http_url("hc1", Some("x")),
            "https://ns.servicebus.windows.net/hc1/x"
        );
        assert_eq!(
            local().http_url("hc1", Some("?a")),
            "http://127.0.0.1:9090/hc1?a"
        );
        assert_eq!(local().http_url("hc1", None), "http://127.0.0.1:9090/hc1");
        assert_eq!(local().audience("hc1"), "http://127.0.0.1:9090/hc1");
        assert_eq!(
            Endpoint::new(true, "::1", Some(443)).authority(),
            "[::1]:443"
        );
        assert_eq!(Endpoint::new(true, "h", None).authority(), "h");
    }

    #[test]
    fn audience_matches_node_for_the_same_listen_url() {
        let url = local().listen_url("hc1", None, None);
        assert_eq!(
            crate::relay::sas::node_style_audience(&url),
            local().audience("hc1")
        );
    }

    #[test]
    fn reject_and_rendezvous_urls() {
        let addr = rendezvous_url("ws://127.0.0.1:9090/", "hc1/sfx", Action::Accept, "id 1");
        assert_eq!(
            addr,
            "ws://127.0.0.1:9090/$hc/hc1/sfx?sb-hc-action=accept&sb-hc-id=id%201"
        );
        let rej = reject_url(&addr, 403, "Not you & not now");
        assert_eq!(
            rej,
            format!(
                "{addr}&sb-hc-statusCode=403&sb-hc-statusDescription=Not%20you%20%26%20not%20now"
            )
        );
        let parsed =
            parse_hc_request("/$hc/hc1/sfx", Some(rej.split_once('?').unwrap().1)).unwrap();
        assert_eq!(parsed.status_code, Some(403));
        assert_eq!(
            parsed.status_description.as_deref(),
            Some("Not you & not now")
        );
        assert_eq!(parsed.id.as_deref(), Some("id 1"));
        assert_eq!(
            reject_url("ws://h/x", 400, "a"),
            "ws://h/x?sb-hc-statusCode=400&sb-hc-statusDescription=a"
        );
        assert_eq!(
            reject_url("ws://h/x?", 400, "a"),
            "ws://h/x?sb-hc-statusCode=400&sb-hc-statusDescription=a"
        );
        let req = rendezvous_url("ws://h", "hc", Action::Request, "r");
        assert_eq!(
            parse_hc_request("/$hc/hc", Some(req.split_once('?').unwrap().1))
                .unwrap()
                .action,
            Action::Request
        );
    }

    fn split_url(url: &str) -> (&str, Option<&str>) {
        let after_scheme = &url[url.find("://").unwrap() + 3..];
        let path_start = after_scheme.find('/').unwrap();
        let path_and_query = &after_scheme[path_start..];
        match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        }
    }

    proptest! {
        #[test]
        fn connect_url_round_trips(
            entity in proptest::collection::vec("[^/]{1,8}", 1..3),
            suffix in proptest::option::of(proptest::collection::vec("[^/]{1,8}", 1..3)),
            app_query in proptest::option::of("([a-z0-9%]{0,5}(=[a-z0-9=%]{0,5})?)(&[a-z0-9%]{0,5}(=[a-z0-9=%]{0,5})?){0,3}"),
            id in proptest::option::of("\\PC{1,12}"),
            token in proptest::option::of("\\PC{1,40}"),
            secure in any::<bool>(),
            port in proptest::option::of(any::<u16>()),
        ) {
            let entity = entity.join("/");
            let suffix = suffix.map(|s| s.join("/"));
            let ep = Endpoint::new(secure, "relay.example", port);
            let url = ep.connect_url(&entity, suffix.as_deref(), app_query.as_deref(), id.as_deref(), token.as_deref());
            let (path, query) = split_url(&url);
            let r = parse_hc_request(path, query).unwrap();
            let expected_path = match &suffix { Some(s) => format!("{entity}/{s}"), None => entity.clone() };
            prop_assert_eq!(&r.entity_path, &expected_path);
            prop_assert_eq!(r.split_entity(|e| e == entity), Some((entity.as_str(), suffix.as_deref())));
            prop_assert_eq!(r.action, Action::Connect);
            prop_assert_eq!(r.app_query, app_query.filter(|q| !q.is_empty()));
            prop_assert_eq!(r.id, id);
            prop_assert_eq!(r.token, token);
        }

        #[test]
        fn listen_url_round_trips(entity in "[^/]{1,10}", id in "\\PC{1,12}", token in "\\PC{1,40}") {
            let url = Endpoint::new(true, "h", None).listen_url(&entity, Some(&id), Some(&token));
            let (path, query) = split_url(&url);
            let r = parse_hc_request(path, query).unwrap();
            prop_assert_eq!((r.entity_path, r.action, r.id, r.token, r.app_query), (entity, Action::Listen, Some(id), Some(token), None));
        }

        #[test]
        fn filter_query_keeps_non_sb_parts(parts in proptest::collection::vec("[a-z=&-]{0,8}", 0..6)) {
            let q = parts.join("&");
            let out = filter_query(&q).unwrap_or_default();
            let expected: Vec<&str> = q.split('&').filter(|p| !(p.starts_with("sb-hc-") && p.contains('='))).collect();
            prop_assert_eq!(out, expected.join("&"));
        }
    }
}
