//! Direct serde paths for raw values: a `Serializer` writing MessagePack or JSON and a
//! `Deserializer` reading MessagePack, without serde_json (and, for MessagePack, the JSON text
//! and the transcoder) in between.
//!
//! The contract of [`RawValue::from_serde`](super::RawValue::from_serde) and
//! [`to_serde`](super::RawValue::to_serde) is "as serde_json does it": JSON is serde_json's
//! compact text, and MessagePack is that text transcoded (or read through it). These paths
//! must give the very same bytes (or call the very same visitor methods with the same
//! values), so they only handle what they can mirror exactly and give up with [`Fallback`] on
//! anything else — any error (the serde_json path then produces it, with serde_json's text),
//! serde_json's own `RawValue`, and for MessagePack also `f32` and 128-bit integers, sequences
//! and maps of unknown length (or of a length that turns out wrong), map keys other than
//! strings (serde_json writes integer keys as strings), NaN / infinities when reading,
//! extensions other than the timestamp, and depth over [`MAX_DEPTH`] — and the caller then
//! takes the serde_json path. The mirrored rules, writing:
//! - JSON as serde_json's compact formatter: integers in decimal, floats through serde_json
//!   itself (NaN and infinities as `null`), strings escaped as serde_json escapes them (`"`,
//!   `\`, control characters; see `put_json_str`), integer map keys quoted;
//! - MessagePack integers as the transcoder reads serde_json's digits back: non-negative ones
//!   as the smallest uint, negative ones as the smallest int; `f64` as `float 64` with the
//!   same bits (serde_json prints the shortest text that reads back to the same number, and
//!   the transcoder reads it correctly rounded), NaN and infinities as nil (`null`);
//! - in both: strings, chars and unit variants as strings; bytes as an array of numbers;
//!   `None`, `()` and unit structs as null; newtype variants as `{variant: value}`, tuple and
//!   struct variants as `{variant: [..]}` / `{variant: {..}}`; structs as maps in field
//!   order; for MessagePack every array and map (bytes and variants included) counts towards
//!   [`MAX_DEPTH`].
//!
//! Reading MessagePack, what serde_json would do with the transcoded text:
//! - nil → unit / none, booleans; a uint, and an int ≥ 0, → `visit_u64`, an int < 0 →
//!   `visit_i64`; a float → `visit_f64` of what serde_json reads from the float's JSON text
//!   (computed with serde_json itself, so its float parsing is followed exactly);
//! - a string → `visit_borrowed_str`, or `visit_str` when its JSON text would hold escapes;
//!   `bin` (base64) and timestamps (ISO 8601) → `visit_string` (serde_json: `visit_borrowed_str`
//!   of the JSON text; for `DeserializeOwned` targets the same unless a visitor tells them
//!   apart);
//! - arrays and maps as sequences and maps; a struct from either; an enum from a string or a
//!   one-entry map; bytes from a string's bytes or an array; `deserialize_ignored_any` still
//!   checks everything the transcoder checks (UTF-8, keys, floats, extensions, depth);
//! - everything must be consumed: a visitor that leaves elements behind gets [`Fallback`]
//!   (serde_json fails there too).

use std::fmt;

use base64::Engine as _;
use serde::de::{self, DeserializeOwned, DeserializeSeed, Visitor};
use serde::ser::{self, Impossible, Serialize};

use super::{MAX_DEPTH, put_i64, put_json_str, put_u64, timestamp_to_iso};
use crate::hub::json::find_special;
use crate::hub::msgpack::{self as mp, Cursor, Item};

/// The name serde_json gives its `RawValue` when (de)serializing it: only serde_json can
/// handle that one.
const JSON_RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// The direct path cannot promise the serde_json path's result (or there is an error to
/// report): take the serde_json path.
#[derive(Debug)]
pub(crate) struct Fallback;

impl fmt::Display for Fallback {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not on the direct path")
    }
}

impl std::error::Error for Fallback {}

impl ser::Error for Fallback {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Fallback
    }
}

impl de::Error for Fallback {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Fallback
    }
}

type Result<T, E = Fallback> = std::result::Result<T, E>;

// ---- serializing ----

/// Appends `value` as MessagePack, exactly as serde_json's text transcodes.
pub(crate) fn to_msgpack<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    value.serialize(&mut Ser {
        sink: Msgpack(out),
        depth: 0,
    })
}

/// Appends `value` as JSON text, exactly as `serde_json::to_vec` writes it.
pub(crate) fn to_json<T: Serialize + ?Sized>(value: &T, out: &mut Vec<u8>) -> Result<()> {
    value.serialize(&mut Ser {
        sink: Json(out),
        depth: 0,
    })
}

/// How one format writes the events of the serde data model.
trait Sink {
    /// MessagePack: arrays and maps announce their length, and nesting is limited to
    /// [`MAX_DEPTH`] (the transcoder's limit). JSON: neither.
    const MSGPACK: bool;
    fn nil(&mut self);
    fn bool(&mut self, b: bool);
    fn uint(&mut self, n: u64);
    fn sint(&mut self, n: i64);
    fn int128(&mut self, n: i128) -> Result<()>;
    fn f32(&mut self, f: f32) -> Result<()>;
    fn f64(&mut self, f: f64) -> Result<()>;
    fn str(&mut self, s: &str);
    fn begin_array(&mut self, len: Option<usize>) -> Result<()>;
    fn end_array(&mut self);
    fn begin_map(&mut self, len: Option<usize>) -> Result<()>;
    fn end_map(&mut self);
    /// Before every element and key but the first: JSON's comma.
    fn comma(&mut self);
    /// Between a key and its value: JSON's colon.
    fn colon(&mut self);
    /// An integer map key: JSON quotes its digits; MessagePack leaves it to the JSON path.
    fn int_key(&mut self, n: i128) -> Result<()>;
}

struct Msgpack<'a>(&'a mut Vec<u8>);

impl Sink for Msgpack<'_> {
    const MSGPACK: bool = true;

    fn nil(&mut self) {
        mp::put_nil(self.0);
    }

    fn bool(&mut self, b: bool) {
        mp::put_bool(self.0, b);
    }

    fn uint(&mut self, n: u64) {
        mp::put_uint(self.0, n);
    }

    /// Non-negative: the smallest uint, as the transcoder reads `42`.
    fn sint(&mut self, n: i64) {
        mp::put_sint(self.0, n);
    }

    fn int128(&mut self, _: i128) -> Result<()> {
        Err(Fallback)
    }

    fn f32(&mut self, _: f32) -> Result<()> {
        Err(Fallback)
    }

    fn f64(&mut self, f: f64) -> Result<()> {
        if f.is_finite() {
            mp::put_f64(self.0, f);
        } else {
            mp::put_nil(self.0);
        }
        Ok(())
    }

    fn str(&mut self, s: &str) {
        mp::put_str(self.0, s);
    }

    fn begin_array(&mut self, len: Option<usize>) -> Result<()> {
        mp::put_array_len(self.0, len.ok_or(Fallback)?);
        Ok(())
    }

    fn end_array(&mut self) {}

    fn begin_map(&mut self, len: Option<usize>) -> Result<()> {
        mp::put_map_len(self.0, len.ok_or(Fallback)?);
        Ok(())
    }

    fn end_map(&mut self) {}

    fn comma(&mut self) {}

    fn colon(&mut self) {}

    fn int_key(&mut self, _: i128) -> Result<()> {
        Err(Fallback)
    }
}

struct Json<'a>(&'a mut Vec<u8>);

impl Json<'_> {
    /// A float as serde_json writes it (its shortest-text formatter; `null` when not finite).
    fn float<F: Serialize>(&mut self, f: F) -> Result<()> {
        serde_json::to_writer(&mut *self.0, &f).map_err(|_| Fallback)
    }
}

impl Sink for Json<'_> {
    const MSGPACK: bool = false;

    fn nil(&mut self) {
        self.0.extend_from_slice(b"null");
    }

    fn bool(&mut self, b: bool) {
        self.0
            .extend_from_slice(if b { b"true".as_slice() } else { b"false" });
    }

    fn uint(&mut self, n: u64) {
        put_u64(self.0, n);
    }

    fn sint(&mut self, n: i64) {
        put_i64(self.0, n);
    }

    fn int128(&mut self, n: i128) -> Result<()> {
        self.0.extend_from_slice(n.to_string().as_bytes());
        Ok(())
    }

    fn f32(&mut self, f: f32) -> Result<()> {
        self.float(f)
    }

    fn f64(&mut self, f: f64) -> Result<()> {
        self.float(f)
    }

    fn str(&mut self, s: &str) {
        put_json_str(self.0, s);
    }

    fn begin_array(&mut self, _: Option<usize>) -> Result<()> {
        self.0.push(b'[');
        Ok(())
    }

    fn end_array(&mut self) {
        self.0.push(b']');
    }

    fn begin_map(&mut self, _: Option<usize>) -> Result<()> {
        self.0.push(b'{');
        Ok(())
    }

    fn end_map(&mut self) {
        self.0.push(b'}');
    }

    fn comma(&mut self) {
        self.0.push(b',');
    }

    fn colon(&mut self) {
        self.0.push(b':');
    }

    fn int_key(&mut self, n: i128) -> Result<()> {
        self.0.push(b'"');
        self.int128(n)?;
        self.0.push(b'"');
        Ok(())
    }
}

struct Ser<S> {
    sink: S,
    /// Arrays and maps open around the next value.
    depth: usize,
}

impl<S: Sink> Ser<S> {
    fn open(&mut self) -> Result<()> {
        if S::MSGPACK && self.depth >= MAX_DEPTH {
            return Err(Fallback);
        }
        self.depth += 1;
        Ok(())
    }

    fn begin_array(&mut self, len: Option<usize>) -> Result<()> {
        self.open()?;
        self.sink.begin_array(len)
    }

    fn begin_map(&mut self, len: Option<usize>) -> Result<()> {
        self.open()?;
        self.sink.begin_map(len)
    }

    /// `{variant: ` — the one-entry map around a variant's content.
    fn begin_variant(&mut self, variant: &str) -> Result<()> {
        self.begin_map(Some(1))?;
        self.sink.str(variant);
        self.sink.colon();
        Ok(())
    }

    fn end_variant(&mut self) {
        self.sink.end_map();
        self.depth -= 1;
    }

    fn compound(&mut self, len: Option<usize>, end: End) -> Compound<'_, S> {
        Compound {
            ser: self,
            announced: len,
            written: 0,
            end,
        }
    }
}

/// How a compound value ends.
#[derive(Clone, Copy)]
enum End {
    Array,
    Map,
    /// An array or map inside a variant's one-entry map.
    VariantArray,
    VariantMap,
}

/// An array or map being written.
struct Compound<'s, S> {
    ser: &'s mut Ser<S>,
    announced: Option<usize>,
    written: usize,
    end: End,
}

impl<S: Sink> Compound<'_, S> {
    fn separate(&mut self) {
        if self.written > 0 {
            self.ser.sink.comma();
        }
    }

    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        self.separate();
        value.serialize(&mut *self.ser)?;
        self.written += 1;
        Ok(())
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<()> {
        self.separate();
        self.ser.sink.str(key);
        self.ser.sink.colon();
        value.serialize(&mut *self.ser)?;
        self.written += 1;
        Ok(())
    }

    fn finish(self) -> Result<()> {
        // MessagePack announced the length in the header.
        if S::MSGPACK && self.announced != Some(self.written) {
            return Err(Fallback);
        }
        let ser = self.ser;
        match self.end {
            End::Array | End::VariantArray => ser.sink.end_array(),
            End::Map | End::VariantMap => ser.sink.end_map(),
        }
        ser.depth -= 1;
        if matches!(self.end, End::VariantArray | End::VariantMap) {
            ser.end_variant();
        }
        Ok(())
    }
}

impl<'s, S: Sink> ser::Serializer for &'s mut Ser<S> {
    type Ok = ();
    type Error = Fallback;
    type SerializeSeq = Compound<'s, S>;
    type SerializeTuple = Compound<'s, S>;
    type SerializeTupleStruct = Compound<'s, S>;
    type SerializeTupleVariant = Compound<'s, S>;
    type SerializeMap = Compound<'s, S>;
    type SerializeStruct = Compound<'s, S>;
    type SerializeStructVariant = Compound<'s, S>;

    fn serialize_bool(self, v: bool) -> Result<()> {
        self.sink.bool(v);
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<()> {
        self.serialize_i64(v.into())
    }

    fn serialize_i16(self, v: i16) -> Result<()> {
        self.serialize_i64(v.into())
    }

    fn serialize_i32(self, v: i32) -> Result<()> {
        self.serialize_i64(v.into())
    }

    fn serialize_i64(self, v: i64) -> Result<()> {
        self.sink.sint(v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<()> {
        self.serialize_u64(v.into())
    }

    fn serialize_u16(self, v: u16) -> Result<()> {
        self.serialize_u64(v.into())
    }

    fn serialize_u32(self, v: u32) -> Result<()> {
        self.serialize_u64(v.into())
    }

    fn serialize_u64(self, v: u64) -> Result<()> {
        self.sink.uint(v);
        Ok(())
    }

    fn serialize_i128(self, v: i128) -> Result<()> {
        self.sink.int128(v)
    }

    fn serialize_u128(self, v: u128) -> Result<()> {
        self.sink.int128(i128::try_from(v).map_err(|_| Fallback)?)
    }

    fn serialize_f32(self, v: f32) -> Result<()> {
        self.sink.f32(v)
    }

    fn serialize_f64(self, v: f64) -> Result<()> {
        self.sink.f64(v)
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<()> {
        self.sink.str(v);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<()> {
        let mut seq = self.compound_array(Some(v.len()))?;
        for b in v {
            seq.element(b)?;
        }
        seq.finish()
    }

    fn serialize_none(self) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<()> {
        self.sink.nil();
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<()> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<()> {
        self.begin_variant(variant)?;
        value.serialize(&mut *self)?;
        self.end_variant();
        Ok(())
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'s, S>> {
        self.compound_array(len)
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'s, S>> {
        self.compound_array(Some(len))
    }

    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'s, S>> {
        self.compound_array(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, S>> {
        self.begin_variant(variant)?;
        self.begin_array(Some(len))?;
        Ok(self.compound(Some(len), End::VariantArray))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'s, S>> {
        self.begin_map(len)?;
        Ok(self.compound(len, End::Map))
    }

    fn serialize_struct(self, name: &'static str, len: usize) -> Result<Compound<'s, S>> {
        if name == JSON_RAW_VALUE_TOKEN {
            return Err(Fallback);
        }
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'s, S>> {
        self.begin_variant(variant)?;
        self.begin_map(Some(len))?;
        Ok(self.compound(Some(len), End::VariantMap))
    }
}

impl<S: Sink> Ser<S> {
    fn compound_array(&mut self, len: Option<usize>) -> Result<Compound<'_, S>> {
        self.begin_array(len)?;
        Ok(self.compound(len, End::Array))
    }
}

macro_rules! compound_impls {
    ($($tr:ident :: $method:ident),*) => {$(
        impl<S: Sink> ser::$tr for Compound<'_, S> {
            type Ok = ();
            type Error = Fallback;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
                self.element(value)
            }

            fn end(self) -> Result<()> {
                self.finish()
            }
        }
    )*};
}

compound_impls!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field
);

impl<S: Sink> ser::SerializeMap for Compound<'_, S> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<()> {
        self.separate();
        key.serialize(KeySer {
            sink: &mut self.ser.sink,
        })?;
        self.ser.sink.colon();
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<()> {
        value.serialize(&mut *self.ser)?;
        self.written += 1;
        Ok(())
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink> ser::SerializeStruct for Compound<'_, S> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

impl<S: Sink> ser::SerializeStructVariant for Compound<'_, S> {
    type Ok = ();
    type Error = Fallback;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<()> {
        self.field(key, value)
    }

    fn end(self) -> Result<()> {
        self.finish()
    }
}

/// Map keys as serde_json writes them: strings, chars, unit variants and newtypes of them as
/// strings, integers as quoted digits (JSON only); anything else is left to serde_json (which
/// also quotes booleans and floats, or refuses the key).
struct KeySer<'a, S> {
    sink: &'a mut S,
}

macro_rules! int_keys {
    ($($method:ident: $ty:ty),*) => {$(
        fn $method(self, v: $ty) -> Result<()> {
            self.sink.int_key(v.into())
        }
    )*};
}

macro_rules! refused_keys {
    ($($method:ident $(: $ty:ty)?),*) => {$(
        fn $method(self $(, _: $ty)?) -> Result<()> {
            Err(Fallback)
        }
    )*};
}

macro_rules! refused_compound_keys {
    ($($method:ident($($arg:ty),*) -> $compound:ident),*) => {$(
        fn $method(self, $(_: $arg),*) -> Result<Self::$compound> {
            Err(Fallback)
        }
    )*};
}

impl<S: Sink> ser::Serializer for KeySer<'_, S> {
    type Ok = ();
    type Error = Fallback;
    type SerializeSeq = Impossible<(), Fallback>;
    type SerializeTuple = Impossible<(), Fallback>;
    type SerializeTupleStruct = Impossible<(), Fallback>;
    type SerializeTupleVariant = Impossible<(), Fallback>;
    type SerializeMap = Impossible<(), Fallback>;
    type SerializeStruct = Impossible<(), Fallback>;
    type SerializeStructVariant = Impossible<(), Fallback>;

    fn serialize_str(self, v: &str) -> Result<()> {
        self.sink.str(v);
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<()> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result<()> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<()> {
        value.serialize(self)
    }

    int_keys!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64
    );

    refused_keys!(
        serialize_bool: bool,
        serialize_i128: i128,
        serialize_u128: u128,
        serialize_f32: f32,
        serialize_f64: f64,
        serialize_bytes: &[u8],
        serialize_none,
        serialize_unit,
        serialize_unit_struct: &'static str
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<()> {
        Err(Fallback)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<()> {
        Err(Fallback)
    }

    refused_compound_keys!(
        serialize_seq(Option<usize>) -> SerializeSeq,
        serialize_tuple(usize) -> SerializeTuple,
        serialize_tuple_struct(&'static str, usize) -> SerializeTupleStruct,
        serialize_tuple_variant(&'static str, u32, &'static str, usize) -> SerializeTupleVariant,
        serialize_map(Option<usize>) -> SerializeMap,
        serialize_struct(&'static str, usize) -> SerializeStruct,
        serialize_struct_variant(&'static str, u32, &'static str, usize) -> SerializeStructVariant
    );
}

// ---- deserializing ----

/// Reads one whole MessagePack value (`src` must hold nothing else) into `T`, exactly as the
/// JSON path would.
pub(crate) fn from_msgpack<T: DeserializeOwned>(src: &[u8]) -> Result<T> {
    let mut de = De {
        cur: Cursor::new(src),
        depth: 0,
    };
    let value = T::deserialize(&mut de)?;
    if !de.cur.is_empty() {
        return Err(Fallback);
    }
    Ok(value)
}

struct De<'de> {
    cur: Cursor<'de>,
    /// Arrays and maps open around the next item.
    depth: usize,
}

/// Whether the JSON text of `s` would hold an escape (serde_json then unescapes into a
/// scratch buffer and calls `visit_str` rather than `visit_borrowed_str`).
fn needs_escape(s: &str) -> bool {
    s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\')
}

fn utf8(s: &[u8]) -> Result<&str> {
    std::str::from_utf8(s).map_err(|_| Fallback)
}

/// What serde_json reads from the JSON text the transcoder writes for the finite `f64` `f`.
fn json_float(f: f64) -> Result<f64> {
    let text = serde_json::Number::from_f64(f).ok_or(Fallback)?.to_string();
    serde_json::from_str(&text).map_err(|_| Fallback)
}

/// The transcoder's `f64` for a finite `f32`: its shortest text, read as `f64`.
fn f32_as_f64(f: f32) -> Result<f64> {
    if !f.is_finite() {
        return Err(Fallback);
    }
    f.to_string().parse().map_err(|_| Fallback)
}

impl<'de> De<'de> {
    fn item(&mut self) -> Result<Item<'de>> {
        self.cur.read_item().map_err(|_| Fallback)
    }

    fn open(&mut self) -> Result<()> {
        if self.depth >= MAX_DEPTH {
            return Err(Fallback);
        }
        self.depth += 1;
        Ok(())
    }

    /// The text of a string-like item: a string, `bin` as base64, a timestamp as ISO 8601.
    fn text<V: Visitor<'de>>(&self, item: Item<'de>, visitor: V) -> Result<V::Value> {
        match item {
            Item::Str(s) => {
                let s = utf8(s)?;
                if needs_escape(s) {
                    visitor.visit_str(s)
                } else {
                    visitor.visit_borrowed_str(s)
                }
            }
            Item::Bin(data) => {
                visitor.visit_string(base64::engine::general_purpose::STANDARD.encode(data))
            }
            Item::Ext(-1, data) => {
                visitor.visit_string(timestamp_to_iso(data).map_err(|_| Fallback)?)
            }
            _ => Err(Fallback),
        }
    }

    /// A number item as serde_json visits the number's JSON text.
    fn number<V: Visitor<'de>>(&self, item: Item<'de>, visitor: V) -> Result<V::Value> {
        match item {
            Item::Uint(n) => visitor.visit_u64(n),
            Item::Int(n) if n >= 0 => visitor.visit_u64(n as u64),
            Item::Int(n) => visitor.visit_i64(n),
            Item::F64(f) if f.is_finite() => visitor.visit_f64(json_float(f)?),
            Item::F32(f) => visitor.visit_f64(json_float(f32_as_f64(f)?)?),
            _ => Err(Fallback),
        }
    }

    fn seq<V: Visitor<'de>>(&mut self, len: u32, visitor: V) -> Result<V::Value> {
        self.open()?;
        let mut access = Seq {
            de: self,
            left: len,
        };
        let value = visitor.visit_seq(&mut access)?;
        if access.left != 0 {
            return Err(Fallback);
        }
        self.depth -= 1;
        Ok(value)
    }

    fn map<V: Visitor<'de>>(&mut self, len: u32, visitor: V) -> Result<V::Value> {
        self.open()?;
        let mut access = Map {
            de: self,
            left: len,
            value_owed: false,
        };
        let value = visitor.visit_map(&mut access)?;
        if access.left != 0 || access.value_owed {
            return Err(Fallback);
        }
        self.depth -= 1;
        Ok(value)
    }

    fn any<V: Visitor<'de>>(&mut self, item: Item<'de>, visitor: V) -> Result<V::Value> {
        match item {
            Item::Nil => visitor.visit_unit(),
            Item::Bool(b) => visitor.visit_bool(b),
            Item::Uint(_) | Item::Int(_) | Item::F64(_) | Item::F32(_) => {
                self.number(item, visitor)
            }
            Item::Str(_) | Item::Bin(_) | Item::Ext(..) => self.text(item, visitor),
            Item::Array(n) => self.seq(n, visitor),
            Item::Map(n) => self.map(n, visitor),
        }
    }

    /// Checks one value as the transcoder would, without visiting it.
    fn skip(&mut self, item: Item<'de>) -> Result<()> {
        match item {
            Item::Nil | Item::Bool(_) | Item::Uint(_) | Item::Int(_) | Item::Bin(_) => Ok(()),
            Item::F64(f) if f.is_finite() => Ok(()),
            Item::F32(f) if f.is_finite() => Ok(()),
            Item::F64(_) | Item::F32(_) => Err(Fallback),
            Item::Str(s) => utf8(s).map(drop),
            Item::Ext(-1, data) => timestamp_to_iso(data).map(drop).map_err(|_| Fallback),
            Item::Ext(..) => Err(Fallback),
            Item::Array(n) => {
                self.open()?;
                for _ in 0..n {
                    let item = self.item()?;
                    self.skip(item)?;
                }
                self.depth -= 1;
                Ok(())
            }
            Item::Map(n) => {
                self.open()?;
                for _ in 0..n {
                    let Item::Str(key) = self.item()? else {
                        return Err(Fallback);
                    };
                    utf8(key)?;
                    let item = self.item()?;
                    self.skip(item)?;
                }
                self.depth -= 1;
                Ok(())
            }
        }
    }
}

/// Deserializer methods that call another one.
macro_rules! forward {
    ($to:ident: $($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
            self.$to(visitor)
        }
    )*};
}

/// Deserializer methods left to the serde_json path.
macro_rules! refuse {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, _: V) -> Result<V::Value> {
            Err(Fallback)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for &mut De<'de> {
    type Error = Fallback;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let item = self.item()?;
        self.any(item, visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.item()? {
            Item::Bool(b) => visitor.visit_bool(b),
            _ => Err(Fallback),
        }
    }

    // Every number type: serde_json visits whatever number the text holds.
    forward!(deserialize_f64: deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64);

    // serde_json reads `f32` differently with its `float_roundtrip` feature: left to it.
    refuse!(deserialize_f32 deserialize_i128 deserialize_u128);

    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let item = self.item()?;
        self.number(item, visitor)
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let item = self.item()?;
        self.text(item, visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.item()? {
            Item::Str(s) => {
                let s = utf8(s)?;
                if needs_escape(s) {
                    visitor.visit_bytes(s.as_bytes())
                } else {
                    visitor.visit_borrowed_bytes(s.as_bytes())
                }
            }
            Item::Bin(data) => visitor.visit_bytes(
                base64::engine::general_purpose::STANDARD
                    .encode(data)
                    .as_bytes(),
            ),
            Item::Ext(-1, data) => {
                visitor.visit_bytes(timestamp_to_iso(data).map_err(|_| Fallback)?.as_bytes())
            }
            Item::Array(n) => self.seq(n, visitor),
            _ => Err(Fallback),
        }
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let mut probe = self.cur.clone();
        if let Ok(Item::Nil) = probe.read_item() {
            self.cur = probe;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.item()? {
            Item::Nil => visitor.visit_unit(),
            _ => Err(Fallback),
        }
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_unit(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == JSON_RAW_VALUE_TOKEN {
            return Err(Fallback);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.item()? {
            Item::Array(n) => self.seq(n, visitor),
            _ => Err(Fallback),
        }
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        visitor: V,
    ) -> Result<V::Value> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        match self.item()? {
            Item::Map(n) => self.map(n, visitor),
            _ => Err(Fallback),
        }
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.item()? {
            Item::Array(n) => self.seq(n, visitor),
            Item::Map(n) => self.map(n, visitor),
            _ => Err(Fallback),
        }
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        match self.item()? {
            Item::Str(s) => visitor.visit_enum(UnitVariant { name: utf8(s)? }),
            Item::Map(1) => {
                self.open()?;
                let value = visitor.visit_enum(&mut *self)?;
                self.depth -= 1;
                Ok(value)
            }
            _ => Err(Fallback),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        let item = self.item()?;
        self.skip(item)?;
        visitor.visit_unit()
    }
}

struct Seq<'a, 'de> {
    de: &'a mut De<'de>,
    left: u32,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, 'de> {
    type Error = Fallback;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>> {
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        seed.deserialize(&mut *self.de).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        // Every element takes at least a byte: hostile counts cannot reserve much.
        Some((self.left as usize).min(self.de.cur.remaining()))
    }
}

struct Map<'a, 'de> {
    de: &'a mut De<'de>,
    left: u32,
    value_owed: bool,
}

impl<'de> de::MapAccess<'de> for Map<'_, 'de> {
    type Error = Fallback;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>> {
        if self.value_owed {
            return Err(Fallback);
        }
        if self.left == 0 {
            return Ok(None);
        }
        self.left -= 1;
        let Item::Str(key) = self.de.item()? else {
            return Err(Fallback);
        };
        self.value_owed = true;
        seed.deserialize(Key { s: utf8(key)? }).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value> {
        if !self.value_owed {
            return Err(Fallback);
        }
        self.value_owed = false;
        seed.deserialize(&mut *self.de)
    }

    fn size_hint(&self) -> Option<usize> {
        Some((self.left as usize).min(self.de.cur.remaining() / 2))
    }
}

/// `{"variant": value}`: the map header is read.
impl<'de> de::EnumAccess<'de> for &mut De<'de> {
    type Error = Fallback;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let Item::Str(name) = self.item()? else {
            return Err(Fallback);
        };
        let variant = seed.deserialize(Key { s: utf8(name)? })?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut De<'de> {
    type Error = Fallback;

    fn unit_variant(self) -> Result<()> {
        de::Deserialize::deserialize(self)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, visitor: V) -> Result<V::Value> {
        de::Deserializer::deserialize_seq(self, visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        de::Deserializer::deserialize_struct(self, "", fields, visitor)
    }
}

/// `"variant"`: only a unit variant.
struct UnitVariant<'de> {
    name: &'de str,
}

impl<'de> de::EnumAccess<'de> for UnitVariant<'de> {
    type Error = Fallback;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self)> {
        let variant = seed.deserialize(Key { s: self.name })?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for UnitVariant<'de> {
    type Error = Fallback;

    fn unit_variant(self) -> Result<()> {
        Ok(())
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value> {
        Err(Fallback)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value> {
        Err(Fallback)
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], _: V) -> Result<V::Value> {
        Err(Fallback)
    }
}

// ---- reading a JSON string ----

/// Reads `T` from JSON text that is one string without escapes or control characters
/// (whitespace around it allowed), exactly as serde_json would: the string is lent to the
/// visitor. Anything else, and every error, is [`Fallback`].
pub(crate) fn from_json_string<T: DeserializeOwned>(src: &[u8]) -> Result<T> {
    let ws = |b: &u8| matches!(b, b' ' | b'\n' | b'\t' | b'\r');
    let start = src.iter().position(|b| !ws(b)).ok_or(Fallback)?;
    let end = src.iter().rposition(|b| !ws(b)).ok_or(Fallback)? + 1;
    let body = match &src[start..end] {
        [b'"', body @ .., b'"'] => body,
        _ => return Err(Fallback),
    };
    // The first quote, backslash or control character must be the closing quote.
    let special = find_special(&src[start + 1..end]).ok_or(Fallback)?;
    if special != body.len() {
        return Err(Fallback);
    }
    T::deserialize(JsonStr { s: utf8(body)? })
}

/// A JSON string as serde_json's deserializer presents it: a borrowed `str` to whatever asks
/// for a string, identifier, char or bytes, `Some` of itself, a unit variant; serde_json
/// refuses it as anything else (left to it).
struct JsonStr<'de> {
    s: &'de str,
}

impl<'de> de::Deserializer<'de> for JsonStr<'de> {
    type Error = Fallback;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_str(self.s)
    }

    forward!(deserialize_any: deserialize_str deserialize_string deserialize_identifier
        deserialize_char);

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_borrowed_bytes(self.s.as_bytes())
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == JSON_RAW_VALUE_TOKEN {
            return Err(Fallback);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value> {
        visitor.visit_enum(UnitVariant { name: self.s })
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_unit()
    }

    refuse!(deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_unit deserialize_seq
        deserialize_map);

    fn deserialize_unit_struct<V: Visitor<'de>>(self, _: &'static str, _: V) -> Result<V::Value> {
        Err(Fallback)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value> {
        Err(Fallback)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: usize,
        _: V,
    ) -> Result<V::Value> {
        Err(Fallback)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value> {
        Err(Fallback)
    }
}

/// A map key or variant name: a string. serde_json parses numbers and booleans out of keys
/// when asked; those are left to it.
struct Key<'de> {
    s: &'de str,
}

impl<'de> de::Deserializer<'de> for Key<'de> {
    type Error = Fallback;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        if needs_escape(self.s) {
            visitor.visit_str(self.s)
        } else {
            visitor.visit_borrowed_str(self.s)
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value> {
        if name == JSON_RAW_VALUE_TOKEN {
            return Err(Fallback);
        }
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value> {
        Err(Fallback)
    }

    refuse!(deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32 deserialize_i64
        deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32 deserialize_u64
        deserialize_u128 deserialize_f32 deserialize_f64 deserialize_bytes deserialize_byte_buf);

    serde::forward_to_deserialize_any! {
        char str string unit unit_struct seq tuple tuple_struct map struct
        identifier ignored_any
    }
}
