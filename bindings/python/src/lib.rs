//! `_interlink`: the native module of the `interlink` Python package (pyo3, abi3).
//!
//! A thin binding: every behaviour lives in `interlink_core` (sans-IO) and `interlink` (the
//! smol adapters); this crate converts arguments, maps errors to `interlink.errors` classes
//! ([`errors`]) and turns Rust futures into asyncio awaitables ([`detach`]). The Python
//! package (`python/interlink/`) adds the listener's request dispatch and context managers.
//!
//! Classes: `RelaySender`, `Response`, `WebSocket`, `NativeListener` (+ `Request`,
//! `Responder`, `AcceptInfo`), `NativeGateway`, the sans-IO `GatewayMachine` (+
//! `GatewayOutput`) and `TokenInfo`; functions `create_token`, `validate_token`.

pub mod convert;
pub mod detach;
pub mod errors;
pub mod gateway;
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
    Ok(())
}
