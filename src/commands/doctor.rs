//! `actsim doctor` from the command line: the arguments as a [`Context`] and doctor's
//! options, dropping to the target user when root checks someone else, the run under its
//! deadline (Ctrl-C removes containers, exit 130), `--fix` (setup's steps for what failed,
//! then the checks again), `--bundle`, rendering and the exit code.
//!
//! What can go wrong: an unknown `--user` (exit 2), `--fix` as root for another user (exit
//! 2: that is setup's job), no async runtime (exit 1); a check that fails is a finding,
//! not an error; `--fix` ends with setup's exit code when a step fails.

use std::time::Duration;

use serde::Serialize;

use super::{Exit, Runtime};
use crate::cli::DoctorArgs;
use crate::context::{Context, Request};
use crate::doctor::{Finding, Options, Report, Status};
use crate::error::{Error, Result};
use crate::receipt::{Loaded, Receipt};
use crate::setup::StepReport;
use crate::system::process::Process;
use crate::ui::Format;

/// `doctor --format json`: doctor's report, and with `--fix` what was fixed.
#[derive(Debug, Clone, Serialize)]
struct Json {
    #[serde(flatten)]
    report: Report,
    /// `--fix` only: the setup steps run and the checks before them.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<FixReport>,
}

/// What `doctor --fix` did; `checks` of the report are the ones after it.
#[derive(Debug, Clone, Serialize)]
pub struct FixReport {
    pub steps: Vec<StepReport>,
    pub checks_before: Vec<Finding>,
}

/// Resolve the context, refuse `--fix` for another user, and drop to them to check.
fn prepare(args: &DoctorArgs, process: &Process) -> Result<(Context, Options)> {
    let req = Request {
        from_receipt: true,
        ..super::setup::request(&args.common, Duration::from_secs(args.timeout))
    };
    let ctx = Context::resolve(process, &req)?;
    // --fix changes things as root; for another user that is setup's job, which keeps
    // their I/O separated. Say so before checking anything.
    let separated = crate::system::halves::needs_separation(&ctx.user);
    if args.fix && separated {
        return Err(Error::usage(
            format!(
                "doctor --fix as root for {} would run setup's steps as them",
                ctx.user.name
            ),
            Some(format!(
                "run setup for them instead (the same steps, with privilege separation): actsim setup --yes --user {}",
                ctx.user.name
            )),
        ));
    }
    let mut opts = crate::setup::check::doctor_options(ctx.timeout);
    opts.deep = args.deep;
    opts.probe_image = args.probe_image.clone();
    // Root checking another user needs no privilege of its own: the user half checks, as
    // them (see `main`); root reads nothing of theirs.
    if separated {
        return Ok((ctx, opts));
    }
    opts.drift = crate::setup::records::drift(&ctx.process, &ctx.user, &ctx.bin_dir);
    opts.drift.lock = crate::act::lockfile::doctor_expectation(ctx.act_lock.as_deref());
    Ok((ctx, opts))
}

pub fn main(args: DoctorArgs, process: &Process, runtime: &Runtime) -> Result<Exit> {
    let (ctx, mut opts) = prepare(&args, process)?;
    if crate::system::halves::needs_separation(&ctx.user) {
        return as_user(&args, &ctx, &opts);
    }
    let ui = &ctx.ui;
    let mut findings = runtime.block_on(crate::doctor::run_until_stopped(&ctx, &opts))??;
    crate::doctor::report::print(ui, &findings);
    let (mut fix_report, mut fix_end) = (None, None);
    if args.fix {
        let (report, end, after) = fix(&args, &ctx, &mut opts, &findings, runtime);
        (fix_report, fix_end) = (report, end);
        if let Some(after) = after {
            findings = after;
        }
    }
    let mut bundle_error = None;
    if let Some(file) = &args.bundle {
        match runtime.block_on(crate::doctor::bundle::write(&ctx, &findings, file))? {
            Ok(names) => ui.info(&format!(
                "wrote the support bundle {} ({}); secret values are replaced by ***",
                file.display(),
                names.join(", ")
            )),
            Err(e) => bundle_error = Some(e),
        }
    }
    let report = Report::new(findings);
    let failed = report.checks.iter().any(|c| c.status == Status::Fail);
    if ui.format == Format::Json {
        ui.json(&Json {
            report,
            fix: fix_report,
        });
    }
    match (fix_end, bundle_error) {
        (Some(end), Some(e)) => {
            // Two errors: the fix's ends the run; the bundle's is said first.
            ui.error(&e);
            end
        }
        (Some(end), None) => end,
        (None, Some(e)) => Err(e),
        (None, None) => Ok(Exit::failed_if(failed)),
    }
}

/// `--fix`: run the setup steps for what `findings` found, then check again. Returns what
/// was done, how the run ends when the fix decides it (setup's error, or a failed step),
/// and the findings after the fix when the checks ran again. Setup's engine gets typed options
/// and this run's Context (its endpoint, daemon connection, hashes, flags and output).
fn fix(
    args: &DoctorArgs,
    ctx: &Context,
    opts: &mut Options,
    findings: &[Finding],
    runtime: &Runtime,
) -> (
    Option<FixReport>,
    Option<Result<Exit>>,
    Option<Vec<Finding>>,
) {
    let ui = &ctx.ui;
    let wanted = crate::setup::fix::steps_for(findings);
    if wanted.is_empty() {
        ui.info("nothing to fix: no failing or warning check has a cause a setup step fixes");
        return (None, None, None);
    }
    let setup_opts = fix_options(args, ctx);
    let names: Vec<&str> = wanted.iter().map(|s| s.as_str()).collect();
    ui.heading(&format!(
        "Fixing: setup's steps {} may fix what failed or warned; those with something to do:",
        names.join(", ")
    ));
    let mut out = crate::setup::engine::Outcome::default();
    let outcome = runtime.until_stopped(crate::setup::engine::run(
        ctx,
        &setup_opts,
        Some(&wanted),
        &mut out,
    ));
    let steps = out.steps;
    let report = FixReport {
        steps: steps.clone(),
        checks_before: findings.to_vec(),
    };
    if let Err(e) = outcome {
        return (Some(report), Some(Err(e)), None);
    }
    let failed = steps
        .iter()
        .any(|s| s.status == crate::setup::StepStatus::Failed);
    if steps.is_empty() {
        return (Some(report), None, None);
    }
    // Check the new state the way setup's final check does: a group added now counts.
    crate::setup::check::after_setup(ctx, opts);
    ui.heading("Checking again:");
    let (after, note) = runtime
        .block_on(crate::setup::check::run(ctx, opts))
        .unwrap_or_else(|e| (Vec::new(), Some(e.to_string())));
    if let Some(note) = note {
        ui.info(&note);
    }
    crate::doctor::report::print(ui, &after);
    (
        Some(report),
        failed.then_some(Ok(Exit::Failed)),
        Some(after),
    )
}

/// Setup's options for a fix: `--yes` as given, no final check (doctor checks again
/// itself), and what setup installed before (the act version of the receipt, the platform
/// image of `.env`) unless flags or the `ACTSIM_*` variables of setup's own flags say
/// otherwise.
fn fix_options(args: &DoctorArgs, ctx: &Context) -> crate::setup::Options {
    let var = |k: &str| ctx.process.var_nonempty(k).map(str::to_string);
    let path = |k: &str| var(k).map(std::path::PathBuf::from);
    let recorded_version = match Receipt::load(&crate::system::privsep::Fs::local(), &ctx.state_dir)
    {
        Loaded::Found(Receipt { act: Some(act), .. }) => Some(act.version),
        _ => None,
    };
    let env_platform = || {
        let env = crate::system::files::read_bounded(
            &ctx.config_dir.join(".env"),
            crate::system::files::MAX_READ,
        )
        .ok()??;
        crate::render::parse_env(&String::from_utf8_lossy(&env))
            .remove("PLATFORM_IMAGE")
            .filter(|p| !p.is_empty())
    };
    crate::setup::Options {
        yes: args.yes,
        dry_run: false,
        no_check: true,
        docker_group: var("ACTSIM_DOCKER_GROUP"),
        act_args: Vec::new(),
        platform_image: ctx.platform_image.is_none().then(env_platform).flatten(),
        act: crate::setup::steps::act::Asked {
            version: var("ACTSIM_ACT_VERSION").or(recorded_version),
            base_url: var("ACTSIM_ACT_BASE_URL"),
            archive: path("ACTSIM_ACT_ARCHIVE"),
            checksums: path("ACTSIM_ACT_CHECKSUMS"),
            sha256: var("ACTSIM_ACT_SHA256"),
            ca_cert: path("ACTSIM_CA_CERT"),
            allow_http: var("ACTSIM_ALLOW_HTTP").is_some_and(|v| {
                matches!(
                    v.to_ascii_lowercase().as_str(),
                    "1" | "true" | "yes" | "y" | "on"
                )
            }),
        },
    }
}

/// Root for another user: the user half runs doctor (and writes `--bundle`) as them; root
/// shows its findings (parsed, rendered through `ui`) and exits as doctor would.
fn as_user(args: &DoctorArgs, ctx: &Context, opts: &Options) -> Result<Exit> {
    let ui = &ctx.ui;
    let (findings, code) = crate::setup::check::as_user(ctx, opts, args.bundle.as_deref())?;
    crate::doctor::report::print(ui, &findings);
    let report = Report::new(findings);
    let failed = !report.ok;
    if ui.format == Format::Json {
        ui.json(&Json { report, fix: None });
    }
    // The child's own exit code also says whether its bundle was written.
    Ok(Exit::failed_if(failed || code != Some(0)))
}
