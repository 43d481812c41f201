//! Uninstall's engine: observe → plan → show → confirm → (under the lock) observe again:
//! the plan shown is applied when the machine still gives it, else the new plan is shown
//! and confirmed again (`--yes`: applied, reported as replanned); step by step, `state`
//! last and only when no step before it failed.
//!
//! What can go wrong: whatever a step's apply returns (the run stops there; the steps
//! applied so far are reported), the lock not acquired within `--timeout`, the plan
//! declined or no terminal to confirm it on (exit 3, nothing changed).

use tokio::time::Instant;

use crate::context::Context;
use crate::error::Result;
use crate::setup::report::{PlanLine, show_plan};
use crate::setup::{StepReport, StepStatus, confirm_plan, dry_run_status};
use crate::system::privsep::Fs;
use crate::uninstall::steps::{self, Action, Step, UninstallStep};
use crate::uninstall::{Flags, Kept, Options, Settings};

/// Observe, plan, show, confirm and apply for `ctx`'s user; each step's report goes to
/// `steps` as it is done, what was kept on purpose to `kept`.
pub async fn uninstall(
    ctx: &Context,
    args: &Options,
    steps: &mut Vec<StepReport>,
    kept: &mut Vec<Kept>,
    replanned: &mut bool,
) -> Result<()> {
    let s = Settings::new(ctx, args.timeout);
    let flags = Flags {
        keep_act: args.keep_act,
        remove_group: args.remove_group,
    };
    let facts = steps::observe(&s).await;
    let planned = steps::plan(&facts, flags);
    show(&s, &planned);
    if args.dry_run {
        dry_run(&s, &planned, steps);
        return Ok(());
    }
    let changes = planned.iter().any(Step::changes);
    if !changes {
        return apply(&s, &planned, steps, kept).await;
    }
    if !args.yes {
        confirm_plan(&ctx.process, &ctx.ui).await?;
    }
    // Under the lock, look again (another run may be busy); the lock goes with the state
    // dir. Root's receipt, which the act step may rewrite, is held under root's lock.
    let deadline = Instant::now() + s.timeout;
    log::debug!("taking the state dir lock in {}", s.state_dir.display());
    let _lock = match facts.state_entries {
        Some(_) => {
            Some(crate::system::lock::acquire(&s.fs, &s.state_dir, deadline, &ctx.ui).await?)
        }
        None => None,
    };
    let _system_lock = if s.fs.is_separated()
        && crate::uninstall::userio::exists(&Fs::local(), &s.system_state_dir)
    {
        Some(
            crate::system::lock::acquire(&Fs::local(), &s.system_state_dir, deadline, &ctx.ui)
                .await?,
        )
    } else {
        None
    };
    let plan = under_lock(&s, args, flags, planned, replanned).await?;
    apply(&s, &plan, steps, kept).await
}

/// Under the lock, the plan to apply: the one shown when the machine still gives it, else
/// the new one, shown and (interactive) confirmed again or (`--yes`) applied and reported
/// as replanned. A plan nobody saw is never applied.
async fn under_lock(
    s: &Settings<'_>,
    args: &Options,
    flags: Flags,
    mut shown: Vec<Step>,
    replanned: &mut bool,
) -> Result<Vec<Step>> {
    let ui = &s.ctx.ui;
    loop {
        let now = steps::plan(&steps::observe(s).await, flags);
        if now == shown {
            return Ok(shown);
        }
        *replanned = true;
        let applies = args.yes || !now.iter().any(Step::changes);
        ui.warn(if applies {
            "the machine changed since the plan was shown; applying the plan made now instead (replanned):"
        } else {
            "the machine changed since the plan was shown; the plan made now:"
        });
        show(s, &now);
        if applies {
            return Ok(now);
        }
        confirm_plan(&s.ctx.process, ui).await?;
        shown = now;
    }
}

/// Apply `plan` step by step, reporting each as it finishes; `state` is skipped (the
/// receipt kept) when a step before it failed.
async fn apply(
    s: &Settings<'_>,
    plan: &[Step],
    steps: &mut Vec<StepReport>,
    kept: &mut Vec<Kept>,
) -> Result<()> {
    let ui = &s.ctx.ui;
    let mut failed = false;
    for step in plan {
        let report = if step.id == UninstallStep::State && failed {
            StepReport {
                id: UninstallStep::State.as_str(),
                status: StepStatus::Skipped,
                summary: format!(
                    "{} is kept, with the receipt, so uninstall can be run again",
                    s.state_dir.display()
                ),
                ..Default::default()
            }
        } else {
            steps::apply(s, step).await?
        };
        failed |= report.status == StepStatus::Failed;
        ui.step(report.status.as_str(), report.id, &report.summary);
        kept.extend(step.kept.clone());
        steps.push(report);
    }
    Ok(())
}

/// Report what a dry run would do, changing nothing.
fn dry_run(s: &Settings<'_>, planned: &[Step], steps: &mut Vec<StepReport>) {
    let ui = &s.ctx.ui;
    for step in planned {
        let (status, summary) =
            dry_run_status(step.changes(), step.action == Action::Keep, &step.summary);
        ui.step(status.as_str(), step.id.as_str(), &summary);
        steps.push(StepReport {
            id: step.id.as_str(),
            status,
            would_change: status == StepStatus::Skipped && step.changes(),
            summary,
            ..Default::default()
        });
    }
    ui.info("dry run: nothing was changed");
}

fn show(s: &Settings<'_>, plan: &[Step]) {
    let ui = &s.ctx.ui;
    let heading = format!(
        "actsim uninstall for {} (uid {}): state dir {}",
        s.user.name,
        s.user.uid,
        s.state_dir.display()
    );
    let lines: Vec<PlanLine<'_>> = plan
        .iter()
        .map(|step| PlanLine {
            mark: step.mark(),
            id: step.id.as_str(),
            summary: &step.summary,
            details: &step.details,
            show_details: step.changes() || ui.verbose,
            warnings: &step.warnings,
        })
        .collect();
    show_plan(ui, &heading, &lines);
}
