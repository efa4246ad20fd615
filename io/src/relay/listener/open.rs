//! Opening WebSockets for the listener and the sender: the relay's control channel and
//! rendezvous addresses (used verbatim), rejects, and reading what a sender asked for.

use std::time::Duration;

use bytes::BytesMut;
use interlink_core::relay::address::{filter_query, reject_url};
use interlink_core::relay::message::Headers;
use interlink_core::ws::generate_key;

use crate::net::{self, ClientTls, HandshakeOutcome, HttpHead, Stream, Target, with_timeout};
use crate::relay::error::RelayError;

/// The refusal of a WebSocket handshake as an error: the reason phrase, or the start of the
/// body when the phrase is empty.
pub(crate) fn refusal(head: &HttpHead, body: &[u8]) -> RelayError {
    let reason = if head.reason.trim().is_empty() {
        let text = String::from_utf8_lossy(body);
        text.chars()
            .take(200)
            .collect::<String>()
            .trim()
            .to_string()
    } else {
        head.reason.clone()
    };
    RelayError::Refused {
        status: head.status,
        reason,
    }
}

/// Opens a WebSocket to `url` (used verbatim) within `limit`: TCP, TLS for `wss`, the
/// handshake offering `protocols` with `headers`. A non-101 answer is
/// [`RelayError::Refused`].
pub(crate) async fn open_ws(
    url: &str,
    protocols: &[&str],
    headers: &[(&str, &str)],
    tls: &ClientTls,
    limit: Duration,
) -> Result<(Stream, BytesMut, HttpHead), RelayError> {
    let target = Target::parse(url)?;
    let outcome = with_timeout(limit, async {
        let stream = net::connect(&target, tls).await?;
        let key = generate_key(&mut fastrand::Rng::new());
        net::ws_handshake(stream, &target, &key, protocols, headers).await
    })
    .await
    .map_err(RelayError::from_net)?;
    match outcome {
        HandshakeOutcome::Upgraded {
            head,
            stream,
            leftover,
        } => Ok((stream, leftover, head)),
        HandshakeOutcome::Refused { head, body } => Err(refusal(&head, &body)),
    }
}

/// Answers an accept with a rejection: connects to the reject URL; the relay's 410 is
/// success.
pub(crate) async fn reject(
    address: &str,
    status: u16,
    description: &str,
    tls: &ClientTls,
    limit: Duration,
) -> Result<(), RelayError> {
    let description = if description.is_empty() {
        interlink_core::relay::message::default_reason(status)
    } else {
        description
    };
    let url = reject_url(address, status, description);
    match open_ws(&url, &[], &[], tls, limit).await {
        Err(RelayError::Refused { status: 410, .. }) => Ok(()),
        // A relay that upgrades a reject has still got the message; drop the socket.
        Ok(_) => Ok(()),
        Err(e) => Err(e),
    }
}

/// The subprotocols a sender offered, from its `connectHeaders`, in order.
pub fn offered_protocols(headers: &Headers) -> Vec<String> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Sec-WebSocket-Protocol"))
        .flat_map(|(_, v)| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// The path and query a sender asked for, from a rendezvous address: `/$hc` removed, the
/// query without `sb-hc-*` parameters (`ws://r/$hc/hc1/a?x=1&sb-hc-action=accept` →
/// `/hc1/a?x=1`).
pub fn sender_path(address: &str) -> String {
    let pq = match Target::parse(address) {
        Ok(t) => t.path_and_query,
        Err(_) => return "/".into(),
    };
    let (path, query) = match pq.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (pq.as_str(), None),
    };
    let rest = ["/$hc", "/%24hc"]
        .iter()
        .find_map(|prefix| {
            let head = path.get(..prefix.len())?;
            head.eq_ignore_ascii_case(prefix)
                .then(|| &path[prefix.len()..])
                .filter(|r| r.is_empty() || r.starts_with('/'))
        })
        .unwrap_or(path);
    let mut out = if rest.is_empty() {
        "/".to_string()
    } else {
        rest.to_string()
    };
    if let Some(q) = query.and_then(filter_query) {
        out.push('?');
        out.push_str(&q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sender_paths_and_protocols() {
        assert_eq!(
            sender_path("ws://127.0.0.1:9/$hc/hc1/chat?room=1&sb-hc-action=accept&sb-hc-id=x"),
            "/hc1/chat?room=1"
        );
        assert_eq!(
            sender_path("wss://g1.example/%24HC/hc1?sb-hc-action=accept&sb-hc-id=x"),
            "/hc1"
        );
        assert_eq!(sender_path("ws://h/other/p"), "/other/p");
        let mut h = Headers::new();
        h.append_joined("Sec-WebSocket-Key", "k");
        h.append_joined("sec-websocket-protocol", "chat.v2, chat.v1");
        assert_eq!(offered_protocols(&h), vec!["chat.v2", "chat.v1"]);
        assert!(offered_protocols(&Headers::new()).is_empty());
    }

    #[test]
    fn refusals_use_the_reason_or_the_body() {
        let head = HttpHead {
            status: 401,
            reason: String::new(),
            headers: vec![],
        };
        let e = refusal(&head, b"TokenMissingOrInvalid\n");
        assert!(
            matches!(&e, RelayError::Refused { status: 401, reason } if reason == "TokenMissingOrInvalid")
        );
    }
}
