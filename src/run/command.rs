//! act's command line: the event, `--json --pull=false`, `-W`/`-j`, `-P LABEL=IMAGE` for
//! `--platform-image`, the socket's group for job containers (unless the user or an actrc
//! gives `--container-options`), then the user's own act arguments; run by the act binary
//! on the host, or by the compose tool in the simulator service (`--in-container`).
//!
//! What can go wrong: no act binary in the bin dir or on PATH (exit 1: run setup).

use std::path::{Path, PathBuf};

use super::Options;
use super::halt::Halt;
use super::plan::Plan;
use crate::context::Context;
use crate::docker::endpoint::Endpoint;

/// What to start, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct ActCommand {
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Extra environment (`PWD` for compose, which mounts it).
    pub envs: Vec<(String, String)>,
}

impl ActCommand {
    /// `program args…`, as shown and logged.
    pub fn line(&self) -> String {
        format!("{} {}", self.program.display(), self.args.join(" "))
    }
}

/// The command for this run; `run_name` names the compose container.
pub fn command(
    ctx: &Context,
    args: &Options,
    plan: &Plan,
    endpoint: &Endpoint,
    run_name: &str,
    cwd: &Path,
) -> Result<ActCommand, Halt> {
    let act_args = act_args(args, plan, endpoint);
    match &plan.compose {
        None => {
            let Some(act) = crate::doctor::locate_act(ctx) else {
                return Err(Halt::message(
                    format!("act not found in {} or on PATH", ctx.bin_dir.display()),
                    Some("install it: actsim setup".to_string()),
                ));
            };
            Ok(ActCommand {
                program: act,
                args: act_args,
                envs: Vec::new(),
            })
        }
        Some(c) => {
            let (program, args) = c.command(run_name, act_args);
            Ok(ActCommand {
                program,
                args,
                envs: vec![("PWD".to_string(), cwd.to_string_lossy().into_owned())],
            })
        }
    }
}

/// act's own arguments.
fn act_args(args: &Options, plan: &Plan, endpoint: &Endpoint) -> Vec<String> {
    let mut out = vec![args.event.clone(), "--json".into(), "--pull=false".into()];
    if let Some(w) = &args.workflows {
        out.extend(["-W".into(), w.to_string_lossy().into_owned()]);
    }
    if let Some(j) = &args.job {
        out.extend(["-j".into(), j.clone()]);
    }
    if let Some(image) = &args.platform_image {
        for l in &plan.labels {
            out.extend(["-P".into(), format!("{l}={image}")]);
        }
    }
    if plan.compose.is_none()
        && !container_options_given(args, plan)
        && let Some(gid) = socket_gid(endpoint)
    {
        out.extend(["--container-options".into(), format!("--group-add {gid}")]);
    }
    out.extend(args.act_args.iter().cloned());
    out
}

/// The user's act arguments or an actrc set `--container-options` (setup writes one with
/// the group): act takes one value, so passing ours would replace theirs.
fn container_options_given(args: &Options, plan: &Plan) -> bool {
    let on_command_line = args
        .act_args
        .iter()
        .any(|a| a == "--container-options" || a.starts_with("--container-options="));
    on_command_line
        || plan
            .actrc_texts
            .iter()
            .any(|t| crate::render::actrc_has_container_options(t))
}

/// The group owning the daemon's socket, for job containers that talk to it.
fn socket_gid(endpoint: &Endpoint) -> Option<u32> {
    endpoint
        .socket_path()
        .and_then(|p| crate::docker::detect::socket_meta(&p))
        .map(|m| m.gid)
}
