//! Runs the checks: independent ones concurrently, dependent ones after what they need,
//! all under one deadline. A check still running at the deadline is reported as failed
//! ("did not finish"); containers a check created are removed on every path out.
//!
//! What can go wrong: the deadline passes (unfinished checks fail with a fix that says so),
//! removing leftovers fails (best effort, bounded, so the deadline still holds).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use tokio::time::Instant;

use super::{CHECK_IDS, Finding, Outcome, Status, title};
use super::{act_checks, container_checks, docker_checks, resource_checks};
use crate::docker::endpoint;
use crate::system::identity::TargetUser;
use crate::system::process::Process;

/// Which group membership the socket checks assume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GroupView {
    /// The groups this process carries now (what the current login can do).
    #[default]
    Process,
    /// The groups the group database gives the user at the next login.
    Database,
}

/// What actsim recorded at setup, to report drift against.
#[derive(Debug, Clone, Default)]
pub struct Drift {
    /// SHA-256 of the act binary actsim installed.
    pub act_sha256: Option<String>,
    /// The version of that binary (what `act --version` said at install).
    pub act_version: Option<String>,
    /// SHA-256 of the compose file actsim last wrote.
    pub compose_sha256: Option<String>,
    /// The `DOCKER_GID` actsim recorded.
    pub docker_gid: Option<u32>,
    /// `--act-lock`: the lock, and its act version and binary SHA-256 for this platform
    /// (or why it cannot be used).
    pub lock: Option<crate::act::lockfile::Expectation>,
}

#[derive(Debug, Clone)]
pub struct Options {
    /// Deadline for the whole run.
    pub timeout: Duration,
    pub deep: bool,
    pub config_dir: PathBuf,
    pub bin_dir: PathBuf,
    pub user: TargetUser,
    pub probe_image: Option<String>,
    pub platform_image: Option<String>,
    pub group_view: GroupView,
    pub drift: Drift,
    /// The target user's state dir (`$XDG_STATE_HOME/actsim`): where doctor keeps its cache
    /// of validated compose files. `None`: no cache.
    pub state_dir: Option<PathBuf>,
}

/// Containers created by this run, removed at the end whatever happened.
#[derive(Clone, Default)]
pub struct Cleanup {
    items: Arc<Mutex<Vec<(bollard::Docker, String)>>>,
}

impl Cleanup {
    pub fn add(&self, docker: &bollard::Docker, name: &str) {
        if let Ok(mut v) = self.items.lock() {
            v.push((docker.clone(), name.to_string()));
        }
    }

    pub fn forget(&self, name: &str) {
        if let Ok(mut v) = self.items.lock() {
            v.retain(|(_, n)| n != name);
        }
    }

    /// Force-remove every container still listed, spending at most `budget`.
    pub async fn purge(&self, budget: Duration) {
        let items: Vec<_> = match self.items.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(_) => return,
        };
        let removals = items.into_iter().map(|(docker, name)| async move {
            let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            let _ = docker.remove_container(&name, Some(opts)).await;
        });
        let _ = tokio::time::timeout(budget, futures_util::future::join_all(removals)).await;
    }
}

/// Findings collected as checks finish, so a deadline keeps what is done.
#[derive(Clone)]
struct Slots(Arc<Mutex<Vec<Option<Finding>>>>);

impl Slots {
    fn put(&self, id: &'static str, outcome: Outcome, started: Instant) {
        let index = CHECK_IDS.iter().position(|c| *c == id).expect("known id");
        let finding = Finding {
            id,
            title: title(id),
            status: outcome.status,
            summary: outcome.summary,
            detail: outcome.detail.join("\n"),
            fix: outcome.fix,
            duration_ms: started.elapsed().as_millis() as u64,
        };
        if let Ok(mut v) = self.0.lock() {
            v[index] = Some(finding);
        }
    }
}

/// Time a check and store its finding.
async fn record<F>(slots: &Slots, id: &'static str, fut: F)
where
    F: std::future::Future<Output = Outcome>,
{
    let started = Instant::now();
    let outcome = fut.await;
    slots.put(id, outcome, started);
}

/// The act binary the receipt records in the bin dir (path, version, SHA-256), when it is
/// there: what the container checks may start with before act.binary has hashed it.
fn recorded_act(opts: &Options) -> Option<act_checks::ActBin> {
    let path = opts.bin_dir.join("act");
    match (&opts.drift.act_sha256, &opts.drift.act_version) {
        (Some(sha256), Some(version)) if crate::system::process::is_executable(&path) => {
            Some(act_checks::ActBin {
                path,
                version: version.clone(),
                sha256: sha256.clone(),
            })
        }
        _ => None,
    }
}

/// `container.socket` and `container.run`: one container round trip when the socket one
/// passes (it proves what the plain one would); the plain one runs only when needed, to
/// tell the causes of a failure apart.
async fn container_pair(ctx: &container_checks::Ctx<'_>) -> (Outcome, Outcome) {
    let probe = container_checks::probe_image(ctx).await;
    let (socket, proven) = container_checks::container_socket_and_run(ctx, &probe).await;
    let run = match proven {
        Some(o) => o,
        None => container_checks::container_run(ctx, &probe).await,
    };
    (socket, run)
}

/// Run every check and return one finding per id, in [`CHECK_IDS`] order.
pub async fn run(process: &Process, opts: &Options, cleanup: &Cleanup) -> Vec<Finding> {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    // Checks aim to finish a little before the hard deadline so they can report why.
    let soft = deadline - opts.timeout.mul_f32(0.1).min(Duration::from_millis(500));
    let slots = Slots(Arc::new(Mutex::new(vec![None; CHECK_IDS.len()])));

    let home = process
        .var_nonempty("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| opts.user.home.clone());
    let resolved = endpoint::resolve(process, &home);
    let known = endpoint::known_sockets(process, &home);

    let work = async {
        slots.put(
            "docker.endpoint",
            docker_checks::endpoint(&resolved, &known),
            started,
        );
        slots.put(
            "act.docker",
            act_checks::act_docker(process, opts, &resolved, &home),
            started,
        );

        let act_bin = act_checks::act_binary(process, opts, soft).shared();
        let act_bin_record = async {
            let t = Instant::now();
            let (outcome, _) = act_bin.clone().await;
            slots.put("act.binary", outcome, t);
        };

        let docker_chain = async {
            let t = Instant::now();
            let (outcome, socket) = docker_checks::socket(&resolved, opts);
            slots.put("docker.socket", outcome, t);

            let t = Instant::now();
            let (outcome, daemon) = docker_checks::daemon(&resolved, &socket, soft).await;
            slots.put("docker.daemon", outcome, t);
            let (docker, engine) = match daemon {
                Some((d, e)) => (Some(d), e),
                None => (None, Default::default()),
            };

            macro_rules! ctx_with {
                ($act:expr) => {
                    container_checks::Ctx {
                        process,
                        docker: docker.as_ref(),
                        engine,
                        endpoint: resolved.as_ref().ok(),
                        socket: &socket,
                        act: $act,
                        opts,
                        cleanup,
                        deadline: soft,
                    }
                };
            }
            // The act setup installed, as its receipt records it: the containers start with
            // it while act.binary still hashes the binary, and run again only if the hash
            // says the binary changed.
            let recorded = recorded_act(opts);
            let t = Instant::now();
            let (early, bin) = match &recorded {
                Some(rec) => {
                    let ctx = ctx_with!(Some(rec));
                    let (pair, (_, bin)) = tokio::join!(container_pair(&ctx), act_bin.clone());
                    let same = bin
                        .as_ref()
                        .is_some_and(|b| b.path == rec.path && b.sha256 == rec.sha256);
                    (same.then_some(pair), bin)
                }
                None => (None, act_bin.clone().await.1),
            };
            let ctx = ctx_with!(bin.as_ref());
            let containers = async {
                let (socket_outcome, run_outcome) = match early {
                    Some(pair) => pair,
                    None => container_pair(&ctx).await,
                };
                slots.put("container.socket", socket_outcome, t);
                slots.put("container.run", run_outcome, t);
            };
            tokio::join!(
                containers,
                record(&slots, "act.run", act_checks::act_run(&ctx, &home)),
                // The resources check needs only the daemon: it runs beside the containers.
                record(
                    &slots,
                    "docker.resources",
                    resource_checks::resources(&ctx, &home)
                ),
            );
        };

        tokio::join!(
            record(
                &slots,
                "docker.cli",
                docker_checks::cli(process, opts.state_dir.as_deref(), soft)
            ),
            record(
                &slots,
                "compose.config",
                act_checks::compose_config(process, opts, soft)
            ),
            act_bin_record,
            docker_chain,
        );
    };

    let finished = tokio::time::timeout_at(deadline, work).await.is_ok();
    // Removing leftovers must not push us past the deadline by more than a moment.
    cleanup
        .purge(if finished {
            Duration::from_secs(5)
        } else {
            Duration::from_millis(700)
        })
        .await;

    let filled = slots.0.lock().map(|v| v.clone()).unwrap_or_default();
    CHECK_IDS
        .iter()
        .zip(filled)
        .map(|(id, f)| {
            f.unwrap_or_else(|| Finding {
                id,
                title: title(id),
                status: Status::Fail,
                summary: format!(
                    "did not finish within the {}s deadline",
                    opts.timeout.as_secs()
                ),
                detail: String::new(),
                fix: vec![
                    "see the checks above for a daemon or socket that does not answer".into(),
                    format!(
                        "or allow more time: actsim doctor --timeout {}",
                        opts.timeout.as_secs() * 3
                    ),
                ],
                duration_ms: started.elapsed().as_millis() as u64,
            })
        })
        .collect()
}

/// The checks `actsim run` starts with: fast, and no container is started.
pub const PREFLIGHT_IDS: [&str; 5] = [
    "docker.endpoint",
    "docker.socket",
    "docker.daemon",
    "act.binary",
    "act.docker",
];

/// Run only [`PREFLIGHT_IDS`], in that order, under `opts.timeout`.
pub async fn preflight(process: &Process, opts: &Options) -> Vec<Finding> {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    let home = process
        .var_nonempty("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| opts.user.home.clone());
    let resolved = endpoint::resolve(process, &home);
    let known = endpoint::known_sockets(process, &home);
    let finding = |id: &'static str, outcome: Outcome, t: Instant| Finding {
        id,
        title: title(id),
        status: outcome.status,
        summary: outcome.summary,
        detail: outcome.detail.join("\n"),
        fix: outcome.fix,
        duration_ms: t.elapsed().as_millis() as u64,
    };
    let t = Instant::now();
    let endpoint_f = finding(
        "docker.endpoint",
        docker_checks::endpoint(&resolved, &known),
        t,
    );
    let t = Instant::now();
    let act_docker_f = finding(
        "act.docker",
        act_checks::act_docker(process, opts, &resolved, &home),
        t,
    );
    let docker_side = async {
        let t = Instant::now();
        let (outcome, socket) = docker_checks::socket(&resolved, opts);
        let socket_f = finding("docker.socket", outcome, t);
        let t = Instant::now();
        let (outcome, _) = docker_checks::daemon(&resolved, &socket, deadline).await;
        (socket_f, finding("docker.daemon", outcome, t))
    };
    let act_side = async {
        let t = Instant::now();
        let (outcome, _) = act_checks::act_binary(process, opts, deadline).await;
        finding("act.binary", outcome, t)
    };
    let ((socket_f, daemon_f), act_f) = tokio::join!(docker_side, act_side);
    vec![endpoint_f, socket_f, daemon_f, act_f, act_docker_f]
}
