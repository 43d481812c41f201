//! The `actrc` step: merge actsim's platform mappings (and the socket's group for job
//! containers, and `--act-arg` lines) into act's `actrc`, keeping the user's own lines.
//! It needs nothing from Docker but the socket's group.
//!
//! What can go wrong: a bad `--act-arg` (exit 2), the destination is a link or a directory
//! (refused), the user maps one of our labels to another image (kept; see [`super::file`]).

use super::file;
use super::{Run, StepId, StepPlan};
use crate::docker::detect::DockerInstall;
use crate::error::Result;
use crate::receipt::Receipt;
use crate::render;

pub fn observe(
    run: &Run<'_>,
    docker: &DockerInstall,
    platform: &str,
    receipt: &Receipt,
) -> Result<file::Facts> {
    let act_args = &run.opts.act_args;
    let path = run.settings.user.actrc_path(&run.ctx.process);
    let found = file::existing(&run.settings.fs, &path);
    let current = found.0.clone();
    render::check_act_args(act_args)?;
    // Job containers get the socket's group too (not for a socket owned by group root).
    let job_gid = docker.socket.as_ref().map(|m| m.gid).filter(|g| *g != 0);
    let new = render::add_actrc_args(
        render::merge_actrc_bytes_with_group(current.as_deref(), platform, job_gid),
        act_args,
    );
    let mut facts = file::facts(StepId::Actrc, path, 0o644, found, new, receipt);
    facts.user_mapping = current.as_deref().is_some_and(|b| {
        let text = String::from_utf8_lossy(b);
        render::PLATFORM_LABELS
            .iter()
            .any(|l| render::actrc_platform(&text, l).is_some_and(|i| i != platform))
    });
    Ok(facts)
}

/// Pure.
pub fn plan(f: &super::Facts) -> StepPlan {
    file::plan(&f.actrc)
}

/// After writing: the receipt records the `--act-arg` lines actsim added (uninstall
/// removes exactly those; the user's own lines stay).
pub fn record(act_args: &[String], receipt: &mut Receipt) {
    if let Some(file) = receipt.files.get_mut(StepId::Actrc.as_str()) {
        for arg in act_args.iter().map(|a| a.trim()).filter(|a| !a.is_empty()) {
            file.values.insert(arg.to_string(), "act-arg".to_string());
        }
    }
}
