//! Images first: every image the selected jobs need is looked up locally and, when missing,
//! pulled through the Docker API before act starts, with progress per layer (bars on a
//! terminal, one line per layer state otherwise), so a multi-GB pull is never silent.
//!
//! The images are the selected jobs' platform images (`runs-on`), job containers and
//! `services:` images. What can go wrong: no registry (the pull fails within seconds), a pull that outlives
//! `--timeout`, `--no-pull` with a missing image. Each comes back as `missing` with the
//! reason; the caller stops the run naming the image, its label and the ways out.

use std::collections::HashMap;

use bollard::Docker;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::time::Instant;

use super::halt::{Halt, Signals};
use super::workflow::Need;
use crate::docker::client::describe;
use crate::error::{Error, exit};
use crate::ui::Ui;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Present,
    Pulled,
    Missing,
}

/// One entry of the JSON `images` list.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    pub image: String,
    pub label: String,
    pub status: Status,
    #[serde(skip)]
    pub jobs: Vec<String>,
    /// Why it is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Why an image could not be looked up or pulled.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The daemon refused the request ([`describe`]'s line).
    #[error("{0}")]
    Daemon(String),
    /// The pull stream reported an error (the registry's message).
    #[error("{0}")]
    Pull(String),
    #[error("the daemon did not answer before --timeout")]
    LookupTimeout,
    #[error("the pull did not finish before --timeout")]
    PullTimeout,
}

/// Whether the daemon has `image` (404 is "no"; other errors are errors).
pub async fn present(docker: &Docker, image: &str) -> Result<bool, ImageError> {
    match docker.inspect_image(image).await {
        Ok(_) => Ok(true),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(false),
        Err(e) => Err(ImageError::Daemon(describe(&e))),
    }
}

/// `repo[:tag]` -> (`repo`, `tag`); a digest stays in the repo part.
fn split_ref(image: &str) -> (String, String) {
    if image.contains('@') {
        return (image.to_string(), String::new());
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.rsplit_once(':') {
        Some((_, tag)) => (
            image[..image.len() - tag.len() - 1].to_string(),
            tag.to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// Look up every needed image, pulling what is missing unless `no_pull`, before `deadline`.
pub async fn ensure(
    docker: &Docker,
    needs: &[Need],
    no_pull: bool,
    deadline: Option<Instant>,
    ui: &Ui,
) -> Vec<ImageReport> {
    let mut out = Vec::new();
    for need in needs {
        let report = |status, reason: Option<String>| ImageReport {
            image: need.image.clone(),
            label: need.label.clone(),
            status,
            jobs: need.jobs.clone(),
            reason,
        };
        let found = match deadline {
            Some(d) => tokio::time::timeout_at(d, present(docker, &need.image))
                .await
                .unwrap_or(Err(ImageError::LookupTimeout)),
            None => present(docker, &need.image).await,
        };
        match found {
            Ok(true) => out.push(report(Status::Present, None)),
            Ok(false) if no_pull => out.push(report(
                Status::Missing,
                Some("not present locally and --no-pull was given".into()),
            )),
            Ok(false) => {
                let pulled = match deadline {
                    Some(d) => tokio::time::timeout_at(d, pull(docker, &need.image, ui))
                        .await
                        .unwrap_or(Err(ImageError::PullTimeout)),
                    None => pull(docker, &need.image, ui).await,
                };
                match pulled {
                    Ok(()) => out.push(report(Status::Pulled, None)),
                    Err(e) => out.push(report(Status::Missing, Some(format!("pull failed: {e}")))),
                }
            }
            Err(e) => out.push(report(Status::Missing, Some(e.to_string()))),
        }
    }
    out
}

/// The images stage: [`ensure`] unless a signal comes first.
pub async fn stage(
    docker: &Docker,
    needs: &[Need],
    no_pull: bool,
    deadline: Option<Instant>,
    ui: &Ui,
    sigs: &mut Signals,
) -> Result<Vec<ImageReport>, Halt> {
    Ok(sigs
        .or_stop(ensure(docker, needs, no_pull, deadline, ui))
        .await?)
}

/// Stop the run when `--timeout` (`timeout` seconds, ending at `deadline`) was reached
/// before act started (124), or when an image is missing (1, naming it and the ways out).
pub fn judge(
    reports: &[ImageReport],
    deadline: Option<Instant>,
    timeout: Option<u64>,
    ui: &Ui,
) -> Result<(), Halt> {
    if let (Some(d), Some(secs)) = (deadline, timeout)
        && Instant::now() >= d
    {
        return Err(Halt {
            code: exit::TIMEOUT,
            error: Error::failed(
                format!(
                    "the run reached --timeout {secs}s before act started (preflight and images)"
                ),
                Some("allow more time with --timeout".to_string()),
            ),
        });
    }
    if let Some(missing) = reports.iter().find(|i| i.status == Status::Missing) {
        return Err(Halt::failed(missing_image_error(missing)));
    }
    if ui.verbose {
        for i in reports {
            ui.info(&format!("image {} ({}): {:?}", i.image, i.label, i.status));
        }
    }
    Ok(())
}

fn missing_image_error(missing: &ImageReport) -> Error {
    let image = &missing.image;
    let why = missing.reason.clone().unwrap_or_default();
    if missing.label == "--in-container" {
        return Error::failed(
            format!(
                "the simulator image {image} is not present locally ({why}); act was not started"
            ),
            Some(
                "build it: actsim setup (it builds the image locally, no registry needed)"
                    .to_string(),
            ),
        );
    }
    let needed_by = if missing.label == "container:" {
        format!("the job container of {}", missing.jobs.join(", "))
    } else if missing.label == "services:" {
        format!("a service container of {}", missing.jobs.join(", "))
    } else {
        format!(
            "runs-on label {} of {}",
            missing.label,
            missing.jobs.join(", ")
        )
    };
    Error::failed(
        format!(
            "image {image} (for {needed_by}) is not present locally: {why}; act was not started"
        ),
        Some(format!(
            "pull it: docker pull {image}; or load a saved copy: docker load -i FILE; or run the jobs in an image you have: actsim run --platform-image IMAGE"
        )),
    )
}

/// Pull `image`, showing each layer's progress.
async fn pull(docker: &Docker, image: &str, ui: &Ui) -> Result<(), ImageError> {
    let (repo, tag) = split_ref(image);
    let mut builder = CreateImageOptionsBuilder::default().from_image(&repo);
    if !tag.is_empty() {
        builder = builder.tag(&tag);
    }
    ui.info(&format!("pulling {image} (not present locally)"));
    let multi = ui.bars.then(indicatif::MultiProgress::new);
    let mut bars: HashMap<String, indicatif::ProgressBar> = HashMap::new();
    let mut states: HashMap<String, String> = HashMap::new();
    // bollard's per-request limit would cut a long pull: the caller's deadline bounds it.
    let docker = docker
        .clone()
        .with_timeout(std::time::Duration::from_secs(7 * 86400));
    let mut stream = docker.create_image(Some(builder.build()), None, None);
    while let Some(item) = stream.next().await {
        let info = item.map_err(|e| ImageError::Daemon(describe(&e)))?;
        if let Some(err) = info.error_detail.and_then(|d| d.message) {
            return Err(ImageError::Pull(err));
        }
        let (Some(id), Some(status)) = (info.id, info.status) else {
            continue;
        };
        let detail = info.progress_detail.unwrap_or_default();
        let (current, total) = (
            detail.current.unwrap_or(0).max(0) as u64,
            detail.total.unwrap_or(0).max(0) as u64,
        );
        if let Some(multi) = &multi {
            let bar = bars.entry(id.clone()).or_insert_with(|| {
                let b = multi.add(indicatif::ProgressBar::new(total.max(1)));
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{prefix} {msg:<18} [{bar:30}] {bytes}/{total_bytes}",
                ) {
                    b.set_style(style.progress_chars("=> "));
                }
                b.set_prefix(id.clone());
                b
            });
            if total > 0 {
                bar.set_length(total);
                bar.set_position(current);
            }
            bar.set_message(status.clone());
            if status == "Pull complete" || status == "Already exists" {
                bar.finish();
            }
        } else if states.get(&id) != Some(&status) {
            let bytes = if total > 0 {
                format!(" ({current} of {total} bytes)")
            } else {
                String::new()
            };
            ui.info(&format!("  {image} layer {id}: {status}{bytes}"));
            states.insert(id, status);
        }
    }
    for b in bars.values() {
        b.finish_and_clear();
    }
    ui.info(&format!("pulled {image}"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_into_repo_and_tag() {
        assert_eq!(split_ref("busybox"), ("busybox".into(), "latest".into()));
        assert_eq!(
            split_ref("localhost:5000/a/b:1.2"),
            ("localhost:5000/a/b".into(), "1.2".into())
        );
        assert_eq!(
            split_ref("localhost:5000/a"),
            ("localhost:5000/a".into(), "latest".into())
        );
        assert_eq!(split_ref("a@sha256:00").1, "");
    }
}
