//! A user's world in temp dirs for lifecycle tests (doctor --fix, --bundle, uninstall):
//! HOME with the XDG dirs under it, a bin dir, the busybox platform image, a loopback
//! mirror, and optionally a private daemon ([`super::dockerd::PrivateDaemon`]) so a test
//! may remove `actsim/act:*` images without touching what other tests use.
//!
//! What can go wrong: the daemon or a fixture is missing (skip, or under CI fail).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::dockerd::PrivateDaemon;
use super::images::busybox_platform_image;
use super::mirror::Mirror;
use super::temp::{self, TempDir};
use super::{Cmd, Outcome, require_daemon};

/// Directories every run gets on PATH after the bin dir (act is in none of them).
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct World {
    pub mirror: Mirror,
    pub root: TempDir,
    pub image: String,
    /// The private daemon this world talks to, when it has one.
    pub daemon: Option<PrivateDaemon>,
}

impl World {
    /// A world on the machine's daemon.
    pub fn new() -> Option<World> {
        if !require_daemon() {
            return None;
        }
        let image = busybox_platform_image()?;
        World::build(image, None)
    }

    /// A world on its own private daemon (root only).
    pub fn private() -> Option<World> {
        let daemon = PrivateDaemon::start()?;
        let image = daemon.import_busybox_platform()?;
        World::build(image, Some(daemon))
    }

    fn build(image: String, daemon: Option<PrivateDaemon>) -> Option<World> {
        let mirror = Mirror::start()?;
        let root = temp::dir();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Some(World {
            mirror,
            root,
            image,
            daemon,
        })
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

    pub fn receipt(&self) -> Value {
        let path = self.state().join("receipt.json");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
    }

    /// `DOCKER_HOST=unix://…` of the private daemon, when there is one.
    pub fn docker_host(&self) -> Option<String> {
        self.daemon.as_ref().map(PrivateDaemon::host)
    }

    /// HOME, the XDG dirs, PATH (bin dir first) and the daemon of this world.
    pub fn within(&self, cmd: Cmd) -> Cmd {
        let h = self.home();
        let cmd = cmd
            .env("HOME", &h)
            .env("XDG_CONFIG_HOME", h.join(".config"))
            .env("XDG_STATE_HOME", h.join(".local/state"))
            .env("XDG_CACHE_HOME", h.join(".cache"))
            .env("PATH", format!("{}:{SYSTEM_PATH}", self.bin().display()))
            .env("ACTSIM_SYSTEM_STATE_DIR", self.system_state());
        match self.docker_host() {
            Some(host) => cmd.env("DOCKER_HOST", host),
            None => cmd,
        }
    }

    /// `docker ARGS` against this world's daemon.
    pub fn docker(&self) -> Cmd {
        self.within(Cmd::new("docker").timeout(Duration::from_secs(120)))
    }

    /// `actsim setup --yes --format json` from the mirror with the busybox platform image.
    pub fn setup(&self) -> Cmd {
        self.within(
            Cmd::actsim()
                .args([
                    "setup",
                    "--yes",
                    "--format",
                    "json",
                    "--timeout",
                    "120",
                    "--act-base-url",
                ])
                .arg(self.mirror.base_url())
                .args(["--platform-image", &self.image])
                .arg("--bin-dir")
                .arg(self.bin())
                .arg("--config-dir")
                .arg(self.config())
                .timeout(Duration::from_secs(300)),
        )
    }

    /// A fresh setup without the final check, which must succeed.
    pub fn fresh_setup(&self) -> Outcome {
        let out = self.setup().arg("--no-check").run();
        out.assert_success();
        assert_eq!(out.json()["ok"], true, "{out}");
        out
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

    /// Every path under HOME and the bin dir, relative to the world's root, sorted.
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
