//! Clients: [`request`] (HTTP/1.1 through hyper) and [`ws_handshake`] (a raw WebSocket
//! opening handshake read with httparse).

use bytes::{Bytes, BytesMut};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use hyper::body::Incoming;
use interlink_core::ws;
use smol_hyper::rt::FuturesIo;

use super::body::Body;
use super::error::{HandshakeError, NetError};
use super::stream::Stream;
use super::tls::{ClientTls, connect};
use super::url::Target;

/// Largest response head [`ws_handshake`] accepts, in bytes.
pub const MAX_HEAD_LEN: usize = 16 * 1024;

/// Largest refusal body [`ws_handshake`] reads, in bytes; longer bodies are truncated.
pub const MAX_REFUSAL_BODY_LEN: usize = 64 * 1024;

/// Sends one HTTP/1.1 request over a fresh connection to `target` and returns the response
/// as soon as its head has arrived; the body streams.
///
/// The request is sent as given, except that an absolute URI is reduced to its path and
/// query and a missing `Host` header is set to [`Target::authority`]. `target.path_and_query`
/// is not used: build the request URI from it. The connection is driven by a task on smol's
/// global executor that ends with the response body (read to its end or dropped). A `101`
/// response can be turned into a stream with `hyper::upgrade::on(&mut response)` and
/// [`upgraded`](super::upgraded).
///
/// It does no pooling, no redirects, no retries, no decompression and has no timeout (wrap
/// it in [`with_timeout`](super::with_timeout)).
pub async fn request(
    target: &Target,
    tls: &ClientTls,
    mut req: http::Request<Body>,
) -> Result<http::Response<Incoming>, NetError> {
    if req.uri().scheme().is_some() || req.uri().authority().is_some() {
        let origin = req
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .parse()
            .expect("a URI's path and query is a valid origin-form URI");
        *req.uri_mut() = origin;
    }
    if !req.headers().contains_key(http::header::HOST) {
        let host = http::HeaderValue::from_str(&target.authority()).map_err(|_| {
            NetError::InvalidHeader {
                name: "host".into(),
            }
        })?;
        req.headers_mut().insert(http::header::HOST, host);
    }
    let stream = connect(target, tls).await?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(FuturesIo::new(stream)).await?;
    smol::spawn(async move {
        if let Err(e) = conn.with_upgrades().await {
            tracing::debug!(error = %e, "HTTP client connection ended with an error");
        }
    })
    .detach();
    Ok(sender.send_request(req).await?)
}

/// The status line and headers of an HTTP/1.x response, as read by [`ws_handshake`].
///
/// Header names keep the case the server sent; values that are not UTF-8 are converted
/// lossily. It does not keep the HTTP version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpHead {
    /// Status code, e.g. `101` or `404`.
    pub status: u16,
    /// Reason phrase as sent (Azure Relay puts error details here), possibly empty.
    pub reason: String,
    /// Headers in the order received.
    pub headers: Vec<(String, String)>,
}

impl HttpHead {
    /// The value of the first header called `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `true` when some `name` header lists `token` among its comma-separated values
    /// (case-insensitive), e.g. `has_token("connection", "upgrade")`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }
}

/// The result of [`ws_handshake`]: the server either switched protocols or answered with
/// something else.
#[derive(Debug)]
pub enum HandshakeOutcome {
    /// `101 Switching Protocols`, checked (`Upgrade`, `Connection`, `Sec-WebSocket-Accept`,
    /// subprotocol). `leftover` holds bytes read past the head: the start of the WebSocket
    /// byte stream, to be consumed before reading `stream`.
    Upgraded {
        /// The response head.
        head: HttpHead,
        /// The connection, positioned after `leftover`.
        stream: Stream,
        /// Bytes that arrived behind the head.
        leftover: BytesMut,
    },
    /// Any other status (404, 401, 410, ...): the head and up to
    /// [`MAX_REFUSAL_BODY_LEN`] bytes of body. The connection has been dropped.
    Refused {
        /// The response head.
        head: HttpHead,
        /// The response body, best-effort: possibly truncated, or cut short by EOF.
        body: Bytes,
    },
}

/// Runs the client side of a WebSocket opening handshake (RFC 6455 §4.1) over a connected
/// `stream`.
///
/// Writes `GET target.path_and_query` with `Host`, `Upgrade: websocket`,
/// `Connection: Upgrade`, `Sec-WebSocket-Key: key`, `Sec-WebSocket-Version: 13`,
/// `Sec-WebSocket-Protocol` when `protocols` is not empty, then `extra_headers` in order.
/// A `Host` among `extra_headers` replaces the default one; the other headers listed above
/// may not appear there ([`NetError::InvalidHeader`]). `key` is sent as given (it should be
/// 16 random bytes in base64).
///
/// A non-101 answer is not an error: it comes back as [`HandshakeOutcome::Refused`] so
/// callers can act on 404 / 410 / 401 and the reason phrase. A 101 that fails the checks,
/// a head over [`MAX_HEAD_LEN`] or EOF before the head is complete are
/// [`NetError::Handshake`] errors. It has no timeout (wrap it in
/// [`with_timeout`](super::with_timeout)) and does no WebSocket framing or extension
/// negotiation.
pub async fn ws_handshake(
    mut stream: Stream,
    target: &Target,
    key: &str,
    protocols: &[&str],
    extra_headers: &[(&str, &str)],
) -> Result<HandshakeOutcome, NetError> {
    let request = build_ws_request(target, key, protocols, extra_headers)?;
    stream.write_all(&request).await?;
    stream.flush().await?;

    let mut buf = BytesMut::with_capacity(4096);
    let (head, head_len) = read_head(&mut stream, &mut buf).await?;
    let leftover = buf.split_off(head_len);

    if head.status != 101 {
        let body = read_refusal_body(&mut stream, &head, leftover).await?;
        return Ok(HandshakeOutcome::Refused { head, body });
    }
    // The RFC 6455 checks (Upgrade, Connection, Accept, no extension, one protocol) are
    // the core's; offering is ours.
    let core_head = ws::ResponseHead {
        status: head.status,
        reason: head.reason.clone(),
        headers: head.headers.clone(),
        head_len,
    };
    if let Some(selected) = ws::validate_101(&core_head, key).map_err(HandshakeError::Invalid)?
        && !protocols.contains(&selected.as_str())
    {
        return Err(HandshakeError::UnexpectedProtocol(selected).into());
    }
    Ok(HandshakeOutcome::Upgraded {
        head,
        stream,
        leftover,
    })
}

const RESERVED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-protocol",
];

fn build_ws_request(
    target: &Target,
    key: &str,
    protocols: &[&str],
    extra_headers: &[(&str, &str)],
) -> Result<Vec<u8>, NetError> {
    fn check(name: &str, value: &str) -> Result<(), NetError> {
        let invalid = || NetError::InvalidHeader {
            name: name.to_owned(),
        };
        http::HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        http::HeaderValue::from_str(value).map_err(|_| invalid())?;
        Ok(())
    }

    let mut host = target.authority();
    let mut extra = Vec::with_capacity(extra_headers.len());
    for &(name, value) in extra_headers {
        check(name, value)?;
        if name.eq_ignore_ascii_case("host") {
            host = value.to_owned();
        } else if RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) {
            return Err(NetError::InvalidHeader {
                name: name.to_owned(),
            });
        } else {
            extra.push((name, value));
        }
    }
    check("sec-websocket-key", key)?;
    check("sec-websocket-protocol", &protocols.join(", "))?;

    let protocols: Vec<&str> = protocols.to_vec();
    Ok(ws::client_request(
        &host,
        &target.path_and_query,
        key,
        &protocols,
        &extra,
    ))
}

/// Reads more bytes into `buf`; `false` on EOF.
async fn fill(stream: &mut Stream, buf: &mut BytesMut) -> std::io::Result<bool> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads until `buf` starts with a complete response head; returns it and its length.
async fn read_head(stream: &mut Stream, buf: &mut BytesMut) -> Result<(HttpHead, usize), NetError> {
    loop {
        if !buf.is_empty() {
            if let Some(h) = ws::parse_response(buf).map_err(|e| match e {
                ws::HandshakeError::HeadTooLarge => HandshakeError::HeadTooLarge(MAX_HEAD_LEN),
                other => HandshakeError::Invalid(other),
            })? {
                let head = HttpHead {
                    status: h.status,
                    reason: h.reason,
                    headers: h.headers,
                };
                return Ok((head, h.head_len));
            }
            if buf.len() >= MAX_HEAD_LEN {
                return Err(HandshakeError::HeadTooLarge(MAX_HEAD_LEN).into());
            }
        }
        if !fill(stream, buf).await? {
            return Err(HandshakeError::UnexpectedEof.into());
        }
    }
}

/// Reads the body of a non-101 response: by `Content-Length`, chunked, or to EOF; at most
/// [`MAX_REFUSAL_BODY_LEN`] bytes, stopping early (without error) at EOF or a malformed
/// chunk.
async fn read_refusal_body(
    stream: &mut Stream,
    head: &HttpHead,
    mut buf: BytesMut,
) -> Result<Bytes, NetError> {
    let cap = MAX_REFUSAL_BODY_LEN;
    if matches!(head.status, 100..=199 | 204 | 304) {
        return Ok(Bytes::new());
    }
    if head.has_token("transfer-encoding", "chunked") {
        let mut body = BytesMut::new();
        while body.len() < cap {
            let (size_len, size) = match httparse::parse_chunk_size(&buf) {
                Ok(httparse::Status::Complete(parsed)) => parsed,
                Ok(httparse::Status::Partial) => {
                    if fill(stream, &mut buf).await? {
                        continue;
                    }
                    break;
                }
                Err(_) => break,
            };
            if size == 0 {
                break;
            }
            let want = usize::try_from(size)
                .unwrap_or(usize::MAX)
                .min(cap - body.len());
            let _ = buf.split_to(size_len);
            while buf.len() < want && fill(stream, &mut buf).await? {}
            let take = want.min(buf.len());
            body.extend_from_slice(&buf.split_to(take));
            if take < want || size > want as u64 {
                break; // EOF inside the chunk, or the cap was reached
            }
            while buf.len() < 2 && fill(stream, &mut buf).await? {}
            if !buf.starts_with(b"\r\n") {
                break;
            }
            let _ = buf.split_to(2);
        }
        return Ok(body.freeze());
    }
    let limit = match head
        .header("content-length")
        .map(|v| v.trim().parse::<u64>())
    {
        Some(Ok(n)) => usize::try_from(n).unwrap_or(usize::MAX).min(cap),
        Some(Err(_)) => 0,
        None => cap, // close-delimited
    };
    while buf.len() < limit && fill(stream, &mut buf).await? {}
    buf.truncate(limit);
    Ok(buf.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_upgrade_request() {
        let target = Target::parse("wss://relay.example:8443/$hc/e?sb-hc-action=connect").unwrap();
        let req = build_ws_request(
            &target,
            "a2V5a2V5a2V5a2V5a2V5aw==",
            &["chat", "superchat"],
            &[("ServiceBusAuthorization", "SharedAccessSignature sr=x")],
        )
        .unwrap();
        assert_eq!(
            String::from_utf8(req).unwrap(),
            "GET /$hc/e?sb-hc-action=connect HTTP/1.1\r\n\
             Host: relay.example:8443\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Key: a2V5a2V5a2V5a2V5a2V5aw==\r\n\
             Sec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: chat, superchat\r\n\
             ServiceBusAuthorization: SharedAccessSignature sr=x\r\n\r\n"
        );
    }

    #[test]
    fn rejects_bad_or_reserved_extra_headers() {
        let target = Target::parse("ws://h/").unwrap();
        for bad in [
            ("X-A", "v\r\nInjected: 1"),
            ("Bad Name", "v"),
            ("Connection", "close"),
        ] {
            assert!(
                matches!(
                    build_ws_request(&target, "k", &[], &[bad]),
                    Err(NetError::InvalidHeader { .. })
                ),
                "{bad:?}"
            );
        }
        let req = build_ws_request(&target, "k", &[], &[("host", "other:1")]).unwrap();
        let req = String::from_utf8(req).unwrap();
        assert!(req.contains("Host: other:1\r\n") && !req.contains("Host: h\r\n"));
    }

    #[test]
    fn head_tokens_and_lookup() {
        let head = HttpHead {
            status: 101,
            reason: "Switching Protocols".into(),
            headers: vec![
                ("Connection".into(), "keep-alive, Upgrade".into()),
                ("upgrade".into(), "WebSocket".into()),
            ],
        };
        assert!(head.has_token("connection", "upgrade"));
        assert!(head.has_token("Upgrade", "websocket"));
        assert_eq!(head.header("UPGRADE"), Some("WebSocket"));
        assert_eq!(head.header("missing"), None);
    }
}
