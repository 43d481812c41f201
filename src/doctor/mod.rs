//! `actsim doctor`: the integration check. Each check has a stable id and produces one
//! [`Finding`] (status, summary, detail, fix); the human and JSON renderers read the same
//! findings. Independent checks run concurrently; the whole run has one deadline and never
//! outlives it, even against a daemon that accepts connections and never answers.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
}

/// The result of one check. Every `Fail` carries at least one fix line.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub title: &'static str,
    pub status: Status,
    pub summary: String,
    pub detail: String,
    pub fix: Vec<String>,
    pub duration_ms: u64,
}

/// `{"ok": bool, "checks": [...]}` — the JSON document of `doctor --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub ok: bool,
    pub checks: Vec<Finding>,
}

impl Report {
    pub fn new(checks: Vec<Finding>) -> Self {
        Report {
            ok: !checks.iter().any(|c| c.status == Status::Fail),
            checks,
        }
    }
}
