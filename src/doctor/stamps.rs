//! What doctor learned about a binary, remembered until the binary changes: the SHA-256 of
//! the installed act (hashing 20 MB on every run costs CPU a loaded machine does not
//! have) and what `docker --version` printed (a Go program started for one line). Each
//! value is stored with the file's [`Stamp`] and used only while the stamp is the same.
//!
//! `stamps.json` in the target user's state dir, written only when that dir exists and is
//! the running user's, through [`crate::system::files::write_atomic`]; read with [`super::compose_cache::read_user_file`]. What
//! can go wrong: a corrupt or unreadable file (ignored: values are computed again and the
//! file rewritten), two checks writing at once (one entry may be lost: stored again on
//! the next run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::system::hash::Stamp;

pub const FILE_NAME: &str = "stamps.json";

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Stamps {
    entries: BTreeMap<String, Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Entry {
    stamp: Stamp,
    value: String,
}

fn file(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

fn load(state_dir: &Path) -> Stamps {
    super::compose_cache::read_user_file(&file(state_dir))
        .ok()
        .flatten()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn key(kind: &str, path: &Path) -> String {
    format!("{kind} {}", path.display())
}

/// The `kind` value remembered for `path`, if its stamp is unchanged.
pub fn lookup(state_dir: Option<&Path>, kind: &str, path: &Path) -> Option<String> {
    let dir = state_dir?;
    let now = Stamp::of_path(path)?;
    let entry = load(dir).entries.remove(&key(kind, path))?;
    (entry.stamp == now).then_some(entry.value)
}

/// Remember `value` for `path` under its current stamp (best effort).
pub fn store(state_dir: Option<&Path>, kind: &str, path: &Path, value: &str) {
    let Some(dir) = state_dir.filter(|d| super::compose_cache::writable_state_dir(d)) else {
        return;
    };
    let Some(now) = Stamp::of_path(path) else {
        return;
    };
    let mut all = load(dir);
    let entry = Entry {
        stamp: now,
        value: value.to_string(),
    };
    if all.entries.get(&key(kind, path)) == Some(&entry) {
        return;
    }
    all.entries.insert(key(kind, path), entry);
    super::compose_cache::write_json(&file(dir), &all);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_holds_until_the_file_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let bin = dir.join("bin");
        std::fs::write(&bin, "one").unwrap();
        let state = Some(dir.as_path());
        assert_eq!(lookup(state, "sha", &bin), None);
        store(state, "sha", &bin, "h1");
        store(state, "ver", &bin, "v1");
        assert_eq!(lookup(state, "sha", &bin).as_deref(), Some("h1"));
        assert_eq!(lookup(state, "ver", &bin).as_deref(), Some("v1"));
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&bin, "two").unwrap();
        assert_eq!(
            lookup(state, "sha", &bin),
            None,
            "a changed file has no value"
        );
        assert_eq!(lookup(None, "sha", &bin), None);
    }
}
