//! The verdict: one report per job run act reported (keyed by act's job id and matrix
//! values), then every selected job act never started (`skipped`, or `cancelled` when
//! actsim stopped act), each failure with its [`cause`](super::cause); and how the run
//! ends: 0 when act exited 0 and no job failed; 124 for `--timeout`, 130/143/129 for a
//! signal; else 1 naming the failed jobs, the first one's cause and the way out (or act's
//! own error when no job failed), pointing at the log.

use tokio::time::Instant;

use super::act::JobStatus;
use super::cause;
use super::follow::Followed;
use super::halt::{Halt, signal_error};
use super::plan::Selected;
use super::summary::JobReport;
use crate::error::{Error, exit};

/// The reports of the jobs act ran, then of the selected jobs it never mentioned.
pub fn jobs(followed: &Followed, selected: &[Selected]) -> Vec<JobReport> {
    let now = Instant::now();
    // A reusable workflow's caller: act logs a few lines under its name, but its called
    // jobs are the runs (unless the call itself failed).
    let caller = |j: &&super::act::JobState| {
        j.status != Some(JobStatus::Failure)
            && selected
                .iter()
                .any(|s| s.calls && s.workflow == j.workflow && s.job_id == j.job_id)
    };
    let mut out: Vec<JobReport> = followed
        .tracker
        .jobs
        .iter()
        .filter(|j| !caller(j))
        .map(|j| JobReport {
            workflow: j.workflow.clone(),
            job: j.job.clone(),
            job_id: j.job_id.clone(),
            matrix: j.matrix.clone(),
            status: j.status.unwrap_or(JobStatus::Failure),
            duration_ms: j.duration_ms(now),
            steps: j.steps.clone(),
            failed_step: j.failed.clone(),
            cause: cause::classify(j),
            notes: j.notes.clone(),
        })
        .collect();
    for s in selected {
        // A reusable workflow's caller never shows in act's log itself: its called jobs
        // do, named `<caller>/…`.
        let seen = followed.tracker.jobs.iter().any(|j| {
            (j.workflow == s.workflow && j.job_id == s.job_id)
                || (s.calls && j.key.starts_with(&format!("{}/", s.job)))
        });
        if !seen {
            let status = if followed.stopped.is_some() {
                JobStatus::Cancelled
            } else {
                JobStatus::Skipped
            };
            out.push(JobReport {
                workflow: s.workflow.clone(),
                job: s.job.clone(),
                job_id: s.job_id.clone(),
                matrix: Default::default(),
                status,
                duration_ms: 0,
                steps: Vec::new(),
                failed_step: None,
                cause: None,
                notes: vec![if status == JobStatus::Cancelled {
                    "act was stopped before it started this job".to_string()
                } else if followed.tracker.jobs.is_empty() && followed.exit != Some(0) {
                    "act stopped before it started any job (its error is the reason)".to_string()
                } else {
                    "act never started this job (its `if:`, or a job it needs did not succeed)"
                        .to_string()
                }],
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
    let failed: Vec<&JobReport> = jobs
        .iter()
        .filter(|j| j.status == JobStatus::Failure)
        .collect();
    let log_hint = |what: &str| log.map(|l| format!("{what} {l}"));
    let Some(first) = failed.first() else {
        let said = followed
            .tracker
            .act_errors
            .last()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        return Err(Halt::failed(Error::failed(
            format!(
                "act exited with {}{said}",
                followed
                    .exit
                    .map(|c| format!("code {c}"))
                    .unwrap_or_else(|| "a signal".into())
            ),
            log_hint("act's own messages are in"),
        )));
    };
    let names: Vec<String> = failed.iter().map(|j| label(j)).collect();
    let mut message = format!("job failed: {}", names.join(", "));
    let mut hint = log_hint("the full log is");
    if let Some(c) = &first.cause {
        message.push_str(&format!(" ({}: {})", label(first), c.summary));
        if let Some(fix) = &c.fix {
            hint = Some(match hint {
                Some(h) => format!("{fix}; {h}"),
                None => fix.clone(),
            });
        }
    }
    Err(Halt::failed(Error::failed(message, hint)))
}

/// `workflow/job`, escaped, with a matrix leg's values.
fn label(j: &JobReport) -> String {
    let name = format!(
        "{}/{}",
        crate::ui::escape(&j.workflow),
        crate::ui::escape(&j.job)
    );
    if j.matrix.is_empty() {
        name
    } else {
        format!("{name} ({})", super::act::matrix_text(&j.matrix))
    }
}

/// actsim stopped act: `--timeout` (124, naming what was running) or a signal.
fn stopped(code: u8, running: &[String], timeout: Option<u64>) -> Halt {
    let what = if running.is_empty() {
        String::new()
    } else {
        format!(
            " while {} was running",
            running
                .iter()
                .map(|r| crate::ui::escape(r).into_owned())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if code != exit::TIMEOUT {
        let error = signal_error(code);
        return Halt {
            code,
            error: if what.is_empty() {
                error
            } else {
                Error::failed(format!("{error}{what}; its jobs are cancelled"), None)
            },
        };
    }
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
