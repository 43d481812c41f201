//! `actsim uninstall`: the command line → a [`Context`] and [`uninstall::Options`], the
//! steps, the outcome (human lines, or one JSON document) and how it ended (1 when a step
//! failed; the error: 3 declined, 5 a step needs root, 130/143 interrupted).

use std::time::Duration;

use super::{Exit, Runtime};
use crate::cli::UninstallArgs;
use crate::context::{Context, Request};
use crate::error::Result;
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
    }
}

/// Entry point of `actsim uninstall`: runs and prints the outcome.
pub fn main(args: UninstallArgs, process: &Process, runtime: &Runtime) -> Result<Exit> {
    let ui = Ui::new(process, args.format, false, args.quiet);
    let opts = options(&args);
    let mut steps = Vec::new();
    let mut kept = Vec::new();
    let mut replanned = false;
    let outcome = Context::resolve(process, &request(&args)).and_then(|ctx| {
        runtime.until_stopped(uninstall::uninstall(
            &ctx,
            &opts,
            &mut steps,
            &mut kept,
            &mut replanned,
        ))
    });
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
