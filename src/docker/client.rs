//! Connecting to the daemon with bollard, always at a negotiated API version.
//!
//! bollard talks at its own newest API unless told otherwise; an older daemon refuses that,
//! so every connection calls `negotiate_version()`. Every call is wrapped in a deadline by
//! the caller; `timeout_secs` here is bollard's own per-request limit.
//!
//! What can go wrong: no socket at the path, an address scheme bollard cannot use (ssh://),
//! a daemon that accepts and never answers (the caller's deadline ends it); errors come back
//! as one line without Rust debug noise ([`describe`]); [`connect`]'s as a [`ConnectError`].

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

/// Why no daemon answered.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The address is not usable ([`connect_lazy`]'s line: no socket, a scheme bollard
    /// cannot use, an API version not understood).
    #[error("{0}")]
    Address(String),
    /// The daemon answered the request with an error ([`describe`]'s line).
    #[error("{0}")]
    Request(String),
    /// The daemon accepted the connection and said nothing in time.
    #[error("the daemon at {host} accepted the connection but did not answer within {secs}s")]
    Silent { host: String, secs: f32 },
}

/// The message, for callers that keep errors as text.
impl From<ConnectError> for String {
    fn from(e: ConnectError) -> String {
        e.to_string()
    }
}

/// Connect and negotiate the API version (one `/version` request).
pub async fn connect(host: &str, timeout: Duration) -> Result<Docker, ConnectError> {
    let docker = connect_lazy(host, timeout).map_err(ConnectError::Address)?;
    match tokio::time::timeout(timeout, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(ConnectError::Request(describe(&e))),
        Err(_) => Err(ConnectError::Silent {
            host: host.to_string(),
            secs: timeout.as_secs_f32(),
        }),
    }
}

/// Connect and ask `/version` (one request), then talk at the API version the daemon
/// speaks: the client, and what the daemon said.
pub async fn connect_with_version(
    host: &str,
    timeout: Duration,
) -> Result<(Docker, bollard::models::SystemVersion), ConnectError> {
    let docker = connect_lazy(host, timeout).map_err(ConnectError::Address)?;
    let version = match tokio::time::timeout(timeout, docker.version()).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(ConnectError::Request(describe(&e))),
        Err(_) => {
            return Err(ConnectError::Silent {
                host: host.to_string(),
                secs: timeout.as_secs_f32(),
            });
        }
    };
    let api = version.api_version.clone().unwrap_or_default();
    let docker = if api.is_empty() {
        docker
    } else {
        connect_at_api(host, timeout, &api).map_err(ConnectError::Address)?
    };
    Ok((docker, version))
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
        B::HyperResponseError { err } => crate::error::chain(err),
        other => crate::error::chain(other),
    }
}
