//! `actsim uninstall`: the command line → a [`Context`] and [`uninstall::Options`], the
//! steps, the outcome (human lines, or one JSON document) and how it ended (1 when a step
//! failed; the error: 3 declined, 5 a step needs root, 130/143 interrupted).

use std::time::Duration;

use super::{Exit, Runtime};
use crate::cli::UninstallArgs;
use crate::context::{Context, Request};
use crate::error::{Error, Result};
use crate::setup::StepStatus;
use crate::system::process::Process;
use crate::ui::{Format, Ui};
use crate::uninstall::{self, Report};

fn request(args: &UninstallArgs) -> Request {
    Request {
        user: args.user.clone(),
        format: args.format,
        quiet: args.quiet,
        timeout: Duration::from_secs(args.timeout),
        from_receipt: true,
        ..Request::default()
    }
}

fn options(args: &UninstallArgs) -> uninstall::Options {
    uninstall::Options {
        yes: args.yes,
        dry_run: args.dry_run,
        keep_act: args.keep_act,
        remove_group: args.remove_group,
        timeout: Duration::from_secs(args.timeout),
        user_half_changes: false,
    }
}

/// Entry point of `actsim uninstall`: runs and prints the outcome.
pub fn main(args: UninstallArgs, process: &Process, runtime: &Runtime) -> Result<Exit> {
    let ui = Ui::new(process, args.format, false, args.quiet);
    let mut opts = options(&args);
    let mut steps = Vec::new();
    let mut kept = Vec::new();
    let mut replanned = false;
    let outcome = match Context::resolve(process, &request(&args)) {
        Ok(ctx) if crate::system::halves::needs_separation(&ctx.user) => {
            as_root_for(&ctx, &args, &mut opts, runtime, &mut steps, &mut replanned)
        }
        Ok(ctx) => runtime.until_stopped(uninstall::uninstall(
            &ctx,
            &opts,
            &mut steps,
            &mut kept,
            &mut replanned,
        )),
        Err(e) => Err(e),
    };
    for k in &kept {
        ui.info(&format!("kept {}: {}", k.path.display(), k.reason));
    }
    let failed = steps.iter().any(|s| s.status == StepStatus::Failed);
    let report = Report {
        schema: crate::ui::JSON_SCHEMA,
        ok: outcome.is_ok() && !failed,
        changed: steps.iter().any(|s| s.status == StepStatus::Changed),
        steps,
        kept,
        replanned,
    };
    if args.format == Format::Json {
        ui.json(&report);
    } else if outcome.is_ok() && !args.dry_run {
        ui.info(&crate::setup::summary_line(
            "uninstall",
            report.ok,
            &report.steps,
        ));
    }
    outcome.map(|()| Exit::failed_if(failed))
}

/// Root for another user: the user half plans the user's side (their receipt, files and
/// state, as them; shown first), root plans only what its own record lists and asks once;
/// root applies its side, then the user half applies theirs. Nothing of the user's receipt
/// reaches root: the user half's answers are shown and counted, never acted on by root.
fn as_root_for(
    ctx: &Context,
    args: &UninstallArgs,
    opts: &mut uninstall::Options,
    runtime: &Runtime,
    steps: &mut Vec<crate::setup::StepReport>,
    replanned: &mut bool,
) -> crate::error::Result<()> {
    let ui = &ctx.ui;
    let planned = user_half(ctx, args, true)?;
    ui.heading(&format!("As {} (their receipt and files):", ctx.user.name));
    for s in &planned {
        ui.step(s.status.as_str(), s.id, &s.summary);
    }
    opts.user_half_changes = planned.iter().any(|s| s.would_change);
    let mut kept = Vec::new();
    let mut root_steps = Vec::new();
    runtime.until_stopped(uninstall::uninstall(
        ctx,
        opts,
        &mut root_steps,
        &mut kept,
        replanned,
    ))?;
    if args.dry_run {
        *steps = merge(root_steps, planned);
        return Ok(());
    }
    // Root's record no longer counts the user once root's side is done.
    if !root_steps.iter().any(|s| s.status == StepStatus::Failed) {
        forget_user(ctx)?;
    }
    let done = if opts.user_half_changes {
        ui.heading(&format!("As {}:", ctx.user.name));
        let done = user_half(ctx, args, false)?;
        for s in &done {
            ui.step(s.status.as_str(), s.id, &s.summary);
        }
        done
    } else {
        planned
    };
    *steps = merge(root_steps, done);
    Ok(())
}

/// Root's step where it did something, else the user half's.
fn merge(
    root: Vec<crate::setup::StepReport>,
    user: Vec<crate::setup::StepReport>,
) -> Vec<crate::setup::StepReport> {
    root.into_iter()
        .map(|r| match user.iter().find(|u| u.id == r.id) {
            Some(u)
                if matches!(r.status, StepStatus::Ok | StepStatus::Skipped)
                    && !r.would_change
                    && u.status != StepStatus::Skipped =>
            {
                u.clone()
            }
            _ => r,
        })
        .collect()
}

/// Remove the user from root's record: who shares root's installs, and the memberships
/// root added (forgotten like the user's receipt is: a later `--remove-group` leaves a
/// membership that was there before the next setup).
fn forget_user(ctx: &Context) -> crate::error::Result<()> {
    let fs = crate::system::privsep::Fs::local();
    if let crate::receipt::Loaded::Found(mut r) =
        crate::receipt::Receipt::load(&fs, &ctx.system_state_dir)
        && (r.users.contains(&ctx.user.uid) || r.groups_added.iter().any(|g| g.uid == ctx.user.uid))
    {
        r.users.retain(|u| *u != ctx.user.uid);
        r.groups_added.retain(|g| g.uid != ctx.user.uid);
        r.save(&fs, &ctx.system_state_dir)?;
    }
    Ok(())
}

/// One step of the user half's JSON report (untrusted: only known ids and statuses count).
#[derive(serde::Deserialize)]
struct UserStep {
    id: String,
    status: String,
    summary: String,
    #[serde(default)]
    would_change: bool,
}

/// `actsim __user uninstall --format json` as the user: plan (`dry_run`) or apply.
fn user_half(
    ctx: &Context,
    args: &UninstallArgs,
    dry_run: bool,
) -> crate::error::Result<Vec<crate::setup::StepReport>> {
    let mut argv: Vec<String> = ["uninstall", "--format", "json", "--timeout"]
        .map(String::from)
        .to_vec();
    argv.push(args.timeout.to_string());
    argv.push(if dry_run { "--dry-run" } else { "--yes" }.into());
    if args.keep_act {
        argv.push("--keep-act".into());
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(args.timeout + 10);
    let out = crate::system::halves::run_as(&ctx.user, &ctx.process, &argv, &[], deadline)?;
    if out.timed_out {
        return Err(Error::failed(
            format!(
                "uninstall as {} did not finish within --timeout",
                ctx.user.name
            ),
            Some("raise --timeout".into()),
        ));
    }
    if out.code != Some(0) {
        // Its error and hint, relayed (escaped, capped) before its report.
        crate::setup::check::relay_stderr(ctx, &out);
    }
    #[derive(serde::Deserialize)]
    struct Doc {
        steps: Vec<UserStep>,
    }
    let doc: Doc = serde_json::from_slice(&out.stdout).map_err(|e| {
        Error::failed(
            format!("uninstall as {} gave no report: {e}", ctx.user.name),
            None,
        )
    })?;
    let mut steps: Vec<crate::setup::StepReport> = doc
        .steps
        .into_iter()
        .filter_map(|s| {
            let id = uninstall::UninstallStep::ALL
                .into_iter()
                .find(|u| u.as_str() == s.id)?
                .as_str();
            let status = [
                StepStatus::Ok,
                StepStatus::Changed,
                StepStatus::Skipped,
                StepStatus::Failed,
            ]
            .into_iter()
            .find(|st| st.as_str() == s.status)?;
            Some(crate::setup::StepReport {
                id,
                status,
                summary: s.summary.chars().take(2000).collect(),
                diff: None,
                would_change: s.would_change,
            })
        })
        .collect();
    // An error ended the user half before its remaining steps: the next one failed.
    if out.code != Some(0) && !steps.iter().any(|s| s.status == StepStatus::Failed) {
        let next = uninstall::UninstallStep::ALL
            .into_iter()
            .find(|u| !steps.iter().any(|s| s.id == u.as_str()))
            .unwrap_or(uninstall::UninstallStep::State);
        steps.push(crate::setup::StepReport {
            id: next.as_str(),
            status: StepStatus::Failed,
            summary: format!(
                "uninstall as {} stopped (exit {})",
                ctx.user.name,
                out.code.map_or("by a signal".into(), |c| c.to_string())
            ),
            ..Default::default()
        });
    }
    Ok(steps)
}
