//! The `env` step: write the compose file's `.env` (user ids, the socket's group, the
//! platform image), mode 0600, into the config dir. It needs a local socket.
//!
//! What can go wrong: no local socket (skipped), the destination is a link or a directory
//! (refused), the user edited it (kept; see [`super::file`]).

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
    let file = (FILE_NAME, 0o600);
    file::observe_rendered(run, StepId::Env, file, render, render::render_env, receipt)
}

/// Pure.
pub fn plan(f: &super::Facts) -> StepPlan {
    file::plan_observed(StepId::Env, &f.env)
}

/// After writing: the receipt records the `DOCKER_GID` written (doctor's drift check).
pub fn record(bytes: &[u8], receipt: &mut Receipt) {
    if let Some(gid) = crate::doctor::parse_env(&String::from_utf8_lossy(bytes))
        .remove("DOCKER_GID")
        .and_then(|v| v.parse().ok())
    {
        receipt
            .docker
            .get_or_insert_with(Default::default)
            .docker_gid = Some(gid);
    }
}
