//! The signals that end a run: SIGINT (Ctrl-C), SIGTERM (timeout(1), systemd, a CI
//! cancel) and SIGHUP (a closed terminal). Each is handled the same way: the run's future
//! is dropped (so staged files and containers are cleaned up by their guards and purges)
//! and actsim exits 128 + the signal number (130, 143, 129; the README's table).
//!
//! What can go wrong: a handler cannot be installed (the run then only ends on the
//! signals that are handled; this never fails the run itself).

use tokio::signal::unix::{SignalKind, signal};

pub use crate::error::Stop;

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
