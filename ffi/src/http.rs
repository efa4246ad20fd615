//! HTTP requests through the relay from C (`interlink_http_send`).

use std::ffi::c_char;

use http_body_util::BodyExt as _;
use interlink::net::{self, ClientTls};
use interlink::relay::RelaySender;

use crate::boundary::{Error, interlink_result};
use crate::credentials;
use crate::memory::{
    bytes_arg, free_bytes, free_owned_headers, headers_arg, interlink_bytes, interlink_header,
    opt_str_arg, owned_headers, owned_string, str_arg, write_out,
};
use crate::runtime::block_on;

/// A response from interlink_http_send. Every pointer is owned by the caller: free them all
/// at once with interlink_http_response_free.
#[repr(C)]
#[derive(Debug)]
pub struct interlink_http_response {
    /// The status code (relay errors are responses too: 502 no listener, 504 too slow, 401).
    pub status: u16,
    /// The reason phrase.
    pub reason: *mut c_char,
    /// The headers, in order.
    pub headers: *mut interlink_header,
    /// Number of `headers`.
    pub headers_len: usize,
    /// The whole body.
    pub body: interlink_bytes,
}

/// Sends an HTTP request through the relay to the listener of `hybrid_connection` (NULL:
/// the connection string's `EntityPath`): `method`, `path` relative to the hybrid
/// connection ("/hello?x=1"), headers and body, and waits for the whole response (at most
/// `timeout_ms`; 0: the connection string's OperationTimeout, else 70 s). Fills `*response`
/// (free with interlink_http_response_free). Fails with IO, TIMEOUT, INVALID_ARGUMENT.
#[unsafe(no_mangle)]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn interlink_http_send(
    connection_string: *const c_char,
    hybrid_connection: *const c_char,
    method: *const c_char,
    path: *const c_char,
    headers: *const interlink_header,
    headers_len: usize,
    body: *const u8,
    body_len: usize,
    timeout_ms: u32,
    response: *mut interlink_http_response,
) -> interlink_result {
    ffi!(connection_string, method, path, response => {
        // SAFETY: caller's contract on every pointer.
        let (cs, hc, method, path, headers, body) = unsafe {
            (
                credentials::parse(str_arg(connection_string, "connection_string")?)?,
                opt_str_arg(hybrid_connection, "hybrid_connection")?.unwrap_or(""),
                str_arg(method, "method")?,
                str_arg(path, "path")?,
                headers_arg(headers, headers_len, "headers")?,
                bytes_arg(body, body_len, "body")?.to_vec(),
            )
        };
        let mut sender = RelaySender::new(&cs, hc, ClientTls::webpki())?;
        if timeout_ms != 0 {
            sender = sender.with_timeout(std::time::Duration::from_millis(timeout_ms.into()));
        }
        let mut req = http::Request::builder().method(method).uri(if path.is_empty() { "/" } else { path });
        for (n, v) in &headers {
            req = req.header(n, v);
        }
        let req = req.body(net::full(body)).map_err(|e| Error::invalid(format!("invalid request: {e}")))?;
        let (parts, bytes) = block_on(timeout_ms, async {
            let resp = sender.request(req).await?;
            let (parts, body) = resp.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|e| Error::new(interlink_result::Io, format!("reading the response body: {e}")))?
                .to_bytes();
            Ok::<_, Error>((parts, bytes))
        })??;
        let reason = interlink::net::reason_phrase(parts.status, &parts.extensions);
        let (h, h_len) = owned_headers(parts.headers.iter().map(|(n, v)| (n.as_str(), v.to_str().unwrap_or(""))));
        let out = interlink_http_response {
            status: parts.status.as_u16(),
            reason: owned_string(&reason),
            headers: h,
            headers_len: h_len,
            body: interlink_bytes::from_vec(bytes.to_vec()),
        };
        // SAFETY: checked out-pointer.
        unsafe { write_out(response, out, "response") }
    })
}

/// Frees everything a response owns and zeroes it; NULL or a zeroed response is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_http_response_free(response: *mut interlink_http_response) {
    ffi!(default (); => {
        // SAFETY: NULL or a response filled by interlink_http_send (or zeroed).
        if let Some(r) = unsafe { response.as_mut() } {
            if !r.reason.is_null() {
                // SAFETY: made by owned_string.
                drop(unsafe { std::ffi::CString::from_raw(r.reason) });
            }
            // SAFETY: made by owned_headers.
            unsafe { free_owned_headers(r.headers, r.headers_len) };
            free_bytes(&mut r.body);
            r.status = 0;
            r.reason = std::ptr::null_mut();
            r.headers = std::ptr::null_mut();
            r.headers_len = 0;
        }
        Ok(())
    })
}
