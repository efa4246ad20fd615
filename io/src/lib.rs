//! # interlink
//!
//! Thin async adapters around [`interlink_core`]: they move bytes between sockets and the
//! sans-IO state machines and do nothing else. Built on `futures-io` traits; `smol` is the
//! default runtime (the CLI uses it).
//!
//! Runtime-agnostic in practice: sockets and timers come from `async-io`, whose reactor runs
//! on its own thread, and background work (connection tasks, WebSocket drivers) runs on
//! smol's global executor. So the futures of this crate can be awaited from any executor —
//! `smol::block_on`, `futures::executor`, or a tokio runtime — without a compat layer; tokio
//! users who want tokio's I/O types for their own sockets convert at the edges with
//! `tokio-util`'s `compat` adapters.
//!
//! - [`net`]: TCP/TLS streams, an HTTP/1.1 server and client (hyper), WebSocket handshakes.
//! - [`ws`]: WebSockets on streams, and the relay's frame-level forwarder.
//! - [`relay`]: the Hybrid Connections gateway server, listener and sender.
//! - [`hub`]: SignalR — the hub client, and the server-side transports (negotiate, WebSockets,
//!   Server-Sent Events, long polling).

pub mod hub;
pub mod net;
pub mod relay;
pub mod ws;
