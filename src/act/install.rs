//! Extracting `act` from a release archive in one streaming pass, and installing it
//! atomically.
//!
//! The archive bytes are hashed (SHA-256), gunzipped and untarred as they arrive; only the
//! top-level `act` entry is written, straight into `.act.<pid>.partial` in the bin dir.
//! [`Staged`] removes that file on drop unless [`Staged::commit`] renamed it over `act`, so
//! on any failure (bad checksum, bad archive, timeout, Ctrl-C, SIGTERM) the bin dir holds
//! exactly what it held before; one left by a killed run is removed by the next run
//! ([`remove_stale_staging`]). A replaced `act` is copied into the state dir first. All
//! of it goes through [`Fs`], so in a user's bin dir it happens as that user.
//!
//! What can go wrong: unsafe paths (absolute, `..`) or an oversized `act` entry (refused),
//! no `act` in the archive, a binary that does not run, a bin dir that cannot be written.

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::act::release::{self, MAX_BINARY_BYTES};
use crate::error::{Error, IoContext, Result};
use crate::system::privsep::Fs;

/// What one pass over an archive produced.
#[derive(Debug)]
pub struct Extracted {
    /// SHA-256 of every byte read (the whole archive).
    pub archive_sha256: String,
    pub archive_bytes: u64,
    /// The `act` entry written to the staged file, or why the archive is unusable.
    pub binary: std::result::Result<Binary, ArchiveError>,
}

/// Why an archive holds no usable `act` binary (the archive's hash is known all the same).
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("staging file: {0}")]
    Staging(#[source] std::io::Error),
    #[error("not a tar.gz archive: {0}")]
    NotTarGz(#[source] std::io::Error),
    #[error("corrupt tar.gz archive: {0}")]
    Corrupt(#[source] std::io::Error),
    #[error("corrupt entry name: {0}")]
    EntryName(#[source] std::io::Error),
    #[error("refusing unsafe path in archive: {0}")]
    UnsafePath(#[source] release::UnsafePath),
    #[error("the archive holds more than one act entry")]
    TwoActs,
    #[error("the act entry is not a regular file ({0})")]
    NotRegular(String),
    #[error("the act entry is {0} bytes, more than the {MAX_BINARY_BYTES} allowed")]
    TooLarge(u64),
    #[error("the act entry is larger than the {MAX_BINARY_BYTES} bytes allowed")]
    GrewTooLarge,
    #[error("writing the staged act: {0}")]
    Write(#[source] std::io::Error),
    #[error("reading the archive: {0}")]
    Read(#[source] std::io::Error),
    #[error("the archive holds no top-level act binary")]
    NoAct,
}

/// The message, for callers that keep errors as text.
impl From<ArchiveError> for String {
    fn from(e: ArchiveError) -> String {
        e.to_string()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binary {
    pub sha256: String,
    pub size: u64,
}

/// Counts and hashes the bytes read through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// Hash, gunzip and untar `reader` in one pass, writing the `act` entry into `out`
/// (truncated first). Always reads `reader` to its end, so the archive hash covers every
/// byte even when the archive itself is unusable.
pub fn extract_act(reader: impl Read, out: &File) -> Extracted {
    let mut hashing = HashingReader {
        inner: reader,
        hasher: Sha256::new(),
        count: 0,
    };
    let binary = extract_from(&mut hashing, out);
    // Drain whatever the decoder did not need (and everything after an error).
    let drained = std::io::copy(&mut hashing, &mut std::io::sink());
    let binary = match (binary, drained) {
        (Ok(b), Ok(_)) => Ok(b),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(ArchiveError::Read(e)),
    };
    Extracted {
        archive_sha256: hex::encode(hashing.hasher.finalize()),
        archive_bytes: hashing.count,
        binary,
    }
}

fn extract_from(reader: &mut impl Read, out: &File) -> std::result::Result<Binary, ArchiveError> {
    let mut out = out;
    out.set_len(0).map_err(ArchiveError::Staging)?;
    out.rewind().map_err(ArchiveError::Staging)?;
    let gz = flate2::read::GzDecoder::new(reader);
    let mut archive = tar::Archive::new(gz);
    let mut found: Option<Binary> = None;
    let entries = archive.entries().map_err(ArchiveError::NotTarGz)?;
    for entry in entries {
        let mut entry = entry.map_err(ArchiveError::Corrupt)?;
        let path = entry.path().map_err(ArchiveError::EntryName)?.into_owned();
        let is_act = release::classify_entry(&path).map_err(ArchiveError::UnsafePath)?;
        if !is_act {
            continue;
        }
        if found.is_some() {
            return Err(ArchiveError::TwoActs);
        }
        let kind = entry.header().entry_type();
        if !kind.is_file() {
            return Err(ArchiveError::NotRegular(format!("{kind:?}")));
        }
        let size = entry.header().size().unwrap_or(u64::MAX);
        if size > MAX_BINARY_BYTES {
            return Err(ArchiveError::TooLarge(size));
        }
        let mut hasher = Sha256::new();
        let mut written = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        let mut limited = (&mut entry).take(MAX_BINARY_BYTES + 1);
        loop {
            let n = limited.read(&mut buf).map_err(ArchiveError::Corrupt)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(ArchiveError::Write)?;
            written += n as u64;
        }
        if written > MAX_BINARY_BYTES {
            return Err(ArchiveError::GrewTooLarge);
        }
        found = Some(Binary {
            sha256: hex::encode(hasher.finalize()),
            size: written,
        });
    }
    found.ok_or(ArchiveError::NoAct)
}

/// `act --version` → `0.2.89` (killed after `timeout`). Run by whoever may execute
/// `path` ([`Fs::exec_side`]): a binary the target user can write runs as them, never as
/// root. `home` is the `HOME` it gets when it runs here (act creates `~/.config/act`).
pub fn act_version(fs: &Fs, path: &Path, home: &Path, timeout: Duration) -> Option<String> {
    let home = home.to_string_lossy();
    let ran = fs
        .run(path, &["--version"], &[("HOME", home.as_ref())], timeout)
        .ok()?;
    if !ran.ok() {
        return None;
    }
    parse_version_output(&ran.stdout)
}

/// `act version 0.2.89` → `0.2.89`.
pub fn parse_version_output(out: &str) -> Option<String> {
    let v = out.trim().strip_prefix("act version ")?.trim();
    let v = v.strip_prefix('v').unwrap_or(v);
    (!v.is_empty() && !v.contains(char::is_whitespace)).then(|| v.to_string())
}

/// The prefix and suffix of staging files: `.act.<pid>.partial`.
pub const STAGING_PREFIX: &str = ".act.";
pub const STAGING_SUFFIX: &str = ".partial";

/// The staged binary `.act.<pid>.partial` in the bin dir, created by whoever owns the bin
/// dir ([`Fs::stage`]). Removed on drop unless committed; a bin dir created for it is
/// removed again when still empty.
#[derive(Debug)]
pub struct Staged {
    pub path: PathBuf,
    name: String,
    dir: PathBuf,
    fs: Fs,
    file: Option<File>,
    created_dir: Option<PathBuf>,
    committed: bool,
}

impl Staged {
    /// Create the staging file (and the bin dir when missing).
    pub fn create(fs: &Fs, bin_dir: &Path) -> Result<Self> {
        let name = format!("{STAGING_PREFIX}{}{STAGING_SUFFIX}", std::process::id());
        let path = bin_dir.join(&name);
        // A leftover from a killed run that had our pid is ours to replace.
        let _ = fs.remove(&path);
        let (file, created_dir) = fs.stage(bin_dir, &name).map_err(|e| match e {
            Error::Failed { message, hint } => Error::Failed {
                message,
                hint: hint.or_else(|| {
                    Some(format!(
                        "{} must be writable; pick another with --bin-dir",
                        bin_dir.display()
                    ))
                }),
            },
            e => e,
        })?;
        Ok(Staged {
            path,
            name,
            dir: bin_dir.to_path_buf(),
            fs: fs.clone(),
            file: Some(file),
            created_dir,
            committed: false,
        })
    }

    /// The open staging file (for the extractor; it truncates it per attempt).
    pub fn file(&self) -> &File {
        self.file
            .as_ref()
            .expect("staged file is open until commit")
    }

    /// fsync, make it executable (through the descriptor) and close it: Linux refuses to
    /// run a file that is open for writing.
    pub fn seal(&mut self) -> Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all().at(&self.path)?;
            f.set_permissions(std::fs::Permissions::from_mode(0o755))
                .at(&self.path)?;
        }
        Ok(())
    }

    /// Rename over `target` (in the same dir), after copying an existing `target` to
    /// `backup` (when given).
    pub fn commit(mut self, target: &Path, backup: Option<&Path>) -> Result<()> {
        self.seal()?;
        if let Some(backup) = backup {
            if let Some(dir) = backup.parent() {
                self.fs.create_dir_all(dir)?;
            }
            self.fs.copy(target, backup, 0o755, MAX_BINARY_BYTES)?;
        }
        let to = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "act".into());
        self.fs.rename(&self.dir, &self.name, &to)?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if self.committed {
            return;
        }
        self.file.take();
        let _ = self.fs.remove(&self.path);
        if let Some(dir) = &self.created_dir {
            let _ = self.fs.remove_empty_dir(dir);
        }
    }
}

/// Remove staging files of earlier runs that were killed (regular files named
/// `.act.<pid>.partial` whose pid is not running). Call under the state dir lock.
pub fn remove_stale_staging(fs: &Fs, bin_dir: &Path) -> Vec<PathBuf> {
    let Ok(names) = fs.list(bin_dir, STAGING_PREFIX, STAGING_SUFFIX) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for name in names {
        let pid = &name[STAGING_PREFIX.len()..name.len() - STAGING_SUFFIX.len()];
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if pid == std::process::id() || Path::new("/proc").join(pid.to_string()).exists() {
            continue;
        }
        let path = bin_dir.join(&name);
        if fs.remove(&path).unwrap_or(false) {
            removed.push(path);
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_gz(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut b = tar::Builder::new(gz);
        for (name, data) in entries {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o755);
            h.set_entry_type(tar::EntryType::Regular);
            // set_path refuses `..`; write the raw name to build hostile archives.
            let raw = &mut h.as_old_mut().name;
            raw[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap().finish().unwrap()
    }

    fn scratch(tag: &str) -> PathBuf {
        let prefix = format!("actsim-inst-{tag}-");
        tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir()
            .unwrap()
            .keep()
    }

    #[test]
    fn extracts_only_act_and_hashes_everything() {
        let d = scratch("ok");
        let data = tar_gz(&[
            ("LICENSE", b"MIT"),
            ("act", b"#!/bin/sh\necho act version 9.9.9\n"),
            ("README.md", b"readme"),
        ]);
        let staged = Staged::create(&Fs::local(), &d).unwrap();
        let got = extract_act(&data[..], staged.file());
        assert_eq!(got.archive_sha256, hex::encode(Sha256::digest(&data)));
        assert_eq!(got.archive_bytes, data.len() as u64);
        let bin = got.binary.unwrap();
        assert_eq!(
            bin.sha256,
            hex::encode(Sha256::digest(b"#!/bin/sh\necho act version 9.9.9\n"))
        );
        let target = d.join("act");
        std::fs::write(&target, b"old").unwrap();
        let backup = d.join("state/backup/act-old");
        staged.commit(&target, Some(&backup)).unwrap();
        assert_eq!(std::fs::read(&backup).unwrap(), b"old");
        assert_eq!(
            act_version(&Fs::local(), &target, &d, Duration::from_secs(5)).as_deref(),
            Some("9.9.9")
        );
        let mut names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["act", "state"]);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_hostile_or_useless_archives_and_cleans_up() {
        let d = scratch("bad");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (tar_gz(&[("../act", b"x")]), "unsafe path"),
            (tar_gz(&[("/etc/act", b"x")]), "unsafe path"),
            (tar_gz(&[("LICENSE", b"x")]), "no top-level act"),
            (tar_gz(&[("act", b"1"), ("./act", b"2")]), "more than one"),
            (b"plain text, not gzip".to_vec(), "archive"),
        ];
        for (data, want) in cases {
            let staged = Staged::create(&Fs::local(), &d.join("bin")).unwrap();
            let got = extract_act(&data[..], staged.file());
            assert_eq!(got.archive_sha256, hex::encode(Sha256::digest(&data)));
            let err = got.binary.unwrap_err().to_string();
            assert!(err.contains(want), "{err} should contain {want}");
            drop(staged);
            // The bin dir was created for the staging file and is gone again.
            assert!(!d.join("bin").exists());
        }
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn refuses_an_act_entry_larger_than_256_mib_before_reading_it() {
        let d = scratch("big");
        // A header announcing 300 MiB, and no data: the size alone must refuse it.
        let mut h = tar::Header::new_gnu();
        h.set_path("act").unwrap();
        h.set_size(300 * 1024 * 1024);
        h.set_mode(0o755);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(h.as_bytes()).unwrap();
        let data = gz.finish().unwrap();
        let staged = Staged::create(&Fs::local(), &d).unwrap();
        let got = extract_act(&data[..], staged.file());
        let err = got.binary.unwrap_err().to_string();
        assert!(
            err.contains("314572800 bytes, more than the 268435456 allowed"),
            "{err}"
        );
        assert_eq!(std::fs::metadata(&staged.path).unwrap().len(), 0);
        drop(staged);
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn version_output() {
        assert_eq!(
            parse_version_output("act version 0.2.89\n").as_deref(),
            Some("0.2.89")
        );
        assert_eq!(parse_version_output("something else"), None);
    }
}
