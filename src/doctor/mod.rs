//! `actsim doctor`: the integration check. Each check has a stable id and produces one
//! [`Finding`] (status, summary, detail, fix); the human and JSON renderers read the same
//! findings. Independent checks run concurrently; the whole run has one deadline and never
//! outlives it, even against a daemon that accepts connections and never answers.
//! What goes wrong on a machine is what the checks report; see each check module.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// `{"schema": 1, "ok": bool, "checks": [...]}` — the JSON document of `doctor --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub ok: bool,
    pub checks: Vec<Finding>,
}

impl Report {
    pub fn new(checks: Vec<Finding>) -> Self {
        Report {
            schema: crate::ui::JSON_SCHEMA,
            ok: !checks.iter().any(|c| c.status == Status::Fail),
            checks,
        }
    }
}

mod act_checks;
pub mod bundle;
pub mod compose_cache;
mod container_checks;
mod docker_checks;
pub mod report;
mod resource_checks;
mod runner;
mod stamps;

pub use act_checks::{actrc_files, locate_act};
pub use container_checks::parse_env;
pub use runner::{Cleanup, Drift, GroupView, Options, PREFLIGHT_IDS, preflight, run};

/// Check ids in report order. Stable: documented in the README, used by scripts.
pub const CHECK_IDS: [&str; 11] = [
    "docker.cli",
    "docker.endpoint",
    "docker.socket",
    "docker.daemon",
    "act.binary",
    "act.docker",
    "container.run",
    "container.socket",
    "compose.config",
    "act.run",
    "docker.resources",
];

/// A check's verdict before timing is attached.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub status: Status,
    pub summary: String,
    pub detail: Vec<String>,
    pub fix: Vec<String>,
}

impl Outcome {
    pub fn pass(summary: impl Into<String>) -> Self {
        Outcome {
            status: Status::Pass,
            summary: summary.into(),
            detail: Vec::new(),
            fix: Vec::new(),
        }
    }

    pub fn warn(summary: impl Into<String>, fix: Vec<String>) -> Self {
        Outcome {
            status: Status::Warn,
            summary: summary.into(),
            detail: Vec::new(),
            fix,
        }
    }

    /// A failure; `fix` must not be empty (the contract says every fail has a fix).
    pub fn fail(summary: impl Into<String>, fix: Vec<String>) -> Self {
        debug_assert!(!fix.is_empty(), "a fail needs a fix");
        Outcome {
            status: Status::Fail,
            summary: summary.into(),
            detail: Vec::new(),
            fix,
        }
    }

    pub fn skip(reason: impl Into<String>) -> Self {
        Outcome {
            status: Status::Skip,
            summary: reason.into(),
            detail: Vec::new(),
            fix: Vec::new(),
        }
    }

    pub fn detail(mut self, line: impl Into<String>) -> Self {
        self.detail.push(line.into());
        self
    }

    pub fn details(mut self, lines: impl IntoIterator<Item = String>) -> Self {
        self.detail.extend(lines);
        self
    }

    /// Downgrade a pass to a warning (keeps a worse status).
    pub fn warn_also(mut self, summary_note: &str, fix: Vec<String>) -> Self {
        if self.status == Status::Pass {
            self.status = Status::Warn;
        }
        if !summary_note.is_empty() {
            self.summary = format!("{}; {summary_note}", self.summary);
        }
        self.fix.extend(fix);
        self
    }
}

/// The human title of a check id.
pub fn title(id: &str) -> &'static str {
    match id {
        "docker.cli" => "Docker CLI",
        "docker.endpoint" => "Daemon endpoint",
        "docker.socket" => "Daemon socket access",
        "docker.daemon" => "Docker daemon",
        "act.binary" => "act binary",
        "act.docker" => "act and Docker",
        "container.run" => "Container round trip",
        "container.socket" => "Docker from inside a container",
        "compose.config" => "Compose file",
        "act.run" => "Workflow run through act",
        "docker.resources" => "Disk and memory for act",
        _ => "unknown check",
    }
}
