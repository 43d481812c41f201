//! Removing what act created during this run: job containers (with their anonymous
//! volumes), act's named volumes and networks. Something is removed only when both hold:
//! the daemon reports it created since the run started, and its name starts with act's
//! name for one of the selected jobs (`act-<workflow>-<job>`, see
//! [`super::workflow::container_prefix`]). Never anything else; act's shared
//! `act-toolcache` volume is kept. Plus, by exact name, the compose run container of
//! `--in-container`.
//!
//! What can go wrong: the daemon does not answer (the summary says what could not be
//! removed), an object vanished meanwhile (fine).

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::query_parameters::{
    ListContainersOptionsBuilder, ListNetworksOptionsBuilder, ListVolumesOptionsBuilder,
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};

/// Slack for clocks and second-resolution creation times.
const SLACK: Duration = Duration::from_secs(2);

fn matches(name: &str, prefixes: &[String]) -> bool {
    let name = name.trim_start_matches('/');
    name != "act-toolcache" && prefixes.iter().any(|p| name.starts_with(p.as_str()))
}

fn since_secs(since: SystemTime) -> i64 {
    since
        .checked_sub(SLACK)
        .unwrap_or(since)
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn rfc3339_secs(text: &str) -> Option<i64> {
    humantime::parse_rfc3339_weak(text.trim_end_matches('Z').split('.').next()?)
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs() as i64)
}

/// Names of act's containers for `prefixes` created since `since` (running or not).
pub async fn containers(
    docker: &Docker,
    since: SystemTime,
    prefixes: &[String],
) -> Result<Vec<(String, String, String)>, String> {
    let filters = HashMap::from([("name".to_string(), vec!["act-".to_string()])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    let list = docker
        .list_containers(Some(opts))
        .await
        .map_err(|e| crate::docker::client::describe(&e))?;
    let from = since_secs(since);
    Ok(list
        .into_iter()
        .filter(|c| c.created.unwrap_or(0) >= from)
        .filter_map(|c| {
            let name = c.names?.into_iter().find(|n| matches(n, prefixes))?;
            Some((
                name.trim_start_matches('/').to_string(),
                c.state.map(|s| s.to_string()).unwrap_or_default(),
                c.status.unwrap_or_default(),
            ))
        })
        .collect())
}

/// Remove what act created for `prefixes` since `since`, and `exact` containers; the names
/// removed, and what could not be. A container act was still creating when it was stopped
/// can appear a moment later (its volume is then "in use"): one more round catches it.
pub async fn remove(
    docker: &Docker,
    since: SystemTime,
    prefixes: &[String],
    exact: &[String],
) -> (Vec<(&'static str, String)>, Vec<String>) {
    let (mut removed, failed) = remove_once(docker, since, prefixes, exact).await;
    if failed.is_empty() {
        return (removed, failed);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (again, failed) = remove_once(docker, since, prefixes, exact).await;
    removed.extend(again);
    (removed, failed)
}

async fn remove_once(
    docker: &Docker,
    since: SystemTime,
    prefixes: &[String],
    exact: &[String],
) -> (Vec<(&'static str, String)>, Vec<String>) {
    let mut removed = Vec::new();
    let mut failed = Vec::new();
    let force = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    for name in exact {
        match docker.remove_container(name, Some(force.clone())).await {
            Ok(()) => removed.push(("container", name.clone())),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => {}
            Err(e) => failed.push(format!("{name}: {}", crate::docker::client::describe(&e))),
        }
    }
    match containers(docker, since, prefixes).await {
        Ok(list) => {
            for (name, _, _) in list {
                match docker.remove_container(&name, Some(force.clone())).await {
                    Ok(()) => removed.push(("container", name)),
                    Err(bollard::errors::Error::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }) => {}
                    Err(e) => {
                        failed.push(format!("{name}: {}", crate::docker::client::describe(&e)))
                    }
                }
            }
        }
        Err(e) => failed.push(format!("listing containers: {e}")),
    }
    let from = since_secs(since);
    let filters = HashMap::from([("name".to_string(), vec!["act-".to_string()])]);
    if let Ok(networks) = docker
        .list_networks(Some(
            ListNetworksOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
    {
        for n in networks {
            let Some(name) = n.name else { continue };
            let created = n.created.as_deref().and_then(rfc3339_secs).unwrap_or(0);
            if matches(&name, prefixes) && created >= from {
                match docker.remove_network(&name).await {
                    Ok(()) => removed.push(("network", name)),
                    Err(e) => {
                        failed.push(format!("{name}: {}", crate::docker::client::describe(&e)))
                    }
                }
            }
        }
    }
    if let Ok(volumes) = docker
        .list_volumes(Some(
            ListVolumesOptionsBuilder::default()
                .filters(&filters)
                .build(),
        ))
        .await
    {
        for v in volumes.volumes.unwrap_or_default() {
            let created = v.created_at.as_deref().and_then(rfc3339_secs).unwrap_or(0);
            if matches(&v.name, prefixes) && created >= from {
                let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
                match docker.remove_volume(&v.name, Some(opts)).await {
                    Ok(()) => removed.push(("volume", v.name)),
                    Err(e) => failed.push(format!(
                        "{}: {}",
                        v.name,
                        crate::docker::client::describe(&e)
                    )),
                }
            }
        }
    }
    (removed, failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_of_the_selected_jobs_match() {
        let p = vec!["act-expw-okjob".to_string()];
        assert!(matches("/act-expw-okjob-9c67a4", &p));
        assert!(matches("act-expw-okjob-9c67a4-env", &p));
        assert!(!matches("act-other-okjob-9c67a4", &p));
        assert!(!matches("act-toolcache", &["act-".into()]));
        assert_eq!(rfc3339_secs("1970-01-01T00:01:00.123456789Z"), Some(60));
        assert_eq!(rfc3339_secs("1970-01-01T00:01:00Z"), Some(60));
    }
}
