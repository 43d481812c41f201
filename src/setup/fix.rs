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
//! fix restores what setup installed, not the defaults; the command layer hands setup's
//! engine those typed options and doctor's own Context (`commands::doctor`).
//!
//! What can go wrong: everything setup can (same exit codes: 3 declined or no terminal
//! without `--yes`, 4 download, 5 privileges), and checks that still fail afterwards (1).

use crate::doctor::{CheckId, Finding, Status};
use crate::setup::steps::StepId;

/// The setup steps that can fix the cause of check `id`.
pub fn steps_of(id: CheckId) -> &'static [StepId] {
    use StepId::*;
    match id {
        CheckId::ActBinary => &[Act, Image],
        CheckId::ActDocker => &[Actrc],
        CheckId::DockerSocket => &[Group],
        CheckId::ContainerRun => &[Image],
        CheckId::ContainerSocket => &[Env, Compose, Group, Image],
        CheckId::ComposeConfig => &[Compose, Env],
        _ => &[],
    }
}

/// The setup steps for every failing or warning check, in setup's order, each once.
pub fn steps_for(findings: &[Finding]) -> Vec<StepId> {
    let wanted: Vec<StepId> = findings
        .iter()
        .filter(|f| matches!(f.status, Status::Warn | Status::Fail))
        .flat_map(|f| steps_of(f.id).iter().copied())
        .collect();
    StepId::ALL
        .into_iter()
        .filter(|id| wanted.contains(id))
        .collect()
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
        let ids = |f: &[Finding]| steps_for(f).iter().map(|s| s.as_str()).collect::<Vec<_>>();
        assert_eq!(ids(&f), ["group", "image", "compose", "env", "actrc"]);
        let f = vec![finding("act.binary", Status::Fail)];
        assert_eq!(ids(&f), ["act", "image"]);
        assert!(steps_for(&[finding("docker.daemon", Status::Fail)]).is_empty());
    }
}
