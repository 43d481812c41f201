//! `actsim doctor` from the command line: options from flags, the run under its deadline,
//! Ctrl-C handling (containers removed, exit 130), rendering, and the exit code.
//!
//! What can go wrong: an unknown `--user` (exit 2), no async runtime (exit 1); a check that
//! fails is a finding, not an error. As setup's final check it may re-run itself under
//! `sg GROUP` and falls back to running in-process when that does not work.

use std::process::ExitCode;
use std::time::Duration;

use super::{Cleanup, Drift, GroupView, Options, Report, Status};
use crate::cli::DoctorArgs;
use crate::error::{Error, exit};
use crate::system::identity::TargetUser;
use crate::system::process::Process;
use crate::ui::Ui;

/// Build doctor options from the shared flags.
pub fn options(
    process: &Process,
    common: &crate::cli::Common,
    timeout: Duration,
) -> Result<Options, Error> {
    let user = TargetUser::resolve(common.user.as_deref(), process)?;
    Ok(Options {
        timeout,
        deep: false,
        config_dir: common
            .config_dir
            .clone()
            .unwrap_or_else(|| user.config_dir(process)),
        bin_dir: common
            .bin_dir
            .clone()
            .unwrap_or_else(|| user.default_bin_dir()),
        probe_image: None,
        platform_image: common.platform_image.clone(),
        group_view: GroupView::Process,
        drift: Drift::default(),
        state_dir: Some(user.state_dir(process)),
        user,
    })
}

/// Run the checks on a fresh runtime, removing containers on Ctrl-C.
pub fn run_blocking(process: &Process, opts: &Options) -> Result<Vec<super::Finding>, Error> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}"), None))?;
    let result = runtime.block_on(async {
        let cleanup = Cleanup::default();
        tokio::select! {
            findings = super::run(process, opts, &cleanup) => Ok(findings),
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
    let mut opts = match options(process, &args.common, Duration::from_secs(args.timeout)) {
        Ok(o) => o,
        Err(e) => {
            ui.error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    // --fix changes things as root; for another user that is setup's job, which keeps
    // their I/O separated. Say so before checking anything.
    if args.fix && crate::system::privsep::needs_separation(&opts.user) {
        let e = Error::usage(
            format!(
                "doctor --fix as root for {} would run setup's steps as them",
                opts.user.name
            ),
            Some(format!(
                "run setup for them instead (the same steps, with privilege separation): actsim setup --yes --user {}",
                opts.user.name
            )),
        );
        ui.error(&e);
        return ExitCode::from(e.exit_code());
    }
    // Root checking another user needs no privilege of its own: drop to them for the
    // whole run, so nothing they planted can make root read, run or wait on anything.
    let dropped;
    let process = if crate::system::privsep::needs_separation(&opts.user) {
        match drop_to(&mut opts) {
            Ok(p) => {
                dropped = p;
                &dropped
            }
            Err(e) => {
                ui.error(&e);
                return ExitCode::from(e.exit_code());
            }
        }
    } else {
        process
    };
    opts.deep = args.deep;
    opts.probe_image = args.probe_image.clone();
    opts.drift = crate::receipt_drift(process, &opts.user, &opts.bin_dir);
    opts.drift.lock = crate::act::lockfile::doctor_expectation(args.common.act_lock.as_deref());
    let mut findings = match run_blocking(process, &opts) {
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
        let (report, code, after) = fix(&args, process, &ui, &mut opts, &findings);
        fix_report = report;
        fix_code = code;
        if let Some(after) = after {
            findings = after;
        }
    }
    let mut bundle_failed = false;
    if let Some(file) = &args.bundle {
        match write_bundle(process, &opts, &findings, file) {
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
    let mut report = Report::new(findings);
    report.fix = fix_report;
    if args.common.format == crate::cli::Format::Json {
        ui.json(&report);
    }
    if let Some(code) = fix_code {
        return ExitCode::from(code);
    }
    if bundle_failed || report.checks.iter().any(|c| c.status == Status::Fail) {
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
    process: &Process,
    ui: &Ui,
    opts: &mut Options,
    findings: &[super::Finding],
) -> (
    Option<super::FixReport>,
    Option<u8>,
    Option<Vec<super::Finding>>,
) {
    let wanted = super::fix::steps_for(findings);
    if wanted.is_empty() {
        ui.info("nothing to fix: no failing or warning check has a cause a setup step fixes");
        return (None, None, None);
    }
    let setup_args = match super::fix::setup_args(args, process, opts) {
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
    let report = super::FixReport {
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
    opts.drift = crate::receipt_drift(process, &opts.user, &opts.bin_dir);
    opts.group_view = GroupView::Database;
    ui.heading("Checking again:");
    let (after, note) = final_check(process, opts);
    if let Some(note) = note {
        ui.info(&note);
    }
    crate::doctor::report::print(ui, &after);
    (Some(report), failed.then_some(exit::FAILED), Some(after))
}

/// `--bundle FILE`, on its own small runtime.
fn write_bundle(
    process: &Process,
    opts: &Options,
    findings: &[super::Finding],
    file: &std::path::Path,
) -> Result<Vec<String>, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}"), None))?;
    runtime.block_on(super::bundle::write(process, opts, findings, file))
}

/// Become `opts.user` for good (their uid, gid and database groups) and give the process
/// their identity: `HOME`, `USER`, `LOGNAME`; root's XDG and docker config dirs are
/// dropped. The paths in `opts` were resolved before, as root (so root's defaults hold).
/// Runs before any thread exists.
fn drop_to(opts: &mut Options) -> Result<Process, Error> {
    crate::system::privsep::become_user(&opts.user)?;
    let home = opts.user.home.clone();
    // SAFETY: called from `main` before the async runtime or any other thread starts.
    unsafe {
        std::env::set_var("HOME", &home);
        std::env::set_var("USER", &opts.user.name);
        std::env::set_var("LOGNAME", &opts.user.name);
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
    opts.user.is_current = true;
    Ok(Process::from_os())
}

/// Doctor's checks as setup's last step, and a note on how they ran.
///
/// When the target user is this process's user, is not root, and the group database lists
/// the socket's group that this login does not carry yet (setup just added it), the checks
/// run in a child `sg GROUP -c "actsim doctor --format json …"`, so they see the groups of
/// the user's next login instead of failing on the old ones.
pub fn final_check(process: &Process, opts: &Options) -> (Vec<super::Finding>, Option<String>) {
    if crate::system::privsep::needs_separation(&opts.user) {
        // Root for another user: a child doctor that drops to them (see `main`).
        return match run_child(opts, None) {
            Some(findings) => (
                findings,
                Some(format!(
                    "checked as {} (uid {}) with the groups of their next login",
                    opts.user.name, opts.user.uid
                )),
            ),
            None => (
                Vec::new(),
                Some(format!("the check as {} did not run", opts.user.name)),
            ),
        };
    }
    if let Some((group, gid)) = pending_group(process, opts)
        && let Some(findings) = run_child(opts, Some(&group))
    {
        return (
            findings,
            Some(format!(
                "checked as {} with group {group} (gid {gid}) through sg: this login gains it after logging in again or `newgrp {group}`",
                opts.user.name
            )),
        );
    }
    match run_blocking(process, opts) {
        Ok(f) => (f, None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    }
}

/// The socket group the user's next login has and this process lacks.
fn pending_group(process: &Process, opts: &Options) -> Option<(String, u32)> {
    if !opts.user.is_current || opts.user.uid == 0 {
        return None;
    }
    let endpoint = crate::docker::endpoint::resolve(process, &opts.user.home).ok()?;
    let meta = crate::docker::detect::socket_meta(&endpoint.socket_path()?)?;
    let now = crate::system::identity::process_gids();
    (opts.user.database_gids().contains(&meta.gid) && !now.contains(&meta.gid))
        .then(|| (crate::system::identity::group_name(meta.gid), meta.gid))
}

/// `actsim doctor --format json …` in a child: under `sg GROUP` (a group this login lacks),
/// or as root with `--user` (the child drops to the user).
fn run_child(opts: &Options, sg: Option<&str>) -> Option<Vec<super::Finding>> {
    let exe = std::env::current_exe().ok()?;
    let mut words = vec![
        exe.to_string_lossy().to_string(),
        "doctor".into(),
        "--format".into(),
        "json".into(),
        "--timeout".into(),
        opts.timeout.as_secs().max(1).to_string(),
        "--bin-dir".into(),
        opts.bin_dir.to_string_lossy().to_string(),
        "--config-dir".into(),
        opts.config_dir.to_string_lossy().to_string(),
    ];
    if let Some(p) = &opts.platform_image {
        words.extend(["--platform-image".into(), p.clone()]);
    }
    let mut cmd = match sg {
        Some(group) => {
            let mut c = std::process::Command::new("sg");
            c.args([group, "-c", &crate::system::process::sh_join(&words)]);
            c
        }
        None => {
            words.extend(["--user".into(), opts.user.name.clone()]);
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
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let checks = value.get("checks")?.as_array()?;
    Some(
        checks
            .iter()
            .filter_map(|c| {
                let id = super::CHECK_IDS
                    .iter()
                    .find(|i| Some(**i) == c.get("id").and_then(|v| v.as_str()))?;
                let status = match c.get("status")?.as_str()? {
                    "pass" => Status::Pass,
                    "warn" => Status::Warn,
                    "fail" => Status::Fail,
                    _ => Status::Skip,
                };
                let text = |k: &str| c.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
                Some(super::Finding {
                    id,
                    title: super::title(id),
                    status,
                    summary: text("summary"),
                    detail: text("detail"),
                    fix: c
                        .get("fix")
                        .and_then(|f| f.as_array())
                        .map(|a| {
                            a.iter()
                                .filter_map(|x| x.as_str().map(str::to_string))
                                .collect()
                        })
                        .unwrap_or_default(),
                    duration_ms: c.get("duration_ms").and_then(|v| v.as_u64()).unwrap_or(0),
                })
            })
            .collect(),
    )
}
