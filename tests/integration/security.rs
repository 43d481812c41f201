//! Privilege separation, attacked for real: an unprivileged temporary user who owns the
//! target home plants links, FIFOs, forged records and racing renames while root runs
//! `actsim setup --user` and `actsim doctor --user` for them. Every test checks that
//! nothing outside the user's reach changed: the planted victims (a root-only secret and
//! a root-owned directory) keep owner, mode and content, and no file appears in a
//! root-owned directory.
//!
//! The socket is a proxy owned by a temporary group, so the group join never touches the
//! machine's real `docker` group.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::SYSTEM_PATH;
use crate::support::mirror::Mirror;
use crate::support::proxy::SocketProxy;
use crate::support::temp::{self, TempDir};
use crate::support::users::{TempGroup, TempUser, require_root};
use crate::support::{Cmd, Outcome, require_act};

/// "Within the deadline": `--timeout 5` plus a margin for a loaded 2-core machine; a
/// FIFO that was waited on would never end at all.
const SOON: Duration = Duration::from_secs(5 + 10);

/// A target user, a socket proxy of their (future) group, a mirror, a root-owned bin dir,
/// and root's victims: `vault/secret` (0600) and `spool/` (an empty root-owned dir).
struct Scene {
    mirror: Mirror,
    user: TempUser,
    group: TempGroup,
    proxy: SocketProxy,
    root: TempDir,
    /// Root's state dir for every run of this scene (`ACTSIM_SYSTEM_STATE_DIR`).
    system: TempDir,
    secret: Vec<u8>,
}

impl Scene {
    fn new() -> Option<Scene> {
        if !require_root() {
            return None;
        }
        require_act()?;
        let mirror = Mirror::start()?;
        let group = TempGroup::new();
        let proxy = SocketProxy::to_docker(group.gid);
        let root = temp::dir();
        let secret = format!("root-secret-{}\n", std::process::id()).into_bytes();
        let vault = root.path().join("vault");
        std::fs::create_dir(&vault).unwrap();
        temp::chmod(&vault, 0o700);
        std::fs::write(vault.join("secret"), &secret).unwrap();
        temp::chmod(&vault.join("secret"), 0o600);
        std::fs::create_dir(root.path().join("spool")).unwrap();
        std::fs::create_dir(root.path().join("bin")).unwrap();
        Some(Scene {
            mirror,
            user: TempUser::new(),
            group,
            proxy,
            root,
            system: temp::dir(),
            secret,
        })
    }

    fn system_state(&self) -> PathBuf {
        self.system.path().join("actsim")
    }

    fn secret_path(&self) -> PathBuf {
        self.root.path().join("vault/secret")
    }

    fn spool(&self) -> PathBuf {
        self.root.path().join("spool")
    }

    /// A root-owned bin dir.
    fn root_bin(&self) -> PathBuf {
        self.root.path().join("bin")
    }

    /// The user's own `~/.local/bin`.
    fn user_bin(&self) -> PathBuf {
        self.user.home.join(".local/bin")
    }

    fn state(&self) -> PathBuf {
        self.user.home.join(".local/state/actsim")
    }

    /// Run a shell script as the user (their uid, gid and groups), in their home.
    #[track_caller]
    fn as_user(&self, script: &str) -> Outcome {
        let out = Cmd::new("runuser")
            .args(["-u", &self.user.name, "--", "sh", "-c", script])
            .current_dir(&self.user.home)
            .run();
        assert_eq!(out.code, Some(0), "as {}: {script}\n{out}", self.user.name);
        out
    }

    /// Root's `actsim setup --yes --user U` into `bin`, from the mirror, through the proxy.
    fn setup(&self, bin: &Path) -> Cmd {
        self.setup_within(bin, 60)
    }

    /// The same with `--timeout SECS`.
    fn setup_within(&self, bin: &Path, secs: u64) -> Cmd {
        Cmd::actsim()
            .args(["setup", "--yes", "--format", "json", "--no-check"])
            .args(["--timeout", &secs.to_string(), "--user", &self.user.name])
            .arg("--act-base-url")
            .arg(self.mirror.base_url())
            .arg("--bin-dir")
            .arg(bin)
            .env("DOCKER_HOST", self.proxy.host())
            .env("ACTSIM_SYSTEM_STATE_DIR", self.system_state())
            .env("PATH", SYSTEM_PATH)
            .timeout(Duration::from_secs(180))
    }

    /// Root's `actsim doctor --user U`.
    fn doctor(&self, bin: &Path, timeout: u64) -> Cmd {
        Cmd::actsim()
            .args(["doctor", "--format", "json", "--user", &self.user.name])
            .args(["--timeout", &timeout.to_string()])
            .arg("--bin-dir")
            .arg(bin)
            .env("DOCKER_HOST", self.proxy.host())
            .env("ACTSIM_SYSTEM_STATE_DIR", self.system_state())
            .env("PATH", SYSTEM_PATH)
            .timeout(Duration::from_secs(timeout + 30))
    }

    /// The victims are as planted: the secret's bytes, owner and mode, the vault holding
    /// only it, the spool empty.
    #[track_caller]
    fn assert_victims_intact(&self, context: &dyn std::fmt::Display) {
        let m = std::fs::symlink_metadata(self.secret_path()).unwrap();
        assert!(m.is_file(), "the secret is no longer a file\n{context}");
        assert_eq!(
            (m.uid(), m.gid()),
            (0, 0),
            "the secret changed owner\n{context}"
        );
        assert_eq!(
            m.mode() & 0o7777,
            0o600,
            "the secret changed mode\n{context}"
        );
        assert_eq!(
            std::fs::read(self.secret_path()).unwrap(),
            self.secret,
            "the secret changed\n{context}"
        );
        assert_eq!(
            names(&self.root.path().join("vault")),
            vec!["secret".to_string()],
            "{context}"
        );
        assert!(
            names(&self.spool()).is_empty(),
            "files appeared in the root-owned spool: {:?}\n{context}",
            names(&self.spool())
        );
        let vault = std::fs::metadata(self.root.path().join("vault")).unwrap();
        assert_eq!(
            (vault.uid(), vault.mode() & 0o7777),
            (0, 0o700),
            "{context}"
        );
    }

    /// Run `racer` (a Python script, as the user, until `~/stop` appears) while root runs
    /// setup into the user's bin dir 20 times; after each round the victims must be
    /// intact and `check` must hold.
    #[track_caller]
    fn race(&self, racer: &str, check: impl Fn(usize, &Outcome)) {
        std::fs::write(self.user.home.join("racer.py"), racer).unwrap();
        let mut child = std::process::Command::new("runuser")
            .args(["-u", &self.user.name, "--", "/usr/bin/python3"])
            .arg(self.user.home.join("racer.py"))
            .current_dir(&self.user.home)
            .spawn()
            .unwrap();
        for round in 0..20 {
            let out = self.setup(&self.user_bin()).run();
            self.assert_victims_intact(&format!("round {round}\n{out}"));
            check(round, &out);
        }
        std::fs::write(self.user.home.join("stop"), b"").unwrap();
        let _ = child.wait();
    }

    /// No file the user can read holds root's secret.
    #[track_caller]
    fn assert_secret_not_leaked(&self, context: &dyn std::fmt::Display) {
        let mut stack = vec![self.user.home.clone()];
        while let Some(dir) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&dir) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                let Ok(m) = std::fs::symlink_metadata(&p) else {
                    continue;
                };
                if m.is_dir() {
                    stack.push(p);
                } else if m.is_file() && m.len() < 1 << 20 {
                    let bytes = std::fs::read(&p).unwrap_or_default();
                    assert!(
                        !bytes
                            .windows(self.secret.len())
                            .any(|w| w == self.secret.as_slice()),
                        "root's secret leaked into {}\n{context}",
                        p.display()
                    );
                }
            }
        }
    }
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|r| {
            r.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn sha256(path: &Path) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

#[track_caller]
fn step_status<'a>(out: &'a Outcome, id: &str) -> &'a str {
    out.json()["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == id))
        .and_then(|s| s["status"].as_str())
        .unwrap_or_else(|| panic!("no step {id}\n{out}"))
}

#[test]
fn security_root_installs_for_a_user_as_them_and_records_in_its_own_state() {
    let Some(s) = Scene::new() else { return };
    // A user-side bin dir: the act, the receipt and the files are the user's by
    // construction (created by a process running as them, no chown).
    let out = s.setup(&s.user_bin()).run();
    out.assert_success();
    for p in [
        s.user_bin(),
        s.user_bin().join("act"),
        s.state().join("receipt.json"),
        s.user.home.join(".config/act/actrc"),
        s.user.home.join(".config/actsim/.env"),
    ] {
        let m =
            std::fs::symlink_metadata(&p).unwrap_or_else(|e| panic!("{}: {e}\n{out}", p.display()));
        assert_eq!(
            (m.uid(), m.gid()),
            (s.user.uid, s.user.gid),
            "{}\n{out}",
            p.display()
        );
    }
    // A root-owned bin dir: act and its record are root's, the user's receipt has no act.
    let out = s.setup(&s.root_bin()).run();
    out.assert_success();
    let act = std::fs::metadata(s.root_bin().join("act")).unwrap();
    assert_eq!((act.uid(), act.mode() & 0o7777), (0, 0o755), "{out}");
    let system: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.system_state().join("receipt.json")).unwrap())
            .unwrap();
    assert_eq!(
        system["act"]["install_path"],
        s.root_bin().join("act").display().to_string(),
        "{system:#}"
    );
    assert!(
        !system["verified"].as_array().unwrap().is_empty(),
        "{system:#}"
    );
    let theirs: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.state().join("receipt.json")).unwrap()).unwrap();
    assert_eq!(
        theirs["act"]["install_path"],
        s.user_bin().join("act").display().to_string(),
        "the user's receipt describes only the user's own act\n{theirs:#}"
    );
    // A rerun trusts root's record only: nothing is downloaded again.
    let before = s.mirror.archive_requests().len();
    let again = s.setup(&s.user_bin()).run();
    again.assert_success();
    assert_eq!(again.json()["changed"], false, "{again}");
    assert_eq!(s.mirror.archive_requests().len(), before, "{again}");
    s.assert_victims_intact(&out);
}

#[test]
fn security_1_a_backup_dir_linked_to_a_root_directory_gets_nothing() {
    let Some(s) = Scene::new() else { return };
    let spool = s.spool();
    // An older act of the user's in their bin dir, so setup replaces it and keeps a copy;
    // the backup dir is a link to a root-owned directory and the receipt is gone.
    s.as_user(&format!(
        "mkdir -p .local/bin .local/state/actsim && printf '#!/bin/sh\\necho act version 0.0.1\\n' > .local/bin/act && chmod 755 .local/bin/act && ln -s {} .local/state/actsim/backup && rm -f .local/state/actsim/receipt.json",
        spool.display()
    ));
    let out = s.setup(&s.user_bin()).run();
    s.assert_victims_intact(&out);
    // The same against a root-owned bin dir: root keeps backups in its own state dir.
    std::fs::write(
        s.root_bin().join("act"),
        b"#!/bin/sh\necho act version 0.0.1\n",
    )
    .unwrap();
    temp::chmod(&s.root_bin().join("act"), 0o755);
    let system = s.system_state();
    let out = s.setup(&s.root_bin()).run();
    out.assert_success();
    s.assert_victims_intact(&out);
    let backups = names(&system.join("backup"));
    assert_eq!(backups.len(), 1, "{backups:?}\n{out}");
    let b = std::fs::metadata(system.join("backup").join(&backups[0])).unwrap();
    assert_eq!(b.uid(), 0, "{out}");
}

#[test]
fn security_2_and_5_racing_link_swaps_never_redirect_a_write() {
    let Some(s) = Scene::new() else { return };
    // First a normal setup, so every rerun only rewrites what the racer deletes.
    s.setup(&s.user_bin()).run().assert_success();
    // The racer, as the user: swap ~/.config/act and a link to the root-owned spool with
    // renameat2(RENAME_EXCHANGE), and keep deleting the actrc so setup rewrites it.
    let racer = format!(
        r#"
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
home = os.path.expanduser("~")
d = os.path.join(home, ".config/act")
link = os.path.join(home, ".config/act-link")
try: os.symlink("{spool}", link)
except FileExistsError: pass
end = time.time() + 120
while time.time() < end and not os.path.exists(os.path.join(home, "stop")):
    libc.renameat2(-100, d.encode(), -100, link.encode(), 2)
    try: os.unlink(os.path.join(d, "actrc"))
    except OSError: pass
"#,
        spool = s.spool().display()
    );
    s.race(&racer, |_, _| {});
    s.assert_victims_intact(&"after the race");
}

#[test]
fn security_3_root_never_runs_the_users_act() {
    let Some(s) = Scene::new() else { return };
    // A fake act that records who ran it, in the user's bin dir.
    s.as_user(
        "mkdir -p .local/bin && printf '#!/bin/sh\\nid -u >> \"$HOME/ran-as\"\\necho act version 0.0.1\\n' > .local/bin/act && chmod 755 .local/bin/act && touch ran-as",
    );
    let out = s.setup(&s.user_bin()).run();
    let doc = s.doctor(&s.user_bin(), 20).run();
    let ran = std::fs::read_to_string(s.user.home.join("ran-as")).unwrap();
    assert!(
        ran.lines().all(|l| l.trim() == s.user.uid.to_string()),
        "the user's act ran as {ran:?}\n{out}\n{doc}"
    );
    // A link there to a root-only file: its content is never copied anywhere.
    s.as_user(&format!(
        "rm -f .local/bin/act && ln -s {} .local/bin/act",
        s.secret_path().display()
    ));
    let out = s.setup(&s.user_bin()).run();
    s.assert_victims_intact(&out);
    s.assert_secret_not_leaked(&out);
}

#[test]
fn security_4_a_lock_file_linked_to_a_root_file_is_never_opened_through() {
    let Some(s) = Scene::new() else { return };
    s.as_user(&format!(
        "mkdir -p .local/state/actsim && ln -s {} .local/state/actsim/setup.lock",
        s.secret_path().display()
    ));
    let out = s.setup(&s.user_bin()).run();
    assert_ne!(out.code, Some(0), "{out}");
    out.assert_stderr_contains("setup.lock");
    s.assert_victims_intact(&out);
    // A lock link to a file that does not exist yet in a root-owned directory.
    s.as_user(&format!(
        "rm .local/state/actsim/setup.lock && ln -s {}/new .local/state/actsim/setup.lock",
        s.spool().display()
    ));
    let out = s.setup(&s.user_bin()).run();
    s.assert_victims_intact(&out);
}

#[test]
fn security_6_a_config_file_linked_to_a_root_secret_is_never_read() {
    let Some(s) = Scene::new() else { return };
    for file in [
        ".config/act/actrc",
        ".config/actsim/.env",
        ".config/actsim/docker-compose.yml",
        ".local/state/actsim/receipt.json",
    ] {
        s.as_user(&format!(
            "mkdir -p $(dirname {file}) && rm -f {file} && ln -s {} {file}",
            s.secret_path().display()
        ));
    }
    let out = s.setup(&s.user_bin()).run();
    s.assert_victims_intact(&out);
    s.assert_secret_not_leaked(&out);
    let doc = s.doctor(&s.user_bin(), 20).run();
    s.assert_secret_not_leaked(&doc);
}

#[test]
fn security_7_the_users_docker_context_does_not_pick_roots_socket_group() {
    let Some(s) = Scene::new() else { return };
    // The user's config points at another socket, owned by another group.
    let other = TempGroup::new();
    let other_proxy = SocketProxy::to_docker(other.gid);
    let name = "actsim-evil";
    let meta = actsim::docker::endpoint::context_meta_path(&s.user.home.join(".docker"), name);
    let meta_json = format!(
        r#"{{"Name":"{name}","Endpoints":{{"docker":{{"Host":"{}"}}}}}}"#,
        other_proxy.host()
    );
    s.as_user(&format!(
        "mkdir -p {} && printf '%s' '{meta_json}' > {} && printf '{{\"currentContext\":\"{name}\"}}' > .docker/config.json",
        meta.parent().unwrap().display(),
        meta.display()
    ));
    let out = s.setup(&s.user_bin()).run();
    out.assert_success();
    let members = |g: &str| {
        let out = std::process::Command::new("getent")
            .args(["group", g])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(members(&s.group.name).contains(&s.user.name), "{out}");
    assert!(!members(&other.name).contains(&s.user.name), "{out}");
    out.assert_stderr_contains(&format!("context {name}"));
}

#[test]
fn security_8_fifos_devices_and_huge_files_end_within_the_deadline() {
    let Some(s) = Scene::new() else { return };
    // Installed once, so the runs below have nothing slow left to do.
    s.setup(&s.user_bin()).run().assert_success();
    s.as_user("mkdir -p .config/act && rm -f .config/act/actrc && mkfifo .config/act/actrc");
    let started = Instant::now();
    let out = s.setup_within(&s.user_bin(), 5).run();
    assert!(started.elapsed() < SOON, "{:?}\n{out}", started.elapsed());
    assert_eq!(step_status(&out, "actrc"), "failed", "{out}");
    assert!(out.stdout.contains("FIFO"), "{out}");
    let started = Instant::now();
    let doc = s.doctor(&s.user_bin(), 5).run();
    assert!(started.elapsed() < SOON, "{:?}\n{doc}", started.elapsed());
    s.as_user(
        "rm .config/act/actrc && mkdir -p .local/state/actsim && ln -sf /dev/zero .local/state/actsim/receipt.json && head -c 2097152 /dev/zero > .config/act/actrc",
    );
    let started = Instant::now();
    let out = s.setup_within(&s.user_bin(), 5).run();
    assert!(started.elapsed() < SOON, "{:?}\n{out}", started.elapsed());
    assert!(
        out.stderr.contains("larger than") || out.stdout.contains("larger than"),
        "{out}"
    );
    let started = Instant::now();
    let _ = s.doctor(&s.user_bin(), 5).run();
    assert!(started.elapsed() < SOON);
    s.assert_victims_intact(&out);
}

#[test]
fn security_9_a_forged_receipt_still_ends_with_the_verified_act() {
    let Some(s) = Scene::new() else { return };
    let fake = "#!/bin/sh\necho act version 0.2.89\n";
    let fake_sha = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(fake.as_bytes()))
    };
    let bin = s.user_bin();
    let receipt = serde_json::json!({
        "schema": 1,
        "act": {
            "version": "0.2.89", "asset": crate::support::mirror::host_asset(),
            "source": "forged", "archive_sha256": s.mirror.archive_sha256(),
            "binary_sha256": fake_sha, "install_path": bin.join("act"),
            "installed_at": "2026-01-01T00:00:00Z"
        }
    });
    std::fs::write(s.user.home.join("forged.json"), receipt.to_string()).unwrap();
    s.as_user(&format!(
        "mkdir -p .local/bin .local/state/actsim && printf '{}' > .local/bin/act && chmod 755 .local/bin/act && cp forged.json .local/state/actsim/receipt.json",
        fake.replace('\n', "\\n")
    ));
    let out = s.setup(&bin).run();
    out.assert_success();
    assert_eq!(step_status(&out, "act"), "changed", "{out}");
    let real = require_act().unwrap();
    assert_eq!(sha256(&bin.join("act")), sha256(&real), "{out}");
}

#[test]
fn security_10_a_loopback_mirror_never_goes_through_a_proxy() {
    let Some(s) = Scene::new() else { return };
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let proxy = format!("http://{}", listener.local_addr().unwrap());
    let out = s
        .setup(&s.user_bin())
        .env("HTTP_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env("HTTPS_PROXY", &proxy)
        .env("ALL_PROXY", &proxy)
        .run();
    out.assert_success();
    assert!(
        listener.accept().is_err(),
        "the proxy saw a connection\n{out}"
    );
    assert!(!s.mirror.archive_requests().is_empty(), "{out}");
}

#[test]
fn security_11_an_actrc_in_another_encoding_with_crlf_is_kept_byte_for_byte() {
    let Some(s) = Scene::new() else { return };
    let theirs: &[u8] = b"--container-architecture linux/amd64 \r\n# caf\xe9\r\n--env A=b\r\n";
    let actrc = s.user.home.join(".config/act/actrc");
    std::fs::create_dir_all(actrc.parent().unwrap()).unwrap();
    std::fs::write(&actrc, theirs).unwrap();
    temp::chown_r(&s.user.home.join(".config"), s.user.uid, s.user.gid);
    let out = s.setup(&s.user_bin()).run();
    out.assert_success();
    let now = std::fs::read(&actrc).unwrap();
    for line in theirs.split_inclusive(|b| *b == b'\n') {
        assert!(
            now.windows(line.len()).any(|w| w == line),
            "lost {:?} in {:?}\n{out}",
            String::from_utf8_lossy(line),
            String::from_utf8_lossy(&now)
        );
    }
    assert!(now.windows(3).any(|w| w == b"-P "), "{out}");
    assert!(
        !now.contains(&b'\n')
            || now
                .split(|b| *b == b'\n')
                .all(|l| l.is_empty() || l.ends_with(b"\r")),
        "line ends changed: {:?}",
        String::from_utf8_lossy(&now)
    );
}

#[test]
fn security_12_stale_staging_files_are_removed_and_sigterm_leaves_nothing() {
    let Some(s) = Scene::new() else { return };
    // A staging file of a killed run (a pid that cannot exist), and a link that only
    // looks like one: the first is removed, the link is left alone, its target untouched.
    let bin = s.root_bin();
    std::fs::write(bin.join(".act.999999.partial"), vec![0u8; 4096]).unwrap();
    std::os::unix::fs::symlink(s.secret_path(), bin.join(".act.999998.partial")).unwrap();
    let out = s.setup(&bin).run();
    out.assert_success();
    assert!(!bin.join(".act.999999.partial").exists(), "{out}");
    assert!(bin.join(".act.999998.partial").is_symlink(), "{out}");
    s.assert_victims_intact(&out);

    // SIGTERM mid-download, into the user's bin dir: exit 143, no staging file left.
    s.mirror.set_mode(crate::support::mirror::Mode::Stall);
    let ubin = s.user_bin();
    s.as_user("mkdir -p .local/bin");
    let system = s.system_state();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_actsim"))
        .args(["setup", "--yes", "--no-check", "--user", &s.user.name])
        .arg("--act-base-url")
        .arg(s.mirror.base_url())
        .arg("--bin-dir")
        .arg(&ubin)
        .env("DOCKER_HOST", s.proxy.host())
        .env("ACTSIM_SYSTEM_STATE_DIR", &system)
        .env("PATH", SYSTEM_PATH)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !names(&ubin).iter().any(|n| n.ends_with(".partial")) {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("no staging file appeared in {}", ubin.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("setup did not stop within 10 s of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(143));
    assert!(names(&ubin).is_empty(), "{:?}", names(&ubin));
}

#[test]
fn security_13_a_linked_state_dir_is_refused_before_act_is_touched() {
    let Some(s) = Scene::new() else { return };
    s.as_user("mkdir -p elsewhere .local/state && ln -s $HOME/elsewhere .local/state/actsim");
    let out = s.setup(&s.user_bin()).run();
    assert_ne!(out.code, Some(0), "{out}");
    out.assert_stderr_contains("symbolic link");
    assert!(!s.user_bin().join("act").exists(), "{out}");
    assert!(names(&s.user.home.join("elsewhere")).is_empty(), "{out}");
    assert!(s.mirror.archive_requests().is_empty(), "{out}");
}

#[test]
fn security_14_printed_fixes_quote_their_paths() {
    let Some(s) = Scene::new() else { return };
    let odd = s.root.path().join("x y$(id)").join("bin");
    std::fs::create_dir_all(&odd).unwrap();
    let out = s.setup(&odd).run();
    out.assert_success();
    let want = format!("export PATH='{}':\"$PATH\"", odd.display());
    out.assert_stderr_contains(&want);
}

#[test]
fn security_7_the_docker_host_flag_is_roots_choice_of_socket() {
    let Some(s) = Scene::new() else { return };
    // Root's environment names another socket; --docker-host wins over it.
    let other = TempGroup::new();
    let other_proxy = SocketProxy::to_docker(other.gid);
    let out = s
        .setup(&s.user_bin())
        .env("DOCKER_HOST", other_proxy.host())
        .args(["--docker-host", &s.proxy.host()])
        .run();
    out.assert_success();
    let members = |g: &str| {
        let out = std::process::Command::new("getent")
            .args(["group", g])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(members(&s.group.name).contains(&s.user.name), "{out}");
    assert!(!members(&other.name).contains(&s.user.name), "{out}");
}

#[test]
fn security_6_a_racing_link_swap_never_makes_root_read_a_secret() {
    let Some(s) = Scene::new() else { return };
    s.setup(&s.user_bin()).run().assert_success();
    // The racer, as the user: swap their actrc with a link to root's secret, over and
    // over, while root's setup reads the actrc to merge it.
    let racer = format!(
        r#"
import ctypes, os, time
libc = ctypes.CDLL(None, use_errno=True)
home = os.path.expanduser("~")
f = os.path.join(home, ".config/act/actrc")
link = os.path.join(home, ".config/act/actrc-link")
try: os.symlink("{secret}", link)
except FileExistsError: pass
end = time.time() + 120
while time.time() < end and not os.path.exists(os.path.join(home, "stop")):
    libc.renameat2(-100, f.encode(), -100, link.encode(), 2)
"#,
        secret = s.secret_path().display()
    );
    s.race(&racer, |round, out| {
        assert!(
            !out.stdout.contains("root-secret") && !out.stderr.contains("root-secret"),
            "round {round}: the secret reached setup's output\n{out}"
        );
    });
    s.assert_secret_not_leaked(&"after the race");
}
