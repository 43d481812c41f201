//! What setup (and uninstall) report: each step's outcome, the JSON document, the summary
//! line and the one-line reason of a failure. Nothing here fails.

use serde::Serialize;

use crate::doctor::Finding;
use crate::error::Error;
use crate::ui::Ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    #[default]
    Ok,
    Changed,
    Skipped,
    Failed,
}

impl StepStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Ok => "ok",
            StepStatus::Changed => "changed",
            StepStatus::Skipped => "skipped",
            StepStatus::Failed => "failed",
        }
    }
}

/// One step's outcome, as reported in the output and the JSON:
/// `{"id","status","changed","summary"}`, plus `"would_change": true` for a step a dry run
/// would change and `"diff"` (unified) for a file step that wrote, would write or kept a
/// file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StepReport {
    pub id: &'static str,
    pub status: StepStatus,
    pub summary: String,
    /// The file diff of this step (written, or what a dry run would write).
    pub diff: Option<String>,
    /// Dry run: this step would change something.
    pub would_change: bool,
}

impl Serialize for StepReport {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("StepReport", 6)?;
        m.serialize_field("id", self.id)?;
        m.serialize_field("status", &self.status)?;
        m.serialize_field("changed", &(self.status == StepStatus::Changed))?;
        m.serialize_field("summary", &self.summary)?;
        if self.would_change {
            m.serialize_field("would_change", &true)?;
        } else {
            m.skip_field("would_change")?;
        }
        match &self.diff {
            Some(d) if !d.is_empty() => m.serialize_field("diff", d)?,
            _ => m.skip_field("diff")?,
        }
        m.end()
    }
}

/// `setup --format json`: `{"schema","ok","changed","steps","checks"}`, `"would_change"` in a dry
/// run, `"reason"` (what failed, with its fix) when `ok` is false, and `"replanned": true`
/// when the plan applied is not the first one shown.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub ok: bool,
    pub changed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub would_change: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub steps: Vec<StepReport>,
    pub checks: Vec<Finding>,
    /// The machine changed between the plan shown and the lock; the plan made under the
    /// lock was applied instead (`--yes`), or shown and confirmed again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replanned: bool,
}

impl Report {
    pub fn new(steps: Vec<StepReport>, checks: Vec<Finding>) -> Self {
        Report {
            schema: crate::ui::JSON_SCHEMA,
            would_change: None,
            reason: None,
            replanned: false,
            ok: !steps.iter().any(|s| s.status == StepStatus::Failed)
                && !checks
                    .iter()
                    .any(|c| c.status == crate::doctor::Status::Fail),
            changed: steps.iter().any(|s| s.status == StepStatus::Changed),
            steps,
            checks,
        }
    }
}

/// The last human line of setup and uninstall: `setup done: 4 changed, 2 ok, 1 skipped,
/// 0 failed`.
pub fn summary_line(command: &str, ok: bool, steps: &[StepReport]) -> String {
    let count = |s: StepStatus| steps.iter().filter(|r| r.status == s).count();
    format!(
        "{command} {}: {} changed, {} ok, {} skipped, {} failed",
        if ok { "done" } else { "failed" },
        count(StepStatus::Changed),
        count(StepStatus::Ok),
        count(StepStatus::Skipped),
        count(StepStatus::Failed)
    )
}

/// One step of a plan as shown before it is confirmed (setup's and uninstall's).
pub struct PlanLine<'a> {
    /// `will`, `skip`, `ok` (uninstall also `fail`).
    pub mark: &'static str,
    pub id: &'static str,
    pub summary: &'a str,
    /// Listed under the line when `show_details`.
    pub details: &'a [String],
    pub show_details: bool,
    pub warnings: &'a [String],
}

/// Show a plan: the heading, a line per step (`  will  act       …`, its details indented
/// under it), then every step's warnings.
pub fn show_plan(ui: &Ui, heading: &str, lines: &[PlanLine<'_>]) {
    ui.heading(heading);
    for line in lines {
        ui.info(&format!(
            "  {:<5} {:<9} {}",
            line.mark, line.id, line.summary
        ));
        if line.show_details {
            for d in line.details {
                ui.info(&format!("                  - {d}"));
            }
        }
    }
    for w in lines.iter().flat_map(|l| l.warnings) {
        ui.warn(w);
    }
}

/// How a dry run reports a planned step: `skipped` with "dry run: would …" when it would
/// change something, else `ok` when it is already as wanted (`kept`) or `skipped`.
pub fn dry_run_status(changes: bool, kept: bool, summary: &str) -> (StepStatus, String) {
    if changes {
        (StepStatus::Skipped, format!("dry run: would {summary}"))
    } else if kept {
        (StepStatus::Ok, summary.to_string())
    } else {
        (StepStatus::Skipped, summary.to_string())
    }
}

/// One line saying why a setup did not succeed, with the fix: the error that ended it, else
/// the first failed step, else the first failed check.
pub fn failure_reason(error: Option<&Error>, report: &Report) -> String {
    if let Some(e) = error {
        return match e.hint() {
            Some(h) => format!("{e} (exit {}); fix: {h}", e.exit_code()),
            None => format!("{e} (exit {})", e.exit_code()),
        };
    }
    if let Some(s) = report.steps.iter().find(|s| s.status == StepStatus::Failed) {
        return format!("step {} failed: {}", s.id, s.summary);
    }
    if let Some(c) = report
        .checks
        .iter()
        .find(|c| c.status == crate::doctor::Status::Fail)
    {
        return match c.fix.first() {
            Some(fix) => format!("check {} failed: {}; fix: {fix}", c.id, c.summary),
            None => format!("check {} failed: {}", c.id, c.summary),
        };
    }
    "setup did not finish".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_ok_and_changed() {
        let r = Report::new(
            vec![
                StepReport {
                    id: "act",
                    status: StepStatus::Changed,
                    summary: "x".into(),
                    ..Default::default()
                },
                StepReport {
                    id: "group",
                    status: StepStatus::Skipped,
                    summary: "y".into(),
                    ..Default::default()
                },
            ],
            vec![],
        );
        assert!(r.ok && r.changed);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["schema"], 1);
        assert_eq!(json["steps"][0]["status"], "changed");
        assert_eq!(json["checks"], serde_json::json!([]));
        let r = Report::new(
            vec![StepReport {
                id: "act",
                status: StepStatus::Failed,
                summary: "x".into(),
                ..Default::default()
            }],
            vec![],
        );
        assert!(!r.ok && !r.changed);
    }

    #[test]
    fn step_json_carries_changed_diff_and_would_change() {
        let written = StepReport {
            id: "env",
            status: StepStatus::Changed,
            summary: "wrote /c/.env".into(),
            diff: Some("--- /dev/null\n+++ /c/.env\n+DOCKER_GID=5\n".into()),
            would_change: false,
        };
        let j = serde_json::to_value(&written).unwrap();
        assert_eq!(j["changed"], true);
        assert!(j["diff"].as_str().unwrap().contains("+DOCKER_GID=5"));
        assert!(j.get("would_change").is_none());
        let dry = StepReport {
            id: "actrc",
            status: StepStatus::Skipped,
            summary: "dry run: would write".into(),
            diff: Some(String::new()),
            would_change: true,
        };
        let j = serde_json::to_value(&dry).unwrap();
        assert_eq!(j["changed"], false);
        assert_eq!(j["would_change"], true);
        assert!(j.get("diff").is_none(), "an empty diff is left out");

        let mut r = Report::new(vec![written, dry], vec![]);
        let e = Error::ChecksumMismatch {
            what: "a.tar.gz".into(),
            expected: "aa".into(),
            actual: "bb".into(),
        };
        r.reason = Some(failure_reason(Some(&e), &r));
        let reason = r.reason.clone().unwrap();
        assert!(
            reason.starts_with("checksum mismatch for a.tar.gz"),
            "{reason}"
        );
        assert!(reason.contains("(exit 4); fix: "), "{reason}");
        let j = serde_json::to_value(&r).unwrap();
        assert_eq!(j["reason"], reason.as_str());
        assert!(j.get("would_change").is_none());
    }
}
