//! Checks of the Docker side: the CLI, which endpoint, socket access, the daemon itself.
//!
//! What goes wrong here: the socket is absent (daemon not running or installed), is not a
//! socket, or cannot be opened because the user is not in its group — or is in it in
//! `/etc/group` but not in this login yet. A daemon can refuse while starting (retried),
//! answer 5xx (retried), accept and never answer ("not responding"), or be too old.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::Duration;

use tokio::time::Instant;

use super::Outcome;
use super::context::{GroupView, Inputs, SocketFacts};
use crate::context::Daemon;
use crate::docker::client;
use crate::docker::endpoint::{self, SocketState, socket_state};
use crate::docker::engine::Engine;
use crate::system::identity::{self, TargetUser, group_name, user_name};
use crate::system::program::{first_version, has_systemd, left, parse_api, run_program};

/// API below this fails: act needs Docker Engine 20.10 (API 1.41).
pub const MIN_API: (u32, u32) = (1, 41);
/// API below this warns: Docker Engine 25 (API 1.44) is what current tools expect.
pub const WARN_API: (u32, u32) = (1, 44);

/// `docker.cli`
pub async fn cli(inputs: &Inputs<'_>) -> Outcome {
    let state_dir = Some(inputs.state_dir());
    let Some(docker) = inputs.process().which("docker") else {
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
    match run_program(&docker, &["--version"], &[], None, inputs.deadline).await {
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
pub fn endpoint(inputs: &Inputs<'_>) -> Outcome {
    let known = endpoint::known_sockets(inputs.process(), inputs.home());
    let mut others = Vec::new();
    let mut dangling_fixes = Vec::new();
    for k in &known {
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
    let endpoint = match inputs.endpoint() {
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

/// `docker.socket`
pub fn socket(inputs: &Inputs<'_>) -> (Outcome, SocketFacts) {
    let mut facts = SocketFacts::default();
    let Ok(endpoint) = inputs.endpoint() else {
        return (Outcome::skip("no endpoint (see docker.endpoint)"), facts);
    };
    let Some(path) = endpoint.socket_path() else {
        return (
            Outcome::skip(format!("{} is not a local socket", endpoint.host)),
            facts,
        );
    };
    facts.path = Some(path.clone());
    if let Some(unusable) = not_a_socket(&path) {
        return (unusable, facts);
    }
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) => {
            return (
                Outcome::fail(
                    format!("cannot stat {}: {e}", path.display()),
                    vec![format!(
                        "check the permissions of {}'s parent directories",
                        path.display()
                    )],
                ),
                facts,
            );
        }
    };
    facts.is_socket = true;
    facts.uid = meta.uid();
    facts.gid = meta.gid();
    let access = Access::new(inputs, &path, &facts, meta.permissions().mode() & 0o7777);
    if access.can_open() {
        return (access.opened(), facts);
    }
    facts.denied = true;
    (access.denied(), facts)
}

/// The verdict on a socket path that is not there or not a socket.
fn not_a_socket(path: &Path) -> Option<Outcome> {
    let shown = path.display();
    match socket_state(path) {
        SocketState::Absent => Some(Outcome::fail(
            format!("no socket at {shown}"),
            start_daemon_fixes(path),
        )),
        SocketState::Dangling(target) => Some(Outcome::fail(
            format!(
                "{shown} is a symlink to {} which does not exist",
                target.display()
            ),
            start_daemon_fixes(path),
        )),
        SocketState::NotSocket => Some(Outcome::fail(
            format!("{shown} exists but is not a socket"),
            vec![
                format!("move it away and restart the daemon: sudo mv {shown} {shown}.bak"),
                restart_command(),
            ],
        )),
        SocketState::Socket => None,
    }
}

/// Whether the target user can open the socket, and the words for either answer.
struct Access<'a> {
    user: &'a TargetUser,
    view: GroupView,
    path: &'a Path,
    shown: String,
    uid: u32,
    gid: u32,
    mode: u32,
    group: String,
    /// The groups the database gives the user.
    db_gids: Vec<u32>,
    /// The groups judged: this process's for the current login, else the database's.
    now_gids: Vec<u32>,
    described: String,
}

impl<'a> Access<'a> {
    fn new(inputs: &Inputs<'a>, path: &'a Path, facts: &SocketFacts, mode: u32) -> Access<'a> {
        let user = inputs.user();
        let view = inputs.opts.group_view;
        let group = group_name(facts.gid);
        let db_gids = user.database_gids();
        let now_gids = if user.is_current && view == GroupView::Process {
            identity::process_gids()
        } else {
            db_gids.clone()
        };
        let shown = path.display().to_string();
        let described = format!(
            "{shown}: owner {}, group {group} (gid {}), mode {mode:04o}",
            user_name(facts.uid),
            facts.gid
        );
        Access {
            user,
            view,
            path,
            shown,
            uid: facts.uid,
            gid: facts.gid,
            mode,
            group,
            db_gids,
            now_gids,
            described,
        }
    }

    /// What the mode bits and the group list allow.
    fn by_mode(&self) -> bool {
        if self.user.uid == 0 {
            return true;
        }
        let bits = if self.user.uid == self.uid {
            (self.mode >> 6) & 0o7
        } else if self.now_gids.contains(&self.gid) {
            (self.mode >> 3) & 0o7
        } else {
            self.mode & 0o7
        };
        bits & 0o6 == 0o6
    }

    /// The truth for this login is a real connect; for another user or the database view,
    /// the mode bits and the group list decide.
    fn can_open(&self) -> bool {
        if self.user.is_current && self.view == GroupView::Process {
            match std::os::unix::net::UnixStream::connect(self.path) {
                Ok(_) => true,
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => false,
                Err(_) => self.by_mode(),
            }
        } else {
            self.by_mode()
        }
    }

    fn opened(&self) -> Outcome {
        let (user, group, shown) = (self.user, &self.group, &self.shown);
        let how = if user.uid == 0 {
            "as root".to_string()
        } else if user.uid == self.uid {
            "as its owner".to_string()
        } else if self.now_gids.contains(&self.gid) {
            format!("through group {group}")
        } else {
            "through its mode".to_string()
        };
        let mut out = Outcome::pass(format!("{} can open {shown} {how}", user.name))
            .detail(self.described.clone());
        if self.view == GroupView::Database && user.is_current {
            out = out.detail(format!(
                "judged with the group database's view of {} (the groups of the next login)",
                user.name
            ));
        }
        out
    }

    fn denied(&self) -> Outcome {
        let (user, group, shown, mode) = (self.user, &self.group, &self.shown, self.mode);
        let base = format!("permission denied: {} cannot open {shown}", user.name);
        let (summary, fixes) = if self.gid == 0 {
            (
                format!("{base}; its group is root (gid 0), which must not be joined"),
                vec![
                    "joining group root would hand out root's files, so actsim will not suggest it".into(),
                    "give the daemon a dedicated group: add \"group\": \"docker\" to /etc/docker/daemon.json (or dockerd --group docker), sudo groupadd -f docker, then restart the daemon".into(),
                    format!("then: sudo usermod -aG docker {}", user.name),
                    "or use rootless Docker: dockerd-rootless-setuptool.sh install, then export DOCKER_HOST=unix://$XDG_RUNTIME_DIR/docker.sock".into(),
                ],
            )
        } else if (mode >> 3) & 0o6 != 0o6 && user.uid != self.uid {
            (
                format!("{base}; its mode {mode:04o} gives group {group} no read-write access"),
                vec![
                    format!(
                        "restore the daemon's socket mode: sudo chmod 660 {shown} (restarting the daemon also resets it)"
                    ),
                    format!(
                        "and make sure {} is in group {group}: sudo usermod -aG {group} {}",
                        user.name, user.name
                    ),
                ],
            )
        } else if self.db_gids.contains(&self.gid) && !self.now_gids.contains(&self.gid) {
            (
                format!(
                    "{base}: /etc/group lists {} in group {group}, but this login does not carry the group yet",
                    user.name
                ),
                vec![
                    "log out and back in (or reboot) so the login picks up the group".into(),
                    format!("or start a shell with it now: newgrp {group}"),
                ],
            )
        } else {
            (
                format!("{base}; {} is not in its group {group}", user.name),
                vec![
                    format!("sudo usermod -aG {group} {}", user.name),
                    format!("then log out and back in, or run: newgrp {group}"),
                    "actsim setup does both steps for you".into(),
                ],
            )
        };
        Outcome::fail(summary, fixes).detail(self.described.clone())
    }
}

fn restart_command() -> String {
    if has_systemd() {
        "sudo systemctl restart docker".into()
    } else {
        "sudo service docker restart".into()
    }
}

/// Fixes for "no daemon at this socket": start it, or point at the one that exists.
fn start_daemon_fixes(path: &Path) -> Vec<String> {
    let mut fixes = Vec::new();
    if path == Path::new("/var/run/docker.sock") || path.starts_with("/run") {
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
/// answered (Docker Engine or Podman). The connection that answered is the run's
/// ([`crate::context::Context::remember_daemon`]); when the run already holds one, its
/// `/version` answer is judged without asking again.
pub async fn daemon(inputs: &Inputs<'_>, socket: &SocketFacts) -> (Outcome, Option<Daemon>) {
    let Ok(endpoint) = inputs.endpoint() else {
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
    if let Some(known) = inputs.ctx.daemon() {
        log::debug!("docker.daemon: the run's connection to {host} answered before");
        return (
            judge_version(host, &known.version, known.engine, 1),
            Some(known),
        );
    }
    match connect_with_retries(host, inputs.deadline).await {
        Ok((daemon, attempts)) => {
            inputs.ctx.remember_daemon(&daemon);
            let out = judge_version(host, &daemon.version, daemon.engine, attempts);
            (out, Some(daemon))
        }
        Err(Unreachable::Hung(waited)) => (
            Outcome::fail(
                format!(
                    "not responding: the daemon at {host} accepted the connection but did not answer within {:.1}s",
                    waited.as_secs_f32()
                ),
                vec![
                    format!("restart it: {}", restart_command()),
                    "then look at its log: journalctl -u docker --since -10min".into(),
                ],
            ),
            None,
        ),
        Err(Unreachable::Failed { error, attempts }) => {
            (unreachable(host, socket, &error, attempts), None)
        }
    }
}

/// Why the daemon did not answer.
enum Unreachable {
    /// It accepted the connection and said nothing for this long.
    Hung(Duration),
    /// The last error after this many attempts.
    Failed { error: String, attempts: u32 },
}

/// `/version` on one client, retrying transient failures (refused while starting, 5xx) for
/// a few seconds: the daemon and how many attempts it took.
async fn connect_with_retries(host: &str, deadline: Instant) -> Result<(Daemon, u32), Unreachable> {
    let retry_until = (Instant::now() + Duration::from_secs(5)).min(deadline);
    let mut backoff = Duration::from_millis(100);
    let mut attempts = 0;
    // One client for the run: connect_lazy opens nothing, each request dials the socket.
    let docker =
        client::connect_lazy(host, left(deadline)).map_err(|error| Unreachable::Failed {
            error: error.to_string(),
            attempts: 1,
        })?;
    loop {
        attempts += 1;
        let remaining = left(deadline);
        if remaining.is_zero() {
            return Err(Unreachable::Failed {
                error: format!("no answer from {host} before the deadline"),
                attempts,
            });
        }
        let tried = Instant::now();
        match attempt(&docker, host, remaining).await {
            Ok((docker, version)) => {
                let engine = Engine::from_version(&version);
                let daemon = Daemon {
                    docker,
                    version,
                    engine,
                };
                return Ok((daemon, attempts));
            }
            Err(Attempt::Hung) => return Err(Unreachable::Hung(tried.elapsed())),
            Err(Attempt::Transient(e)) if Instant::now() + backoff < retry_until => {
                log::debug!("docker.daemon: attempt {attempts} failed, retrying: {e}");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
            }
            Err(Attempt::Transient(error)) | Err(Attempt::Final(error)) => {
                return Err(Unreachable::Failed { error, attempts });
            }
        }
    }
}

/// The verdict on a daemon that could not be reached.
fn unreachable(host: &str, socket: &SocketFacts, last_error: &str, attempts: u32) -> Outcome {
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
    Outcome::fail(
        format!("cannot reach the daemon at {host}: {last_error}"),
        fixes,
    )
    .detail(format!("{attempts} attempt(s)"))
}

enum Attempt {
    /// Refused, reset, 5xx: worth another try soon.
    Transient(String),
    /// Accepted but never answered.
    Hung,
    Final(String),
}

/// One `/version` request (the negotiation and the version check in one, its answer
/// capped: [`client::version_bounded`]): the answer, and the client set to the API version
/// it names when that is older than bollard's.
async fn attempt(
    docker: &bollard::Docker,
    host: &str,
    remaining: Duration,
) -> Result<(bollard::Docker, bollard::models::SystemVersion), Attempt> {
    let version = match tokio::time::timeout(remaining, client::version_bounded(host)).await {
        Err(_) => return Err(Attempt::Hung),
        Ok(Err(e)) => return Err(classify_answer(&e.to_string())),
        Ok(Ok(v)) => v,
    };
    let api = version.api_version.clone().unwrap_or_default();
    let negotiated = client::at_api(docker.clone(), host, &api, remaining)
        .map_err(|e| Attempt::Final(e.to_string()))?;
    Ok((negotiated, version))
}

/// An answer [`client::version_bounded`] refused or a connection it could not make:
/// refused, reset, missing socket and 5xx are worth another try.
fn classify_answer(text: &str) -> Attempt {
    let lower = text.to_lowercase();
    if lower.contains("refused")
        || lower.contains("reset")
        || lower.contains("no such file")
        || lower.contains("http 5")
        || lower.contains("broken pipe")
    {
        Attempt::Transient(text.to_string())
    } else {
        Attempt::Final(text.to_string())
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
