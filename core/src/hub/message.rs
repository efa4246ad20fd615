//! The hub messages of the ASP.NET Core SignalR hub protocol (spec `signalr.md` §1), independent
//! of their encoding.
//!
//! Arguments, stream items and results are kept as [`RawValue`]s: one encoded value, exactly as
//! it arrived (JSON text or one MessagePack object). This layer never interprets them; the
//! codecs transcode between the two formats when a value is written in the other protocol, and
//! [`RawValue`] has helpers to convert from and to serde types.

use std::collections::BTreeMap;

use bytes::Bytes;

/// Message headers: a string → string map carried by every message but Ping, Close, Ack and
/// Sequence. Unknown keys are kept, never interpreted.
pub type Headers = BTreeMap<String, String>;

/// One encoded value, kept opaque: the bytes of a JSON value (`Json`) or of one MessagePack
/// object (`MessagePack`). Cloning is cheap (`Bytes`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RawValue {
    /// The UTF-8 text of one JSON value, e.g. `42`, `"x"`, `{"a":[1]}`.
    Json(Bytes),
    /// The bytes of one MessagePack object, e.g. `2a`, `a1 78`.
    MessagePack(Bytes),
}

/// A call of a hub method (type 1) or of a streaming hub method (type 4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub headers: Headers,
    /// `None` = non-blocking: the callee must not reply. Always `Some` for a stream invocation.
    pub invocation_id: Option<String>,
    /// Method name; case-sensitive on servers.
    pub target: String,
    pub arguments: Vec<RawValue>,
    /// Ids of the upload streams the caller will feed with StreamItem / Completion.
    pub stream_ids: Vec<String>,
}

/// How an invocation ended (type 3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompletionResult {
    /// No result: a void method, or the end of a stream.
    Void,
    /// The method's return value.
    Value(RawValue),
    /// The method failed; the text is shown to the caller.
    Error(String),
}

/// One message of the hub protocol (types 1–9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubMessage {
    /// Type 1.
    Invocation(Invocation),
    /// Type 2: one item of a stream (server→client result stream or client→server upload).
    StreamItem {
        headers: Headers,
        invocation_id: String,
        item: RawValue,
    },
    /// Type 3.
    Completion {
        headers: Headers,
        invocation_id: String,
        result: CompletionResult,
    },
    /// Type 4: `invocation_id` is always `Some`.
    StreamInvocation(Invocation),
    /// Type 5.
    CancelInvocation {
        headers: Headers,
        invocation_id: String,
    },
    /// Type 6.
    Ping,
    /// Type 7.
    Close {
        error: Option<String>,
        allow_reconnect: bool,
    },
    /// Type 8 (stateful reconnect only): the highest sequence id the sender has processed.
    Ack { sequence_id: u64 },
    /// Type 9 (stateful reconnect only): the id of the first message replayed after a reconnect.
    Sequence { sequence_id: u64 },
}

impl HubMessage {
    /// The numeric type on the wire (1–9).
    pub fn type_id(&self) -> u8 {
        match self {
            HubMessage::Invocation(_) => 1,
            HubMessage::StreamItem { .. } => 2,
            HubMessage::Completion { .. } => 3,
            HubMessage::StreamInvocation(_) => 4,
            HubMessage::CancelInvocation { .. } => 5,
            HubMessage::Ping => 6,
            HubMessage::Close { .. } => 7,
            HubMessage::Ack { .. } => 8,
            HubMessage::Sequence { .. } => 9,
        }
    }

    /// Whether stateful reconnect numbers, buffers and replays this message (types 1–5).
    pub fn is_trackable(&self) -> bool {
        (1..=5).contains(&self.type_id())
    }

    /// The invocation id the message refers to, if any.
    pub fn invocation_id(&self) -> Option<&str> {
        match self {
            HubMessage::Invocation(inv) | HubMessage::StreamInvocation(inv) => {
                inv.invocation_id.as_deref()
            }
            HubMessage::StreamItem { invocation_id, .. }
            | HubMessage::Completion { invocation_id, .. }
            | HubMessage::CancelInvocation { invocation_id, .. } => Some(invocation_id),
            _ => None,
        }
    }
}

/// The two hub protocols and their transfer formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubProtocol {
    /// `json`: text frames, each message ends with `0x1E`.
    Json,
    /// `messagepack`: binary frames, each message preceded by its VarInt length.
    MessagePack,
}

/// Whether a transport must carry text or may carry binary (negotiate's `transferFormats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransferFormat {
    Text,
    Binary,
}

impl HubProtocol {
    /// The name used in the handshake: `json` or `messagepack`.
    pub fn name(self) -> &'static str {
        match self {
            HubProtocol::Json => "json",
            HubProtocol::MessagePack => "messagepack",
        }
    }

    /// The protocol with this handshake name, if we speak it.
    pub fn from_name(name: &str) -> Option<HubProtocol> {
        match name {
            "json" => Some(HubProtocol::Json),
            "messagepack" => Some(HubProtocol::MessagePack),
            _ => None,
        }
    }

    /// The transfer format this protocol needs from its transport.
    pub fn transfer_format(self) -> TransferFormat {
        match self {
            HubProtocol::Json => TransferFormat::Text,
            HubProtocol::MessagePack => TransferFormat::Binary,
        }
    }

    /// The highest protocol version we accept (2 = stateful reconnect's Ack / Sequence).
    pub const MAX_VERSION: u32 = 2;
}
