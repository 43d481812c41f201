//! `actsim run` verdicts (issue 18) with the real act and daemon: act's own rules for which
//! workflows and jobs run, exact job results (trimmed names, matrix legs, continue-on-error,
//! cancelled), and a named cause for each failure reproduced for real (no network for a
//! remote action, an image without bash, an absent service image, a failing step with a
//! file/line annotation, a step's timeout-minutes, a daemon error).
//!
//! Every repository names its workflows `asimv<pid>w<n>…`, so act's containers of
//! concurrent tests never meet; each test checks nothing of its workflows is left.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::support::SYSTEM_PATH;
use crate::support::cmd::{Cmd, Outcome};
use crate::support::exit;
use crate::support::fixtures::require_daemon;
use crate::support::images::{busybox_platform_image, nobash_image};
use crate::support::temp::{self, BinDir, TempDir};

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A repository of files, a bin dir with act, a unique name and the platform image.
pub struct Repo {
    pub dir: TempDir,
    pub bin: BinDir,
    pub image: String,
    /// Unique: every workflow's name starts with it (`@NAME@` in the files).
    pub name: String,
    /// act's action cache of this repository's runs (empty unless a test fills it).
    pub cache: TempDir,
}

impl Repo {
    /// `files`: (path, text) with `@NAME@` and `@IMAGE@` replaced.
    pub fn new(files: &[(&str, &str)]) -> Option<Repo> {
        Repo::with_image(files, None)
    }

    pub fn with_image(files: &[(&str, &str)], image: Option<String>) -> Option<Repo> {
        if !require_daemon() {
            return None;
        }
        let image = match image {
            Some(i) => i,
            None => busybox_platform_image()?,
        };
        let bin = BinDir::healthy()?;
        let name = format!(
            "asimv{}w{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let dir = temp::dir();
        let repo = Repo {
            dir,
            bin,
            image,
            name,
            cache: temp::dir(),
        };
        for (path, text) in files {
            repo.write(path, text);
        }
        Some(repo)
    }

    pub fn write(&self, path: &str, text: &str) {
        temp::write(
            &self.path().join(path),
            &text
                .replace("@NAME@", &self.name)
                .replace("@IMAGE@", &self.image),
        );
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `actsim run ARGS` here: act on PATH, an actrc mapping `ubuntu-latest` to the image.
    pub fn run(&self, args: &[&str]) -> Cmd {
        self.run_actrc(args, &format!("-P ubuntu-latest={}\n", self.image))
    }

    pub fn run_actrc(&self, args: &[&str], actrc: &str) -> Cmd {
        let cmd = Cmd::actsim()
            .arg("run")
            .args(args)
            .current_dir(self.path())
            .env(
                "PATH",
                format!("{}:{SYSTEM_PATH}", self.bin.path().display()),
            )
            .env("XDG_CACHE_HOME", self.cache.path())
            .timeout(Duration::from_secs(240));
        let xdg = cmd.home().join(".config");
        temp::write(&xdg.join("act/actrc"), actrc);
        cmd.env("XDG_CONFIG_HOME", xdg)
    }

    /// Bare act with the same mapping: `act EVENT --pull=false -P …  ARGS`.
    pub fn act(&self, event: &str, args: &[&str]) -> Outcome {
        Cmd::new(self.bin.act())
            .arg(event)
            .args(["--pull=false", "-P"])
            .arg(format!("ubuntu-latest={}", self.image))
            .args(args)
            .current_dir(self.path())
            .env("XDG_CACHE_HOME", self.cache.path())
            .stdin_null()
            .timeout(Duration::from_secs(240))
            .run()
    }

    /// Nothing of this repository's workflows is left: containers, volumes, networks.
    #[track_caller]
    pub fn assert_nothing_left(&self, out: &Outcome) {
        assert_nothing_left(&self.name, out);
    }

    /// Remove what bare act left (it keeps failed jobs' containers).
    pub fn remove_leftovers(&self) {
        let ls = Cmd::new("docker")
            .args(["ps", "-a", "-q", "--filter"])
            .arg(format!("name=act-{}", self.name))
            .timeout(Duration::from_secs(30))
            .run();
        for id in ls.stdout.split_whitespace() {
            let _ = Cmd::new("docker")
                .args(["rm", "-f", "-v", id])
                .timeout(Duration::from_secs(30))
                .run();
        }
        let ls = Cmd::new("docker")
            .args(["volume", "ls", "-q", "--filter"])
            .arg(format!("name=act-{}", self.name))
            .timeout(Duration::from_secs(30))
            .run();
        for id in ls.stdout.split_whitespace() {
            let _ = Cmd::new("docker")
                .args(["volume", "rm", "-f", id])
                .timeout(Duration::from_secs(30))
                .run();
        }
    }
}

/// Nothing named after the workflow `name` is left in the daemon (act's `act-<name>-…`
/// containers, volumes and networks).
#[track_caller]
pub fn assert_nothing_left(name: &str, out: &Outcome) {
    let filter = format!("name=act-{name}");
    for what in [
        &["ps", "-a", "-q", "--filter"][..],
        &["volume", "ls", "-q", "--filter"][..],
        &["network", "ls", "-q", "--filter"][..],
    ] {
        let ls = Cmd::new("docker")
            .args(what)
            .arg(&filter)
            .timeout(Duration::from_secs(30))
            .run();
        ls.assert_success();
        assert!(
            ls.stdout.trim().is_empty(),
            "left behind ({}): {}\n{out}",
            what.join(" "),
            ls.stdout
        );
    }
}

/// The jobs of a run's JSON document.
pub fn jobs(json: &Value) -> &Vec<Value> {
    json["jobs"].as_array().expect("jobs")
}

/// The one job whose `job` is `name`.
#[track_caller]
pub fn job<'a>(json: &'a Value, name: &str) -> &'a Value {
    let found: Vec<&Value> = jobs(json).iter().filter(|j| j["job"] == name).collect();
    assert_eq!(found.len(), 1, "exactly one job {name}: {json:#}");
    found[0]
}

#[test]
fn run_jobs_with_ids_of_different_lengths_are_listed_once_each_with_trimmed_names() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo short\n  a-much-longer-job-id:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo long\n  named:\n    name: Named  Job\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo named\n",
    )]) else {
        return;
    };
    let out = repo.run(&["--format", "json"]).run();
    out.assert_code(exit::OK);
    let json = out.json();
    assert_eq!(jobs(json).len(), 3, "{out}");
    for (name, id) in [
        ("a", "a"),
        ("a-much-longer-job-id", "a-much-longer-job-id"),
        ("Named  Job", "named"),
    ] {
        let j = job(json, name);
        assert_eq!(j["status"], "success", "{out}");
        assert_eq!(j["job_id"], id, "{out}");
        assert_eq!(j["workflow"], repo.name.as_str(), "{out}");
    }
    assert!(json["reason"].is_null(), "{out}");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_matrix_whose_failing_leg_ends_first_fails_only_that_leg() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n    strategy:\n      fail-fast: false\n      matrix:\n        n: [1, 2]\n    steps:\n      - name: check\n        run: |\n          if [ ${{ matrix.n }} = 1 ]; then echo leg-one-fails; exit 4; fi\n          sleep 3; echo leg-two-ok\n",
    )]) else {
        return;
    };
    let out = repo.run(&["--format", "json"]).run();
    out.assert_code(exit::FAILED);
    let json = out.json();
    assert_eq!(jobs(json).len(), 2, "{out}");
    let one = job(json, "test-1");
    assert_eq!(one["status"], "failure", "{out}");
    assert_eq!(one["matrix"]["n"], 1, "{out}");
    assert_eq!(one["failed_step"]["name"], "check", "{out}");
    assert_eq!(one["failed_step"]["exit_code"], 4, "{out}");
    assert_eq!(one["cause"]["kind"], "step_exit", "{out}");
    let two = job(json, "test-2");
    assert_eq!(
        two["status"], "success",
        "act failed the matrix, not this leg: {out}"
    );
    assert!(
        two["notes"][0].as_str().unwrap().contains("another leg"),
        "{out}"
    );
    let reason = json["reason"].as_str().unwrap();
    assert!(reason.contains("/test-1 (n=1)"), "{reason}");
    assert!(!reason.contains("test-2"), "{reason}");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_continue_on_error_is_a_note_and_the_annotation_keeps_file_and_line() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  lenient:\n    runs-on: ubuntu-latest\n    steps:\n      - name: may fail\n        run: exit 2\n        continue-on-error: true\n      - run: echo after\n  strict:\n    runs-on: ubuntu-latest\n    steps:\n      - name: lint\n        run: |\n          echo checking\n          echo '::error file=src/lib.rs,line=3::unused variable'\n          exit 5\n",
    )]) else {
        return;
    };
    let human = repo.run(&[]).run();
    human
        .assert_code(exit::FAILED)
        .assert_stderr_contains("error src/lib.rs:3: unused variable")
        .assert_stderr_contains("note: step \"may fail\" failed; continue-on-error")
        .assert_stderr_contains("lenient succeeded")
        .assert_stderr_lacks("::error:: unused");
    repo.assert_nothing_left(&human);
    let out = repo.run(&["--format", "json"]).run();
    out.assert_code(exit::FAILED);
    let json = out.json();
    let lenient = job(json, "lenient");
    assert_eq!(lenient["status"], "success", "{out}");
    assert!(lenient["failed_step"].is_null(), "{out}");
    assert!(
        lenient["notes"][0]
            .as_str()
            .unwrap()
            .contains("continue-on-error"),
        "{out}"
    );
    let strict = job(json, "strict");
    assert_eq!(strict["status"], "failure", "{out}");
    let f = &strict["failed_step"];
    assert_eq!(f["name"], "lint", "{out}");
    assert_eq!(f["exit_code"], 5, "{out}");
    assert_eq!(f["errors"][0]["file"], "src/lib.rs", "{out}");
    assert_eq!(f["errors"][0]["line"], 3, "{out}");
    assert_eq!(f["errors"][0]["message"], "unused variable", "{out}");
    assert_eq!(strict["cause"]["kind"], "step_exit", "{out}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("step \"lint\" exited with code 5"),
        "{out}"
    );
    repo.assert_nothing_left(&out);
}

/// A composite action beside the workflows (`.github/workflows/comp/action.yml`): act
/// reads it as a workflow when it recurses (and refuses it: exit 1 with its own error),
/// not with `--no-recurse`. actsim never stops before act for it, and says what act says.
#[test]
fn run_composite_action_beside_the_workflows_with_and_without_no_recurse() {
    let Some(repo) = Repo::new(&[
        (
            ".github/workflows/ci.yml",
            "name: @NAME@\non: push\njobs:\n  use-comp:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: ./.github/workflows/comp\n",
        ),
        (
            ".github/workflows/comp/action.yml",
            "name: comp\ndescription: a composite beside the workflows\nruns:\n  using: composite\n  steps:\n    - run: echo from-the-composite\n      shell: sh\n",
        ),
    ]) else {
        return;
    };
    let out = repo.run(&["--format", "json", "--", "--no-recurse"]).run();
    out.assert_code(exit::OK)
        .assert_stderr_lacks("is not a workflow");
    assert_eq!(job(out.json(), "use-comp")["status"], "success", "{out}");
    repo.assert_nothing_left(&out);

    let bare = repo.act("push", &[]);
    repo.remove_leftovers();
    let out = repo.run(&["--format", "json"]).run();
    assert_eq!(out.code, bare.code, "actsim and act agree\n{out}\n{bare}");
    out.assert_code(exit::FAILED);
    let json = out.json();
    let reason = json["reason"].as_str().unwrap();
    assert!(reason.contains("act exited with code 1"), "{out}");
    assert!(
        reason.contains("action.yml"),
        "act's own error named: {out}"
    );
    assert!(
        job(json, "use-comp")["notes"][0]
            .as_str()
            .unwrap()
            .contains("act stopped before it started any job"),
        "{out}"
    );
    repo.assert_nothing_left(&out);
}

#[test]
fn run_nothing_to_run_stops_before_act_listing_what_exists() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: [pull_request]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo x\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo y\n",
    )]) else {
        return;
    };
    for args in [
        &["--format", "json", "--no-preflight"][..],
        &["--format", "json", "--no-preflight", "-j", "nosuchjob"],
    ] {
        let out = repo.run(args).run();
        out.assert_code(exit::FAILED)
            .assert_stderr_contains("act was not started")
            .assert_stderr_contains("jobs build, test")
            .assert_stderr_contains("on pull_request")
            .assert_stderr_lacks("running ");
        let json = out.json();
        assert!(json["log"].is_null(), "{out}");
        assert!(
            json["reason"].as_str().unwrap().contains("no workflow"),
            "{out}"
        );
        assert!(
            json["available"][0].as_str().unwrap().contains("ci.yml"),
            "{out}"
        );
        assert!(out.elapsed < Duration::from_secs(10), "{out}");
    }
    let empty = temp::dir();
    std::fs::create_dir_all(empty.path().join(".github/workflows")).unwrap();
    let out = Cmd::actsim()
        .args(["run", "--no-preflight", "--format", "json"])
        .current_dir(empty.path())
        .timeout(Duration::from_secs(60))
        .run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("no workflow in .github/workflows; act was not started");
    assert!(out.json()["reason"].is_string(), "{out}");
}

#[test]
fn run_label_act_maps_by_itself_goes_through_images_first() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  old:\n    runs-on: ubuntu-20.04\n    steps:\n      - run: echo x\n",
    )]) else {
        return;
    };
    let out = repo
        .run_actrc(
            &["--no-pull", "--no-preflight", "--format", "json"],
            "# none\n",
        )
        .run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("act maps it to its own default image node:16-buster-slim")
        .assert_stderr_contains("runs-on label ubuntu-20.04")
        .assert_stderr_lacks("running ");
    let json = out.json();
    assert_eq!(json["images"][0]["image"], "node:16-buster-slim", "{out}");
    assert_eq!(json["images"][0]["status"], "missing", "{out}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap()
            .contains("node:16-buster-slim")
    );
}

#[test]
fn run_remote_action_without_network_stops_before_act_naming_it() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: actions/setup-node@v4\n        with:\n          node-version: 20\n      - uses: someone/tool/sub@v2\n      - run: echo never\n",
    )]) else {
        return;
    };
    let out = repo.run(&["--format", "json", "--no-preflight"]).run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("act was not started")
        .assert_stderr_contains(&format!(
            "actions/setup-node@v4 (used by {}/build)",
            repo.name
        ))
        .assert_stderr_contains("someone/tool/sub@v2")
        .assert_stderr_contains("--local-repository actions/setup-node@v4=PATH")
        .assert_stderr_contains("--action-offline-mode")
        .assert_stderr_lacks("actions/checkout@v4 (")
        .assert_stderr_lacks("running ");
    assert!(out.elapsed < Duration::from_secs(15), "{out}");
    let json = out.json();
    let actions = json["actions"].as_array().unwrap();
    assert_eq!(
        actions.len(),
        2,
        "checkout of the repository itself is act's: {out}"
    );
    assert!(actions.iter().all(|a| a["status"] == "missing"), "{out}");
    assert!(
        json["reason"].as_str().unwrap().contains("setup-node"),
        "{out}"
    );

    // A warm cache alone is not enough (act fetches again); with --action-offline-mode it is.
    for dir in ["actions-setup-node@v4", "someone-tool-sub@v2"] {
        std::fs::create_dir_all(repo.cache.path().join("act").join(dir)).unwrap();
    }
    let out = repo.run(&["--format", "json", "--no-preflight"]).run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("in act's cache")
        .assert_stderr_contains("actsim run -- --action-offline-mode");
}

/// A remote action actsim cannot see before the run (inside a local composite action):
/// act fails to clone it, and the classifier names it.
#[test]
fn run_remote_action_inside_a_composite_is_named_as_the_cause() {
    let Some(repo) = Repo::new(&[
        (
            ".github/workflows/ci.yml",
            "name: @NAME@\non: push\njobs:\n  setup:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n      - uses: ./.github/actions/wrap\n",
        ),
        (
            ".github/actions/wrap/action.yml",
            "name: wrap\ndescription: wraps a remote action\nruns:\n  using: composite\n  steps:\n    - uses: actions/setup-node@v4\n",
        ),
    ]) else {
        return;
    };
    let out = repo.run(&["--format", "json"]).run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("the remote action actions/setup-node@v4 cannot be fetched")
        .assert_stderr_contains("--local-repository");
    let json = out.json();
    let j = job(json, "setup");
    assert_eq!(j["status"], "failure", "{out}");
    assert_eq!(j["cause"]["kind"], "action_fetch", "{out}");
    assert!(
        j["cause"]["lines"][0]
            .as_str()
            .unwrap()
            .contains("actions/setup-node"),
        "{out}"
    );
    repo.assert_nothing_left(&out);
}

#[test]
fn run_image_without_bash_names_the_image_and_shell_sh() {
    let Some(nobash) = nobash_image() else {
        return;
    };
    let Some(repo) = Repo::with_image(
        &[(
            ".github/workflows/ci.yml",
            "name: @NAME@\non: push\njobs:\n  plain:\n    runs-on: ubuntu-latest\n    steps:\n      - name: hello\n        run: echo hi\n",
        )],
        Some(nobash.clone()),
    ) else {
        return;
    };
    let out = repo.run(&["--format", "json"]).run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains(&format!("the image {nobash} has no bash"))
        .assert_stderr_contains("shell: sh");
    let j = job(out.json(), "plain");
    assert_eq!(j["cause"]["kind"], "no_bash", "{out}");
    assert_eq!(j["failed_step"]["name"], "hello", "{out}");
    assert_eq!(j["failed_step"]["exit_code"], 126, "{out}");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_absent_service_image_stops_before_act_naming_it() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  db:\n    runs-on: ubuntu-latest\n    services:\n      postgres:\n        image: asimv-absent/postgres:none\n    steps:\n      - run: echo never\n",
    )]) else {
        return;
    };
    let out = repo.run(&["--format", "json", "--no-preflight"]).run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("image asimv-absent/postgres:none (for a service container of")
        .assert_stderr_lacks("running ");
    let json = out.json();
    let images = json["images"].as_array().unwrap();
    assert!(
        images
            .iter()
            .any(|i| i["image"] == "asimv-absent/postgres:none" && i["status"] == "missing"),
        "{out}"
    );
    assert!(
        json["reason"].as_str().unwrap().contains("postgres"),
        "{out}"
    );
    repo.assert_nothing_left(&out);
}

#[test]
fn run_daemon_error_is_named_with_the_daemons_message() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  tiny:\n    runs-on: ubuntu-latest\n    container:\n      image: @IMAGE@\n      options: --memory 1k\n    steps:\n      - run: echo never\n",
    )]) else {
        return;
    };
    let out = repo.run(&["--format", "json"]).run();
    out.assert_code(exit::FAILED);
    let j = job(out.json(), "tiny");
    assert_eq!(j["status"], "failure", "{out}");
    assert_eq!(j["cause"]["kind"], "daemon", "{out}");
    assert!(
        j["cause"]["lines"][0]
            .as_str()
            .unwrap()
            .to_lowercase()
            .contains("memory"),
        "{out}"
    );
    repo.assert_nothing_left(&out);
}

#[test]
fn run_step_timeout_minutes_is_named() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  slow:\n    runs-on: ubuntu-latest\n    steps:\n      - name: hang\n        timeout-minutes: 1\n        run: sleep 600\n",
    )]) else {
        return;
    };
    let out = repo.run(&["--format", "json"]).run();
    out.assert_code(exit::FAILED)
        .assert_stderr_contains("step \"hang\" reached its timeout-minutes");
    let j = job(out.json(), "slow");
    assert_eq!(j["status"], "failure", "{out}");
    assert_eq!(j["cause"]["kind"], "step_timeout", "{out}");
    repo.assert_nothing_left(&out);
}

#[test]
fn run_timeout_cancels_the_running_job_and_names_it_in_the_reason() {
    let Some(repo) = Repo::new(&[(
        ".github/workflows/ci.yml",
        "name: @NAME@\non: push\njobs:\n  forever:\n    runs-on: ubuntu-latest\n    steps:\n      - name: hang\n        run: echo started; sleep 100000\n",
    )]) else {
        return;
    };
    let out = repo.run(&["--format", "json", "--timeout", "8"]).run();
    out.assert_code(exit::TIMEOUT);
    let json = out.json();
    let j = job(json, "forever");
    assert_eq!(j["status"], "cancelled", "{out}");
    assert_eq!(j["cause"]["kind"], "cancelled", "{out}");
    let reason = json["reason"].as_str().unwrap();
    assert!(reason.contains("--timeout 8s"), "{reason}");
    repo.assert_nothing_left(&out);
}
