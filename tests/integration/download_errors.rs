//! The act download's failures that a retry cannot mend end at once, with the hint: a host
//! name that does not resolve (a `.invalid` name: resolution fails locally, nothing leaves
//! the machine) and a TLS server whose certificate is self-signed (a real python3 TLS
//! server on 127.0.0.1). Refused connections are still retried.

use std::time::Duration;

use crate::support::temp::{self, TempDir};
use crate::support::{Cmd, Outcome};

const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// `actsim setup --yes --no-check --format json` downloading from `base`, in a scratch home
/// with no proxy variables (so the failure is the one under test).
fn setup_from(home: &TempDir, base: &str) -> Cmd {
    let h = home.path();
    Cmd::actsim()
        .args(["setup", "--yes", "--no-check", "--act-base-url", base])
        .arg("--bin-dir")
        .arg(h.join("bin"))
        .arg("--config-dir")
        .arg(h.join("config/actsim"))
        .env("HOME", h)
        .env("XDG_STATE_HOME", h.join("state"))
        .env("XDG_CONFIG_HOME", h.join("config"))
        .env("PATH", SYSTEM_PATH)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .timeout(Duration::from_secs(60))
}

#[track_caller]
fn assert_not_retried(out: &Outcome) {
    out.assert_stderr_lacks("retrying");
    out.assert_stderr_lacks("gave up after");
}

#[test]
fn download_unresolvable_host_fails_at_once_with_the_dns_hint() {
    let home = temp::dir();
    let host = format!("actsim-{}.invalid", std::process::id());
    let out = setup_from(
        &home,
        &format!("https://{host}/nektos/act/releases/download"),
    )
    .run();
    out.assert_code(4)
        .assert_stderr_contains(&host)
        .assert_stderr_contains("does not resolve")
        .assert_stderr_contains("--act-archive");
    assert_not_retried(&out);
    assert!(!home.path().join("bin/act").exists(), "{out}");
}

#[test]
fn download_self_signed_certificate_fails_at_once_with_the_ca_hint() {
    let Some(server) = SelfSignedServer::start() else {
        return;
    };
    let home = temp::dir();
    let out = setup_from(&home, &server.base_url()).run();
    out.assert_code(4)
        .assert_stderr_contains("certificate")
        .assert_stderr_contains("--ca-cert");
    assert_not_retried(&out);
    assert!(!home.path().join("bin/act").exists(), "{out}");
}

#[test]
fn download_refused_connection_is_still_retried() {
    // A port that was just free: bind, note it, close; nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let home = temp::dir();
    let out = setup_from(
        &home,
        &format!("http://127.0.0.1:{port}/nektos/act/releases/download"),
    )
    .run();
    out.assert_code(4)
        .assert_stderr_contains("retrying")
        .assert_stderr_contains("refused");
}

/// A python3 TLS server on 127.0.0.1 with a fresh self-signed certificate (openssl CLI);
/// killed on drop.
struct SelfSignedServer {
    child: std::process::Child,
    _dir: TempDir,
    port: u16,
}

impl SelfSignedServer {
    fn start() -> Option<SelfSignedServer> {
        for tool in ["openssl", "python3"] {
            let found = std::process::Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            if !found {
                crate::support::fixtures::skip(&format!("{tool} is not installed"));
                return None;
            }
        }
        let dir = temp::dir();
        let d = dir.path();
        let out = std::process::Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=127.0.0.1",
                "-addext",
                "subjectAltName=IP:127.0.0.1",
                "-keyout",
                "key.pem",
                "-out",
                "cert.pem",
            ])
            .current_dir(d)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let server = "import http.server, ssl, sys
s = http.server.ThreadingHTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)
c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
c.load_cert_chain(sys.argv[1], sys.argv[2])
s.socket = c.wrap_socket(s.socket, server_side=True)
print(s.server_address[1], flush=True)
s.serve_forever()";
        let mut child = std::process::Command::new("python3")
            .args(["-c", server])
            .arg(d.join("cert.pem"))
            .arg(d.join("key.pem"))
            .current_dir(d)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
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
        Some(SelfSignedServer {
            child,
            _dir: dir,
            port,
        })
    }

    fn base_url(&self) -> String {
        format!(
            "https://127.0.0.1:{}/nektos/act/releases/download",
            self.port
        )
    }
}

impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
