//! Azure Relay Hybrid Connections over real sockets: the gateway server, the listener and
//! the sender, around the sans-IO state machines of [`interlink_core::relay`].

pub mod gateway;

pub use gateway::{GatewayOptions, GatewayServer};
