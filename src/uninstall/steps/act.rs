//! The `act` step: remove the act setup installed when its hash is the recorded one (a
//! changed act is kept with a warning), and put back the user's own act that setup
//! replaced, from its backup, hash checked (unless `--keep-act`). When root installed act
//! for another user in a root-owned bin dir, root's receipt records it and is updated.
//!
//! What can go wrong: the act or its backup changed while uninstalling (kept, "run
//! uninstall again"), root's receipt cannot be saved.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::receipt::{Loaded, Receipt};
use crate::setup::StepStatus;
use crate::system::privsep::Fs;
use crate::uninstall::steps::{Action, Step, UninstallStep};
use crate::uninstall::{Flags, Kept, Settings, userio};

/// What the act binary looks like now, against the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub path: PathBuf,
    pub recorded_sha: String,
    /// `None`: no file there.
    pub current_sha: Option<String>,
    /// The user's own act setup replaced: its backup, recorded hash, and the backup's
    /// hash now (`None`: missing or unreadable).
    pub replaced: Option<(PathBuf, String, Option<String>)>,
    /// Setup created the bin dir (the user's receipt says so): it goes when empty.
    pub created_dir: bool,
}

/// Put the user's own act back: `backup` (hash `sha`) renamed over `target` (ours, hash
/// `ours` when present).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub backup: PathBuf,
    pub target: PathBuf,
    pub sha: String,
    pub ours: Option<String>,
}

/// The act the user's receipt records, else (root for another user) root's.
pub fn observe(fs: &Fs, receipt: &Receipt, system: Option<&Receipt>) -> Option<Facts> {
    let a = receipt
        .act
        .as_ref()
        .or_else(|| system.and_then(|r| r.act.as_ref()))?;
    let replaced = a
        .replaced
        .iter()
        .find(|r| !r.installed_by_actsim && r.path == a.install_path)
        .map(|r| {
            (
                r.backup.clone(),
                r.sha256.clone(),
                userio::hash(fs, &r.backup).ok().flatten(),
            )
        });
    Some(Facts {
        path: a.install_path.clone(),
        recorded_sha: a.binary_sha256.clone(),
        current_sha: userio::hash(fs, &a.install_path).ok().flatten(),
        replaced,
        created_dir: receipt.act.as_ref().is_some_and(|r| r.created_dir),
    })
}

fn short(sha: &str) -> &str {
    &sha[..sha.len().min(12)]
}

/// The act step's plan. Pure.
pub fn plan(f: &super::Facts, flags: Flags) -> Step {
    match &f.act {
        None if !f.receipt_found => Step::new(UninstallStep::Act, f.no_receipt(), Action::Skip),
        None => Step::new(UninstallStep::Act, "setup installed no act", Action::Skip),
        Some(a) => {
            let mut s = plan_act(a, flags);
            if a.created_dir && matches!(s.action, Action::RemoveFile { .. } | Action::Keep) {
                s.empty_dir = a.path.parent().map(Path::to_path_buf);
            }
            s
        }
    }
}

fn plan_act(a: &Facts, flags: Flags) -> Step {
    let shown = a.path.display().to_string();
    let step = |summary: String, action| Step::new(UninstallStep::Act, summary, action);
    match &a.current_sha {
        _ if flags.keep_act => {
            let mut s = step(format!("--keep-act: keep {shown}"), Action::Skip);
            if let Some((backup, _, _)) = &a.replaced {
                s.details.push(format!(
                    "the act setup replaced goes with the state dir ({})",
                    backup.display()
                ));
            }
            s
        }
        Some(cur) if *cur != a.recorded_sha => {
            let mut s = step(
                format!("{shown} changed since setup installed it: kept"),
                Action::Skip,
            );
            s.warnings.push(format!(
                "{shown} is not the act setup installed (sha256 {}…, installed {}…): kept",
                short(cur),
                short(&a.recorded_sha)
            ));
            s.kept = Some(Kept {
                path: a.path.clone(),
                reason: "changed since setup installed it".into(),
            });
            s
        }
        Some(_) => with_restore(
            a,
            step(
                format!("remove {shown}"),
                Action::RemoveFile {
                    path: a.path.clone(),
                    sha: a.recorded_sha.clone(),
                },
            ),
        ),
        None => with_restore(a, step(format!("{shown} is gone"), Action::Keep)),
    }
}

/// Ours goes (or is gone): put back the act setup replaced when its backup is intact.
fn with_restore(a: &Facts, mut s: Step) -> Step {
    let Some((backup, want, have)) = &a.replaced else {
        return s;
    };
    if have.as_deref() == Some(want.as_str()) {
        s.action = Action::RestoreAct(Restore {
            backup: backup.clone(),
            target: a.path.clone(),
            sha: want.clone(),
            ours: a.current_sha.clone(),
        });
        s.summary = format!(
            "{}; restore the act setup replaced (sha256 {}…) from {}",
            s.summary,
            short(want),
            backup.display()
        );
    } else {
        s.warnings.push(format!(
            "the backup of the act setup replaced ({}) is missing or changed: it is not restored",
            backup.display()
        ));
    }
    s
}

/// Restore the act setup replaced.
pub fn restore(s: &Settings<'_>, r: &Restore) -> Result<(StepStatus, String)> {
    // The restore is renamed over ours: ours must still be what the plan saw.
    let now = userio::hash(&s.fs, &r.target).map_err(|e| Error::failed(e.to_string(), None))?;
    if now.is_some() && now != r.ours {
        return Err(Error::failed(
            format!("{} changed while uninstalling: kept", r.target.display()),
            Some("run uninstall again".into()),
        ));
    }
    userio::restore(&s.fs, &r.backup, &r.target, &r.sha)?;
    forget_system_act(s, &r.target)?;
    Ok((
        StepStatus::Changed,
        format!(
            "restored the act setup replaced at {} (sha256 {}…)",
            r.target.display(),
            short(&r.sha)
        ),
    ))
}

/// After act at `path` is gone or restored: when root's receipt recorded it, drop that
/// record and its backups there (root's state dir itself stays: it is the machine's).
pub fn forget_system_act(s: &Settings<'_>, path: &Path) -> Result<()> {
    if !s.fs.is_separated() {
        return Ok(());
    }
    let local = Fs::local();
    let Loaded::Found(mut system) = Receipt::load(&local, &s.system_state_dir) else {
        return Ok(());
    };
    if system.act.as_ref().is_none_or(|a| a.install_path != path) {
        return Ok(());
    }
    if let Some(act) = system.act.take() {
        for r in act.replaced {
            if r.backup.starts_with(&s.system_state_dir) {
                let _ = local.remove(&r.backup);
            }
        }
    }
    system.save(&local, &s.system_state_dir)
}
