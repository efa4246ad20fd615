//! The SignalR hub API of the package: [`HubClient`](crate::hub_client::HubClient),
//! [`HubServer`](crate::hub_server::HubServer) and `startDemoHubServer`, over
//! `interlink::hub` (no hub protocol logic here).
//!
//! - [`crate::hub_value`]: values between JavaScript and the hub (JSON and MessagePack).
//! - [`crate::hub_client`], [`crate::hub_stream`]: the client and its stream iterables.
//! - [`crate::hub_server`], [`crate::hub_methods`], [`crate::hub_context`]: the server, its
//!   JavaScript methods, and what they see of the hub.
//! - [`crate::hub_js`]: calling JavaScript from hub tasks; [`crate::hub_iter`]: JavaScript
//!   iterables pulled from Rust (stream methods, upload streams); [`crate::hub_rest`]: rest
//!   parameters; [`crate::hub_hold`]: the event-loop holds; [`crate::hub_error`]: error codes.

use napi::Env;
use napi::bindgen_prelude::Object;
use napi_derive::napi;

/// Installs the rest-parameter methods (`invoke(method, ...args)` and the like) once the
/// classes are registered.
#[napi(module_exports)]
pub fn hub_exports(exports: Object, env: Env) -> napi::Result<()> {
    crate::hub_client::install_rest(&env, &exports)?;
    crate::hub_context::install_rest(&env, &exports)?;
    crate::hub_server::install_rest(&env, &exports)
}
