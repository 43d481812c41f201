//! Where the daemon is, resolved exactly the way the docker CLI does — and the way act does.
//!
//! docker CLI: a non-empty `DOCKER_HOST`, then the context named by `DOCKER_CONTEXT` or by
//! `currentContext` in `$DOCKER_CONFIG/config.json` (its endpoint is in
//! `contexts/meta/<sha256(name)>/meta.json`), then `unix:///var/run/docker.sock`.
//! act: `DOCKER_HOST` when set at all, contexts ignored, then the first path of its own list
//! that `lstat` finds (a dangling symlink counts, which is how act ends up on a dead socket).
//! What can go wrong: an unreadable config, a context whose meta file is missing.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::system::process::Process;

pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `DOCKER_HOST`.
    Env,
    /// A docker context other than `default`, and where its name came from.
    Context { name: String, from: String },
    /// Nothing configured: the built-in default.
    Default,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The daemon address, e.g. `unix:///var/run/docker.sock` or `tcp://host:2375`.
    pub host: String,
    pub source: Source,
    /// Things worth a warning (e.g. `DOCKER_HOST` set but empty).
    pub warnings: Vec<String>,
}

impl Endpoint {
    /// The socket path for a `unix://` endpoint.
    pub fn socket_path(&self) -> Option<PathBuf> {
        unix_path(&self.host)
    }

    /// "DOCKER_HOST", "context colima (DOCKER_CONTEXT)", "default".
    pub fn why(&self) -> String {
        match &self.source {
            Source::Env => "from DOCKER_HOST".to_string(),
            Source::Context { name, from } => format!("from docker context {name} ({from})"),
            Source::Default => "the default; no DOCKER_HOST or docker context set".to_string(),
        }
    }
}

/// The path of a `unix://` address (or of a bare absolute path).
pub fn unix_path(host: &str) -> Option<PathBuf> {
    if let Some(rest) = host.strip_prefix("unix://") {
        Some(PathBuf::from(rest))
    } else if host.starts_with('/') {
        Some(PathBuf::from(host))
    } else {
        None
    }
}

/// `$DOCKER_CONFIG`, else `~/.docker`. As root, `$DOCKER_CONFIG` counts only when it names
/// a root-owned directory nobody else can write (`sudo -E` may carry a user's).
pub fn docker_config_dir(process: &Process, home: &Path) -> PathBuf {
    let roots = |p: &PathBuf| {
        !nix::unistd::Uid::effective().is_root() || crate::system::identity::root_only_dir(p)
    };
    process
        .var_nonempty("DOCKER_CONFIG")
        .map(PathBuf::from)
        .filter(roots)
        .unwrap_or_else(|| home.join(".docker"))
}

/// Why the docker CLI's configuration names no usable endpoint (a broken context).
/// `Clone` (sources behind `Arc`): a run resolves the endpoint once and shares the result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EndpointError {
    #[error("reading {}: {source}", .path.display())]
    ReadConfig {
        path: PathBuf,
        #[source]
        source: Arc<crate::error::Error>,
    },
    #[error("{} is not valid JSON: {source}", .path.display())]
    NotJson {
        path: PathBuf,
        #[source]
        source: Arc<serde_json::Error>,
    },
    #[error("docker context {name} ({from}) has no readable meta file {}: {source}", .meta.display())]
    NoMeta {
        name: String,
        from: String,
        meta: PathBuf,
        #[source]
        source: Arc<crate::error::Error>,
    },
    #[error("{} has no Endpoints.docker.Host", .0.display())]
    NoHost(PathBuf),
}

/// Two errors are the same when they say the same (what a replan compares).
impl PartialEq for EndpointError {
    fn eq(&self, other: &Self) -> bool {
        self.to_string() == other.to_string()
    }
}

/// The message, for callers that keep errors as text.
impl From<EndpointError> for String {
    fn from(e: EndpointError) -> String {
        e.to_string()
    }
}

/// Resolve the daemon endpoint as the docker CLI would. `Err` explains a broken context
/// ([`EndpointError`]'s line: the form the run shares, see `Context::endpoint`).
/// Logs one `resolved the Docker endpoint` debug line (a run resolves it once).
pub fn resolve(process: &Process, home: &Path) -> Result<Endpoint, EndpointError> {
    let resolved = resolve_quietly(process, home);
    match &resolved {
        Ok(e) => log::debug!("resolved the Docker endpoint: {} ({})", e.host, e.why()),
        Err(e) => log::debug!("resolved the Docker endpoint: none: {e}"),
    }
    resolved
}

fn resolve_quietly(process: &Process, home: &Path) -> Result<Endpoint, EndpointError> {
    let mut warnings = Vec::new();
    match process.var("DOCKER_HOST") {
        Some(h) if !h.trim().is_empty() => {
            return Ok(Endpoint {
                host: h.trim().to_string(),
                source: Source::Env,
                warnings,
            });
        }
        Some(_) => warnings.push(
            "DOCKER_HOST is set but empty: docker ignores it, but act and other tools may not; \
             unset it (unset DOCKER_HOST) or give it a value"
                .to_string(),
        ),
        None => {}
    }
    let config_dir = docker_config_dir(process, home);
    let (name, from) = match process.var_nonempty("DOCKER_CONTEXT") {
        Some(name) => (name.to_string(), "DOCKER_CONTEXT".to_string()),
        None => match current_context(&config_dir.join("config.json"))? {
            Some(name) => (
                name,
                format!(
                    "currentContext in {}",
                    config_dir.join("config.json").display()
                ),
            ),
            None => ("default".to_string(), String::new()),
        },
    };
    if name == "default" {
        return Ok(Endpoint {
            host: DEFAULT_HOST.to_string(),
            source: Source::Default,
            warnings,
        });
    }
    let meta = context_meta_path(&config_dir, &name);
    let text = crate::system::files::read_bounded(&meta, crate::system::files::MAX_READ)
        .and_then(|t| t.ok_or_else(|| crate::error::Error::failed("no such file", None)))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .map_err(|source| EndpointError::NoMeta {
            name: name.clone(),
            from: from.clone(),
            meta: meta.clone(),
            source: Arc::new(source),
        })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| EndpointError::NotJson {
            path: meta.clone(),
            source: Arc::new(source),
        })?;
    let host = json
        .pointer("/Endpoints/docker/Host")
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty())
        .ok_or_else(|| EndpointError::NoHost(meta.clone()))?;
    Ok(Endpoint {
        host: host.to_string(),
        source: Source::Context { name, from },
        warnings,
    })
}

/// `currentContext` of a docker `config.json`; `None` when the file or field is absent.
fn current_context(config_json: &Path) -> Result<Option<String>, EndpointError> {
    let text = match crate::system::files::read_bounded(config_json, crate::system::files::MAX_READ)
    {
        Ok(Some(t)) => String::from_utf8_lossy(&t).into_owned(),
        Ok(None) => return Ok(None),
        Err(source) => {
            return Err(EndpointError::ReadConfig {
                path: config_json.to_path_buf(),
                source: Arc::new(source),
            });
        }
    };
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|source| EndpointError::NotJson {
            path: config_json.to_path_buf(),
            source: Arc::new(source),
        })?;
    Ok(json
        .get("currentContext")
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
        .map(str::to_string))
}

/// `<config>/contexts/meta/<sha256 hex of name>/meta.json`.
pub fn context_meta_path(config_dir: &Path, name: &str) -> PathBuf {
    let digest = hex::encode(Sha256::digest(name.as_bytes()));
    config_dir
        .join("contexts")
        .join("meta")
        .join(digest)
        .join("meta.json")
}

/// A well-known socket location and what is there now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownSocket {
    pub label: &'static str,
    pub path: PathBuf,
    pub state: SocketState,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketState {
    Socket,
    /// Exists but is not a socket (a file, a directory).
    NotSocket,
    /// A symlink whose target does not exist.
    Dangling(PathBuf),
    Absent,
}

pub fn socket_state(path: &Path) -> SocketState {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::symlink_metadata(path) {
        Err(_) => SocketState::Absent,
        Ok(m) if m.file_type().is_symlink() => match std::fs::metadata(path) {
            Ok(t) if t.file_type().is_socket() => SocketState::Socket,
            Ok(_) => SocketState::NotSocket,
            Err(_) => SocketState::Dangling(std::fs::read_link(path).unwrap_or_default()),
        },
        Ok(m) if m.file_type().is_socket() => SocketState::Socket,
        Ok(_) => SocketState::NotSocket,
    }
}

/// Every well-known socket location (Docker rootful and rootless, Desktop, colima, Rancher,
/// OrbStack, Podman), with what is there.
pub fn known_sockets(process: &Process, home: &Path) -> Vec<KnownSocket> {
    let runtime = process.var_nonempty("XDG_RUNTIME_DIR").map(PathBuf::from);
    let mut list: Vec<(&'static str, PathBuf)> =
        vec![("Docker (rootful)", PathBuf::from("/var/run/docker.sock"))];
    if let Some(r) = &runtime {
        list.push(("Docker (rootless)", r.join("docker.sock")));
    }
    list.extend([
        ("Docker Desktop", home.join(".docker/run/docker.sock")),
        ("colima", home.join(".colima/default/docker.sock")),
        ("colima (legacy)", home.join(".colima/docker.sock")),
        ("Rancher Desktop", home.join(".rd/docker.sock")),
        ("OrbStack", home.join(".orbstack/run/docker.sock")),
        ("Podman (rootful)", PathBuf::from("/run/podman/podman.sock")),
    ]);
    if let Some(r) = &runtime {
        list.push(("Podman (rootless)", r.join("podman/podman.sock")));
    }
    list.into_iter()
        .map(|(label, path)| KnownSocket {
            label,
            state: socket_state(&path),
            path,
        })
        .collect()
}

/// The kind of Docker install a socket path suggests.
pub fn flavour(path: &Path, process: &Process, home: &Path) -> &'static str {
    known_sockets(process, home)
        .into_iter()
        .find(|k| k.path == path)
        .map(|k| k.label)
        .unwrap_or("Docker (custom socket)")
}

/// What act will connect to, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActEndpoint {
    pub host: Option<String>,
    pub why: String,
}

/// act's resolution: `DOCKER_HOST` when set at all; contexts are ignored; then the first
/// path in act's list that `lstat` finds (dangling symlinks included).
pub fn act_endpoint(process: &Process, home: &Path) -> ActEndpoint {
    if let Some(h) = process.var("DOCKER_HOST") {
        return ActEndpoint {
            host: Some(h.to_string()),
            why: "DOCKER_HOST".to_string(),
        };
    }
    let runtime = process.var("XDG_RUNTIME_DIR").unwrap_or("");
    // act's CommonSocketLocations, in its order, expanded as os.ExpandEnv would.
    let candidates = [
        "/var/run/docker.sock".to_string(),
        "/run/podman/podman.sock".to_string(),
        format!("{}/.colima/docker.sock", home.display()),
        format!("{runtime}/docker.sock"),
        format!("{runtime}/podman/podman.sock"),
        format!("{}/.docker/run/docker.sock", home.display()),
    ];
    for c in candidates {
        if std::fs::symlink_metadata(&c).is_ok() {
            return ActEndpoint {
                host: Some(format!("unix://{c}")),
                why: "the first of act's socket paths that exists".to_string(),
            };
        }
    }
    ActEndpoint {
        host: None,
        why: "no DOCKER_HOST and none of act's socket paths exists".to_string(),
    }
}

/// Two daemon addresses name the same place (`unix:///a` vs `/a`, symlinks resolved).
pub fn same_host(a: &str, b: &str) -> bool {
    match (unix_path(a), unix_path(b)) {
        (Some(pa), Some(pb)) => {
            let ca = std::fs::canonicalize(&pa).unwrap_or(pa);
            let cb = std::fs::canonicalize(&pb).unwrap_or(pb);
            ca == cb
        }
        _ => a.trim_end_matches('/') == b.trim_end_matches('/'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> PathBuf {
        let prefix = format!("actsim-ep-{name}-");
        tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir()
            .unwrap()
            .keep()
    }

    #[test]
    fn docker_host_wins() {
        let p = Process::with_vars([
            ("DOCKER_HOST", "tcp://10.0.0.1:2375"),
            ("DOCKER_CONTEXT", "x"),
        ]);
        let e = resolve(&p, Path::new("/nonexistent")).unwrap();
        assert_eq!(e.host, "tcp://10.0.0.1:2375");
        assert_eq!(e.source, Source::Env);
        assert_eq!(e.socket_path(), None);
    }

    #[test]
    fn empty_docker_host_warns_and_falls_through() {
        let p = Process::with_vars([("DOCKER_HOST", "")]);
        let e = resolve(&p, Path::new("/nonexistent")).unwrap();
        assert_eq!(e.host, DEFAULT_HOST);
        assert_eq!(e.source, Source::Default);
        assert!(e.warnings[0].contains("set but empty"));
    }

    #[test]
    fn current_context_from_config_and_env() {
        let home = tmp("ctx");
        let cfg = home.join(".docker");
        std::fs::create_dir_all(&cfg).unwrap();
        std::fs::write(cfg.join("config.json"), r#"{"currentContext":"colima"}"#).unwrap();
        let meta = context_meta_path(&cfg, "colima");
        std::fs::create_dir_all(meta.parent().unwrap()).unwrap();
        std::fs::write(
            &meta,
            r#"{"Name":"colima","Endpoints":{"docker":{"Host":"unix:///tmp/colima.sock"}}}"#,
        )
        .unwrap();
        let p = Process::with_vars([]);
        let e = resolve(&p, &home).unwrap();
        assert_eq!(e.host, "unix:///tmp/colima.sock");
        assert!(matches!(&e.source, Source::Context { name, .. } if name == "colima"));
        // DOCKER_CONTEXT=default overrides the config file.
        let p = Process::with_vars([("DOCKER_CONTEXT", "default")]);
        assert_eq!(resolve(&p, &home).unwrap().host, DEFAULT_HOST);
        // A context without meta is an error that names it.
        let p = Process::with_vars([("DOCKER_CONTEXT", "ghost")]);
        let err = resolve(&p, &home).unwrap_err().to_string();
        assert!(err.contains("ghost"), "{err}");
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn meta_path_is_sha256_of_the_name() {
        // sha256("colima")
        let p = context_meta_path(Path::new("/c"), "colima");
        let digest = hex::encode(Sha256::digest(b"colima"));
        assert_eq!(
            p,
            PathBuf::from(format!("/c/contexts/meta/{digest}/meta.json"))
        );
    }

    #[test]
    fn act_takes_docker_host_even_empty_and_ignores_contexts() {
        let p = Process::with_vars([("DOCKER_HOST", ""), ("DOCKER_CONTEXT", "colima")]);
        let a = act_endpoint(&p, Path::new("/nonexistent"));
        assert_eq!(a.host.as_deref(), Some(""));
    }

    #[test]
    fn act_counts_dangling_symlinks() {
        let home = tmp("dangling");
        let run = home.join(".docker/run");
        std::fs::create_dir_all(&run).unwrap();
        std::os::unix::fs::symlink("/nonexistent/sock", run.join("docker.sock")).unwrap();
        assert!(matches!(
            socket_state(&run.join("docker.sock")),
            SocketState::Dangling(_)
        ));
        let p = Process::with_vars([("XDG_RUNTIME_DIR", "/nonexistent-runtime")]);
        let a = act_endpoint(&p, &home);
        if std::fs::symlink_metadata("/var/run/docker.sock").is_err()
            && std::fs::symlink_metadata("/run/podman/podman.sock").is_err()
        {
            assert_eq!(
                a.host.unwrap(),
                format!("unix://{}", run.join("docker.sock").display())
            );
        }
        let known = known_sockets(&p, &home);
        let desktop = known.iter().find(|k| k.label == "Docker Desktop").unwrap();
        assert!(matches!(desktop.state, SocketState::Dangling(_)));
        std::fs::remove_dir_all(&home).unwrap();
    }

    #[test]
    fn same_host_normalises_unix_forms() {
        assert!(same_host(
            "unix:///var/run/docker.sock",
            "/var/run/docker.sock"
        ));
        assert!(!same_host("unix:///a.sock", "unix:///b.sock"));
        assert!(same_host("tcp://h:1/", "tcp://h:1"));
    }
}
