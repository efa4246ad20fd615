//! # interlink-ffi
//!
//! The C ABI of interlink; the header is `include/interlink.h`, generated from this crate by
//! cbindgen (`build.rs`) and checked in.
//!
//! Two levels:
//! - **sans-IO handles**, for embedding in any event loop: the relay gateway
//!   ([`gateway_machine`]), the listener ([`listener_machine`]), the sender helpers
//!   ([`sender`]), the WebSocket codec ([`ws_connection`]), SAS tokens ([`sas`]) and
//!   addresses ([`address`]). They open no sockets and read no clock: time is an argument
//!   (`now_ms`, u64 milliseconds on a clock the caller chooses).
//! - **SignalR hub, sans-IO**: the hub codec ([`hub_codec`], values in [`hub_value`]) and one
//!   connection's state machine per side, client ([`hub_client_machine`]) and server
//!   ([`hub_server_machine`]), with their events ([`hub_output`]) and settings
//!   ([`hub_options`]).
//! - **convenience**: a gateway server ([`gateway`]), a listener with a C request handler
//!   ([`listener`]), an HTTP sender ([`http`]) and WebSockets ([`websocket`]). These run on
//!   smol's global executor threads, owned by the library; blocking calls wait on the
//!   caller's thread with `smol::block_on`.
//!
//! Every `extern "C"` function goes through the [`ffi!`] boundary macro ([`boundary`]):
//! pointer arguments are null-checked, panics are caught (`INTERLINK_RESULT_PANIC`), and
//! errors become stable result codes plus a thread-local message. Ownership of every handle
//! and buffer is stated in the header's preamble and on each function (see [`memory`]).
//!
//! What this crate does not do: protocol logic (it forwards to `interlink-core` and
//! `interlink`), and thread-safety for the sans-IO handles (one thread at a time).

#![allow(non_camel_case_types)]
#![warn(missing_docs)]
// Every exported function is `unsafe extern "C"`: the safety contract (valid pointers,
// NUL-terminated UTF-8 strings, handles from the matching constructor) is stated once in
// the header preamble rather than in a `# Safety` section on each of them.
#![allow(clippy::missing_safety_doc)]

#[macro_use]
pub mod boundary;
pub mod address;
pub mod credentials;
pub mod gateway;
pub mod gateway_machine;
pub mod gateway_output;
pub mod http;
pub mod hub_client_machine;
pub mod hub_codec;
pub mod hub_options;
pub mod hub_output;
pub mod hub_server_machine;
pub mod hub_value;
pub mod listener;
pub mod listener_machine;
pub mod listener_output;
pub mod memory;
pub mod runtime;
pub mod sas;
pub mod sender;
pub mod websocket;
pub mod ws_connection;
