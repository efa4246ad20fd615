//! [`serve`]: an HTTP/1.1 server on smol, and [`upgraded`] for the streams of 101 answers.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, Bytes};
use futures::io::{AsyncRead, AsyncWrite};
use futures_lite::future;
use hyper::body::Incoming;
use smol::net::{TcpListener, TcpStream};
use smol_hyper::rt::{FuturesIo, SmolTimer};

use super::body::Body;
use super::error::NetError;
use super::stream::Stream;
use super::tls::ServerTls;
use super::with_timeout;

/// How long a client may take to finish the TLS handshake before its connection is dropped.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a client may take to send a complete request head (hyper's
/// `header_read_timeout`), including while an idle keep-alive connection waits.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Information about an accepted connection, passed to the handler with every request.
///
/// It describes the TCP (and TLS) connection, not the request: proxies in front of the
/// server are not looked through (no `Forwarded` / `X-Forwarded-For` handling).
#[derive(Clone, Debug)]
pub struct ConnInfo {
    /// The client's address.
    pub peer: SocketAddr,
    /// The local address the connection was accepted on.
    pub local: SocketAddr,
    /// `true` when the connection went through the TLS handshake.
    pub tls: bool,
}

/// Runs an HTTP/1.1 server on `listener` until `shutdown` resolves or accepting fails.
///
/// Every accepted connection (TCP_NODELAY on; TLS first when `tls` is given, within
/// [`TLS_HANDSHAKE_TIMEOUT`]) runs in its own task on smol's global executor
/// (`smol::spawn`; its thread count comes from `SMOL_THREADS`). Each request is passed to
/// `handler` with the connection's [`ConnInfo`]; keep-alive and upgrades are enabled. For a
/// WebSocket or other upgrade, the handler takes `hyper::upgrade::on(&mut req)`, spawns a
/// task that awaits [`upgraded`], and returns a `101` response.
///
/// Transient accept errors (aborted connections, running out of file descriptors) are
/// logged and retried; any other accept error is returned. When `shutdown` resolves (or
/// the returned future is dropped) every in-flight connection is dropped, handler futures
/// included; `serve` returns only after all connection tasks have ended. Streams already
/// handed out by [`upgraded`] belong to their own tasks and are not closed.
///
/// It does no HTTP/2, no graceful draining of in-flight requests and no per-request
/// timeouts; the handler cannot fail (answer with a 4xx/5xx response instead).
pub async fn serve<H, F>(
    listener: TcpListener,
    tls: Option<ServerTls>,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()>
where
    H: Fn(http::Request<Incoming>, ConnInfo) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = http::Response<Body>> + Send + 'static,
{
    let local = listener.local_addr()?;
    // Never sent on: dropping `stop_tx` closes it, which tells every connection to stop.
    let (stop_tx, stop_rx) = async_channel::bounded::<()>(1);
    // Never sent on: each connection task holds a sender; `recv` fails once all are gone.
    let (done_tx, done_rx) = async_channel::bounded::<()>(1);

    let accept_loop = async {
        loop {
            let (tcp, peer) = match listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => match classify_accept_error(&e) {
                    AcceptError::Retry => {
                        tracing::debug!(error = %e, "accept failed, retrying");
                        continue;
                    }
                    AcceptError::Backoff => {
                        tracing::warn!(error = %e, "accept failed, backing off");
                        async_io::Timer::after(Duration::from_millis(100)).await;
                        continue;
                    }
                    AcceptError::Fatal => return Err(e),
                },
            };
            let _ = tcp.set_nodelay(true);
            let info = ConnInfo {
                peer,
                local: tcp.local_addr().unwrap_or(local),
                tls: tls.is_some(),
            };
            let conn = serve_conn(tcp, tls.clone(), info, handler.clone());
            let stop = stop_rx.clone();
            let done = done_tx.clone();
            smol::spawn(async move {
                future::or(conn, async move {
                    let _ = stop.recv().await;
                })
                .await;
                drop(done);
            })
            .detach();
        }
    };
    let result = future::or(accept_loop, async {
        shutdown.await;
        Ok(())
    })
    .await;
    drop(stop_tx);
    drop(done_tx);
    let _ = done_rx.recv().await;
    result
}

enum AcceptError {
    Retry,
    Backoff,
    Fatal,
}

fn classify_accept_error(e: &io::Error) -> AcceptError {
    use io::ErrorKind::*;
    match e.kind() {
        ConnectionAborted | ConnectionReset | Interrupted | WouldBlock => AcceptError::Retry,
        // ENFILE / EMFILE (same numbers on Linux and the BSDs): wait for descriptors to free up.
        _ if matches!(e.raw_os_error(), Some(23 | 24)) => AcceptError::Backoff,
        _ => AcceptError::Fatal,
    }
}

async fn serve_conn<H, F>(tcp: TcpStream, tls: Option<ServerTls>, info: ConnInfo, handler: H)
where
    H: Fn(http::Request<Incoming>, ConnInfo) -> F + Send + Sync + 'static,
    F: Future<Output = http::Response<Body>> + Send + 'static,
{
    let stream = match tls {
        None => Stream::Tcp(tcp),
        Some(tls) => {
            let accept = async {
                tls.acceptor()
                    .accept(tcp)
                    .await
                    .map_err(NetError::from_tls_io)
            };
            match with_timeout(TLS_HANDSHAKE_TIMEOUT, accept).await {
                Ok(s) => Stream::ServerTls(Box::new(s)),
                Err(e) => {
                    tracing::debug!(peer = %info.peer, error = %e, "TLS handshake failed");
                    return;
                }
            }
        }
    };
    let peer = info.peer;
    let service = hyper::service::service_fn(move |req| {
        let response = handler(req, info.clone());
        async move { Ok::<_, Infallible>(response.await) }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(SmolTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = builder
        .serve_connection(FuturesIo::new(stream), service)
        .with_upgrades();
    if let Err(e) = conn.await {
        tracing::debug!(%peer, error = %e, "HTTP connection ended with an error");
    }
}

/// Waits for the upgrade of a request (server side, after the handler returned `101`) or
/// of a response (client side, after [`request`](super::request) got `101`) and returns
/// the raw byte stream.
///
/// Get `on` with `hyper::upgrade::on(&mut req)` (or `&mut response`) before the message is
/// dropped. Bytes the peer sent right behind the HTTP head, which hyper already read, come
/// first out of the returned stream. Fails with [`NetError::Http`] when the connection
/// ended without an upgrade (e.g. the response was not `101`).
///
/// It does not speak WebSocket framing: hand the stream to a WebSocket codec.
pub async fn upgraded(on: hyper::upgrade::OnUpgrade) -> Result<Upgraded, NetError> {
    let upgraded = on.await?;
    let inner = match upgraded.downcast::<FuturesIo<Stream>>() {
        Ok(parts) => Inner::Direct {
            stream: parts.io.into_inner(),
            buffered: parts.read_buf,
        },
        Err(other) => Inner::Hyper(other),
    };
    Ok(Upgraded { inner })
}

/// The byte stream of an upgraded HTTP/1.1 connection, from [`upgraded`].
///
/// Implements `futures_io::AsyncRead + AsyncWrite + Unpin + Send`. Reads first return the
/// bytes hyper had buffered past the HTTP head, then read from the connection. It adds no
/// framing, buffering or timeouts.
#[derive(Debug)]
pub struct Upgraded {
    inner: Inner,
}

#[derive(Debug)]
enum Inner {
    /// A connection made by this module: the stream itself plus hyper's read buffer.
    Direct { stream: Stream, buffered: Bytes },
    /// Any other hyper connection: read and written through hyper's own type.
    Hyper(hyper::upgrade::Upgraded),
}

impl Upgraded {
    /// The underlying [`Stream`] (for addresses or TCP options); `None` for a connection
    /// that was not made by `interlink::net`.
    pub fn stream(&self) -> Option<&Stream> {
        match &self.inner {
            Inner::Direct { stream, .. } => Some(stream),
            Inner::Hyper(_) => None,
        }
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Direct { stream, buffered } => {
                if !buffered.is_empty() && !buf.is_empty() {
                    let n = buf.len().min(buffered.len());
                    buf[..n].copy_from_slice(&buffered[..n]);
                    buffered.advance(n);
                    return Poll::Ready(Ok(n));
                }
                Pin::new(stream).poll_read(cx, buf)
            }
            Inner::Hyper(up) => {
                let mut read_buf = hyper::rt::ReadBuf::new(buf);
                ready!(hyper::rt::Read::poll_read(
                    Pin::new(up),
                    cx,
                    read_buf.unfilled()
                ))?;
                Poll::Ready(Ok(read_buf.filled().len()))
            }
        }
    }
}

impl AsyncWrite for Upgraded {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Direct { stream, .. } => Pin::new(stream).poll_write(cx, buf),
            Inner::Hyper(up) => hyper::rt::Write::poll_write(Pin::new(up), cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match &mut self.get_mut().inner {
            Inner::Direct { stream, .. } => Pin::new(stream).poll_write_vectored(cx, bufs),
            Inner::Hyper(up) => hyper::rt::Write::poll_write_vectored(Pin::new(up), cx, bufs),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Direct { stream, .. } => Pin::new(stream).poll_flush(cx),
            Inner::Hyper(up) => hyper::rt::Write::poll_flush(Pin::new(up), cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.get_mut().inner {
            Inner::Direct { stream, .. } => Pin::new(stream).poll_close(cx),
            Inner::Hyper(up) => hyper::rt::Write::poll_shutdown(Pin::new(up), cx),
        }
    }
}
