//! `actsim run` against hostile repositories and a hostile machine (issue 16, findings 6, 7,
//! 8, 10 and 11): alias bombs under a memory cap, workflow names that steer act's container
//! names, containers of other users created during a run, control sequences in names and
//! output, secrets in a step's output, a daemon whose answer never ends, a planted link in
//! the log directory's parents.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::SYSTEM_PATH;
use crate::support::cmd::{Cmd, Outcome};
use crate::support::fixtures::require_daemon;
use crate::support::images::busybox_platform_image;
use crate::support::temp::{self, BinDir};
use crate::support::users::{TempUser, require_root};

/// Finding 7's bomb: nine levels of nine aliases each (9^9 nodes from 416 bytes).
const ALIAS_BOMB: &str = include_str!("../hostile/alias-bomb.yml");

/// `actsim run` under `prlimit --as` (1 GiB of address space: the bomb needs gigabytes).
fn capped_run(repo: &Path, args: &[&str]) -> Cmd {
    Cmd::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_actsim"))
        .arg("run")
        .args(args)
        .current_dir(repo)
        .timeout(Duration::from_secs(60))
}

#[test]
fn run_alias_bomb_ends_quickly_naming_the_file_within_a_memory_cap() {
    let dir = temp::dir();
    let bomb = ALIAS_BOMB;
    assert!(bomb.len() < 500, "{}", bomb.len());
    temp::write(&dir.path().join(".github/workflows/bomb.yml"), bomb);
    let out = capped_run(dir.path(), &["--no-preflight", "--timeout", "20"]).run();
    out.assert_code(1)
        .assert_stderr_contains("bomb.yml")
        .assert_stderr_contains("aliases");
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
}

/// `doctor --timeout 5` against a daemon whose `/version` answer never ends: a clear
/// failure within the timeout, memory capped (before, it grew to 1.4 GB).
#[test]
fn doctor_daemon_whose_answer_never_ends_fails_within_a_memory_cap() {
    let endless = crate::support::sockets::FaultSocket::endless();
    let out = Cmd::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_actsim"))
        .args(["doctor", "--format", "json", "--timeout", "5"])
        .env("DOCKER_HOST", endless.host())
        .timeout(Duration::from_secs(60))
        .run();
    assert!(matches!(out.code, Some(1..=3)), "{out}");
    out.assert_status("docker.daemon", "fail")
        .assert_check_mentions("docker.daemon", "larger than");
    assert!(out.elapsed < Duration::from_secs(15), "{out}");
}

/// A repository whose one workflow is `name`, with `jobs` under `jobs:`; act on PATH and
/// an actrc mapping `ubuntu-latest` to the busybox platform image.
struct Repo {
    dir: temp::TempDir,
    bin: BinDir,
    image: String,
}

impl Repo {
    fn new(name: &str, jobs: &str) -> Option<Repo> {
        if !require_daemon() {
            return None;
        }
        let image = busybox_platform_image()?;
        let bin = BinDir::healthy()?;
        let dir = temp::dir();
        temp::write(
            &dir.path().join(".github/workflows/ci.yml"),
            &format!("name: {name}\non: push\njobs:\n{jobs}"),
        );
        Some(Repo { dir, bin, image })
    }

    fn run(&self, args: &[&str]) -> Cmd {
        let cmd = Cmd::actsim()
            .arg("run")
            .arg("--no-preflight")
            .args(args)
            .current_dir(self.dir.path())
            .env(
                "PATH",
                format!("{}:{SYSTEM_PATH}", self.bin.path().display()),
            )
            .timeout(Duration::from_secs(120));
        let xdg = cmd.home().join(".config");
        temp::write(
            &xdg.join("act/actrc"),
            &format!("-P ubuntu-latest={}\n", self.image),
        );
        cmd.env("XDG_CONFIG_HOME", xdg)
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A name no other test (or test process) uses.
fn unique() -> String {
    format!(
        "asec{}w{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::SeqCst)
    )
}

fn docker(args: &[&str]) -> crate::support::cmd::Outcome {
    Cmd::new("docker")
        .args(args)
        .timeout(Duration::from_secs(30))
        .run()
}

/// act's name for a job container (act's `createContainerName("act", "<wf>/<job>")`).
fn act_name(workflow: &str, job: &str) -> String {
    use sha2::Digest;
    let joined = format!("act-{workflow}/{job}");
    let s: String = joined
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.replace("--", "-");
    let hash = hex::encode(sha2::Sha256::digest(s.as_bytes()));
    format!("{}-{hash}", s[..s.len().min(63)].trim_matches('-'))
}

/// Once a container named `name` exists, create the foreign `containers` and `volumes`
/// (as another user's process would, during the run); returns when they exist.
fn during_run(
    name: String,
    image: String,
    containers: Vec<String>,
    volumes: Vec<String>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let deadline = std::time::Instant::now() + Duration::from_secs(90);
        while std::time::Instant::now() < deadline {
            let ls = docker(&["ps", "-a", "-q", "--filter", &format!("name=^{name}$")]);
            if !ls.stdout.trim().is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        for c in &containers {
            docker(&[
                "create",
                "--name",
                c,
                "--label",
                "io.actsim.run=forged",
                &image,
                "true",
            ])
            .assert_success();
        }
        for v in &volumes {
            docker(&["volume", "create", v]).assert_success();
        }
    })
}

/// Each exists (then removed).
#[track_caller]
fn assert_still_there_then_remove(containers: &[String], volumes: &[String], out: &Outcome) {
    let mut missing = Vec::new();
    for c in containers {
        if docker(&["container", "inspect", c]).code != Some(0) {
            missing.push(c.clone());
        }
        docker(&["rm", "-f", c]);
    }
    for v in volumes {
        if docker(&["volume", "inspect", v]).code != Some(0) {
            missing.push(v.clone());
        }
        docker(&["volume", "rm", "-f", v]);
    }
    assert!(
        missing.is_empty(),
        "another user's {missing:?} removed by the run\n{out}"
    );
}

/// Nothing named `act_name` (the run's own container, its `-env` volume) is left.
#[track_caller]
fn assert_run_left_nothing(act_name: &str, out: &Outcome) {
    for what in [
        &["ps", "-a", "-q", "--filter"][..],
        &["volume", "ls", "-q", "--filter"][..],
    ] {
        let mut args = what.to_vec();
        let filter = format!("name={act_name}");
        args.push(&filter);
        let ls = docker(&args);
        assert!(
            ls.stdout.trim().is_empty(),
            "left behind ({what:?}): {}\n{out}",
            ls.stdout
        );
    }
}

/// Run `repo`'s failing job (its container `own`) while another process creates
/// `containers` and `volumes`: those are still there afterwards, and nothing of the run is.
fn run_while_another_creates(
    repo: &Repo,
    own: &str,
    containers: Vec<String>,
    volumes: Vec<String>,
) {
    let other = during_run(
        own.to_string(),
        repo.image.clone(),
        containers.clone(),
        volumes.clone(),
    );
    let out = repo.run(&[]).run();
    other.join().unwrap();
    out.assert_code(1);
    assert_still_there_then_remove(&containers, &volumes, &out);
    assert_run_left_nothing(own, &out);
}

const FAILING_JOB: &str =
    "    runs-on: ubuntu-latest\n    steps:\n      - run: sleep 4\n      - run: exit 3\n";

#[test]
fn run_cleanup_leaves_another_users_containers_and_volumes_named_like_its_own() {
    let wf = unique();
    let Some(repo) = Repo::new(&wf, &format!("  build:\n{FAILING_JOB}")) else {
        return;
    };
    let own = act_name(&wf, "build");
    let containers = vec![
        format!("act-{wf}-buildx-{}", std::process::id()),
        format!("act-{wf}-build-other"),
        act_name(&wf, "buildx"),
    ];
    let volumes = vec![
        format!("act-{wf}-buildx-env"),
        format!("{}-env", act_name(&wf, "buildx")),
    ];
    run_while_another_creates(&repo, &own, containers, volumes);
}

#[test]
fn run_workflow_named_dash_does_not_make_every_act_container_its_own() {
    let Some(repo) = Repo::new(
        "\"-\"",
        &format!("  build:\n    name: \"-\"\n{FAILING_JOB}"),
    ) else {
        return;
    };
    let own = act_name("-", "-");
    let id = unique();
    let containers = vec![format!("act-{id}"), format!("act-{id}-build-x")];
    let volumes = vec![format!("act-{id}-env")];
    run_while_another_creates(&repo, &own, containers, volumes);
}

#[test]
fn run_workflow_named_with_a_slash_leaves_no_container_of_its_failed_job() {
    let id = unique();
    let wf = format!("{id} / lint");
    let Some(repo) = Repo::new(&wf, &format!("  lint:\n{FAILING_JOB}")) else {
        return;
    };
    let own = act_name(&wf, "lint");
    assert!(own.contains("--lint-lint-"), "{own}");
    let out = repo.run(&[]).run();
    out.assert_code(1)
        .assert_stderr_contains(&format!("removed: container {own}"));
    // By the workflow's unique part: nothing of any name act could have given it.
    assert_run_left_nothing(&format!("act-{id}"), &out);
}

/// act names a container with one `-` per non-ASCII character (not per byte): the
/// name actsim works out is the one act used, so the failed job's container goes.
#[test]
fn run_workflow_and_job_with_non_ascii_names_leave_nothing() {
    let id = unique();
    let wf = format!("{id} Prüfung ✓");
    let Some(repo) = Repo::new(&wf, &format!("  build:\n    name: bäu\n{FAILING_JOB}")) else {
        return;
    };
    let own = act_name(&wf, "bäu");
    assert!(own.starts_with(&format!("act-{id}-Pr-fung--b-u-")), "{own}");
    let out = repo.run(&[]).run();
    out.assert_code(1)
        .assert_stderr_contains(&format!("removed: container {own}"));
    assert_run_left_nothing(&format!("act-{id}"), &out);
}

#[test]
fn run_control_sequences_in_names_and_secrets_in_output_stay_out_of_terminal_and_log() {
    let wf = unique();
    let name = format!("\"{wf} \\e]0;title\\a \\e[2K\"");
    let Some(repo) = Repo::new(
        &name,
        "  build:\n    name: \"b \\e]0;jobtitle\\a \\e[2K\"\n    runs-on: ubuntu-latest\n    steps:\n      - run: |\n          printf 'out \\033]0;steptitle\\007 \\033[2K\\n'\n          echo 'Authorization: Bearer s3cr3tT0k3nV4lu3xyz'\n          exit 3\n",
    ) else {
        return;
    };
    let logs = temp::dir();
    let out = repo
        .run(&["--log-dir", &logs.path().display().to_string()])
        .run();
    out.assert_code(1);
    assert!(
        !out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{7}'),
        "raw control characters on stderr:\n{:?}",
        out.stderr
    );
    assert!(out.stderr.contains(&wf), "{out}");
    let mut text = String::new();
    for e in std::fs::read_dir(logs.path()).unwrap().flatten() {
        text.push_str(&std::fs::read_to_string(e.path()).unwrap());
    }
    assert!(text.contains(&wf), "no log written: {out}");
    assert!(
        !text.contains("s3cr3tT0k3nV4lu3xyz"),
        "secret in the run log:\n{text}"
    );
    assert!(
        !text.contains('\u{1b}') && !text.contains('\u{7}'),
        "raw control characters in the run log:\n{text:?}"
    );
    let own = act_name(
        &format!("{wf} \u{1b}]0;title\u{7} \u{1b}[2K"),
        "b \u{1b}]0;jobtitle\u{7} \u{1b}[2K",
    );
    assert_run_left_nothing(&own, &out);
}

/// Finding 11: `sudo actsim run` for U, whose state directory's parent is a link U
/// planted to a root-owned directory: root creates nothing there (the run goes on without
/// a log file).
#[test]
fn run_under_sudo_does_not_follow_a_link_planted_in_the_log_dirs_parents() {
    if !require_root() {
        return;
    }
    let wf = unique();
    let Some(repo) = Repo::new(
        &wf,
        "  ok:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo fine\n",
    ) else {
        return;
    };
    let user = TempUser::new();
    let victim = temp::dir();
    let local = user.home.join(".local");
    std::fs::create_dir_all(&local).unwrap();
    let link = local.join("state");
    std::os::unix::fs::symlink(victim.path(), &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(user.uid), Some(user.gid)).unwrap();
    temp::chown_r(&user.home, user.uid, user.gid);
    let out = repo
        .run(&["--platform-image", &repo.image])
        .env("SUDO_USER", &user.name)
        .run();
    let planted: Vec<_> = std::fs::read_dir(victim.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert!(
        planted.is_empty(),
        "root wrote through the planted link: {planted:?}\n{out}"
    );
    out.assert_stderr_contains("no log file");
}
