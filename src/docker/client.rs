//! Connecting to the daemon with bollard, always at a negotiated API version.
//!
//! bollard talks at its own newest API unless told otherwise; an older daemon refuses that,
//! so every connection calls `negotiate_version()`. Every call is wrapped in a deadline by
//! the caller; `timeout_secs` here is bollard's own per-request limit.
//!
//! What can go wrong: no socket at the path, an address scheme bollard cannot use (ssh://),
//! a daemon that accepts and never answers (the caller's deadline ends it); errors come back
//! as a [`ConnectError`] whose line has no Rust debug noise ([`describe`]).

use std::sync::Arc;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, Docker};

/// Connect (without any request) to `host`: `unix://`, a bare path, `tcp://` or `http://`.
/// Logs one `connecting to the Docker daemon` debug line: a run connects once and shares
/// the client (see `Context::daemon`).
pub fn connect_lazy(host: &str, timeout: Duration) -> Result<Docker, ConnectError> {
    log::debug!("connecting to the Docker daemon at {host}");
    let secs = timeout.as_secs().max(1);
    if let Some(path) = super::endpoint::unix_path(host) {
        let path = path.to_string_lossy().to_string();
        Docker::connect_with_unix(&path, secs, API_DEFAULT_VERSION).map_err(|e| {
            ConnectError::Socket {
                path,
                source: Arc::new(e),
            }
        })
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, secs, API_DEFAULT_VERSION).map_err(|e| ConnectError::Http {
            host: host.to_string(),
            source: Arc::new(e),
        })
    } else {
        Err(ConnectError::Scheme(host.to_string()))
    }
}

/// `docker` talking at `api` (`"1.41"`, what the daemon's `/version` said) when that is
/// older than bollard's own API, else as it is: the negotiation of [`connect`] for a caller
/// that already holds the daemon's `/version` answer. The same client, so a run connects
/// once ([`connect_lazy`]'s one log line); an older daemon costs one more `/version`.
pub async fn at_api(docker: Docker, api: &str, timeout: Duration) -> Result<Docker, ConnectError> {
    let not_understood = || ConnectError::Api(api.to_string());
    let (major, minor) = api.split_once('.').ok_or_else(not_understood)?;
    let (Ok(major), Ok(minor)) = (major.parse::<usize>(), minor.parse::<usize>()) else {
        return Err(not_understood());
    };
    let ours = (
        API_DEFAULT_VERSION.major_version,
        API_DEFAULT_VERSION.minor_version,
    );
    if (major, minor) >= ours {
        return Ok(docker);
    }
    log::debug!("the daemon speaks API {api}, older than bollard's: negotiating");
    match tokio::time::timeout(timeout, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(ConnectError::request(e)),
        Err(_) => Err(ConnectError::Late {
            secs: timeout.as_secs_f32(),
        }),
    }
}

/// Why no daemon answered. `Clone` (sources behind `Arc`): a detection keeps it and the
/// plan shows it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectError {
    /// bollard cannot use the socket path.
    #[error("cannot use socket {path}: {source}")]
    Socket {
        path: String,
        #[source]
        source: Arc<bollard::errors::Error>,
    },
    /// bollard cannot use the `tcp://` or `http://` address.
    #[error("cannot use {host}: {source}")]
    Http {
        host: String,
        #[source]
        source: Arc<bollard::errors::Error>,
    },
    /// A scheme actsim does not speak (`ssh://`, `npipe://`).
    #[error("unsupported daemon address {0}: actsim talks to unix:// and tcp:// endpoints")]
    Scheme(String),
    /// The daemon's `/version` named an API version that is not `MAJOR.MINOR`.
    #[error("the daemon's API version {0:?} is not understood")]
    Api(String),
    /// The daemon answered the request with an error ([`describe`]'s line).
    #[error("{}", describe(.0))]
    Request(Arc<bollard::errors::Error>),
    /// The negotiation of an older API got no answer in time.
    #[error("the daemon did not answer within {secs}s")]
    Late { secs: f32 },
    /// The daemon accepted the connection and said nothing in time.
    #[error("the daemon at {host} accepted the connection but did not answer within {secs}s")]
    Silent { host: String, secs: f32 },
}

impl ConnectError {
    fn request(e: bollard::errors::Error) -> Self {
        ConnectError::Request(Arc::new(e))
    }
}

/// The message, for callers that keep errors as text.
impl From<ConnectError> for String {
    fn from(e: ConnectError) -> String {
        e.to_string()
    }
}

/// Connect and negotiate the API version (one `/version` request).
pub async fn connect(host: &str, timeout: Duration) -> Result<Docker, ConnectError> {
    let docker = connect_lazy(host, timeout)?;
    match tokio::time::timeout(timeout, docker.negotiate_version()).await {
        Ok(Ok(d)) => Ok(d),
        Ok(Err(e)) => Err(ConnectError::request(e)),
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
    let docker = connect_lazy(host, timeout)?;
    let version = match tokio::time::timeout(timeout, docker.version()).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(ConnectError::request(e)),
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
        at_api(docker, &api, timeout).await?
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
