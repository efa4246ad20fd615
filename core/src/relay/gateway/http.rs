//! HTTP header rules of the relay for senders' requests and listeners' responses.
//!
//! Request side (spec §2, §3): hop-by-hop headers are stripped (and any header the
//! `Connection` header names), `Via` is kept, repeated headers are joined with `", "`, and the
//! authorization header is taken out following Azure's precedence. Response side: framing
//! headers the listener may send are dropped (the gateway frames the response itself) and the
//! gateway's host is appended to `Via`.

use crate::relay::http_headers::{is_framing, named_by_connection};
use crate::relay::message::Headers;
use percent_encoding::percent_decode_str;

/// Where a sender's token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderToken {
    /// The token text (query value percent-decoded once).
    pub token: String,
}

/// The `sb-hc-token` query value of a raw query, percent-decoded once.
pub fn query_token(query: Option<&str>) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.eq_ignore_ascii_case("sb-hc-token")
            .then(|| percent_decode_str(value).decode_utf8_lossy().into_owned())
    })
}

/// Filters a sender's request headers for the listener and extracts its token.
///
/// `headers` holds the raw request headers in order (repeats as separate entries); the result
/// has hop-by-hop and auth headers removed and repeats joined. `query_token` is the
/// `sb-hc-token` from the query, if any. `auth_required` tells whether the hybrid connection
/// checks sender tokens (it decides whether a plain `Authorization` header is consumed).
pub fn filter_request_headers(
    headers: &[(String, String)],
    query_token: Option<String>,
    auth_required: bool,
) -> (Headers, Option<SenderToken>) {
    let named_by_connection =
        named_by_connection(headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    let find = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let (token, strip) = if let Some(t) = query_token {
        (Some(t), None)
    } else if let Some(t) = find("ServiceBusAuthorization") {
        (Some(t), Some("servicebusauthorization"))
    } else if auth_required {
        (find("Authorization"), Some("authorization"))
    } else {
        (None, None)
    };
    let mut out = Headers::new();
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if is_framing(&lower)
            || lower == "host"
            || named_by_connection.contains(&lower)
            || Some(lower.as_str()) == strip
        {
            continue;
        }
        out.append_joined(name, value);
    }
    (out, token.map(|token| SenderToken { token }))
}

/// Prepares a listener's response headers for the sender: drops framing headers and appends
/// `1.1 {via_host}` to `Via`.
pub fn filter_response_headers(headers: &Headers, via_host: &str) -> Headers {
    let mut out = Headers::new();
    for (name, value) in headers.iter() {
        if is_framing(name) {
            continue;
        }
        out.append_joined(name, value);
    }
    out.append_joined("Via", &format!("1.1 {via_host}"));
    out
}

/// The body of the 504 the gateway answers when the listener did not respond in time.
pub fn gateway_timeout_body(timeout_secs: u64) -> String {
    format!(
        "{{\"error\":{{\"code\":\"GatewayTimeout\",\"message\":\"The request was routed to the listener but the listener did not respond in the required time ({timeout_secs} s).\"}}}}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn strips_hop_by_hop_and_joins_repeats() {
        let raw = h(&[
            ("Host", "x"),
            ("Connection", "keep-alive, X-Private"),
            ("X-Private", "1"),
            ("Content-Length", "5"),
            ("Transfer-Encoding", "chunked"),
            ("X-A", "v1"),
            ("x-a", "v2"),
            ("Via", "1.1 proxy"),
            ("ServiceBusAuthorization", "tok"),
        ]);
        let (out, token) = filter_request_headers(&raw, None, true);
        assert_eq!(token.unwrap().token, "tok");
        assert_eq!(out.get("X-A"), Some("v1, v2"));
        assert_eq!(out.get("Via"), Some("1.1 proxy"));
        for gone in [
            "Host",
            "Connection",
            "X-Private",
            "Content-Length",
            "Transfer-Encoding",
            "ServiceBusAuthorization",
        ] {
            assert_eq!(out.get(gone), None, "{gone} should be stripped");
        }
    }

    #[test]
    fn auth_precedence() {
        let raw = h(&[
            ("ServiceBusAuthorization", "sba"),
            ("Authorization", "Bearer x"),
        ]);
        // Query token wins; headers stay.
        let (out, t) = filter_request_headers(&raw, Some("q".into()), true);
        assert_eq!(t.unwrap().token, "q");
        assert_eq!(out.get("ServiceBusAuthorization"), Some("sba"));
        assert_eq!(out.get("Authorization"), Some("Bearer x"));
        // ServiceBusAuthorization is always taken, Authorization passes.
        let (out, t) = filter_request_headers(&raw, None, false);
        assert_eq!(t.unwrap().token, "sba");
        assert_eq!(out.get("ServiceBusAuthorization"), None);
        assert_eq!(out.get("Authorization"), Some("Bearer x"));
        // Authorization is consumed only when auth is on.
        let only = h(&[("Authorization", "SharedAccessSignature sr=a")]);
        let (out, t) = filter_request_headers(&only, None, true);
        assert_eq!(t.unwrap().token, "SharedAccessSignature sr=a");
        assert_eq!(out.get("Authorization"), None);
        let (out, t) = filter_request_headers(&only, None, false);
        assert!(t.is_none());
        assert_eq!(out.get("Authorization"), Some("SharedAccessSignature sr=a"));
    }

    #[test]
    fn query_token_is_decoded_once() {
        assert_eq!(
            query_token(Some("a=1&sb-hc-token=SharedAccessSignature%20sr%3Dx&b")).as_deref(),
            Some("SharedAccessSignature sr=x")
        );
        assert_eq!(query_token(Some("a=1")), None);
        assert_eq!(query_token(None), None);
    }

    #[test]
    fn response_headers_lose_framing_and_gain_via() {
        let mut hs = Headers::new();
        hs.append_joined("content-length", "10");
        hs.append_joined("transfer-encoding", "chunked");
        hs.append_joined("x-b", "1");
        hs.append_joined("Via", "1.1 app");
        let out = filter_response_headers(&hs, "ns.example");
        assert_eq!(out.get("content-length"), None);
        assert_eq!(out.get("transfer-encoding"), None);
        assert_eq!(out.get("x-b"), Some("1"));
        assert_eq!(out.get("via"), Some("1.1 app, 1.1 ns.example"));
    }

    #[test]
    fn timeout_body_is_json() {
        let v: serde_json::Value = serde_json::from_str(&gateway_timeout_body(60)).unwrap();
        assert_eq!(v["error"]["code"], "GatewayTimeout");
    }
}
