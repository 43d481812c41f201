//! The `docker` step: detect the install (endpoint, socket, engine, compose tool) and
//! report it; it never changes anything.
//!
//! The endpoint is this process's own ([`Context::endpoint`]): as root for a user, never
//! the user's docker config, which would let them pick the socket whose group root adds
//! them to. The daemon that answered is kept in the context for the rest of the run.
//!
//! What can go wrong: Docker is not installed at all (setup stops with the install
//! command), the daemon does not answer (reported as a refusal carrying the fix; steps
//! that need it are planned, not applied, and the final check fails).

use std::time::Duration;

use super::{Action, Run, StepId, StepPlan};
use crate::context::{Context, Daemon};
use crate::docker::detect::{self, DockerInstall, SocketMeta};
use crate::error::{Error, Result};
use crate::setup::steps::group::Decision;
use crate::system::files;
use crate::system::privsep::Fs;

#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    pub described: String,
    pub daemon_error: Option<detect::DaemonError>,
    pub socket: Option<SocketMeta>,
    /// As root for a user: the docker context the user's own config selects (read as the
    /// user), which their own docker commands would follow instead of this endpoint.
    pub user_context: Option<String>,
    /// The daemon does not answer: how to start it (the doctor's fixes for its socket).
    pub start_fixes: Vec<String>,
}

/// Detect Docker once per run, at the context's endpoint and with its daemon when one
/// already answered; stop when Docker is not installed at all.
pub async fn detect(run: &Run<'_>) -> Result<DockerInstall> {
    let ctx = run.ctx;
    let known = ctx.daemon().map(|d| (d.docker, d.version));
    let found = detect::detect_at(
        &ctx.process,
        &ctx.docker_home,
        ctx.endpoint().clone(),
        known,
        ctx.timeout.min(Duration::from_secs(15)),
    )
    .await;
    remember(ctx, &found);
    if found.missing() {
        return Err(Error::failed(
            "Docker is not installed: no docker CLI, no daemon socket, no daemon answering",
            Some(detect::install_hint()),
        ));
    }
    Ok(found)
}

/// Keep the daemon that answered for every later request of the run.
fn remember(ctx: &Context, found: &DockerInstall) {
    if let (Some(docker), Some(version)) = (&found.client, &found.version) {
        ctx.remember_daemon(&Daemon {
            docker: docker.clone(),
            version: version.clone(),
            engine: found.engine_kind,
        });
    }
}

pub fn observe(run: &Run<'_>, found: &DockerInstall) -> Facts {
    let s = &run.settings;
    Facts {
        described: found.describe(),
        daemon_error: found.daemon_error.clone(),
        socket: found.socket.clone(),
        user_context: if s.fs.is_separated() {
            user_docker_context(&s.fs, &s.user.home)
        } else {
            None
        },
        start_fixes: match (&found.daemon_error, &found.endpoint) {
            (Some(_), Ok(e)) => e
                .socket_path()
                .map(|p| crate::doctor::start_daemon_fixes(&p))
                .unwrap_or_else(|| vec![format!("start the daemon at {}", e.host)]),
            _ => Vec::new(),
        },
    }
}

/// `currentContext` of the user's `~/.docker/config.json` (read as the user, bounded),
/// unless it is the default.
fn user_docker_context(fs: &Fs, home: &std::path::Path) -> Option<String> {
    let bytes = fs
        .read(&home.join(".docker/config.json"), files::MAX_READ)
        .ok()??;
    let json: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    json.get("currentContext")
        .and_then(|v| v.as_str())
        .filter(|c| !c.is_empty() && *c != "default")
        .map(str::to_string)
}

/// Detection is reported, never changed. Pure.
pub fn plan(f: &super::Facts) -> StepPlan {
    let mut p = plan_daemon(f);
    if let Some(ctx) = &f.docker.user_context {
        p.warnings.push(format!(
            "the user's docker config selects context {ctx}: their own docker commands may reach another daemon than the one set up here (run `docker context use default` as them)"
        ));
    }
    p
}

fn plan_daemon(f: &super::Facts) -> StepPlan {
    let id = StepId::Docker;
    match &f.docker.daemon_error {
        None => StepPlan::new(id, f.docker.described.clone(), Action::Keep),
        // The socket is there but this login may not open it: the group step fixes exactly
        // that, so it is no failure of the install.
        Some(_) if login_denied(f) => StepPlan::new(
            id,
            format!(
                "{}; this login cannot open the socket yet (the group step fixes that)",
                f.docker.described
            ),
            Action::Keep,
        ),
        Some(e) => {
            let fix = f
                .docker
                .start_fixes
                .first()
                .map_or(String::new(), |x| format!("; fix: {x}"));
            let mut p = StepPlan::new(
                id,
                format!("{}; continuing without the daemon", f.docker.described),
                Action::Refuse(format!(
                    "the daemon is not answering ({e}){fix}; the steps that need it ({}) are planned, not applied: rerun actsim setup once it answers",
                    NEEDS_DAEMON.map(|s| s.as_str()).join(", ")
                )),
            );
            p.warnings
                .push(format!("the Docker daemon is not answering: {e}"));
            p
        }
    }
}

/// The steps that depend on the daemon or its socket (the image it builds, the socket's
/// group and gid in group, compose, env and actrc): held while the daemon does not answer.
pub const NEEDS_DAEMON: [StepId; 5] = [
    StepId::Group,
    StepId::Image,
    StepId::Compose,
    StepId::Env,
    StepId::Actrc,
];

/// The daemon does not answer (and not merely refuses this login, which the group step
/// fixes).
pub fn daemon_down(f: &super::Facts) -> bool {
    f.docker.daemon_error.is_some() && !login_denied(f)
}

/// A step that depends on the daemon, while it is down: a change is planned (its summary
/// and details shown) but not applied. Pure.
pub fn hold(mut p: StepPlan) -> StepPlan {
    if matches!(p.action, Action::Keep | Action::Skip | Action::Refuse(_)) {
        return p;
    }
    p.summary = format!(
        "{} (planned, not applied while the daemon does not answer)",
        p.summary
    );
    p.action = Action::Skip;
    p
}

/// The daemon refused this login (permission denied) and the group step joins, or has
/// joined, the socket's group.
pub fn login_denied(f: &super::Facts) -> bool {
    f.docker
        .daemon_error
        .as_ref()
        .is_some_and(|e| e.to_string().to_lowercase().contains("permission denied"))
        && matches!(
            f.group.decision,
            Decision::Join { .. } | Decision::Member { .. }
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_that_needs_the_daemon_is_planned_not_applied() {
        let write = super::super::file::Write {
            path: "/home/u/.config/act/actrc".into(),
            bytes: b"-P x=y\n".to_vec(),
            mode: 0o644,
            edited: false,
            diff: String::new(),
            note: None,
        };
        let held = hold(StepPlan::new(
            StepId::Actrc,
            "write actrc",
            Action::Write(write),
        ));
        assert_eq!(held.action, Action::Skip);
        assert!(
            held.summary
                .starts_with("write actrc (planned, not applied")
        );
        let keep = hold(StepPlan::new(StepId::Env, "up to date", Action::Keep));
        assert_eq!(
            (keep.action, keep.summary.as_str()),
            (Action::Keep, "up to date")
        );
    }
}
