//! [`Body`], the one HTTP body type of `interlink::net`, and its constructors.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream as _;
use http_body::Frame;
use http_body_util::{BodyExt, Empty, Full};

/// Request and response body type used everywhere in `interlink::net`: streaming, boxed,
/// `Send + Sync + 'static`, with `std::io::Error` as its error.
///
/// Build one with [`full`], [`empty`] or [`channel_body`], or box any `http_body::Body`
/// with `BodyExt::boxed`. Trailers pass through but nothing here produces them.
pub type Body = http_body_util::combinators::BoxBody<Bytes, io::Error>;

/// A body holding `b` in one piece (sent with `Content-Length`).
pub fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// A body with no bytes (`Content-Length: 0` where a length is sent).
pub fn empty() -> Body {
    Empty::new().map_err(|never| match never {}).boxed()
}

/// A streaming body fed from a bounded channel of `capacity` chunks (minimum 1).
///
/// [`BodySender::send`] waits while the channel is full, so a slow reader slows the writer
/// (backpressure). Dropping the [`BodySender`] ends the body cleanly; [`BodySender::abort`]
/// ends it with an error, which makes hyper cut the connection instead of finishing the
/// message (the peer sees a truncated body). It has no length, so HTTP/1.1 sends it chunked.
pub fn channel_body(capacity: usize) -> (BodySender, Body) {
    let (tx, rx) = async_channel::bounded(capacity.max(1));
    let abort = Arc::new(Mutex::new(None));
    let body = ChannelBody {
        rx: Box::pin(rx),
        abort: abort.clone(),
    };
    (BodySender { tx, abort }, body.boxed())
}

/// The writing half of a [`channel_body`].
///
/// Not `Clone`: the body ends when this one sender is dropped. Share it by reference (its
/// methods take `&self`) or in an `Arc`.
#[derive(Debug)]
pub struct BodySender {
    tx: async_channel::Sender<Bytes>,
    abort: Arc<Mutex<Option<io::Error>>>,
}

/// The body a [`BodySender`] writes to was dropped (typically: the peer went away or the
/// response was discarded); nothing more will be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the receiving body was dropped")]
pub struct BodyClosed;

/// The error a body ends with after [`BodySender::abort`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the body was aborted by its sender")]
pub struct BodyAborted;

impl BodySender {
    /// Queues one chunk, waiting while the channel is full.
    ///
    /// Empty chunks are skipped (an empty chunk would read as the end of a chunked body).
    /// Fails with [`BodyClosed`] once the body has been dropped.
    pub async fn send(&self, chunk: Bytes) -> Result<(), BodyClosed> {
        if chunk.is_empty() {
            return if self.tx.is_closed() {
                Err(BodyClosed)
            } else {
                Ok(())
            };
        }
        self.tx.send(chunk).await.map_err(|_| BodyClosed)
    }

    /// `true` once the body has been dropped.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Ends the body with a [`BodyAborted`] error (kind `ConnectionAborted`) after the
    /// chunks already queued.
    pub fn abort(self) {
        self.abort_with(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            BodyAborted,
        ));
    }

    /// Ends the body with `err` after the chunks already queued.
    pub fn abort_with(self, err: io::Error) {
        *self.abort.lock().unwrap_or_else(|p| p.into_inner()) = Some(err);
        self.tx.close();
    }
}

struct ChannelBody {
    rx: Pin<Box<async_channel::Receiver<Bytes>>>,
    abort: Arc<Mutex<Option<io::Error>>>,
}

impl http_body::Body for ChannelBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.rx.as_mut().poll_next(cx) {
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            Poll::Ready(None) => {
                let err = self.abort.lock().unwrap_or_else(|p| p.into_inner()).take();
                Poll::Ready(err.map(Err))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
