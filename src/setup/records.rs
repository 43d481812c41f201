//! What setup's receipts say doctor should compare the machine against ([`drift`]): the
//! act binary and the compose file setup recorded. Only reads.
//!
//! What can go wrong: nothing; a receipt that is missing or unreadable means no drift
//! check for what it would have recorded.

use std::path::Path;

use crate::context::system_state_dir;
use crate::doctor::Drift;
use crate::receipt::{Loaded, Receipt};
use crate::setup::steps::StepId;
use crate::system::identity::TargetUser;
use crate::system::privsep::Fs;
use crate::system::process::Process;

/// The target user's receipt, and for an act in a root-owned bin dir root's record in the
/// system state dir (both only read).
pub fn drift(process: &Process, user: &TargetUser, bin_dir: &Path) -> Drift {
    let fs = Fs::local();
    let load = |dir: &Path| match Receipt::load(&fs, dir) {
        Loaded::Found(r) => Some(r),
        _ => None,
    };
    let mine = load(&user.state_dir(process));
    let target = bin_dir.join("act");
    let system = load(&system_state_dir(process));
    let act = [mine.as_ref(), system.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(|r| r.act.as_ref())
        .find(|a| a.install_path == target);
    let mut drift = Drift {
        act_sha256: act.map(|a| a.binary_sha256.clone()),
        act_version: act.map(|a| a.version.clone()),
        ..Default::default()
    };
    if let Some(r) = mine {
        drift.compose_sha256 = r
            .files
            .get(StepId::Compose.as_str())
            .map(|f| f.sha256.clone());
    }
    drift
}
