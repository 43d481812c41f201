//! The one [`Context`] of a run, resolved once at the top from the [`Process`] and the
//! command's shared options ([`Request`], plain data: no clap types below the command
//! layer). It holds who the run is for and where their files are, the one rule for the
//! home whose docker config picks the endpoint, whether a terminal can answer, the
//! deadline, the output, and what a run computes once and shares: the Docker endpoint, the
//! daemon connection and file hashes. Setup's settings and doctor's options derive from it;
//! setup's final check reuses it.
//!
//! What can go wrong: an unknown `--user` (exit 2) or a uid without a user-database entry
//! (exit 1) while resolving; nothing after that fails here (a broken docker context is the
//! endpoint's `Err`, reported by whoever needs it).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::docker::endpoint::{self, Endpoint, EndpointError};
use crate::docker::engine::Engine;
use crate::error::Result;
use crate::system::hash::Hashes;
use crate::system::identity::TargetUser;
use crate::system::process::Process;
use crate::ui::{Format, Ui};

/// Root's default state dir (`ACTSIM_SYSTEM_STATE_DIR` overrides it).
pub const SYSTEM_STATE_DIR: &str = "/var/lib/actsim";

/// What the command line asked for that every command shares (the command layer fills it
/// from clap's types).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub user: Option<String>,
    pub bin_dir: Option<PathBuf>,
    pub config_dir: Option<PathBuf>,
    pub platform_image: Option<String>,
    /// `--docker-host`: already applied to the process by [`Process::with_docker_host`].
    pub docker_host: Option<String>,
    pub act_lock: Option<PathBuf>,
    pub format: Format,
    pub verbose: bool,
    pub quiet: bool,
    /// `--timeout`.
    pub timeout: Duration,
    /// Take the bin dir and the config dir that setup used from the user's receipt when
    /// no flag names them (doctor, run, uninstall: the commands after setup need none of
    /// its flags). Only for the process's own user: a record another user can edit never
    /// decides where root looks.
    pub from_receipt: bool,
}

/// A daemon that answered `/version`: the client every later request of the run uses, what
/// it said, and which engine it is.
#[derive(Debug, Clone)]
pub struct Daemon {
    pub docker: bollard::Docker,
    pub version: bollard::models::SystemVersion,
    pub engine: Engine,
}

/// What a run computes once and shares (clones of a context share it).
#[derive(Debug, Default)]
struct Shared {
    endpoint: OnceLock<std::result::Result<Endpoint, EndpointError>>,
    daemon: Mutex<Option<Daemon>>,
}

#[derive(Debug, Clone)]
pub struct Context {
    /// The captured environment (with `--docker-host` applied).
    pub process: Process,
    pub ui: Ui,
    /// Who the run is for.
    pub user: TargetUser,
    pub bin_dir: PathBuf,
    pub config_dir: PathBuf,
    /// The target user's state dir (`$XDG_STATE_HOME/actsim`).
    pub state_dir: PathBuf,
    /// Root's own state dir (`/var/lib/actsim`, or `ACTSIM_SYSTEM_STATE_DIR`).
    pub system_state_dir: PathBuf,
    /// The home whose docker config (context) decides the endpoint: this process's own
    /// (`$HOME`, else the euid's database entry), never the target user's when root acts
    /// for them. The one rule; nothing else picks a docker config home.
    pub docker_home: PathBuf,
    /// A prompt can be answered: stdin and stderr are terminals.
    pub terminal: bool,
    /// `--timeout`: the deadline of each waiting stage.
    pub timeout: Duration,
    pub platform_image: Option<String>,
    pub act_lock: Option<PathBuf>,
    /// File digests computed in this run (each file version hashed once).
    pub hashes: Hashes,
    shared: Arc<Shared>,
}

impl Context {
    /// Resolve everything once, from the process and the request.
    pub fn resolve(process: &Process, req: &Request) -> Result<Context> {
        let process = process.with_docker_host(req.docker_host.as_deref());
        let ui = Ui::new(&process, req.format, req.verbose, req.quiet);
        let user = TargetUser::resolve(req.user.as_deref(), &process)?;
        let abs = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
        let state_dir = user.state_dir(&process);
        let (recorded_bin, recorded_config) = if req.from_receipt && user.is_current {
            recorded_dirs(&state_dir)
        } else {
            (None, None)
        };
        Ok(Context {
            bin_dir: req
                .bin_dir
                .as_ref()
                .map(abs)
                .or(recorded_bin)
                .unwrap_or_else(|| user.default_bin_dir()),
            config_dir: req
                .config_dir
                .as_ref()
                .map(abs)
                .or(recorded_config)
                .unwrap_or_else(|| user.config_dir(&process)),
            state_dir,
            system_state_dir: system_state_dir(&process),
            docker_home: own_home(&process),
            terminal: process.can_prompt(),
            timeout: req.timeout,
            platform_image: req.platform_image.clone(),
            act_lock: req.act_lock.clone(),
            hashes: Hashes::default(),
            shared: Arc::default(),
            ui,
            user,
            process,
        })
    }

    /// This context after the process became its target user for good (doctor as root
    /// for someone else): their environment, nothing resolved as root kept but the paths.
    pub fn became_user(&self, process: Process) -> Context {
        let mut user = self.user.clone();
        user.is_current = true;
        Context {
            docker_home: own_home(&process),
            terminal: process.can_prompt(),
            hashes: Hashes::default(),
            shared: Arc::default(),
            user,
            process,
            ..self.clone()
        }
    }

    /// The Docker endpoint, resolved on first use (docker CLI's rules, from
    /// [`Context::docker_home`]) and the same for the rest of the run.
    pub fn endpoint(&self) -> &std::result::Result<Endpoint, EndpointError> {
        self.shared
            .endpoint
            .get_or_init(|| endpoint::resolve(&self.process, &self.docker_home))
    }

    /// The daemon connection of this run, when something already connected.
    pub fn daemon(&self) -> Option<Daemon> {
        self.shared.daemon.lock().ok().and_then(|d| d.clone())
    }

    /// The run's one daemon client: the connection already made (a check or the detection
    /// connected), else one made now at [`Context::endpoint`] (one `/version`) and kept for
    /// the rest of the run.
    pub async fn docker(
        &self,
        timeout: Duration,
    ) -> std::result::Result<bollard::Docker, crate::docker::detect::DaemonError> {
        if let Some(d) = self.daemon() {
            return Ok(d.docker);
        }
        let host = &self.endpoint().as_ref().map_err(Clone::clone)?.host;
        let (docker, version) = crate::docker::client::connect_with_version(host, timeout).await?;
        self.remember_daemon(&Daemon {
            engine: Engine::from_version(&version),
            docker: docker.clone(),
            version,
        });
        Ok(docker)
    }

    /// Keep the connection that answered, for every later request of the run.
    pub fn remember_daemon(&self, daemon: &Daemon) {
        if let Ok(mut d) = self.shared.daemon.lock() {
            *d = Some(daemon.clone());
        }
    }

    /// `--timeout` from now.
    pub fn deadline(&self) -> tokio::time::Instant {
        tokio::time::Instant::now() + self.timeout
    }
}

/// The bin dir and the config dir setup used, from the receipt in `state_dir`: the
/// directory of the act it installed, and that of the compose file (or `.env`) it wrote.
/// Nothing when there is no usable receipt.
fn recorded_dirs(state_dir: &std::path::Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let receipt = crate::system::files::read_bounded(
        &crate::receipt::Receipt::path(state_dir),
        crate::system::files::MAX_READ,
    )
    .ok()
    .flatten()
    .and_then(|b| serde_json::from_slice::<crate::receipt::Receipt>(&b).ok());
    let Some(receipt) = receipt else {
        return (None, None);
    };
    let dir_of = |p: &std::path::Path| {
        p.is_absolute()
            .then(|| p.parent().map(std::path::Path::to_path_buf))
            .flatten()
    };
    let bin = receipt.act.as_ref().and_then(|a| dir_of(&a.install_path));
    let config = ["compose", "env"]
        .iter()
        .find_map(|id| receipt.files.get(*id))
        .and_then(|f| dir_of(&f.path));
    (bin, config)
}

/// Root's state dir: `ACTSIM_SYSTEM_STATE_DIR` (root's own environment), else
/// [`SYSTEM_STATE_DIR`].
pub fn system_state_dir(process: &Process) -> PathBuf {
    process
        .var_nonempty("ACTSIM_SYSTEM_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(SYSTEM_STATE_DIR))
}

/// This process's own home: `$HOME`, else the user database's entry for the euid. As root
/// it is always root's database entry (`getpwuid(0)`): `sudo -E` or `env_keep` may carry
/// another user's `$HOME`, and root must never take its docker config, context or CLI
/// plugins from a place that user can write.
pub fn own_home(process: &Process) -> PathBuf {
    let database = || {
        nix::unistd::User::from_uid(nix::unistd::Uid::effective())
            .ok()
            .flatten()
            .map(|u| u.dir)
    };
    if nix::unistd::Uid::effective().is_root() {
        return database().unwrap_or_else(|| PathBuf::from("/root"));
    }
    process
        .var_nonempty("HOME")
        .filter(|h| h.starts_with('/'))
        .map(PathBuf::from)
        .or_else(database)
        .unwrap_or_else(|| PathBuf::from("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_is_resolved_once_and_shared_by_clones() {
        let process = Process::with_vars([("DOCKER_HOST", "unix:///x.sock"), ("HOME", "/h")]);
        let ctx = Context::resolve(
            &process,
            &Request {
                timeout: Duration::from_secs(3),
                ..Default::default()
            },
        )
        .unwrap();
        if !nix::unistd::Uid::effective().is_root() {
            assert_eq!(ctx.docker_home, PathBuf::from("/h"));
        }
        let clone = ctx.clone();
        assert_eq!(ctx.endpoint().as_ref().unwrap().host, "unix:///x.sock");
        assert!(std::ptr::eq(ctx.endpoint(), clone.endpoint()));
        assert!(!ctx.terminal);
        assert!(ctx.daemon().is_none());
    }
}
