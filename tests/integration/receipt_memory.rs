//! The receipt is the memory (issue 17): after `setup --bin-dir DIR --config-dir CFG` (DIR
//! not on PATH, CFG not the default), `doctor` and `run` find act and the config dir
//! without those flags; a `.env` that is a FIFO is a failure naming it, never "no .env yet"
//! and never a cached "valid".
//!
//! Real parts only: the machine's daemon, a loopback mirror serving the real act, the
//! busybox platform image, and the one test world.

use std::path::Path;
use std::time::Duration;

use crate::support::temp;
use crate::support::world::World;
use crate::support::{Cmd, SYSTEM_PATH, exit};

/// `actsim ARGS` in the world, with a PATH that does not hold the world's bin dir.
fn without_bin_on_path(w: &World, args: &[&str]) -> Cmd {
    w.within(Cmd::actsim().args(args))
        .env("PATH", SYSTEM_PATH)
        .timeout(Duration::from_secs(300))
}

#[test]
fn receipt_memory_doctor_and_run_after_setup_with_dirs_need_no_flags() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    let cfg = w.root.path().join("elsewhere/cfg");
    let setup = without_bin_on_path(
        &w,
        &[
            "setup",
            "--yes",
            "--no-check",
            "--format",
            "json",
            "--timeout",
            "120",
        ],
    )
    .arg("--bin-dir")
    .arg(w.bin())
    .arg("--config-dir")
    .arg(&cfg)
    .args(["--act-base-url", &w.mirror().base_url()])
    .args(["--platform-image", w.image()])
    .run();
    setup.assert_success();
    assert!(cfg.join(".env").is_file() && w.act().is_file(), "{setup}");

    let doctor = without_bin_on_path(&w, &["doctor", "--format", "json", "--timeout", "60"]).run();
    // Found through the receipt; only a warning that a shell would not find it.
    doctor
        .assert_status("act.binary", "warn")
        .assert_check_mentions("act.binary", "not on PATH")
        .assert_check_mentions("act.binary", &w.act().display().to_string())
        .assert_status("container.socket", "pass")
        .assert_check_mentions("compose.config", &cfg.display().to_string());
    doctor.assert_success();

    // run: act from the receipt's bin dir, a job through the setup's actrc mapping.
    let repo = temp::dir();
    let name = format!("asimmem{}", std::process::id());
    temp::write(
        &repo.path().join(".github/workflows/ci.yml"),
        &format!(
            "name: {name}\non: push\njobs:\n  hello:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hello-from-memory\n"
        ),
    );
    let run = without_bin_on_path(&w, &["run", "--format", "json"])
        .current_dir(repo.path())
        .env("PWD", repo.path())
        .run();
    run.assert_code(exit::OK);
    assert_eq!(run.json()["ok"], true, "{run}");

    // A flag still overrides the receipt.
    let other = w.root.path().join("nothing-here");
    let flagged = without_bin_on_path(&w, &["doctor", "--format", "json", "--timeout", "30"])
        .arg("--bin-dir")
        .arg(&other)
        .run();
    flagged.assert_status("act.binary", "fail");

    // .env replaced by a FIFO: named as the failure, no hang, no cached pass.
    fifo(&cfg.join(".env"));
    let doctor = without_bin_on_path(&w, &["doctor", "--format", "json", "--timeout", "60"]).run();
    doctor.assert_code(exit::FAILED);
    doctor
        .assert_status("container.socket", "fail")
        .assert_check_mentions("container.socket", ".env")
        .assert_status("compose.config", "fail")
        .assert_check_mentions("compose.config", ".env");
    assert!(!doctor.stdout.contains("no .env yet"), "{doctor}");
}

fn fifo(path: &Path) {
    std::fs::remove_file(path).unwrap();
    Cmd::new("mkfifo")
        .arg(path)
        .timeout(Duration::from_secs(10))
        .run()
        .assert_success();
}
