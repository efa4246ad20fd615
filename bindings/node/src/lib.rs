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
//! - [`hub`]: the SignalR hub client and server (`HubClient`, `HubServer`,
//!   `startDemoHubServer`).
//!
//! Errors are JS `Error`s with a stable `code` ([`error::ErrorCode`]) and, where one applies,
//! an HTTP `status`. Not here: streaming HTTP bodies to or from JavaScript (bodies are whole
//! `Buffer`s), and an `expose`/forward helper.

pub mod config;
pub mod error;
pub mod gateway;
pub mod http_handler;
pub mod hub;
pub mod hub_client;
pub mod hub_context;
pub mod hub_demo;
pub mod hub_error;
pub mod hub_hold;
pub mod hub_iter;
pub mod hub_js;
pub mod hub_methods;
pub mod hub_options;
pub mod hub_rest;
pub mod hub_server;
pub mod hub_stream;
pub mod hub_value;
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
