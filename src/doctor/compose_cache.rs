//! doctor's memory of a compose file that validated: `compose.config` runs the compose tool
//! (`config -q`: half a second for the Python v1, a tenth for v2 alone, more on a loaded
//! machine) only when the compose file, the `.env` beside it or the compose tool changed
//! since the last run that passed. The key is a SHA-256 over the SHA-256 of the compose
//! file, that of the `.env`, the config dir, and the tool's fingerprint
//! ([`crate::docker::detect::compose_fingerprint`]: paths, sizes, modification times, inodes).
//!
//! The cache is `compose-check.json` in the target user's state dir, written only when that
//! dir exists (setup made it) and belongs to the user doctor runs as, atomically and never
//! through a link ([`crate::system::files::write_atomic`]). Only passes are kept; a failure is
//! validated again on every run.
//!
//! The user's files (compose file, `.env`, the cache itself) are read by [`read_user_file`]
//! alone: no links followed, no FIFOs or devices, at most 1 MiB. What can go wrong: an
//! unreadable, corrupt or foreign cache (ignored: validated again and rewritten), a state
//! dir that cannot be written (the cache is skipped; the check's verdict stands).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The cache file's name in the state dir.
pub const FILE_NAME: &str = "compose-check.json";
/// Largest user file read.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// What a validation that passed found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// See the module documentation.
    pub key: String,
    /// `docker compose 2.40.3` or `docker-compose 1.29.2`.
    pub tool: String,
    /// The tool was compose v1.
    pub v1: bool,
}

/// A regular file in a user's directories, read with [`crate::system::files::read_bounded`]: no link
/// followed, no FIFO or device, at most [`MAX_BYTES`]. `Ok(None)`: it does not exist.
pub fn read_user_file(path: &Path) -> crate::error::Result<Option<Vec<u8>>> {
    crate::system::files::read_bounded(path, MAX_BYTES)
}

/// Whether doctor may write its caches into `dir`: it exists and belongs to this process's
/// user (doctor runs as the target user; as root for another user it keeps no cache).
pub fn writable_state_dir(dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(dir)
        .is_ok_and(|m| m.is_dir() && m.uid() == nix::unistd::Uid::effective().as_raw())
}

/// The cache key (see the module documentation).
pub fn key(compose_sha: &str, env_sha: &str, config_dir: &Path, fingerprint: &str) -> String {
    crate::system::files::sha256_hex(
        format!(
            "actsim compose-check 1\n{compose_sha}\n{env_sha}\n{}\n{fingerprint}\n",
            config_dir.display()
        )
        .as_bytes(),
    )
}

fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// The entry for `key`, if the cache holds it.
pub fn lookup(state_dir: &Path, key: &str) -> Option<Entry> {
    let bytes = read_user_file(&path(state_dir)).ok()??;
    let entry: Entry = serde_json::from_slice(&bytes).ok()?;
    (entry.key == key).then_some(entry)
}

/// Remember a pass. Only into a state dir that exists and is this user's; best effort.
pub fn store(state_dir: &Path, entry: &Entry) {
    if !writable_state_dir(state_dir) {
        return;
    }
    write_json(&path(state_dir), entry);
}

/// Write `value` as JSON to `path` (mode 0600, atomically, as this user); best effort:
/// doctor's caches are only ever a shortcut.
pub fn write_json(path: &Path, value: &impl serde::Serialize) {
    if let Ok(json) = serde_json::to_vec_pretty(value) {
        let _ = crate::system::files::write_atomic(
            path,
            &json,
            0o600,
            crate::system::files::Walk::Lenient,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pass_is_found_again_only_under_its_key() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let k = key("a", "b", Path::new("/c"), "tool");
        assert_ne!(k, key("a", "b", Path::new("/c"), "tool2"));
        assert_ne!(k, key("a", "x", Path::new("/c"), "tool"));
        let entry = Entry {
            key: k.clone(),
            tool: "docker compose 2.40.3".into(),
            v1: false,
        };
        assert_eq!(lookup(&dir, &k), None);
        store(&dir, &entry);
        assert_eq!(lookup(&dir, &k), Some(entry));
        assert_eq!(lookup(&dir, "other"), None);
        // A corrupt cache is no entry.
        std::fs::write(dir.join(FILE_NAME), "{").unwrap();
        assert_eq!(lookup(&dir, &k), None);
        // No state dir: nothing is created.
        std::fs::remove_dir_all(&dir).unwrap();
        store(
            &dir,
            &Entry {
                key: k,
                tool: String::new(),
                v1: false,
            },
        );
        assert!(!dir.exists());
    }

    #[test]
    fn user_files_are_read_without_following_links_or_fifos() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        std::fs::write(dir.join("f"), "x").unwrap();
        std::os::unix::fs::symlink(dir.join("f"), dir.join("l")).unwrap();
        nix::unistd::mkfifo(
            &dir.join("p"),
            nix::sys::stat::Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        assert_eq!(read_user_file(&dir.join("f")).unwrap(), Some(b"x".to_vec()));
        assert_eq!(read_user_file(&dir.join("none")).unwrap(), None);
        assert!(read_user_file(&dir.join("l")).is_err());
        assert!(read_user_file(&dir.join("p")).is_err());
    }
}
