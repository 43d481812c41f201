//! Integration tests of `actsim doctor`.
//!
//! Every check id on the healthy machine (the real daemon, the real act 0.2.89, a busybox
//! platform image built locally), and under each fault the doctor issue lists, injected
//! through real Unix sockets, real temporary users and groups, and real files. Each test
//! asserts statuses, the summary and fix text, the JSON shape and the exit code.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::SYSTEM_PATH;
use crate::support::consts::check_ids;
use crate::support::exit;
use crate::support::images::busybox_platform_image;
use crate::support::proxy::SocketProxy;
use crate::support::sockets::{FakePath, FaultSocket};
use crate::support::temp::{self, BinDir, TempDir};
use crate::support::users::{TempGroup, TempUser, require_root};
use crate::support::{Cmd, Outcome, fixtures, require_daemon};

/// The `--timeout` of runs against the real daemon: generous, the machine is shared.
const TIMEOUT_SECS: u64 = 60;

/// A healthy machine for doctor runs: a bin dir holding the fixture act, an empty config
/// dir, and (written into each run's fresh HOME) an actrc mapping the ubuntu platforms to
/// a busybox image that exists locally.
struct Healthy {
    bin: BinDir,
    config: TempDir,
    image: String,
}

impl Healthy {
    /// `None` (after printing why) when the daemon or a fixture is missing outside CI.
    fn new() -> Option<Healthy> {
        if !require_daemon() {
            return None;
        }
        Some(Healthy {
            bin: BinDir::healthy()?,
            config: temp::dir(),
            image: busybox_platform_image()?,
        })
    }

    /// `actsim doctor --format FORMAT` with this machine's flags, PATH and actrc.
    fn doctor(&self, format: &str) -> Cmd {
        self.doctor_within(format, TIMEOUT_SECS)
    }

    /// The same with `--timeout SECS`.
    fn doctor_within(&self, format: &str, secs: u64) -> Cmd {
        doctor_cmd(format, self.bin.path(), self.config.path(), secs)
            .env(
                "PATH",
                format!("{}:{SYSTEM_PATH}", self.bin.path().display()),
            )
            .with_actrc(&self.image)
    }
}

/// `actsim doctor --format F --bin-dir B --config-dir C --timeout T`, with
/// `XDG_CONFIG_HOME` under the run's fresh HOME (so act's config is the test's, never the
/// machine's) and a process deadline well past the doctor's own.
fn doctor_cmd(format: &str, bin: &Path, config: &Path, timeout_secs: u64) -> Cmd {
    let cmd = Cmd::actsim()
        .args(["doctor", "--format", format, "--bin-dir"])
        .arg(bin)
        .arg("--config-dir")
        .arg(config)
        .args(["--timeout", &timeout_secs.to_string()])
        .timeout(Duration::from_secs(timeout_secs + 30));
    let xdg = cmd.home().join(".config");
    cmd.env("XDG_CONFIG_HOME", xdg)
}

trait DoctorCmd {
    /// Write `$HOME/.config/act/actrc` mapping the ubuntu platforms to `image`.
    fn with_actrc(self, image: &str) -> Self;
}

impl DoctorCmd for Cmd {
    fn with_actrc(self, image: &str) -> Cmd {
        let actrc = self.home().join(".config/act/actrc");
        temp::write(
            &actrc,
            &format!(
                "-P ubuntu-latest={image}\n-P ubuntu-24.04={image}\n-P ubuntu-22.04={image}\n"
            ),
        );
        self
    }
}

/// The JSON contract: `{"schema": 1, "ok", "checks": [{"id", "title", "status", "summary", "detail",
/// "fix", "duration_ms"}]}`, every id once and in order, every fail with a fix, `ok`
/// false exactly when something failed, exit code 1 exactly when something failed.
#[track_caller]
fn assert_contract(out: &Outcome) {
    let json = out.json();
    let obj = json.as_object().expect("the document is an object");
    let mut keys: Vec<&String> = obj.keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        ["checks", "ok", "schema"],
        "top-level keys must be schema, ok and checks\n{out}"
    );
    assert_eq!(json["schema"], 1, "{out}");
    let ok = json["ok"]
        .as_bool()
        .unwrap_or_else(|| panic!("ok is not a bool\n{out}"));
    let checks = json["checks"]
        .as_array()
        .unwrap_or_else(|| panic!("checks is not an array\n{out}"));
    assert_eq!(
        out.check_ids(),
        check_ids(),
        "check ids and their order\n{out}"
    );
    let mut failed = false;
    for c in checks {
        let id = c["id"].as_str().unwrap();
        for key in ["title", "summary", "detail"] {
            assert!(c[key].is_string(), "{id}.{key} must be a string\n{out}");
        }
        assert!(
            !c["title"].as_str().unwrap().is_empty() && !c["summary"].as_str().unwrap().is_empty(),
            "{id} needs a title and a summary\n{out}"
        );
        let status = c["status"].as_str().unwrap_or("");
        assert!(
            ["pass", "warn", "fail", "skip"].contains(&status),
            "{id}.status is {status:?}\n{out}"
        );
        let fix = c["fix"]
            .as_array()
            .unwrap_or_else(|| panic!("{id}.fix is not an array\n{out}"));
        assert!(
            fix.iter().all(Value::is_string),
            "{id}.fix must hold strings\n{out}"
        );
        assert!(
            c["duration_ms"].is_u64(),
            "{id}.duration_ms must be a whole number\n{out}"
        );
        if status == "fail" {
            failed = true;
            assert!(
                fix.iter().any(|l| !l.as_str().unwrap().trim().is_empty()),
                "{id} fails without a fix\n{out}"
            );
        }
        let keys: Vec<&String> = c.as_object().unwrap().keys().collect();
        assert_eq!(keys.len(), 7, "{id} has keys {keys:?}\n{out}");
    }
    assert_eq!(
        ok, !failed,
        "ok must be false exactly when a check failed\n{out}"
    );
    out.assert_code(if failed { 1 } else { 0 });
    assert!(
        out.stderr.is_empty() || !out.stderr.contains('{'),
        "JSON leaked to stderr\n{out}"
    );
}

/// No container of this doctor run (named `actsim-<kind>-<pid>-...`) is left behind.
#[track_caller]
fn assert_no_leftover_containers(out: &Outcome) {
    let ps = Cmd::new("docker")
        .args(["ps", "-a", "--format", "{{.Names}}"])
        .timeout(Duration::from_secs(30))
        .run();
    ps.assert_success();
    let marker = format!("-{}-", out.pid);
    let left: Vec<&str> = ps
        .stdout
        .lines()
        .filter(|n| n.starts_with("actsim-") && n.contains(&marker))
        .collect();
    assert!(
        left.is_empty(),
        "doctor left containers behind: {left:?}\n{out}"
    );
}

/// The real daemon's API version as (major, minor).
fn daemon_api() -> (u32, u32) {
    let v = fixtures::daemon_version().expect("the daemon's /version");
    let api = v["ApiVersion"].as_str().expect("ApiVersion").to_string();
    let (a, b) = api.split_once('.').expect("API version a.b");
    (a.parse().unwrap(), b.parse().unwrap())
}

// ---------------------------------------------------------------------------------------
// The healthy machine
// ---------------------------------------------------------------------------------------

#[test]
fn doctor_healthy_machine_reports_every_check() {
    let Some(m) = Healthy::new() else { return };
    let out = m.doctor("json").run();
    assert_contract(&out);
    out.assert_success();
    assert_eq!(out.json()["ok"], true, "{out}");
    for id in [
        "docker.cli",
        "docker.endpoint",
        "docker.socket",
        "container.run",
        "container.socket",
        "act.binary",
        "act.docker",
    ] {
        out.assert_status(id, "pass");
    }
    // This engine's API is 1.41: supported, but below 1.44 it is a warning.
    let api = daemon_api();
    let expected = if api < (1, 44) { "warn" } else { "pass" };
    out.assert_status("docker.daemon", expected)
        .assert_check_mentions("docker.daemon", &format!("{}.{}", api.0, api.1));
    // No compose file in the config dir; act.run only with --deep.
    out.assert_status("compose.config", "skip")
        .assert_status("act.run", "skip");
    out.assert_check_mentions("act.binary", "0.2.89")
        .assert_check_mentions("docker.endpoint", "/var/run/docker.sock")
        .assert_check_mentions("docker.socket", "/var/run/docker.sock");
    assert_no_leftover_containers(&out);
}

#[test]
fn doctor_human_output_is_on_stderr_only_one_line_per_check() {
    let Some(m) = Healthy::new() else { return };
    let json = m.doctor("json").run();
    assert_contract(&json);
    let out = m.doctor("human").run();
    out.assert_success().assert_stdout_empty();
    // One line per check: its mark (the status the JSON run found), then its id.
    for id in check_ids() {
        let mark = match json.status(id) {
            "pass" => "✓",
            "warn" => "!",
            "fail" => "✗",
            _ => "-",
        };
        let line = out
            .stderr
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_else(|| panic!("no line for {id}\n{out}"));
        assert!(
            line.starts_with(mark),
            "{id} must be marked {mark}: {line}\n{out}"
        );
    }
    // The fix of the API warning is printed under it; a summary line ends the report.
    if json.status("docker.daemon") == "warn" {
        let fix = json.check("docker.daemon")["fix"][0].as_str().unwrap();
        out.assert_stderr_contains(fix);
    }
    let last = out.stderr.lines().last().unwrap_or("");
    assert!(
        last.contains("passed") && last.contains("failed"),
        "summary line: {last}\n{out}"
    );
    // NO_COLOR and no terminal: no escape sequences.
    out.assert_stderr_lacks("\x1b[");
    assert_no_leftover_containers(&out);
}

#[test]
fn doctor_quiet_prints_only_problems_and_verbose_adds_details() {
    let Some(m) = Healthy::new() else { return };
    let quiet = m.doctor("human").arg("-q").run();
    quiet.assert_success().assert_stdout_empty();
    quiet.assert_stderr_lacks("container.run");
    quiet.assert_stderr_lacks("act.binary");
    if daemon_api() < (1, 44) {
        quiet.assert_stderr_contains("docker.daemon");
    }
    let verbose = m.doctor("human").arg("-v").run();
    verbose.assert_success().assert_stdout_empty();
    verbose.assert_stderr_contains("container.run");
    let normal = m.doctor("human").run();
    assert!(
        verbose.stderr.lines().count() > normal.stderr.lines().count(),
        "-v must add detail lines\n--- normal ---\n{normal}\n--- verbose ---\n{verbose}"
    );
}

#[test]
fn doctor_bad_flags_exit_2_with_nothing_on_stdout() {
    for args in [
        vec!["doctor", "--bogus"],
        vec!["doctor", "--timeout", "0"],
        vec!["doctor", "--timeout", "soon"],
        vec!["doctor", "--format", "xml"],
        vec!["doctor", "-q", "-v"],
    ] {
        let out = Cmd::actsim()
            .args(&args)
            .timeout(Duration::from_secs(30))
            .run();
        out.assert_code(exit::USAGE).assert_stdout_empty();
        let flag = args[1];
        out.assert_stderr_contains(flag.trim_start_matches('-'));
    }
}

#[test]
fn doctor_deep_runs_a_workflow_job_on_a_local_busybox_image() {
    let Some(m) = Healthy::new() else { return };
    let out = m
        .doctor_within("json", 120)
        .args(["--deep", "--platform-image", &m.image])
        .run();
    assert_contract(&out);
    out.assert_status("act.run", "pass")
        .assert_check_mentions("act.run", "reached the daemon through the mounted socket");
    assert_no_leftover_containers(&out);
}

#[test]
fn doctor_compose_file_is_validated_with_the_compose_tool() {
    let Some(m) = Healthy::new() else { return };
    temp::write(
        &m.config.path().join("docker-compose.yml"),
        "services:\n  act:\n    image: busybox\n    command: [\"true\"]\n",
    );
    let out = m.doctor("json").run();
    assert_contract(&out);
    // docker compose v2 passes; docker-compose v1 (this machine) warns that v1 is end of
    // life.
    out.assert_status_in("compose.config", &["pass", "warn"]);
    if out.status("compose.config") == "warn" {
        out.assert_check_mentions("compose.config", "v1");
    }

    temp::write(
        &m.config.path().join("docker-compose.yml"),
        "services:\n  act: [this, is, not, a, service]\n",
    );
    let out = m.doctor("json").run();
    assert_contract(&out);
    out.assert_status("compose.config", "fail")
        .assert_check_mentions("compose.config", "docker-compose.yml");
}

#[test]
fn doctor_compose_env_gives_the_container_ids_so_a_stale_docker_gid_fails() {
    let Some(m) = Healthy::new() else { return };
    use std::os::unix::fs::MetadataExt;
    let socket_gid = std::fs::metadata(fixtures::DOCKER_SOCK).unwrap().gid();
    let stale = if socket_gid == 4242 { 4243 } else { 4242 };
    let env = m.config.path().join(".env");

    temp::write(
        &env,
        &format!("HOST_UID=65534\nHOST_GID=65534\nDOCKER_GID={stale}\n"),
    );
    let out = m.doctor("json").run();
    assert_contract(&out);
    out.assert_status("container.socket", "fail")
        .assert_check_mentions("container.socket", "DOCKER_GID");

    temp::write(
        &env,
        &format!("HOST_UID=65534\nHOST_GID=65534\nDOCKER_GID={socket_gid}\n"),
    );
    let out = m.doctor("json").run();
    assert_contract(&out);
    out.assert_status("container.socket", "pass");
    assert_no_leftover_containers(&out);
}

// ---------------------------------------------------------------------------------------
// The daemon endpoint and socket
// ---------------------------------------------------------------------------------------

#[test]
fn doctor_absent_socket_names_the_path() {
    let Some(m) = Healthy::new() else { return };
    let absent = FakePath::absent();
    let out = m.doctor("json").env("DOCKER_HOST", absent.host()).run();
    assert_contract(&out);
    out.assert_code(exit::FAILED);
    let path = absent.path().display().to_string();
    out.assert_status("docker.endpoint", "pass")
        .assert_check_mentions("docker.endpoint", "DOCKER_HOST");
    out.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", &path);
    out.assert_status_in("docker.daemon", &["fail", "skip"])
        .assert_check_mentions("docker.daemon", &path);
    out.assert_status("container.run", "skip");
    out.assert_status("container.socket", "skip");
}

#[test]
fn doctor_path_that_is_not_a_socket_fails() {
    let Some(m) = Healthy::new() else { return };
    let file = FakePath::regular_file();
    let out = m.doctor("json").env("DOCKER_HOST", file.host()).run();
    assert_contract(&out);
    out.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", "not a socket")
        .assert_check_mentions("docker.socket", &file.path().display().to_string());
    out.assert_status("container.run", "skip");
}

#[test]
fn doctor_socket_that_never_answers_returns_within_the_deadline() {
    let Some(m) = Healthy::new() else { return };
    let silent = FaultSocket::silent();
    let timeout = 3;
    let out = m
        .doctor_within("json", timeout)
        .env("DOCKER_HOST", silent.host())
        .run();
    assert!(
        out.elapsed <= Duration::from_secs(timeout + 1),
        "doctor --timeout {timeout} took {:?}\n{out}",
        out.elapsed
    );
    assert!(
        silent.requests() > 0,
        "doctor never connected to the socket\n{out}"
    );
    assert_contract(&out);
    out.assert_status("docker.socket", "pass");
    out.assert_status("docker.daemon", "fail")
        .assert_check_mentions("docker.daemon", "not responding");
    out.assert_status("container.run", "skip");
}

#[test]
fn doctor_socket_that_never_answers_human_mode_also_keeps_the_deadline() {
    let Some(m) = Healthy::new() else { return };
    let silent = FaultSocket::silent();
    let out = m
        .doctor_within("human", 2)
        .env("DOCKER_HOST", silent.host())
        .run();
    assert!(
        out.elapsed <= Duration::from_secs(3),
        "took {:?}\n{out}",
        out.elapsed
    );
    out.assert_code(exit::FAILED).assert_stdout_empty();
    out.assert_stderr_contains("✗")
        .assert_stderr_contains("not responding");
}

#[test]
fn doctor_http_500_is_retried_then_fails() {
    let Some(m) = Healthy::new() else { return };
    let broken = FaultSocket::http_500();
    let timeout = 6;
    let out = m
        .doctor_within("json", timeout)
        .env("DOCKER_HOST", broken.host())
        .run();
    assert_contract(&out);
    out.assert_status("docker.daemon", "fail")
        .assert_check_mentions("docker.daemon", "500");
    assert!(
        broken.requests() >= 2,
        "a 5xx is transient: doctor must retry (saw {} request)\n{out}",
        broken.requests()
    );
    assert!(
        out.elapsed <= Duration::from_secs(timeout + 1),
        "{:?}\n{out}",
        out.elapsed
    );
    out.assert_status("container.run", "skip");
}

#[test]
fn doctor_old_api_1_24_fails_and_names_the_minimum() {
    let Some(m) = Healthy::new() else { return };
    let old = FaultSocket::old_daemon();
    let out = m.doctor("json").env("DOCKER_HOST", old.host()).run();
    assert_contract(&out);
    out.assert_status("docker.socket", "pass");
    out.assert_status("docker.daemon", "fail")
        .assert_check_mentions("docker.daemon", "1.24")
        .assert_check_mentions("docker.daemon", "1.41");
    assert!(!out.fix_text("docker.daemon").trim().is_empty(), "{out}");
}

#[test]
fn doctor_empty_docker_host_warns() {
    let Some(m) = Healthy::new() else { return };
    let out = m.doctor("json").env("DOCKER_HOST", "").run();
    assert_contract(&out);
    out.assert_status("docker.endpoint", "warn")
        .assert_check_mentions("docker.endpoint", "DOCKER_HOST")
        .assert_check_mentions("docker.endpoint", "empty");
    // docker itself falls back to the default socket, which works.
    out.assert_status("docker.socket", "pass");
    out.assert_status_in("docker.daemon", &["pass", "warn"]);
}

#[test]
fn doctor_docker_context_pointing_elsewhere_is_named() {
    let Some(m) = Healthy::new() else { return };
    let elsewhere = FakePath::absent();
    let name = format!("asim-ctx-{}", std::process::id());
    let cmd = m.doctor("json");
    let docker_dir = cmd.home().join(".docker");
    temp::write(
        &docker_dir.join("config.json"),
        &serde_json::json!({ "currentContext": name }).to_string(),
    );
    let meta = actsim::docker::endpoint::context_meta_path(&docker_dir, &name);
    temp::write(
        &meta,
        &serde_json::json!({
            "Name": name,
            "Metadata": {},
            "Endpoints": {"docker": {"Host": elsewhere.host(), "SkipTLSVerify": false}}
        })
        .to_string(),
    );
    // As root the context comes from root's own docker config: `$HOME` is never trusted
    // (a `sudo -E` may carry a user's), a root-only `$DOCKER_CONFIG` is.
    let out = cmd.env("DOCKER_CONFIG", &docker_dir).run();
    assert_contract(&out);
    out.assert_check_mentions("docker.endpoint", &name)
        .assert_check_mentions("docker.endpoint", &elsewhere.path().display().to_string());
    out.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", &elsewhere.path().display().to_string());
    // act ignores docker contexts: it would reach /var/run/docker.sock, not this daemon.
    out.assert_status_in("act.docker", &["warn", "fail"]);
}

#[test]
fn doctor_without_the_docker_cli_warns() {
    let Some(m) = Healthy::new() else { return };
    let out = m.doctor("json").env("PATH", m.bin.path()).run();
    assert_contract(&out);
    out.assert_status("docker.cli", "warn");
    // The daemon does not need the CLI.
    out.assert_status("container.run", "pass");
}

// ---------------------------------------------------------------------------------------
// Socket permissions, as temporary users
// ---------------------------------------------------------------------------------------

/// Doctor as `user` (database groups, or exactly `groups` when given) against `proxy`.
fn doctor_as(m: &Healthy, user: &TempUser, groups: Option<&[u32]>, proxy: &SocketProxy) -> Outcome {
    let mut cmd = m
        .doctor("json")
        .env("DOCKER_HOST", proxy.host())
        .as_user(&user.name);
    if let Some(g) = groups {
        cmd = cmd.setpriv_groups(g);
    }
    cmd.run()
}

#[test]
fn doctor_user_not_in_the_socket_group_gets_the_usermod_fix() {
    if !require_root() {
        return;
    }
    let Some(m) = Healthy::new() else { return };
    let group = TempGroup::new();
    let user = TempUser::new();
    let proxy = SocketProxy::to_docker(group.gid);
    let out = doctor_as(&m, &user, None, &proxy);
    assert_contract(&out);
    out.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", &group.name)
        .assert_fix_contains(
            "docker.socket",
            &format!("usermod -aG {} {}", group.name, user.name),
        )
        .assert_fix_contains("docker.socket", &format!("newgrp {}", group.name));
    out.assert_status("container.run", "skip");
}

#[test]
fn doctor_user_in_the_socket_group_passes() {
    if !require_root() {
        return;
    }
    let Some(m) = Healthy::new() else { return };
    let group = TempGroup::new();
    let user = TempUser::with_groups(&[&group]);
    let proxy = SocketProxy::to_docker(group.gid);
    let out = doctor_as(&m, &user, None, &proxy);
    assert_contract(&out);
    out.assert_status("docker.socket", "pass");
    out.assert_status_in("docker.daemon", &["pass", "warn"]);
    out.assert_status("container.run", "pass");
    assert_no_leftover_containers(&out);
}

#[test]
fn doctor_group_listed_in_etc_group_but_missing_from_the_login_says_so() {
    if !require_root() {
        return;
    }
    let Some(m) = Healthy::new() else { return };
    let group = TempGroup::new();
    let user = TempUser::with_groups(&[&group]);
    let proxy = SocketProxy::to_docker(group.gid);
    // The login predates `usermod -aG`: it carries no supplementary group.
    let out = doctor_as(&m, &user, Some(&[]), &proxy);
    assert_contract(&out);
    out.assert_status("docker.socket", "fail")
        .assert_check_mentions("docker.socket", "/etc/group")
        .assert_fix_contains("docker.socket", &format!("newgrp {}", group.name))
        // They are already a member: joining again fixes nothing.
        .assert_fix_lacks("docker.socket", "usermod -aG");
}

#[test]
fn doctor_socket_owned_by_group_root_never_suggests_joining_root() {
    if !require_root() {
        return;
    }
    let Some(m) = Healthy::new() else { return };
    let user = TempUser::new();
    let proxy = SocketProxy::to_docker(0);
    let out = doctor_as(&m, &user, None, &proxy);
    assert_contract(&out);
    out.assert_status("docker.socket", "fail")
        .assert_fix_lacks("docker.socket", "usermod -aG root")
        .assert_fix_lacks("docker.socket", "newgrp root");
    assert!(!out.fix_text("docker.socket").trim().is_empty(), "{out}");
}

// ---------------------------------------------------------------------------------------
// act
// ---------------------------------------------------------------------------------------

#[test]
fn doctor_act_missing_fails_with_a_fix() {
    let Some(m) = Healthy::new() else { return };
    let empty = BinDir::empty();
    let out = doctor_cmd("json", empty.path(), m.config.path(), TIMEOUT_SECS)
        .env("PATH", format!("{}:{SYSTEM_PATH}", empty.path().display()))
        .with_actrc(&m.image)
        .run();
    assert_contract(&out);
    out.assert_code(exit::FAILED);
    out.assert_status("act.binary", "fail")
        .assert_check_mentions("act.binary", &empty.path().display().to_string());
    // The daemon side is still checked.
    out.assert_status("docker.socket", "pass");
}

#[test]
fn doctor_act_shadowed_earlier_on_path_warns() {
    let Some(m) = Healthy::new() else { return };
    let shadow = temp::dir();
    let other = shadow.path().join("act");
    temp::write(&other, "#!/bin/sh\necho 'act version 0.2.10'\n");
    temp::chmod(&other, 0o755);
    let out = m
        .doctor("json")
        .env(
            "PATH",
            format!(
                "{}:{}:{SYSTEM_PATH}",
                shadow.path().display(),
                m.bin.path().display()
            ),
        )
        .run();
    assert_contract(&out);
    out.assert_status("act.binary", "warn")
        .assert_check_mentions("act.binary", &other.display().to_string());
}

#[test]
fn doctor_without_an_actrc_fails_about_the_first_run_prompt() {
    let Some(m) = Healthy::new() else { return };
    let cmd = m.doctor("json");
    std::fs::remove_file(cmd.home().join(".config/act/actrc")).unwrap();
    let out = cmd.run();
    assert_contract(&out);
    out.assert_code(exit::FAILED);
    out.assert_status("act.docker", "fail")
        .assert_check_mentions("act.docker", "prompt")
        .assert_check_mentions("act.docker", "ubuntu-latest");
}
