//! The `image` step: build the simulator image locally (`docker import` of the installed
//! act and /tmp; no registry), labelled with the binary's SHA-256, so a rerun with the
//! same act keeps it.
//!
//! What can go wrong: the daemon does not answer (skipped; the final check fails), this
//! login cannot reach it yet (skipped; the final check builds it through the new group),
//! as root for a user the binary is not the one root verified (refused), the build fails
//! or passes `--timeout` (exit 1).

use std::path::{Path, PathBuf};

use super::{Action, Run, StepId, StepPlan};
use crate::docker::detect::{DaemonError, DockerInstall};
use crate::error::{Error, Result};
use crate::receipt::Receipt;
use crate::render;
use crate::setup::report::{StepReport, StepStatus};
use crate::setup::settings::Settings;

#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub name: String,
    /// The daemon answered.
    pub daemon: bool,
    /// The label of the existing image (`None`: no image).
    pub image_sha: Option<String>,
    /// SHA-256 of the act binary installed now (it may change in the act step).
    pub binary_sha: Option<String>,
    /// The binary hash `--act-lock` pins: root's own input, so it vouches for the binary
    /// like root's record does.
    pub locked_sha: Option<String>,
}

/// The change: build `name` unless it already holds the installed binary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    pub name: String,
    /// The lock's binary hash (`--act-lock`), trusted like root's record.
    pub locked_sha: Option<String>,
}

/// The image's name and label, after the act step's facts are known (it already hashed
/// the installed binary; detection already connected).
pub async fn observe(docker: &DockerInstall, act: &super::act::Facts) -> Facts {
    // Named so that the engine at the endpoint finds it again (`localhost/…` on Podman).
    let name = docker
        .engine_kind
        .local_image(&render::image_for(&act.wanted.version));
    let (daemon, image_sha) = match &docker.client {
        Some(d) => match crate::docker::image::image_sha(d, &name).await {
            Ok(sha) => (true, sha),
            Err(_) => (false, None),
        },
        None => (false, None),
    };
    Facts {
        name,
        daemon,
        image_sha,
        binary_sha: act.installed.as_ref().map(|i| i.sha256.clone()),
        locked_sha: act.wanted.pin.as_ref().map(|p| p.binary_sha256.clone()),
    }
}

/// The image step's plan. Pure.
pub fn plan(f: &super::Facts) -> StepPlan {
    let id = StepId::Image;
    let img = &f.image;
    let act_will_change = !super::act::up_to_date(&f.act);
    if !img.daemon && super::docker::login_denied(f) {
        StepPlan::new(
            id,
            format!(
                "{}: this login cannot reach the daemon yet; the final check builds it through the new group (or rerun setup after newgrp)",
                img.name
            ),
            Action::Skip,
        )
    } else if !img.daemon {
        StepPlan::new(
            id,
            format!("{}: the daemon is not answering", img.name),
            Action::Skip,
        )
    } else if !act_will_change && img.image_sha.is_some() && img.image_sha == img.binary_sha {
        StepPlan::new(
            id,
            format!("{} holds the installed act", img.name),
            Action::Keep,
        )
    } else {
        let mut p = StepPlan::new(
            id,
            format!("build {} locally (docker import of act and /tmp)", img.name),
            Action::BuildImage(Build {
                name: img.name.clone(),
                locked_sha: img.locked_sha.clone(),
            }),
        );
        p.details.push("no registry is used".into());
        p
    }
}

/// Build the image from the installed binary (hashed through the run's hashes: the act
/// step already did) with the run's daemon connection.
pub async fn apply(run: &Run<'_>, build: &Build, receipt: &mut Receipt) -> Result<StepReport> {
    let s = &run.settings;
    let name = &build.name;
    let binary = s.bin_dir.join("act");
    let work = build_image(run, build, &binary);
    let (built, sha) = tokio::time::timeout_at(run.ctx.deadline(), work)
        .await
        .map_err(|_| {
            Error::failed(
                format!("building {name} did not finish within --timeout"),
                None,
            )
        })?
        .map_err(|e| {
            Error::failed(
                format!("building {name}: {e}"),
                Some("check the daemon: actsim doctor".into()),
            )
        })?;
    let section = receipt.docker.get_or_insert_with(Default::default);
    section.image = Some(name.clone());
    section.image_sha256 = Some(sha.clone());
    let (status, summary) = if built {
        (
            StepStatus::Changed,
            format!("built {name} from {}", binary.display()),
        )
    } else {
        (StepStatus::Ok, format!("{name} holds the installed act"))
    };
    Ok(StepReport {
        id: StepId::Image.as_str(),
        status,
        summary,
        ..Default::default()
    })
}

/// Why the image was not built (shown as `building NAME: …`).
#[derive(Debug, thiserror::Error)]
enum BuildError {
    /// The installed binary cannot be opened (a link, too large, unreadable).
    #[error(transparent)]
    Open(#[from] Error),
    #[error("{} is missing", .0.display())]
    Missing(PathBuf),
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Join(#[from] tokio::task::JoinError),
    /// As root for a user: not the binary root verified.
    #[error("{} is not the act this setup verified (sha256 {short}…); not building an image from it", .path.display())]
    Unverified { path: PathBuf, short: String },
    #[error(transparent)]
    Daemon(#[from] DaemonError),
    #[error(transparent)]
    Image(#[from] crate::docker::image::ImageError),
}

/// Import the binary as `build.name` unless the image already holds it: whether it built,
/// and the binary's SHA-256.
async fn build_image(
    run: &Run<'_>,
    build: &Build,
    binary: &Path,
) -> std::result::Result<(bool, String), BuildError> {
    let s = &run.settings;
    let file =
        s.fs.open(binary, crate::act::release::MAX_BINARY_BYTES)?
            .ok_or_else(|| BuildError::Missing(binary.to_path_buf()))?;
    // Read once into root's memory, hash that, import exactly that (a sealed memfd): the
    // file may be changed by whoever can write the bin dir after it was read, and that
    // must never reach the image.
    let bytes = {
        let path = binary.to_path_buf();
        tokio::task::spawn_blocking(move || {
            crate::system::files::read_capped(file, &path, crate::act::release::MAX_BINARY_BYTES)
        })
        .await??
    };
    let sha = crate::system::files::sha256_hex(&bytes);
    let file = crate::system::files::sealed_memfd(&bytes)?;
    drop(bytes);
    // As root for a user, only a binary root verified goes into the image its containers
    // run with the socket mounted.
    if s.fs.is_separated()
        && build.locked_sha.as_deref() != Some(sha.as_str())
        && !system_record_trusts(s, &sha)
    {
        return Err(BuildError::Unverified {
            path: binary.to_path_buf(),
            short: sha[..12.min(sha.len())].to_string(),
        });
    }
    let docker = run.ctx.docker(run.ctx.timeout).await?;
    let name = &build.name;
    if crate::docker::image::image_sha(&docker, name)
        .await?
        .as_deref()
        == Some(sha.as_str())
    {
        return Ok((false, sha));
    }
    let engine = crate::docker::engine::Engine::of_local_image(name);
    crate::docker::image::import_act_image(&docker, engine, file, binary, &sha, name).await?;
    Ok((true, sha))
}

/// Root's own record vouches for a binary with this hash: what setup just installed or
/// root verified before (the root-owned record), read again under the lock.
fn system_record_trusts(s: &Settings, sha: &str) -> bool {
    let system =
        crate::receipt::Receipt::load(&crate::system::privsep::Fs::local(), &s.system_state_dir);
    let crate::receipt::Loaded::Found(r) = system else {
        return false;
    };
    let by_record = r.act.as_ref().is_some_and(|a| a.binary_sha256 == sha);
    let by_verified = r.verified.iter().any(|v| v.binary_sha256 == sha);
    by_record || by_verified
}
