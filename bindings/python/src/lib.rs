//! Python binding of interlink (being written).
