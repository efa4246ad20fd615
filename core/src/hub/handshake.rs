//! The hub handshake (spec `signalr.md` §3): the client's `{"protocol":"json","version":1}`,
//! the server's `{}` or `{"error":"…"}`, each followed by `0x1E` and always JSON, whatever the
//! hub protocol.
//!
//! [`HandshakeReader`] buffers bytes up to the first `0x1E` and hands back the parsed message
//! plus the bytes after it (MessagePack frames may follow the handshake in the same transport
//! frame). [`accept`] is the server's decision with .NET's exact error texts;
//! [`parse_response`] is the client's check of the reply, as the JS client does it.
//!
//! Not here: the 15 s handshake timeout (no clock in the core; the connection state machine
//! owns it and answers [`HANDSHAKE_CANCELED`]) and the rule that nothing else is sent before
//! the response.

use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use serde::Deserialize;
use serde_json::Value;

use super::codec::RECORD_SEPARATOR;
use super::message::{HubProtocol, TransferFormat};
use super::value::put_json_str;

/// The error a server sends when the handshake times out or exceeds the size limit.
pub const HANDSHAKE_CANCELED: &str = "Handshake was canceled.";

/// The default size limit of a handshake message: .NET's `MaximumReceiveMessageSize`, 32 KB.
pub const DEFAULT_MAX_HANDSHAKE_SIZE: usize = 32 * 1024;

/// A handshake message could not be read. A server answers [`TooLarge`](Self::TooLarge) with
/// [`HANDSHAKE_CANCELED`] and closes; for the others it closes the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// More than the limit was received without a `0x1E`.
    #[error("handshake message larger than {max} bytes")]
    TooLarge {
        /// The configured limit.
        max: usize,
    },
    /// The text is not valid UTF-8.
    #[error("handshake message is not valid UTF-8")]
    InvalidUtf8,
    /// The text is not one JSON object (the detail is serde_json's message).
    #[error("Error reading handshake JSON: {0}")]
    InvalidJson(String),
    /// A request without `protocol` or `version`.
    #[error("Missing required property '{0}'.")]
    MissingField(&'static str),
    /// `protocol` not a string, `version` not an integer in 0..=2³²−1, `error` not a string.
    #[error("Invalid value for property '{0}'.")]
    InvalidField(&'static str),
    /// Client side: the reply carries `type`, so it is a hub message, not a handshake reply.
    #[error("Expected a handshake response from the server.")]
    NotAHandshakeResponse,
    /// Local misuse: [`HandshakeReader::feed`] after it returned the handshake or an error.
    #[error("the handshake was already read")]
    AlreadyComplete,
}

/// Parses one JSON object into `T`, naming no field on errors.
fn parse_object<'a, T: Deserialize<'a>>(json: &'a [u8]) -> Result<T, HandshakeError> {
    let json = json.strip_suffix(&[RECORD_SEPARATOR]).unwrap_or(json);
    let text = std::str::from_utf8(json).map_err(|_| HandshakeError::InvalidUtf8)?;
    serde_json::from_str(text).map_err(|e| HandshakeError::InvalidJson(e.to_string()))
}

/// The client's first message: which hub protocol and version it speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeRequest {
    /// `json` or `messagepack` (or a name we do not speak, which [`accept`] rejects).
    pub protocol: String,
    /// 1, or 2 when stateful reconnect was negotiated.
    pub version: u32,
}

#[derive(Deserialize)]
struct RequestFields {
    protocol: Option<Value>,
    version: Option<Value>,
}

impl HandshakeRequest {
    /// A request for `protocol` at `version`.
    pub fn new(protocol: HubProtocol, version: u32) -> Self {
        HandshakeRequest {
            protocol: protocol.name().to_owned(),
            version,
        }
    }

    /// Appends `{"protocol":"…","version":N}` and `0x1E`.
    pub fn write(&self, out: &mut BytesMut) {
        out.put_slice(b"{\"protocol\":");
        put_json_str(out, &self.protocol);
        out.put_slice(format!(",\"version\":{}}}", self.version).as_bytes());
        out.put_u8(RECORD_SEPARATOR);
    }

    /// [`write`](Self::write) into a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write(&mut out);
        out.freeze()
    }

    /// Parses the JSON text of a request (a trailing `0x1E` is allowed). Unknown keys are
    /// ignored.
    pub fn parse(json: &[u8]) -> Result<Self, HandshakeError> {
        let f: RequestFields = parse_object(json)?;
        let protocol = match f.protocol {
            None => return Err(HandshakeError::MissingField("protocol")),
            Some(Value::String(s)) => s,
            Some(_) => return Err(HandshakeError::InvalidField("protocol")),
        };
        let version = match f.version {
            None => return Err(HandshakeError::MissingField("version")),
            Some(v) => v
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or(HandshakeError::InvalidField("version"))?,
        };
        Ok(HandshakeRequest { protocol, version })
    }
}

/// The server's reply: success (`{}`) or the reason the handshake failed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HandshakeResponse {
    /// `None` = success.
    pub error: Option<String>,
}

#[derive(Deserialize)]
struct ResponseFields {
    error: Option<Value>,
    #[serde(rename = "type")]
    type_id: Option<Value>,
}

/// Why the client must give up after the handshake reply.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeResponseError {
    /// The reply could not be read, or was a hub message.
    #[error(transparent)]
    Invalid(#[from] HandshakeError),
    /// The server refused the handshake with this text.
    #[error("Server returned handshake error: {0}")]
    Rejected(String),
}

impl HandshakeResponse {
    /// The success reply, `{}`.
    pub fn success() -> Self {
        HandshakeResponse { error: None }
    }

    /// A failure reply carrying `error`.
    pub fn failure(error: impl Into<String>) -> Self {
        HandshakeResponse {
            error: Some(error.into()),
        }
    }

    /// Appends `{}` or `{"error":"…"}`, and `0x1E`.
    pub fn write(&self, out: &mut BytesMut) {
        match &self.error {
            None => out.put_slice(b"{}"),
            Some(e) => {
                out.put_slice(b"{\"error\":");
                put_json_str(out, e);
                out.put_u8(b'}');
            }
        }
        out.put_u8(RECORD_SEPARATOR);
    }

    /// [`write`](Self::write) into a new buffer.
    pub fn to_bytes(&self) -> Bytes {
        let mut out = BytesMut::new();
        self.write(&mut out);
        out.freeze()
    }

    /// Parses the JSON text of a reply (a trailing `0x1E` is allowed). A reply with a non-null
    /// `type` is [`HandshakeError::NotAHandshakeResponse`]; other unknown keys are ignored.
    pub fn parse(json: &[u8]) -> Result<Self, HandshakeError> {
        let f: ResponseFields = parse_object(json)?;
        if f.type_id.is_some() {
            return Err(HandshakeError::NotAHandshakeResponse);
        }
        let error = match f.error {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(HandshakeError::InvalidField("error")),
        };
        Ok(HandshakeResponse { error })
    }

    /// `Ok(())` for success, else [`HandshakeResponseError::Rejected`]. Like the JS client, an
    /// empty `error` counts as success.
    pub fn into_result(self) -> Result<(), HandshakeResponseError> {
        match self.error {
            Some(e) if !e.is_empty() => Err(HandshakeResponseError::Rejected(e)),
            _ => Ok(()),
        }
    }
}

/// Client side: checks the server's handshake reply (JSON text, trailing `0x1E` allowed).
pub fn parse_response(json: &[u8]) -> Result<(), HandshakeResponseError> {
    HandshakeResponse::parse(json)?.into_result()
}

/// A handshake message [`HandshakeReader`] can produce.
pub trait HandshakeMessage: Sized {
    /// Parses the JSON text (without `0x1E`).
    fn parse_json(json: &[u8]) -> Result<Self, HandshakeError>;
}

impl HandshakeMessage for HandshakeRequest {
    fn parse_json(json: &[u8]) -> Result<Self, HandshakeError> {
        HandshakeRequest::parse(json)
    }
}

impl HandshakeMessage for HandshakeResponse {
    fn parse_json(json: &[u8]) -> Result<Self, HandshakeError> {
        HandshakeResponse::parse(json)
    }
}

/// Buffers the bytes of one handshake message (a [`HandshakeRequest`] on a server, a
/// [`HandshakeResponse`] on a client) up to its `0x1E`, then returns it with the bytes that
/// followed, which belong to the hub protocol (feed them to a
/// [`HubDecoder`](super::HubDecoder)). Fails once more than the size limit arrived without a
/// separator. Reads a single handshake: later calls fail with
/// [`HandshakeError::AlreadyComplete`].
#[derive(Debug)]
pub struct HandshakeReader<M> {
    buf: BytesMut,
    max_size: usize,
    done: bool,
    _msg: PhantomData<fn() -> M>,
}

impl<M: HandshakeMessage> Default for HandshakeReader<M> {
    fn default() -> Self {
        Self::new()
    }
}

impl<M: HandshakeMessage> HandshakeReader<M> {
    /// A reader with the default limit, [`DEFAULT_MAX_HANDSHAKE_SIZE`].
    pub fn new() -> Self {
        Self::with_max_size(DEFAULT_MAX_HANDSHAKE_SIZE)
    }

    /// A reader that fails once more than `max_size` bytes arrived without a `0x1E` (the
    /// separator itself not counted).
    pub fn with_max_size(max_size: usize) -> Self {
        HandshakeReader {
            buf: BytesMut::new(),
            max_size,
            done: false,
            _msg: PhantomData,
        }
    }

    /// Bytes received and not yet consumed.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// Adds received bytes. Returns `Ok(None)` while the separator has not arrived, then the
    /// message and the bytes after its separator (possibly empty).
    pub fn feed(&mut self, data: &[u8]) -> Result<Option<(M, Bytes)>, HandshakeError> {
        if self.done {
            return Err(HandshakeError::AlreadyComplete);
        }
        let scanned = self.buf.len();
        self.buf.extend_from_slice(data);
        let found = self.buf[scanned..]
            .iter()
            .position(|&b| b == RECORD_SEPARATOR)
            .map(|i| scanned + i);
        let Some(end) = found else {
            if self.buf.len() > self.max_size {
                self.done = true;
                return Err(HandshakeError::TooLarge { max: self.max_size });
            }
            return Ok(None);
        };
        self.done = true;
        if end > self.max_size {
            return Err(HandshakeError::TooLarge { max: self.max_size });
        }
        let mut text = std::mem::take(&mut self.buf);
        let rest = text.split_off(end + 1);
        text.truncate(end);
        Ok(Some((M::parse_json(&text)?, rest.freeze())))
    }
}

/// Why a server refuses a handshake request. The Display text is .NET's, sent as the
/// handshake reply's `error` (see [`response`](Self::response)) before closing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeRejection {
    /// A protocol name that is unknown or not enabled.
    #[error("The protocol '{0}' is not supported.")]
    ProtocolNotSupported(String),
    /// A version above [`HubProtocol::MAX_VERSION`].
    #[error("The server does not support version {version} of the '{protocol}' protocol.")]
    VersionNotSupported {
        /// The protocol name.
        protocol: String,
        /// The version asked for.
        version: u32,
    },
    /// A binary protocol on a text-only transport (Server-Sent Events).
    #[error(
        "Cannot use the '{protocol}' protocol on the current transport. The transport does not support '{}' transfer format.",
        format_name(*format)
    )]
    TransportNotSupported {
        /// The protocol name.
        protocol: String,
        /// The transfer format the protocol needs.
        format: TransferFormat,
    },
}

fn format_name(format: TransferFormat) -> &'static str {
    match format {
        TransferFormat::Text => "Text",
        TransferFormat::Binary => "Binary",
    }
}

impl HandshakeRejection {
    /// The handshake reply carrying this rejection.
    pub fn response(&self) -> HandshakeResponse {
        HandshakeResponse::failure(self.to_string())
    }
}

/// The server's decision on a handshake request, checked in .NET's order: protocol, version,
/// transfer format. `transport` is the richest format the transport carries: `Binary` for
/// WebSockets and long polling (which carry text too), `Text` for Server-Sent Events.
/// `enabled` lists the protocols this server offers. Versions 0 to
/// [`HubProtocol::MAX_VERSION`] are accepted and returned as asked.
pub fn accept(
    request: &HandshakeRequest,
    transport: TransferFormat,
    enabled: &[HubProtocol],
) -> Result<(HubProtocol, u32), HandshakeRejection> {
    let protocol = HubProtocol::from_name(&request.protocol)
        .filter(|p| enabled.contains(p))
        .ok_or_else(|| HandshakeRejection::ProtocolNotSupported(request.protocol.clone()))?;
    if request.version > HubProtocol::MAX_VERSION {
        return Err(HandshakeRejection::VersionNotSupported {
            protocol: request.protocol.clone(),
            version: request.version,
        });
    }
    let needed = protocol.transfer_format();
    if needed == TransferFormat::Binary && transport == TransferFormat::Text {
        return Err(HandshakeRejection::TransportNotSupported {
            protocol: request.protocol.clone(),
            format: needed,
        });
    }
    Ok((protocol, request.version))
}
