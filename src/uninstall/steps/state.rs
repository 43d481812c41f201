//! The `state` step, last: remove the state dir (the receipt, the lock, the backups, the
//! run logs, doctor's and run's caches); a dir holding only files of the user's is kept,
//! and a second uninstall changes nothing. The engine skips it when a step before it failed, so a failed run can
//! be repeated from the receipt.
//!
//! What can go wrong: files actsim did not write in it (they and the dir are kept and
//! listed), an I/O error.

use std::path::Path;

use crate::error::Result;
use crate::setup::StepStatus;
use crate::uninstall::steps::{Action, Facts, Step, UninstallStep};
use crate::uninstall::{Settings, userio};

/// The state step's plan. Pure.
pub fn plan(f: &Facts) -> Step {
    let dir = f.state_dir.display();
    match &f.state_entries {
        None => Step::new(
            UninstallStep::State,
            format!("no state dir {dir}"),
            Action::Keep,
        ),
        Some(names) if !names.is_empty() && !names.iter().any(|n| userio::is_ours(n)) => Step::new(
            UninstallStep::State,
            format!("{dir} holds only files actsim did not write: kept"),
            Action::Keep,
        ),
        Some(_) => Step::new(
            UninstallStep::State,
            format!("remove the state dir {dir}"),
            Action::RemoveState {
                dir: f.state_dir.clone(),
            },
        ),
    }
}

/// Remove actsim's files from `dir`, and `dir` when nothing else is in it.
pub fn apply(s: &Settings<'_>, dir: &Path) -> Result<(StepStatus, String)> {
    let left = userio::remove_state(&s.fs, dir)?;
    if left.is_empty() {
        return Ok((StepStatus::Changed, format!("removed {}", dir.display())));
    }
    s.ctx.ui.warn(&format!(
        "{} is kept: it holds files actsim did not write: {}",
        dir.display(),
        left.join(", ")
    ));
    Ok((
        StepStatus::Changed,
        format!(
            "removed actsim's files from {}; kept {}",
            dir.display(),
            left.join(", ")
        ),
    ))
}
