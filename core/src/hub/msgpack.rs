//! The MessagePack hub protocol (spec `signalr.md` §1): one message body ↔ one [`HubMessage`].
//! Framing (the VarInt length prefix) is [`codec`](super::codec)'s job.
//!
//! The reader is tolerant, like the JS client: Invocation / StreamInvocation with 5 elements
//! (no stream ids), Close with 2 (no `allowReconnect`), integers of any width for the type,
//! the result kind and sequence ids, and extra trailing array elements (skipped) are all
//! accepted. Raw values (arguments, items, results) are zero-copy slices of the body.
//!
//! The writer is strict and matches .NET: Invocation / StreamInvocation always have 6
//! elements, Completion `[3, headers, id, kind, result?]`, Ping `[6]`, Close
//! `[7, error|nil, allowReconnect]`, Ack `[8, n]`, Sequence `[9, n]`, integers in their
//! smallest form. JSON raw values are transcoded; MessagePack raw values are copied as they
//! are, unchecked.

use bytes::{BufMut, Bytes};
use rmp::Marker;

use super::codec::{CodecError, Decoded};
use super::message::{CompletionResult, Headers, HubMessage, Invocation, RawValue};
use super::value::json_to_msgpack;

/// Why a MessagePack object could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MpError {
    #[error("unexpected end of data")]
    Truncated,
    #[error("reserved marker 0xc1")]
    ReservedMarker,
    #[error("bytes after the end of the value")]
    TrailingBytes,
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    #[error("expected {0}")]
    WrongType(&'static str),
}

/// One MessagePack item: a scalar with its data, or the header of an array / map (whose
/// elements follow).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Item<'a> {
    Nil,
    Bool(bool),
    Uint(u64),
    Int(i64),
    F32(f32),
    F64(f64),
    Str(&'a [u8]),
    Bin(&'a [u8]),
    Ext(i8, &'a [u8]),
    Array(u32),
    Map(u32),
}

/// A reading position in a MessagePack buffer. Never recurses: skipping a value counts the
/// items still owed, so nesting depth costs no stack.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], MpError> {
        if n > self.remaining() {
            return Err(MpError::Truncated);
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A big-endian unsigned integer of `n` (≤ 8) bytes.
    fn be(&mut self, n: usize) -> Result<u64, MpError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)))
    }

    /// `n` bytes of data announced by a length of `len_bytes` bytes.
    fn data(&mut self, len_bytes: usize) -> Result<&'a [u8], MpError> {
        let n = self.be(len_bytes)? as usize;
        self.take(n)
    }

    fn ext(&mut self, len: usize) -> Result<Item<'a>, MpError> {
        let ty = self.be(1)? as u8 as i8;
        Ok(Item::Ext(ty, self.take(len)?))
    }

    /// Reads the next item (for arrays and maps, only their header).
    pub(crate) fn read_item(&mut self) -> Result<Item<'a>, MpError> {
        let marker = Marker::from_u8(self.be(1)? as u8);
        Ok(match marker {
            Marker::FixPos(n) => Item::Uint(n.into()),
            Marker::FixNeg(n) => Item::Int(n.into()),
            Marker::Null => Item::Nil,
            Marker::False => Item::Bool(false),
            Marker::True => Item::Bool(true),
            Marker::U8 => Item::Uint(self.be(1)?),
            Marker::U16 => Item::Uint(self.be(2)?),
            Marker::U32 => Item::Uint(self.be(4)?),
            Marker::U64 => Item::Uint(self.be(8)?),
            Marker::I8 => Item::Int(i64::from(self.be(1)? as u8 as i8)),
            Marker::I16 => Item::Int(i64::from(self.be(2)? as u16 as i16)),
            Marker::I32 => Item::Int(i64::from(self.be(4)? as u32 as i32)),
            Marker::I64 => Item::Int(self.be(8)? as i64),
            Marker::F32 => Item::F32(f32::from_bits(self.be(4)? as u32)),
            Marker::F64 => Item::F64(f64::from_bits(self.be(8)?)),
            Marker::FixStr(n) => Item::Str(self.take(n.into())?),
            Marker::Str8 => Item::Str(self.data(1)?),
            Marker::Str16 => Item::Str(self.data(2)?),
            Marker::Str32 => Item::Str(self.data(4)?),
            Marker::Bin8 => Item::Bin(self.data(1)?),
            Marker::Bin16 => Item::Bin(self.data(2)?),
            Marker::Bin32 => Item::Bin(self.data(4)?),
            Marker::FixArray(n) => Item::Array(n.into()),
            Marker::Array16 => Item::Array(self.be(2)? as u32),
            Marker::Array32 => Item::Array(self.be(4)? as u32),
            Marker::FixMap(n) => Item::Map(n.into()),
            Marker::Map16 => Item::Map(self.be(2)? as u32),
            Marker::Map32 => Item::Map(self.be(4)? as u32),
            Marker::FixExt1 => self.ext(1)?,
            Marker::FixExt2 => self.ext(2)?,
            Marker::FixExt4 => self.ext(4)?,
            Marker::FixExt8 => self.ext(8)?,
            Marker::FixExt16 => self.ext(16)?,
            Marker::Ext8 => {
                let n = self.be(1)? as usize;
                self.ext(n)?
            }
            Marker::Ext16 => {
                let n = self.be(2)? as usize;
                self.ext(n)?
            }
            Marker::Ext32 => {
                let n = self.be(4)? as usize;
                self.ext(n)?
            }
            Marker::Reserved => return Err(MpError::ReservedMarker),
        })
    }

    /// Skips one whole value (with everything nested in it) and returns its bytes.
    pub(crate) fn skip_value(&mut self) -> Result<&'a [u8], MpError> {
        let start = self.pos;
        let mut owed: u64 = 1;
        while owed > 0 {
            owed -= 1;
            match self.read_item()? {
                Item::Array(n) => owed += u64::from(n),
                Item::Map(n) => owed += 2 * u64::from(n),
                _ => {}
            }
            // Every owed item takes at least one byte: fail early on hostile counts.
            if owed > self.remaining() as u64 {
                return Err(MpError::Truncated);
            }
        }
        Ok(&self.buf[start..self.pos])
    }

    pub(crate) fn read_uint(&mut self) -> Result<u64, MpError> {
        match self.read_item()? {
            Item::Uint(n) => Ok(n),
            Item::Int(n) if n >= 0 => Ok(n as u64),
            _ => Err(MpError::WrongType("an unsigned integer")),
        }
    }

    pub(crate) fn read_str_or_nil(&mut self) -> Result<Option<&'a str>, MpError> {
        match self.read_item()? {
            Item::Nil => Ok(None),
            Item::Str(s) => std::str::from_utf8(s)
                .map(Some)
                .map_err(|_| MpError::InvalidUtf8),
            _ => Err(MpError::WrongType("a string")),
        }
    }

    pub(crate) fn read_str(&mut self) -> Result<&'a str, MpError> {
        self.read_str_or_nil()?
            .ok_or(MpError::WrongType("a string"))
    }

    /// An array header; `nil` reads as an empty array when `nil_ok`.
    fn read_array_len(&mut self, nil_ok: bool) -> Result<u32, MpError> {
        match self.read_item()? {
            Item::Array(n) => Ok(n),
            Item::Nil if nil_ok => Ok(0),
            _ => Err(MpError::WrongType("an array")),
        }
    }
}

/// Maps a cursor error met while reading the field `name` to a [`CodecError`].
fn at(name: &'static str) -> impl Fn(MpError) -> CodecError {
    move |e| match e {
        MpError::WrongType(_) => CodecError::InvalidField(name),
        MpError::InvalidUtf8 => CodecError::InvalidUtf8,
        other => CodecError::InvalidMessagePack(format!("{other} reading '{name}'")),
    }
}

/// Reads the fields of one message body, in order, checking the array is long enough.
struct Reader<'a> {
    body: &'a Bytes,
    cur: Cursor<'a>,
    len: u32,
    next: u32,
}

impl<'a> Reader<'a> {
    /// Positions the cursor on field number `self.next` (named `name`), or fails with
    /// `MissingField` when the array is too short.
    fn field(&mut self, name: &'static str) -> Result<(), CodecError> {
        if self.next >= self.len {
            return Err(CodecError::MissingField(name));
        }
        self.next += 1;
        Ok(())
    }

    fn has_more(&self) -> bool {
        self.next < self.len
    }

    fn uint(&mut self, name: &'static str) -> Result<u64, CodecError> {
        self.field(name)?;
        self.cur.read_uint().map_err(at(name))
    }

    fn string(&mut self, name: &'static str) -> Result<String, CodecError> {
        self.field(name)?;
        self.cur.read_str().map(str::to_owned).map_err(at(name))
    }

    fn opt_string(&mut self, name: &'static str) -> Result<Option<String>, CodecError> {
        self.field(name)?;
        let s = self.cur.read_str_or_nil().map_err(at(name))?;
        Ok(s.map(str::to_owned))
    }

    fn raw(&mut self, name: &'static str) -> Result<RawValue, CodecError> {
        self.field(name)?;
        self.raw_unchecked(name)
    }

    fn raw_unchecked(&mut self, name: &'static str) -> Result<RawValue, CodecError> {
        let span = self.cur.skip_value().map_err(at(name))?;
        Ok(RawValue::MessagePack(self.body.slice_ref(span)))
    }

    fn headers(&mut self) -> Result<Headers, CodecError> {
        self.field("headers")?;
        let n = match self.cur.read_item().map_err(at("headers"))? {
            Item::Map(n) => n,
            Item::Nil => 0,
            _ => return Err(CodecError::InvalidField("headers")),
        };
        let mut headers = Headers::new();
        for _ in 0..n {
            let k = self.cur.read_str().map_err(at("headers"))?;
            let v = self.cur.read_str().map_err(at("headers"))?;
            headers.insert(k.to_owned(), v.to_owned());
        }
        Ok(headers)
    }

    fn invocation(&mut self, id_required: bool) -> Result<Invocation, CodecError> {
        let headers = self.headers()?;
        let invocation_id = self.opt_string("invocationId")?;
        if id_required && invocation_id.is_none() {
            return Err(CodecError::MissingField("invocationId"));
        }
        let target = self.string("target")?;
        self.field("arguments")?;
        let n = self.cur.read_array_len(false).map_err(at("arguments"))?;
        let mut arguments = Vec::with_capacity((n as usize).min(self.cur.remaining()));
        for _ in 0..n {
            arguments.push(self.raw_unchecked("arguments")?);
        }
        let mut stream_ids = Vec::new();
        if self.has_more() {
            self.field("streamIds")?;
            let n = self.cur.read_array_len(true).map_err(at("streamIds"))?;
            for _ in 0..n {
                stream_ids.push(self.cur.read_str().map_err(at("streamIds"))?.to_owned());
            }
        }
        Ok(Invocation {
            headers,
            invocation_id,
            target,
            arguments,
            stream_ids,
        })
    }

    fn completion(&mut self) -> Result<HubMessage, CodecError> {
        let headers = self.headers()?;
        let invocation_id = self.string("invocationId")?;
        let result = match self.uint("resultKind")? {
            1 => CompletionResult::Error(self.string("error")?),
            2 => CompletionResult::Void,
            3 => CompletionResult::Value(self.raw("result")?),
            _ => return Err(CodecError::InvalidField("resultKind")),
        };
        Ok(HubMessage::Completion {
            headers,
            invocation_id,
            result,
        })
    }
}

/// Reads one message body (without its length prefix). Unknown message types are returned
/// as [`Decoded::Unknown`] without looking further into the body.
pub fn read_message(body: &Bytes) -> Result<Decoded, CodecError> {
    let mut cur = Cursor::new(body);
    let len = cur.read_array_len(false).map_err(|e| match e {
        MpError::WrongType(_) => CodecError::InvalidMessagePack("message is not an array".into()),
        other => at("message")(other),
    })?;
    let mut r = Reader {
        body,
        cur,
        len,
        next: 0,
    };
    let msg = match r.uint("type")? {
        1 => HubMessage::Invocation(r.invocation(false)?),
        2 => HubMessage::StreamItem {
            headers: r.headers()?,
            invocation_id: r.string("invocationId")?,
            item: r.raw("item")?,
        },
        3 => r.completion()?,
        4 => HubMessage::StreamInvocation(r.invocation(true)?),
        5 => HubMessage::CancelInvocation {
            headers: r.headers()?,
            invocation_id: r.string("invocationId")?,
        },
        6 => HubMessage::Ping,
        7 => {
            let error = r.opt_string("error")?;
            let mut allow_reconnect = false;
            if r.has_more() {
                r.field("allowReconnect")?;
                allow_reconnect = match r.cur.read_item().map_err(at("allowReconnect"))? {
                    Item::Bool(b) => b,
                    Item::Nil => false,
                    _ => return Err(CodecError::InvalidField("allowReconnect")),
                };
            }
            HubMessage::Close {
                error,
                allow_reconnect,
            }
        }
        8 => HubMessage::Ack {
            sequence_id: r.uint("sequenceId")?,
        },
        9 => HubMessage::Sequence {
            sequence_id: r.uint("sequenceId")?,
        },
        other => return Ok(Decoded::Unknown { type_id: other }),
    };
    while r.next < r.len {
        r.next += 1;
        r.cur.skip_value().map_err(at("extra element"))?;
    }
    if !r.cur.is_empty() {
        return Err(CodecError::InvalidMessagePack(
            "bytes after the end of the message".into(),
        ));
    }
    Ok(Decoded::Message(msg))
}

// ---- writing ----
//
// Every item in its smallest form, byte for byte as rmp's `write_uint` / `write_sint` /
// `write_f64` / `write_str` / `write_array_len` / `write_map_len` write it, onto any
// `BufMut` (a `Vec<u8>`, or straight into the `BytesMut` of a frame).

pub(crate) fn put_nil(out: &mut impl BufMut) {
    out.put_u8(0xC0);
}

pub(crate) fn put_bool(out: &mut impl BufMut, b: bool) {
    out.put_u8(if b { 0xC3 } else { 0xC2 });
}

pub(crate) fn put_uint(out: &mut impl BufMut, n: u64) {
    if n < 0x80 {
        out.put_u8(n as u8);
    } else if n <= 0xFF {
        out.put_slice(&[0xCC, n as u8]);
    } else if n <= 0xFFFF {
        out.put_u8(0xCD);
        out.put_u16(n as u16);
    } else if n <= 0xFFFF_FFFF {
        out.put_u8(0xCE);
        out.put_u32(n as u32);
    } else {
        out.put_u8(0xCF);
        out.put_u64(n);
    }
}

pub(crate) fn put_sint(out: &mut impl BufMut, n: i64) {
    if n >= 0 {
        put_uint(out, n as u64);
    } else if n >= -32 {
        out.put_u8(n as u8); // negative fixint, 0xE0..=0xFF
    } else if n >= i64::from(i8::MIN) {
        out.put_slice(&[0xD0, n as u8]);
    } else if n >= i64::from(i16::MIN) {
        out.put_u8(0xD1);
        out.put_i16(n as i16);
    } else if n >= i64::from(i32::MIN) {
        out.put_u8(0xD2);
        out.put_i32(n as i32);
    } else {
        out.put_u8(0xD3);
        out.put_i64(n);
    }
}

pub(crate) fn put_f64(out: &mut impl BufMut, f: f64) {
    out.put_u8(0xCB);
    out.put_f64(f);
}

/// A length header: the fix form (`fix | n`) below `fix_limit`, else the 8-bit form (when the
/// kind has one), the 16-bit or the 32-bit form.
fn put_len(out: &mut impl BufMut, n: usize, fix: u8, fix_limit: usize, markers: [u8; 3]) {
    if n < fix_limit {
        out.put_u8(fix | n as u8);
    } else if markers[0] != 0 && n <= 0xFF {
        out.put_slice(&[markers[0], n as u8]);
    } else if n <= 0xFFFF {
        out.put_u8(markers[1]);
        out.put_u16(n as u16);
    } else {
        out.put_u8(markers[2]);
        out.put_u32(n as u32);
    }
}

pub(crate) fn put_str(out: &mut impl BufMut, s: &str) {
    put_len(out, s.len(), 0xA0, 32, [0xD9, 0xDA, 0xDB]);
    out.put_slice(s.as_bytes());
}

pub(crate) fn put_array_len(out: &mut impl BufMut, n: usize) {
    put_len(out, n, 0x90, 16, [0, 0xDC, 0xDD]);
}

pub(crate) fn put_map_len(out: &mut impl BufMut, n: usize) {
    put_len(out, n, 0x80, 16, [0, 0xDE, 0xDF]);
}

fn uint_size(n: u64) -> usize {
    match n {
        0..0x80 => 1,
        0x80..=0xFF => 2,
        0x100..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

fn str_size(s: &str) -> usize {
    let n = s.len();
    n + match n {
        0..32 => 1,
        32..=0xFF => 2,
        0x100..=0xFFFF => 3,
        _ => 5,
    }
}

/// Array and map headers.
fn len_size(n: usize) -> usize {
    match n {
        0..16 => 1,
        16..=0xFFFF => 3,
        _ => 5,
    }
}

fn headers_size(headers: &Headers) -> usize {
    len_size(headers.len())
        + headers
            .iter()
            .map(|(k, v)| str_size(k) + str_size(v))
            .sum::<usize>()
}

/// A MessagePack raw value is copied; a JSON one is transcoded, usually to fewer bytes.
fn raw_size(value: &RawValue) -> usize {
    value.as_bytes().len()
}

/// The size of `msg`'s body as [`write_message`] writes it: exact when every raw value is
/// MessagePack, an estimate otherwise (a JSON raw value counts with its text length). The
/// codec sizes the frame buffer and the length prefix with it.
pub(crate) fn body_size_hint(msg: &HubMessage) -> usize {
    // Every array header (≤ 6 elements), type number and result kind takes 1 byte.
    match msg {
        HubMessage::Invocation(inv) | HubMessage::StreamInvocation(inv) => {
            2 + headers_size(&inv.headers)
                + inv.invocation_id.as_deref().map_or(1, str_size)
                + str_size(&inv.target)
                + len_size(inv.arguments.len())
                + inv.arguments.iter().map(raw_size).sum::<usize>()
                + len_size(inv.stream_ids.len())
                + inv.stream_ids.iter().map(|s| str_size(s)).sum::<usize>()
        }
        HubMessage::StreamItem {
            headers,
            invocation_id,
            item,
        } => 2 + headers_size(headers) + str_size(invocation_id) + raw_size(item),
        HubMessage::Completion {
            headers,
            invocation_id,
            result,
        } => {
            3 + headers_size(headers)
                + str_size(invocation_id)
                + match result {
                    CompletionResult::Error(e) => str_size(e),
                    CompletionResult::Void => 0,
                    CompletionResult::Value(v) => raw_size(v),
                }
        }
        HubMessage::CancelInvocation {
            headers,
            invocation_id,
        } => 2 + headers_size(headers) + str_size(invocation_id),
        HubMessage::Ping => 2,
        HubMessage::Close { error, .. } => 3 + error.as_deref().map_or(1, str_size),
        HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
            2 + uint_size(*sequence_id)
        }
    }
}

fn put_headers(out: &mut impl BufMut, headers: &Headers) {
    put_map_len(out, headers.len());
    for (k, v) in headers {
        put_str(out, k);
        put_str(out, v);
    }
}

fn put_raw(out: &mut impl BufMut, value: &RawValue) -> Result<(), CodecError> {
    match value {
        RawValue::MessagePack(b) => out.put_slice(b),
        RawValue::Json(b) => json_to_msgpack(b, out)?,
    }
    Ok(())
}

fn put_invocation(out: &mut impl BufMut, ty: u64, inv: &Invocation) -> Result<(), CodecError> {
    put_array_len(out, 6);
    put_uint(out, ty);
    put_headers(out, &inv.headers);
    match &inv.invocation_id {
        Some(id) => put_str(out, id),
        None if ty == 4 => return Err(CodecError::MissingField("invocationId")),
        None => put_nil(out),
    }
    put_str(out, &inv.target);
    put_array_len(out, inv.arguments.len());
    for arg in &inv.arguments {
        put_raw(out, arg)?;
    }
    put_array_len(out, inv.stream_ids.len());
    for id in &inv.stream_ids {
        put_str(out, id);
    }
    Ok(())
}

/// Appends the body of `msg` (without length prefix) to `out`. Fails only when a JSON raw
/// value does not transcode, or a StreamInvocation has no id; `out` may then hold a partial
/// body (the [`codec`](super::codec) functions discard it).
pub fn write_message(msg: &HubMessage, out: &mut Vec<u8>) -> Result<(), CodecError> {
    write_body(msg, out)
}

/// [`write_message`] onto any buffer (the codec writes straight into the frame).
pub(crate) fn write_body(msg: &HubMessage, out: &mut impl BufMut) -> Result<(), CodecError> {
    let ty = u64::from(msg.type_id());
    match msg {
        HubMessage::Invocation(inv) | HubMessage::StreamInvocation(inv) => {
            put_invocation(out, ty, inv)?
        }
        HubMessage::StreamItem {
            headers,
            invocation_id,
            item,
        } => {
            put_array_len(out, 4);
            put_uint(out, ty);
            put_headers(out, headers);
            put_str(out, invocation_id);
            put_raw(out, item)?;
        }
        HubMessage::Completion {
            headers,
            invocation_id,
            result,
        } => {
            put_array_len(
                out,
                if matches!(result, CompletionResult::Void) {
                    4
                } else {
                    5
                },
            );
            put_uint(out, ty);
            put_headers(out, headers);
            put_str(out, invocation_id);
            match result {
                CompletionResult::Error(e) => {
                    put_uint(out, 1);
                    put_str(out, e);
                }
                CompletionResult::Void => put_uint(out, 2),
                CompletionResult::Value(v) => {
                    put_uint(out, 3);
                    put_raw(out, v)?;
                }
            }
        }
        HubMessage::CancelInvocation {
            headers,
            invocation_id,
        } => {
            put_array_len(out, 3);
            put_uint(out, ty);
            put_headers(out, headers);
            put_str(out, invocation_id);
        }
        HubMessage::Ping => {
            put_array_len(out, 1);
            put_uint(out, ty);
        }
        HubMessage::Close {
            error,
            allow_reconnect,
        } => {
            put_array_len(out, 3);
            put_uint(out, ty);
            match error {
                Some(e) => put_str(out, e),
                None => put_nil(out),
            }
            put_bool(out, *allow_reconnect);
        }
        HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
            put_array_len(out, 2);
            put_uint(out, ty);
            put_uint(out, *sequence_id);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmp::encode as rmp_w;

    /// Our writers produce the bytes rmp's do, at every boundary of every form.
    #[test]
    fn writers_match_rmp() {
        let mut uints = vec![0u64, 1, 1 << 63, u64::MAX];
        let mut sints = vec![0i64, -1, i64::MIN, i64::MIN + 1, i64::MAX];
        for shift in [5, 7, 8, 15, 16, 31, 32] {
            let b = 1u64 << shift;
            uints.extend([b - 1, b, b + 1]);
            let b = b as i64;
            sints.extend([b - 1, b, b + 1, -b - 1, -b, -b + 1]);
        }
        for n in uints {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_uint(&mut ours, n);
            rmp_w::write_uint(&mut theirs, n).unwrap();
            assert_eq!(ours, theirs, "uint {n}");
            assert_eq!(uint_size(n), ours.len(), "uint size {n}");
        }
        for n in sints {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_sint(&mut ours, n);
            rmp_w::write_sint(&mut theirs, n).unwrap();
            assert_eq!(ours, theirs, "sint {n}");
        }
        for f in [0.0, -0.0, 1.5, f64::MAX, f64::MIN_POSITIVE] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_f64(&mut ours, f);
            rmp_w::write_f64(&mut theirs, f).unwrap();
            assert_eq!(ours, theirs, "f64 {f}");
        }
        for n in [0usize, 1, 15, 16, 31, 32, 255, 256, 65_535, 65_536, 70_000] {
            let s = "x".repeat(n);
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_str(&mut ours, &s);
            rmp_w::write_str(&mut theirs, &s).unwrap();
            assert_eq!(ours, theirs, "str of {n}");
            assert_eq!(str_size(&s), ours.len(), "str size {n}");
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_array_len(&mut ours, n);
            rmp_w::write_array_len(&mut theirs, n as u32).unwrap();
            assert_eq!(ours, theirs, "array of {n}");
            assert_eq!(len_size(n), ours.len(), "array size {n}");
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_map_len(&mut ours, n);
            rmp_w::write_map_len(&mut theirs, n as u32).unwrap();
            assert_eq!(ours, theirs, "map of {n}");
        }
        for b in [false, true] {
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            put_bool(&mut ours, b);
            rmp_w::write_bool(&mut theirs, b).unwrap();
            assert_eq!(ours, theirs);
        }
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        put_nil(&mut ours);
        rmp_w::write_nil(&mut theirs).unwrap();
        assert_eq!(ours, theirs);
    }
}
