//! A pseudo-terminal runner: the child gets a pty slave as stdin, stdout, stderr and
//! controlling terminal (so `isatty` is true and dialoguer prompts), the test reads what it
//! prints until a pattern appears (with a deadline) and sends keys.
//!
//! What can go wrong: the pattern never appears (the test fails with everything read so
//! far), the child outlives the test (killed on drop).

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct Pty {
    child: Child,
    writer: File,
    output: Arc<Mutex<Vec<u8>>>,
}

impl Pty {
    /// Spawn `cmd` on a new 80x24 pty. Its own stdio settings are replaced.
    pub fn spawn(mut cmd: Command) -> Pty {
        let size = nix::pty::Winsize {
            ws_row: 24,
            ws_col: 80,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
        let slave: OwnedFd = pty.slave;
        let master: OwnedFd = pty.master;
        let dup = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup pty slave"));
        cmd.stdin(dup(&slave))
            .stdout(dup(&slave))
            .stderr(dup(&slave));
        // SAFETY: only async-signal-safe calls between fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                if nix::libc::setsid() < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                if nix::libc::ioctl(0, nix::libc::TIOCSCTTY as _, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawning the command on a pty");
        drop(slave);
        let writer = File::from(master.try_clone().expect("dup pty master"));
        let mut reader = File::from(master);
        let output = Arc::new(Mutex::new(Vec::new()));
        let out = Arc::clone(&output);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once the child side is closed: the end.
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                out.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Pty {
            child,
            writer,
            output,
        }
    }

    /// Everything read so far, escape sequences included.
    pub fn output(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Wait until the output contains `pattern`; panic with the output at the deadline.
    #[track_caller]
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            let out = self.output();
            if out.contains(pattern) {
                return out;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("pty: {pattern:?} did not appear within {timeout:?}; output:\n{out}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Send raw keys (`"y"`, `"\r"`, `"\x1b[B"`).
    pub fn send(&mut self, keys: &str) {
        self.writer
            .write_all(keys.as_bytes())
            .and_then(|()| self.writer.flush())
            .expect("writing to the pty");
    }

    /// Wait for the child to exit; its exit code (`None` for a signal). Panics (after
    /// killing it) at the deadline.
    pub fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("waiting for the pty child") {
                // Let the reader catch the last bytes.
                std::thread::sleep(Duration::from_millis(50));
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "pty child still running after {timeout:?}; output:\n{}",
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The pty master's fd (for resizing and such).
    pub fn master_fd(&self) -> i32 {
        self.writer.as_raw_fd()
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_pty_reads_and_answers() {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg("test -t 0 && printf 'tty? ' && read a && echo \"got $a\"");
        let mut p = Pty::spawn(cmd);
        p.expect("tty? ", Duration::from_secs(10));
        p.send("yes\r");
        p.expect("got yes", Duration::from_secs(10));
        assert_eq!(p.wait(Duration::from_secs(10)), Some(0));
    }
}
