//! Node.js binding of interlink (being written).
