//! Running act and following it: the command line (`--json`, `--pull=false`, the platform
//! mappings, the socket's group for job containers), on the host or in the compose service,
//! and the [`Tracker`] that reads act's JSON log lines into jobs and steps.
//!
//! act's `--json` lines carry `job` (`<workflow>/<name>[-<leg>]`, padded with spaces to the
//! longest name of the stage: trimmed here), `jobID` (the job's id), `matrix` (the leg's
//! values), `step`, `stage`, `stepResult`, `executionTime` (ns), `jobResult`, `raw_output`
//! for a step's output and `command: "error"` (with `kvPairs` file/line) for an `::error`
//! annotation. A run of jobs is keyed by the trimmed `job`, `jobID` and `matrix`. The step
//! that failed is named from act's `Failure - <stage> <step>` message, not from the `step`
//! field (which names the outer step of a composite action, and the composite for its post
//! steps). act marks every leg of a matrix failed once one leg failed: a leg with no failure
//! of its own is a success with a note. A step with `continue-on-error` that failed is a
//! note. The failing step's exit code comes in a later `exitcode 'N': failure` line.
//! What can go wrong: a line that is not JSON (act's own `Error: …` lines; shown as they
//! are), a job that never reports a result (act was stopped or crashed: `cancelled` or
//! `failure`).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

/// How many of a step's last output lines a failure keeps.
pub const LAST_LINES: usize = 20;
/// How many of a job's own act messages (not step output) are kept for an unknown cause.
pub const LAST_MESSAGES: usize = 12;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Success,
    Failure,
    Skipped,
    Cancelled,
}

impl JobStatus {
    pub fn word(self) -> &'static str {
        match self {
            JobStatus::Success => "succeeded",
            JobStatus::Failure => "failed",
            JobStatus::Skipped => "skipped",
            JobStatus::Cancelled => "cancelled",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    pub status: String,
    pub duration_ms: u64,
}

/// An `::error` annotation: its message, and the file and line when it names them.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Annotation {
    pub message: String,
    pub file: Option<String>,
    pub line: Option<u64>,
}

impl Annotation {
    /// `file:line: message` (or just the message).
    pub fn text(&self) -> String {
        match (&self.file, self.line) {
            (Some(f), Some(l)) => format!("{f}:{l}: {}", self.message),
            (Some(f), None) => format!("{f}: {}", self.message),
            _ => self.message.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedStep {
    pub name: String,
    /// The composite action's step this step ran in, when it is one of its inner steps.
    pub in_step: Option<String>,
    pub exit_code: Option<i64>,
    /// The `::error` annotations' messages.
    pub annotations: Vec<String>,
    /// The same annotations with the file and line they name.
    pub errors: Vec<Annotation>,
    pub last_lines: Vec<String>,
}

/// One job run as act reported it so far.
#[derive(Debug, Clone)]
pub struct JobState {
    /// act's `job` field, trimmed.
    pub key: String,
    pub workflow: String,
    /// The job's name as act shows it (with `-<leg>` for a matrix), trimmed.
    pub job: String,
    /// act's `jobID`.
    pub job_id: String,
    /// The matrix values of this leg (empty without a matrix).
    pub matrix: BTreeMap<String, Value>,
    pub status: Option<JobStatus>,
    pub first_seen: Instant,
    pub finished: Option<Instant>,
    pub steps: Vec<StepReport>,
    /// The step running now and when it started.
    pub current: Option<(String, Instant)>,
    pub failed: Option<FailedStep>,
    /// Notes on the verdict (a continue-on-error failure, act's matrix verdict).
    pub notes: Vec<String>,
    /// act's error messages for this job (not annotations), the last few.
    pub errors: Vec<(String, String)>,
    /// act's last messages for this job (not step output), for an unknown cause.
    pub recent: VecDeque<String>,
    /// The image act started the job in, and the last image it pulled for it.
    pub image: Option<String>,
    pub last_pull: Option<String>,
    /// Something of the job's own failed (a step, the setup, an error act logged).
    pub own_failure: bool,
    /// actsim stopped act while this job ran.
    pub cancel_pending: bool,
    continue_next: bool,
    annotations: Vec<Annotation>,
    lines: VecDeque<String>,
    /// act's last message for this job (for the watchdog).
    pub last_msg: String,
}

impl JobState {
    pub fn duration_ms(&self, now: Instant) -> u64 {
        self.finished
            .unwrap_or(now)
            .saturating_duration_since(self.first_seen)
            .as_millis() as u64
    }

    /// The matrix values as `k=v, …` (empty without a matrix).
    pub fn matrix_text(&self) -> String {
        matrix_text(&self.matrix)
    }

    fn remember(&mut self, msg: &str) {
        let m = msg.trim();
        if m.is_empty() {
            return;
        }
        self.recent.push_back(m.to_string());
        if self.recent.len() > LAST_MESSAGES {
            self.recent.pop_front();
        }
    }

    /// One JSON line of this job's (`v`, at `level`, its message `msg`): what it says
    /// about the job, and what to show.
    fn take(&mut self, v: &Value, level: &str, msg: &str, now: Instant) -> Vec<Shown> {
        if v["raw_output"].as_bool() == Some(true) {
            return self.output(msg);
        }
        if v["command"].as_str() == Some("error") {
            let a = Annotation {
                message: v["arg"].as_str().unwrap_or(msg).trim().to_string(),
                file: v["kvPairs"]["file"].as_str().map(str::to_string),
                line: v["kvPairs"]["line"]
                    .as_str()
                    .and_then(|l| l.trim().parse().ok()),
            };
            let shown = format!("  error {}", a.text());
            self.annotations.push(a);
            return vec![Shown::Line(shown)];
        }
        if is_noise(msg) {
            // act's git lookups in a directory that is no repository: said at error level
            // for every step, about nothing that fails.
            return vec![Shown::Verbose(msg.trim().to_string())];
        }
        self.remember(msg);
        if let Some(result) = v["stepResult"].as_str() {
            self.step_ended(v, result, msg, now);
            return vec![Shown::Line(msg.trim().to_string())];
        }
        if let Some(result) = v["jobResult"].as_str() {
            self.job_ended(result, now);
            return vec![Shown::Status];
        }
        if msg.trim() == "Failed but continue next step" {
            self.continue_next = true;
        }
        if let Some(image) = msg.trim().strip_prefix("🚀  Start image=") {
            self.image = Some(image.trim().to_string());
        }
        if let Some(rest) = msg.trim().strip_prefix("🐳  docker pull image=") {
            self.last_pull = rest.split_whitespace().next().map(str::to_string);
        }
        if level == "error" {
            self.own_failure = true;
            let step = v["step"].as_str().unwrap_or("").to_string();
            self.errors.push((step, msg.trim().to_string()));
            if self.errors.len() > LAST_MESSAGES {
                self.errors.remove(0);
            }
            if let Some(code) = exit_code_of(msg)
                && let Some(f) = self.failed.as_mut()
                && f.exit_code.is_none()
            {
                f.exit_code = Some(code);
            }
            return vec![Shown::Line(msg.trim().to_string())];
        }
        if msg.starts_with("⭐ Run ") {
            self.current = Some((run_name(msg).unwrap_or_else(|| step_name(v)), now));
            self.lines.clear();
            self.annotations.clear();
            return vec![Shown::Line(msg.to_string())];
        }
        if msg.contains("🐳") {
            return vec![Shown::Verbose(msg.trim().to_string())];
        }
        vec![Shown::Line(msg.trim().to_string())]
    }

    /// act's `jobResult`: the verdict of this run of the job (see the module's doc).
    fn job_ended(&mut self, result: &str, now: Instant) {
        let status = match result {
            "success" => JobStatus::Success,
            "skipped" => JobStatus::Skipped,
            "cancelled" => JobStatus::Cancelled,
            _ if self.cancel_pending => JobStatus::Cancelled,
            _ if !self.own_failure && !self.matrix.is_empty() => {
                self.notes.push(
                    "act reported this leg failed because another leg of its matrix failed; every step of this leg succeeded".into(),
                );
                JobStatus::Success
            }
            _ => JobStatus::Failure,
        };
        self.status = Some(status);
        self.finished = Some(now);
        self.current = None;
    }

    /// A step's output: kept (the last [`LAST_LINES`]) and shown line by line.
    fn output(&mut self, msg: &str) -> Vec<Shown> {
        let mut out = Vec::new();
        for l in msg.lines() {
            let l = l.trim_end_matches('\r');
            self.lines.push_back(l.to_string());
            if self.lines.len() > LAST_LINES {
                self.lines.pop_front();
            }
            out.push(Shown::Line(format!("  | {l}")));
        }
        out
    }

    /// A step ended with `result` (act's message `msg`): its report, and for the first
    /// failure what it left.
    fn step_ended(&mut self, v: &Value, result: &str, msg: &str, now: Instant) {
        let name = result_name(msg).unwrap_or_else(|| step_name(v));
        let duration_ms = v["executionTime"]
            .as_u64()
            .map(|ns| ns / 1_000_000)
            .or_else(|| {
                self.current
                    .as_ref()
                    .map(|(_, t)| now.saturating_duration_since(*t).as_millis() as u64)
            })
            .unwrap_or(0);
        self.steps.push(StepReport {
            name: name.clone(),
            status: result.to_string(),
            duration_ms,
        });
        let continued = std::mem::take(&mut self.continue_next);
        if result == "failure" && continued {
            self.notes.push(format!(
                "step {:?} failed; continue-on-error let the job go on",
                name
            ));
        } else if result == "failure" {
            self.own_failure = true;
            if self.failed.is_none() {
                let outer = v["step"].as_str().unwrap_or("");
                let bare = name
                    .strip_prefix("Pre ")
                    .or_else(|| name.strip_prefix("Post "))
                    .unwrap_or(&name);
                let in_step = (v["stepID"].as_array().is_some_and(|a| a.len() > 1)
                    && !outer.is_empty()
                    && outer != bare)
                    .then(|| outer.to_string());
                let annotations = std::mem::take(&mut self.annotations);
                self.failed = Some(FailedStep {
                    name,
                    in_step,
                    exit_code: None,
                    annotations: annotations.iter().map(|a| a.message.clone()).collect(),
                    errors: annotations,
                    last_lines: self.lines.iter().cloned().collect(),
                });
            }
        }
        self.current = None;
    }
}

/// act's messages about git lookups (`unable to get git ref`, `… not located inside a git
/// repository`, the latter at error level): not a failure of anything.
fn is_noise(msg: &str) -> bool {
    msg.contains("unable to get git") || msg.contains("not located inside a git repository")
}

/// `k=v, …` of a matrix.
pub fn matrix_text(m: &BTreeMap<String, Value>) -> String {
    m.iter()
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// What to print for a line, if anything.
#[derive(Debug, Clone, PartialEq)]
pub enum Show {
    /// A line of a job (shown prefixed by the job).
    Job { job: String, text: String },
    /// Only with `-v`.
    Verbose(String),
    /// A job finished: one status line.
    Status { job: String },
    /// A line that was not act JSON (its own errors).
    Plain(String),
}

/// What a job's line shows, before the job's key is put on it.
enum Shown {
    Line(String),
    Verbose(String),
    Status,
}

/// Follows act's JSON log.
#[derive(Debug, Default)]
pub struct Tracker {
    pub jobs: Vec<JobState>,
    /// The workflows' names, to split act's `job` field.
    known: Vec<String>,
    /// actsim is stopping act (`--timeout` or a signal).
    stopping: bool,
    /// act's own lines that were not JSON and said `Error…`.
    pub act_errors: Vec<String>,
}

fn step_name(v: &Value) -> String {
    let step = v["step"].as_str().unwrap_or("").to_string();
    match v["stage"].as_str() {
        Some("Pre") => format!("Pre {step}"),
        Some("Post") => format!("Post {step}"),
        _ => step,
    }
}

/// `<stage> <name>` of act's messages: `Main x` → `x`, `Pre x`/`Post x` kept.
fn staged(s: &str) -> String {
    let s = s.trim();
    s.strip_prefix("Main ").unwrap_or(s).to_string()
}

/// The step named by `⭐ Run <stage> <name>`.
fn run_name(msg: &str) -> Option<String> {
    msg.trim().strip_prefix("⭐ Run ").map(staged)
}

/// The step named by `✅  Success - <stage> <name> [<time>]` or `❌  Failure - …`.
fn result_name(msg: &str) -> Option<String> {
    let m = msg.trim();
    let rest = m
        .split_once("Failure - ")
        .or_else(|| m.split_once("Success - "))?
        .1;
    let rest = match rest.rfind(" [") {
        Some(i) if rest.ends_with(']') => &rest[..i],
        _ => rest,
    };
    Some(staged(rest))
}

/// `exitcode '3': failure` -> 3.
fn exit_code_of(msg: &str) -> Option<i64> {
    let rest = msg.split("exitcode '").nth(1)?;
    rest.split('\'').next()?.parse().ok()
}

impl Tracker {
    /// `known`: the names of the workflows act may run.
    pub fn new(known: Vec<String>) -> Self {
        let mut known = known;
        // The longest first: `CI/x` must not split as workflow `CI` when `CI/x` is one.
        known.sort_by_key(|k| std::cmp::Reverse(k.len()));
        Tracker {
            known,
            ..Tracker::default()
        }
    }

    /// `(workflow, job)` of act's trimmed `job` field; a reusable workflow's job
    /// (`<caller>/<workflow>/<job>`) keeps its caller in front of the job.
    fn split_key(&self, key: &str) -> (String, String) {
        for w in &self.known {
            if let Some(rest) = key.strip_prefix(&format!("{w}/")) {
                return (w.clone(), rest.to_string());
            }
        }
        if let Some((caller, rest)) = key.split_once('/') {
            for w in &self.known {
                if let Some(job) = rest.strip_prefix(&format!("{w}/")) {
                    return (w.clone(), format!("{caller}/{job}"));
                }
            }
            return (caller.to_string(), rest.to_string());
        }
        (String::new(), key.to_string())
    }

    fn job_mut(&mut self, v: &Value, now: Instant) -> Option<&mut JobState> {
        let key = v["job"].as_str()?.trim().to_string();
        let job_id = v["jobID"].as_str().unwrap_or("").to_string();
        let matrix: BTreeMap<String, Value> = v["matrix"]
            .as_object()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        if let Some(i) = self
            .jobs
            .iter()
            .position(|j| j.key == key && j.job_id == job_id && j.matrix == matrix)
        {
            return Some(&mut self.jobs[i]);
        }
        let (workflow, job) = self.split_key(&key);
        self.jobs.push(JobState {
            key,
            workflow,
            job,
            job_id,
            matrix,
            status: None,
            first_seen: now,
            finished: None,
            steps: Vec::new(),
            current: None,
            failed: None,
            notes: Vec::new(),
            errors: Vec::new(),
            recent: VecDeque::new(),
            image: None,
            last_pull: None,
            own_failure: false,
            cancel_pending: self.stopping,
            continue_next: false,
            annotations: Vec::new(),
            lines: VecDeque::new(),
            last_msg: String::new(),
        });
        self.jobs.last_mut()
    }

    /// Take one line of act's output.
    pub fn feed(&mut self, line: &str, now: Instant) -> Vec<Show> {
        let trimmed = line.trim_end();
        let Ok(v) = serde_json::from_str::<Value>(trimmed) else {
            if trimmed.is_empty() {
                return Vec::new();
            }
            if trimmed.starts_with("Error") && self.act_errors.len() < LAST_MESSAGES {
                self.act_errors.push(trimmed.to_string());
            }
            return vec![Show::Plain(trimmed.to_string())];
        };
        let msg = v["msg"].as_str().unwrap_or("").trim_end().to_string();
        let level = v["level"].as_str().unwrap_or("info");
        if v["job"].as_str().is_none() {
            return if level == "error" || level == "fatal" {
                if self.act_errors.len() < LAST_MESSAGES {
                    self.act_errors.push(msg.clone());
                }
                vec![Show::Plain(msg)]
            } else {
                vec![Show::Verbose(msg)]
            };
        }
        if level == "debug" || level == "trace" {
            let key = v["job"].as_str().unwrap_or("").trim();
            return vec![Show::Verbose(format!("[{key}] {msg}"))];
        }
        let Some(job) = self.job_mut(&v, now) else {
            return Vec::new();
        };
        job.last_msg = msg.clone();
        let key = job.key.clone();
        job.take(&v, level, &msg, now)
            .into_iter()
            .map(|shown| match shown {
                Shown::Line(text) => Show::Job {
                    job: key.clone(),
                    text,
                },
                Shown::Verbose(text) => Show::Verbose(format!("[{key}] {text}")),
                Shown::Status => Show::Status { job: key.clone() },
            })
            .collect()
    }

    /// actsim is stopping act: the jobs running now (and any act starts after) are
    /// `cancelled`, whatever act reports for them.
    pub fn stop(&mut self) {
        self.stopping = true;
        for j in self.jobs.iter_mut().filter(|j| j.status.is_none()) {
            j.cancel_pending = true;
        }
    }

    /// act ended: jobs without a result are `cancelled` when actsim stopped act,
    /// `skipped` when act still succeeded (an unsupported platform, say), else `failure`.
    pub fn finish(&mut self, stopped: bool, act_ok: bool, now: Instant) {
        for j in &mut self.jobs {
            if j.status.is_none() {
                j.status = Some(if stopped || j.cancel_pending {
                    JobStatus::Cancelled
                } else if act_ok {
                    JobStatus::Skipped
                } else {
                    JobStatus::Failure
                });
                j.finished = Some(now);
            }
        }
    }

    /// `job (step)` of every job still running, for the timeout message.
    pub fn running(&self) -> Vec<String> {
        self.jobs
            .iter()
            .filter(|j| j.status.is_none())
            .map(|j| match &j.current {
                Some((s, _)) => format!("{} at step {s}", j.key),
                None => j.key.clone(),
            })
            .collect()
    }
}

/// The running act (or compose) process.
pub struct Child {
    pub child: tokio::process::Child,
    pub pid: i32,
}

impl Child {
    /// Send `signal` to act's process group.
    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(self.pid), signal);
    }
}

/// Spawn `program args` in its own process group, stdin closed, both outputs piped.
pub fn spawn(
    program: &std::path::Path,
    args: &[String],
    envs: &[(String, String)],
    cwd: &std::path::Path,
) -> std::io::Result<(Child, tokio::sync::mpsc::Receiver<String>)> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(cwd)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn()?;
    let pid = child.id().map(|p| p as i32).unwrap_or(0);
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    if let Some(out) = child.stdout.take() {
        tokio::spawn(read_lines(out, tx.clone()));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_lines(err, tx));
    }
    Ok((Child { child, pid }, rx))
}

/// Forward lines (lossy UTF-8, at most 1 MiB each) until the stream ends.
async fn read_lines<R: tokio::io::AsyncRead + Unpin>(
    reader: R,
    tx: tokio::sync::mpsc::Sender<String>,
) {
    use tokio::io::AsyncBufReadExt;
    let mut reader = tokio::io::BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                buf.truncate(1 << 20);
                let line = String::from_utf8_lossy(&buf).into_owned();
                if tx.send(line).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// The grace period between interrupting act and killing it.
pub const GRACE: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = r#"{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"info","msg":"⭐ Run Set up job","step":"Set up job","stepid":["--setup-job"]}
{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"info","msg":"  🐳  docker pull image=x platform= username= forcePull=false","step":"Set up job"}
{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"info","msg":"  ✅  Success - Set up job","step":"Set up job","stepResult":"success"}
{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"info","msg":"⭐ Run Main say hi","stage":"Main","step":"say hi","stepID":["0"]}
{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"info","msg":"hi\n","raw_output":true,"stage":"Main","step":"say hi"}
{"arg":"boom annotation","command":"error","kvPairs":{"file":"src/lib.rs","line":"3"},"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"error","msg":"  ❗  ::error file=src/lib.rs,line=3::boom annotation\n","stage":"Main","step":"say hi"}
{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"info","msg":"before\n","raw_output":true,"stage":"Main","step":"say hi"}
{"executionTime":157333220,"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"info","msg":"  ❌  Failure - Main say hi [157.33322ms]","stage":"Main","step":"say hi","stepID":["0"],"stepResult":"failure"}
{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"level":"error","msg":"exitcode '3': failure","stage":"Main","step":"say hi"}
{"job":"expw/okjob  ","jobID":"okjob","matrix":{},"jobResult":"failure","level":"info","msg":"🏁  Job failed"}
Error: Job 'okjob' failed
"#;

    fn feed(t: &mut Tracker, log: &str) -> Vec<Show> {
        let now = Instant::now();
        log.lines().flat_map(|l| t.feed(l, now)).collect()
    }

    #[test]
    fn a_failed_step_keeps_its_exit_code_annotations_and_output() {
        let mut t = Tracker::new(vec!["expw".into()]);
        let shown = feed(&mut t, LOG);
        assert_eq!(t.jobs.len(), 1, "one entry per job run: {:?}", t.jobs);
        let job = &t.jobs[0];
        assert_eq!((job.workflow.as_str(), job.job.as_str()), ("expw", "okjob"));
        assert_eq!(job.job_id, "okjob");
        assert_eq!(job.status, Some(JobStatus::Failure));
        assert_eq!(job.steps.len(), 2);
        assert_eq!(job.steps[1].duration_ms, 157);
        let f = job.failed.as_ref().unwrap();
        assert_eq!(f.name, "say hi");
        assert_eq!(f.exit_code, Some(3));
        assert_eq!(f.annotations, ["boom annotation"]);
        assert_eq!(f.errors[0].text(), "src/lib.rs:3: boom annotation");
        assert_eq!(f.last_lines, ["hi", "before"]);
        assert!(shown.contains(&Show::Status {
            job: "expw/okjob".into()
        }));
        assert!(shown.contains(&Show::Plain("Error: Job 'okjob' failed".into())));
        assert!(
            shown
                .iter()
                .any(|s| matches!(s, Show::Verbose(t) if t.contains("docker pull")))
        );
    }

    #[test]
    fn jobs_without_a_result_are_cancelled_when_stopped() {
        let mut t = Tracker::new(Vec::new());
        let now = Instant::now();
        t.feed(
            r#"{"job":"w/j","jobID":"j","level":"info","msg":"⭐ Run Main sleep","stage":"Main","step":"sleep"}"#,
            now,
        );
        assert_eq!(t.running(), ["w/j at step sleep"]);
        t.stop();
        // act answers the interrupt with a failed step and a failed job: still cancelled.
        t.feed(
            r#"{"job":"w/j","jobID":"j","level":"info","msg":"  ❌  Failure - Main sleep [1s]","stage":"Main","step":"sleep","stepResult":"failure"}
"#,
            now,
        );
        t.feed(
            r#"{"job":"w/j","jobID":"j","jobResult":"failure","level":"info","msg":"🏁  Job failed"}"#,
            now,
        );
        t.finish(true, false, now);
        assert_eq!(t.jobs[0].status, Some(JobStatus::Cancelled));
        assert_eq!(t.jobs[0].workflow, "w");
    }

    #[test]
    fn a_matrix_leg_that_passed_is_a_success_with_a_note() {
        let mut t = Tracker::new(vec!["M".into()]);
        feed(
            &mut t,
            r#"{"job":"M/t-1","jobID":"t","matrix":{"n":1},"level":"info","msg":"  ❌  Failure - Main go [1s]","stage":"Main","step":"go","stepID":["0"],"stepResult":"failure"}
{"job":"M/t-1","jobID":"t","matrix":{"n":1},"level":"error","msg":"exitcode '4': failure","stage":"Main","step":"go"}
{"job":"M/t-1","jobID":"t","matrix":{"n":1},"jobResult":"failure","level":"info","msg":"🏁  Job failed"}
{"job":"M/t-2","jobID":"t","matrix":{"n":2},"level":"error","msg":"path/tmp/r not located inside a git repository","stage":"Main","step":"go"}
{"job":"M/t-2","jobID":"t","matrix":{"n":2},"level":"info","msg":"  ✅  Success - Main go [2s]","stage":"Main","step":"go","stepID":["0"],"stepResult":"success"}
{"job":"M/t-2","jobID":"t","matrix":{"n":2},"jobResult":"failure","level":"info","msg":"🏁  Job failed"}"#,
        );
        assert_eq!(t.jobs.len(), 2);
        assert_eq!(t.jobs[0].status, Some(JobStatus::Failure));
        assert_eq!(t.jobs[0].matrix_text(), "n=1");
        assert_eq!(t.jobs[1].status, Some(JobStatus::Success));
        assert!(
            t.jobs[1].notes[0].contains("another leg"),
            "{:?}",
            t.jobs[1]
        );
    }

    #[test]
    fn continue_on_error_is_a_note_and_composite_and_post_steps_are_named() {
        let mut t = Tracker::new(vec!["W".into()]);
        feed(
            &mut t,
            r#"{"job":"W/a","jobID":"a","matrix":{},"level":"info","msg":"Failed but continue next step","stage":"Main","step":"may fail"}
{"job":"W/a","jobID":"a","matrix":{},"level":"info","msg":"  ❌  Failure - Main may fail [1s]","stage":"Main","step":"may fail","stepID":["0"],"stepResult":"failure"}
{"job":"W/a","jobID":"a","matrix":{},"jobResult":"success","level":"info","msg":"🏁  Job succeeded"}
{"job":"W/b","jobID":"b","matrix":{},"level":"info","msg":"⭐ Run Main inner two","stage":"Main","step":"./comp","stepID":["0","1"]}
{"job":"W/b","jobID":"b","matrix":{},"level":"info","msg":"  ❌  Failure - Main inner two [1s]","stage":"Main","step":"./comp","stepID":["0","1"],"stepResult":"failure"}
{"job":"W/b","jobID":"b","matrix":{},"level":"info","msg":"  ❌  Failure - Main ./comp [1s]","stage":"Main","step":"./comp","stepID":["0"],"stepResult":"failure"}
{"job":"W/b","jobID":"b","matrix":{},"jobResult":"failure","level":"info","msg":"🏁  Job failed"}
{"job":"W/c","jobID":"c","matrix":{},"level":"info","msg":"  ✅  Success - Post ./comp [1s]","stage":"Post","step":"./comp","stepID":["0"],"stepResult":"success"}
{"job":"W/c","jobID":"c","matrix":{},"level":"info","msg":"  ❌  Failure - Post cleanup [1s]","stage":"Post","step":"./comp","stepID":["0","2"],"stepResult":"failure"}
{"job":"W/c","jobID":"c","matrix":{},"jobResult":"failure","level":"info","msg":"🏁  Job failed"}"#,
        );
        let a = &t.jobs[0];
        assert_eq!(a.status, Some(JobStatus::Success));
        assert!(a.failed.is_none());
        assert!(a.notes[0].contains("continue-on-error"), "{:?}", a.notes);
        let b = t.jobs[1].failed.as_ref().unwrap();
        assert_eq!(b.name, "inner two");
        assert_eq!(b.in_step.as_deref(), Some("./comp"));
        let c = t.jobs[2].failed.as_ref().unwrap();
        assert_eq!(c.name, "Post cleanup");
    }

    #[test]
    fn reusable_workflow_jobs_split_after_their_caller() {
        let t = Tracker::new(vec!["Caller".into(), "Reusable".into(), "CI/x".into()]);
        assert_eq!(
            t.split_key("call/Reusable/inner"),
            ("Reusable".into(), "call/inner".into())
        );
        assert_eq!(t.split_key("CI/x/job"), ("CI/x".into(), "job".into()));
        assert_eq!(t.split_key("Caller/a-1"), ("Caller".into(), "a-1".into()));
    }
}
