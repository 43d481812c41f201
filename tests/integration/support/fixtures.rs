//! Test prerequisites: the fixture binaries (`scripts/fixtures.sh` fetches them into
//! `.cache/fixtures`) and the Docker daemon at `/var/run/docker.sock`.
//!
//! Under `CI=true` a missing prerequisite panics (the run must fail); otherwise the
//! `require_*` functions print why the test is skipped and return `None`/`false`, and the
//! test returns early.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The daemon socket every real-daemon test talks to.
pub const DOCKER_SOCK: &str = "/var/run/docker.sock";

/// The numeric group of the daemon socket (`stat`), what setup records as `DOCKER_GID`;
/// 0 when there is no socket (tests that need the daemon check for it first).
pub fn socket_gid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(DOCKER_SOCK).map_or(0, |m| m.gid())
}

/// `CI` is `true` (or `1`): missing prerequisites fail instead of skipping.
pub fn in_ci() -> bool {
    matches!(
        std::env::var("CI")
            .map(|v| v.to_ascii_lowercase())
            .as_deref(),
        Ok("true" | "1")
    )
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `.cache/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join(".cache").join("fixtures")
}

/// Where the real act 0.2.89 is (it may be missing; see [`require_act`]).
pub fn act_path() -> PathBuf {
    fixtures_dir().join("act")
}

/// Where the static busybox is (it may be missing; see [`require_busybox`]).
pub fn busybox_path() -> PathBuf {
    fixtures_dir().join("busybox")
}

/// Skip (print why and return `false`) or, under `CI=true`, panic.
pub fn skip(reason: &str) -> bool {
    if in_ci() {
        panic!("prerequisite missing under CI=true: {reason}");
    }
    eprintln!("SKIP: {reason}");
    false
}

/// `Some(path)` when the fixture file exists and is executable; else skip or panic.
pub fn require_fixture(path: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => Some(path.to_path_buf()),
        _ => {
            skip(&format!(
                "fixture {} is missing; run scripts/fixtures.sh",
                path.display()
            ));
            None
        }
    }
}

/// The fixture act, or skip/panic.
pub fn require_act() -> Option<PathBuf> {
    require_fixture(&act_path())
}

/// The fixture busybox, or skip/panic.
pub fn require_busybox() -> Option<PathBuf> {
    require_fixture(&busybox_path())
}

/// `true` when `/var/run/docker.sock` answers `GET /_ping` with `OK` within 5 s; else skip
/// or panic.
pub fn require_daemon() -> bool {
    match ping(Path::new(DOCKER_SOCK), Duration::from_secs(5)) {
        Ok(()) => true,
        Err(e) => skip(&format!(
            "the Docker daemon at {DOCKER_SOCK} does not answer: {e}"
        )),
    }
}

/// One `GET /_ping` over a Unix socket, with a deadline on every read and write.
pub fn ping(path: &Path, deadline: Duration) -> Result<(), String> {
    let body = get(path, "/_ping", deadline)?;
    if body == "OK" {
        Ok(())
    } else {
        Err(format!("unexpected answer: {body}"))
    }
}

/// The real daemon's `/version` document (engine `Version`, `ApiVersion`, ...).
pub fn daemon_version() -> Result<serde_json::Value, String> {
    let body = get(Path::new(DOCKER_SOCK), "/version", Duration::from_secs(10))?;
    serde_json::from_str(&body).map_err(|e| format!("/version is not JSON: {e}: {body}"))
}

/// `GET path` over HTTP/1.0 on a Unix socket; the body of a 200 answer.
fn get(socket: &Path, path: &str, deadline: Duration) -> Result<String, String> {
    let mut s = UnixStream::connect(socket).map_err(|e| format!("connect: {e}"))?;
    s.set_read_timeout(Some(deadline))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(deadline))
        .map_err(|e| e.to_string())?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut out = String::new();
    s.read_to_string(&mut out)
        .map_err(|e| format!("read: {e}"))?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    if head
        .lines()
        .next()
        .is_some_and(|l| l.starts_with("HTTP/1.") && l.contains(" 200 "))
    {
        Ok(body.to_string())
    } else {
        Err(format!(
            "GET {path}: {}",
            head.lines().next().unwrap_or("no answer")
        ))
    }
}
