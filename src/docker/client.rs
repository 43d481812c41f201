//! Connecting to the daemon with bollard, always at a negotiated API version.
//!
//! bollard talks at its own newest API unless told otherwise; an older daemon refuses that,
//! so every connection calls `negotiate_version()`. Every call is wrapped in a deadline by
//! the caller; `timeout_secs` here is bollard's own per-request limit.
//!
//! What can go wrong: no socket at the path, an address scheme bollard cannot use (ssh://),
//! a daemon that accepts and never answers (the caller's deadline ends it); errors come back
//! as one line without Rust debug noise ([`describe`]).

use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

/// Connect (without any request) to `host`: `unix://`, a bare path, `tcp://` or `http://`.
/// Logs one `connecting to the Docker daemon` debug line: a run connects once and shares
/// the client (see `Context::daemon`).
pub fn connect_lazy(host: &str, timeout: Duration) -> Result<Docker, String> {
    log::debug!("connecting to the Docker daemon at {host}");
    let secs = timeout.as_secs().max(1);
    if let Some(path) = super::endpoint::unix_path(host) {
        let path = path.to_string_lossy().to_string();
        Docker::connect_with_unix(&path, secs, API_DEFAULT_VERSION)
            .map_err(|e| format!("cannot use socket {path}: {e}"))
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, secs, API_DEFAULT_VERSION)
            .map_err(|e| format!("cannot use {host}: {e}"))
    } else {
        Err(format!(
            "unsupported daemon address {host}: actsim talks to unix:// and tcp:// endpoints"
        ))
    }
}

/// A connection (no request) at `api` (`"1.41"`) when the daemon's API is older than
/// bollard's own, else at bollard's: the negotiation of [`connect`] when the caller already
/// holds the daemon's `/version` answer, so it costs no second request.
pub fn connect_at_api(host: &str, timeout: Duration, api: &str) -> Result<Docker, String> {
    log::debug!("connecting to the Docker daemon at {host} (API {api})");
    let secs = timeout.as_secs().max(1);
    let version = match api.split_once('.') {
        Some((a, b)) => match (a.parse::<usize>(), b.parse::<usize>()) {
            (Ok(major), Ok(minor)) => bollard::ClientVersion {
                major_version: major,
                minor_version: minor,
            },
            _ => {
                return Err(format!(
                    "the daemon's API version {api:?} is not understood"
                ));
            }
        },
        None => {
            return Err(format!(
                "the daemon's API version {api:?} is not understood"
            ));
        }
    };
    let version = if (version.major_version, version.minor_version)
        < (
            API_DEFAULT_VERSION.major_version,
            API_DEFAULT_VERSION.minor_version,
        ) {
        version
    } else {
        *API_DEFAULT_VERSION
    };
    if let Some(path) = super::endpoint::unix_path(host) {
        let path = path.to_string_lossy().to_string();
        Docker::connect_with_unix(&path, secs, &version)
            .map_err(|e| format!("cannot use socket {path}: {e}"))
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, secs, &version)
            .map_err(|e| format!("cannot use {host}: {e}"))
    } else {
        Err(format!(
            "unsupported daemon address {host}: actsim talks to unix:// and tcp:// endpoints"
        ))
    }
}

/// Connect and negotiate the API version (one `/version` request).
pub async fn connect(host: &str, timeout: Duration) -> Result<Docker, String> {
    let docker = connect_lazy(host, timeout)?;
    match tokio::time::timeout(timeout, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(describe(&e)),
        Err(_) => Err(format!(
            "the daemon at {host} accepted the connection but did not answer within {}s",
            timeout.as_secs_f32()
        )),
    }
}

/// A one-line description of a bollard error, without Rust debug noise.
pub fn describe(e: &bollard::errors::Error) -> String {
    use bollard::errors::Error as B;
    match e {
        B::DockerResponseServerError {
            status_code,
            message,
        } => format!("daemon answered HTTP {status_code}: {}", message.trim()),
        B::SocketNotFoundError(p) => format!("no socket at {p}"),
        B::HyperResponseError { err } => {
            let mut msg = err.to_string();
            let mut src = std::error::Error::source(err);
            while let Some(s) = src {
                msg = format!("{msg}: {s}");
                src = s.source();
            }
            msg
        }
        other => {
            let mut msg = other.to_string();
            let mut src = std::error::Error::source(other);
            while let Some(s) = src {
                let s_text = s.to_string();
                if !msg.contains(&s_text) {
                    msg = format!("{msg}: {s_text}");
                }
                src = s.source();
            }
            msg
        }
    }
}
