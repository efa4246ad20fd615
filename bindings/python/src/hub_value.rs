//! Hub values: plain Python values ↔ the encoded [`RawValue`]s of the hub protocol.
//!
//! Python → JSON goes through serde ([`PyJson`] serializes a Python object with
//! serde_json), Python → MessagePack is written directly; JSON → Python is a serde visitor
//! and MessagePack → Python a small reader. Both directions keep dict key order.
//!
//! | Python | JSON | MessagePack |
//! |---|---|---|
//! | `None` | `null` | nil |
//! | `bool` | `true` / `false` | bool |
//! | `int` (within i64 / u64) | number | int / uint |
//! | `float` (finite) | number | float 64 |
//! | `str` | string | str |
//! | `bytes`, `bytearray`, `memoryview` | base64 string (as .NET writes `byte[]`) | bin |
//! | `list`, `tuple` | array | array |
//! | `dict` (str keys) | object | map |
//!
//! Reading: MessagePack `bin` becomes `bytes`, a timestamp an ISO 8601 string (the whole
//! value is then read through the core's JSON transcoder), a map with non-string keys a
//! dict with those keys. Anything else (NaN, huge ints, other types, nesting deeper than
//! [`MAX_DEPTH`] or cycles) raises `ConfigError` (code `invalid_value`).

use std::fmt;

use base64::Engine as _;
use bytes::Bytes;
use interlink_core::hub::{HubProtocol, RawValue};
use pyo3::prelude::*;
use pyo3::types::{
    PyBool, PyByteArray, PyBytes, PyDict, PyFloat, PyInt, PyList, PyMemoryView, PyString, PyTuple,
};
use serde::de::{self, DeserializeSeed, Visitor};
use serde::ser::{self, Serialize, SerializeMap, SerializeSeq};

use crate::errors;

/// The deepest nesting of lists and dicts a value may have (the core's limit).
pub const MAX_DEPTH: usize = 127;

fn invalid(message: impl Into<String>) -> PyErr {
    errors::config("invalid_value", message)
}

/// The protocol named `name` (`"json"` or `"messagepack"`, case-insensitive).
pub fn protocol_of(name: &str) -> PyResult<HubProtocol> {
    match name.to_ascii_lowercase().as_str() {
        "json" => Ok(HubProtocol::Json),
        "messagepack" | "msgpack" => Ok(HubProtocol::MessagePack),
        _ => Err(errors::config(
            "invalid_argument",
            format!("protocol must be \"json\" or \"messagepack\", got {name:?}"),
        )),
    }
}

/// The bytes of a bytes-like object, if it is one.
fn bytes_like(obj: &Bound<'_, PyAny>) -> Option<Vec<u8>> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Some(b.as_bytes().to_vec());
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Some(b.to_vec());
    }
    if obj.cast::<PyMemoryView>().is_ok() {
        let b = obj.py().get_type::<PyBytes>().call1((obj,)).ok()?;
        return b.cast::<PyBytes>().ok().map(|b| b.as_bytes().to_vec());
    }
    None
}

fn type_name(obj: &Bound<'_, PyAny>) -> String {
    obj.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}

/// A Python object serialized as JSON (see the module docs).
pub struct PyJson<'a, 'py> {
    obj: &'a Bound<'py, PyAny>,
    depth: usize,
}

impl Serialize for PyJson<'_, '_> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use ser::Error as _;
        let obj = self.obj;
        if obj.is_none() {
            return s.serialize_unit();
        }
        if let Ok(b) = obj.cast::<PyBool>() {
            return s.serialize_bool(b.is_true());
        }
        if obj.cast::<PyInt>().is_ok() {
            if let Ok(i) = obj.extract::<i64>() {
                return s.serialize_i64(i);
            }
            if let Ok(u) = obj.extract::<u64>() {
                return s.serialize_u64(u);
            }
            return Err(S::Error::custom("an int outside the 64-bit range"));
        }
        if let Ok(f) = obj.cast::<PyFloat>() {
            let v = f.value();
            if !v.is_finite() {
                return Err(S::Error::custom("NaN or an infinite float"));
            }
            return s.serialize_f64(v);
        }
        if let Ok(text) = obj.cast::<PyString>() {
            return s.serialize_str(&text.to_cow().map_err(S::Error::custom)?);
        }
        if let Some(b) = bytes_like(obj) {
            return s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b));
        }
        let depth = self.depth + 1;
        if (obj.cast::<PyList>().is_ok()
            || obj.cast::<PyTuple>().is_ok()
            || obj.cast::<PyDict>().is_ok())
            && depth > MAX_DEPTH
        {
            return Err(S::Error::custom(format!(
                "a value nested deeper than {MAX_DEPTH} levels"
            )));
        }
        if let Ok(list) = obj.cast::<PyList>() {
            let mut seq = s.serialize_seq(Some(list.len()))?;
            for item in list.iter() {
                seq.serialize_element(&PyJson { obj: &item, depth })?;
            }
            return seq.end();
        }
        if let Ok(tuple) = obj.cast::<PyTuple>() {
            let mut seq = s.serialize_seq(Some(tuple.len()))?;
            for item in tuple.iter() {
                seq.serialize_element(&PyJson { obj: &item, depth })?;
            }
            return seq.end();
        }
        if let Ok(dict) = obj.cast::<PyDict>() {
            let mut map = s.serialize_map(Some(dict.len()))?;
            for (k, v) in dict.iter() {
                let key = k.cast::<PyString>().map_err(|_| {
                    S::Error::custom(format!(
                        "a dict key of type {} (JSON needs str)",
                        type_name(&k)
                    ))
                })?;
                map.serialize_entry(
                    &key.to_cow().map_err(S::Error::custom)?,
                    &PyJson { obj: &v, depth },
                )?;
            }
            return map.end();
        }
        Err(S::Error::custom(format!(
            "a value of type {}",
            type_name(obj)
        )))
    }
}

/// `obj` as JSON text.
pub fn to_json(obj: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    serde_json::to_vec(&PyJson { obj, depth: 0 }).map_err(|e| invalid(format!("cannot send {e}")))
}

/// Appends `obj` to `out` as one MessagePack object.
fn write_msgpack(obj: &Bound<'_, PyAny>, out: &mut Vec<u8>, depth: usize) -> PyResult<()> {
    if obj.is_none() {
        out.push(0xC0);
    } else if let Ok(b) = obj.cast::<PyBool>() {
        out.push(if b.is_true() { 0xC3 } else { 0xC2 });
    } else if obj.cast::<PyInt>().is_ok() {
        if let Ok(i) = obj.extract::<i64>() {
            write_int(out, i);
        } else if let Ok(u) = obj.extract::<u64>() {
            out.push(0xCF);
            out.extend_from_slice(&u.to_be_bytes());
        } else {
            return Err(invalid("cannot send an int outside the 64-bit range"));
        }
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        out.push(0xCB);
        out.extend_from_slice(&f.value().to_be_bytes());
    } else if let Ok(text) = obj.cast::<PyString>() {
        let s = text.to_cow()?;
        write_len(
            out,
            s.len(),
            [0xD9, 0xDA, 0xDB],
            (s.len() < 32).then_some(0xA0),
        );
        out.extend_from_slice(s.as_bytes());
    } else if let Some(b) = bytes_like(obj) {
        write_len(out, b.len(), [0xC4, 0xC5, 0xC6], None);
        out.extend_from_slice(&b);
    } else if obj.cast::<PyList>().is_ok() || obj.cast::<PyTuple>().is_ok() {
        check_depth(depth)?;
        let items: Vec<Bound<'_, PyAny>> = obj.try_iter()?.collect::<PyResult<_>>()?;
        write_container(out, items.len(), [0x90, 0xDC, 0xDD]);
        for item in &items {
            write_msgpack(item, out, depth + 1)?;
        }
    } else if let Ok(dict) = obj.cast::<PyDict>() {
        check_depth(depth)?;
        write_container(out, dict.len(), [0x80, 0xDE, 0xDF]);
        for (k, v) in dict.iter() {
            write_msgpack(&k, out, depth + 1)?;
            write_msgpack(&v, out, depth + 1)?;
        }
    } else {
        return Err(invalid(format!(
            "cannot send a value of type {}",
            type_name(obj)
        )));
    }
    Ok(())
}

fn check_depth(depth: usize) -> PyResult<()> {
    if depth >= MAX_DEPTH {
        return Err(invalid(format!(
            "cannot send a value nested deeper than {MAX_DEPTH} levels"
        )));
    }
    Ok(())
}

fn write_int(out: &mut Vec<u8>, i: i64) {
    match i {
        0..=0x7F => out.push(i as u8),
        -32..=-1 => out.push(i as i8 as u8),
        0x80..=0xFF => out.extend_from_slice(&[0xCC, i as u8]),
        0x100..=0xFFFF => {
            out.push(0xCD);
            out.extend_from_slice(&(i as u16).to_be_bytes());
        }
        0x1_0000..=0xFFFF_FFFF => {
            out.push(0xCE);
            out.extend_from_slice(&(i as u32).to_be_bytes());
        }
        -128..=-33 => out.extend_from_slice(&[0xD0, i as i8 as u8]),
        -32768..=-129 => {
            out.push(0xD1);
            out.extend_from_slice(&(i as i16).to_be_bytes());
        }
        -2_147_483_648..=-32769 => {
            out.push(0xD2);
            out.extend_from_slice(&(i as i32).to_be_bytes());
        }
        _ if i > 0 => {
            out.push(0xCF);
            out.extend_from_slice(&(i as u64).to_be_bytes());
        }
        _ => {
            out.push(0xD3);
            out.extend_from_slice(&i.to_be_bytes());
        }
    }
}

/// A str / bin header: the fix form when given, else 8-, 16- or 32-bit lengths.
fn write_len(out: &mut Vec<u8>, len: usize, markers: [u8; 3], fix: Option<u8>) {
    if let Some(fix) = fix {
        out.push(fix | len as u8);
    } else if len <= 0xFF {
        out.extend_from_slice(&[markers[0], len as u8]);
    } else if len <= 0xFFFF {
        out.push(markers[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(markers[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// An array / map header: fix (< 16), 16- or 32-bit.
fn write_container(out: &mut Vec<u8>, len: usize, markers: [u8; 3]) {
    if len < 16 {
        out.push(markers[0] | len as u8);
    } else if len <= 0xFFFF {
        out.push(markers[1]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(markers[2]);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// Encodes `obj` in `protocol`.
pub fn to_raw(obj: &Bound<'_, PyAny>, protocol: HubProtocol) -> PyResult<RawValue> {
    Ok(match protocol {
        HubProtocol::Json => RawValue::Json(Bytes::from(to_json(obj)?)),
        HubProtocol::MessagePack => {
            let mut out = Vec::new();
            write_msgpack(obj, &mut out, 0)?;
            RawValue::MessagePack(Bytes::from(out))
        }
    })
}

/// Encodes every argument in `protocol`.
pub fn to_raw_args(args: &Bound<'_, PyAny>, protocol: HubProtocol) -> PyResult<Vec<RawValue>> {
    args.try_iter()?.map(|a| to_raw(&a?, protocol)).collect()
}

/// Builds Python objects from JSON (a serde visitor).
struct PyVisitor<'py>(Python<'py>);

impl<'de, 'py> DeserializeSeed<'de> for PyVisitor<'py> {
    type Value = Bound<'py, PyAny>;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

fn py_err<E: de::Error>(e: PyErr) -> E {
    E::custom(e)
}

/// A Python `int`.
fn py_int<'py, T>(py: Python<'py>, v: T) -> Bound<'py, PyAny>
where
    T: IntoPyObject<
            'py,
            Target = PyInt,
            Output = Bound<'py, PyInt>,
            Error = std::convert::Infallible,
        >,
{
    match v.into_pyobject(py) {
        Ok(i) => i.into_any(),
        Err(never) => match never {},
    }
}

impl<'de, 'py> Visitor<'de> for PyVisitor<'py> {
    type Value = Bound<'py, PyAny>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.0.None().into_bound(self.0))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.visit_unit()
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(PyBool::new(self.0, v).to_owned().into_any())
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(py_int(self.0, v))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(py_int(self.0, v))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(PyFloat::new(self.0, v).into_any())
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(PyString::new(self.0, v).into_any())
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let list = PyList::empty(self.0);
        while let Some(item) = seq.next_element_seed(PyVisitor(self.0))? {
            list.append(item).map_err(py_err)?;
        }
        Ok(list.into_any())
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let dict = PyDict::new(self.0);
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(PyVisitor(self.0))?;
            dict.set_item(key, value).map_err(py_err)?;
        }
        Ok(dict.into_any())
    }
}

fn from_json<'py>(py: Python<'py>, json: &[u8]) -> PyResult<Bound<'py, PyAny>> {
    let mut d = serde_json::Deserializer::from_slice(json);
    let value = PyVisitor(py)
        .deserialize(&mut d)
        .and_then(|v| d.end().map(|()| v))
        .map_err(|e| invalid(format!("cannot read a received value: {e}")))?;
    Ok(value)
}

/// Why the MessagePack reader gave up: malformed input, or an extension it leaves to the
/// core's transcoder.
enum MpStop {
    Malformed(&'static str),
    Extension,
    Python(PyErr),
}

impl From<PyErr> for MpStop {
    fn from(e: PyErr) -> Self {
        MpStop::Python(e)
    }
}

/// Reads MessagePack into Python objects.
struct MpReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> MpReader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], MpStop> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(MpStop::Malformed("truncated value"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn uint(&mut self, n: usize) -> Result<u64, MpStop> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
    }

    fn value<'py>(&mut self, py: Python<'py>, depth: usize) -> Result<Bound<'py, PyAny>, MpStop> {
        let marker = self.take(1)?[0];
        let any = |o: Bound<'py, PyAny>| Ok(o);
        match marker {
            0x00..=0x7F => any(py_int(py, u64::from(marker))),
            0xE0..=0xFF => any(py_int(py, i64::from(marker as i8))),
            0x80..=0x8F => self.map(py, usize::from(marker & 0x0F), depth),
            0x90..=0x9F => self.array(py, usize::from(marker & 0x0F), depth),
            0xA0..=0xBF => self.string(py, usize::from(marker & 0x1F)),
            0xC0 => any(py.None().into_bound(py)),
            0xC2 => any(PyBool::new(py, false).to_owned().into_any()),
            0xC3 => any(PyBool::new(py, true).to_owned().into_any()),
            0xC4..=0xC6 => {
                let n = self.uint(1 << (marker - 0xC4))? as usize;
                any(PyBytes::new(py, self.take(n)?).into_any())
            }
            0xC7..=0xC9 | 0xD4..=0xD8 => Err(MpStop::Extension),
            0xCA => {
                let bits = self.uint(4)? as u32;
                any(PyFloat::new(py, f64::from(f32::from_bits(bits))).into_any())
            }
            0xCB => any(PyFloat::new(py, f64::from_bits(self.uint(8)?)).into_any()),
            0xCC..=0xCF => any(py_int(py, self.uint(1 << (marker - 0xCC))?)),
            0xD0..=0xD3 => {
                let n = 1usize << (marker - 0xD0);
                let raw = self.uint(n)?;
                let shift = 64 - 8 * n as u32;
                let v = ((raw << shift) as i64) >> shift;
                any(py_int(py, v))
            }
            0xD9..=0xDB => {
                let n = self.uint(1 << (marker - 0xD9))? as usize;
                self.string(py, n)
            }
            0xDC | 0xDD => {
                let n = self.uint(if marker == 0xDC { 2 } else { 4 })? as usize;
                self.array(py, n, depth)
            }
            0xDE | 0xDF => {
                let n = self.uint(if marker == 0xDE { 2 } else { 4 })? as usize;
                self.map(py, n, depth)
            }
            _ => Err(MpStop::Malformed("unknown marker 0xc1")),
        }
    }

    fn string<'py>(&mut self, py: Python<'py>, n: usize) -> Result<Bound<'py, PyAny>, MpStop> {
        let s = std::str::from_utf8(self.take(n)?)
            .map_err(|_| MpStop::Malformed("a string that is not UTF-8"))?;
        Ok(PyString::new(py, s).into_any())
    }

    fn array<'py>(
        &mut self,
        py: Python<'py>,
        n: usize,
        depth: usize,
    ) -> Result<Bound<'py, PyAny>, MpStop> {
        if depth >= MAX_DEPTH {
            return Err(MpStop::Malformed("nested too deep"));
        }
        let list = PyList::empty(py);
        for _ in 0..n {
            list.append(self.value(py, depth + 1)?)?;
        }
        Ok(list.into_any())
    }

    fn map<'py>(
        &mut self,
        py: Python<'py>,
        n: usize,
        depth: usize,
    ) -> Result<Bound<'py, PyAny>, MpStop> {
        if depth >= MAX_DEPTH {
            return Err(MpStop::Malformed("nested too deep"));
        }
        let dict = PyDict::new(py);
        for _ in 0..n {
            let k = self.value(py, depth + 1)?;
            let v = self.value(py, depth + 1)?;
            dict.set_item(k, v)?;
        }
        Ok(dict.into_any())
    }
}

/// Decodes one received value.
pub fn from_raw<'py>(py: Python<'py>, raw: &RawValue) -> PyResult<Bound<'py, PyAny>> {
    match raw {
        RawValue::Json(b) => from_json(py, b),
        RawValue::MessagePack(b) => {
            let mut r = MpReader { buf: b, pos: 0 };
            match r.value(py, 0) {
                Ok(v) if r.pos == b.len() => Ok(v),
                Ok(_) => Err(invalid("cannot read a received value: trailing bytes")),
                Err(MpStop::Python(e)) => Err(e),
                Err(MpStop::Malformed(what)) => {
                    Err(invalid(format!("cannot read a received value: {what}")))
                }
                // Timestamps (and the errors for other extensions) come from the core.
                Err(MpStop::Extension) => {
                    let json = raw
                        .to_json()
                        .map_err(|e| invalid(format!("cannot read a received value: {e}")))?;
                    from_json(py, &json)
                }
            }
        }
    }
}

/// Decodes received arguments into a list.
pub fn from_raw_args<'py>(py: Python<'py>, args: &[RawValue]) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for a in args {
        list.append(from_raw(py, a)?)?;
    }
    Ok(list)
}

/// A received value as Python (`None` for a void result).
pub fn from_optional(py: Python<'_>, raw: Option<&RawValue>) -> PyResult<Py<PyAny>> {
    match raw {
        Some(r) => Ok(from_raw(py, r)?.unbind()),
        None => Ok(py.None()),
    }
}
