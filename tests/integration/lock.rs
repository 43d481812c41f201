//! Integration tests of `actsim lock`, `setup --act-lock` and `doctor --act-lock`, and of
//! what the setup JSON carries for provisioning tools (per-step `changed`, `diff`,
//! `would_change`, a top-level `reason`).
//!
//! The real binary against the loopback mirror (the real act archive for this host, a
//! small second-platform archive that is only hashed), local archives on disk, and the
//! real daemon for the setup steps after act.

use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::support::files::fixture_sha;
use crate::support::mirror::{self, Mode, VERSION};
use crate::support::report::step;
use crate::support::temp;
use crate::support::world::World;
use crate::support::{Cmd, Outcome, exit};

/// What the lock tests add to the one world: its lock file, and runs with no
/// `ACTSIM_ACT_LOCK` of the caller's.
trait LockWorld {
    fn lock_path(&self) -> PathBuf;
    fn env(&self, cmd: Cmd) -> Cmd;
    fn lock(&self) -> Cmd;
    fn setup_yes(&self) -> Cmd;
    fn setup_checked(&self) -> Cmd;
    fn read_lock(&self) -> toml::Value;
    fn paths_requested(&self) -> Vec<String>;
}

impl LockWorld for World {
    fn lock_path(&self) -> PathBuf {
        self.home().join("actsim.lock")
    }

    /// The world's environment without `ACTSIM_ACT_LOCK`.
    fn env(&self, cmd: Cmd) -> Cmd {
        self.within(cmd)
            .env_remove("ACTSIM_ACT_LOCK")
            .timeout(Duration::from_secs(120))
    }

    /// `actsim lock` from the mirror, writing this world's lock.
    fn lock(&self) -> Cmd {
        self.env(Cmd::actsim())
            .args(["lock", "--act-base-url", &self.mirror().base_url(), "-o"])
            .arg(self.lock_path())
    }

    /// `actsim setup --yes --no-check` for this world (act from the mirror).
    fn setup_yes(&self) -> Cmd {
        self.setup_checked().arg("--no-check")
    }

    /// `actsim setup --yes` with its final check.
    fn setup_checked(&self) -> Cmd {
        self.env(Cmd::actsim())
            .args([
                "setup",
                "--yes",
                "--act-base-url",
                &self.mirror().base_url(),
            ])
            .arg("--bin-dir")
            .arg(self.bin())
            .arg("--config-dir")
            .arg(self.config())
    }

    #[track_caller]
    fn read_lock(&self) -> toml::Value {
        let text = std::fs::read_to_string(self.lock_path())
            .unwrap_or_else(|e| panic!("reading {}: {e}", self.lock_path().display()));
        text.parse::<toml::Table>()
            .map(toml::Value::Table)
            .unwrap_or_else(|e| panic!("the lock is not TOML: {e}\n{text}"))
    }

    fn paths_requested(&self) -> Vec<String> {
        self.mirror()
            .requests()
            .into_iter()
            .map(|r| r.path)
            .collect()
    }
}

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn host_platform() -> &'static str {
    if mirror::host_asset() == "act_Linux_arm64.tar.gz" {
        "linux/arm64"
    } else {
        "linux/x86_64"
    }
}

#[track_caller]
fn assert_absent(path: &Path, out: &Outcome) {
    assert!(
        std::fs::symlink_metadata(path).is_err(),
        "{} exists\n{out}",
        path.display()
    );
}

/// The host archive's URL on act's GitHub release.
fn release_url() -> String {
    format!(
        "https://github.com/nektos/act/releases/download/v{VERSION}/{}",
        mirror::host_asset()
    )
}

/// A mirror with only this machine's archive: the default platforms shrink to what it has
/// (the one left out named), "1 platform"; `--platform` of the missing one fails (exit 4);
/// `--record-mirror-url` records the mirror's URL.
#[test]
fn lock_from_a_mirror_with_one_platform_locks_what_it_has() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::HostOnly);
    let (other_platform, _) = mirror::other_asset();
    let out = w.lock().run();
    out.assert_success()
        .assert_stderr_contains(&format!("{other_platform} not locked"))
        .assert_stderr_contains(&format!("--platform {other_platform}"))
        .assert_stderr_contains("1 platform)");
    let lock = w.read_lock();
    let keys: Vec<&String> = lock["platforms"].as_table().unwrap().keys().collect();
    assert_eq!(keys, [host_platform()], "{out}");
    assert_eq!(
        lock["platforms"][host_platform()]["url"].as_str(),
        Some(release_url().as_str())
    );
    w.lock()
        .args(["--platform", other_platform])
        .run()
        .assert_code(exit::DOWNLOAD);
    let out = w.lock().arg("--record-mirror-url").run();
    out.assert_success();
    assert_eq!(
        w.read_lock()["platforms"][host_platform()]["url"].as_str(),
        Some(w.mirror().archive_url().as_str()),
        "{out}"
    );
}

#[test]
fn lock_writes_verified_hashes_for_both_default_platforms() {
    let Some(w) = World::new().build() else {
        return;
    };
    let out = w.lock().run();
    out.assert_success()
        .assert_stderr_contains("linux/x86_64")
        .assert_stderr_contains("linux/arm64")
        .assert_stderr_contains(&w.lock_path().display().to_string());
    let lock = w.read_lock();
    assert_eq!(lock["schema"].as_integer(), Some(1));
    assert_eq!(lock["act_version"].as_str(), Some(VERSION));
    let host = &lock["platforms"][host_platform()];
    assert_eq!(host["asset"].as_str(), Some(mirror::host_asset().as_str()));
    // The release's own URL is recorded (the mirror's only with --record-mirror-url).
    assert_eq!(host["url"].as_str(), Some(release_url().as_str()));
    assert_eq!(
        host["archive_sha256"].as_str(),
        Some(w.mirror().archive_sha256())
    );
    assert_eq!(host["binary_sha256"].as_str(), Some(fixture_sha().as_str()));
    let (other_platform, other_asset) = mirror::other_asset();
    let other = &lock["platforms"][other_platform];
    assert_eq!(other["asset"].as_str(), Some(other_asset));
    assert_eq!(
        other["archive_sha256"].as_str(),
        Some(mirror::other_archive().1.as_str())
    );
    assert_eq!(
        other["binary_sha256"].as_str(),
        Some(sha(mirror::OTHER_BINARY).as_str())
    );
    // checksums.txt once, each archive once.
    let mut paths = w.paths_requested();
    paths.sort();
    let base = format!("/nektos/act/releases/download/v{VERSION}");
    let mut want = vec![
        format!("{base}/checksums.txt"),
        format!("{base}/{}", mirror::host_asset()),
        format!("{base}/{other_asset}"),
    ];
    want.sort();
    assert_eq!(paths, want, "{out}");

    // One platform only, and an unknown one refused as a usage error.
    let out = w.lock().args(["--platform", "linux/amd64"]).run();
    out.assert_success();
    let lock = w.read_lock();
    let keys: Vec<&String> = lock["platforms"].as_table().unwrap().keys().collect();
    assert_eq!(keys, ["linux/x86_64"], "{out}");
    w.lock()
        .args(["--platform", "windows/x86_64"])
        .run()
        .assert_code(exit::USAGE)
        .assert_stderr_contains("windows");
}

#[test]
fn lock_refuses_a_tampered_archive_and_writes_nothing() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::Tampered);
    let out = w.lock().run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("checksum mismatch")
        .assert_stderr_contains(w.mirror().archive_sha256());
    assert_absent(&w.lock_path(), &out);
}

#[test]
fn lock_from_local_archives_reads_each_once_without_network() {
    let Some(w) = World::new().build() else {
        return;
    };
    let (archive, archive_sha) = mirror::release_archive().unwrap();
    let dl = temp::dir();
    let host_file = dl.path().join(mirror::host_asset());
    std::fs::write(&host_file, archive).unwrap();
    let other_file = dl.path().join(mirror::other_asset().1);
    std::fs::write(&other_file, &mirror::other_archive().0).unwrap();
    std::fs::write(
        dl.path().join("checksums.txt"),
        mirror::checksums_text(archive_sha),
    )
    .unwrap();
    let out = w
        .env(Cmd::actsim())
        .args(["lock", "-o"])
        .arg(w.lock_path())
        .arg("--act-archive")
        .arg(&host_file)
        .arg(&other_file)
        .run();
    out.assert_success();
    let lock = w.read_lock();
    assert_eq!(
        lock["platforms"][host_platform()]["binary_sha256"].as_str(),
        Some(fixture_sha().as_str())
    );
    assert_eq!(
        lock["platforms"][host_platform()]["url"].as_str(),
        Some(release_url().as_str())
    );
    assert!(w.mirror().requests().is_empty());

    // A checksums.txt that disagrees with an archive: exit 4, no lock.
    std::fs::write(
        dl.path().join("checksums.txt"),
        mirror::checksums_text(&"0".repeat(64)),
    )
    .unwrap();
    std::fs::remove_file(w.lock_path()).unwrap();
    let out = w
        .env(Cmd::actsim())
        .args(["lock", "-o"])
        .arg(w.lock_path())
        .arg("--act-archive")
        .arg(&host_file)
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("checksum mismatch");
    assert_absent(&w.lock_path(), &out);
}

#[test]
fn setup_with_a_lock_installs_without_checksums_txt_and_keeps_a_matching_act() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.lock().run().assert_success();
    let before = w.mirror().requests().len();
    let out = w
        .setup_yes()
        .args(["--format", "json", "--act-lock"])
        .arg(w.lock_path())
        .run();
    out.assert_success();
    assert_eq!(step(&out, "act")["status"], "changed", "{out}");
    assert_eq!(step(&out, "act")["changed"], true, "{out}");
    let paths: Vec<String> = w.paths_requested()[before..].to_vec();
    assert_eq!(
        paths,
        [format!(
            "/nektos/act/releases/download/v{VERSION}/{}",
            mirror::host_asset()
        )],
        "only the archive, no checksums.txt\n{out}"
    );
    assert_eq!(
        sha(&std::fs::read(w.bin().join("act")).unwrap()),
        fixture_sha()
    );
    // The same through ACTSIM_ACT_LOCK, after the receipt is gone: the act there is the
    // locked one, so it is ok without any download.
    std::fs::remove_file(w.receipt_path()).unwrap();
    let n = w.mirror().requests().len();
    let out = w
        .setup_yes()
        .args(["--format", "json"])
        .env("ACTSIM_ACT_LOCK", w.lock_path())
        .run();
    out.assert_success();
    assert_eq!(step(&out, "act")["status"], "ok", "{out}");
    assert_eq!(step(&out, "act")["changed"], false, "{out}");
    assert_eq!(w.mirror().requests().len(), n, "{out}");
}

#[test]
fn setup_with_a_lock_fails_closed() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.lock().run().assert_success();
    let good = std::fs::read_to_string(w.lock_path()).unwrap();
    let act = w.bin().join("act");

    // The mirror serves a tampered archive (checksums.txt would not be asked).
    w.mirror().set_mode(Mode::Tampered);
    let out = w
        .setup_yes()
        .args(["--format", "json", "--act-lock"])
        .arg(w.lock_path())
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("checksum mismatch");
    assert_absent(&act, &out);
    let reason = out.json()["reason"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(reason.contains("checksum mismatch"), "{out}");
    assert!(reason.contains("exit 4"), "{out}");
    assert_eq!(out.json()["ok"], false);
    w.mirror().set_mode(Mode::Normal);

    // The archive matches but the binary does not (a lock written for another binary).
    let fixture = fixture_sha();
    std::fs::write(w.lock_path(), good.replace(&fixture, &"e".repeat(64))).unwrap();
    let out = w.setup_yes().arg("--act-lock").arg(w.lock_path()).run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("checksum mismatch")
        .assert_stderr_contains("act binary")
        .assert_stderr_contains(&fixture);
    assert_absent(&act, &out);

    // No entry for this platform.
    let (other, _) = mirror::other_asset();
    let lock: toml::Table = good.parse().unwrap();
    let mut only_other = lock.clone();
    only_other["platforms"]
        .as_table_mut()
        .unwrap()
        .retain(|k, _| k == other);
    std::fs::write(w.lock_path(), toml::to_string(&only_other).unwrap()).unwrap();
    let out = w.setup_yes().arg("--act-lock").arg(w.lock_path()).run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains(&format!("no entry for this platform ({})", host_platform()))
        .assert_stderr_contains(&format!("--platform {}", host_platform()));
    assert_absent(&act, &out);

    // Another version than the lock's.
    std::fs::write(w.lock_path(), &good).unwrap();
    let out = w
        .setup_yes()
        .args(["--act-version", "0.2.88", "--act-lock"])
        .arg(w.lock_path())
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("the lock pins act 0.2.89, not the requested 0.2.88");
    assert_absent(&act, &out);

    // --act-sha256 that disagrees with the lock.
    let out = w
        .setup_yes()
        .args(["--act-sha256", &"0".repeat(64), "--act-lock"])
        .arg(w.lock_path())
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("disagrees with the lock");
    assert_absent(&act, &out);

    // Not a lock at all; a lock that is a symbolic link.
    std::fs::write(w.lock_path(), "act_version = [").unwrap();
    let out = w.setup_yes().arg("--act-lock").arg(w.lock_path()).run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("not a valid lock");
    let link = w.home().join("link.lock");
    std::fs::write(w.lock_path(), &good).unwrap();
    std::os::unix::fs::symlink(w.lock_path(), &link).unwrap();
    let out = w.setup_yes().arg("--act-lock").arg(&link).run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("cannot read the lock");
    assert_absent(&act, &out);
}

#[test]
fn setup_with_a_lock_and_a_local_archive_needs_no_network() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.lock().run().assert_success();
    let n = w.mirror().requests().len();
    let dl = temp::dir();
    let file = dl.path().join(mirror::host_asset());
    std::fs::write(&file, &mirror::release_archive().unwrap().0).unwrap();
    let out = w
        .setup_yes()
        .arg("--act-lock")
        .arg(w.lock_path())
        .arg("--act-archive")
        .arg(&file)
        .run();
    out.assert_success();
    assert_eq!(w.mirror().requests().len(), n, "{out}");
    // A tampered copy is refused and the installed act stays.
    let installed = std::fs::read(w.bin().join("act")).unwrap();
    let mut bad = mirror::release_archive().unwrap().0.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0x55;
    std::fs::write(&file, &bad).unwrap();
    std::fs::write(w.bin().join("act"), b"#!/bin/sh\necho act version 0.0.1\n").unwrap();
    let out = w
        .setup_yes()
        .arg("--act-lock")
        .arg(w.lock_path())
        .arg("--act-archive")
        .arg(&file)
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("checksum mismatch");
    assert_eq!(
        std::fs::read(w.bin().join("act")).unwrap(),
        b"#!/bin/sh\necho act version 0.0.1\n",
        "{out}"
    );
    assert_ne!(installed.len(), 0);
}

#[test]
fn doctor_warns_when_the_installed_act_is_not_the_locked_one() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.lock().run().assert_success();
    w.setup_yes()
        .arg("--act-lock")
        .arg(w.lock_path())
        .run()
        .assert_success();
    let doctor = |lock: &Path| {
        w.env(Cmd::actsim())
            .args(["doctor", "--format", "json", "--bin-dir"])
            .arg(w.bin())
            .arg("--config-dir")
            .arg(w.config())
            .arg("--act-lock")
            .arg(lock)
            .run()
    };
    let out = doctor(&w.lock_path());
    assert_eq!(out.status("act.binary"), "pass", "{out}");
    assert!(
        out.check_text("act.binary").contains("matches the lock"),
        "{out}"
    );

    let other = w.home().join("other.lock");
    let text = std::fs::read_to_string(w.lock_path()).unwrap();
    std::fs::write(&other, text.replace(&fixture_sha(), &"f".repeat(64))).unwrap();
    let out = doctor(&other);
    assert_eq!(out.status("act.binary"), "warn", "{out}");
    assert!(
        out.check_text("act.binary")
            .contains("is not the act the lock"),
        "{out}"
    );
    assert!(
        out.fix_text("act.binary")
            .contains(&format!("actsim setup --act-lock {}", other.display())),
        "{out}"
    );
}

#[test]
fn setup_json_reports_changed_diff_and_would_change_per_step() {
    let Some(w) = World::new().build() else {
        return;
    };
    let dry = w.setup_yes().args(["--dry-run", "--format", "json"]).run();
    dry.assert_success();
    assert_eq!(dry.json()["changed"], false, "{dry}");
    assert_eq!(dry.json()["would_change"], true, "{dry}");
    let actrc = step(&dry, "actrc");
    assert_eq!(actrc["would_change"], true, "{dry}");
    assert_eq!(actrc["changed"], false, "{dry}");
    assert!(
        actrc["diff"]
            .as_str()
            .is_some_and(|d| d.starts_with("--- /dev/null") && d.contains("+-P ubuntu-latest=")),
        "{dry}"
    );
    assert!(w.bin().join("act").symlink_metadata().is_err());

    let out = w
        .setup_yes()
        .args(["--format", "json", "--act-arg=--no-cache-server"])
        .run();
    out.assert_success();
    let actrc = step(&out, "actrc");
    assert_eq!(actrc["changed"], true, "{out}");
    assert!(
        actrc["diff"]
            .as_str()
            .is_some_and(|d| d.contains("+--no-cache-server")),
        "{out}"
    );
    assert!(out.json().get("reason").is_none(), "{out}");
    let written = std::fs::read_to_string(w.actrc()).unwrap();
    assert!(
        written.lines().any(|l| l == "--no-cache-server"),
        "{written}"
    );

    let again = w
        .setup_yes()
        .args(["--format", "json", "--act-arg=--no-cache-server"])
        .run();
    again.assert_success();
    assert_eq!(again.json()["changed"], false, "{again}");
    for s in again.json()["steps"].as_array().unwrap() {
        assert_eq!(s["changed"], false, "{again}");
        assert!(s.get("diff").is_none(), "{again}");
    }
    w.setup_yes()
        .arg("--act-arg=no-dash")
        .run()
        .assert_code(exit::USAGE)
        .assert_stderr_contains("--act-arg");
}

#[test]
fn setup_without_any_compose_tool_warns_and_exits_0() {
    let Some(w) = World::new().build() else {
        return;
    };
    if !crate::support::fixtures::require_daemon() {
        return;
    }
    let Some(platform) = crate::support::images::busybox_platform_image() else {
        return;
    };
    // A PATH with the docker CLI and act's bin dir, but no docker-compose.
    let tools = temp::dir();
    let docker = which("docker").expect("docker CLI on PATH");
    std::os::unix::fs::symlink(&docker, tools.path().join("docker")).unwrap();
    let out = w
        .setup_checked()
        .args(["--format", "json", "--platform-image", &platform])
        .env(
            "PATH",
            format!("{}:{}", w.bin().display(), tools.path().display()),
        )
        .run();
    out.assert_success();
    let compose = out.check("compose.config");
    assert_eq!(compose["status"], "warn", "{out}");
    assert!(
        out.check_text("compose.config")
            .contains("act on the host works without it"),
        "{out}"
    );
    assert!(
        out.fix_text("compose.config").contains("install compose"),
        "{out}"
    );
    assert_eq!(out.json()["ok"], true, "{out}");
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|c| c.is_file())
    })
}
