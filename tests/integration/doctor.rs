//! Integration tests of `actsim doctor`.
