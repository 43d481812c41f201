//! A doctor run resolves the endpoint once, connects to the daemon once and hashes each
//! file at most once (issue 8), counted in its debug log (`ACTSIM_LOG=debug`): the lines
//! `resolved the Docker endpoint`, `connecting to the Docker daemon at` and `hashing PATH`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::support::images::busybox_platform_image;
use crate::support::temp::{self, BinDir};
use crate::support::{Cmd, Outcome, require_daemon};

const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// How many stderr lines contain `needle`.
fn count(out: &Outcome, needle: &str) -> usize {
    out.stderr.lines().filter(|l| l.contains(needle)).count()
}

#[track_caller]
fn assert_once(out: &Outcome, needle: &str) {
    assert_eq!(
        count(out, needle),
        1,
        "`{needle}` must be logged once\n{out}"
    );
}

#[test]
fn a_doctor_run_resolves_connects_and_hashes_once() {
    if !require_daemon() {
        return;
    }
    let (Some(bin), Some(image)) = (BinDir::healthy(), busybox_platform_image()) else {
        return;
    };
    let config = temp::dir();
    let cmd = Cmd::actsim()
        .args(["doctor", "--format", "json", "--bin-dir"])
        .arg(bin.path())
        .arg("--config-dir")
        .arg(config.path())
        .args(["--timeout", "60"])
        .timeout(Duration::from_secs(90))
        .env("ACTSIM_LOG", "debug")
        .env("PATH", format!("{}:{SYSTEM_PATH}", bin.path().display()));
    let xdg = cmd.home().join(".config");
    temp::write(
        &xdg.join("act/actrc"),
        &format!("-P ubuntu-latest={image}\n"),
    );
    let out = cmd.env("XDG_CONFIG_HOME", xdg).run();
    assert_eq!(
        out.json()["checks"].as_array().map(Vec::len),
        Some(11),
        "{out}"
    );
    // The daemon answered and act was found (API 1.41 warns: pass or warn both count).
    out.assert_status_in("docker.daemon", &["pass", "warn"]);
    out.assert_status_in("act.binary", &["pass", "warn"]);
    assert!(
        count(&out, "hashing ") >= 1,
        "act is hashed (no stamp yet)\n{out}"
    );
    assert_once(&out, "resolved the Docker endpoint");
    assert_once(&out, "connecting to the Docker daemon at");
    let mut hashed: BTreeMap<&str, usize> = BTreeMap::new();
    for line in out.stderr.lines() {
        if let Some((_, path)) = line.split_once("hashing ") {
            *hashed.entry(path.trim()).or_default() += 1;
        }
    }
    for (path, n) in &hashed {
        assert_eq!(*n, 1, "{path} hashed {n} times\n{out}");
    }
}
