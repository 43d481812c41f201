//! Issue 16's privilege boundary, attacked for real: root runs actsim for a temporary
//! user U, and U's own programs (a fake `act`, a fake compose plugin in U's docker config)
//! dump what they can see. What they must not see: a descriptor root held open on a
//! root-only file, root's terminal, root's tokens and proxy credentials. Root must never
//! run a program from a place U can write, whatever `$HOME` says.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::SYSTEM_PATH;
use crate::support::cmd::actsim_for_others;
use crate::support::pty::Pty;
use crate::support::temp::{self, TempDir};
use crate::support::users::{TempUser, require_root};

const TOKEN: &str = "ghp_halvesTOKEN1234567890abcdef";
const PROXY_PASSWORD: &str = "proxyPassw0rdHalves";

/// A root-only secret (0600 in a 0700 dir) and a user.
struct Scene {
    user: TempUser,
    root: TempDir,
    secret: Vec<u8>,
}

impl Scene {
    fn new() -> Option<Scene> {
        if !require_root() {
            return None;
        }
        let root = temp::dir();
        let vault = root.path().join("vault");
        std::fs::create_dir(&vault).unwrap();
        temp::chmod(&vault, 0o700);
        let secret = format!("root-only-{}\n", std::process::id()).into_bytes();
        std::fs::write(vault.join("secret"), &secret).unwrap();
        temp::chmod(&vault.join("secret"), 0o600);
        Some(Scene {
            user: TempUser::new(),
            root,
            secret,
        })
    }

    fn secret_path(&self) -> PathBuf {
        self.root.path().join("vault/secret")
    }

    /// An executable of U's at `path` (dirs created, all U's) that writes what it sees into
    /// `~U/seen-NAME`: its ids, environment, open descriptors, fd 7, its terminal.
    fn plant_spy(&self, path: &Path, name: &str, prelude: &str) {
        let script = format!(
            "#!/bin/sh\n{prelude}\n{{ id; env; ls -l /proc/$$/fd; echo fd7:; cat <&7; echo tty:; tty; cat /dev/tty; }} > \"$HOME/seen-{name}\" 2>&1\necho 'act version 0.2.89'\n"
        );
        let mut dir = path.parent().unwrap().to_path_buf();
        let mut dirs = Vec::new();
        while !dir.exists() {
            dirs.push(dir.clone());
            dir = dir.parent().unwrap().to_path_buf();
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, script).unwrap();
        temp::chmod(path, 0o755);
        for d in dirs {
            std::os::unix::fs::chown(&d, Some(self.user.uid), Some(self.user.gid)).unwrap();
        }
        std::os::unix::fs::chown(path, Some(self.user.uid), Some(self.user.gid)).unwrap();
    }

    fn seen(&self, name: &str) -> Option<String> {
        std::fs::read_to_string(self.user.home.join(format!("seen-{name}"))).ok()
    }

    /// What U's program saw holds nothing of root's.
    #[track_caller]
    fn assert_saw_nothing_of_roots(&self, seen: &str, context: &str) {
        let secret = String::from_utf8_lossy(&self.secret);
        assert!(
            !seen.contains(secret.trim()),
            "U's program read root's fd 7\n{seen}\n{context}"
        );
        assert!(
            !seen.contains(TOKEN),
            "root's token reached U\n{seen}\n{context}"
        );
        assert!(
            !seen.contains(PROXY_PASSWORD),
            "root's proxy password reached U\n{seen}\n{context}"
        );
        assert!(
            !seen.contains("vault/secret"),
            "a descriptor on root's file was open in U's program\n{seen}\n{context}"
        );
        assert!(
            !seen.contains("/dev/pts") || seen.contains("not a tty"),
            "U's program had root's terminal\n{seen}\n{context}"
        );
        assert!(seen.contains(&format!("uid={}", self.user.uid)), "{seen}");
    }

    /// Root runs `args` on a terminal ([`Scene::root_on_a_tty`]); U's spy `name` must have
    /// run and seen nothing of root's.
    #[track_caller]
    fn assert_spy_saw_nothing(&self, name: &str, args: &[&str]) {
        let (code, out) = self.root_on_a_tty(args);
        let seen = self
            .seen(name)
            .unwrap_or_else(|| panic!("U's {name} never ran (exit {code:?})\n{out}"));
        self.assert_saw_nothing_of_roots(&seen, &out);
    }

    /// `sh -c 'exec 7<SECRET; exec actsim ARGS'` as root on a terminal, with a token and
    /// proxy credentials in the environment.
    fn root_on_a_tty(&self, args: &[&str]) -> (Option<i32>, String) {
        let mut script = format!(
            "exec 7<'{}'; exec '{}'",
            self.secret_path().display(),
            actsim_for_others().display()
        );
        for a in args {
            script.push_str(&format!(" '{a}'"));
        }
        let mut cmd = std::process::Command::new("/bin/sh");
        cmd.args(["-c", &script])
            .env_clear()
            .env("PATH", SYSTEM_PATH)
            .env("HOME", "/root")
            .env("GITHUB_TOKEN", TOKEN)
            .env(
                "HTTPS_PROXY",
                format!("http://proxyuser:{PROXY_PASSWORD}@127.0.0.1:9"),
            )
            .env("DOCKER_HOST", "unix:///var/run/docker.sock")
            .env("ACTSIM_SYSTEM_STATE_DIR", self.root.path().join("state"));
        let mut pty = Pty::spawn(cmd);
        let code = pty.wait(Duration::from_secs(90));
        (code, pty.output())
    }
}

#[test]
fn halves_doctor_for_a_user_runs_their_act_without_roots_fd_env_or_tty() {
    let Some(s) = Scene::new() else { return };
    let bin = s.user.home.join("bin");
    s.plant_spy(&bin.join("act"), "act", "");
    s.assert_spy_saw_nothing(
        "act",
        &[
            "doctor",
            "--user",
            &s.user.name,
            "--bin-dir",
            &bin.display().to_string(),
            "--timeout",
            "20",
        ],
    );
}

#[test]
fn halves_root_never_runs_the_compose_plugin_of_the_home_it_is_given() {
    // `sudo -E actsim setup --user U`: HOME is U's, and U planted a compose plugin.
    let Some(s) = Scene::new() else { return };
    let plugin = s.user.home.join(".docker/cli-plugins/docker-compose");
    s.plant_spy(
        &plugin,
        "plugin",
        "[ \"$1\" = docker-cli-plugin-metadata ] && { echo '{\"SchemaVersion\":\"0.1.0\",\"Vendor\":\"x\",\"Version\":\"v2.99.0\"}'; exit 0; }",
    );
    let out = crate::support::Cmd::actsim()
        .args([
            "setup",
            "--dry-run",
            "--format",
            "json",
            "--user",
            &s.user.name,
        ])
        .args(["--act-version", "0.2.89", "--act-sha256"])
        .arg("0".repeat(64))
        .env("HOME", &s.user.home)
        .env("GITHUB_TOKEN", TOKEN)
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env("ACTSIM_SYSTEM_STATE_DIR", s.root.path().join("state"))
        .env("PATH", SYSTEM_PATH)
        .timeout(Duration::from_secs(120))
        .run();
    if let Some(seen) = s.seen("plugin") {
        assert!(
            !seen.contains("uid=0("),
            "root ran U's compose plugin as uid 0\n{seen}\n{out}"
        );
        s.assert_saw_nothing_of_roots(&seen, &out.to_string());
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

/// Root's `actsim uninstall --yes --user U` (root's state dir in the scene).
fn uninstall_as_root(s: &Scene, extra: &[&str]) -> crate::support::Outcome {
    crate::support::Cmd::actsim()
        .args([
            "uninstall",
            "--format",
            "json",
            "--timeout",
            "20",
            "--user",
            &s.user.name,
        ])
        .args(extra)
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env("ACTSIM_SYSTEM_STATE_DIR", s.root.path().join("state"))
        .env("PATH", SYSTEM_PATH)
        .timeout(Duration::from_secs(90))
        .run()
}

#[test]
fn halves_finding_1_a_forged_receipt_never_steers_roots_uninstall() {
    let Some(s) = Scene::new() else { return };
    // Root's victims: a file U names with its (readable) hash, and a spool where U wants
    // a file of theirs to appear (as `/etc/cron.d/x` would).
    let victim = s.root.path().join("victim.conf");
    std::fs::write(&victim, b"root config\n").unwrap();
    temp::chmod(&victim, 0o644);
    let spool = s.root.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let planted = spool.join("x");
    let payload = s.user.home.join("payload");
    std::fs::write(&payload, b"* * * * * root touch /tmp/pwned\n").unwrap();
    std::os::unix::fs::chown(&payload, Some(s.user.uid), Some(s.user.gid)).unwrap();
    let state = s.user.home.join(".local/state/actsim");
    std::fs::create_dir_all(&state).unwrap();
    let receipt = serde_json::json!({
        "schema": 1,
        "act": {
            "version": "0.2.89", "asset": "act_Linux_x86_64.tar.gz", "source": "x",
            "archive_sha256": "0".repeat(64),
            "binary_sha256": sha256_hex(b"nothing"),
            "install_path": planted,
            "installed_at": "2026-01-01T00:00:00Z",
            "replaced": [{
                "path": planted, "sha256": sha256_hex(&std::fs::read(&payload).unwrap()),
                "backup": payload, "installed_by_actsim": false,
                "replaced_at": "2026-01-01T00:00:00Z"
            }]
        },
        "files": {
            "compose": { "path": victim, "sha256": sha256_hex(b"root config\n") },
            "env": { "path": s.secret_path(), "sha256": sha256_hex(&s.secret) }
        }
    });
    std::fs::write(state.join("receipt.json"), receipt.to_string()).unwrap();
    temp::chown_r(&s.user.home.join(".local"), s.user.uid, s.user.gid);
    let out = uninstall_as_root(&s, &["--yes"]);
    let m = std::fs::metadata(&victim).unwrap_or_else(|_| panic!("root's file was removed\n{out}"));
    assert_eq!(std::fs::read(&victim).unwrap(), b"root config\n", "{out}");
    use std::os::unix::fs::MetadataExt;
    assert_eq!((m.uid(), m.mode() & 0o7777), (0, 0o644), "{out}");
    assert_eq!(std::fs::read(s.secret_path()).unwrap(), s.secret, "{out}");
    assert!(
        !planted.exists(),
        "U's file appeared in root's spool\n{out}"
    );
    assert!(
        std::fs::read_dir(&spool).unwrap().next().is_none(),
        "something appeared in root's spool\n{out}"
    );
}

#[test]
fn halves_finding_8_an_oversized_receipt_ends_quickly_and_changes_nothing_of_roots() {
    let Some(s) = Scene::new() else { return };
    let state = s.user.home.join(".local/state/actsim");
    std::fs::create_dir_all(&state).unwrap();
    // 64 MiB of nesting and padding: bounded reads, as U.
    let mut big = String::from("{\"schema\":1,\"files\":");
    big.push_str(&"[".repeat(100_000));
    big.push_str(&" ".repeat(64 << 20));
    std::fs::write(state.join("receipt.json"), big).unwrap();
    temp::chown_r(&s.user.home.join(".local"), s.user.uid, s.user.gid);
    let started = std::time::Instant::now();
    let out = uninstall_as_root(&s, &["--yes"]);
    assert!(started.elapsed() < Duration::from_secs(30), "{out}");
    assert_eq!(std::fs::read(s.secret_path()).unwrap(), s.secret, "{out}");
}

#[test]
fn halves_finding_9_uninstall_for_one_user_keeps_what_another_still_uses() {
    use crate::support::mirror::Mirror;
    use crate::support::proxy::SocketProxy;
    use crate::support::users::TempGroup;
    let Some(s) = Scene::new() else { return };
    if crate::support::require_act().is_none() {
        return;
    }
    let Some(mirror) = Mirror::start() else {
        return;
    };
    let group = TempGroup::new();
    let proxy = SocketProxy::to_docker(group.gid);
    let other = TempUser::new();
    let bin = s.root.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let state = s.root.path().join("state");
    let setup = |user: &str| {
        crate::support::Cmd::actsim()
            .args([
                "setup",
                "--yes",
                "--format",
                "json",
                "--no-check",
                "--timeout",
                "60",
            ])
            .args(["--user", user])
            .arg("--act-base-url")
            .arg(mirror.base_url())
            .arg("--bin-dir")
            .arg(&bin)
            .env("DOCKER_HOST", proxy.host())
            .env("ACTSIM_SYSTEM_STATE_DIR", &state)
            .env("PATH", SYSTEM_PATH)
            .timeout(Duration::from_secs(180))
            .run()
    };
    setup(&s.user.name).assert_success();
    setup(&other.name).assert_success();
    let act = bin.join("act");
    let before = std::fs::read(&act).unwrap();
    let uninstall = |user: &str| {
        crate::support::Cmd::actsim()
            .args(["uninstall", "--yes", "--format", "json", "--timeout", "30"])
            .args(["--user", user])
            .env("DOCKER_HOST", proxy.host())
            .env("ACTSIM_SYSTEM_STATE_DIR", &state)
            .env("PATH", SYSTEM_PATH)
            .timeout(Duration::from_secs(120))
            .run()
    };
    let out = uninstall(&s.user.name);
    assert_eq!(
        std::fs::read(&act).ok().as_deref(),
        Some(before.as_slice()),
        "uninstall for one user removed the act another still uses\n{out}"
    );
    out.assert_stdout_contains(&other.name);
    let out = uninstall(&other.name);
    assert!(
        !act.exists(),
        "the last user's uninstall keeps root's act\n{out}"
    );
}

#[test]
fn halves_finding_5_a_binary_patched_after_verification_never_reaches_the_image() {
    use crate::support::mirror::Mirror;
    use crate::support::proxy::SocketProxy;
    use crate::support::users::TempGroup;
    let Some(s) = Scene::new() else { return };
    if crate::support::require_act().is_none() {
        return;
    }
    let Some(mirror) = Mirror::start() else {
        return;
    };
    let group = TempGroup::new();
    let proxy = SocketProxy::to_docker(group.gid);
    let bin = s.user.home.join(".local/bin");
    let state = s.root.path().join("state");
    // U rewrites the first bytes of every act-like file in their bin dir, in place (same
    // inode, same size), as fast as they can: staged, installed, whatever root verified.
    let racer = format!(
        "import os, time\nb='{}'\nwhile not os.path.exists(os.path.expanduser('~/stop')):\n    try:\n        for n in os.listdir(b):\n            p = os.path.join(b, n)\n            try:\n                with open(p, 'r+b') as f:\n                    f.write(b'\\x7fELF-PATCHED-BY-U')\n            except OSError:\n                pass\n    except OSError:\n        time.sleep(0.001)\n",
        bin.display()
    );
    std::fs::write(s.user.home.join("racer.py"), racer).unwrap();
    let mut child = std::process::Command::new("runuser")
        .args(["-u", &s.user.name, "--", "/usr/bin/python3"])
        .arg(s.user.home.join("racer.py"))
        .current_dir(&s.user.home)
        .spawn()
        .unwrap();
    let image = "actsim/act:0.2.89";
    for round in 0..4 {
        let out = crate::support::Cmd::actsim()
            .args([
                "setup",
                "--yes",
                "--format",
                "json",
                "--no-check",
                "--timeout",
                "60",
            ])
            .args(["--user", &s.user.name])
            .arg("--act-base-url")
            .arg(mirror.base_url())
            .arg("--bin-dir")
            .arg(&bin)
            .env("DOCKER_HOST", proxy.host())
            .env("ACTSIM_SYSTEM_STATE_DIR", &state)
            .env("PATH", SYSTEM_PATH)
            .timeout(Duration::from_secs(180))
            .run();
        // Whatever happened, an image labelled with a hash holds exactly those bytes.
        let label = crate::support::Cmd::new("docker")
            .args(["image", "inspect", "--format"])
            .arg("{{index .Config.Labels \"io.actsim.act-sha256\"}}")
            .arg(image)
            .env("PATH", SYSTEM_PATH)
            .run();
        if label.code != Some(0) {
            continue;
        }
        let label = label.stdout.trim().to_string();
        let name = format!("actsim-halves-{}-{round}", std::process::id());
        crate::support::Cmd::new("docker")
            .args(["create", "--name", &name, image, "/usr/local/bin/act"])
            .env("PATH", SYSTEM_PATH)
            .run()
            .assert_success();
        let dir = temp::dir();
        let copied = crate::support::Cmd::new("docker")
            .args(["cp", &format!("{name}:/usr/local/bin/act")])
            .arg(dir.path().join("act"))
            .env("PATH", SYSTEM_PATH)
            .run();
        let _ = crate::support::Cmd::new("docker")
            .args(["rm", "-f", &name])
            .env("PATH", SYSTEM_PATH)
            .run();
        copied.assert_success();
        let bytes = std::fs::read(dir.path().join("act")).unwrap();
        assert!(
            !bytes.windows(9).any(|w| w == b"PATCHED-B"),
            "round {round}: the image holds U's patched bytes\n{out}"
        );
        assert_eq!(
            sha256_hex(&bytes),
            label,
            "round {round}: label and content differ\n{out}"
        );
    }
    std::fs::write(s.user.home.join("stop"), b"").unwrap();
    let _ = child.wait();
}

#[test]
fn halves_setup_for_a_user_runs_their_act_without_roots_fd_env_or_tty() {
    let Some(s) = Scene::new() else { return };
    let bin = s.user.home.join("bin");
    s.plant_spy(&bin.join("act"), "setup-act", "");
    let zeros = "0".repeat(64);
    s.assert_spy_saw_nothing(
        "setup-act",
        &[
            "setup",
            "--dry-run",
            "--no-check",
            "--user",
            &s.user.name,
            "--bin-dir",
            &bin.display().to_string(),
            "--act-version",
            "0.2.89",
            "--act-sha256",
            &zeros,
            "--timeout",
            "20",
        ],
    );
}

#[test]
fn halves_doctor_for_a_user_shows_their_programs_control_sequences_escaped() {
    let Some(s) = Scene::new() else { return };
    let bin = s.user.home.join("bin");
    let act = bin.join("act");
    std::fs::create_dir_all(&bin).unwrap();
    // U's act answers --version with a title change, a line erase and a fake next line.
    std::fs::write(
        &act,
        "#!/bin/sh\nprintf 'act version 0.2.89\\033]0;owned\\007\\033[2K\\r\\n\\342\\200\\256 all checks passed\\n'\n",
    )
    .unwrap();
    temp::chmod(&act, 0o755);
    temp::chown_r(&bin, s.user.uid, s.user.gid);
    let out = crate::support::Cmd::actsim()
        .args([
            "doctor",
            "--user",
            &s.user.name,
            "--timeout",
            "20",
            "--bin-dir",
        ])
        .arg(&bin)
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env("ACTSIM_SYSTEM_STATE_DIR", s.root.path().join("state"))
        .env("PATH", SYSTEM_PATH)
        .timeout(Duration::from_secs(60))
        .run();
    assert!(
        !out.stderr.contains('\u{1b}') && !out.stderr.contains('\u{202e}'),
        "raw control sequences reached root's terminal\n{out}"
    );
}

#[test]
fn halves_doctor_fix_for_another_user_refuses_and_changes_nothing() {
    let Some(s) = Scene::new() else { return };
    let out = crate::support::Cmd::actsim()
        .args([
            "doctor",
            "--fix",
            "--yes",
            "--user",
            &s.user.name,
            "--timeout",
            "20",
        ])
        .env("DOCKER_HOST", "unix:///var/run/docker.sock")
        .env("ACTSIM_SYSTEM_STATE_DIR", s.root.path().join("state"))
        .env("PATH", SYSTEM_PATH)
        .timeout(Duration::from_secs(60))
        .run();
    out.assert_code(2);
    assert!(
        !s.root.path().join("state").exists(),
        "doctor --fix for another user wrote root's state\n{out}"
    );
    assert_eq!(std::fs::read(s.secret_path()).unwrap(), s.secret);
}

#[test]
fn halves_the_user_half_is_killed_with_its_group_at_the_deadline_and_its_output_capped() {
    use actsim::system::halves;
    if !require_root() {
        return;
    }
    let u = TempUser::new();
    let target = actsim::system::identity::TargetUser {
        name: u.name.clone(),
        uid: u.uid,
        gid: u.gid,
        home: u.home.clone(),
        is_current: false,
    };
    let started = std::time::Instant::now();
    let argv: Vec<String> = ["/bin/sh", "-c", "(sleep 300 &); id -u >&2; exec yes"]
        .map(String::from)
        .to_vec();
    let out = halves::run_program_as(
        &target,
        &actsim::system::process::Process::with_vars([("GITHUB_TOKEN", TOKEN)]),
        &argv,
        b"",
        std::time::Instant::now() + Duration::from_secs(2),
    )
    .unwrap();
    // Killed at the 2 s deadline, not after the 300 s sleep (generous: a loaded machine).
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "{:?}",
        started.elapsed()
    );
    assert!(out.timed_out && out.truncated);
    assert_eq!(out.stdout.len(), halves::MAX_STDOUT);
    assert_eq!(out.stderr_text().trim(), u.uid.to_string());
    // Alive, that is: a killed child reparented to a PID 1 that does not reap stays a zombie.
    // The kill was sent at the deadline; on a loaded machine dying takes a moment.
    let alive_now = || {
        let ps = std::process::Command::new("ps")
            .args(["-o", "pid=,stat=,cmd=", "-u", &u.uid.to_string()])
            .output()
            .unwrap();
        String::from_utf8_lossy(&ps.stdout)
            .lines()
            // Only what this test started: a uid is reused by other tests' temporary users.
            .filter(|l| l.contains("sleep 300") || l.ends_with(" yes"))
            .filter(|l| {
                l.split_whitespace()
                    .nth(1)
                    .is_some_and(|st| !st.starts_with('Z'))
            })
            .map(str::to_string)
            .collect::<Vec<String>>()
    };
    let until = std::time::Instant::now() + Duration::from_secs(10);
    let mut alive = alive_now();
    while !alive.is_empty() && std::time::Instant::now() < until {
        std::thread::sleep(Duration::from_millis(200));
        alive = alive_now();
    }
    assert!(
        alive.is_empty(),
        "processes of the user half outlived the deadline: {alive:?}"
    );
}
