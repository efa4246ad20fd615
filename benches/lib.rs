//! Benchmark and load harnesses of interlink: see README.md in this folder.
//!
//! The `relay-bench` binary drives everything on 127.0.0.1: the same client and server code
//! connected directly, through an `interlink gateway` child process, and through `bore` and
//! `rathole` tunnels (when installed). These modules hold its parts:
//!
//! - [`apps`]: the WebSocket sink/echo and HTTP echo apps and the client loads;
//! - [`procs`]: child processes (gateway, tunnels), free ports, RSS, fd limits;
//! - [`report`]: percentiles, medians, Markdown tables, the machine line.

pub mod apps;
pub mod procs;
pub mod report;
