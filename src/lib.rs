//! actsim: installs nektos/act on Docker and proves that local workflow runs work.
//!
//! `main` parses the command line, runs `doctor` or `setup`, and maps every error to the
//! documented exit codes (see [`error::exit`]).

pub mod act;
pub mod cli;
pub mod commands;
pub mod context;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod groups;
pub mod manual;
pub mod receipt;
pub mod render;
pub mod run;
pub mod setup;
pub mod system;
pub mod ui;
pub mod uninstall;

use std::process::ExitCode;

use system::{identity, privsep, process};

use clap::Parser;

/// `--version`: the crate version, and the git commit when built from a checkout (build.rs).
pub const VERSION: &str = env!("ACTSIM_VERSION");

/// Parse arguments, run the command, print errors with their hint, return the exit code.
pub fn main() -> ExitCode {
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(privsep::AGENT_COMMAND)) {
        return privsep::agent_main();
    }
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                error::exit::USAGE
            } else {
                0
            });
        }
    };
    let process = process::Process::from_os();
    system::log::init(&process);
    match cli.command {
        cli::Command::Doctor(args) => doctor::command::main(args, &process),
        cli::Command::Setup(args) => setup::run(args, &process),
        cli::Command::Run(args) => commands::run::main(args, &process),
        cli::Command::Uninstall(args) => commands::uninstall::main(args, &process),
        cli::Command::Completions(args) => manual::completions(&args),
        cli::Command::Man(args) => manual::man(&args),
        cli::Command::Lock(args) => commands::lock::main(args, &process),
    }
}

/// What the receipts say doctor should compare against: the target user's, and for an
/// act in a root-owned bin dir root's record in the system state dir (both only read).
pub fn receipt_drift(
    process: &process::Process,
    user: &identity::TargetUser,
    bin_dir: &std::path::Path,
) -> doctor::Drift {
    let fs = privsep::Fs::local();
    let load = |dir: &std::path::Path| match receipt::Receipt::load(&fs, dir) {
        receipt::Loaded::Found(r) => Some(r),
        _ => None,
    };
    let mine = load(&user.state_dir(process));
    let system_dir = setup::system_state_dir(process);
    let target = bin_dir.join("act");
    let act = [mine.as_ref(), load(&system_dir).as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|r| r.act.as_ref())
        .find(|a| a.install_path == target)
        .map(|a| (a.binary_sha256.clone(), a.version.clone()));
    let (act, act_version) = match act {
        Some((sha, version)) => (Some(sha), Some(version)),
        None => (None, None),
    };
    let Some(r) = mine else {
        return doctor::Drift {
            act_sha256: act,
            act_version,
            ..Default::default()
        };
    };
    doctor::Drift {
        act_sha256: act,
        act_version,
        compose_sha256: r
            .files
            .get(setup::config_steps::COMPOSE)
            .map(|f| f.sha256.clone()),
        docker_gid: r.docker.and_then(|d| d.docker_gid),
        lock: None,
    }
}
