//! act's command line: the event, `--json --pull=false`, `-W`/`-j`, `-P LABEL=IMAGE` for
//! `--platform-image`, one `--container-options` (the value the user's arguments or an
//! actrc gave, act taking only the last, else the socket's group for job containers; and
//! always this run's label, [`super::cleanup::Identity`], so cleanup can prove a job
//! container is this run's), then the user's other act arguments; run by the act binary on
//! the host, or by the compose tool in the simulator service (`--in-container`).
//!
//! What can go wrong: no act binary in the bin dir or on PATH (exit 1: run setup); a job
//! with `container:` takes its options from the workflow, so act gives it no label (cleanup
//! leaves such a container alone).

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
    identity: &super::cleanup::Identity,
) -> Result<ActCommand, Halt> {
    let act_args = act_args(args, plan, endpoint, &identity.label_option());
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

/// act's own arguments; `label` (`--label KEY=VALUE`) joins the one `--container-options`.
fn act_args(args: &Options, plan: &Plan, endpoint: &Endpoint, label: &str) -> Vec<String> {
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
    let (user_args, given) = take_container_options(&args.act_args);
    let given = given.or_else(|| {
        plan.actrc_texts
            .iter()
            .filter_map(|t| actrc_container_options(t))
            .next_back()
    });
    let options = match given {
        Some(v) => v,
        None => socket_gid(endpoint)
            .map(|gid| format!("--group-add {gid}"))
            .unwrap_or_default(),
    };
    out.extend([
        "--container-options".into(),
        format!("{options} {label}").trim().to_string(),
    ]);
    out.extend(user_args);
    out
}

/// The user's act arguments without `--container-options` (both spellings), and the last
/// value given (act takes one: the last).
fn take_container_options(words: &[String]) -> (Vec<String>, Option<String>) {
    let mut rest = Vec::new();
    let mut value = None;
    let mut it = words.iter();
    while let Some(w) = it.next() {
        if w == "--" {
            rest.push(w.clone());
            rest.extend(it.by_ref().cloned());
            break;
        }
        if w == "--container-options" {
            value = it.next().cloned();
        } else if let Some(v) = w.strip_prefix("--container-options=") {
            value = Some(v.to_string());
        } else {
            rest.push(w.clone());
        }
    }
    (rest, value)
}

/// The `--container-options` value of actrc text (act splits a line at its first space),
/// the last one.
fn actrc_container_options(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter_map(|l| {
            if let Some(v) = l.strip_prefix("--container-options=") {
                return Some(v.to_string());
            }
            let (flag, value) = l.split_once(char::is_whitespace)?;
            (flag == "--container-options").then(|| value.trim().to_string())
        })
        .next_back()
}

/// The group owning the daemon's socket, for job containers that talk to it.
fn socket_gid(endpoint: &Endpoint) -> Option<u32> {
    endpoint
        .socket_path()
        .and_then(|p| crate::docker::detect::socket_meta(&p))
        .map(|m| m.gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        s.split(' ').map(str::to_string).collect()
    }

    #[test]
    fn the_users_container_options_are_taken_out_and_the_last_kept() {
        let (rest, v) = take_container_options(&words(
            "-v --container-options a --container-options=b -s X",
        ));
        assert_eq!(rest, words("-v -s X"));
        assert_eq!(v.as_deref(), Some("b"));
        let (rest, v) = take_container_options(&words("-- --container-options a"));
        assert_eq!(rest, words("-- --container-options a"));
        assert_eq!(v, None);
        assert_eq!(
            actrc_container_options("-P x=y\n--container-options --group-add 5 --cpus 1\n")
                .as_deref(),
            Some("--group-add 5 --cpus 1")
        );
        assert_eq!(
            actrc_container_options("--container-options=--privileged").as_deref(),
            Some("--privileged")
        );
        assert_eq!(actrc_container_options("-P a=b"), None);
    }
}
