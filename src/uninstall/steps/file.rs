//! The `compose`, `env` and `actrc` steps, the inverse of setup's: an unedited compose
//! file goes (an edited one is kept and listed); from `.env` and the actrc, which setup
//! merges with the user's lines, exactly actsim's lines go ([`render::strip_env`],
//! [`render::strip_actrc_bytes`]: the one editor of each) and the file only when nothing
//! of the user's is left; the `*.actsim-new` copy setup wrote beside a file goes too. The
//! directories setup made for them go when empty.
//!
//! What can go wrong: a file that cannot be read (a link, a FIFO, too large: kept), a file
//! that changed while uninstalling (kept, "run uninstall again").

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::receipt::Receipt;
use crate::render;
use crate::setup::StepStatus;
use crate::system::privsep::Fs;
use crate::uninstall::steps::{Action, Step, UninstallStep};
use crate::uninstall::{Kept, Settings, userio};

/// One file setup wrote, now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub id: UninstallStep,
    pub path: PathBuf,
    pub recorded_sha: String,
    pub current: Option<Vec<u8>>,
    /// Why it cannot be read (a link, a FIFO, too large).
    pub refused: Option<String>,
    /// The actrc lines setup added for `--act-arg` (the receipt).
    pub act_args: Vec<String>,
    /// `<path>.actsim-new` (ours, written beside an edited file) and its hash, when there.
    pub beside: Option<(PathBuf, String)>,
}

pub(crate) fn sha(bytes: &[u8]) -> String {
    crate::system::files::sha256_hex(bytes)
}

/// The files the receipt lists, and the platform image setup mapped (from `.env`).
pub fn observe(fs: &Fs, receipt: &Receipt) -> (Vec<Facts>, Option<String>) {
    let mut files = Vec::new();
    let mut platform = None;
    for id in UninstallStep::FILES {
        let Some(f) = receipt.files.get(id.as_str()) else {
            continue;
        };
        let (current, refused) = match userio::read(fs, &f.path) {
            Ok(c) => (c, None),
            Err(e) => (None, Some(e.to_string())),
        };
        if id == UninstallStep::Env
            && let Some(bytes) = &current
        {
            platform = render::parse_env(&String::from_utf8_lossy(bytes)).remove("PLATFORM_IMAGE");
        }
        let beside_path = crate::system::files::beside_path(&f.path);
        let beside = match userio::read(fs, &beside_path) {
            Ok(Some(bytes)) => Some((beside_path, sha(&bytes))),
            _ => None,
        };
        files.push(Facts {
            id,
            path: f.path.clone(),
            recorded_sha: f.sha256.clone(),
            current,
            refused,
            act_args: f
                .values
                .iter()
                .filter(|(_, v)| v.as_str() == "act-arg")
                .map(|(k, _)| k.clone())
                .collect(),
            beside,
        });
    }
    (files, platform)
}

/// The plan of the file step `id`. Pure.
pub fn plan(id: UninstallStep, f: &super::Facts) -> Step {
    match f.files.iter().find(|x| x.id == id) {
        None if !f.receipt_found => Step::new(id, f.no_receipt(), Action::Skip),
        None => Step::new(id, "setup wrote no such file", Action::Skip),
        Some(file) => {
            let mut step = plan_file(file, f.platform.as_deref());
            if let Some((path, sha)) = &file.beside {
                step.details
                    .push(format!("remove {}, actsim's copy", path.display()));
                if !step.changes() {
                    step.summary = format!("{}; remove {}", step.summary, path.display());
                }
                step.beside = Some((path.clone(), sha.clone()));
            }
            step
        }
    }
}

fn plan_file(file: &Facts, platform: Option<&str>) -> Step {
    let shown = file.path.display().to_string();
    if let Some(why) = &file.refused {
        let mut s = Step::new(file.id, format!("{shown}: {why}; kept"), Action::Skip);
        s.kept = Some(Kept {
            path: file.path.clone(),
            reason: why.clone(),
        });
        return s;
    }
    let Some(current) = &file.current else {
        return Step::new(file.id, format!("{shown} is gone"), Action::Keep);
    };
    let unedited = sha(current) == file.recorded_sha;
    match file.id {
        UninstallStep::Actrc => {
            let platform = if unedited { None } else { platform };
            let rest = render::strip_actrc_bytes(current, platform, &file.act_args);
            return plan_rest(file, current, rest);
        }
        UninstallStep::Env => {
            return plan_rest(file, current, render::strip_env(current));
        }
        _ => {}
    }
    if unedited {
        return Step::new(
            file.id,
            format!("remove {shown}"),
            Action::RemoveFile {
                path: file.path.clone(),
                sha: file.recorded_sha.clone(),
            },
        );
    }
    let mut s = Step::new(
        file.id,
        format!("{shown} was edited since setup wrote it: kept"),
        Action::Skip,
    );
    s.warnings.push(format!(
        "keeping your edited {shown}; remove it by hand if you do not need it"
    ));
    s.kept = Some(Kept {
        path: file.path.clone(),
        reason: "edited since setup wrote it".into(),
    });
    s
}

/// A file setup merged with the user's lines, without actsim's (`rest`).
fn plan_rest(file: &Facts, current: &[u8], rest: Vec<u8>) -> Step {
    let shown = file.path.display().to_string();
    let step = |summary: String, action| Step::new(file.id, summary, action);
    if rest == current {
        return step(format!("{shown} holds no line of actsim's"), Action::Keep);
    }
    if rest.is_empty() {
        return step(
            format!("remove {shown} (nothing but actsim's lines in it)"),
            Action::RemoveFile {
                path: file.path.clone(),
                sha: sha(current),
            },
        );
    }
    let mut s = step(
        format!("remove actsim's lines from {shown}, keeping your other lines"),
        Action::WriteRest {
            path: file.path.clone(),
            bytes: rest.clone(),
            sha_before: sha(current),
            mode: if file.id == UninstallStep::Env {
                0o600
            } else {
                0o644
            },
        },
    );
    s.details.extend(
        crate::system::files::unified_diff(&shown, &shown, current, &rest)
            .lines()
            .map(str::to_string),
    );
    s
}

/// Remove `path` (act's or a file step's) when its hash is still `sha`.
pub fn remove(
    s: &Settings<'_>,
    id: UninstallStep,
    path: &Path,
    sha: &str,
) -> Result<(StepStatus, String)> {
    let removed = userio::remove_if(&s.fs, path, sha)?;
    if let Some(dir) = path.parent() {
        // The directories setup created for its files, when nothing else is in them.
        if UninstallStep::FILES.contains(&id) {
            userio::remove_empty_dir(&s.fs, dir);
        }
    }
    if id == UninstallStep::Act {
        super::act::forget_system_act(s, path)?;
    }
    Ok(if removed {
        (StepStatus::Changed, format!("removed {}", path.display()))
    } else {
        (
            StepStatus::Ok,
            format!("{} was already gone", path.display()),
        )
    })
}

/// Write what is left of a file without actsim's lines, when it is still what the plan
/// saw (its mode kept: `.env` stays 0600).
pub fn write_rest(
    s: &Settings<'_>,
    path: &Path,
    bytes: &[u8],
    sha_before: &str,
    mode: u32,
) -> Result<(StepStatus, String)> {
    if userio::hash(&s.fs, path).ok().flatten().as_deref() != Some(sha_before) {
        return Err(Error::failed(
            format!("{} changed while uninstalling: kept", path.display()),
            Some("run uninstall again".into()),
        ));
    }
    userio::write(&s.fs, path, bytes, mode)?;
    Ok((
        StepStatus::Changed,
        format!("removed actsim's lines from {}", path.display()),
    ))
}
