//! The long-polling transport: each `GET {path}?id=` takes every queued frame (200), or is
//! held until frames arrive or the poll timeout passes (200 empty), or ends with 204 when a
//! newer poll replaces it or the connection is over. The client sends with POST and ends
//! with DELETE.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_lite::future;
use http::Response;
use interlink_core::hub::connections::{PollAnswer, PollId, PollReply, RequestError};
use interlink_core::hub::negotiate::TransportKind;

use super::helpers;
use super::outbox::{ConnShared, Frame};
use super::route::{RequestInfo, Route};
use crate::net::Body;

enum Poll {
    Started(
        Arc<ConnShared>,
        async_channel::Receiver<super::TransportEvent>,
    ),
    Content(Option<Arc<ConnShared>>),
    NoContent,
    Held(
        PollId,
        async_channel::Receiver<PollReply>,
        Option<Arc<ConnShared>>,
    ),
}

/// `GET {path}?id=` that is neither a WebSocket upgrade nor an event stream.
pub(super) async fn handle(
    route: Arc<Route>,
    id: Option<String>,
    info: RequestInfo,
) -> Response<Body> {
    let poll = route.with_table(|st, now| -> Result<Poll, RequestError> {
        let conn = id.as_ref().and_then(|t| st.conns.get(t).cloned());
        let has_data = conn.as_ref().is_some_and(|c| c.outbox.has_frames());
        Ok(match st.table.handle_poll(now, id.as_deref(), has_data)? {
            PollAnswer::Started(attached) => {
                let (conn, events) = st.register(&route, &attached, TransportKind::LongPolling);
                Poll::Started(conn, events)
            }
            PollAnswer::Content => Poll::Content(conn),
            PollAnswer::NoContent => Poll::NoContent,
            PollAnswer::Held(poll) => {
                let (tx, rx) = async_channel::bounded(1);
                st.polls.insert(poll, tx);
                Poll::Held(poll, rx, conn)
            }
        })
    });
    let poll = match poll {
        Ok(poll) => poll,
        Err(e) => return helpers::text(e.status(), e.to_string()),
    };
    match poll {
        Poll::Started(conn, events) => {
            if route.deliver(&conn, events, false, info).await {
                helpers::empty(200)
            } else {
                helpers::text(503, "Service Unavailable")
            }
        }
        Poll::Content(conn) => answer(conn.map(|c| c.outbox.drain()).unwrap_or_default()),
        Poll::NoContent => helpers::empty(204),
        Poll::Held(poll, rx, conn) => {
            let mut guard = AbandonGuard {
                route: route.clone(),
                token: id.unwrap_or_default(),
                poll,
                armed: true,
            };
            let stop = route.stop.clone();
            let reply = future::or(async { rx.recv().await.ok() }, async {
                let _ = stop.recv().await;
                None
            })
            .await;
            guard.armed = false;
            match reply {
                Some(PollReply::Content) => {
                    answer(conn.map(|c| c.outbox.drain()).unwrap_or_default())
                }
                Some(PollReply::NoContent) | None => helpers::empty(204),
            }
        }
    }
}

/// 200 with the frames concatenated; binary if any frame is.
fn answer(frames: Vec<Frame>) -> Response<Body> {
    let binary = frames.iter().any(|f| f.binary);
    let body = match frames.len() {
        0 => Bytes::new(),
        1 => frames
            .into_iter()
            .next()
            .map(|f| f.data)
            .unwrap_or_default(),
        _ => {
            let mut all = BytesMut::with_capacity(frames.iter().map(|f| f.data.len()).sum());
            for frame in &frames {
                all.extend_from_slice(&frame.data);
            }
            all.freeze()
        }
    };
    let content_type = if binary {
        "application/octet-stream"
    } else {
        "text/plain; charset=utf-8"
    };
    helpers::bytes(content_type, body)
}

/// Tells the table when a held poll's request is dropped unanswered (client gone).
struct AbandonGuard {
    route: Arc<Route>,
    token: String,
    poll: PollId,
    armed: bool,
}

impl Drop for AbandonGuard {
    fn drop(&mut self) {
        if self.armed {
            let (token, poll) = (&self.token, self.poll);
            self.route.with_table(|st, now| {
                st.polls.remove(&poll);
                st.table.handle_poll_abandoned(now, token, poll);
            });
        }
    }
}
