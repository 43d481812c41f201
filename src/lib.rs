//! actsim: installs nektos/act on Docker and proves that local workflow runs work.
//!
//! `main` parses the command line, runs `doctor` or `setup`, and maps every error to the
//! documented exit codes (see [`error::exit`]).

pub mod act;
pub mod cli;
pub mod detect;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod files;
pub mod groups;
pub mod identity;
pub mod lock;
pub mod process;
pub mod receipt;
pub mod render;
pub mod setup;
pub mod ui;

use std::process::ExitCode;

use clap::Parser;

/// Parse arguments, run the command, print errors with their hint, return the exit code.
pub fn main() -> ExitCode {
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
    match cli.command {
        cli::Command::Doctor(args) => doctor::command::main(args, &process),
        cli::Command::Setup(args) => setup::run(args, &process),
    }
}

/// What the receipt of the target user says doctor should compare against.
pub fn receipt_drift(process: &process::Process, user: &identity::TargetUser) -> doctor::Drift {
    let receipt::Loaded::Found(r) = receipt::Receipt::load(&user.state_dir(process)) else {
        return doctor::Drift::default();
    };
    doctor::Drift {
        act_version: r.act.as_ref().map(|a| a.version.clone()),
        act_sha256: r.act.map(|a| a.binary_sha256),
        compose_sha256: r
            .files
            .get(setup::config_steps::COMPOSE)
            .map(|f| f.sha256.clone()),
        docker_gid: r.docker.and_then(|d| d.docker_gid),
    }
}
