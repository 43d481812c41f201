//! `actsim setup`: observe the machine, compute a plan (pure), show it, confirm, apply what
//! was confirmed, check.
//!
//! The data flow ([`engine`]): the command layer resolves one [`Context`](crate::context::Context) and plain
//! [`Options`]; [`steps::observe`] gathers [`steps::Facts`]; [`steps::plan`] is pure; the
//! plan is shown and — when something would change and there is no `--yes` — confirmed on
//! the terminal (without one setup exits 3 before changing anything). Under the state-dir
//! lock the machine is observed again (reusing the detection, the daemon connection and
//! the hashes): if the facts are those the plan was made from, the confirmed plan is
//! applied; if not, the new plan is shown and confirmed again (or, with `--yes`, applied
//! and reported as `"replanned": true`). A plan nobody saw is never applied. Then
//! [`check`] runs doctor on the new state. The steps, one file each, are in [`steps`]
//! (which says how to add one).
//!
//! Each step reports `ok` (already as wanted), `changed`, `skipped` or `failed` with a
//! one-line summary ([`report`]).
//!
//! What can go wrong: usage errors (exit 2), declined or unanswerable prompt (3), act
//! download or verification (4), a step needing privileges (5), anything else (1).

pub mod check;
pub mod confirm;
pub mod engine;
pub mod fix;
pub mod records;
pub mod report;
pub mod settings;
pub mod steps;

pub use crate::context::{SYSTEM_STATE_DIR, own_home, system_state_dir};
pub use confirm::confirm_plan;
pub use report::{Report, StepReport, StepStatus, dry_run_status, failure_reason, summary_line};
pub use settings::{Receipts, Records, Settings};
pub use steps::{Action, StepId, StepPlan};

/// What `setup` was asked beyond the [`Context`](crate::context::Context) (plain data; the command layer fills it).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--yes`: apply without asking; a replan under the lock is applied and reported.
    pub yes: bool,
    /// `--dry-run`: show the plan, change nothing.
    pub dry_run: bool,
    /// `--no-check`: no final doctor check.
    pub no_check: bool,
    /// `--docker-group`.
    pub docker_group: Option<String>,
    /// `--act-arg`: extra actrc lines.
    pub act_args: Vec<String>,
    /// The act step's options.
    pub act: steps::act::Asked,
    /// The platform image when the Context names none (`doctor --fix`: the one setup
    /// wrote to `.env`, so a fix restores it rather than the default).
    pub platform_image: Option<String>,
}
