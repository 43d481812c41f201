//! The `image` step: remove the `actsim/act:*` images actsim built (those carrying its
//! label).
//!
//! What can go wrong: the daemon does not answer (images kept, reported failed), an image
//! in use by a container (kept, reported failed with what to do).

use crate::error::{Error, Result};
use crate::setup::StepStatus;
use crate::uninstall::steps::{Action, Facts, Step, UninstallStep};
use crate::uninstall::{IMAGE_REPO, Settings};

/// The image step's plan. Pure.
pub fn plan(f: &Facts) -> Step {
    let step = |summary: String, action| Step::new(UninstallStep::Image, summary, action);
    match &f.images {
        Err(why) if f.receipt_found => {
            let mut s = step(
                format!("cannot list the {IMAGE_REPO} images: {why}"),
                Action::Fail(format!(
                    "the daemon did not answer ({why}); start it and run uninstall again"
                )),
            );
            s.warnings
                .push(format!("the {IMAGE_REPO} images are kept: {why}"));
            s
        }
        Err(_) => step(f.no_receipt(), Action::Skip),
        Ok(list) if list.is_empty() => step(format!("no {IMAGE_REPO} image"), Action::Keep),
        Ok(list) => step(
            format!("remove {}", list.join(", ")),
            Action::RemoveImages(list.clone()),
        ),
    }
}

/// Remove the images of `list`; those in use are kept and the step fails.
pub async fn apply(s: &Settings<'_>, list: &[String]) -> Result<(StepStatus, String)> {
    let docker = s
        .ctx
        .docker(s.timeout)
        .await
        .map_err(|e| Error::failed(e.to_string(), None))?;
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
                status_code: 404, ..
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
    Ok(outcome(s, &removed, &in_use))
}

fn outcome(s: &Settings<'_>, removed: &[String], in_use: &[String]) -> (StepStatus, String) {
    if !in_use.is_empty() {
        s.ctx.ui.warn(&format!(
            "kept images in use by containers: {}",
            in_use.join(", ")
        ));
        return (
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
        );
    }
    if removed.is_empty() {
        (StepStatus::Ok, format!("no {IMAGE_REPO} image left"))
    } else {
        (
            StepStatus::Changed,
            format!("removed {}", removed.join(", ")),
        )
    }
}
