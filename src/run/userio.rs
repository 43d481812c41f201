//! The only file I/O `actsim run` does in the user's directories: capped reads that never
//! follow a link or open a FIFO or device, the preflight cache write, and the run logs.
//! Kept small and in one place so it can move to the user-side worker (issue 7).
//!
//! What can go wrong: a file that is a link, not regular, or larger than the cap (read as
//! absent), a log directory that cannot be created (the run goes on without a log file).

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The most any read here takes.
pub const READ_CAP: u64 = crate::system::files::MAX_READ;

/// The bytes of a regular file at `path` ([`crate::system::files::read_bounded`]: no link
/// followed, no FIFO or device opened, at most [`READ_CAP`]); `None` when it is absent or
/// not such a file.
pub fn read_capped(path: &Path) -> Option<Vec<u8>> {
    crate::system::files::read_bounded(path, READ_CAP)
        .ok()
        .flatten()
}

/// Text of a file read with [`read_capped`].
pub fn read_text(path: &Path) -> Option<String> {
    read_capped(path).map(|b| String::from_utf8_lossy(&b).into_owned())
}

/// Write the preflight cache (atomically, mode 0600, never through a link).
pub fn write_state(path: &Path, bytes: &[u8]) -> crate::error::Result<()> {
    crate::system::files::write_atomic(path, bytes, 0o600, crate::system::files::Walk::Lenient)
}

/// Why a run has no log file (the run goes on without one).
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    #[error("cannot create {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot use {}: {source}", .dir.display())]
    Use {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
}

/// Create a new log file `run-<UTC time>-<pid>.log` in `dir` (0700, created if needed),
/// opened exclusively without following links, and keep only the newest `keep` logs.
pub fn create_log(dir: &Path, keep: usize) -> Result<(std::fs::File, PathBuf), LogError> {
    std::fs::create_dir_all(dir).map_err(|source| LogError::Create {
        path: dir.to_path_buf(),
        source,
    })?;
    let meta = std::fs::symlink_metadata(dir).map_err(|source| LogError::Use {
        dir: dir.to_path_buf(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(LogError::NotADirectory(dir.to_path_buf()));
    }
    if meta.permissions().mode() & 0o022 != 0 && meta.uid() == nix::unistd::geteuid().as_raw() {
        let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700));
    }
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    let path = dir.join(format!("run-{stamp}-{}.log", std::process::id()));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(nix::libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|source| LogError::Create {
            path: path.clone(),
            source,
        })?;
    prune(dir, keep);
    Ok((file, path))
}

use std::os::unix::fs::MetadataExt;

/// Remove all but the newest `keep` `run-*.log` regular files (names sort by time).
fn prune(dir: &Path, keep: usize) {
    let Ok(logs) = crate::system::files::list_regular(dir, crate::doctor::bundle::is_run_log)
    else {
        return;
    };
    let excess = logs.len().saturating_sub(keep);
    for name in logs.into_iter().take(excess) {
        let _ = std::fs::remove_file(dir.join(name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_pruned_to_the_newest() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        for i in 0..5 {
            std::fs::write(dir.join(format!("run-2020-0{i}.log")), "x").unwrap();
        }
        std::fs::write(dir.join("other.txt"), "x").unwrap();
        let (_, path) = create_log(&dir, 3).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect();
        left.sort();
        assert_eq!(left.len(), 4, "{left:?}");
        assert!(left.contains(&"other.txt".to_string()));
        assert!(path.exists());
        assert!(!dir.join("run-2020-00.log").exists());
        std::os::unix::fs::symlink("/etc/passwd", dir.join("link")).unwrap();
        assert_eq!(read_capped(&dir.join("link")), None);
    }
}
