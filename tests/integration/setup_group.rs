//! The group step of `actsim setup`: membership of the socket's group, through a socket
//! proxy owned by a temporary group, for real temporary users; the final check judging
//! the next login.
//!
//! Real parts only: the real daemon, a loopback mirror serving the real act 0.2.89, and
//! the one test world ([`crate::support::world::World`]), whose runs point HOME and the XDG
//! dirs into temp dirs and pass `--bin-dir`/`--config-dir`, so the machine's own
//! configuration is never touched.

use std::path::Path;
use std::time::Duration;

use crate::support::files::{env_map, mode, owner};
use crate::support::proxy::SocketProxy;
use crate::support::report::{assert_no_failed_check, assert_steps, group_members, step};
use crate::support::users::{TempGroup, TempUser};
use crate::support::world::{World, read_json};
use crate::support::{Cmd, SYSTEM_PATH, actsim_for_others, exit};

/// `actsim setup --yes --format json --user NAME` run by root against `proxy`, with the
/// world's bin dir, mirror and platform image and the config dir `config`.
fn setup_for(w: &World, user: &TempUser, proxy: &SocketProxy, config: &Path) -> Cmd {
    Cmd::actsim()
        .args(["setup", "--yes", "--format", "json", "--timeout", "120"])
        .args(["--user", &user.name, "--act-base-url"])
        .arg(w.mirror().base_url())
        .args(["--platform-image", w.image()])
        .arg("--bin-dir")
        .arg(w.bin())
        .arg("--config-dir")
        .arg(config)
        .env("DOCKER_HOST", proxy.host())
        .env(
            "ACTSIM_SYSTEM_STATE_DIR",
            w.root.path().join("system/actsim"),
        )
        .env("PATH", format!("{}:{SYSTEM_PATH}", w.bin().display()))
        .timeout(Duration::from_secs(300))
}

#[test]
fn setup_group_root_adds_another_user_to_the_sockets_group_and_their_doctor_passes() {
    let Some(w) = World::new().root_only().daemon().build() else {
        return;
    };
    let group = TempGroup::new();
    let user = TempUser::new();
    let proxy = SocketProxy::to_docker(group.gid);
    let config = w.root.path().join("ucfg/actsim");
    assert!(!group_members(&group.name).contains(&user.name));

    let out = setup_for(&w, &user, &proxy, &config)
        .arg("--no-check")
        .run();
    out.assert_success();
    assert_steps(
        &out,
        &[
            ("docker", &["ok"]),
            ("act", &["changed"]),
            ("group", &["changed"]),
            ("image", &["changed", "ok"]),
            ("compose", &["changed"]),
            ("env", &["changed"]),
            ("actrc", &["changed"]),
        ],
    );
    let summary = step(&out, "group")["summary"].as_str().unwrap();
    assert!(
        summary.contains(&group.name) && summary.contains(&user.name),
        "{out}"
    );
    assert!(summary.contains(&format!("newgrp {}", group.name)), "{out}");
    assert!(
        group_members(&group.name).contains(&user.name),
        "getent group {} does not list {}\n{out}",
        group.name,
        user.name
    );

    // The user's files: in the config dir, in their home (act's config, the receipt), all
    // owned by them; .env carries their ids and the proxy socket's group.
    let ids = (user.uid, user.gid);
    let actrc = user.home.join(".config/act/actrc");
    let receipt = user.home.join(".local/state/actsim/receipt.json");
    for path in [
        config.clone(),
        config.join("docker-compose.yml"),
        config.join(".env"),
        actrc.clone(),
        receipt.clone(),
    ] {
        assert_eq!(
            owner(&path),
            ids,
            "{} is not the user's\n{out}",
            path.display()
        );
    }
    assert_eq!(mode(&config.join(".env")), 0o600);
    let env = env_map(&config.join(".env"));
    assert_eq!(env["DOCKER_GID"], group.gid.to_string(), "{env:?}");
    assert_eq!(env["HOST_UID"], user.uid.to_string(), "{env:?}");
    assert_eq!(env["HOST_GID"], user.gid.to_string(), "{env:?}");
    assert_eq!(env["DOCKER_SOCKET"], proxy.path().display().to_string());
    let r = read_json(&receipt);
    assert_eq!(r["docker"]["group"], group.name.as_str(), "{r:#}");
    assert_eq!(r["docker"]["group_added"], true, "{r:#}");
    assert_eq!(r["docker"]["docker_gid"], group.gid, "{r:#}");

    // The user's own doctor, from a new login (runuser: initgroups), passes the socket
    // checks through the proxy, the one in the container too.
    let doc = Cmd::new("runuser")
        .args(["-u", &user.name, "--"])
        .arg(actsim_for_others())
        .args(["doctor", "--format", "json", "--timeout", "60", "--bin-dir"])
        .arg(w.bin())
        .arg("--config-dir")
        .arg(&config)
        .env("DOCKER_HOST", proxy.host())
        .env("PATH", format!("{}:{SYSTEM_PATH}", w.bin().display()))
        .timeout(Duration::from_secs(120))
        .run();
    doc.assert_status("docker.socket", "pass")
        .assert_check_mentions("docker.socket", &user.name)
        .assert_status("container.socket", "pass")
        .assert_status("container.run", "pass")
        .assert_status("act.docker", "pass");
    assert_no_failed_check(&doc);
    doc.assert_success();

    // Rerun as root with the final check: the group is there, and the check judges the
    // socket for the user by the group database.
    let again = setup_for(&w, &user, &proxy, &config).run();
    again.assert_success();
    assert_eq!(again.json()["changed"], false, "{again}");
    assert_eq!(step(&again, "group")["status"], "ok", "{again}");
    again
        .assert_status("docker.socket", "pass")
        .assert_check_mentions("docker.socket", &user.name)
        .assert_check_mentions("docker.socket", &group.name);
    assert_no_failed_check(&again);
}

#[test]
fn setup_group_joining_without_root_or_sudo_exits_5_with_the_exact_command() {
    let Some(w) = World::new().root_only().daemon().build() else {
        return;
    };
    if Path::new("/usr/bin/sudo").exists() {
        // Not a missing prerequisite but another machine: sudo would change the path taken.
        eprintln!("NOTE: sudo is installed; this test covers a machine without one");
        return;
    }
    let group = TempGroup::new();
    let user = TempUser::new();
    let proxy = SocketProxy::to_docker(group.gid);
    // The user runs setup themselves: not root, no sudo, not in the socket's group.
    let out = Cmd::new("runuser")
        .args(["-u", &user.name, "--"])
        .arg(actsim_for_others())
        .args([
            "setup",
            "--yes",
            "--format",
            "json",
            "--no-check",
            "--act-base-url",
        ])
        .arg(w.mirror().base_url())
        .args(["--platform-image", w.image()])
        .env("HOME", &user.home)
        .env("DOCKER_HOST", proxy.host())
        .env("PATH", SYSTEM_PATH)
        .stdin_null()
        .timeout(Duration::from_secs(300))
        .run();
    out.assert_code(exit::PRIVILEGE);
    out.assert_stderr_contains(&format!("usermod -aG {} {}", group.name, user.name));
    assert_eq!(step(&out, "group")["status"], "failed", "{out}");
    assert!(
        !group_members(&group.name).contains(&user.name),
        "the group must be unchanged\n{out}"
    );
    // Setup stopped there: no configuration was written.
    assert!(!user.home.join(".config/actsim/.env").exists(), "{out}");
}

#[test]
fn setup_group_final_check_sees_a_group_this_login_lacks_through_sg() {
    let Some(w) = World::new().root_only().daemon().build() else {
        return;
    };
    let group = TempGroup::new();
    // /etc/group lists the user in the socket's group, but this login does not carry it
    // (as right after `usermod -aG`): the final check must judge the next login.
    let user = TempUser::with_groups(&[&group]);
    let proxy = SocketProxy::to_docker(group.gid);
    let bin = user.home.join(".local/bin");
    let out = Cmd::actsim()
        .as_user(&user.name)
        .setpriv_groups(&[])
        .args([
            "setup",
            "--yes",
            "--format",
            "json",
            "--timeout",
            "120",
            "--act-base-url",
        ])
        .arg(w.mirror().base_url())
        .args(["--platform-image", w.image()])
        .env("DOCKER_HOST", proxy.host())
        .env("PATH", format!("{}:{SYSTEM_PATH}", bin.display()))
        .timeout(Duration::from_secs(300))
        .run();
    assert_eq!(step(&out, "docker")["status"], "ok", "{out}");
    assert_eq!(step(&out, "group")["status"], "ok", "{out}");
    out.assert_status("docker.socket", "pass")
        .assert_check_mentions("docker.socket", &group.name)
        .assert_status("container.socket", "pass")
        .assert_status("container.run", "pass");
    assert_no_failed_check(&out);
    out.assert_success();
    // Without the new group this login is still refused: the pass above came from sg.
    let doc = Cmd::actsim()
        .as_user(&user.name)
        .setpriv_groups(&[])
        .args(["doctor", "--format", "json", "--timeout", "30", "--bin-dir"])
        .arg(&bin)
        .env("DOCKER_HOST", proxy.host())
        .timeout(Duration::from_secs(90))
        .run();
    doc.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", "newgrp");
}

#[test]
fn setup_group_final_check_for_a_user_just_added_uses_the_group_database() {
    let Some(w) = World::new().root_only().daemon().build() else {
        return;
    };
    let group = TempGroup::new();
    let user = TempUser::new();
    let proxy = SocketProxy::to_docker(group.gid);
    let config = w.root.path().join("ucfg/actsim");

    // One run: setup adds the user, then the final check (as root, for the user) must see
    // the membership it just made.
    let out = setup_for(&w, &user, &proxy, &config).run();
    out.assert_success();
    assert_eq!(step(&out, "group")["status"], "changed", "{out}");
    out.assert_status("docker.socket", "pass")
        .assert_check_mentions("docker.socket", &user.name);
    assert_no_failed_check(&out);

    // Control: the same kind of run for a user joined to a group that does NOT own the
    // socket (--docker-group) fails that check, so the pass above can fail.
    let Some(w2) = World::new().daemon().build() else {
        return;
    };
    let other = TempGroup::new();
    let outsider = TempUser::new();
    let config2 = w2.root.path().join("ucfg/actsim");
    let out = setup_for(&w2, &outsider, &proxy, &config2)
        .args(["--docker-group", &other.name])
        .run();
    out.assert_code(exit::FAILED);
    assert_eq!(step(&out, "group")["status"], "changed", "{out}");
    assert!(group_members(&other.name).contains(&outsider.name), "{out}");
    out.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", &outsider.name);
    drop(outsider);
}

#[test]
fn setup_group_socket_group_root_is_refused_with_the_alternatives() {
    let Some(w) = World::new().root_only().daemon().build() else {
        return;
    };
    let user = TempUser::new();
    let proxy = SocketProxy::to_docker(0);
    let config = w.root.path().join("ucfg/actsim");
    let root_members = group_members("root");

    let out = setup_for(&w, &user, &proxy, &config)
        .arg("--no-check")
        .run();
    out.assert_code(exit::FAILED);
    assert_eq!(out.json()["ok"], false, "{out}");
    assert_steps(&out, &[("group", &["failed"]), ("act", &["changed"])]);
    let summary = step(&out, "group")["summary"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert!(summary.contains("gid 0"), "{out}");
    assert!(summary.contains("rootless"), "the alternatives: {out}");
    assert!(summary.contains("daemon.json"), "the alternatives: {out}");
    for text in [&out.stdout, &out.stderr] {
        assert!(!text.contains("usermod -aG root"), "{out}");
        assert!(!text.contains("newgrp root"), "{out}");
    }
    // The group database is as it was.
    assert_eq!(group_members("root"), root_members);
    assert!(!group_members("root").contains(&user.name));
    let gids = actsim::system::identity::database_gids(&user.name, user.gid);
    assert!(!gids.contains(&0), "{gids:?}\n{out}");

    // The human output names the way out too.
    let human = Cmd::actsim()
        .args(["setup", "--yes", "--no-check", "--user", &user.name])
        .args(["--act-base-url", &w.mirror().base_url()])
        .args(["--platform-image", w.image()])
        .arg("--bin-dir")
        .arg(w.bin())
        .arg("--config-dir")
        .arg(&config)
        .env("DOCKER_HOST", proxy.host())
        .timeout(Duration::from_secs(300))
        .run();
    human
        .assert_code(exit::FAILED)
        .assert_stderr_contains("rootless");
    assert!(!human.stderr.contains("usermod -aG root"), "{human}");
    assert!(!group_members("root").contains(&user.name));
}
