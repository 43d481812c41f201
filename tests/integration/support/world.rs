//! The one test world: a user's machine in temp dirs (HOME with the XDG dirs under it, a
//! bin dir, root's state dir), a loopback mirror serving the real act, and the engine
//! setup and doctor talk to. Built fluently, in the style of `just`'s test harness:
//!
//! ```ignore
//! let Some(w) = World::new().daemon().build() else { return };        // the machine's daemon
//! let Some(w) = World::new().private_daemon().build() else { return }; // its own dockerd
//! let Some(w) = World::new().build() else { return };                  // act only, no daemon
//! let Some(w) = World::new().platform_image(&img).docker_host(h).build() else { return };
//! let Some(w) = World::new().socket_group(gid).build() else { return }; // via a proxy
//! ```
//!
//! Every command of the world ([`World::within`]) gets its HOME, XDG dirs, PATH (bin dir
//! first), `ACTSIM_SYSTEM_STATE_DIR`, and `DOCKER_HOST`/`DOCKER_CONFIG` when set, so the
//! machine's own configuration is never touched.
//!
//! What can go wrong: the daemon or a fixture is missing (`build` returns `None` after
//! printing why, or under `CI=true` fails).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::consts::{RECEIPT, SYSTEM_PATH};
use super::dockerd::PrivateDaemon;
use super::images::busybox_platform_image;
use super::mirror::Mirror;
use super::proxy::SocketProxy;
use super::temp::{self, TempDir};
use super::users::require_root;
use super::{Cmd, Outcome, require_daemon};

pub struct World {
    mirror: Option<Mirror>,
    pub root: TempDir,
    /// `--platform-image` for setup, when the world has one.
    image: Option<String>,
    /// The private daemon this world talks to, when it has one.
    pub daemon: Option<PrivateDaemon>,
    /// Given to every command as `DOCKER_HOST` when set.
    docker_host: Option<String>,
    /// Given to every command as `DOCKER_CONFIG` when set.
    docker_config: Option<PathBuf>,
    /// The socket proxy this world's commands talk through, when it has one.
    proxy: Option<SocketProxy>,
}

/// Which engine a world talks to.
enum Engine {
    /// None required (act-only tests, or an engine named by `docker_host`).
    Unchecked,
    /// The machine's daemon (required), with the busybox platform image.
    Machine,
    /// A private dockerd of the world's own (root only), with busybox imported.
    Private,
}

/// What a [`World`] is made of; [`WorldBuilder::build`] makes it.
pub struct WorldBuilder {
    root: bool,
    engine: Engine,
    image: Option<String>,
    docker_host: Option<String>,
    docker_config: Option<PathBuf>,
    mirror: bool,
    /// A socket proxy to the machine's daemon owned by this group.
    socket_group: Option<u32>,
}

impl WorldBuilder {
    /// Only for root (checked first: not root skips, or fails under `CI=true`).
    pub fn root_only(mut self) -> Self {
        self.root = true;
        self
    }

    /// On the machine's daemon (required) with the busybox platform image.
    pub fn daemon(mut self) -> Self {
        self.engine = Engine::Machine;
        self
    }

    /// On a private dockerd of its own (root only), so a test may remove `actsim/act:*`
    /// images without touching what other tests use.
    pub fn private_daemon(mut self) -> Self {
        self.engine = Engine::Private;
        self
    }

    /// `--platform-image` for setup (an image of another engine, say).
    pub fn platform_image(mut self, image: &str) -> Self {
        self.image = Some(image.to_string());
        self
    }

    /// `DOCKER_HOST` for every command of the world.
    pub fn docker_host(mut self, host: impl Into<String>) -> Self {
        self.docker_host = Some(host.into());
        self
    }

    /// `DOCKER_CONFIG` for every command of the world.
    pub fn docker_config(mut self, dir: impl Into<PathBuf>) -> Self {
        self.docker_config = Some(dir.into());
        self
    }

    /// The machine's daemon through a socket proxy owned `root:<gid>` (root only: the
    /// socket's group can then change like a reinstalled Docker's, [`World::proxy`]).
    pub fn socket_group(mut self, gid: u32) -> Self {
        self.root = true;
        self.engine = Engine::Machine;
        self.socket_group = Some(gid);
        self
    }

    /// No loopback mirror (and so no need of the act fixture).
    pub fn without_mirror(mut self) -> Self {
        self.mirror = false;
        self
    }

    /// The world, or `None` (after printing why) when a prerequisite is missing outside CI.
    pub fn build(self) -> Option<World> {
        if self.root && !require_root() {
            return None;
        }
        let (image, daemon) = match self.engine {
            Engine::Unchecked => (None, None),
            Engine::Machine => {
                if !require_daemon() {
                    return None;
                }
                (Some(busybox_platform_image()?), None)
            }
            Engine::Private => {
                let daemon = PrivateDaemon::start()?;
                (Some(daemon.import_busybox_platform()?), Some(daemon))
            }
        };
        let mirror = if self.mirror {
            Some(Mirror::start()?)
        } else {
            None
        };
        let root = temp::dir();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        let proxy = self.socket_group.map(SocketProxy::to_docker);
        let docker_host = self
            .docker_host
            .or_else(|| proxy.as_ref().map(SocketProxy::host))
            .or_else(|| daemon.as_ref().map(PrivateDaemon::host));
        Some(World {
            mirror,
            root,
            image: self.image.or(image),
            daemon,
            docker_host,
            docker_config: self.docker_config,
            proxy,
        })
    }
}

impl World {
    /// A world to build: temp dirs and a mirror, no engine required yet.
    #[allow(clippy::new_ret_no_self)]
    pub fn new() -> WorldBuilder {
        WorldBuilder {
            root: false,
            engine: Engine::Unchecked,
            image: None,
            docker_host: None,
            docker_config: None,
            mirror: true,
            socket_group: None,
        }
    }

    /// The socket proxy of a world built with `socket_group` (else panics).
    #[track_caller]
    pub fn proxy(&self) -> &SocketProxy {
        self.proxy.as_ref().expect("this world has no socket proxy")
    }

    /// Give the proxy socket to another group (Docker "reinstalled").
    #[track_caller]
    pub fn chgrp_socket(&self, gid: u32) {
        std::os::unix::fs::chown(self.proxy().path(), None, Some(gid)).unwrap();
    }

    /// The loopback mirror (a world built `without_mirror` has none: panics).
    #[track_caller]
    pub fn mirror(&self) -> &Mirror {
        self.mirror.as_ref().expect("this world has no mirror")
    }

    /// The platform image (a world without an engine has none: panics).
    #[track_caller]
    pub fn image(&self) -> &str {
        self.image
            .as_deref()
            .expect("this world has no platform image")
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    pub fn bin(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    pub fn act(&self) -> PathBuf {
        self.bin().join("act")
    }

    /// `$XDG_CONFIG_HOME/actsim`, also passed as `--config-dir`.
    pub fn config(&self) -> PathBuf {
        self.home().join(".config/actsim")
    }

    pub fn compose(&self) -> PathBuf {
        self.config().join("docker-compose.yml")
    }

    pub fn env_file(&self) -> PathBuf {
        self.config().join(".env")
    }

    /// act's config: `$XDG_CONFIG_HOME/act/actrc`.
    pub fn actrc(&self) -> PathBuf {
        self.home().join(".config/act/actrc")
    }

    /// Root's state dir of this world (`ACTSIM_SYSTEM_STATE_DIR`, the same for every run).
    pub fn system_state(&self) -> PathBuf {
        self.root.path().join("system-state/actsim")
    }

    /// `$XDG_STATE_HOME/actsim`.
    pub fn state(&self) -> PathBuf {
        self.home().join(".local/state/actsim")
    }

    /// `$XDG_STATE_HOME/actsim/receipt.json`.
    pub fn receipt_path(&self) -> PathBuf {
        self.state().join(RECEIPT)
    }

    #[track_caller]
    pub fn receipt(&self) -> Value {
        read_json(&self.receipt_path())
    }

    /// `DOCKER_HOST` of this world (the private daemon's, or the one given), when set.
    pub fn docker_host(&self) -> Option<String> {
        self.docker_host.clone()
    }

    /// `DOCKER_CONFIG` of this world, when set.
    pub fn docker_config(&self) -> Option<PathBuf> {
        self.docker_config.clone()
    }

    /// From now on, this `DOCKER_HOST` (or none) for every command of the world.
    pub fn set_docker_host(&mut self, host: Option<String>) {
        self.docker_host = host;
    }

    /// From now on, `DOCKER_CONFIG` for every command of the world.
    pub fn set_docker_config(&mut self, dir: impl Into<PathBuf>) {
        self.docker_config = Some(dir.into());
    }

    /// The environment of this world: `(name, value)` pairs every command gets.
    fn vars(&self) -> Vec<(&'static str, String)> {
        let h = self.home();
        let mut vars = vec![
            ("HOME", h.display().to_string()),
            ("XDG_CONFIG_HOME", h.join(".config").display().to_string()),
            (
                "XDG_STATE_HOME",
                h.join(".local/state").display().to_string(),
            ),
            ("XDG_CACHE_HOME", h.join(".cache").display().to_string()),
            ("PATH", format!("{}:{SYSTEM_PATH}", self.bin().display())),
            (
                "ACTSIM_SYSTEM_STATE_DIR",
                self.system_state().display().to_string(),
            ),
        ];
        if let Some(host) = &self.docker_host {
            vars.push(("DOCKER_HOST", host.clone()));
        }
        if let Some(cfg) = &self.docker_config {
            vars.push(("DOCKER_CONFIG", cfg.display().to_string()));
        }
        vars
    }

    /// HOME, the XDG dirs, PATH (bin dir first), root's state dir and the engine of this
    /// world.
    pub fn within(&self, cmd: Cmd) -> Cmd {
        self.vars()
            .into_iter()
            .fold(cmd, |cmd, (k, v)| cmd.env(k, v))
    }

    /// The same for a `std::process::Command` (for a pseudo-terminal or a signal).
    pub fn within_std(&self, cmd: &mut std::process::Command) {
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
    }

    /// `docker ARGS` against this world's engine.
    pub fn docker(&self) -> Cmd {
        self.within(Cmd::new("docker").timeout(Duration::from_secs(120)))
    }

    /// `actsim setup --bin-dir B --config-dir C` in this world, nothing else.
    pub fn setup_bare(&self) -> Cmd {
        self.within(
            Cmd::actsim()
                .arg("setup")
                .arg("--bin-dir")
                .arg(self.bin())
                .arg("--config-dir")
                .arg(self.config())
                .timeout(Duration::from_secs(300)),
        )
    }

    /// `actsim setup --no-check --act-base-url BASE` (not yet with `--yes`): the act step
    /// downloading from `base`.
    pub fn setup_from(&self, base: &str) -> Cmd {
        self.setup_bare()
            .args(["--no-check", "--act-base-url", base])
    }

    /// `actsim setup --no-check` from the mirror, not yet with `--yes`: the act step's
    /// tests.
    pub fn setup_act(&self) -> Cmd {
        self.setup_from(&self.mirror().base_url())
    }

    /// `actsim setup --yes` from the mirror with the platform image, when the world has
    /// one (human output; add `--format json`, or use [`World::setup_json`], to read JSON).
    pub fn setup(&self) -> Cmd {
        let cmd = self
            .setup_bare()
            .args(["--yes", "--timeout", "120", "--act-base-url"])
            .arg(self.mirror().base_url());
        match &self.image {
            Some(image) => cmd.args(["--platform-image", image]),
            None => cmd,
        }
    }

    /// `actsim setup --yes --format json`.
    pub fn setup_json(&self) -> Cmd {
        self.setup().args(["--format", "json"])
    }

    /// A fresh setup without the final check, which must succeed.
    #[track_caller]
    pub fn fresh_setup(&self) -> Outcome {
        let out = self.setup_json().arg("--no-check").run();
        out.assert_success();
        assert_eq!(out.json()["ok"], true, "{out}");
        out
    }

    /// `actsim setup --no-check` from the mirror (without `--yes`) for a pseudo-terminal:
    /// a clean environment with this world's, `TERM=xterm` and `NO_COLOR=1`.
    pub fn setup_on_terminal(&self) -> std::process::Command {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_actsim"));
        cmd.args([
            "setup",
            "--no-check",
            "--act-base-url",
            &self.mirror().base_url(),
        ]);
        if let Some(image) = &self.image {
            cmd.args(["--platform-image", image]);
        }
        cmd.arg("--bin-dir")
            .arg(self.bin())
            .arg("--config-dir")
            .arg(self.config())
            .env_clear();
        self.within_std(&mut cmd);
        cmd.env("TERM", "xterm").env("NO_COLOR", "1");
        cmd
    }

    /// `actsim doctor --format json` on this world.
    pub fn doctor(&self, timeout_secs: u64) -> Cmd {
        self.within(
            Cmd::actsim()
                .args(["doctor", "--format", "json", "--timeout"])
                .arg(timeout_secs.to_string())
                .arg("--bin-dir")
                .arg(self.bin())
                .arg("--config-dir")
                .arg(self.config())
                .timeout(Duration::from_secs(timeout_secs + 120)),
        )
    }

    /// `actsim uninstall --format json` on this world (add `--yes` and friends); it finds
    /// everything through the receipt.
    pub fn uninstall(&self) -> Cmd {
        self.within(
            Cmd::actsim()
                .args(["uninstall", "--format", "json"])
                .timeout(Duration::from_secs(180)),
        )
    }

    /// `program args` from `dir` (with `PWD` set, as a shell would) in this world.
    pub fn run_in(&self, dir: &Path, program: &str, args: &[&str]) -> Cmd {
        self.within(Cmd::new(program).args(args))
            .current_dir(dir)
            .env("PWD", dir)
            .timeout(Duration::from_secs(180))
    }

    /// Every path under the world's root, relative to it, sorted.
    pub fn tree(&self) -> Vec<String> {
        fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                out.push(p.strip_prefix(root).unwrap().display().to_string());
                if p.is_dir() && !p.is_symlink() {
                    walk(&p, root, out);
                }
            }
        }
        let mut out = Vec::new();
        walk(self.root.path(), self.root.path(), &mut out);
        out.sort();
        out
    }
}

/// A JSON file, parsed.
#[track_caller]
pub fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}
