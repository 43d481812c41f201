//! The preflight: doctor's fast checks ([`crate::doctor::CheckId::PREFLIGHT`]; no container is
//! started), with the result of a passing run cached in the state dir.
//!
//! The cache key covers everything the checks depend on: the endpoint, the socket's
//! device, inode, owner, group and mode, the user's uid and groups, act's path and SHA-256
//! (the hash is recomputed only when act's device, inode, size, mtime or ctime change),
//! every actrc's SHA-256, `DOCKER_HOST` and actsim's version. A hit costs a few `stat`s and
//! one small read. What can go wrong: an unreadable or stale cache (a miss), a cache that
//! cannot be written (the run goes on; the next one checks again).

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::halt::{Halt, Signals};
use super::userio;
use crate::context::Context;
use crate::doctor::{self, CheckId, Finding, Options, Status};
use crate::system::hash::Stamp;
use crate::ui::Ui;

/// The cache file in the state dir.
pub const CACHE_FILE: &str = "preflight.json";

#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
struct ActStat {
    path: String,
    stamp: Stamp,
    sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CachedFinding {
    id: CheckId,
    status: Status,
    summary: String,
    detail: String,
    fix: Vec<String>,
    duration_ms: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Cache {
    schema: u32,
    key: String,
    act: ActStat,
    findings: Vec<CachedFinding>,
}

fn stat_of(path: &Path) -> Option<ActStat> {
    Some(ActStat {
        path: path.to_string_lossy().into_owned(),
        stamp: Stamp::of_path(path)?,
        sha256: String::new(),
    })
}

/// Everything the preflight's verdict depends on, as one string (hashed into the key).
fn key_material(ctx: &Context, act: &ActStat) -> String {
    let process = &ctx.process;
    let mut parts = vec![
        format!("actsim {}", env!("CARGO_PKG_VERSION")),
        format!("docker_host {:?}", process.var("DOCKER_HOST")),
        format!("bin_dir {}", ctx.bin_dir.display()),
    ];
    match ctx.endpoint() {
        Ok(e) => {
            parts.push(format!("endpoint {}", e.host));
            if let Some(p) = e.socket_path() {
                match std::fs::metadata(&p) {
                    Ok(m) => parts.push(format!(
                        "socket {} dev {} ino {} uid {} gid {} mode {:o}",
                        p.display(),
                        m.dev(),
                        m.ino(),
                        m.uid(),
                        m.gid(),
                        m.mode()
                    )),
                    Err(e) => parts.push(format!("socket {} absent: {e}", p.display())),
                }
            }
        }
        Err(e) => parts.push(format!("endpoint error {e}")),
    }
    let mut gids = crate::system::identity::process_gids();
    gids.sort_unstable();
    gids.dedup();
    parts.push(format!("uid {} gids {gids:?}", nix::unistd::geteuid()));
    parts.push(format!("act {} sha256 {}", act.path, act.sha256));
    for p in [ctx.user.actrc_path(process), ctx.user.home.join(".actrc")] {
        let hash = userio::read_capped(&p)
            .map(|b| crate::system::files::sha256_hex(&b))
            .unwrap_or_else(|| "absent".into());
        parts.push(format!("actrc {} {hash}", p.display()));
    }
    parts.join("\n")
}

/// The preflight's findings, and whether they came from the cache.
///
/// `cli_mapping`: the command line maps the platforms (`--platform-image`, `-P`), so act
/// never stops at its first-run prompt even without an actrc mapping.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    state_dir: &Path,
    cli_mapping: bool,
) -> (Vec<Finding>, bool) {
    let cache_path = state_dir.join(CACHE_FILE);
    let cached: Option<Cache> =
        userio::read_capped(&cache_path).and_then(|b| serde_json::from_slice(&b).ok());
    let act_path = doctor::locate_act(ctx);
    let mut act = act_path.as_deref().and_then(stat_of).unwrap_or_default();
    if let Some(c) = &cached {
        let same = ActStat {
            sha256: c.act.sha256.clone(),
            ..act.clone()
        };
        if same == c.act {
            act.sha256 = c.act.sha256.clone();
        }
    }
    if act.sha256.is_empty()
        && let Some(p) = &act_path
    {
        act.sha256 = ctx.hashes.of_path_async(p).await.unwrap_or_default();
    }
    let key = crate::system::files::sha256_hex(
        format!("{}\ncli mapping {cli_mapping}", key_material(ctx, &act)).as_bytes(),
    );
    if let Some(c) = cached
        && c.schema == 1
        && c.key == key
        && let Some(findings) = from_cache(&c.findings)
    {
        return (findings, true);
    }
    let mut findings = doctor::preflight(ctx, opts).await;
    if cli_mapping {
        for f in findings.iter_mut() {
            if f.id == CheckId::ActDocker
                && f.status == Status::Fail
                && f.summary.starts_with("no platform mapping")
            {
                f.status = Status::Pass;
                f.summary =
                    "the platform mapping comes from the command line (no actrc mapping is needed)"
                        .into();
                f.fix.clear();
            }
        }
    }
    if !findings.iter().any(|f| f.status == Status::Fail) {
        let cache = Cache {
            schema: 1,
            key,
            act,
            findings: findings
                .iter()
                .map(|f| CachedFinding {
                    id: f.id,
                    status: f.status,
                    summary: f.summary.clone(),
                    detail: f.detail.clone(),
                    fix: f.fix.clone(),
                    duration_ms: f.duration_ms,
                })
                .collect(),
        };
        if let Ok(bytes) = serde_json::to_vec_pretty(&cache) {
            let _ = userio::write_state(&cache_path, &bytes);
        }
    }
    (findings, false)
}

/// The preflight stage: [`run`] unless a signal comes first.
pub async fn check(
    ctx: &Context,
    state_dir: &Path,
    cli_mapping: bool,
    sigs: &mut Signals,
) -> Result<(Vec<Finding>, bool), Halt> {
    let opts = Options::new(ctx.timeout);
    Ok(sigs
        .or_stop(run(ctx, &opts, state_dir, cli_mapping))
        .await?)
}

/// A failed check stops the run before act (its findings shown, their fixes the hint);
/// else one line: how many checks passed, with how many warnings.
pub fn judge(ui: &Ui, findings: &[Finding], cached: bool) -> Result<(), Halt> {
    let failures: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.status == Status::Fail)
        .collect();
    if !failures.is_empty() {
        doctor::report::print(ui, findings);
        let what: Vec<String> = failures
            .iter()
            .map(|f| format!("{}: {}", f.id, f.summary))
            .collect();
        let fixes: Vec<String> = failures.iter().flat_map(|f| f.fix.clone()).collect();
        return Err(Halt::message(
            format!(
                "the preflight failed; act was not started ({})",
                what.join("; ")
            ),
            Some(format!(
                "{} (actsim doctor shows every check)",
                fixes.join("; ")
            )),
        ));
    }
    let warnings = findings.iter().filter(|f| f.status == Status::Warn).count();
    let plural = if warnings == 1 { "" } else { "s" };
    ui.info(&format!(
        "preflight: passed ({} checks, {warnings} warning{plural}{}){}",
        findings.len(),
        if cached { "; cached" } else { "" },
        if warnings > 0 {
            "; actsim doctor shows the warnings"
        } else {
            ""
        }
    ));
    Ok(())
}

fn from_cache(cached: &[CachedFinding]) -> Option<Vec<Finding>> {
    cached
        .iter()
        .map(|c| {
            Some(Finding {
                id: CheckId::PREFLIGHT.into_iter().find(|i| *i == c.id)?,
                status: c.status,
                summary: c.summary.clone(),
                detail: c.detail.clone(),
                fix: c.fix.clone(),
                duration_ms: 0,
            })
        })
        .collect()
}
