//! Whole runs of `actsim setup` across its steps (docker, act, group, image, compose, env,
//! actrc and the final check), end to end: a fresh machine, a rerun, doctor after setup,
//! and install.sh from a clean `git clone`.
//!
//! Real parts only: the real daemon, a loopback mirror serving the real act 0.2.89, and
//! the one test world ([`crate::support::world::World`]), whose runs point HOME and the XDG
//! dirs into temp dirs and pass `--bin-dir`/`--config-dir`, so the machine's own
//! configuration is never touched.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::consts::{LABELS, check_ids, simulator_image};
use crate::support::files::{env_map, mode, read, sha256_file, stamps, tree};
use crate::support::fixtures::{self, DOCKER_SOCK, socket_gid};
use crate::support::mirror::VERSION;
use crate::support::report::{assert_no_failed_check, assert_steps, step, steps};
use crate::support::temp;
use crate::support::world::{World, read_json};
use crate::support::{Cmd, exit};

#[test]
fn setup_flow_fresh_setup_writes_everything_and_doctor_passes() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    let out = w.setup_json().run();
    out.assert_success();
    let json = out.json();
    assert_eq!(json["ok"], true, "{out}");
    assert_eq!(json["changed"], true, "{out}");
    assert_steps(
        &out,
        &[
            ("docker", &["ok"]),
            ("act", &["changed"]),
            // Root opens the socket without a group.
            ("group", &["skipped"]),
            // The tag is shared by every test on this daemon: built now, or already
            // holding the same act binary.
            ("image", &["changed", "ok"]),
            ("compose", &["changed"]),
            ("env", &["changed"]),
            ("actrc", &["changed"]),
        ],
    );
    assert!(
        step(&out, "docker")["summary"]
            .as_str()
            .unwrap()
            .contains(DOCKER_SOCK),
        "{out}"
    );
    // The final check ran and is in the same JSON: all eleven ids, nothing failed.
    assert_eq!(out.check_ids().len(), check_ids().len(), "{out}");
    assert_no_failed_check(&out);
    out.assert_status_in("docker.socket", &["pass"])
        .assert_status_in("container.run", &["pass"])
        .assert_status_in("container.socket", &["pass"]);

    // The compose file: our service on the image setup built.
    let compose = String::from_utf8(read(&w.compose())).unwrap();
    assert!(compose.contains("actions-simulator:"), "{compose}");
    assert!(
        compose.contains(&format!("image: \"{}\"", simulator_image())),
        "{compose}"
    );
    assert_eq!(mode(&w.compose()), 0o644);

    // .env: mode 0600; DOCKER_GID is the socket's numeric group (stat), not a lookup.
    assert_eq!(mode(&w.env_file()), 0o600, ".env must be 0600");
    let env = env_map(&w.env_file());
    let me = (
        nix::unistd::getuid().as_raw(),
        nix::unistd::getgid().as_raw(),
    );
    assert_eq!(env["DOCKER_GID"], socket_gid().to_string(), "{env:?}");
    assert_eq!(env["HOST_UID"], me.0.to_string(), "{env:?}");
    assert_eq!(env["HOST_GID"], me.1.to_string(), "{env:?}");
    assert_eq!(env["DOCKER_SOCKET"], DOCKER_SOCK, "{env:?}");
    assert_eq!(env["ACT_VERSION"], VERSION, "{env:?}");
    // Never in a workflow repository: only in the config dir.
    assert!(!w.home().join(".env").exists());

    // actrc maps the three labels to the platform image.
    let actrc = String::from_utf8(read(&w.actrc())).unwrap();
    for label in LABELS {
        assert!(
            actrc
                .lines()
                .any(|l| l.trim() == format!("-P {label}={}", w.image())),
            "actrc lacks -P {label}={}:\n{actrc}",
            w.image()
        );
    }
    // Job containers get the socket's group (nektos/act #1798).
    let group_add = format!("--container-options --group-add {}", env["DOCKER_GID"]);
    assert!(
        actrc.lines().any(|l| l.trim() == group_add),
        "actrc lacks {group_add}:\n{actrc}"
    );

    // The receipt records the files with their hashes, DOCKER_GID and the image.
    let r = w.receipt();
    for (id, path) in [
        ("compose", w.compose()),
        ("env", w.env_file()),
        ("actrc", w.actrc()),
    ] {
        assert_eq!(
            r["files"][id]["path"],
            path.display().to_string(),
            "{id}: {r:#}"
        );
        assert_eq!(r["files"][id]["sha256"], sha256_file(&path), "{id}: {r:#}");
    }
    assert_eq!(r["docker"]["docker_gid"], socket_gid(), "{r:#}");
    assert_eq!(r["docker"]["image"], simulator_image(), "{r:#}");
    assert_eq!(r["act"]["version"], VERSION, "{r:#}");
    let act_sha = sha256_file(&w.act());
    assert_eq!(r["act"]["binary_sha256"], act_sha, "{r:#}");
    assert_eq!(r["docker"]["image_sha256"], act_sha, "{r:#}");

    // The image exists on the daemon.
    Cmd::new("docker")
        .args([
            "image",
            "inspect",
            "--format",
            "{{.Id}}",
            &simulator_image(),
        ])
        .timeout(Duration::from_secs(30))
        .run()
        .assert_success();

    // And a later `actsim doctor` agrees: nothing fails. This engine speaks API 1.41
    // (docker.daemon warns below 1.44); compose v1 warns that it is end of life.
    let doc = w.doctor(60).run();
    doc.assert_success();
    assert_eq!(doc.json()["ok"], true, "{doc}");
    assert_eq!(doc.check_ids().len(), check_ids().len(), "{doc}");
    assert_no_failed_check(&doc);
    for id in [
        "docker.cli",
        "docker.endpoint",
        "docker.socket",
        "act.binary",
        "act.docker",
        "container.run",
        "container.socket",
    ] {
        doc.assert_status(id, "pass");
    }
    doc.assert_status_in("docker.daemon", &["pass", "warn"])
        .assert_status_in("compose.config", &["pass", "warn"])
        .assert_status("act.run", "skip")
        // A loaded CI disk may be low on space: a warning, never a failure here.
        .assert_status_in("docker.resources", &["pass", "warn"]);
    if doc.status("compose.config") == "warn" {
        doc.assert_check_mentions("compose.config", "v1");
    }
    doc.assert_check_mentions("act.docker", w.image())
        .assert_check_mentions("compose.config", &w.compose().display().to_string());
}

#[test]
fn setup_flow_rerun_is_a_no_op() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let files = vec![
        w.compose(),
        w.env_file(),
        w.actrc(),
        w.act(),
        w.receipt_path(),
    ];
    let before = stamps(&files);
    let config_before = tree(&w.config());
    let requests = w.mirror().requests().len();
    assert!(requests >= 2, "the fresh setup downloaded act");

    // The rerun, with the final check this time.
    let out = w.setup_json().run();
    out.assert_success();
    assert_eq!(out.json()["ok"], true, "{out}");
    assert_eq!(out.json()["changed"], false, "{out}");
    for (id, status) in steps(&out) {
        assert!(
            status == "ok" || status == "skipped",
            "step {id} is {status} on a rerun\n{out}"
        );
    }
    assert_steps(
        &out,
        &[
            ("docker", &["ok"]),
            ("act", &["ok"]),
            ("group", &["skipped"]),
            ("image", &["ok"]),
            ("compose", &["ok"]),
            ("env", &["ok"]),
            ("actrc", &["ok"]),
        ],
    );
    assert_no_failed_check(&out);
    assert_eq!(stamps(&files), before, "a file was rewritten\n{out}");
    assert_eq!(tree(&w.config()), config_before, "{out}");
    assert_eq!(
        w.mirror().requests().len(),
        requests,
        "the rerun made a request: {:?}\n{out}",
        w.mirror().requests()
    );

    // Human output too: nothing to confirm, nothing changed.
    let human = w.setup().arg("--no-check").run();
    human
        .assert_success()
        .assert_stderr_contains("0 changed")
        .assert_stderr_lacks("warning");
    assert_eq!(stamps(&files), before, "{human}");
    assert_eq!(w.mirror().requests().len(), requests);
}

#[test]
fn setup_flow_doctor_reports_drift_from_the_receipt() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    // Nothing has drifted yet: no drift warning anywhere.
    let clean = w.doctor(60).run();
    assert!(
        !clean.check_text("compose.config").contains("edited since"),
        "{clean}"
    );
    assert!(
        !clean.check_text("act.binary").contains("changed since"),
        "{clean}"
    );

    // The user edits the compose file: compose.config warns.
    let mut compose = std::fs::read_to_string(w.compose()).unwrap();
    compose.push_str("# my note\n");
    std::fs::write(w.compose(), compose).unwrap();
    // The act binary is replaced by another build (a trailing byte still runs).
    let act = w.act();
    let mut bytes = std::fs::read(&act).unwrap();
    bytes.push(0);
    std::fs::write(&act, bytes).unwrap();
    // The probe image is named, so this doctor does not retag the shared simulator image
    // with the changed binary (other tests use it at the same time).
    let probe = simulator_image();
    let out = w.doctor(60).args(["--probe-image", &probe]).run();
    out.assert_status("compose.config", "warn")
        .assert_check_mentions("compose.config", "edited since actsim wrote it");
    out.assert_status("act.binary", "warn")
        .assert_check_mentions("act.binary", "changed since actsim installed it");

    // A stale DOCKER_GID in the receipt says nothing about the socket now: container.socket
    // compares the socket with .env. A stale .env fails, naming the fix that fixes it.
    let path = w.receipt_path();
    let mut receipt = read_json(&path);
    receipt["docker"]["docker_gid"] = Value::from(socket_gid() + 4242);
    std::fs::write(&path, serde_json::to_vec_pretty(&receipt).unwrap()).unwrap();
    let out = w.doctor(60).args(["--probe-image", &probe]).run();
    out.assert_status("container.socket", "pass");
    let env = std::fs::read_to_string(w.env_file()).unwrap();
    let stale = env.replace(
        &format!("DOCKER_GID={}\n", socket_gid()),
        &format!("DOCKER_GID={}\n", socket_gid() + 4242),
    );
    std::fs::write(w.env_file(), stale).unwrap();
    let out = w.doctor(60).args(["--probe-image", &probe]).run();
    out.assert_status("container.socket", "fail")
        .assert_check_mentions("container.socket", "actsim doctor --fix --yes");
    out.assert_code(exit::FAILED);
}

#[test]
fn setup_flow_install_sh_from_a_clean_clone_leaves_a_working_act() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    let clone_root = temp::dir();
    let clone = clone_root.path().join("actsim");
    Cmd::new("git")
        .args(["clone", "--quiet", "--no-hardlinks"])
        .arg(fixtures::repo_root())
        .arg(&clone)
        .timeout(Duration::from_secs(120))
        .run()
        .assert_success();
    let script = clone.join("install.sh");
    assert!(
        script.is_file(),
        "install.sh is not committed: a clean clone has no {}",
        script.display()
    );
    let prefix = w.root.path().join("prefix");
    // The binary this test run built stands in for `cargo build --release` (the build
    // itself is covered by setup_files_install_sh_builds_the_release_binary_when_it_is_stale).
    let out = w
        .within(Cmd::new(&script))
        .args(["--yes", "--prefix"])
        .arg(&prefix)
        .args(["--binary", env!("CARGO_BIN_EXE_actsim")])
        .arg("--bin-dir")
        .arg(w.bin())
        .arg("--config-dir")
        .arg(w.config())
        .args(["--act-base-url", &w.mirror().base_url()])
        .args(["--platform-image", w.image(), "--timeout", "120"])
        .current_dir(&clone)
        .timeout(Duration::from_secs(300))
        .run();
    out.assert_success().assert_stderr_contains(&format!(
        "installed {}",
        prefix.join("bin/actsim").display()
    ));
    assert_eq!(
        read(&prefix.join("bin/actsim")),
        read(Path::new(env!("CARGO_BIN_EXE_actsim")))
    );
    // A working act in the bin dir, the files, and a passing final check.
    let act = Cmd::new(w.act())
        .arg("--version")
        .timeout(Duration::from_secs(30))
        .run();
    act.assert_success()
        .assert_stdout_contains(&format!("act version {VERSION}"));
    assert!(w.compose().is_file() && w.env_file().is_file() && w.actrc().is_file());
    assert_eq!(
        env_map(&w.env_file())["DOCKER_GID"],
        socket_gid().to_string()
    );
    assert!(out.stderr.contains("Final check"), "{out}");
    assert!(out.stderr.contains("setup done"), "{out}");
}
