//! A loopback HTTP server in GitHub release layout, with fault modes.
//!
//! It serves `/nektos/act/releases/download/v0.2.89/{asset}` (a real release archive built
//! from the fixture act the way goreleaser packs it: `act`, `LICENSE`, `README.md`,
//! tar.gz), the matching `checksums.txt` (other assets listed too), and the
//! `/nektos/act/releases/latest` redirect. A second platform's asset ([`other_asset`],
//! `act_Linux_arm64.tar.gz` on x86_64) is served too: a small archive with an `act` file
//! (never run, only hashed by `actsim lock`) whose real hash `checksums.txt` lists. Every request is logged (path, headers, time).
//! Faults apply to the archive: tampered bytes, a body cut short, 404, an error status
//! (with `Retry-After`) for the first N requests, headers then silence; or only the host's
//! archive served (the other platform's 404).
//!
//! What can go wrong: the fixture act is missing (the constructor skips or, under CI,
//! panics), a port cannot be bound (panics).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub const VERSION: &str = "0.2.89";

/// How the archive is served.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    /// Bytes flipped in the middle; `checksums.txt` still lists the original hash.
    Tampered,
    /// The first `times` responses announce the full length and send half.
    CutShort {
        times: usize,
    },
    NotFound,
    /// The host's archive only: the other platform's answers 404 (an x86_64-only mirror).
    HostOnly,
    /// The first `times` responses are `status` (with `Retry-After` when given).
    Status {
        status: u16,
        times: usize,
        retry_after: Option<u64>,
    },
    /// Headers, then nothing until the client gives up (or the mirror is dropped).
    Stall,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub at: Instant,
}

struct State {
    mode: Mutex<Mode>,
    archive_hits: Mutex<usize>,
    log: Mutex<Vec<Request>>,
    stop: AtomicBool,
    port: u16,
}

pub struct Mirror {
    state: Arc<State>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The release archive and its SHA-256, built once per test process.
pub fn release_archive() -> Option<&'static (Vec<u8>, String)> {
    static ARCHIVE: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    let act = super::fixtures::require_act()?;
    Some(ARCHIVE.get_or_init(|| {
        let binary =
            std::fs::read(&act).unwrap_or_else(|e| panic!("reading {}: {e}", act.display()));
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut add = |name: &str, mode: u32, data: &[u8]| {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(mode);
            h.set_mtime(1_700_000_000);
            h.set_entry_type(tar::EntryType::Regular);
            h.set_cksum();
            tar.append_data(&mut h, name, data).unwrap();
        };
        add("LICENSE", 0o644, b"MIT License\n\nCopyright (c) 2019\n");
        add(
            "README.md",
            0o644,
            b"# act\n\nRun your GitHub Actions locally\n",
        );
        add("act", 0o755, &binary);
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        let sha = hex::encode(Sha256::digest(&bytes));
        (bytes, sha)
    }))
}

/// The other platform's archive (see the module doc) and its SHA-256; its `act` entry is
/// [`OTHER_BINARY`].
pub fn other_archive() -> &'static (Vec<u8>, String) {
    static ARCHIVE: OnceLock<(Vec<u8>, String)> = OnceLock::new();
    ARCHIVE.get_or_init(|| {
        let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let mut tar = tar::Builder::new(gz);
        let mut h = tar::Header::new_gnu();
        h.set_size(OTHER_BINARY.len() as u64);
        h.set_mode(0o755);
        h.set_mtime(1_700_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        tar.append_data(&mut h, "act", OTHER_BINARY).unwrap();
        let bytes = tar.into_inner().unwrap().finish().unwrap();
        let sha = hex::encode(Sha256::digest(&bytes));
        (bytes, sha)
    })
}

/// The `act` inside [`other_archive`].
pub const OTHER_BINARY: &[u8] = b"\x7fELF not really: the arm64 act of the test mirror\n";

/// The platform and asset the mirror serves besides the host's.
pub fn other_asset() -> (&'static str, &'static str) {
    if host_asset() == "act_Linux_arm64.tar.gz" {
        ("linux/x86_64", "act_Linux_x86_64.tar.gz")
    } else {
        ("linux/arm64", "act_Linux_arm64.tar.gz")
    }
}

/// The asset name for this machine, as act publishes it.
pub fn host_asset() -> String {
    actsim::act::release::host_asset().expect("a supported test platform")
}

impl Mirror {
    /// A mirror serving the fixture act; `None` (after printing why) when it is missing.
    pub fn start() -> Option<Mirror> {
        release_archive()?;
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(State {
            mode: Mutex::new(Mode::Normal),
            archive_hits: Mutex::new(0),
            log: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            port,
        });
        let s = Arc::clone(&state);
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let _ = serve(conn, &s);
                });
            }
        });
        Some(Mirror {
            state,
            thread: Some(thread),
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    /// `--act-base-url` for this mirror.
    pub fn base_url(&self) -> String {
        format!(
            "http://127.0.0.1:{}/nektos/act/releases/download",
            self.state.port
        )
    }

    pub fn archive_url(&self) -> String {
        format!("{}/v{VERSION}/{}", self.base_url(), host_asset())
    }

    pub fn archive_sha256(&self) -> &'static str {
        &release_archive().unwrap().1
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Request> {
        self.state.log.lock().unwrap().clone()
    }

    /// Requests for the archive so far.
    pub fn archive_requests(&self) -> Vec<Request> {
        let asset = host_asset();
        self.requests()
            .into_iter()
            .filter(|r| r.path.ends_with(&asset))
            .collect()
    }
}

impl Drop for Mirror {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.state.port));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `checksums.txt` as goreleaser writes it, with every asset act publishes.
pub fn checksums_text(archive_sha: &str) -> String {
    let ours = host_asset();
    let mut lines = Vec::new();
    for (i, asset) in [
        "act_Darwin_arm64.tar.gz",
        "act_Darwin_x86_64.tar.gz",
        "act_Linux_arm64.tar.gz",
        "act_Linux_armv6.tar.gz",
        "act_Linux_armv7.tar.gz",
        "act_Linux_i386.tar.gz",
        "act_Linux_riscv64.tar.gz",
        "act_Linux_x86_64.tar.gz",
        "act_Windows_x86_64.zip",
    ]
    .iter()
    .enumerate()
    {
        let sha = if *asset == ours {
            archive_sha.to_string()
        } else if *asset == other_asset().1 {
            other_archive().1.clone()
        } else {
            format!("{:064x}", i + 1)
        };
        lines.push(format!("{sha}  {asset}\n"));
    }
    lines.concat()
}

fn serve(conn: TcpStream, s: &State) -> std::io::Result<()> {
    conn.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    s.log.lock().unwrap().push(Request {
        path: path.clone(),
        headers,
        at: Instant::now(),
    });
    let mut out = conn;
    let (archive, sha) = release_archive().expect("archive built at start");
    let prefix = format!("/nektos/act/releases/download/v{VERSION}/");
    if path == "/nektos/act/releases/latest" {
        let loc = format!(
            "http://127.0.0.1:{}/nektos/act/releases/tag/v{VERSION}",
            s.port
        );
        return respond(&mut out, 302, &[("Location", &loc)], b"");
    }
    let Some(file) = path.strip_prefix(&prefix) else {
        return respond(&mut out, 404, &[], b"Not Found");
    };
    if file == "checksums.txt" {
        return respond(&mut out, 200, &[], checksums_text(sha).as_bytes());
    }
    if file == other_asset().1 {
        if matches!(*s.mode.lock().unwrap(), Mode::HostOnly) {
            return respond(&mut out, 404, &[], b"Not Found");
        }
        return respond(&mut out, 200, &[], &other_archive().0);
    }
    if file != host_asset() {
        return respond(&mut out, 404, &[], b"Not Found");
    }
    let hit = {
        let mut n = s.archive_hits.lock().unwrap();
        *n += 1;
        *n
    };
    let mode = s.mode.lock().unwrap().clone();
    match mode {
        Mode::Normal => respond(&mut out, 200, &[], archive),
        Mode::Tampered => {
            let mut bad = archive.clone();
            let mid = bad.len() / 2;
            for b in &mut bad[mid..mid + 16] {
                *b ^= 0x5a;
            }
            respond(&mut out, 200, &[], &bad)
        }
        Mode::CutShort { times } if hit <= times => {
            head(&mut out, 200, &[], archive.len())?;
            out.write_all(&archive[..archive.len() / 2])?;
            out.flush()
        }
        Mode::NotFound => respond(&mut out, 404, &[], b"Not Found"),
        Mode::Status {
            status,
            times,
            retry_after,
        } if hit <= times => {
            let ra = retry_after.map(|r| r.to_string());
            let extra: Vec<(&str, &str)> = ra
                .as_deref()
                .map(|r| vec![("Retry-After", r)])
                .unwrap_or_default();
            respond(&mut out, status, &extra, b"try again later")
        }
        Mode::Stall => {
            head(&mut out, 200, &[], archive.len())?;
            while !s.stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
                // Stop when the client has gone.
                let mut probe = [0u8; 1];
                out.set_read_timeout(Some(Duration::from_millis(1)))?;
                if let Ok(0) = out.read(&mut probe) {
                    break;
                }
            }
            Ok(())
        }
        _ => respond(&mut out, 200, &[], archive),
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

fn head(
    out: &mut TcpStream,
    status: u16,
    extra: &[(&str, &str)],
    len: usize,
) -> std::io::Result<()> {
    let mut h = format!(
        "HTTP/1.1 {status} {}\r\nContent-Length: {len}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n",
        reason(status)
    );
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str("\r\n");
    out.write_all(h.as_bytes())
}

fn respond(
    out: &mut TcpStream,
    status: u16,
    extra: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    head(out, status, extra, body.len())?;
    out.write_all(body)?;
    out.flush()
}
