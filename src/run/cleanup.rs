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

use crate::ui::Ui;

/// What cleanup may spend.
pub const BUDGET: Duration = Duration::from_secs(30);

/// What cleanup removed: each name with its kind (container, volume, network).
pub type Removed = Vec<(&'static str, String)>;

/// The cleanup stage, on every way out of act: [`remove`] within [`BUDGET`], each failure
/// said as a warning.
pub async fn after_run(
    docker: &Docker,
    since: SystemTime,
    prefixes: &[String],
    exact: &[String],
    stopped: bool,
    ui: &Ui,
) -> Removed {
    let (removed, failed) =
        tokio::time::timeout(BUDGET, remove(docker, since, prefixes, exact, stopped))
            .await
            .unwrap_or_else(|_| {
                (
                    Vec::new(),
                    vec![format!(
                        "cleanup did not finish within {}s",
                        BUDGET.as_secs()
                    )],
                )
            });
    for f in &failed {
        ui.warn(&format!("could not remove {f}"));
    }
    removed
}

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
/// can appear a moment later (its volume is then "in use"): after a stop (`stopped`), or
/// when something could not be removed, one more round a second later catches it.
pub async fn remove(
    docker: &Docker,
    since: SystemTime,
    prefixes: &[String],
    exact: &[String],
    stopped: bool,
) -> (Removed, Vec<String>) {
    let (mut removed, failed) = remove_once(docker, since, prefixes, exact).await;
    if failed.is_empty() && !stopped {
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
) -> (Removed, Vec<String>) {
    use futures_util::future::join_all;
    let from = since_secs(since);
    let filters = HashMap::from([("name".to_string(), vec!["act-".to_string()])]);
    let net_opts = ListNetworksOptionsBuilder::default()
        .filters(&filters)
        .build();
    let vol_opts = ListVolumesOptionsBuilder::default()
        .filters(&filters)
        .build();
    // The three lists at once: one round trip of waiting instead of three.
    let (listed, networks, volumes) = tokio::join!(
        containers(docker, since, prefixes),
        docker.list_networks(Some(net_opts)),
        docker.list_volumes(Some(vol_opts)),
    );
    let mut tally = Tally::default();
    let mut names: Vec<String> = exact.to_vec();
    match listed {
        Ok(list) => names.extend(list.into_iter().map(|(n, _, _)| n)),
        Err(e) => tally.failed.push(format!("listing containers: {e}")),
    }
    let force = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    let results = join_all(names.iter().map(|name| {
        let force = force.clone();
        async move { (name, docker.remove_container(name, Some(force)).await) }
    }))
    .await;
    tally.record("container", results);
    // Networks and volumes once their containers are gone.
    let networks: Vec<String> = networks
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.created.as_deref().and_then(rfc3339_secs).unwrap_or(0) >= from)
        .filter_map(|n| n.name)
        .filter(|n| matches(n, prefixes))
        .collect();
    let volumes: Vec<String> = volumes
        .ok()
        .and_then(|v| v.volumes)
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v.created_at.as_deref().and_then(rfc3339_secs).unwrap_or(0) >= from)
        .map(|v| v.name)
        .filter(|n| matches(n, prefixes))
        .collect();
    let (net_results, vol_results) = tokio::join!(
        join_all(
            networks
                .iter()
                .map(|n| async move { (n, docker.remove_network(n).await) })
        ),
        join_all(volumes.iter().map(|v| async move {
            let opts = RemoveVolumeOptionsBuilder::default().force(true).build();
            (v, docker.remove_volume(v, Some(opts)).await)
        })),
    );
    tally.record("network", net_results);
    tally.record("volume", vol_results);
    (tally.removed, tally.failed)
}

/// What one round removed, and what it could not.
#[derive(Default)]
struct Tally {
    removed: Removed,
    failed: Vec<String>,
}

impl Tally {
    /// The removals of `kind`: done, already gone (404, fine) or failed.
    fn record(
        &mut self,
        kind: &'static str,
        results: Vec<(&String, Result<(), bollard::errors::Error>)>,
    ) {
        for (name, result) in results {
            match result {
                Ok(()) => self.removed.push((kind, name.clone())),
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => {}
                Err(e) => self
                    .failed
                    .push(format!("{name}: {}", crate::docker::client::describe(&e))),
            }
        }
    }
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
