//! Framing of hub messages (spec `signalr.md` §2) and the incremental decoder.
//!
//! - JSON: each message is its text followed by the record separator `0x1E`.
//! - MessagePack: each message is a VarInt length ([`varint`]) and that many
//!   body bytes.
//!
//! [`encode`] appends one framed message to a buffer; [`HubDecoder`] takes bytes in any split
//! (transport frame boundaries mean nothing) and yields messages. Neither handles the
//! handshake, which always is JSON and comes first: see [`handshake`](super::handshake), whose
//! reader hands over the bytes that follow it.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::message::{HubMessage, HubProtocol};
use super::value::ValueError;
use super::{json, msgpack, varint};

/// The byte that ends every JSON message (and the handshake).
pub const RECORD_SEPARATOR: u8 = 0x1E;

/// The most [`HubDecoder`] reserves ahead for a MessagePack body whose prefix it has read but
/// whose bytes have not all arrived: 1 MiB.
const PRE_RESERVE_MAX: usize = 1 << 20;

/// A hub message could not be decoded: the peer broke the hub protocol or a limit. A server
/// answers every such error by sending Close with `error: "Connection closed with an error."`
/// (with detailed errors enabled: `"Connection closed with an error. InvalidDataException: …"`,
/// see [`close_error`](Self::close_error)) and closing the connection, as .NET does; the
/// Display texts follow .NET's `InvalidDataException` messages where one exists.
///
/// Encoding fails only with [`Value`](Self::Value), [`MessageTooLarge`](Self::MessageTooLarge)
/// or [`MissingField`](Self::MissingField) (`invocationId` of a StreamInvocation): local errors,
/// nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// A message longer than the decoder's `max_message_size` (announced by a MessagePack
    /// prefix, or JSON text without a separator yet), or a length over 2³¹ − 1.
    #[error("The maximum message size of {max}B was exceeded.")]
    MessageTooLarge {
        /// The length seen (so far, for JSON).
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A MessagePack length prefix longer than 5 bytes.
    #[error("Messages over 2GB in size are not supported.")]
    VarIntTooLong,
    /// JSON text, or a MessagePack string, that is not valid UTF-8.
    #[error("Invalid UTF-8 in message.")]
    InvalidUtf8,
    /// Text that is not one JSON object (the detail is serde_json's message).
    #[error("Error reading JSON: {0}")]
    InvalidJson(String),
    /// A body that is not one MessagePack array: truncated, a reserved marker, extra bytes.
    #[error("Error reading MessagePack: {0}")]
    InvalidMessagePack(String),
    /// A required member (JSON) or array element (MessagePack) is absent; the name is the
    /// JSON member name (`type`, `invocationId`, `target`, `arguments`, `item`, `result`,
    /// `error`, `sequenceId`, …).
    #[error("Missing required property '{0}'.")]
    MissingField(&'static str),
    /// A member or element has the wrong type (a number for `target`, a negative `type`, a
    /// result kind other than 1–3, …).
    #[error("Invalid value for property '{0}'.")]
    InvalidField(&'static str),
    /// A JSON Completion with both `result` and `error`.
    #[error("The 'error' and 'result' properties are mutually exclusive.")]
    ResultAndError,
    /// Encoding only: a raw value could not be transcoded to the message's format.
    #[error("cannot encode a raw value: {0}")]
    Value(#[from] ValueError),
}

impl CodecError {
    /// The `error` text of the Close message a server with detailed errors sends for this
    /// decoding error. Without detailed errors .NET sends only
    /// `"Connection closed with an error."`.
    pub fn close_error(&self) -> String {
        format!("Connection closed with an error. InvalidDataException: {self}")
    }
}

/// One decoded message body: a message we know, or a type we do not (which a reader skips, as
/// the JS client does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A message of type 1–9.
    Message(HubMessage),
    /// Any other type number; the rest of the message was not examined.
    Unknown {
        /// The type number as sent.
        type_id: u64,
    },
}

/// Appends one framed message to `out`: JSON text + `0x1E`, or VarInt length + MessagePack
/// body. Raw values in the other format are transcoded. On error nothing is appended.
pub fn encode(
    protocol: HubProtocol,
    msg: &HubMessage,
    out: &mut BytesMut,
) -> Result<(), CodecError> {
    let start = out.len();
    let written = match protocol {
        HubProtocol::Json => {
            out.reserve(json::size_hint(msg) + 1);
            json::write_message(msg, out).map(|()| out.put_u8(RECORD_SEPARATOR))
        }
        HubProtocol::MessagePack => encode_msgpack(msg, out, start),
    };
    if written.is_err() {
        out.truncate(start);
    }
    written
}

/// Writes the body straight into `out` behind room for its length prefix, sized by
/// [`msgpack::body_size_hint`] (exact unless a JSON raw value had to be transcoded); when the
/// body's prefix turns out shorter or longer than that room, the body is moved (rare: only
/// a transcoded value whose size crosses a VarInt boundary, 128 B, 16 KiB, …).
fn encode_msgpack(msg: &HubMessage, out: &mut BytesMut, start: usize) -> Result<(), CodecError> {
    let hint = msgpack::body_size_hint(msg);
    let room = varint::encoded_len(hint);
    out.reserve(room + hint);
    out.put_bytes(0, room);
    msgpack::write_body(msg, out)?;
    let body_start = start + room;
    let body_len = out.len() - body_start;
    let (prefix, n) = varint::prefix(body_len)?;
    if n != room {
        if n > room {
            out.put_bytes(0, n - room);
        }
        out.copy_within(body_start..body_start + body_len, start + n);
        out.truncate(start + n + body_len);
    }
    out[start..start + n].copy_from_slice(&prefix[..n]);
    Ok(())
}

/// [`encode`] into a new buffer.
pub fn encode_to_bytes(protocol: HubProtocol, msg: &HubMessage) -> Result<Bytes, CodecError> {
    let mut out = BytesMut::new();
    encode(protocol, msg, &mut out)?;
    Ok(out.freeze())
}

/// Decodes one message body (without its separator or prefix) in `protocol`.
pub fn decode_body(protocol: HubProtocol, body: &Bytes) -> Result<Decoded, CodecError> {
    match protocol {
        HubProtocol::Json => json::read_message(body),
        HubProtocol::MessagePack => msgpack::read_message(body),
    }
}

/// An incremental decoder of the hub messages one peer sends, after the handshake.
///
/// Feed bytes as they arrive ([`feed`](Self::feed) / [`feed_bytes`](Self::feed_bytes)) in any
/// split, then call [`next_message`](Self::next_message) until it returns `Ok(None)` (need
/// more data). Messages of unknown types are skipped and counted
/// ([`skipped_unknown`](Self::skipped_unknown)). The size limit is enforced as early as
/// possible: when a MessagePack prefix announces a longer body, or when JSON text without a
/// separator grows past it — never after buffering the whole message.
///
/// Raw values of decoded messages are slices of the decoder's buffer (no copy). After an error
/// the decoder is poisoned: every later call returns the same error (the connection must be
/// closed, see [`CodecError`]). It does not read the handshake, know about connection state,
/// or decide what a message means.
#[derive(Debug)]
pub struct HubDecoder {
    protocol: HubProtocol,
    max_message_size: usize,
    buf: BytesMut,
    /// JSON: how many bytes at the front of `buf` are known not to hold a separator.
    scanned: usize,
    /// The size of the last piece fed.
    last_feed: usize,
    skipped_unknown: u64,
    error: Option<CodecError>,
}

impl HubDecoder {
    /// A decoder for `protocol` that rejects messages over `max_message_size` bytes (the
    /// JSON text without separator, or the MessagePack body without prefix). .NET's default
    /// `MaximumReceiveMessageSize` is 32 KB.
    pub fn new(protocol: HubProtocol, max_message_size: usize) -> Self {
        HubDecoder {
            protocol,
            max_message_size,
            buf: BytesMut::new(),
            scanned: 0,
            last_feed: 0,
            skipped_unknown: 0,
            error: None,
        }
    }

    /// The protocol this decoder reads.
    pub fn protocol(&self) -> HubProtocol {
        self.protocol
    }

    /// The size limit given to [`new`](Self::new).
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Appends received bytes.
    pub fn feed(&mut self, data: &[u8]) {
        self.last_feed = data.len();
        self.buf.extend_from_slice(data);
    }

    /// Appends received bytes; takes them over without a copy when nothing is buffered and
    /// `data` is not shared.
    pub fn feed_bytes(&mut self, data: Bytes) {
        self.last_feed = data.len();
        if self.buf.is_empty() {
            match data.try_into_mut() {
                Ok(owned) => self.buf = owned,
                Err(shared) => self.buf.extend_from_slice(&shared),
            }
        } else {
            self.buf.extend_from_slice(&data);
        }
    }

    /// Bytes received and not yet returned as messages.
    pub fn buffered_len(&self) -> usize {
        self.buf.len()
    }

    /// How many messages of unknown type were skipped so far.
    pub fn skipped_unknown(&self) -> u64 {
        self.skipped_unknown
    }

    /// The next complete message, `Ok(None)` when more bytes are needed.
    pub fn next_message(&mut self) -> Result<Option<HubMessage>, CodecError> {
        if let Some(e) = &self.error {
            return Err(e.clone());
        }
        let result = self.next_known();
        if let Err(e) = &result {
            self.error = Some(e.clone());
        }
        result
    }

    fn next_known(&mut self) -> Result<Option<HubMessage>, CodecError> {
        while let Some(body) = self.next_body()? {
            match decode_body(self.protocol, &body)? {
                Decoded::Message(msg) => return Ok(Some(msg)),
                Decoded::Unknown { .. } => self.skipped_unknown += 1,
            }
        }
        Ok(None)
    }

    fn too_large(&self, len: usize) -> CodecError {
        CodecError::MessageTooLarge {
            len: len as u64,
            max: self.max_message_size as u64,
        }
    }

    /// Cuts the next complete body off the buffer.
    fn next_body(&mut self) -> Result<Option<Bytes>, CodecError> {
        match self.protocol {
            HubProtocol::Json => {
                let found = memchr::memchr(RECORD_SEPARATOR, &self.buf[self.scanned..]);
                match found {
                    Some(i) => {
                        let len = self.scanned + i;
                        if len > self.max_message_size {
                            return Err(self.too_large(len));
                        }
                        self.scanned = 0;
                        let mut frame = self.buf.split_to(len + 1).freeze();
                        frame.truncate(len);
                        Ok(Some(frame))
                    }
                    None => {
                        self.scanned = self.buf.len();
                        if self.buf.len() > self.max_message_size {
                            return Err(self.too_large(self.buf.len()));
                        }
                        Ok(None)
                    }
                }
            }
            HubProtocol::MessagePack => {
                let Some((len, prefix)) = varint::decode(&self.buf)? else {
                    return Ok(None);
                };
                if len > self.max_message_size {
                    return Err(self.too_large(len));
                }
                if self.buf.len() < prefix + len {
                    // The body is still arriving: make room for the rest of it, and for one
                    // more piece as large as the last one (which may carry the start of the
                    // next message too), so the pieces that follow are copied once instead of
                    // regrowing the buffer, which copies it all each time. At most
                    // PRE_RESERVE_MAX ahead: a peer that announces a large body and sends
                    // nothing more must not make us reserve much.
                    let missing = prefix + len - self.buf.len();
                    let ahead = missing.saturating_add(self.last_feed);
                    self.buf.reserve(ahead.min(PRE_RESERVE_MAX));
                    return Ok(None);
                }
                self.buf.advance(prefix);
                Ok(Some(self.buf.split_to(len).freeze()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hub::message::{Headers, Invocation, RawValue};

    fn upload(size: usize) -> HubMessage {
        let mut bin = vec![0xC6];
        bin.extend_from_slice(&(size as u32).to_be_bytes());
        bin.resize(5 + size, 0xAB);
        HubMessage::Invocation(Invocation {
            headers: Headers::new(),
            invocation_id: None,
            target: "upload".into(),
            arguments: vec![RawValue::MessagePack(bin.into())],
            stream_ids: Vec::new(),
        })
    }

    #[test]
    fn room_for_a_whole_msgpack_body_is_reserved_once_its_prefix_is_read() {
        let msg = upload(65_536);
        let frame = encode_to_bytes(HubProtocol::MessagePack, &msg).unwrap();
        let mut dec = HubDecoder::new(HubProtocol::MessagePack, 1 << 20);
        let mut chunks = frame.chunks(4096);
        dec.feed(chunks.next().unwrap());
        assert_eq!(dec.next_message(), Ok(None));
        assert!(dec.buf.capacity() >= frame.len());
        let before = dec.buf.as_ptr();
        for chunk in chunks {
            dec.feed(chunk);
            assert_eq!(dec.buf.as_ptr(), before, "the buffer never moved");
            if dec.buffered_len() < frame.len() {
                assert_eq!(dec.next_message(), Ok(None));
            }
        }
        assert_eq!(dec.next_message(), Ok(Some(msg)));
    }

    #[test]
    fn back_to_back_msgpack_bodies_in_pieces_do_not_regrow_the_buffer() {
        let msg = upload(65_536);
        let frame = encode_to_bytes(HubProtocol::MessagePack, &msg).unwrap();
        let wire: Vec<u8> = frame
            .iter()
            .copied()
            .cycle()
            .take(frame.len() * 5)
            .collect();
        for piece in [1000, 4096, 65_536] {
            let mut dec = HubDecoder::new(HubProtocol::MessagePack, 1 << 20);
            let (mut got, mut moved_by_feed) = (0, 0);
            for chunk in wire.chunks(piece) {
                let before = dec.buf.as_ptr();
                dec.feed(chunk);
                if dec.buf.as_ptr() != before {
                    moved_by_feed += 1;
                }
                while let Some(m) = dec.next_message().unwrap() {
                    assert_eq!(m, msg);
                    got += 1;
                }
            }
            assert_eq!(got, 5);
            // Only the first piece allocates; every later one lands in reserved room.
            assert_eq!(moved_by_feed, 1, "pieces of {piece}");
        }
    }

    #[test]
    fn reserving_ahead_is_capped() {
        // A prefix announcing 100 MiB (under a 200 MiB limit), then nothing.
        let mut prefix = BytesMut::new();
        varint::encode(100 << 20, &mut prefix).unwrap();
        let mut dec = HubDecoder::new(HubProtocol::MessagePack, 200 << 20);
        dec.feed(&prefix);
        assert_eq!(dec.next_message(), Ok(None));
        assert!(dec.buf.capacity() <= 2 * PRE_RESERVE_MAX);
        // Over the limit: refused at once, nothing reserved.
        let mut dec = HubDecoder::new(HubProtocol::MessagePack, 1 << 20);
        dec.feed(&prefix);
        assert!(matches!(
            dec.next_message(),
            Err(CodecError::MessageTooLarge { .. })
        ));
        assert!(dec.buf.capacity() < 64);
    }
}
