//! Uninstall's view of the Docker daemon: the run's one client (the [`Context`]'s, else
//! connected once and kept there) and what the `image` and `volume` steps observe.
//!
//! What can go wrong: no endpoint, a daemon that does not answer within 20s or refuses
//! (reported as the reason; the images and the volume are then kept).

use std::time::Duration;

use crate::context::Context;
use crate::uninstall::IMAGE_REPO;

/// The `actsim/act:*` images, and whether the cache volume exists (each, or why unknown).
pub type DaemonFacts = (
    std::result::Result<Vec<String>, String>,
    std::result::Result<bool, String>,
);

/// Observe the images and the volume, in at most 20s.
pub async fn daemon_facts(ctx: &Context, volume: &str, timeout: Duration) -> DaemonFacts {
    // The client is the run's (later steps use it with the full timeout); looking costs
    // at most 20s.
    let client_timeout = timeout;
    let timeout = timeout.min(Duration::from_secs(20));
    let work = async {
        let docker = ctx
            .docker(client_timeout)
            .await
            .map_err(|e| e.to_string())?;
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
