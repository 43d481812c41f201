//! Integration tests of the configuration steps of `actsim setup` (part 2): the rendered
//! compose file and `.env` against the real docker-compose (v1; v2 when installed) and the
//! real daemon, with the simulator image built from the fixture act.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use actsim::render::{self, Context};
use actsim::system::files::{Walk, write_atomic};
use yaml_rust2::{Yaml, YamlLoader};

use crate::support::fixtures::{DOCKER_SOCK, require_act, require_daemon, skip, socket_gid};
use crate::support::{Cmd, Outcome, temp};

/// A compose tool: the program and the arguments before `-f`.
#[derive(Debug, Clone)]
struct Compose {
    name: &'static str,
    program: &'static str,
    pre: &'static [&'static str],
}

const V1: Compose = Compose {
    name: "docker-compose v1",
    program: "docker-compose",
    pre: &[],
};
const V2: Compose = Compose {
    name: "docker compose v2",
    program: "docker",
    pre: &["compose"],
};

impl Compose {
    fn installed(&self) -> bool {
        let out = std::process::Command::new(self.program)
            .args(self.pre)
            .arg("version")
            .output();
        out.is_ok_and(|o| o.status.success())
    }

    /// `<tool> -f <file> <args>` from `cwd`, with `PWD` set to it as a shell would.
    fn run(&self, file: &Path, cwd: &Path, args: &[&str], timeout: u64) -> Outcome {
        Cmd::new(self.program)
            .args(self.pre)
            .arg("-f")
            .arg(file)
            .args(args)
            .current_dir(cwd)
            .env("PWD", cwd)
            .timeout(Duration::from_secs(timeout))
            .run()
    }
}

/// The compose tools to test: v1 is required (skip or, under CI, fail without it), v2 is
/// tested when installed.
fn compose_tools() -> Vec<Compose> {
    let mut tools = Vec::new();
    if V1.installed() {
        tools.push(V1);
    } else {
        skip("docker-compose (v1) is not installed; apt-get install docker-compose");
    }
    if V2.installed() {
        tools.push(V2);
    } else {
        eprintln!("note: `docker compose` (v2) is not installed here; testing v1 only");
    }
    tools
}

/// A context for a test: unique project and cache volume, so cleanup never touches a
/// real user's.
fn test_context(config_dir: &Path, uid: u32, gid: u32) -> Context {
    let mut ctx = Context::new(
        actsim::act::DEFAULT_VERSION,
        uid,
        gid,
        socket_gid(),
        Path::new(DOCKER_SOCK),
        render::DEFAULT_PLATFORM_IMAGE,
        config_dir,
    );
    let tag = format!("{}-{}", std::process::id(), config_dir_tag(config_dir));
    ctx.project = format!("actsim-test-{tag}");
    ctx.cache_volume = format!("actsim-test-cache-{tag}");
    ctx
}

fn config_dir_tag(dir: &Path) -> String {
    dir.to_string_lossy()
        .chars()
        .rev()
        .filter(char::is_ascii_alphanumeric)
        .take(6)
        .collect::<String>()
        .to_ascii_lowercase()
}

/// Render and write both files as setup does; returns the compose file's path.
fn write_files(ctx: &Context) -> PathBuf {
    let dir = PathBuf::from(&ctx.config_dir);
    let compose = dir.join("docker-compose.yml");
    let env = dir.join(".env");
    write_atomic(
        &compose,
        render::render_compose(ctx).unwrap().as_bytes(),
        0o644,
        Walk::Lenient,
    )
    .unwrap();
    write_atomic(
        &env,
        render::render_env(ctx).unwrap().as_bytes(),
        0o600,
        Walk::Lenient,
    )
    .unwrap();
    compose
}

#[track_caller]
fn yaml(text: &str) -> Yaml {
    YamlLoader::load_from_str(text)
        .unwrap_or_else(|e| panic!("not YAML ({e}):\n{text}"))
        .remove(0)
}

#[test]
fn setup_files_compose_config_accepts_the_rendered_files() {
    let tools = compose_tools();
    if tools.is_empty() {
        return;
    }
    let root = temp::dir();
    let work = root.path().join("my repo");
    std::fs::create_dir_all(&work).unwrap();
    let ctx = test_context(&root.path().join("config/actsim"), 1234, 2345);
    let file = write_files(&ctx);

    let env_meta = std::fs::metadata(file.with_file_name(".env")).unwrap();
    assert_eq!(env_meta.permissions().mode() & 0o777, 0o600, ".env mode");
    let compose_meta = std::fs::metadata(&file).unwrap();
    assert_eq!(compose_meta.permissions().mode() & 0o777, 0o644);

    for tool in tools {
        tool.run(&file, &work, &["config", "-q"], 60)
            .assert_success()
            .assert_stdout_empty();
        let out = tool.run(&file, &work, &["config"], 60);
        out.assert_success();
        let doc = yaml(&out.stdout);
        let s = &doc["services"][render::SERVICE];
        let work_s = work.to_str().unwrap();
        assert_eq!(
            s["image"].as_str(),
            Some("actsim/act:0.2.89"),
            "{}",
            tool.name
        );
        assert_eq!(s["user"].as_str(), Some("1234:2345"), "{}", tool.name);
        assert_eq!(s["working_dir"].as_str(), Some(work_s), "{}", tool.name);
        let group = &s["group_add"][0];
        let group = group
            .as_str()
            .map(str::to_string)
            .or(group.as_i64().map(|g| g.to_string()));
        assert_eq!(group, Some(socket_gid().to_string()), "{}", tool.name);
        let entry: Vec<&str> = s["entrypoint"]
            .as_vec()
            .unwrap()
            .iter()
            .filter_map(Yaml::as_str)
            .collect();
        assert!(
            entry
                .windows(2)
                .any(|w| w == ["--container-daemon-socket", DOCKER_SOCK]),
            "{}: {entry:?}",
            tool.name
        );
        assert!(entry.contains(&"ubuntu-latest=catthehacker/ubuntu:act-latest"));
        let text = &out.stdout;
        assert!(text.contains(work_s), "the repo is mounted:\n{text}");
        assert!(text.contains("/var/run/docker.sock"), "{text}");
        assert!(text.contains(&ctx.cache_volume), "{text}");

        // Without PWD, compose stops with the message instead of mounting the wrong dir.
        let out = Cmd::new(tool.program)
            .args(tool.pre)
            .arg("-f")
            .arg(&file)
            .args(["config", "-q"])
            .current_dir(&work)
            .env_remove("PWD")
            .timeout(Duration::from_secs(60))
            .run();
        assert_ne!(out.code, Some(0), "{out}");
        assert!(out.stderr.contains("PWD must be set"), "{out}");
    }
}

#[test]
fn setup_files_dotenv_values_read_back_exactly_by_compose() {
    let tools = compose_tools();
    if tools.is_empty() {
        return;
    }
    let values = [
        "",
        "1000",
        "/var/run/docker.sock",
        "/home/John Doe/.docker/run/docker.sock",
        "catthehacker/ubuntu:act-latest",
        "reg.example:5000/a/b@sha256:00ff",
        "-self-hosted",
        "a=b,c+d%e",
        "a #b",
        "#x",
        " lead",
        "trail ",
        "say \"hi\"",
        "ünïcode",
        "a;b&c|d",
        "{braces}[x]*?~!",
        "back`tick`",
    ];
    let root = temp::dir();
    let mut env = String::from("# values written by actsim::render::dotenv_value\n");
    let mut compose =
        String::from("services:\n  probe:\n    image: actsim-test/none:latest\n    environment:\n");
    for (i, v) in values.iter().enumerate() {
        let written = render::dotenv_value(&format!("V{i}"), v).unwrap();
        env.push_str(&format!("V{i}={written}\n"));
        compose.push_str(&format!("      V{i}: \"${{V{i}}}\"\n"));
    }
    temp::write(&root.path().join(".env"), &env);
    temp::write(&root.path().join("docker-compose.yml"), &compose);
    for tool in tools {
        let out = tool.run(
            &root.path().join("docker-compose.yml"),
            root.path(),
            &["config"],
            60,
        );
        out.assert_success();
        let doc = yaml(&out.stdout);
        let environment = &doc["services"]["probe"]["environment"];
        for (i, v) in values.iter().enumerate() {
            let got = &environment[format!("V{i}").as_str()];
            let got = got.as_str().unwrap_or("");
            assert_eq!(got, *v, "{}: V{i} from .env:\n{env}\n{out}", tool.name);
        }
    }
}

/// Build `actsim/act:<DEFAULT_VERSION>` from the fixture act unless it is there with the
/// same binary hash.
fn ensure_simulator_image(act: &Path) {
    let sha = actsim::system::files::sha256_hex(&std::fs::read(act).unwrap());
    let image = render::image_for(actsim::act::DEFAULT_VERSION);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let host = format!("unix://{DOCKER_SOCK}");
        let docker = actsim::docker::client::connect(&host, Duration::from_secs(30))
            .await
            .unwrap();
        let current = actsim::docker::image::image_sha(&docker, &image)
            .await
            .unwrap();
        if current.as_deref() != Some(sha.as_str()) {
            tokio::time::timeout(
                Duration::from_secs(180),
                actsim::docker::image::import_act_image(
                    &docker,
                    actsim::docker::engine::Engine::Docker,
                    std::fs::File::open(act).unwrap(),
                    act,
                    &sha,
                    &image,
                ),
            )
            .await
            .expect("docker import finished within 180 s")
            .unwrap();
        }
    });
}

/// act's `--bug-report` names the engine version only when it reached the daemon.
fn reports_engine(stdout: &str, version: &str) -> bool {
    stdout
        .lines()
        .any(|l| l.trim_start().starts_with("Engine version:") && l.contains(version))
}

/// Removes the test's compose network and cache volume.
struct ComposeDown {
    tool: Compose,
    file: PathBuf,
    cwd: PathBuf,
}

impl Drop for ComposeDown {
    fn drop(&mut self) {
        let _ = std::process::Command::new(self.tool.program)
            .args(self.tool.pre)
            .arg("-f")
            .arg(&self.file)
            .args(["down", "-v", "--remove-orphans"])
            .current_dir(&self.cwd)
            .env("PWD", &self.cwd)
            .output();
    }
}

#[test]
fn setup_files_compose_run_bug_report_reaches_the_daemon_as_a_plain_user() {
    if !require_daemon() {
        return;
    }
    let Some(act) = require_act() else {
        return;
    };
    let tools = compose_tools();
    if tools.is_empty() {
        return;
    }
    ensure_simulator_image(&act);
    let engine = crate::support::fixtures::daemon_version().unwrap();
    let engine_version = engine["Version"].as_str().unwrap().to_string();

    for tool in tools {
        let root = temp::dir();
        let work = root.path().join("repo");
        temp::write(
            &work.join(".github/workflows/ci.yml"),
            "on: push\njobs:\n  hello-from-the-simulator:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hi\n",
        );
        // nobody:nogroup, with only the socket's group to reach the daemon.
        let ctx = test_context(&root.path().join("cfg"), 65534, 65534);
        let file = write_files(&ctx);
        let _down = ComposeDown {
            tool: tool.clone(),
            file: file.clone(),
            cwd: work.clone(),
        };

        let out = tool.run(
            &file,
            &work,
            &["run", "--rm", render::SERVICE, "--bug-report"],
            180,
        );
        out.assert_success();
        assert!(out.stdout.contains("act version:"), "{}: {out}", tool.name);
        assert!(
            reports_engine(&out.stdout, &engine_version),
            "{}: act in the container did not reach the daemon:\n{out}",
            tool.name
        );

        // The repository is mounted at its own path and is the working directory.
        let out = tool.run(
            &file,
            &work,
            &["run", "--rm", render::SERVICE, "--list"],
            180,
        );
        out.assert_success();
        assert!(
            out.stdout.contains("hello-from-the-simulator"),
            "{}: act did not see the workflow of the current directory:\n{out}",
            tool.name
        );

        // The cache volume took /tmp's 1777 from the image, so any HOST_UID can write there.
        let mountpoint = Cmd::new("docker")
            .args([
                "volume",
                "inspect",
                "-f",
                "{{.Mountpoint}}",
                &ctx.cache_volume,
            ])
            .timeout(Duration::from_secs(30))
            .run();
        mountpoint.assert_success();
        match std::fs::metadata(mountpoint.stdout.trim()) {
            Ok(m) => assert_eq!(m.permissions().mode() & 0o7777, 0o1777, "{mountpoint}"),
            Err(e) => eprintln!("note: cannot stat the volume's mountpoint here: {e}"),
        }

        // Control: without the socket's group the same run cannot reach the daemon, so the
        // check above can fail. (An exported variable overrides .env.)
        let out = Cmd::new(tool.program)
            .args(tool.pre)
            .arg("-f")
            .arg(&file)
            .args(["run", "--rm", render::SERVICE, "--bug-report"])
            .current_dir(&work)
            .env("PWD", &work)
            .env("DOCKER_GID", "65534")
            .timeout(Duration::from_secs(180))
            .run();
        assert!(
            !reports_engine(&out.stdout, &engine_version),
            "{}: reached the daemon without its group:\n{out}",
            tool.name
        );
    }
}

// ---- install.sh ----

fn install_sh() -> PathBuf {
    crate::support::fixtures::repo_root().join("install.sh")
}

/// A PATH directory holding links to just the tools install.sh uses (and `extra`), so a
/// test can run it without cargo or docker on PATH.
fn restricted_path(extra: &[&str]) -> temp::TempDir {
    let dir = temp::dir();
    let tools = [
        "sh", "id", "grep", "find", "head", "cmp", "cp", "chmod", "mv", "mkdir", "rm", "cat",
    ];
    for tool in tools.iter().chain(extra) {
        let found = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
            .map(|d| d.join(tool))
            .find(|p| p.is_file())
            .unwrap_or_else(|| panic!("{tool} is not on PATH"));
        std::os::unix::fs::symlink(&found, dir.path().join(tool)).unwrap();
    }
    dir
}

#[test]
fn setup_files_install_sh_is_shellcheck_clean() {
    let out = std::process::Command::new("shellcheck")
        .arg("--version")
        .output();
    if !out.is_ok_and(|o| o.status.success()) {
        skip("shellcheck is not installed; apt-get install shellcheck");
        return;
    }
    Cmd::new("shellcheck")
        .args(["-s", "sh"])
        .arg(install_sh())
        .run()
        .assert_success();
    let text = std::fs::read_to_string(install_sh()).unwrap();
    assert!(text.starts_with("#!/bin/sh\n"));
    assert!(
        text.trim_end().ends_with("\nmain \"$@\""),
        "main \"$@\" comes last"
    );
}

#[test]
fn setup_files_install_sh_installs_into_the_prefix_and_runs_setup() {
    let actsim = env!("CARGO_BIN_EXE_actsim");
    let prefix = temp::dir();
    let bin = prefix.path().join("bin/actsim");
    let run = |args: &[&str]| {
        Cmd::new(install_sh())
            .arg("--prefix")
            .arg(prefix.path())
            .args(["--binary", actsim])
            .args(args)
            .timeout(Duration::from_secs(60))
            .run()
    };
    // --dry-run installs nothing; setup still runs (here only to print its version).
    let out = run(&["--dry-run", "--version"]);
    out.assert_success();
    assert!(out.stdout.contains("actsim-setup "), "{out}");
    assert!(out.stderr.contains("dry run: would install"), "{out}");
    assert!(!prefix.path().join("bin").exists(), "{out}");

    // Installed, then `actsim setup` runs from the installed copy.
    let out = run(&["--version"]);
    out.assert_success();
    assert!(out.stdout.contains("actsim-setup "), "{out}");
    assert!(
        out.stderr.contains(&format!("installed {}", bin.display())),
        "{out}"
    );
    let meta = std::fs::metadata(&bin).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o755);
    assert_eq!(std::fs::read(&bin).unwrap(), std::fs::read(actsim).unwrap());
    assert_eq!(
        std::fs::read_dir(prefix.path().join("bin"))
            .unwrap()
            .count(),
        1,
        "no temp file left"
    );

    // Rerun: nothing to do.
    let out = run(&["--version"]);
    out.assert_success();
    assert!(out.stderr.contains("is up to date"), "{out}");

    // Its own options are taken out; the rest reach setup in order.
    let out = run(&["--bogus-flag"]);
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--bogus-flag"), "{out}");
}

#[test]
fn setup_files_install_sh_bad_options_and_missing_cargo_are_clear() {
    let out = Cmd::new(install_sh()).arg("--prefix").run();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("--prefix needs a value"), "{out}");

    let out = Cmd::new(install_sh())
        .args(["--binary", "/nonexistent/actsim"])
        .run();
    assert_eq!(out.code, Some(2), "{out}");
    assert!(out.stderr.contains("/nonexistent/actsim"), "{out}");

    // No binary built yet (empty target dir) and no cargo on PATH.
    let path = restricted_path(&["docker"]);
    let target = temp::dir();
    let prefix = temp::dir();
    let out = Cmd::new(install_sh())
        .arg("--prefix")
        .arg(prefix.path())
        .env("PATH", path.path())
        .env("CARGO_TARGET_DIR", target.path())
        .run();
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("cargo is not on PATH"), "{out}");
    assert!(out.stderr.contains("rustup"), "{out}");
    assert!(!prefix.path().join("bin").exists());
}

#[test]
fn setup_files_install_sh_without_docker_says_how_to_install_it() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIP: hiding the daemon socket in a mount namespace needs root");
        return;
    }
    // A private mount namespace where /var/run/docker.sock is not a socket, no docker on
    // PATH, no DOCKER_HOST: Docker is missing as far as install.sh can tell.
    let path = restricted_path(&[]);
    let prefix = temp::dir();
    let out = Cmd::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            "for s in /var/run/docker.sock /run/docker.sock; do [ -e \"$s\" ] && mount --bind /dev/null \"$s\"; done; PATH=\"$1\" exec \"$2\" --prefix \"$3\" --yes",
            "sh",
        ])
        .arg(path.path())
        .arg(install_sh())
        .arg(prefix.path())
        .env_remove("XDG_RUNTIME_DIR")
        .run();
    if out.stderr.contains("unshare failed") || out.stderr.contains("mount:") {
        skip(&format!(
            "cannot make a private mount namespace here: {out}"
        ));
        return;
    }
    assert_eq!(out.code, Some(1), "{out}");
    assert!(out.stderr.contains("Docker is not installed"), "{out}");
    assert!(out.stderr.contains("apt-get install docker.io"), "{out}");
    assert!(!prefix.path().join("bin").exists());
}

/// `cargo` under the temp HOME the command builder gives: point it at the real toolchain.
fn with_real_cargo(cmd: Cmd) -> Cmd {
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME").map_or(home.join(".cargo"), PathBuf::from);
    let rustup_home = std::env::var_os("RUSTUP_HOME").map_or(home.join(".rustup"), PathBuf::from);
    cmd.env("CARGO_HOME", cargo_home)
        .env("RUSTUP_HOME", rustup_home)
        .env_remove("CARGO_TARGET_DIR")
}

#[test]
fn setup_files_install_sh_builds_the_release_binary_when_it_is_stale() {
    if std::process::Command::new("cargo")
        .arg("--version")
        .output()
        .is_err()
    {
        skip("cargo is not on PATH");
        return;
    }
    let repo = crate::support::fixtures::repo_root();
    let built = repo.join("target/release/actsim");
    let prefix = temp::dir();
    let run = || {
        with_real_cargo(Cmd::new(install_sh()))
            .arg("--prefix")
            .arg(prefix.path())
            .arg("--version")
            .timeout(Duration::from_secs(1500))
            .run()
    };
    // First run: builds when there is no fresh release binary, installs it, runs setup.
    let out = run();
    out.assert_success();
    assert!(out.stdout.contains("actsim-setup "), "{out}");
    let installed = prefix.path().join("bin/actsim");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(&built).unwrap()
    );

    // A binary older than the sources is rebuilt (cargo decides what that takes).
    let old = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(946_684_800);
    std::fs::File::options()
        .write(true)
        .open(&built)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let out = run();
    out.assert_success();
    assert!(out.stderr.contains("building actsim"), "{out}");

    // Up to date: no build.
    let out = run();
    out.assert_success();
    assert!(!out.stderr.contains("building actsim"), "{out}");
    assert!(
        out.stderr.contains("is up to date with the sources"),
        "{out}"
    );
}
