//! Test support: fixtures, the fluent command builder, fault-injection sockets, users.

pub mod mirror;
