//! A socket proxy: a new Unix socket, owned `root:<group>` with the mode the test asks for,
//! that relays every connection byte for byte to an upstream socket (normally the real
//! `/var/run/docker.sock`). It lets a test decide which group a "daemon socket" belongs
//! to without touching the real one. Stopped and removed when dropped.
//!
//! What can go wrong: the upstream refusing a connection (that client's connection is
//! closed at once, as a dead daemon would).

use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::temp::{self, TempDir};

pub struct SocketProxy {
    _dir: TempDir,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl SocketProxy {
    /// A proxy to the real daemon socket, `root:<gid>`, mode 0660.
    pub fn to_docker(gid: u32) -> SocketProxy {
        SocketProxy::new(Path::new(super::fixtures::DOCKER_SOCK), gid, 0o660)
    }

    /// A proxy to `upstream`, owned `root:<gid>` with `mode`.
    pub fn new(upstream: &Path, gid: u32, mode: u32) -> SocketProxy {
        let dir = temp::dir();
        let path = dir.path().join("docker.sock");
        let listener =
            UnixListener::bind(&path).unwrap_or_else(|e| panic!("binding {}: {e}", path.display()));
        std::os::unix::fs::chown(&path, Some(0), Some(gid))
            .unwrap_or_else(|e| panic!("chown root:{gid} {}: {e}", path.display()));
        temp::chmod(&path, mode);
        let stop = Arc::new(AtomicBool::new(false));
        let upstream = upstream.to_path_buf();
        let acceptor = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(client) = conn else { continue };
                    match UnixStream::connect(&upstream) {
                        Ok(server) => relay(client, server),
                        Err(_) => drop(client),
                    }
                }
            })
        };
        SocketProxy {
            _dir: dir,
            path,
            stop,
            acceptor: Some(acceptor),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `unix://<path>`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

/// Copy both ways on two threads; each direction half-closes the other side at EOF.
fn relay(client: UnixStream, server: UnixStream) {
    let pair = || -> std::io::Result<_> {
        Ok((
            client.try_clone()?,
            server.try_clone()?,
            client.try_clone()?,
            server.try_clone()?,
        ))
    };
    let Ok((mut c_read, mut s_write, c_write, s_read)) = pair() else {
        return;
    };
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut c_read, &mut s_write);
        let _ = s_write.shutdown(Shutdown::Write);
    });
    std::thread::spawn(move || {
        let (mut s_read, mut c_write) = (s_read, c_write);
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(Shutdown::Write);
    });
}

impl Drop for SocketProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn support_proxy_relays_to_the_daemon() {
        if !super::super::fixtures::require_daemon() {
            return;
        }
        let p = SocketProxy::to_docker(0);
        let m = std::fs::metadata(p.path()).unwrap();
        assert_eq!(
            (m.uid(), m.gid(), m.permissions().mode() & 0o777),
            (0, 0, 0o660)
        );
        super::super::fixtures::ping(p.path(), std::time::Duration::from_secs(5))
            .expect("ping through the proxy");
    }
}
