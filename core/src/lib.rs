//! # interlink-core
//!
//! The sans-IO protocol core of interlink. Every protocol endpoint here is a plain struct that
//! is driven by its caller: bytes, frames and the current time go in through `handle_*`
//! methods, and what to send, what happened and when to wake up come out through `poll_*`
//! methods.
//!
//! What this crate does **not** do: it opens no sockets, spawns no tasks, never reads a clock
//! and never sleeps. Time is always an argument (`now`), randomness comes from a seedable
//! generator owned by the state machine. The async adapters that move bytes between real
//! sockets and these state machines live in the `interlink` crate.
//!
//! Modules:
//! - [`ws`]: a WebSocket (RFC 6455) frame codec and connection endpoint, streaming-capable.
//! - [`relay`]: Azure Relay Hybrid Connections — SAS tokens, addresses, control-channel
//!   messages, and the listener / sender / gateway state machines.
//! - [`hub`]: the ASP.NET Core SignalR hub protocol — JSON and MessagePack codecs, handshake,
//!   negotiate, and the client / server connection state machines.

pub mod hub;
pub mod relay;
pub mod time;
pub mod ws;

#[cfg(test)]
mod robustness_tests;
