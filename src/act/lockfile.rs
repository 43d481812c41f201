//! The act lock file: `actsim lock` writes it, `setup --act-lock` installs only what it
//! names, `doctor --act-lock` warns when the installed act differs from it.
//!
//! A lock (TOML, default `actsim.lock`) pins one act version and, per platform
//! (`linux/x86_64`, `linux/arm64`, …), the release asset, its URL, the archive's SHA-256
//! and the SHA-256 of the `act` binary inside it. `actsim lock` reads or downloads each
//! archive once, checks it against the release's `checksums.txt` and hashes the binary
//! while extracting it to an unlinked scratch file, so a lock only ever holds hashes that
//! were verified while it was written. Hosts that install from the lock never fetch
//! `checksums.txt`: a mirror that serves both a tampered archive and a matching checksums
//! file is caught.
//!
//! What can go wrong (all exit 4 for setup, nothing installed): an unreadable or malformed
//! lock (not TOML, wrong schema, a hash that is not 64 hex digits), no entry for this
//! host's platform, another act version than requested, an archive or binary whose hash
//! differs. For `actsim lock`: a platform act publishes nothing for (exit 2), a download
//! or a checksum that fails (exit 4).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::act::download::HttpSettings;
use crate::act::install;
use crate::act::release::{self, VersionRequest};
use crate::error::{Error, Result};
use crate::system::process::Process;
use crate::system::progress::Progress;

/// Where `actsim lock` writes when `-o` is not given.
pub const DEFAULT_PATH: &str = "actsim.lock";
/// The lock format's version (`schema = 1`).
pub const SCHEMA: u32 = 1;
/// Platforms locked when no `--platform` is given.
pub const DEFAULT_PLATFORMS: [&str; 2] = ["linux/x86_64", "linux/arm64"];
/// The largest lock file read.
const MAX_LOCK_BYTES: u64 = 1024 * 1024;

/// A whole lock file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActLock {
    pub schema: u32,
    pub act_version: String,
    /// Keyed by platform, `OS/ARCH` as act names them (`linux/x86_64`).
    pub platforms: BTreeMap<String, LockedAsset>,
}

/// One platform's release asset, verified when the lock was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockedAsset {
    pub asset: String,
    pub url: String,
    pub archive_sha256: String,
    pub binary_sha256: String,
}

fn bad_lock(what: &str, reason: impl Into<String>) -> Error {
    Error::Verify {
        what: what.to_string(),
        reason: reason.into(),
        hint: Some(
            "write the lock again with: actsim lock (see the README, \"Many machines\"); nothing was installed"
                .into(),
        ),
    }
}

impl ActLock {
    /// Parse and validate a lock's text; `what` names it in errors.
    pub fn parse(text: &str, what: &str) -> Result<Self> {
        let mut lock: ActLock =
            toml::from_str(text).map_err(|e| bad_lock(what, format!("not a valid lock: {e}")))?;
        if lock.schema != SCHEMA {
            return Err(bad_lock(
                what,
                format!("schema {} is not {SCHEMA}", lock.schema),
            ));
        }
        if !release::is_version(&lock.act_version) {
            return Err(bad_lock(
                what,
                format!("act_version {:?} is not a version", lock.act_version),
            ));
        }
        if lock.platforms.is_empty() {
            return Err(bad_lock(what, "it locks no platform"));
        }
        for (platform, entry) in lock.platforms.iter_mut() {
            let want = parse_platform(platform)
                .map_err(|e| bad_lock(what, format!("platform {platform:?}: {e}")))?;
            if want.key != *platform || want.asset != entry.asset {
                return Err(bad_lock(
                    what,
                    format!(
                        "platform {platform:?} must be spelled {:?} with asset {:?}",
                        want.key, want.asset
                    ),
                ));
            }
            for (name, hash) in [
                ("archive_sha256", &mut entry.archive_sha256),
                ("binary_sha256", &mut entry.binary_sha256),
            ] {
                *hash = release::normalize_sha256(hash).ok_or_else(|| {
                    bad_lock(
                        what,
                        format!("{platform}: {name} {hash:?} is not a SHA-256"),
                    )
                })?;
            }
        }
        Ok(lock)
    }

    /// Read a lock file: a regular file (no symbolic link, FIFO or device), at most 1 MiB.
    pub fn load(path: &Path) -> Result<Self> {
        let what = path.display().to_string();
        log::debug!("reading the act lock {what}");
        let text = read_lock_file(path)
            .map_err(|e| bad_lock(&what, format!("cannot read the lock: {e}")))?;
        Self::parse(&text, &what)
    }

    /// Read a lock file through setup's file-system door ([`crate::system::privsep::Fs`]): a path
    /// the target user controls is opened by their agent, never by root.
    pub fn load_via(fs: &crate::system::privsep::Fs, path: &Path) -> Result<Self> {
        let what = path.display().to_string();
        log::debug!("reading the act lock {what}");
        let bytes = match fs.read(path, MAX_LOCK_BYTES) {
            Ok(Some(b)) => b,
            Ok(None) => return Err(bad_lock(&what, "cannot read the lock: no such file")),
            Err(e) => return Err(bad_lock(&what, format!("cannot read the lock: {e}"))),
        };
        let text = String::from_utf8(bytes)
            .map_err(|_| bad_lock(&what, "cannot read the lock: not UTF-8"))?;
        Self::parse(&text, &what)
    }

    /// The entry for `platform` (a key like `linux/x86_64`).
    pub fn entry(&self, platform: &str, what: &str) -> Result<&LockedAsset> {
        self.platforms.get(platform).ok_or_else(|| Error::Verify {
            what: what.to_string(),
            reason: format!(
                "no entry for this platform ({platform}); it locks {}",
                self.platforms.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            hint: Some(format!(
                "add it: actsim lock --act-version {} --platform {platform} (plus the others you need); nothing was installed",
                self.act_version
            )),
        })
    }

    /// The lock as written to disk: a comment line, then TOML.
    pub fn to_toml(&self) -> String {
        let body = toml::to_string(self).unwrap_or_default();
        format!(
            "# act release lock written by actsim lock; verified against the release's checksums.txt.\n# Install from it: actsim setup --act-lock FILE\n{body}"
        )
    }
}

/// A lock file and what it pins here, `(act version, binary SHA-256)`, or why not (shared:
/// doctor's options are cloned).
pub type Expectation = (
    PathBuf,
    std::result::Result<(String, String), std::sync::Arc<Error>>,
);

/// What `doctor --act-lock` compares the installed act with: the lock's version and binary
/// SHA-256 for this platform, or why the lock cannot be used.
pub fn doctor_expectation(path: Option<&Path>) -> Option<Expectation> {
    let path = path?;
    let expected = ActLock::load(path).and_then(|lock| {
        let platform = host_platform().map_err(|e| Error::failed(e, None))?;
        let entry = lock.entry(&platform.key, &path.display().to_string())?;
        Ok((lock.act_version.clone(), entry.binary_sha256.clone()))
    });
    Some((path.to_path_buf(), expected.map_err(std::sync::Arc::new)))
}

/// The one function reading a lock file from disk (so it can move to the user-side worker
/// with the other reads in a user's directories): refuses links, FIFOs and devices and
/// reads at most [`MAX_LOCK_BYTES`].
fn read_lock_file(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let mut text = String::new();
    file.take(MAX_LOCK_BYTES + 1).read_to_string(&mut text)?;
    if text.len() as u64 > MAX_LOCK_BYTES {
        return Err(std::io::Error::other("larger than 1 MiB"));
    }
    Ok(text)
}

/// A platform as a lock names it, with its release asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// `linux/x86_64`, `linux/arm64`, `darwin/arm64`, …
    pub key: String,
    pub asset: String,
}

/// A platform act publishes no release for, or not spelled `OS/ARCH`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error("{0:?} is not OS/ARCH (like linux/x86_64)")]
    NotOsArch(String),
    #[error("act publishes no release for the OS {0:?}")]
    Os(String),
    #[error("act publishes no release for the architecture {0:?}")]
    Arch(String),
    #[error("act publishes no release for {0}")]
    NoRelease(String),
}

/// The message, for callers that keep errors as text.
impl From<PlatformError> for String {
    fn from(e: PlatformError) -> String {
        e.to_string()
    }
}

/// `OS/ARCH` as act's releases name them; `amd64`/`aarch64`/`x86`/`macos` are accepted too.
pub fn parse_platform(raw: &str) -> std::result::Result<Platform, PlatformError> {
    let (os, arch) = raw
        .trim()
        .split_once('/')
        .ok_or_else(|| PlatformError::NotOsArch(raw.to_string()))?;
    let os = match os.to_ascii_lowercase().as_str() {
        "linux" => "linux",
        "darwin" | "macos" => "darwin",
        other => return Err(PlatformError::Os(other.to_string())),
    };
    let arch = match arch.to_ascii_lowercase().as_str() {
        "x86_64" | "amd64" => "x86_64",
        "arm64" | "aarch64" => "arm64",
        "armv7" => "armv7",
        "armv6" => "armv6",
        "i386" | "x86" => "i386",
        "riscv64" => "riscv64",
        other => return Err(PlatformError::Arch(other.to_string())),
    };
    let std_os = if os == "darwin" { "macos" } else { "linux" };
    let std_arch = match arch {
        "arm64" => "aarch64",
        "i386" => "x86",
        a => a,
    };
    let asset = release::asset_name(std_os, std_arch)
        .ok_or_else(|| PlatformError::NoRelease(format!("{os}/{arch}")))?;
    Ok(Platform {
        key: format!("{os}/{arch}"),
        asset,
    })
}

/// The platform of the machine this runs on.
pub fn host_platform() -> std::result::Result<Platform, PlatformError> {
    let os = match std::env::consts::OS {
        "macos" => "darwin",
        o => o,
    };
    parse_platform(&format!("{os}/{}", release::host_arch()))
}

/// The platform whose asset is `asset` (`act_Linux_arm64.tar.gz` → `linux/arm64`).
pub fn platform_of_asset(asset: &str) -> Option<Platform> {
    let rest = asset.strip_prefix("act_")?.strip_suffix(".tar.gz")?;
    let (os, arch) = rest.split_once('_')?;
    parse_platform(&format!("{os}/{arch}"))
        .ok()
        .filter(|p| p.asset == asset)
}

/// `actsim lock`'s options as given (the command layer fills them from the command line).
#[derive(Debug, Clone, Default)]
pub struct LockOptions {
    pub act_version: String,
    pub act_base_url: Option<String>,
    pub act_archive: Vec<PathBuf>,
    pub act_checksums: Option<PathBuf>,
    pub platform: Vec<String>,
    /// Record the mirror's URLs instead of the release's own.
    pub record_mirror_url: bool,
    pub output: PathBuf,
    pub timeout: Duration,
    pub ca_cert: Option<PathBuf>,
    pub allow_http: bool,
}

/// `actsim lock`'s validated options.
#[derive(Debug, Clone)]
pub struct LockRequest {
    pub version: VersionRequest,
    pub base_url: String,
    /// The base of the URLs written into the lock: the release's own unless
    /// `--record-mirror-url`.
    pub record_base: String,
    pub platforms: Vec<Platform>,
    /// No `--platform` (and no archives): a default platform the mirror does not have is
    /// left out (named), except this machine's.
    pub platforms_defaulted: bool,
    pub archives: Vec<(Platform, PathBuf)>,
    pub checksums: Option<PathBuf>,
    pub output: PathBuf,
    pub http: HttpSettings,
    pub timeout: Duration,
}

/// `--platform` values, each once, in the order given.
fn platforms_of(raw: &[String]) -> Result<Vec<Platform>> {
    let mut platforms = Vec::new();
    for raw in raw {
        let p = parse_platform(raw).map_err(|e| {
            Error::usage(
                format!("--platform {raw}: {e}"),
                Some("pass OS/ARCH like linux/x86_64 or linux/arm64".to_string()),
            )
        })?;
        if !platforms.contains(&p) {
            platforms.push(p);
        }
    }
    Ok(platforms)
}

/// `--act-archive` files, each with the platform its release name says (one per platform).
fn archives_of(files: &[PathBuf]) -> Result<Vec<(Platform, PathBuf)>> {
    let mut archives: Vec<(Platform, PathBuf)> = Vec::new();
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let p = platform_of_asset(&name).ok_or_else(|| {
            Error::usage(
                format!(
                    "--act-archive {}: not named like a release asset (act_Linux_x86_64.tar.gz)",
                    file.display()
                ),
                Some("keep the release's file names; the name says the platform".to_string()),
            )
        })?;
        if archives.iter().any(|(q, _)| *q == p) {
            return Err(Error::usage(
                format!("two archives for {}", p.key),
                Some("pass one archive per platform".to_string()),
            ));
        }
        archives.push((p, file.clone()));
    }
    Ok(archives)
}

/// Check `actsim lock`'s options (usage errors, exit 2) without touching disk or network.
pub fn lock_request(args: &LockOptions, process: &Process) -> Result<LockRequest> {
    let version = release::parse_version(&args.act_version)?;
    let mut platforms = platforms_of(&args.platform)?;
    let mut archives = archives_of(&args.act_archive)?;
    if !archives.is_empty() {
        if version == VersionRequest::Latest {
            return Err(Error::usage(
                "--act-version latest cannot be used with --act-archive",
                Some("pass the archives' version, e.g. --act-version 0.2.89".to_string()),
            ));
        }
        if platforms.is_empty() {
            platforms = archives.iter().map(|(p, _)| p.clone()).collect();
        }
        for p in &platforms {
            if !archives.iter().any(|(q, _)| q == p) {
                return Err(Error::usage(
                    format!("--platform {} has no --act-archive", p.key),
                    Some(format!("pass its archive too: --act-archive {}", p.asset)),
                ));
            }
        }
        archives.retain(|(p, _)| platforms.contains(p));
    } else if args.act_checksums.is_some() {
        return Err(Error::usage(
            "--act-checksums is only used with --act-archive",
            Some("drop it to download the release's checksums.txt".to_string()),
        ));
    }
    let platforms_defaulted = platforms.is_empty();
    if platforms.is_empty() {
        platforms = DEFAULT_PLATFORMS
            .iter()
            .map(|p| parse_platform(p).expect("default platforms parse"))
            .collect();
    }
    let base_url = args
        .act_base_url
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| release::DEFAULT_BASE_URL.to_string());
    if archives.is_empty() {
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| {
            Error::usage(
                format!("--act-base-url {base_url:?} is not a URL: {e}"),
                Some("pass e.g. https://github.com/nektos/act/releases/download".to_string()),
            )
        })?;
        release::check_url(&parsed, args.allow_http)?;
    }
    let checksums = match (&args.act_checksums, archives.first()) {
        (Some(c), _) => Some(c.clone()),
        (None, Some((_, first))) => Some(
            first
                .parent()
                .unwrap_or(Path::new("."))
                .join("checksums.txt"),
        ),
        (None, None) => None,
    };
    let record_base = if args.record_mirror_url {
        base_url.clone()
    } else {
        release::DEFAULT_BASE_URL.to_string()
    };
    Ok(LockRequest {
        version,
        base_url,
        record_base,
        platforms_defaulted,
        platforms,
        archives,
        checksums,
        output: args.output.clone(),
        http: HttpSettings::from_process(process, args.allow_http, args.ca_cert.clone()),
        timeout: args.timeout,
    })
}

/// A scratch file for the extracted binary, unlinked at once (only its hash is kept).
fn scratch_file() -> Result<std::fs::File> {
    tempfile::tempfile().map_err(|e| Error::Io {
        path: std::env::temp_dir(),
        source: e,
        hint: Some("set TMPDIR to a writable directory".into()),
    })
}

/// Check one extracted archive against its `checksums.txt` line; the locked entry.
fn locked_entry(
    p: &Platform,
    url: String,
    origin: &str,
    listed: &str,
    got: install::Extracted,
) -> Result<LockedAsset> {
    if got.archive_sha256 != listed {
        return Err(Error::ChecksumMismatch {
            what: origin.to_string(),
            expected: listed.to_string(),
            actual: got.archive_sha256,
        });
    }
    let binary = got.binary.map_err(|reason| Error::Verify {
        what: origin.to_string(),
        reason: reason.to_string(),
        hint: Some("the archive is not an act release as goreleaser packs it".into()),
    })?;
    Ok(LockedAsset {
        asset: p.asset.clone(),
        url,
        archive_sha256: got.archive_sha256,
        binary_sha256: binary.sha256,
    })
}

/// The note for a default platform the mirror does not have.
fn left_out(p: &Platform, why: &Error) -> String {
    format!(
        "{} not locked: the mirror does not have it ({why}); to require it pass --platform {}",
        p.key, p.key
    )
}

fn listed_sha(text: &str, asset: &str, what: &str) -> Result<String> {
    release::find_checksum(text, asset).ok_or_else(|| Error::Verify {
        what: what.to_string(),
        reason: format!("no SHA-256 line for {asset}"),
        hint: Some(
            "the release has no asset for this platform, or the mirror is incomplete; drop that --platform"
                .into(),
        ),
    })
}

/// Read or download each archive of `req` once, verify it and hash its binary: the lock.
/// Everything ends by `deadline`; `progress` is told what is read and downloaded.
pub async fn build_lock<P: Progress + Clone + 'static>(
    req: &LockRequest,
    progress: &P,
    deadline: Instant,
) -> Result<ActLock> {
    let http = req.http.client(deadline, progress)?;
    let version = match &req.version {
        VersionRequest::Exact(v) => v.clone(),
        VersionRequest::Latest => {
            let url = release::latest_url_or_usage(&req.base_url)?;
            http.latest_version(&url).await?
        }
    };
    let mut platforms = BTreeMap::new();
    if let Some(checksums) = &req.checksums {
        let what = checksums.display().to_string();
        let text = read_lock_file(checksums).map_err(|e| Error::Verify {
            what: what.clone(),
            reason: format!("cannot read: {e}"),
            hint: Some("pass the release's checksums.txt with --act-checksums FILE".into()),
        })?;
        for (p, archive) in &req.archives {
            let listed = listed_sha(&text, &p.asset, &what)?;
            let origin = archive.display().to_string();
            progress.info(&format!("reading {origin} ..."));
            let file = std::fs::File::open(archive).map_err(|e| Error::Verify {
                what: origin.clone(),
                reason: format!("cannot read: {e}"),
                hint: Some("check the --act-archive path".into()),
            })?;
            let out = scratch_file()?;
            let got = tokio::task::spawn_blocking(move || {
                install::extract_act(std::io::BufReader::new(file), &out)
            })
            .await
            .map_err(|e| Error::failed(format!("reading {origin}: {e}"), None))?;
            let url = release::release_url(&req.record_base, &version, &p.asset);
            let entry = locked_entry(p, url, &origin, &listed, got)?;
            platforms.insert(p.key.clone(), entry);
        }
    } else {
        let checksums_url = release::release_url(&req.base_url, &version, "checksums.txt");
        let text = http.get_text(&checksums_url).await?;
        let here = host_platform().ok();
        for p in &req.platforms {
            // A default platform the mirror lacks is left out, named; one asked for is not.
            let optional = req.platforms_defaulted && here.as_ref() != Some(p);
            let listed = match listed_sha(&text, &p.asset, &checksums_url) {
                Err(e) if optional => {
                    progress.info(&left_out(p, &e));
                    continue;
                }
                r => r?,
            };
            let url = release::release_url(&req.base_url, &version, &p.asset);
            let out = std::sync::Arc::new(scratch_file()?);
            let label = format!("downloading {}", p.asset);
            let got = match http
                .stream(&url, &label, move |reader| {
                    install::extract_act(reader, &out)
                })
                .await
            {
                Err(e @ Error::Download { .. }) if optional && e.to_string().contains(" 404") => {
                    progress.info(&left_out(p, &e));
                    continue;
                }
                r => r?,
            };
            let recorded = release::release_url(&req.record_base, &version, &p.asset);
            let entry = locked_entry(p, recorded, &url, &listed, got)?;
            platforms.insert(p.key.clone(), entry);
        }
        if platforms.is_empty() {
            return Err(Error::Download {
                url: checksums_url,
                reason: "the mirror has none of the default platforms".into(),
                hint: Some("name the platforms the fleet needs: --platform OS/ARCH".into()),
            });
        }
    }
    Ok(ActLock {
        schema: SCHEMA,
        act_version: version,
        platforms,
    })
}

/// Write `lock` to `path` atomically, as the running user, into a directory of their
/// choosing (like any output file).
pub fn write(path: &Path, lock: &ActLock) -> Result<()> {
    crate::system::files::write_atomic(
        path,
        lock.to_toml().as_bytes(),
        0o644,
        crate::system::files::Walk::Lenient,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ActLock {
        let mut platforms = BTreeMap::new();
        for key in DEFAULT_PLATFORMS {
            let p = parse_platform(key).unwrap();
            platforms.insert(
                p.key.clone(),
                LockedAsset {
                    url: format!("https://m/v0.2.89/{}", p.asset),
                    asset: p.asset,
                    archive_sha256: "a".repeat(64),
                    binary_sha256: "b".repeat(64),
                },
            );
        }
        ActLock {
            schema: SCHEMA,
            act_version: "0.2.89".into(),
            platforms,
        }
    }

    #[test]
    fn platforms_name_act_assets() {
        let p = parse_platform("linux/amd64").unwrap();
        assert_eq!(p.key, "linux/x86_64");
        assert_eq!(p.asset, "act_Linux_x86_64.tar.gz");
        let p = parse_platform("Linux/aarch64").unwrap();
        assert_eq!(
            (p.key.as_str(), p.asset.as_str()),
            ("linux/arm64", "act_Linux_arm64.tar.gz")
        );
        assert_eq!(parse_platform("macos/arm64").unwrap().key, "darwin/arm64");
        assert!(parse_platform("windows/x86_64").is_err());
        assert!(parse_platform("linux").is_err());
        assert!(parse_platform("darwin/riscv64").is_err());
        assert_eq!(
            platform_of_asset("act_Linux_arm64.tar.gz").unwrap().key,
            "linux/arm64"
        );
        assert_eq!(platform_of_asset("act.tar.gz"), None);
        assert!(host_platform().is_ok());
    }

    #[test]
    fn lock_round_trips_and_rejects_what_is_not_verified() {
        let lock = sample();
        let text = lock.to_toml();
        assert!(text.contains("[platforms.\"linux/arm64\"]"), "{text}");
        assert_eq!(ActLock::parse(&text, "x").unwrap(), lock);
        let upper = text.replace(&"a".repeat(64), &"A".repeat(64));
        assert_eq!(ActLock::parse(&upper, "x").unwrap(), lock);
        for (from, to) in [
            ("schema = 1", "schema = 2"),
            ("act_version = \"0.2.89\"", "act_version = \"x\""),
            (&"b".repeat(64) as &str, "bb"),
            ("act_Linux_arm64.tar.gz\"\n", "act_Linux_x86_64.tar.gz\"\n"),
            ("url =", "extra = 1\nurl ="),
        ] {
            let bad = text.replacen(from, to, 1);
            assert_ne!(bad, text, "{from}");
            let err = ActLock::parse(&bad, "L").unwrap_err();
            assert_eq!(err.exit_code(), 4, "{from}: {err}");
        }
        assert_eq!(ActLock::parse("nope", "L").unwrap_err().exit_code(), 4);
        let err = lock.entry("linux/riscv64", "L").unwrap_err();
        assert_eq!(err.exit_code(), 4);
        assert!(
            err.to_string().contains("linux/arm64, linux/x86_64"),
            "{err}"
        );
        assert!(err.hint().unwrap().contains("--platform linux/riscv64"));
    }
}
