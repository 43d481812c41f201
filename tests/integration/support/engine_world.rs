//! A user's world for end-to-end runs of `actsim setup` and `actsim doctor`: HOME (with the
//! XDG dirs under it), a bin dir, a config dir and a loopback mirror serving the real act,
//! all in temp dirs, plus optional `DOCKER_HOST` (another engine) and `DOCKER_CONFIG` (the
//! compose v2 plugin) given to every command of the world. The machine's own
//! configuration is never touched.
//!
//! What can go wrong: a fixture is missing (skip, or fail under `CI=true`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::mirror::Mirror;
use super::temp::{self, TempDir};
use super::{Cmd, Outcome};

/// Directories every run gets on PATH after the bin dir (act is in none of them).
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub struct World {
    pub mirror: Mirror,
    root: TempDir,
    /// `--platform-image` for setup.
    pub platform_image: String,
    /// Given to every command as `DOCKER_HOST` when set.
    pub docker_host: Option<String>,
    /// Given to every command as `DOCKER_CONFIG` when set.
    pub docker_config: Option<PathBuf>,
}

impl World {
    /// `None` (after printing why) when the act fixture is missing outside CI.
    pub fn new(platform_image: &str) -> Option<World> {
        let mirror = Mirror::start()?;
        let root = temp::dir();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Some(World {
            mirror,
            root,
            platform_image: platform_image.to_string(),
            docker_host: None,
            docker_config: None,
        })
    }

    pub fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    pub fn bin(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    /// `$XDG_CONFIG_HOME/actsim`, also passed as `--config-dir`.
    pub fn config(&self) -> PathBuf {
        self.home().join(".config/actsim")
    }

    pub fn compose_file(&self) -> PathBuf {
        self.config().join("docker-compose.yml")
    }

    pub fn env_file(&self) -> PathBuf {
        self.config().join(".env")
    }

    /// `$XDG_STATE_HOME/actsim`.
    pub fn state(&self) -> PathBuf {
        self.home().join(".local/state/actsim")
    }

    /// HOME, the XDG dirs, PATH (bin dir first), DOCKER_HOST and DOCKER_CONFIG of this
    /// world.
    pub fn within(&self, cmd: Cmd) -> Cmd {
        let h = self.home();
        let mut cmd = cmd
            .env("HOME", &h)
            .env("XDG_CONFIG_HOME", h.join(".config"))
            .env("XDG_STATE_HOME", h.join(".local/state"))
            .env("PATH", format!("{}:{SYSTEM_PATH}", self.bin().display()));
        if let Some(host) = &self.docker_host {
            cmd = cmd.env("DOCKER_HOST", host);
        }
        if let Some(cfg) = &self.docker_config {
            cmd = cmd.env("DOCKER_CONFIG", cfg);
        }
        cmd
    }

    /// `actsim setup --yes --format json` from the mirror with the platform image.
    pub fn setup(&self) -> Cmd {
        self.within(
            Cmd::actsim()
                .args(["setup", "--yes", "--format", "json", "--timeout", "120"])
                .arg("--act-base-url")
                .arg(self.mirror.base_url())
                .args(["--platform-image", &self.platform_image])
                .arg("--bin-dir")
                .arg(self.bin())
                .arg("--config-dir")
                .arg(self.config())
                .timeout(Duration::from_secs(300)),
        )
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
                .timeout(Duration::from_secs(timeout_secs + 60)),
        )
    }

    /// `program args` from `dir` (with `PWD` set, as a shell would) in this world.
    pub fn run_in(&self, dir: &Path, program: &str, args: &[&str]) -> Cmd {
        self.within(Cmd::new(program).args(args))
            .current_dir(dir)
            .env("PWD", dir)
            .timeout(Duration::from_secs(180))
    }
}

/// The step with this id in setup's JSON report.
#[track_caller]
pub fn step<'a>(out: &'a Outcome, id: &str) -> &'a Value {
    out.json()["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id:?}\n{out}"))
}

/// `summary` of a setup step or doctor check as text.
pub fn summary(v: &Value) -> String {
    v["summary"].as_str().unwrap_or("").to_string()
}
