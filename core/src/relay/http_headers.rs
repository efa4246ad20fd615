//! Which HTTP headers belong to one connection only. The gateway, the listener and the
//! forwarders all ask here, so a relayed message loses the same headers on every path.

/// Headers that describe one hop (RFC 7230 §6.1, plus `Proxy-Connection` and the `Close`
/// the Hybrid Connections spec lists); compared case-insensitively.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "close",
];

/// True for a hop-by-hop header.
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| name.eq_ignore_ascii_case(h))
}

/// True for a header a relay must not pass on because it frames the body on one connection:
/// every hop-by-hop header and `Content-Length` (the relay frames the body itself).
pub fn is_framing(name: &str) -> bool {
    is_hop_by_hop(name) || name.eq_ignore_ascii_case("content-length")
}

/// The names listed in `Connection` header values (also hop-by-hop), lower-cased.
pub fn named_by_connection<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<String> {
    headers
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
        .flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_ascii_lowercase()))
        .filter(|s| !s.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        for h in [
            "Connection",
            "TRANSFER-ENCODING",
            "te",
            "Upgrade",
            "Keep-Alive",
            "Close",
        ] {
            assert!(is_hop_by_hop(h) && is_framing(h), "{h}");
        }
        assert!(!is_hop_by_hop("Content-Length") && is_framing("content-length"));
        for h in ["Via", "Host", "Content-Type", "X-Te"] {
            assert!(!is_framing(h), "{h}");
        }
        let hs = [
            ("Connection", "keep-alive, X-A ,"),
            ("X-A", "1"),
            ("connection", "x-b"),
        ];
        assert_eq!(named_by_connection(hs), vec!["keep-alive", "x-a", "x-b"]);
    }
}
