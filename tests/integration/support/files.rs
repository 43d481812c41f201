//! Looking at files the way the tests compare them: bytes, hashes, modes, owners, `.env`
//! maps, and stamps and trees that tell "not rewritten" from "rewritten the same".
//!
//! What can go wrong: a path is missing or unreadable (the helper panics naming it).

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

#[track_caller]
pub fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

#[track_caller]
pub fn sha256_file(path: &Path) -> String {
    actsim::system::files::sha256_hex(&read(path))
}

/// `KEY=VALUE` lines of a `.env` file (comments and blanks skipped).
#[track_caller]
pub fn env_map(path: &Path) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&read(path))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

/// The permission bits of a path (not following a link).
#[track_caller]
pub fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// `(uid, gid)` owning a path (not following a link).
#[track_caller]
pub fn owner(path: &Path) -> (u32, u32) {
    let m =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    (m.uid(), m.gid())
}

/// Path, inode, mtime and hash of each file: equal before and after means not rewritten.
#[track_caller]
pub fn stamps(paths: &[PathBuf]) -> Vec<(PathBuf, u64, SystemTime, String)> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(p)
                .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
            (p.clone(), m.ino(), m.modified().unwrap(), sha256_file(p))
        })
        .collect()
}

/// Every entry under `dir` (recursively) with mode, mtime and content hash, sorted;
/// `["<absent>"]` when the dir does not exist.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec!["<absent>".into()];
    };
    for e in rd {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let what = if m.is_symlink() {
            format!("-> {}", std::fs::read_link(&p).unwrap().display())
        } else if m.is_dir() {
            format!("[{}]", tree(&p).join(", "))
        } else {
            sha256_file(&p)
        };
        out.push(format!(
            "{} {:o} {:?} {what}",
            p.display(),
            m.permissions().mode(),
            m.modified().unwrap()
        ));
    }
    out.sort();
    out
}

/// Every entry under `dir` by name with its mode and a hash of its bytes (or its link
/// target), sorted; `["<absent>"]` when the dir does not exist.
pub fn listing(dir: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec!["<absent>".into()];
    };
    let mut out: Vec<String> = rd
        .map(|e| {
            let e = e.unwrap();
            let p = e.path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            let what = if meta.is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else if meta.is_dir() {
                format!("dir [{}]", listing(&p).join(", "))
            } else {
                actsim::system::files::sha256_hex(&std::fs::read(&p).unwrap())
            };
            format!(
                "{} {:o} {what}",
                e.file_name().to_string_lossy(),
                meta.permissions().mode()
            )
        })
        .collect();
    out.sort();
    out
}

/// The SHA-256 of the fixture act binary.
pub fn fixture_sha() -> String {
    sha256_file(&super::fixtures::act_path())
}
