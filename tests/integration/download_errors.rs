//! The act download's failures that a retry cannot mend end at once, with the hint: a host
//! name that does not resolve (a `.invalid` name: resolution fails locally, nothing leaves
//! the machine) and a TLS server whose certificate is self-signed (a real python3 TLS
//! server on 127.0.0.1). Refused connections are still retried.

use std::time::Duration;

use crate::support::temp;
use crate::support::tls::{self, TlsServer};
use crate::support::world::World;
use crate::support::{Cmd, Outcome, SYSTEM_PATH, exit};

/// `actsim setup --yes --no-check --format json` downloading from `base`, in a world with
/// no mirror, only the system dirs on PATH, and no proxy variables (so the failure is the
/// one under test).
fn setup_from(w: &World, base: &str) -> Cmd {
    w.setup_from(base)
        .arg("--yes")
        .env("PATH", SYSTEM_PATH)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("HTTP_PROXY")
        .env_remove("http_proxy")
        .env_remove("ALL_PROXY")
        .env_remove("all_proxy")
        .timeout(Duration::from_secs(60))
}

/// A world without a mirror (always there: it needs no fixture).
fn world() -> World {
    World::new()
        .without_mirror()
        .build()
        .expect("a world without a mirror needs nothing")
}

#[track_caller]
fn assert_not_retried(out: &Outcome) {
    out.assert_stderr_lacks("retrying");
    out.assert_stderr_lacks("gave up after");
}

#[test]
fn download_unresolvable_host_fails_at_once_with_the_dns_hint() {
    let w = world();
    let host = format!("actsim-{}.invalid", std::process::id());
    let out = setup_from(&w, &format!("https://{host}/nektos/act/releases/download")).run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains(&host)
        .assert_stderr_contains("does not resolve")
        .assert_stderr_contains("--act-archive");
    assert_not_retried(&out);
    assert!(!w.act().exists(), "{out}");
}

#[test]
fn download_self_signed_certificate_fails_at_once_with_the_ca_hint() {
    let Some(server) = SelfSignedServer::start() else {
        return;
    };
    let w = world();
    let out = setup_from(&w, &server.base_url()).run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("certificate")
        .assert_stderr_contains("--ca-cert");
    assert_not_retried(&out);
    assert!(!w.act().exists(), "{out}");
}

#[test]
fn download_refused_connection_is_still_retried() {
    // A port that was just free: bind, note it, close; nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let w = world();
    let out = setup_from(
        &w,
        &format!("http://127.0.0.1:{port}/nektos/act/releases/download"),
    )
    .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("retrying")
        .assert_stderr_contains("refused");
}

/// A [`TlsServer`] with a fresh self-signed certificate (openssl CLI); killed on drop.
struct SelfSignedServer {
    server: TlsServer,
}

impl SelfSignedServer {
    fn start() -> Option<SelfSignedServer> {
        if !tls::require_tools() {
            return None;
        }
        let dir = temp::dir();
        let d = dir.path().to_path_buf();
        tls::openssl(
            &d,
            "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
             -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem",
        );
        Some(SelfSignedServer {
            server: TlsServer::start(dir, &d, &d.join("cert.pem"), &d.join("key.pem")),
        })
    }

    fn base_url(&self) -> String {
        self.server.base_url()
    }
}
