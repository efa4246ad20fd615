//! Hub values at the boundary: the protocol and result-kind enums, `interlink_hub_value` (one
//! encoded argument, item or result as bytes), reading and checking values that C passes in,
//! the json ↔ messagepack transcoder, and the mapping of core's hub errors to result codes.
//!
//! A value crosses as the bytes of one value in a protocol: the UTF-8 text of one JSON value
//! (`42`, `"x"`, `{"a":[1]}`) or one MessagePack object (`2a`, `a1 78`). Values passed in are
//! checked to be exactly one well-formed value, so they cannot break a frame.

use std::ffi::c_char;

use bytes::Bytes;
use interlink_core::hub::{
    CodecError, CommandError, CompletionResult, Headers, HubMessage, HubProtocol, RawValue,
    decode_body, msgpack,
};

use crate::boundary::{Error, interlink_result};
use crate::memory::{bytes_arg, interlink_bytes, str_arg, write_out};

/// The two hub protocols. Functions take it as a `uint32_t` holding one of these values.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_hub_protocol {
    /// `json`: text frames, every message ends with 0x1E; values are JSON text.
    Json = 0,
    /// `messagepack`: binary frames, every message is preceded by its VarInt length; values
    /// are MessagePack objects.
    Messagepack = 1,
}

/// Bit of INTERLINK_HUB_PROTOCOLS_* masks: the `json` protocol.
pub const INTERLINK_HUB_PROTOCOLS_JSON: u32 = 1;
/// Bit of INTERLINK_HUB_PROTOCOLS_* masks: the `messagepack` protocol.
pub const INTERLINK_HUB_PROTOCOLS_MESSAGEPACK: u32 = 2;
/// Both protocols.
pub const INTERLINK_HUB_PROTOCOLS_ALL: u32 = 3;

impl From<HubProtocol> for interlink_hub_protocol {
    fn from(p: HubProtocol) -> Self {
        match p {
            HubProtocol::Json => interlink_hub_protocol::Json,
            HubProtocol::MessagePack => interlink_hub_protocol::Messagepack,
        }
    }
}

/// The protocol named by a C `uint32_t` (an interlink_hub_protocol value).
pub fn protocol_arg(p: u32, name: &str) -> Result<HubProtocol, Error> {
    match p {
        0 => Ok(HubProtocol::Json),
        1 => Ok(HubProtocol::MessagePack),
        _ => Err(Error::invalid(format!(
            "`{name}` is {p}, not an interlink_hub_protocol"
        ))),
    }
}

/// The protocols of an INTERLINK_HUB_PROTOCOLS_* mask (at least one bit, no unknown bits).
pub fn protocols_arg(mask: u32) -> Result<Vec<HubProtocol>, Error> {
    if mask == 0 || mask & !INTERLINK_HUB_PROTOCOLS_ALL != 0 {
        return Err(Error::invalid(format!(
            "`protocols` is {mask}: use INTERLINK_HUB_PROTOCOLS_* bits (at least one)"
        )));
    }
    let mut enabled = Vec::new();
    if mask & INTERLINK_HUB_PROTOCOLS_JSON != 0 {
        enabled.push(HubProtocol::Json);
    }
    if mask & INTERLINK_HUB_PROTOCOLS_MESSAGEPACK != 0 {
        enabled.push(HubProtocol::MessagePack);
    }
    Ok(enabled)
}

/// How an invocation ended (Completion messages, client results). Taken as a `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_hub_result_kind {
    /// No result: a void method or the end of a stream.
    Void = 0,
    /// A value (`result`).
    Value = 1,
    /// A failure (`error`, the text shown to the caller).
    Error = 2,
}

/// One encoded value: (`data`, `len`) bytes of one JSON value or one MessagePack object, in
/// the protocol of the decoder or connection it belongs to. As an input the bytes must stay
/// valid for the call (they are copied). As an output they borrow from the handle that filled
/// it (see the function). `data` is NULL when `len` is 0 (no value). Inputs are checked to
/// be exactly one well-formed value; JSON nested deeper than 127 levels or with a number
/// beyond the range of a double is refused (INVALID_ARGUMENT).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_hub_value {
    /// The encoded bytes.
    pub data: *const u8,
    /// Their number.
    pub len: usize,
}

impl interlink_hub_value {
    /// No value.
    pub fn none() -> Self {
        interlink_hub_value {
            data: std::ptr::null(),
            len: 0,
        }
    }

    /// A view of `b` (which must outlive the view).
    pub fn of(b: &Bytes) -> Self {
        if b.is_empty() {
            return Self::none();
        }
        interlink_hub_value {
            data: b.as_ptr(),
            len: b.len(),
        }
    }
}

/// Checks that `bytes` hold exactly one well-formed value of `protocol` and wraps a copy.
pub fn raw_value(protocol: HubProtocol, bytes: &[u8], name: &str) -> Result<RawValue, Error> {
    if bytes.is_empty() {
        return Err(Error::invalid(format!("`{name}` is empty: not a value")));
    }
    let copy = Bytes::copy_from_slice(bytes);
    let bad = |detail: String| Error::invalid(format!("`{name}` is not one {detail}"));
    match protocol {
        HubProtocol::Json => {
            // The transcoder's parser reads exactly one JSON value (trailing text refused).
            let raw = RawValue::Json(copy);
            raw.to_msgpack()
                .map_err(|e| bad(format!("JSON value: {e}")))?;
            Ok(raw)
        }
        HubProtocol::MessagePack => {
            // A MessagePack array declares its length: as the last element of a StreamItem,
            // a truncated value, a reserved marker or a second object fails the read.
            let raw = RawValue::MessagePack(copy);
            let probe = HubMessage::StreamItem {
                headers: Headers::new(),
                invocation_id: String::new(),
                item: raw.clone(),
            };
            let mut body = Vec::with_capacity(bytes.len() + 4);
            msgpack::write_message(&probe, &mut body)
                .and_then(|()| decode_body(HubProtocol::MessagePack, &Bytes::from(body)))
                .map_err(|e| bad(format!("MessagePack object: {e}")))?;
            Ok(raw)
        }
    }
}

/// Reads a (pointer, length) value argument in `protocol`.
///
/// # Safety
/// `data` is NULL or valid for `len` bytes.
pub unsafe fn value_arg(
    protocol: HubProtocol,
    data: *const u8,
    len: usize,
    name: &str,
) -> Result<RawValue, Error> {
    // SAFETY: forwarded contract.
    raw_value(protocol, unsafe { bytes_arg(data, len, name) }?, name)
}

/// Reads an array of values in `protocol`.
///
/// # Safety
/// `p` is NULL (with `len` 0) or valid for `len` entries whose bytes are valid.
pub unsafe fn values_arg(
    protocol: HubProtocol,
    p: *const interlink_hub_value,
    len: usize,
    name: &str,
) -> Result<Vec<RawValue>, Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: valid for `len` entries per the contract.
    let entries = unsafe { std::slice::from_raw_parts(p, len) };
    entries
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let label = format!("{name}[{i}]");
            // SAFETY: each entry's bytes are valid per the contract.
            unsafe { value_arg(protocol, v.data, v.len, &label) }
        })
        .collect()
}

/// Reads an array of C strings (ids).
///
/// # Safety
/// `p` is NULL (with `len` 0) or valid for `len` valid NUL-terminated strings.
pub unsafe fn strings_arg(
    p: *const *const c_char,
    len: usize,
    name: &str,
) -> Result<Vec<String>, Error> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if p.is_null() {
        return Err(Error::null(name));
    }
    // SAFETY: valid for `len` entries per the contract.
    let entries = unsafe { std::slice::from_raw_parts(p, len) };
    entries
        .iter()
        .enumerate()
        // SAFETY: each entry is a valid string per the contract.
        .map(|(i, s)| unsafe { str_arg(*s, &format!("{name}[{i}]")) }.map(str::to_string))
        .collect()
}

/// A completion result from C: `kind` (an interlink_hub_result_kind), the value bytes for
/// VALUE and the error text for ERROR.
///
/// # Safety
/// `value` as [`value_arg`], `error` NULL or a valid string.
pub unsafe fn result_arg(
    protocol: HubProtocol,
    kind: u32,
    value: *const u8,
    value_len: usize,
    error: *const c_char,
) -> Result<CompletionResult, Error> {
    match kind {
        0 => Ok(CompletionResult::Void),
        // SAFETY: forwarded contract.
        1 => {
            unsafe { value_arg(protocol, value, value_len, "result") }.map(CompletionResult::Value)
        }
        // SAFETY: forwarded contract.
        2 => Ok(CompletionResult::Error(
            unsafe { str_arg(error, "error") }?.to_string(),
        )),
        _ => Err(Error::invalid(format!(
            "`result_kind` is {kind}, not an interlink_hub_result_kind"
        ))),
    }
}

/// Decoding errors: the peer broke the hub protocol (PROTOCOL).
pub fn decode_error(e: CodecError) -> Error {
    Error::new(interlink_result::Protocol, e.to_string())
}

/// Encoding errors: a local value or message that cannot be written (INVALID_ARGUMENT).
pub fn encode_error(e: CodecError) -> Error {
    Error::invalid(format!("cannot encode the message: {e}"))
}

/// A rejected command: not open yet (INVALID_STATE) or any more (`ended`: CLOSED), an id with
/// nothing to answer (NOT_FOUND), or a value that cannot be encoded (INVALID_ARGUMENT).
pub fn command_error(e: CommandError, ended: bool) -> Error {
    match e {
        CommandError::NotOpen if ended => {
            Error::new(interlink_result::Closed, "the hub connection is closed")
        }
        CommandError::NotOpen => Error::new(
            interlink_result::InvalidState,
            "the hub connection is not open yet (handshake pending)",
        ),
        CommandError::UnknownInvocation(_) => Error::new(interlink_result::NotFound, e.to_string()),
        CommandError::Encode(_) => Error::invalid(e.to_string()),
    }
}

/// Transcodes one value from protocol `from` to protocol `to` (a copy when they are the same,
/// after checking it). Fails with INVALID_ARGUMENT when the input is not one well-formed
/// value, or has no form in `to` (MessagePack → JSON: non-string map keys, extensions other
/// than the timestamp, NaN / infinities). `*value_out` is owned by the caller: free it with
/// interlink_bytes_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_transcode(
    from: u32,
    data: *const u8,
    len: usize,
    to: u32,
    value_out: *mut interlink_bytes,
) -> interlink_result {
    ffi!(data, value_out => {
        let from = protocol_arg(from, "from")?;
        let to = protocol_arg(to, "to")?;
        // SAFETY: caller's contract.
        let value = unsafe { value_arg(from, data, len, "data") }?;
        let out = value
            .to_protocol(to)
            .map_err(|e| Error::invalid(format!("cannot transcode the value: {e}")))?;
        // SAFETY: checked out-pointer.
        unsafe {
            write_out(value_out, interlink_bytes::from_vec(out.as_bytes().to_vec()), "value_out")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_checked_to_be_exactly_one() {
        let json = HubProtocol::Json;
        let mp = HubProtocol::MessagePack;
        assert!(raw_value(json, b" {\"a\":[1,2]} ", "v").is_ok());
        for bad in [&b"1,2"[..], b"{", b"1}", b"", b"\x1e"] {
            assert!(raw_value(json, bad, "v").is_err(), "{bad:?}");
        }
        assert!(raw_value(mp, &[0x2a], "v").is_ok());
        assert!(raw_value(mp, &[0x92, 0x01, 0xa1, b'x'], "v").is_ok());
        // NaN and non-string keys are fine in MessagePack.
        assert!(raw_value(mp, &[0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], "v").is_ok());
        assert!(raw_value(mp, &[0x81, 0x01, 0x02], "v").is_ok());
        for bad in [&[0xa2, b'x'][..], &[0xc1], &[0x01, 0x02], &[0x92, 0x01]] {
            assert!(raw_value(mp, bad, "v").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn protocol_masks() {
        assert_eq!(protocols_arg(3).unwrap().len(), 2);
        assert_eq!(protocols_arg(2).unwrap(), [HubProtocol::MessagePack]);
        assert!(protocols_arg(0).is_err() && protocols_arg(4).is_err());
        assert!(protocol_arg(2, "p").is_err());
    }
}
