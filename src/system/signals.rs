//! The signals that end a run: SIGINT (Ctrl-C), SIGTERM (timeout(1), systemd, a CI
//! cancel) and SIGHUP (a closed terminal), listened to by one [`Signals`]. Each is handled
//! the same way: the run's future is dropped (so staged files and containers are cleaned
//! up by their guards and purges) and actsim exits 128 + the signal number (130, 143, 129;
//! the README's table).
//!
//! What can go wrong: a handler cannot be installed ([`Signals::new`] fails; [`stopped`]
//! then never resolves, and the run only ends by itself).

use tokio::signal::unix::{Signal, SignalKind, signal};

pub use crate::error::Stop;
use crate::error::{Error, Result};

/// SIGINT, SIGTERM and SIGHUP, listened to from [`Signals::new`] on (inside a tokio
/// runtime).
pub struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    pub fn new() -> Result<Self> {
        let listen = |kind| {
            signal(kind).map_err(|e| Error::failed(format!("cannot handle signals: {e}"), None))
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

    /// `fut`'s value, unless a signal comes first.
    pub async fn or_stop<T>(
        &mut self,
        fut: impl std::future::Future<Output = T>,
    ) -> Result<T, Stop> {
        tokio::select! {
            v = fut => Ok(v),
            stop = self.recv() => Err(stop),
        }
    }
}

/// Resolves when SIGINT, SIGTERM or SIGHUP arrives (call inside a tokio runtime).
pub async fn stopped() -> Stop {
    match Signals::new() {
        Ok(mut signals) => signals.recv().await,
        Err(_) => std::future::pending().await,
    }
}
