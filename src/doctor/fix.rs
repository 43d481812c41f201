//! `actsim doctor --fix [--yes]`: run the setup steps that fix what the checks found, then
//! check again.
//!
//! Each failing or warning check maps to the setup steps that can fix its cause
//! ([`steps_for`]): a missing or changed act (`act`, `image`), no actrc mapping (`actrc`),
//! a stale `DOCKER_GID` (`env`, `compose`), a missing image (`image`), a group not joined
//! (`group`). Setup's own engine computes its plan and runs only those of its steps that
//! change something (shown first, confirmed unless `--yes`, under the state-dir lock).
//! Edited files are not replaced and checks no step can fix keep their printed fix.
//! The setup options come from the receipt and `.env` (act version, platform image) so a
//! fix restores what setup installed, not the defaults.
//!
//! What can go wrong: everything setup can (same exit codes: 3 declined or no terminal
//! without `--yes`, 4 download, 5 privileges), and checks that still fail afterwards (1).

use std::ffi::OsString;

use clap::Parser;

use super::{CheckId, Finding, Status};
use crate::cli::{Cli, Command, DoctorArgs, SetupArgs};
use crate::context::Context;
use crate::error::{Error, Result};
use crate::receipt::{Loaded, Receipt};

/// The setup steps that can fix the cause of check `id`.
pub fn steps_of(id: CheckId) -> &'static [&'static str] {
    use crate::setup::{act_step, config_steps as c};
    match id {
        CheckId::ActBinary => &[act_step::ID, c::IMAGE],
        CheckId::ActDocker => &[c::ACTRC],
        CheckId::DockerSocket => &[c::GROUP],
        CheckId::ContainerRun => &[c::IMAGE],
        CheckId::ContainerSocket => &[c::ENV, c::COMPOSE, c::GROUP, c::IMAGE],
        CheckId::ComposeConfig => &[c::COMPOSE, c::ENV],
        _ => &[],
    }
}

/// The setup steps for every failing or warning check, in setup's order, each once.
pub fn steps_for(findings: &[Finding]) -> Vec<&'static str> {
    use crate::setup::{act_step, config_steps as c};
    let wanted: Vec<&str> = findings
        .iter()
        .filter(|f| matches!(f.status, Status::Warn | Status::Fail))
        .flat_map(|f| steps_of(f.id).iter().copied())
        .collect();
    [
        act_step::ID,
        c::GROUP,
        c::IMAGE,
        c::COMPOSE,
        c::ENV,
        c::ACTRC,
    ]
    .into_iter()
    .filter(|id| wanted.contains(id))
    .collect()
}

/// Setup's options for a fix: doctor's shared flags, `--yes`, no final check (doctor
/// checks again itself), and what setup installed before (act version, platform image)
/// unless flags or `ACTSIM_*` say otherwise.
pub fn setup_args(args: &DoctorArgs, ctx: &Context) -> Result<SetupArgs> {
    let process = &ctx.process;
    let c = &args.common;
    let mut argv: Vec<OsString> = ["actsim", "setup", "--no-check", "--format"]
        .map(OsString::from)
        .to_vec();
    argv.push(match c.format {
        crate::cli::Format::Human => "human".into(),
        crate::cli::Format::Json => "json".into(),
    });
    let mut flag = |name: &str, value: OsString| {
        argv.push(name.into());
        argv.push(value);
    };
    if let Some(b) = &c.bin_dir {
        flag("--bin-dir", b.clone().into_os_string());
    }
    if let Some(d) = &c.config_dir {
        flag("--config-dir", d.clone().into_os_string());
    }
    if let Some(u) = &c.user {
        flag("--user", u.into());
    }
    let platform = c.platform_image.clone().or_else(|| {
        let env = super::bundle::read_bounded(&ctx.config_dir.join(".env")).ok()??;
        super::parse_env(&String::from_utf8_lossy(&env)).remove("PLATFORM_IMAGE")
    });
    if let Some(p) = platform.filter(|p| !p.is_empty()) {
        flag("--platform-image", p.into());
    }
    if process.var_nonempty("ACTSIM_ACT_VERSION").is_none()
        && let Loaded::Found(Receipt { act: Some(act), .. }) =
            Receipt::load(&crate::system::privsep::Fs::local(), &ctx.state_dir)
    {
        flag("--act-version", act.version.into());
    }
    if args.yes {
        argv.push("--yes".into());
    }
    match Cli::try_parse_from(argv) {
        Ok(Cli {
            command: Command::Setup(a),
        }) => Ok(a),
        Ok(_) => Err(Error::failed("internal: not a setup command", None)),
        Err(e) => Err(Error::usage(
            format!("doctor --fix: {}", e.to_string().trim()),
            Some("check the ACTSIM_* variables and the flags".to_string()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, status: Status) -> Finding {
        Finding {
            id: serde_json::from_value(id.into()).unwrap(),
            status,
            summary: String::new(),
            detail: String::new(),
            fix: vec!["x".into()],
            duration_ms: 0,
        }
    }

    #[test]
    fn failing_and_warning_checks_map_to_setup_steps_in_order() {
        let f = vec![
            finding("container.socket", Status::Fail),
            finding("act.docker", Status::Warn),
            finding("act.binary", Status::Pass),
            finding("docker.daemon", Status::Warn),
            finding("docker.resources", Status::Fail),
        ];
        assert_eq!(steps_for(&f), ["group", "image", "compose", "env", "actrc"]);
        let f = vec![finding("act.binary", Status::Fail)];
        assert_eq!(steps_for(&f), ["act", "image"]);
        assert!(steps_for(&[finding("docker.daemon", Status::Fail)]).is_empty());
    }
}
