//! The docker step of `actsim setup`: without Docker it stops first with the install
//! command; with the daemon down it does what needs no daemon (the rest is planned, not
//! applied; the docker step names the fix and what to rerun) and the final check fails.
//!
//! Real parts only: the real daemon, a loopback mirror serving the real act 0.2.89, and
//! the one test world ([`crate::support::world::World`]), whose runs point HOME and the XDG
//! dirs into temp dirs and pass `--bin-dir`/`--config-dir`, so the machine's own
//! configuration is never touched.

use crate::support::exit;
use crate::support::report::{assert_steps, step};
use crate::support::temp;
use crate::support::world::World;

#[test]
fn setup_docker_without_docker_stops_first_with_the_install_command() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    // No docker CLI on PATH (an empty dir), no socket where the endpoint points, so no
    // daemon either: setup stops before changing anything.
    let empty = temp::dir();
    let absent = w.root.path().join("no-such-docker.sock");
    let out = w
        .setup_json()
        .env("PATH", empty.path())
        .env("DOCKER_HOST", format!("unix://{}", absent.display()))
        .run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("Docker is not installed")
        .assert_stderr_contains("hint: install Docker");
    assert_eq!(step(&out, "docker")["status"], "failed", "{out}");
    assert!(
        w.mirror().requests().is_empty(),
        "nothing may be downloaded"
    );
    assert!(!w.act().exists());
    assert!(!w.config().exists());
}

#[test]
fn setup_docker_with_the_daemon_down_does_what_needs_no_daemon_and_the_check_fails() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    // The docker CLI is installed, but nothing listens where the endpoint points.
    let absent = w.root.path().join("stopped-docker.sock");
    let out = w
        .setup_json()
        .env("DOCKER_HOST", format!("unix://{}", absent.display()))
        .run();
    out.assert_code(exit::FAILED);
    assert_steps(
        &out,
        &[
            ("docker", &["failed"]),
            ("act", &["changed"]),
            ("group", &["skipped"]),
            ("image", &["skipped"]),
            ("compose", &["skipped"]),
            ("env", &["skipped"]),
            ("actrc", &["skipped"]),
        ],
    );
    assert!(w.act().exists(), "act needs no daemon\n{out}");
    // actrc carries the socket's group: planned, not applied, so nothing is half set up.
    assert!(!w.actrc().exists(), "actrc waits for the daemon\n{out}");
    let steps = out.json()["steps"].as_array().cloned().unwrap_or_default();
    let summary = |id: &str| {
        steps
            .iter()
            .find(|s| s["id"] == id)
            .and_then(|s| s["summary"].as_str())
            .unwrap_or("")
            .to_string()
    };
    let docker = summary("docker");
    assert!(
        docker.contains("fix: start the")
            && docker.contains("planned, not applied")
            && docker.contains("rerun actsim setup"),
        "{out}"
    );
    assert!(summary("actrc").contains("planned, not applied"), "{out}");
    for id in ["compose", "env"] {
        let s = summary(id);
        assert!(
            s.contains("is absent") && !s.contains("not a local socket"),
            "{id}: {s}\n{out}"
        );
    }
    assert!(
        !w.env_file().exists(),
        ".env needs the socket's group\n{out}"
    );
    out.assert_status("docker.socket", "fail")
        .assert_status("docker.daemon", "fail");
}
