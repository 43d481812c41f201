//! `actsim setup` from the command line (see [`super`]): the arguments as a
//! [`Request`] and plain [`setup::Options`], the run on the runtime (Ctrl-C ends it with
//! exit 130), the final check, the report (human summary or JSON) and how it ended.
//!
//! What can go wrong: everything the engine returns (its exit code), no async runtime
//! (exit 1); failed steps or checks make the exit 1.

use std::time::Duration;

use super::{Exit, Runtime};
use crate::cli::{Common, Format, SetupArgs};
use crate::context::{Context, Request};
use crate::error::{Error, Result};
use crate::setup::engine::{self, Outcome};
use crate::setup::{self, Report, StepStatus};
use crate::system::process::Process;
use crate::ui::Ui;

/// The shared flags as a request, with this command's `--timeout`.
pub fn request(common: &Common, timeout: Duration) -> Request {
    Request {
        user: common.user.clone(),
        bin_dir: common.bin_dir.clone(),
        config_dir: common.config_dir.clone(),
        platform_image: common.platform_image.clone(),
        docker_host: common.docker_host.clone(),
        act_lock: common.act_lock.clone(),
        format: common.format,
        verbose: common.verbose,
        quiet: common.quiet,
        timeout,
        from_receipt: false,
    }
}

/// Setup's arguments as a request and plain options.
pub fn options(args: &SetupArgs) -> (Request, setup::Options) {
    let opts = setup::Options {
        yes: args.yes,
        dry_run: args.dry_run,
        no_check: args.no_check,
        docker_group: args.docker_group.clone(),
        act_args: args.act_arg.clone(),
        platform_image: None,
        act: setup::steps::act::Asked {
            version: args.act_version.clone(),
            base_url: args.act_base_url.clone(),
            archive: args.act_archive.clone(),
            checksums: args.act_checksums.clone(),
            sha256: args.act_sha256.clone(),
            ca_cert: args.ca_cert.clone(),
            allow_http: args.allow_http,
        },
    };
    (
        request(&args.common, Duration::from_secs(args.timeout)),
        opts,
    )
}

/// Entry point of `actsim setup`: runs and prints the outcome.
pub fn main(args: SetupArgs, process: &Process, runtime: &Runtime) -> Result<Exit> {
    let (req, opts) = options(&args);
    let ctx = match Context::resolve(process, &req) {
        Ok(ctx) => ctx,
        Err(e) => {
            // Resolving failed before any output was set up: report it like the engine.
            let ui = Ui::new(process, req.format, req.verbose, req.quiet);
            return finish(&ui, &opts, Outcome::default(), Err(e), Vec::new());
        }
    };
    let mut out = Outcome::default();
    let result = runtime.until_stopped(engine::run(&ctx, &opts, None, &mut out));
    let mut checks = Vec::new();
    if result.is_ok() && !opts.dry_run && !opts.no_check {
        // The same context: its endpoint, daemon connection and hashes are reused.
        checks = runtime.block_on(setup::check::final_check(&ctx))?;
    }
    finish(&ctx.ui, &opts, out, result, checks)
}

/// Report how the run ended (the failed step, the JSON or the summary line); the error is
/// returned for `lib::main` to print.
fn finish(
    ui: &Ui,
    opts: &setup::Options,
    mut out: Outcome,
    result: crate::error::Result<()>,
    checks: Vec<crate::doctor::Finding>,
) -> Result<Exit> {
    if let Err(e) = &result
        && !matches!(e, Error::Aborted { .. } | Error::Usage { .. })
    {
        let failed = engine::failed_report(&out.steps, e);
        ui.step("failed", failed.id, &failed.summary);
        out.steps.push(failed);
    }
    let failed = out.steps.iter().any(|s| s.status == StepStatus::Failed)
        || checks
            .iter()
            .any(|c| c.status == crate::doctor::Status::Fail);
    let mut report = Report::new(out.steps, checks);
    report.replanned = out.replanned;
    // Aborted or usage errors report no failed step, but the run did not succeed.
    report.ok &= result.is_ok();
    if opts.dry_run && result.is_ok() {
        report.would_change = Some(report.steps.iter().any(|s| s.would_change));
    }
    if !report.ok {
        report.reason = Some(setup::failure_reason(result.as_ref().err(), &report));
    }
    if ui.format == Format::Json {
        ui.json(&report);
    } else if result.is_ok() && !opts.dry_run {
        ui.info(&setup::summary_line("setup", report.ok, &report.steps));
    }
    result.map(|()| Exit::failed_if(failed))
}
