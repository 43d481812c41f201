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
///
/// JSON: `id`, `title` (from the id; ignored when read back), `status`, `summary`,
/// `detail`, `fix`, `duration_ms`. Reading a finding with an id this actsim does not know
/// fails (see [`CheckId`]).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Finding {
    pub id: CheckId,
    pub status: Status,
    pub summary: String,
    pub detail: String,
    pub fix: Vec<String>,
    pub duration_ms: u64,
}

impl Finding {
    /// The finding of `id` from its verdict, `duration_ms` measured from `started`.
    pub fn new(id: CheckId, outcome: Outcome, started: tokio::time::Instant) -> Finding {
        Finding {
            id,
            status: outcome.status,
            summary: outcome.summary,
            detail: outcome.detail.join("\n"),
            fix: outcome.fix,
            duration_ms: started.elapsed().as_millis() as u64,
        }
    }

    /// The human title of its check.
    pub fn title(&self) -> &'static str {
        self.id.title()
    }
}

impl Serialize for Finding {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Finding", 7)?;
        st.serialize_field("id", &self.id)?;
        st.serialize_field("title", self.id.title())?;
        st.serialize_field("status", &self.status)?;
        st.serialize_field("summary", &self.summary)?;
        st.serialize_field("detail", &self.detail)?;
        st.serialize_field("fix", &self.fix)?;
        st.serialize_field("duration_ms", &self.duration_ms)?;
        st.end()
    }
}

/// `{"schema": 1, "ok": bool, "checks": [...]}` — the JSON document of `doctor --format
/// json`. The command layer adds what `--fix` did by flattening this into its own document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
pub mod check;
mod cleanup;
pub mod compose_cache;
mod container_checks;
pub mod context;
mod docker_checks;
pub mod report;
mod resource_checks;
mod runner;
pub(crate) mod stamps;

pub use check::CheckId;
pub use cleanup::Cleanup;
pub use container_checks::parse_env;
pub use context::{Drift, GroupView, Options, locate_act};
pub use runner::{preflight, run, run_until_stopped};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_round_trips_through_its_json() {
        let t = tokio::time::Instant::now();
        let report = Report::new(vec![
            Finding::new(CheckId::DockerCli, Outcome::pass("docker CLI 28.2.2"), t),
            Finding::new(
                CheckId::ContainerSocket,
                Outcome::fail("permission denied", vec!["actsim setup".into()]).detail("a"),
                t,
            ),
        ]);
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["schema"], 1);
        assert_eq!(json["ok"], false);
        assert_eq!(json["checks"][1]["id"], "container.socket");
        assert_eq!(json["checks"][1]["title"], "Docker from inside a container");
        assert_eq!(json["checks"][1]["status"], "fail");
        let keys: Vec<&str> = json["checks"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut want = [
            "id",
            "title",
            "status",
            "summary",
            "detail",
            "fix",
            "duration_ms",
        ];
        want.sort();
        assert_eq!(keys, want);
        let back: Report = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, report);
        let mut unknown = json;
        unknown["checks"][0]["id"] = "docker.nope".into();
        assert!(serde_json::from_value::<Report>(unknown).is_err());
    }
}
