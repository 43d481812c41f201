//! The whole lifecycle (issue 12): `doctor --bundle`, `doctor --fix`, `uninstall`, on real
//! setups (a loopback mirror, the real act, real files). Tests that remove images or
//! volumes run against a private dockerd, so the machine's daemon and other tests keep
//! theirs.

use std::path::Path;
use std::time::Duration;

use crate::support::consts::{RECEIPT, uninstall_step_ids};
use crate::support::report::{assert_no_failed_check, fix_steps, group_line, steps};
use crate::support::world::World;
use crate::support::{Cmd, exit, temp};

/// A GitHub token shape the bundle must never contain.
const TOKEN: &str = "ghp_AsimTestToken0123456789abcdefABCDEF";

/// Every regular file under `dir`, with its text.
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn lifecycle_bundle_of_a_machine_with_a_token_in_env_contains_no_token() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    // The user puts a token into .env and an act secret into the actrc, and has it in the
    // environment too.
    let mut env = std::fs::read_to_string(w.env_file()).unwrap();
    env.push_str(&format!("GITHUB_TOKEN={TOKEN}\nMY_API_KEY=k-{TOKEN}\n"));
    std::fs::write(w.env_file(), env).unwrap();
    let mut actrc = std::fs::read_to_string(w.actrc()).unwrap();
    actrc.push_str(&format!("-s GITHUB_TOKEN={TOKEN}\n"));
    std::fs::write(w.actrc(), actrc).unwrap();

    let out_dir = temp::dir();
    let bundle = out_dir.path().join("report.tar.gz");
    let out = w
        .doctor(60)
        .arg("--bundle")
        .arg(&bundle)
        .env("GITHUB_TOKEN", TOKEN)
        .env("AWS_SECRET_ACCESS_KEY", TOKEN)
        .run();
    assert!(matches!(out.code, Some(0 | 1)), "{out}");
    assert!(
        !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
        "{out}"
    );
    assert_eq!(out.json()["schema"], 1, "{out}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&bundle).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the bundle holds configuration: mode 0600");

    // Unpack it with the real tar and look at every file.
    let unpacked = temp::dir();
    Cmd::new("tar")
        .arg("-xzf")
        .arg(&bundle)
        .arg("-C")
        .arg(unpacked.path())
        .run()
        .assert_success();
    let files = files_under(unpacked.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "actsim-bundle/MANIFEST.txt",
        "actsim-bundle/doctor.json",
        "actsim-bundle/versions.txt",
        "actsim-bundle/endpoint.txt",
        "actsim-bundle/environment.txt",
        "actsim-bundle/receipt.json",
        "actsim-bundle/actrc",
        "actsim-bundle/docker-compose.yml",
        "actsim-bundle/env",
        "actsim-bundle/act-bug-report.txt",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    for (name, text) in &files {
        assert!(!text.contains(TOKEN), "{name} contains the token:\n{text}");
        assert!(
            !text.contains("AsimTestToken"),
            "{name} contains part of the token"
        );
    }
    let get = |n: &str| &files.iter().find(|(f, _)| f.ends_with(n)).unwrap().1;
    assert!(get("/env").contains("GITHUB_TOKEN=***"), "{}", get("/env"));
    assert!(get("/env").contains("MY_API_KEY=***"), "{}", get("/env"));
    assert!(get("/env").contains("DOCKER_GID="), "{}", get("/env"));
    assert!(
        get("/actrc").contains("-s GITHUB_TOKEN=***"),
        "{}",
        get("/actrc")
    );
    assert!(get("/actrc").contains(&format!("-P ubuntu-latest={}", w.image())));
    assert!(
        get("environment.txt").contains("GITHUB_TOKEN set (value withheld)"),
        "{}",
        get("environment.txt")
    );
    assert!(!get("environment.txt").contains("AWS_SECRET"));
    let versions = get("versions.txt");
    for needle in [
        "actsim 0.1.0",
        "act: pass: act 0.2.89",
        "docker engine:",
        "kernel:",
        "OS:",
    ] {
        assert!(versions.contains(needle), "{needle}: {versions}");
    }
    assert!(
        get("act-bug-report.txt").contains("act version:"),
        "{}",
        get("act-bug-report.txt")
    );
    let doctor: serde_json::Value = serde_json::from_str(get("doctor.json")).unwrap();
    assert_eq!(doctor["schema"], 1);
    let receipt: serde_json::Value = serde_json::from_str(get("receipt.json")).unwrap();
    assert_eq!(receipt["act"]["version"], "0.2.89");
    assert!(get("MANIFEST.txt").contains("last-run.log: no actsim run log"));
    // act --bug-report ran with a scratch HOME: nothing new in the user's home.
    assert!(!w.home().join(".cache/act").exists());
}

#[test]
fn lifecycle_bundle_to_an_unwritable_place_fails_naming_it() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    let out = w
        .doctor(30)
        .args(["--bundle", "/proc/actsim-no/report.tar.gz"])
        .timeout(Duration::from_secs(120))
        .run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("/proc/actsim-no");
}

/// `doctor --fix` repairs a stale DOCKER_GID, a deleted actrc and a removed image, each
/// with exactly the setup step that fixes it, then passes. On a private daemon whose
/// socket group can change like a reinstalled Docker's.
#[test]
fn lifecycle_doctor_fix_repairs_a_stale_docker_gid_a_deleted_actrc_and_a_removed_image() {
    let Some(w) = World::new().private_daemon().build() else {
        return;
    };
    w.fresh_setup();
    let healthy = w.doctor(60).run();
    healthy.assert_success();
    let env_before = std::fs::read_to_string(w.env_file()).unwrap();

    // 1. Docker "reinstalled": the socket now belongs to another group.
    let group = crate::support::users::TempGroup::new();
    let socket = w.daemon.as_ref().unwrap().socket().to_path_buf();
    std::os::unix::fs::chown(&socket, None, Some(group.gid)).unwrap();
    let stale = w.doctor(60).run();
    stale
        .assert_code(exit::FAILED)
        .assert_status("container.socket", "fail")
        .assert_check_mentions("container.socket", "DOCKER_GID");
    // Without a terminal and without --yes: exit 3, nothing changed.
    let declined = w.doctor(60).arg("--fix").run();
    declined
        .assert_code(exit::ABORTED)
        .assert_stderr_contains("--yes");
    assert_eq!(std::fs::read_to_string(w.env_file()).unwrap(), env_before);
    let fixed = w.doctor(60).args(["--fix", "--yes"]).run();
    fixed.assert_success();
    assert_eq!(
        fix_steps(&fixed),
        [("env".into(), "changed".into())],
        "{fixed}"
    );
    assert_eq!(
        fixed.json()["fix"]["checks_before"]
            .as_array()
            .unwrap()
            .len(),
        11
    );
    fixed.assert_status("container.socket", "pass");
    assert_no_failed_check(&fixed);
    let env = std::fs::read_to_string(w.env_file()).unwrap();
    assert!(
        env.contains(&format!("DOCKER_GID={}\n", group.gid)),
        "{env}"
    );
    assert_eq!(w.receipt()["docker"]["docker_gid"], group.gid);

    // 2. The actrc is deleted: act would stop at its first-run prompt.
    std::fs::remove_file(w.actrc()).unwrap();
    let fixed = w.doctor(60).args(["--fix", "--yes"]).run();
    fixed.assert_success();
    assert_eq!(
        fix_steps(&fixed),
        [("actrc".into(), "changed".into())],
        "{fixed}"
    );
    fixed.assert_status("act.docker", "pass");
    // The platform image setup was given, not the default.
    let actrc = std::fs::read_to_string(w.actrc()).unwrap();
    assert!(
        actrc.contains(&format!("-P ubuntu-latest={}", w.image())),
        "{actrc}"
    );

    // 3. The simulator image is removed.
    let image = "actsim/act:0.2.89";
    w.docker()
        .args(["image", "rm", image])
        .run()
        .assert_success();
    let fixed = w.doctor(60).args(["--fix", "--yes"]).run();
    fixed.assert_success();
    assert_no_failed_check(&fixed);
    let label = format!(
        "{{{{index .Config.Labels \"{}\"}}}}",
        actsim::docker::image::SHA_LABEL
    );
    let inspect = w
        .docker()
        .args(["image", "inspect", "--format", &label, image])
        .run();
    inspect.assert_success();
    assert_eq!(
        inspect.stdout.trim(),
        actsim::system::files::sha256_hex(&std::fs::read(w.act()).unwrap()),
        "the rebuilt image holds the installed act"
    );

    // Healthy again: a fix with nothing to fix changes nothing.
    let again = w.doctor(60).args(["--fix", "--yes"]).run();
    again.assert_success();
    let steps = again.json()["fix"]["steps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        steps.iter().all(|s| s["status"] != "changed"),
        "a second fix changed something\n{again}"
    );
}

/// The members line of the machine's real docker group (empty when there is none).
fn real_docker_group() -> String {
    group_line("docker")
}

/// Uninstall after a fresh setup leaves no file setup wrote, no image, no volume, no state
/// dir, and the real docker group as it was; a dry run before changes nothing; a second
/// uninstall changes nothing.
#[test]
fn lifecycle_uninstall_after_a_fresh_setup_leaves_the_machine_as_it_was() {
    let Some(w) = World::new().private_daemon().build() else {
        return;
    };
    let group_before = real_docker_group();
    let before = w.tree();
    w.fresh_setup();
    let daemon = w.daemon.as_ref().unwrap();
    assert!(daemon.images().contains(&"actsim/act:0.2.89".to_string()));
    // A compose run would create the act cache volume; create it the same way.
    let volume = format!("actsim-act-cache-{}", nix::unistd::getuid());
    daemon
        .docker()
        .args(["volume", "create", &volume])
        .run()
        .assert_success();
    let installed = w.tree();

    let dry = w.uninstall().args(["--yes", "--dry-run"]).run();
    dry.assert_success();
    assert_eq!(w.tree(), installed, "a dry run changed files\n{dry}");
    assert!(daemon.images().contains(&"actsim/act:0.2.89".to_string()));

    let out = w.uninstall().arg("--yes").run();
    out.assert_success();
    assert_eq!(out.json()["schema"], 1, "{out}");
    assert_eq!(out.json()["changed"], true, "{out}");
    let ids: Vec<String> = steps(&out).into_iter().map(|(i, _)| i).collect();
    assert_eq!(ids, uninstall_step_ids(), "{out}");
    for (id, status) in steps(&out) {
        let want: &[&str] = match id.as_str() {
            "group" => &["skipped"],
            _ => &["changed"],
        };
        assert!(
            want.contains(&status.as_str()),
            "step {id} is {status}\n{out}"
        );
    }
    // No file setup wrote is left, nor actsim's own directories; generic parents setup
    // may have created (~/.config, ~/.local/state, the bin dir) stay, empty.
    let left: Vec<String> = w
        .tree()
        .into_iter()
        .filter(|p| !before.contains(p) && !w.root.path().join(p).is_dir())
        .collect();
    assert!(
        left.is_empty(),
        "uninstall left what setup wrote: {left:?}\n{out}"
    );
    for dir in [
        w.state(),
        w.config(),
        w.actrc().parent().unwrap().to_path_buf(),
    ] {
        assert!(!dir.exists(), "{} is left\n{out}", dir.display());
    }
    assert!(
        !daemon.images().iter().any(|i| i.starts_with("actsim/act:")),
        "{:?}",
        daemon.images()
    );
    assert!(
        daemon.images().contains(&w.image().to_string()),
        "the platform image is not actsim's"
    );
    assert!(
        !daemon.volumes().contains(&volume),
        "{:?}",
        daemon.volumes()
    );
    assert_eq!(
        real_docker_group(),
        group_before,
        "the real docker group changed"
    );

    let again = w.uninstall().arg("--yes").run();
    again.assert_success();
    assert_eq!(again.json()["changed"], false, "{again}");
    assert!(
        steps(&again).iter().all(|(_, s)| s != "changed"),
        "a second uninstall changed something\n{again}"
    );
}

/// After a setup that replaced the user's older act, uninstall restores it (same hash);
/// an edited compose file is kept and listed; the actrc keeps the user's own lines;
/// without a terminal and without --yes nothing changes (exit 3).
#[test]
fn lifecycle_uninstall_restores_the_replaced_act_and_keeps_edited_files() {
    let Some(w) = World::new().private_daemon().build() else {
        return;
    };
    // The user's own act (an older one) and their own actrc line.
    let old_act = "#!/bin/sh\necho 'act version 0.2.50'\n";
    temp::write(&w.act(), old_act);
    temp::chmod(&w.act(), 0o755);
    let old_sha = actsim::system::files::sha256_hex(old_act.as_bytes());
    temp::write(&w.actrc(), "--container-architecture linux/amd64\n");
    w.fresh_setup();
    assert_ne!(
        actsim::system::files::sha256_hex(&std::fs::read(w.act()).unwrap()),
        old_sha
    );
    // The user edits the compose file.
    let mut compose = std::fs::read_to_string(w.compose()).unwrap();
    compose.push_str("# my note\n");
    std::fs::write(w.compose(), &compose).unwrap();

    let refused = w.uninstall().run();
    refused
        .assert_code(exit::ABORTED)
        .assert_stderr_contains("--yes");
    assert!(w.receipt_path().exists());

    let out = w.uninstall().arg("--yes").run();
    out.assert_success();
    assert_eq!(
        actsim::system::files::sha256_hex(&std::fs::read(w.act()).unwrap()),
        old_sha,
        "the replaced act is back\n{out}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(w.act()).unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert_eq!(
        std::fs::read_to_string(w.compose()).unwrap(),
        compose,
        "the edit survives"
    );
    let kept = out.json()["kept"].as_array().unwrap().clone();
    assert!(
        kept.iter()
            .any(|k| k["path"] == w.compose().display().to_string()),
        "the edited compose file is listed as kept\n{out}"
    );
    out.assert_stderr_contains("keeping your edited");
    assert!(!w.env_file().exists(), "the unedited .env goes\n{out}");
    assert_eq!(
        std::fs::read_to_string(w.actrc()).unwrap(),
        "--container-architecture linux/amd64\n",
        "only actsim's -P lines go\n{out}"
    );
    assert!(!w.state().exists());

    let again = w.uninstall().arg("--yes").run();
    again.assert_success();
    assert_eq!(again.json()["changed"], false, "{again}");
    assert_eq!(std::fs::read_to_string(w.compose()).unwrap(), compose);
}

/// `actsim setup --yes --user NAME` as root against the world's private daemon, with a
/// root-owned bin dir; the user's files go to their own home.
#[track_caller]
fn setup_for(
    w: &World,
    user: &crate::support::users::TempUser,
    bin: &Path,
) -> crate::support::Outcome {
    let out = Cmd::actsim()
        .args([
            "setup",
            "--yes",
            "--format",
            "json",
            "--no-check",
            "--user",
            &user.name,
        ])
        .arg("--act-base-url")
        .arg(w.mirror().base_url())
        .args(["--platform-image", w.image()])
        .arg("--bin-dir")
        .arg(bin)
        .env("DOCKER_HOST", w.docker_host().unwrap())
        .env("ACTSIM_SYSTEM_STATE_DIR", w.system_state())
        .timeout(Duration::from_secs(300))
        .run();
    out.assert_success();
    out
}

fn uninstall_for(w: &World, user: &crate::support::users::TempUser) -> Cmd {
    Cmd::actsim()
        .args([
            "uninstall",
            "--yes",
            "--format",
            "json",
            "--user",
            &user.name,
        ])
        .env("DOCKER_HOST", w.docker_host().unwrap())
        .env("ACTSIM_SYSTEM_STATE_DIR", w.system_state())
        .timeout(Duration::from_secs(180))
}

fn members(group: &str) -> String {
    group_line(group)
}

/// Root undoing a user's setup: the user's files go from their home, the group membership
/// setup added stays unless --remove-group, a membership setup did not add stays even
/// with it, and the machine's real docker group is never touched.
#[test]
fn lifecycle_uninstall_as_root_for_a_user_touches_only_the_group_membership_setup_added() {
    use crate::support::users::{TempGroup, TempUser};
    let Some(w) = World::new().root_only().private_daemon().build() else {
        return;
    };
    let real_group = real_docker_group();
    let group = TempGroup::new();
    std::os::unix::fs::chown(w.daemon.as_ref().unwrap().socket(), None, Some(group.gid)).unwrap();
    let bin = temp::dir();

    // Setup adds the user to the socket's group; a plain uninstall leaves that.
    let alice = TempUser::new();
    let out = setup_for(&w, &alice, bin.path());
    assert!(
        steps(&out).contains(&("group".into(), "changed".into())),
        "{out}"
    );
    let compose = alice.home.join(".config/actsim/docker-compose.yml");
    assert!(compose.exists());
    let out = uninstall_for(&w, &alice).run();
    out.assert_success();
    assert!(
        steps(&out).contains(&("group".into(), "skipped".into())),
        "{out}"
    );
    assert!(members(&group.name).contains(&alice.name), "{out}");
    assert!(
        !compose.exists() && !alice.home.join(".local/state/actsim").exists(),
        "{out}"
    );
    assert!(!bin.path().join("act").exists(), "{out}");
    // act in the root-owned bin dir was recorded in root's receipt: that record is gone.
    let system: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(w.system_state().join(RECEIPT)).unwrap())
            .unwrap();
    assert!(system.get("act").is_none(), "{system}");

    // She was in the group before this setup: --remove-group leaves her there.
    setup_for(&w, &alice, bin.path());
    let out = uninstall_for(&w, &alice).arg("--remove-group").run();
    out.assert_success();
    assert!(members(&group.name).contains(&alice.name), "{out}");

    // Bob's membership came from setup: --remove-group takes it away again.
    let bob = TempUser::new();
    setup_for(&w, &bob, bin.path());
    assert!(members(&group.name).contains(&bob.name));
    let out = uninstall_for(&w, &bob).arg("--remove-group").run();
    out.assert_success();
    assert!(
        steps(&out).contains(&("group".into(), "changed".into())),
        "{out}"
    );
    assert!(!members(&group.name).contains(&bob.name), "{out}");
    assert!(members(&group.name).contains(&alice.name), "{out}");
    assert_eq!(
        real_docker_group(),
        real_group,
        "the real docker group changed"
    );
}
