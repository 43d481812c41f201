//! One run, one of each (issue 8): with `ACTSIM_LOG=debug` a `setup --yes` (and its final
//! check, in-process) or a `doctor` resolves the Docker endpoint once, connects to the daemon
//! once and hashes the act binary at most once, counted by the debug lines actsim logs
//! where it does each (`actsim run`'s count is in `run.rs`). The logs go to stderr only:
//! stdout stays one JSON document.

use crate::support::world::World;
use crate::support::{Cmd, Outcome};

/// The debug lines of `out` that contain `needle`.
fn lines_with<'a>(out: &'a Outcome, needle: &str) -> Vec<&'a str> {
    out.stderr
        .lines()
        .filter(|l| l.starts_with("[DEBUG ") && l.contains(needle))
        .collect()
}

#[track_caller]
fn assert_count(out: &Outcome, needle: &str, range: std::ops::RangeInclusive<usize>) {
    let found = lines_with(out, needle);
    assert!(
        range.contains(&found.len()),
        "expected {range:?} debug line(s) with {needle:?}, found {}:\n{}\n\n{out}",
        found.len(),
        found.join("\n")
    );
}

#[track_caller]
fn assert_once_each(out: &Outcome, act: &std::path::Path, hashes: std::ops::RangeInclusive<usize>) {
    assert_count(out, "] resolved the Docker endpoint", 1..=1);
    assert_count(out, "] connecting to the Docker daemon at", 1..=1);
    assert_count(out, &format!("] hashing {}", act.display()), hashes);
    // Nothing is hashed twice, whatever it is.
    let hashed = lines_with(out, "] hashing ");
    let mut unique = hashed.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(hashed.len(), unique.len(), "a file hashed twice:\n{out}");
}

#[test]
fn output_setup_resolves_connects_and_hashes_once_and_stdout_stays_json() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    // A fresh install hashes act while it streams it: no file is read back to hash it.
    let out = w.setup_json().env("ACTSIM_LOG", "debug").run();
    out.assert_success();
    assert_eq!(out.json()["ok"], true, "{out}");
    assert!(
        !out.json()["checks"].as_array().unwrap().is_empty(),
        "{out}"
    );
    assert!(
        !out.stdout.contains("[DEBUG"),
        "logs only on stderr:\n{out}"
    );
    assert_once_each(&out, &w.act(), 0..=1);

    // Again, with act in place: observing hashes it once, the final check reuses that.
    let out = w.setup_json().env("ACTSIM_LOG", "debug").run();
    out.assert_success();
    assert_eq!(out.json()["changed"], false, "{out}");
    assert_once_each(&out, &w.act(), 1..=1);

    // A rerun that changes something takes the lock and observes again: that second look
    // reuses the endpoint, the connection and the hash too.
    std::fs::remove_file(w.env_file()).unwrap();
    let out = w.setup_json().env("ACTSIM_LOG", "debug").run();
    out.assert_success();
    assert_eq!(out.json()["changed"], true, "{out}");
    assert_once_each(&out, &w.act(), 1..=1);
}

#[test]
fn output_doctor_resolves_connects_and_hashes_once() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let out = w.doctor(60).env("RUST_LOG", "debug").run();
    out.assert_success();
    assert!(
        !out.stdout.contains("[DEBUG"),
        "logs only on stderr:\n{out}"
    );
    assert_once_each(&out, &w.act(), 0..=1);
}

#[test]
fn output_logs_are_off_unless_asked_for() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let out = w.doctor(60).run();
    out.assert_success();
    assert!(!out.stderr.contains("[DEBUG"), "{out}");
    let out = w.doctor(60).env("ACTSIM_LOG", "off").run();
    assert!(!out.stderr.contains("[DEBUG"), "{out}");
}

#[test]
fn output_colour_follows_stderr_no_color_and_clicolor_force() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let human = || {
        w.within(
            Cmd::actsim()
                .args(["doctor", "--timeout", "60", "--bin-dir"])
                .arg(w.bin())
                .arg("--config-dir")
                .arg(w.config())
                .timeout(std::time::Duration::from_secs(180)),
        )
    };
    // Not a terminal: no colour (the test harness sets NO_COLOR=1; take it away).
    let out = human().env_remove("NO_COLOR").run();
    assert!(!out.stderr.contains("\x1b["), "{out}");
    // CLICOLOR_FORCE colours stderr without a terminal; stdout stays plain.
    let out = human()
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .run();
    assert!(out.stderr.contains("\x1b["), "{out}");
    assert!(!out.stdout.contains("\x1b["), "{out}");
    // NO_COLOR wins over CLICOLOR_FORCE.
    let out = human()
        .env("NO_COLOR", "1")
        .env("CLICOLOR_FORCE", "1")
        .run();
    assert!(!out.stderr.contains("\x1b["), "{out}");
}

/// `doctor --fix --yes --act-lock FILE -q` (issue 17): setup's engine runs with doctor's
/// own Context, so every flag holds (the lock is read by setup's act step and the check
/// after the fix; `-q` keeps setup's plan off the terminal) and the endpoint is resolved,
/// the daemon connected and act hashed once in the whole run.
#[test]
fn output_doctor_fix_keeps_every_flag_and_resolves_connects_and_hashes_once() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let lock = w.home().join("actsim.lock");
    w.within(Cmd::actsim())
        .args(["lock", "--act-base-url", &w.mirror().base_url(), "-o"])
        .arg(&lock)
        .timeout(std::time::Duration::from_secs(120))
        .run()
        .assert_success();
    // Something a setup step fixes: the actrc is gone.
    std::fs::remove_file(w.actrc()).unwrap();
    let out = w
        .within(Cmd::actsim())
        .args([
            "doctor",
            "--fix",
            "--yes",
            "-q",
            "--timeout",
            "60",
            "--act-lock",
        ])
        .arg(&lock)
        .env("ACTSIM_LOG", "debug")
        .timeout(std::time::Duration::from_secs(300))
        .run();
    out.assert_success();
    assert!(w.actrc().is_file(), "the fix did not run\n{out}");
    assert_once_each(&out, &w.act(), 0..=1);
    // doctor's check, setup's act step, the check after the fix: each with the lock.
    assert_count(
        &out,
        &format!("] reading the act lock {}", lock.display()),
        3..=3,
    );
    // -q: setup's plan and step lines stay off the terminal, as doctor's own do.
    assert!(!out.stderr.contains("actsim setup for"), "{out}");
    assert!(!out.stderr.contains("Fixing:"), "{out}");
}
