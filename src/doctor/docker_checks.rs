//! Checks of the Docker side: the CLI, which endpoint, socket access, the daemon itself.
//!
//! What goes wrong here: the socket is absent (daemon not running or installed), is not a
//! socket, or cannot be opened because the user is not in its group — or is in it in
//! `/etc/group` but not in this login yet. A daemon can refuse while starting (retried),
//! answer 5xx (retried), accept and never answer ("not responding"), or be too old.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use tokio::time::Instant;

use super::{GroupView, Options, Outcome};
use crate::docker::client;
use crate::docker::endpoint::{Endpoint, KnownSocket, SocketState, socket_state};
use crate::docker::engine::Engine;
use crate::system::identity::{self, group_name, user_name};
use crate::system::process::Process;
use crate::system::program::{first_version, has_systemd, left, parse_api, run_program};

/// API below this fails: act needs Docker Engine 20.10 (API 1.41).
pub const MIN_API: (u32, u32) = (1, 41);
/// API below this warns: Docker Engine 25 (API 1.44) is what current tools expect.
pub const WARN_API: (u32, u32) = (1, 44);

/// `docker.cli`
pub async fn cli(
    process: &Process,
    state_dir: Option<&std::path::Path>,
    deadline: Instant,
) -> Outcome {
    let Some(docker) = process.which("docker") else {
        return Outcome::warn(
            "docker CLI not found on PATH (act does not need it, but the fixes below use it)",
            vec![
                "install the Docker CLI: sudo apt-get install docker.io (Debian/Ubuntu), or see https://docs.docker.com/engine/install/".into(),
            ],
        );
    };
    // What this very binary printed before (same stamp): not started again.
    if let Some(printed) = super::stamps::lookup(state_dir, "docker-version", &docker) {
        let version = first_version(&printed).unwrap_or_else(|| "unknown".into());
        return Outcome::pass(format!("docker CLI {version} at {}", docker.display()))
            .detail(printed);
    }
    match run_program(&docker, &["--version"], &[], None, deadline).await {
        Ok(ran) if ran.ok() => {
            let version = first_version(&ran.stdout).unwrap_or_else(|| "unknown".into());
            super::stamps::store(state_dir, "docker-version", &docker, ran.stdout.trim());
            Outcome::pass(format!("docker CLI {version} at {}", docker.display()))
                .detail(ran.stdout.trim().to_string())
        }
        Ok(ran) => Outcome::warn(
            format!("{} --version failed: {}", docker.display(), ran.output()),
            vec![format!("reinstall the Docker CLI ({})", docker.display())],
        ),
        Err(e) => Outcome::warn(e, vec!["reinstall the Docker CLI".into()]),
    }
}

/// `docker.endpoint`
pub fn endpoint(resolved: &Result<Endpoint, String>, known: &[KnownSocket]) -> Outcome {
    let mut others = Vec::new();
    let mut dangling_fixes = Vec::new();
    for k in known {
        match &k.state {
            SocketState::Socket => {
                others.push(format!("{}: {} (socket)", k.label, k.path.display()))
            }
            SocketState::NotSocket => others.push(format!(
                "{}: {} (exists, not a socket)",
                k.label,
                k.path.display()
            )),
            SocketState::Dangling(target) => {
                others.push(format!(
                    "{}: {} (dangling symlink to {})",
                    k.label,
                    k.path.display(),
                    target.display()
                ));
                dangling_fixes.push(format!(
                    "remove the dangling symlink (act still picks it up): rm {}",
                    k.path.display()
                ));
            }
            SocketState::Absent => {}
        }
    }
    let detail = if others.is_empty() {
        vec!["no socket at any well-known location".to_string()]
    } else {
        std::iter::once("sockets at well-known locations:".to_string())
            .chain(others.into_iter().map(|o| format!("  {o}")))
            .collect()
    };
    let endpoint = match resolved {
        Ok(e) => e,
        Err(e) => {
            return Outcome::fail(
                e.clone(),
                vec![
                    "switch to a context that exists: docker context ls; docker context use default".into(),
                    "or unset DOCKER_CONTEXT".into(),
                ],
            )
            .details(detail);
        }
    };
    let mut out = Outcome::pass(format!("{} ({})", endpoint.host, endpoint.why())).details(detail);
    for w in &endpoint.warnings {
        out = out.warn_also(w, vec!["unset DOCKER_HOST".into()]);
    }
    if !dangling_fixes.is_empty() {
        out = out.warn_also("a dangling socket symlink exists", dangling_fixes);
    }
    out
}

/// What `docker.socket` learned, for the checks after it.
#[derive(Debug, Clone, Default)]
pub struct SocketFacts {
    /// The endpoint is a Unix socket at this path.
    pub path: Option<PathBuf>,
    /// It exists and is a socket.
    pub is_socket: bool,
    pub uid: u32,
    pub gid: u32,
    /// The user cannot open it (mode and groups say no, or connect said EACCES).
    pub denied: bool,
}

/// `docker.socket`
pub fn socket(resolved: &Result<Endpoint, String>, opts: &Options) -> (Outcome, SocketFacts) {
    let mut facts = SocketFacts::default();
    let Ok(endpoint) = resolved else {
        return (Outcome::skip("no endpoint (see docker.endpoint)"), facts);
    };
    let Some(path) = endpoint.socket_path() else {
        return (
            Outcome::skip(format!("{} is not a local socket", endpoint.host)),
            facts,
        );
    };
    facts.path = Some(path.clone());
    let shown = path.display().to_string();
    match socket_state(&path) {
        SocketState::Absent => {
            return (
                Outcome::fail(format!("no socket at {shown}"), start_daemon_fixes(&path)),
                facts,
            );
        }
        SocketState::Dangling(target) => {
            return (
                Outcome::fail(
                    format!(
                        "{shown} is a symlink to {} which does not exist",
                        target.display()
                    ),
                    start_daemon_fixes(&path),
                ),
                facts,
            );
        }
        SocketState::NotSocket => {
            return (
                Outcome::fail(
                    format!("{shown} exists but is not a socket"),
                    vec![
                        format!("move it away and restart the daemon: sudo mv {shown} {shown}.bak"),
                        restart_command(),
                    ],
                ),
                facts,
            );
        }
        SocketState::Socket => {}
    }
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            return (
                Outcome::fail(
                    format!("cannot stat {shown}: {e}"),
                    vec![format!(
                        "check the permissions of {}'s parent directories",
                        shown
                    )],
                ),
                facts,
            );
        }
    };
    facts.is_socket = true;
    facts.uid = meta.uid();
    facts.gid = meta.gid();
    let mode = meta.permissions().mode() & 0o7777;
    let user = &opts.user;
    let group = group_name(facts.gid);
    let db_gids = user.database_gids();
    let now_gids: Vec<u32> = if user.is_current && opts.group_view == GroupView::Process {
        identity::process_gids()
    } else {
        db_gids.clone()
    };
    let described = format!(
        "{shown}: owner {}, group {group} (gid {}), mode {mode:04o}",
        user_name(facts.uid),
        facts.gid
    );
    let by_mode = |gids: &[u32]| -> bool {
        if user.uid == 0 {
            return true;
        }
        let bits = if user.uid == facts.uid {
            (mode >> 6) & 0o7
        } else if gids.contains(&facts.gid) {
            (mode >> 3) & 0o7
        } else {
            mode & 0o7
        };
        bits & 0o6 == 0o6
    };
    // The truth for this login is a real connect; for another user or the database view,
    // the mode bits and the group list decide.
    let can_open = if user.is_current && opts.group_view == GroupView::Process {
        match std::os::unix::net::UnixStream::connect(&path) {
            Ok(_) => true,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => false,
            Err(_) => by_mode(&now_gids),
        }
    } else {
        by_mode(&now_gids)
    };
    if can_open {
        let how = if user.uid == 0 {
            "as root".to_string()
        } else if user.uid == facts.uid {
            "as its owner".to_string()
        } else if now_gids.contains(&facts.gid) {
            format!("through group {group}")
        } else {
            "through its mode".to_string()
        };
        let mut out =
            Outcome::pass(format!("{} can open {shown} {how}", user.name)).detail(described);
        if opts.group_view == GroupView::Database && user.is_current {
            out = out.detail(format!(
                "judged with the group database's view of {} (the groups of the next login)",
                user.name
            ));
        }
        return (out, facts);
    }
    facts.denied = true;
    let summary_base = format!("permission denied: {} cannot open {shown}", user.name);
    if facts.gid == 0 {
        return (
            Outcome::fail(
                format!("{summary_base}; its group is root (gid 0), which must not be joined"),
                vec![
                    "joining group root would hand out root's files, so actsim will not suggest it".into(),
                    "give the daemon a dedicated group: add \"group\": \"docker\" to /etc/docker/daemon.json (or dockerd --group docker), sudo groupadd -f docker, then restart the daemon".into(),
                    format!("then: sudo usermod -aG docker {}", user.name),
                    "or use rootless Docker: dockerd-rootless-setuptool.sh install, then export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock".into(),
                ],
            )
            .detail(described),
            facts,
        );
    }
    if (mode >> 3) & 0o6 != 0o6 && user.uid != facts.uid {
        return (
            Outcome::fail(
                format!("{summary_base}; its mode {mode:04o} gives group {group} no read-write access"),
                vec![
                    format!("restore the daemon's socket mode: sudo chmod 660 {shown} (restarting the daemon also resets it)"),
                    format!("and make sure {} is in group {group}: sudo usermod -aG {group} {}", user.name, user.name),
                ],
            )
            .detail(described),
            facts,
        );
    }
    if db_gids.contains(&facts.gid) && !now_gids.contains(&facts.gid) {
        return (
            Outcome::fail(
                format!(
                    "{summary_base}: /etc/group lists {} in group {group}, but this login does not carry the group yet",
                    user.name
                ),
                vec![
                    "log out and back in (or reboot) so the login picks up the group".into(),
                    format!("or start a shell with it now: newgrp {group}"),
                ],
            )
            .detail(described),
            facts,
        );
    }
    (
        Outcome::fail(
            format!("{summary_base}; {} is not in its group {group}", user.name),
            vec![
                format!("sudo usermod -aG {group} {}", user.name),
                format!("then log out and back in, or run: newgrp {group}"),
                "actsim setup does both steps for you".into(),
            ],
        )
        .detail(described),
        facts,
    )
}

fn restart_command() -> String {
    if has_systemd() {
        "sudo systemctl restart docker".into()
    } else {
        "sudo service docker restart".into()
    }
}

/// Fixes for "no daemon at this socket": start it, or point at the one that exists.
fn start_daemon_fixes(path: &std::path::Path) -> Vec<String> {
    let mut fixes = Vec::new();
    if path == std::path::Path::new("/var/run/docker.sock") || path.starts_with("/run") {
        if has_systemd() {
            fixes.push("start the daemon: sudo systemctl enable --now docker".into());
        } else {
            fixes.push("start the daemon: sudo service docker start (or sudo dockerd &)".into());
        }
    } else {
        fixes.push(format!(
            "start the Docker daemon that owns {} (Docker Desktop, colima start, rootless: systemctl --user start docker)",
            path.display()
        ));
    }
    fixes.push("is Docker installed? https://docs.docker.com/engine/install/".into());
    fixes.push("or point DOCKER_HOST at a socket that exists: export DOCKER_HOST=unix:///path/to/docker.sock".into());
    fixes
}

/// `docker.daemon`: ping and version with retries for transient errors; also which engine
/// answered (Docker Engine or Podman).
pub async fn daemon(
    resolved: &Result<Endpoint, String>,
    socket: &SocketFacts,
    deadline: Instant,
) -> (Outcome, Option<(Docker, Engine)>) {
    let Ok(endpoint) = resolved else {
        return (Outcome::skip("no endpoint (see docker.endpoint)"), None);
    };
    if socket.denied {
        return (
            Outcome::skip("cannot open the socket as this user (see docker.socket)"),
            None,
        );
    }
    let host = &endpoint.host;
    if let Some(path) = &socket.path
        && !socket.is_socket
    {
        return (
            Outcome::fail(
                format!("no daemon: nothing usable at {}", path.display()),
                start_daemon_fixes(path),
            ),
            None,
        );
    }
    // Transient failures (refused while starting, 5xx) are retried for a few seconds.
    let retry_until = (Instant::now() + Duration::from_secs(5)).min(deadline);
    let mut backoff = Duration::from_millis(100);
    let mut attempts = 0;
    let last_error = loop {
        attempts += 1;
        let remaining = left(deadline);
        if remaining.is_zero() {
            break format!("no answer from {host} before the deadline");
        }
        let tried = Instant::now();
        match attempt(host, remaining).await {
            Ok((docker, version)) => {
                let engine = Engine::from_version(&version);
                return (
                    judge_version(host, &version, engine, attempts),
                    Some((docker, engine)),
                );
            }
            Err(Attempt::Hung) => {
                return (
                    Outcome::fail(
                        format!(
                            "not responding: the daemon at {host} accepted the connection but did not answer within {:.1}s",
                            tried.elapsed().as_secs_f32()
                        ),
                        vec![
                            format!("restart it: {}", restart_command()),
                            "then look at its log: journalctl -u docker --since -10min".into(),
                        ],
                    ),
                    None,
                );
            }
            Err(Attempt::Transient(e)) if Instant::now() + backoff < retry_until => {
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                let _ = e;
            }
            Err(Attempt::Transient(e)) | Err(Attempt::Final(e)) => break e,
        }
    };
    let mut fixes = Vec::new();
    if last_error.contains("HTTP 5") {
        fixes.push(format!(
            "the daemon reports an internal error; restart it: {}",
            restart_command()
        ));
        fixes.push("then look at its log: journalctl -u docker --since -10min".into());
    } else if let Some(path) = &socket.path {
        fixes.extend(start_daemon_fixes(path));
    } else {
        fixes.push(format!(
            "check that a daemon listens at {host} and is reachable from here"
        ));
    }
    (
        Outcome::fail(
            format!("cannot reach the daemon at {host}: {last_error}"),
            fixes,
        )
        .detail(format!("{attempts} attempt(s)")),
        None,
    )
}

enum Attempt {
    /// Refused, reset, 5xx: worth another try soon.
    Transient(String),
    /// Accepted but never answered.
    Hung,
    Final(String),
}

/// One `/version` request (the negotiation and the version check in one): the answer, and
/// a connection at the API version it names.
async fn attempt(
    host: &str,
    remaining: Duration,
) -> Result<(Docker, bollard::models::SystemVersion), Attempt> {
    let docker = client::connect_lazy(host, remaining).map_err(Attempt::Final)?;
    let version = match tokio::time::timeout(remaining, docker.version()).await {
        Err(_) => return Err(Attempt::Hung),
        Ok(Err(e)) => return Err(classify(&e)),
        Ok(Ok(v)) => v,
    };
    let api = version.api_version.clone().unwrap_or_default();
    let negotiated = client::connect_at_api(host, remaining, &api).map_err(Attempt::Final)?;
    Ok((negotiated, version))
}

fn classify(e: &bollard::errors::Error) -> Attempt {
    use bollard::errors::Error as B;
    let text = client::describe(e);
    match e {
        B::DockerResponseServerError { status_code, .. } if *status_code >= 500 => {
            Attempt::Transient(text)
        }
        B::DockerResponseServerError { .. } => Attempt::Final(text),
        B::SocketNotFoundError(_) => Attempt::Transient(text),
        B::RequestTimeoutError => Attempt::Hung,
        _ => {
            let lower = text.to_lowercase();
            if lower.contains("refused")
                || lower.contains("reset")
                || lower.contains("no such file")
                || lower.contains("broken pipe")
            {
                Attempt::Transient(text)
            } else if lower.contains("timed out") || lower.contains("timeout") {
                Attempt::Hung
            } else {
                Attempt::Final(text)
            }
        }
    }
}

fn judge_version(
    host: &str,
    v: &bollard::models::SystemVersion,
    engine: Engine,
    attempts: u32,
) -> Outcome {
    let kind = engine;
    let engine = v.version.clone().unwrap_or_else(|| "unknown".into());
    let api_text = v.api_version.clone().unwrap_or_else(|| "unknown".into());
    let min_text = v
        .min_api_version
        .clone()
        .unwrap_or_else(|| "unknown".into());
    let summary = match kind {
        Engine::Docker => {
            format!("Docker Engine {engine}, API {api_text} (minimum API {min_text}) at {host}")
        }
        Engine::Podman => format!(
            "Podman {engine} (its Docker API service), Docker API {api_text} (minimum API {min_text}) at {host}"
        ),
    };
    let mut detail = vec![
        format!(
            "os/arch: {}/{}",
            v.os.clone().unwrap_or_default(),
            v.arch.clone().unwrap_or_default()
        ),
        format!("kernel: {}", v.kernel_version.clone().unwrap_or_default()),
    ];
    if attempts > 1 {
        detail.push(format!("answered after {attempts} attempts"));
    }
    let upgrade = match kind {
        Engine::Docker => "upgrade Docker Engine: https://docs.docker.com/engine/install/ (Debian/Ubuntu: Docker's apt repository, package docker-ce)".to_string(),
        Engine::Podman => "upgrade Podman: https://podman.io/docs/installation".to_string(),
    };
    if kind == Engine::Podman {
        detail.push(
            "Podman serves the Docker API through `podman system service`; act and compose use it through that API"
                .into(),
        );
    }
    match parse_api(&api_text) {
        None => Outcome::warn(format!("{summary}: API version not understood"), vec![upgrade]),
        Some(api) if api < MIN_API => Outcome::fail(
            format!("{summary}: API {api_text} is older than 1.41 (Docker Engine 20.10), the minimum act works with"),
            vec![upgrade],
        ),
        // Podman's Docker API stays at 1.41 in every release: nothing to upgrade to.
        Some(api) if api < WARN_API && kind == Engine::Docker => Outcome::warn(
            format!("{summary}: API {api_text} is older than 1.44 (Docker Engine 25); current docker CLIs and compose v2 expect at least that"),
            vec![upgrade],
        ),
        Some(_) => Outcome::pass(summary),
    }
    .details(detail)
}
