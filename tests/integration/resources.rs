//! `docker.resources`: free space where the daemon keeps images, against the real daemon and
//! against a fake engine whose `DockerRootDir` is a small tmpfs (real free space, measured
//! by actsim with statvfs, so the thresholds are exercised on a real file system).

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::exit;
use crate::support::sockets::{EngineInfo, FaultSocket};
use crate::support::users::require_root;
use crate::support::{Cmd, Outcome, require_daemon, temp};

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct Tmpfs {
    _dir: temp::TempDir,
    path: PathBuf,
}

impl Tmpfs {
    fn new(size: &str) -> Tmpfs {
        let dir = temp::dir();
        let path = dir.path().join("data-root");
        std::fs::create_dir(&path).unwrap();
        let out = Cmd::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&path)
            .run();
        out.assert_success();
        Tmpfs { _dir: dir, path }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

fn doctor_against(host: &str) -> Outcome {
    let cmd = Cmd::actsim()
        .args(["doctor", "--format", "json", "--timeout", "15"])
        .env("DOCKER_HOST", host)
        .timeout(Duration::from_secs(45));
    let bin = cmd.home().join("bin");
    let xdg = cmd.home().join(".config");
    cmd.arg("--bin-dir")
        .arg(bin)
        .env("XDG_CONFIG_HOME", xdg)
        .run()
}

fn fake_engine(root: &Path, mem_total: u64) -> FaultSocket {
    FaultSocket::engine(EngineInfo {
        root_dir: root.to_path_buf(),
        mem_total,
    })
}

#[test]
fn resources_warn_on_a_near_full_data_root_and_fail_below_2_gib() {
    if !require_root() {
        return;
    }
    // 5 GiB free: below the 10 GiB warning line.
    let small = Tmpfs::new("5g");
    let engine = fake_engine(&small.path, 8 << 30);
    let out = doctor_against(&engine.host());
    // API 1.41: supported, with a warning.
    out.assert_status_in("docker.daemon", &["pass", "warn"])
        .assert_status("docker.resources", "warn")
        .assert_check_mentions("docker.resources", &small.path.display().to_string())
        .assert_check_mentions("docker.resources", "5.0 GiB free")
        .assert_fix_contains("docker.resources", "docker system prune");
    assert!(engine.requests() > 0, "{out}");

    // 1 GiB free: below 2 GiB the check fails, and so does doctor.
    let tiny = Tmpfs::new("1g");
    let engine = fake_engine(&tiny.path, 8 << 30);
    let out = doctor_against(&engine.host());
    out.assert_code(exit::FAILED)
        .assert_status("docker.resources", "fail")
        .assert_check_mentions("docker.resources", "1.0 GiB free")
        .assert_fix_contains("docker.resources", "data-root");

    // Plenty of room, little memory: a warning about memory only.
    let roomy = Tmpfs::new("64g");
    let engine = fake_engine(&roomy.path, 1 << 30);
    let out = doctor_against(&engine.host());
    out.assert_status("docker.resources", "warn")
        .assert_check_mentions("docker.resources", "memory")
        .assert_fix_contains("docker.resources", "2 GiB of memory");
}

#[test]
fn resources_of_the_real_daemon_name_its_data_root() {
    if !require_daemon() {
        return;
    }
    let info = Cmd::new("docker")
        .args(["info", "--format", "{{.DockerRootDir}}"])
        .run();
    info.assert_success();
    let root = info.stdout.trim().to_string();
    let out = doctor_against(&format!("unix://{}", crate::support::fixtures::DOCKER_SOCK));
    out.assert_status_in("docker.resources", &["pass", "warn", "fail"])
        .assert_check_mentions("docker.resources", &format!("in {root}"))
        .assert_check_mentions("docker.resources", "daemon memory");
}
