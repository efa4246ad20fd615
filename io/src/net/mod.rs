//! Networking adapters: TCP + TLS streams, an HTTP/1.1 server and client (hyper on smol),
//! HTTP upgrades, and a raw WebSocket client handshake.
//!
//! Everything is built on `futures-io` traits with smol as the runtime: sockets are
//! `smol::net` types, TLS is rustls (via `futures-rustls`, `ring` provider), HTTP/1.1 is
//! hyper driven through `smol-hyper`. No tokio runtime is involved (hyper depends on the
//! `tokio` crate for its `sync` primitives only).
//!
//! This module moves bytes; it knows nothing about relay or hub protocols, WebSocket
//! framing, retries or connection pooling. Those live in `interlink_core` and in the
//! drivers built on top of this module.
//!
//! | need | use |
//! |---|---|
//! | parse `ws://` … `https://` | [`Target::parse`] |
//! | TCP (+TLS) connection | [`connect`] with [`ClientTls`] → [`Stream`] |
//! | HTTP/1.1 server | [`serve`] with an optional [`ServerTls`]; [`upgraded`] after a `101` |
//! | one HTTP/1.1 request | [`request`] |
//! | WebSocket opening handshake (client) | [`ws_handshake`] → [`HandshakeOutcome`] |
//! | bodies | [`Body`], [`full`], [`empty`], [`channel_body`] |

mod body;
mod client;
mod error;
mod reason;
mod server;
mod stream;
mod tls;
mod url;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

pub use body::{Body, BodyAborted, BodyClosed, BodySender, channel_body, empty, full};
pub use client::{
    HandshakeOutcome, HttpHead, MAX_HEAD_LEN, MAX_REFUSAL_BODY_LEN, request, ws_handshake,
};
pub use error::{HandshakeError, NetError, PemError, UrlError};
pub use reason::{InvalidReasonPhrase, reason_phrase, set_reason_phrase};
pub use server::{ConnInfo, HEADER_READ_TIMEOUT, TLS_HANDSHAKE_TIMEOUT, Upgraded, serve, upgraded};
pub use stream::Stream;
pub use tls::{ClientTls, ServerTls, connect};
pub use url::Target;

/// Runs `fut` for at most `limit`; fails with [`NetError::Timeout`] when time runs out
/// (dropping, and so cancelling, `fut`).
///
/// Uses the `async-io` timer, so it works on any executor as long as the `async-io`
/// reactor runs (smol's does). It does not retry.
pub async fn with_timeout<T>(
    limit: Duration,
    fut: impl Future<Output = Result<T, NetError>>,
) -> Result<T, NetError> {
    futures_lite::future::or(fut, async {
        async_io::Timer::after(limit).await;
        Err(NetError::Timeout(limit))
    })
    .await
}
