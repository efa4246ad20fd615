//! # interlink for Node.js
//!
//! The npm package `interlink`: a napi-rs binding of the `interlink` crates. It forwards to
//! `interlink` (io) and `interlink-core` and re-implements no protocol logic.
//!
//! - [`listener::RelayListener`], [`sender::RelaySender`], [`gateway::Gateway`],
//!   [`socket::RelayWebSocket`]: the relay on real sockets; async methods return Promises
//!   run on a small smol runtime ([`runtime`]). JavaScript handlers are called through
//!   threadsafe functions ([`http_handler`]).
//! - [`machine::GatewayMachine`]: the sans-IO gateway, driven by JavaScript with times in ms.
//! - [`token`]: `createToken` / `validateToken`.
//!
//! Errors are JS `Error`s with a stable `code` ([`error::ErrorCode`]) and, where one applies,
//! an HTTP `status`. Not here: streaming HTTP bodies to or from JavaScript (bodies are whole
//! `Buffer`s), and an `expose`/forward helper.

pub mod config;
pub mod error;
pub mod gateway;
pub mod http_handler;
pub mod keepalive;
pub mod listener;
pub mod machine;
pub mod registry;
pub mod runtime;
pub mod sender;
pub mod socket;
pub mod token;

/// Registers the smol runtime before the first Node-API environment starts.
#[napi_derive::module_init]
fn init() {
    napi::bindgen_prelude::register_async_runtime(runtime::SmolRuntime::default());
}
