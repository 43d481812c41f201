//! Runs the checks: independent ones concurrently, dependent ones after what they need,
//! all under one deadline. A check still running at the deadline is reported as failed
//! ("did not finish"); containers a check created are removed on every path out.
//!
//! What can go wrong: the deadline passes (unfinished checks fail with a fix that says so),
//! removing leftovers fails (best effort, bounded, so the deadline still holds).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Shared};
use tokio::time::Instant;

use super::context::{ActBin, After, Inputs, Options, SocketFacts};
use super::{CheckId, Cleanup, Finding, Outcome};
use super::{act_checks, container_checks, docker_checks, resource_checks};
use crate::context::{Context, Daemon};

/// Findings collected as checks finish, so a deadline keeps what is done.
#[derive(Clone)]
struct Slots(Arc<Mutex<Vec<Option<Finding>>>>);

impl Slots {
    fn new() -> Slots {
        Slots(Arc::new(Mutex::new(vec![None; CheckId::ALL.len()])))
    }

    fn put(&self, id: CheckId, outcome: Outcome, started: Instant) {
        let finding = Finding::new(id, outcome, started);
        if let Ok(mut v) = self.0.lock() {
            v[id.index()] = Some(finding);
        }
    }

    /// Time a check and store its finding.
    async fn record<F>(&self, id: CheckId, fut: F)
    where
        F: std::future::Future<Output = Outcome>,
    {
        let started = Instant::now();
        let outcome = fut.await;
        self.put(id, outcome, started);
    }

    /// One finding per check in [`CheckId::ALL`] order; those that did not finish fail.
    fn finish(&self, timeout: Duration, started: Instant) -> Vec<Finding> {
        let filled = self.0.lock().map(|v| v.clone()).unwrap_or_default();
        CheckId::ALL
            .iter()
            .zip(filled)
            .map(|(id, f)| f.unwrap_or_else(|| unfinished(*id, timeout, started)))
            .collect()
    }
}

fn unfinished(id: CheckId, timeout: Duration, started: Instant) -> Finding {
    let outcome = Outcome::fail(
        format!("did not finish within the {}s deadline", timeout.as_secs()),
        vec![
            "see the checks above for a daemon or socket that does not answer".into(),
            format!(
                "or allow more time: actsim doctor --timeout {}",
                timeout.as_secs() * 3
            ),
        ],
    );
    Finding::new(id, outcome, started)
}

/// `act.binary`, started once and awaited by everyone who needs the binary.
type ActBinary<'a> = Shared<BoxFuture<'a, (Outcome, Option<ActBin>)>>;

/// `container.socket` and `container.run`: one container round trip when the socket one
/// passes (it proves what the plain one would); the plain one runs only when needed, to
/// tell the causes of a failure apart.
async fn container_pair(after: &After<'_>) -> (Outcome, Outcome) {
    let probe = container_checks::probe_image(after).await;
    let (socket, proven) = container_checks::container_socket_and_run(after, &probe).await;
    let run = match proven {
        Some(o) => o,
        None => container_checks::container_run(after, &probe).await,
    };
    (socket, run)
}

/// Everything after `docker.daemon`: the containers (started early with the act the
/// receipt records, while act.binary still hashes it, and again only if the hash says the
/// binary changed), `act.run` and `docker.resources`.
async fn after_daemon(
    inputs: Inputs<'_>,
    daemon: Option<&Daemon>,
    socket: &SocketFacts,
    act_bin: ActBinary<'_>,
    cleanup: &Cleanup,
    slots: &Slots,
) {
    let after_with = |act| After {
        inputs,
        daemon,
        socket,
        act,
        cleanup,
    };
    let recorded = inputs.recorded_act();
    let t = Instant::now();
    let (early, bin) = match &recorded {
        Some(rec) => {
            let early = after_with(Some(rec));
            let (pair, (_, bin)) = tokio::join!(container_pair(&early), act_bin.clone());
            let same = bin
                .as_ref()
                .is_some_and(|b| b.path == rec.path && b.sha256 == rec.sha256);
            (same.then_some(pair), bin)
        }
        None => (None, act_bin.clone().await.1),
    };
    let after = after_with(bin.as_ref());
    let containers = async {
        let (socket_outcome, run_outcome) = match early {
            Some(pair) => pair,
            None => container_pair(&after).await,
        };
        slots.put(CheckId::ContainerSocket, socket_outcome, t);
        slots.put(CheckId::ContainerRun, run_outcome, t);
    };
    tokio::join!(
        containers,
        slots.record(CheckId::ActRun, act_checks::act_run(&after)),
        // The resources check needs only the daemon: it runs beside the containers.
        slots.record(CheckId::DockerResources, resource_checks::resources(&after)),
    );
}

/// `docker.socket`, `docker.daemon`, then everything that needs the daemon.
async fn docker_chain(
    inputs: Inputs<'_>,
    act_bin: ActBinary<'_>,
    cleanup: &Cleanup,
    slots: &Slots,
) {
    let t = Instant::now();
    let (outcome, socket) = docker_checks::socket(&inputs);
    slots.put(CheckId::DockerSocket, outcome, t);
    let t = Instant::now();
    let (outcome, daemon) = docker_checks::daemon(&inputs, &socket).await;
    slots.put(CheckId::DockerDaemon, outcome, t);
    after_daemon(inputs, daemon.as_ref(), &socket, act_bin, cleanup, slots).await;
}

/// [`run`] until a signal: SIGINT, SIGTERM or SIGHUP removes the containers the checks
/// created and ends with [`crate::error::Error::Interrupted`].
pub async fn run_until_stopped(
    ctx: &Context,
    opts: &Options,
) -> Result<Vec<Finding>, crate::error::Error> {
    let cleanup = Cleanup::default();
    tokio::select! {
        findings = run(ctx, opts, &cleanup) => Ok(findings),
        stop = crate::system::signals::stopped() => {
            cleanup.purge(Duration::from_secs(3)).await;
            Err(crate::error::Error::Interrupted(stop))
        }
    }
}

/// Run every check and return one finding per id, in [`CheckId::ALL`] order.
pub async fn run(ctx: &Context, opts: &Options, cleanup: &Cleanup) -> Vec<Finding> {
    let started = Instant::now();
    let deadline = started + opts.timeout;
    // Checks aim to finish a little before the hard deadline so they can report why.
    let soft = deadline - opts.timeout.mul_f32(0.1).min(Duration::from_millis(500));
    let inputs = Inputs {
        ctx,
        opts,
        deadline: soft,
    };
    let slots = Slots::new();
    let work = async {
        slots.put(
            CheckId::DockerEndpoint,
            docker_checks::endpoint(&inputs),
            started,
        );
        slots.put(CheckId::ActDocker, act_checks::act_docker(&inputs), started);
        let act_bin: ActBinary<'_> = act_checks::act_binary(inputs).boxed().shared();
        let act_bin_record = async {
            let t = Instant::now();
            let (outcome, _) = act_bin.clone().await;
            slots.put(CheckId::ActBinary, outcome, t);
        };
        tokio::join!(
            slots.record(CheckId::DockerCli, docker_checks::cli(&inputs)),
            slots.record(CheckId::ComposeConfig, act_checks::compose_config(&inputs)),
            act_bin_record,
            docker_chain(inputs, act_bin.clone(), cleanup, &slots),
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
    slots.finish(opts.timeout, started)
}

/// Run only [`CheckId::PREFLIGHT`], in that order, under `opts.timeout`.
pub async fn preflight(ctx: &Context, opts: &Options) -> Vec<Finding> {
    let inputs = Inputs {
        ctx,
        opts,
        deadline: Instant::now() + opts.timeout,
    };
    let t = Instant::now();
    let endpoint_f = Finding::new(CheckId::DockerEndpoint, docker_checks::endpoint(&inputs), t);
    let t = Instant::now();
    let act_docker_f = Finding::new(CheckId::ActDocker, act_checks::act_docker(&inputs), t);
    let docker_side = async {
        let t = Instant::now();
        let (outcome, socket) = docker_checks::socket(&inputs);
        let socket_f = Finding::new(CheckId::DockerSocket, outcome, t);
        let t = Instant::now();
        let (outcome, _) = docker_checks::daemon(&inputs, &socket).await;
        (socket_f, Finding::new(CheckId::DockerDaemon, outcome, t))
    };
    let act_side = async {
        let t = Instant::now();
        let (outcome, _) = act_checks::act_binary(inputs).await;
        Finding::new(CheckId::ActBinary, outcome, t)
    };
    let ((socket_f, daemon_f), act_f) = tokio::join!(docker_side, act_side);
    let findings = vec![endpoint_f, socket_f, daemon_f, act_f, act_docker_f];
    debug_assert!(findings.iter().map(|f| f.id).eq(CheckId::PREFLIGHT));
    findings
}
