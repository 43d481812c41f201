//! The `env` step: write the compose file's `.env` (user ids, the socket's group, the
//! platform image), mode 0600, into the config dir. It needs a local socket.
//!
//! `.env` is shared with the user, merged by key ([`render::merge_env`]): actsim owns
//! [`render::ENV_OWNED`] and sets them to the machine's truth; every other line is the
//! user's and stays byte for byte (what actsim once wrote there too: the whole template is
//! written only where there is no `.env`). A value of an owned key that is neither the machine's nor
//! what actsim last wrote is the user's own: the plan names it, and it is replaced only
//! when the plan is confirmed (`--yes` says so).
//!
//! What can go wrong: no local socket (skipped), the destination is a link or a directory
//! (refused), a value `.env` cannot hold (exit 2).

use super::file::{self, NoSocket};
use super::{Run, StepId, StepPlan};
use crate::error::Result;
use crate::receipt::Receipt;
use crate::render;

/// Where `.env` goes in the config dir.
pub const FILE_NAME: &str = ".env";

pub fn observe(
    run: &Run<'_>,
    render: &std::result::Result<render::Context, NoSocket>,
    receipt: &Receipt,
) -> Result<file::Observed> {
    let ctx = match render {
        Ok(ctx) => ctx,
        Err(why) => return Ok(Err(why.clone())),
    };
    let path = run.settings.config_dir.join(FILE_NAME);
    let found = file::existing(&run.settings.fs, &path);
    let (new, user_values) = match &found.0 {
        Some(current) => {
            let (bytes, changes) = render::merge_env(current, ctx)?;
            let theirs = changes.into_iter().filter(|c| theirs(c, receipt)).collect();
            (bytes, theirs)
        }
        None => (render::render_env(ctx)?.into_bytes(), Vec::new()),
    };
    let mut facts = file::facts(StepId::Env, path, 0o600, found, new, receipt);
    facts.user_values = user_values;
    Ok(Ok(facts))
}

/// Whether the file's value of an owned key is the user's own: there is one, and it is
/// not the value actsim last wrote (the receipt's `values`, or its `docker_gid`).
fn theirs(change: &render::EnvChange, receipt: &Receipt) -> bool {
    let Some(was) = &change.was else {
        return false;
    };
    let recorded = receipt
        .files
        .get(StepId::Env.as_str())
        .and_then(|f| f.values.get(change.key).cloned())
        .or_else(|| {
            (change.key == "DOCKER_GID")
                .then(|| receipt.docker.as_ref()?.docker_gid.map(|g| g.to_string()))
                .flatten()
        });
    recorded.as_deref() != Some(was.as_str())
}

/// Pure.
pub fn plan(f: &super::Facts) -> StepPlan {
    file::plan_observed(StepId::Env, &f.env)
}

/// After writing: the receipt records the values written for the keys actsim owns, and
/// the `DOCKER_GID` among them.
pub fn record(bytes: &[u8], receipt: &mut Receipt) {
    let values = render::parse_env(&String::from_utf8_lossy(bytes));
    if let Some(gid) = values.get("DOCKER_GID").and_then(|v| v.parse().ok()) {
        receipt
            .docker
            .get_or_insert_with(Default::default)
            .docker_gid = Some(gid);
    }
    if let Some(file) = receipt.files.get_mut(StepId::Env.as_str()) {
        file.values = render::ENV_OWNED
            .iter()
            .filter_map(|k| Some((k.to_string(), values.get(*k)?.clone())))
            .collect();
    }
}
