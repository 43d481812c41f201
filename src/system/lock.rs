//! The exclusive lock on the state dir, so two `actsim setup` runs never interleave.
//!
//! `flock(2)` on `<state dir>/setup.lock` (opened by the dir's owner, see [`Fs`]); the kernel releases it when the process exits,
//! however it exits, so a crashed run never leaves a stale lock. The holder writes its pid
//! into the file so a waiting run can say whom it waits for.
//!
//! What can go wrong: the state dir cannot be created (exit 1 naming it), or another run
//! holds the lock past the deadline (exit 1 saying so, with the holder's pid).

use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use tokio::time::Instant;

use crate::error::{Error, Result};
use crate::system::privsep::Fs;
use crate::system::progress::Progress;

/// The lock file's name in a state dir.
pub const FILE_NAME: &str = "setup.lock";

/// Held while alive; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _lock: Flock<File>,
    pub path: PathBuf,
}

/// Take the lock in `dir` (created if missing), waiting until `deadline`. Tells `notices`
/// once that it is waiting, and for whom. The lock file is opened (created) by whoever
/// owns `dir` ([`Fs`]), never through a link and never truncated through one.
pub async fn acquire(
    fs: &Fs,
    dir: &Path,
    deadline: Instant,
    notices: &dyn Progress,
) -> Result<StateLock> {
    fs.create_dir_all(dir)?;
    let path = dir.join(FILE_NAME);
    let started = Instant::now();
    let mut said = false;
    loop {
        let file = fs.open_lock(&path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                // The descriptor is a regular file opened without following a link.
                let _ = lock.set_len(0);
                let _ = lock.rewind();
                let _ = write!(lock, "{}", std::process::id());
                let _ = lock.flush();
                return Ok(StateLock { _lock: lock, path });
            }
            Err((file, Errno::EWOULDBLOCK)) => {
                if !said {
                    notices.info(&format!(
                        "waiting for another actsim setup{} to finish (lock {})",
                        holder(file)
                            .map(|p| format!(" (pid {p})"))
                            .unwrap_or_default(),
                        path.display()
                    ));
                    said = true;
                }
            }
            Err((_, errno)) => {
                return Err(Error::io(&path, std::io::Error::from(errno)));
            }
        }
        if Instant::now() >= deadline {
            let holder = fs.open_lock(&path).ok().and_then(holder);
            return Err(Error::failed(
                format!(
                    "another actsim setup{} still holds {} after {}s",
                    holder.map(|p| format!(" (pid {p})")).unwrap_or_default(),
                    path.display(),
                    started.elapsed().as_secs()
                ),
                Some("wait for it to finish and run setup again, or raise --timeout".into()),
            ));
        }
        tokio::time::sleep(
            Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    }
}

/// The pid the holder wrote (a short read of the open lock file).
fn holder(file: File) -> Option<u32> {
    let mut text = String::new();
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_waits_then_times_out_and_gets_it_after_release() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state");
        let ui = crate::system::progress::Silent;
        let first = acquire(&Fs::local(), &dir, Instant::now(), &ui)
            .await
            .unwrap();
        let start = Instant::now();
        let err = acquire(
            &Fs::local(),
            &dir,
            Instant::now() + Duration::from_millis(300),
            &ui,
        )
        .await
        .unwrap_err();
        assert!(start.elapsed() >= Duration::from_millis(300));
        assert!(start.elapsed() < Duration::from_secs(2));
        let text = err.to_string();
        assert!(text.contains("still holds"), "{text}");
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        drop(first);
        let again = acquire(&Fs::local(), &dir, Instant::now(), &ui)
            .await
            .unwrap();
        drop(again);
    }
}
