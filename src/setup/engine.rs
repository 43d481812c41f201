//! Setup's engine: observe → plan → show → confirm → (under the lock) observe again,
//! compare, apply what was confirmed (or the new plan, shown and confirmed or announced).
//!
//! What can go wrong: whatever a step's observe or apply returns (the run stops there; the
//! steps applied so far are reported), the lock not acquired within `--timeout`, the plan
//! declined or no terminal to confirm it on (exit 3, nothing changed).

use crate::context::Context;
use crate::error::{Error, Result};
use crate::setup::Options;
use crate::setup::report::{PlanLine, StepReport, dry_run_status};
use crate::setup::settings::{Receipts, Records, Settings, check_state_dirs};
use crate::setup::steps::{self, Action, Facts, Requests, Run, StepId, StepPlan};
use crate::system::privsep::Fs;

/// What a run did: the reports of the steps applied (or, in a dry run, planned), and
/// whether the plan applied was made again under the lock.
#[derive(Debug, Default)]
pub struct Outcome {
    pub steps: Vec<StepReport>,
    pub replanned: bool,
}

/// The steps of `plan` that `only` names and that fix something (`None`: every step).
/// Keeping a user's edited file (ours beside it) and a refusal fix nothing, so a partial
/// run leaves them to their printed fix.
pub fn select(plan: Vec<StepPlan>, only: Option<&[StepId]>) -> Vec<StepPlan> {
    let Some(ids) = only else { return plan };
    plan.into_iter()
        .filter(|s| ids.contains(&s.id) && s.fixes())
        .collect()
}

/// Run setup's engine for every step, or only for the steps `only` names that fix
/// something (`doctor --fix`). Reports go to `out` as steps finish, so an error keeps them.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    only: Option<&[StepId]>,
    out: &mut Outcome,
) -> Result<()> {
    let settings = Settings::from_context(ctx);
    let requests = Requests {
        act: steps::act::request(
            &opts.act,
            ctx.act_lock.as_deref(),
            &ctx.process,
            &settings.fs,
        )?,
    };
    let run = Run {
        ctx,
        opts,
        settings,
        requests,
        docker: tokio::sync::OnceCell::new(),
    };
    check_state_dirs(&run.settings)?;
    let receipts = Receipts::load(&run.settings, &ctx.ui);
    let facts = steps::observe(&run, &receipts).await?;
    let planned = select(steps::plan(&facts), only);
    if only.is_some() && planned.is_empty() {
        ctx.ui.info("no setup step can fix what the checks found");
        return Ok(());
    }
    show_plan(&run, &planned);
    if opts.dry_run {
        dry_run(&run, &planned, out);
        return Ok(());
    }
    let changes = planned.iter().any(StepPlan::changes);
    if !changes {
        let mut receipts = receipts;
        return apply(&run, &planned, &mut receipts, out).await;
    }
    if !opts.yes {
        crate::setup::confirm_plan(&ctx.process, &ctx.ui).await?;
    }
    // A partial run keeps to the steps shown, also when the plan is made again.
    let chosen: Vec<StepId> = planned.iter().map(|s| s.id).collect();
    let only = only.map(|_| chosen.as_slice());
    let s = &run.settings;
    let deadline = ctx.deadline();
    log::debug!("taking the state dir lock in {}", s.state_dir.display());
    let _lock = crate::system::lock::acquire(&s.fs, &s.state_dir, deadline, &ctx.ui).await?;
    let _system_lock = match s.records {
        Records::System => Some(
            crate::system::lock::acquire(&Fs::local(), &s.system_state_dir, deadline, &ctx.ui)
                .await?,
        ),
        Records::User => None,
    };
    let (plan, mut receipts) = under_lock(&run, facts, planned, only, out).await?;
    apply(&run, &plan, &mut receipts, out).await?;
    if run.settings.fs.is_separated() {
        record_user(&run.settings)?;
    }
    Ok(())
}

/// Root's record counts the user among those its shared installs serve.
fn record_user(s: &Settings) -> Result<()> {
    let ui = crate::ui::Ui::new(
        &crate::system::process::Process::default(),
        crate::ui::Format::Json,
        false,
        true,
    );
    let mut system = crate::setup::settings::load_receipt(&Fs::local(), &s.system_state_dir, &ui);
    if !system.users.contains(&s.user.uid) {
        system.users.push(s.user.uid);
        system.save(&Fs::local(), &s.system_state_dir)?;
    }
    Ok(())
}

/// Under the lock, look again: another run (or the user) may have changed the machine
/// since the plan was shown. The plan to apply: the confirmed one when nothing changed,
/// else the new one, shown and (interactive) confirmed again or (`--yes`) announced.
async fn under_lock(
    run: &Run<'_>,
    mut facts: Facts,
    mut planned: Vec<StepPlan>,
    only: Option<&[StepId]>,
    out: &mut Outcome,
) -> Result<(Vec<StepPlan>, Receipts)> {
    let ui = &run.ctx.ui;
    loop {
        let receipts = Receipts::load(&run.settings, ui);
        let now = steps::observe(run, &receipts).await?;
        if now == facts {
            return Ok((planned, receipts));
        }
        log::debug!("the facts changed between the plan and the lock: planning again");
        let again = select(steps::plan(&now), only);
        out.replanned = true;
        let applies = run.opts.yes || !again.iter().any(StepPlan::changes);
        ui.warn(if applies {
            "the machine changed since the plan was shown; applying the plan made now instead:"
        } else {
            "the machine changed since the plan was shown; the plan made now:"
        });
        show_plan(run, &again);
        if applies {
            return Ok((again, receipts));
        }
        // Asked while holding the lock: nobody else changes the machine meanwhile, but the
        // user might, so the answer holds only if the facts still match after it.
        crate::setup::confirm_plan(&run.ctx.process, ui).await?;
        (facts, planned) = (now, again);
    }
}

/// Apply `plan` step by step, reporting each as it finishes.
async fn apply(
    run: &Run<'_>,
    plan: &[StepPlan],
    receipts: &mut Receipts,
    out: &mut Outcome,
) -> Result<()> {
    for step in plan {
        let report = steps::apply(run, step, receipts).await?;
        run.ctx
            .ui
            .step(report.status.as_str(), report.id, &report.summary);
        out.steps.push(report);
    }
    Ok(())
}

/// Report what a dry run would do, changing nothing.
fn dry_run(run: &Run<'_>, planned: &[StepPlan], out: &mut Outcome) {
    let ui = &run.ctx.ui;
    for step in planned {
        let (status, summary) =
            dry_run_status(step.changes(), step.action == Action::Keep, &step.summary);
        ui.step(status.as_str(), step.id.as_str(), &summary);
        out.steps.push(StepReport {
            id: step.id.as_str(),
            status,
            summary,
            would_change: step.changes(),
            diff: match &step.action {
                Action::Write(w) => Some(w.diff.clone()),
                _ => None,
            },
        });
    }
    ui.info("dry run: nothing was changed");
}

/// The step that was running when an error ended the run: steps run in plan order, so
/// the first one not reported; `check` after them all.
pub fn failed_step(done: &[StepReport]) -> &'static str {
    StepId::ALL
        .iter()
        .map(|id| id.as_str())
        .chain(["check"])
        .find(|id| !done.iter().any(|s| s.id == *id))
        .unwrap_or("setup")
}

fn show_plan(run: &Run<'_>, plan: &[StepPlan]) {
    let settings = &run.settings;
    let heading = format!(
        "actsim setup for {} (uid {}): bin dir {}, state dir {}",
        settings.user.name,
        settings.user.uid,
        settings.bin_dir.display(),
        settings.state_dir.display()
    );
    let lines: Vec<PlanLine<'_>> = plan
        .iter()
        .map(|step| PlanLine {
            mark: if step.changes() {
                "will"
            } else if step.action == Action::Skip {
                "skip"
            } else {
                "ok"
            },
            id: step.id.as_str(),
            summary: &step.summary,
            details: &step.details,
            show_details: step.changes(),
            warnings: &step.warnings,
        })
        .collect();
    crate::setup::report::show_plan(&run.ctx.ui, &heading, &lines);
}

/// An error that ends a run, as the step report of the step it ended.
pub fn failed_report(done: &[StepReport], e: &Error) -> StepReport {
    StepReport {
        id: failed_step(done),
        status: crate::setup::StepStatus::Failed,
        summary: e.to_string(),
        ..Default::default()
    }
}
