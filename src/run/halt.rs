//! How a run ends early: [`Halt`] (an exit code and the error to print); a signal
//! ([`Signals`], listened to for the whole run: SIGINT, SIGTERM and SIGHUP) ends it with 130,
//! 143 and 129. Every stage returns `Result<_, Halt>`; `run::run` turns the first `Halt`
//! into the document's exit code and the error shown.
//!
//! What can go wrong: the signal handlers cannot be installed (exit 1 before anything runs).

use crate::error::{Error, exit};
pub use crate::system::signals::{Signals, Stop};

/// A run that ends here: the exit code (not always the error's own: a `--timeout` is 124)
/// and the error to print.
#[derive(Debug)]
pub struct Halt {
    pub code: u8,
    pub error: Error,
}

impl Halt {
    /// Exit 1 with `error`.
    pub fn failed(error: Error) -> Halt {
        Halt {
            code: exit::FAILED,
            error,
        }
    }

    /// Exit 1 with this message and hint.
    pub fn message(message: impl Into<String>, hint: impl Into<Option<String>>) -> Halt {
        Halt::failed(Error::failed(message, hint))
    }

    /// A signal's exit code (130, 143, 129) and its error.
    pub fn signal(code: u8) -> Halt {
        Halt {
            code,
            error: signal_error(code),
        }
    }
}

/// The error of a signal's exit code.
pub fn signal_error(code: u8) -> Error {
    Error::Interrupted(match code {
        exit::TERMINATED => Stop::Terminate,
        exit::HANGUP => Stop::Hangup,
        _ => Stop::Interrupt,
    })
}

impl From<Error> for Halt {
    /// Exit 1 with the error (signals that cannot be handled).
    fn from(error: Error) -> Halt {
        Halt::failed(error)
    }
}

impl From<Stop> for Halt {
    /// A signal's exit code (130, 143, 129) and its error.
    fn from(stop: Stop) -> Halt {
        Halt::signal(stop.exit_code())
    }
}
