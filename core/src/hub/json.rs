//! The JSON hub protocol (spec `signalr.md` §1): one message text ↔ one [`HubMessage`].
//! Framing (the `0x1E` record separator) is [`codec`](super::codec)'s job.
//!
//! The reader is tolerant: keys in any order (the JS client puts `type` last), unknown keys
//! ignored, `headers` optional, a `null` member read as an absent one (except `result`, where
//! `null` is the value). It rejects what .NET rejects: a Completion with both `result` and
//! `error`, an Invocation without `target` or `arguments`, a StreamItem / Completion /
//! CancelInvocation / StreamInvocation without `invocationId`, a StreamItem without `item`,
//! Ack / Sequence without `sequenceId`, and members of the wrong JSON type. Raw values are
//! zero-copy slices of the message text. A hand-written reader (`fast`) takes the usual
//! messages; anything it is unsure of, errors included, goes to serde_json, and both give the
//! same result for every text (property-tested against each other).
//!
//! The writer is strict and matches .NET: `type` first, `headers` only when non-empty,
//! `invocationId` only when present, `streamIds` only when non-empty, Completion `result`
//! only for a value and `error` only for an error, Close `error` only when present and
//! `allowReconnect` only when true. MessagePack raw values are transcoded; JSON raw values are
//! copied as they are (only checked not to contain the `0x1E` separator).

use std::cell::Cell;
use std::marker::PhantomData;

use bytes::{BufMut, Bytes, BytesMut};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue as JsonRaw;

use super::codec::{CodecError, Decoded, RECORD_SEPARATOR};
use super::message::{CompletionResult, Headers, HubMessage, Invocation, RawValue};
use super::value::{ValueError, msgpack_to_json, put_json_str, put_u64};

/// Every member the reader knows, as found in one message object. Raw values are already
/// slices of the message text.
#[derive(Default)]
struct Fields {
    type_id: Option<u64>,
    headers: Option<Headers>,
    invocation_id: Option<String>,
    target: Option<String>,
    arguments: Option<Vec<RawValue>>,
    stream_ids: Option<Vec<String>>,
    item: Option<RawValue>,
    result: Option<RawValue>,
    error: Option<String>,
    allow_reconnect: Option<bool>,
    sequence_id: Option<u64>,
}

/// The member names the reader knows (anything else is `Other` and skipped).
enum Key {
    Type,
    Headers,
    InvocationId,
    Target,
    Arguments,
    StreamIds,
    Item,
    Result,
    Error,
    AllowReconnect,
    SequenceId,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key, D::Error> {
        d.deserialize_identifier(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a member name")
    }

    // serde_json calls this for every key, borrowed or unescaped.
    fn visit_str<E: de::Error>(self, key: &str) -> Result<Key, E> {
        Ok(match key {
            "type" => Key::Type,
            "headers" => Key::Headers,
            "invocationId" => Key::InvocationId,
            "target" => Key::Target,
            "arguments" => Key::Arguments,
            "streamIds" => Key::StreamIds,
            "item" => Key::Item,
            "result" => Key::Result,
            "error" => Key::Error,
            "allowReconnect" => Key::AllowReconnect,
            "sequenceId" => Key::SequenceId,
            _ => Key::Other,
        })
    }
}

/// One raw JSON value, as a zero-copy slice of the message text.
#[derive(Clone, Copy)]
struct RawSeed<'t> {
    text: &'t Bytes,
}

impl<'de> DeserializeSeed<'de> for RawSeed<'_> {
    type Value = RawValue;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RawValue, D::Error> {
        let v = <&JsonRaw as de::Deserialize>::deserialize(d)?;
        Ok(RawValue::Json(self.text.slice_ref(v.get().as_bytes())))
    }
}

/// `arguments`: an array of raw values pushed straight into the final list, or `null`.
struct ArgumentsSeed<'t> {
    text: &'t Bytes,
}

impl<'de> DeserializeSeed<'de> for ArgumentsSeed<'_> {
    type Value = Option<Vec<RawValue>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for ArgumentsSeed<'_> {
    type Value = Option<Vec<RawValue>>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an array of arguments")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
            .map(|v| v.map(Some).unwrap_or_default())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let raw = RawSeed { text: self.text };
        let mut args = Vec::new();
        while let Some(v) = seq.next_element_seed(raw)? {
            args.push(v);
        }
        Ok(Some(args))
    }
}

/// Reads the message object member by member into `fields`. `current` names the member
/// being read, so a type error can be reported as [`CodecError::InvalidField`] with that
/// name.
struct FieldsSeed<'c> {
    current: &'c Cell<Option<&'static str>>,
    text: &'c Bytes,
    fields: &'c mut Fields,
}

/// Reads the value of the member `name`, naming it in `current` meanwhile.
fn member<'de, A: MapAccess<'de>, S: DeserializeSeed<'de>>(
    current: &Cell<Option<&'static str>>,
    map: &mut A,
    name: &'static str,
    seed: S,
) -> Result<S::Value, A::Error> {
    current.set(Some(name));
    let v = map.next_value_seed(seed)?;
    current.set(None);
    Ok(v)
}

impl<'de> DeserializeSeed<'de> for FieldsSeed<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for FieldsSeed<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a hub message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let FieldsSeed {
            current,
            text,
            fields: f,
        } = self;
        let raw = RawSeed { text };
        while let Some(key) = map.next_key::<Key>()? {
            let m = &mut map;
            match key {
                Key::Type => f.type_id = member(current, m, "type", PhantomData)?,
                Key::Headers => f.headers = member(current, m, "headers", PhantomData)?,
                Key::InvocationId => {
                    f.invocation_id = member(current, m, "invocationId", PhantomData)?
                }
                Key::Target => f.target = member(current, m, "target", PhantomData)?,
                Key::Arguments => {
                    f.arguments = member(current, m, "arguments", ArgumentsSeed { text })?;
                }
                Key::StreamIds => f.stream_ids = member(current, m, "streamIds", PhantomData)?,
                // A raw value: `null` is kept as the value `null`, not read as "absent".
                Key::Item => f.item = Some(member(current, m, "item", raw)?),
                Key::Result => f.result = Some(member(current, m, "result", raw)?),
                Key::Error => f.error = member(current, m, "error", PhantomData)?,
                Key::AllowReconnect => {
                    f.allow_reconnect = member(current, m, "allowReconnect", PhantomData)?;
                }
                Key::SequenceId => f.sequence_id = member(current, m, "sequenceId", PhantomData)?,
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// Parses the message object; raw values are slices of `text` (which `s` is the UTF-8 view
/// of).
fn parse_fields(text: &Bytes, s: &str, fields: &mut Fields) -> Result<(), CodecError> {
    let current = Cell::new(None);
    let mut de = serde_json::Deserializer::from_str(s);
    let parsed = FieldsSeed {
        current: &current,
        text,
        fields,
    }
    .deserialize(&mut de)
    .and_then(|()| de.end());
    match parsed {
        Ok(()) => Ok(()),
        Err(e) => Err(match current.get() {
            Some(name) if e.is_data() => CodecError::InvalidField(name),
            _ => CodecError::InvalidJson(e.to_string()),
        }),
    }
}

/// A hand-written reader for the messages peers actually send: member names and strings
/// without escapes, numbers as plain digits, raw values checked against the JSON grammar.
/// It gives exactly what [`parse_fields`] (serde_json) gives, or `None` for anything it is not
/// sure about — every error included — and [`read_message`] then asks serde_json, which
/// produces the result, or the error with its text.
///
/// It is never laxer than serde_json: a raw value must be one JSON value by RFC 8259 (serde_json
/// checks no more when skipping one: escapes must be `\"` `\\` `\/` `\b` `\f` `\n` `\r` `\t`
/// or `\u` and four hex digits, strings may not hold control characters, numbers follow the
/// grammar, no trailing commas); typed members take only what their serde type accepts
/// (`type` and `sequenceId`: digits of a `u64`; strings without escapes; `null` as absent).
/// The text was checked to be UTF-8 before.
mod fast {
    use bytes::Bytes;

    use super::Fields;
    use crate::hub::message::{Headers, RawValue};

    /// Nesting deeper than this is left to serde_json (which has no limit when skipping).
    const MAX_NESTING: usize = 128;

    /// Fills `f` (default on entry); `None` leaves it half filled. Checks UTF-8 itself:
    /// outside strings it takes ASCII only, and every string is checked.
    pub(super) fn parse(text: &Bytes, f: &mut Fields) -> Option<()> {
        let mut p = Reader {
            text,
            b: text,
            pos: 0,
        };
        p.ws();
        p.expect(b'{')?;
        p.ws();
        if !p.eat(b'}') {
            loop {
                let key = p.plain_bytes()?;
                p.ws();
                p.expect(b':')?;
                p.ws();
                match key {
                    b"type" => f.type_id = p.u64_or_null()?,
                    b"headers" => f.headers = p.headers_or_null()?,
                    b"invocationId" => f.invocation_id = p.string_or_null()?,
                    b"target" => f.target = p.string_or_null()?,
                    b"arguments" => f.arguments = p.arguments_or_null()?,
                    b"streamIds" => f.stream_ids = p.strings_or_null()?,
                    b"item" => f.item = Some(p.raw()?),
                    b"result" => f.result = Some(p.raw()?),
                    b"error" => f.error = p.string_or_null()?,
                    b"allowReconnect" => f.allow_reconnect = p.bool_or_null()?,
                    b"sequenceId" => f.sequence_id = p.u64_or_null()?,
                    _ => p.skip_value(0)?,
                }
                p.ws();
                if p.eat(b'}') {
                    break;
                }
                p.expect(b',')?;
                p.ws();
            }
        }
        p.ws();
        (p.pos == p.b.len()).then_some(())
    }

    const BLOCK: usize = 32;
    /// Member names, ids and targets are short: a plain loop finds their end sooner.
    const SHORT: usize = 16;

    /// The index of the first byte `hit` picks in `b`: whole 32-byte blocks are checked as
    /// fixed-size arrays with a branch-free fold, which compiles to a few vector compares.
    #[inline(always)]
    fn first(b: &[u8], hit: impl Fn(u8) -> bool) -> Option<usize> {
        let mut i = 0;
        while let Some(block) = b.get(i..i + BLOCK) {
            let block: &[u8; BLOCK] = block.try_into().ok()?;
            if block.iter().fold(false, |any, &c| any | hit(c)) {
                break;
            }
            i += BLOCK;
        }
        b[i..].iter().position(|&c| hit(c)).map(|at| i + at)
    }

    fn special(c: u8) -> bool {
        c < 0x20 || c == b'"' || c == b'\\'
    }

    /// The index of the first `"`, `\` or control character in `b`: the quote or backslash
    /// by `memchr2` (SIMD), then control characters before it in 32-byte blocks checked
    /// without branches (vectorized), so long plain strings cost about two fast scans.
    pub(crate) fn find_special(b: &[u8]) -> Option<usize> {
        if let Some(at) = b.iter().take(SHORT).position(|&c| special(c)) {
            return Some(at);
        }
        let end = SHORT + memchr::memchr2(b'"', b'\\', b.get(SHORT..)?)?;
        Some(first(&b[..end], |c| c < 0x20).unwrap_or(end))
    }

    /// [`find_special`], and `None` unless the bytes before the index are UTF-8: one pass
    /// checks control characters and non-ASCII bytes together, and only a run that has
    /// non-ASCII bytes is handed to the standard UTF-8 check.
    fn find_special_utf8(b: &[u8]) -> Option<usize> {
        let not_plain_ascii = |c: u8| !(0x20..0x80).contains(&c) || c == b'"' || c == b'\\';
        if let Some(at) = b.iter().take(SHORT).position(|&c| not_plain_ascii(c))
            && b[at] < 0x80
        {
            return Some(at);
        }
        let end = memchr::memchr2(b'"', b'\\', b)?;
        let head = &b[..end];
        let ascii = first(head, |c| !(0x20..0x80).contains(&c)).unwrap_or(end);
        // From the first non-ASCII byte on (a character boundary: all before is ASCII).
        let rest = &head[ascii..];
        let stop = ascii + first(rest, |c| c < 0x20).unwrap_or(rest.len());
        std::str::from_utf8(&head[ascii..stop]).ok()?;
        Some(stop)
    }

    struct Reader<'a> {
        text: &'a Bytes,
        b: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn peek(&self) -> Option<u8> {
            self.b.get(self.pos).copied()
        }

        fn eat(&mut self, c: u8) -> bool {
            let hit = self.peek() == Some(c);
            self.pos += usize::from(hit);
            hit
        }

        fn expect(&mut self, c: u8) -> Option<()> {
            self.eat(c).then_some(())
        }

        fn ws(&mut self) {
            while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
                self.pos += 1;
            }
        }

        fn literal(&mut self, word: &[u8]) -> bool {
            let hit = self.b[self.pos..].starts_with(word);
            if hit {
                self.pos += word.len();
            }
            hit
        }

        /// The bytes of a string without escapes or control characters (checked UTF-8).
        fn plain_bytes(&mut self) -> Option<&'a [u8]> {
            self.expect(b'"')?;
            let start = self.pos;
            let end = start + find_special_utf8(&self.b[start..])?;
            (self.b[end] == b'"').then_some(())?;
            self.pos = end + 1;
            Some(&self.b[start..end])
        }

        /// A string without escapes or control characters.
        fn plain_str(&mut self) -> Option<&'a str> {
            self.expect(b'"')?;
            let start = self.pos;
            let end = start + find_special(&self.b[start..])?;
            (self.b[end] == b'"').then_some(())?;
            self.pos = end + 1;
            std::str::from_utf8(&self.b[start..end]).ok()
        }

        fn null(&mut self) -> bool {
            self.literal(b"null")
        }

        fn string_or_null(&mut self) -> Option<Option<String>> {
            if self.null() {
                return Some(None);
            }
            self.plain_str().map(|s| Some(s.to_owned()))
        }

        fn bool_or_null(&mut self) -> Option<Option<bool>> {
            if self.null() {
                Some(None)
            } else if self.literal(b"true") {
                Some(Some(true))
            } else if self.literal(b"false") {
                Some(Some(false))
            } else {
                None
            }
        }

        /// Digits of a `u64`: no sign, fraction, exponent or leading zero.
        fn u64_or_null(&mut self) -> Option<Option<u64>> {
            if self.null() {
                return Some(None);
            }
            let start = self.pos;
            let mut n: u64 = 0;
            while let Some(c @ b'0'..=b'9') = self.peek() {
                n = n.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
                self.pos += 1;
            }
            let len = self.pos - start;
            if len == 0
                || (len > 1 && self.b[start] == b'0')
                || matches!(self.peek(), Some(b'.' | b'e' | b'E'))
            {
                return None;
            }
            Some(Some(n))
        }

        fn headers_or_null(&mut self) -> Option<Option<Headers>> {
            if self.null() {
                return Some(None);
            }
            self.expect(b'{')?;
            let mut headers = Headers::new();
            self.ws();
            if self.eat(b'}') {
                return Some(Some(headers));
            }
            loop {
                let k = self.plain_str()?;
                self.ws();
                self.expect(b':')?;
                self.ws();
                let v = self.plain_str()?;
                headers.insert(k.to_owned(), v.to_owned());
                self.ws();
                if self.eat(b'}') {
                    return Some(Some(headers));
                }
                self.expect(b',')?;
                self.ws();
            }
        }

        /// `[` items `]` read by `item`, or `null`.
        fn array_or_null<T>(
            &mut self,
            mut item: impl FnMut(&mut Self) -> Option<T>,
        ) -> Option<Option<Vec<T>>> {
            if self.null() {
                return Some(None);
            }
            self.expect(b'[')?;
            let mut items = Vec::new();
            self.ws();
            if self.eat(b']') {
                return Some(Some(items));
            }
            loop {
                items.push(item(self)?);
                self.ws();
                if self.eat(b']') {
                    return Some(Some(items));
                }
                self.expect(b',')?;
                self.ws();
            }
        }

        fn arguments_or_null(&mut self) -> Option<Option<Vec<RawValue>>> {
            self.array_or_null(Self::raw)
        }

        fn strings_or_null(&mut self) -> Option<Option<Vec<String>>> {
            self.array_or_null(|p| p.plain_str().map(str::to_owned))
        }

        /// One JSON value, as a zero-copy slice of the message.
        fn raw(&mut self) -> Option<RawValue> {
            let start = self.pos;
            self.skip_value(0)?;
            Some(RawValue::Json(self.text.slice(start..self.pos)))
        }

        fn skip_value(&mut self, depth: usize) -> Option<()> {
            match self.peek()? {
                b'"' => self.skip_str(),
                b'-' | b'0'..=b'9' => self.skip_number(),
                b't' => self.literal(b"true").then_some(()),
                b'f' => self.literal(b"false").then_some(()),
                b'n' => self.null().then_some(()),
                open @ (b'[' | b'{') if depth < MAX_NESTING => {
                    self.pos += 1;
                    let close = if open == b'[' { b']' } else { b'}' };
                    self.ws();
                    if self.eat(close) {
                        return Some(());
                    }
                    loop {
                        if open == b'{' {
                            self.skip_str()?;
                            self.ws();
                            self.expect(b':')?;
                            self.ws();
                        }
                        self.skip_value(depth + 1)?;
                        self.ws();
                        if self.eat(close) {
                            return Some(());
                        }
                        self.expect(b',')?;
                        self.ws();
                    }
                }
                _ => None,
            }
        }

        /// A string with any valid escapes (their code points are not checked, as serde_json
        /// does not when skipping).
        fn skip_str(&mut self) -> Option<()> {
            self.expect(b'"')?;
            loop {
                let at = self.pos + find_special_utf8(&self.b[self.pos..])?;
                self.pos = at + 1;
                match self.b[at] {
                    b'"' => return Some(()),
                    b'\\' => match self.peek()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 1,
                        b'u' => {
                            let hex = self.b.get(self.pos + 1..self.pos + 5)?;
                            hex.iter().all(u8::is_ascii_hexdigit).then_some(())?;
                            self.pos += 5;
                        }
                        _ => return None,
                    },
                    _ => return None,
                }
            }
        }

        fn digits(&mut self) -> usize {
            let start = self.pos;
            while let Some(b'0'..=b'9') = self.peek() {
                self.pos += 1;
            }
            self.pos - start
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`
        fn skip_number(&mut self) -> Option<()> {
            self.eat(b'-');
            let first = self.peek()?;
            let n = self.digits();
            if n == 0 || (first == b'0' && n > 1) {
                return None;
            }
            if self.eat(b'.') && self.digits() == 0 {
                return None;
            }
            if self.eat(b'e') || self.eat(b'E') {
                let _ = self.eat(b'+') || self.eat(b'-');
                if self.digits() == 0 {
                    return None;
                }
            }
            Some(())
        }
    }
}

pub(crate) use fast::find_special;

/// Reads one message text (without its `0x1E`). Unknown message types are returned as
/// [`Decoded::Unknown`], after the text was checked to be a JSON object.
pub fn read_message(text: &Bytes) -> Result<Decoded, CodecError> {
    let mut f = Fields::default();
    if fast::parse(text, &mut f).is_none() {
        let s = std::str::from_utf8(text).map_err(|_| CodecError::InvalidUtf8)?;
        f = Fields::default();
        parse_fields(text, s, &mut f)?;
    }
    message(&mut f)
}

/// [`read_message`] with serde_json only: what the fast reader must agree with.
#[cfg(test)]
pub(crate) fn read_message_with_serde_json(text: &Bytes) -> Result<Decoded, CodecError> {
    let s = std::str::from_utf8(text).map_err(|_| CodecError::InvalidUtf8)?;
    let mut f = Fields::default();
    parse_fields(text, s, &mut f)?;
    message(&mut f)
}

/// Whether the fast reader takes this text (tests: that the common cases do).
#[cfg(test)]
pub(crate) fn fast_reader_takes(text: &Bytes) -> bool {
    fast::parse(text, &mut Fields::default()).is_some()
}

/// The message the members make, or the member that is missing or wrong.
fn message(f: &mut Fields) -> Result<Decoded, CodecError> {
    let id = |id: Option<String>| id.ok_or(CodecError::MissingField("invocationId"));
    let headers = f.headers.take().unwrap_or_default();
    let type_id = f.type_id.ok_or(CodecError::MissingField("type"))?;
    let msg = match type_id {
        1 | 4 => {
            let invocation_id = if type_id == 4 {
                Some(id(f.invocation_id.take())?)
            } else {
                f.invocation_id.take()
            };
            let inv = Invocation {
                headers,
                invocation_id,
                target: f.target.take().ok_or(CodecError::MissingField("target"))?,
                arguments: f
                    .arguments
                    .take()
                    .ok_or(CodecError::MissingField("arguments"))?,
                stream_ids: f.stream_ids.take().unwrap_or_default(),
            };
            if type_id == 1 {
                HubMessage::Invocation(inv)
            } else {
                HubMessage::StreamInvocation(inv)
            }
        }
        2 => HubMessage::StreamItem {
            headers,
            invocation_id: id(f.invocation_id.take())?,
            item: f.item.take().ok_or(CodecError::MissingField("item"))?,
        },
        3 => HubMessage::Completion {
            headers,
            invocation_id: id(f.invocation_id.take())?,
            result: match (f.result.take(), f.error.take()) {
                (Some(_), Some(_)) => return Err(CodecError::ResultAndError),
                (Some(v), None) => CompletionResult::Value(v),
                (None, Some(e)) => CompletionResult::Error(e),
                (None, None) => CompletionResult::Void,
            },
        },
        5 => HubMessage::CancelInvocation {
            headers,
            invocation_id: id(f.invocation_id.take())?,
        },
        6 => HubMessage::Ping,
        7 => HubMessage::Close {
            error: f.error.take(),
            allow_reconnect: f.allow_reconnect.unwrap_or(false),
        },
        8 => HubMessage::Ack {
            sequence_id: f
                .sequence_id
                .ok_or(CodecError::MissingField("sequenceId"))?,
        },
        9 => HubMessage::Sequence {
            sequence_id: f
                .sequence_id
                .ok_or(CodecError::MissingField("sequenceId"))?,
        },
        other => return Ok(Decoded::Unknown { type_id: other }),
    };
    Ok(Decoded::Message(msg))
}

/// A JSON string literal: the text plus quotes (escapes not counted).
fn str_size(s: &str) -> usize {
    s.len() + 2
}

/// A raw value: copied when JSON; transcoded from MessagePack, where `bin` grows by a third
/// as base64 and small numbers take more digits than bytes.
fn raw_size(value: &RawValue) -> usize {
    match value {
        RawValue::Json(b) => b.len(),
        RawValue::MessagePack(b) => b.len() + b.len() / 2 + 8,
    }
}

fn headers_size(headers: &Headers) -> usize {
    if headers.is_empty() {
        return 0;
    }
    // `,"headers":{` … `}`, `"k":"v"` per entry, commas between.
    13 + commas(headers.len())
        + headers
            .iter()
            .map(|(k, v)| str_size(k) + str_size(v) + 1)
            .sum::<usize>()
}

/// The commas between `n` elements.
fn commas(n: usize) -> usize {
    n.saturating_sub(1)
}

/// About the length of `msg`'s text (without `0x1E`), so the codec can size the buffer
/// once: exact when raw values are JSON and strings need no escapes, except for Ack and
/// Sequence (room for 20 digits).
pub(crate) fn size_hint(msg: &HubMessage) -> usize {
    // `{"type":N}` and `,"invocationId":`.
    const BASE: usize = 10;
    const ID_KEY: usize = 16;
    BASE + match msg {
        HubMessage::Invocation(inv) | HubMessage::StreamInvocation(inv) => {
            headers_size(&inv.headers)
                + inv.invocation_id.as_deref().map_or(0, |id| ID_KEY + str_size(id))
                // `,"target":` and `,"arguments":[]`, a comma per argument.
                + 10
                + str_size(&inv.target)
                + 15
                + commas(inv.arguments.len())
                + inv.arguments.iter().map(raw_size).sum::<usize>()
                // `,"streamIds":[]`.
                + if inv.stream_ids.is_empty() { 0 } else { 15 }
                + commas(inv.stream_ids.len())
                + inv.stream_ids.iter().map(|s| str_size(s)).sum::<usize>()
        }
        // `,"item":`.
        HubMessage::StreamItem {
            headers,
            invocation_id,
            item,
        } => headers_size(headers) + ID_KEY + str_size(invocation_id) + 8 + raw_size(item),
        // `,"result":` / `,"error":`.
        HubMessage::Completion {
            headers,
            invocation_id,
            result,
        } => {
            headers_size(headers)
                + ID_KEY
                + str_size(invocation_id)
                + match result {
                    CompletionResult::Void => 0,
                    CompletionResult::Value(v) => 10 + raw_size(v),
                    CompletionResult::Error(e) => 9 + str_size(e),
                }
        }
        HubMessage::CancelInvocation {
            headers,
            invocation_id,
        } => headers_size(headers) + ID_KEY + str_size(invocation_id),
        HubMessage::Ping => 0,
        // `,"error":` and `,"allowReconnect":true`.
        HubMessage::Close {
            error,
            allow_reconnect,
        } => {
            error.as_deref().map_or(0, |e| 9 + str_size(e)) + if *allow_reconnect { 22 } else { 0 }
        }
        // `,"sequenceId":` and up to 20 digits.
        HubMessage::Ack { .. } | HubMessage::Sequence { .. } => 14 + 20,
    }
}

/// Appends `,"name":` (the comma is always needed: `type` is written first).
fn key(out: &mut BytesMut, name: &str) {
    out.put_u8(b',');
    put_json_str(out, name);
    out.put_u8(b':');
}

fn put_headers(out: &mut BytesMut, headers: &Headers) {
    if headers.is_empty() {
        return;
    }
    key(out, "headers");
    out.put_u8(b'{');
    for (i, (k, v)) in headers.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        put_json_str(out, k);
        out.put_u8(b':');
        put_json_str(out, v);
    }
    out.put_u8(b'}');
}

/// Appends one raw value. A JSON value is copied as it is, after one check: it must not
/// contain the `0x1E` record separator, or a peer would cut the frame there. Valid JSON never
/// contains a raw `0x1E` (control characters can only appear escaped, inside strings), so
/// values our decoder returned (cut at the first separator and parsed) or `from_serde` built
/// (serde_json escapes control characters) always pass; but `RawValue::Json` holds any bytes
/// a caller gives it, and the writer cannot tell where a value came from, so it checks every
/// value — a SIMD `memchr` scan, far cheaper than the copy that follows, instead of a full
/// JSON validation. A MessagePack value is transcoded, which writes only valid JSON.
fn put_raw(out: &mut BytesMut, value: &RawValue) -> Result<(), CodecError> {
    match value {
        RawValue::Json(b) if memchr::memchr(RECORD_SEPARATOR, b).is_some() => {
            Err(CodecError::Value(ValueError::InvalidJson(
                "raw JSON value contains the 0x1E separator".into(),
            )))
        }
        RawValue::Json(b) => {
            out.put_slice(b);
            Ok(())
        }
        RawValue::MessagePack(b) => Ok(msgpack_to_json(b, out)?),
    }
}

fn put_str_array(out: &mut BytesMut, items: &[String]) {
    out.put_u8(b'[');
    for (i, s) in items.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        put_json_str(out, s);
    }
    out.put_u8(b']');
}

fn put_invocation(out: &mut BytesMut, inv: &Invocation, stream: bool) -> Result<(), CodecError> {
    put_headers(out, &inv.headers);
    match &inv.invocation_id {
        Some(id) => {
            key(out, "invocationId");
            put_json_str(out, id);
        }
        None if stream => return Err(CodecError::MissingField("invocationId")),
        None => {}
    }
    key(out, "target");
    put_json_str(out, &inv.target);
    key(out, "arguments");
    out.put_u8(b'[');
    for (i, arg) in inv.arguments.iter().enumerate() {
        if i > 0 {
            out.put_u8(b',');
        }
        put_raw(out, arg)?;
    }
    out.put_u8(b']');
    if !inv.stream_ids.is_empty() {
        key(out, "streamIds");
        put_str_array(out, &inv.stream_ids);
    }
    Ok(())
}

/// Appends the JSON text of `msg` (without `0x1E`) to `out`. Fails only when a MessagePack raw
/// value does not transcode, a JSON raw value contains `0x1E`, or a StreamInvocation has no
/// id; `out` may then hold a partial text (the [`codec`](super::codec) functions discard it).
pub fn write_message(msg: &HubMessage, out: &mut BytesMut) -> Result<(), CodecError> {
    out.put_slice(b"{\"type\":");
    // Types are 1–9: one digit.
    out.put_u8(b'0' + msg.type_id());
    match msg {
        HubMessage::Invocation(inv) => put_invocation(out, inv, false)?,
        HubMessage::StreamInvocation(inv) => put_invocation(out, inv, true)?,
        HubMessage::StreamItem {
            headers,
            invocation_id,
            item,
        } => {
            put_headers(out, headers);
            key(out, "invocationId");
            put_json_str(out, invocation_id);
            key(out, "item");
            put_raw(out, item)?;
        }
        HubMessage::Completion {
            headers,
            invocation_id,
            result,
        } => {
            put_headers(out, headers);
            key(out, "invocationId");
            put_json_str(out, invocation_id);
            match result {
                CompletionResult::Void => {}
                CompletionResult::Value(v) => {
                    key(out, "result");
                    put_raw(out, v)?;
                }
                CompletionResult::Error(e) => {
                    key(out, "error");
                    put_json_str(out, e);
                }
            }
        }
        HubMessage::CancelInvocation {
            headers,
            invocation_id,
        } => {
            put_headers(out, headers);
            key(out, "invocationId");
            put_json_str(out, invocation_id);
        }
        HubMessage::Ping => {}
        HubMessage::Close {
            error,
            allow_reconnect,
        } => {
            if let Some(e) = error {
                key(out, "error");
                put_json_str(out, e);
            }
            if *allow_reconnect {
                key(out, "allowReconnect");
                out.put_slice(b"true");
            }
        }
        HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
            key(out, "sequenceId");
            put_u64(out, *sequence_id);
        }
    }
    out.put_u8(b'}');
    Ok(())
}
