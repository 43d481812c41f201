//! The verdict: every selected job's report (the ones act never mentioned are `skipped`, or
//! `cancelled` when actsim stopped act), and how the run ends: 0 when act exited 0 and no
//! job failed; 124 for `--timeout`, 130/143/129 for a signal; else 1 naming the failed jobs
//! (or act's exit code when no job failed), pointing at the log.

use tokio::time::Instant;

use super::act::JobStatus;
use super::follow::Followed;
use super::halt::{Halt, signal_error};
use super::plan::Selected;
use super::summary::JobReport;
use crate::error::{Error, exit};

/// The reports of the jobs act ran, then of the selected jobs it never mentioned.
pub fn jobs(followed: &Followed, selected: &[Selected]) -> Vec<JobReport> {
    let now = Instant::now();
    let mut out: Vec<JobReport> = followed
        .tracker
        .jobs
        .iter()
        .map(|j| JobReport {
            workflow: j.workflow.clone(),
            job: j.job.clone(),
            status: j.status.unwrap_or(JobStatus::Failure),
            duration_ms: j.duration_ms(now),
            steps: j.steps.clone(),
            failed_step: j.failed.clone(),
        })
        .collect();
    for s in selected {
        let seen = out.iter().any(|r| {
            r.workflow == s.workflow
                && (r.job == s.job || r.job.starts_with(&format!("{}-", s.job)))
        });
        if !seen {
            out.push(JobReport {
                workflow: s.workflow.clone(),
                job: s.job.clone(),
                status: if followed.stopped.is_some() {
                    JobStatus::Cancelled
                } else {
                    JobStatus::Skipped
                },
                duration_ms: 0,
                steps: Vec::new(),
                failed_step: None,
            });
        }
    }
    out
}

/// How the run ends; `timeout` is `--timeout`'s seconds, `log` the log file's path.
pub fn judge(
    followed: &Followed,
    jobs: &[JobReport],
    timeout: Option<u64>,
    log: Option<&str>,
) -> Result<(), Halt> {
    if let Some(code) = followed.stopped {
        return Err(stopped(code, &followed.running_at_stop, timeout));
    }
    let any_failed = jobs
        .iter()
        .any(|j| matches!(j.status, JobStatus::Failure | JobStatus::Cancelled));
    if followed.exit == Some(0) && !any_failed {
        return Ok(());
    }
    let failed: Vec<String> = jobs
        .iter()
        .filter(|j| j.status == JobStatus::Failure)
        .map(|j| format!("{}/{}", j.workflow, j.job))
        .collect();
    Err(Halt::failed(if failed.is_empty() {
        Error::failed(
            format!(
                "act exited with {}",
                followed
                    .exit
                    .map(|c| format!("code {c}"))
                    .unwrap_or_else(|| "a signal".into())
            ),
            log.map(|l| format!("act's own messages are in {l}")),
        )
    } else {
        Error::failed(
            format!("job failed: {}", failed.join(", ")),
            log.map(|l| format!("the full log is {l}")),
        )
    }))
}

/// actsim stopped act: `--timeout` (124, naming what was running) or a signal.
fn stopped(code: u8, running: &[String], timeout: Option<u64>) -> Halt {
    if code != exit::TIMEOUT {
        return Halt {
            code,
            error: signal_error(code),
        };
    }
    let what = if running.is_empty() {
        String::new()
    } else {
        format!(" while {} was running", running.join(", "))
    };
    Halt {
        code,
        error: Error::failed(
            format!(
                "the run did not finish within --timeout {}s{what}",
                timeout.unwrap_or(0)
            ),
            Some(
                "a step that waits for ever needs timeout-minutes or a fix; or allow more time with --timeout"
                    .to_string(),
            ),
        ),
    }
}
