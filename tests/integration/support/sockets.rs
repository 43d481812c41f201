//! Fault-injection Unix sockets: each a real listener on a unique path in its own temp dir,
//! stopped and removed when dropped. Plus the two non-sockets: a regular file, an absent
//! path.
//!
//! - [`FaultSocket::silent`]: accepts every connection and never answers.
//! - [`FaultSocket::http_500`]: answers every HTTP request with 500.
//! - [`FaultSocket::old_daemon`]: a fake Docker daemon: `/_ping` answers `OK`, `/version`
//!   (with or without a `/vX.Y` prefix) reports API 1.24, minimum API 1.12, engine 1.12.0.
//! - [`FaultSocket::engine`]: a fake current engine (API 1.41) whose `/info` reports a
//!   given `DockerRootDir` and `MemTotal`; images are never found, nothing else exists.
//!
//! Sockets are mode 0666 so temporary users can reach them.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use super::temp::{self, TempDir};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Silent,
    Http500,
    OldDaemon,
    Engine,
    Endless,
}

/// What the fake engine's `/info` reports.
#[derive(Debug, Clone)]
pub struct EngineInfo {
    pub root_dir: PathBuf,
    pub mem_total: u64,
}

pub struct FaultSocket {
    dir: TempDir,
    path: PathBuf,
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<UnixStream>>>,
    acceptor: Option<JoinHandle<()>>,
}

impl FaultSocket {
    /// Accepts and never answers.
    pub fn silent() -> FaultSocket {
        FaultSocket::start(Mode::Silent)
    }

    /// Answers every request with HTTP 500.
    pub fn http_500() -> FaultSocket {
        FaultSocket::start(Mode::Http500)
    }

    /// A daemon whose `/version` reports API 1.24 (min 1.12, engine 1.12.0).
    pub fn old_daemon() -> FaultSocket {
        FaultSocket::start(Mode::OldDaemon)
    }

    /// Answers every request with `200 OK` and a chunked JSON body that never ends (a
    /// hostile or broken daemon; issue 16 finding 7), until the client goes away.
    pub fn endless() -> FaultSocket {
        FaultSocket::start(Mode::Endless)
    }

    /// A current engine (API 1.41) whose `/info` reports `info`.
    pub fn engine(info: EngineInfo) -> FaultSocket {
        FaultSocket::start_with(Mode::Engine, Some(Arc::new(info)))
    }

    fn start(mode: Mode) -> FaultSocket {
        FaultSocket::start_with(mode, None)
    }

    fn start_with(mode: Mode, info: Option<Arc<EngineInfo>>) -> FaultSocket {
        let dir = temp::dir();
        let path = dir.path().join("docker.sock");
        let listener =
            UnixListener::bind(&path).unwrap_or_else(|e| panic!("binding {}: {e}", path.display()));
        temp::chmod(&path, 0o666);
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let acceptor = {
            let (stop, requests, held) = (stop.clone(), requests.clone(), held.clone());
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    match mode {
                        Mode::Silent => {
                            requests.fetch_add(1, Ordering::SeqCst);
                            held.lock().unwrap().push(conn);
                        }
                        Mode::Http500 | Mode::OldDaemon | Mode::Engine | Mode::Endless => {
                            if let Ok(clone) = conn.try_clone() {
                                held.lock().unwrap().push(clone);
                            }
                            let requests = requests.clone();
                            let info = info.clone();
                            std::thread::spawn(move || {
                                serve(conn, mode, info.as_deref(), &requests)
                            });
                        }
                    }
                }
            })
        };
        FaultSocket {
            dir,
            path,
            stop,
            requests,
            held,
            acceptor: Some(acceptor),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `unix://<path>`, for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Connections (silent) or HTTP requests (the others) seen so far.
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    /// The temp dir holding the socket.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for FaultSocket {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so it sees the flag.
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.acceptor.take() {
            let _ = t.join();
        }
        for s in self.held.lock().unwrap().drain(..) {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serve HTTP/1.1 requests on one connection until the client closes it.
fn serve(conn: UnixStream, mode: Mode, info: Option<&EngineInfo>, requests: &AtomicUsize) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(120)));
    let mut writer = match conn.try_clone() {
        Ok(w) => w,
        Err(_) => return,
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut content_length = 0usize;
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            if line == "\r\n" || line == "\n" {
                break;
            }
            if let Some((k, v)) = line.split_once(':')
                && k.trim().eq_ignore_ascii_case("content-length")
            {
                content_length = v.trim().parse().unwrap_or(0);
            }
        }
        if content_length > 0 {
            let mut body = vec![0u8; content_length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
        }
        requests.fetch_add(1, Ordering::SeqCst);
        if mode == Mode::Endless {
            let head = "HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n\
                        Transfer-Encoding: chunked\r\n\r\n";
            let chunk = format!("10000\r\n{{\"Version\":\"{}\r\n", "a".repeat(0x10000 - 12));
            if writer.write_all(head.as_bytes()).is_err() {
                return;
            }
            while writer.write_all(chunk.as_bytes()).is_ok() {}
            return;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let target = parts.next().unwrap_or("/");
        let response = respond(mode, info, method, target);
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

/// The response text for one request.
fn respond(mode: Mode, info: Option<&EngineInfo>, method: &str, target: &str) -> String {
    let path = target.split('?').next().unwrap_or("/");
    let path = strip_version_prefix(path);
    let (status, content_type, body) = match mode {
        Mode::Http500 => (
            "500 Internal Server Error",
            "application/json",
            r#"{"message":"injected fault: internal server error"}"#.to_string(),
        ),
        Mode::OldDaemon => match path {
            "/_ping" => ("200 OK", "text/plain; charset=utf-8", "OK".to_string()),
            "/version" => (
                "200 OK",
                "application/json",
                serde_json::json!({
                    "Platform": {"Name": "Fake Engine"},
                    "Version": "1.12.0",
                    "ApiVersion": "1.24",
                    "MinAPIVersion": "1.12",
                    "GitCommit": "fake",
                    "GoVersion": "go1.6",
                    "Os": "linux",
                    "Arch": "amd64",
                    "KernelVersion": "4.0.0",
                    "BuildTime": "2016-01-01T00:00:00.000000000+00:00"
                })
                .to_string(),
            ),
            _ => (
                "404 Not Found",
                "application/json",
                r#"{"message":"page not found"}"#.to_string(),
            ),
        },
        Mode::Engine => match path {
            "/_ping" => ("200 OK", "text/plain; charset=utf-8", "OK".to_string()),
            "/version" => (
                "200 OK",
                "application/json",
                serde_json::json!({
                    "Platform": {"Name": "Fake Engine"},
                    "Version": "20.10.24",
                    "ApiVersion": "1.41",
                    "MinAPIVersion": "1.12",
                    "GitCommit": "fake",
                    "GoVersion": "go1.19",
                    "Os": "linux",
                    "Arch": "amd64",
                    "KernelVersion": "6.0.0",
                    "BuildTime": "2023-01-01T00:00:00.000000000+00:00"
                })
                .to_string(),
            ),
            "/info" => {
                let info = info.expect("an engine socket has its info");
                (
                    "200 OK",
                    "application/json",
                    serde_json::json!({
                        "ID": "fake-engine",
                        "Name": "fake",
                        "ServerVersion": "20.10.24",
                        "OperatingSystem": "Fake Linux",
                        "DockerRootDir": info.root_dir.to_string_lossy(),
                        "MemTotal": info.mem_total,
                        "NCPU": 2
                    })
                    .to_string(),
                )
            }
            _ => (
                "404 Not Found",
                "application/json",
                r#"{"message":"No such image or page (fake engine)"}"#.to_string(),
            ),
        },
        Mode::Silent | Mode::Endless => unreachable!("answered in serve"),
    };
    let api = if mode == Mode::Engine { "1.41" } else { "1.24" };
    let body = if method == "HEAD" {
        String::new()
    } else {
        body
    };
    format!(
        "HTTP/1.1 {status}\r\nApi-Version: {api}\r\nServer: Docker (linux)\r\n\
         Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// `/v1.41/version` -> `/version`; other paths unchanged.
fn strip_version_prefix(path: &str) -> &str {
    if let Some(rest) = path.strip_prefix("/v")
        && let Some((ver, tail)) = rest.split_once('/')
        && !ver.is_empty()
        && ver.chars().all(|c| c.is_ascii_digit() || c == '.')
    {
        return &path[path.len() - tail.len() - 1..];
    }
    path
}

/// A path that exists but is not a socket (a regular file), or that does not exist.
pub struct FakePath {
    _dir: TempDir,
    path: PathBuf,
}

impl FakePath {
    /// A regular file named `docker.sock`.
    pub fn regular_file() -> FakePath {
        let dir = temp::dir();
        let path = dir.path().join("docker.sock");
        std::fs::write(&path, "not a socket\n").unwrap();
        temp::chmod(&path, 0o666);
        FakePath { _dir: dir, path }
    }

    /// A path in a fresh temp dir where nothing exists.
    pub fn absent() -> FakePath {
        let dir = temp::dir();
        let path = dir.path().join("docker.sock");
        FakePath { _dir: dir, path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn host(&self) -> String {
        format!("unix://{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(path: &Path, request: &str) -> String {
        let mut s = UnixStream::connect(path).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(request.as_bytes()).unwrap();
        let mut buf = vec![0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..n]).into_owned()
    }

    #[test]
    fn support_fault_sockets_behave() {
        let s = FaultSocket::http_500();
        let r = http(s.path(), "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 500"), "{r}");
        assert_eq!(s.requests(), 1);

        let d = FaultSocket::old_daemon();
        let r = http(d.path(), "GET /v1.41/version HTTP/1.1\r\nHost: d\r\n\r\n");
        assert!(r.contains("\"ApiVersion\":\"1.24\""), "{r}");
        assert!(r.contains("\"MinAPIVersion\":\"1.12\""), "{r}");
        let r = http(d.path(), "GET /_ping HTTP/1.1\r\nHost: d\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 200") && r.ends_with("OK"), "{r}");

        let q = FaultSocket::silent();
        let mut c = UnixStream::connect(q.path()).unwrap();
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        c.write_all(b"GET /_ping HTTP/1.1\r\n\r\n").unwrap();
        let mut buf = [0u8; 16];
        assert!(c.read(&mut buf).is_err(), "the silent socket answered");

        let path = q.path().to_path_buf();
        drop(q);
        assert!(!path.exists(), "the socket file outlived its guard");
        assert!(!FakePath::absent().path().exists());
        assert!(FakePath::regular_file().path().is_file());
    }
}
