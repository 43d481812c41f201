//! The compose step of `actsim setup`: a user's edit is kept and ours goes beside it (with
//! the diff and a question on a terminal), and the generated file runs act in the
//! simulator, reaching the daemon.
//!
//! Real parts only: the real daemon, a loopback mirror serving the real act 0.2.89, and
//! the one test world ([`crate::support::world::World`]), whose runs point HOME and the XDG
//! dirs into temp dirs and pass `--bin-dir`/`--config-dir`, so the machine's own
//! configuration is never touched.

use std::path::Path;
use std::time::Duration;

use crate::support::compose::{ComposeCleanup, assert_bug_report_reaches_the_daemon};
use crate::support::consts::simulator_image;
use crate::support::files::{read, tree};
use crate::support::fixtures::{skip, socket_gid};
use crate::support::pty::Pty;
use crate::support::report::step;
use crate::support::temp;
use crate::support::world::World;
use crate::support::{Cmd, Outcome};

/// `docker-compose -f FILE ARGS` from `cwd`, with PWD set to it as a shell does, and a
/// project name of this test so it never meets a real user's.
fn compose_v1(file: &Path, cwd: &Path, project: &str, args: &[&str], secs: u64) -> Outcome {
    Cmd::new("docker-compose")
        .arg("-f")
        .arg(file)
        .args(args)
        .current_dir(cwd)
        .env("PWD", cwd)
        .env("COMPOSE_PROJECT_NAME", project)
        .timeout(Duration::from_secs(secs))
        .run()
}

#[test]
fn setup_compose_user_edit_is_kept_and_ours_goes_beside_it() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let ours = read(&w.compose());
    let mut edited = ours.clone();
    edited.extend_from_slice(b"# my own line, keep it\n");
    std::fs::write(w.compose(), &edited).unwrap();
    let beside = w.config().join("docker-compose.yml.actsim-new");

    // Human output: the warning on stderr names both files.
    let out = w.setup().arg("--no-check").run();
    out.assert_success()
        .assert_stderr_contains("warning:")
        .assert_stderr_contains("kept your edited")
        .assert_stderr_contains(&beside.display().to_string());
    assert_eq!(
        read(&w.compose()),
        edited,
        "the user's edit was overwritten\n{out}"
    );
    assert_eq!(read(&beside), ours, "{out}");

    // JSON: the same decision in the step report (the warning is only for humans).
    let out = w.setup_json().arg("--no-check").run();
    out.assert_success();
    assert_eq!(read(&w.compose()), edited, "{out}");
    assert_eq!(read(&beside), ours, "{out}");
    let compose_step = step(&out, "compose");
    assert_ne!(compose_step["status"], "changed", "{out}");
    assert!(
        compose_step["summary"]
            .as_str()
            .unwrap()
            .contains("actsim-new"),
        "{out}"
    );
    for id in ["docker", "act", "image", "env", "actrc"] {
        assert_eq!(step(&out, id)["status"], "ok", "{id}\n{out}");
    }
    // The receipt still holds what actsim wrote, so the edit stays an edit.
    let r = w.receipt();
    assert_eq!(
        r["files"]["compose"]["sha256"],
        actsim::system::files::sha256_hex(&ours),
        "{r:#}"
    );

    // --dry-run: the diff (their line goes, in ours) on stderr, nothing changed.
    let files_before = tree(&w.config());
    let receipt_now = read(&w.receipt_path());
    let dry = w.setup().args(["--dry-run", "--no-check"]).run();
    dry.assert_success()
        .assert_stderr_contains("-# my own line, keep it")
        .assert_stderr_contains("nothing was changed");
    assert_eq!(tree(&w.config()), files_before, "{dry}");
    assert_eq!(read(&w.receipt_path()), receipt_now);
    assert_eq!(read(&w.compose()), edited);
}

#[test]
fn setup_compose_user_edit_on_a_terminal_shows_the_diff_and_asks() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let ours = read(&w.compose());
    let mut edited = ours.clone();
    edited.extend_from_slice(b"# my terminal edit\n");
    let on_terminal = |answer_replace: &str| {
        std::fs::write(w.compose(), &edited).unwrap();
        let mut pty = Pty::spawn(w.setup_on_terminal());
        pty.expect("Apply this plan?", Duration::from_secs(60));
        pty.send("y");
        pty.expect("Replace your edited", Duration::from_secs(60));
        // The diff was shown before the question: our line removed, theirs kept apart.
        let shown = pty.output();
        assert!(shown.contains("-# my terminal edit"), "{shown}");
        pty.send(answer_replace);
        let code = pty.wait(Duration::from_secs(60));
        assert_eq!(code, Some(0), "{}", pty.output());
    };
    // Declined: the user's file stays, ours goes beside it.
    on_terminal("n");
    assert_eq!(read(&w.compose()), edited);
    assert_eq!(
        read(&w.config().join("docker-compose.yml.actsim-new")),
        ours
    );
    // Accepted: ours replaces it.
    on_terminal("y");
    assert_eq!(read(&w.compose()), ours);
}

#[test]
fn setup_compose_generated_compose_runs_act_in_the_simulator_and_reaches_the_daemon() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    if std::process::Command::new("docker-compose")
        .arg("version")
        .output()
        .map_or(true, |o| !o.status.success())
    {
        skip("docker-compose is not installed; apt-get install docker-compose");
        return;
    }
    w.fresh_setup();
    let work = temp::dir();
    temp::write(
        &work.path().join(".github/workflows/ci.yml"),
        "on: push\njobs:\n  from-the-simulator:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
    );
    let project = format!("actsim-test-cfg-{}", std::process::id());
    let _cleanup = ComposeCleanup::new(&w, &["docker-compose"], work.path(), &project);

    let out = compose_v1(&w.compose(), work.path(), &project, &["config", "-q"], 60);
    out.assert_success();
    // The resolved file uses the image setup built and the .env beside it.
    let out = compose_v1(&w.compose(), work.path(), &project, &["config"], 60);
    out.assert_success()
        .assert_stdout_contains(&simulator_image())
        .assert_stdout_contains(&format!("'{}'", socket_gid()));
    assert!(
        out.stdout.contains(&work.path().display().to_string()),
        "the workdir is mounted\n{out}"
    );

    let out = compose_v1(
        &w.compose(),
        work.path(),
        &project,
        &["run", "--rm", "actions-simulator", "--bug-report"],
        180,
    );
    out.assert_success();
    assert_bug_report_reaches_the_daemon(&out);
    // It sees the workflow of the directory it was started from.
    let out = compose_v1(
        &w.compose(),
        work.path(),
        &project,
        &["run", "--rm", "actions-simulator", "--list"],
        180,
    );
    out.assert_success()
        .assert_stdout_contains("from-the-simulator");
}
