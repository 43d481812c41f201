//! Integration tests of the act step of `actsim setup` (part 1).
//!
//! The real binary against a loopback mirror in GitHub's release layout serving the real
//! act 0.2.89 archive, with every failure mode the issue lists. Each failure asserts the
//! exit code, the message and that the bin dir is byte-for-byte what it was.

use std::path::PathBuf;
use std::time::Duration;

use crate::support::files::{fixture_sha, listing, sha256_file};
use crate::support::mirror::{self, Mode, VERSION};
use crate::support::pty::Pty;
use crate::support::report::step;
use crate::support::temp;
use crate::support::tls::{self, TlsServer};
use crate::support::world::World;
use crate::support::{Cmd, Outcome, SYSTEM_PATH, exit};

/// `actsim setup --no-check` on a pseudo-terminal with only the system dirs on PATH.
fn on_terminal(w: &World) -> std::process::Command {
    let mut cmd = w.setup_on_terminal();
    cmd.env("PATH", SYSTEM_PATH);
    cmd
}

/// The `act` step of setup's JSON report.
#[track_caller]
fn act_step(out: &Outcome) -> &serde_json::Value {
    step(out, "act")
}

/// A bin dir that already holds a user's own act and another file.
fn prepared_bin(w: &World) -> Vec<String> {
    std::fs::create_dir_all(w.bin()).unwrap();
    let act = w.bin().join("act");
    std::fs::write(&act, "#!/bin/sh\necho act version 0.0.1\n").unwrap();
    temp::chmod(&act, 0o755);
    std::fs::write(w.bin().join("other-tool"), "keep me").unwrap();
    listing(&w.bin())
}

#[test]
fn setup_act_fresh_install_then_rerun_is_ok_without_any_request() {
    let Some(w) = World::new().build() else {
        return;
    };
    let out = w
        .setup_act()
        .args(["--yes", "--format", "json"])
        .env("GITHUB_TOKEN", "ghp_secret_for_github_only")
        .run();
    out.assert_success();
    let j = out.json();
    assert_eq!(j["ok"], true, "{out}");
    assert_eq!(j["changed"], true, "{out}");
    assert_eq!(act_step(&out)["status"], "changed", "{out}");
    assert_eq!(j["checks"], serde_json::json!([]), "{out}");

    // Exactly one act in the bin dir, the fixture's bytes, 0755, and it runs.
    let sha = fixture_sha();
    assert_eq!(
        listing(&w.bin()),
        vec![format!("act 100755 {sha}")],
        "{out}"
    );
    let v = Cmd::new(w.bin().join("act")).arg("--version").run();
    v.assert_success()
        .assert_stdout_contains(&format!("act version {VERSION}"));

    // The receipt records what was installed.
    let r = w.receipt();
    assert_eq!(r["act"]["version"], VERSION);
    assert_eq!(r["act"]["asset"], mirror::host_asset());
    assert_eq!(r["act"]["source"], w.mirror().archive_url());
    assert_eq!(r["act"]["archive_sha256"], w.mirror().archive_sha256());
    assert_eq!(r["act"]["binary_sha256"], sha);
    assert_eq!(
        r["act"]["install_path"],
        w.bin().join("act").display().to_string()
    );
    assert!(r["act"]["installed_at"].as_str().unwrap().ends_with('Z'));

    // checksums.txt then the archive; the token never went to the mirror.
    let reqs = w.mirror().requests();
    assert_eq!(reqs.len(), 2, "{reqs:?}");
    assert!(reqs[0].path.ends_with("/checksums.txt"));
    assert!(
        reqs.iter()
            .all(|r| r.headers.iter().all(|(k, _)| k != "authorization"))
    );

    // Rerun: ok, nothing changed, not a single request.
    let again = w.setup_act().args(["--yes", "--format", "json"]).run();
    again.assert_success();
    assert_eq!(again.json()["changed"], false, "{again}");
    assert_eq!(act_step(&again)["status"], "ok", "{again}");
    assert_eq!(
        w.mirror().requests().len(),
        2,
        "the rerun made a request\n{again}"
    );
    // Even without --yes and without a terminal: nothing to confirm, so it succeeds.
    let human = w.setup_act().run();
    human
        .assert_success()
        .assert_stderr_contains("already installed");
    assert_eq!(w.mirror().requests().len(), 2);
}

#[test]
fn setup_act_dry_run_downloads_nothing_and_changes_nothing() {
    let Some(w) = World::new().build() else {
        return;
    };
    let before = prepared_bin(&w);
    let out = w.setup_act().args(["--dry-run", "--format", "json"]).run();
    out.assert_success();
    assert_eq!(out.json()["changed"], false, "{out}");
    assert_eq!(act_step(&out)["status"], "skipped", "{out}");
    assert!(
        act_step(&out)["summary"]
            .as_str()
            .unwrap()
            .contains("would replace act 0.0.1 at"),
        "{out}"
    );
    assert!(
        w.mirror().requests().is_empty(),
        "{:?}",
        w.mirror().requests()
    );
    assert_eq!(listing(&w.bin()), before);
    assert!(
        !w.state().exists(),
        "dry run created {}",
        w.state().display()
    );

    // The human plan says what comes from where and what is replaced.
    let human = w.setup_act().arg("--dry-run").run();
    human
        .assert_success()
        .assert_stderr_contains(&format!("download {}", w.mirror().archive_url()))
        .assert_stderr_contains("checksums.txt")
        .assert_stderr_contains("act 0.0.1, not installed by actsim")
        .assert_stderr_contains("nothing was changed");
    assert!(w.mirror().requests().is_empty());
}

#[test]
fn setup_act_without_terminal_or_yes_exits_3_at_once() {
    let Some(w) = World::new().build() else {
        return;
    };
    let before = prepared_bin(&w);
    let out = w
        .setup_act()
        .stdin_null()
        .timeout(Duration::from_secs(30))
        .run();
    out.assert_code(exit::ABORTED)
        .assert_stderr_contains("no terminal")
        .assert_stderr_contains("--yes");
    assert!(w.mirror().requests().is_empty());
    assert_eq!(listing(&w.bin()), before);
    assert!(!w.state().exists());
}

#[test]
fn setup_act_yes_from_the_environment_as_provisioning_sets_it() {
    let Some(w) = World::new().build() else {
        return;
    };
    // ACTSIM_YES=1 stands for --yes: no terminal, and it applies the plan.
    let out = w
        .setup_act()
        .env("ACTSIM_YES", "1")
        .args(["--format", "json"])
        .stdin_null()
        .run();
    out.assert_success();
    assert_eq!(act_step(&out)["status"], "changed", "{out}");
    assert!(w.bin().join("act").exists());
    // ACTSIM_YES=0 is no --yes: with act removed there is a change to confirm, and
    // without a terminal that is exit 3.
    std::fs::remove_file(w.bin().join("act")).unwrap();
    let out = w.setup_act().env("ACTSIM_YES", "0").stdin_null().run();
    out.assert_code(exit::ABORTED);
    // A value that is no switch is a usage error naming the variable's flag.
    let out = w
        .setup_act()
        .env("ACTSIM_YES", "perhaps")
        .stdin_null()
        .run();
    out.assert_code(exit::USAGE).assert_stderr_contains("--yes");
}

#[test]
fn setup_act_tampered_archive_is_a_checksum_mismatch_and_changes_nothing() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::Tampered);
    let before = prepared_bin(&w);
    let out = w.setup_act().arg("--yes").run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("checksum mismatch")
        .assert_stderr_contains(w.mirror().archive_sha256())
        .assert_stderr_contains(&w.mirror().archive_url());
    // The actual hash is the tampered file's.
    let actual = out
        .stderr
        .split("actual ")
        .nth(1)
        .map(|s| s[..64].to_string())
        .unwrap_or_default();
    assert!(
        actual.bytes().all(|b| b.is_ascii_hexdigit()) && actual.len() == 64,
        "{out}"
    );
    assert_ne!(actual, w.mirror().archive_sha256());
    assert_eq!(listing(&w.bin()), before, "{out}");
    assert!(!w.state().join("receipt.json").exists());
}

#[test]
fn setup_act_body_cut_short_every_time_fails_with_4() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::CutShort { times: 100 });
    let before = prepared_bin(&w);
    let out = w.setup_act().arg("--yes").run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("cut short")
        .assert_stderr_contains(&w.mirror().archive_url());
    assert!(w.mirror().archive_requests().len() >= 2, "it must retry");
    assert_eq!(listing(&w.bin()), before, "{out}");
}

#[test]
fn setup_act_body_cut_short_once_is_retried() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::CutShort { times: 1 });
    let out = w.setup_act().arg("--yes").run();
    out.assert_success().assert_stderr_contains("retrying");
    assert_eq!(w.mirror().archive_requests().len(), 2);
    assert_eq!(
        listing(&w.bin()),
        vec![format!("act 100755 {}", fixture_sha())]
    );
}

#[test]
fn setup_act_404_names_the_url_and_changes_nothing() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::NotFound);
    let before = prepared_bin(&w);
    let out = w.setup_act().args(["--yes", "--format", "json"]).run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("404")
        .assert_stderr_contains(&w.mirror().archive_url());
    assert_eq!(out.json()["ok"], false);
    assert_eq!(act_step(&out)["status"], "failed");
    assert_eq!(
        w.mirror().archive_requests().len(),
        1,
        "a 404 is not retried"
    );
    assert_eq!(listing(&w.bin()), before);

    // A version that does not exist: the checksums URL is named.
    let out = w
        .setup_act()
        .args(["--yes", "--act-version", "9.9.9"])
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("404")
        .assert_stderr_contains("/v9.9.9/checksums.txt");
    assert_eq!(listing(&w.bin()), before);
}

#[test]
fn setup_act_500_then_success_retries() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::Status {
        status: 500,
        times: 2,
        retry_after: None,
    });
    let out = w.setup_act().arg("--yes").run();
    out.assert_success().assert_stderr_contains("retrying");
    assert_eq!(w.mirror().archive_requests().len(), 3, "{out}");
    assert_eq!(
        listing(&w.bin()),
        vec![format!("act 100755 {}", fixture_sha())]
    );
}

#[test]
fn setup_act_429_honours_retry_after() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::Status {
        status: 429,
        times: 1,
        retry_after: Some(2),
    });
    let out = w.setup_act().arg("--yes").run();
    out.assert_success().assert_stderr_contains("429");
    let hits = w.mirror().archive_requests();
    assert_eq!(hits.len(), 2, "{out}");
    let waited = hits[1].at.duration_since(hits[0].at);
    assert!(
        waited >= Duration::from_millis(1900),
        "waited only {waited:?}, Retry-After said 2s\n{out}"
    );
}

#[test]
fn setup_act_stalled_body_ends_at_the_deadline() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::Stall);
    let before = prepared_bin(&w);
    let out = w
        .setup_act()
        .args(["--yes", "--timeout", "3"])
        .timeout(Duration::from_secs(30))
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains(&w.mirror().archive_url())
        .assert_stderr_contains("--timeout");
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
    assert_eq!(listing(&w.bin()), before, "{out}");
}

#[test]
fn setup_act_two_concurrent_setups_end_in_one_valid_install() {
    let Some(w) = World::new().build() else {
        return;
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| w.setup_act().args(["--yes", "--format", "json"]).run());
        let b = s.spawn(|| w.setup_act().args(["--yes", "--format", "json"]).run());
        (a.join().unwrap(), b.join().unwrap())
    });
    a.assert_success();
    b.assert_success();
    let mut statuses = [
        act_step(&a)["status"].as_str().unwrap().to_string(),
        act_step(&b)["status"].as_str().unwrap().to_string(),
    ];
    statuses.sort();
    assert_eq!(statuses, ["changed", "ok"], "{a}\n{b}");
    assert_eq!(w.mirror().archive_requests().len(), 1);
    let sha = fixture_sha();
    assert_eq!(listing(&w.bin()), vec![format!("act 100755 {sha}")]);
    assert_eq!(w.receipt()["act"]["binary_sha256"], sha);
}

#[test]
fn setup_act_declined_on_a_real_terminal_changes_nothing() {
    let Some(w) = World::new().build() else {
        return;
    };
    let before = prepared_bin(&w);
    let mut pty = Pty::spawn(on_terminal(&w));
    pty.expect("Apply this plan?", Duration::from_secs(60));
    let shown = pty.output();
    assert!(shown.contains(&w.mirror().archive_url()), "{shown}");
    pty.send("n");
    let code = pty.wait(Duration::from_secs(30));
    assert_eq!(code, Some(3), "{}", pty.output());
    assert!(pty.output().contains("declined"), "{}", pty.output());
    assert!(w.mirror().requests().is_empty());
    assert_eq!(listing(&w.bin()), before);
    assert!(!w.state().exists());
}

#[test]
fn setup_act_accepted_on_a_real_terminal_installs() {
    let Some(w) = World::new().build() else {
        return;
    };
    let mut pty = Pty::spawn(on_terminal(&w));
    pty.expect("Apply this plan?", Duration::from_secs(60));
    pty.send("y");
    assert_eq!(
        pty.wait(Duration::from_secs(60)),
        Some(0),
        "{}",
        pty.output()
    );
    assert!(
        pty.output().contains("installed act 0.2.89"),
        "{}",
        pty.output()
    );
    // Not on PATH: the user was told.
    assert!(pty.output().contains("is not on PATH"), "{}", pty.output());
    assert_eq!(
        listing(&w.bin()),
        vec![format!("act 100755 {}", fixture_sha())]
    );
}

#[test]
fn setup_act_replaces_a_foreign_act_keeping_a_copy_and_warns_about_shadowing() {
    let Some(w) = World::new().build() else {
        return;
    };
    prepared_bin(&w);
    let old = std::fs::read(w.bin().join("act")).unwrap();
    // Another act earlier on PATH shadows the bin dir.
    let other = temp::dir();
    temp::write(
        &other.path().join("act"),
        "#!/bin/sh\necho act version 0.1.0\n",
    );
    temp::chmod(&other.path().join("act"), 0o755);
    let out = w
        .setup_act()
        .arg("--yes")
        .env(
            "PATH",
            format!(
                "{}:{}:{SYSTEM_PATH}",
                other.path().display(),
                w.bin().display()
            ),
        )
        .run();
    out.assert_success()
        .assert_stderr_contains("act 0.1.0, not installed by actsim")
        .assert_stderr_contains("shadows");
    let r = w.receipt();
    let replaced = &r["act"]["replaced"][0];
    assert_eq!(replaced["version"], "0.0.1");
    assert_eq!(replaced["installed_by_actsim"], false);
    let backup = PathBuf::from(replaced["backup"].as_str().unwrap());
    assert!(backup.starts_with(w.state()), "{}", backup.display());
    assert_eq!(std::fs::read(&backup).unwrap(), old);
    assert_eq!(
        std::fs::read(w.bin().join("other-tool")).unwrap(),
        b"keep me"
    );
    assert_eq!(sha256_file(&w.act()), fixture_sha());
}

#[test]
fn setup_act_offline_archive_with_checksums_or_sha256() {
    let Some(w) = World::new().build() else {
        return;
    };
    let (archive, sha) = mirror::release_archive().unwrap();
    let dl = temp::dir();
    let file = dl.path().join(mirror::host_asset());
    std::fs::write(&file, archive).unwrap();
    let sums = dl.path().join("checksums.txt");
    std::fs::write(&sums, mirror::checksums_text(sha)).unwrap();

    // A wrong --act-sha256 alone: mismatch naming the file, nothing installed.
    let wrong = "0".repeat(64);
    let out = w
        .setup_act()
        .args(["--yes", "--act-sha256", &wrong])
        .arg("--act-archive")
        .arg(&file)
        .run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("checksum mismatch")
        .assert_stderr_contains(&file.display().to_string())
        .assert_stderr_contains(&wrong)
        .assert_stderr_contains(sha);
    assert_eq!(listing(&w.bin()), vec!["<absent>".to_string()], "{out}");

    let out = w
        .setup_act()
        .args(["--yes", "--format", "json"])
        .arg("--act-archive")
        .arg(&file)
        .arg("--act-checksums")
        .arg(&sums)
        .run();
    out.assert_success();
    assert_eq!(act_step(&out)["status"], "changed");
    assert!(
        w.mirror().requests().is_empty(),
        "offline install used the network"
    );
    assert_eq!(w.receipt()["act"]["source"], file.display().to_string());

    // --act-archive without anything to verify against is a usage error.
    let out = w
        .setup_act()
        .arg("--yes")
        .arg("--act-archive")
        .arg(&file)
        .run();
    out.assert_code(exit::USAGE)
        .assert_stderr_contains("--act-sha256");
}

#[test]
fn setup_act_refuses_plain_http_to_a_remote_host() {
    let Some(w) = World::new().build() else {
        return;
    };
    let out = w
        .setup_from("http://mirror.example.com/act")
        .arg("--yes")
        .run();
    out.assert_code(exit::USAGE)
        .assert_stderr_contains("http://")
        .assert_stderr_contains("--allow-http");
    assert_eq!(listing(&w.bin()), vec!["<absent>".to_string()]);
    let out = w.setup_act().args(["--yes", "--act-version", "0.2"]).run();
    out.assert_code(exit::USAGE).assert_stderr_contains("0.2");
}

#[test]
fn setup_act_latest_resolves_through_the_redirect() {
    let Some(w) = World::new().build() else {
        return;
    };
    let out = w
        .setup_act()
        .args(["--yes", "--act-version", "latest", "--format", "json"])
        .run();
    out.assert_success();
    assert_eq!(w.receipt()["act"]["version"], VERSION);
    let paths: Vec<String> = w.mirror().requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths[0], "/nektos/act/releases/latest", "{paths:?}");
    // A concrete version on rerun: no request at all, not even the latest lookup.
    let n = w.mirror().requests().len();
    w.setup_act().arg("--yes").run().assert_success();
    assert_eq!(w.mirror().requests().len(), n);
}

/// An HTTPS mirror ([`TlsServer`]) with a certificate from a fresh test CA made with the
/// openssl CLI, serving the release in GitHub's layout; killed on drop.
struct TlsMirror {
    server: TlsServer,
}

impl TlsMirror {
    fn start() -> Option<TlsMirror> {
        if !tls::require_tools() {
            return None;
        }
        let (archive, sha) = mirror::release_archive()?;
        let dir = temp::dir();
        let d = dir.path();
        let rel = d.join(format!("srv/nektos/act/releases/download/v{VERSION}"));
        std::fs::create_dir_all(&rel).unwrap();
        std::fs::write(rel.join(mirror::host_asset()), archive).unwrap();
        std::fs::write(rel.join("checksums.txt"), mirror::checksums_text(sha)).unwrap();
        temp::write(
            &d.join("leaf.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
        );
        tls::openssl(
            d,
            "set -e
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=actsim-test-ca \
  -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
  -keyout ca.key -out ca.pem
openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout leaf.key -out leaf.csr
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
  -extfile leaf.ext -out leaf.pem",
        );
        let (srv, cert, key) = (d.join("srv"), d.join("leaf.pem"), d.join("leaf.key"));
        Some(TlsMirror {
            server: TlsServer::start(dir, &srv, &cert, &key),
        })
    }

    fn base_url(&self) -> String {
        self.server.base_url()
    }

    fn ca(&self) -> PathBuf {
        self.server.dir().join("ca.pem")
    }
}

#[test]
fn setup_act_https_mirror_needs_its_ca_from_ca_cert_or_ssl_cert_file() {
    let Some(w) = World::new().build() else {
        return;
    };
    let Some(tls) = TlsMirror::start() else {
        return;
    };
    // Not trusted: a clear, unretried failure naming the fix.
    let out = w.setup_from(&tls.base_url()).arg("--yes").run();
    out.assert_code(exit::DOWNLOAD)
        .assert_stderr_contains("certificate")
        .assert_stderr_contains("--ca-cert");
    assert_eq!(listing(&w.bin()), vec!["<absent>".to_string()], "{out}");

    // SSL_CERT_FILE names the CA: installed.
    let out = w
        .setup_from(&tls.base_url())
        .arg("--yes")
        .env("SSL_CERT_FILE", tls.ca())
        .run();
    out.assert_success();
    assert_eq!(
        listing(&w.bin()),
        vec![format!("act 100755 {}", fixture_sha())]
    );

    // --ca-cert, in a second, fresh world.
    let Some(w2) = World::new().build() else {
        return;
    };
    let out = w2
        .setup_from(&tls.base_url())
        .arg("--yes")
        .arg("--ca-cert")
        .arg(tls.ca())
        .run();
    out.assert_success();
    assert_eq!(
        listing(&w2.bin()),
        vec![format!("act 100755 {}", fixture_sha())]
    );
}

#[test]
fn setup_act_interrupted_mid_download_exits_130_and_changes_nothing() {
    let Some(w) = World::new().build() else {
        return;
    };
    w.mirror().set_mode(Mode::Stall);
    let before = prepared_bin(&w);
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_actsim"));
    cmd.args([
        "setup",
        "--yes",
        "--no-check",
        "--act-base-url",
        &w.mirror().base_url(),
    ])
    .arg("--bin-dir")
    .arg(w.bin())
    .arg("--config-dir")
    .arg(w.config());
    w.within_std(&mut cmd);
    let mut child = cmd
        .env("PATH", SYSTEM_PATH)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait (with a deadline) until the archive download has begun.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while w.mirror().archive_requests().is_empty() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the archive was never requested");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(200));
    // The staging file exists while the download runs...
    assert!(
        listing(&w.bin()).iter().any(|l| l.contains(".partial")),
        "{:?}",
        listing(&w.bin())
    );
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("setup did not stop within 10s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    // ... and is gone after Ctrl-C.
    assert_eq!(status.code(), Some(130));
    assert_eq!(listing(&w.bin()), before);
}
