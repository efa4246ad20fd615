//! Control-channel messages of Hybrid Connections.
//!
//! Each message is one JSON object in a WebSocket **text** message, keyed by its name:
//! `accept` and `request` flow from the relay to the listener, `response` and `renewToken`
//! from the listener to the relay. A message carrying `"body": true` is followed
//! immediately by exactly one (possibly fragmented) **binary** message holding the body; that
//! framing rule is enforced by the state machines, not here.
//!
//! Readers are tolerant of the documented quirks (a `statusCode` written as a string, header
//! values written as arrays, unknown fields, unknown commands); writers are strict and emit
//! exactly the shape the official SDKs send. This module does not validate semantics such as
//! whether a request id is known.

use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// An ordered list of HTTP headers as carried in control messages (a JSON object on the wire).
///
/// Order is preserved in both directions. Values of repeated headers are joined with `", "`
/// by [`Headers::append_joined`]; a JSON array value (hyco sends them) is read the same way.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(pub Vec<(String, String)>);

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    /// The first value of `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Adds `value` under `name`, joining it with `", "` to an existing entry of the same name.
    pub fn append_joined(&mut self, name: &str, value: &str) {
        match self
            .0
            .iter_mut()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
        {
            Some((_, v)) => {
                v.push_str(", ");
                v.push_str(value);
            }
            None => self.0.push((name.to_string(), value.to_string())),
        }
    }

    /// Removes every entry named `name` (case-insensitive).
    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// Iterates `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no entries.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Total size of names and values in bytes, as counted against header limits.
    pub fn byte_size(&self) -> usize {
        self.0.iter().map(|(n, v)| n.len() + v.len() + 4).sum()
    }
}

impl Serialize for Headers {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (n, v) in &self.0 {
            map.serialize_entry(n, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Headers {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct HeadersVisitor;
        impl<'de> Visitor<'de> for HeadersVisitor {
            type Value = Headers;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object of header names to values")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Headers, E> {
                Ok(Headers::new())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Headers, A::Error> {
                let mut headers = Headers::new();
                while let Some((name, value)) = map.next_entry::<String, HeaderValue>()? {
                    for v in value.0 {
                        headers.append_joined(&name, &v);
                    }
                }
                Ok(headers)
            }
        }
        d.deserialize_any(HeadersVisitor)
    }
}

/// One header value as read: a string, a number or bool written without quotes, or an array
/// of those (each becomes one value).
struct HeaderValue(Vec<String>);

impl<'de> Deserialize<'de> for HeaderValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = serde_json::Value::deserialize(d)?;
        fn scalar(v: &serde_json::Value) -> Option<String> {
            match v {
                serde_json::Value::String(s) => Some(s.clone()),
                serde_json::Value::Number(n) => Some(n.to_string()),
                serde_json::Value::Bool(b) => Some(b.to_string()),
                _ => None,
            }
        }
        match &v {
            serde_json::Value::Array(items) => {
                Ok(HeaderValue(items.iter().filter_map(scalar).collect()))
            }
            serde_json::Value::Null => Ok(HeaderValue(Vec::new())),
            other => scalar(other)
                .map(|s| HeaderValue(vec![s]))
                .ok_or_else(|| de::Error::custom("header value must be a string")),
        }
    }
}

/// The sender's address as seen by the relay (undocumented, read by .NET).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteEndpoint {
    /// IP address text.
    pub address: String,
    /// TCP port.
    pub port: u16,
}

/// `accept`: a sender wants a WebSocket; the listener should open `address` (single use).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceptCommand {
    /// Rendezvous address to open verbatim (valid about 30 s, single use).
    pub address: String,
    /// Tracking id: the sender's `sb-hc-id` or a generated one.
    pub id: String,
    /// Every header of the sender's upgrade request (must include `Sec-WebSocket-Key`).
    #[serde(default)]
    pub connect_headers: Headers,
    /// Where the sender connected from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_endpoint: Option<RemoteEndpoint>,
}

/// `request`: an HTTP request for the listener.
///
/// The rendezvous-only form (large, chunked or slow requests) has only `address` and `id`;
/// the listener opens `address` and receives the full `request` there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestCommand {
    /// Rendezvous address for this request (for a response stream or a rendezvous-only request).
    pub address: String,
    /// Request id; the `response` echoes it as `requestId`.
    pub id: String,
    /// Path and query, including the hybrid connection name (`/hc1/abc?x=1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_target: Option<String>,
    /// HTTP method; absent in the rendezvous-only form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Where the sender connected from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote_endpoint: Option<RemoteEndpoint>,
    /// Request headers (hop-by-hop and auth headers removed, repeats joined).
    #[serde(default, skip_serializing_if = "Headers::is_empty")]
    pub request_headers: Headers,
    /// Whether one binary body message follows; absent in the rendezvous-only form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<bool>,
}

impl RequestCommand {
    /// True for the rendezvous-only form (no `method`): the listener must open `address` to
    /// receive the request.
    pub fn is_rendezvous_only(&self) -> bool {
        self.method.is_none()
    }

    /// True when a binary body message follows this message.
    pub fn has_body(&self) -> bool {
        self.body == Some(true)
    }
}

/// `response`: the listener's answer to a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseCommand {
    /// The `id` of the request this answers.
    pub request_id: String,
    /// HTTP status (read from a number or a string).
    #[serde(deserialize_with = "status_from_number_or_string")]
    pub status_code: u16,
    /// Reason phrase; when absent the default phrase of the status is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_description: Option<String>,
    /// Response headers.
    #[serde(default)]
    pub response_headers: Headers,
    /// Whether one binary body message follows.
    #[serde(default)]
    pub body: bool,
}

/// `renewToken`: the listener's fresh token for its control channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewTokenCommand {
    /// The token in header form (`SharedAccessSignature …`), possibly URL-encoded once more.
    pub token: String,
}

/// A control-channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlMessage {
    /// Relay → listener: open a WebSocket rendezvous.
    Accept(AcceptCommand),
    /// Relay → listener: an HTTP request (full or rendezvous-only).
    Request(RequestCommand),
    /// Listener → relay: an HTTP response.
    Response(ResponseCommand),
    /// Listener → relay: a fresh token.
    RenewToken(RenewTokenCommand),
    /// A command this implementation does not know; ignored by receivers.
    Unknown(String),
}

/// Why a control message could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Not a JSON object with one command key.
    #[error("control message is not a JSON object with a command: {0}")]
    NotACommand(String),
    /// A known command with missing or ill-typed fields.
    #[error("malformed `{command}` message: {detail}")]
    Malformed {
        /// The command name.
        command: &'static str,
        /// What serde reported.
        detail: String,
    },
}

impl ControlMessage {
    /// Parses one text message. Unknown commands yield [`ControlMessage::Unknown`]. Header
    /// order is preserved (the body is read straight into the command, not via a map).
    pub fn parse(text: &str) -> Result<ControlMessage, MessageError> {
        serde_json::from_str::<Envelope>(text)
            .map(|e| e.0)
            .map_err(|e| {
                // Tell a broken envelope from a known command with bad fields.
                let command = match serde_json::from_str::<serde_json::Value>(text) {
                    Ok(serde_json::Value::Object(map)) => {
                        map.keys().next().and_then(|k| known_command(k))
                    }
                    _ => None,
                };
                match command {
                    Some(command) => MessageError::Malformed {
                        command,
                        detail: e.to_string(),
                    },
                    None => MessageError::NotACommand(e.to_string()),
                }
            })
    }

    /// Serializes to the JSON text sent on the wire.
    pub fn to_json(&self) -> String {
        fn wrap<T: Serialize>(name: &str, body: &T) -> String {
            let mut out = String::with_capacity(256);
            out.push_str("{\"");
            out.push_str(name);
            out.push_str("\":");
            out.push_str(&serde_json::to_string(body).expect("control messages always serialize"));
            out.push('}');
            out
        }
        match self {
            ControlMessage::Accept(m) => wrap("accept", m),
            ControlMessage::Request(m) => wrap("request", m),
            ControlMessage::Response(m) => wrap("response", m),
            ControlMessage::RenewToken(m) => wrap("renewToken", m),
            ControlMessage::Unknown(name) => wrap(name, &serde_json::json!({})),
        }
    }

    /// The command name as it appears on the wire.
    pub fn name(&self) -> &str {
        match self {
            ControlMessage::Accept(_) => "accept",
            ControlMessage::Request(_) => "request",
            ControlMessage::Response(_) => "response",
            ControlMessage::RenewToken(_) => "renewToken",
            ControlMessage::Unknown(n) => n,
        }
    }

    /// True when exactly one binary body message must follow this message.
    pub fn announces_body(&self) -> bool {
        match self {
            ControlMessage::Request(r) => r.has_body(),
            ControlMessage::Response(r) => r.body,
            _ => false,
        }
    }
}

fn known_command(name: &str) -> Option<&'static str> {
    ["accept", "request", "response", "renewToken"]
        .into_iter()
        .find(|k| *k == name)
}

/// The `{"name": {...}}` envelope, read without an intermediate map.
struct Envelope(ControlMessage);

impl<'de> Deserialize<'de> for Envelope {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor;
        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = Envelope;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object with one command")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
                let Some(name) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("empty object"));
                };
                let msg = match name.as_str() {
                    "accept" => ControlMessage::Accept(map.next_value()?),
                    "request" => ControlMessage::Request(map.next_value()?),
                    "response" => ControlMessage::Response(map.next_value()?),
                    "renewToken" => ControlMessage::RenewToken(map.next_value()?),
                    _ => {
                        map.next_value::<de::IgnoredAny>()?;
                        ControlMessage::Unknown(name)
                    }
                };
                // Extra keys after the command are ignored.
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Envelope(msg))
            }
        }
        d.deserialize_map(EnvelopeVisitor)
    }
}

fn status_from_number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    let n = match &v {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match n {
        Some(n) if (100..=599).contains(&n) => Ok(n as u16),
        _ => Err(de::Error::custom(format!(
            "statusCode must be 100..=599, got {v}"
        ))),
    }
}

/// The default reason phrase of an HTTP status (used when `statusDescription` is absent).
pub fn default_reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        422 => "Unprocessable Entity",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_documented_accept() {
        let text = r#"{"accept":{"address":"wss://g12-prod-xx-sb.servicebus.windows.net/$hc/hyco/sfx?sb-hc-action=accept&sb-hc-id=abc",
          "id":"4cb5","connectHeaders":{"Sec-WebSocket-Key":"k==","Sec-WebSocket-Version":"13","Sec-WebSocket-Protocol":"a, b"},
          "remoteEndpoint":{"address":"203.0.113.5","port":51234}}}"#;
        let ControlMessage::Accept(a) = ControlMessage::parse(text).unwrap() else {
            panic!("not an accept")
        };
        assert_eq!(a.id, "4cb5");
        assert!(a.address.ends_with("sb-hc-id=abc"));
        assert_eq!(a.connect_headers.get("sec-websocket-key"), Some("k=="));
        assert_eq!(
            a.connect_headers.get("Sec-WebSocket-Protocol"),
            Some("a, b")
        );
        assert_eq!(a.remote_endpoint.unwrap().port, 51234);
    }

    #[test]
    fn request_forms() {
        let full = r#"{"request":{"address":"wss://x/$hc/hyco?sb-hc-action=request&sb-hc-id=1","id":"42c3",
          "requestTarget":"/hyco/abc?x=1","method":"POST","remoteEndpoint":{"address":"1.2.3.4","port":1},
          "requestHeaders":{"Content-Type":"text/plain","X-A":"v1, v2"},"body":true}}"#;
        let ControlMessage::Request(r) = ControlMessage::parse(full).unwrap() else {
            panic!()
        };
        assert!(!r.is_rendezvous_only());
        assert!(r.has_body());
        assert_eq!(r.request_target.as_deref(), Some("/hyco/abc?x=1"));
        assert_eq!(r.request_headers.get("x-a"), Some("v1, v2"));

        let only = r#"{"request":{"address":"wss://x/$hc/hyco?sb-hc-action=request&sb-hc-id=1","id":"42c3"}}"#;
        let msg = ControlMessage::parse(only).unwrap();
        let ControlMessage::Request(r) = &msg else {
            panic!()
        };
        assert!(r.is_rendezvous_only());
        assert!(!msg.announces_body());
        // The writer emits the rendezvous-only form without method or body.
        assert_eq!(msg.to_json(), only);
    }

    #[test]
    fn response_status_as_string_or_number() {
        let a = r#"{"response":{"requestId":"1","statusCode":"200","responseHeaders":{},"body":false}}"#;
        let b = r#"{"response":{"requestId":"1","statusCode":200,"statusDescription":"OK","responseHeaders":{"content-type":"x"},"body":true}}"#;
        let ControlMessage::Response(ra) = ControlMessage::parse(a).unwrap() else {
            panic!()
        };
        let ControlMessage::Response(rb) = ControlMessage::parse(b).unwrap() else {
            panic!()
        };
        assert_eq!(ra.status_code, 200);
        assert_eq!(ra.status_description, None);
        assert!(!ra.body);
        assert_eq!(rb.status_description.as_deref(), Some("OK"));
        assert!(rb.body);
        let bad = r#"{"response":{"requestId":"1","statusCode":99}}"#;
        assert!(matches!(
            ControlMessage::parse(bad),
            Err(MessageError::Malformed {
                command: "response",
                ..
            })
        ));
    }

    #[test]
    fn header_arrays_and_numbers_are_tolerated() {
        let t = r#"{"response":{"requestId":"1","statusCode":200,"responseHeaders":{"set-cookie":["a=1","b=2"],"content-length":5},"body":false}}"#;
        let ControlMessage::Response(r) = ControlMessage::parse(t).unwrap() else {
            panic!()
        };
        assert_eq!(r.response_headers.get("Set-Cookie"), Some("a=1, b=2"));
        assert_eq!(r.response_headers.get("content-length"), Some("5"));
    }

    #[test]
    fn renew_and_unknown_and_garbage() {
        let r = ControlMessage::parse(
            r#"{"renewToken":{"token":"SharedAccessSignature sr=a&sig=b&se=1&skn=c"}}"#,
        )
        .unwrap();
        assert!(
            matches!(r, ControlMessage::RenewToken(ref t) if t.token.starts_with("SharedAccessSignature"))
        );
        assert_eq!(
            ControlMessage::parse(r#"{"injectFault":{"delay":"00:00:01"}}"#).unwrap(),
            ControlMessage::Unknown("injectFault".into())
        );
        assert!(matches!(
            ControlMessage::parse("[1,2]"),
            Err(MessageError::NotACommand(_))
        ));
        assert!(matches!(
            ControlMessage::parse("{}"),
            Err(MessageError::NotACommand(_))
        ));
        assert!(matches!(
            ControlMessage::parse("{"),
            Err(MessageError::NotACommand(_))
        ));
        assert!(matches!(
            ControlMessage::parse(r#"{"accept":{"id":"x"}}"#),
            Err(MessageError::Malformed {
                command: "accept",
                ..
            })
        ));
    }

    #[test]
    fn golden_response_json() {
        let msg = ControlMessage::Response(ResponseCommand {
            request_id: "42".into(),
            status_code: 201,
            status_description: Some("Created".into()),
            response_headers: Headers(vec![("content-type".into(), "text/plain".into())]),
            body: true,
        });
        assert_eq!(
            msg.to_json(),
            r#"{"response":{"requestId":"42","statusCode":201,"statusDescription":"Created","responseHeaders":{"content-type":"text/plain"},"body":true}}"#
        );
    }

    #[test]
    fn default_reasons() {
        assert_eq!(default_reason(200), "OK");
        assert_eq!(default_reason(504), "Gateway Timeout");
        assert_eq!(default_reason(299), "");
    }

    fn header_strategy() -> impl Strategy<Value = Headers> {
        proptest::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,20}"), 0..6).prop_map(
            |pairs| {
                let mut h = Headers::new();
                for (n, v) in pairs {
                    if h.get(&n).is_none() {
                        h.0.push((n, v));
                    }
                }
                h
            },
        )
    }

    proptest! {
        #[test]
        fn request_round_trip(id in "[a-f0-9-]{1,36}", method in "(GET|POST|PUT|DELETE)", target in "/[a-z0-9/]{0,20}",
                              headers in header_strategy(), body in any::<bool>(), port in any::<u16>()) {
            let msg = ControlMessage::Request(RequestCommand {
                address: format!("ws://127.0.0.1:1/$hc/x?sb-hc-action=request&sb-hc-id={id}"),
                id, request_target: Some(target), method: Some(method),
                remote_endpoint: Some(RemoteEndpoint { address: "127.0.0.1".into(), port }),
                request_headers: headers, body: Some(body),
            });
            prop_assert_eq!(ControlMessage::parse(&msg.to_json()).unwrap(), msg);
        }

        #[test]
        fn accept_and_response_round_trip(id in "[a-z0-9]{1,20}", status in 100u16..600, headers in header_strategy(),
                                          desc in proptest::option::of("[ -~]{0,30}"), body in any::<bool>()) {
            let accept = ControlMessage::Accept(AcceptCommand {
                address: format!("wss://h/$hc/p?sb-hc-action=accept&sb-hc-id={id}"), id: id.clone(),
                connect_headers: headers.clone(), remote_endpoint: None,
            });
            prop_assert_eq!(ControlMessage::parse(&accept.to_json()).unwrap(), accept);
            let response = ControlMessage::Response(ResponseCommand {
                request_id: id, status_code: status, status_description: desc, response_headers: headers, body,
            });
            prop_assert_eq!(ControlMessage::parse(&response.to_json()).unwrap(), response);
        }
    }
}
