//! The env step of `actsim setup`: a symbolic link planted at a destination (`.env`, then
//! the compose file) is refused naming the path, and never followed.
//!
//! Real parts only: the real daemon, a loopback mirror serving the real act 0.2.89, and
//! the one test world ([`crate::support::world::World`]), whose runs point HOME and the XDG
//! dirs into temp dirs and pass `--bin-dir`/`--config-dir`, so the machine's own
//! configuration is never touched.

use crate::support::Outcome;
use crate::support::exit;
use crate::support::files::{mode, read};
use crate::support::report::{assert_steps, step};
use crate::support::temp;
use crate::support::world::World;

#[test]
fn setup_env_symlink_at_a_destination_is_refused_and_not_followed() {
    let Some(w) = World::new().daemon().build() else {
        return;
    };
    let elsewhere = temp::dir();
    let victim = elsewhere.path().join("victim");
    temp::write(&victim, "precious\n");
    temp::chmod(&victim, 0o644);
    let link = w.env_file();
    std::fs::create_dir_all(w.config()).unwrap();
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let unchanged = |out: &Outcome| {
        assert_eq!(read(&victim), b"precious\n", "the link was followed\n{out}");
        assert_eq!(mode(&victim), 0o644, "{out}");
        assert_eq!(std::fs::read_link(&link).unwrap(), victim, "{out}");
    };

    // The env step fails naming the path; the link and its target stay as they were.
    let out = w.setup_json().arg("--no-check").run();
    out.assert_code(exit::FAILED);
    assert_eq!(out.json()["ok"], false, "{out}");
    assert_steps(
        &out,
        &[
            ("env", &["failed"]),
            ("act", &["changed"]),
            ("compose", &["changed"]),
            ("actrc", &["changed"]),
        ],
    );
    let summary = step(&out, "env")["summary"].as_str().unwrap();
    assert!(
        summary.contains(&link.display().to_string()) && summary.contains("symbolic link"),
        "{out}"
    );
    unchanged(&out);
    assert!(
        w.receipt()["files"].get("env").is_none(),
        "{:#}",
        w.receipt()
    );

    // Human output names it on stderr; a rerun still refuses.
    let human = w.setup().arg("--no-check").run();
    human
        .assert_code(exit::FAILED)
        .assert_stderr_contains(&link.display().to_string())
        .assert_stderr_contains("symbolic link");
    unchanged(&human);

    // Once the link is gone setup completes; a link planted over the compose file later
    // is refused the same way.
    std::fs::remove_file(&link).unwrap();
    w.fresh_setup();
    std::fs::remove_file(w.compose()).unwrap();
    std::os::unix::fs::symlink(&victim, w.compose()).unwrap();
    let out = w.setup_json().arg("--no-check").run();
    out.assert_code(exit::FAILED);
    assert_eq!(step(&out, "compose")["status"], "failed", "{out}");
    assert!(
        step(&out, "compose")["summary"]
            .as_str()
            .unwrap()
            .contains(&w.compose().display().to_string()),
        "{out}"
    );
    assert_eq!(read(&victim), b"precious\n", "the link was followed\n{out}");
    assert_eq!(std::fs::read_link(w.compose()).unwrap(), victim);
}
