//! Small request readers and response builders shared by the transport handlers.

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Response, StatusCode, header};
use interlink_core::hub::negotiate::query_pairs;

use crate::net::{self, Body};

/// The bearer token of a request: `Authorization: Bearer <t>` (scheme case-insensitive),
/// else the decoded `access_token` query parameter.
pub(super) fn bearer(headers: &HeaderMap, query: Option<&str>) -> Option<String> {
    let from_header = headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| token.trim().to_owned())
        });
    from_header.or_else(|| {
        query_pairs(query?)
            .find(|(n, _)| n == "access_token")
            .map(|(_, v)| v)
    })
}

/// `true` when the request asks for a WebSocket upgrade.
pub(super) fn is_websocket(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
}

/// `true` when the request accepts `text/event-stream`.
pub(super) fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            t.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/event-stream"))
        })
}

/// The decoded query without `access_token` (a secret).
pub(super) fn query_list(query: Option<&str>) -> Vec<(String, String)> {
    query_pairs(query.unwrap_or(""))
        .filter(|(n, _)| n != "access_token")
        .collect()
}

/// Headers handed to the hub layer: all but credentials and the WebSocket handshake.
pub(super) fn header_list(headers: &HeaderMap) -> Vec<(String, String)> {
    const SKIP: &[&str] = &["authorization", "cookie", "connection", "upgrade"];
    headers
        .iter()
        .filter(|(n, _)| {
            let n = n.as_str();
            !SKIP.contains(&n) && !n.starts_with("sec-websocket-")
        })
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn build(status: u16, content_type: Option<&'static str>, body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if let Some(ct) = content_type {
        resp.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    }
    resp
}

/// A plain-text answer.
pub(super) fn text(status: u16, body: impl Into<String>) -> Response<Body> {
    let body: String = body.into();
    build(
        status,
        Some("text/plain; charset=utf-8"),
        net::full(Bytes::from(body)),
    )
}

/// A JSON answer with status 200.
pub(super) fn json(body: String) -> Response<Body> {
    build(200, Some("application/json"), net::full(Bytes::from(body)))
}

/// An answer without a body (204, 202, 200).
pub(super) fn empty(status: u16) -> Response<Body> {
    build(status, None, net::empty())
}

/// A 200 carrying `body` with `content_type`.
pub(super) fn bytes(content_type: &'static str, body: Bytes) -> Response<Body> {
    build(200, Some(content_type), net::full(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn bearer_from_header_or_query() {
        let h = headers(&[("authorization", "bearer abc")]);
        assert_eq!(bearer(&h, Some("access_token=q")).as_deref(), Some("abc"));
        let h = headers(&[("authorization", "Basic x")]);
        assert_eq!(
            bearer(&h, Some("a=1&access_token=a%2Bb")).as_deref(),
            Some("a+b")
        );
        assert_eq!(bearer(&HeaderMap::new(), None), None);
    }

    #[test]
    fn request_kinds() {
        assert!(is_websocket(&headers(&[("upgrade", "WebSocket")])));
        assert!(!is_websocket(&headers(&[("upgrade", "h2c")])));
        assert!(wants_event_stream(&headers(&[(
            "accept",
            "text/html, text/event-stream;q=0.9"
        )])));
        assert!(!wants_event_stream(&headers(&[("accept", "*/*")])));
    }

    #[test]
    fn secrets_are_not_passed_on() {
        let q = query_list(Some("id=1&access_token=s&x=%20"));
        assert_eq!(q, [("id".into(), "1".into()), ("x".into(), " ".into())]);
        let h = header_list(&headers(&[
            ("authorization", "Bearer s"),
            ("cookie", "c"),
            ("sec-websocket-key", "k"),
            ("user-agent", "ua"),
        ]));
        assert_eq!(h, [("user-agent".to_string(), "ua".to_string())]);
    }
}
