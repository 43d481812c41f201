//! Uninstall's steps, one file each, in plan order: [`act`], [`image`], [`volume`], the
//! three files ([`file`](mod@file): `compose`, `env`, `actrc`), [`group`] and [`state`] last.
//!
//! Each step file exports its facts, a pure `plan` and its `apply`. [`UninstallStep`] is
//! the only list of steps; [`Action`] is the one flat list of changes, dispatched by the
//! one `match` in [`apply`]. [`observe`] gathers the [`Facts`] every plan reads.
//!
//! **Adding a step** `foo`: write `steps/foo.rs` (`plan`, `apply`, its facts); add
//! `UninstallStep::Foo` (the enum, [`UninstallStep::ALL`] at its place, `as_str`, its arm
//! in [`UninstallStep::plan`]); its field in [`Facts`] and [`observe`]; a new kind of
//! change adds its [`Action`] variant and its arm in [`apply`].
//!
//! What can go wrong: see each step; `observe` never fails (what it cannot read becomes a
//! fact the plan reports), an error from `apply` stops the run after the steps applied.

pub mod act;
pub mod file;
pub mod group;
pub mod image;
pub mod state;
pub mod volume;

use std::path::PathBuf;

use crate::error::Result;
use crate::receipt::{Loaded, Receipt};
use crate::setup::{StepReport, StepStatus};
use crate::system::privsep::Fs;
use crate::uninstall::{Flags, Kept, Settings};

crate::named_enum! {
    /// An uninstall step. [`UninstallStep::as_str`] is its id in the output and the JSON
    /// (a contract); `compose`, `env` and `actrc` are setup's ids. `ALL` is every step,
    /// in plan (and apply) order; `state` last.
    pub enum UninstallStep {
        Act = "act",
        Image = "image",
        Volume = "volume",
        Compose = "compose",
        Env = "env",
        Actrc = "actrc",
        Group = "group",
        State = "state",
    }
}

impl UninstallStep {
    /// The steps that remove a file setup wrote from its templates.
    pub const FILES: [UninstallStep; 3] = [
        UninstallStep::Compose,
        UninstallStep::Env,
        UninstallStep::Actrc,
    ];

    /// This step's plan. Pure.
    pub fn plan(self, f: &Facts, flags: Flags) -> Step {
        let shared = |what: &str| {
            Step::new(
                self,
                format!(
                    "{what} kept: root's record says {} still use it",
                    f.shared_with.join(", ")
                ),
                Action::Keep,
            )
        };
        match self {
            UninstallStep::Act if !f.shared_with.is_empty() && f.act.is_some() => {
                shared("root's act")
            }
            UninstallStep::Image if !f.shared_with.is_empty() => shared("the simulator image"),
            UninstallStep::Act => act::plan(f, flags),
            UninstallStep::Image => image::plan(f),
            UninstallStep::Volume => volume::plan(f),
            UninstallStep::Compose | UninstallStep::Env | UninstallStep::Actrc => {
                file::plan(self, f)
            }
            UninstallStep::Group => group::plan(f, flags),
            UninstallStep::State => state::plan(f),
        }
    }
}

/// Everything the plan depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub user: String,
    pub state_dir: PathBuf,
    /// Names in the state dir (`None`: it does not exist).
    pub state_entries: Option<Vec<String>>,
    pub receipt_found: bool,
    pub act: Option<act::Facts>,
    pub files: Vec<file::Facts>,
    /// The platform image setup mapped (from `.env`).
    pub platform: Option<String>,
    /// `actsim/act:*` images carrying actsim's label, or why they could not be listed.
    pub images: std::result::Result<Vec<String>, String>,
    /// The cache volume name, whether it exists, or why that is unknown.
    pub volume: (String, std::result::Result<bool, String>),
    pub group: Option<group::Facts>,
    /// Root for another user: the other users root's record says still use root's shared
    /// installs (act in a root-owned bin dir, the images); those are kept while any is left.
    pub shared_with: Vec<String>,
}

impl Facts {
    /// The summary of a step when there is no receipt.
    pub fn no_receipt(&self) -> String {
        format!(
            "no receipt in {}: nothing setup installed is known",
            self.state_dir.display()
        )
    }
}

/// The change a step will make: one flat list for every step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do: reported `ok`.
    Keep,
    /// Not applicable: reported `skipped`.
    Skip,
    /// Reported failed without stopping the run.
    Fail(String),
    RemoveFile {
        path: PathBuf,
        sha: String,
    },
    /// Put the user's own act back (renamed over ours, `ours` its hash when present).
    RestoreAct(act::Restore),
    /// Write what is left of a file setup merged with the user's lines.
    WriteRest {
        path: PathBuf,
        bytes: Vec<u8>,
        sha_before: String,
        mode: u32,
    },
    RemoveImages(Vec<String>),
    RemoveVolume(String),
    LeaveGroup {
        group: String,
        command: Vec<String>,
    },
    RemoveState {
        dir: PathBuf,
    },
}

/// What one step intends to do; computed purely from [`Facts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: UninstallStep,
    pub summary: String,
    pub details: Vec<String>,
    pub warnings: Vec<String>,
    /// A file kept on purpose (edited, changed), listed in the report.
    pub kept: Option<Kept>,
    pub action: Action,
    /// Also remove actsim's `*.actsim-new` copy beside the file (its path and hash).
    pub beside: Option<(PathBuf, String)>,
    /// A directory setup created, removed afterwards when it is empty.
    pub empty_dir: Option<PathBuf>,
}

impl Step {
    pub fn new(id: UninstallStep, summary: impl Into<String>, action: Action) -> Step {
        Step {
            id,
            summary: summary.into(),
            details: Vec::new(),
            warnings: Vec::new(),
            kept: None,
            action,
            beside: None,
            empty_dir: None,
        }
    }

    /// It changes something (a planned failure changes nothing).
    pub fn changes(&self) -> bool {
        self.beside.is_some()
            || !matches!(self.action, Action::Keep | Action::Skip | Action::Fail(_))
    }

    /// Its mark in the plan shown: `will`, `skip`, `fail` or `ok`.
    pub fn mark(&self) -> &'static str {
        match self.action {
            _ if self.changes() => "will",
            Action::Skip => "skip",
            Action::Fail(_) => "fail",
            _ => "ok",
        }
    }
}

/// The plan: one entry per step, in [`UninstallStep::ALL`]'s order. Pure.
pub fn plan(f: &Facts, flags: Flags) -> Vec<Step> {
    UninstallStep::ALL
        .iter()
        .map(|id| id.plan(f, flags))
        .collect()
}

/// A receipt, `(receipt, found)`; a corrupt one is warned about and counts as none.
fn load(s: &Settings<'_>, fs: &Fs, dir: &std::path::Path) -> (Receipt, bool) {
    match Receipt::load(fs, dir) {
        Loaded::Found(r) => (r, true),
        Loaded::Missing => (Receipt::default(), false),
        Loaded::Corrupt(why) => {
            s.ctx
                .ui
                .warn(&format!("{why}; nothing it lists can be undone"));
            (Receipt::default(), false)
        }
    }
}

/// Observe every step's facts. Never fails.
///
/// Root for another user observes only what root's own record lists: the user's receipt
/// is never read (the user half removes the user's files, as them). The user half leaves
/// the images, the volume and the group to root, and an act in a directory it does not own.
pub async fn observe(s: &Settings<'_>) -> Facts {
    let fs = &s.fs;
    let separated = fs.is_separated();
    let user_half = crate::system::halves::is_user_half(&s.ctx.process);
    // Root for another user: an act in a root-owned bin dir is in root's receipt.
    let system = separated.then(|| load(s, &Fs::local(), &s.system_state_dir).0);
    let (mut receipt, receipt_found) = match &system {
        Some(system) => (Receipt::default(), system.users.contains(&s.user.uid)),
        None => load(s, fs, &s.state_dir),
    };
    if user_half
        && let Some(a) = &receipt.act
        && a.install_path.parent().is_some_and(|d| {
            use std::os::unix::fs::MetadataExt;
            std::fs::symlink_metadata(d).is_ok_and(|m| m.uid() != s.user.uid)
        })
    {
        // An act in a root-owned bin dir: root's record, root's step.
        receipt.act = None;
    }
    let shared_with: Vec<String> = system
        .iter()
        .flat_map(|r| r.users.iter())
        .filter(|uid| **uid != s.user.uid)
        .map(|uid| crate::system::identity::user_name(*uid))
        .collect();
    let (files, platform) = file::observe(fs, &receipt);
    let volume_name = crate::render::cache_volume_name(s.user.uid);
    // Root for a user its record does not list: nothing of root's is theirs.
    let (images, volume) = if user_half || (separated && !receipt_found) {
        (Ok(Vec::new()), Ok(false))
    } else {
        crate::uninstall::daemon::daemon_facts(s.ctx, &volume_name, s.timeout).await
    };
    Facts {
        user: s.user.name.clone(),
        // Root never removes the user's state dir: the user half does.
        state_entries: (!separated && crate::uninstall::userio::exists(fs, &s.state_dir))
            .then(|| fs.list(&s.state_dir, "", "").unwrap_or_default()),
        // Root for another user: root's own record is what "no receipt" is about.
        state_dir: if separated {
            s.system_state_dir.clone()
        } else {
            s.state_dir.clone()
        },
        receipt_found,
        act: system
            .as_ref()
            .filter(|r| r.users.contains(&s.user.uid) || r.users.is_empty())
            .map_or_else(
                || act::observe(fs, &receipt, None),
                |system| act::observe(fs, &receipt, Some(system)),
            ),
        files,
        platform,
        images,
        volume: (volume_name, volume),
        group: match (&system, user_half) {
            (_, true) => None,
            // Root for another user: the memberships root's own record says it added.
            (Some(system), false) => {
                let added = system.groups_added.iter().find(|g| g.uid == s.user.uid);
                let record = Receipt {
                    docker: added.map(|g| crate::receipt::DockerReceipt {
                        group: Some(g.group.clone()),
                        group_added: true,
                        ..Default::default()
                    }),
                    ..Default::default()
                };
                group::observe(s, &record)
            }
            (None, false) => group::observe(s, &receipt),
        },
        shared_with,
    }
}

/// Apply one step's plan.
pub async fn apply(s: &Settings<'_>, step: &Step) -> Result<StepReport> {
    let report = |(status, summary)| StepReport {
        id: step.id.as_str(),
        status,
        summary,
        ..Default::default()
    };
    let mut done = report(match &step.action {
        Action::Keep => (StepStatus::Ok, step.summary.clone()),
        Action::Skip => (StepStatus::Skipped, step.summary.clone()),
        Action::Fail(why) => (StepStatus::Failed, why.clone()),
        Action::RemoveFile { path, sha } => file::remove(s, step.id, path, sha)?,
        Action::RestoreAct(restore) => act::restore(s, restore)?,
        Action::WriteRest {
            path,
            bytes,
            sha_before,
            mode,
        } => file::write_rest(s, path, bytes, sha_before, *mode)?,
        Action::RemoveImages(list) => image::apply(s, list).await?,
        Action::RemoveVolume(name) => volume::apply(s, name).await?,
        Action::LeaveGroup { group, command } => group::apply(s, group, command)?,
        Action::RemoveState { dir } => state::apply(s, dir)?,
    });
    if let Some((path, sha)) = &step.beside
        && done.status != StepStatus::Failed
        && crate::uninstall::userio::remove_if(&s.fs, path, sha)?
    {
        done.status = StepStatus::Changed;
        done.summary = format!("{}; removed {}", done.summary, path.display());
        if let Some(dir) = path.parent() {
            crate::uninstall::userio::remove_empty_dir(&s.fs, dir);
        }
    }
    if let Some(dir) = &step.empty_dir
        && done.status != StepStatus::Failed
    {
        crate::uninstall::userio::remove_empty_dir(&s.fs, dir);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::UninstallStep;
    use crate::setup::StepId;

    #[test]
    fn the_file_steps_have_setups_ids() {
        for (u, s) in [
            (UninstallStep::Compose, StepId::Compose),
            (UninstallStep::Env, StepId::Env),
            (UninstallStep::Actrc, StepId::Actrc),
        ] {
            assert_eq!(u.as_str(), s.as_str());
            assert_eq!(UninstallStep::parse(s.as_str()), Some(u));
        }
        assert_eq!(
            serde_json::to_value(UninstallStep::ALL).unwrap(),
            serde_json::json!([
                "act", "image", "volume", "compose", "env", "actrc", "group", "state"
            ])
        );
    }
}
