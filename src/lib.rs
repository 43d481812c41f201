//! actsim: installs nektos/act on Docker and proves that local workflow runs work.
//!
//! `main` parses the command line, dispatches to the command on the one runtime, prints the
//! final error with its hint and maps it to the documented exit code (see [`error::exit`]).

pub mod act;
pub mod cli;
pub mod commands;
pub mod context;
pub mod docker;
pub mod doctor;
pub mod error;
pub mod manual;
pub mod receipt;
pub mod render;
pub mod run;
pub mod setup;
pub mod system;
pub mod ui;
pub mod uninstall;

use std::process::ExitCode;

use system::{privsep, process};

use clap::Parser;

/// `--version`: the crate version, and the git commit when built from a checkout (build.rs).
pub const VERSION: &str = env!("ACTSIM_VERSION");

/// Parse arguments, run the command, print the final error with its hint, return the exit
/// code.
pub fn main() -> ExitCode {
    if std::env::args_os().nth(1).as_deref() == Some(std::ffi::OsStr::new(privsep::AGENT_COMMAND)) {
        return privsep::agent_main();
    }
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).map(|a| a.as_os_str())
        == Some(std::ffi::OsStr::new(system::halves::USER_COMMAND))
    {
        args = match system::halves::enter(args) {
            Ok(a) => a,
            Err(why) => {
                eprintln!("actsim: {why}");
                return ExitCode::from(error::exit::USAGE);
            }
        };
    }
    let cli = match cli::Cli::try_parse_from(args) {
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
    ui::log::init(&process);
    let runtime = commands::Runtime::default();
    let result = match cli.command {
        cli::Command::Doctor(args) => commands::doctor::main(args, &process, &runtime),
        cli::Command::Setup(args) => commands::setup::main(args, &process, &runtime),
        cli::Command::Run(args) => commands::run::main(args, &process, &runtime),
        cli::Command::Uninstall(args) => commands::uninstall::main(args, &process, &runtime),
        cli::Command::Completions(args) => manual::completions(&args),
        cli::Command::Man(args) => manual::man(&args),
        cli::Command::Lock(args) => commands::lock::main(args, &process, &runtime),
    };
    runtime.shutdown();
    ExitCode::from(match result {
        Ok(done) => done.code(),
        Err(e) => {
            // The one place the final error is printed (stderr, every format) with its hint.
            ui::Ui::new(&process, ui::Format::Human, false, false).error(&e);
            e.exit_code()
        }
    })
}
