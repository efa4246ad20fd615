//! # interlink
//!
//! Thin async adapters around [`interlink_core`]: they move bytes between sockets and the
//! sans-IO state machines and do nothing else. Built on `futures-io` traits; `smol` is the
//! default runtime.

pub mod net;
