//! `actsim doctor` from the command line: the arguments as a [`Context`] and doctor's
//! options, dropping to the target user when root checks someone else, the run under its
//! deadline (Ctrl-C removes containers, exit 130), `--fix` (setup's steps for what failed,
//! then the checks again), `--bundle`, rendering and the exit code.
//!
//! What can go wrong: an unknown `--user` (exit 2), `--fix` as root for another user (exit
//! 2: that is setup's job), no async runtime (exit 1); a check that fails is a finding,
//! not an error; `--fix` ends with setup's exit code when a step fails.

use std::ffi::OsString;
use std::time::Duration;

use clap::Parser;
use serde::Serialize;

use super::{Exit, Runtime};
use crate::cli::{Cli, Command, DoctorArgs, SetupArgs};
use crate::context::Context;
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
    let req = super::setup::request(&args.common, Duration::from_secs(args.timeout));
    let mut ctx = Context::resolve(process, &req)?;
    // --fix changes things as root; for another user that is setup's job, which keeps
    // their I/O separated. Say so before checking anything.
    let separated = crate::system::privsep::needs_separation(&ctx.user);
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
    // Root checking another user needs no privilege of its own: drop to them for the
    // whole run, so nothing they planted can make root read, run or wait on anything.
    if separated {
        ctx = drop_to(&ctx)?;
    }
    opts.deep = args.deep;
    opts.probe_image = args.probe_image.clone();
    opts.drift = crate::setup::records::drift(&ctx.process, &ctx.user, &ctx.bin_dir);
    opts.drift.lock = crate::act::lockfile::doctor_expectation(ctx.act_lock.as_deref());
    Ok((ctx, opts))
}

pub fn main(args: DoctorArgs, process: &Process, runtime: &Runtime) -> Result<Exit> {
    let (ctx, mut opts) = prepare(&args, process)?;
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
/// and the findings after the fix when the checks ran again.
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
    let setup_args = match setup_args(args, ctx) {
        Ok(a) => a,
        Err(e) => return (None, Some(Err(e)), None),
    };
    let names: Vec<&str> = wanted.iter().map(|s| s.as_str()).collect();
    ui.heading(&format!(
        "Fixing: setup's steps {} may fix what failed or warned; those with something to do:",
        names.join(", ")
    ));
    let (req, setup_opts) = super::setup::options(&setup_args);
    let (steps, outcome) =
        crate::setup::fix::run_steps(&ctx.process, &req, &setup_opts, &wanted, runtime);
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
    opts.drift.lock = None;
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

/// Setup's arguments for a fix: doctor's shared flags, `--yes`, no final check (doctor
/// checks again itself), and what setup installed before (act version, platform image)
/// unless flags or `ACTSIM_*` say otherwise. Parsed like setup's own command line, so the
/// `ACTSIM_*` variables count.
fn setup_args(args: &DoctorArgs, ctx: &Context) -> Result<SetupArgs> {
    let process = &ctx.process;
    let c = &args.common;
    let mut argv: Vec<OsString> = ["actsim", "setup", "--no-check", "--format"]
        .map(OsString::from)
        .to_vec();
    argv.push(match c.format {
        Format::Human => "human".into(),
        Format::Json => "json".into(),
    });
    let mut flag = |name: &str, value: OsString| {
        argv.push(name.into());
        argv.push(value);
    };
    if let Some(b) = &c.bin_dir {
        flag("--bin-dir", b.clone().into_os_string());
    }
    if let Some(d) = &c.config_dir {
        flag("--config-dir", d.clone().into_os_string());
    }
    if let Some(u) = &c.user {
        flag("--user", u.into());
    }
    let platform = c.platform_image.clone().or_else(|| {
        let env = crate::system::files::read_bounded(
            &ctx.config_dir.join(".env"),
            crate::system::files::MAX_READ,
        )
        .ok()??;
        crate::doctor::parse_env(&String::from_utf8_lossy(&env)).remove("PLATFORM_IMAGE")
    });
    if let Some(p) = platform.filter(|p| !p.is_empty()) {
        flag("--platform-image", p.into());
    }
    if process.var_nonempty("ACTSIM_ACT_VERSION").is_none()
        && let Loaded::Found(Receipt { act: Some(act), .. }) =
            Receipt::load(&crate::system::privsep::Fs::local(), &ctx.state_dir)
    {
        flag("--act-version", act.version.into());
    }
    if args.yes {
        argv.push("--yes".into());
    }
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: Command::Setup(a),
        }) => Ok(a),
        Ok(_) => Err(Error::failed("internal: not a setup command", None)),
        Err(e) => Err(Error::usage(
            format!("doctor --fix: {}", e.to_string().trim()),
            Some("check the ACTSIM_* variables and the flags".to_string()),
        )),
    }
}

/// Become the context's user for good (their uid, gid and database groups) and give the
/// process their identity: `HOME`, `USER`, `LOGNAME`; root's XDG and docker config dirs are
/// dropped. The paths in the context were resolved before, as root (so root's defaults
/// hold). Runs before any thread exists.
fn drop_to(ctx: &Context) -> Result<Context> {
    let user = &ctx.user;
    crate::system::privsep::become_user(user)?;
    // SAFETY: called from `main` before the async runtime or any other thread starts.
    unsafe {
        std::env::set_var("HOME", &user.home);
        std::env::set_var("USER", &user.name);
        std::env::set_var("LOGNAME", &user.name);
        for k in [
            "XDG_CONFIG_HOME",
            "XDG_STATE_HOME",
            "XDG_CACHE_HOME",
            "XDG_DATA_HOME",
            "XDG_RUNTIME_DIR",
            "DOCKER_CONFIG",
            "SUDO_USER",
            "SUDO_UID",
            "SUDO_GID",
        ] {
            std::env::remove_var(k);
        }
    }
    Ok(ctx.became_user(Process::from_os()))
}
