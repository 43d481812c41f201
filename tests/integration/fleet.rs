//! The fleet test (issues 10 and 19): the Ansible role (`ansible/roles/actsim`) run by real
//! `ansible-playbook` through its own test playbooks (`tests/converge.yml`,
//! `tests/verify.yml`) against three real Docker hosts at once.
//!
//! Each host is a container of a Debian root filesystem (cached by `scripts/fixtures.sh`
//! outside the checkout, `docker import`ed under a unique tag) running its own `dockerd`
//! (vfs, no bridge, no iptables) whose socket group has a different gid per host, with its
//! own users. The hosts sit on an `--internal` network the test creates and Ansible reaches
//! them through the `community.docker.docker` connection (`docker exec`), so nothing leaves
//! this machine. The controller verifies the act archive against the lock, then copies it.
//!
//! The role's test sequence: a string for `actsim_users` fails at once; converge (forks 3)
//! changes every host and verify passes (each user's DOCKER_GID, their doctor as them);
//! converge again changes nothing and copies or extracts nothing; check mode with a lock
//! update previews it with the staged lock (diffs shown, nothing written, staging gone); a
//! kept edited file is a warning; a host whose dockerd is stopped fails one line per user
//! with the fix and nothing half applied while the others finish; output that is not JSON
//! is reported in its own words; a tampered archive is refused on the controller and never
//! reaches the host; `actsim_state=absent` removes every user's files, and a rerun
//! fails nothing.
//!
//! What can go wrong: the cached root filesystem or ansible virtualenv is missing (skip,
//! or fail under CI: run scripts/fixtures.sh), the nested dockerd does not start (the test
//! fails with its log). Containers, the network and the image are removed on every path.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use crate::support::exit;
use crate::support::mirror;
use crate::support::temp::{self, TempDir};
use crate::support::{Cmd, Outcome};

fn cache_dir() -> PathBuf {
    std::env::var_os("ACTSIM_TEST_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/actsim-tests"))
}

struct Host {
    /// Container name (also the Ansible inventory name).
    name: String,
    gid: u32,
    users: Vec<&'static str>,
}

/// Everything the test created in the outer daemon, removed on drop.
struct Fleet {
    network: String,
    image: String,
    hosts: Vec<Host>,
    work: TempDir,
    venv: PathBuf,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

fn docker(args: &[&str], timeout: u64) -> Outcome {
    Cmd::new("docker")
        .args(args)
        .timeout(Duration::from_secs(timeout))
        .run()
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for h in &self.hosts {
            let _ = docker(&["rm", "-f", "-v", &h.name], 60);
            remove_cgroup(&Path::new("/sys/fs/cgroup").join(&h.name));
        }
        let _ = docker(&["network", "rm", &self.network], 30);
        let _ = docker(&["rmi", "-f", &self.image], 60);
    }
}

/// The nested daemons' `--cgroup-parent /NAME`: remove what they leave (empty dirs only).
fn remove_cgroup(dir: &Path) {
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_cgroup(&e.path());
            }
        }
    }
    let _ = std::fs::remove_dir(dir);
}

impl Fleet {
    fn exec(&self, host: &Host, script: &str) -> Outcome {
        docker(&["exec", &host.name, "sh", "-c", script], 120)
    }

    fn exec_as(&self, host: &Host, user: &str, args: &[&str]) -> Outcome {
        let home = format!("HOME=/home/{user}");
        let mut all = vec!["exec", "-u", user, "-e", home.as_str(), &host.name];
        all.extend_from_slice(args);
        docker(&all, 120)
    }

    /// `ansible-playbook` of the role's own converge playbook with the test's vars and
    /// inventory.
    fn play(&self, extra: &[&str], archive_dir: &Path) -> Outcome {
        self.play_with("converge.yml", "actsim.lock", extra, archive_dir)
    }

    /// `ansible-playbook` of `ansible/roles/actsim/tests/PLAYBOOK` with the lock `lock`
    /// (in the work dir).
    fn play_with(&self, playbook: &str, lock: &str, extra: &[&str], archive_dir: &Path) -> Outcome {
        let w = self.work.path();
        let vars = serde_json::json!({
            "actsim_binary": env!("CARGO_BIN_EXE_actsim"),
            "actsim_lock": w.join(lock),
            "actsim_act_archive_dir": archive_dir,
        });
        std::fs::write(w.join("vars.json"), vars.to_string()).unwrap();
        let path = format!(
            "{}:{}",
            self.venv.join("bin").display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let playbook = crate::support::fixtures::repo_root()
            .join("ansible/roles/actsim/tests")
            .join(playbook);
        Cmd::new(self.venv.join("bin/ansible-playbook"))
            .arg("-i")
            .arg(w.join("inventory.ini"))
            .arg(&playbook)
            .arg("-e")
            .arg(format!("@{}", w.join("vars.json").display()))
            .args(extra)
            .env("ANSIBLE_CONFIG", w.join("ansible.cfg"))
            .env("ANSIBLE_LOCAL_TEMP", w.join("ansible-tmp"))
            .env("ANSIBLE_HOME", w.join("ansible-home"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("PATH", path)
            .current_dir(w)
            .timeout(Duration::from_secs(600))
            .run()
    }

    /// `inode mtime sha256` of files on a host (`-` when absent).
    fn stamp(&self, host: &Host, paths: &[&str]) -> String {
        let mut script = String::new();
        for p in paths {
            script.push_str(&format!(
                "if [ -e {p} ]; then echo \"$(stat -c '%i %Y' {p}) $(sha256sum < {p} | cut -d' ' -f1)\"; else echo -; fi;"
            ));
        }
        let out = self.exec(host, &script);
        out.assert_success();
        out.stdout
    }
}

fn h1_of(fleet: &Fleet) -> &Host {
    &fleet.hosts[0]
}

/// `host -> (changed, failed)` from the PLAY RECAP.
fn recap(out: &Outcome) -> BTreeMap<String, (u32, u32)> {
    let text = out.stdout.split("PLAY RECAP").last().unwrap_or("");
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some((host, counts)) = line.split_once(" : ") else {
            continue;
        };
        let get = |k: &str| {
            counts
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                .and_then(|v| v.parse().ok())
                .unwrap_or(u32::MAX)
        };
        m.insert(host.trim().to_string(), (get("changed"), get("failed")));
    }
    m
}

#[track_caller]
fn assert_recap(out: &Outcome, host: &str, changed: Option<u32>, failed: u32) {
    let r = recap(out);
    let Some((c, f)) = r.get(host) else {
        panic!("{host} not in the PLAY RECAP\n{out}");
    };
    assert_eq!(*f, failed, "failed= of {host}\n{out}");
    match changed {
        Some(n) => assert_eq!(*c, n, "changed= of {host}\n{out}"),
        None => assert!(*c > 0, "{host} should have changed\n{out}"),
    }
}

fn start(fleet: &mut Fleet, short: &str, gid: u32, users: Vec<&'static str>) {
    let network = fleet.network.clone();
    start_on(fleet, &network, short, gid, users);
}

/// Start a host on `network` (`none`: only loopback).
fn start_on(fleet: &mut Fleet, network: &str, short: &str, gid: u32, users: Vec<&'static str>) {
    let name = format!("{}-{short}", fleet.network);
    let mut script =
        format!("set -e; groupmod -g {gid} docker 2>/dev/null || groupadd -g {gid} docker;");
    for u in &users {
        script.push_str(&format!("useradd -m -s /bin/sh {u};"));
    }
    script.push_str(&format!(
        "dockerd --storage-driver vfs --iptables=false --ip-masq=false --bridge=none \
         --cgroup-parent /{name} --group docker >/var/log/dockerd.log 2>&1 & exec sleep infinity"
    ));
    let out = docker(
        &[
            "run",
            "-d",
            "--init",
            "--name",
            &name,
            "--hostname",
            short,
            "--network",
            network,
            "--cap-add",
            "ALL",
            "--cap-drop",
            "SYS_RESOURCE",
            "--security-opt",
            "seccomp=unconfined",
            "--security-opt",
            "apparmor=unconfined",
            "-v",
            "/sys/fs/cgroup:/sys/fs/cgroup:rw",
            "--tmpfs",
            "/var/lib/docker:exec",
            &fleet.image,
            "sh",
            "-c",
            &script,
        ],
        60,
    );
    fleet.hosts.push(Host { name, gid, users });
    out.assert_success();
}

fn wait_for_daemon(fleet: &Fleet, host: &Host) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let out = fleet.exec(host, "docker version --format '{{.Server.Version}}'");
        if out.code == Some(0) {
            return;
        }
        if Instant::now() > deadline {
            let log = fleet.exec(host, "cat /var/log/dockerd.log");
            panic!(
                "the dockerd of {} did not answer within 90 s\n{out}\n--- dockerd.log ---\n{}",
                host.name, log.stdout
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// The cached root filesystem and ansible virtualenv, or skip (fail under CI).
fn fleet_fixtures() -> Option<(PathBuf, PathBuf)> {
    let cache = cache_dir();
    let rootfs = cache.join("fleet-rootfs.tar");
    let venv = cache.join("ansible-venv");
    if !rootfs.is_file() || !venv.join("bin/ansible-playbook").is_file() {
        crate::support::fixtures::skip(&format!(
            "the fleet fixtures are missing in {} (run scripts/fixtures.sh)",
            cache.display()
        ));
        return None;
    }
    Some((rootfs, venv))
}

/// An empty fleet: its `--internal` network and the imported host image.
fn new_fleet(rootfs: &Path, venv: PathBuf) -> Fleet {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let fleet = Fleet {
        network: format!("actsim-fleet-{}-{n}", std::process::id()),
        image: format!("actsim-test/fleet-host:{}-{n}", std::process::id()),
        hosts: Vec::new(),
        work: temp::dir(),
        venv,
    };
    docker(&["network", "create", "--internal", &fleet.network], 30).assert_success();
    docker(
        &["import", &rootfs.display().to_string(), &fleet.image],
        180,
    )
    .assert_success();
    fleet
}

#[test]
fn fleet_role_sets_up_three_docker_hosts_at_once() {
    if !crate::support::fixtures::require_daemon() {
        return;
    }
    let Some((archive, archive_sha)) = mirror::release_archive() else {
        return;
    };
    let Some((rootfs, venv)) = fleet_fixtures() else {
        return;
    };
    let started = Instant::now();
    let mut fleet = new_fleet(&rootfs, venv);
    start(&mut fleet, "h1", 2345, vec!["dev1", "dev2"]);
    start(&mut fleet, "h2", 2346, vec!["ops1"]);
    start(&mut fleet, "h3", 2347, vec!["ci1", "ci2"]);
    for h in &fleet.hosts {
        wait_for_daemon(&fleet, h);
    }

    // The controller's side: the release archives, their checksums.txt, a lock.
    let w = fleet.work.path().to_path_buf();
    let archives = w.join("archives");
    std::fs::create_dir_all(&archives).unwrap();
    let asset = mirror::host_asset();
    std::fs::write(archives.join(&asset), archive).unwrap();
    std::fs::write(
        archives.join(mirror::other_asset().1),
        &mirror::other_archive().0,
    )
    .unwrap();
    std::fs::write(
        archives.join("checksums.txt"),
        mirror::checksums_text(archive_sha),
    )
    .unwrap();
    // The fleet's lock (this platform), and an update that adds the other platform.
    Cmd::actsim()
        .args(["lock", "-o"])
        .arg(w.join("actsim.lock"))
        .arg("--act-archive")
        .arg(archives.join(&asset))
        .run()
        .assert_success()
        .assert_stderr_contains("1 platform)");
    Cmd::actsim()
        .args(["lock", "-o"])
        .arg(w.join("actsim-update.lock"))
        .arg("--act-archive")
        .arg(archives.join(&asset))
        .arg(archives.join(mirror::other_asset().1))
        .run()
        .assert_success();
    let mut inventory = String::from("[act_hosts]\n");
    for h in &fleet.hosts {
        let users: Vec<String> = h.users.iter().map(|u| format!("\"{u}\"")).collect();
        inventory.push_str(&format!(
            "{} actsim_users='[{}]'\n",
            h.name,
            users.join(", ")
        ));
    }
    inventory.push_str(
        "\n[act_hosts:vars]\nansible_connection=community.docker.docker\nansible_user=root\nansible_python_interpreter=/usr/bin/python3\n",
    );
    std::fs::write(w.join("inventory.ini"), inventory).unwrap();
    std::fs::write(
        w.join("ansible.cfg"),
        "[defaults]\nforks = 3\nretry_files_enabled = False\ninterpreter_python = /usr/bin/python3\nlocalhost_warning = False\n",
    )
    .unwrap();

    // A string where a list belongs (an easy INI slip) fails at once, naming the fix.
    let slip = fleet.play(
        &["-e", "actsim_users=flci", "--limit", &fleet.hosts[0].name],
        &archives,
    );
    assert_ne!(slip.code, Some(0), "{slip}");
    assert!(
        slip.stdout
            .contains("actsim_users must be a list of user names, got the string")
            && slip.stdout.contains("actsim_users='[\\\"flci\\\"]'"),
        "{slip}"
    );

    // h1's bin dir has its own group: the role must leave it so.
    fleet
        .exec(
            h1_of(&fleet),
            "chgrp staff /usr/local/bin && chmod 0755 /usr/local/bin",
        )
        .assert_success();

    // Converge: every host changes; verify.yml: each user's .env has the host's socket gid
    // and each user's doctor passes as them.
    eprintln!("fleet: 3 hosts up after {:?}", started.elapsed());
    let play1 = fleet.play(&[], &archives);
    eprintln!("fleet: converge took {:?}", play1.elapsed);
    play1.assert_success();
    for h in &fleet.hosts {
        assert_recap(&play1, &h.name, None, 0);
    }
    let verify = fleet.play_with("verify.yml", "actsim.lock", &[], &archives);
    verify.assert_success();
    for h in &fleet.hosts {
        assert_recap(&verify, &h.name, Some(0), 0);
    }
    let (h1, h2, h3) = (&fleet.hosts[0], &fleet.hosts[1], &fleet.hosts[2]);
    let doctor = fleet.exec_as(
        h1,
        h1.users[0],
        &[
            "/usr/local/bin/actsim",
            "doctor",
            "--format",
            "json",
            "--timeout",
            "60",
        ],
    );
    doctor.assert_success();
    assert!(
        doctor
            .check_text("container.socket")
            .contains(&format!("extra group {}", h1.gid)),
        "{doctor}"
    );
    // The bin dir is created only when missing, never re-owned or re-moded.
    assert_eq!(
        fleet
            .exec(h1, "stat -c '%U:%G %a' /usr/local/bin")
            .stdout
            .trim(),
        "root:staff 755",
        "the role changed /usr/local/bin"
    );

    // Idempotence: nothing changes, nothing is copied or extracted again.
    let watched = [
        "/usr/local/bin/act",
        "/usr/local/bin/actsim",
        "/etc/actsim/actsim.lock",
    ];
    let archive_path = format!("/var/cache/actsim/archives/{asset}");
    let mut paths: Vec<&str> = watched.to_vec();
    paths.push(&archive_path);
    let before: Vec<String> = fleet.hosts.iter().map(|h| fleet.stamp(h, &paths)).collect();
    let play2 = fleet.play(&[], &archives);
    eprintln!("fleet: idempotence took {:?}", play2.elapsed);
    play2.assert_success();
    for (h, was) in fleet.hosts.iter().zip(&before) {
        assert_recap(&play2, &h.name, Some(0), 0);
        assert_eq!(&fleet.stamp(h, &paths), was, "{}\n{play2}", h.name);
    }

    // Check mode with a lock update: the new lock is staged on each host and previewed
    // with --dry-run (h2's missing actrc shows as a diff); nothing is written, the staging
    // directories go.
    let actrc = format!("/home/{}/.config/act/actrc", h2.users[0]);
    fleet.exec(h2, &format!("rm {actrc}")).assert_success();
    let check = fleet.play_with(
        "converge.yml",
        "actsim-update.lock",
        &["--check", "--diff"],
        &archives,
    );
    check.assert_success();
    for h in &fleet.hosts {
        assert_recap(&check, &h.name, None, 0);
    }
    let preview = check
        .stdout
        .split("Preview setup with the staged actsim and lock")
        .nth(1)
        .unwrap_or("");
    assert!(
        preview.contains("+-P ubuntu-latest=") && preview.contains(&h2.name),
        "{check}"
    );
    assert!(
        check.stdout.contains("+[platforms.\"linux/"),
        "the lock's diff\n{check}"
    );
    for (h, was) in fleet.hosts.iter().zip(&before) {
        assert_eq!(&fleet.stamp(h, &paths), was, "{}\n{check}", h.name);
        let tmp = fleet.exec(h, "ls /tmp");
        assert!(!tmp.stdout.contains("actsim-preview"), "{}: {tmp}", h.name);
    }
    assert_eq!(fleet.stamp(h2, &[&actrc]).trim(), "-", "{check}");

    // A user's edited compose file on h1 is kept and said (a warning naming host and user, not
    // changed); h3's dockerd is stopped: each of its users fails on its own line with the
    // fix, nothing is half applied, and the others finish.
    let env1 = format!("/home/{}/.config/actsim/docker-compose.yml", h1.users[0]);
    fleet
        .exec(h1, &format!("echo '# mine' >> {env1}"))
        .assert_success();
    fleet
        .exec(
            h3,
            "kill $(cat /var/run/docker.pid); for i in $(seq 100); do [ -S /var/run/docker.sock ] || exit 0; sleep 0.1; done; exit 1",
        )
        .assert_success();
    let h3_actrc = format!("/home/{}/.config/act/actrc", h3.users[0]);
    fleet.exec(h3, &format!("rm {h3_actrc}")).assert_success();
    let down = fleet.play(&[], &archives);
    assert_ne!(down.code, Some(0), "{down}");
    assert_recap(&down, &h3.name, Some(0), 1);
    assert_recap(&down, &h1.name, Some(0), 0);
    assert_recap(&down, &h2.name, None, 0);
    let text = format!("{}{}", down.stdout, down.stderr);
    for u in &h3.users {
        let line = text
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "{}: actsim setup --user {u} failed (exit 1)",
                    h3.name
                ))
            })
            .unwrap_or_else(|| panic!("no failure line for {u}\n{down}"));
        assert!(
            line.contains("the daemon is not answering")
                && line.contains("fix: start the daemon")
                && line.contains("rerun actsim setup"),
            "{line}"
        );
    }
    // Ansible wraps warnings at its terminal width.
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(&format!(
            "[WARNING]: {}: {}: kept your edited {env1};",
            h1.name, h1.users[0]
        )),
        "{down}"
    );
    assert_eq!(
        fleet.stamp(h3, &[&h3_actrc]).trim(),
        "-",
        "half applied\n{down}"
    );
    fleet
        .exec(h1, &format!("sed -i '$d' {env1}"))
        .assert_success();

    // Output that is not JSON (a usage error here) is reported with its own words.
    let bad = fleet.play(
        &[
            "--limit",
            &h2.name,
            "-e",
            r#"{"actsim_setup_args": ["--no-such-flag"]}"#,
        ],
        &archives,
    );
    assert_recap(&bad, &h2.name, Some(0), 1);
    let text = format!("{}{}", bad.stdout, bad.stderr);
    assert!(
        text.contains(&format!(
            "{}: actsim setup --user {} failed (exit 2): unexpected argument '--no-such-flag'",
            h2.name, h2.users[0]
        )),
        "{bad}"
    );

    // A tampered archive on the controller is refused there: nothing reaches h1.
    fleet
        .exec(
            h1,
            "printf '#!/bin/sh\\necho act version 0.0.1\\n' > /usr/local/bin/act",
        )
        .assert_success();
    let act_before = fleet.stamp(h1, &["/usr/local/bin/act", &archive_path]);
    let tampered = w.join("tampered");
    std::fs::create_dir_all(&tampered).unwrap();
    let mut bad = archive.clone();
    let mid = bad.len() / 2;
    for b in &mut bad[mid..mid + 16] {
        *b ^= 0x5a;
    }
    std::fs::write(tampered.join(&asset), &bad).unwrap();
    let refused = fleet.play(&["--limit", &h1.name], &tampered);
    assert_ne!(refused.code, Some(0), "{refused}");
    assert_recap(&refused, &h1.name, Some(0), 1);
    assert!(
        refused.stdout.contains("checksum mismatch")
            && refused.stdout.contains("on the controller")
            && refused.stdout.contains("nothing was copied"),
        "{refused}"
    );
    assert_eq!(
        fleet.stamp(h1, &["/usr/local/bin/act", &archive_path]),
        act_before,
        "{refused}"
    );

    // state: absent on h1 and h2 (h3's daemon is down): every user's files go; a second
    // run changes nothing.
    let limit = format!("{},{}", h1.name, h2.name);
    let absent = fleet.play(&["--limit", &limit, "-e", "actsim_state=absent"], &archives);
    absent.assert_success();
    assert_recap(&absent, &h1.name, None, 0);
    assert_recap(&absent, &h2.name, None, 0);
    let gone = fleet.play_with(
        "verify.yml",
        "actsim.lock",
        &["--limit", &limit, "-e", "actsim_state=absent"],
        &archives,
    );
    gone.assert_success();
    // Again: uninstall is idempotent, so the play changes nothing and fails nothing.
    let again = fleet.play(&["--limit", &limit, "-e", "actsim_state=absent"], &archives);
    again.assert_success();
    for h in [h1, h2] {
        assert_recap(&again, &h.name, Some(0), 0);
    }
}

/// A host without a network (only loopback): act's cache server cannot bind, `act.run`
/// names that cause and the fix, and setup's `--act-arg=--no-cache-server` makes the same
/// real job pass. The host has no compose tool either: setup warns and exits 0.
#[test]
fn fleet_host_without_a_network_gets_the_cache_server_fix() {
    if !crate::support::fixtures::require_daemon() {
        return;
    }
    let Some((archive, archive_sha)) = mirror::release_archive() else {
        return;
    };
    let Some(platform) = crate::support::images::busybox_platform_image() else {
        return;
    };
    let Some((rootfs, venv)) = fleet_fixtures() else {
        return;
    };
    let mut fleet = new_fleet(&rootfs, venv);
    start_on(&mut fleet, "none", "solo", 2400, vec![]);
    let host = &fleet.hosts[0];
    wait_for_daemon(&fleet, host);
    // The platform image into the host's own daemon, the archive and actsim onto the host.
    let saved = std::process::Command::new("docker")
        .args(["save", &platform])
        .output()
        .expect("docker save");
    assert!(saved.status.success(), "docker save {platform}");
    Cmd::new("docker")
        .args(["exec", "-i", &host.name, "docker", "load"])
        .stdin_bytes(saved.stdout)
        .timeout(Duration::from_secs(120))
        .run()
        .assert_success();
    let local = fleet.work.path().join(mirror::host_asset());
    std::fs::write(&local, archive).unwrap();
    for (from, to) in [
        (
            PathBuf::from(env!("CARGO_BIN_EXE_actsim")),
            "/usr/local/bin/actsim".to_string(),
        ),
        (local, format!("/tmp/{}", mirror::host_asset())),
    ] {
        docker(
            &[
                "cp",
                &from.display().to_string(),
                &format!("{}:{to}", host.name),
            ],
            120,
        )
        .assert_success();
    }
    let setup = |extra: &str| {
        fleet.exec(
            host,
            &format!(
                "actsim setup --yes --format json --act-archive /tmp/{} --act-sha256 {archive_sha} --platform-image {platform} {extra}",
                mirror::host_asset()
            ),
        )
    };
    let deep = || fleet.exec(host, "actsim doctor --deep --format json --timeout 120");
    let out = setup("");
    out.assert_success();
    assert_eq!(out.json()["ok"], true, "{out}");
    assert_eq!(out.status("compose.config"), "warn", "{out}");
    let out = deep();
    out.assert_code(exit::FAILED);
    assert_eq!(out.status("act.run"), "fail", "{out}");
    let text = out.check_text("act.run");
    assert!(
        text.contains("cache server") && text.contains("lookup <nil>"),
        "{out}"
    );
    assert!(
        out.fix_text("act.run")
            .contains("--act-arg=--no-cache-server"),
        "{out}"
    );

    let out = setup("--act-arg=--no-cache-server");
    out.assert_success();
    let actrc = out.json()["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == "actrc"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(actrc["changed"], true, "{out}");
    assert!(
        actrc["diff"]
            .as_str()
            .unwrap_or("")
            .contains("+--no-cache-server"),
        "{out}"
    );
    let out = deep();
    out.assert_success();
    assert_eq!(out.status("act.run"), "pass", "{out}");
}
