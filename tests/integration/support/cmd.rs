//! A fluent builder that runs the real `actsim` binary in a clean environment, with a
//! deadline, and an [`Outcome`] with assertion helpers whose messages show the output.
//!
//! The child gets: every `ACTSIM_*`, `DOCKER_*` and `XDG_*` variable and `SUDO_USER`
//! removed, `HOME` set to a fresh temp dir (owned by the user it runs as), `NO_COLOR=1`,
//! stdin from `/dev/null` unless told otherwise, and its own process group, which is
//! killed when the deadline passes (the test then fails with the output so far).

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::temp::{self, TempDir};

/// How the child runs: as root, as a user with the groups the database gives them, or as a
/// user with exactly the given groups.
#[derive(Debug, Clone)]
enum RunAs {
    Me,
    User {
        name: String,
        uid: u32,
        gid: u32,
        groups: Option<Vec<u32>>,
    },
}

pub struct Cmd {
    program: PathBuf,
    args: Vec<OsString>,
    env: Vec<(OsString, Option<OsString>)>,
    cwd: Option<PathBuf>,
    stdin: Option<Vec<u8>>,
    timeout: Duration,
    home: TempDir,
    /// Root's state dir for this run (`ACTSIM_SYSTEM_STATE_DIR`): never the real
    /// `/var/lib/actsim`.
    system_state: TempDir,
    run_as: RunAs,
    /// Send this signal to the child once its stderr contains the text.
    signal_on: Option<(String, nix::sys::signal::Signal)>,
}

/// The built `actsim`, linked or copied once per test process into a directory every user can
/// reach. A checkout (and so `target/`) may sit in a directory only root can enter (CI
/// clones into a `mktemp -d`); temporary users must run actsim, and actsim re-runs itself
/// (`sg GROUP -c actsim doctor`) as them. Copies of test processes that have ended are
/// removed when the next one is made.
pub fn actsim_for_others() -> &'static Path {
    static COPY: OnceLock<PathBuf> = OnceLock::new();
    COPY.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join("actsim-test-bin");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("actsim-")
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let copy = dir.join(format!("actsim-{}", std::process::id()));
        // A hard link costs nothing; another file system needs a copy.
        let _ = std::fs::remove_file(&copy);
        if std::fs::hard_link(env!("CARGO_BIN_EXE_actsim"), &copy).is_err() {
            std::fs::copy(env!("CARGO_BIN_EXE_actsim"), &copy)
                .unwrap_or_else(|e| panic!("copying actsim to {}: {e}", copy.display()));
        }
        std::fs::set_permissions(&copy, std::fs::Permissions::from_mode(0o755)).unwrap();
        copy
    })
}

impl Cmd {
    /// The `actsim` binary built for this test run.
    pub fn actsim() -> Cmd {
        Cmd::new(env!("CARGO_BIN_EXE_actsim"))
    }

    /// Any program, with the same clean environment.
    pub fn new(program: impl AsRef<Path>) -> Cmd {
        Cmd {
            program: program.as_ref().to_path_buf(),
            args: Vec::new(),
            env: Vec::new(),
            cwd: None,
            stdin: None,
            timeout: Duration::from_secs(60),
            home: temp::dir(),
            system_state: temp::dir(),
            run_as: RunAs::Me,
            signal_on: None,
        }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Cmd {
        self.args.push(a.as_ref().to_os_string());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_os_string()));
        self
    }

    pub fn env(mut self, k: impl AsRef<OsStr>, v: impl AsRef<OsStr>) -> Cmd {
        self.env
            .push((k.as_ref().to_os_string(), Some(v.as_ref().to_os_string())));
        self
    }

    pub fn env_remove(mut self, k: impl AsRef<OsStr>) -> Cmd {
        self.env.push((k.as_ref().to_os_string(), None));
        self
    }

    /// The working directory [default: the fresh `HOME`].
    pub fn current_dir(mut self, d: impl AsRef<Path>) -> Cmd {
        self.cwd = Some(d.as_ref().to_path_buf());
        self
    }

    /// stdin is `/dev/null` (the default; spelled out for readability).
    pub fn stdin_null(mut self) -> Cmd {
        self.stdin = None;
        self
    }

    /// Feed these bytes on stdin, then close it.
    pub fn stdin_bytes(mut self, bytes: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(bytes.into());
        self
    }

    /// Kill the child and fail the test after this long [default: 60 s].
    pub fn timeout(mut self, t: Duration) -> Cmd {
        self.timeout = t;
        self
    }

    /// Send `signal` to the child (only the child, not its group) once its stderr
    /// contains `text`.
    pub fn signal_when_stderr_has(mut self, text: &str, signal: nix::sys::signal::Signal) -> Cmd {
        self.signal_on = Some((text.to_string(), signal));
        self
    }

    /// The fresh `HOME` of this run; write files there before `run()`.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// Root's state dir of this run (`ACTSIM_SYSTEM_STATE_DIR`, root-owned, 0755).
    pub fn system_state(&self) -> PathBuf {
        self.system_state.path().join("actsim")
    }

    /// Run as `name` with the groups the group database gives them (`setpriv
    /// --init-groups`), `USER`/`LOGNAME` set, `HOME` chowned to them.
    #[allow(clippy::wrong_self_convention)] // the builder style: `.as_user(name)`
    pub fn as_user(mut self, name: &str) -> Cmd {
        let u = nix::unistd::User::from_name(name)
            .unwrap_or_else(|e| panic!("looking up user {name}: {e}"))
            .unwrap_or_else(|| panic!("no such user: {name}"));
        // Another user may not be able to enter the checkout: run a copy they can reach.
        if self.program == Path::new(env!("CARGO_BIN_EXE_actsim")) {
            self.program = actsim_for_others().to_path_buf();
        }
        self.run_as = RunAs::User {
            name: name.to_string(),
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            groups: None,
        };
        self
    }

    /// With [`Cmd::as_user`]: carry exactly these supplementary gids (the primary gid is
    /// always kept), whatever `/etc/group` says. An empty slice clears them.
    pub fn setpriv_groups(mut self, gids: &[u32]) -> Cmd {
        match &mut self.run_as {
            RunAs::User { groups, .. } => *groups = Some(gids.to_vec()),
            RunAs::Me => panic!("setpriv_groups needs as_user first"),
        }
        self
    }

    fn command(&self) -> Command {
        let mut cmd = match &self.run_as {
            RunAs::Me => Command::new(&self.program),
            RunAs::User {
                uid, gid, groups, ..
            } => {
                let mut c = Command::new("setpriv");
                c.arg(format!("--reuid={uid}"))
                    .arg(format!("--regid={gid}"));
                match groups {
                    None => {
                        c.arg("--init-groups");
                    }
                    Some(g) if g.is_empty() => {
                        c.arg("--clear-groups");
                    }
                    Some(g) => {
                        let list: Vec<String> = g.iter().map(u32::to_string).collect();
                        c.arg(format!("--groups={}", list.join(",")));
                    }
                }
                c.arg("--").arg(&self.program);
                c
            }
        };
        cmd.args(&self.args);
        for (k, _) in std::env::vars_os() {
            let ks = k.to_string_lossy();
            if ks.starts_with("ACTSIM_")
                || ks.starts_with("DOCKER_")
                || ks.starts_with("XDG_")
                || ks == "SUDO_USER"
                || ks == "CLICOLOR_FORCE"
            {
                cmd.env_remove(&k);
            }
        }
        cmd.env("HOME", self.home.path())
            .env("NO_COLOR", "1")
            .env("ACTSIM_SYSTEM_STATE_DIR", self.system_state());
        if let RunAs::User { name, .. } = &self.run_as {
            cmd.env("USER", name).env("LOGNAME", name);
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        cmd.current_dir(self.cwd.as_deref().unwrap_or(self.home.path()));
        cmd.stdin(if self.stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.process_group(0);
        cmd
    }

    /// A shell-like rendering of the command, for failure messages.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        if let RunAs::User { name, groups, .. } = &self.run_as {
            s.push_str(&format!("[as {name}, groups {groups:?}] "));
        }
        for (k, v) in &self.env {
            match v {
                Some(v) => s.push_str(&format!("{}={:?} ", k.to_string_lossy(), v)),
                None => s.push_str(&format!("-u {} ", k.to_string_lossy())),
            }
        }
        s.push_str(&self.program.display().to_string());
        for a in &self.args {
            s.push(' ');
            s.push_str(&a.to_string_lossy());
        }
        s
    }

    /// Run to completion. Panics (with the output so far) when the deadline passes.
    pub fn run(self) -> Outcome {
        if let RunAs::User { uid, gid, .. } = &self.run_as {
            temp::chown_r(self.home.path(), *uid, *gid);
        }
        let described = self.describe();
        let mut cmd = self.command();
        let start = Instant::now();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawning {described}: {e}"));
        if let Some(bytes) = self.stdin.clone() {
            let mut stdin = child.stdin.take().unwrap();
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = stdin.write_all(&bytes);
            });
        }
        let pid = child.id();
        let stdout = collect(child.stdout.take().unwrap());
        let stderr = collect(child.stderr.take().unwrap());
        let deadline = start + self.timeout;
        let mut signal_on = self.signal_on.clone();
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for the child") {
                break status;
            }
            if let Some((text, sig)) = &signal_on
                && String::from_utf8_lossy(&stderr.lock().unwrap()).contains(text.as_str())
            {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), *sig);
                signal_on = None;
            }
            if Instant::now() >= deadline {
                let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
                let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
                let _ = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "TIMEOUT after {:?}: {described}\n--- stdout ---\n{}\n--- stderr ---\n{}",
                    self.timeout,
                    String::from_utf8_lossy(&stdout.lock().unwrap()),
                    String::from_utf8_lossy(&stderr.lock().unwrap()),
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = start.elapsed();
        // The pipes close when the child (and anything it left behind) exits; wait briefly
        // for the readers to drain them, without letting a leftover grandchild hang us.
        let drain_deadline = Instant::now() + Duration::from_secs(5);
        while (Arc::strong_count(&stdout) > 1 || Arc::strong_count(&stderr) > 1)
            && Instant::now() < drain_deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        let take =
            |b: &Arc<Mutex<Vec<u8>>>| String::from_utf8_lossy(&b.lock().unwrap()).into_owned();
        Outcome {
            command: described,
            pid,
            code: status.code(),
            stdout: take(&stdout),
            stderr: take(&stderr),
            elapsed,
            json: OnceLock::new(),
        }
    }
}

/// Read a pipe on a thread into a shared buffer (so a timeout can show the output so far).
/// The thread drops its handle on the buffer when the pipe closes.
fn collect(mut r: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let b = Arc::clone(&buf);
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => b.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
    });
    buf
}

/// What a finished run produced.
#[derive(Debug)]
pub struct Outcome {
    pub command: String,
    /// The child's process id (also under `as_user`: setpriv execs in place).
    pub pid: u32,
    /// `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    json: OnceLock<Value>,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "command: {}\nexit: {:?} after {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

impl Outcome {
    /// stdout parsed as one JSON document (panics, showing the output, when it is not).
    #[track_caller]
    pub fn json(&self) -> &Value {
        self.json.get_or_init(|| {
            serde_json::from_str(&self.stdout)
                .unwrap_or_else(|e| panic!("stdout is not one JSON document: {e}\n{self}"))
        })
    }

    /// The check with this id in doctor's JSON (panics, listing the ids, when absent).
    #[track_caller]
    pub fn check(&self, id: &str) -> &Value {
        self.find_check(id).unwrap_or_else(|| {
            panic!(
                "no check {id:?} in the JSON (ids: {:?})\n{self}",
                self.check_ids()
            )
        })
    }

    /// The check with this id, if the report has it.
    pub fn find_check(&self, id: &str) -> Option<&Value> {
        self.json()["checks"]
            .as_array()
            .and_then(|a| a.iter().find(|c| c["id"] == id))
    }

    /// Every check id in report order.
    #[track_caller]
    pub fn check_ids(&self) -> Vec<String> {
        self.json()["checks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|c| c["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The status string of a check.
    #[track_caller]
    pub fn status(&self, id: &str) -> &str {
        self.check(id)["status"].as_str().unwrap_or("<no status>")
    }

    /// Summary, detail and fix lines of a check, joined (for `contains` assertions).
    #[track_caller]
    pub fn check_text(&self, id: &str) -> String {
        let c = self.check(id);
        let mut parts = vec![
            c["summary"].as_str().unwrap_or("").to_string(),
            c["detail"].as_str().unwrap_or("").to_string(),
        ];
        parts.extend(fix_lines(c));
        parts.join("\n")
    }

    /// The fix lines of a check, joined by newlines.
    #[track_caller]
    pub fn fix_text(&self, id: &str) -> String {
        fix_lines(self.check(id)).join("\n")
    }

    /// The exit code is `code` (a literal or one of [`super::exit`]'s).
    #[track_caller]
    pub fn assert_code(&self, code: impl Into<i32>) -> &Self {
        assert_eq!(self.code, Some(code.into()), "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        self.assert_code(0)
    }

    #[track_caller]
    pub fn assert_stdout_empty(&self) -> &Self {
        assert!(self.stdout.is_empty(), "stdout must be empty\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_stdout_contains(&self, s: &str) -> &Self {
        assert!(self.stdout.contains(s), "stdout lacks {s:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_stderr_contains(&self, s: &str) -> &Self {
        assert!(self.stderr.contains(s), "stderr lacks {s:?}\n{self}");
        self
    }

    #[track_caller]
    pub fn assert_stderr_lacks(&self, s: &str) -> &Self {
        assert!(
            !self.stderr.contains(s),
            "stderr must not contain {s:?}\n{self}"
        );
        self
    }

    /// The check has this status.
    #[track_caller]
    pub fn assert_status(&self, id: &str, status: &str) -> &Self {
        assert_eq!(
            self.status(id),
            status,
            "check {id}: {}\n{self}",
            self.check(id)
        );
        self
    }

    /// The check's status is one of these.
    #[track_caller]
    pub fn assert_status_in(&self, id: &str, statuses: &[&str]) -> &Self {
        assert!(
            statuses.contains(&self.status(id)),
            "check {id} must be one of {statuses:?}: {}\n{self}",
            self.check(id)
        );
        self
    }

    /// The check's summary, detail or fix contains `needle` (case-insensitive).
    #[track_caller]
    pub fn assert_check_mentions(&self, id: &str, needle: &str) -> &Self {
        assert!(
            self.check_text(id)
                .to_lowercase()
                .contains(&needle.to_lowercase()),
            "check {id} must mention {needle:?}: {}\n{self}",
            self.check(id)
        );
        self
    }

    /// One of the check's fix lines contains `needle`.
    #[track_caller]
    pub fn assert_fix_contains(&self, id: &str, needle: &str) -> &Self {
        assert!(
            self.fix_text(id).contains(needle),
            "a fix line of {id} must contain {needle:?}: {}\n{self}",
            self.check(id)
        );
        self
    }

    /// No fix line of the check contains `needle`.
    #[track_caller]
    pub fn assert_fix_lacks(&self, id: &str, needle: &str) -> &Self {
        assert!(
            !self.fix_text(id).contains(needle),
            "no fix line of {id} may contain {needle:?}: {}\n{self}",
            self.check(id)
        );
        self
    }
}

fn fix_lines(check: &Value) -> Vec<String> {
    check["fix"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|l| l.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::support::users::{TempGroup, TempUser, require_root};

    #[test]
    fn support_cmd_cleans_the_environment() {
        let out = Cmd::new("sh")
            .args([
                "-c",
                "echo \"$HOME|$NO_COLOR|${DOCKER_HOST-unset}|$X\"; pwd",
            ])
            .env("X", "y")
            .run();
        out.assert_success();
        let home = out
            .stdout
            .lines()
            .next()
            .unwrap()
            .split('|')
            .next()
            .unwrap();
        assert!(home.contains("actsim-test-"), "{out}");
        assert!(out.stdout.contains("|1|unset|y"), "{out}");
        assert_eq!(
            out.stdout.lines().nth(1),
            Some(home),
            "cwd defaults to HOME\n{out}"
        );
    }

    #[test]
    fn support_cmd_kills_at_the_deadline_and_shows_the_output() {
        let start = Instant::now();
        let err = std::panic::catch_unwind(|| {
            Cmd::new("sh")
                .args(["-c", "echo started; sleep 30"])
                .timeout(Duration::from_millis(300))
                .run()
        })
        .expect_err("a run past its deadline must fail the test");
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(msg.contains("TIMEOUT") && msg.contains("started"), "{msg}");
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn support_cmd_runs_as_a_user_with_or_without_a_group() {
        if !require_root() {
            return;
        }
        let g = TempGroup::new();
        let u = TempUser::with_groups(&[&g]);
        let out = Cmd::new("id").as_user(&u.name).run();
        out.assert_success();
        assert!(out.stdout.contains(&format!("uid={}", u.uid)), "{out}");
        assert!(out.stdout.contains(&g.name), "{out}");
        let out = Cmd::new("id").as_user(&u.name).setpriv_groups(&[]).run();
        out.assert_success();
        assert!(!out.stdout.contains(&g.name), "{out}");
        let out = Cmd::new("sh")
            .args(["-c", "touch \"$HOME/w\" && echo $USER"])
            .as_user(&u.name)
            .run();
        out.assert_success();
        assert_eq!(out.stdout.trim(), u.name, "{out}");
    }
}
