//! The exclusive lock on the state dir, so two `actsim setup` runs never interleave.
//!
//! `flock(2)` on `<state dir>/setup.lock`; the kernel releases it when the process exits,
//! however it exits, so a crashed run never leaves a stale lock. The holder writes its pid
//! into the file so a waiting run can say whom it waits for.
//!
//! What can go wrong: the state dir cannot be created (exit 1 naming it), or another run
//! holds the lock past the deadline (exit 1 saying so, with the holder's pid).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use tokio::time::Instant;

use crate::error::{Error, IoContext, Result};
use crate::ui::Ui;

/// Held while alive; dropping it releases the lock.
#[derive(Debug)]
pub struct StateLock {
    _lock: Flock<File>,
    pub path: PathBuf,
}

/// Take the lock in `dir` (created if missing), waiting until `deadline`. Tells the user
/// once that it is waiting, and for whom.
pub async fn acquire(dir: &Path, deadline: Instant, ui: &Ui) -> Result<StateLock> {
    std::fs::create_dir_all(dir).at(dir)?;
    let path = dir.join("setup.lock");
    let started = Instant::now();
    let mut said = false;
    loop {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .at(&path)?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(mut lock) => {
                let _ = lock.set_len(0);
                let _ = lock.rewind();
                let _ = write!(lock, "{}", std::process::id());
                let _ = lock.flush();
                return Ok(StateLock { _lock: lock, path });
            }
            Err((_, Errno::EWOULDBLOCK)) => {}
            Err((_, errno)) => {
                return Err(Error::io(&path, std::io::Error::from(errno)));
            }
        }
        if !said {
            ui.info(&format!(
                "waiting for another actsim setup{} to finish (lock {})",
                holder(&path)
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default(),
                path.display()
            ));
            said = true;
        }
        if Instant::now() >= deadline {
            return Err(Error::failed(
                format!(
                    "another actsim setup{} still holds {} after {}s",
                    holder(&path)
                        .map(|p| format!(" (pid {p})"))
                        .unwrap_or_default(),
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

fn holder(path: &Path) -> Option<u32> {
    let mut text = String::new();
    File::open(path).ok()?.read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_holder_waits_then_times_out_and_gets_it_after_release() {
        let dir = std::env::temp_dir().join(format!("actsim-lock-{}", std::process::id()));
        let ui = Ui::plain();
        let first = acquire(&dir, Instant::now(), &ui).await.unwrap();
        let start = Instant::now();
        let err = acquire(&dir, Instant::now() + Duration::from_millis(300), &ui)
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
        let again = acquire(&dir, Instant::now(), &ui).await.unwrap();
        drop(again);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
