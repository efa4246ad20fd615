//! `_interlink`: the native module of the `interlink` Python package (pyo3, abi3).
//!
//! A thin binding: every behaviour lives in `interlink_core` (sans-IO) and `interlink` (the
//! smol adapters); this crate converts arguments, maps errors to `interlink.errors` classes
//! ([`errors`]) and turns Rust futures into asyncio awaitables ([`detach`]). The Python
//! package (`python/interlink/`) adds the listener's request dispatch and context managers.
//!
//! Classes: `RelaySender`, `Response`, `WebSocket`, `NativeListener` (+ `Request`,
//! `Responder`, `AcceptInfo`), `NativeGateway`, the sans-IO `GatewayMachine` (+
//! `GatewayOutput`) and `TokenInfo`; functions `create_token`, `validate_token`. SignalR
//! hubs: `NativeHubClient` (+ `HubStream`, `ServerCall`, `UploadSink`) and `NativeHubServer`
//! (+ `HubContext`, `MethodCall`, `ServerUpload`), with values converted by [`hub_value`].

pub mod convert;
pub mod detach;
pub mod errors;
pub mod gateway;
pub mod hub_client;
pub mod hub_errors;
pub mod hub_server;
pub mod hub_value;
pub mod listener;
pub mod machine;
pub mod sender;
pub mod tokens;
pub mod websocket;

use pyo3::prelude::*;

/// The native module; import `interlink` instead.
#[pymodule]
fn _interlink(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<sender::RelaySender>()?;
    m.add_class::<sender::Response>()?;
    m.add_class::<websocket::WebSocket>()?;
    m.add_class::<listener::NativeListener>()?;
    m.add_class::<listener::Request>()?;
    m.add_class::<listener::Responder>()?;
    m.add_class::<listener::AcceptInfo>()?;
    m.add_class::<gateway::NativeGateway>()?;
    m.add_class::<machine::GatewayMachine>()?;
    m.add_class::<machine::GatewayOutput>()?;
    m.add_class::<tokens::TokenInfo>()?;
    m.add_function(wrap_pyfunction!(tokens::create_token, m)?)?;
    m.add_function(wrap_pyfunction!(tokens::validate_token, m)?)?;
    m.add_function(wrap_pyfunction!(detach::_shutdown, m)?)?;
    // SignalR hubs: client (hub_client.rs) and server (hub_server.rs).
    m.add_class::<hub_client::NativeHubClient>()?;
    m.add_class::<hub_client::HubStream>()?;
    m.add_class::<hub_client::ServerCall>()?;
    m.add_class::<hub_client::UploadSink>()?;
    m.add_class::<hub_server::NativeHubServer>()?;
    m.add_class::<hub_server::PyHubContext>()?;
    m.add_class::<hub_server::MethodCall>()?;
    m.add_class::<hub_server::ServerUpload>()?;
    Ok(())
}
