//! The `compose`, `env` and `actrc` steps: remove a file setup wrote when it is unedited
//! (an edited one is kept and listed); from the actrc only actsim's own `-P` lines go, the
//! file only when nothing else is left. The directories setup made for them go when empty.
//!
//! What can go wrong: a file that cannot be read (a link, a FIFO, too large: kept), a file
//! that changed while uninstalling (kept, "run uninstall again").

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::receipt::Receipt;
use crate::render::PLATFORM_LABELS;
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
            platform =
                crate::doctor::parse_env(&String::from_utf8_lossy(bytes)).remove("PLATFORM_IMAGE");
        }
        files.push(Facts {
            id,
            path: f.path.clone(),
            recorded_sha: f.sha256.clone(),
            current,
            refused,
        });
    }
    (files, platform)
}

/// actrc text without actsim's own mappings: `-P <label>=<platform>` for setup's labels
/// (any image for them when `platform` is `None`, i.e. the file is as setup wrote it).
pub fn strip_actrc(text: &str, platform: Option<&str>) -> String {
    let ours = |line: &str| {
        let t = line.trim();
        PLATFORM_LABELS.iter().any(|label| {
            t.strip_prefix("-P")
                .map(str::trim_start)
                .and_then(|r| r.strip_prefix(label))
                .and_then(|r| r.strip_prefix('='))
                .is_some_and(|image| platform.is_none_or(|p| image.trim() == p))
        })
    };
    let kept: Vec<&str> = text.lines().filter(|l| !ours(l)).collect();
    if kept.iter().all(|l| l.trim().is_empty()) {
        return String::new();
    }
    let mut out = kept.join("\n");
    out.push('\n');
    out
}

/// The plan of the file step `id`. Pure.
pub fn plan(id: UninstallStep, f: &super::Facts) -> Step {
    match f.files.iter().find(|x| x.id == id) {
        None if !f.receipt_found => Step::new(id, f.no_receipt(), Action::Skip),
        None => Step::new(id, "setup wrote no such file", Action::Skip),
        Some(file) => plan_file(file, f.platform.as_deref()),
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
    if file.id == UninstallStep::Actrc {
        return plan_actrc(file, current, if unedited { None } else { platform });
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

/// The actrc without actsim's mappings (`platform`: only those to it, when edited).
fn plan_actrc(file: &Facts, current: &[u8], platform: Option<&str>) -> Step {
    let shown = file.path.display().to_string();
    let rest = strip_actrc(&String::from_utf8_lossy(current), platform);
    let step = |summary: String, action| Step::new(UninstallStep::Actrc, summary, action);
    if rest.as_bytes() == current {
        return step(
            format!("{shown} holds no mapping of actsim's"),
            Action::Keep,
        );
    }
    if rest.is_empty() {
        return step(
            format!("remove {shown} (nothing but actsim's mappings in it)"),
            Action::RemoveFile {
                path: file.path.clone(),
                sha: sha(current),
            },
        );
    }
    let mut s = step(
        format!("remove actsim's -P lines from {shown}, keeping your other lines"),
        Action::WriteActrc {
            path: file.path.clone(),
            bytes: rest.clone().into_bytes(),
            sha_before: sha(current),
        },
    );
    s.details.extend(
        crate::system::files::unified_diff(&shown, &shown, current, rest.as_bytes())
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

/// Write what is left of the actrc, when it is still what the plan saw.
pub fn write_actrc(
    s: &Settings<'_>,
    path: &Path,
    bytes: &[u8],
    sha_before: &str,
) -> Result<(StepStatus, String)> {
    if userio::hash(&s.fs, path).ok().flatten().as_deref() != Some(sha_before) {
        return Err(Error::failed(
            format!("{} changed while uninstalling: kept", path.display()),
            Some("run uninstall again".into()),
        ));
    }
    userio::write(&s.fs, path, bytes)?;
    Ok((
        StepStatus::Changed,
        format!("removed actsim's -P lines from {}", path.display()),
    ))
}
