//! `actsim run` with the real act and daemon on a local busybox platform image.
//!
//! Every test writes its own repository with a workflow named `asimrun<pid>w<n>`, so act's
//! job containers (`act-<workflow>-<job>-…`) of concurrent tests never meet, and asserts
//! that nothing named after its workflow is left in the daemon afterwards.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;

use crate::support::SYSTEM_PATH;
use crate::support::cmd::{Cmd, Outcome};
use crate::support::exit;
use crate::support::fixtures::{require_daemon, socket_gid};
use crate::support::images::busybox_platform_image;
use crate::support::temp::{self, BinDir, TempDir};
use crate::support::users::{TempUser, require_root};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A repository with one workflow, a bin dir with act, and the platform image.
struct Repo {
    dir: TempDir,
    bin: BinDir,
    image: String,
    /// The workflow's name (unique): act's containers are `act-<name>-…`.
    name: String,
}

impl Repo {
    /// `jobs` is the YAML under `jobs:` (indented by two spaces).
    fn new(jobs: &str) -> Option<Repo> {
        if !require_daemon() {
            return None;
        }
        let image = busybox_platform_image()?;
        let bin = BinDir::healthy()?;
        let name = format!(
            "asimrun{}w{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let dir = temp::dir();
        temp::write(
            &dir.path().join(".github/workflows/ci.yml"),
            &format!("name: {name}\non: push\njobs:\n{jobs}"),
        );
        Some(Repo {
            dir,
            bin,
            image,
            name,
        })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `actsim run ARGS` in the repository, act on PATH, an actrc mapping `ubuntu-latest` to
    /// the busybox image in the run's fresh HOME.
    fn run(&self, args: &[&str]) -> Cmd {
        self.run_with_actrc(args, &format!("-P ubuntu-latest={}\n", self.image))
    }

    fn run_with_actrc(&self, args: &[&str], actrc: &str) -> Cmd {
        let cmd = Cmd::actsim()
            .arg("run")
            .args(args)
            .current_dir(self.path())
            .env(
                "PATH",
                format!("{}:{SYSTEM_PATH}", self.bin.path().display()),
            )
            .timeout(Duration::from_secs(120));
        let xdg = cmd.home().join(".config");
        temp::write(&xdg.join("act/actrc"), actrc);
        cmd.env("XDG_CONFIG_HOME", xdg)
    }

    /// Nothing of this repository's workflow is left: containers, volumes, networks.
    #[track_caller]
    fn assert_nothing_left(&self, out: &Outcome) {
        crate::run_verdicts::assert_nothing_left(&self.name, out);
    }

    fn job<'a>(&self, json: &'a Value, job: &str) -> &'a Value {
        json["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job"] == job && j["workflow"] == self.name.as_str())
            .unwrap_or_else(|| panic!("no job {job} in {json:#}"))
    }
}

#[test]
fn run_jobs_that_succeed_exit_0_with_the_json_document() {
    let Some(repo) = Repo::new(
        "  first:\n    runs-on: ubuntu-latest\n    steps:\n      - name: greet\n        run: echo hello-from-first\n  second:\n    runs-on: ubuntu-latest\n    needs: first\n    steps:\n      - run: echo hello-from-second\n",
    ) else {
        return;
    };
    let state = temp::dir();
    let out = repo
        .run(&["--format", "json"])
        .env("XDG_STATE_HOME", state.path())
        .run();
    out.assert_code(exit::OK);
    let json = out.json();
    assert_eq!(json["schema"], 1, "{out}");
    assert_eq!(json["ok"], true, "{out}");
    assert_eq!(json["exit_code"], 0, "{out}");
    let ids: Vec<&str> = json["preflight"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "docker.endpoint",
            "docker.socket",
            "docker.daemon",
            "act.binary",
            "act.docker"
        ]
    );
    assert_eq!(json["images"][0]["image"], repo.image.as_str(), "{out}");
    assert_eq!(json["images"][0]["label"], "ubuntu-latest", "{out}");
    assert_eq!(json["images"][0]["status"], "present", "{out}");
    for name in ["first", "second"] {
        let job = repo.job(json, name);
        assert_eq!(job["status"], "success", "{out}");
        assert!(job["duration_ms"].as_u64().unwrap() > 0, "{out}");
        assert!(job["failed_step"].is_null(), "{out}");
    }
    let steps = repo.job(json, "first")["steps"].as_array().unwrap();
    let greet = steps.iter().find(|s| s["name"] == "greet").unwrap();
    assert_eq!(greet["status"], "success");
    assert!(greet["duration_ms"].is_u64());
    assert!(json["removed"].is_array());
    let log = PathBuf::from(json["log"].as_str().unwrap());
    assert_eq!(
        log.parent().unwrap(),
        state.path().join("actsim/logs"),
        "{out}"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("hello-from-second"), "{text}");
    repo.assert_nothing_left(&out);
    let (dir, state) = (
        repo.path().display().to_string(),
        state.path().display().to_string(),
    );
    let doc = crate::snapshots::normalise(
        &serde_json::to_string_pretty(json).unwrap(),
        &[
            (&dir, "[REPO]"),
            (&state, "[STATE]"),
            (&repo.image, "[IMAGE]"),
            (&repo.name, "[WORKFLOW]"),
        ],
    );
    insta::assert_snapshot!("run_json", doc);
}

/// How many of `out`'s debug lines (`ACTSIM_LOG=debug`) contain `needle`.
#[track_caller]
fn assert_debug_once(out: &Outcome, needle: &str) {
    let found: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[DEBUG ") && l.contains(needle))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one debug line with {needle:?}:\n{}\n\n{out}",
        found.join("\n")
    );
}

/// One run, one of each (issue 8): the endpoint is resolved once and the daemon connected
/// once, whether the preflight connected (its `docker.daemon` check) or the run itself did.
#[test]
fn run_resolves_the_endpoint_and_connects_to_the_daemon_once() {
    let Some(repo) =
        Repo::new("  once:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo once\n")
    else {
        return;
    };
    for args in [
        &["--format", "json"][..],
        &["--format", "json", "--no-preflight"],
    ] {
        let state = temp::dir();
        let out = repo
            .run(args)
            .env("XDG_STATE_HOME", state.path())
            .env("ACTSIM_LOG", "debug")
            .run();
        out.assert_code(exit::OK);
        assert_eq!(out.json()["ok"], true, "{out}");
        assert_debug_once(&out, "] resolved the Docker endpoint");
        assert_debug_once(&out, "] connecting to the Docker daemon at");
        repo.assert_nothing_left(&out);
    }
}

#[test]
fn run_step_that_exits_3_fails_naming_the_step_and_removes_its_container() {
    let Some(repo) = Repo::new(
        "  broken:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo fine\n      - name: explode\n        run: |\n          echo output-before-failure\n          echo '::error file=a.txt::something broke'\n          exit 3\n",
    ) else {
        return;
    };
    let out = repo.run(&[]).run();
    out.assert_code(exit::FAILED)
        .assert_stdout_empty()
        .assert_stderr_contains(&format!("[{}/broken]", repo.name))
        .assert_stderr_contains("step \"explode\" failed with exit code 3")
        .assert_stderr_contains("error a.txt: something broke")
        .assert_stderr_contains("| output-before-failure")
        .assert_stderr_contains("removed: container act-")
        .assert_stderr_contains("log: ");
    repo.assert_nothing_left(&out);

    let out = repo.run(&["--format", "json", "-q"]).run();
    out.assert_code(exit::FAILED);
    let json = out.json();
    assert_eq!(json["ok"], false);
    let job = repo.job(json, "broken");
    assert_eq!(job["status"], "failure");
    assert_eq!(job["failed_step"]["name"], "explode", "{out}");
    assert_eq!(job["failed_step"]["exit_code"], 3, "{out}");
    assert_eq!(job["failed_step"]["annotations"][0], "something broke");
    assert_eq!(job["failed_step"]["last_lines"][0], "output-before-failure");
    let removed = json["removed"].as_array().unwrap();
    assert!(
        removed.iter().any(|r| r
            .as_str()
            .unwrap()
            .starts_with(&format!("act-{}-broken", repo.name))),
        "{out}"
    );
    repo.assert_nothing_left(&out);
}

#[test]
fn run_timeout_stops_a_step_that_sleeps_for_ever_with_124() {
    let Some(repo) = Repo::new(
        "  forever:\n    runs-on: ubuntu-latest\n    steps:\n      - name: hang\n        run: sleep 100000\n",
    ) else {
        return;
    };
    let out = repo.run(&["--timeout", "5"]).run();
    out.assert_code(exit::TIMEOUT)
        .assert_stderr_contains("--timeout 5");
    if out
        .stderr
        .contains(&format!("[{}/forever] ⭐ Run Main hang", repo.name))
    {
        out.assert_stderr_contains(&format!("while {}/forever at step hang", repo.name));
    }
    // 5 s, the 5 s grace, cleanup: well under 20 s even on a loaded machine.
    assert!(out.elapsed < Duration::from_secs(25), "{out}");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_idle_job_gets_a_diagnosis_then_finishes() {
    let Some(repo) = Repo::new(
        "  quiet:\n    runs-on: ubuntu-latest\n    steps:\n      - name: pause\n        run: sleep 5; echo awake\n",
    ) else {
        return;
    };
    let out = repo.run(&["--idle-timeout", "2"]).run();
    out.assert_code(exit::OK)
        .assert_stderr_contains("act has printed nothing for 2s")
        .assert_stderr_contains("daemon: answers a ping")
        .assert_stderr_contains(&format!("container act-{}-quiet", repo.name))
        .assert_stderr_contains("step pause")
        .assert_stderr_contains("pull: none in progress")
        .assert_stderr_contains("| awake");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_image_absent_without_a_registry_fails_fast_naming_image_and_label() {
    let Some(repo) =
        Repo::new("  needs-image:\n    runs-on: asim-label\n    steps:\n      - run: echo never\n")
    else {
        return;
    };
    let image = format!("asimrun-absent-{}:none", std::process::id());
    let out = repo
        .run_with_actrc(&["--no-preflight"], &format!("-P asim-label={image}\n"))
        .run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains(&image)
        .assert_stderr_contains("runs-on label asim-label")
        .assert_stderr_contains(&format!("docker pull {image}"))
        .assert_stderr_contains("docker load -i")
        .assert_stderr_contains("--platform-image")
        .assert_stderr_lacks("running ");
    assert!(out.elapsed < Duration::from_secs(5), "{out}");

    let out = repo
        .run_with_actrc(
            &["--no-pull", "--no-preflight", "--format", "json"],
            &format!("-P asim-label={image}\n"),
        )
        .run();
    out.assert_code(exit::FAILED);
    let json = out.json();
    assert_eq!(json["images"][0]["status"], "missing", "{out}");
    assert_eq!(json["images"][0]["label"], "asim-label", "{out}");
    assert!(json["log"].is_null(), "act never started: {out}");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_preflight_as_a_user_outside_the_socket_group_fails_before_act() {
    if !require_root() {
        return;
    }
    let Some(repo) =
        Repo::new("  any:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo x\n")
    else {
        return;
    };
    let user = TempUser::new();
    let group = nix::unistd::Group::from_gid(nix::unistd::Gid::from_raw(socket_gid()))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| socket_gid().to_string());
    let out = repo
        .run(&["--format", "json"])
        .as_user(&user.name)
        .setpriv_groups(&[])
        .run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("the preflight failed; act was not started")
        .assert_stderr_contains(&format!("usermod -aG {group} {}", user.name));
    let json = out.json();
    let socket = json["preflight"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "docker.socket")
        .unwrap();
    assert_eq!(socket["status"], "fail", "{out}");
    assert!(json["log"].is_null(), "act never started: {out}");
    assert!(json["jobs"].as_array().unwrap().is_empty(), "{out}");
}

#[test]
fn run_preflight_is_cached_until_the_actrc_changes() {
    let Some(repo) =
        Repo::new("  cached:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo x\n")
    else {
        return;
    };
    let home = temp::dir();
    let actrc = home.path().join(".config/act/actrc");
    temp::write(&actrc, &format!("-P ubuntu-latest={}\n", repo.image));
    // A job that is skipped: act starts no container, the preflight is what is looked at.
    let run = || {
        Cmd::actsim()
            .args(["run", "--format", "json"])
            .current_dir(repo.path())
            .env(
                "PATH",
                format!("{}:{SYSTEM_PATH}", repo.bin.path().display()),
            )
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join(".config"))
            .timeout(Duration::from_secs(60))
            .run()
    };
    let cached = |out: &Outcome| {
        out.assert_code(exit::OK);
        assert_eq!(
            out.json()["preflight"].as_array().unwrap().len(),
            5,
            "{out}"
        );
        out.json()["preflight_cached"].as_bool().unwrap()
    };
    let out = run();
    assert!(!cached(&out), "the first run checks: {out}");
    assert!(
        home.path()
            .join(".local/state/actsim/preflight.json")
            .is_file()
    );
    let out = run();
    assert!(cached(&out), "a passing preflight is cached: {out}");
    let text = std::fs::read_to_string(&actrc).unwrap();
    temp::write(&actrc, &format!("{text}# changed\n"));
    let out = run();
    assert!(!cached(&out), "a changed actrc is a miss: {out}");
    let out = run();
    assert!(cached(&out), "{out}");
}

#[test]
fn run_job_step_reaches_the_daemon_through_the_socket_as_a_non_root_uid() {
    let Some(repo) = Repo::new(
        "  inside:\n    runs-on: ubuntu-latest\n    steps:\n      - name: talk to docker\n        run: |\n          id\n          HOME=/tmp ./act --bug-report > /tmp/report 2>&1 || { tail -3 /tmp/report; exit 1; }\n          echo reached-the-daemon-as-$(id -u)\n",
    ) else {
        return;
    };
    std::fs::copy(repo.bin.act(), repo.path().join("act")).unwrap();
    let image = non_root_image(&repo.image);
    let out = repo
        .run_with_actrc(&["--", "--bind"], &format!("-P ubuntu-latest={image}\n"))
        .run();
    out.assert_code(exit::OK)
        .assert_stderr_contains("reached-the-daemon-as-1234")
        .assert_stderr_contains(&format!("groups={}", socket_gid()));
    repo.assert_nothing_left(&out);
}

/// The busybox platform image with `USER 1234:1234` (built once, locally).
fn non_root_image(base: &str) -> String {
    let tag = format!("{base}-uid1234");
    let inspect = Cmd::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &tag])
        .timeout(Duration::from_secs(30))
        .run();
    if inspect.code == Some(0) {
        return tag;
    }
    let out = Cmd::new("docker")
        .args(["build", "-q", "-t", &tag, "-"])
        .env("DOCKER_BUILDKIT", "0")
        .stdin_bytes(format!("FROM {base}\nUSER 1234:1234\n"))
        .timeout(Duration::from_secs(120))
        .run();
    out.assert_success();
    tag
}

fn signal_test(signal: Signal, code: i32) {
    let Some(repo) = Repo::new(
        "  stuck:\n    runs-on: ubuntu-latest\n    steps:\n      - name: wait\n        run: echo now-waiting; sleep 100000\n",
    ) else {
        return;
    };
    let out = repo
        .run(&[])
        .signal_when_stderr_has("| now-waiting", signal)
        .run();
    out.assert_code(code)
        .assert_stderr_contains("stopping act")
        .assert_stderr_contains(&format!("removed: container act-{}-stuck", repo.name));
    repo.assert_nothing_left(&out);
}

#[test]
fn run_ctrl_c_stops_act_cleans_up_and_exits_130() {
    signal_test(Signal::SIGINT, 130);
}

#[test]
fn run_sigterm_stops_act_cleans_up_and_exits_143() {
    signal_test(Signal::SIGTERM, 143);
}

#[test]
fn run_bad_flags_exit_2() {
    let out = Cmd::actsim()
        .args(["run", "--idle-timeout", "0"])
        .timeout(Duration::from_secs(20))
        .run();
    out.assert_code(exit::USAGE).assert_stdout_empty();
}

/// A config dir with setup's compose file and `.env` (unique project and cache volume), the
/// simulator image built (by doctor, from the fixture act), for `--in-container`.
struct Simulator {
    config_home: TempDir,
    project: String,
    volume: String,
}

impl Simulator {
    fn new(repo: &Repo) -> Simulator {
        let doctor = Cmd::actsim()
            .args(["doctor", "--format", "json", "--bin-dir"])
            .arg(repo.bin.path())
            .timeout(Duration::from_secs(120))
            .run();
        assert_eq!(
            doctor.json()["checks"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == "container.run")
                .unwrap()["status"],
            "pass",
            "doctor builds the simulator image\n{doctor}"
        );
        let config_home = temp::dir();
        let config = config_home.path().join("actsim");
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let project = format!("asimrun{}p{n}", std::process::id());
        let volume = format!("asimrun{}v{n}", std::process::id());
        let mut ctx = actsim::render::Context::new(
            actsim::act::DEFAULT_VERSION,
            0,
            0,
            socket_gid(),
            Path::new("/var/run/docker.sock"),
            &repo.image,
            &config,
        );
        ctx.project = project.clone();
        ctx.cache_volume = volume.clone();
        temp::write(
            &config.join("docker-compose.yml"),
            &actsim::render::render_compose(&ctx).unwrap(),
        );
        temp::write(
            &config.join(".env"),
            &actsim::render::render_env(&ctx).unwrap(),
        );
        temp::write(
            &config_home.path().join("act/actrc"),
            &format!("-P ubuntu-latest={}\n", repo.image),
        );
        Simulator {
            config_home,
            project,
            volume,
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        for args in [
            vec!["network", "rm", &format!("{}_default", self.project)],
            vec!["volume", "rm", "-f", &self.volume],
        ] {
            let _ = Cmd::new("docker")
                .args(args)
                .timeout(Duration::from_secs(30))
                .run();
        }
    }
}

fn in_container(compose_env: &[(&str, &str)]) {
    let Some(repo) = Repo::new(
        "  boxed:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo inside-the-simulator\n",
    ) else {
        return;
    };
    let sim = Simulator::new(&repo);
    let state = temp::dir();
    let mut cmd = repo
        .run(&["--in-container", "--format", "json"])
        .env("XDG_CONFIG_HOME", sim.config_home.path())
        .env("XDG_STATE_HOME", state.path());
    for (k, v) in compose_env {
        cmd = cmd.env(k, v);
    }
    let out = cmd.run();
    out.assert_code(exit::OK);
    let json = out.json();
    assert_eq!(json["ok"], true, "{out}");
    assert_eq!(json["images"][0]["label"], "--in-container", "{out}");
    assert_eq!(
        json["images"][0]["image"],
        format!("actsim/act:{}", actsim::act::DEFAULT_VERSION)
    );
    assert_eq!(repo.job(json, "boxed")["status"], "success", "{out}");
    let log = std::fs::read_to_string(json["log"].as_str().unwrap()).unwrap();
    let first = log.lines().next().unwrap_or("");
    if compose_env.iter().any(|(k, _)| *k == "DOCKER_CONFIG") {
        assert!(
            first.contains("docker compose -f"),
            "compose v2 (the plugin) ran: {first}"
        );
    } else {
        assert!(
            first.contains("docker-compose -f"),
            "compose v1 ran: {first}"
        );
    }
    let leftover = Cmd::new("docker")
        .args(["ps", "-a", "-q", "--filter"])
        .arg(format!("name=actsim-run-{}-", out.pid))
        .timeout(Duration::from_secs(30))
        .run();
    assert!(
        leftover.stdout.trim().is_empty(),
        "the compose run container is gone\n{out}"
    );
    repo.assert_nothing_left(&out);
}

#[test]
fn run_in_container_through_compose_v1() {
    let on_path = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .any(|d| d.join("docker-compose").is_file());
    if !on_path && !crate::support::fixtures::skip("docker-compose (compose v1) is not on PATH") {
        return;
    }
    in_container(&[]);
}

/// A registry on 127.0.0.1 serving one image (a config and one gzip layer of a few files),
/// enough for the daemon to pull it: `/v2/`, the manifest (GET and HEAD) and the blobs.
/// The daemon treats 127.0.0.0/8 as an insecure registry, so plain HTTP works.
struct Registry {
    port: u16,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Registry {
    fn start(repo: &'static str, tag: &'static str) -> Registry {
        use sha2::{Digest, Sha256};
        use std::io::{Read, Write};
        let mut tar = tar::Builder::new(Vec::new());
        for (path, data) in [
            ("hello.txt", &b"hello from the loopback registry\n"[..]),
            ("big.bin", &[7u8; 300_000][..]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_mode(0o644);
            h.set_size(data.len() as u64);
            h.set_mtime(0);
            tar.append_data(&mut h, path, data).unwrap();
        }
        let tar = tar.into_inner().unwrap();
        let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&tar).unwrap();
        let layer = gz.finish().unwrap();
        let config = serde_json::json!({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        })
        .to_string()
        .into_bytes();
        let digest = |b: &[u8]| format!("sha256:{}", hex::encode(Sha256::digest(b)));
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": config.len(), "digest": digest(&config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "size": layer.len(), "digest": digest(&layer)}],
        })
        .to_string()
        .into_bytes();
        let blobs = std::sync::Arc::new(vec![
            (
                format!("/v2/{repo}/manifests/{tag}"),
                manifest.clone(),
                "application/vnd.docker.distribution.manifest.v2+json",
            ),
            (
                format!("/v2/{repo}/manifests/{}", digest(&manifest)),
                manifest.clone(),
                "application/vnd.docker.distribution.manifest.v2+json",
            ),
            (
                format!("/v2/{repo}/blobs/{}", digest(&config)),
                config.clone(),
                "application/octet-stream",
            ),
            (
                format!("/v2/{repo}/blobs/{}", digest(&layer)),
                layer.clone(),
                "application/octet-stream",
            ),
            ("/v2/".to_string(), b"{}".to_vec(), "application/json"),
        ]);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let blobs = blobs.clone();
                std::thread::spawn(move || {
                    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 4096];
                    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                        match conn.read(&mut chunk) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    }
                    let head = String::from_utf8_lossy(&buf).to_string();
                    let mut words = head.split_whitespace();
                    let method = words.next().unwrap_or("");
                    let path = words.next().unwrap_or("").split('?').next().unwrap_or("");
                    let found = blobs.iter().find(|(p, _, _)| p == path);
                    let response = match found {
                        Some((_, body, kind)) => {
                            let mut r = format!(
                                "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nDocker-Content-Digest: sha256:{}\r\nDocker-Distribution-API-Version: registry/2.0\r\nConnection: close\r\n\r\n",
                                body.len(),
                                hex::encode(Sha256::digest(body))
                            )
                            .into_bytes();
                            if method != "HEAD" {
                                r.extend_from_slice(body);
                            }
                            r
                        }
                        None => b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec(),
                    };
                    let _ = conn.write_all(&response);
                });
            }
        });
        Registry { port, stop }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(("127.0.0.1", self.port));
    }
}

#[test]
fn run_pulls_a_missing_image_first_with_a_line_per_layer_state() {
    let Some(repo) = Repo::new(
        "  pulled:\n    if: false\n    runs-on: asim-pull\n    steps:\n      - run: echo never\n",
    ) else {
        return;
    };
    let registry = Registry::start("asimrun/pullme", "v1");
    let image = format!("127.0.0.1:{}/asimrun/pullme:v1", registry.port);
    let remove = || {
        let _ = Cmd::new("docker")
            .args(["image", "rm", "-f", &image])
            .timeout(Duration::from_secs(30))
            .run();
    };
    remove();
    let out = repo
        .run_with_actrc(
            &["--no-preflight", "--timeout", "40"],
            &format!("-P asim-pull={image}\n"),
        )
        .run();
    let present = Cmd::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &image])
        .timeout(Duration::from_secs(30))
        .run();
    remove();
    out.assert_stderr_contains(&format!("pulling {image} (not present locally)"))
        .assert_stderr_contains("Pull complete")
        .assert_stderr_contains(&format!("pulled {image}"));
    assert!(
        out.stderr
            .lines()
            .any(|l| l.contains(" layer ") && l.contains(" of ") && l.contains(" bytes)")),
        "a layer line with bytes of total\n{out}"
    );
    assert_eq!(present.code, Some(0), "the image was pulled\n{out}");
    out.assert_code(exit::OK);
    repo.assert_nothing_left(&out);
}

#[test]
fn run_platform_image_needs_no_actrc_mapping() {
    let Some(repo) = Repo::new(
        "  mapped:\n    runs-on: asim-custom-label\n    steps:\n      - run: echo mapped-by-flag\n",
    ) else {
        return;
    };
    let out = repo
        .run_with_actrc(
            &["--platform-image", &repo.image, "--format", "json"],
            "# no mappings\n",
        )
        .run();
    out.assert_code(exit::OK);
    let json = out.json();
    assert_eq!(json["images"][0]["label"], "asim-custom-label", "{out}");
    assert_eq!(json["images"][0]["image"], repo.image.as_str(), "{out}");
    assert_eq!(repo.job(json, "mapped")["status"], "success", "{out}");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_in_container_through_compose_v2() {
    let Some(v2) = crate::support::compose::ComposeV2Config::new() else {
        return;
    };
    let config = v2.path().to_string_lossy().into_owned();
    in_container(&[("DOCKER_CONFIG", config.as_str())]);
}
