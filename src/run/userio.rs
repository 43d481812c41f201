//! The only file I/O `actsim run` does in the user's directories: capped reads that never
//! follow a link or open a FIFO or device, the preflight cache write, and the run logs.
//! Kept small and in one place so it can move to the user-side worker (issue 7).
//!
//! What can go wrong: a file that is a link, not regular, or larger than the cap (read as
//! absent), a log directory that cannot be created (the run goes on without a log file).

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
    /// The directory could not be reached or made without following a link someone else
    /// owns ([`crate::system::files::OpenDir`]'s walk).
    #[error("{}", crate::error::chain(.0))]
    Dir(crate::error::Error),
    #[error("cannot create {}: {source}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Create a new log file `run-<UTC time>-<pid>.log` in `dir` (0700, created if needed) and
/// keep only the newest `keep` logs. The directory is reached through descriptors
/// ([`crate::system::files::OpenDir`], `Walk::Lenient`: no link followed unless root or the
/// running user owns it, so under `sudo` a link the user planted in the parents is refused,
/// finding 11); the file is created in it by descriptor, exclusively, never through a link;
/// old logs are removed by name in that same directory.
pub fn create_log(dir: &Path, keep: usize) -> Result<(std::fs::File, PathBuf), LogError> {
    use crate::system::files::{OpenDir, Walk};
    let opened = OpenDir::open(dir, Walk::Lenient).map_err(LogError::Dir)?;
    if let Ok(st) = nix::sys::stat::fstat(&opened.fd)
        && st.st_mode & 0o022 != 0
        && st.st_uid == nix::unistd::geteuid().as_raw()
    {
        let _ = nix::sys::stat::fchmod(&opened.fd, nix::sys::stat::Mode::from_bits_truncate(0o700));
    }
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now())
        .to_string()
        .replace(':', "");
    let name = format!("run-{stamp}-{}.log", std::process::id());
    let path = dir.join(&name);
    let file =
        crate::system::files::create_new_in(&opened.fd, name.as_ref(), &path).map_err(|e| {
            LogError::Create {
                path: path.clone(),
                source: std::io::Error::other(crate::error::chain(&e)),
            }
        })?;
    prune(&opened.fd, dir, keep);
    Ok((file, path))
}

/// One line into the run log: redacted ([`crate::system::redact::redact`]: secrets,
/// `Authorization:` headers, tokens) and escaped ([`crate::ui::escape`]: no control
/// sequence of act's or a step's reaches whoever reads the log), then a newline.
pub fn log_line(out: &mut impl std::io::Write, line: &str) {
    let line = crate::system::redact::redact(line);
    let _ = writeln!(out, "{}", crate::ui::escape(&line));
}

/// Remove all but the newest `keep` `run-*.log` regular files (names sort by time), by
/// name in the directory `fd` holds.
fn prune(fd: &std::os::fd::OwnedFd, dir: &Path, keep: usize) {
    let Ok(logs) = crate::system::files::list_regular(dir, crate::doctor::bundle::is_run_log)
    else {
        return;
    };
    let excess = logs.len().saturating_sub(keep);
    for name in logs.into_iter().take(excess) {
        let _ = nix::unistd::unlinkat(fd, name.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
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

    #[test]
    fn log_lines_are_redacted_and_escaped() {
        let mut out = Vec::new();
        log_line(
            &mut out,
            "{\"msg\":\"Authorization: Bearer abcdef123456secret \u{1b}]0;t\u{7}\"}",
        );
        let text = String::from_utf8(out).unwrap();
        assert!(!text.contains("abcdef123456secret"), "{text}");
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "{text}"
        );
        assert!(text.ends_with('\n') && text.matches('\n').count() == 1);
    }
}
