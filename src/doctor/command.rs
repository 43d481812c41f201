//! `actsim doctor` from the command line: options from flags, the run under its deadline,
//! Ctrl-C handling (containers removed, exit 130), rendering, and the exit code.
//!
//! What can go wrong: an unknown `--user` (exit 2), no async runtime (exit 1); a check that
//! fails is a finding, not an error. As setup's final check it may re-run itself under
//! `sg GROUP` and falls back to running in-process when that does not work.

use std::process::ExitCode;
use std::time::Duration;

use serde::Serialize;

use super::{Cleanup, GroupView, Options, Report};
use crate::cli::DoctorArgs;
use crate::context::{Context, Request};
use crate::error::{Error, exit};
use crate::system::process::Process;
use crate::ui::Ui;

/// What `doctor --fix` did; `checks` of the report are the ones after it.
#[derive(Debug, Clone, Serialize)]
pub struct FixReport {
    pub steps: Vec<crate::setup::StepReport>,
    pub checks_before: Vec<super::Finding>,
}

/// The JSON document of `doctor --format json`: the report, and with `--fix` what it did.
#[derive(Debug, Clone, Serialize)]
struct Document {
    #[serde(flatten)]
    report: Report,
    /// `--fix` only: the setup steps run and the checks before them.
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<FixReport>,
}

/// The run's context from the shared flags.
pub fn context(
    process: &Process,
    common: &crate::cli::Common,
    timeout: Duration,
) -> Result<Context, Error> {
    Context::resolve(
        process,
        &Request {
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
        },
    )
}

/// Run the checks on a fresh runtime, removing containers on Ctrl-C.
pub fn run_blocking(ctx: &Context, opts: &Options) -> Result<Vec<super::Finding>, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}"), None))?;
    let result = runtime.block_on(async {
        let cleanup = Cleanup::default();
        tokio::select! {
            findings = super::run(ctx, opts, &cleanup) => Ok(findings),
            stop = crate::system::signals::stopped() => {
                cleanup.purge(Duration::from_secs(3)).await;
                Err(Error::Interrupted(stop))
            }
        }
    });
    // A blocking task still running past the deadline (hashing a large file on a slow
    // disk) must not hold the exit: dropping the runtime would wait for it.
    runtime.shutdown_background();
    result
}

pub fn main(args: DoctorArgs, process: &Process) -> ExitCode {
    let with_host = process.with_docker_host(args.common.docker_host.as_deref());
    let process = &with_host;
    let ui = Ui::new(
        process,
        args.common.format,
        args.common.verbose,
        args.common.quiet,
    );
    let timeout = Duration::from_secs(args.timeout);
    let ctx = match context(process, &args.common, timeout) {
        Ok(c) => c,
        Err(e) => {
            ui.error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    let mut opts = Options::new(timeout);
    // --fix changes things as root; for another user that is setup's job, which keeps
    // their I/O separated. Say so before checking anything.
    if args.fix && crate::system::privsep::needs_separation(&ctx.user) {
        let e = Error::usage(
            format!(
                "doctor --fix as root for {} would run setup's steps as them",
                ctx.user.name
            ),
            Some(format!(
                "run setup for them instead (the same steps, with privilege separation): actsim setup --yes --user {}",
                ctx.user.name
            )),
        );
        ui.error(&e);
        return ExitCode::from(e.exit_code());
    }
    // Root checking another user needs no privilege of its own: drop to them for the
    // whole run, so nothing they planted can make root read, run or wait on anything.
    let ctx = if crate::system::privsep::needs_separation(&ctx.user) {
        match drop_to(&ctx) {
            Ok(c) => c,
            Err(e) => {
                ui.error(&e);
                return ExitCode::from(e.exit_code());
            }
        }
    } else {
        ctx
    };
    let process = &ctx.process;
    opts.deep = args.deep;
    opts.probe_image = args.probe_image.clone();
    opts.drift = crate::receipt_drift(process, &ctx.user, &ctx.bin_dir);
    opts.drift.lock = crate::act::lockfile::doctor_expectation(args.common.act_lock.as_deref());
    let mut findings = match run_blocking(&ctx, &opts) {
        Ok(f) => f,
        Err(e) => {
            ui.error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    crate::doctor::report::print(&ui, &findings);
    let mut fix_report = None;
    let mut fix_code = None;
    if args.fix {
        let (report, code, after) = fix(&args, &ctx, &ui, &mut opts, &findings);
        fix_report = report;
        fix_code = code;
        if let Some(after) = after {
            findings = after;
        }
    }
    let mut bundle_failed = false;
    if let Some(file) = &args.bundle {
        match write_bundle(&ctx, &findings, file) {
            Ok(names) => ui.info(&format!(
                "wrote the support bundle {} ({}); secret values are replaced by ***",
                file.display(),
                names.join(", ")
            )),
            Err(e) => {
                ui.error(&e);
                bundle_failed = true;
            }
        }
    }
    let report = Report::new(findings);
    let failed = !report.ok;
    if args.common.format == crate::cli::Format::Json {
        ui.json(&Document {
            report,
            fix: fix_report,
        });
    }
    if let Some(code) = fix_code {
        return ExitCode::from(code);
    }
    if bundle_failed || failed {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}

/// `--fix`: run the setup steps for what `findings` found, then check again. Returns what
/// was done, an exit code that overrides doctor's (setup's error, or a failed step), and
/// the findings after the fix when the checks ran again.
fn fix(
    args: &DoctorArgs,
    ctx: &Context,
    ui: &Ui,
    opts: &mut Options,
    findings: &[super::Finding],
) -> (Option<FixReport>, Option<u8>, Option<Vec<super::Finding>>) {
    let wanted = super::fix::steps_for(findings);
    if wanted.is_empty() {
        ui.info("nothing to fix: no failing or warning check has a cause a setup step fixes");
        return (None, None, None);
    }
    let process = &ctx.process;
    let setup_args = match super::fix::setup_args(args, ctx) {
        Ok(a) => a,
        Err(e) => {
            ui.error(&e);
            return (None, Some(e.exit_code()), None);
        }
    };
    ui.heading(&format!(
        "Fixing: setup's steps {} may fix what failed or warned; those with something to do:",
        wanted.join(", ")
    ));
    let (steps, outcome) = crate::setup::run_steps(&setup_args, process, ui, &wanted);
    let report = FixReport {
        steps: steps.clone(),
        checks_before: findings.to_vec(),
    };
    if let Err(e) = outcome {
        ui.error(&e);
        return (Some(report), Some(e.exit_code()), None);
    }
    let failed = steps
        .iter()
        .any(|s| s.status == crate::setup::StepStatus::Failed);
    if steps.is_empty() {
        return (Some(report), None, None);
    }
    // Check the new state the way setup's final check does: a group added now counts.
    opts.drift = crate::receipt_drift(process, &ctx.user, &ctx.bin_dir);
    opts.group_view = GroupView::Database;
    ui.heading("Checking again:");
    let (after, note) = final_check(ctx, opts);
    if let Some(note) = note {
        ui.info(&note);
    }
    crate::doctor::report::print(ui, &after);
    (Some(report), failed.then_some(exit::FAILED), Some(after))
}

/// `--bundle FILE`, on its own small runtime.
fn write_bundle(
    ctx: &Context,
    findings: &[super::Finding],
    file: &std::path::Path,
) -> Result<Vec<String>, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}"), None))?;
    runtime.block_on(super::bundle::write(ctx, findings, file))
}

/// Become `ctx.user` for good (their uid, gid and database groups) and give the process
/// their identity: `HOME`, `USER`, `LOGNAME`; root's XDG and docker config dirs are
/// dropped. The paths in `ctx` were resolved before, as root (so root's defaults hold).
/// Runs before any thread exists.
fn drop_to(ctx: &Context) -> Result<Context, Error> {
    crate::system::privsep::become_user(&ctx.user)?;
    let home = ctx.user.home.clone();
    // SAFETY: called from `main` before the async runtime or any other thread starts.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("USER", &ctx.user.name);
        std::env::set_var("LOGNAME", &ctx.user.name);
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

/// Doctor's checks as setup's last step, and a note on how they ran.
///
/// When the target user is this process's user, is not root, and the group database lists
/// the socket's group that this login does not carry yet (setup just added it), the checks
/// run in a child `sg GROUP -c "actsim doctor --format json …"`, so they see the groups of
/// the user's next login instead of failing on the old ones.
pub fn final_check(ctx: &Context, opts: &Options) -> (Vec<super::Finding>, Option<String>) {
    let user = &ctx.user;
    if crate::system::privsep::needs_separation(user) {
        // Root for another user: a child doctor that drops to them (see `main`).
        return match run_child(ctx, opts, None) {
            Some(findings) => (
                findings,
                Some(format!(
                    "checked as {} (uid {}) with the groups of their next login",
                    user.name, user.uid
                )),
            ),
            None => (
                Vec::new(),
                Some(format!("the check as {} did not run", user.name)),
            ),
        };
    }
    if let Some((group, gid)) = pending_group(ctx)
        && let Some(findings) = run_child(ctx, opts, Some(&group))
    {
        return (
            findings,
            Some(format!(
                "checked as {} with group {group} (gid {gid}) through sg: this login gains it after logging in again or `newgrp {group}`",
                user.name
            )),
        );
    }
    match run_blocking(ctx, opts) {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

/// The socket group the user's next login has and this process lacks.
fn pending_group(ctx: &Context) -> Option<(String, u32)> {
    let user = &ctx.user;
    if !user.is_current || user.uid == 0 {
        return None;
    }
    let endpoint = ctx.endpoint().as_ref().ok()?;
    let meta = crate::docker::detect::socket_meta(&endpoint.socket_path()?)?;
    let now = crate::system::identity::process_gids();
    (user.database_gids().contains(&meta.gid) && !now.contains(&meta.gid))
        .then(|| (crate::system::identity::group_name(meta.gid), meta.gid))
}

/// `actsim doctor --format json …` in a child: under `sg GROUP` (a group this login lacks),
/// or as root with `--user` (the child drops to the user). Its report is read back as
/// doctor's own [`Report`]; a document that does not parse (an unknown check id among
/// them) counts as a child that did not run.
fn run_child(ctx: &Context, opts: &Options, sg: Option<&str>) -> Option<Vec<super::Finding>> {
    let exe = std::env::current_exe().ok()?;
    let mut words = vec![
        exe.to_string_lossy().to_string(),
        "doctor".into(),
        "--format".into(),
        "json".into(),
        "--timeout".into(),
        opts.timeout.as_secs().max(1).to_string(),
        "--bin-dir".into(),
        ctx.bin_dir.to_string_lossy().to_string(),
        "--config-dir".into(),
        ctx.config_dir.to_string_lossy().to_string(),
    ];
    if let Some(p) = &ctx.platform_image {
        words.extend(["--platform-image".into(), p.clone()]);
    }
    let mut cmd = match sg {
        Some(group) => {
            let mut c = std::process::Command::new("sg");
            c.args([group, "-c", &crate::system::process::sh_join(&words)]);
            c
        }
        None => {
            words.extend(["--user".into(), ctx.user.name.clone()]);
            let mut c = std::process::Command::new("/proc/self/exe");
            c.args(&words[1..]);
            c
        }
    };
    let out = cmd
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    match serde_json::from_slice::<Report>(&out.stdout) {
        Ok(report) => Some(report.checks),
        Err(e) => {
            log::debug!("the child doctor's report does not parse: {e}");
            None
        }
    }
}
