//! The command layer: one module per command turns its clap arguments (`crate::cli`) into
//! a [`crate::context::Context`] and plain options, runs the command's engine, prints the
//! outcome and returns the exit code. Only this layer (and `lib.rs`) sees clap types.

pub mod doctor;
pub mod lock;
pub mod run;
pub mod setup;
pub mod uninstall;
