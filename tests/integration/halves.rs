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
    let (code, out) = s.root_on_a_tty(&[
        "doctor",
        "--user",
        &s.user.name,
        "--bin-dir",
        &bin.display().to_string(),
        "--timeout",
        "20",
    ]);
    let seen = s
        .seen("act")
        .unwrap_or_else(|| panic!("U's act never ran (exit {code:?})\n{out}"));
    s.assert_saw_nothing_of_roots(&seen, &out);
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
