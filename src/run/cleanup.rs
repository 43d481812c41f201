//! Removing what act created for this run, by identity, never by name alone: a job
//! container is removed only when its name is the one act derives for a selected job
//! ([`act_name`], act's `createContainerName`: `act-` + workflow + `/` + job with every
//! character but ASCII letters and digits turned into `-`, each `--` then made `-`, cut to
//! 63 characters, `-` and the SHA-256 of the whole) *and* it carries this run's label
//! ([`Identity`], a random token act puts on every job container through
//! `--container-options`). What such a container used is then this run's too, when act's
//! naming agrees: its `<name>-env` (and `<name>`) volumes, its `<name>-<job>-network`
//! network, the service containers on it named `createContainerName(<name>, <alias>)`, each
//! created since the run started. Plus, by exact name, the compose run container of
//! `--in-container`. Nothing else is touched: another user's container named like act's,
//! whatever its name, has no label of this run; and a workflow named `-` names act's
//! `act--<job>-<hash>`, not a prefix of anything.
//!
//! What can go wrong: the daemon does not answer (the summary says what could not be
//! removed), an object vanished meanwhile (fine); a job with `container:` takes its options
//! from the workflow, so act gives it no label and it is left alone (act removes it after
//! a success); act stopped between removing a container and its volume leaves the volume.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bollard::Docker;
use bollard::query_parameters::{
    InspectContainerOptions, ListContainersOptionsBuilder, ListNetworksOptionsBuilder,
    ListVolumesOptionsBuilder, RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder,
};

use crate::ui::Ui;

/// What cleanup may spend.
pub const BUDGET: Duration = Duration::from_secs(30);

/// The label act puts on this run's job containers (through `--container-options`).
pub const LABEL: &str = "io.actsim.run";

/// What cleanup removed: each name with its kind (container, volume, network).
pub type Removed = Vec<(&'static str, String)>;

/// This run's identity: a random token (the label's value) and the selected jobs
/// (workflow name, job name as act shows them), whose container names act derives.
#[derive(Debug, Clone)]
pub struct Identity {
    token: String,
    jobs: Vec<(String, String)>,
}

/// The most matrix combinations a job has (GitHub's limit): `name-1` … `name-256`.
const MAX_MATRIX: usize = 256;

impl Identity {
    /// A new token (16 random bytes from the kernel) for the jobs `(workflow, job)`.
    pub fn new(jobs: Vec<(String, String)>) -> Identity {
        let mut bytes = [0u8; 16];
        let ok = std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .is_ok();
        if !ok {
            // No randomness: the pid and the time still make a token nobody else has now.
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            bytes = (t ^ u128::from(std::process::id()) << 96).to_le_bytes();
        }
        Identity {
            token: hex::encode(bytes),
            jobs,
        }
    }

    /// `--label KEY=TOKEN`, for act's `--container-options`.
    pub fn label_option(&self) -> String {
        format!("--label {LABEL}={}", self.token)
    }

    /// The label filter that lists this run's job containers.
    fn filter(&self) -> String {
        format!("{LABEL}={}", self.token)
    }

    /// Whether `name` is act's name for a selected job: the job's name, or a matrix
    /// combination's `name-N`. (A name act works out while running, from an expression or
    /// a reusable workflow's caller, is not known here: such a container is left alone.)
    pub fn is_job_container_name(&self, name: &str) -> bool {
        let name = name.trim_start_matches('/');
        self.jobs.iter().any(|(wf, job)| {
            let exact = |j: &str| act_name(&["act", &format!("{wf}/{j}")]) == name;
            exact(job) || (1..=MAX_MATRIX).any(|i| exact(&format!("{job}-{i}")))
        })
    }
}

/// act's `createContainerName`'s first two steps: every character (not byte) that is not
/// an ASCII letter or digit becomes `-`, then each `--` (left to right, not overlapping,
/// as Go's `strings.ReplaceAll`) becomes `-`.
fn sanitize(joined: &str) -> String {
    let s: String = joined
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    s.replace("--", "-")
}

/// act's `createContainerName(parts...)` (pkg/runner/run_context.go): the parts joined with
/// `-`, [`sanitize`]d, cut to 63 bytes and trimmed of `-`, then `-` and the SHA-256 (hex)
/// of the whole sanitized name. A job container is `act_name(&["act", "<workflow>/<job>"])`,
/// a service container `act_name(&[<job container>, <service id>])`.
pub fn act_name(parts: &[&str]) -> String {
    let name = sanitize(&parts.join("-"));
    let hash = crate::system::files::sha256_hex(name.as_bytes());
    // All ASCII after sanitize: cutting at a byte is cutting at a character.
    let cut = &name[..name.len().min(63)];
    format!("{}-{hash}", cut.trim_matches('-'))
}

/// The cleanup stage, on every way out of act: [`remove`] within [`BUDGET`], each failure
/// said as a warning.
pub async fn after_run(
    docker: &Docker,
    since: SystemTime,
    identity: &Identity,
    exact: &[String],
    stopped: bool,
    ui: &Ui,
) -> Removed {
    let (removed, failed) =
        tokio::time::timeout(BUDGET, remove(docker, since, identity, exact, stopped))
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
        ui.warn(&format!("could not remove {}", crate::ui::escape(f)));
    }
    removed
}

/// Slack for clocks and second-resolution creation times.
const SLACK: Duration = Duration::from_secs(2);

/// The watchdog's view: a name under one of `prefixes` (never act's shared cache).
pub fn matches(name: &str, prefixes: &[String]) -> bool {
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

/// What this run's job containers used, proven by inspecting them: the volumes and
/// networks act named after them, and the service containers on those networks.
#[derive(Default)]
struct Proven {
    containers: BTreeSet<String>,
    volumes: BTreeSet<String>,
    networks: BTreeSet<String>,
}

/// Remove this run's containers (those of `identity`, and `exact` ones), then what they used;
/// the names removed, and what could not be. A container act was still creating when it was
/// stopped can appear a moment later (its volume is then "in use"): after a stop
/// (`stopped`), or when something could not be removed, one more round a second later
/// catches it, with what the first round proved.
pub async fn remove(
    docker: &Docker,
    since: SystemTime,
    identity: &Identity,
    exact: &[String],
    stopped: bool,
) -> (Removed, Vec<String>) {
    let mut proven = Proven::default();
    let (mut removed, failed) = remove_once(docker, since, identity, exact, &mut proven).await;
    if failed.is_empty() && !stopped {
        return (removed, failed);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (again, failed) = remove_once(docker, since, identity, exact, &mut proven).await;
    removed.extend(again);
    (removed, failed)
}

async fn remove_once(
    docker: &Docker,
    since: SystemTime,
    identity: &Identity,
    exact: &[String],
    proven: &mut Proven,
) -> (Removed, Vec<String>) {
    use futures_util::future::join_all;
    let from = since_secs(since);
    let mut tally = Tally::default();
    // This run's labelled job containers, by act's name for a selected job.
    let filters = HashMap::from([("label".to_string(), vec![identity.filter()])]);
    let opts = ListContainersOptionsBuilder::default()
        .all(true)
        .filters(&filters)
        .build();
    match docker.list_containers(Some(opts)).await {
        Ok(list) => {
            for c in list {
                let labelled = c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL))
                    .is_some_and(|v| *v == identity.token);
                let Some(name) = c
                    .names
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| n.trim_start_matches('/').to_string())
                    .find(|n| identity.is_job_container_name(n))
                else {
                    continue;
                };
                if labelled {
                    proven.containers.insert(name);
                }
            }
        }
        Err(e) => tally.failed.push(format!(
            "listing containers: {}",
            crate::docker::client::describe(&e)
        )),
    }
    // What they use, as act names it after them.
    for name in proven.containers.clone() {
        let Ok(c) = docker
            .inspect_container(&name, None::<InspectContainerOptions>)
            .await
        else {
            continue;
        };
        for m in c.mounts.unwrap_or_default() {
            if let Some(v) = m.name
                && (v == format!("{name}-env") || v == name)
            {
                proven.volumes.insert(v);
            }
        }
        let networks = c
            .network_settings
            .and_then(|n| n.networks)
            .unwrap_or_default();
        for net in networks.keys() {
            if net.starts_with(&format!("{name}-")) && net.ends_with("-network") {
                proven.networks.insert(net.clone());
            }
        }
    }
    // Service containers on this run's networks, named after the job container and their
    // alias there, created since the run started.
    for net in proven.networks.clone() {
        let filters = HashMap::from([("network".to_string(), vec![net.clone()])]);
        let opts = ListContainersOptionsBuilder::default()
            .all(true)
            .filters(&filters)
            .build();
        let Ok(list) = docker.list_containers(Some(opts)).await else {
            continue;
        };
        let Some(job) = proven
            .containers
            .iter()
            .find(|c| net.starts_with(&format!("{c}-")))
            .cloned()
        else {
            continue;
        };
        for c in list {
            if c.created.unwrap_or(0) < from {
                continue;
            }
            let aliases: Vec<String> = c
                .network_settings
                .and_then(|s| s.networks)
                .and_then(|mut n| n.remove(&net))
                .and_then(|e| e.aliases)
                .unwrap_or_default();
            for n in c.names.unwrap_or_default() {
                let n = n.trim_start_matches('/');
                if aliases.iter().any(|a| act_name(&[&job, a]) == n) {
                    proven.containers.insert(n.to_string());
                }
            }
        }
    }
    let mut names: Vec<String> = exact.to_vec();
    names.extend(proven.containers.iter().cloned());
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
    // Networks and volumes once their containers are gone; still only those created since
    // the run started.
    let (networks, volumes) = tokio::join!(
        docker.list_networks(Some(ListNetworksOptionsBuilder::default().build())),
        docker.list_volumes(Some(ListVolumesOptionsBuilder::default().build())),
    );
    let networks: Vec<String> = networks
        .unwrap_or_default()
        .into_iter()
        .filter(|n| n.created.as_deref().and_then(rfc3339_secs).unwrap_or(0) >= from)
        .filter_map(|n| n.name)
        .filter(|n| proven.networks.contains(n))
        .collect();
    let volumes: Vec<String> = volumes
        .ok()
        .and_then(|v| v.volumes)
        .unwrap_or_default()
        .into_iter()
        .filter(|v| v.created_at.as_deref().and_then(rfc3339_secs).unwrap_or(0) >= from)
        .map(|v| v.name)
        .filter(|n| proven.volumes.contains(n))
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
    fn the_watchdog_lists_by_prefix() {
        let p = vec!["act-expw-okjob".to_string()];
        assert!(matches("/act-expw-okjob-9c67a4", &p));
        assert!(!matches("act-other-okjob-9c67a4", &p));
        assert!(!matches("act-toolcache", &["act-".into()]));
        assert_eq!(rfc3339_secs("1970-01-01T00:01:00.123456789Z"), Some(60));
        assert_eq!(rfc3339_secs("1970-01-01T00:01:00Z"), Some(60));
    }

    fn sha(s: &str) -> String {
        crate::system::files::sha256_hex(s.as_bytes())
    }

    #[test]
    fn names_are_acts_own() {
        assert_eq!(
            act_name(&["act", "CI/build"]),
            format!("act-CI-build-{}", sha("act-CI-build"))
        );
        // `ci / lint`: three separators make `---`, and one `--` of it becomes `-`.
        assert_eq!(
            act_name(&["act", "ci / lint/j"]),
            format!("act-ci--lint-j-{}", sha("act-ci--lint-j"))
        );
        // Non-ASCII: one `-` per character, not per byte.
        assert_eq!(
            act_name(&["act", "bäu/j"]),
            format!("act-b-u-j-{}", sha("act-b-u-j"))
        );
        assert_eq!(
            act_name(&["act", "-/j"]),
            format!("act--j-{}", sha("act--j"))
        );
        let long = act_name(&["act", &format!("{}/j", "w".repeat(80))]);
        assert_eq!(long.len(), 63 + 1 + 64);
        assert!(long.starts_with("act-www"));
    }

    #[test]
    fn only_this_runs_job_names_are_its_own() {
        let id = Identity::new(vec![
            ("CI".into(), "build".into()),
            ("-".into(), "b".into()),
        ]);
        assert!(id.is_job_container_name(&act_name(&["act", "CI/build"])));
        assert!(id.is_job_container_name(&act_name(&["act", "CI/build-3"])));
        assert!(id.is_job_container_name(&act_name(&["act", "-/b"])));
        // A name like act's for another job, or no hash, is not.
        assert!(!id.is_job_container_name(&act_name(&["act", "CI/buildx"])));
        assert!(!id.is_job_container_name("act-CI-buildx"));
        assert!(!id.is_job_container_name(&act_name(&["act", "other/b"])));
        assert!(!id.is_job_container_name(&format!("act-CI-buildx-{}", sha("nope"))));
        assert!(!id.is_job_container_name(&act_name(&["act", "-/bx"])));
        assert_ne!(Identity::new(Vec::new()).token, id.token);
    }
}
