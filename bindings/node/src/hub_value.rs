//! Hub values as JavaScript sees them: [`HubValue`], read from and written to JS values on the
//! JavaScript thread, and encoded to / decoded from the hub's [`RawValue`]s anywhere.
//!
//! JS → hub follows `JSON.stringify`, except that a `Uint8Array` (so a `Buffer`) or an
//! `ArrayBuffer` is bytes and a `Date` is a date: `undefined`, functions and symbols are left
//! out of objects and are `null` in arrays; `NaN` and infinities are `null`; objects with a
//! `toJSON` method are replaced by its result; other objects give their own enumerable string
//! keys. A `bigint` is an integer (within 64 bits). Integral numbers up to 2^53 travel as
//! integers, so a .NET `int` parameter binds.
//!
//! On the wire (MessagePack) bytes are `bin` and dates the timestamp extension. Values go
//! through MessagePack in both directions, so one reader and one writer serve both protocols:
//! for JSON, core's transcoder turns `bin` into a base64 string (as .NET writes a `byte[]`)
//! and a timestamp into an ISO 8601 string. Hub → JS gives plain values: numbers (integers
//! beyond 2^53 lose precision, as with `JSON.parse`), strings, arrays, objects, `Buffer`s for
//! `bin` and `Date`s for timestamps.

use std::ptr;

use interlink_core::hub::value::MAX_DEPTH;
use interlink_core::hub::{HubProtocol, RawValue};
use napi::bindgen_prelude::{Buffer, FromNapiValue, ToNapiValue};
use napi::{Status, check_status, sys};
use rmp::Marker;
use rmp::encode::{self as w, ByteBuf};

/// The MessagePack extension type of timestamps (.NET `DateTime`).
const TIMESTAMP: i8 = -1;
/// The largest integer a JS number holds exactly.
const MAX_SAFE: f64 = 9_007_199_254_740_992.0;

/// One value crossing between JavaScript and a hub.
#[derive(Debug, Clone, PartialEq)]
pub enum HubValue {
    /// A top-level `undefined`: no value (a void result, a handler without an answer).
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer that fits `i64`.
    Int(i64),
    /// An integer above `i64::MAX`.
    Uint(u64),
    /// Any other number.
    Float(f64),
    /// A string.
    Str(String),
    /// Bytes (`Buffer` / `Uint8Array` / `ArrayBuffer`; MessagePack `bin`).
    Bytes(Vec<u8>),
    /// A date, as milliseconds since the Unix epoch.
    Date(f64),
    /// An array.
    Array(Vec<HubValue>),
    /// An object, keys in order.
    Map(Vec<(String, HubValue)>),
}

/// Why a value cannot cross.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub String);

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn too_deep() -> ValueError {
    ValueError(format!(
        "value nested deeper than {MAX_DEPTH} levels (or cyclic)"
    ))
}

impl HubValue {
    /// A JS number: integral ones within 2^53 are integers, non-finite ones `null`.
    pub fn number(n: f64) -> HubValue {
        if !n.is_finite() {
            HubValue::Null
        } else if n.fract() == 0.0 && n.abs() <= MAX_SAFE {
            HubValue::Int(n as i64)
        } else {
            HubValue::Float(n)
        }
    }

    /// `true` for [`HubValue::Undefined`].
    pub fn is_undefined(&self) -> bool {
        matches!(self, HubValue::Undefined)
    }

    /// This value in `protocol`'s encoding.
    pub fn to_raw(&self, protocol: HubProtocol) -> Result<RawValue, ValueError> {
        let raw = RawValue::MessagePack(self.to_msgpack()?.into());
        raw.to_protocol(protocol)
            .map_err(|e| ValueError(e.to_string()))
    }

    /// Every value of `values` in `protocol`'s encoding.
    pub fn to_raws(
        values: &[HubValue],
        protocol: HubProtocol,
    ) -> Result<Vec<RawValue>, ValueError> {
        values.iter().map(|v| v.to_raw(protocol)).collect()
    }

    /// A value received from a hub.
    pub fn from_raw(raw: &RawValue) -> Result<HubValue, ValueError> {
        let bytes = raw.to_msgpack().map_err(|e| ValueError(e.to_string()))?;
        let mut reader = Reader {
            buf: &bytes,
            pos: 0,
        };
        let value = reader.value(0)?;
        if reader.pos != bytes.len() {
            return Err(ValueError(
                "bytes after the end of a MessagePack value".into(),
            ));
        }
        Ok(value)
    }

    /// Values received from a hub.
    pub fn from_raws(raws: &[RawValue]) -> Result<Vec<HubValue>, ValueError> {
        raws.iter().map(HubValue::from_raw).collect()
    }

    /// The MessagePack encoding.
    pub fn to_msgpack(&self) -> Result<Vec<u8>, ValueError> {
        let mut out = ByteBuf::new();
        self.write(&mut out, 0)?;
        Ok(out.into_vec())
    }

    fn write(&self, out: &mut ByteBuf, depth: usize) -> Result<(), ValueError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let len = |n: usize| u32::try_from(n).map_err(|_| ValueError("value too large".into()));
        // Writing into a ByteBuf cannot fail.
        match self {
            HubValue::Undefined | HubValue::Null => w::write_nil(out).ok(),
            HubValue::Bool(b) => w::write_bool(out, *b).ok(),
            HubValue::Int(i) if *i >= 0 => w::write_uint(out, *i as u64).map(drop).ok(),
            HubValue::Int(i) => w::write_sint(out, *i).map(drop).ok(),
            HubValue::Uint(u) => w::write_uint(out, *u).map(drop).ok(),
            HubValue::Float(f) => w::write_f64(out, *f).ok(),
            HubValue::Str(s) => w::write_str(out, s).ok(),
            HubValue::Bytes(b) => {
                len(b.len())?;
                w::write_bin(out, b).ok()
            }
            HubValue::Date(ms) => write_timestamp(out, *ms),
            HubValue::Array(items) => {
                w::write_array_len(out, len(items.len())?).ok();
                for item in items {
                    item.write(out, depth + 1)?;
                }
                Some(())
            }
            HubValue::Map(entries) => {
                w::write_map_len(out, len(entries.len())?).ok();
                for (k, v) in entries {
                    w::write_str(out, k).ok();
                    v.write(out, depth + 1)?;
                }
                Some(())
            }
        };
        Ok(())
    }
}

/// A timestamp extension in its smallest form (32, 64 or 96 bits).
fn write_timestamp(out: &mut ByteBuf, ms: f64) -> Option<()> {
    let secs = (ms / 1000.0).floor();
    let nanos = ((ms - secs * 1000.0) * 1_000_000.0)
        .round()
        .clamp(0.0, 999_999_999.0) as u64;
    let secs = secs as i64;
    if (0..1 << 34).contains(&secs) {
        if nanos == 0 && secs <= i64::from(u32::MAX) {
            w::write_ext_meta(out, 4, TIMESTAMP).ok()?;
            out.as_mut_vec()
                .extend_from_slice(&(secs as u32).to_be_bytes());
        } else {
            w::write_ext_meta(out, 8, TIMESTAMP).ok()?;
            let packed = (nanos << 34) | secs as u64;
            out.as_mut_vec().extend_from_slice(&packed.to_be_bytes());
        }
    } else {
        w::write_ext_meta(out, 12, TIMESTAMP).ok()?;
        out.as_mut_vec()
            .extend_from_slice(&(nanos as u32).to_be_bytes());
        out.as_mut_vec().extend_from_slice(&secs.to_be_bytes());
    }
    Some(())
}

/// A MessagePack reader producing [`HubValue`]s (recursion bounded by [`MAX_DEPTH`]).
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], ValueError> {
        if n > self.buf.len() - self.pos {
            return Err(ValueError("truncated MessagePack value".into()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A big-endian unsigned integer of `n` (≤ 8) bytes.
    fn be(&mut self, n: usize) -> Result<u64, ValueError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn sized(&mut self, len_bytes: usize) -> Result<&'a [u8], ValueError> {
        let n = self.be(len_bytes)? as usize;
        self.take(n)
    }

    fn text(&mut self, len_bytes: usize) -> Result<String, ValueError> {
        let n = self.be(len_bytes)? as usize;
        self.str_of(n)
    }

    fn str_of(&mut self, n: usize) -> Result<String, ValueError> {
        let bytes = self.take(n)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| ValueError("MessagePack string is not valid UTF-8".into()))
    }

    fn ext(&mut self, len: usize) -> Result<HubValue, ValueError> {
        let ty = self.be(1)? as u8 as i8;
        let data = self.take(len)?;
        if ty != TIMESTAMP {
            return Err(ValueError(format!(
                "MessagePack extension type {ty} has no JavaScript form"
            )));
        }
        let be = |b: &[u8]| b.iter().fold(0u64, |acc, &x| (acc << 8) | u64::from(x));
        let (secs, nanos) = match data.len() {
            4 => (be(data) as i64, 0),
            8 => {
                let v = be(data);
                ((v & ((1 << 34) - 1)) as i64, v >> 34)
            }
            12 => (be(&data[4..]) as i64, be(&data[..4])),
            n => return Err(ValueError(format!("timestamp of {n} bytes"))),
        };
        Ok(HubValue::Date(
            secs as f64 * 1000.0 + nanos as f64 / 1_000_000.0,
        ))
    }

    fn array(&mut self, n: usize, depth: usize) -> Result<HubValue, ValueError> {
        let mut items = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            items.push(self.value(depth + 1)?);
        }
        Ok(HubValue::Array(items))
    }

    fn map(&mut self, n: usize, depth: usize) -> Result<HubValue, ValueError> {
        let mut entries = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let key = match self.value(depth + 1)? {
                HubValue::Str(s) => s,
                HubValue::Int(i) => i.to_string(),
                HubValue::Uint(u) => u.to_string(),
                _ => return Err(ValueError("MessagePack map key is not a string".into())),
            };
            entries.push((key, self.value(depth + 1)?));
        }
        Ok(HubValue::Map(entries))
    }

    fn value(&mut self, depth: usize) -> Result<HubValue, ValueError> {
        if depth > MAX_DEPTH {
            return Err(too_deep());
        }
        let marker = Marker::from_u8(self.be(1)? as u8);
        Ok(match marker {
            Marker::FixPos(n) => HubValue::Int(n.into()),
            Marker::FixNeg(n) => HubValue::Int(n.into()),
            Marker::Null => HubValue::Null,
            Marker::False => HubValue::Bool(false),
            Marker::True => HubValue::Bool(true),
            Marker::U8 => HubValue::Int(self.be(1)? as i64),
            Marker::U16 => HubValue::Int(self.be(2)? as i64),
            Marker::U32 => HubValue::Int(self.be(4)? as i64),
            Marker::U64 => match self.be(8)? {
                u if u <= i64::MAX as u64 => HubValue::Int(u as i64),
                u => HubValue::Uint(u),
            },
            Marker::I8 => HubValue::Int(i64::from(self.be(1)? as u8 as i8)),
            Marker::I16 => HubValue::Int(i64::from(self.be(2)? as u16 as i16)),
            Marker::I32 => HubValue::Int(i64::from(self.be(4)? as u32 as i32)),
            Marker::I64 => HubValue::Int(self.be(8)? as i64),
            Marker::F32 => HubValue::Float(f64::from(f32::from_bits(self.be(4)? as u32))),
            Marker::F64 => HubValue::Float(f64::from_bits(self.be(8)?)),
            Marker::FixStr(n) => HubValue::Str(self.str_of(n.into())?),
            Marker::Str8 => HubValue::Str(self.text(1)?),
            Marker::Str16 => HubValue::Str(self.text(2)?),
            Marker::Str32 => HubValue::Str(self.text(4)?),
            Marker::Bin8 => HubValue::Bytes(self.sized(1)?.to_vec()),
            Marker::Bin16 => HubValue::Bytes(self.sized(2)?.to_vec()),
            Marker::Bin32 => HubValue::Bytes(self.sized(4)?.to_vec()),
            Marker::FixArray(n) => self.array(n.into(), depth)?,
            Marker::Array16 => {
                let n = self.be(2)? as usize;
                self.array(n, depth)?
            }
            Marker::Array32 => {
                let n = self.be(4)? as usize;
                self.array(n, depth)?
            }
            Marker::FixMap(n) => self.map(n.into(), depth)?,
            Marker::Map16 => {
                let n = self.be(2)? as usize;
                self.map(n, depth)?
            }
            Marker::Map32 => {
                let n = self.be(4)? as usize;
                self.map(n, depth)?
            }
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
            Marker::Reserved => return Err(ValueError("reserved MessagePack marker 0xc1".into())),
        })
    }
}

// ---- JavaScript → HubValue (on the JavaScript thread) ----

fn type_of(env: sys::napi_env, v: sys::napi_value) -> napi::Result<sys::napi_valuetype> {
    let mut t = sys::ValueType::napi_undefined;
    check_status!(unsafe { sys::napi_typeof(env, v, &mut t) })?;
    Ok(t)
}

fn flag(
    env: sys::napi_env,
    v: sys::napi_value,
    f: unsafe fn(sys::napi_env, sys::napi_value, *mut bool) -> sys::napi_status,
) -> napi::Result<bool> {
    let mut out = false;
    check_status!(unsafe { f(env, v, &mut out) })?;
    Ok(out)
}

fn property(
    env: sys::napi_env,
    obj: sys::napi_value,
    key: sys::napi_value,
) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    check_status!(unsafe { sys::napi_get_property(env, obj, key, &mut out) })?;
    Ok(out)
}

fn value_error(message: impl Into<String>) -> napi::Error {
    napi::Error::new(Status::InvalidArg, message.into())
}

/// Reads a JS value (`top`: a top-level `undefined` stays [`HubValue::Undefined`]).
fn read(env: sys::napi_env, v: sys::napi_value, depth: usize, top: bool) -> napi::Result<HubValue> {
    use sys::ValueType as T;
    if depth > MAX_DEPTH {
        return Err(value_error(too_deep().0));
    }
    Ok(match type_of(env, v)? {
        T::napi_undefined if top => HubValue::Undefined,
        T::napi_boolean => HubValue::Bool(unsafe { bool::from_napi_value(env, v) }?),
        T::napi_number => HubValue::number(unsafe { f64::from_napi_value(env, v) }?),
        T::napi_string => HubValue::Str(unsafe { String::from_napi_value(env, v) }?),
        T::napi_bigint => read_bigint(env, v)?,
        T::napi_object => read_object(env, v, depth)?,
        _ => HubValue::Null,
    })
}

fn read_bigint(env: sys::napi_env, v: sys::napi_value) -> napi::Result<HubValue> {
    let (mut i, mut lossless) = (0i64, false);
    check_status!(unsafe { sys::napi_get_value_bigint_int64(env, v, &mut i, &mut lossless) })?;
    if lossless {
        return Ok(HubValue::Int(i));
    }
    let mut u = 0u64;
    check_status!(unsafe { sys::napi_get_value_bigint_uint64(env, v, &mut u, &mut lossless) })?;
    if lossless {
        return Ok(HubValue::Uint(u));
    }
    Err(value_error("a bigint beyond 64 bits has no hub form"))
}

/// The bytes of a `Uint8Array` (so of a `Buffer`), or `None` for any other object.
fn uint8_bytes(env: sys::napi_env, v: sys::napi_value) -> napi::Result<Option<Vec<u8>>> {
    if flag(env, v, sys::napi_is_typedarray)? {
        let (mut ty, mut len, mut data, mut ab, mut off) =
            (0, 0usize, ptr::null_mut(), ptr::null_mut(), 0usize);
        check_status!(unsafe {
            sys::napi_get_typedarray_info(env, v, &mut ty, &mut len, &mut data, &mut ab, &mut off)
        })?;
        use sys::TypedarrayType as A;
        if ty != A::uint8_array && ty != A::uint8_clamped_array {
            return Ok(None);
        }
        if len == 0 || data.is_null() {
            return Ok(Some(Vec::new()));
        }
        // SAFETY: napi describes `len` live bytes at `data` for the duration of this call.
        return Ok(Some(
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec(),
        ));
    }
    if flag(env, v, sys::napi_is_arraybuffer)? {
        let (mut data, mut len) = (ptr::null_mut(), 0usize);
        check_status!(unsafe { sys::napi_get_arraybuffer_info(env, v, &mut data, &mut len) })?;
        if len == 0 || data.is_null() {
            return Ok(Some(Vec::new()));
        }
        // SAFETY: as above.
        return Ok(Some(
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }.to_vec(),
        ));
    }
    Ok(None)
}

fn read_object(env: sys::napi_env, v: sys::napi_value, depth: usize) -> napi::Result<HubValue> {
    if flag(env, v, sys::napi_is_array)? {
        let mut len = 0u32;
        check_status!(unsafe { sys::napi_get_array_length(env, v, &mut len) })?;
        let mut items = Vec::with_capacity(len as usize);
        for i in 0..len {
            let mut item = ptr::null_mut();
            check_status!(unsafe { sys::napi_get_element(env, v, i, &mut item) })?;
            items.push(read(env, item, depth + 1, false)?);
        }
        return Ok(HubValue::Array(items));
    }
    if let Some(bytes) = uint8_bytes(env, v)? {
        return Ok(HubValue::Bytes(bytes));
    }
    if flag(env, v, sys::napi_is_date)? {
        let mut ms = 0.0;
        check_status!(unsafe { sys::napi_get_date_value(env, v, &mut ms) })?;
        return Ok(if ms.is_finite() {
            HubValue::Date(ms)
        } else {
            HubValue::Null
        });
    }
    let to_json = unsafe { napi::bindgen_prelude::ToNapiValue::to_napi_value(env, "toJSON") }?;
    let method = property(env, v, to_json)?;
    if type_of(env, method)? == sys::ValueType::napi_function {
        let key = unsafe { ToNapiValue::to_napi_value(env, "") }?;
        let mut replaced = ptr::null_mut();
        check_status!(unsafe { sys::napi_call_function(env, v, method, 1, &key, &mut replaced) })?;
        return read(env, replaced, depth + 1, false);
    }
    let mut keys = ptr::null_mut();
    check_status!(unsafe {
        sys::napi_get_all_property_names(
            env,
            v,
            sys::KeyCollectionMode::own_only,
            sys::KeyFilter::enumerable | sys::KeyFilter::skip_symbols,
            sys::KeyConversion::numbers_to_strings,
            &mut keys,
        )
    })?;
    let mut len = 0u32;
    check_status!(unsafe { sys::napi_get_array_length(env, keys, &mut len) })?;
    let mut entries = Vec::with_capacity(len as usize);
    for i in 0..len {
        let mut key = ptr::null_mut();
        check_status!(unsafe { sys::napi_get_element(env, keys, i, &mut key) })?;
        let item = property(env, v, key)?;
        use sys::ValueType as T;
        if matches!(
            type_of(env, item)?,
            T::napi_undefined | T::napi_function | T::napi_symbol
        ) {
            continue;
        }
        let name = unsafe { String::from_napi_value(env, key) }?;
        entries.push((name, read(env, item, depth + 1, false)?));
    }
    Ok(HubValue::Map(entries))
}

impl FromNapiValue for HubValue {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        read(env, value, 0, true)
    }
}

// ---- HubValue → JavaScript (on the JavaScript thread) ----

impl ToNapiValue for HubValue {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        write_js(env, val)
    }
}

impl ToNapiValue for &HubValue {
    unsafe fn to_napi_value(env: sys::napi_env, val: Self) -> napi::Result<sys::napi_value> {
        write_js(env, val.clone())
    }
}

fn write_js(env: sys::napi_env, val: HubValue) -> napi::Result<sys::napi_value> {
    let mut out = ptr::null_mut();
    unsafe {
        match val {
            HubValue::Undefined => check_status!(sys::napi_get_undefined(env, &mut out))?,
            HubValue::Null => check_status!(sys::napi_get_null(env, &mut out))?,
            HubValue::Bool(b) => return bool::to_napi_value(env, b),
            HubValue::Int(i) => return f64::to_napi_value(env, i as f64),
            HubValue::Uint(u) => return f64::to_napi_value(env, u as f64),
            HubValue::Float(f) => return f64::to_napi_value(env, f),
            HubValue::Str(s) => return String::to_napi_value(env, s),
            HubValue::Bytes(b) => return Buffer::to_napi_value(env, Buffer::from(b)),
            HubValue::Date(ms) => check_status!(sys::napi_create_date(env, ms, &mut out))?,
            HubValue::Array(items) => {
                check_status!(sys::napi_create_array_with_length(
                    env,
                    items.len(),
                    &mut out
                ))?;
                for (i, item) in items.into_iter().enumerate() {
                    let v = write_js(env, item)?;
                    check_status!(sys::napi_set_element(env, out, i as u32, v))?;
                }
            }
            HubValue::Map(entries) => {
                check_status!(sys::napi_create_object(env, &mut out))?;
                for (k, item) in entries {
                    let v = write_js(env, item)?;
                    let own = k == "__proto__";
                    let key = String::to_napi_value(env, k)?;
                    if own {
                        // An own property, as JSON.parse makes it (a plain set would change
                        // the prototype).
                        let desc = sys::napi_property_descriptor {
                            utf8name: ptr::null(),
                            name: key,
                            method: None,
                            getter: None,
                            setter: None,
                            value: v,
                            attributes: sys::PropertyAttributes::writable
                                | sys::PropertyAttributes::enumerable
                                | sys::PropertyAttributes::configurable,
                            data: ptr::null_mut(),
                        };
                        check_status!(sys::napi_define_properties(env, out, 1, &desc))?;
                    } else {
                        check_status!(sys::napi_set_property(env, out, key, v))?;
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn json(s: &'static str) -> RawValue {
        RawValue::Json(Bytes::from_static(s.as_bytes()))
    }

    #[test]
    fn numbers_keep_integers_and_drop_non_finite() {
        assert_eq!(HubValue::number(3.0), HubValue::Int(3));
        assert_eq!(HubValue::number(-2.5), HubValue::Float(-2.5));
        assert_eq!(HubValue::number(f64::NAN), HubValue::Null);
        assert_eq!(HubValue::number(1e300), HubValue::Float(1e300));
    }

    #[test]
    fn json_round_trip() {
        let v = HubValue::from_raw(&json(r#"{"a":[1,-2,2.5,"x",null,true],"b":{}}"#)).unwrap();
        assert_eq!(
            v,
            HubValue::Map(vec![
                (
                    "a".into(),
                    HubValue::Array(vec![
                        HubValue::Int(1),
                        HubValue::Int(-2),
                        HubValue::Float(2.5),
                        HubValue::Str("x".into()),
                        HubValue::Null,
                        HubValue::Bool(true),
                    ])
                ),
                ("b".into(), HubValue::Map(vec![])),
            ])
        );
        let back = v.to_raw(HubProtocol::Json).unwrap();
        assert_eq!(
            back.as_bytes().as_ref(),
            br#"{"a":[1,-2,2.5,"x",null,true],"b":{}}"#
        );
    }

    #[test]
    fn bytes_are_bin_or_base64() {
        let v = HubValue::Bytes(vec![1, 2, 3]);
        let mp = v.to_raw(HubProtocol::MessagePack).unwrap();
        assert_eq!(mp.as_bytes().as_ref(), &[0xc4, 3, 1, 2, 3]);
        assert_eq!(HubValue::from_raw(&mp).unwrap(), v);
        let js = v.to_raw(HubProtocol::Json).unwrap();
        assert_eq!(js.as_bytes().as_ref(), br#""AQID""#);
    }

    #[test]
    fn dates_are_timestamps() {
        for ms in [
            0.0,
            1_700_000_000_000.0,
            1_700_000_000_123.0,
            -86_400_000.5,
            3e14,
        ] {
            let raw = HubValue::Date(ms).to_raw(HubProtocol::MessagePack).unwrap();
            match HubValue::from_raw(&raw).unwrap() {
                HubValue::Date(back) => assert!((back - ms).abs() < 1e-3, "{ms} → {back}"),
                other => panic!("{other:?}"),
            }
        }
        let js = HubValue::Date(1_700_000_000_500.0)
            .to_raw(HubProtocol::Json)
            .unwrap();
        assert_eq!(js.as_bytes().as_ref(), br#""2023-11-14T22:13:20.5Z""#);
    }

    #[test]
    fn undefined_is_nil_and_depth_is_bounded() {
        assert_eq!(
            HubValue::Undefined
                .to_raw(HubProtocol::Json)
                .unwrap()
                .as_bytes()
                .as_ref(),
            b"null"
        );
        let mut deep = HubValue::Null;
        for _ in 0..=MAX_DEPTH + 1 {
            deep = HubValue::Array(vec![deep]);
        }
        assert!(deep.to_msgpack().is_err());
        let big = HubValue::Uint(u64::MAX)
            .to_raw(HubProtocol::MessagePack)
            .unwrap();
        assert_eq!(HubValue::from_raw(&big).unwrap(), HubValue::Uint(u64::MAX));
    }
}
