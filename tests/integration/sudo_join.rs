//! The group step's `sudo` path for real: a temporary user (not root, not in the socket's
//! group) runs `actsim setup` against a socket proxy owned by a temporary group, with
//! Debian's sudo. With `--yes` setup runs `sudo -n usermod -aG GROUP USER`: it succeeds
//! with a `NOPASSWD` rule (a file in /etc/sudoers.d with a unique name, removed afterwards)
//! and exits 5 with the exact command without one. Without `--yes`, on a terminal, sudo
//! asks its own password prompt.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::SYSTEM_PATH;
use crate::support::images::busybox_platform_image;
use crate::support::mirror::Mirror;
use crate::support::proxy::SocketProxy;
use crate::support::pty::Pty;
use crate::support::report::step;
use crate::support::users::{TempGroup, TempUser, require_root};
use crate::support::{Cmd, actsim_for_others, exit, fixtures, require_daemon};

/// `true` when sudo is installed; else skip (or fail under CI; scripts/test.sh installs it).
fn require_sudo() -> bool {
    if std::path::Path::new("/usr/bin/sudo").exists() {
        true
    } else {
        fixtures::skip("sudo is not installed (scripts/test.sh installs it)")
    }
}

static RULES: AtomicUsize = AtomicUsize::new(0);

/// `/etc/sudoers.d/actsim-test-<pid>-<n>`: `USER ALL=(root) NOPASSWD: ALL`, checked with
/// `visudo -cf`, removed when dropped. (sudo skips names with a dot, so none has one.)
struct SudoRule {
    path: PathBuf,
}

impl SudoRule {
    fn nopasswd(user: &str) -> SudoRule {
        let path = PathBuf::from(format!(
            "/etc/sudoers.d/actsim-test-{}-{}",
            std::process::id(),
            RULES.fetch_add(1, Ordering::SeqCst)
        ));
        let rule = SudoRule { path };
        std::fs::write(&rule.path, format!("{user} ALL=(root) NOPASSWD: ALL\n"))
            .unwrap_or_else(|e| panic!("writing {}: {e}", rule.path.display()));
        crate::support::temp::chmod(&rule.path, 0o440);
        Cmd::new("visudo")
            .args(["-c", "-f"])
            .arg(&rule.path)
            .timeout(Duration::from_secs(20))
            .run()
            .assert_success();
        rule
    }
}

impl Drop for SudoRule {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// The members `/etc/group` lists for `group`.
fn members(group: &str) -> Vec<String> {
    let text = std::fs::read_to_string("/etc/group").unwrap();
    text.lines()
        .find(|l| l.split(':').next() == Some(group))
        .and_then(|l| l.split(':').nth(3))
        .map(|m| {
            m.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// What every sudo test needs: root (to make users), sudo, the daemon, a mirror, a
/// temporary group owning a proxy to the daemon's socket and a user not in it.
struct Scene {
    mirror: Mirror,
    image: String,
    group: TempGroup,
    user: TempUser,
    proxy: SocketProxy,
}

impl Scene {
    fn new() -> Option<Scene> {
        if !require_root() || !require_sudo() || !require_daemon() {
            return None;
        }
        let image = busybox_platform_image()?;
        let mirror = Mirror::start()?;
        let group = TempGroup::new();
        let user = TempUser::new();
        let proxy = SocketProxy::to_docker(group.gid);
        Some(Scene {
            mirror,
            image,
            group,
            user,
            proxy,
        })
    }

    /// `actsim setup --yes --no-check --format json` run by the user themselves.
    fn setup_yes(&self) -> Cmd {
        Cmd::actsim()
            .as_user(&self.user.name)
            .args(["setup", "--yes", "--no-check", "--format", "json"])
            .arg("--act-base-url")
            .arg(self.mirror.base_url())
            .args(["--platform-image", &self.image])
            .env("HOME", &self.user.home)
            .env("DOCKER_HOST", self.proxy.host())
            .env("PATH", SYSTEM_PATH)
            .timeout(Duration::from_secs(300))
    }

    fn join_command(&self) -> String {
        format!("sudo usermod -aG {} {}", self.group.name, self.user.name)
    }
}

#[test]
fn sudo_join_with_a_nopasswd_rule_adds_the_user_through_sudo_n() {
    let Some(s) = Scene::new() else { return };
    let _rule = SudoRule::nopasswd(&s.user.name);
    let out = s.setup_yes().run();
    out.assert_success();
    let group = step(&out, "group");
    assert_eq!(group["status"], "changed", "{out}");
    assert!(
        members(&s.group.name).contains(&s.user.name),
        "sudo -n usermod must have added {} to {}\n{out}",
        s.user.name,
        s.group.name
    );
}

#[test]
fn sudo_join_without_a_rule_exits_5_with_the_exact_command() {
    let Some(s) = Scene::new() else { return };
    let out = s.setup_yes().run();
    out.assert_code(exit::PRIVILEGE);
    out.assert_stderr_contains(&s.join_command());
    assert_eq!(step(&out, "group")["status"], "failed", "{out}");
    assert!(!members(&s.group.name).contains(&s.user.name), "{out}");
    assert!(!s.user.home.join(".config/actsim/.env").exists(), "{out}");
}

#[test]
fn sudo_join_on_a_terminal_shows_sudos_own_prompt() {
    let Some(s) = Scene::new() else { return };
    let mut cmd = std::process::Command::new("setpriv");
    cmd.arg(format!("--reuid={}", s.user.uid))
        .arg(format!("--regid={}", s.user.gid))
        .arg("--init-groups")
        .arg("--")
        .arg(actsim_for_others())
        .args(["setup", "--no-check", "--act-base-url"])
        .arg(s.mirror.base_url())
        .args(["--platform-image", &s.image])
        .env_clear()
        .env("HOME", &s.user.home)
        .env("USER", &s.user.name)
        .env("LOGNAME", &s.user.name)
        .env("DOCKER_HOST", s.proxy.host())
        .env("PATH", SYSTEM_PATH)
        .env("TERM", "xterm")
        .env("NO_COLOR", "1")
        .current_dir(&s.user.home);
    let mut pty = Pty::spawn(cmd);
    pty.expect("Apply this plan?", Duration::from_secs(120));
    assert!(
        pty.output().contains(&s.group.name),
        "the plan names the group\n{}",
        pty.output()
    );
    pty.send("y");
    pty.expect(
        &format!("[sudo] password for {}", s.user.name),
        Duration::from_secs(120),
    );
    // No password to give: interrupt, and nothing was joined.
    pty.send("\x03");
    let code = pty.wait(Duration::from_secs(60));
    assert_ne!(code, Some(0), "{}", pty.output());
    assert!(
        !members(&s.group.name).contains(&s.user.name),
        "{}",
        pty.output()
    );
}
