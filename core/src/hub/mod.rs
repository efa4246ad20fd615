//! The ASP.NET Core SignalR hub protocol, sans-IO.
//!
//! Wire facts come from `shared/specs/signalr.md`. The building blocks:
//! - [`message`]: the hub messages (types 1–9) and opaque encoded values.
//! - [`negotiate`]: the negotiate query and bodies, transport names, connection ids.
//! - [`connections`]: the connection table below the hub protocol: which HTTP request on
//!   which transport is answered with which status, long-poll timing, stateful re-attach.

pub mod connections;
pub mod message;
pub mod negotiate;

pub use message::{
    CompletionResult, Headers, HubMessage, HubProtocol, Invocation, RawValue, TransferFormat,
};
