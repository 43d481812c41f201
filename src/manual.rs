//! `actsim completions SHELL` and `actsim man`: generated from the clap definitions in
//! [`crate::cli`], so they always match `--help`.
//!
//! What can go wrong: a closed stdout (ignored, like every output), a `--dir` that cannot
//! be written (exit 1 naming it).

use clap::CommandFactory;
use std::io::Write;

use crate::cli::{Cli, CompletionsArgs, ManArgs, Shell};
use crate::commands::Exit;
use crate::error::{Error, IoContext, Result};

/// Print the completion script for `args.shell` to stdout.
pub fn completions(args: &CompletionsArgs) -> Result<Exit> {
    let mut cmd = Cli::command();
    let shell = match args.shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    // Into memory first: clap_complete panics on a write error (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "actsim", &mut script);
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&script);
    let _ = out.flush();
    Ok(Exit::Ok)
}

/// Print actsim(1) to stdout, or write every page into `--dir`.
pub fn man(args: &ManArgs) -> Result<Exit> {
    match &args.dir {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(Cli::command())
                .render(&mut page)
                .map_err(|e| Error::failed(format!("rendering the manual page: {e}"), None))
                .map(|()| {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&page);
                    let _ = out.flush();
                })
        }
        Some(dir) => std::fs::create_dir_all(dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), dir))
            .at(dir)
            .map(|()| eprintln!("wrote the manual pages into {}", dir.display())),
    }
    .map(|()| Exit::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_is_in_the_manual_and_the_completions() {
        let mut page = Vec::new();
        clap_mangen::Man::new(Cli::command())
            .render(&mut page)
            .unwrap();
        let page = String::from_utf8(page).unwrap();
        let mut bash = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut Cli::command(),
            "actsim",
            &mut bash,
        );
        let bash = String::from_utf8(bash).unwrap();
        for sub in Cli::command().get_subcommands() {
            let name = sub.get_name();
            assert!(page.contains(name), "{name} missing from the man page");
            assert!(
                bash.contains(name),
                "{name} missing from the bash completions"
            );
        }
    }
}
