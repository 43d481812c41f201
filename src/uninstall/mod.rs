//! `actsim uninstall`: undo what setup did, from its receipt. Like setup: observe → plan
//! (pure) → show → confirm → apply, each step idempotent, so a second run changes nothing.
//!
//! Steps, in order: `act` (removed when its hash is the one installed; a changed act is
//! kept with a warning; the user's own act that setup replaced is restored from its
//! backup, hash checked, unless `--keep-act`), `image` (the `actsim/act:*` images actsim
//! built, i.e. carrying its label), `volume` (the act cache volume of the compose
//! service), `compose` and `env` (removed when unedited; edited ones are kept and listed),
//! `actrc` (only actsim's own `-P` lines go; the file goes only when nothing else is left),
//! `group` (left alone unless `--remove-group`, and then only a membership setup added),
//! and `state` last (the receipt, lock and backups; only when every step before it
//! succeeded, so a failed run can be repeated).
//!
//! The layout mirrors setup's: [`engine`] runs observe → plan → show → confirm → apply;
//! [`steps`] holds one file per step, [`UninstallStep`] (the only list of steps) and the
//! one flat [`Action`]. File I/O in the user's directories is in the few functions of
//! [`userio`], run as the user by the privilege-separation worker; the daemon client is
//! the run's one ([`daemon`]).
//!
//! What can go wrong: no receipt (nothing to do), a daemon that does not answer (images
//! and volume kept, reported failed), leaving a group without root (exit 5 with the exact
//! command), declined or no terminal without `--yes` (exit 3, nothing changed).

pub mod daemon;
pub mod engine;
pub mod steps;
pub mod userio;

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use crate::context::Context;
use crate::setup::StepReport;
use crate::system::identity::TargetUser;
use crate::system::privsep::Fs;

pub use engine::uninstall;
pub use steps::group::leave_command;
pub use steps::{Action, Facts, Step, UninstallStep, plan};

pub use crate::render::IMAGE_REPO;

/// `actsim uninstall`'s options (the command layer fills them from the command line; the
/// user, format and quietness are the [`Context`]'s).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub yes: bool,
    pub dry_run: bool,
    pub keep_act: bool,
    pub remove_group: bool,
    /// `--timeout`.
    pub timeout: Duration,
}

/// The flags that change the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub keep_act: bool,
    pub remove_group: bool,
}

/// A file kept on purpose (edited, changed), listed in the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub path: PathBuf,
    pub reason: String,
}

/// `uninstall --format json`: `{"schema","ok","changed","steps","kept"}`, and
/// `"replanned": true` when the plan applied was made again under the lock.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub ok: bool,
    pub changed: bool,
    pub steps: Vec<StepReport>,
    pub kept: Vec<Kept>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub replanned: bool,
}

/// Where things are, for whom: what observe and apply need.
pub struct Settings<'a> {
    pub ctx: &'a Context,
    pub user: &'a TargetUser,
    /// The one door to the file system (separated when root acts for another user).
    pub fs: Fs,
    pub state_dir: PathBuf,
    /// Root's state dir: its receipt records an act in a root-owned bin dir that setup
    /// installed for another user.
    pub system_state_dir: PathBuf,
    pub timeout: Duration,
}

impl<'a> Settings<'a> {
    pub fn new(ctx: &'a Context, timeout: Duration) -> Self {
        Settings {
            ctx,
            user: &ctx.user,
            fs: Fs::for_user(&ctx.user),
            state_dir: ctx.state_dir.clone(),
            system_state_dir: ctx.system_state_dir.clone(),
            timeout,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::uninstall::steps::file::{self, sha};
    use crate::uninstall::steps::{act, group};
    use UninstallStep as U;

    const OURS: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const REMOVE_GROUP: Flags = Flags {
        remove_group: true,
        keep_act: false,
    };
    const KEEP_ACT: Flags = Flags {
        keep_act: true,
        remove_group: false,
    };
    const OLD: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn facts() -> Facts {
        Facts {
            user: "alice".into(),
            state_dir: "/home/alice/.local/state/actsim".into(),
            state_entries: Some(vec!["receipt.json".into()]),
            receipt_found: true,
            act: Some(act::Facts {
                path: "/home/alice/.local/bin/act".into(),
                recorded_sha: OURS.into(),
                current_sha: Some(OURS.into()),
                replaced: None,
                created_dir: false,
            }),
            files: vec![file::Facts {
                id: U::Compose,
                path: "/home/alice/.config/actsim/docker-compose.yml".into(),
                recorded_sha: sha(b"A=1\n"),
                current: Some(b"A=1\n".to_vec()),
                refused: None,
                act_args: vec![],
                beside: None,
            }],
            platform: Some("img:1".into()),
            images: Ok(vec!["actsim/act:0.2.89".into()]),
            volume: ("actsim-act-cache-1000".into(), Ok(true)),
            group: Some(group::Facts {
                name: "docker".into(),
                added_by_setup: true,
                member: true,
                command: vec![
                    "gpasswd".into(),
                    "-d".into(),
                    "alice".into(),
                    "docker".into(),
                ],
            }),
        }
    }

    fn step(plan: &[Step], id: UninstallStep) -> &Step {
        plan.iter().find(|s| s.id == id).unwrap()
    }

    #[test]
    fn a_fresh_install_is_removed_in_order_with_the_state_dir_last() {
        let p = plan(&facts(), Flags::default());
        let ids: Vec<&str> = p.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "act", "image", "volume", "compose", "env", "actrc", "group", "state"
            ]
        );
        assert!(matches!(step(&p, U::Act).action, Action::RemoveFile { .. }));
        assert!(matches!(
            step(&p, U::Compose).action,
            Action::RemoveFile { .. }
        ));
        assert!(matches!(
            step(&p, U::State).action,
            Action::RemoveState { .. }
        ));
        // The group stays unless asked; then only a membership setup added goes.
        assert_eq!(step(&p, U::Group).action, Action::Skip);
        let p = plan(&facts(), REMOVE_GROUP);
        assert!(matches!(
            step(&p, U::Group).action,
            Action::LeaveGroup { .. }
        ));
        let mut f = facts();
        f.group.as_mut().unwrap().added_by_setup = false;
        let p = plan(&f, REMOVE_GROUP);
        assert_eq!(step(&p, U::Group).action, Action::Skip);
    }

    #[test]
    fn a_changed_act_is_kept_and_a_replaced_one_restored_unless_keep_act() {
        let mut f = facts();
        f.act.as_mut().unwrap().current_sha = Some(OLD.into());
        let p = plan(&f, Flags::default());
        assert_eq!(step(&p, U::Act).action, Action::Skip);
        assert!(step(&p, U::Act).kept.is_some() && !step(&p, U::Act).warnings.is_empty());

        let mut f = facts();
        f.act.as_mut().unwrap().replaced =
            Some(("/st/backup/act-b".into(), OLD.into(), Some(OLD.into())));
        let p = plan(&f, Flags::default());
        assert!(
            matches!(&step(&p, U::Act).action, Action::RestoreAct(act::Restore { sha, .. }) if sha == OLD)
        );
        let p = plan(&f, KEEP_ACT);
        assert_eq!(step(&p, U::Act).action, Action::Skip);
        // A backup that changed is not restored: ours is removed, with a warning.
        f.act.as_mut().unwrap().replaced =
            Some(("/st/backup/act-b".into(), OLD.into(), Some(OURS.into())));
        let p = plan(&f, Flags::default());
        assert!(matches!(step(&p, U::Act).action, Action::RemoveFile { .. }));
        assert!(!step(&p, U::Act).warnings.is_empty());
    }

    #[test]
    fn edited_files_are_kept_and_listed() {
        let mut f = facts();
        f.files[0].current = Some(b"A=2\n".to_vec());
        let p = plan(&f, Flags::default());
        assert_eq!(step(&p, U::Compose).action, Action::Skip);
        assert_eq!(
            step(&p, U::Compose).kept.as_ref().unwrap().path,
            f.files[0].path
        );
    }

    #[test]
    fn no_receipt_changes_nothing_but_an_empty_state_dir() {
        let f = Facts {
            receipt_found: false,
            act: None,
            files: vec![],
            images: Ok(vec![]),
            volume: ("v".into(), Ok(false)),
            group: None,
            state_entries: None,
            ..facts()
        };
        assert!(!plan(&f, Flags::default()).iter().any(Step::changes));
        assert_eq!(
            leave_command("a", "g", |t| t == "gpasswd"),
            ["gpasswd", "-d", "a", "g"]
        );
    }
}
