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
//! File I/O in the user's directories is in the few functions of [`userio`], which the
//! privilege-separation worker (issue 7) is meant to run as the user.
//! What can go wrong: no receipt (nothing to do), a daemon that does not answer (images
//! and volume kept, reported failed), leaving a group without root (exit 5 with the exact
//! command), declined or no terminal without `--yes` (exit 3, nothing changed).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;

use crate::context::{Context, Daemon};
use crate::error::{Error, Result};
use crate::receipt::{Loaded, Receipt};
use crate::render::PLATFORM_LABELS;
use crate::setup::{StepReport, StepStatus};
use crate::system::privsep::Fs;
use crate::system::process::Process;
use crate::ui::Ui;

pub const ACT: &str = "act";
pub const IMAGE: &str = "image";
pub const VOLUME: &str = "volume";
pub const COMPOSE: &str = crate::setup::StepId::Compose.as_str();
pub const ENV: &str = crate::setup::StepId::Env.as_str();
pub const ACTRC: &str = crate::setup::StepId::Actrc.as_str();
pub const GROUP: &str = "group";
pub const STATE: &str = "state";
/// The repository of the images actsim builds.
pub const IMAGE_REPO: &str = "actsim/act";

/// What the act binary looks like now, against the receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActFacts {
    pub path: PathBuf,
    pub recorded_sha: String,
    /// `None`: no file there.
    pub current_sha: Option<String>,
    /// The user's own act setup replaced: its backup, recorded hash, and the backup's
    /// hash now (`None`: missing or unreadable).
    pub replaced: Option<(PathBuf, String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFacts {
    pub id: &'static str,
    pub path: PathBuf,
    pub recorded_sha: String,
    pub current: Option<Vec<u8>>,
    /// Why it cannot be read (a link, a FIFO, too large).
    pub refused: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupFacts {
    pub name: String,
    pub added_by_setup: bool,
    /// The group database lists the user now.
    pub member: bool,
    pub command: Vec<String>,
}

/// Everything the plan depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub user: String,
    pub state_dir: PathBuf,
    /// Names in the state dir (`None`: it does not exist).
    pub state_entries: Option<Vec<String>>,
    pub receipt_found: bool,
    pub act: Option<ActFacts>,
    pub files: Vec<FileFacts>,
    /// The platform image setup mapped (from `.env`).
    pub platform: Option<String>,
    /// `actsim/act:*` images carrying actsim's label, or why they could not be listed.
    pub images: std::result::Result<Vec<String>, String>,
    /// The cache volume name, whether it exists, or why that is unknown.
    pub volume: (String, std::result::Result<bool, String>),
    pub group: Option<GroupFacts>,
}

/// The flags that change the plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    pub keep_act: bool,
    pub remove_group: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    RemoveFile {
        path: PathBuf,
        sha: String,
    },
    /// Put the user's own act back (renamed over ours, `ours` its hash when present).
    RestoreAct {
        backup: PathBuf,
        target: PathBuf,
        sha: String,
        ours: Option<String>,
    },
    WriteActrc {
        path: PathBuf,
        bytes: Vec<u8>,
        sha_before: String,
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
    /// Reported failed without stopping the run.
    Fail(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing to do: reported `ok`.
    Keep,
    /// Not applicable: reported `skipped`.
    Skip,
    Change(Change),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: &'static str,
    pub summary: String,
    pub details: Vec<String>,
    pub warnings: Vec<String>,
    /// A file kept on purpose (edited, changed), listed in the report.
    pub kept: Option<Kept>,
    pub action: Action,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub path: PathBuf,
    pub reason: String,
}

impl Step {
    fn new(id: &'static str, summary: impl Into<String>, action: Action) -> Step {
        Step {
            id,
            summary: summary.into(),
            details: Vec::new(),
            warnings: Vec::new(),
            kept: None,
            action,
        }
    }

    pub fn changes(&self) -> bool {
        matches!(&self.action, Action::Change(c) if !matches!(c, Change::Fail(_)))
    }
}

/// `uninstall --format json`: `{"schema","ok","changed","steps","kept"}`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: u32,
    pub ok: bool,
    pub changed: bool,
    pub steps: Vec<StepReport>,
    pub kept: Vec<Kept>,
}

fn sha(bytes: &[u8]) -> String {
    crate::system::files::sha256_hex(bytes)
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

/// The plan. Pure.
pub fn plan(f: &Facts, flags: Flags) -> Vec<Step> {
    let mut out = Vec::new();
    let no_receipt = || {
        format!(
            "no receipt in {}: nothing setup installed is known",
            f.state_dir.display()
        )
    };
    // act
    out.push(match &f.act {
        None if !f.receipt_found => Step::new(ACT, no_receipt(), Action::Skip),
        None => Step::new(ACT, "setup installed no act", Action::Skip),
        Some(a) => plan_act(a, flags),
    });
    // images
    out.push(match &f.images {
        Err(why) if f.receipt_found => {
            let mut s = Step::new(
                IMAGE,
                format!("cannot list the {IMAGE_REPO} images: {why}"),
                Action::Change(Change::Fail(format!(
                    "the daemon did not answer ({why}); start it and run uninstall again"
                ))),
            );
            s.warnings
                .push(format!("the {IMAGE_REPO} images are kept: {why}"));
            s
        }
        Err(_) => Step::new(IMAGE, no_receipt(), Action::Skip),
        Ok(list) if list.is_empty() => {
            Step::new(IMAGE, format!("no {IMAGE_REPO} image"), Action::Keep)
        }
        Ok(list) => Step::new(
            IMAGE,
            format!("remove {}", list.join(", ")),
            Action::Change(Change::RemoveImages(list.clone())),
        ),
    });
    // volume
    let (name, exists) = &f.volume;
    out.push(match exists {
        _ if !f.receipt_found => Step::new(VOLUME, no_receipt(), Action::Skip),
        Ok(false) => Step::new(VOLUME, format!("no volume {name}"), Action::Keep),
        Ok(true) => Step::new(
            VOLUME,
            format!("remove the act cache volume {name}"),
            Action::Change(Change::RemoveVolume(name.clone())),
        ),
        Err(why) => Step::new(
            VOLUME,
            format!("cannot look for volume {name}: {why}"),
            Action::Change(Change::Fail(format!(
                "the daemon did not answer ({why}); volume {name} is kept"
            ))),
        ),
    });
    // files
    for id in [COMPOSE, ENV, ACTRC] {
        out.push(match f.files.iter().find(|x| x.id == id) {
            None if !f.receipt_found => Step::new(id, no_receipt(), Action::Skip),
            None => Step::new(id, "setup wrote no such file", Action::Skip),
            Some(file) => plan_file(file, f.platform.as_deref()),
        });
    }
    // group
    out.push(match &f.group {
        None => Step::new(GROUP, "setup changed no group membership", Action::Skip),
        Some(g) if !g.added_by_setup => Step::new(
            GROUP,
            format!(
                "{} was already in group {} before setup: left as it is",
                f.user, g.name
            ),
            Action::Skip,
        ),
        Some(g) if !g.member => Step::new(
            GROUP,
            format!("{} is not in group {}", f.user, g.name),
            Action::Keep,
        ),
        Some(g) if !flags.remove_group => {
            let mut s = Step::new(
                GROUP,
                format!(
                    "{} stays in group {} (setup added it; --remove-group removes it)",
                    f.user, g.name
                ),
                Action::Skip,
            );
            s.details
                .push(format!("to leave it by hand: sudo {}", g.command.join(" ")));
            s
        }
        Some(g) => {
            let mut s = Step::new(
                GROUP,
                format!("remove {} from group {} (setup added it)", f.user, g.name),
                Action::Change(Change::LeaveGroup {
                    group: g.name.clone(),
                    command: g.command.clone(),
                }),
            );
            s.details.push(format!("runs: {}", g.command.join(" ")));
            s
        }
    });
    // state dir, last
    out.push(match &f.state_entries {
        None => Step::new(
            STATE,
            format!("no state dir {}", f.state_dir.display()),
            Action::Keep,
        ),
        Some(_) => Step::new(
            STATE,
            format!("remove the state dir {}", f.state_dir.display()),
            Action::Change(Change::RemoveState {
                dir: f.state_dir.clone(),
            }),
        ),
    });
    out
}

fn plan_act(a: &ActFacts, flags: Flags) -> Step {
    let shown = a.path.display().to_string();
    let restore = |s: &mut Step| {
        if let Some((backup, want, have)) = &a.replaced {
            if have.as_deref() == Some(want.as_str()) {
                s.action = Action::Change(Change::RestoreAct {
                    backup: backup.clone(),
                    target: a.path.clone(),
                    sha: want.clone(),
                    ours: a.current_sha.clone(),
                });
                s.summary = format!(
                    "{}; restore the act setup replaced (sha256 {}…) from {}",
                    s.summary,
                    &want[..want.len().min(12)],
                    backup.display()
                );
            } else {
                s.warnings.push(format!(
                    "the backup of the act setup replaced ({}) is missing or changed: it is not restored",
                    backup.display()
                ));
            }
        }
    };
    match &a.current_sha {
        _ if flags.keep_act => {
            let mut s = Step::new(ACT, format!("--keep-act: keep {shown}"), Action::Skip);
            if let Some((backup, _, _)) = &a.replaced {
                s.details.push(format!(
                    "the act setup replaced goes with the state dir ({})",
                    backup.display()
                ));
            }
            s
        }
        Some(cur) if *cur != a.recorded_sha => {
            let mut s = Step::new(
                ACT,
                format!("{shown} changed since setup installed it: kept"),
                Action::Skip,
            );
            s.warnings.push(format!(
                "{shown} is not the act setup installed (sha256 {}…, installed {}…): kept",
                &cur[..12.min(cur.len())],
                &a.recorded_sha[..12.min(a.recorded_sha.len())]
            ));
            s.kept = Some(Kept {
                path: a.path.clone(),
                reason: "changed since setup installed it".into(),
            });
            s
        }
        Some(_) => {
            let mut s = Step::new(
                ACT,
                format!("remove {shown}"),
                Action::Change(Change::RemoveFile {
                    path: a.path.clone(),
                    sha: a.recorded_sha.clone(),
                }),
            );
            restore(&mut s);
            s
        }
        None => {
            let mut s = Step::new(ACT, format!("{shown} is gone"), Action::Keep);
            restore(&mut s);
            s
        }
    }
}

fn plan_file(file: &FileFacts, platform: Option<&str>) -> Step {
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
    if file.id == ACTRC {
        let text = String::from_utf8_lossy(current);
        let rest = strip_actrc(&text, if unedited { None } else { platform });
        if rest.as_bytes() == current.as_slice() {
            return Step::new(
                ACTRC,
                format!("{shown} holds no mapping of actsim's"),
                Action::Keep,
            );
        }
        if rest.is_empty() {
            return Step::new(
                ACTRC,
                format!("remove {shown} (nothing but actsim's mappings in it)"),
                Action::Change(Change::RemoveFile {
                    path: file.path.clone(),
                    sha: sha(current),
                }),
            );
        }
        let mut s = Step::new(
            ACTRC,
            format!("remove actsim's -P lines from {shown}, keeping your other lines"),
            Action::Change(Change::WriteActrc {
                path: file.path.clone(),
                bytes: rest.clone().into_bytes(),
                sha_before: sha(current),
            }),
        );
        s.details.extend(
            crate::system::files::unified_diff(&shown, &shown, current, rest.as_bytes())
                .lines()
                .map(str::to_string),
        );
        return s;
    }
    if unedited {
        Step::new(
            file.id,
            format!("remove {shown}"),
            Action::Change(Change::RemoveFile {
                path: file.path.clone(),
                sha: file.recorded_sha.clone(),
            }),
        )
    } else {
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
}

/// File I/O of uninstall, all through [`Fs`]: when root acts for another user, whatever
/// that user could modify is read, hashed, written and removed by the agent running as
/// them; root-owned paths by root without following links.
pub mod userio {
    use std::path::Path;

    use crate::error::{Error, Result};
    use crate::system::files::MAX_READ;
    use crate::system::privsep::Fs;

    /// Largest binary hashed (act is ~20 MB).
    const MAX_BINARY: u64 = 512 << 20;

    /// SHA-256 of a regular file, never through a link; `None` when absent.
    pub fn hash(fs: &Fs, path: &Path) -> Result<Option<String>> {
        match fs.open(path, MAX_BINARY)? {
            None => Ok(None),
            Some(f) => crate::system::files::sha256_reader(f)
                .map(Some)
                .map_err(|e| Error::io(path, e)),
        }
    }

    /// A configuration file (≤ 1 MiB, regular, no link); `None` when absent.
    pub fn read(fs: &Fs, path: &Path) -> Result<Option<Vec<u8>>> {
        fs.read(path, MAX_READ)
    }

    /// A failed read or hash as uninstall reports it: the message, exit 1, no hint.
    fn failed(e: Error) -> Error {
        Error::failed(e.to_string(), None)
    }

    /// Whether `dir` exists (as anything).
    pub fn exists(fs: &Fs, dir: &Path) -> bool {
        matches!(fs.stat(dir), Ok(Some(_)))
    }

    /// Unlink `path` when it is a regular file whose hash is `sha`. `Ok(false)`: it was
    /// already gone. A file with another hash is refused (it changed since planning).
    pub fn remove_if(fs: &Fs, path: &Path, sha: &str) -> Result<bool> {
        match hash(fs, path).map_err(failed)? {
            None => Ok(false),
            Some(h) if h == sha => fs.remove(path),
            Some(_) => Err(Error::failed(
                format!("{} changed while uninstalling: kept", path.display()),
                Some("run uninstall again".into()),
            )),
        }
    }

    /// Put `backup` (hash `sha`) back at `target`, atomically, mode 0755; the copy is
    /// hashed again afterwards.
    pub fn restore(fs: &Fs, backup: &Path, target: &Path, sha: &str) -> Result<()> {
        if hash(fs, backup).map_err(failed)?.as_deref() != Some(sha) {
            return Err(Error::failed(
                format!(
                    "{} does not hold the act setup replaced: not restored",
                    backup.display()
                ),
                None,
            ));
        }
        fs.copy(backup, target, 0o755, MAX_BINARY)?;
        if hash(fs, target).map_err(failed)?.as_deref() != Some(sha) {
            return Err(Error::failed(
                format!("{} changed while it was restored", target.display()),
                Some("run uninstall again".into()),
            ));
        }
        Ok(())
    }

    /// Write the actrc that is left (atomic, no links).
    pub fn write(fs: &Fs, path: &Path, bytes: &[u8]) -> Result<()> {
        fs.write_atomic(path, bytes, 0o644)
    }

    /// Remove `dir` when it is an empty directory (best effort).
    pub fn remove_empty_dir(fs: &Fs, dir: &Path) {
        let _ = fs.remove_empty_dir(dir);
    }

    /// Remove the state dir: actsim's own files (receipt, lock, `backup/act-*`,
    /// `logs/run-*.log`), then the directories. Anything else keeps the directory; it is
    /// reported.
    pub fn remove_state(fs: &Fs, dir: &Path) -> Result<Vec<String>> {
        for name in fs.list(dir, "", "")? {
            let ours = matches!(name.as_str(), "receipt.json" | "setup.lock")
                || name.starts_with("receipt.json.");
            if ours {
                fs.remove(&dir.join(&name))?;
            }
        }
        for (sub, prefix, suffix) in [("backup", "act-", ""), ("logs", "run-", ".log")] {
            let d = dir.join(sub);
            if exists(fs, &d) {
                for name in fs.list(&d, prefix, suffix).unwrap_or_default() {
                    fs.remove(&d.join(name))?;
                }
                remove_empty_dir(fs, &d);
            }
        }
        let _ = fs.remove_empty_dir(dir);
        if !exists(fs, dir) {
            return Ok(Vec::new());
        }
        let mut left: Vec<String> = fs
            .list(dir, "", "")
            .unwrap_or_default()
            .into_iter()
            .map(|n| dir.join(n).display().to_string())
            .collect();
        for sub in ["backup", "logs"] {
            if exists(fs, &dir.join(sub)) {
                left.push(dir.join(sub).display().to_string());
            }
        }
        if left.is_empty() {
            left.push(format!("{} (not empty)", dir.display()));
        }
        Ok(left)
    }
}

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

/// Where things are, for whom.
struct Settings<'a> {
    ctx: &'a Context,
    user: &'a crate::system::identity::TargetUser,
    /// The one door to the file system (separated when root acts for another user).
    fs: Fs,
    state_dir: PathBuf,
    /// Root's state dir: its receipt records an act in a root-owned bin dir that setup
    /// installed for another user.
    system_state_dir: PathBuf,
    timeout: Duration,
}

async fn observe(process: &Process, s: &Settings<'_>, ui: &Ui) -> Facts {
    let load = |fs: &Fs, dir: &Path| match Receipt::load(fs, dir) {
        Loaded::Found(r) => (r, true),
        Loaded::Missing => (Receipt::default(), false),
        Loaded::Corrupt(why) => {
            ui.warn(&format!("{why}; nothing it lists can be undone"));
            (Receipt::default(), false)
        }
    };
    let fs = &s.fs;
    let (receipt, receipt_found) = load(fs, &s.state_dir);
    // Root for another user: an act in a root-owned bin dir is in root's receipt.
    let system = if fs.is_separated() {
        Some(load(&Fs::local(), &s.system_state_dir).0)
    } else {
        None
    };
    let act_receipt = receipt
        .act
        .as_ref()
        .or_else(|| system.as_ref().and_then(|r| r.act.as_ref()));
    let act = act_receipt.map(|a| {
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
        ActFacts {
            path: a.install_path.clone(),
            recorded_sha: a.binary_sha256.clone(),
            current_sha: userio::hash(fs, &a.install_path).ok().flatten(),
            replaced,
        }
    });
    let mut files = Vec::new();
    let mut platform = None;
    for id in [COMPOSE, ENV, ACTRC] {
        if let Some(f) = receipt.files.get(id) {
            let (current, refused) = match userio::read(fs, &f.path) {
                Ok(c) => (c, None),
                Err(e) => (None, Some(e.to_string())),
            };
            if id == ENV
                && let Some(bytes) = &current
            {
                platform = crate::doctor::parse_env(&String::from_utf8_lossy(bytes))
                    .remove("PLATFORM_IMAGE");
            }
            files.push(FileFacts {
                id,
                path: f.path.clone(),
                recorded_sha: f.sha256.clone(),
                current,
                refused,
            });
        }
    }
    let volume_name = crate::render::cache_volume_name(s.user.uid);
    let (images, volume) = daemon_facts(s.ctx, &volume_name, s.timeout).await;
    let group = receipt
        .docker
        .as_ref()
        .and_then(|d| d.group.clone().map(|g| (g, d.group_added)))
        .map(|(name, added)| {
            let gid = nix::unistd::Group::from_name(&name)
                .ok()
                .flatten()
                .map(|g| g.gid.as_raw());
            GroupFacts {
                member: gid.is_some_and(|g| s.user.database_gids().contains(&g) && g != s.user.gid),
                command: leave_command(&s.user.name, &name, |t| {
                    crate::setup::steps::group::have_tool(process, t)
                }),
                name,
                added_by_setup: added,
            }
        });
    Facts {
        user: s.user.name.clone(),
        state_entries: userio::exists(fs, &s.state_dir).then(Vec::new),
        state_dir: s.state_dir.clone(),
        receipt_found,
        act,
        files,
        platform,
        images,
        volume: (volume_name, volume),
        group,
    }
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

type DaemonFacts = (
    std::result::Result<Vec<String>, String>,
    std::result::Result<bool, String>,
);

/// The run's one daemon client: the context's, else connected now (once) and kept there.
async fn docker(ctx: &Context, timeout: Duration) -> std::result::Result<bollard::Docker, String> {
    if let Some(d) = ctx.daemon() {
        return Ok(d.docker);
    }
    let host = ctx.endpoint().as_ref().map_err(Clone::clone)?.host.clone();
    let (docker, version) = crate::docker::client::connect_with_version(&host, timeout).await?;
    ctx.remember_daemon(&Daemon {
        docker: docker.clone(),
        engine: crate::docker::engine::Engine::from_version(&version),
        version,
    });
    Ok(docker)
}

async fn daemon_facts(ctx: &Context, volume: &str, timeout: Duration) -> DaemonFacts {
    // The client is the run's (later steps use it with the full timeout); looking costs
    // at most 20s.
    let client_timeout = timeout;
    let timeout = timeout.min(Duration::from_secs(20));
    let work = async {
        let docker = docker(ctx, client_timeout).await?;
        let mut filters = std::collections::HashMap::new();
        filters.insert("reference".to_string(), vec![format!("{IMAGE_REPO}:*")]);
        filters.insert(
            "label".to_string(),
            vec![crate::docker::image::SHA_LABEL.to_string()],
        );
        let opts = bollard::query_parameters::ListImagesOptionsBuilder::default()
            .filters(&filters)
            .build();
        let images = docker
            .list_images(Some(opts))
            .await
            .map_err(|e| crate::docker::client::describe(&e))?;
        let mut refs: Vec<String> = images
            .into_iter()
            .flat_map(|i| i.repo_tags)
            .filter(|t| t.starts_with(&format!("{IMAGE_REPO}:")))
            .collect();
        refs.sort();
        refs.dedup();
        let exists = match docker.inspect_volume(volume).await {
            Ok(_) => true,
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => false,
            Err(e) => return Err(crate::docker::client::describe(&e)),
        };
        Ok::<_, String>((refs, exists))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok((images, exists))) => (Ok(images), Ok(exists)),
        Ok(Err(e)) => (Err(e.clone()), Err(e)),
        Err(_) => {
            let e = format!("the daemon did not answer within {}s", timeout.as_secs());
            (Err(e.clone()), Err(e))
        }
    }
}

async fn apply(
    process: &Process,
    s: &Settings<'_>,
    step: &Step,
    ui: &Ui,
    yes: bool,
) -> Result<StepReport> {
    let report = |status, summary: String| StepReport {
        id: step.id,
        status,
        summary,
        ..Default::default()
    };
    let change = match &step.action {
        Action::Keep => return Ok(report(StepStatus::Ok, step.summary.clone())),
        Action::Skip => return Ok(report(StepStatus::Skipped, step.summary.clone())),
        Action::Change(c) => c,
    };
    match change {
        Change::Fail(why) => Ok(report(StepStatus::Failed, why.clone())),
        Change::RemoveFile { path, sha } => {
            let removed = userio::remove_if(&s.fs, path, sha)?;
            if let Some(dir) = path.parent() {
                // The directories setup created for its files, when nothing else is in them.
                if matches!(step.id, COMPOSE | ENV | ACTRC) {
                    userio::remove_empty_dir(&s.fs, dir);
                }
            }
            if step.id == ACT {
                forget_system_act(s, path)?;
            }
            Ok(report(
                if removed {
                    StepStatus::Changed
                } else {
                    StepStatus::Ok
                },
                if removed {
                    format!("removed {}", path.display())
                } else {
                    format!("{} was already gone", path.display())
                },
            ))
        }
        Change::RestoreAct {
            backup,
            target,
            sha: want,
            ours,
        } => {
            // The restore is renamed over ours: ours must still be what the plan saw.
            let now =
                userio::hash(&s.fs, target).map_err(|e| Error::failed(e.to_string(), None))?;
            if now.is_some() && now != *ours {
                return Err(Error::failed(
                    format!("{} changed while uninstalling: kept", target.display()),
                    Some("run uninstall again".into()),
                ));
            }
            userio::restore(&s.fs, backup, target, want)?;
            forget_system_act(s, target)?;
            Ok(report(
                StepStatus::Changed,
                format!(
                    "restored the act setup replaced at {} (sha256 {}…)",
                    target.display(),
                    &want[..12.min(want.len())]
                ),
            ))
        }
        Change::WriteActrc {
            path,
            bytes,
            sha_before,
        } => {
            if userio::hash(&s.fs, path).ok().flatten().as_deref() != Some(sha_before.as_str()) {
                return Err(Error::failed(
                    format!("{} changed while uninstalling: kept", path.display()),
                    Some("run uninstall again".into()),
                ));
            }
            userio::write(&s.fs, path, bytes)?;
            Ok(report(
                StepStatus::Changed,
                format!("removed actsim's -P lines from {}", path.display()),
            ))
        }
        Change::RemoveImages(list) => {
            let docker = docker(s.ctx, s.timeout)
                .await
                .map_err(|e| Error::failed(e, None))?;
            let mut removed = Vec::new();
            let mut in_use = Vec::new();
            for image in list {
                match docker
                    .remove_image(
                        image,
                        None::<bollard::query_parameters::RemoveImageOptions>,
                        None,
                    )
                    .await
                {
                    Ok(_) => removed.push(image.clone()),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => {}
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 409,
                        message,
                    }) => in_use.push(format!("{image} ({message})")),
                    Err(e) => {
                        return Err(Error::failed(
                            format!("removing {image}: {}", crate::docker::client::describe(&e)),
                            None,
                        ));
                    }
                }
            }
            if !in_use.is_empty() {
                ui.warn(&format!(
                    "kept images in use by containers: {}",
                    in_use.join(", ")
                ));
                return Ok(report(
                    StepStatus::Failed,
                    format!(
                        "removed {}; kept {} (in use: remove those containers, then run uninstall again)",
                        if removed.is_empty() {
                            "nothing".to_string()
                        } else {
                            removed.join(", ")
                        },
                        in_use.join(", ")
                    ),
                ));
            }
            Ok(report(
                if removed.is_empty() {
                    StepStatus::Ok
                } else {
                    StepStatus::Changed
                },
                if removed.is_empty() {
                    format!("no {IMAGE_REPO} image left")
                } else {
                    format!("removed {}", removed.join(", "))
                },
            ))
        }
        Change::RemoveVolume(name) => {
            let docker = docker(s.ctx, s.timeout)
                .await
                .map_err(|e| Error::failed(e, None))?;
            match docker
                .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
                .await
            {
                Ok(()) => Ok(report(
                    StepStatus::Changed,
                    format!("removed volume {name}"),
                )),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => Ok(report(
                    StepStatus::Ok,
                    format!("volume {name} was already gone"),
                )),
                Err(e) => Ok(report(
                    StepStatus::Failed,
                    format!(
                        "volume {name} is kept: {} (a container still uses it?)",
                        crate::docker::client::describe(&e)
                    ),
                )),
            }
        }
        Change::LeaveGroup { group, command } => {
            leave_group(process, command, yes)?;
            Ok(report(
                StepStatus::Changed,
                format!("removed {} from group {group}", s.user.name),
            ))
        }
        Change::RemoveState { dir } => {
            let left = userio::remove_state(&s.fs, dir)?;
            if left.is_empty() {
                Ok(report(
                    StepStatus::Changed,
                    format!("removed {}", dir.display()),
                ))
            } else {
                ui.warn(&format!(
                    "{} is kept: it holds files actsim did not write: {}",
                    dir.display(),
                    left.join(", ")
                ));
                Ok(report(
                    StepStatus::Changed,
                    format!(
                        "removed actsim's files from {}; kept {}",
                        dir.display(),
                        left.join(", ")
                    ),
                ))
            }
        }
    }
}

/// After act at `path` is gone or restored: when root's receipt recorded it, drop that
/// record and its backups there (root's state dir itself stays: it is the machine's).
fn forget_system_act(s: &Settings<'_>, path: &Path) -> Result<()> {
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

/// Run the leave command as root, or through `sudo -n`; exit 5 with the command otherwise.
fn leave_group(process: &Process, cmd: &[String], yes: bool) -> Result<()> {
    let _ = yes;
    let root = nix::unistd::Uid::effective().is_root();
    let shown = format!("sudo {}", cmd.join(" "));
    if !root && !crate::setup::steps::group::have_tool(process, "sudo") {
        return Err(Error::Privilege {
            what: format!("removing the user from a group ({})", cmd.join(" ")),
            command: format!("as root: {}", cmd.join(" ")),
        });
    }
    let mut command = if root {
        let mut c = std::process::Command::new(&cmd[0]);
        c.args(&cmd[1..]);
        c
    } else {
        let mut c = std::process::Command::new("sudo");
        c.arg("-n").args(cmd);
        c
    };
    let out = command
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::failed(format!("cannot run {}: {e}", cmd[0]), None))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
    if root {
        Err(Error::failed(
            format!("{} failed: {stderr}", cmd.join(" ")),
            None,
        ))
    } else {
        Err(Error::Privilege {
            what: format!("removing the user from a group ({stderr})"),
            command: shown,
        })
    }
}

fn show_plan(ui: &Ui, s: &Settings<'_>, plan: &[Step]) {
    ui.heading(&format!(
        "actsim uninstall for {} (uid {}): state dir {}",
        s.user.name,
        s.user.uid,
        s.state_dir.display()
    ));
    for step in plan {
        let mark = if step.changes() {
            "will"
        } else if step.action == Action::Skip {
            "skip"
        } else if matches!(step.action, Action::Change(Change::Fail(_))) {
            "fail"
        } else {
            "ok"
        };
        ui.info(&format!("  {:<5} {:<9} {}", mark, step.id, step.summary));
        if step.changes() || ui.verbose {
            for d in &step.details {
                ui.info(&format!("                  - {d}"));
            }
        }
    }
    for step in plan {
        for w in &step.warnings {
            ui.warn(w);
        }
    }
}

/// Observe, plan, show, confirm and apply for `ctx`'s user; each step's report goes to
/// `steps` as it is done, what was kept on purpose to `kept`.
pub async fn uninstall(
    ctx: &Context,
    args: &Options,
    steps: &mut Vec<StepReport>,
    kept: &mut Vec<Kept>,
) -> Result<()> {
    let (process, ui) = (&ctx.process, &ctx.ui);
    let s = Settings {
        ctx,
        fs: Fs::for_user(&ctx.user),
        state_dir: ctx.state_dir.clone(),
        system_state_dir: ctx.system_state_dir.clone(),
        timeout: args.timeout,
        user: &ctx.user,
    };
    let flags = Flags {
        keep_act: args.keep_act,
        remove_group: args.remove_group,
    };
    let facts = observe(process, &s, ui).await;
    let planned = plan(&facts, flags);
    show_plan(ui, &s, &planned);
    let changes = planned.iter().any(Step::changes);
    if args.dry_run {
        for step in &planned {
            let (status, summary) = crate::setup::dry_run_status(
                step.changes(),
                step.action == Action::Keep,
                &step.summary,
            );
            ui.step(status.as_str(), step.id, &summary);
            steps.push(StepReport {
                id: step.id,
                status,
                would_change: status == StepStatus::Skipped && step.changes(),
                summary,
                ..Default::default()
            });
        }
        ui.info("dry run: nothing was changed");
        return Ok(());
    }
    if changes && !args.yes {
        crate::setup::confirm_plan(process, ui).await?;
    }
    // Under the lock, look again (another run may be busy); the lock goes with the state dir.
    let _lock = if changes && facts.state_entries.is_some() {
        Some(
            crate::system::lock::acquire(&s.fs, &s.state_dir, Instant::now() + s.timeout, ui)
                .await?,
        )
    } else {
        None
    };
    let facts = if changes {
        observe(process, &s, ui).await
    } else {
        facts
    };
    let mut failed = false;
    for step in plan(&facts, flags) {
        if step.id == STATE && failed {
            let summary = format!(
                "{} is kept, with the receipt, so uninstall can be run again",
                s.state_dir.display()
            );
            ui.step("skipped", STATE, &summary);
            steps.push(StepReport {
                id: STATE,
                status: StepStatus::Skipped,
                summary,
                ..Default::default()
            });
            continue;
        }
        let report = apply(process, &s, &step, ui, args.yes).await?;
        failed |= report.status == StepStatus::Failed;
        ui.step(report.status.as_str(), report.id, &report.summary);
        if let Some(k) = &step.kept {
            kept.push(k.clone());
        }
        steps.push(report);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
    const OLD: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

    fn facts() -> Facts {
        Facts {
            user: "alice".into(),
            state_dir: "/home/alice/.local/state/actsim".into(),
            state_entries: Some(vec!["receipt.json".into()]),
            receipt_found: true,
            act: Some(ActFacts {
                path: "/home/alice/.local/bin/act".into(),
                recorded_sha: OURS.into(),
                current_sha: Some(OURS.into()),
                replaced: None,
            }),
            files: vec![FileFacts {
                id: ENV,
                path: "/home/alice/.config/actsim/.env".into(),
                recorded_sha: sha(b"A=1\n"),
                current: Some(b"A=1\n".to_vec()),
                refused: None,
            }],
            platform: Some("img:1".into()),
            images: Ok(vec!["actsim/act:0.2.89".into()]),
            volume: ("actsim-act-cache-1000".into(), Ok(true)),
            group: Some(GroupFacts {
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

    fn step<'a>(plan: &'a [Step], id: &str) -> &'a Step {
        plan.iter().find(|s| s.id == id).unwrap()
    }

    #[test]
    fn a_fresh_install_is_removed_in_order_with_the_state_dir_last() {
        let p = plan(&facts(), Flags::default());
        let ids: Vec<&str> = p.iter().map(|s| s.id).collect();
        assert_eq!(ids, [ACT, IMAGE, VOLUME, COMPOSE, ENV, ACTRC, GROUP, STATE]);
        assert!(matches!(
            step(&p, ACT).action,
            Action::Change(Change::RemoveFile { .. })
        ));
        assert!(matches!(
            step(&p, ENV).action,
            Action::Change(Change::RemoveFile { .. })
        ));
        assert!(matches!(
            step(&p, STATE).action,
            Action::Change(Change::RemoveState { .. })
        ));
        // The group stays unless asked; then only a membership setup added goes.
        assert_eq!(step(&p, GROUP).action, Action::Skip);
        let p = plan(
            &facts(),
            Flags {
                remove_group: true,
                ..Flags::default()
            },
        );
        assert!(matches!(
            step(&p, GROUP).action,
            Action::Change(Change::LeaveGroup { .. })
        ));
        let mut f = facts();
        f.group.as_mut().unwrap().added_by_setup = false;
        let p = plan(
            &f,
            Flags {
                remove_group: true,
                ..Flags::default()
            },
        );
        assert_eq!(step(&p, GROUP).action, Action::Skip);
    }

    #[test]
    fn a_changed_act_is_kept_and_a_replaced_one_restored_unless_keep_act() {
        let mut f = facts();
        f.act.as_mut().unwrap().current_sha = Some(OLD.into());
        let p = plan(&f, Flags::default());
        assert_eq!(step(&p, ACT).action, Action::Skip);
        assert!(step(&p, ACT).kept.is_some() && !step(&p, ACT).warnings.is_empty());

        let mut f = facts();
        f.act.as_mut().unwrap().replaced =
            Some(("/st/backup/act-b".into(), OLD.into(), Some(OLD.into())));
        let p = plan(&f, Flags::default());
        assert!(
            matches!(&step(&p, ACT).action, Action::Change(Change::RestoreAct { sha, .. }) if sha == OLD)
        );
        let p = plan(
            &f,
            Flags {
                keep_act: true,
                ..Flags::default()
            },
        );
        assert_eq!(step(&p, ACT).action, Action::Skip);
        // A backup that changed is not restored: ours is removed, with a warning.
        f.act.as_mut().unwrap().replaced =
            Some(("/st/backup/act-b".into(), OLD.into(), Some(OURS.into())));
        let p = plan(&f, Flags::default());
        assert!(matches!(
            step(&p, ACT).action,
            Action::Change(Change::RemoveFile { .. })
        ));
        assert!(!step(&p, ACT).warnings.is_empty());
    }

    #[test]
    fn edited_files_are_kept_and_listed() {
        let mut f = facts();
        f.files[0].current = Some(b"A=2\n".to_vec());
        let p = plan(&f, Flags::default());
        assert_eq!(step(&p, ENV).action, Action::Skip);
        assert_eq!(step(&p, ENV).kept.as_ref().unwrap().path, f.files[0].path);
    }

    #[test]
    fn only_actsims_mappings_leave_the_actrc() {
        let text = "# mine\n-P ubuntu-latest=img:1\n-P ubuntu-24.04=img:1\n-P ubuntu-22.04=img:1\n-P macos-latest=-self-hosted\n";
        assert_eq!(
            strip_actrc(text, None),
            "# mine\n-P macos-latest=-self-hosted\n"
        );
        // Edited: only the exact lines with setup's image go.
        let edited = "-P ubuntu-latest=mine:2\n-P ubuntu-24.04=img:1\n";
        assert_eq!(
            strip_actrc(edited, Some("img:1")),
            "-P ubuntu-latest=mine:2\n"
        );
        assert_eq!(strip_actrc("-P ubuntu-latest=img:1\n\n", None), "");
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
