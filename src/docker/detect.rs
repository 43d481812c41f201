//! Detecting the Docker install for `setup`: endpoint and why, the socket's owner, group and
//! mode, rootful or rootless, the flavour (Docker Desktop, colima, Podman, Rancher, OrbStack)
//! by socket, the engine and API version, and the compose tool.
//!
//! Uses the run's endpoint resolution. What can go wrong: Docker is not installed at all
//! (stop, with the distribution's install command as the hint), or the daemon is down
//! (setup continues with what does not need it; the final check reports it).

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::docker::client::ConnectError;
use crate::docker::endpoint::{self, Endpoint, EndpointError};
use crate::docker::engine::Engine;
use crate::system::hash::Stamp;
use crate::system::process::Process;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketMeta {
    pub path: PathBuf,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
}

/// Why the daemon did not answer the detection: no endpoint, or none answered there.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    #[error(transparent)]
    Connect(#[from] ConnectError),
}

/// Two connection errors are the same when they say the same (what a replan compares).
impl PartialEq for ConnectError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

#[derive(Debug, Clone)]
pub struct DockerInstall {
    pub endpoint: Result<Endpoint, EndpointError>,
    /// "Docker (rootful)", "colima", … by socket path.
    pub flavour: &'static str,
    pub socket: Option<SocketMeta>,
    /// The socket belongs to a non-root user (rootless Docker, Desktop, colima, …).
    pub rootless: bool,
    /// `(engine version, API version)` when the daemon answered.
    pub engine: Option<(String, String)>,
    /// Which engine answered: Docker Engine or Podman (Docker Engine when none did).
    pub engine_kind: crate::docker::engine::Engine,
    /// A connection at the negotiated API version, when the daemon answered.
    pub client: Option<bollard::Docker>,
    /// What the daemon's `/version` said, when it answered.
    pub version: Option<bollard::models::SystemVersion>,
    /// Why the daemon did not answer.
    pub daemon_error: Option<DaemonError>,
    /// "docker compose 2.x" or "docker-compose 1.29.2 (v1)".
    pub compose: Option<String>,
    pub cli: Option<PathBuf>,
}

impl DockerInstall {
    /// Nothing suggests Docker is installed: no CLI, no socket, no daemon.
    pub fn missing(&self) -> bool {
        self.cli.is_none() && self.socket.is_none() && self.engine.is_none()
    }

    /// One line for the plan and the step report.
    pub fn describe(&self) -> String {
        let host = match &self.endpoint {
            Ok(e) => format!("{} ({})", e.host, e.why()),
            Err(e) => e.to_string(),
        };
        let engine = match (&self.engine, &self.daemon_error) {
            (Some((v, api)), _) => match self.engine_kind {
                Engine::Docker => format!("Engine {v}, API {api}"),
                Engine::Podman => format!("Podman {v} (Docker API service), API {api}"),
            },
            (None, Some(e)) => format!("daemon not answering: {e}"),
            (None, None) => "daemon not checked".into(),
        };
        let compose = self
            .compose
            .clone()
            .unwrap_or_else(|| "no compose tool".into());
        let flavour = match (self.flavour, self.rootless, self.engine_kind) {
            (f, _, Engine::Podman) if f.starts_with("Podman") => f,
            (_, false, Engine::Podman) => "Podman (rootful)",
            (_, true, Engine::Podman) => "Podman (rootless)",
            ("Docker (rootful)", true, _) => "Docker (rootless)",
            (f, _, _) => f,
        };
        format!("{flavour}; {host}; {engine}; {compose}")
    }
}

pub fn socket_meta(path: &Path) -> Option<SocketMeta> {
    use std::os::unix::fs::FileTypeExt;
    let m = std::fs::metadata(path).ok()?;
    if !m.file_type().is_socket() {
        return None;
    }
    Some(SocketMeta {
        path: path.to_path_buf(),
        uid: m.uid(),
        gid: m.gid(),
        mode: m.permissions().mode() & 0o7777,
    })
}

/// Look at the machine. Spends at most `timeout` on the daemon and the compose tool.
pub async fn detect(process: &Process, home: &Path, timeout: Duration) -> DockerInstall {
    detect_at(
        process,
        home,
        endpoint::resolve(process, home),
        None,
        timeout,
    )
    .await
}

/// [`detect`] at an endpoint already resolved, reusing a daemon that already answered
/// (`known`: its client and `/version`) instead of connecting again.
pub async fn detect_at(
    process: &Process,
    home: &Path,
    resolved: Result<Endpoint, EndpointError>,
    known: Option<(bollard::Docker, bollard::models::SystemVersion)>,
    timeout: Duration,
) -> DockerInstall {
    let socket_path = resolved.as_ref().ok().and_then(Endpoint::socket_path);
    let socket = socket_path.as_deref().and_then(socket_meta);
    let flavour = socket_path
        .as_deref()
        .map(|p| endpoint::flavour(p, process, home))
        .unwrap_or("Docker (remote)");
    let rootless = socket.as_ref().is_some_and(|s| s.uid != 0);
    let deadline = tokio::time::Instant::now() + timeout;
    let daemon = async {
        if let Some((d, v)) = known {
            return (Some(v), Some(d), None);
        }
        let Ok(e) = &resolved else {
            return (None, None, resolved.clone().err().map(DaemonError::from));
        };
        match crate::docker::client::connect_with_version(
            &e.host,
            timeout.min(Duration::from_secs(10)),
        )
        .await
        {
            Ok((d, v)) => (Some(v), Some(d), None),
            Err(e) => (None, None, Some(e.into())),
        }
    };
    let compose = async {
        compose_tool(process, deadline).await.map(|t| {
            if t.v1 {
                format!("{} (v1, end of life)", t.name())
            } else {
                t.name()
            }
        })
    };
    let ((version, client, daemon_error), compose) = tokio::join!(daemon, compose);
    DockerInstall {
        endpoint: resolved,
        flavour,
        socket,
        rootless,
        engine: version.as_ref().map(|v| {
            (
                v.version.clone().unwrap_or_default(),
                v.api_version.clone().unwrap_or_default(),
            )
        }),
        engine_kind: version
            .as_ref()
            .map(Engine::from_version)
            .unwrap_or(Engine::Docker),
        version,
        client,
        daemon_error,
        compose,
        cli: process.which("docker"),
    }
}

/// The compose tool: `docker compose` (v2 plugin) or `docker-compose` (v1 script or v2
/// standalone binary).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeTool {
    pub program: PathBuf,
    /// Arguments before the compose arguments (`["compose"]` for the plugin).
    pub prefix: Vec<&'static str>,
    pub version: String,
    /// The Python docker-compose v1, end of life since 2023.
    pub v1: bool,
}

impl ComposeTool {
    /// `docker compose 2.29.1` or `docker-compose 1.29.2`.
    pub fn name(&self) -> String {
        if self.prefix.is_empty() {
            format!("docker-compose {}", self.version)
        } else {
            format!("docker compose {}", self.version)
        }
    }
}

/// Where the docker CLI looks for the compose plugin, in its order: `$DOCKER_CONFIG` (else
/// `~/.docker`) `/cli-plugins`, then the system plugin dirs. As root, root's own (database)
/// home and only a root-only `$DOCKER_CONFIG`: never a user's, whatever `$HOME` says.
fn compose_plugin_dirs(process: &Process) -> Vec<PathBuf> {
    let root = nix::unistd::Uid::effective().is_root();
    let home = if root {
        crate::system::identity::database_home()
    } else {
        process.var_nonempty("HOME").map(PathBuf::from)
    };
    let mut plugin_dirs: Vec<PathBuf> = Vec::new();
    match process
        .var_nonempty("DOCKER_CONFIG")
        .map(PathBuf::from)
        .filter(|c| !root || crate::system::identity::root_only_dir(c))
    {
        Some(cfg) => plugin_dirs.push(cfg.join("cli-plugins")),
        None => {
            if let Some(h) = &home {
                plugin_dirs.push(h.join(".docker/cli-plugins"));
            }
        }
    }
    for d in [
        "/usr/local/lib/docker/cli-plugins",
        "/usr/local/libexec/docker/cli-plugins",
        "/usr/lib/docker/cli-plugins",
        "/usr/libexec/docker/cli-plugins",
    ] {
        plugin_dirs.push(PathBuf::from(d));
    }
    plugin_dirs
}

/// What identifies the compose tool [`compose_tool`] would pick, without starting anything:
/// the paths of the docker CLI and the plugin (or of `docker-compose`) with their
/// [`Stamp`]s. A tool that is replaced or upgraded changes it. `None`
/// when no tool is there. (Hashing a 70 MB plugin on every run would cost more than the
/// validation it saves.)
pub fn compose_fingerprint(process: &Process) -> Option<String> {
    let stat = |p: &Path| Stamp::of_path(p).map(|s| format!("{} {s}", p.display()));
    let plugin = compose_plugin_dirs(process)
        .into_iter()
        .map(|d| d.join("docker-compose"))
        .find(|p| crate::system::process::is_executable(p));
    let docker = process.which("docker");
    let standalone = process.which("docker-compose");
    let parts: Vec<String> = [
        plugin.as_deref().and_then(stat),
        docker.as_deref().and_then(stat),
        standalone.as_deref().and_then(stat),
    ]
    .into_iter()
    .map(|p| p.unwrap_or_else(|| "-".into()))
    .collect();
    (plugin.is_some() || standalone.is_some()).then(|| parts.join("\n"))
}

/// Find the compose tool. Spawns a program only for a real v2 binary (fast); the Python v1
/// is recognised from its entry script, since starting Python costs half a second.
pub async fn compose_tool(
    process: &Process,
    deadline: tokio::time::Instant,
) -> Option<ComposeTool> {
    use crate::system::program::{first_version, run_program};
    let plugin_dirs = compose_plugin_dirs(process);
    let has_plugin = plugin_dirs
        .iter()
        .any(|d| crate::system::process::is_executable(&d.join("docker-compose")));
    if has_plugin
        && let Some(docker) = process.which("docker")
        && let Ok(r) = run_program(&docker, &["compose", "version"], &[], None, deadline).await
        && r.ok()
    {
        return Some(ComposeTool {
            program: docker,
            prefix: vec!["compose"],
            version: first_version(&r.stdout).unwrap_or_else(|| "unknown".into()),
            v1: false,
        });
    }
    let standalone = process.which("docker-compose")?;
    let head = read_head(&standalone);
    if head.starts_with(b"#!") {
        // The Python v1: its entry script names its version.
        let text = String::from_utf8_lossy(&head);
        let version = text
            .split("docker-compose==")
            .nth(1)
            .and_then(|rest| first_version(&rest.replace(['\'', '"', ','], " ")))
            .unwrap_or_else(|| "1.x".into());
        return Some(ComposeTool {
            program: standalone,
            prefix: vec![],
            v1: version.starts_with('1'),
            version,
        });
    }
    let r = run_program(&standalone, &["version", "--short"], &[], None, deadline)
        .await
        .ok()
        .filter(|r| r.ok())?;
    let version = first_version(&r.stdout).unwrap_or_else(|| r.stdout.trim().to_string());
    Some(ComposeTool {
        program: standalone,
        prefix: vec![],
        v1: version.starts_with("1."),
        version,
    })
}

fn read_head(path: &Path) -> Vec<u8> {
    use std::io::Read;
    let mut buf = vec![0u8; 512];
    let opened = crate::system::files::open_regular(path, crate::system::files::MAX_HASH)
        .ok()
        .flatten()
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound));
    match opened.and_then(|mut f| f.read(&mut buf)) {
        Ok(n) => {
            buf.truncate(n);
            buf
        }
        Err(_) => Vec::new(),
    }
}

/// The command that installs Docker on this distribution (from `/etc/os-release`).
pub fn install_hint() -> String {
    let os = crate::system::files::read_bounded(
        Path::new("/etc/os-release"),
        crate::system::files::MAX_READ,
    )
    .ok()
    .flatten()
    .map(|b| String::from_utf8_lossy(&b).into_owned())
    .unwrap_or_default();
    install_hint_for(&os)
}

pub fn install_hint_for(os_release: &str) -> String {
    let field = |k: &str| {
        os_release
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(|v| v.trim_matches('"').to_lowercase())
            .unwrap_or_default()
    };
    let ids = format!("{} {}", field("ID"), field("ID_LIKE"));
    let has = |s: &str| ids.split_whitespace().any(|w| w == s);
    if has("debian") || has("ubuntu") {
        "install Docker: sudo apt-get install -y docker.io docker-compose (or Docker's own repository: https://docs.docker.com/engine/install/)".into()
    } else if has("fedora") || has("rhel") || has("centos") {
        "install Docker: sudo dnf install -y moby-engine docker-compose (or https://docs.docker.com/engine/install/)".into()
    } else if has("arch") {
        "install Docker: sudo pacman -S docker docker-compose".into()
    } else if has("alpine") {
        "install Docker: sudo apk add docker docker-cli-compose".into()
    } else if has("opensuse") || has("suse") {
        "install Docker: sudo zypper install docker docker-compose".into()
    } else {
        "install Docker: https://docs.docker.com/engine/install/".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_hint_follows_the_distribution() {
        assert!(install_hint_for("ID=debian\n").contains("apt-get"));
        assert!(install_hint_for("ID=pop\nID_LIKE=\"ubuntu debian\"\n").contains("apt-get"));
        assert!(install_hint_for("ID=fedora\n").contains("dnf"));
        assert!(install_hint_for("ID=arch\n").contains("pacman"));
        assert!(install_hint_for("").contains("docs.docker.com"));
    }

    #[tokio::test]
    async fn an_absent_socket_is_reported_without_waiting() {
        let p = Process::with_vars([("DOCKER_HOST", "unix:///nonexistent/actsim.sock")]);
        let start = std::time::Instant::now();
        let d = detect(&p, Path::new("/nonexistent"), Duration::from_secs(5)).await;
        assert!(d.socket.is_none());
        assert!(d.engine.is_none());
        assert!(d.daemon_error.unwrap().to_string().contains("nonexistent"));
        assert!(start.elapsed() < Duration::from_secs(4));
    }
}
