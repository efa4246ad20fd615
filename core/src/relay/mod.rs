//! Azure Relay Hybrid Connections, sans-IO.
//!
//! Wire facts come from `shared/specs/relay-hybrid-connections.md`. The building blocks:
//! - [`sas`]: Shared Access Signature tokens (create, parse, validate) and the pluggable
//!   [`sas::TokenValidator`].
//! - [`address`]: listen / connect / accept / request URLs and `sb-hc-*` query filtering.
//! - [`connection_string`]: Azure's `Endpoint=sb://…;SharedAccessKeyName=…` form.
//! - [`message`]: control-channel JSON messages and the "body follows" framing.
//! - [`gateway`]: the relay itself — listeners, rendezvous, HTTP routing, deadlines, limits.
//! - [`listener`]: a listener's control channel — backoff, renewal, keepalive, events.
//! - [`sender`]: what a sender sends and the retry rule for its WebSocket connects.

pub mod address;
pub mod connection_string;
pub mod gateway;
pub mod http_headers;
pub mod listener;
pub mod message;
pub mod sas;
pub mod sender;
