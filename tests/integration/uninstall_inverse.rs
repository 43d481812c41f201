//! Uninstall is the exact inverse of setup (issue 17): after setup, `doctor` and `doctor
//! --deep` on a socket whose group is not root (so setup adds its `--group-add` line to the
//! actrc), uninstall leaves the tree as it was before setup, the user's own files and
//! lines byte for byte; a second uninstall changes nothing.
//!
//! Real parts only: the machine's daemon through a socket proxy owned by a temporary
//! group, a loopback mirror serving the real act, the busybox platform image, the world.

use std::collections::BTreeMap;

use crate::support::temp;
use crate::support::users::TempGroup;
use crate::support::world::World;

/// Every path under the world's root, with the bytes of each regular file.
fn snapshot(w: &World) -> BTreeMap<String, Option<Vec<u8>>> {
    w.tree()
        .into_iter()
        .map(|p| {
            let full = w.root.path().join(&p);
            let bytes = full
                .symlink_metadata()
                .ok()
                .filter(|m| m.is_file())
                .and_then(|_| std::fs::read(&full).ok());
            (p, bytes)
        })
        .collect()
}

#[test]
fn uninstall_inverse_after_setup_doctor_and_deep_leaves_the_tree_as_before() {
    let group = TempGroup::new();
    let Some(w) = World::new().socket_group(group.gid).build() else {
        return;
    };
    // A home as users have it, with files and lines of their own.
    for dir in [".config", ".local/state", ".cache"] {
        std::fs::create_dir_all(w.home().join(dir)).unwrap();
    }
    temp::write(
        &w.actrc(),
        "# my act settings\n--container-architecture linux/amd64\r\n-P ubuntu-20.04=mine:1\n",
    );
    temp::write(
        &w.env_file(),
        "# for the simulator\nGH_TOKEN=ghp_not-a-real-token\n",
    );
    temp::write(&w.config().join("notes.txt"), "mine\n");
    let before = snapshot(&w);

    let setup = w
        .setup_json()
        .args(["--act-arg", "--no-cache-server"])
        .run();
    setup.assert_success();
    let actrc = std::fs::read_to_string(w.actrc()).unwrap();
    assert!(
        actrc.contains(&format!("--container-options --group-add {}", group.gid)),
        "{actrc}"
    );
    assert!(actrc.contains("--no-cache-server"), "{actrc}");
    w.doctor(60).run().assert_success();
    w.doctor(180).arg("--deep").run();

    let out = w.uninstall().arg("--yes").run();
    out.assert_success();
    assert_eq!(out.json()["changed"], true, "{out}");
    let after = snapshot(&w);
    let show = |m: &BTreeMap<String, Option<Vec<u8>>>| {
        m.iter()
            .map(|(p, b)| match b {
                Some(b) => format!("{p}: {:?}", String::from_utf8_lossy(b)),
                None => p.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(show(&after), show(&before), "{out}");

    let again = w.uninstall().arg("--yes").run();
    again.assert_success();
    assert_eq!(again.json()["changed"], false, "{again}");
}
