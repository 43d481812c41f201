//! How a run ends early: [`Halt`] (an exit code and the error to print), and the signals
//! listened to for the whole run ([`Signals`]; SIGINT, SIGTERM and SIGHUP end it with 130,
//! 143 and 129). Every stage returns `Result<_, Halt>`; `run::run` turns the first `Halt`
//! into the document's exit code and the error shown.
//!
//! What can go wrong: the signal handlers cannot be installed (exit 1 before anything runs).

use tokio::signal::unix::{SignalKind, signal};

use crate::error::{Error, exit};
use crate::system::signals::Stop;

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

/// SIGINT, SIGTERM and SIGHUP, listened to for the whole run.
pub struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    pub fn new() -> Result<Self, Halt> {
        let listen = |kind| {
            signal(kind).map_err(|e| Halt::message(format!("cannot handle signals: {e}"), None))
        };
        Ok(Signals {
            int: listen(SignalKind::interrupt())?,
            term: listen(SignalKind::terminate())?,
            hup: listen(SignalKind::hangup())?,
        })
    }

    /// The next signal.
    pub async fn recv(&mut self) -> Stop {
        tokio::select! {
            _ = self.int.recv() => Stop::Interrupt,
            _ = self.term.recv() => Stop::Terminate,
            _ = self.hup.recv() => Stop::Hangup,
        }
    }

    /// `fut`'s value, unless a signal comes first (then the signal's [`Halt`]).
    pub async fn or_halt<T>(
        &mut self,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, Halt> {
        tokio::select! {
            v = fut => Ok(v),
            stop = self.recv() => Err(Halt::signal(stop.exit_code())),
        }
    }
}
