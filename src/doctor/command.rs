//! `actsim doctor` from the command line: options from flags, the run under its deadline,
//! Ctrl-C handling (containers removed, exit 130), rendering, and the exit code.

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
    runtime.block_on(async {
        let cleanup = Cleanup::default();
        tokio::select! {
            findings = super::run(process, opts, &cleanup) => Ok(findings),
            _ = tokio::signal::ctrl_c() => {
                cleanup.purge(Duration::from_secs(3)).await;
                Err(Error::Interrupted)
            }
        }
    })
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
