//! What the file steps (`compose`, `env`, `actrc`) share: the facts of one destination,
//! its pure plan (create, update, keep the user's edit, refuse) and the write.
//!
//! What can go wrong: a destination is a symbolic link or a directory (that step fails,
//! the others go on), the user edited it (kept; ours goes beside it unless they agree on
//! the terminal to replace it).

use std::path::PathBuf;

use super::{Action, Run, StepId, StepPlan};
use crate::context::Context;
use crate::error::Result;
use crate::receipt::{FileReceipt, Receipt};
use crate::render;
use crate::setup::report::{StepReport, StepStatus};
use crate::system::files;
use crate::system::privsep::Fs;

/// One destination file, observed.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub id: StepId,
    pub path: PathBuf,
    pub mode: u32,
    pub current: Option<Vec<u8>>,
    pub new: Vec<u8>,
    /// What actsim last wrote there (receipt).
    pub last_sha: Option<String>,
    /// For actrc: the user's file maps one of our labels to another image.
    pub user_mapping: bool,
    /// For `.env`: the user's own values of keys actsim owns, which the merge replaces by
    /// the machine's (shown, and confirmed like any change).
    pub user_values: Vec<render::EnvChange>,
    /// Why the destination cannot be written (a symbolic link or a directory there): this
    /// file's step fails, the other steps go on.
    pub refused: Option<String>,
}

/// A file that needs the socket (compose, env): its facts, or why there is nothing to
/// render (no local socket).
pub type Observed = std::result::Result<Facts, NoSocket>;

/// Why the files that mount the socket (compose, env) have nothing to render: the step's
/// skip reason.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NoSocket {
    /// The endpoint is no socket on this machine (`tcp://`, or no socket at its path).
    #[error("{host} is not a local socket, so there is nothing to mount")]
    NotLocal { host: String },
    /// No endpoint (a broken docker context).
    #[error(transparent)]
    Endpoint(#[from] crate::docker::endpoint::EndpointError),
}

/// The change: write `bytes` to `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
    pub mode: u32,
    /// The user edited it: ask (terminal) or write beside (`--yes`).
    pub edited: bool,
    pub diff: String,
    /// Said when written (`.env`: the user's own values replaced by the machine's).
    pub note: Option<String>,
}

/// The platform image act maps its labels to (`--platform-image`, else the one the
/// options remember, else the default), checked.
pub fn platform_image<'a>(ctx: &'a Context, opts: &'a crate::setup::Options) -> Result<&'a str> {
    let platform = ctx
        .platform_image
        .as_deref()
        .or(opts.platform_image.as_deref())
        .unwrap_or(render::DEFAULT_PLATFORM_IMAGE);
    render::check_platform_image(platform)?;
    Ok(platform)
}

/// Observe destination `path` of step `id`, which should hold `new`.
pub fn observe(
    run: &Run<'_>,
    id: StepId,
    path: PathBuf,
    mode: u32,
    new: Vec<u8>,
    receipt: &Receipt,
) -> Facts {
    let found = existing(&run.settings.fs, &path);
    facts(id, path, mode, found, new, receipt)
}

/// A file of the config dir rendered from the templates (compose, `.env`): its facts, or
/// why it cannot be rendered here (no local socket).
pub fn observe_rendered(
    run: &Run<'_>,
    id: StepId,
    (name, mode): (&str, u32),
    render: &std::result::Result<crate::render::Context, NoSocket>,
    text: impl FnOnce(&crate::render::Context) -> Result<String>,
    receipt: &Receipt,
) -> Result<Observed> {
    let ctx = match render {
        Ok(ctx) => ctx,
        Err(why) => return Ok(Err(why.clone())),
    };
    let new = text(ctx)?.into_bytes();
    let path = run.settings.config_dir.join(name);
    Ok(Ok(observe(run, id, path, mode, new, receipt)))
}

/// The facts of destination `path`, whose current bytes (or why it cannot be written) are
/// `found`.
pub fn facts(
    id: StepId,
    path: PathBuf,
    mode: u32,
    (current, refused): (Option<Vec<u8>>, Option<String>),
    new: Vec<u8>,
    receipt: &Receipt,
) -> Facts {
    Facts {
        id,
        path,
        mode,
        current,
        new,
        last_sha: receipt.files.get(id.as_str()).map(|f| f.sha256.clone()),
        user_mapping: false,
        user_values: Vec::new(),
        refused,
    }
}

/// The current bytes of a destination, or why it cannot be written (a link or a directory
/// there, with the way out).
pub fn existing(fs: &Fs, path: &std::path::Path) -> (Option<Vec<u8>>, Option<String>) {
    match fs.read(path, files::MAX_READ) {
        Ok(current) => (current, None),
        Err(e) => (
            None,
            Some(match e.hint() {
                Some(hint) => format!("{e}; {hint}"),
                None => e.to_string(),
            }),
        ),
    }
}

/// The plan of a file that needs the socket. Pure.
pub fn plan_observed(id: StepId, file: &Observed) -> StepPlan {
    match file {
        Err(why) => StepPlan::new(id, why.to_string(), Action::Skip),
        Ok(file) => plan(file),
    }
}

/// The plan of one file. Pure.
pub fn plan(file: &Facts) -> StepPlan {
    if let Some(why) = &file.refused {
        return StepPlan::new(file.id, why.clone(), Action::Refuse(why.clone()));
    }
    let shown = file.path.display().to_string();
    let decision = files::decide(
        &file.path,
        file.current.as_deref(),
        &file.new,
        file.last_sha.as_deref(),
    );
    // actrc: a merge that only adds our mappings to the user's own file is no edit of
    // theirs; `.env` is merged by key (the user's lines kept), so it never is.
    let action = match decision.action {
        files::Action::UserEdited
            if (file.id == StepId::Actrc && !file.user_mapping) || file.id == StepId::Env =>
        {
            files::Action::Update
        }
        a => a,
    };
    let note = (!file.user_values.is_empty()).then(|| {
        let each: Vec<String> = file
            .user_values
            .iter()
            .map(|c| {
                format!(
                    "{}={} (yours) becomes the machine's {}",
                    c.key,
                    c.was.as_deref().unwrap_or(""),
                    c.now
                )
            })
            .collect();
        format!("set the machine's values: {}", each.join(", "))
    });
    let write = |edited: bool| {
        Action::Write(Write {
            path: file.path.clone(),
            bytes: file.new.clone(),
            mode: file.mode,
            edited,
            diff: decision.diff.clone(),
            note: note.clone(),
        })
    };
    let mut p = match action {
        files::Action::Unchanged => {
            return StepPlan::new(file.id, format!("{shown} is up to date"), Action::Keep);
        }
        files::Action::Create => StepPlan::new(file.id, format!("write {shown}"), write(false)),
        files::Action::Update => StepPlan::new(file.id, format!("update {shown}"), write(false)),
        files::Action::UserEdited => {
            let mut p = StepPlan::new(
                file.id,
                format!(
                    "{shown} was edited by you: keep it (ours goes to {})",
                    files::beside_path(&file.path).display()
                ),
                write(true),
            );
            p.warnings.push(format!(
                "{shown} differs from what actsim last wrote; it is kept unless you agree to replace it"
            ));
            p
        }
    };
    if let Some(note) = &note {
        p.summary = format!("{}: {note}", p.summary);
        p.warnings.push(format!(
            "{shown}: your own values of keys actsim owns are replaced by the machine's; your other lines are kept"
        ));
    }
    if action == files::Action::Create {
        p.details.push(format!("new file, mode {:04o}", file.mode));
    } else {
        p.details.extend(decision.diff.lines().map(str::to_string));
    }
    p
}

/// Write the file (or, for a file the user edited and did not agree to replace, ours
/// beside it) and record what was written.
pub async fn apply(
    run: &Run<'_>,
    id: StepId,
    w: &Write,
    receipt: &mut Receipt,
) -> Result<StepReport> {
    let s = &run.settings;
    let report = |status, summary: String| StepReport {
        id: id.as_str(),
        status,
        summary,
        diff: Some(w.diff.clone()),
        ..Default::default()
    };
    if let Some(dir) = w.path.parent() {
        s.fs.ensure_user_dir(dir)?;
    }
    if !replace(run, w).await? {
        let beside = s.fs.write_beside(&w.path, &w.bytes, w.mode)?;
        run.ctx.ui.warn(&format!(
            "kept your edited {}; actsim's version is in {}",
            w.path.display(),
            beside.display()
        ));
        return Ok(report(
            StepStatus::Skipped,
            format!(
                "kept your edited {}; ours is in {}",
                w.path.display(),
                beside.display()
            ),
        ));
    }
    s.fs.write_atomic(&w.path, &w.bytes, w.mode)?;
    if let Some(note) = &w.note {
        run.ctx.ui.warn(&format!("{}: {note}", w.path.display()));
    }
    // What the step recorded of its own lines before (`--act-arg` lines) still holds.
    let values = receipt
        .files
        .get(id.as_str())
        .filter(|f| f.path == w.path)
        .map(|f| f.values.clone())
        .unwrap_or_default();
    receipt.files.insert(
        id.as_str().to_string(),
        FileReceipt {
            path: w.path.clone(),
            sha256: files::sha256_hex(&w.bytes),
            values,
        },
    );
    Ok(report(
        StepStatus::Changed,
        match &w.note {
            Some(note) => format!("wrote {}; {note}", w.path.display()),
            None => format!("wrote {}", w.path.display()),
        },
    ))
}

/// Whether to replace the destination: always unless the user edited it; then only when
/// they agree on the terminal (never with `--yes` or without a terminal).
async fn replace(run: &Run<'_>, w: &Write) -> Result<bool> {
    if !w.edited {
        return Ok(true);
    }
    if run.opts.yes || !run.ctx.terminal {
        return Ok(false);
    }
    run.ctx.ui.info(&w.diff);
    crate::setup::confirm::ask(
        &format!("Replace your edited {}?", w.path.display()),
        "could not ask",
        "pass --yes to keep your file and write ours beside it",
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_destination_fails_its_own_step_only() {
        let file = |id, refused: Option<&str>| Facts {
            id,
            path: PathBuf::from(format!("/cfg/{id}")),
            mode: 0o600,
            current: None,
            new: b"X=1\n".to_vec(),
            last_sha: None,
            user_mapping: false,
            user_values: Vec::new(),
            refused: refused.map(str::to_string),
        };
        let why = "refusing to write /cfg/env: it is a symbolic link (to /etc/passwd)";
        let refused = plan(&file(StepId::Env, Some(why)));
        assert_eq!(refused.summary, why);
        assert_eq!(refused.action, Action::Refuse(why.to_string()));
        let fine = plan(&file(StepId::Compose, None));
        assert!(matches!(
            fine.action,
            Action::Write(Write { edited: false, .. })
        ));
    }
}
