//! `actsim uninstall`: the command line → a [`Context`] and [`uninstall::Options`], a
//! runtime, the steps, the outcome (human lines, or one JSON document) and the exit code
//! (1 when a step failed, 3 declined, 5 a step needs root, 130/143 interrupted).

use std::process::ExitCode;
use std::time::Duration;

use crate::cli::UninstallArgs;
use crate::context::{Context, Request};
use crate::error::{Error, exit};
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

/// Entry point of `actsim uninstall`: runs, prints the outcome, returns the exit code.
pub fn main(args: UninstallArgs, process: &Process) -> ExitCode {
    let ui = Ui::new(process, args.format, false, args.quiet);
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            ui.error(&Error::failed(
                format!("starting the async runtime: {e}"),
                None,
            ));
            return ExitCode::from(exit::FAILED);
        }
    };
    let opts = options(&args);
    let mut steps = Vec::new();
    let mut kept = Vec::new();
    let mut replanned = false;
    let outcome = match Context::resolve(process, &request(&args)) {
        Ok(ctx) => runtime.block_on(async {
            tokio::select! {
                r = uninstall::uninstall(&ctx, &opts, &mut steps, &mut kept, &mut replanned) => r,
                stop = crate::system::signals::stopped() => Err(Error::Interrupted(stop)),
            }
        }),
        Err(e) => Err(e),
    };
    runtime.shutdown_timeout(Duration::from_millis(200));
    let code = match &outcome {
        Ok(()) if steps.iter().any(|s| s.status == StepStatus::Failed) => exit::FAILED,
        Ok(()) => exit::OK,
        Err(e) => {
            ui.error(e);
            e.exit_code()
        }
    };
    for k in &kept {
        ui.info(&format!("kept {}: {}", k.path.display(), k.reason));
    }
    let report = Report {
        schema: crate::ui::JSON_SCHEMA,
        ok: outcome.is_ok() && !steps.iter().any(|s| s.status == StepStatus::Failed),
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
    ExitCode::from(code)
}
