//! Integration tests of `actsim setup` part 2 (issue 4): the steps docker, act, group,
//! image, compose, env, actrc and the final check, end to end.
//!
//! Real parts only: the real daemon, a loopback mirror serving the real act 0.2.89, real
//! temporary users and groups behind a socket proxy, the real docker-compose, a real act
//! job on a locally built busybox image, and install.sh from a clean `git clone`. Every
//! run points HOME, XDG_CONFIG_HOME and XDG_STATE_HOME into temp dirs and passes
//! `--bin-dir`/`--config-dir`, so the machine's own configuration is never touched.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::support::fixtures::{self, DOCKER_SOCK, require_daemon, skip, socket_gid};
use crate::support::images::busybox_platform_image;
use crate::support::mirror::{Mirror, VERSION};
use crate::support::proxy::SocketProxy;
use crate::support::temp::{self, TempDir};
use crate::support::users::{TempGroup, TempUser, require_root};
use crate::support::{Cmd, Outcome, actsim_for_others};

/// Directories every run gets on PATH after the bin dir (act is in none of them).
const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Setup's step ids, in order.
const STEP_IDS: [&str; 7] = ["docker", "act", "group", "image", "compose", "env", "actrc"];

/// The three labels actrc maps.
const LABELS: [&str; 3] = ["ubuntu-latest", "ubuntu-24.04", "ubuntu-22.04"];

/// The simulator image setup builds.
fn simulator_image() -> String {
    format!("actsim/act:{VERSION}")
}

/// A user's world in temp dirs: HOME (with the XDG dirs under it), a bin dir, the busybox
/// platform image and a loopback mirror. Runs as the current user (root here).
struct World {
    mirror: Mirror,
    root: TempDir,
    image: String,
}

impl World {
    /// `None` (after printing why) when the daemon or a fixture is missing outside CI.
    fn new() -> Option<World> {
        if !require_daemon() {
            return None;
        }
        let image = busybox_platform_image()?;
        let mirror = Mirror::start()?;
        let root = temp::dir();
        std::fs::create_dir_all(root.path().join("home")).unwrap();
        Some(World {
            mirror,
            root,
            image,
        })
    }

    fn home(&self) -> PathBuf {
        self.root.path().join("home")
    }

    fn bin(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    /// `$XDG_CONFIG_HOME/actsim`, also passed as `--config-dir`.
    fn config(&self) -> PathBuf {
        self.home().join(".config/actsim")
    }

    fn compose(&self) -> PathBuf {
        self.config().join("docker-compose.yml")
    }

    fn env_file(&self) -> PathBuf {
        self.config().join(".env")
    }

    /// act's config: `$XDG_CONFIG_HOME/act/actrc`.
    fn actrc(&self) -> PathBuf {
        self.home().join(".config/act/actrc")
    }

    /// `$XDG_STATE_HOME/actsim`.
    fn state(&self) -> PathBuf {
        self.home().join(".local/state/actsim")
    }

    fn receipt(&self) -> Value {
        read_json(&self.state().join("receipt.json"))
    }

    /// HOME, the XDG dirs and PATH (bin dir first) of this world.
    fn within(&self, cmd: Cmd) -> Cmd {
        let h = self.home();
        cmd.env("HOME", &h)
            .env("XDG_CONFIG_HOME", h.join(".config"))
            .env("XDG_STATE_HOME", h.join(".local/state"))
            .env("PATH", format!("{}:{SYSTEM_PATH}", self.bin().display()))
    }

    /// `actsim setup --yes` from the mirror with the busybox platform image (human output;
    /// add `--format json` where the JSON is read).
    fn setup(&self) -> Cmd {
        self.within(
            Cmd::actsim()
                .args(["setup", "--yes", "--timeout", "120", "--act-base-url"])
                .arg(self.mirror.base_url())
                .args(["--platform-image", &self.image])
                .arg("--bin-dir")
                .arg(self.bin())
                .arg("--config-dir")
                .arg(self.config())
                .timeout(Duration::from_secs(300)),
        )
    }

    /// `actsim setup --yes --format json`.
    fn setup_json(&self) -> Cmd {
        self.setup().args(["--format", "json"])
    }

    /// `actsim doctor --format json` on this world.
    fn doctor(&self, timeout_secs: u64) -> Cmd {
        self.within(
            Cmd::actsim()
                .args(["doctor", "--format", "json", "--timeout"])
                .arg(timeout_secs.to_string())
                .arg("--bin-dir")
                .arg(self.bin())
                .arg("--config-dir")
                .arg(self.config())
                .timeout(Duration::from_secs(timeout_secs + 60)),
        )
    }

    /// A fresh setup without the final check, which must succeed.
    fn fresh_setup(&self) -> Outcome {
        let out = self.setup_json().arg("--no-check").run();
        out.assert_success();
        assert_eq!(out.json()["ok"], true, "{out}");
        out
    }
}

fn read_json(path: &Path) -> Value {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn sha256_file(path: &Path) -> String {
    actsim::system::files::sha256_hex(&read(path))
}

/// `(id, status)` of every step in the JSON report, in order.
fn steps(out: &Outcome) -> Vec<(String, String)> {
    out.json()["steps"]
        .as_array()
        .unwrap_or_else(|| panic!("no steps array\n{out}"))
        .iter()
        .map(|s| {
            (
                s["id"].as_str().unwrap_or("").to_string(),
                s["status"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

/// The step with this id.
fn step<'a>(out: &'a Outcome, id: &str) -> &'a Value {
    out.json()["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
        .unwrap_or_else(|| panic!("no step {id:?}\n{out}"))
}

/// Every step id is reported once, in order, and each status is one of those allowed.
fn assert_steps(out: &Outcome, allowed: &[(&str, &[&str])]) {
    let got = steps(out);
    let ids: Vec<&str> = got.iter().map(|(i, _)| i.as_str()).collect();
    assert_eq!(ids, STEP_IDS, "step ids and their order\n{out}");
    for (id, statuses) in allowed {
        let status = step(out, id)["status"].as_str().unwrap_or("");
        assert!(
            statuses.contains(&status),
            "step {id} is {status:?}, expected one of {statuses:?}\n{out}"
        );
    }
}

/// No doctor finding in the report failed.
fn assert_no_failed_check(out: &Outcome) {
    let failed: Vec<&Value> = out.json()["checks"]
        .as_array()
        .map(|a| a.iter().filter(|c| c["status"] == "fail").collect())
        .unwrap_or_default();
    assert!(failed.is_empty(), "failed checks: {failed:?}\n{out}");
}

/// `KEY=VALUE` lines of a `.env` file (comments and blanks skipped).
fn env_map(path: &Path) -> BTreeMap<String, String> {
    String::from_utf8_lossy(&read(path))
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.to_string()))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap_or_else(|e| panic!("stat {}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// Path, inode, mtime and hash of each file: equal before and after means not rewritten.
fn stamps(paths: &[PathBuf]) -> Vec<(PathBuf, u64, SystemTime, String)> {
    paths
        .iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(p)
                .unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
            (p.clone(), m.ino(), m.modified().unwrap(), sha256_file(p))
        })
        .collect()
}

/// Every entry under `dir` (recursively) with mode, mtime and content hash, sorted.
fn tree(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return vec!["<absent>".into()];
    };
    for e in rd {
        let p = e.unwrap().path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        let what = if m.is_symlink() {
            format!("-> {}", std::fs::read_link(&p).unwrap().display())
        } else if m.is_dir() {
            format!("[{}]", tree(&p).join(", "))
        } else {
            sha256_file(&p)
        };
        out.push(format!(
            "{} {:o} {:?} {what}",
            p.display(),
            m.permissions().mode(),
            m.modified().unwrap()
        ));
    }
    out.sort();
    out
}

/// Members of a group as the database lists them (`getent group NAME`).
fn group_members(name: &str) -> Vec<String> {
    let out = Cmd::new("getent").args(["group", name]).run();
    out.assert_success();
    out.stdout
        .trim()
        .rsplit(':')
        .next()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// `(uid, gid)` owning a path (not following a link).
fn owner(path: &Path) -> (u32, u32) {
    let m =
        std::fs::symlink_metadata(path).unwrap_or_else(|e| panic!("stat {}: {e}", path.display()));
    (m.uid(), m.gid())
}

// ---------------------------------------------------------------------------------------
// A fresh machine, and a rerun
// ---------------------------------------------------------------------------------------

#[test]
fn setup_config_fresh_setup_writes_everything_and_doctor_passes() {
    let Some(w) = World::new() else { return };
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
    assert_eq!(out.check_ids().len(), 11, "{out}");
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
                .any(|l| l.trim() == format!("-P {label}={}", w.image)),
            "actrc lacks -P {label}={}:\n{actrc}",
            w.image
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
    let act_sha = sha256_file(&w.bin().join("act"));
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
    assert_eq!(doc.check_ids().len(), 11, "{doc}");
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
    doc.assert_check_mentions("act.docker", &w.image)
        .assert_check_mentions("compose.config", &w.compose().display().to_string());
}

#[test]
fn setup_config_without_docker_stops_first_with_the_install_command() {
    let Some(w) = World::new() else { return };
    // No docker CLI on PATH (an empty dir), no socket where the endpoint points, so no
    // daemon either: setup stops before changing anything.
    let empty = temp::dir();
    let absent = w.root.path().join("no-such-docker.sock");
    let out = w
        .setup_json()
        .env("PATH", empty.path())
        .env("DOCKER_HOST", format!("unix://{}", absent.display()))
        .run();
    out.assert_code(1)
        .assert_stderr_contains("Docker is not installed")
        .assert_stderr_contains("hint: install Docker");
    assert_eq!(step(&out, "docker")["status"], "failed", "{out}");
    assert!(w.mirror.requests().is_empty(), "nothing may be downloaded");
    assert!(!w.bin().join("act").exists());
    assert!(!w.config().exists());
}

#[test]
fn setup_config_with_the_daemon_down_does_what_needs_no_daemon_and_the_check_fails() {
    let Some(w) = World::new() else { return };
    // The docker CLI is installed, but nothing listens where the endpoint points.
    let absent = w.root.path().join("stopped-docker.sock");
    let out = w
        .setup_json()
        .env("DOCKER_HOST", format!("unix://{}", absent.display()))
        .run();
    out.assert_code(1);
    assert_steps(
        &out,
        &[
            ("docker", &["failed"]),
            ("act", &["changed"]),
            ("group", &["skipped"]),
            ("image", &["skipped"]),
            ("compose", &["skipped"]),
            ("env", &["skipped"]),
            ("actrc", &["changed"]),
        ],
    );
    assert!(w.bin().join("act").exists(), "act needs no daemon\n{out}");
    assert!(w.actrc().exists(), "actrc needs no daemon\n{out}");
    assert!(
        !w.env_file().exists(),
        ".env needs the socket's group\n{out}"
    );
    out.assert_status("docker.socket", "fail")
        .assert_status("docker.daemon", "fail");
}

#[test]
fn setup_config_rerun_is_a_no_op() {
    let Some(w) = World::new() else { return };
    w.fresh_setup();
    let files = vec![
        w.compose(),
        w.env_file(),
        w.actrc(),
        w.bin().join("act"),
        w.state().join("receipt.json"),
    ];
    let before = stamps(&files);
    let config_before = tree(&w.config());
    let requests = w.mirror.requests().len();
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
        w.mirror.requests().len(),
        requests,
        "the rerun made a request: {:?}\n{out}",
        w.mirror.requests()
    );

    // Human output too: nothing to confirm, nothing changed.
    let human = w.setup().arg("--no-check").run();
    human
        .assert_success()
        .assert_stderr_contains("0 changed")
        .assert_stderr_lacks("warning");
    assert_eq!(stamps(&files), before, "{human}");
    assert_eq!(w.mirror.requests().len(), requests);
}

// ---------------------------------------------------------------------------------------
// Group membership, through a socket proxy owned by a temporary group
// ---------------------------------------------------------------------------------------

/// `actsim setup --yes --format json --user NAME` run by root against `proxy`, with the
/// world's bin dir, mirror and platform image and the config dir `config`.
fn setup_for(w: &World, user: &TempUser, proxy: &SocketProxy, config: &Path) -> Cmd {
    Cmd::actsim()
        .args(["setup", "--yes", "--format", "json", "--timeout", "120"])
        .args(["--user", &user.name, "--act-base-url"])
        .arg(w.mirror.base_url())
        .args(["--platform-image", &w.image])
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
fn setup_config_root_adds_another_user_to_the_sockets_group_and_their_doctor_passes() {
    if !require_root() {
        return;
    }
    let Some(w) = World::new() else { return };
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
fn setup_config_joining_without_root_or_sudo_exits_5_with_the_exact_command() {
    if !require_root() {
        return;
    }
    let Some(w) = World::new() else { return };
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
        .arg(w.mirror.base_url())
        .args(["--platform-image", &w.image])
        .env("HOME", &user.home)
        .env("DOCKER_HOST", proxy.host())
        .env("PATH", SYSTEM_PATH)
        .stdin_null()
        .timeout(Duration::from_secs(300))
        .run();
    out.assert_code(5);
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
fn setup_config_final_check_sees_a_group_this_login_lacks_through_sg() {
    if !require_root() {
        return;
    }
    let Some(w) = World::new() else { return };
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
        .arg(w.mirror.base_url())
        .args(["--platform-image", &w.image])
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
fn setup_config_final_check_for_a_user_just_added_uses_the_group_database() {
    if !require_root() {
        return;
    }
    let Some(w) = World::new() else { return };
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
    let Some(w2) = World::new() else { return };
    let other = TempGroup::new();
    let outsider = TempUser::new();
    let config2 = w2.root.path().join("ucfg/actsim");
    let out = setup_for(&w2, &outsider, &proxy, &config2)
        .args(["--docker-group", &other.name])
        .run();
    out.assert_code(1);
    assert_eq!(step(&out, "group")["status"], "changed", "{out}");
    assert!(group_members(&other.name).contains(&outsider.name), "{out}");
    out.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", &outsider.name);
    drop(outsider);
}

#[test]
fn setup_config_socket_group_root_is_refused_with_the_alternatives() {
    if !require_root() {
        return;
    }
    let Some(w) = World::new() else { return };
    let user = TempUser::new();
    let proxy = SocketProxy::to_docker(0);
    let config = w.root.path().join("ucfg/actsim");
    let root_members = group_members("root");

    let out = setup_for(&w, &user, &proxy, &config)
        .arg("--no-check")
        .run();
    out.assert_code(1);
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
        .args(["--act-base-url", &w.mirror.base_url()])
        .args(["--platform-image", &w.image])
        .arg("--bin-dir")
        .arg(w.bin())
        .arg("--config-dir")
        .arg(&config)
        .env("DOCKER_HOST", proxy.host())
        .timeout(Duration::from_secs(300))
        .run();
    human.assert_code(1).assert_stderr_contains("rootless");
    assert!(!human.stderr.contains("usermod -aG root"), "{human}");
    assert!(!group_members("root").contains(&user.name));
}

// ---------------------------------------------------------------------------------------
// Files: user edits, symlinks
// ---------------------------------------------------------------------------------------

#[test]
fn setup_config_user_edit_is_kept_and_ours_goes_beside_it() {
    let Some(w) = World::new() else { return };
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
    let receipt_now = read(&w.state().join("receipt.json"));
    let dry = w.setup().args(["--dry-run", "--no-check"]).run();
    dry.assert_success()
        .assert_stderr_contains("-# my own line, keep it")
        .assert_stderr_contains("nothing was changed");
    assert_eq!(tree(&w.config()), files_before, "{dry}");
    assert_eq!(read(&w.state().join("receipt.json")), receipt_now);
    assert_eq!(read(&w.compose()), edited);
}

#[test]
fn setup_config_user_edit_on_a_terminal_shows_the_diff_and_asks() {
    let Some(w) = World::new() else { return };
    w.fresh_setup();
    let ours = read(&w.compose());
    let mut edited = ours.clone();
    edited.extend_from_slice(b"# my terminal edit\n");
    let on_terminal = |answer_replace: &str| {
        std::fs::write(w.compose(), &edited).unwrap();
        let h = w.home();
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_actsim"));
        cmd.args([
            "setup",
            "--no-check",
            "--act-base-url",
            &w.mirror.base_url(),
        ])
        .args(["--platform-image", &w.image])
        .arg("--bin-dir")
        .arg(w.bin())
        .arg("--config-dir")
        .arg(w.config())
        .env_clear()
        .env("HOME", &h)
        .env("XDG_CONFIG_HOME", h.join(".config"))
        .env("XDG_STATE_HOME", h.join(".local/state"))
        .env("PATH", format!("{}:{SYSTEM_PATH}", w.bin().display()))
        .env("TERM", "xterm")
        .env("NO_COLOR", "1");
        let mut pty = crate::support::pty::Pty::spawn(cmd);
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
fn setup_config_symlink_at_a_destination_is_refused_and_not_followed() {
    let Some(w) = World::new() else { return };
    let elsewhere = temp::dir();
    let victim = elsewhere.path().join("victim");
    temp::write(&victim, "precious\n");
    temp::chmod(&victim, 0o644);
    let link = w.env_file();
    std::fs::create_dir_all(w.config()).unwrap();
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let unchanged = |out: &Outcome| {
        assert_eq!(read(&victim), b"precious\n", "the link was followed\n{out}");
        assert_eq!(mode(&victim), 0o644, "{out}");
        assert_eq!(std::fs::read_link(&link).unwrap(), victim, "{out}");
    };

    // The env step fails naming the path; the link and its target stay as they were.
    let out = w.setup_json().arg("--no-check").run();
    out.assert_code(1);
    assert_eq!(out.json()["ok"], false, "{out}");
    assert_steps(
        &out,
        &[
            ("env", &["failed"]),
            ("act", &["changed"]),
            ("compose", &["changed"]),
            ("actrc", &["changed"]),
        ],
    );
    let summary = step(&out, "env")["summary"].as_str().unwrap();
    assert!(
        summary.contains(&link.display().to_string()) && summary.contains("symbolic link"),
        "{out}"
    );
    unchanged(&out);
    assert!(
        w.receipt()["files"].get("env").is_none(),
        "{:#}",
        w.receipt()
    );

    // Human output names it on stderr; a rerun still refuses.
    let human = w.setup().arg("--no-check").run();
    human
        .assert_code(1)
        .assert_stderr_contains(&link.display().to_string())
        .assert_stderr_contains("symbolic link");
    unchanged(&human);

    // Once the link is gone setup completes; a link planted over the compose file later
    // is refused the same way.
    std::fs::remove_file(&link).unwrap();
    w.fresh_setup();
    std::fs::remove_file(w.compose()).unwrap();
    std::os::unix::fs::symlink(&victim, w.compose()).unwrap();
    let out = w.setup_json().arg("--no-check").run();
    out.assert_code(1);
    assert_eq!(step(&out, "compose")["status"], "failed", "{out}");
    assert!(
        step(&out, "compose")["summary"]
            .as_str()
            .unwrap()
            .contains(&w.compose().display().to_string()),
        "{out}"
    );
    assert_eq!(read(&victim), b"precious\n", "the link was followed\n{out}");
    assert_eq!(std::fs::read_link(w.compose()).unwrap(), victim);
}

// ---------------------------------------------------------------------------------------
// The generated files at work: compose, and a real act job
// ---------------------------------------------------------------------------------------

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

fn volume_exists(name: &str) -> bool {
    Cmd::new("docker")
        .args(["volume", "inspect", name])
        .timeout(Duration::from_secs(30))
        .run()
        .code
        == Some(0)
}

/// Removes the test project's network, and the cache volume when the test created it.
struct ComposeCleanup {
    file: PathBuf,
    cwd: PathBuf,
    project: String,
    volume: Option<String>,
}

impl Drop for ComposeCleanup {
    fn drop(&mut self) {
        let _ = std::process::Command::new("docker-compose")
            .arg("-f")
            .arg(&self.file)
            .args(["down", "--remove-orphans"])
            .current_dir(&self.cwd)
            .env("PWD", &self.cwd)
            .env("COMPOSE_PROJECT_NAME", &self.project)
            .output();
        if let Some(v) = &self.volume {
            let _ = std::process::Command::new("docker")
                .args(["volume", "rm", v])
                .output();
        }
    }
}

#[test]
fn setup_config_generated_compose_runs_act_in_the_simulator_and_reaches_the_daemon() {
    let Some(w) = World::new() else { return };
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
    let me = nix::unistd::getuid().as_raw();
    let volume = format!("actsim-act-cache-{me}");
    let _cleanup = ComposeCleanup {
        file: w.compose(),
        cwd: work.path().to_path_buf(),
        project: project.clone(),
        volume: (!volume_exists(&volume)).then(|| volume.clone()),
    };

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

    let engine = fixtures::daemon_version().expect("the daemon's /version");
    let engine_version = engine["Version"].as_str().unwrap().to_string();
    let out = compose_v1(
        &w.compose(),
        work.path(),
        &project,
        &["run", "--rm", "actions-simulator", "--bug-report"],
        180,
    );
    out.assert_success();
    assert!(
        out.stdout
            .lines()
            .any(|l| l.contains("act version") && l.contains(VERSION)),
        "not the act setup installed in the image\n{out}"
    );
    assert!(
        out.stdout
            .lines()
            .any(|l| l.trim_start().starts_with("Engine version:") && l.contains(&engine_version)),
        "act in the simulator did not reach the daemon\n{out}"
    );
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

#[test]
fn setup_config_doctor_deep_runs_a_real_act_job_after_setup() {
    let Some(w) = World::new() else { return };
    w.fresh_setup();
    let out = w
        .doctor(150)
        .args(["--deep", "--platform-image", &w.image])
        .run();
    out.assert_status("act.run", "pass");
    assert_no_failed_check(&out);
    out.assert_success();
}

#[test]
fn setup_config_doctor_reports_drift_from_the_receipt() {
    let Some(w) = World::new() else { return };
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
    let act = w.bin().join("act");
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

    // Docker was reinstalled and the socket's group changed: the recorded DOCKER_GID is
    // stale. Simulated by recording another gid; container.socket fails with the fix.
    let path = w.state().join("receipt.json");
    let mut receipt = read_json(&path);
    receipt["docker"]["docker_gid"] = Value::from(socket_gid() + 4242);
    std::fs::write(&path, serde_json::to_vec_pretty(&receipt).unwrap()).unwrap();
    let out = w.doctor(60).args(["--probe-image", &probe]).run();
    out.assert_status("container.socket", "fail")
        .assert_check_mentions("container.socket", "actsim setup");
    out.assert_code(1);
}

// ---------------------------------------------------------------------------------------
// install.sh from a clean clone
// ---------------------------------------------------------------------------------------

#[test]
fn setup_config_install_sh_from_a_clean_clone_leaves_a_working_act() {
    let Some(w) = World::new() else { return };
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
        .args(["--act-base-url", &w.mirror.base_url()])
        .args(["--platform-image", &w.image, "--timeout", "120"])
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
    let act = Cmd::new(w.bin().join("act"))
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
