//! Running act and following it: the command line (`--json`, `--pull=false`, the platform
//! mappings, the socket's group for job containers), on the host or in the compose service,
//! and the [`Tracker`] that reads act's JSON log lines into jobs and steps.
//!
//! act's `--json` lines carry `job` (`<workflow>/<job>`), `step`, `stage`, `stepResult`,
//! `executionTime` (ns), `jobResult`, `raw_output` for a step's output and `command:
//! "error"` for an `::error` annotation; the failing step's exit code comes in a later
//! `exitcode 'N': failure` line. What can go wrong: a line that is not JSON (act's own
//! `Error: …` lines; shown as they are), a job that never reports a result (act was
//! stopped or crashed: `cancelled` or `failure`).

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::time::Instant;

/// How many of a step's last output lines a failure keeps.
pub const LAST_LINES: usize = 20;

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

#[derive(Debug, Clone, Serialize)]
pub struct FailedStep {
    pub name: String,
    pub exit_code: Option<i64>,
    pub annotations: Vec<String>,
    pub last_lines: Vec<String>,
}

/// One job as act reported it so far.
#[derive(Debug, Clone)]
pub struct JobState {
    /// act's `job` field.
    pub key: String,
    pub workflow: String,
    pub job: String,
    pub status: Option<JobStatus>,
    pub first_seen: Instant,
    pub finished: Option<Instant>,
    pub steps: Vec<StepReport>,
    /// The step running now and when it started.
    pub current: Option<(String, Instant)>,
    pub failed: Option<FailedStep>,
    annotations: Vec<String>,
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

    /// One JSON line of this job's (`v`, at `level`, its message `msg`): what it says
    /// about the job, and what to show.
    fn take(&mut self, v: &Value, level: &str, msg: &str, now: Instant) -> Vec<Shown> {
        if v["raw_output"].as_bool() == Some(true) {
            return self.output(msg);
        }
        if v["command"].as_str() == Some("error") {
            let text = v["arg"].as_str().unwrap_or(msg).trim().to_string();
            self.annotations.push(text.clone());
            return vec![Shown::Line(format!("  ::error:: {text}"))];
        }
        if let Some(result) = v["stepResult"].as_str() {
            self.step_ended(v, result, now);
            return vec![Shown::Line(msg.trim().to_string())];
        }
        if let Some(result) = v["jobResult"].as_str() {
            self.status = Some(match result {
                "success" => JobStatus::Success,
                "skipped" => JobStatus::Skipped,
                "cancelled" => JobStatus::Cancelled,
                _ => JobStatus::Failure,
            });
            self.finished = Some(now);
            self.current = None;
            return vec![Shown::Status];
        }
        if level == "error"
            && let Some(code) = exit_code_of(msg)
        {
            if let Some(f) = self.failed.as_mut()
                && f.exit_code.is_none()
            {
                f.exit_code = Some(code);
            }
            return vec![Shown::Line(msg.trim().to_string())];
        }
        if msg.starts_with("⭐ Run ") {
            self.current = Some((step_name(v), now));
            self.lines.clear();
            self.annotations.clear();
            return vec![Shown::Line(msg.to_string())];
        }
        if msg.contains("🐳")
            || msg.contains("unable to get git")
            || msg.contains("not located inside a git repository")
        {
            return vec![Shown::Verbose(msg.trim().to_string())];
        }
        vec![Shown::Line(msg.trim().to_string())]
    }

    /// A step's output: kept (the last [`LAST_LINES`]) and shown line by line.
    fn output(&mut self, msg: &str) -> Vec<Shown> {
        let mut out = Vec::new();
        for l in msg.lines() {
            self.lines.push_back(l.to_string());
            if self.lines.len() > LAST_LINES {
                self.lines.pop_front();
            }
            out.push(Shown::Line(format!("  | {l}")));
        }
        out
    }

    /// A step ended with `result`: its report, and for the first failure what it left.
    fn step_ended(&mut self, v: &Value, result: &str, now: Instant) {
        let name = step_name(v);
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
        if result == "failure" && self.failed.is_none() {
            self.failed = Some(FailedStep {
                name,
                exit_code: None,
                annotations: std::mem::take(&mut self.annotations),
                last_lines: self.lines.iter().cloned().collect(),
            });
        }
        self.current = None;
    }
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
    /// `(workflow, job display name)` of the selected jobs, to split act's `job` field.
    known: Vec<(String, String)>,
}

fn step_name(v: &Value) -> String {
    let step = v["step"].as_str().unwrap_or("").to_string();
    match v["stage"].as_str() {
        Some("Pre") => format!("Pre {step}"),
        Some("Post") => format!("Post {step}"),
        _ => step,
    }
}

/// `exitcode '3': failure` -> 3.
fn exit_code_of(msg: &str) -> Option<i64> {
    let rest = msg.split("exitcode '").nth(1)?;
    rest.split('\'').next()?.parse().ok()
}

impl Tracker {
    pub fn new(known: Vec<(String, String)>) -> Self {
        Tracker {
            jobs: Vec::new(),
            known,
        }
    }

    fn split_key(&self, key: &str) -> (String, String) {
        for (w, j) in &self.known {
            let full = format!("{w}/{j}");
            if key == full || key.starts_with(&format!("{full}-")) {
                return (w.clone(), key[w.len() + 1..].to_string());
            }
        }
        match key.split_once('/') {
            Some((w, j)) => (w.to_string(), j.to_string()),
            None => (String::new(), key.to_string()),
        }
    }

    fn job_mut(&mut self, key: &str, now: Instant) -> &mut JobState {
        if let Some(i) = self.jobs.iter().position(|j| j.key == key) {
            return &mut self.jobs[i];
        }
        let (workflow, job) = self.split_key(key);
        self.jobs.push(JobState {
            key: key.to_string(),
            workflow,
            job,
            status: None,
            first_seen: now,
            finished: None,
            steps: Vec::new(),
            current: None,
            failed: None,
            annotations: Vec::new(),
            lines: VecDeque::new(),
            last_msg: String::new(),
        });
        self.jobs.last_mut().expect("just pushed")
    }

    /// Take one line of act's output.
    pub fn feed(&mut self, line: &str, now: Instant) -> Vec<Show> {
        let trimmed = line.trim_end();
        let Ok(v) = serde_json::from_str::<Value>(trimmed) else {
            return if trimmed.is_empty() {
                Vec::new()
            } else {
                vec![Show::Plain(trimmed.to_string())]
            };
        };
        let msg = v["msg"].as_str().unwrap_or("").trim_end().to_string();
        let level = v["level"].as_str().unwrap_or("info");
        let Some(key) = v["job"].as_str().map(str::to_string) else {
            return if level == "error" || level == "fatal" {
                vec![Show::Plain(msg)]
            } else {
                vec![Show::Verbose(msg)]
            };
        };
        if level == "debug" || level == "trace" {
            return vec![Show::Verbose(format!("[{key}] {msg}"))];
        }
        let job = self.job_mut(&key, now);
        job.last_msg = msg.clone();
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

    /// act ended: jobs without a result are `cancelled` when actsim stopped act,
    /// `skipped` when act still succeeded (an unsupported platform, say), else `failure`.
    pub fn finish(&mut self, stopped: bool, act_ok: bool, now: Instant) {
        for j in &mut self.jobs {
            if j.status.is_none() {
                j.status = Some(if stopped {
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

    const LOG: &str = r#"{"job":"expw/okjob","jobID":"okjob","level":"info","msg":"⭐ Run Set up job","step":"Set up job","stepid":["--setup-job"]}
{"job":"expw/okjob","level":"info","msg":"  🐳  docker pull image=x platform= username= forcePull=false","step":"Set up job"}
{"job":"expw/okjob","level":"info","msg":"  ✅  Success - Set up job","step":"Set up job","stepResult":"success"}
{"job":"expw/okjob","level":"info","msg":"⭐ Run Main say hi","stage":"Main","step":"say hi"}
{"job":"expw/okjob","level":"info","msg":"hi\n","raw_output":true,"stage":"Main","step":"say hi"}
{"arg":"boom annotation","command":"error","job":"expw/okjob","level":"error","msg":"  ❗  ::error file=x::boom annotation\n","stage":"Main","step":"say hi"}
{"job":"expw/okjob","level":"info","msg":"before\n","raw_output":true,"stage":"Main","step":"say hi"}
{"executionTime":157333220,"job":"expw/okjob","level":"info","msg":"  ❌  Failure - Main say hi [157.33322ms]","stage":"Main","step":"say hi","stepResult":"failure"}
{"job":"expw/okjob","level":"error","msg":"exitcode '3': failure","stage":"Main","step":"say hi"}
{"job":"expw/okjob","jobResult":"failure","level":"info","msg":"🏁  Job failed"}
Error: Job 'okjob' failed
"#;

    #[test]
    fn a_failed_step_keeps_its_exit_code_annotations_and_output() {
        let mut t = Tracker::new(vec![("expw".into(), "okjob".into())]);
        let now = Instant::now();
        let shown: Vec<Show> = LOG.lines().flat_map(|l| t.feed(l, now)).collect();
        let job = &t.jobs[0];
        assert_eq!((job.workflow.as_str(), job.job.as_str()), ("expw", "okjob"));
        assert_eq!(job.status, Some(JobStatus::Failure));
        assert_eq!(job.steps.len(), 2);
        assert_eq!(job.steps[1].duration_ms, 157);
        let f = job.failed.as_ref().unwrap();
        assert_eq!(f.name, "say hi");
        assert_eq!(f.exit_code, Some(3));
        assert_eq!(f.annotations, ["boom annotation"]);
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
            r#"{"job":"w/j","level":"info","msg":"⭐ Run Main sleep","stage":"Main","step":"sleep"}"#,
            now,
        );
        assert_eq!(t.running(), ["w/j at step sleep"]);
        t.finish(true, false, now);
        assert_eq!(t.jobs[0].status, Some(JobStatus::Cancelled));
        assert_eq!(t.jobs[0].workflow, "w");
    }
}
