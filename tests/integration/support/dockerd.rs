//! A private Docker daemon for tests that remove images or volumes: a real `dockerd` with
//! its own data root, exec root, socket and containerd in a temp dir (vfs storage, no
//! bridge, no iptables), so nothing it does reaches the machine's daemon or other tests.
//! Stopped (SIGTERM, then SIGKILL) and removed when dropped.
//!
//! What can go wrong: no root or no `dockerd` (skip, or under CI fail), a daemon that does
//! not answer within 60 s (the test fails with its log).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cmd::Cmd;
use super::temp::{self, TempDir};

pub struct PrivateDaemon {
    dir: TempDir,
    socket: PathBuf,
    child: Option<Child>,
}

impl PrivateDaemon {
    /// Start one, waiting until it answers `/_ping`.
    pub fn start() -> Option<PrivateDaemon> {
        if !nix::unistd::Uid::effective().is_root() {
            super::fixtures::skip("a private dockerd needs root");
            return None;
        }
        let Some(dockerd) = ["/usr/sbin/dockerd", "/usr/bin/dockerd"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
        else {
            super::fixtures::skip("dockerd is not installed");
            return None;
        };
        let dir = temp::dir();
        let d = dir.path();
        // A config file of its own: the machine's daemon.json would clash with the flags.
        std::fs::write(d.join("daemon.json"), "{}\n").unwrap();
        let socket = d.join("docker.sock");
        let log = std::fs::File::create(d.join("dockerd.log")).unwrap();
        // LEAD: in a network namespace of its own. A dockerd with `--bridge none` in the
        // host's namespace deletes the host's `docker0` (moby removes the default bridge
        // interface when the bridge is disabled), which broke every `docker run` on this
        // machine. `unshare --net` gives it a private namespace; it reaches nothing.
        let child = Command::new("unshare")
            .args(["--net", "--"])
            .arg(dockerd)
            .arg("--config-file")
            .arg(d.join("daemon.json"))
            .arg("--data-root")
            .arg(d.join("data"))
            .arg("--exec-root")
            .arg(d.join("exec"))
            .arg("--pidfile")
            .arg(d.join("dockerd.pid"))
            .arg("-H")
            .arg(format!("unix://{}", socket.display()))
            // Its socket is root:root: no test joins anyone to the machine's docker group
            // through it (tests hand the socket to a temporary group when they need one).
            .args([
                "--group",
                "root",
                "--bridge",
                "none",
                "--iptables=false",
                "--ip6tables=false",
                "--storage-driver",
                "vfs",
            ])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting dockerd: {e}"));
        let daemon = PrivateDaemon {
            dir,
            socket,
            child: Some(child),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while super::fixtures::ping(&daemon.socket, Duration::from_secs(2)).is_err() {
            if Instant::now() > deadline {
                panic!(
                    "the private dockerd did not answer within 60 s; its log:\n{}",
                    daemon.log()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Some(daemon)
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// `unix://<socket>`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Its data root (`DockerRootDir`).
    pub fn data_root(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dockerd.log")).unwrap_or_default()
    }

    /// `docker ARGS` against this daemon.
    pub fn docker(&self) -> Cmd {
        Cmd::new("docker")
            .env("DOCKER_HOST", self.host())
            .timeout(Duration::from_secs(120))
    }

    /// The busybox platform image, imported into this daemon under the same tag as on the
    /// machine's daemon.
    pub fn import_busybox_platform(&self) -> Option<String> {
        super::images::import_busybox_platform(Some(&self.host()))
    }

    /// Image references (`repo:tag`) in this daemon.
    pub fn images(&self) -> Vec<String> {
        let out = self
            .docker()
            .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])
            .run();
        out.assert_success();
        out.stdout.lines().map(str::to_string).collect()
    }

    /// Volume names in this daemon.
    pub fn volumes(&self) -> Vec<String> {
        let out = self
            .docker()
            .args(["volume", "ls", "--format", "{{.Name}}"])
            .run();
        out.assert_success();
        out.stdout.lines().map(str::to_string).collect()
    }
}

impl Drop for PrivateDaemon {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(15);
            loop {
                match child.try_wait() {
                    Ok(Some(_)) => break,
                    _ if Instant::now() > deadline => {
                        let _ = child.kill();
                        let _ = child.wait();
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(100)),
                }
            }
        }
        // Anything still mounted under it (a container's netns) goes before the removal.
        let _ = Command::new("umount")
            .args(["-R", "-l"])
            .arg(self.dir.path().join("exec"))
            .stderr(Stdio::null())
            .status();
    }
}
