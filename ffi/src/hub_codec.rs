//! The hub message codec from C, without a connection: `interlink_hub_message` (a message as a
//! C struct, used both ways), the incremental decoder (`interlink_hub_decoder_*`) and the
//! encoders (`interlink_hub_encode`, `interlink_hub_encode_into`).
//!
//! Decoder call order: feed bytes as they arrive (any split), then poll until WOULD_BLOCK.
//! The handshake is not part of this codec: it comes first on a connection and is always
//! JSON (the connection handles, `interlink_hub_client_*` / `interlink_hub_server_*`, run it).

use std::ffi::c_char;

use interlink_core::hub::{HubDecoder, HubMessage, HubProtocol, Invocation, encode_to_bytes};

use crate::boundary::{Error, interlink_result};
use crate::hub_output::PartsStore;
use crate::hub_value::{
    decode_error, encode_error, interlink_hub_value, protocol_arg, result_arg, strings_arg,
    value_arg, values_arg,
};
use crate::memory::{
    bytes_arg, free_handle, handle, headers_arg, interlink_bytes, interlink_header, new_handle,
    opt_str_arg, str_arg, write_out,
};

/// The message types of the hub protocol (the `type` number on the wire). Struct fields and
/// arguments take it as a `uint32_t`.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum interlink_hub_message_type {
    /// A call (`invocation_id` NULL: no reply wanted), `target`, `arguments`, `stream_ids`.
    Invocation = 1,
    /// One stream item: `invocation_id`, `item`.
    StreamItem = 2,
    /// The end of a call: `invocation_id`, `result_kind`, `result` or `error`.
    Completion = 3,
    /// A streaming call: as INVOCATION, `invocation_id` required.
    StreamInvocation = 4,
    /// Cancels stream `invocation_id`.
    CancelInvocation = 5,
    /// Keep-alive; no fields.
    Ping = 6,
    /// Ends the connection: `error` (NULL: none), `allow_reconnect`.
    Close = 7,
    /// Stateful reconnect: `sequence_id` is the highest message id processed.
    Ack = 8,
    /// Stateful reconnect: `sequence_id` is the id of the first replayed message.
    Sequence = 9,
}

/// One hub message, as a C struct. `message_type` says which fields mean something; the others
/// are NULL / 0 (and ignored as input). `headers` exist on types 1–5.
///
/// As the output of interlink_hub_decoder_poll every pointer borrows from the decoder until
/// its next poll (or free), and values are in the decoder's protocol. As the input of
/// interlink_hub_encode* every pointer must be valid for the call; values must be in the
/// protocol being encoded (convert with interlink_hub_transcode) and are checked to be one
/// well-formed value each.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_hub_message {
    /// An interlink_hub_message_type value.
    pub message_type: u32,
    /// The message headers (types 1–5; NULL when none).
    pub headers: *const interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
    /// Types 1–5: the invocation (or stream) id; NULL for a non-blocking INVOCATION.
    pub invocation_id: *const c_char,
    /// INVOCATION, STREAM_INVOCATION: the method name.
    pub target: *const c_char,
    /// INVOCATION, STREAM_INVOCATION: the arguments (NULL when none).
    pub arguments: *const interlink_hub_value,
    /// Number of `arguments`.
    pub arguments_len: usize,
    /// INVOCATION, STREAM_INVOCATION: ids of upload streams (NULL when none).
    pub stream_ids: *const *const c_char,
    /// Number of `stream_ids`.
    pub stream_ids_len: usize,
    /// STREAM_ITEM: the item.
    pub item: interlink_hub_value,
    /// COMPLETION: an interlink_hub_result_kind value.
    pub result_kind: u32,
    /// COMPLETION with result_kind VALUE: the result.
    pub result: interlink_hub_value,
    /// COMPLETION with result_kind ERROR: the error text; CLOSE: the error (NULL: none).
    pub error: *const c_char,
    /// CLOSE: whether the client may reconnect.
    pub allow_reconnect: bool,
    /// ACK, SEQUENCE: the sequence id.
    pub sequence_id: u64,
}

impl interlink_hub_message {
    fn blank(message_type: u32) -> Self {
        interlink_hub_message {
            message_type,
            headers: std::ptr::null(),
            headers_len: 0,
            invocation_id: std::ptr::null(),
            target: std::ptr::null(),
            arguments: std::ptr::null(),
            arguments_len: 0,
            stream_ids: std::ptr::null(),
            stream_ids_len: 0,
            item: interlink_hub_value::none(),
            result_kind: 0,
            result: interlink_hub_value::none(),
            error: std::ptr::null(),
            allow_reconnect: false,
            sequence_id: 0,
        }
    }
}

/// Converts a decoded message to its C view, keeping what it points to in `store`.
pub fn message_view(store: &mut PartsStore, msg: HubMessage) -> interlink_hub_message {
    let mut out = interlink_hub_message::blank(u32::from(msg.type_id()));
    match msg {
        HubMessage::Invocation(inv) | HubMessage::StreamInvocation(inv) => {
            (out.headers, out.headers_len) = store.headers(&inv.headers);
            out.invocation_id = store.id(inv.invocation_id.as_deref());
            out.target = store.target(Some(&inv.target));
            (out.stream_ids, out.stream_ids_len) = store.stream_ids(&inv.stream_ids);
            (out.arguments, out.arguments_len) = store.arguments(inv.arguments);
        }
        HubMessage::StreamItem {
            headers,
            invocation_id,
            item,
        } => {
            (out.headers, out.headers_len) = store.headers(&headers);
            out.invocation_id = store.id(Some(&invocation_id));
            out.item = store.item(item);
        }
        HubMessage::Completion {
            headers,
            invocation_id,
            result,
        } => {
            (out.headers, out.headers_len) = store.headers(&headers);
            out.invocation_id = store.id(Some(&invocation_id));
            let (kind, value, error) = store.completion(result);
            (out.result_kind, out.result, out.error) = (kind as u32, value, error);
        }
        HubMessage::CancelInvocation {
            headers,
            invocation_id,
        } => {
            (out.headers, out.headers_len) = store.headers(&headers);
            out.invocation_id = store.id(Some(&invocation_id));
        }
        HubMessage::Ping => {}
        HubMessage::Close {
            error,
            allow_reconnect,
        } => {
            out.error = store.error(error.as_deref());
            out.allow_reconnect = allow_reconnect;
        }
        HubMessage::Ack { sequence_id } | HubMessage::Sequence { sequence_id } => {
            out.sequence_id = sequence_id;
        }
    }
    out
}

/// Reads a message described by C, its values in `protocol`.
///
/// # Safety
/// Every pointer of `m` is NULL or valid as documented on [`interlink_hub_message`].
pub unsafe fn message_arg(
    protocol: HubProtocol,
    m: &interlink_hub_message,
) -> Result<HubMessage, Error> {
    // SAFETY (whole body): the caller's contract on the fields of `m`.
    let headers = || -> Result<_, Error> {
        Ok(unsafe { headers_arg(m.headers, m.headers_len, "headers") }?
            .into_iter()
            .collect())
    };
    let id = || unsafe { str_arg(m.invocation_id, "invocation_id") }.map(str::to_string);
    let invocation = |required_id: bool| -> Result<Invocation, Error> {
        Ok(Invocation {
            headers: headers()?,
            invocation_id: if required_id {
                Some(id()?)
            } else {
                unsafe { opt_str_arg(m.invocation_id, "invocation_id") }?.map(str::to_string)
            },
            target: unsafe { str_arg(m.target, "target") }?.to_string(),
            arguments: unsafe { values_arg(protocol, m.arguments, m.arguments_len, "arguments") }?,
            stream_ids: unsafe { strings_arg(m.stream_ids, m.stream_ids_len, "stream_ids") }?,
        })
    };
    Ok(match m.message_type {
        1 => HubMessage::Invocation(invocation(false)?),
        2 => HubMessage::StreamItem {
            headers: headers()?,
            invocation_id: id()?,
            item: unsafe { value_arg(protocol, m.item.data, m.item.len, "item") }?,
        },
        3 => HubMessage::Completion {
            headers: headers()?,
            invocation_id: id()?,
            result: unsafe {
                result_arg(
                    protocol,
                    m.result_kind,
                    m.result.data,
                    m.result.len,
                    m.error,
                )
            }?,
        },
        4 => HubMessage::StreamInvocation(invocation(true)?),
        5 => HubMessage::CancelInvocation {
            headers: headers()?,
            invocation_id: id()?,
        },
        6 => HubMessage::Ping,
        7 => HubMessage::Close {
            error: unsafe { opt_str_arg(m.error, "error") }?.map(str::to_string),
            allow_reconnect: m.allow_reconnect,
        },
        8 => HubMessage::Ack {
            sequence_id: m.sequence_id,
        },
        9 => HubMessage::Sequence {
            sequence_id: m.sequence_id,
        },
        t => {
            return Err(Error::invalid(format!(
                "`message_type` is {t}, not an interlink_hub_message_type"
            )));
        }
    })
}

/// Encodes and frames a message described by C.
///
/// # Safety
/// As [`message_arg`]; `message` is NULL or valid.
unsafe fn encode_arg(
    protocol: u32,
    message: *const interlink_hub_message,
) -> Result<bytes::Bytes, Error> {
    let protocol = protocol_arg(protocol, "protocol")?;
    // SAFETY: caller's contract.
    let m = unsafe { message.as_ref() }.ok_or_else(|| Error::null("message"))?;
    let msg = unsafe { message_arg(protocol, m) }?;
    encode_to_bytes(protocol, &msg).map_err(encode_error)
}

/// Encodes one message in `protocol` (an interlink_hub_protocol value), framed: JSON text +
/// 0x1E, or VarInt length + MessagePack body. `*frame_out` is owned by the caller: free it with
/// interlink_bytes_free. INVALID_ARGUMENT for a bad field or value (see
/// interlink_hub_message).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_encode(
    protocol: u32,
    message: *const interlink_hub_message,
    frame_out: *mut interlink_bytes,
) -> interlink_result {
    ffi!(message, frame_out => {
        // SAFETY: caller's contract.
        let frame = unsafe { encode_arg(protocol, message) }?;
        // SAFETY: checked out-pointer.
        unsafe { write_out(frame_out, interlink_bytes::from_vec(frame.to_vec()), "frame_out") }
    })
}

/// As interlink_hub_encode, into the caller's buffer `buf` of `cap` bytes: OK with the frame's
/// length in `*len_out`, or BUFFER_TOO_SMALL with the length needed in `*len_out` (nothing
/// written). `buf` may be NULL when `cap` is 0 (to ask for the length).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_encode_into(
    protocol: u32,
    message: *const interlink_hub_message,
    buf: *mut u8,
    cap: usize,
    len_out: *mut usize,
) -> interlink_result {
    ffi!(message, len_out => {
        // SAFETY: caller's contract.
        let frame = unsafe { encode_arg(protocol, message) }?;
        // SAFETY: checked out-pointer.
        unsafe { write_out(len_out, frame.len(), "len_out") }?;
        if frame.len() > cap {
            return Err(Error::new(
                interlink_result::BufferTooSmall,
                format!("the frame needs {} bytes, the buffer has {cap}", frame.len()),
            ));
        }
        if buf.is_null() {
            return Err(Error::null("buf"));
        }
        // SAFETY: `buf` is valid for `cap` ≥ frame.len() bytes per the contract.
        unsafe { std::ptr::copy_nonoverlapping(frame.as_ptr(), buf, frame.len()) };
        Ok(interlink_result::Ok)
    })
}

/// An incremental decoder of hub messages (opaque). Create with interlink_hub_decoder_new,
/// free with interlink_hub_decoder_free. Not thread-safe.
pub struct interlink_hub_decoder {
    decoder: HubDecoder,
    store: PartsStore,
}

/// Creates a decoder for `protocol` (an interlink_hub_protocol value) that refuses messages
/// over `max_message_size` bytes (0: 32768, ASP.NET Core's default), counted without the
/// separator or length prefix. Free `*decoder_out` with interlink_hub_decoder_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_decoder_new(
    protocol: u32,
    max_message_size: usize,
    decoder_out: *mut *mut interlink_hub_decoder,
) -> interlink_result {
    ffi!(decoder_out => {
        let protocol = protocol_arg(protocol, "protocol")?;
        let max = if max_message_size == 0 { 32 * 1024 } else { max_message_size };
        let d = interlink_hub_decoder { decoder: HubDecoder::new(protocol, max), store: PartsStore::default() };
        // SAFETY: checked out-pointer.
        unsafe { new_handle(decoder_out, d, "decoder_out") }
    })
}

/// Frees a decoder; NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_decoder_free(decoder: *mut interlink_hub_decoder) {
    // SAFETY: NULL or a handle from interlink_hub_decoder_new, not used afterwards.
    ffi!(default (); => { unsafe { free_handle(decoder) }; Ok(()) })
}

/// Buffers received bytes (any split: transport frame boundaries mean nothing).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_decoder_feed(
    decoder: *mut interlink_hub_decoder,
    data: *const u8,
    len: usize,
) -> interlink_result {
    ffi!(decoder => {
        // SAFETY: caller's contract.
        unsafe { handle(decoder, "decoder")?.decoder.feed(bytes_arg(data, len, "data")?) };
        Ok(())
    })
}

/// The next complete message: OK (filled `*message`, borrowing from the decoder until its
/// next poll or free), WOULD_BLOCK (more bytes needed), or PROTOCOL when the bytes are not
/// valid hub messages or one is over the size limit (the decoder is then poisoned: every
/// later poll fails the same way; close the connection). Messages of unknown types are
/// skipped (see interlink_hub_decoder_skipped_unknown).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_decoder_poll(
    decoder: *mut interlink_hub_decoder,
    message: *mut interlink_hub_message,
) -> interlink_result {
    ffi!(decoder, message => {
        // SAFETY: caller's contract.
        let d = unsafe { handle(decoder, "decoder")? };
        let Some(msg) = d.decoder.next_message().map_err(decode_error)? else {
            return Ok(interlink_result::WouldBlock);
        };
        let view = message_view(&mut d.store, msg);
        // SAFETY: checked out-pointer.
        unsafe { write_out(message, view, "message") }?;
        Ok(interlink_result::Ok)
    })
}

/// Bytes fed and not yet returned as messages (`*len_out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_decoder_buffered_len(
    decoder: *const interlink_hub_decoder,
    len_out: *mut usize,
) -> interlink_result {
    ffi!(decoder, len_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(len_out, (*decoder).decoder.buffered_len(), "len_out") }
    })
}

/// How many messages of unknown types were skipped so far (`*count_out`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_hub_decoder_skipped_unknown(
    decoder: *const interlink_hub_decoder,
    count_out: *mut u64,
) -> interlink_result {
    ffi!(decoder, count_out => {
        // SAFETY: caller's contract.
        unsafe { write_out(count_out, (*decoder).decoder.skipped_unknown(), "count_out") }
    })
}
