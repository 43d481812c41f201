//! A loopback HTTPS server for the download tests: python3's `http.server` behind TLS on
//! 127.0.0.1, serving a directory, with a certificate the caller made with the openssl
//! CLI (self-signed, or from a test CA); killed on drop.
//!
//! What can go wrong: openssl or python3 is missing ([`require_tools`] skips, or fails
//! under `CI=true`); openssl fails or the server does not report its port within 20s
//! (panics).

use std::path::Path;
use std::time::Duration;

use super::temp::TempDir;

/// openssl and python3 are installed (else skip, or fail under CI).
pub fn require_tools() -> bool {
    for tool in ["openssl", "python3"] {
        let found = std::process::Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            super::fixtures::skip(&format!("{tool} is not installed"));
            return false;
        }
    }
    true
}

/// Runs `sh -c script` in `dir` (openssl commands); panics with its stderr on failure.
#[track_caller]
pub fn openssl(dir: &Path, script: &str) {
    let out = std::process::Command::new("sh")
        .args(["-c", script])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub struct TlsServer {
    child: std::process::Child,
    dir: TempDir,
    port: u16,
}

impl TlsServer {
    /// Serves `root` with the certificate `cert` and key `key` (all paths; `dir` is kept
    /// alive with the server and is its working directory).
    pub fn start(dir: TempDir, root: &Path, cert: &Path, key: &Path) -> TlsServer {
        let server = "import functools, http.server, ssl, sys
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), h)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[2], sys.argv[3])
s.socket = c.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()";
        let mut child = std::process::Command::new("python3")
            .args(["-c", server])
            .arg(root)
            .arg(cert)
            .arg(key)
            .current_dir(dir.path())
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // The port line, read with a deadline.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut line = String::new();
            let _ = std::io::BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let port = rx
            .recv_timeout(Duration::from_secs(20))
            .ok()
            .and_then(|l| l.trim().parse().ok());
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the python3 TLS server did not report its port within 20s");
        };
        TlsServer { child, dir, port }
    }

    /// The release base URL on this server.
    pub fn base_url(&self) -> String {
        format!(
            "https://127.0.0.1:{}/nektos/act/releases/download",
            self.port
        )
    }

    /// The server's working directory (its certificates).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
