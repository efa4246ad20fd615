//! The bridge from the listener's HTTP requests to a JavaScript handler: the request is read
//! whole, passed as a plain object through a threadsafe function, and the handler's return
//! value (a response object or a Promise of one) becomes the HTTP response.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use http_body_util::BodyExt as _;
use interlink::net::{self, Body};
use interlink::relay::RequestInfo;
use napi::bindgen_prelude::{Buffer, Either, FromNapiValue, Promise};
use napi::threadsafe_function::ThreadsafeFunction;
use napi::{Status, check_status, sys};
use napi_derive::napi;

use crate::listener::body_bytes;

/// An HTTP request a sender sent through the relay, as the handler gets it.
#[napi(object)]
pub struct RelayRequest {
    /// The method, e.g. `GET`.
    pub method: String,
    /// Path and query as sent, including the hybrid connection (e.g. `/hc1/items?x=1`).
    pub url: String,
    /// Request headers, lower-case names; repeated headers joined with `", "`.
    pub headers: HashMap<String, String>,
    /// The whole request body.
    pub body: Buffer,
    /// The relay's request id.
    pub id: String,
    /// The sender's address, if the relay said.
    pub remote_address: Option<String>,
    /// The sender's port, if the relay said.
    pub remote_port: Option<u32>,
    /// `true` when the request came over a rendezvous socket (large bodies).
    pub via_rendezvous: bool,
}

/// What the handler returns (or resolves to).
#[napi(object)]
pub struct RelayResponse {
    /// Status code (default 200).
    pub status: Option<u32>,
    /// Reason phrase (default: the canonical one).
    pub status_text: Option<String>,
    /// Response headers.
    pub headers: Option<HashMap<String, String>>,
    /// The body: bytes or UTF-8 text (default empty).
    pub body: Option<Either<String, Buffer>>,
}

/// A [`RelayResponse`] read only from a JS object (a number or string is refused instead of
/// becoming an empty 200).
pub struct StrictResponse(pub RelayResponse);

impl FromNapiValue for StrictResponse {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut kind = sys::ValueType::napi_undefined;
        // SAFETY: napi hands us a live env and value on the JavaScript thread.
        check_status!(unsafe { sys::napi_typeof(env, value, &mut kind) })?;
        if kind != sys::ValueType::napi_object {
            return Err(napi::Error::new(
                Status::InvalidArg,
                "the handler must return an object {status?, statusText?, headers?, body?}",
            ));
        }
        // SAFETY: as above; the value is an object.
        Ok(StrictResponse(unsafe {
            RelayResponse::from_napi_value(env, value)
        }?))
    }
}

/// What the handler returned: a response, or a Promise of one.
pub enum HandlerReturn {
    /// A Promise, awaited off the JavaScript thread.
    Pending(Promise<StrictResponse>),
    /// A response object.
    Ready(RelayResponse),
}

impl FromNapiValue for HandlerReturn {
    unsafe fn from_napi_value(env: sys::napi_env, value: sys::napi_value) -> napi::Result<Self> {
        let mut is_promise = false;
        // SAFETY: napi hands us a live env and value on the JavaScript thread.
        check_status!(unsafe { sys::napi_is_promise(env, value, &mut is_promise) })?;
        // SAFETY: as above.
        unsafe {
            if is_promise {
                Ok(HandlerReturn::Pending(Promise::from_napi_value(
                    env, value,
                )?))
            } else {
                Ok(HandlerReturn::Ready(
                    StrictResponse::from_napi_value(env, value)?.0,
                ))
            }
        }
    }
}

/// The JavaScript handler as Rust holds it.
pub type HttpHandler =
    ThreadsafeFunction<RelayRequest, HandlerReturn, RelayRequest, napi::Status, false>;

fn text(status: u16, body: &str) -> http::Response<Body> {
    let mut resp = http::Response::new(net::full(body.to_string()));
    *resp.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    resp
}

/// Request headers as a JS record: lower-case names, repeats joined with `", "`.
pub fn header_record(headers: &http::HeaderMap) -> HashMap<String, String> {
    let mut out: HashMap<String, String> = HashMap::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        out.entry(name.as_str().to_string())
            .and_modify(|v| {
                v.push_str(", ");
                v.push_str(&value);
            })
            .or_insert_with(|| value.into_owned());
    }
    out
}

/// Turns the handler's response object into an HTTP response.
pub fn build_response(r: RelayResponse) -> Result<http::Response<Body>, String> {
    let status = r.status.unwrap_or(200);
    let mut b = http::Response::builder()
        .status(u16::try_from(status).map_err(|_| format!("status {status} is out of range"))?);
    if let Some(reason) = r.status_text {
        let phrase = hyper::ext::ReasonPhrase::try_from(reason.into_bytes())
            .map_err(|_| "statusText has characters a reason phrase cannot hold".to_string())?;
        b = b.extension(phrase);
    }
    for (n, v) in r.headers.unwrap_or_default() {
        b = b.header(n, v);
    }
    b.body(net::full(body_bytes(r.body)))
        .map_err(|e| format!("invalid response: {e}"))
}

/// Serves one request with the JavaScript handler in `slot` (501 without one, 500 when the
/// handler throws, rejects or returns something that is not a response).
pub async fn serve(
    slot: Arc<Mutex<Option<Arc<HttpHandler>>>>,
    req: http::Request<Body>,
) -> http::Response<Body> {
    let handler = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let Some(handler) = handler else {
        return text(501, "no HTTP handler is set on this listener");
    };
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(c) => c.to_bytes(),
        Err(_) => return text(400, "the request body broke off"),
    };
    let info = parts.extensions.get::<RequestInfo>();
    let request = RelayRequest {
        method: parts.method.as_str().to_string(),
        url: parts.uri.to_string(),
        headers: header_record(&parts.headers),
        body: Buffer::from(body.to_vec()),
        id: info.map(|i| i.id.clone()).unwrap_or_default(),
        remote_address: info.and_then(|i| i.remote_endpoint.as_ref().map(|r| r.address.clone())),
        remote_port: info.and_then(|i| i.remote_endpoint.as_ref().map(|r| u32::from(r.port))),
        via_rendezvous: info.is_some_and(|i| i.via_rendezvous),
    };
    let returned = match handler.call_async_catch(request).await {
        Ok(r) => r,
        Err(e) => return text(500, &format!("the handler failed: {}", e.reason)),
    };
    let response = match returned {
        HandlerReturn::Pending(pending) => match pending.await {
            Ok(r) => r.0,
            Err(e) => return text(500, &format!("the handler failed: {}", e.reason)),
        },
        HandlerReturn::Ready(r) => r,
    };
    build_response(response).unwrap_or_else(|e| text(500, &e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_headers_are_joined() {
        let mut h = http::HeaderMap::new();
        h.append("x-a", "1".parse().unwrap());
        h.append("x-a", "2".parse().unwrap());
        h.insert("content-type", "text/plain".parse().unwrap());
        let r = header_record(&h);
        assert_eq!(r["x-a"], "1, 2");
        assert_eq!(r["content-type"], "text/plain");
    }

    #[test]
    fn responses_get_status_reason_and_headers() {
        let resp = build_response(RelayResponse {
            status: Some(418),
            status_text: Some("Short And Stout".into()),
            headers: Some(HashMap::from([("x-k".to_string(), "v".to_string())])),
            body: Some(Either::A("tea".into())),
        })
        .unwrap();
        assert_eq!(resp.status(), 418);
        assert_eq!(resp.headers()["x-k"], "v");
        let phrase = resp.extensions().get::<hyper::ext::ReasonPhrase>().unwrap();
        assert_eq!(phrase.as_bytes(), b"Short And Stout");
        let bad = RelayResponse {
            status: Some(70000),
            status_text: None,
            headers: None,
            body: None,
        };
        assert!(build_response(bad).is_err());
    }
}
