//! Setup applies the plan it showed: under the state-dir lock it looks again, and when the
//! machine changed meanwhile it plans again and says so (`"replanned": true`, a human
//! line) instead of silently applying a plan nobody saw.
//!
//! Uninstall does the same (issue 17): it never applies a plan nobody saw.
//!
//! The test holds the lock itself (a flock on `<state dir>/setup.lock`, as another setup
//! would), starts `setup --yes`, waits until setup logs that it takes the lock (its plan is
//! made), changes what the plan depends on (or not), and releases it. On a terminal (a
//! real pty) setup then shows the plan made now and asks again.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};
use serde_json::Value;

use crate::support::pty::Pty;
use crate::support::world::World;

/// A `setup --yes --format json --no-check` of `w` running in the background, its stderr
/// collected as it comes.
struct Running {
    child: Child,
    stderr: Arc<Mutex<String>>,
}

impl Running {
    fn start(w: &World) -> Running {
        let mirror = w.mirror().base_url();
        let (bin, config) = (w.bin(), w.config());
        Running::spawn(
            w,
            &[
                "setup",
                "--yes",
                "--no-check",
                "--format",
                "json",
                "--timeout",
                "120",
                "--act-base-url",
                &mirror,
                "--platform-image",
                w.image(),
                "--bin-dir",
                &bin.display().to_string(),
                "--config-dir",
                &config.display().to_string(),
            ],
        )
    }

    /// `actsim ARGS` of `w` in the background, with debug logs.
    fn spawn(w: &World, args: &[&str]) -> Running {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_actsim"));
        cmd.args(args)
            .env_clear()
            .env("NO_COLOR", "1")
            .env("ACTSIM_LOG", "debug")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        w.within_std(&mut cmd);
        let mut child = cmd.spawn().expect("starting actsim setup");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (pipe, sink) = (child.stderr.take().unwrap(), stderr.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut s = sink.lock().unwrap();
                s.push_str(&line);
                s.push('\n');
            }
        });
        Running { child, stderr }
    }

    /// Wait (at most a minute) until stderr says `text`.
    #[track_caller]
    fn wait_for(&mut self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while !self.stderr.lock().unwrap().contains(text) {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "setup ended ({status}) before saying {text:?}:\n{}",
                    self.err()
                );
            }
            assert!(
                Instant::now() < deadline,
                "setup did not say {text:?}:\n{}",
                self.err()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn err(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Wait for the exit: its code and the JSON report.
    #[track_caller]
    fn finish(mut self) -> (i32, Value, String) {
        let mut stdout = String::new();
        std::io::Read::read_to_string(self.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
        let status = self.child.wait().unwrap();
        // Let the reader thread drain the pipe.
        std::thread::sleep(Duration::from_millis(100));
        let err = self.err();
        let json = serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("no JSON report ({e}):\n{stdout}\n{err}"));
        (status.code().unwrap_or(-1), json, err)
    }
}

/// Hold the state dir's lock like another setup would.
fn hold_lock(state: &Path) -> Flock<std::fs::File> {
    std::fs::create_dir_all(state).unwrap();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(state.join("setup.lock"))
        .unwrap();
    Flock::lock(file, FlockArg::LockExclusiveNonblock)
        .unwrap_or_else(|(_, e)| panic!("locking: {e}"))
}

#[track_caller]
fn status<'a>(json: &'a Value, id: &str) -> &'a str {
    json["steps"]
        .as_array()
        .and_then(|a| a.iter().find(|s| s["id"] == id))
        .and_then(|s| s["status"].as_str())
        .unwrap_or_else(|| panic!("no step {id}:\n{json:#}"))
}

/// The debug line setup logs right before it takes the lock (the plan is made by then).
const WAITING: &str = "taking the state dir lock";

#[test]
fn setup_replans_under_the_lock_when_the_machine_changed_and_says_so() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();

    // The plan shown: write .env again (it was removed); compose is up to date.
    std::fs::remove_file(w.env_file()).unwrap();
    let lock = hold_lock(&w.state());
    let mut run = Running::start(&w);
    run.wait_for(WAITING);
    // Meanwhile the compose file goes too: the confirmed plan would leave it missing.
    std::fs::remove_file(w.compose()).unwrap();
    drop(lock);
    let (code, json, err) = run.finish();
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(json["replanned"], true, "{json:#}\n{err}");
    assert!(
        err.contains(
            "the machine changed since the plan was shown; applying the plan made now instead"
        ),
        "{err}"
    );
    assert_eq!(status(&json, "env"), "changed", "{json:#}");
    assert_eq!(status(&json, "compose"), "changed", "{json:#}");
    assert!(w.compose().is_file() && w.env_file().is_file());
}

#[test]
fn setup_applies_the_confirmed_plan_when_nothing_changed_while_it_waited() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();

    std::fs::remove_file(w.env_file()).unwrap();
    let lock = hold_lock(&w.state());
    let mut run = Running::start(&w);
    run.wait_for(WAITING);
    drop(lock);
    let (code, json, err) = run.finish();
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert!(json.get("replanned").is_none(), "{json:#}");
    assert!(!err.contains("the machine changed"), "{err}");
    assert_eq!(status(&json, "env"), "changed", "{json:#}");
    assert_eq!(status(&json, "compose"), "ok", "{json:#}");

    // And a run that needs no lock at all reports no replan either.
    let out = w.setup_json().arg("--no-check").run();
    out.assert_success();
    assert!(out.json().get("replanned").is_none(), "{out}");
}

/// On a terminal: the plan is confirmed, the machine changes while setup waits for the
/// lock, and setup shows the plan made now and asks again; `answer` is the second answer.
/// The exit code and everything the terminal showed.
fn replan_on_terminal(w: &World, answer: &str) -> (Option<i32>, String) {
    // The plan shown: write .env again; compose is up to date.
    std::fs::remove_file(w.env_file()).unwrap();
    let lock = hold_lock(&w.state());
    let mut cmd = w.setup_on_terminal();
    cmd.env("ACTSIM_LOG", "debug");
    let mut pty = Pty::spawn(cmd);
    pty.expect("Apply this plan?", Duration::from_secs(60));
    pty.send("y");
    pty.expect(WAITING, Duration::from_secs(60));
    std::fs::remove_file(w.compose()).unwrap();
    drop(lock);
    pty.expect(
        "the machine changed since the plan was shown; the plan made now:",
        Duration::from_secs(60),
    );
    // The second question comes after the new plan.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = pty.output();
        let after = &out[out.find("the plan made now:").unwrap()..];
        if after.contains("Apply this plan?") {
            assert!(
                after.contains("compose"),
                "the new plan names the compose file:\n{out}"
            );
            break;
        }
        assert!(Instant::now() < deadline, "no second question:\n{out}");
        std::thread::sleep(Duration::from_millis(20));
    }
    pty.send(answer);
    let code = pty.wait(Duration::from_secs(60));
    (code, pty.output())
}

#[test]
fn setup_replan_on_a_terminal_shows_the_new_plan_and_asks_again() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    // Accepted: the new plan is applied, both files are written.
    let (code, out) = replan_on_terminal(&w, "y");
    assert_eq!(code, Some(0), "{out}");
    assert!(w.compose().is_file() && w.env_file().is_file(), "{out}");
    // Declined: nothing is changed (exit 3), not even what the first answer allowed.
    let (code, out) = replan_on_terminal(&w, "n");
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("the plan was declined; nothing was changed"),
        "{out}"
    );
    assert!(!w.compose().exists() && !w.env_file().exists(), "{out}");
}

#[test]
fn uninstall_replans_under_the_lock_when_the_machine_changed_and_says_so() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let lock = hold_lock(&w.state());
    let mut run = Running::spawn(&w, &["uninstall", "--yes", "--format", "json"]);
    run.wait_for(WAITING);
    // Meanwhile the compose file goes: the plan shown would remove it.
    std::fs::remove_file(w.compose()).unwrap();
    drop(lock);
    let (code, json, err) = run.finish();
    assert_eq!(code, 0, "{json:#}\n{err}");
    assert_eq!(json["replanned"], true, "{json:#}\n{err}");
    assert!(err.contains("replanned"), "{err}");
    assert!(
        !w.env_file().exists() && !w.state().exists(),
        "{json:#}\n{err}"
    );
}
