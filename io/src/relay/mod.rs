//! Azure Relay Hybrid Connections over real sockets: the gateway server, the listener and
//! the sender, around the sans-IO state machines of [`interlink_core::relay`].

pub mod error;
pub mod forward;
pub mod gateway;
pub mod listener;
pub mod sender;

pub use error::RelayError;
pub use forward::forward;
pub use gateway::{GatewayOptions, GatewayServer};
pub use listener::{
    AcceptDecision, AcceptedSocket, ListenerEvent, ListenerOptions, RelayListener, RequestInfo,
};
pub use sender::RelaySender;
