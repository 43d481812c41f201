//! The `group` step: join the group that owns the daemon socket, for socket access.
//!
//! The group is the one that owns the resolved socket (`--docker-group` overrides) — never
//! group `root` (gid 0): that is refused with the alternatives. A rootless or user-owned
//! socket needs nothing. Joining uses `usermod -aG` (or `gpasswd -a`, or busybox
//! `addgroup USER GROUP`), never an edit of `/etc/group`. Without root, the one command runs
//! through `sudo` (interactive) or `sudo -n` (`--yes`); when that cannot work the step needs
//! privileges (exit 5) and prints the exact command.
//!
//! What can go wrong: `--docker-group` names no group (exit 2), the socket's group is root
//! (refused), joining needs root (exit 5 with the exact command).

use std::process::{Command, Stdio};

use super::{Action, Run, StepId, StepPlan};
use crate::docker::detect::{DockerInstall, SocketMeta};
use crate::error::{Error, Result};
use crate::receipt::Receipt;
use crate::setup::report::{StepReport, StepStatus};
use crate::system::identity::TargetUser;
use crate::system::process::Process;

/// What the group step observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub decision: Decision,
    /// The command that joins (empty unless the decision is to join).
    pub command: Vec<String>,
}

/// The change: run `command` to add the user to `group`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub group: String,
    pub gid: u32,
    pub command: Vec<String>,
}

/// Decide from the socket's ownership, the user's groups and `--docker-group`.
pub fn observe(run: &Run<'_>, docker: &DockerInstall) -> Result<Facts> {
    let s = &run.settings;
    let group_override = match run.opts.docker_group.as_deref() {
        Some(name) => Some(
            nix::unistd::Group::from_name(name)
                .ok()
                .flatten()
                .map(|g| (g.name, g.gid.as_raw()))
                .ok_or_else(|| {
                    Error::usage(
                        format!("--docker-group {name}: no such group"),
                        Some(
                            "name an existing group, or leave it out to use the socket's group"
                                .into(),
                        ),
                    )
                })?,
        ),
        None => None,
    };
    let decision = decide(
        docker.socket.as_ref(),
        &s.user,
        &s.user.database_gids(),
        group_override.as_ref().map(|(n, g)| (n.as_str(), *g)),
        crate::system::identity::group_name,
    );
    let command = match &decision {
        Decision::Join { group, .. } => {
            join_command(&s.user.name, group, |t| have_tool(&run.ctx.process, t))
        }
        _ => Vec::new(),
    };
    Ok(Facts { decision, command })
}

/// The group step's plan. Pure.
pub fn plan(f: &super::Facts) -> StepPlan {
    let id = StepId::Group;
    match &f.group.decision {
        Decision::Skip(why) => StepPlan::new(id, why.clone(), Action::Skip),
        Decision::Member { group, gid } => StepPlan::new(
            id,
            format!("already in group {group} (gid {gid}), which owns the socket"),
            Action::Keep,
        ),
        Decision::Join { group, gid } => {
            let command = &f.group.command;
            let mut p = StepPlan::new(
                id,
                format!("add the user to group {group} (gid {gid}), which owns the socket"),
                Action::JoinGroup(Join {
                    group: group.clone(),
                    gid: *gid,
                    command: command.clone(),
                }),
            );
            p.details.push(format!(
                "runs: {}",
                crate::system::process::sh_join(command)
            ));
            p.details.push(format!(
                "the current login gains the group after logging in again, or: newgrp {group}"
            ));
            p
        }
        Decision::Refuse {
            reason,
            alternatives,
        } => {
            let mut p = StepPlan::new(
                id,
                reason.clone(),
                Action::Refuse(format!("{reason}. Instead: {}", alternatives.join("; "))),
            );
            p.details.extend(alternatives.iter().cloned());
            p
        }
    }
}

/// Join the group (through sudo when not root) and record it.
pub fn apply(run: &Run<'_>, join: &Join, receipt: &mut Receipt) -> Result<StepReport> {
    let elevation = if nix::unistd::Uid::effective().is_root() {
        Elevation::Root
    } else if !run.opts.yes && run.ctx.terminal {
        Elevation::SudoInteractive
    } else {
        Elevation::SudoNonInteractive
    };
    run_join(&run.ctx.process, &join.command, elevation)?;
    let section = receipt.docker.get_or_insert_with(Default::default);
    section.group = Some(join.group.clone());
    section.group_added = true;
    Ok(StepReport {
        id: StepId::Group.as_str(),
        status: StepStatus::Changed,
        summary: format!(
            "added {} to group {} (gid {}); this login gains it after logging in again, or: newgrp {}",
            run.settings.user.name, join.group, join.gid, join.group
        ),
        ..Default::default()
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to join (rootless or user-owned socket, no local socket).
    Skip(String),
    /// The group database already lists the user; `login_has_it` tells whether the
    /// current login carries the group too.
    Member { group: String, gid: u32 },
    /// Add the user to the group.
    Join { group: String, gid: u32 },
    /// Joining would be wrong (group root).
    Refuse {
        reason: String,
        alternatives: Vec<String>,
    },
}

/// Decide, from the socket's ownership and the user's groups. Pure.
pub fn decide(
    socket: Option<&SocketMeta>,
    user: &TargetUser,
    user_db_gids: &[u32],
    group_override: Option<(&str, u32)>,
    group_of: impl Fn(u32) -> String,
) -> Decision {
    let (group, gid) = match (group_override, socket) {
        (Some((name, gid)), _) => (name.to_string(), gid),
        (None, None) => return Decision::Skip("no local daemon socket: nothing to join".into()),
        (None, Some(s)) => {
            if s.uid == user.uid && user.uid != 0 {
                return Decision::Skip(format!(
                    "{} belongs to {} (rootless or desktop Docker): nothing to join",
                    s.path.display(),
                    user.name
                ));
            }
            if s.uid != 0 {
                return Decision::Skip(format!(
                    "{} belongs to another user (uid {}), a rootless daemon: joining a group would not help",
                    s.path.display(),
                    s.uid
                ));
            }
            (group_of(s.gid), s.gid)
        }
    };
    if user.uid == 0 {
        return Decision::Skip("root opens the socket without a group".into());
    }
    if gid == 0 {
        return Decision::Refuse {
            reason: format!(
                "the socket's group is {group} (gid 0); joining it would hand {} root's files",
                user.name
            ),
            alternatives: vec![
                "give the daemon a dedicated group: add \"group\": \"docker\" to /etc/docker/daemon.json (or dockerd --group docker), sudo groupadd -f docker, restart the daemon, then rerun actsim setup".into(),
                "or use rootless Docker: dockerd-rootless-setuptool.sh install".into(),
            ],
        };
    }
    if user_db_gids.contains(&gid) {
        Decision::Member { group, gid }
    } else {
        Decision::Join { group, gid }
    }
}

/// The command that adds `user` to `group` with the tools this machine has.
pub fn join_command(user: &str, group: &str, have: impl Fn(&str) -> bool) -> Vec<String> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    if have("usermod") {
        s(&["usermod", "-aG", group, user])
    } else if have("gpasswd") {
        s(&["gpasswd", "-a", user, group])
    } else {
        s(&["addgroup", user, group])
    }
}

/// Whether a program exists in the usual system directories or on PATH.
pub fn have_tool(process: &Process, name: &str) -> bool {
    ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
        .iter()
        .any(|d| crate::system::process::is_executable(&std::path::Path::new(d).join(name)))
        || process.which(name).is_some()
}

/// How the command may gain root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elevation {
    /// Already root.
    Root,
    /// `sudo` may ask for a password on the terminal.
    SudoInteractive,
    /// `sudo -n`: fail at once if a password would be needed.
    SudoNonInteractive,
}

/// Run the join command, elevating as allowed. A failure to elevate is a privilege error
/// (exit 5) that carries the exact command.
pub fn run_join(process: &Process, cmd: &[String], elevation: Elevation) -> Result<()> {
    run_as_root(process, cmd, elevation, "adding the user to a group", true)
}

/// Run `cmd` as root for `doing` (`"adding the user to a group"`; uninstall's leave uses
/// it too), elevating as allowed. A failure to elevate is a privilege error (exit 5) that
/// carries the exact command; a failure as root says so (`by_hand`: with the command to
/// run by hand as the hint).
pub fn run_as_root(
    process: &Process,
    cmd: &[String],
    elevation: Elevation,
    doing: &str,
    by_hand: bool,
) -> Result<()> {
    let shown = format!("sudo {}", crate::system::process::sh_join(cmd));
    let mut command = match elevation {
        Elevation::Root => {
            let mut c = Command::new(&cmd[0]);
            c.args(&cmd[1..]);
            c
        }
        Elevation::SudoInteractive | Elevation::SudoNonInteractive => {
            if !have_tool(process, "sudo") {
                return Err(Error::Privilege {
                    what: format!("{doing} ({})", crate::system::process::sh_join(cmd)),
                    command: format!("as root: {}", crate::system::process::sh_join(cmd)),
                });
            }
            let mut c = Command::new("sudo");
            if elevation == Elevation::SudoNonInteractive {
                c.arg("-n");
            }
            c.args(cmd);
            c
        }
    };
    if elevation != Elevation::SudoInteractive {
        command.stdin(Stdio::null());
    }
    let out = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .map_err(|e| Error::failed(format!("cannot run {}: {e}", cmd[0]), None))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    match elevation {
        Elevation::Root => Err(Error::failed(
            format!("{} failed: {stderr}", crate::system::process::sh_join(cmd)),
            by_hand.then(|| {
                format!(
                    "run it by hand to see why: {}",
                    crate::system::process::sh_join(cmd)
                )
            }),
        )),
        _ => Err(Error::Privilege {
            what: format!("{doing} ({stderr})"),
            command: shown,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn alice() -> TargetUser {
        TargetUser {
            name: "alice".into(),
            uid: 1000,
            gid: 1000,
            home: PathBuf::from("/home/alice"),
            is_current: true,
        }
    }

    fn sock(uid: u32, gid: u32) -> SocketMeta {
        SocketMeta {
            path: PathBuf::from("/var/run/docker.sock"),
            uid,
            gid,
            mode: 0o660,
        }
    }

    fn names(gid: u32) -> String {
        match gid {
            0 => "root".into(),
            105 => "docker".into(),
            g => g.to_string(),
        }
    }

    #[test]
    fn joins_the_sockets_group_by_number() {
        let d = decide(Some(&sock(0, 105)), &alice(), &[1000], None, names);
        assert_eq!(
            d,
            Decision::Join {
                group: "docker".into(),
                gid: 105
            }
        );
        let d = decide(Some(&sock(0, 105)), &alice(), &[1000, 105], None, names);
        assert!(matches!(d, Decision::Member { gid: 105, .. }));
    }

    #[test]
    fn never_joins_root() {
        let d = decide(Some(&sock(0, 0)), &alice(), &[1000], None, names);
        let Decision::Refuse {
            reason,
            alternatives,
        } = d
        else {
            panic!("{d:?}")
        };
        assert!(reason.contains("gid 0"));
        assert!(alternatives.iter().any(|a| a.contains("rootless")));
        assert!(alternatives.iter().all(|a| !a.contains("usermod -aG root")));
        // Not through --docker-group either.
        let d = decide(
            Some(&sock(0, 105)),
            &alice(),
            &[1000],
            Some(("root", 0)),
            names,
        );
        assert!(matches!(d, Decision::Refuse { .. }));
    }

    #[test]
    fn rootless_and_user_owned_sockets_skip() {
        assert!(matches!(
            decide(Some(&sock(1000, 1000)), &alice(), &[1000], None, names),
            Decision::Skip(_)
        ));
        assert!(matches!(
            decide(Some(&sock(2000, 2000)), &alice(), &[1000], None, names),
            Decision::Skip(_)
        ));
        assert!(matches!(
            decide(None, &alice(), &[1000], None, names),
            Decision::Skip(_)
        ));
    }

    #[test]
    fn override_names_the_group() {
        let d = decide(
            Some(&sock(0, 105)),
            &alice(),
            &[1000],
            Some(("dockremote", 4242)),
            names,
        );
        assert_eq!(
            d,
            Decision::Join {
                group: "dockremote".into(),
                gid: 4242
            }
        );
    }

    #[test]
    fn join_command_prefers_usermod_then_gpasswd_then_busybox() {
        assert_eq!(
            join_command("alice", "docker", |_| true),
            ["usermod", "-aG", "docker", "alice"]
        );
        assert_eq!(
            join_command("alice", "docker", |t| t == "gpasswd"),
            ["gpasswd", "-a", "alice", "docker"]
        );
        assert_eq!(
            join_command("alice", "docker", |_| false),
            ["addgroup", "alice", "docker"]
        );
    }
}
