//! Typed errors and the documented exit codes they map to.
//!
//! Every error names the thing involved (path, URL, expected and actual hash) and may carry
//! a hint line with the fix. `main` prints `error: …` and `hint: …` and exits with
//! [`Error::exit_code`]; no backtrace ever reaches a user. Nothing here can fail itself;
//! what matters is that each variant keeps its exit code (scripts depend on it).

use std::path::PathBuf;

/// Exit codes, documented in the README. Scripts depend on them: never renumber.
pub mod exit {
    /// Done; no check failed (warnings allowed).
    pub const OK: u8 = 0;
    /// A step or a check failed.
    pub const FAILED: u8 = 1;
    /// Usage error (bad flag or value).
    pub const USAGE: u8 = 2;
    /// Aborted: the plan was declined, or there is no terminal and no `--yes`.
    pub const ABORTED: u8 = 3;
    /// act download or verification failed.
    pub const DOWNLOAD: u8 = 4;
    /// A step needs privileges this run does not have.
    pub const PRIVILEGE: u8 = 5;
    /// `actsim run --timeout` was hit (like timeout(1)).
    pub const TIMEOUT: u8 = 124;
    /// Interrupted by Ctrl-C (128 + SIGINT).
    pub const INTERRUPTED: u8 = 130;
    /// Ended by SIGTERM (128 + 15).
    pub const TERMINATED: u8 = 143;
    /// Ended by SIGHUP (128 + 1).
    pub const HANGUP: u8 = 129;
}

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
            Stop::Interrupt => exit::INTERRUPTED,
            Stop::Terminate => exit::TERMINATED,
            Stop::Hangup => exit::HANGUP,
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

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A flag or value the user gave is not usable.
    #[error("{message}")]
    Usage {
        message: String,
        hint: Option<String>,
    },

    /// Nothing was changed because the user declined or could not be asked.
    #[error("aborted: {reason}")]
    Aborted {
        reason: String,
        hint: Option<String>,
    },

    /// The archive's SHA-256 is not the one it must be.
    #[error("checksum mismatch for {what}: expected {expected}, actual {actual}")]
    ChecksumMismatch {
        what: String,
        expected: String,
        actual: String,
    },

    /// Fetching something over the network failed (after retries).
    #[error("download failed: {url}: {reason}")]
    Download {
        url: String,
        reason: String,
        hint: Option<String>,
    },

    /// The archive or checksums file is not usable (no `act` entry, unsafe path, too large,
    /// no checksum line for the asset, unreadable local file).
    #[error("{what}: {reason}")]
    Verify {
        what: String,
        reason: String,
        hint: Option<String>,
    },

    /// The step needs root; `command` is what to run instead.
    #[error("{what} needs privileges this run does not have")]
    Privilege { what: String, command: String },

    /// A file system operation failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
        hint: Option<String>,
    },

    /// Any other failure of a step (exit 1).
    #[error("{message}")]
    Failed {
        message: String,
        hint: Option<String>,
    },

    /// Ctrl-C, SIGTERM or SIGHUP.
    #[error("interrupted ({})", .0.name())]
    Interrupted(Stop),

    /// `error`, ending the command with another exit code than its own (a run's
    /// `--timeout` is 124); see [`Error::with_exit_code`].
    #[error("{error}")]
    Exit { code: u8, error: Box<Error> },
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage { .. } => exit::USAGE,
            Error::Aborted { .. } => exit::ABORTED,
            Error::ChecksumMismatch { .. } | Error::Download { .. } | Error::Verify { .. } => {
                exit::DOWNLOAD
            }
            Error::Privilege { .. } => exit::PRIVILEGE,
            Error::Io { .. } | Error::Failed { .. } => exit::FAILED,
            Error::Interrupted(stop) => stop.exit_code(),
            Error::Exit { code, .. } => *code,
        }
    }

    /// This error, ending the command with exit `code`.
    pub fn with_exit_code(self, code: u8) -> Self {
        if code == self.exit_code() {
            self
        } else {
            Error::Exit {
                code,
                error: Box::new(self),
            }
        }
    }

    /// The line printed after `hint:`, if any.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::Usage { hint, .. }
            | Error::Aborted { hint, .. }
            | Error::Download { hint, .. }
            | Error::Verify { hint, .. }
            | Error::Io { hint, .. }
            | Error::Failed { hint, .. } => hint.clone(),
            Error::ChecksumMismatch { .. } => Some(
                "the archive is corrupt or was tampered with; nothing was installed. Retry, or check the mirror"
                    .into(),
            ),
            Error::Privilege { command, .. } => Some(format!("run: {command}")),
            Error::Interrupted(_) => None,
            Error::Exit { error, .. } => error.hint(),
        }
    }

    pub fn usage(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Error::Usage {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn failed(message: impl Into<String>, hint: impl Into<Option<String>>) -> Self {
        Error::Failed {
            message: message.into(),
            hint: hint.into(),
        }
    }

    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
            hint: None,
        }
    }
}

/// The one error-chain formatter: `head`, then each cause of `source` and further down,
/// joined by `": "` on one line. A cause whose text the line already holds is left out
/// (many errors repeat their source's message), so nothing is said twice.
pub fn chain_from(
    head: impl Into<String>,
    source: Option<&(dyn std::error::Error + 'static)>,
) -> String {
    let mut out = head.into();
    let mut source = source;
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// `err` and its causes on one line (see [`chain_from`]): `"a: b: c"`.
pub fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    chain_from(err.to_string(), err.source())
}

/// `result.at(path)?` turns an `io::Error` into [`Error::Io`] naming the path.
pub trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|e| Error::io(path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_match_the_readme_table() {
        assert_eq!(Error::usage("x", None).exit_code(), 2);
        assert_eq!(
            Error::Aborted {
                reason: "declined".into(),
                hint: None
            }
            .exit_code(),
            3
        );
        let mismatch = Error::ChecksumMismatch {
            what: "http://x/a.tar.gz".into(),
            expected: "aa".into(),
            actual: "bb".into(),
        };
        assert_eq!(mismatch.exit_code(), 4);
        assert!(mismatch.to_string().contains("checksum mismatch"));
        assert!(mismatch.to_string().contains("expected aa"));
        let privilege = Error::Privilege {
            what: "adding alice to group docker".into(),
            command: "sudo usermod -aG docker alice".into(),
        };
        assert_eq!(privilege.exit_code(), 5);
        assert_eq!(
            privilege.hint().unwrap(),
            "run: sudo usermod -aG docker alice"
        );
        assert_eq!(Error::failed("x", None).exit_code(), 1);
        let timeout = Error::failed("x", Some("h".into())).with_exit_code(exit::TIMEOUT);
        assert_eq!(
            (timeout.exit_code(), timeout.to_string()),
            (124, "x".into())
        );
        assert_eq!(timeout.hint().as_deref(), Some("h"));
    }

    #[test]
    fn the_chain_names_each_cause_once() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] Middle);
        #[derive(Debug, thiserror::Error)]
        #[error("middle: {0}")]
        struct Middle(#[source] std::io::Error);
        let e = Outer(Middle(std::io::Error::other("inner")));
        assert_eq!(chain(&e), "outer: middle: inner");
        assert_eq!(chain_from("head", None), "head");
    }
}
