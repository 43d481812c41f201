//! A real Podman Docker-API service for one test: `podman system service --time=0
//! unix://SOCKET` with its own storage (`--root`, `--runroot`) and a `containers.conf`
//! holding `[containers] default_ulimits = []` (`CONTAINERS_CONF`): on this kind of machine
//! Podman's containers otherwise fail with "error setting rlimit type 7: operation not
//! permitted". Its network configs (`[network] network_config_dir`) stay in the temp dir
//! too, not in `/etc/containers/networks`. Everything lives in one temp dir with a unique name; on drop the service's
//! containers are removed, the service is stopped, its storage unmounted and removed.
//!
//! What can go wrong: `podman` not installed (skip, or fail under `CI=true`;
//! `scripts/test.sh` installs it), the service not answering within 30 s (panic with its
//! log).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::Cmd;
use super::temp::{self, TempDir};

pub struct Podman {
    child: Option<Child>,
    dir: TempDir,
}

impl Podman {
    /// Start the service; `None` (after printing why) when podman is missing outside CI.
    pub fn start() -> Option<Podman> {
        let found = Command::new("sh")
            .args(["-c", "command -v podman"])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            super::fixtures::skip("podman is not installed (scripts/test.sh installs it)");
            return None;
        }
        let dir = temp::dir();
        // Networks (compose creates one) are kept in this dir too, not /etc/containers.
        temp::write(
            &dir.path().join("containers.conf"),
            &format!(
                "[containers]\ndefault_ulimits = []\n\n[network]\nnetwork_config_dir = \"{}\"\n",
                dir.path().join("networks").display()
            ),
        );
        let log = std::fs::File::create(dir.path().join("service.log")).unwrap();
        let mut podman = Podman { child: None, dir };
        let child = podman
            .command()
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", podman.socket().display()))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("starting podman system service: {e}"));
        podman.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if super::fixtures::ping(&podman.socket(), Duration::from_secs(2)).is_ok() {
                return Some(podman);
            }
            if Instant::now() > deadline {
                panic!(
                    "podman system service did not answer at {} within 30s; its log:\n{}",
                    podman.socket().display(),
                    podman.log()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `podman` with this service's storage and containers.conf.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", self.containers_conf())
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"));
        cmd
    }

    /// The same as a [`Cmd`] (with a deadline), for the test's own podman calls.
    pub fn cmd(&self) -> Cmd {
        Cmd::new("podman")
            .env("CONTAINERS_CONF", self.containers_conf())
            .arg("--root")
            .arg(self.dir.path().join("root"))
            .arg("--runroot")
            .arg(self.dir.path().join("run"))
            .timeout(Duration::from_secs(120))
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("podman.sock")
    }

    /// `unix://SOCKET`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket().display())
    }

    pub fn containers_conf(&self) -> PathBuf {
        self.dir.path().join("containers.conf")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("service.log")).unwrap_or_default()
    }

    /// The image names this service holds (`podman images`).
    pub fn images(&self) -> Vec<String> {
        let out = self
            .cmd()
            .args(["images", "--format", "{{.Repository}}:{{.Tag}}"])
            .run();
        out.assert_success();
        out.stdout.lines().map(str::to_string).collect()
    }
}

impl Podman {
    /// The busybox platform image imported into this service as
    /// `localhost/actsim-test/busybox-platform:latest` (act can run `run:` steps in it).
    pub fn busybox_platform_image(&self) -> Option<String> {
        let tar = super::images::busybox_platform_tar()?;
        let name = "localhost/actsim-test/busybox-platform:latest".to_string();
        self.cmd()
            .args(super::images::import_args(&name))
            .stdin_bytes(tar)
            .run()
            .assert_success();
        Some(name)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let mut rm = self.command();
        rm.args(["rm", "--all", "--force", "--time", "0"]);
        run_bounded(rm, Duration::from_secs(60));
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // conmon processes of exec sessions (act execs its steps) linger for minutes after
        // their container is gone; they are this service's, found by its storage path.
        kill_processes_naming(self.dir.path());
        // Podman's overlay driver mounts inside its root; unmount (deepest first) so the
        // temp dir can be removed.
        unmount_under(self.dir.path());
    }
}

fn kill_processes_naming(dir: &Path) {
    let needle = dir.to_string_lossy().to_string();
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if pid as u32 == me {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(&needle) {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

fn unmount_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let prefix = dir.to_string_lossy().to_string();
    let mut points: Vec<String> = mounts
        .lines()
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter(|p| p.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    points.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in points {
        let mut umount = Command::new("umount");
        umount.arg("-l").arg(&p);
        run_bounded(umount, Duration::from_secs(20));
    }
}

/// Run `cmd` quietly, killing it after `limit` (no panics: this runs in `Drop`).
fn run_bounded(mut cmd: Command, limit: Duration) {
    let Ok(mut child) = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    else {
        return;
    };
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}
