//! Hybrid Connection addresses from C: listen / connect / HTTP URLs, token audiences,
//! reject URLs and the `sb-hc-*` query filter. Every result is a caller-owned string.

use std::ffi::c_char;

use interlink_core::relay::address::{Endpoint, filter_query, reject_url};

use crate::boundary::interlink_result;
use crate::memory::{opt_str_arg, owned_string, str_arg, write_out};

/// A relay namespace: host, port (0 = the scheme's default) and TLS (`wss`/`https`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct interlink_endpoint {
    /// Host name or IP address (IPv6 without brackets).
    pub host: *const c_char,
    /// Port; 0 for the scheme's default.
    pub port: u16,
    /// true: `wss`/`https`; false: `ws`/`http`.
    pub secure: bool,
}

/// Reads an endpoint argument.
///
/// # Safety
/// `ep` is NULL or points to an endpoint whose host string is valid.
unsafe fn endpoint(ep: *const interlink_endpoint) -> Result<Endpoint, crate::boundary::Error> {
    // SAFETY: per the contract.
    let ep = unsafe { ep.as_ref() }.ok_or_else(|| crate::boundary::Error::null("endpoint"))?;
    // SAFETY: per the contract.
    let host = unsafe { str_arg(ep.host, "endpoint.host") }?;
    Ok(Endpoint::new(
        ep.secure,
        host,
        (ep.port != 0).then_some(ep.port),
    ))
}

/// The listener's control channel URL:
/// `ws[s]://host[:port]/$hc/{entity_path}?sb-hc-action=listen[&sb-hc-id=…][&sb-hc-token=…]`.
/// `id` and `token` are optional. Free `*url_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_address_listen_url(
    endpoint: *const interlink_endpoint,
    entity_path: *const c_char,
    id: *const c_char,
    token: *const c_char,
    url_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(endpoint, entity_path, url_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let ep = self::endpoint(endpoint)?;
            let url = ep.listen_url(
                str_arg(entity_path, "entity_path")?,
                opt_str_arg(id, "id")?,
                opt_str_arg(token, "token")?,
            );
            write_out(url_out, owned_string(&url), "url_out")
        }
    })
}

/// A sender's WebSocket URL: `ws[s]://host[:port]/$hc/{entity_path}[/{suffix}]?[{app_query}&]sb-hc-action=connect[&sb-hc-id=…][&sb-hc-token=…]`.
/// `suffix` is decoded text, `app_query` already-encoded query text; `suffix`, `app_query`,
/// `id` and `token` are optional. Free `*url_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_address_connect_url(
    endpoint: *const interlink_endpoint,
    entity_path: *const c_char,
    suffix: *const c_char,
    app_query: *const c_char,
    id: *const c_char,
    token: *const c_char,
    url_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(endpoint, entity_path, url_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let ep = self::endpoint(endpoint)?;
            let url = ep.connect_url(
                str_arg(entity_path, "entity_path")?,
                opt_str_arg(suffix, "suffix")?,
                opt_str_arg(app_query, "app_query")?,
                opt_str_arg(id, "id")?,
                opt_str_arg(token, "token")?,
            );
            write_out(url_out, owned_string(&url), "url_out")
        }
    })
}

/// An HTTP sender's URL: `http[s]://host[:port]/{entity_path}[{path_and_query}]`
/// (`path_and_query` optional, already encoded). Free `*url_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_address_http_url(
    endpoint: *const interlink_endpoint,
    entity_path: *const c_char,
    path_and_query: *const c_char,
    url_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(endpoint, entity_path, url_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let ep = self::endpoint(endpoint)?;
            let url = ep.http_url(
                str_arg(entity_path, "entity_path")?,
                opt_str_arg(path_and_query, "path_and_query")?,
            );
            write_out(url_out, owned_string(&url), "url_out")
        }
    })
}

/// The token audience for an entity: `http://host[:port]/{entity_path}` (the resource to
/// pass to interlink_sas_create_token). Free `*audience_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_address_audience(
    endpoint: *const interlink_endpoint,
    entity_path: *const c_char,
    audience_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(endpoint, entity_path, audience_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let ep = self::endpoint(endpoint)?;
            let aud = ep.audience(str_arg(entity_path, "entity_path")?);
            write_out(audience_out, owned_string(&aud), "audience_out")
        }
    })
}

/// The URL that rejects a sender: the accept address plus `sb-hc-statusCode` and
/// `sb-hc-statusDescription`. Free `*url_out` with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_address_reject_url(
    accept_address: *const c_char,
    status: u16,
    description: *const c_char,
    url_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(accept_address, url_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let url = reject_url(
                str_arg(accept_address, "accept_address")?,
                status,
                opt_str_arg(description, "description")?.unwrap_or(""),
            );
            write_out(url_out, owned_string(&url), "url_out")
        }
    })
}

/// The query a listener sees: `query` without its `sb-hc-*` parameters. `*query_out` is
/// NULL when nothing remains, else a string to free with interlink_string_free.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn interlink_address_filter_query(
    query: *const c_char,
    query_out: *mut *mut c_char,
) -> interlink_result {
    ffi!(query, query_out => {
        // SAFETY: caller's contract on every pointer.
        unsafe {
            let kept = filter_query(str_arg(query, "query")?);
            let out = kept.map_or(std::ptr::null_mut(), |q| owned_string(&q));
            write_out(query_out, out, "query_out")
        }
    })
}
