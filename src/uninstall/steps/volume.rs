//! The `volume` step: remove the act cache volume of the compose service.
//!
//! What can go wrong: the daemon does not answer (kept, reported failed), the volume in
//! use by a container (kept, reported failed).

use crate::error::{Error, Result};
use crate::setup::StepStatus;
use crate::uninstall::Settings;
use crate::uninstall::steps::{Action, Facts, Step, UninstallStep};

/// The volume step's plan. Pure.
pub fn plan(f: &Facts) -> Step {
    let (name, exists) = &f.volume;
    let step = |summary: String, action| Step::new(UninstallStep::Volume, summary, action);
    match exists {
        _ if !f.receipt_found => step(f.no_receipt(), Action::Skip),
        Ok(false) => step(format!("no volume {name}"), Action::Keep),
        Ok(true) => step(
            format!("remove the act cache volume {name}"),
            Action::RemoveVolume(name.clone()),
        ),
        Err(why) => step(
            format!("cannot look for volume {name}: {why}"),
            Action::Fail(format!(
                "the daemon did not answer ({why}); volume {name} is kept"
            )),
        ),
    }
}

/// Remove the volume `name`.
pub async fn apply(s: &Settings<'_>, name: &str) -> Result<(StepStatus, String)> {
    let docker = s
        .ctx
        .docker(s.timeout)
        .await
        .map_err(|e| Error::failed(e.to_string(), None))?;
    Ok(
        match docker
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
        {
            Ok(()) => (StepStatus::Changed, format!("removed volume {name}")),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => (StepStatus::Ok, format!("volume {name} was already gone")),
            Err(e) => (
                StepStatus::Failed,
                format!(
                    "volume {name} is kept: {} (a container still uses it?)",
                    crate::docker::client::describe(&e)
                ),
            ),
        },
    )
}
