//! HTTP for act releases: one reqwest client (rustls; proxies from the environment, never
//! for loopback hosts; an extra CA from `--ca-cert`/`SSL_CERT_FILE`), the URL policy on
//! every request and redirect,
//! retries with backoff, and streaming a body into a blocking consumer without holding it
//! in memory.
//!
//! What can go wrong: connection errors (refused, reset), 5xx and 429 (retried, honouring
//! `Retry-After`, never past the deadline), a body cut short or stalled (retried; each read
//! has its own timeout), a host name that does not resolve or an untrusted TLS certificate
//! (not retried: the next attempt meets the same; exit 4 with the hint), 404 and other 4xx
//! (not retried: exit 4 naming the URL), a bad CA file (exit 2).

use std::future::Future;
use std::path::Path;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::act::release;
use crate::error::{Error, Result};
use crate::system::progress::Progress;

/// Attempts per URL before giving up (the deadline may end them sooner).
pub const MAX_ATTEMPTS: u32 = 5;
/// Longest silence tolerated from a server between two reads.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest text file (`checksums.txt`) accepted.
const MAX_TEXT_BYTES: usize = 1024 * 1024;
/// Largest streamed body (an act archive is ~10 MiB): a server that never stops sending
/// is cut off here, not only by the deadline.
pub const MAX_STREAM_BYTES: u64 = 512 << 20;

/// Settings for [`Http::new`].
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub allow_http: bool,
    /// PEM file with extra trusted CA certificates.
    pub ca_cert: Option<std::path::PathBuf>,
    /// Sent as a bearer token to github.com only.
    pub github_token: Option<String>,
    /// Everything (all attempts and waits) ends by then.
    pub deadline: Instant,
    /// Proxies from the environment.
    pub proxies: Proxies,
}

/// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` (either case), read once from
/// the process context. Loopback hosts never go through a proxy: a loopback mirror is on
/// this machine, and a proxy would see its plain-http traffic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Proxies {
    pub https: Option<String>,
    pub http: Option<String>,
    pub all: Option<String>,
    pub no_proxy: Vec<String>,
}

impl Proxies {
    pub fn from_process(p: &crate::system::process::Process) -> Proxies {
        let get = |k: &str| {
            p.var_nonempty(k)
                .or_else(|| p.var_nonempty(&k.to_ascii_uppercase()))
                .map(str::to_string)
        };
        Proxies {
            https: get("https_proxy"),
            http: get("http_proxy"),
            all: get("all_proxy"),
            no_proxy: get("no_proxy")
                .map(|v| {
                    v.split(',')
                        .map(|s| s.trim().to_ascii_lowercase())
                        .filter(|s| !s.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        }
    }

    /// The proxy a request to `url` goes through, if any.
    pub fn for_url(&self, url: &reqwest::Url) -> Option<String> {
        if release::is_loopback(url) {
            return None;
        }
        let host = url.host_str().unwrap_or("").to_ascii_lowercase();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let excluded = self.no_proxy.iter().any(|n| {
            let n = n.trim_start_matches('.');
            n == "*" || host == n || host.ends_with(&format!(".{n}"))
        });
        if excluded {
            return None;
        }
        match url.scheme() {
            "https" => self.https.clone().or_else(|| self.all.clone()),
            "http" => self.http.clone().or_else(|| self.all.clone()),
            _ => None,
        }
    }
}

/// The HTTP settings of a run, resolved from the command line and the environment before
/// anything is fetched (setup's act step and `actsim lock` share them).
#[derive(Debug, Clone)]
pub struct HttpSettings {
    pub allow_http: bool,
    pub ca_cert: Option<std::path::PathBuf>,
    pub github_token: Option<String>,
    pub proxies: Proxies,
}

impl HttpSettings {
    /// `--allow-http` and `--ca-cert` as given; the CA file falls back to `SSL_CERT_FILE`,
    /// the token is `GITHUB_TOKEN`, the proxies are the environment's.
    pub fn from_process(
        p: &crate::system::process::Process,
        allow_http: bool,
        ca_cert: Option<std::path::PathBuf>,
    ) -> HttpSettings {
        HttpSettings {
            allow_http,
            ca_cert: ca_cert.or_else(|| p.var_nonempty("SSL_CERT_FILE").map(Into::into)),
            github_token: p.var_nonempty("GITHUB_TOKEN").map(str::to_string),
            proxies: Proxies::from_process(p),
        }
    }

    /// A client whose requests all end by `deadline`, telling `progress` about retries and
    /// showing downloads on it.
    pub fn client<P: Progress + Clone + 'static>(
        &self,
        deadline: Instant,
        progress: &P,
    ) -> Result<Http> {
        Http::new(
            HttpOptions {
                allow_http: self.allow_http,
                ca_cert: self.ca_cert.clone(),
                github_token: self.github_token.clone(),
                deadline,
                proxies: self.proxies.clone(),
            },
            std::sync::Arc::new(progress.clone()),
        )
    }
}

pub struct Http {
    client: reqwest::Client,
    no_redirect: reqwest::Client,
    opts: HttpOptions,
    progress: std::sync::Arc<dyn Progress>,
}

/// How one attempt ended, when it did not succeed.
#[derive(Debug)]
pub enum Attempt {
    /// Worth trying again, after `after` if the server said so.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// Trying again will not help.
    Fatal(Error),
}

/// What a status code means for the retry loop.
#[derive(Debug, PartialEq, Eq)]
pub enum StatusClass {
    Success,
    Retry,
    Fatal,
}

/// 2xx succeed; 408, 429 and 5xx are retried; everything else is final.
pub fn classify_status(status: u16) -> StatusClass {
    match status {
        200..=299 => StatusClass::Success,
        408 | 429 | 500..=599 => StatusClass::Retry,
        _ => StatusClass::Fatal,
    }
}

/// `Retry-After`: delta seconds, or an HTTP date (relative to `now`). Capped at 10 minutes.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    let wait = if let Ok(secs) = value.parse::<u64>() {
        Duration::from_secs(secs)
    } else {
        let at = httpdate::parse_http_date(value).ok()?;
        at.duration_since(now).unwrap_or(Duration::ZERO)
    };
    Some(wait.min(Duration::from_secs(600)))
}

/// Exponential backoff for attempt `n` (1-based): 250 ms, 500 ms, 1 s, 2 s, then 4 s.
pub fn backoff(n: u32) -> Duration {
    Duration::from_millis(250u64 << n.saturating_sub(1).min(4))
}

/// What a transport failure (no HTTP status) means for the retry loop.
#[derive(Debug, PartialEq, Eq)]
pub enum TransportClass {
    /// The host name does not resolve: the same lookup fails again at once.
    Dns,
    /// The server's certificate is not trusted: the next attempt meets the same one.
    Certificate,
    /// Refused, reset, timed out, cut short: worth another try.
    Retry,
}

/// Classify a transport failure by its cause chain ([`error_chain`]'s text).
pub fn classify_transport(reason: &str) -> TransportClass {
    let lower = reason.to_ascii_lowercase();
    if lower.contains("dns error")
        || lower.contains("failed to lookup address")
        || lower.contains("name or service not known")
        || lower.contains("no address associated with hostname")
    {
        TransportClass::Dns
    } else if lower.contains("certificate") || lower.contains("unknownissuer") {
        TransportClass::Certificate
    } else {
        TransportClass::Retry
    }
}

fn transport_attempt(e: &reqwest::Error) -> Attempt {
    let reason = error_chain(e);
    let url = || e.url().map(|u| u.to_string()).unwrap_or_default();
    match classify_transport(&reason) {
        TransportClass::Dns => Attempt::Fatal(Error::Download {
            url: url(),
            hint: Some(format!(
                "the host name {} does not resolve: check its spelling (--act-base-url) and this machine's DNS (/etc/resolv.conf); without network access use a mirror (--act-base-url URL) or a downloaded release (--act-archive FILE with --act-checksums FILE)",
                e.url().and_then(|u| u.host_str()).unwrap_or("?")
            )),
            reason,
        }),
        TransportClass::Certificate => Attempt::Fatal(Error::Download {
            url: url(),
            reason,
            hint: Some(
                "the server's TLS certificate is not trusted; for a mirror with its own CA pass --ca-cert FILE (or set SSL_CERT_FILE)"
                    .into(),
            ),
        }),
        TransportClass::Retry if e.is_builder() || e.is_redirect() => {
            Attempt::Fatal(Error::Download {
                url: url(),
                reason,
                hint: None,
            })
        }
        TransportClass::Retry => Attempt::Retry {
            reason,
            after: None,
        },
    }
}

/// A reqwest error and its causes on one line, without repeating the URL
/// ("cannot connect: tcp connect error: Connection refused (os error 111)").
fn error_chain(e: &reqwest::Error) -> String {
    let head = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed"
    } else if e.is_redirect() {
        "redirect refused"
    } else {
        "request failed"
    };
    crate::error::chain_from(head, std::error::Error::source(e))
}

/// A [`std::io::Read`] over chunks sent from the async side; EOF when the sender is gone.
pub struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
}

impl std::io::Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.current.is_empty() {
            match self.rx.blocking_recv() {
                Some(chunk) => self.current = chunk,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current[..n]);
        let _ = self.current.split_to(n);
        Ok(n)
    }
}

impl Http {
    pub fn new(opts: HttpOptions, progress: std::sync::Arc<dyn Progress>) -> Result<Self> {
        let mut certs = Vec::new();
        if let Some(path) = &opts.ca_cert {
            certs = load_ca(path)?;
        }
        let build = |redirects: bool| -> Result<reqwest::Client> {
            let allow_http = opts.allow_http;
            let policy = if redirects {
                reqwest::redirect::Policy::custom(move |attempt| {
                    if attempt.previous().len() >= 10 {
                        attempt.error("too many redirects")
                    } else if let Err(e) = release::check_url(attempt.url(), allow_http) {
                        attempt.error(e.to_string())
                    } else {
                        attempt.follow()
                    }
                })
            } else {
                reqwest::redirect::Policy::none()
            };
            let proxies = opts.proxies.clone();
            // A custom proxy replaces reqwest's own reading of the environment.
            let proxy = reqwest::Proxy::custom(move |url| {
                proxies
                    .for_url(url)
                    .and_then(|p| reqwest::Url::parse(&p).ok())
            });
            let mut b = reqwest::Client::builder()
                .user_agent(concat!("actsim/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(CONNECT_TIMEOUT)
                .proxy(proxy)
                .redirect(policy);
            for c in &certs {
                b = b.add_root_certificate(c.clone());
            }
            b.build()
                .map_err(|e| Error::failed(format!("building the HTTP client: {e}"), None))
        };
        Ok(Http {
            client: build(true)?,
            no_redirect: build(false)?,
            opts,
            progress,
        })
    }

    fn parse_url(&self, url: &str) -> Result<reqwest::Url> {
        let parsed = reqwest::Url::parse(url).map_err(|e| {
            Error::usage(
                format!("invalid URL {url:?}: {e}"),
                Some("check --act-base-url".to_string()),
            )
        })?;
        release::check_url(&parsed, self.opts.allow_http)?;
        if parsed.scheme() == "http"
            && let Some(proxy) = self.opts.proxies.for_url(&parsed)
        {
            self.progress.warn(&format!(
                "{url} is plain http through the proxy {}: the proxy sees (and could change) it; the SHA-256 check still applies",
                redact_proxy(&proxy)
            ));
        }
        Ok(parsed)
    }

    fn request(&self, client: &reqwest::Client, url: &reqwest::Url) -> reqwest::RequestBuilder {
        let mut req = client.get(url.clone());
        if let Some(token) = &self.opts.github_token
            && release::is_github_host(url)
        {
            req = req.bearer_auth(token);
        }
        req
    }

    fn remaining(&self) -> Duration {
        self.opts.deadline.saturating_duration_since(Instant::now())
    }

    /// Run `attempt` until it succeeds, fails for good, runs out of attempts or would pass
    /// the deadline.
    async fn retrying<T, F, Fut>(&self, url: &str, mut attempt: F) -> Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::result::Result<T, Attempt>>,
    {
        let mut n = 0;
        loop {
            n += 1;
            let reason = match attempt().await {
                Ok(v) => return Ok(v),
                Err(Attempt::Fatal(e)) => return Err(e),
                Err(Attempt::Retry { reason, after }) => {
                    let wait = after.unwrap_or_else(|| backoff(n));
                    if n >= MAX_ATTEMPTS {
                        format!("{reason} (gave up after {n} attempts)")
                    } else if wait >= self.remaining() {
                        format!(
                            "{reason} (gave up: waiting {:.1}s more would pass the --timeout deadline)",
                            wait.as_secs_f32()
                        )
                    } else {
                        self.progress.info(&format!(
                            "  retrying in {:.1}s: {reason}",
                            wait.as_secs_f32()
                        ));
                        tokio::time::sleep(wait).await;
                        continue;
                    }
                }
            };
            return Err(Error::Download {
                url: url.to_string(),
                reason,
                hint: Some("check the network or the mirror and run setup again; without network access use a mirror (--act-base-url URL) or a downloaded release (--act-archive FILE with --act-checksums FILE)".into()),
            });
        }
    }

    /// Send a GET and check its status; `Ok` is a 2xx (or, without redirects, a 3xx).
    async fn send(
        &self,
        client: &reqwest::Client,
        url: &reqwest::Url,
    ) -> std::result::Result<reqwest::Response, Attempt> {
        let wait = READ_TIMEOUT.min(self.remaining());
        let resp = match tokio::time::timeout(wait, self.request(client, url).send()).await {
            Err(_) => {
                return Err(Attempt::Retry {
                    reason: format!("no response within {}s", wait.as_secs()),
                    after: None,
                });
            }
            Ok(Err(e)) => return Err(transport_attempt(&e)),
            Ok(Ok(resp)) => resp,
        };
        let status = resp.status();
        if status.is_redirection() {
            return Ok(resp);
        }
        match classify_status(status.as_u16()) {
            StatusClass::Success => Ok(resp),
            StatusClass::Retry => Err(Attempt::Retry {
                reason: format!("server answered {status}"),
                after: resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| parse_retry_after(v, SystemTime::now())),
            }),
            StatusClass::Fatal => Err(Attempt::Fatal(Error::Download {
                url: url.to_string(),
                reason: format!("server answered {status}"),
                hint: Some(if status == reqwest::StatusCode::NOT_FOUND {
                    "no such release file: check --act-version and --act-base-url (layout {base}/v{VER}/{asset})".into()
                } else {
                    "check the mirror's access rules, or --act-base-url".into()
                }),
            })),
        }
    }

    /// A small text file (checksums.txt), retried as a whole.
    pub async fn get_text(&self, url: &str) -> Result<String> {
        let parsed = self.parse_url(url)?;
        let bytes = self
            .retrying(url, || async {
                let mut resp = self.send(&self.client, &parsed).await?;
                let announced = resp.content_length();
                let mut body = Vec::new();
                while let Some(chunk) = self.next_chunk(&mut resp).await? {
                    body.extend_from_slice(&chunk);
                    if body.len() > MAX_TEXT_BYTES {
                        return Err(Attempt::Fatal(Error::Verify {
                            what: url.to_string(),
                            reason: format!("larger than {MAX_TEXT_BYTES} bytes"),
                            hint: None,
                        }));
                    }
                }
                check_length(announced, body.len() as u64)?;
                Ok(body)
            })
            .await?;
        String::from_utf8(bytes).map_err(|_| Error::Verify {
            what: url.to_string(),
            reason: "not UTF-8 text".into(),
            hint: None,
        })
    }

    async fn next_chunk(
        &self,
        resp: &mut reqwest::Response,
    ) -> std::result::Result<Option<Bytes>, Attempt> {
        let wait = READ_TIMEOUT.min(self.remaining());
        match tokio::time::timeout(wait, resp.chunk()).await {
            Err(_) => Err(Attempt::Retry {
                reason: format!("no data for {}s", wait.as_secs()),
                after: None,
            }),
            Ok(Err(e)) => Err(Attempt::Retry {
                reason: format!("body cut short: {}", error_chain(&e)),
                after: None,
            }),
            Ok(Ok(chunk)) => Ok(chunk),
        }
    }

    /// The newest version, from where `{repo}/releases/latest` redirects.
    pub async fn latest_version(&self, latest_url: &str) -> Result<String> {
        let parsed = self.parse_url(latest_url)?;
        let location = self
            .retrying(latest_url, || async {
                let resp = self.send(&self.no_redirect, &parsed).await?;
                let loc = resp
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                loc.ok_or_else(|| {
                    Attempt::Fatal(Error::Download {
                        url: latest_url.to_string(),
                        reason: format!("answered {} without a redirect to a tag", resp.status()),
                        hint: Some("pass a concrete --act-version".into()),
                    })
                })
            })
            .await?;
        release::version_from_tag_url(&location).ok_or_else(|| Error::Download {
            url: latest_url.to_string(),
            reason: format!("redirected to {location}, which names no release version"),
            hint: Some("pass a concrete --act-version".into()),
        })
    }

    /// Stream `url` into `consume`, run on a blocking thread with a [`ChannelReader`],
    /// once per attempt, showing progress as `label` (a bar on a terminal). The consumer must read to EOF. On a transport failure the
    /// consumer's result is dropped and a new attempt starts with a fresh consumer.
    pub async fn stream<T, C>(&self, url: &str, label: &str, consume: C) -> Result<T>
    where
        T: Send + 'static,
        C: Fn(ChannelReader) -> T + Send + Sync + Clone + 'static,
    {
        let parsed = self.parse_url(url)?;
        self.retrying(url, || {
            let consume = consume.clone();
            let parsed = parsed.clone();
            async move {
                let mut resp = self.send(&self.client, &parsed).await?;
                let announced = resp.content_length();
                let progress = self.progress.meter(label, announced);
                let (tx, rx) = mpsc::channel::<Bytes>(64);
                let worker = tokio::task::spawn_blocking(move || {
                    consume(ChannelReader {
                        rx,
                        current: Bytes::new(),
                    })
                });
                let mut received = 0u64;
                let pumped: std::result::Result<(), Attempt> = async {
                    while let Some(chunk) = self.next_chunk(&mut resp).await? {
                        received += chunk.len() as u64;
                        if received > MAX_STREAM_BYTES {
                            return Err(Attempt::Fatal(Error::failed(
                                format!("{url} sent more than {} MiB", MAX_STREAM_BYTES >> 20),
                                Some("check the mirror or proxy serving it".to_string()),
                            )));
                        }
                        progress.inc(chunk.len() as u64);
                        if tx.send(chunk).await.is_err() {
                            break;
                        }
                    }
                    check_length(announced, received)
                }
                .await;
                drop(tx);
                progress.finish();
                let out = worker.await.map_err(|e| {
                    Attempt::Fatal(Error::failed(format!("extracting {url}: {e}"), None))
                })?;
                pumped.map(|()| out)
            }
        })
        .await
    }
}

/// The body must be as long as the `Content-Length` announced before reading began.
fn check_length(announced: Option<u64>, received: u64) -> std::result::Result<(), Attempt> {
    match announced {
        Some(len) if len != received => Err(Attempt::Retry {
            reason: format!("body cut short: got {received} of {len} bytes"),
            after: None,
        }),
        _ => Ok(()),
    }
}

/// A proxy URL without its password.
fn redact_proxy(proxy: &str) -> String {
    match reqwest::Url::parse(proxy) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        _ => proxy.to_string(),
    }
}

fn load_ca(path: &Path) -> Result<Vec<reqwest::Certificate>> {
    let pem = crate::system::files::read_bounded(path, crate::system::files::MAX_READ)
        .and_then(|p| p.ok_or_else(|| Error::failed("no such file", None)))
        .map_err(|e| Error::Usage {
            message: format!("cannot read the CA certificate {}: {e}", path.display()),
            hint: Some("pass a readable PEM file with --ca-cert (or SSL_CERT_FILE)".into()),
        })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default();
    if certs.is_empty() {
        return Err(Error::usage(
            format!("{} holds no PEM certificate", path.display()),
            Some("pass a PEM file (-----BEGIN CERTIFICATE-----) with --ca-cert".to_string()),
        ));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(classify_status(200), StatusClass::Success);
        assert_eq!(classify_status(206), StatusClass::Success);
        for s in [408, 429, 500, 502, 503, 504] {
            assert_eq!(classify_status(s), StatusClass::Retry, "{s}");
        }
        for s in [400, 401, 403, 404, 410] {
            assert_eq!(classify_status(s), StatusClass::Fatal, "{s}");
        }
    }

    #[test]
    fn transport_classes() {
        for dns in [
            "cannot connect: client error (Connect): dns error: failed to lookup address information: Name or service not known",
            "cannot connect: dns error: failed to lookup address information: No address associated with hostname",
        ] {
            assert_eq!(classify_transport(dns), TransportClass::Dns, "{dns}");
        }
        assert_eq!(
            classify_transport("cannot connect: invalid peer certificate: UnknownIssuer"),
            TransportClass::Certificate
        );
        for retry in [
            "cannot connect: tcp connect error: Connection refused (os error 111)",
            "request failed: connection reset by peer (os error 104)",
            "timed out",
        ] {
            assert_eq!(classify_transport(retry), TransportClass::Retry, "{retry}");
        }
    }

    #[test]
    fn retry_after_forms() {
        let now = humantime::parse_rfc3339("2024-01-01T00:00:00Z").unwrap();
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Mon, 01 Jan 2024 00:00:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Sun, 31 Dec 2023 00:00:10 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_retry_after("99999", now),
            Some(Duration::from_secs(600))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::from_millis(250));
        assert_eq!(backoff(2), Duration::from_millis(500));
        assert_eq!(backoff(3), Duration::from_secs(1));
        assert_eq!(backoff(9), Duration::from_secs(4));
    }

    #[test]
    fn bad_ca_file_is_a_usage_error() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("ca.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let err = load_ca(&path).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains(&path.display().to_string()));
        std::fs::remove_file(&path).unwrap();
        assert!(load_ca(&path).is_err());
    }
}
