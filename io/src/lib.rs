//! # interlink
//!
//! Thin async adapters around [`interlink_core`]: they move bytes between sockets and the
//! sans-IO state machines and do nothing else. Built on `futures-io` traits; `smol` is the
//! default runtime (the CLI uses it), and anything that can poll a future can drive these
//! types.
//!
//! - [`net`]: TCP/TLS streams, an HTTP/1.1 server and client (hyper), WebSocket handshakes.
//! - [`ws`]: WebSockets on streams, and the relay's frame-level forwarder.
//! - [`relay`]: the Hybrid Connections gateway server, listener and sender.

pub mod net;
pub mod relay;
pub mod ws;
