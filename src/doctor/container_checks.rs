//! Container checks: a real round trip, and a container that talks to the daemon through
//! the mounted socket with exactly the compose file's user and groups.
//!
//! No registry is needed: the probe image is built locally (`docker import`) from the
//! installed act binary. What goes wrong here: the image cannot be built, the container
//! cannot start, or — the classic — the container's groups do not include the socket's
//! group (a stale `DOCKER_GID` after a Docker reinstall), so act inside says "permission
//! denied". Every container is removed, also on error, timeout or Ctrl-C.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use futures_util::StreamExt;

use super::context::{After, nanos};
use super::{Outcome, Status};
use crate::docker::client::describe;
use crate::docker::engine::Engine;
use crate::docker::image;

/// The probe image, or why there is none.
pub type Probe = Result<String, ProbeProblem>;

#[derive(Debug, Clone)]
pub enum ProbeProblem {
    /// A prerequisite is missing: skip with this reason.
    Skip(String),
    /// Building or finding it failed: fail with this reason.
    Fail(String),
}

/// `actsim/act:<version>`, the image setup builds for the compose service too, named so
/// that `engine` finds it (`localhost/…` on Podman).
pub fn image_name(engine: Engine, version: &str) -> String {
    engine.local_image(&crate::render::image_for(version))
}

/// Find or build the probe image (once, for both container checks).
pub async fn probe_image(ctx: &After<'_>) -> Probe {
    let deadline = ctx.deadline();
    let Some(docker) = ctx.docker() else {
        return Err(ProbeProblem::Skip("no daemon (see docker.daemon)".into()));
    };
    if let Some(custom) = &ctx.inputs.opts.probe_image {
        return match tokio::time::timeout_at(deadline, image::exists(docker, custom)).await {
            Ok(Ok(true)) => Ok(custom.clone()),
            Ok(Ok(false)) => Err(ProbeProblem::Fail(format!(
                "probe image {custom} is not present locally (actsim never pulls it)"
            ))),
            Ok(Err(e)) => Err(ProbeProblem::Fail(e.into())),
            Err(_) => Err(ProbeProblem::Fail(
                "the daemon did not answer in time".into(),
            )),
        };
    }
    let Some(act) = ctx.act else {
        return Err(ProbeProblem::Skip(
            "no act binary to build the probe image from (see act.binary), and no --probe-image"
                .into(),
        ));
    };
    let engine = ctx.engine();
    let name = image_name(engine, &act.version);
    let work = async {
        match image::image_sha(docker, &name).await? {
            Some(sha) if sha == act.sha256 => Ok(name.clone()),
            _ => {
                let file =
                    crate::system::files::open_regular(&act.path, crate::system::files::MAX_HASH)
                        .map_err(|e| e.to_string())?
                        .ok_or_else(|| format!("{} is gone", act.path.display()))?;
                image::import_act_image(docker, engine, file, &act.path, &act.sha256, &name)
                    .await
                    .map(|_| name.clone())
                    .map_err(String::from)
            }
        }
    };
    match tokio::time::timeout_at(deadline, work).await {
        Ok(Ok(n)) => Ok(n),
        Ok(Err(e)) => Err(ProbeProblem::Fail(format!(
            "cannot build the probe image {name}: {e}"
        ))),
        Err(_) => Err(ProbeProblem::Fail(format!(
            "building the probe image {name} did not finish in time"
        ))),
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A container name unique to this run.
fn unique_name(kind: &str) -> String {
    format!(
        "actsim-{kind}-{}-{}-{}",
        std::process::id(),
        nanos() % 1_000_000_000,
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a finished container printed and returned.
struct Exited {
    code: i64,
    output: String,
}

/// Which step of a container round trip failed, and the daemon's words.
#[derive(Debug, thiserror::Error)]
enum RoundTripError {
    #[error("{step}: {message}")]
    Daemon { step: &'static str, message: String },
    #[error("wait: no answer")]
    NoWaitAnswer,
}

impl RoundTripError {
    fn at(step: &'static str) -> impl FnOnce(bollard::errors::Error) -> RoundTripError {
        move |e| RoundTripError::Daemon {
            step,
            message: describe(&e),
        }
    }
}

/// Create, start, wait, read the output, remove — removal also on error and (through
/// `cleanup`) on timeout or Ctrl-C.
async fn round_trip(
    ctx: &After<'_>,
    docker: &Docker,
    kind: &str,
    config: ContainerCreateBody,
) -> Result<Exited, RoundTripError> {
    let name = unique_name(kind);
    let options = CreateContainerOptionsBuilder::default().name(&name).build();
    docker
        .create_container(Some(options), config)
        .await
        .map_err(RoundTripError::at("create"))?;
    ctx.cleanup.add(docker, &name);
    let result = start_wait_logs(docker, &name).await;
    let remove = RemoveContainerOptionsBuilder::default()
        .force(true)
        .v(true)
        .build();
    if docker.remove_container(&name, Some(remove)).await.is_ok() {
        ctx.cleanup.forget(&name);
    }
    result
}

/// Start the created container `name`, wait for it and read what it printed.
async fn start_wait_logs(docker: &Docker, name: &str) -> Result<Exited, RoundTripError> {
    docker
        .start_container(
            name,
            None::<bollard::query_parameters::StartContainerOptions>,
        )
        .await
        .map_err(RoundTripError::at("start"))?;
    let mut wait = docker.wait_container(
        name,
        None::<bollard::query_parameters::WaitContainerOptions>,
    );
    let code = match wait.next().await {
        Some(Ok(w)) => w.status_code,
        // bollard reports a non-zero exit as an error carrying the code.
        Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
        Some(Err(e)) => return Err(RoundTripError::at("wait")(e)),
        None => return Err(RoundTripError::NoWaitAnswer),
    };
    let logs_opts = LogsOptionsBuilder::default()
        .stdout(true)
        .stderr(true)
        .build();
    let mut logs = docker.logs(name, Some(logs_opts));
    let mut output = String::new();
    while let Some(chunk) = logs.next().await {
        output.push_str(&chunk.map_err(RoundTripError::at("logs"))?.to_string());
    }
    Ok(Exited { code, output })
}

fn base_config(image: &str, cmd: &[&str]) -> ContainerCreateBody {
    ContainerCreateBody {
        image: Some(image.to_string()),
        cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
        env: Some(vec!["HOME=/tmp".into()]),
        labels: Some(HashMap::from([(
            "io.actsim.probe".to_string(),
            "1".to_string(),
        )])),
        host_config: Some(HostConfig {
            network_mode: Some("none".into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn probe_outcome(probe: &Probe) -> Option<Outcome> {
    match probe {
        Ok(_) => None,
        Err(ProbeProblem::Skip(why)) => Some(Outcome::skip(why.clone())),
        Err(ProbeProblem::Fail(why)) => Some(Outcome::fail(
            why.clone(),
            vec![
                "build it by running setup: actsim setup (it builds actsim/act:<version> locally)"
                    .into(),
                "or name an image that holds act: actsim doctor --probe-image IMAGE".into(),
            ],
        )),
    }
}

/// `container.run`
pub async fn container_run(ctx: &After<'_>, probe: &Probe) -> Outcome {
    if let Some(o) = probe_outcome(probe) {
        return o;
    }
    let (Ok(image), Some(docker)) = (probe, ctx.docker()) else {
        return Outcome::skip("no daemon (see docker.daemon)");
    };
    let config = base_config(image, &["act", "--version"]);
    match tokio::time::timeout_at(ctx.deadline(), round_trip(ctx, docker, "run", config)).await {
        Ok(Ok(ex)) if ex.code == 0 && ex.output.contains("act version") => Outcome::pass(format!(
            "created, started and removed a container from {image}: {}",
            ex.output.trim()
        )),
        Ok(Ok(ex)) => Outcome::fail(
            format!(
                "the container from {image} exited {}: {}",
                ex.code,
                ex.output.trim()
            ),
            vec![
                format!("try it by hand: docker run --rm {image} act --version"),
                "rebuild the image: actsim setup".into(),
            ],
        ),
        Ok(Err(e)) => Outcome::fail(
            format!("container round trip with {image} failed: {e}"),
            vec![
                format!("try it by hand: docker run --rm {image} act --version"),
                "look at the daemon's log: journalctl -u docker --since -10min".into(),
            ],
        ),
        Err(_) => Outcome::fail(
            format!("the container round trip with {image} did not finish in time"),
            vec![
                format!("try it by hand: docker run --rm {image} act --version"),
                "or allow more time: actsim doctor --timeout 60".into(),
            ],
        ),
    }
}

/// The uid, gid and extra group the compose service would use, where they came from, and
/// the daemon socket the `.env` was written for (`DOCKER_SOCKET`), when there is one.
struct ComposeIdentity {
    uid: u32,
    gid: u32,
    docker_gid: u32,
    source: String,
    env_socket: Option<PathBuf>,
}

/// The identity from `.env`, or from the user and the socket when there is no `.env`; a
/// `.env` that cannot be read (a FIFO, a link, too large) is the check's failure.
fn compose_identity(ctx: &After<'_>) -> Result<ComposeIdentity, Outcome> {
    let user = ctx.inputs.user();
    let env_file = ctx.inputs.config_dir().join(".env");
    let values = match crate::system::files::read_bounded(&env_file, crate::system::files::MAX_READ)
    {
        Ok(Some(t)) => Some(parse_env(&String::from_utf8_lossy(&t))),
        Ok(None) => None,
        Err(e) => {
            return Err(Outcome::fail(
                format!("cannot read {}: {e}", env_file.display()),
                vec![format!(
                    "move it away and let setup write it again: mv {} {}.old && actsim setup --yes",
                    crate::system::process::sh_quote(&env_file.display().to_string()),
                    crate::system::process::sh_quote(&env_file.display().to_string())
                )],
            ));
        }
    };
    let Some(values) = values else {
        return Ok(ComposeIdentity {
            uid: user.uid,
            gid: user.gid,
            docker_gid: ctx.socket.gid,
            source: format!(
                "{}'s uid and gid with the socket's gid (no {} yet)",
                user.name,
                env_file.display()
            ),
            env_socket: None,
        });
    };
    let num = |k: &str| values.get(k).and_then(|v| v.parse::<u32>().ok());
    let env_socket = values
        .get("DOCKER_SOCKET")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from);
    match (num("HOST_UID"), num("HOST_GID"), num("DOCKER_GID")) {
        (Some(uid), Some(gid), Some(docker_gid)) => Ok(ComposeIdentity {
            uid,
            gid,
            docker_gid,
            source: format!("from {}", env_file.display()),
            env_socket,
        }),
        _ => Err(Outcome::fail(
            format!(
                "{} lacks a numeric HOST_UID, HOST_GID or DOCKER_GID: the compose service would not start as the user with the socket's group",
                env_file.display()
            ),
            vec![REFRESH_GID.into()],
        )),
    }
}

pub use crate::render::parse_env;

/// `container.socket`, and — when its container ran and act in it reached the daemon — the
/// `container.run` verdict from the same round trip (create, start, wait, logs, remove with
/// the probe image: everything the plain round trip proves). `None` when the plain round
/// trip must run, to tell the causes of a failure apart.
pub async fn container_socket_and_run(
    ctx: &After<'_>,
    probe: &Probe,
) -> (Outcome, Option<Outcome>) {
    let mut proven = None;
    let outcome = container_socket(ctx, probe, &mut proven).await;
    (outcome, proven)
}

async fn container_socket(ctx: &After<'_>, probe: &Probe, proven: &mut Option<Outcome>) -> Outcome {
    let Some(path) = ctx.socket.path.clone() else {
        return Outcome::skip("the endpoint is not a local socket, so nothing is mounted");
    };
    if let Some(o) = probe_outcome(probe) {
        return match o.status {
            Status::Skip => o,
            _ => Outcome::skip("no probe image (see container.run)"),
        };
    }
    let (Ok(image), Some(docker)) = (probe, ctx.docker()) else {
        return Outcome::skip("no daemon (see docker.daemon)");
    };
    let identity = match compose_identity(ctx) {
        Ok(identity) => identity,
        Err(failed) => return failed,
    };
    if let Some(out) = endpoint_changed(ctx, &path, &identity) {
        return out;
    }
    if let Some(out) = stale_gid(ctx, &path, &identity) {
        return out;
    }
    let ComposeIdentity {
        uid,
        gid,
        docker_gid,
        source,
        ..
    } = identity;
    let mut config = base_config(image, &["act", "--bug-report"]);
    config.user = Some(format!("{uid}:{gid}"));
    if let Some(hc) = config.host_config.as_mut() {
        hc.binds = Some(vec![format!("{}:/var/run/docker.sock", path.display())]);
        hc.group_add = Some(vec![docker_gid.to_string()]);
    }
    let who = format!("uid {uid}, gid {gid}, extra group {docker_gid} ({source})");
    let ran =
        tokio::time::timeout_at(ctx.deadline(), round_trip(ctx, docker, "socket", config)).await;
    let Ok(ran) = ran else {
        return Outcome::fail(
            "the container with the mounted socket did not finish in time",
            vec!["or allow more time: actsim doctor --timeout 60".into()],
        );
    };
    let ex = match ran {
        Ok(ex) => ex,
        Err(e) => {
            return Outcome::fail(
                format!("container with the mounted socket failed: {e}"),
                vec!["look at the daemon's log: journalctl -u docker --since -10min".into()],
            );
        }
    };
    if ex.code == 0 {
        *proven = proven_run(image, &ex.output);
        return Outcome::pass(format!(
            "act --bug-report inside a container reached the daemon through the mounted socket as {who}"
        ));
    }
    let by_hand = format!(
        "try it by hand: docker run --rm -u {uid}:{gid} --group-add {docker_gid} -v {}:/var/run/docker.sock {image} act --bug-report",
        path.display()
    );
    socket_run_failed(&path, &who, by_hand, ex.output)
}

/// act in the socket container ran but did not reach the daemon.
fn socket_run_failed(path: &Path, who: &str, by_hand: String, output: String) -> Outcome {
    let mut fix = Vec::new();
    if output.contains("permission denied") {
        fix.push(format!(
            "the container's groups do not open {}: {REFRESH_GID}",
            path.display()
        ));
    }
    fix.push(by_hand);
    let last = output
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string();
    Outcome::fail(
        format!("act inside the container could not reach the daemon as {who}: {last}"),
        fix,
    )
    .detail(output)
}

/// `container.run`'s pass when act's `--bug-report` in the socket container printed its
/// version (that round trip proved everything the plain one would).
fn proven_run(image: &str, output: &str) -> Option<Outcome> {
    let version = output
        .lines()
        .find(|l| l.trim_start().starts_with("act version"))?;
    let version = version.split_whitespace().collect::<Vec<_>>().join(" ");
    Some(
        Outcome::pass(format!(
            "created, started and removed a container from {image}: {}",
            version.replace("version:", "version")
        ))
        .detail("proven by container.socket's round trip (one container instead of two)"),
    )
}

/// The `.env` was written for another daemon's socket: the endpoint changed (DOCKER_HOST,
/// a context, another engine), Docker was not reinstalled.
fn endpoint_changed(ctx: &After<'_>, path: &Path, identity: &ComposeIdentity) -> Option<Outcome> {
    let old = identity.env_socket.as_ref()?;
    if crate::system::process::same_path(old, path) {
        return None;
    }
    let why = ctx
        .endpoint()
        .map(|e| format!(" ({})", e.why()))
        .unwrap_or_default();
    let env_file = ctx.inputs.config_dir().join(".env");
    Some(Outcome::fail(
        format!(
            "the endpoint changed: {} was written for the daemon socket {} (DOCKER_GID {}), but this run talks to {}{why} (gid {}); the compose service would mount the other daemon's socket",
            env_file.display(),
            old.display(),
            identity.docker_gid,
            path.display(),
            ctx.socket.gid,
        ),
        vec![
            format!(
                "to use {} from now on, rerun setup with the same endpoint: actsim setup",
                path.display()
            ),
            format!(
                "or go back to the daemon setup was run for: export DOCKER_HOST=unix://{}",
                old.display()
            ),
        ],
    ))
}

/// The `.env`'s `DOCKER_GID` is not the socket's group: the machine's truth and the file
/// disagree (never the receipt: what setup once recorded says nothing about the socket now).
fn stale_gid(ctx: &After<'_>, path: &Path, identity: &ComposeIdentity) -> Option<Outcome> {
    let socket_gid = ctx.socket.gid;
    if identity.docker_gid == socket_gid {
        return None;
    }
    Some(Outcome::fail(
        format!(
            "DOCKER_GID ({}) is {} but {} now belongs to gid {socket_gid}: the container would get permission denied",
            identity.source,
            identity.docker_gid,
            path.display()
        ),
        vec![REFRESH_GID.into()],
    ))
}

/// The command that sets `DOCKER_GID` to the socket's group, keeping the user's lines.
const REFRESH_GID: &str = "set DOCKER_GID to the socket's group (Docker was probably reinstalled; your own lines in .env are kept): actsim doctor --fix --yes";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_lose_their_quotes() {
        let env = parse_env("# c\nDOCKER_GID=105\nDOCKER_SOCKET='/var/run/docker.sock'\nX=\"y\"\n");
        assert_eq!(env["DOCKER_GID"], "105");
        assert_eq!(env["DOCKER_SOCKET"], "/var/run/docker.sock");
        assert_eq!(env["X"], "y");
        assert!(!env.contains_key("# c"));
    }
}
