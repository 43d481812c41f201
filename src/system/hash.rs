//! SHA-256 of files, each file hashed at most once per run: a [`Hashes`] remembers the
//! digest of every file it hashed by the file's identity (device, inode, size, modification
//! and change times), so the act binary setup observed is not hashed again by the final
//! check, and a file that changed in between is. Every real hash logs one
//! `hashing PATH` debug line (the count a test checks).
//!
//! What can go wrong: a file that cannot be read (the error names it), one too large
//! (`files::MAX_HASH`); a file changed within one timestamp tick keeps its old digest, the
//! same trade-off make and git make.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

/// What identifies one version of a file (its stamp): device, inode, size, modification
/// and change times (a ctime cannot be set back by anyone but the clock). The one stamp of
/// every cache that remembers something about a file until it changes (this one, doctor's
/// `stamps`, the compose tool's fingerprint, run's preflight).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl Stamp {
    pub fn of(m: &std::fs::Metadata) -> Stamp {
        Stamp {
            dev: m.dev(),
            ino: m.ino(),
            size: m.size(),
            mtime: (m.mtime(), m.mtime_nsec()),
            ctime: (m.ctime(), m.ctime_nsec()),
        }
    }

    /// The stamp of `path` (following links, as running it does); `None` when it is not
    /// there.
    pub fn of_path(path: &Path) -> Option<Stamp> {
        std::fs::metadata(path).ok().map(|m| Stamp::of(&m))
    }
}

impl std::fmt::Display for Stamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Stamp {
            dev,
            ino,
            size,
            mtime,
            ctime,
        } = self;
        write!(
            f,
            "{size} {}.{} {}.{} {ino} {dev}",
            mtime.0, mtime.1, ctime.0, ctime.1
        )
    }
}

/// The digests of the files hashed in this run; clones share them.
#[derive(Debug, Clone, Default)]
pub struct Hashes {
    known: Arc<Mutex<HashMap<Stamp, String>>>,
}

impl Hashes {
    /// The SHA-256 of the open `file` (named `path` in logs and errors), hashed only when
    /// this version of it was not hashed before.
    pub fn of_file(&self, file: File, path: &Path) -> std::io::Result<String> {
        let id = Stamp::of(&file.metadata()?);
        if let Some(sha) = self.known.lock().ok().and_then(|k| k.get(&id).cloned()) {
            return Ok(sha);
        }
        log::debug!("hashing {}", path.display());
        let sha = super::files::sha256_reader(file)?;
        if let Ok(mut k) = self.known.lock() {
            k.insert(id, sha.clone());
        }
        Ok(sha)
    }

    /// The SHA-256 of the regular file at `path` (no link followed; see
    /// [`super::files::open_regular`]).
    pub fn of_path(&self, path: &Path) -> std::io::Result<String> {
        let file = super::files::open_regular(path, super::files::MAX_HASH)
            .map_err(|e| std::io::Error::other(e.to_string()))?
            .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
        self.of_file(file, path)
    }

    /// [`Hashes::of_path`] off the async threads.
    pub async fn of_path_async(&self, path: &Path) -> Result<String, super::program::ReadError> {
        let (me, owned) = (self.clone(), path.to_path_buf());
        super::program::blocking_read(path, move || me.of_path(&owned)).await
    }

    /// Record the digest of a file whose bytes were hashed as they were written (an act
    /// just installed), so nobody reads it again to hash it.
    pub fn remember(&self, file: &File, sha256: &str) {
        if let (Ok(m), Ok(mut k)) = (file.metadata(), self.known.lock()) {
            k.insert(Stamp::of(&m), sha256.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_hashed_again_only_when_it_changed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"one").unwrap();
        let h = Hashes::default();
        let first = h.of_path(&p).unwrap();
        assert_eq!(first, super::super::files::sha256_hex(b"one"));
        assert_eq!(h.known.lock().unwrap().len(), 1);
        assert_eq!(h.clone().of_path(&p).unwrap(), first);
        assert_eq!(
            h.known.lock().unwrap().len(),
            1,
            "a clone shares the digests"
        );
        std::fs::write(&p, b"two!").unwrap();
        assert_eq!(
            h.of_path(&p).unwrap(),
            super::super::files::sha256_hex(b"two!")
        );
        assert_eq!(h.known.lock().unwrap().len(), 2);
    }
}
