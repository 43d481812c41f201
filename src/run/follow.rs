//! act, followed: started in its own process group with stdin closed, each line of its
//! `--json` log teed to the run's log file and read by the [`Tracker`] (what to show per
//! job and step), while a watchdog diagnoses silence (`--idle-timeout`), `--timeout`
//! interrupts act, and SIGINT/SIGTERM/SIGHUP stop it; act is killed a grace period after
//! it was interrupted (at once on a second signal).
//!
//! What can go wrong: act cannot be started (exit 1); the log file cannot be written (the
//! run goes on without, said once); act never exits after SIGKILL (not seen in practice:
//! the loop waits for its exit).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use bollard::Docker;
use nix::sys::signal::Signal;
use tokio::sync::mpsc::Receiver;
use tokio::time::{Instant, sleep_until};

use super::act::{self, JobStatus, Show, Tracker};
use super::command::ActCommand;
use super::halt::{Halt, Signals};
use super::summary::{self, JobReport};
use super::{KEEP_LOGS, userio, watchdog};
use crate::error::exit;
use crate::system::signals::Stop;
use crate::ui::Ui;

/// What the watchdog and the timeout look at.
pub struct Watch<'a> {
    pub docker: &'a Docker,
    /// When the run started (act's containers are those created since).
    pub since: SystemTime,
    /// act's container name prefixes of the selected jobs.
    pub prefixes: &'a [String],
    /// `--idle-timeout`.
    pub idle: Duration,
    /// `--timeout`: when, and how many seconds (for the message).
    pub deadline: Option<Instant>,
    pub timeout_secs: u64,
}

/// How act ended.
pub struct Followed {
    /// The jobs and steps act reported (every job with a result now).
    pub tracker: Tracker,
    /// actsim stopped act: the exit code of why (124, 130, 143, 129).
    pub stopped: Option<u8>,
    /// act's exit code (`None`: killed by a signal).
    pub exit: Option<i32>,
    /// The jobs (and steps) still running when act ended.
    pub running_at_stop: Vec<String>,
}

/// A new log file in `dir` (the oldest beyond [`KEEP_LOGS`] removed), its first line the
/// command; `None` (said as a warning) when it cannot be created.
pub fn open_log(dir: &Path, cmd: &ActCommand, ui: &Ui) -> Option<(File, PathBuf)> {
    match userio::create_log(dir, KEEP_LOGS) {
        Ok((mut f, p)) => {
            userio::log_line(&mut f, &format!("# actsim run: {}", cmd.line()));
            Some((f, p))
        }
        Err(e) => {
            ui.warn(&format!("no log file for this run: {e}"));
            None
        }
    }
}

/// Start `cmd` in `cwd` and follow it until it exits and its output is read.
pub async fn follow(
    cmd: &ActCommand,
    cwd: &Path,
    log: Option<File>,
    tracker: Tracker,
    watch: &Watch<'_>,
    ui: &Ui,
    sigs: &mut Signals,
) -> Result<Followed, Halt> {
    let (mut child, mut rx) = act::spawn(&cmd.program, &cmd.args, &cmd.envs, cwd)
        .map_err(|e| Halt::message(format!("cannot start {}: {e}", cmd.program.display()), None))?;
    let mut f = Follower {
        ui,
        watch,
        tracker,
        log,
        pid: child.pid,
        idle_base: Instant::now(),
        stopped: None,
        kill_at: None,
    };
    let far = Instant::now() + Duration::from_secs(86400 * 365);
    let deadline = watch.deadline;
    let mut act_status: Option<Option<i32>> = None;
    let mut streams_open = true;
    while streams_open || act_status.is_none() {
        tokio::select! {
            line = rx.recv(), if streams_open => match line {
                Some(line) => f.line(&line),
                None => streams_open = false,
            },
            status = child.child.wait(), if act_status.is_none() => {
                act_status = Some(status.ok().and_then(|s| s.code()));
                if streams_open {
                    f.drain(&mut rx).await;
                    streams_open = false;
                }
            },
            _ = sleep_until(f.idle_base + watch.idle), if f.stopped.is_none() => f.idle().await,
            _ = sleep_until(deadline.unwrap_or(far)), if deadline.is_some() && f.stopped.is_none() => f.timeout(),
            stop = sigs.recv() => f.signal(stop),
            _ = sleep_until(f.kill_at.unwrap_or(far)), if f.kill_at.is_some() => {
                f.signal_act(Signal::SIGKILL);
                f.kill_at = None;
            },
        }
    }
    Ok(f.finish(act_status.flatten()))
}

/// The state of the loop of [`follow`].
struct Follower<'a> {
    ui: &'a Ui,
    watch: &'a Watch<'a>,
    tracker: Tracker,
    log: Option<File>,
    /// act's process group.
    pid: i32,
    /// When act last printed something (the idle timer's start).
    idle_base: Instant,
    stopped: Option<u8>,
    /// When an interrupted act is killed.
    kill_at: Option<Instant>,
}

impl Follower<'_> {
    /// One line of act's: into the log and the tracker, shown as the tracker says.
    fn line(&mut self, line: &str) {
        if let Some(f) = self.log.as_mut() {
            userio::log_line(f, line.strip_suffix('\n').unwrap_or(line));
        }
        for show in self.tracker.feed(line, Instant::now()) {
            display(self.ui, &self.tracker, show);
        }
        self.idle_base = Instant::now();
    }

    /// act exited: what it still had buffered is read for at most a moment more.
    async fn drain(&mut self, rx: &mut Receiver<String>) {
        let drain = async {
            while let Some(line) = rx.recv().await {
                self.line(&line);
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(2), drain).await;
    }

    /// act said nothing for `--idle-timeout`: the watchdog's diagnosis (act keeps running).
    async fn idle(&mut self) {
        let w = self.watch;
        let lines =
            watchdog::diagnose(Some(w.docker), w.since, w.prefixes, &self.tracker, w.idle).await;
        for l in &lines {
            self.ui.always(l);
            if let Some(f) = self.log.as_mut() {
                userio::log_line(f, &format!("# watchdog: {l}"));
            }
        }
        self.idle_base = Instant::now();
    }

    /// `--timeout` reached: interrupt act (killed after the grace period).
    fn timeout(&mut self) {
        let running = self.tracker.running();
        self.ui.always(&format!(
            "timeout: the run reached --timeout {}s{}; interrupting act (killed after {}s)",
            self.watch.timeout_secs,
            if running.is_empty() {
                String::new()
            } else {
                format!(" while {} was running", running.join(", "))
            },
            act::GRACE.as_secs()
        ));
        self.stop(exit::TIMEOUT, Signal::SIGINT);
    }

    /// A signal: stop act (SIGTERM passed on as it is, the others as SIGINT); a second
    /// signal kills it at once.
    fn signal(&mut self, stop: Stop) {
        if self.stopped.is_some() {
            self.signal_act(Signal::SIGKILL);
            return;
        }
        self.ui.always(&format!(
            "{}: stopping act (killed after {}s), then cleaning up",
            stop.name(),
            act::GRACE.as_secs()
        ));
        let signal = if stop == Stop::Terminate {
            Signal::SIGTERM
        } else {
            Signal::SIGINT
        };
        self.stop(stop.exit_code(), signal);
    }

    fn stop(&mut self, code: u8, signal: Signal) {
        self.stopped = Some(code);
        self.tracker.stop();
        self.signal_act(signal);
        self.kill_at = Some(Instant::now() + act::GRACE);
    }

    fn signal_act(&self, s: Signal) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.pid), s);
    }

    /// act ended with `exit`: every job gets a result.
    fn finish(mut self, exit: Option<i32>) -> Followed {
        let running_at_stop = self.tracker.running();
        self.tracker
            .finish(self.stopped.is_some(), exit == Some(0), Instant::now());
        Followed {
            tracker: self.tracker,
            stopped: self.stopped,
            exit,
            running_at_stop,
        }
    }
}

/// Print one thing act said.
fn display(ui: &Ui, tracker: &Tracker, show: Show) {
    match show {
        Show::Job { job, text } => ui.info(&format!("[{job}] {text}")),
        Show::Verbose(text) => {
            if ui.verbose {
                ui.info(&text);
            }
        }
        // act's own lines that are not JSON: its errors are shown, the rest only with -v.
        Show::Plain(text) => {
            if ui.verbose || text.starts_with("Error") {
                ui.info(&format!("act: {text}"));
            }
        }
        Show::Status { job } => {
            if let Some(j) = tracker.jobs.iter().find(|j| j.key == job) {
                let report = JobReport {
                    workflow: j.workflow.clone(),
                    job: j.job.clone(),
                    job_id: j.job_id.clone(),
                    matrix: j.matrix.clone(),
                    status: j.status.unwrap_or(JobStatus::Failure),
                    duration_ms: j.duration_ms(Instant::now()),
                    steps: Vec::new(),
                    failed_step: j.failed.clone(),
                    cause: super::cause::classify(j),
                    notes: Vec::new(),
                };
                ui.always_pieces(&summary::status_line(&report));
            }
        }
    }
}
