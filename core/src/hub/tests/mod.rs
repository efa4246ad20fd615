//! Tests of the hub codecs.
