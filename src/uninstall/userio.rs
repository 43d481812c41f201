//! File I/O of uninstall, all through [`Fs`]: when root acts for another user, whatever
//! that user could modify is read, hashed, written and removed by the agent running as
//! them; root-owned paths by root without following links.
//!
//! What can go wrong: a path that is a link, a FIFO or too large (refused), a file that
//! changed since the plan (kept, "run uninstall again"), an I/O error.

use std::path::Path;

use crate::error::{Error, Result};
use crate::system::files::MAX_READ;
use crate::system::privsep::Fs;

/// Largest binary hashed (act is ~20 MB).
const MAX_BINARY: u64 = 512 << 20;

/// SHA-256 of a regular file, never through a link; `None` when absent.
pub fn hash(fs: &Fs, path: &Path) -> Result<Option<String>> {
    match fs.open(path, MAX_BINARY)? {
        None => Ok(None),
        Some(f) => crate::system::files::sha256_reader(f)
            .map(Some)
            .map_err(|e| Error::io(path, e)),
    }
}

/// A configuration file (≤ 1 MiB, regular, no link); `None` when absent.
pub fn read(fs: &Fs, path: &Path) -> Result<Option<Vec<u8>>> {
    fs.read(path, MAX_READ)
}

/// A failed read or hash as uninstall reports it: the message, exit 1, no hint.
fn failed(e: Error) -> Error {
    Error::failed(e.to_string(), None)
}

/// Whether `dir` exists (as anything).
pub fn exists(fs: &Fs, dir: &Path) -> bool {
    matches!(fs.stat(dir), Ok(Some(_)))
}

/// Unlink `path` when it is a regular file whose hash is `sha`. `Ok(false)`: it was
/// already gone. A file with another hash is refused (it changed since planning).
pub fn remove_if(fs: &Fs, path: &Path, sha: &str) -> Result<bool> {
    match hash(fs, path).map_err(failed)? {
        None => Ok(false),
        Some(h) if h == sha => fs.remove(path),
        Some(_) => Err(Error::failed(
            format!("{} changed while uninstalling: kept", path.display()),
            Some("run uninstall again".into()),
        )),
    }
}

/// Put `backup` (hash `sha`) back at `target`, atomically, mode 0755; the copy is
/// hashed again afterwards.
pub fn restore(fs: &Fs, backup: &Path, target: &Path, sha: &str) -> Result<()> {
    if hash(fs, backup).map_err(failed)?.as_deref() != Some(sha) {
        return Err(Error::failed(
            format!(
                "{} does not hold the act setup replaced: not restored",
                backup.display()
            ),
            None,
        ));
    }
    fs.copy(backup, target, 0o755, MAX_BINARY)?;
    if hash(fs, target).map_err(failed)?.as_deref() != Some(sha) {
        return Err(Error::failed(
            format!("{} changed while it was restored", target.display()),
            Some("run uninstall again".into()),
        ));
    }
    Ok(())
}

/// Write what is left of a file (atomic, no links).
pub fn write(fs: &Fs, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    fs.write_atomic(path, bytes, mode)
}

/// Remove `dir` when it is an empty directory (best effort).
pub fn remove_empty_dir(fs: &Fs, dir: &Path) {
    let _ = fs.remove_empty_dir(dir);
}

/// The files actsim writes in a state dir: setup's receipt and lock, doctor's caches,
/// run's preflight cache, the backups and the run logs (their directories).
pub fn is_ours(name: &str) -> bool {
    let files = [
        crate::receipt::FILE_NAME,
        crate::system::lock::FILE_NAME,
        crate::doctor::compose_cache::FILE_NAME,
        crate::doctor::stamps::FILE_NAME,
        crate::run::preflight::CACHE_FILE,
    ];
    files.contains(&name) || name.starts_with("receipt.json.") || matches!(name, "backup" | "logs")
}

/// Remove the state dir: actsim's own files ([`is_ours`], `backup/act-*`,
/// `logs/run-*.log`), then the directories. Anything else keeps the directory; it is
/// reported.
pub fn remove_state(fs: &Fs, dir: &Path) -> Result<Vec<String>> {
    for name in fs.list(dir, "", "")? {
        if is_ours(&name) && !matches!(name.as_str(), "backup" | "logs") {
            fs.remove(&dir.join(&name))?;
        }
    }
    for (sub, prefix, suffix) in [("backup", "act-", ""), ("logs", "run-", ".log")] {
        let d = dir.join(sub);
        if exists(fs, &d) {
            for name in fs.list(&d, prefix, suffix).unwrap_or_default() {
                fs.remove(&d.join(name))?;
            }
            remove_empty_dir(fs, &d);
        }
    }
    let _ = fs.remove_empty_dir(dir);
    if !exists(fs, dir) {
        return Ok(Vec::new());
    }
    let mut left: Vec<String> = fs
        .list(dir, "", "")
        .unwrap_or_default()
        .into_iter()
        .map(|n| dir.join(n).display().to_string())
        .collect();
    for sub in ["backup", "logs"] {
        if exists(fs, &dir.join(sub)) {
            left.push(dir.join(sub).display().to_string());
        }
    }
    if left.is_empty() {
        left.push(format!("{} (not empty)", dir.display()));
    }
    Ok(left)
}
