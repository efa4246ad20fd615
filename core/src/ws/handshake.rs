//! The HTTP/1.1 upgrade (RFC 6455 §4), sans-IO: request and response bytes, parsing and
//! validation for both sides. No extensions are ever negotiated.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha1::{Digest, Sha1};

use super::error::HandshakeError;

/// The GUID appended to the key before hashing (RFC 6455 §1.3).
const WS_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The largest response head [`parse_response`] waits for before giving up.
pub const MAX_HEAD_LEN: usize = 16 * 1024;

/// The most headers [`parse_response`] accepts.
const MAX_HEADERS: usize = 64;

/// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)). The key is
/// used as given (already trimmed of surrounding whitespace by the caller or the parser).
pub fn accept_key(sec_websocket_key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(sec_websocket_key.as_bytes());
    sha.update(WS_GUID.as_bytes());
    STANDARD.encode(sha.finalize())
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64. Pass a generator seeded from real
/// entropy in production; the core never picks a seed itself.
pub fn generate_key(rng: &mut fastrand::Rng) -> String {
    let mut nonce = [0u8; 16];
    rng.fill(&mut nonce);
    STANDARD.encode(nonce)
}

/// Removes CR and LF so that a value cannot end a header line early (header injection).
fn clean(value: &str) -> String {
    value.chars().filter(|c| *c != '\r' && *c != '\n').collect()
}

/// The client's upgrade request head (`GET … HTTP/1.1` up to and including the blank line).
///
/// `protocols` become one `Sec-WebSocket-Protocol` header (omitted when empty);
/// `extra_headers` are appended as given (e.g. `Authorization`). CR and LF are removed from
/// every value, so no argument can inject a header, and spaces in the path become `%20`. No
/// extensions are offered.
pub fn client_request(
    host: &str,
    path_and_query: &str,
    key: &str,
    protocols: &[&str],
    extra_headers: &[(&str, &str)],
) -> Vec<u8> {
    let path = if path_and_query.is_empty() {
        "/"
    } else {
        path_and_query
    };
    let mut head = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\n",
        clean(path).replace(' ', "%20"),
        clean(host),
        clean(key)
    );
    if !protocols.is_empty() {
        head.push_str("Sec-WebSocket-Protocol: ");
        head.push_str(&clean(&protocols.join(", ")));
        head.push_str("\r\n");
    }
    for (name, value) in extra_headers {
        head.push_str(&format!("{}: {}\r\n", clean(name), clean(value)));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// A parsed HTTP response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// Headers in order, names as received; values decoded lossily as UTF-8.
    pub headers: Vec<(String, String)>,
    /// Bytes of the buffer the head used (through the blank line). Whatever follows is
    /// already WebSocket data: feed it to the [`Connection`](super::Connection).
    pub head_len: usize,
}

impl ResponseHead {
    /// The values of every header named `name` (ASCII case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the server's response head from the start of `buf`. `Ok(None)`: the head is not
/// complete yet (call again with more bytes). Does not judge the status; see
/// [`validate_101`].
pub fn parse_response(buf: &[u8]) -> Result<Option<ResponseHead>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(head_len)) => Ok(Some(ResponseHead {
            status: response.code.unwrap_or(0),
            reason: response.reason.unwrap_or("").to_owned(),
            headers: response
                .headers
                .iter()
                .map(|h| {
                    let value = String::from_utf8_lossy(h.value).trim().to_owned();
                    (h.name.to_owned(), value)
                })
                .collect(),
            head_len,
        })),
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_LEN => {
            Err(HandshakeError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HandshakeError::HeadTooLarge),
        Err(_) => Err(HandshakeError::MalformedResponse),
    }
}

/// Whether a comma-separated header value contains `token` (ASCII case-insensitive).
fn has_token(value: &str, token: &str) -> bool {
    value
        .split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// Checks a response against the request's `key`: status 101, `Upgrade: websocket`,
/// `Connection: upgrade`, the matching `Sec-WebSocket-Accept`, no extension. Returns the
/// subprotocol the server selected, if any; checking that it is one we offered is the
/// caller's job.
pub fn validate_101(head: &ResponseHead, key: &str) -> Result<Option<String>, HandshakeError> {
    if head.status != 101 {
        return Err(HandshakeError::UnexpectedStatus(head.status));
    }
    if !head
        .header_values("upgrade")
        .any(|v| has_token(v, "websocket"))
    {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !head
        .header_values("connection")
        .any(|v| has_token(v, "upgrade"))
    {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let expected = accept_key(key.trim());
    let mut accepts = head.header_values("sec-websocket-accept");
    match (accepts.next(), accepts.next()) {
        (Some(accept), None) if accept.trim() == expected => {}
        _ => return Err(HandshakeError::BadAccept),
    }
    if head
        .header_values("sec-websocket-extensions")
        .any(|v| !v.trim().is_empty())
    {
        return Err(HandshakeError::UnexpectedExtension);
    }
    let mut protocols = head
        .header_values("sec-websocket-protocol")
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty());
    match (protocols.next(), protocols.next()) {
        (None, _) => Ok(None),
        (Some(p), None) => Ok(Some(p.to_owned())),
        (Some(_), Some(_)) => Err(HandshakeError::MultipleProtocols),
    }
}

/// What a valid upgrade request asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpgradeRequest {
    /// The `Sec-WebSocket-Key`, trimmed; pass it to [`response_101`].
    pub key: String,
    /// The offered subprotocols, in order of preference.
    pub protocols: Vec<String>,
    /// The raw `Sec-WebSocket-Extensions` values joined with `", "`, if any were sent (we
    /// accept none; this is informational).
    pub extensions: Option<String>,
}

/// Server side: checks an upgrade request (RFC 6455 §4.2.1): method GET, a `Host`,
/// `Upgrade: websocket`, `Connection` containing `upgrade`, `Sec-WebSocket-Version: 13` and
/// a `Sec-WebSocket-Key` of 16 base64-decoded bytes. Header names are matched ASCII
/// case-insensitively; repeated headers are combined. Does not look at the path, `Origin` or
/// authentication. On error, answer with [`error_response`].
pub fn check_upgrade_request<'a>(
    method: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<UpgradeRequest, HandshakeError> {
    if method != "GET" {
        return Err(HandshakeError::NotGet(method.to_owned()));
    }
    let (mut host, mut upgrade, mut connection, mut version_ok) = (false, false, false, false);
    let mut version_seen = false;
    let mut keys = Vec::new();
    let mut protocols = Vec::new();
    let mut extensions: Vec<String> = Vec::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value);
        let value = value.trim();
        if name.eq_ignore_ascii_case("host") {
            host = true;
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade |= has_token(value, "websocket");
        } else if name.eq_ignore_ascii_case("connection") {
            connection |= has_token(value, "upgrade");
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            version_ok = (!version_seen || version_ok) && value == "13";
            version_seen = true;
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            keys.push(value.to_owned());
        } else if name.eq_ignore_ascii_case("sec-websocket-protocol") {
            protocols.extend(
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .map(str::to_owned),
            );
        } else if name.eq_ignore_ascii_case("sec-websocket-extensions") && !value.is_empty() {
            extensions.push(value.to_owned());
        }
    }
    if !host {
        return Err(HandshakeError::MissingHost);
    }
    if !upgrade {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !connection {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    if !version_ok {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let key = match keys.as_slice() {
        [key] if STANDARD.decode(key).is_ok_and(|k| k.len() == 16) => key.clone(),
        _ => return Err(HandshakeError::BadKey),
    };
    Ok(UpgradeRequest {
        key,
        protocols,
        extensions: (!extensions.is_empty()).then(|| extensions.join(", ")),
    })
}

/// Server side: the `101 Switching Protocols` response head for the client's `key`
/// (the accept value is computed here), selecting `protocol` if given (it should be one of
/// the request's). CR and LF are removed from `protocol`.
pub fn response_101(key: &str, protocol: Option<&str>) -> Vec<u8> {
    let mut head = String::from("HTTP/1.1 101 Switching Protocols\r\n");
    for (name, value) in response_101_headers(key, protocol) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Server side: the headers of a 101 answer to `key` (for servers whose HTTP layer writes
/// the status line itself), in order: `Upgrade`, `Connection`, `Sec-WebSocket-Accept` and,
/// when chosen, `Sec-WebSocket-Protocol`.
pub fn response_101_headers(key: &str, protocol: Option<&str>) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("Upgrade", "websocket".to_string()),
        ("Connection", "Upgrade".to_string()),
        ("Sec-WebSocket-Accept", accept_key(key.trim())),
    ];
    if let Some(protocol) = protocol {
        headers.push(("Sec-WebSocket-Protocol", clean(protocol)));
    }
    headers
}

/// Server side: a complete, empty-bodied error response for a failed upgrade, with the
/// error's [`http_status`](HandshakeError::http_status); a 426 advertises
/// `Sec-WebSocket-Version: 13` as RFC 6455 §4.4 asks.
pub fn error_response(error: &HandshakeError) -> Vec<u8> {
    let status = error.http_status();
    let (reason, extra) = match status {
        426 => (
            "Upgrade Required",
            "Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
        ),
        _ => ("Bad Request", ""),
    };
    format!("HTTP/1.1 {status} {reason}\r\n{extra}Connection: close\r\nContent-Length: 0\r\n\r\n")
        .into_bytes()
}
