//! The command layer: one module per command turns its clap arguments (`crate::cli`) into
//! a [`crate::context::Context`] and plain options, runs the command's engine on the one
//! [`Runtime`] (`system::runtime`) and prints its report. Each returns
//! `Result<Exit, Error>`: `lib::main` is the one place that prints the final error and
//! picks the exit code. Only this layer (and `lib.rs`) sees clap types.

use crate::error::exit;
pub use crate::system::runtime::Runtime;

pub mod doctor;
pub mod lock;
pub mod run;
pub mod setup;
pub mod uninstall;

/// How a command ended without an error: all done, or something failed that its output
/// already shows (a step, a check; exit 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Ok,
    Failed,
}

impl Exit {
    /// [`Exit::Failed`] when `failed`.
    pub fn failed_if(failed: bool) -> Exit {
        if failed { Exit::Failed } else { Exit::Ok }
    }

    /// The documented exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => exit::OK,
            Exit::Failed => exit::FAILED,
        }
    }
}
