//! Loopback tests of the hub client (added in the next commit).
