//! `actsim doctor --bundle FILE`: a `.tar.gz` for a bug report.
//!
//! It holds the doctor JSON, versions (actsim, act, Docker engine and CLI, compose, OS,
//! kernel), the resolved endpoint and the known sockets, the receipt, the actrc files, the
//! compose file and `.env`, `act --bug-report`, the last `actsim run` log when there is one,
//! and the allow-listed environment. Every text is redacted on the way in: the value of any
//! key that looks secret (`*TOKEN*`, `*SECRET*`, `*PASSWORD*`, `*KEY*`, any case) becomes
//! `***`, as do GitHub token shapes (`ghp_…`, `github_pat_…`) anywhere and the user:password
//! part of URLs. Environment values appear only for [`ENV_ALLOW`]; a few others are listed
//! as set or not, without their value.
//!
//! What can go wrong: a file that is a link, FIFO, device or larger than 1 MiB is not read
//! (the manifest says why); `act --bug-report` that hangs is killed after 20 s; an act that
//! root should not execute (not root-owned, or writable by others) is not run; a FILE that
//! cannot be written is an error (exit 1). The bundle is mode 0600 and written atomically.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::Instant;

use super::{CheckId, Finding, Report};
use crate::context::Context;
use crate::docker::endpoint;
use crate::error::{Error, Result};
use crate::system::files::read_bounded;
use crate::system::process::Process;
use crate::system::program::run_program;
use crate::system::redact::{redact, redact_tokens};

/// Largest file read into the bundle.
pub const MAX_FILE: u64 = 1 << 20;
/// Where `actsim run` keeps its logs, under the state dir (`run-<time>-<pid>.log`).
pub const RUN_LOG_DIR: &str = "logs";
/// Environment variables whose values go into the bundle.
pub const ENV_ALLOW: [&str; 24] = [
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "PATH",
    "LANG",
    "LC_ALL",
    "TERM",
    "CI",
    "NO_COLOR",
    "SUDO_USER",
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "XDG_CONFIG_HOME",
    "XDG_STATE_HOME",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
    "SSL_CERT_FILE",
    "ACTSIM_BIN_DIR",
    "ACTSIM_CONFIG_DIR",
    "ACTSIM_PLATFORM_IMAGE",
];
/// Environment variables reported only as set or not set.
pub const ENV_PRESENCE: [&str; 8] = [
    "GITHUB_TOKEN",
    "GH_TOKEN",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "ACTSIM_ACT_BASE_URL",
    "ACTSIM_CA_CERT",
];

/// The allow-listed environment, one `NAME=value` (or `NAME is set`) per line.
pub fn environment(process: &Process) -> String {
    let mut out = String::new();
    for name in ENV_ALLOW {
        if let Some(v) = process.var(name) {
            out.push_str(&format!("{name}={}\n", redact_tokens(v)));
        }
    }
    for name in ENV_PRESENCE {
        let state = if process.var(name).is_some() {
            "set (value withheld)"
        } else {
            "not set"
        };
        out.push_str(&format!("{name} {state}\n"));
    }
    out.push_str("(no other environment values are included)\n");
    out
}

/// Why a file was not read into the bundle (the manifest says so).
/// Whether root may execute `path`: it and every directory above it are root's and not
/// writable by group or others (a sticky directory like `/tmp` may be). Anyone else may
/// run what they can run.
pub fn safe_to_execute(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    if !nix::unistd::Uid::effective().is_root() {
        return true;
    }
    let mut p = Some(path);
    while let Some(cur) = p {
        match std::fs::symlink_metadata(cur) {
            Ok(m)
                if m.uid() == 0
                    && !m.file_type().is_symlink()
                    && (m.mode() & 0o022 == 0 || (m.is_dir() && m.mode() & 0o1000 != 0)) => {}
            _ => return false,
        }
        p = cur.parent().filter(|q| !q.as_os_str().is_empty());
    }
    true
}

/// The files of the bundle, as (name in the archive, bytes), and the manifest's notes.
struct Contents {
    files: Vec<(String, Vec<u8>)>,
    notes: Vec<String>,
}

impl Contents {
    fn add(&mut self, name: &str, text: String) {
        self.notes.push(format!("{name}: included"));
        self.files.push((name.to_string(), text.into_bytes()));
    }

    /// A user's file, redacted; absent or refused files are noted.
    fn add_file(&mut self, name: &str, path: &Path, json: bool) {
        match read_bounded(path, MAX_FILE) {
            Ok(Some(bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                let text = if json {
                    redact_tokens(&text)
                } else {
                    redact(&text)
                };
                self.notes
                    .push(format!("{name}: {} (redacted)", path.display()));
                self.files.push((name.to_string(), text.into_bytes()));
            }
            Ok(None) => self
                .notes
                .push(format!("{name}: not present ({})", path.display())),
            Err(why) => self.notes.push(format!("{name}: {why}")),
        }
    }
}

/// `pass: <summary>` of check `id`.
fn finding_summary(findings: &[Finding], id: CheckId) -> String {
    findings
        .iter()
        .find(|f| f.id == id)
        .map(|f| {
            let status = serde_json::to_value(f.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            format!("{status}: {}", f.summary)
        })
        .unwrap_or_else(|| "not checked".into())
}

async fn program_line(process: &Process, name: &str, args: &[&str], deadline: Instant) -> String {
    let Some(path) = process.which(name) else {
        return format!("{name}: not found on PATH");
    };
    match run_program(&path, args, &[], None, deadline).await {
        Ok(ran) => format!("{} {}: {}", path.display(), args.join(" "), ran.output()),
        Err(e) => e.to_string(),
    }
}

fn first_line_of(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .map(|v| v.trim_matches('"').to_string())
}

async fn versions(process: &Process, findings: &[Finding], deadline: Instant) -> String {
    let mut out = vec![
        format!("actsim {}", crate::VERSION),
        format!("act: {}", finding_summary(findings, CheckId::ActBinary)),
        format!(
            "docker engine: {}",
            finding_summary(findings, CheckId::DockerDaemon)
        ),
        format!(
            "docker CLI: {}",
            finding_summary(findings, CheckId::DockerCli)
        ),
        program_line(process, "docker", &["compose", "version"], deadline).await,
        program_line(process, "docker-compose", &["version", "--short"], deadline).await,
        format!(
            "OS: {}",
            first_line_of("/etc/os-release", "PRETTY_NAME=").unwrap_or_else(|| "unknown".into())
        ),
        format!(
            "kernel: {} ({})",
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            std::env::consts::ARCH
        ),
    ];
    out.push(String::new());
    out.join("\n")
}

fn endpoints(ctx: &Context) -> String {
    let (process, home) = (&ctx.process, ctx.docker_home.as_path());
    let mut out = match ctx.endpoint() {
        Ok(e) => format!("resolved endpoint: {} ({})\n", e.host, e.why()),
        Err(e) => format!("resolved endpoint: none: {e}\n"),
    };
    let act = endpoint::act_endpoint(process, home);
    out.push_str(&format!(
        "act's endpoint: {} ({})\nknown sockets:\n",
        act.host.as_deref().unwrap_or("none"),
        act.why
    ));
    for k in endpoint::known_sockets(process, home) {
        out.push_str(&format!(
            "  {}: {} ({:?})\n",
            k.label,
            k.path.display(),
            k.state
        ));
    }
    out
}

/// `act --bug-report` with a scratch HOME (so act creates nothing in the user's home).
async fn act_bug_report(act: Option<PathBuf>, deadline: Instant) -> String {
    let Some(act) = act else {
        return "no act binary found (see act.binary)\n".into();
    };
    if !safe_to_execute(&act) {
        return format!(
            "not run: {} is not root's alone (owned by or writable for another user), and root never executes such a file\n",
            act.display()
        );
    }
    let scratch = match tempfile::Builder::new()
        .prefix("actsim-bundle-home-")
        .tempdir()
    {
        Ok(dir) => dir,
        Err(e) => {
            return format!(
                "not run: cannot create a directory in {}: {e}\n",
                std::env::temp_dir().display()
            );
        }
    };
    let home = scratch.path().to_string_lossy().to_string();
    let envs = [
        ("HOME", home.as_str()),
        ("XDG_CONFIG_HOME", home.as_str()),
        ("XDG_CACHE_HOME", home.as_str()),
    ];
    let until = deadline.min(Instant::now() + Duration::from_secs(20));
    let out = match run_program(&act, &["--bug-report"], &envs, Some(scratch.path()), until).await {
        Ok(ran) => redact(&format!("{}\n{}", ran.stdout, ran.stderr)),
        Err(e) => format!("{e}\n"),
    };
    drop(scratch);
    out
}

/// Whether `name` is one of `actsim run`'s logs (`run-<time>.log`; names sort by time).
pub fn is_run_log(name: &str) -> bool {
    name.starts_with("run-") && name.ends_with(".log")
}

/// The newest `run-*.log` of `actsim run` (a regular file), if any.
pub fn last_run_log(state_dir: &Path) -> Option<PathBuf> {
    let dir = state_dir.join(RUN_LOG_DIR);
    let newest = crate::system::files::list_regular(&dir, is_run_log)
        .ok()?
        .pop()?;
    Some(dir.join(newest))
}

/// The act binary doctor looked at: `--bin-dir/act`, else the first on PATH.
fn act_path(ctx: &Context) -> Option<PathBuf> {
    let in_bin = ctx.bin_dir.join("act");
    if in_bin.is_file() {
        return Some(in_bin);
    }
    ctx.process.which("act")
}

/// Build the archive (in memory: every part is bounded) and write it to `file`.
pub async fn write(ctx: &Context, findings: &[Finding], file: &Path) -> Result<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut c = Contents {
        files: Vec::new(),
        notes: Vec::new(),
    };
    let report = Report::new(findings.to_vec());
    let doctor_json = serde_json::to_string_pretty(&report)
        .map_err(|e| Error::failed(format!("serializing the doctor report: {e}"), None))?;
    c.add("doctor.json", redact_tokens(&doctor_json) + "\n");
    c.add(
        "versions.txt",
        versions(&ctx.process, findings, deadline).await,
    );
    c.add("endpoint.txt", endpoints(ctx));
    c.add("environment.txt", environment(&ctx.process));
    add_user_files(&mut c, ctx);
    c.add(
        "act-bug-report.txt",
        act_bug_report(act_path(ctx), deadline).await,
    );
    let state_dir = ctx.state_dir.clone();
    match last_run_log(&state_dir) {
        Some(log) => c.add_file("last-run.log", &log, false),
        None => c.notes.push(format!(
            "last-run.log: no actsim run log in {}",
            state_dir.join(RUN_LOG_DIR).display()
        )),
    }
    c.files
        .insert(0, ("MANIFEST.txt".into(), manifest(&c.notes).into_bytes()));
    let bytes = archive(&c.files)?;
    crate::system::files::write_atomic(file, &bytes, 0o600, crate::system::files::Walk::Lenient)?;
    Ok(c.files.into_iter().map(|(n, _)| n).collect())
}

/// The receipt, the actrc files, the compose file and its `.env`, redacted.
fn add_user_files(c: &mut Contents, ctx: &Context) {
    let (user, process) = (&ctx.user, &ctx.process);
    let state_dir = &ctx.state_dir;
    c.add_file(
        "receipt.json",
        &crate::receipt::Receipt::path(state_dir),
        true,
    );
    c.add_file("actrc", &user.actrc_path(process), false);
    c.add_file("home.actrc", &user.home.join(".actrc"), false);
    c.add_file(
        "docker-compose.yml",
        &ctx.config_dir.join("docker-compose.yml"),
        false,
    );
    c.add_file("env", &ctx.config_dir.join(".env"), false);
}

fn manifest(notes: &[String]) -> String {
    let mut manifest = format!(
        "actsim support bundle, {}\nsecret-looking values (*TOKEN*, *SECRET*, *PASSWORD*, *KEY*), GitHub tokens and URL passwords are replaced by ***\n\n",
        crate::receipt::now_rfc3339()
    );
    for n in notes {
        manifest.push_str(n);
        manifest.push('\n');
    }
    manifest
}

/// A gzip-compressed tar of `files` under one top directory `actsim-bundle/`.
fn archive(files: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| Error::failed(format!("building the bundle: {e}"), None);
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let mtime = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    for (name, bytes) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_mtime(mtime);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(
            &mut header,
            format!("actsim-bundle/{name}"),
            bytes.as_slice(),
        )
        .map_err(fail)?;
    }
    let gz = tar.into_inner().map_err(fail)?;
    gz.finish().map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_holds_only_allowed_values() {
        let p = Process::with_vars([
            ("HOME", "/home/a"),
            ("GITHUB_TOKEN", "ghp_secret"),
            ("AWS_SECRET_ACCESS_KEY", "zzz"),
            ("HTTPS_PROXY", "http://u:p@proxy:3128"),
            ("DOCKER_HOST", "tcp://u:pw@h:2375"),
        ]);
        let env = environment(&p);
        assert!(env.contains("HOME=/home/a\n"), "{env}");
        assert!(env.contains("GITHUB_TOKEN set (value withheld)"), "{env}");
        assert!(env.contains("DOCKER_HOST=tcp://***@h:2375"), "{env}");
        for secret in ["ghp_secret", "zzz", "AWS_SECRET", "u:p@"] {
            assert!(!env.contains(secret), "{secret} leaked: {env}");
        }
    }

    #[test]
    fn bounded_reads_refuse_links_and_fifos() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("f"), "x").unwrap();
        std::os::unix::fs::symlink(d.join("f"), d.join("l")).unwrap();
        nix::unistd::mkfifo(&d.join("p"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let read_bounded = |p: &Path| read_bounded(p, MAX_FILE);
        assert_eq!(read_bounded(&d.join("f")).unwrap(), Some(b"x".to_vec()));
        assert_eq!(read_bounded(&d.join("none")).unwrap(), None);
        assert!(
            read_bounded(&d.join("l"))
                .unwrap_err()
                .to_string()
                .contains("symbolic link")
        );
        assert!(
            read_bounded(&d.join("p"))
                .unwrap_err()
                .to_string()
                .contains("a FIFO")
        );
    }
}
