//! Negotiate (`POST {base}/negotiate`, spec `signalr.md` §4), sans-IO: the query a client
//! sends, the JSON bodies a server answers with, and a tolerant parser of those bodies for
//! clients. Also the transport names ([`TransportKind`]) and connection id generation.
//!
//! Which connections exist and what later requests are answered is
//! [`connections`](super::connections)' business; this module only reads and writes the
//! negotiate wire forms. It does no HTTP: the caller maps a [`NegotiateResponse`] to an
//! HTTP 200 with `Content-Type: application/json` (errors in the query are HTTP 200 too).

use std::borrow::Cow;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use percent_encoding::percent_decode_str;
use serde::Serialize;
use serde_json::Value;

use super::message::TransferFormat;

/// The highest negotiate version we speak; higher requests are clamped to it.
pub const NEGOTIATE_VERSION: u32 = 1;

/// The three HTTP transports of the connection layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TransportKind {
    /// `WebSockets`: one upgraded connection carries both directions.
    WebSockets,
    /// `ServerSentEvents`: server→client as an event stream, client→server by POST. Text only.
    ServerSentEvents,
    /// `LongPolling`: server→client by repeated GETs, client→server by POST.
    LongPolling,
}

impl TransportKind {
    /// Every transport, in the order servers advertise them.
    pub const ALL: [TransportKind; 3] = [
        TransportKind::WebSockets,
        TransportKind::ServerSentEvents,
        TransportKind::LongPolling,
    ];

    /// The wire name used in `availableTransports`.
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::WebSockets => "WebSockets",
            TransportKind::ServerSentEvents => "ServerSentEvents",
            TransportKind::LongPolling => "LongPolling",
        }
    }

    /// The transport with this wire name (exact spelling), if any.
    pub fn from_name(name: &str) -> Option<TransportKind> {
        TransportKind::ALL.into_iter().find(|t| t.name() == name)
    }

    /// The transfer formats this transport can carry: Server-Sent Events is text only.
    pub fn transfer_formats(self) -> &'static [TransferFormat] {
        match self {
            TransportKind::ServerSentEvents => &[TransferFormat::Text],
            _ => &[TransferFormat::Text, TransferFormat::Binary],
        }
    }
}

/// The wire name of a transfer format (`Text`, `Binary`).
pub fn transfer_format_name(format: TransferFormat) -> &'static str {
    match format {
        TransferFormat::Text => "Text",
        TransferFormat::Binary => "Binary",
    }
}

/// Splits a URL query into decoded `(name, value)` pairs, form-style: `+` is a space and
/// `%XX` escapes are decoded (invalid UTF-8 lossily). Empty pieces are skipped; a piece
/// without `=` has an empty value.
pub fn query_pairs(query: &str) -> impl Iterator<Item = (String, String)> + '_ {
    fn decode(s: &str) -> String {
        let spaced: Cow<str> = if s.contains('+') {
            Cow::Owned(s.replace('+', " "))
        } else {
            Cow::Borrowed(s)
        };
        percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
    }
    query.split('&').filter(|p| !p.is_empty()).map(|piece| {
        let (name, value) = piece.split_once('=').unwrap_or((piece, ""));
        (decode(name), decode(value))
    })
}

/// The first value of query parameter `name` (exact, case-sensitive name), decoded.
pub fn query_value(query: Option<&str>, name: &str) -> Option<String> {
    query_pairs(query?)
        .find(|(n, _)| n == name)
        .map(|(_, value)| value)
}

/// What a client asked for in the negotiate query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NegotiateRequest {
    /// The negotiate version to answer with: 0 (no `connectionToken`) or 1.
    pub version: u32,
    /// `useStatefulReconnect=true` was sent.
    pub stateful_reconnect: bool,
}

/// Why a negotiate query is refused. Answered as HTTP 200 `{"error": <Display text>}`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateQueryError {
    /// `negotiateVersion` is not an integer.
    #[error("The client requested an invalid protocol version '{0}'")]
    InvalidVersion(String),
    /// `negotiateVersion` is below the lowest version we speak (0).
    #[error("The client requested version '{0}', but the server does not support this version.")]
    UnsupportedVersion(i64),
}

impl NegotiateRequest {
    /// Reads `negotiateVersion` (name matched case-insensitively; missing ⇒ 0; above
    /// [`NEGOTIATE_VERSION`] ⇒ clamped) and `useStatefulReconnect` (`true`, any case) from a
    /// raw query string.
    pub fn parse(query: Option<&str>) -> Result<NegotiateRequest, NegotiateQueryError> {
        let mut request = NegotiateRequest::default();
        let mut version_seen = false;
        for (name, value) in query_pairs(query.unwrap_or("")) {
            if name.eq_ignore_ascii_case("negotiateVersion") && !version_seen {
                version_seen = true;
                let v: i64 = value
                    .trim()
                    .parse()
                    .map_err(|_| NegotiateQueryError::InvalidVersion(value.clone()))?;
                if v < 0 {
                    return Err(NegotiateQueryError::UnsupportedVersion(v));
                }
                request.version = v.min(i64::from(NEGOTIATE_VERSION)) as u32;
            } else if name.eq_ignore_ascii_case("useStatefulReconnect") {
                request.stateful_reconnect = value.trim().eq_ignore_ascii_case("true");
            }
        }
        Ok(request)
    }
}

/// A 22-character URL-safe random string (16 random bytes, base64url without padding), for
/// connection ids and tokens. The caller owns the generator (seed it from real entropy).
pub fn generate_id(rng: &mut fastrand::Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// One entry of `availableTransports`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AvailableTransport {
    /// The transport.
    pub transport: TransportKind,
    /// The formats the server accepts on it.
    pub transfer_formats: Vec<TransferFormat>,
}

impl AvailableTransport {
    /// The transport with every format it can carry.
    pub fn full(transport: TransportKind) -> Self {
        AvailableTransport {
            transport,
            transfer_formats: transport.transfer_formats().to_vec(),
        }
    }
}

/// A successful negotiation: the connection to open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectInfo {
    /// The public id (`Context.ConnectionId` on servers).
    pub connection_id: String,
    /// The secret token sent later as `id=`. With version 0 it is not on the wire and equals
    /// `connection_id`.
    pub connection_token: String,
    /// 0 or 1.
    pub negotiate_version: u32,
    /// The transports the client may use, in the server's order of preference.
    pub available_transports: Vec<AvailableTransport>,
    /// Stateful reconnect was requested and granted.
    pub stateful_reconnect: bool,
}

/// A negotiate answer body. Servers build one and write it with [`to_json`]; clients read
/// one with [`parse`].
///
/// [`to_json`]: NegotiateResponse::to_json
/// [`parse`]: NegotiateResponse::parse
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateResponse {
    /// Open a connection.
    Connect(ConnectInfo),
    /// Negotiate again at `url` with `access_token` as the bearer token (Azure SignalR).
    Redirect {
        /// Where to go, e.g. `https://svc/client/?hub=chat`.
        url: String,
        /// Bearer token for that endpoint; servers always send one.
        access_token: Option<String>,
    },
    /// Negotiation failed with this text.
    Error(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConnectJson<'a> {
    connection_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    connection_token: Option<&'a str>,
    negotiate_version: u32,
    available_transports: Vec<TransportJson>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    use_stateful_reconnect: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TransportJson {
    transport: &'static str,
    transfer_formats: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RedirectJson<'a> {
    url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    access_token: Option<&'a str>,
}

#[derive(Serialize)]
struct ErrorJson<'a> {
    error: &'a str,
}

/// Why a client cannot use a negotiate answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiateError {
    /// The body is not a JSON object.
    #[error("invalid negotiation response: {0}")]
    Malformed(String),
    /// The server answered `{"error": …}`.
    #[error("negotiation failed: {0}")]
    Server(String),
    /// A `ProtocolVersion` key: the classic ASP.NET SignalR, which this client does not speak.
    #[error(
        "detected a connection attempt to a classic ASP.NET SignalR server, which is not supported"
    )]
    ClassicServer,
    /// The server granted stateful reconnect although the client did not ask for it.
    #[error("the server enabled stateful reconnect although the client did not request it")]
    UnrequestedStatefulReconnect,
    /// A required key is missing or has the wrong type.
    #[error("negotiation response is missing {0}")]
    Missing(&'static str),
}

impl NegotiateResponse {
    /// The JSON body (keys in the order .NET writes them). Version 0 leaves
    /// `connectionToken` out; `useStatefulReconnect` appears only when granted.
    pub fn to_json(&self) -> String {
        let text = match self {
            NegotiateResponse::Connect(info) => serde_json::to_string(&ConnectJson {
                connection_id: &info.connection_id,
                connection_token: (info.negotiate_version >= 1)
                    .then_some(info.connection_token.as_str()),
                negotiate_version: info.negotiate_version,
                available_transports: info
                    .available_transports
                    .iter()
                    .map(|t| TransportJson {
                        transport: t.transport.name(),
                        transfer_formats: t
                            .transfer_formats
                            .iter()
                            .map(|f| transfer_format_name(*f))
                            .collect(),
                    })
                    .collect(),
                use_stateful_reconnect: info.stateful_reconnect,
            }),
            NegotiateResponse::Redirect { url, access_token } => {
                serde_json::to_string(&RedirectJson {
                    url,
                    access_token: access_token.as_deref(),
                })
            }
            NegotiateResponse::Error(error) => serde_json::to_string(&ErrorJson { error }),
        };
        text.expect("negotiate JSON of strings and numbers always serializes")
    }

    /// Reads a negotiate answer as a client. Tolerant: unknown keys and unknown transports
    /// or formats are ignored. Version 0 (or no version) copies `connectionId` into
    /// `connection_token`. Never returns [`NegotiateResponse::Error`]: an `error` key is
    /// [`NegotiateError::Server`]. `requested_stateful` is whether the query carried
    /// `useStatefulReconnect=true`.
    pub fn parse(
        body: &[u8],
        requested_stateful: bool,
    ) -> Result<NegotiateResponse, NegotiateError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| NegotiateError::Malformed(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(NegotiateError::Malformed("not a JSON object".into()));
        };
        let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
        if let Some(error) = text("error") {
            return Err(NegotiateError::Server(error));
        }
        if map.contains_key("ProtocolVersion") {
            return Err(NegotiateError::ClassicServer);
        }
        if let Some(url) = text("url") {
            return Ok(NegotiateResponse::Redirect {
                url,
                access_token: text("accessToken"),
            });
        }
        let stateful = map.get("useStatefulReconnect").and_then(Value::as_bool) == Some(true);
        if stateful && !requested_stateful {
            return Err(NegotiateError::UnrequestedStatefulReconnect);
        }
        let version = map
            .get("negotiateVersion")
            .and_then(Value::as_u64)
            .unwrap_or(0)
            .min(u64::from(u32::MAX)) as u32;
        let connection_id = text("connectionId").ok_or(NegotiateError::Missing("connectionId"))?;
        let connection_token = if version >= 1 {
            text("connectionToken").ok_or(NegotiateError::Missing("connectionToken"))?
        } else {
            connection_id.clone()
        };
        let available_transports = map
            .get("availableTransports")
            .and_then(Value::as_array)
            .map(|list| list.iter().filter_map(parse_transport).collect())
            .unwrap_or_default();
        Ok(NegotiateResponse::Connect(ConnectInfo {
            connection_id,
            connection_token,
            negotiate_version: version,
            available_transports,
            stateful_reconnect: stateful,
        }))
    }
}

fn parse_transport(entry: &Value) -> Option<AvailableTransport> {
    let transport = TransportKind::from_name(entry.get("transport")?.as_str()?)?;
    let transfer_formats = entry
        .get("transferFormats")
        .and_then(Value::as_array)
        .map(|formats| {
            formats
                .iter()
                .filter_map(|f| match f.as_str()? {
                    "Text" => Some(TransferFormat::Text),
                    "Binary" => Some(TransferFormat::Binary),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(AvailableTransport {
        transport,
        transfer_formats,
    })
}

#[cfg(test)]
mod tests;
