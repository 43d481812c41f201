//! `.env` merged by key (issue 17): actsim sets the keys it owns to the machine's truth,
//! every other line is the user's and stays byte for byte; `container.socket` compares the
//! socket with the file (never the receipt), and its fix fixes it.
//!
//! Real parts only: the machine's daemon through a socket proxy owned by a temporary
//! group (so the socket's group can change like a reinstalled Docker's), a loopback mirror
//! serving the real act, and the one test world.

use crate::support::exit;
use crate::support::files::read;
use crate::support::report::{assert_no_failed_check, fix_steps, step};
use crate::support::users::TempGroup;
use crate::support::world::World;

/// The user's own lines, appended to the `.env` setup wrote: a secret the compose service
/// reads, a comment, a quoted value, a CRLF line and one without a final newline.
const USER_LINES: &[u8] =
    b"# my own settings\nGH_TOKEN=ghp_not-a-real-token\nMY_DIR='/a b/c'\r\nLAST=1";

/// `.env` as the user left it, with `DOCKER_GID=gid` (the one owned line that changes).
fn with_gid(base: &[u8], gid: u32) -> Vec<u8> {
    let text = String::from_utf8(base.to_vec()).unwrap();
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        if line.starts_with("DOCKER_GID=") {
            out.push_str(&format!("DOCKER_GID={gid}\n"));
        } else {
            out.push_str(line);
        }
    }
    out.into_bytes()
}

#[test]
fn env_merge_setup_and_doctor_fix_restore_container_socket_and_keep_the_users_lines() {
    let first = TempGroup::new();
    let second = TempGroup::new();
    let Some(w) = World::new().socket_group(first.gid).build() else {
        return;
    };
    w.fresh_setup();
    let mut edited = read(&w.env_file());
    edited.extend_from_slice(USER_LINES);
    std::fs::write(w.env_file(), &edited).unwrap();

    // Docker "reinstalled": the socket now belongs to another group.
    w.chgrp_socket(second.gid);
    let stale = w.doctor(60).run();
    stale
        .assert_code(exit::FAILED)
        .assert_status("container.socket", "fail")
        .assert_check_mentions("container.socket", "DOCKER_GID")
        .assert_check_mentions("container.socket", "actsim doctor --fix --yes");

    // setup --yes sets DOCKER_GID and keeps every other byte; its final check passes.
    let out = w.setup_json().run();
    out.assert_success();
    assert_eq!(step(&out, "env")["status"], "changed", "{out}");
    out.assert_status("container.socket", "pass");
    assert_no_failed_check(&out);
    assert_eq!(
        String::from_utf8_lossy(&read(&w.env_file())),
        String::from_utf8_lossy(&with_gid(&edited, second.gid)),
        "{out}"
    );
    assert!(!w.config().join(".env.actsim-new").exists(), "{out}");
    // The token never reaches the report (the diff is redacted).
    assert!(!out.stdout.contains("ghp_not-a-real-token"), "{out}");

    // Again, repaired by doctor --fix --yes.
    w.chgrp_socket(first.gid);
    let fixed = w.doctor(60).args(["--fix", "--yes"]).run();
    fixed.assert_success();
    assert!(
        fix_steps(&fixed).contains(&("env".into(), "changed".into())),
        "{fixed}"
    );
    fixed.assert_status("container.socket", "pass");
    assert_no_failed_check(&fixed);
    assert_eq!(
        String::from_utf8_lossy(&read(&w.env_file())),
        String::from_utf8_lossy(&with_gid(&edited, first.gid)),
        "{fixed}"
    );
    assert!(!w.config().join(".env.actsim-new").exists(), "{fixed}");
    let again = w.setup_json().arg("--no-check").run();
    again.assert_success();
    assert_eq!(step(&again, "env")["status"], "ok", "{again}");
}

/// The stuck fleet host of issue 17: the user edits `.env`, the socket's gid changes, the
/// user merges the new `DOCKER_GID` in by hand (beside it lies the `.env.actsim-new` an
/// older actsim wrote): one `setup --yes` recovers, though the receipt still records the
/// old gid.
#[test]
fn env_merge_the_stuck_host_sequence_recovers_with_one_setup() {
    let first = TempGroup::new();
    let second = TempGroup::new();
    let Some(w) = World::new().socket_group(first.gid).build() else {
        return;
    };
    w.fresh_setup();
    let original = read(&w.env_file());
    let mut edited = original.clone();
    edited.extend_from_slice(USER_LINES);
    std::fs::write(w.env_file(), &edited).unwrap();
    w.chgrp_socket(second.gid);
    // What an older setup --yes left: ours beside, theirs untouched; merged by hand.
    std::fs::write(
        w.config().join(".env.actsim-new"),
        with_gid(&original, second.gid),
    )
    .unwrap();
    let merged = with_gid(&edited, second.gid);
    std::fs::write(w.env_file(), &merged).unwrap();
    assert_eq!(w.receipt()["docker"]["docker_gid"], first.gid);

    let out = w.setup_json().run();
    out.assert_success();
    out.assert_status("container.socket", "pass");
    assert_no_failed_check(&out);
    assert_eq!(read(&w.env_file()), merged, "{out}");
    let doctor = w.doctor(60).run();
    doctor
        .assert_success()
        .assert_status("container.socket", "pass");
}

/// A value of an owned key the user set themselves is shown and replaced only with the
/// plan: without a terminal and without `--yes` nothing changes (exit 3); `--yes` sets the
/// machine's value and says so.
#[test]
fn env_merge_a_users_own_value_of_an_owned_key_is_confirmed_and_named() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let text = String::from_utf8(read(&w.env_file())).unwrap();
    let gid = crate::support::fixtures::socket_gid();
    let mine = text.replace(&format!("DOCKER_GID={gid}\n"), "DOCKER_GID=4242\nMINE=1\n");
    assert_ne!(mine, text);
    std::fs::write(w.env_file(), &mine).unwrap();
    let declined = w
        .setup_bare()
        .args(["--no-check", "--act-base-url", &w.mirror().base_url()])
        .args(["--platform-image", w.image()])
        .stdin_null()
        .run();
    declined.assert_code(exit::ABORTED);
    declined.assert_stderr_contains("DOCKER_GID=4242 (yours)");
    assert_eq!(String::from_utf8(read(&w.env_file())).unwrap(), mine);
    let out = w.setup().arg("--no-check").run();
    out.assert_success()
        .assert_stderr_contains("DOCKER_GID=4242 (yours) becomes the machine's");
    assert_eq!(
        String::from_utf8(read(&w.env_file())).unwrap(),
        text.replace(
            &format!("DOCKER_GID={gid}\n"),
            &format!("DOCKER_GID={gid}\nMINE=1\n")
        )
    );
}
