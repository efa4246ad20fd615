//! Helpers on [`RawValue`]: converting from and to serde types, and transcoding one encoded
//! value between JSON and MessagePack (spec `signalr.md` §1, "Types").
//!
//! Transcoding rules, MessagePack → JSON:
//! - nil ↔ `null`, booleans, strings, arrays as themselves; maps need string keys (any other
//!   key is [`ValueError::NonStringKey`]); key order is kept;
//! - integers stay exact (`u64` / `i64`); `float 64` is written in the shortest form that reads
//!   back to the same number (`1.0`, `1e+300`); `float 32` in the shortest form of the `f32`
//!   (`1.1f32` → `1.1`); NaN and infinities have no JSON form ([`ValueError::NonFiniteFloat`]);
//! - `bin` becomes a base64 string, as .NET writes a `byte[]` in JSON;
//! - the timestamp extension (type −1, .NET `DateTime`) becomes an ISO 8601 UTC string
//!   (`2024-01-02T03:04:05.5Z`); every other extension is [`ValueError::UnsupportedExtension`]
//!   (there is no faithful JSON form for it).
//!
//! JSON → MessagePack: `null`, booleans, strings, arrays and objects (key order kept) map to
//! their MessagePack forms; non-negative integers become the smallest uint, negative ones the
//! smallest int, other numbers `float 64` (integers beyond `u64` / `i64` too), read correctly
//! rounded; numbers beyond `f64` are rejected.
//! A JSON string is never turned back into `bin` or a timestamp: JSON carries no type for it.
//!
//! Nesting is limited to [`MAX_DEPTH`] levels in both directions, so hostile input cannot
//! exhaust the stack. This module does not validate a [`RawValue`] it only forwards (the
//! codecs copy raw values of the right format as they are).

use std::cell::RefCell;

use base64::Engine as _;
use bytes::{BufMut, Bytes};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::message::{HubProtocol, RawValue};
use super::msgpack::{self as mp, Cursor, Item, MpError};

pub(super) mod direct;

/// The deepest nesting of arrays and maps a transcoded value may have: 127 levels, serde_json's
/// own recursion limit, so every JSON text the transcoder writes also parses with serde_json.
pub const MAX_DEPTH: usize = 127;

/// Converting or transcoding one value failed. Raised by the [`RawValue`] helpers, and by the
/// hub writers when a raw value must be transcoded (a local error: nothing was written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    /// The bytes of a JSON value do not parse (the detail is serde_json's message).
    #[error("invalid JSON value: {0}")]
    InvalidJson(String),
    /// The bytes of a MessagePack value are truncated, malformed or followed by extra bytes.
    #[error("invalid MessagePack value: {0}")]
    InvalidMessagePack(String),
    /// A MessagePack string that is not valid UTF-8.
    #[error("MessagePack string is not valid UTF-8")]
    InvalidUtf8,
    /// Arrays and maps nested deeper than [`MAX_DEPTH`].
    #[error("value nested deeper than {max} levels")]
    TooDeep {
        /// The limit, [`MAX_DEPTH`].
        max: usize,
    },
    /// A MessagePack map key that is not a string has no JSON form.
    #[error("MessagePack map key is not a string")]
    NonStringKey,
    /// A MessagePack extension other than the timestamp has no JSON form.
    #[error("MessagePack extension type {0} has no JSON form")]
    UnsupportedExtension(i8),
    /// A timestamp outside the years 1–9999 (the range of .NET `DateTime`), or with more than
    /// 999 999 999 nanoseconds.
    #[error("MessagePack timestamp out of range")]
    TimestampOutOfRange,
    /// NaN or an infinity has no JSON form.
    #[error("NaN or infinite float has no JSON form")]
    NonFiniteFloat,
    /// serde could not serialize the value (the detail is its message).
    #[error("cannot serialize value: {0}")]
    Serialize(String),
    /// The value does not deserialize into the requested type (the detail is serde's message).
    #[error("cannot deserialize value: {0}")]
    Deserialize(String),
}

impl From<MpError> for ValueError {
    fn from(e: MpError) -> Self {
        match e {
            MpError::InvalidUtf8 => ValueError::InvalidUtf8,
            other => ValueError::InvalidMessagePack(other.to_string()),
        }
    }
}

impl RawValue {
    /// The format of the encoded bytes.
    pub fn protocol(&self) -> HubProtocol {
        match self {
            RawValue::Json(_) => HubProtocol::Json,
            RawValue::MessagePack(_) => HubProtocol::MessagePack,
        }
    }

    /// The encoded bytes, whatever the format.
    pub fn as_bytes(&self) -> &Bytes {
        match self {
            RawValue::Json(b) | RawValue::MessagePack(b) => b,
        }
    }

    /// `null` (JSON) or nil (`c0`, MessagePack).
    pub fn null(protocol: HubProtocol) -> RawValue {
        match protocol {
            HubProtocol::Json => RawValue::Json(Bytes::from_static(b"null")),
            HubProtocol::MessagePack => RawValue::MessagePack(Bytes::from_static(&[0xC0])),
        }
    }

    /// Serializes `value` in the given format: JSON as `serde_json::to_vec` writes it, and
    /// MessagePack as that text transcodes, so serde byte buffers become arrays of numbers;
    /// wrap them in a base64 string, or build the MessagePack `bin` yourself, to send a
    /// `byte[]`. Usual values are written directly in either format, with the very same
    /// bytes (see `value/direct.rs`); anything else goes through serde_json.
    pub fn from_serde<T: Serialize + ?Sized>(
        protocol: HubProtocol,
        value: &T,
    ) -> Result<RawValue, ValueError> {
        let direct = with_scratch(|out| match protocol {
            HubProtocol::Json => direct::to_json(value, out),
            HubProtocol::MessagePack => direct::to_msgpack(value, out),
        });
        match (direct, protocol) {
            (Ok(bytes), HubProtocol::Json) => Ok(RawValue::Json(bytes)),
            (Ok(bytes), HubProtocol::MessagePack) => Ok(RawValue::MessagePack(bytes)),
            (Err(direct::Fallback), _) => Self::from_serde_via_json(protocol, value),
        }
    }

    /// [`from_serde`](Self::from_serde) through serde_json's text (and the transcoder for
    /// MessagePack): the definition of the result, and the path for what the direct one
    /// leaves out.
    pub(crate) fn from_serde_via_json<T: Serialize + ?Sized>(
        protocol: HubProtocol,
        value: &T,
    ) -> Result<RawValue, ValueError> {
        let json = serde_json::to_vec(value).map_err(|e| ValueError::Serialize(e.to_string()))?;
        match protocol {
            HubProtocol::Json => Ok(RawValue::Json(Bytes::from(json))),
            HubProtocol::MessagePack => {
                let mut out = Vec::with_capacity(json.len());
                json_to_msgpack(&json, &mut out)?;
                Ok(RawValue::MessagePack(Bytes::from(out)))
            }
        }
    }

    /// Deserializes the value into `T`, in either format. A MessagePack value reads as its
    /// JSON transcoding would, so `bin` arrives as a base64 string and a timestamp as an ISO
    /// 8601 string; serde_json does the reading, with its usual float precision. Usual
    /// values are read straight from MessagePack, with the very same result (see
    /// `value/direct.rs`); anything else, and every error, goes through the JSON text.
    pub fn to_serde<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        match self {
            RawValue::Json(b) => match direct::from_json_string(b) {
                Ok(value) => Ok(value),
                Err(direct::Fallback) => {
                    serde_json::from_slice(b).map_err(|e| ValueError::Deserialize(e.to_string()))
                }
            },
            RawValue::MessagePack(b) => match direct::from_msgpack(b) {
                Ok(value) => Ok(value),
                Err(direct::Fallback) => self.to_serde_via_json(),
            },
        }
    }

    /// [`to_serde`](Self::to_serde) through the JSON text: the definition of the result, and
    /// the path for what the direct one leaves out.
    pub(crate) fn to_serde_via_json<T: DeserializeOwned>(&self) -> Result<T, ValueError> {
        let json = self.to_json()?;
        serde_json::from_slice(&json).map_err(|e| ValueError::Deserialize(e.to_string()))
    }

    /// The value as JSON text: a cheap clone when it already is JSON, else transcoded.
    pub fn to_json(&self) -> Result<Bytes, ValueError> {
        match self {
            RawValue::Json(b) => Ok(b.clone()),
            RawValue::MessagePack(b) => {
                let mut out = Vec::with_capacity(b.len() + b.len() / 2);
                msgpack_to_json(b, &mut out)?;
                Ok(Bytes::from(out))
            }
        }
    }

    /// The value as one MessagePack object: a cheap clone when it already is MessagePack, else
    /// transcoded.
    pub fn to_msgpack(&self) -> Result<Bytes, ValueError> {
        match self {
            RawValue::MessagePack(b) => Ok(b.clone()),
            RawValue::Json(b) => {
                let mut out = Vec::with_capacity(b.len());
                json_to_msgpack(b, &mut out)?;
                Ok(Bytes::from(out))
            }
        }
    }

    /// The same value in `protocol`'s format (a cheap clone when it already is).
    pub fn to_protocol(&self, protocol: HubProtocol) -> Result<RawValue, ValueError> {
        match protocol {
            HubProtocol::Json => self.to_json().map(RawValue::Json),
            HubProtocol::MessagePack => self.to_msgpack().map(RawValue::MessagePack),
        }
    }
}

thread_local! {
    /// The buffer [`RawValue::from_serde`] writes small values into before copying them out.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Values up to this size are copied out of the scratch buffer; larger ones take it over.
const SCRATCH_COPY_MAX: usize = 4096;

/// Runs `write` on this thread's scratch buffer and returns what it wrote as `Bytes`: small
/// values in one exactly sized allocation (a `Vec` written from empty would regrow several
/// times, and one with spare capacity costs `Bytes` a second allocation for its shared
/// header), large ones in the buffer itself. A fresh buffer when the scratch one is in use
/// (a `Serialize` impl that calls `from_serde`) or gone (thread teardown).
fn with_scratch<E>(write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>) -> Result<Bytes, E> {
    let mut write = Some(write);
    let scratched = SCRATCH.try_with(|cell| {
        let mut buf = cell.try_borrow_mut().ok()?;
        buf.clear();
        let written = (write.take()?)(&mut buf);
        Some(written.map(|()| {
            if buf.len() <= SCRATCH_COPY_MAX {
                Bytes::copy_from_slice(&buf)
            } else {
                Bytes::from(std::mem::take(&mut *buf))
            }
        }))
    });
    match (scratched, write) {
        (Ok(Some(result)), _) => result,
        (_, Some(write)) => {
            let mut buf = Vec::new();
            write(&mut buf).map(|()| Bytes::from(buf))
        }
        (_, None) => unreachable!("the scratch buffer ran `write` and returned its result"),
    }
}

/// Whether serde_json (and so we) escape this byte inside a JSON string.
pub(crate) fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Appends `s` to `out` as a JSON string literal, byte for byte as serde_json writes it:
/// quotes, `\"`, `\\`, the short escapes `\b \f \n \r \t` and `\u00xx` for the other
/// control characters; everything else as UTF-8.
pub(crate) fn put_json_str(out: &mut impl BufMut, s: &str) {
    // Runs without escapes are copied whole; 32-byte blocks are checked without branches
    // (the compiler vectorizes the fold), so long plain strings cost about a copy.
    const BLOCK: usize = 32;
    out.put_u8(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let end = (i + BLOCK).min(bytes.len());
        let block = &bytes[i..end];
        // Whole blocks as fixed-size arrays: the check compiles to a few vector compares.
        let any = match <&[u8; BLOCK]>::try_from(block) {
            Ok(whole) => whole.iter().fold(false, |any, &b| any | escaped(b)),
            Err(_) => block.iter().fold(false, |any, &b| any | escaped(b)),
        };
        if any {
            for (j, &b) in (i..).zip(block) {
                if escaped(b) {
                    out.put_slice(&bytes[start..j]);
                    put_escape(out, b);
                    start = j + 1;
                }
            }
        }
        i = end;
    }
    out.put_slice(&bytes[start..]);
    out.put_u8(b'"');
}

fn put_escape(out: &mut impl BufMut, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        b'\n' => b"\\n",
        b'\r' => b"\\r",
        b'\t' => b"\\t",
        0x08 => b"\\b",
        0x0C => b"\\f",
        _ => {
            out.put_slice(b"\\u00");
            out.put_u8(HEX[usize::from(b >> 4)]);
            out.put_u8(HEX[usize::from(b & 0xF)]);
            return;
        }
    };
    out.put_slice(short);
}

/// Appends the decimal digits of `n` (what `n.to_string()` gives, without allocating).
pub(crate) fn put_u64(out: &mut impl BufMut, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[at..]);
}

/// Appends `n` in decimal, with a `-` when negative.
pub(crate) fn put_i64(out: &mut impl BufMut, n: i64) {
    if n < 0 {
        out.put_u8(b'-');
    }
    put_u64(out, n.unsigned_abs());
}

/// Transcodes exactly one MessagePack object (`src` must hold nothing else) to JSON text.
pub(crate) fn msgpack_to_json(src: &[u8], out: &mut impl BufMut) -> Result<(), ValueError> {
    let mut cur = Cursor::new(src);
    write_json(&mut cur, out, 0)?;
    if !cur.is_empty() {
        return Err(MpError::TrailingBytes.into());
    }
    Ok(())
}

fn put_f64(out: &mut impl BufMut, f: f64) -> Result<(), ValueError> {
    let n = serde_json::Number::from_f64(f).ok_or(ValueError::NonFiniteFloat)?;
    out.put_slice(n.to_string().as_bytes());
    Ok(())
}

fn write_json(cur: &mut Cursor<'_>, out: &mut impl BufMut, depth: usize) -> Result<(), ValueError> {
    match cur.read_item()? {
        Item::Nil => out.put_slice(b"null"),
        Item::Bool(b) => out.put_slice(if b { b"true" } else { b"false" }),
        Item::Uint(n) => put_u64(out, n),
        Item::Int(n) => put_i64(out, n),
        Item::F64(f) => put_f64(out, f)?,
        // The shortest text of the f32, read back as f64: 1.1f32 stays "1.1".
        Item::F32(f) if f.is_finite() => put_f64(out, f.to_string().parse().unwrap_or(f64::NAN))?,
        Item::F32(_) => return Err(ValueError::NonFiniteFloat),
        Item::Str(s) => put_json_str(
            out,
            std::str::from_utf8(s).map_err(|_| ValueError::InvalidUtf8)?,
        ),
        Item::Bin(data) => {
            put_json_str(out, &base64::engine::general_purpose::STANDARD.encode(data))
        }
        Item::Ext(-1, data) => put_json_str(out, &timestamp_to_iso(data)?),
        Item::Ext(ty, _) => return Err(ValueError::UnsupportedExtension(ty)),
        Item::Array(_) | Item::Map(_) if depth >= MAX_DEPTH => {
            return Err(ValueError::TooDeep { max: MAX_DEPTH });
        }
        Item::Array(n) => {
            out.put_u8(b'[');
            for i in 0..n {
                if i > 0 {
                    out.put_u8(b',');
                }
                write_json(cur, out, depth + 1)?;
            }
            out.put_u8(b']');
        }
        Item::Map(n) => {
            out.put_u8(b'{');
            for i in 0..n {
                if i > 0 {
                    out.put_u8(b',');
                }
                match cur.read_item()? {
                    Item::Str(k) => put_json_str(
                        out,
                        std::str::from_utf8(k).map_err(|_| ValueError::InvalidUtf8)?,
                    ),
                    _ => return Err(ValueError::NonStringKey),
                }
                out.put_u8(b':');
                write_json(cur, out, depth + 1)?;
            }
            out.put_u8(b'}');
        }
    }
    Ok(())
}

/// The MessagePack timestamp extension (type −1, 4, 8 or 12 bytes) as ISO 8601 UTC text with
/// as many fraction digits as needed: `1970-01-01T00:00:00Z`, `…:05.123Z`.
fn timestamp_to_iso(data: &[u8]) -> Result<String, ValueError> {
    let be = |b: &[u8]| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
    let (secs, nanos): (i64, u32) = match data.len() {
        4 => (be(data) as i64, 0),
        8 => {
            let v = be(data);
            ((v & 0x3_FFFF_FFFF) as i64, (v >> 34) as u32)
        }
        12 => (be(&data[4..]) as i64, be(&data[..4]) as u32),
        _ => return Err(ValueError::UnsupportedExtension(-1)),
    };
    // Years 1..=9999, the range of .NET DateTime.
    const MIN: i64 = -62_135_596_800;
    const MAX: i64 = 253_402_300_799;
    if nanos > 999_999_999 || !(MIN..=MAX).contains(&secs) {
        return Err(ValueError::TimestampOutOfRange);
    }
    let days = secs.div_euclid(86_400);
    let tod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut s = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        tod / 3600,
        tod / 60 % 60,
        tod % 60
    );
    if nanos > 0 {
        let frac = format!("{nanos:09}");
        s.push('.');
        s.push_str(frac.trim_end_matches('0'));
    }
    s.push('Z');
    Ok(s)
}

/// Proleptic Gregorian date of a day count since 1970-01-01 (days-to-civil, eras of 400
/// years of 146 097 days).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // day of era, 0..=146_096
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // year of era, 0..=399
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // day of year from March 1st
    let mp = (5 * doy + 2) / 153; // month from March, 0..=11
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A parsed JSON value that keeps object key order (serde_json's `Value` sorts keys without
/// its `preserve_order` feature). Only lives between parsing JSON and writing MessagePack.
enum Node {
    Null,
    Bool(bool),
    Uint(u64),
    Int(i64),
    Float(f64),
    Str(String),
    Array(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// A small JSON (RFC 8259) parser for transcoding. serde_json is not used here because,
/// without its `float_roundtrip` feature, it may read a float one ULP off; this parser reads
/// numbers with the standard library's correctly rounded `f64` parser and keeps key order.
struct JsonParser<'a> {
    s: &'a [u8],
    pos: usize,
}

impl JsonParser<'_> {
    fn fail(&self, what: &str) -> ValueError {
        ValueError::InvalidJson(format!("{what} at byte {}", self.pos))
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        let hit = self.peek() == Some(b);
        self.pos += usize::from(hit);
        hit
    }

    fn literal(&mut self, word: &[u8], node: Node) -> Result<Node, ValueError> {
        if !self.s[self.pos..].starts_with(word) {
            return Err(self.fail("invalid literal"));
        }
        self.pos += word.len();
        Ok(node)
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn number(&mut self) -> Result<Node, ValueError> {
        let start = self.pos;
        let negative = self.eat(b'-');
        let int_start = self.pos;
        if self.digits() == 0 || (self.s[int_start] == b'0' && self.pos - int_start > 1) {
            return Err(self.fail("invalid number"));
        }
        let mut integer = true;
        if self.eat(b'.') {
            integer = false;
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        if self.eat(b'e') || self.eat(b'E') {
            integer = false;
            let _ = self.eat(b'+') || self.eat(b'-');
            if self.digits() == 0 {
                return Err(self.fail("invalid number"));
            }
        }
        // ASCII digits and signs only: valid UTF-8.
        let text = std::str::from_utf8(&self.s[start..self.pos]).unwrap_or_default();
        if integer {
            if let (false, Ok(n)) = (negative, text.parse::<u64>()) {
                return Ok(Node::Uint(n));
            }
            if let (true, Ok(n)) = (negative, text.parse::<i64>()) {
                return Ok(Node::Int(n));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Node::Float(f)),
            _ => Err(self.fail("number out of range")),
        }
    }

    fn hex4(&mut self) -> Result<u32, ValueError> {
        let digits = self
            .s
            .get(self.pos..self.pos + 4)
            .ok_or_else(|| self.fail("truncated escape"))?;
        let text = std::str::from_utf8(digits).map_err(|_| self.fail("invalid escape"))?;
        let n = u32::from_str_radix(text, 16).map_err(|_| self.fail("invalid escape"))?;
        self.pos += 4;
        Ok(n)
    }

    /// A string, the opening quote already consumed.
    fn string(&mut self) -> Result<String, ValueError> {
        let mut out = Vec::new();
        loop {
            let b = self
                .peek()
                .ok_or_else(|| self.fail("unterminated string"))?;
            self.pos += 1;
            match b {
                b'"' => break,
                0x00..=0x1F => return Err(self.fail("control character in string")),
                b'\\' => {
                    let e = self.peek().ok_or_else(|| self.fail("truncated escape"))?;
                    self.pos += 1;
                    let c = match e {
                        b'"' | b'\\' | b'/' => e,
                        b'b' => 0x08,
                        b'f' => 0x0C,
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'u' => {
                            let mut cp = self.hex4()?;
                            if (0xD800..0xDC00).contains(&cp) {
                                if !(self.eat(b'\\') && self.eat(b'u')) {
                                    return Err(self.fail("lone surrogate"));
                                }
                                let low = self.hex4()?;
                                if !(0xDC00..0xE000).contains(&low) {
                                    return Err(self.fail("lone surrogate"));
                                }
                                cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                            }
                            let ch =
                                char::from_u32(cp).ok_or_else(|| self.fail("lone surrogate"))?;
                            out.extend_from_slice(ch.encode_utf8(&mut [0; 4]).as_bytes());
                            continue;
                        }
                        _ => return Err(self.fail("invalid escape")),
                    };
                    out.push(c);
                }
                _ => out.push(b),
            }
        }
        // The input was checked to be UTF-8 and escapes produce whole characters.
        String::from_utf8(out).map_err(|_| ValueError::InvalidJson("invalid UTF-8".into()))
    }

    fn value(&mut self, depth: usize) -> Result<Node, ValueError> {
        self.ws();
        let b = self.peek().ok_or_else(|| self.fail("expected a value"))?;
        if matches!(b, b'[' | b'{') && depth >= MAX_DEPTH {
            return Err(ValueError::TooDeep { max: MAX_DEPTH });
        }
        match b {
            b'n' => self.literal(b"null", Node::Null),
            b't' => self.literal(b"true", Node::Bool(true)),
            b'f' => self.literal(b"false", Node::Bool(false)),
            b'-' | b'0'..=b'9' => self.number(),
            b'"' => {
                self.pos += 1;
                self.string().map(Node::Str)
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                self.ws();
                if !self.eat(b']') {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.ws();
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.fail("expected ',' or ']'"));
                        }
                    }
                }
                Ok(Node::Array(items))
            }
            b'{' => {
                self.pos += 1;
                let mut entries = Vec::new();
                self.ws();
                if !self.eat(b'}') {
                    loop {
                        self.ws();
                        if !self.eat(b'"') {
                            return Err(self.fail("expected a key"));
                        }
                        let key = self.string()?;
                        self.ws();
                        if !self.eat(b':') {
                            return Err(self.fail("expected ':'"));
                        }
                        entries.push((key, self.value(depth + 1)?));
                        self.ws();
                        if self.eat(b'}') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.fail("expected ',' or '}'"));
                        }
                    }
                }
                Ok(Node::Map(entries))
            }
            _ => Err(self.fail("expected a value")),
        }
    }
}

/// Transcodes one JSON value (surrounding whitespace allowed) to MessagePack.
pub(crate) fn json_to_msgpack(src: &[u8], out: &mut impl BufMut) -> Result<(), ValueError> {
    std::str::from_utf8(src).map_err(|_| ValueError::InvalidJson("invalid UTF-8".into()))?;
    let mut p = JsonParser { s: src, pos: 0 };
    let node = p.value(0)?;
    p.ws();
    if p.pos != src.len() {
        return Err(p.fail("trailing characters"));
    }
    write_node(&node, out);
    Ok(())
}

fn write_node(node: &Node, out: &mut impl BufMut) {
    match node {
        Node::Null => mp::put_nil(out),
        Node::Bool(b) => mp::put_bool(out, *b),
        Node::Uint(n) => mp::put_uint(out, *n),
        Node::Int(n) => mp::put_sint(out, *n),
        Node::Float(f) => mp::put_f64(out, *f),
        Node::Str(s) => mp::put_str(out, s),
        Node::Array(items) => {
            mp::put_array_len(out, items.len());
            for item in items {
                write_node(item, out);
            }
        }
        Node::Map(entries) => {
            mp::put_map_len(out, entries.len());
            for (k, v) in entries {
                mp::put_str(out, k);
                write_node(v, out);
            }
        }
    }
}
