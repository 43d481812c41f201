//! The `act` step: observe what is installed, plan (pure), and apply a verified, atomic
//! install.
//!
//! Observing reads the receipt and hashes the installed binary; it touches the network
//! only to resolve `--act-version latest`. A rerun whose binary matches the receipt and
//! the requested version plans nothing and so downloads nothing.
//!
//! What can go wrong (all exit 4, bin dir unchanged): a release file missing (404), the
//! network failing past retries or the deadline, no checksum line for the asset, a checksum
//! mismatch, an unsafe or useless archive, a binary that does not run here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Action, Run, StepId, StepPlan};
use crate::act::download::{Http, HttpSettings};
use crate::act::install::{self, Binary, Extracted, Staged};
use crate::act::release::{self, VersionRequest};
use crate::error::{Error, IoContext, Result};
use crate::receipt::{self, ActReceipt, Replaced};
use crate::setup::report::{StepReport, StepStatus};
use crate::setup::settings::{Receipts, Settings};
use crate::system::process::Process;

/// How long an `act --version` may take.
const VERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// The act the user asked for, with `latest` resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    pub version: String,
    /// Release asset name, or the local archive's file name.
    pub asset: String,
    pub source: Source,
    /// `--act-sha256`, or the lock's archive hash.
    pub sha256: Option<String>,
    /// With `--act-lock`: the lock and its hashes for this platform.
    pub pin: Option<Pin>,
}

/// What a lock (`--act-lock`) pins for this host's platform.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    pub lock: PathBuf,
    pub archive_sha256: String,
    pub binary_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Release {
        archive_url: String,
        /// `None` with a lock: checksums.txt is not fetched.
        checksums_url: Option<String>,
    },
    Local {
        archive: PathBuf,
        checksums: Option<PathBuf>,
    },
}

impl Source {
    /// The URL or file named in messages and the receipt.
    pub fn origin(&self) -> String {
        match self {
            Source::Release { archive_url, .. } => archive_url.clone(),
            Source::Local { archive, .. } => archive.display().to_string(),
        }
    }
}

/// The binary currently at `<bin dir>/act`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub sha256: String,
    pub version: Option<String>,
}

/// Another `act` on PATH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherAct {
    pub path: PathBuf,
    pub version: Option<String>,
    /// `act` on PATH runs this one instead of ours.
    pub shadows: bool,
    /// It is a binary actsim installed earlier (the receipt's install path).
    pub by_actsim: bool,
}

/// Everything the plan needs, observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub bin_dir: PathBuf,
    pub target: PathBuf,
    pub backup_dir: PathBuf,
    pub wanted: Wanted,
    pub installed: Option<Installed>,
    pub receipt: Option<ActReceipt>,
    pub others: Vec<OtherAct>,
    pub bin_dir_on_path: bool,
}

/// What applying will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Install {
    pub wanted: Wanted,
    pub target: PathBuf,
    /// The binary being replaced, kept at `backup`.
    pub replaces: Option<(Installed, bool)>,
    pub backup: Option<PathBuf>,
}

/// The installed binary is the one the receipt records, at the same path, of the
/// requested version (and archive hash, when `--act-sha256` pins one).
pub fn matches_receipt(f: &Facts) -> bool {
    match (&f.receipt, &f.installed) {
        (Some(r), Some(i)) => {
            r.install_path == f.target
                && r.binary_sha256 == i.sha256
                && r.version == f.wanted.version
                && f.wanted
                    .sha256
                    .as_ref()
                    .is_none_or(|s| *s == r.archive_sha256)
        }
        _ => false,
    }
}

/// Nothing to install: with a lock, the installed binary is the locked one (receipt or
/// not, no download); without one, it is what the receipt records.
pub fn up_to_date(f: &Facts) -> bool {
    match &f.wanted.pin {
        Some(pin) => f
            .installed
            .as_ref()
            .is_some_and(|i| i.sha256 == pin.binary_sha256),
        None => matches_receipt(f),
    }
}

/// The plan for the act step: a pure function of the facts.
pub fn plan(f: &Facts) -> StepPlan {
    let warnings = warnings(f);
    let w = &f.wanted;
    if up_to_date(f) {
        let locked = match &w.pin {
            Some(pin) => format!(" (the binary {})", pin.lock.display()),
            None => String::new(),
        };
        return StepPlan {
            warnings,
            ..StepPlan::new(
                StepId::Act,
                format!(
                    "act {} already installed at {}{locked}",
                    w.version,
                    f.target.display()
                ),
                Action::Keep,
            )
        };
    }
    let mut details = fetch_details(w);
    details.push(format!("install act into {}", f.target.display()));
    let replaces = f.installed.clone().map(|i| {
        let by_actsim = f
            .receipt
            .as_ref()
            .is_some_and(|r| r.install_path == f.target && r.binary_sha256 == i.sha256);
        (i, by_actsim)
    });
    let backup = replaces
        .as_ref()
        .filter(|(i, _)| i.sha256.len() >= 12)
        .map(|(i, _)| f.backup_dir.join(format!("act-{}", &i.sha256[..12])));
    if let (Some((i, by_actsim)), Some(b)) = (&replaces, &backup) {
        details.push(format!(
            "replace the act there (act {}, {}); a copy is kept at {}",
            i.version.as_deref().unwrap_or("unknown version"),
            if *by_actsim {
                "installed by actsim"
            } else {
                "not installed by actsim"
            },
            b.display()
        ));
    }
    let summary = match &replaces {
        None => format!(
            "install act {} at {} (verified {})",
            w.version,
            f.target.display(),
            w.asset
        ),
        Some((old, _)) => format!(
            "replace act {} at {} with act {} (verified {})",
            old.version.as_deref().unwrap_or("of unknown version"),
            f.target.display(),
            w.version,
            w.asset
        ),
    };
    StepPlan {
        id: StepId::Act,
        summary,
        details,
        warnings,
        action: Action::InstallAct(Box::new(Install {
            wanted: w.clone(),
            target: f.target.clone(),
            replaces,
            backup,
        })),
    }
}

/// Other acts (and whether they shadow ours), and a bin dir missing from PATH.
fn warnings(f: &Facts) -> Vec<String> {
    let mut warnings = Vec::new();
    for o in &f.others {
        let version = o.version.as_deref().unwrap_or("unknown version");
        let whose = if o.by_actsim {
            "installed by actsim earlier"
        } else {
            "not installed by actsim"
        };
        warnings.push(format!(
            "another act at {} (act {version}, {whose})",
            o.path.display()
        ));
        if o.shadows {
            warnings.push(format!(
                "{} comes first on PATH and shadows {}; remove it or put {} earlier on PATH",
                o.path.display(),
                f.target.display(),
                f.bin_dir.display()
            ));
        }
    }
    if !f.bin_dir_on_path {
        warnings.push(format!(
            "{} is not on PATH; add it: {}",
            f.bin_dir.display(),
            crate::system::process::export_path(&f.bin_dir)
        ));
    }
    warnings
}

/// Where the archive comes from and what it is verified against.
fn fetch_details(w: &Wanted) -> Vec<String> {
    let mut details = match &w.source {
        Source::Release {
            archive_url,
            checksums_url,
        } => {
            let mut d = vec![format!("download {archive_url}")];
            if let Some(c) = checksums_url {
                d.push(format!("verify its SHA-256 against {c}"));
            }
            d
        }
        Source::Local { archive, checksums } => {
            let mut d = vec![format!("read {}", archive.display())];
            if let Some(c) = checksums {
                d.push(format!("verify its SHA-256 against {}", c.display()));
            }
            d
        }
    };
    match (&w.pin, &w.sha256) {
        (Some(pin), _) => details.push(format!(
            "verify its SHA-256 is {} and the binary's {} (from the lock {}; no checksums.txt)",
            pin.archive_sha256,
            pin.binary_sha256,
            pin.lock.display()
        )),
        (None, Some(s)) => details.push(format!("verify its SHA-256 is {s}")),
        (None, None) => {}
    }
    details
}

/// What the command line asked of the act step (plain data, filled by the command layer).
#[derive(Debug, Clone, Default)]
pub struct Asked {
    /// `--act-version`.
    pub version: Option<String>,
    /// `--act-base-url`.
    pub base_url: Option<String>,
    /// `--act-archive`.
    pub archive: Option<PathBuf>,
    /// `--act-checksums`.
    pub checksums: Option<PathBuf>,
    /// `--act-sha256`.
    pub sha256: Option<String>,
    /// `--ca-cert`.
    pub ca_cert: Option<PathBuf>,
    /// `--allow-http`.
    pub allow_http: bool,
}

/// Validated act options, before anything is observed.
#[derive(Debug, Clone)]
pub struct Request {
    pub version: VersionRequest,
    pub base_url: String,
    /// `--act-base-url` was given (with a lock it replaces the lock's URL).
    pub base_url_given: bool,
    pub archive: Option<PathBuf>,
    pub checksums: Option<PathBuf>,
    pub sha256: Option<String>,
    /// `--act-lock`: this platform's locked asset.
    pub lock: Option<(Pin, crate::act::lockfile::LockedAsset)>,
    pub http: HttpSettings,
}

/// Check the act options (usage errors, exit 2) without touching disk or network; the
/// lock (`act_lock`) is read through `fs`.
pub fn request(
    asked: &Asked,
    act_lock: Option<&Path>,
    process: &Process,
    fs: &crate::system::privsep::Fs,
) -> Result<Request> {
    let lock = match act_lock {
        Some(path) => Some((path, crate::act::lockfile::ActLock::load_via(fs, path)?)),
        None => None,
    };
    let raw_version = asked
        .version
        .clone()
        .or_else(|| lock.as_ref().map(|(_, l)| l.act_version.clone()))
        .unwrap_or_else(|| crate::act::DEFAULT_VERSION.to_string());
    let version = release::parse_version(&raw_version)?;
    let sha256 = match &asked.sha256 {
        None => None,
        Some(s) => Some(release::normalize_sha256(s).ok_or_else(|| {
            Error::usage(
                format!("--act-sha256 {s:?} is not a SHA-256"),
                Some("pass the archive's 64 hex digit SHA-256 (sha256sum FILE)".to_string()),
            )
        })?),
    };
    let lock = match lock {
        None => None,
        Some((path, lock)) => Some(pin_from_lock(
            path,
            &lock,
            &version,
            sha256.as_deref(),
            asked.checksums.is_some(),
        )?),
    };
    check_source(asked, &version, sha256.is_some() || lock.is_some())?;
    let base_url = asked
        .base_url
        .clone()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| release::DEFAULT_BASE_URL.to_string());
    if asked.archive.is_none() {
        let parsed = reqwest::Url::parse(&base_url).map_err(|e| {
            Error::usage(
                format!("--act-base-url {base_url:?} is not a URL: {e}"),
                Some("pass e.g. https://github.com/nektos/act/releases/download".to_string()),
            )
        })?;
        release::check_url(&parsed, asked.allow_http)?;
    }
    Ok(Request {
        version,
        base_url_given: asked.base_url.as_deref().is_some_and(|b| !b.is_empty()),
        base_url,
        archive: asked.archive.clone(),
        checksums: asked.checksums.clone(),
        sha256: lock
            .as_ref()
            .map(|(pin, _)| pin.archive_sha256.clone())
            .or(sha256),
        lock,
        http: HttpSettings {
            allow_http: asked.allow_http,
            ca_cert: asked
                .ca_cert
                .clone()
                .or_else(|| process.var_nonempty("SSL_CERT_FILE").map(PathBuf::from)),
            github_token: process.var_nonempty("GITHUB_TOKEN").map(str::to_string),
            proxies: crate::act::download::Proxies::from_process(process),
        },
    })
}

/// `--act-archive` needs something to verify it against and a concrete version;
/// `--act-checksums` needs `--act-archive`.
fn check_source(asked: &Asked, version: &VersionRequest, pinned: bool) -> Result<()> {
    if asked.archive.is_some() {
        if asked.checksums.is_none() && !pinned {
            return Err(Error::usage(
                "--act-archive needs something to verify it against",
                Some(
                    "add --act-checksums FILE (the release's checksums.txt) or --act-sha256 HEX"
                        .to_string(),
                ),
            ));
        }
        if *version == VersionRequest::Latest {
            return Err(Error::usage(
                "--act-version latest cannot be used with --act-archive",
                Some("pass the archive's version, e.g. --act-version 0.2.89".to_string()),
            ));
        }
    } else if asked.checksums.is_some() {
        return Err(Error::usage(
            "--act-checksums is only used with --act-archive",
            Some(
                "pass --act-archive FILE too, or drop --act-checksums to download checksums.txt"
                    .to_string(),
            ),
        ));
    }
    Ok(())
}

/// This platform's entry of a lock, checked against the other act options. Fails closed
/// (exit 4) on another version, a missing platform or a disagreeing `--act-sha256`.
fn pin_from_lock(
    path: &Path,
    lock: &crate::act::lockfile::ActLock,
    version: &VersionRequest,
    sha256: Option<&str>,
    checksums_given: bool,
) -> Result<(Pin, crate::act::lockfile::LockedAsset)> {
    let what = path.display().to_string();
    let VersionRequest::Exact(v) = version else {
        return Err(Error::usage(
            "--act-version latest cannot be used with --act-lock",
            Some(format!(
                "leave --act-version out to install the lock's act {}",
                lock.act_version
            )),
        ));
    };
    if *v != lock.act_version {
        return Err(Error::Verify {
            what,
            reason: format!(
                "the lock pins act {}, not the requested {v}",
                lock.act_version
            ),
            hint: Some(format!(
                "leave --act-version out, or lock {v}: actsim lock --act-version {v}; nothing was installed"
            )),
        });
    }
    if checksums_given {
        return Err(Error::usage(
            "--act-checksums is not used with --act-lock (the lock holds the verified hashes)",
            Some("drop --act-checksums".to_string()),
        ));
    }
    let platform = crate::act::lockfile::host_platform().map_err(|e| {
        Error::failed(
            e,
            Some("build act yourself and pass --act-archive FILE with --act-sha256 HEX".into()),
        )
    })?;
    let entry = lock.entry(&platform.key, &what)?.clone();
    if let Some(s) = sha256
        && s != entry.archive_sha256
    {
        return Err(Error::Verify {
            what,
            reason: format!(
                "--act-sha256 {s} disagrees with the lock, which pins {} for {}",
                entry.archive_sha256, platform.key
            ),
            hint: Some("check which value is right; nothing was installed".into()),
        });
    }
    Ok((
        Pin {
            lock: absolute(path),
            archive_sha256: entry.archive_sha256.clone(),
            binary_sha256: entry.binary_sha256.clone(),
        },
        entry,
    ))
}

/// Observe the act side of the machine. Network only for `latest`. The installed binary
/// is hashed through the run's hashes (once per version of the file).
pub async fn observe(run: &Run<'_>, receipts: &Receipts) -> Result<Facts> {
    let s = &run.settings;
    let wanted = wanted(run).await?;
    let target = s.bin_dir.join("act");
    let record = trusted_record(s, receipts, &wanted.version, &wanted.asset, &target);
    let installed = installed(run, &target, record.as_ref());
    let (others, bin_dir_on_path) = others(run, &target, record.as_ref());
    Ok(Facts {
        bin_dir: s.bin_dir.clone(),
        target,
        backup_dir: s.records_dir().join("backup"),
        wanted,
        installed,
        receipt: record,
        others,
        bin_dir_on_path,
    })
}

/// The act asked for, with `latest` resolved.
async fn wanted(run: &Run<'_>) -> Result<Wanted> {
    let req = &run.requests.act;
    let version = match &req.version {
        VersionRequest::Exact(v) => v.clone(),
        VersionRequest::Latest => latest(run).await?,
    };
    let (asset, source) = match (&req.archive, &req.lock) {
        (Some(archive), _) => (
            archive
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| archive.display().to_string()),
            Source::Local {
                archive: absolute(archive),
                checksums: req.checksums.as_deref().map(absolute),
            },
        ),
        // A lock: its URL, or the same asset from --act-base-url; no checksums.txt.
        (None, Some((_, entry))) => (
            entry.asset.clone(),
            Source::Release {
                archive_url: if req.base_url_given {
                    release::release_url(&req.base_url, &version, &entry.asset)
                } else {
                    entry.url.clone()
                },
                checksums_url: None,
            },
        ),
        (None, None) => {
            let asset = release::host_asset()?;
            (
                asset.clone(),
                Source::Release {
                    archive_url: release::release_url(&req.base_url, &version, &asset),
                    checksums_url: Some(release::release_url(
                        &req.base_url,
                        &version,
                        "checksums.txt",
                    )),
                },
            )
        }
    };
    Ok(Wanted {
        version,
        asset,
        source,
        sha256: req.sha256.clone(),
        pin: req.lock.as_ref().map(|(pin, _)| pin.clone()),
    })
}

/// The newest release's version (`--act-version latest`).
async fn latest(run: &Run<'_>) -> Result<String> {
    let (req, ctx) = (&run.requests.act, run.ctx);
    let url = release::latest_url_or_usage(&req.base_url)?;
    let http = req.http.client(ctx.deadline(), &ctx.ui)?;
    let v = tokio::time::timeout(ctx.timeout, http.latest_version(&url))
        .await
        .map_err(|_| Error::Download {
            url: url.clone(),
            reason: format!("no answer within {}s", ctx.timeout.as_secs()),
            hint: Some("raise --timeout, or pass a concrete --act-version".into()),
        })??;
    ctx.ui.info(&format!("latest act release: {v}"));
    Ok(v)
}

/// The binary at `target`: its SHA-256 and version (the record's when it is the recorded
/// binary, else what `act --version` says).
fn installed(run: &Run<'_>, target: &Path, record: Option<&ActReceipt>) -> Option<Installed> {
    let s = &run.settings;
    match s.fs.open(target, release::MAX_BINARY_BYTES) {
        Ok(None) => None,
        // A link or something else planted there: replaced like any unknown act.
        Err(_) => Some(Installed {
            sha256: String::new(),
            version: None,
        }),
        Ok(Some(file)) => {
            let sha256 = run.ctx.hashes.of_file(file, target).unwrap_or_default();
            let ours = record.filter(|r| r.binary_sha256 == sha256 && r.install_path == target);
            let version = match ours {
                Some(r) => Some(r.version.clone()),
                None => install::act_version(&s.fs, target, &s.docker_home, VERSION_TIMEOUT),
            };
            Some(Installed { sha256, version })
        }
    }
}

/// The other acts on PATH, and whether the bin dir is on PATH.
fn others(run: &Run<'_>, target: &Path, record: Option<&ActReceipt>) -> (Vec<OtherAct>, bool) {
    let (s, process) = (&run.settings, &run.ctx.process);
    let path_dirs = process.path_dirs();
    let rank = |dir: &Path| {
        path_dirs
            .iter()
            .position(|d| crate::system::process::same_path(d, dir))
    };
    let our_rank = rank(&s.bin_dir);
    let others = process
        .which_all("act")
        .into_iter()
        .filter(|p| !crate::system::process::same_path(p, target))
        .map(|p| {
            let their_rank = p.parent().and_then(rank);
            OtherAct {
                version: install::act_version(&s.fs, &p, &s.docker_home, VERSION_TIMEOUT),
                shadows: match (their_rank, our_rank) {
                    (Some(t), Some(o)) => t < o,
                    _ => true,
                },
                by_actsim: record.is_some_and(|r| r.install_path == p),
                path: p,
            }
        })
        .collect();
    (others, our_rank.is_some())
}

/// The record of the installed act that this run may trust: root's own (or, as the user,
/// the user's) receipt for this path, else — as root for another user — the hashes root
/// verified for this version and asset. Never a record the target user can edit, when
/// root acts for them.
fn trusted_record(
    s: &Settings,
    receipts: &Receipts,
    version: &str,
    asset: &str,
    target: &Path,
) -> Option<ActReceipt> {
    if let Some(r) = receipts.trusted_act(s).filter(|r| r.install_path == target) {
        return Some(r);
    }
    let v = receipts.system.as_ref()?.verified(version, asset)?;
    Some(ActReceipt {
        version: v.version.clone(),
        asset: v.asset.clone(),
        source: String::new(),
        archive_sha256: v.archive_sha256.clone(),
        binary_sha256: v.binary_sha256.clone(),
        install_path: target.to_path_buf(),
        installed_at: String::new(),
        replaced: Vec::new(),
        created_dir: false,
    })
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// The expected archive SHA-256: its `checksums.txt` line, and `--act-sha256`; both must
/// agree when both are given.
async fn expected_sha256(
    w: &Wanted,
    http: &Http,
    fs: &crate::system::privsep::Fs,
) -> Result<String> {
    if let Some(pin) = &w.pin {
        return Ok(pin.archive_sha256.clone());
    }
    let listed = match &w.source {
        Source::Release {
            checksums_url: None,
            ..
        } => None,
        Source::Release {
            checksums_url: Some(checksums_url),
            ..
        } => {
            let text = http.get_text(checksums_url).await?;
            Some(release::find_checksum(&text, &w.asset).ok_or_else(|| {
                Error::Verify {
                    what: checksums_url.clone(),
                    reason: format!("no SHA-256 line for {}", w.asset),
                    hint: Some(
                        "the release has no asset for this platform, or the mirror is incomplete"
                            .into(),
                    ),
                }
            })?)
        }
        Source::Local {
            checksums: Some(path),
            ..
        } => {
            let bytes = fs
                .read(path, crate::system::files::MAX_READ)
                .and_then(|b| {
                    b.ok_or_else(|| {
                        Error::failed(format!("{}: no such file", path.display()), None)
                    })
                })
                .map_err(|e| Error::Verify {
                    what: path.display().to_string(),
                    reason: format!("cannot read: {e}"),
                    hint: Some("pass the release's checksums.txt with --act-checksums".into()),
                })?;
            let text = String::from_utf8_lossy(&bytes).into_owned();
            let platform = release::host_asset().ok();
            let line = release::find_checksum(&text, &w.asset)
                .or_else(|| platform.and_then(|a| release::find_checksum(&text, &a)));
            Some(line.ok_or_else(|| Error::Verify {
                what: path.display().to_string(),
                reason: format!("no SHA-256 line for {}", w.asset),
                hint: Some("name the archive as released (e.g. act_Linux_x86_64.tar.gz), or pass --act-sha256".into()),
            })?)
        }
        Source::Local {
            checksums: None, ..
        } => None,
    };
    match (listed, &w.sha256) {
        (Some(l), Some(s)) if l != *s => Err(Error::Verify {
            what: w.source.origin(),
            reason: format!("--act-sha256 {s} disagrees with checksums.txt, which lists {l}"),
            hint: Some("check which value is right; nothing was downloaded or installed".into()),
        }),
        (Some(l), _) => Ok(l),
        (None, Some(s)) => Ok(s.clone()),
        (None, None) => Err(Error::usage(
            "nothing to verify the act archive against",
            Some("pass --act-checksums FILE or --act-sha256 HEX".to_string()),
        )),
    }
}

/// Download (or read), verify and install. The bin dir is unchanged unless this returns
/// `Ok`.
pub async fn apply(run: &Run<'_>, inst: &Install, receipts: &mut Receipts) -> Result<StepReport> {
    let origin = inst.wanted.source.origin();
    let timeout = run.ctx.timeout;
    match tokio::time::timeout_at(run.ctx.deadline(), install(run, inst, receipts)).await {
        Ok(r) => r,
        Err(_) => Err(Error::Download {
            url: origin,
            reason: format!(
                "not finished within {}s (--timeout); nothing was installed",
                timeout.as_secs()
            ),
            hint: Some("check the network or the mirror, or raise --timeout".into()),
        }),
    }
}

async fn install(run: &Run<'_>, inst: &Install, receipts: &mut Receipts) -> Result<StepReport> {
    let (s, ui) = (&run.settings, &run.ctx.ui);
    let w = &inst.wanted;
    let http = run.requests.act.http.client(run.ctx.deadline(), ui)?;
    let expected = expected_sha256(w, &http, &s.fs).await?;
    for stale in install::remove_stale_staging(&s.fs, &s.bin_dir) {
        ui.info(&format!(
            "removed {}, left by an earlier run that was killed",
            stale.display()
        ));
    }
    let created_dir = !matches!(s.fs.stat(&s.bin_dir), Ok(Some(_)));
    let mut staged = Staged::create(&s.fs, &s.bin_dir)?;
    let extracted = extract(run, w, &http, &staged).await?;
    let binary = verify(w, &expected, extracted, ui)?;
    staged.seal()?;
    check_runs(run, w, &staged).await?;
    let backup = record(run, inst, &expected, &binary, receipts);
    if let Some(act) = receipts.records_mut(s).act.as_mut() {
        act.created_dir |= created_dir;
    }
    staged.commit(&inst.target, backup.as_deref())?;
    // Its digest is known from the extraction: nobody hashes the installed file again.
    if let Ok(Some(installed)) = s.fs.open(&inst.target, release::MAX_BINARY_BYTES) {
        run.ctx.hashes.remember(&installed, &binary.sha256);
    }
    receipts.save_records(s)?;
    Ok(StepReport {
        id: StepId::Act.as_str(),
        status: StepStatus::Changed,
        summary: format!(
            "installed act {} at {} (sha256 {}…)",
            w.version,
            inst.target.display(),
            &binary.sha256[..12]
        ),
        ..Default::default()
    })
}

/// Stream the release archive (or read the local one) into the staged file, hashing it.
async fn extract(run: &Run<'_>, w: &Wanted, http: &Http, staged: &Staged) -> Result<Extracted> {
    let out = std::sync::Arc::new(staged.file().try_clone().at(&staged.path)?);
    match &w.source {
        Source::Release { archive_url, .. } => {
            let label = format!("downloading {}", w.asset);
            http.stream(archive_url, &label, move |reader| {
                install::extract_act(reader, &out)
            })
            .await
        }
        Source::Local { archive, .. } => {
            let archive = archive.clone();
            run.ctx
                .ui
                .info(&format!("reading {} ...", archive.display()));
            let file = run
                .settings
                .fs
                .open(&archive, release::MAX_ARCHIVE_BYTES)
                .and_then(|f| {
                    f.ok_or_else(|| {
                        Error::failed(format!("{}: no such file", archive.display()), None)
                    })
                })
                .map_err(|e| Error::Verify {
                    what: archive.display().to_string(),
                    reason: format!("cannot read: {e}"),
                    hint: Some("check the --act-archive path".into()),
                })?;
            tokio::task::spawn_blocking(move || {
                install::extract_act(std::io::BufReader::new(file), &out)
            })
            .await
            .map_err(|e| Error::failed(format!("extracting {}: {e}", archive.display()), None))
        }
    }
}

/// The archive's hash is the expected one and it held an act binary (the locked one,
/// with a lock).
fn verify(w: &Wanted, expected: &str, extracted: Extracted, ui: &crate::ui::Ui) -> Result<Binary> {
    ui.info(&format!(
        "verifying {} ({} bytes)",
        w.asset, extracted.archive_bytes
    ));
    if extracted.archive_sha256 != expected {
        return Err(Error::ChecksumMismatch {
            what: w.source.origin(),
            expected: expected.to_string(),
            actual: extracted.archive_sha256,
        });
    }
    let binary = extracted.binary.map_err(|reason| Error::Verify {
        what: w.source.origin(),
        reason: reason.to_string(),
        hint: Some("the archive is not an act release as goreleaser packs it".into()),
    })?;
    if let Some(pin) = &w.pin
        && binary.sha256 != pin.binary_sha256
    {
        return Err(Error::ChecksumMismatch {
            what: format!(
                "the act binary in {} (locked in {})",
                w.source.origin(),
                pin.lock.display()
            ),
            expected: pin.binary_sha256.clone(),
            actual: binary.sha256,
        });
    }
    Ok(binary)
}

/// The staged binary runs here (`act --version`); a version other than the asked one is
/// a warning.
async fn check_runs(run: &Run<'_>, w: &Wanted, staged: &Staged) -> Result<()> {
    let (fs, path, home) = (
        run.settings.fs.clone(),
        staged.path.clone(),
        run.ctx.docker_home.clone(),
    );
    let ran = tokio::task::spawn_blocking(move || {
        install::act_version(&fs, &path, &home, VERSION_TIMEOUT)
    })
    .await
    .ok()
    .flatten();
    let Some(ran_version) = ran else {
        return Err(Error::Verify {
            what: w.source.origin(),
            reason: "the act binary in it does not run on this machine (act --version failed)"
                .into(),
            hint: Some(format!(
                "check that {} is the right asset for {}/{}",
                w.asset,
                std::env::consts::OS,
                release::host_arch()
            )),
        });
    };
    if ran_version != w.version {
        run.ctx.ui.warn(&format!(
            "the verified archive holds act {ran_version}, not {}",
            w.version
        ));
    }
    Ok(())
}

/// Record the install in the receipt that records act (and root's verified hashes); the
/// backup the replaced binary goes to, if any.
fn record(
    run: &Run<'_>,
    inst: &Install,
    expected: &str,
    binary: &Binary,
    receipts: &mut Receipts,
) -> Option<PathBuf> {
    let w = &inst.wanted;
    let now = receipt::now_rfc3339();
    let records = receipts.records_mut(&run.settings);
    let mut replaced = records
        .act
        .as_ref()
        .map(|r| r.replaced.clone())
        .unwrap_or_default();
    // Only a regular file is kept (a link planted there is just replaced).
    let backup = inst.backup.clone().filter(|_| {
        inst.replaces
            .as_ref()
            .is_some_and(|(old, _)| !old.sha256.is_empty())
    });
    if let (Some((old, by_actsim)), Some(backup)) = (&inst.replaces, &backup) {
        replaced.push(Replaced {
            path: inst.target.clone(),
            sha256: old.sha256.clone(),
            version: old.version.clone(),
            backup: backup.clone(),
            installed_by_actsim: *by_actsim,
            replaced_at: now.clone(),
        });
    }
    records.act = Some(ActReceipt {
        version: w.version.clone(),
        asset: w.asset.clone(),
        source: w.source.origin(),
        archive_sha256: expected.to_string(),
        binary_sha256: binary.sha256.clone(),
        install_path: inst.target.clone(),
        installed_at: now,
        replaced,
        created_dir: records
            .act
            .as_ref()
            .is_some_and(|r| r.created_dir && r.install_path == inst.target),
    });
    if let Some(system) = receipts.system.as_mut() {
        system.remember(receipt::Verified {
            version: w.version.clone(),
            asset: w.asset.clone(),
            archive_sha256: expected.to_string(),
            binary_sha256: binary.sha256.clone(),
        });
    }
    backup
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> Facts {
        Facts {
            bin_dir: "/home/a/.local/bin".into(),
            target: "/home/a/.local/bin/act".into(),
            backup_dir: "/home/a/.local/state/actsim/backup".into(),
            wanted: Wanted {
                version: "0.2.89".into(),
                asset: "act_Linux_x86_64.tar.gz".into(),
                source: Source::Release {
                    archive_url: "https://m/v0.2.89/act_Linux_x86_64.tar.gz".into(),
                    checksums_url: Some("https://m/v0.2.89/checksums.txt".into()),
                },
                sha256: None,
                pin: None,
            },
            installed: None,
            receipt: None,
            others: vec![],
            bin_dir_on_path: true,
        }
    }

    fn receipt_for(f: &Facts, sha: &str) -> ActReceipt {
        ActReceipt {
            version: "0.2.89".into(),
            asset: f.wanted.asset.clone(),
            source: f.wanted.source.origin(),
            archive_sha256: "a".repeat(64),
            binary_sha256: sha.into(),
            install_path: f.target.clone(),
            installed_at: "2024-01-01T00:00:00Z".into(),
            replaced: vec![],
            created_dir: false,
        }
    }

    #[test]
    fn fresh_machine_installs_with_download_and_verify_details() {
        let p = plan(&facts());
        let Action::InstallAct(inst) = &p.action else {
            panic!("{p:?}")
        };
        assert!(inst.replaces.is_none() && inst.backup.is_none());
        assert!(
            p.summary
                .starts_with("install act 0.2.89 at /home/a/.local/bin/act")
        );
        assert!(p.details[0].contains("download https://m/v0.2.89/act_Linux_x86_64.tar.gz"));
        assert!(p.details[1].contains("checksums.txt"));
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn matching_receipt_is_ok_and_anything_else_reinstalls() {
        let mut f = facts();
        let sha = "b".repeat(64);
        f.installed = Some(Installed {
            sha256: sha.clone(),
            version: Some("0.2.89".into()),
        });
        f.receipt = Some(receipt_for(&f, &sha));
        let p = plan(&f);
        assert_eq!(p.action, Action::Keep);
        assert!(p.summary.contains("already installed"));

        // Another version requested: replace ours, keeping a copy.
        let mut g = f.clone();
        g.wanted.version = "0.2.90".into();
        let Action::InstallAct(inst) = plan(&g).action else {
            panic!()
        };
        assert!(inst.replaces.as_ref().unwrap().1);
        assert_eq!(
            inst.backup.unwrap(),
            PathBuf::from("/home/a/.local/state/actsim/backup/act-bbbbbbbbbbbb")
        );

        // The binary changed since install (user replaced it): reinstall, not ours.
        let mut h = f.clone();
        h.installed.as_mut().unwrap().sha256 = "c".repeat(64);
        let p = plan(&h);
        let Action::InstallAct(inst) = &p.action else {
            panic!()
        };
        assert!(!inst.replaces.as_ref().unwrap().1);
        assert!(
            p.details
                .iter()
                .any(|d| d.contains("not installed by actsim"))
        );

        // A pinned archive hash different from the receipt's: reinstall.
        let mut k = f.clone();
        k.wanted.sha256 = Some("d".repeat(64));
        assert!(matches!(plan(&k).action, Action::InstallAct(_)));
        k.wanted.sha256 = Some("a".repeat(64));
        assert_eq!(plan(&k).action, Action::Keep);

        // A different bin dir than the receipt's: install there.
        let mut m = f.clone();
        m.target = "/opt/bin/act".into();
        assert!(matches!(plan(&m).action, Action::InstallAct(_)));
    }

    #[test]
    fn other_acts_and_path_produce_warnings() {
        let mut f = facts();
        f.bin_dir_on_path = false;
        f.others = vec![OtherAct {
            path: "/usr/bin/act".into(),
            version: Some("0.2.50".into()),
            shadows: true,
            by_actsim: false,
        }];
        let p = plan(&f);
        assert!(matches!(p.action, Action::InstallAct(_)));
        let all = p.warnings.join("\n");
        assert!(
            all.contains("/usr/bin/act (act 0.2.50, not installed by actsim)"),
            "{all}"
        );
        assert!(all.contains("shadows /home/a/.local/bin/act"), "{all}");
        assert!(all.contains("is not on PATH"), "{all}");
    }

    #[test]
    fn local_archive_plan_names_the_files() {
        let mut f = facts();
        f.wanted.source = Source::Local {
            archive: "/tmp/act_Linux_x86_64.tar.gz".into(),
            checksums: None,
        };
        f.wanted.sha256 = Some("e".repeat(64));
        let p = plan(&f);
        assert!(p.details[0].contains("read /tmp/act_Linux_x86_64.tar.gz"));
        assert!(p.details[1].contains(&"e".repeat(64)));
    }
}
