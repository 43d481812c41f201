//! The actrc step of `actsim setup` at work: after setup, `doctor --deep` runs a real act
//! job on the platform image the actrc maps.
//!
//! Real parts only: the real daemon, a loopback mirror serving the real act 0.2.89, and
//! the one test world ([`crate::support::world::World`]), whose runs point HOME and the XDG
//! dirs into temp dirs and pass `--bin-dir`/`--config-dir`, so the machine's own
//! configuration is never touched.

use crate::support::report::assert_no_failed_check;
use crate::support::world::World;

#[test]
fn setup_actrc_doctor_deep_runs_a_real_act_job_after_setup() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    w.fresh_setup();
    let out = w
        .doctor(150)
        .args(["--deep", "--platform-image", w.image()])
        .run();
    out.assert_status("act.run", "pass");
    assert_no_failed_check(&out);
    out.assert_success();
}
