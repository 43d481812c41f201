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
use crate::identity::TargetUser;
use crate::process::Process;
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
            _ = tokio::signal::ctrl_c() => {
                cleanup.purge(Duration::from_secs(3)).await;
                Err(Error::Interrupted)
            }
        }
    });
    // A blocking task still running past the deadline (hashing a large file on a slow
    // disk) must not hold the exit: dropping the runtime would wait for it.
    runtime.shutdown_background();
    result
}

pub fn main(args: DoctorArgs, process: &Process) -> ExitCode {
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
    opts.deep = args.deep;
    opts.probe_image = args.probe_image.clone();
    opts.drift = crate::receipt_drift(process, &opts.user);
    let findings = match run_blocking(process, &opts) {
        Ok(f) => f,
        Err(e) => {
            ui.error(&e);
            return ExitCode::from(e.exit_code());
        }
    };
    ui.findings(&findings);
    let report = Report::new(findings);
    if args.common.format == crate::cli::Format::Json {
        ui.json(&report);
    }
    if report.checks.iter().any(|c| c.status == Status::Fail) {
        ExitCode::from(exit::FAILED)
    } else {
        ExitCode::from(exit::OK)
    }
}

/// Quote for `sh -c`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Doctor's checks as setup's last step, and a note on how they ran.
///
/// When the target user is this process's user, is not root, and the group database lists
/// the socket's group that this login does not carry yet (setup just added it), the checks
/// run in a child `sg GROUP -c "actsim doctor --format json …"`, so they see the groups of
/// the user's next login instead of failing on the old ones.
pub fn final_check(process: &Process, opts: &Options) -> (Vec<super::Finding>, Option<String>) {
    if let Some((group, gid)) = pending_group(process, opts)
        && let Some(findings) = run_under_sg(opts, &group)
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
    let meta = crate::detect::socket_meta(&endpoint.socket_path()?)?;
    let now = crate::identity::process_gids();
    (opts.user.database_gids().contains(&meta.gid) && !now.contains(&meta.gid))
        .then(|| (crate::identity::group_name(meta.gid), meta.gid))
}

fn run_under_sg(opts: &Options, group: &str) -> Option<Vec<super::Finding>> {
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
    let script = words
        .iter()
        .map(|w| sh_quote(w))
        .collect::<Vec<_>>()
        .join(" ");
    let out = std::process::Command::new("sg")
        .args([group, "-c", &script])
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
