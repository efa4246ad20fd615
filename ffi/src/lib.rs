//! C ABI of interlink (being written).
