//! The Server-Sent Events transport: a streaming `text/event-stream` response carries
//! server→client frames, one unnamed event per frame; the client sends with POST.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_lite::future;
use http::{HeaderValue, Response, header};
use http_body::Frame;
use http_body_util::BodyExt;
use interlink_core::hub::connections::RequestError;
use interlink_core::hub::negotiate::TransportKind;

use super::helpers;
use super::outbox::{Attachment, ConnShared, Next};
use super::route::{RequestInfo, Route};
use crate::net::{self, Body, BodySender};

/// Response headers of an event stream, as .NET sends them.
const HEADERS: [(header::HeaderName, &str); 4] = [
    (header::CONTENT_TYPE, "text/event-stream"),
    (header::CACHE_CONTROL, "no-cache,no-store"),
    (header::PRAGMA, "no-cache"),
    (header::CONTENT_ENCODING, "identity"),
];

/// Appends one frame as an event: each line as `data: <line>\r\n` (a `\r` before a `\n` is
/// part of the line break), then an empty line.
pub(super) fn write_event(out: &mut BytesMut, frame: &[u8]) {
    for line in frame.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// `GET {path}?id=` with `Accept: text/event-stream`.
pub(super) async fn handle(
    route: Arc<Route>,
    id: Option<String>,
    info: RequestInfo,
) -> Response<Body> {
    let attached = route.with_table(|st, now| -> Result<_, RequestError> {
        let attached = st.table.handle_sse(now, id.as_deref())?;
        let registered = st.register(&route, &attached, TransportKind::ServerSentEvents);
        Ok(registered)
    });
    let (conn, events) = match attached {
        Ok(registered) => registered,
        Err(e) => return helpers::text(e.status(), e.to_string()),
    };
    let (abort_tx, abort_rx) = async_channel::bounded(1);
    let attachment = Arc::new(Attachment::new(abort_tx));
    *conn.attachment.lock().unwrap_or_else(|p| p.into_inner()) = Some(attachment.clone());
    if !route.deliver(&conn, events, false, info).await {
        return helpers::text(503, "Service Unavailable");
    }
    let (body_tx, body) = net::channel_body(8);
    let (gone_tx, gone_rx) = async_channel::bounded::<()>(1);
    // A comment first, so that clients see the stream open at once.
    let _ = body_tx.send(Bytes::from_static(b":\r\n")).await;
    smol::spawn(pump(route, conn, attachment, body_tx, abort_rx, gone_rx)).detach();
    let mut resp = Response::new(
        GuardedBody {
            inner: body,
            _gone: gone_tx,
        }
        .boxed(),
    );
    for (name, value) in HEADERS {
        resp.headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    resp
}

/// Writes queued frames as events until the connection ends (graceful: the body ends
/// cleanly), the client goes away, the stream is aborted or the server stops (the body is
/// cut).
async fn pump(
    route: Arc<Route>,
    conn: Arc<ConnShared>,
    attachment: Arc<Attachment>,
    body: BodySender,
    abort: async_channel::Receiver<()>,
    gone: async_channel::Receiver<()>,
) {
    let stop = route.stop.clone();
    let write = async {
        loop {
            match conn.outbox.next().await {
                Next::Frames(frames) => {
                    let mut chunk = BytesMut::new();
                    for frame in &frames {
                        write_event(&mut chunk, &frame.data);
                    }
                    if body.send(chunk.freeze()).await.is_err() {
                        return Some(false);
                    }
                }
                Next::End => return Some(true),
            }
        }
    };
    let interrupted = async {
        future::or(
            async {
                let _ = abort.recv().await;
            },
            future::or(
                async {
                    let _ = gone.recv().await;
                },
                async {
                    let _ = stop.recv().await;
                },
            ),
        )
        .await;
        None
    };
    let graceful = future::or(write, interrupted).await;
    match graceful {
        Some(true) => drop(body),
        _ => body.abort(),
    }
    attachment.end(&route, &conn.token, graceful.unwrap_or(false));
}

/// A response body that tells, by dropping `_gone`, when hyper let go of it (the client
/// disconnected or the response finished).
struct GuardedBody {
    inner: Body,
    _gone: async_channel::Sender<()>,
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_data_lines_and_a_blank_line() {
        let mut out = BytesMut::new();
        write_event(&mut out, b"{\"type\":6}\x1e");
        assert_eq!(&out[..], b"data: {\"type\":6}\x1e\r\n\r\n");
        let mut out = BytesMut::new();
        write_event(&mut out, b"a\r\nb\nc");
        assert_eq!(&out[..], b"data: a\r\ndata: b\r\ndata: c\r\n\r\n");
    }
}
