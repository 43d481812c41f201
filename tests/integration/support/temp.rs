//! Temporary directories that remove themselves, and a "healthy bin dir" holding a copy of
//! the fixture act that other (temporary) users can run.
//!
//! What can go wrong: `/tmp` not writable (the test panics naming it).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub use tempfile::TempDir;

/// A fresh directory under the system temp dir, mode 0755 so temporary users can enter
/// it; removed with everything in it when dropped.
pub fn dir() -> TempDir {
    let d = tempfile::Builder::new()
        .prefix("actsim-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temp dir under {:?}: {e}", std::env::temp_dir()));
    chmod(d.path(), 0o755);
    d
}

/// `chmod MODE path`, panicking with the path on failure.
pub fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {mode:o} {}: {e}", path.display()));
}

/// `chown -R uid:gid path`.
pub fn chown_r(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid))
        .unwrap_or_else(|e| panic!("chown {uid}:{gid} {}: {e}", path.display()));
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path).unwrap() {
            chown_r(&entry.unwrap().path(), uid, gid);
        }
    }
}

/// Write `text` to `path`, creating parent directories.
pub fn write(path: &Path, text: &str) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .unwrap_or_else(|e| panic!("mkdir -p {}: {e}", parent.display()));
    }
    std::fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A temp dir (0755) holding `act`, a copy of the fixture act (0755).
pub struct BinDir {
    dir: TempDir,
}

impl BinDir {
    /// `None` (after printing why) when the fixture act is missing outside CI.
    pub fn healthy() -> Option<BinDir> {
        let act = super::fixtures::require_act()?;
        let dir = dir();
        let dest = dir.path().join("act");
        std::fs::copy(&act, &dest)
            .unwrap_or_else(|e| panic!("copying {} to {}: {e}", act.display(), dest.display()));
        chmod(&dest, 0o755);
        Some(BinDir { dir })
    }

    /// A bin dir with no act in it.
    pub fn empty() -> BinDir {
        BinDir { dir: dir() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn act(&self) -> PathBuf {
        self.dir.path().join("act")
    }
}
