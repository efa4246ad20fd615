//! Argument conversions shared by the classes: header lists, bodies, durations.

use std::time::Duration;

use bytes::Bytes;
use pyo3::prelude::*;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyString};

use crate::errors;

/// Headers as `(name, value)` pairs: extracted from a mapping or an iterable of pairs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderList(pub Vec<(String, String)>);

impl<'a, 'py> FromPyObject<'a, 'py> for HeaderList {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_none() {
            return Ok(HeaderList::default());
        }
        let mut out = Vec::new();
        if let Ok(d) = obj.cast::<PyDict>() {
            for (k, v) in d.iter() {
                out.push((k.extract::<String>()?, v.extract::<String>()?));
            }
            return Ok(HeaderList(out));
        }
        for item in obj.try_iter()? {
            let (n, v): (String, String) = item?.extract()?;
            out.push((n, v));
        }
        Ok(HeaderList(out))
    }
}

/// A body: `bytes`, `bytearray`, `str` (UTF-8), `None` (empty) or anything `bytes()` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BodyArg(pub Bytes);

impl<'a, 'py> FromPyObject<'a, 'py> for BodyArg {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if obj.is_none() {
            return Ok(BodyArg::default());
        }
        if let Ok(b) = obj.cast::<PyBytes>() {
            return Ok(BodyArg(Bytes::copy_from_slice(b.as_bytes())));
        }
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(BodyArg(Bytes::from(s.extract::<String>()?)));
        }
        if let Ok(b) = obj.cast::<PyByteArray>() {
            return Ok(BodyArg(Bytes::from(b.to_vec())));
        }
        let py = obj.py();
        let converted = py
            .get_type::<PyBytes>()
            .call1((obj,))
            .map_err(|_| errors::config("invalid_body", "a body must be bytes, str or None"))?;
        let b = converted.cast::<PyBytes>()?;
        Ok(BodyArg(Bytes::copy_from_slice(b.as_bytes())))
    }
}

/// A WebSocket message to send: `str` is a text message, anything bytes-like a binary one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl<'a, 'py> FromPyObject<'a, 'py> for Outgoing {
    type Error = PyErr;

    fn extract(obj: Borrowed<'a, 'py, PyAny>) -> PyResult<Self> {
        if let Ok(s) = obj.cast::<PyString>() {
            return Ok(Outgoing::Text(s.extract::<String>()?));
        }
        if obj.is_none() {
            return Err(errors::config(
                "invalid_message",
                "a message must be str or bytes",
            ));
        }
        Ok(Outgoing::Binary(obj.extract::<BodyArg>()?.0))
    }
}

/// Seconds (a float) as a [`Duration`]; rejects negative, NaN and infinite values.
pub fn seconds(name: &str, secs: f64) -> PyResult<Duration> {
    Duration::try_from_secs_f64(secs).map_err(|_| {
        errors::config(
            "invalid_argument",
            format!("{name} must be a finite number of seconds >= 0, got {secs}"),
        )
    })
}

/// A response/request body as Python `bytes`.
pub fn py_bytes(py: Python<'_>, b: &[u8]) -> Py<PyBytes> {
    PyBytes::new(py, b).unbind()
}
