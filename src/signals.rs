//! The signals that end a run: SIGINT (Ctrl-C), SIGTERM (timeout(1), systemd, a CI
//! cancel) and SIGHUP (a closed terminal). Each is handled the same way: the run's future
//! is dropped (so staged files and containers are cleaned up by their guards and purges)
//! and actsim exits 128 + the signal number (130, 143, 129; the README's table).
//!
//! What can go wrong: a handler cannot be installed (the run then only ends on the
//! signals that are handled; this never fails the run itself).

use tokio::signal::unix::{SignalKind, signal};

/// A signal that ends the run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Interrupt,
    Terminate,
    Hangup,
}

impl Stop {
    /// 128 + the signal number.
    pub fn exit_code(self) -> u8 {
        match self {
            Stop::Interrupt => crate::error::exit::INTERRUPTED,
            Stop::Terminate => crate::error::exit::TERMINATED,
            Stop::Hangup => crate::error::exit::HANGUP,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Stop::Interrupt => "SIGINT",
            Stop::Terminate => "SIGTERM",
            Stop::Hangup => "SIGHUP",
        }
    }
}

/// Resolves when SIGINT, SIGTERM or SIGHUP arrives (call inside a tokio runtime).
pub async fn stopped() -> Stop {
    let mut term = signal(SignalKind::terminate()).ok();
    let mut hup = signal(SignalKind::hangup()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    async fn next(s: &mut Option<tokio::signal::unix::Signal>) {
        match s {
            Some(s) => {
                s.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    }
    tokio::select! {
        _ = next(&mut int) => Stop::Interrupt,
        _ = next(&mut term) => Stop::Terminate,
        _ = next(&mut hup) => Stop::Hangup,
    }
}
