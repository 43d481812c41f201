//! Connecting to the daemon with bollard, always at a negotiated API version.
//!
//! bollard talks at its own newest API unless told otherwise; an older daemon refuses that,
//! so every connection calls `negotiate_version()`. Every call is wrapped in a deadline by
//! the caller; `timeout_secs` here is bollard's own per-request limit.
//!
//! The first request to a daemon, `/version`, is read by [`version_bounded`] with its body
//! capped at [`MAX_ANSWER`] (bollard reads a whole answer into memory: a daemon whose
//! answer never ends grew `doctor --timeout 5` to 1.4 GB), and an older daemon's API is set
//! by reconnecting at it, not by bollard's second, unbounded `/version`.
//!
//! What can go wrong: no socket at the path, an address scheme bollard cannot use (ssh://),
//! a daemon that accepts and never answers (the caller's deadline ends it), an answer over
//! the cap or not JSON; errors come back as a [`ConnectError`] whose line has no Rust debug
//! noise ([`describe`]).

use std::sync::Arc;
use std::time::Duration;

use bollard::{API_DEFAULT_VERSION, ClientVersion, Docker};

/// The largest `/version` answer read.
pub const MAX_ANSWER: usize = 1 << 20;

/// Connect (without any request) to `host`: `unix://`, a bare path, `tcp://` or `http://`.
/// Logs one `connecting to the Docker daemon` debug line: a run connects once and shares
/// the client (see `Context::daemon`).
pub fn connect_lazy(host: &str, timeout: Duration) -> Result<Docker, ConnectError> {
    log::debug!("connecting to the Docker daemon at {host}");
    connect_at(host, timeout, API_DEFAULT_VERSION)
}

/// The client for `host` talking at `api`.
fn connect_at(host: &str, timeout: Duration, api: &ClientVersion) -> Result<Docker, ConnectError> {
    let secs = timeout.as_secs().max(1);
    if let Some(path) = super::endpoint::unix_path(host) {
        let path = path.to_string_lossy().to_string();
        Docker::connect_with_unix(&path, secs, api).map_err(|e| ConnectError::Socket {
            path,
            source: Arc::new(e),
        })
    } else if host.starts_with("tcp://") || host.starts_with("http://") {
        Docker::connect_with_http(host, secs, api).map_err(|e| ConnectError::Http {
            host: host.to_string(),
            source: Arc::new(e),
        })
    } else {
        Err(ConnectError::Scheme(host.to_string()))
    }
}

/// `docker` (the client of `host`) talking at `api` (`"1.41"`, what the daemon's
/// `/version` said) when that is older than bollard's own API, else as it is: the
/// negotiation of [`connect`] for a caller that already holds the daemon's `/version`
/// answer, without asking again. No new connection is made (a client connects lazily).
pub fn at_api(
    docker: Docker,
    host: &str,
    api: &str,
    timeout: Duration,
) -> Result<Docker, ConnectError> {
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
    log::debug!("the daemon speaks API {api}, older than bollard's: talking at {api}");
    connect_at(
        host,
        timeout,
        &ClientVersion {
            major_version: major,
            minor_version: minor,
        },
    )
}

/// The daemon's `/version`, its body read up to [`MAX_ANSWER`] and no further.
pub async fn version_bounded(host: &str) -> Result<bollard::models::SystemVersion, ConnectError> {
    use http_body_util::{BodyExt, Empty, Limited};
    let fail = |why: String| ConnectError::Answer {
        host: host.to_string(),
        why,
    };
    let request = hyper::Request::get("/version")
        .header("Host", "docker")
        .body(Empty::<bytes::Bytes>::new())
        .map_err(|e| fail(e.to_string()))?;
    let response = if let Some(path) = super::endpoint::unix_path(host) {
        let io = tokio::net::UnixStream::connect(&path)
            .await
            .map_err(|e| fail(e.to_string()))?;
        send(hyper_util::rt::TokioIo::new(io), request).await
    } else {
        let addr = host
            .trim_start_matches("tcp://")
            .trim_start_matches("http://")
            .trim_end_matches('/');
        let io = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| fail(e.to_string()))?;
        send(hyper_util::rt::TokioIo::new(io), request).await
    }
    .map_err(|e| fail(crate::error::chain(&e)))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                fail(format!(
                    "its answer is larger than {} KiB",
                    MAX_ANSWER >> 10
                ))
            } else {
                fail(e.to_string())
            }
        })?
        .to_bytes();
    if !status.is_success() {
        return Err(fail(format!(
            "HTTP {status}: {}",
            crate::ui::escape(String::from_utf8_lossy(&body[..body.len().min(200)]).trim())
        )));
    }
    serde_json::from_slice(&body).map_err(|e| fail(format!("its /version answer is not JSON: {e}")))
}

/// One HTTP/1 request on `io`.
async fn send<T>(
    io: T,
    request: hyper::Request<http_body_util::Empty<bytes::Bytes>>,
) -> Result<hyper::Response<hyper::body::Incoming>, hyper::Error>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(conn);
    sender.send_request(request).await
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
    /// The daemon's answer to `/version` could not be used (too large, not JSON, an error).
    #[error("the daemon at {host} did not give a usable answer: {why}")]
    Answer { host: String, why: String },
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

/// Connect and negotiate the API version (one bounded `/version` request).
pub async fn connect(host: &str, timeout: Duration) -> Result<Docker, ConnectError> {
    connect_with_version(host, timeout).await.map(|(d, _)| d)
}

/// Connect and ask `/version` (one request, [`version_bounded`]), then talk at the API
/// version the daemon speaks: the client, and what the daemon said.
pub async fn connect_with_version(
    host: &str,
    timeout: Duration,
) -> Result<(Docker, bollard::models::SystemVersion), ConnectError> {
    let docker = connect_lazy(host, timeout)?;
    let version = match tokio::time::timeout(timeout, version_bounded(host)).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(e),
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
        at_api(docker, host, &api, timeout)?
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
