//! What the checks read, in one place: the run's [`Context`] (user, dirs, the endpoint
//! resolved once, the docker config home, the daemon connection and file hashes), doctor's
//! own [`Options`], the deadline, and what earlier checks learned ([`SocketFacts`],
//! [`ActBin`], the daemon) for the checks after them ([`After`]).
//!
//! What can go wrong: nothing here fails; unreadable actrc files count as absent.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::cleanup::Cleanup;
use crate::context::{Context, Daemon};
use crate::docker::endpoint::{Endpoint, EndpointError};
use crate::docker::engine::Engine;
use crate::system::identity::TargetUser;
use crate::system::process::Process;

/// Which group membership the socket checks assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupView {
    /// The groups this process carries now (what the current login can do).
    #[default]
    Process,
    /// The groups the group database gives the user at the next login.
    Database,
}

/// What actsim recorded at setup, to report drift against.
#[derive(Debug, Clone, Default)]
pub struct Drift {
    /// SHA-256 of the act binary actsim installed.
    pub act_sha256: Option<String>,
    /// The version of that binary (what `act --version` said at install).
    pub act_version: Option<String>,
    /// SHA-256 of the compose file actsim last wrote.
    pub compose_sha256: Option<String>,
    /// `--act-lock`: the lock, and its act version and binary SHA-256 for this platform
    /// (or why it cannot be used).
    pub lock: Option<crate::act::lockfile::Expectation>,
}

/// What only doctor needs (who, where and which image come from the [`Context`]).
#[derive(Debug, Clone)]
pub struct Options {
    /// Deadline for the whole run.
    pub timeout: Duration,
    pub deep: bool,
    pub probe_image: Option<String>,
    pub group_view: GroupView,
    pub drift: Drift,
}

impl Options {
    /// The defaults: no `--deep`, no probe image, this process's groups, no drift.
    pub fn new(timeout: Duration) -> Options {
        Options {
            timeout,
            deep: false,
            probe_image: None,
            group_view: GroupView::Process,
            drift: Drift::default(),
        }
    }
}

/// The act binary doctor found.
#[derive(Debug, Clone)]
pub struct ActBin {
    pub path: PathBuf,
    pub version: String,
    pub sha256: String,
}

/// What `docker.socket` learned, for the checks after it.
#[derive(Debug, Clone, Default)]
pub struct SocketFacts {
    /// The endpoint is a Unix socket at this path.
    pub path: Option<PathBuf>,
    /// It exists and is a socket.
    pub is_socket: bool,
    pub uid: u32,
    pub gid: u32,
    /// The user cannot open it (mode and groups say no, or connect said EACCES).
    pub denied: bool,
}

/// The act doctor checks: the one in the bin dir, else the first on `PATH`.
pub fn locate_act(ctx: &Context) -> Option<PathBuf> {
    let ours = ctx.bin_dir.join("act");
    if crate::system::process::is_executable(&ours) {
        Some(ours)
    } else {
        ctx.process.which("act")
    }
}

/// act's config files for the target user, in the order act reads them, with their text.
pub fn actrc_files(ctx: &Context) -> Vec<(PathBuf, String)> {
    let candidates = [
        ctx.user.actrc_path(&ctx.process),
        ctx.user.home.join(".actrc"),
    ];
    candidates
        .into_iter()
        .filter_map(|p| {
            let bytes =
                crate::system::files::read_bounded(&p, crate::system::files::MAX_READ).ok()??;
            Some((p, String::from_utf8_lossy(&bytes).into_owned()))
        })
        .collect()
}

/// The platform image for `ubuntu-latest` from the user's actrc files, and which file.
pub fn configured_platform(ctx: &Context) -> Option<(String, PathBuf)> {
    actrc_files(ctx)
        .into_iter()
        .filter_map(|(p, t)| crate::render::actrc_platform(&t, "ubuntu-latest").map(|i| (i, p)))
        .next_back()
}

/// What every check may read.
#[derive(Clone, Copy)]
pub struct Inputs<'a> {
    pub ctx: &'a Context,
    pub opts: &'a Options,
    /// Checks aim to finish by this (a little before the run's hard deadline).
    pub deadline: Instant,
}

impl<'a> Inputs<'a> {
    pub fn process(&self) -> &'a Process {
        &self.ctx.process
    }

    pub fn user(&self) -> &'a TargetUser {
        &self.ctx.user
    }

    /// The endpoint, resolved once for the run.
    pub fn endpoint(&self) -> &'a Result<Endpoint, EndpointError> {
        self.ctx.endpoint()
    }

    /// The home whose docker config decides the endpoint (and act's view of it).
    pub fn home(&self) -> &'a Path {
        &self.ctx.docker_home
    }

    /// Where doctor keeps its caches (written only when it is this user's).
    pub fn state_dir(&self) -> &'a Path {
        &self.ctx.state_dir
    }

    pub fn bin_dir(&self) -> &'a Path {
        &self.ctx.bin_dir
    }

    pub fn config_dir(&self) -> &'a Path {
        &self.ctx.config_dir
    }

    /// `--platform-image`, else the actrc mapping of `ubuntu-latest`.
    pub fn platform_image(&self) -> Option<String> {
        self.ctx
            .platform_image
            .clone()
            .or_else(|| configured_platform(self.ctx).map(|(i, _)| i))
    }

    /// The act binary the receipt records in the bin dir (path, version, SHA-256), when it
    /// is there: what the container checks may start with before act.binary hashed it.
    pub fn recorded_act(&self) -> Option<ActBin> {
        let path = self.bin_dir().join("act");
        match (&self.opts.drift.act_sha256, &self.opts.drift.act_version) {
            (Some(sha256), Some(version)) if crate::system::process::is_executable(&path) => {
                Some(ActBin {
                    path,
                    version: version.clone(),
                    sha256: sha256.clone(),
                })
            }
            _ => None,
        }
    }
}

/// What the checks after `docker.daemon` share: the daemon that answered, the socket's
/// facts, the act binary, and the containers to remove at the end.
pub struct After<'a> {
    pub inputs: Inputs<'a>,
    pub daemon: Option<&'a Daemon>,
    pub socket: &'a SocketFacts,
    pub act: Option<&'a ActBin>,
    pub cleanup: &'a Cleanup,
}

impl<'a> After<'a> {
    pub fn docker(&self) -> Option<&'a bollard::Docker> {
        self.daemon.map(|d| &d.docker)
    }

    /// Which engine answered (Docker Engine when none did).
    pub fn engine(&self) -> Engine {
        self.daemon.map(|d| d.engine).unwrap_or_default()
    }

    pub fn endpoint(&self) -> Option<&'a Endpoint> {
        self.inputs.endpoint().as_ref().ok()
    }

    pub fn deadline(&self) -> Instant {
        self.inputs.deadline
    }
}

/// Nanoseconds since the epoch (unique names of containers).
pub fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default()
}
