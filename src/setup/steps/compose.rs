//! The `compose` step: write `docker-compose.yml` (the simulator service) from its
//! template, into the config dir. It needs a local socket (its path and group are mounted).
//!
//! What can go wrong: no local socket (skipped), the destination is a link or a directory
//! (refused), the user edited it (kept; see [`super::file`]).

use super::file::{self, NoSocket};
use super::{Run, StepId, StepPlan};
use crate::docker::detect::DockerInstall;
use crate::error::Result;
use crate::receipt::Receipt;
use crate::render;

/// Where the compose file goes in the config dir (a fact of the template, not a step id).
pub const FILE_NAME: &str = "docker-compose.yml";

/// What the templates of compose and env are rendered from, or why there is nothing to
/// render (no local socket to mount).
pub fn render_context(
    run: &Run<'_>,
    docker: &DockerInstall,
    act: &super::act::Facts,
    image: &str,
    platform: &str,
) -> std::result::Result<render::Context, NoSocket> {
    let s = &run.settings;
    let Some(sock) = &docker.socket else {
        return Err(match &docker.endpoint {
            Ok(e) => match e.socket_path() {
                Some(path) => NoSocket::Absent { path },
                None => NoSocket::NotLocal {
                    host: e.host.clone(),
                },
            },
            Err(e) => NoSocket::Endpoint(e.clone()),
        });
    };
    let mut ctx = render::Context::new(
        &act.wanted.version,
        s.user.uid,
        s.user.gid,
        sock.gid,
        &sock.path,
        platform,
        &s.config_dir,
    );
    ctx.image = image.to_string();
    Ok(ctx)
}

pub fn observe(
    run: &Run<'_>,
    render: &std::result::Result<render::Context, NoSocket>,
    receipt: &Receipt,
) -> Result<file::Observed> {
    let file = (FILE_NAME, 0o644);
    file::observe_rendered(
        run,
        StepId::Compose,
        file,
        render,
        render::render_compose,
        receipt,
    )
}

/// Pure.
pub fn plan(f: &super::Facts) -> StepPlan {
    file::plan_observed(StepId::Compose, &f.compose)
}
