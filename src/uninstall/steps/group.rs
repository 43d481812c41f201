//! The `group` step: left alone unless `--remove-group`, and then only a membership setup
//! added goes (as root, or through `sudo -n`, with setup's runner).
//!
//! What can go wrong: no root and no passwordless sudo (exit 5 with the exact command),
//! the command fails.

use crate::error::Result;
use crate::receipt::Receipt;
use crate::setup::StepStatus;
use crate::setup::steps::group::{Elevation, have_tool, run_as_root};
use crate::uninstall::steps::{Action, Facts as AllFacts, Step, UninstallStep};
use crate::uninstall::{Flags, Settings};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub name: String,
    pub added_by_setup: bool,
    /// The group database lists the user now.
    pub member: bool,
    pub command: Vec<String>,
}

/// The group setup recorded, and whether the user is in it now.
pub fn observe(s: &Settings<'_>, receipt: &Receipt) -> Option<Facts> {
    let docker = receipt.docker.as_ref()?;
    let name = docker.group.clone()?;
    let gid = nix::unistd::Group::from_name(&name)
        .ok()
        .flatten()
        .map(|g| g.gid.as_raw());
    Some(Facts {
        member: gid.is_some_and(|g| s.user.database_gids().contains(&g) && g != s.user.gid),
        command: leave_command(&s.user.name, &name, |t| have_tool(&s.ctx.process, t)),
        name,
        added_by_setup: docker.group_added,
    })
}

/// The command that removes `user` from `group` with the tools this machine has.
pub fn leave_command(user: &str, group: &str, have: impl Fn(&str) -> bool) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    if have("gpasswd") {
        s(&["gpasswd", "-d", user, group])
    } else {
        s(&["delgroup", user, group])
    }
}

/// The group step's plan. Pure.
pub fn plan(f: &AllFacts, flags: Flags) -> Step {
    let step = |summary: String, action| Step::new(UninstallStep::Group, summary, action);
    let user = &f.user;
    match &f.group {
        None => step("setup changed no group membership".into(), Action::Skip),
        Some(g) if !g.added_by_setup => step(
            format!(
                "{user} was already in group {} before setup: left as it is",
                g.name
            ),
            Action::Skip,
        ),
        Some(g) if !g.member => step(format!("{user} is not in group {}", g.name), Action::Keep),
        Some(g) if !flags.remove_group => {
            let mut s = step(
                format!(
                    "{user} stays in group {} (setup added it; --remove-group removes it)",
                    g.name
                ),
                Action::Skip,
            );
            s.details
                .push(format!("to leave it by hand: sudo {}", g.command.join(" ")));
            s
        }
        Some(g) => {
            let mut s = step(
                format!("remove {user} from group {} (setup added it)", g.name),
                Action::LeaveGroup {
                    group: g.name.clone(),
                    command: g.command.clone(),
                },
            );
            s.details.push(format!("runs: {}", g.command.join(" ")));
            s
        }
    }
}

/// Run the leave command as root, or through `sudo -n`; exit 5 with the command otherwise.
pub fn apply(s: &Settings<'_>, group: &str, command: &[String]) -> Result<(StepStatus, String)> {
    let elevation = if nix::unistd::Uid::effective().is_root() {
        Elevation::Root
    } else {
        Elevation::SudoNonInteractive
    };
    run_as_root(
        &s.ctx.process,
        command,
        elevation,
        "removing the user from a group",
        false,
    )?;
    Ok((
        StepStatus::Changed,
        format!("removed {} from group {group}", s.user.name),
    ))
}
