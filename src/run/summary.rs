//! The end of a run: the JSON document of `--format json` and the human summary (each job
//! with its result and duration; for a failed job the failing step, its exit code, its
//! `::error` annotations and its last output lines; what cleanup removed; the log path).
//! Nothing here can fail; output goes through [`crate::ui::Ui`].

use serde::Serialize;

use std::collections::BTreeMap;

use super::act::{FailedStep, JobStatus, StepReport};
use super::actions::ActionReport;
use super::cause::Cause;
use super::images::ImageReport;
use crate::doctor::Finding;
use crate::ui::{Mark, Piece, Ui};

#[derive(Debug, Clone, Serialize)]
pub struct JobReport {
    pub workflow: String,
    /// The job's name as act shows it, trimmed (`<name>-<leg>` for a matrix leg).
    pub job: String,
    /// The job's id in the workflow.
    pub job_id: String,
    /// The matrix values of this leg (empty without a matrix).
    pub matrix: BTreeMap<String, serde_json::Value>,
    pub status: JobStatus,
    pub duration_ms: u64,
    pub steps: Vec<StepReport>,
    pub failed_step: Option<FailedStep>,
    /// Why the job failed or was cancelled, and the way out.
    pub cause: Option<Cause>,
    /// Notes on the verdict (a `continue-on-error` failure, act's verdict on a matrix).
    pub notes: Vec<String>,
}

/// `actsim run --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Document {
    pub schema: u32,
    pub ok: bool,
    pub exit_code: u8,
    pub preflight: Vec<Finding>,
    /// The preflight's result came from the cache.
    pub preflight_cached: bool,
    pub images: Vec<ImageReport>,
    /// The remote actions of the selected jobs and whether act can have them.
    pub actions: Vec<ActionReport>,
    pub jobs: Vec<JobReport>,
    pub removed: Vec<String>,
    pub log: Option<String>,
    /// Why the run did not succeed (set for every non-zero exit).
    pub reason: Option<String>,
    /// The workflows and jobs that exist, when nothing was selected to run.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub available: Vec<String>,
    /// What each entry of `removed` was (container, volume, network), for humans.
    #[serde(skip)]
    pub removed_kinds: Vec<&'static str>,
}

impl Default for Document {
    fn default() -> Self {
        Document {
            schema: 1,
            ok: false,
            exit_code: 1,
            preflight: Vec::new(),
            preflight_cached: false,
            images: Vec::new(),
            actions: Vec::new(),
            jobs: Vec::new(),
            removed: Vec::new(),
            log: None,
            reason: None,
            available: Vec::new(),
            removed_kinds: Vec::new(),
        }
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.1}s", ms as f64 / 1000.0)
}

/// The one status line of a finished job: its mark, then the text.
pub fn status_line(job: &JobReport) -> [Piece; 2] {
    let mark = match job.status {
        JobStatus::Success => Mark::Pass,
        JobStatus::Skipped => Mark::Skip,
        JobStatus::Failure | JobStatus::Cancelled => Mark::Fail,
    };
    let matrix = if job.matrix.is_empty() {
        String::new()
    } else {
        format!(" ({})", super::act::matrix_text(&job.matrix))
    };
    let mut line = format!(
        " {}/{}{matrix} {} in {}",
        crate::ui::escape(&job.workflow),
        crate::ui::escape(&job.job),
        job.status.word(),
        seconds(job.duration_ms)
    );
    if job.status == JobStatus::Failure
        && let Some(f) = &job.failed_step
    {
        line.push_str(&format!(": step {:?} failed", f.name));
        if let Some(outer) = &f.in_step {
            line.push_str(&format!(" (in {outer:?})"));
        }
        if let Some(code) = f.exit_code {
            line.push_str(&format!(" with exit code {code}"));
        }
    } else if let Some(c) = &job.cause {
        line.push_str(&format!(": {}", c.summary));
    }
    [Piece::Mark(mark), Piece::Text(line)]
}

/// The human summary on stderr.
pub fn human(ui: &Ui, doc: &Document) {
    if !doc.jobs.is_empty() {
        ui.always("Summary:");
    }
    for job in &doc.jobs {
        let [mark, text] = status_line(job);
        ui.always_pieces(&[Piece::Text("  ".into()), mark, text]);
        for n in &job.notes {
            ui.always(&format!("      note: {n}"));
        }
        if let Some(c) = &job.cause
            && c.kind != "step_exit"
        {
            ui.always(&format!("      cause: {}", c.summary));
            for l in &c.lines {
                ui.always(&format!("      > {l}"));
            }
            if let Some(fix) = &c.fix {
                ui.always(&format!("      fix: {fix}"));
            }
        }
        if job.status == JobStatus::Failure
            && let Some(f) = &job.failed_step
        {
            for a in &f.errors {
                ui.always(&format!("      error {}", a.text()));
            }
            if !f.last_lines.is_empty() {
                ui.always(&format!("      last output of {:?}:", f.name));
                for l in &f.last_lines {
                    ui.always(&format!("      | {l}"));
                }
            }
        }
    }
    if !doc.removed.is_empty() {
        let items: Vec<String> = doc
            .removed
            .iter()
            .zip(doc.removed_kinds.iter().chain(std::iter::repeat(&"")))
            .map(|(n, k)| format!("{k} {n}").trim().to_string())
            .collect();
        ui.always(&format!("removed: {}", items.join(", ")));
    }
    if let Some(log) = &doc.log {
        ui.always(&format!("log: {log}"));
    }
}
