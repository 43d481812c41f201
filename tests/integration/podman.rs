//! actsim against a real Podman: Debian's podman serving the Docker API
//! (`podman system service`, with the containers.conf this machine needs; see
//! support::podman). doctor and setup must say Podman, build their image in Podman under a
//! name Podman finds (`localhost/…`), run containers there, and explain a switch of
//! endpoint back to Docker's socket as such.

use crate::support::SYSTEM_PATH;
use crate::support::fixtures::{require_daemon, socket_gid};
use crate::support::mirror::VERSION;
use crate::support::podman::Podman;
use crate::support::report::{step, summary};
use crate::support::temp::{self, BinDir};
use crate::support::world::World;
use crate::support::{Cmd, Outcome};

fn podman_image() -> String {
    format!("localhost/actsim/act:{VERSION}")
}

#[track_caller]
fn assert_says_podman(out: &Outcome) {
    let daemon = out.check_text("docker.daemon");
    assert!(
        daemon.contains("Podman 4") || daemon.contains("Podman 5"),
        "docker.daemon must name Podman and its version\n{out}"
    );
    assert!(
        !daemon.contains("Docker Engine"),
        "docker.daemon must not call Podman Docker Engine\n{out}"
    );
}

#[test]
fn podman_doctor_names_podman_and_runs_its_containers_and_a_job_there() {
    let Some(podman) = Podman::start() else {
        return;
    };
    let Some(bin) = BinDir::healthy() else {
        return;
    };
    let Some(platform) = podman.busybox_platform_image() else {
        return;
    };
    let config = temp::dir();
    let cmd = Cmd::actsim()
        .args(["doctor", "--deep", "--format", "json", "--timeout", "90"])
        .arg("--bin-dir")
        .arg(bin.path())
        .arg("--config-dir")
        .arg(config.path())
        .args(["--platform-image", &platform])
        .env("DOCKER_HOST", podman.host())
        .env("PATH", format!("{}:{SYSTEM_PATH}", bin.path().display()))
        .timeout(std::time::Duration::from_secs(150));
    let actrc = cmd.home().join(".config/act/actrc");
    temp::write(&actrc, &format!("-P ubuntu-latest={platform}\n"));
    let out = cmd
        .env("XDG_CONFIG_HOME", actrc.parent().unwrap().parent().unwrap())
        .run();
    out.assert_success();
    assert_says_podman(&out);
    assert_eq!(out.status("docker.daemon"), "pass", "{out}");
    for id in ["container.run", "container.socket", "act.run", "act.docker"] {
        assert_eq!(out.status(id), "pass", "{id}\n{out}");
    }
    out.assert_check_mentions("container.run", &podman_image());
    assert!(
        podman.images().contains(&podman_image()),
        "the probe image is built in Podman as {}: {:?}\n{out}",
        podman_image(),
        podman.images()
    );
}

#[test]
fn podman_setup_builds_the_simulator_in_podman_and_compose_v1_runs_it_there() {
    let Some(podman) = Podman::start() else {
        return;
    };
    let Some(platform) = podman.busybox_platform_image() else {
        return;
    };
    let Some(mut w) = World::new()
        .platform_image(&platform)
        .docker_host(podman.host())
        .build()
    else {
        return;
    };
    let out = w.setup_json().run();
    out.assert_success();
    let docker = summary(step(&out, "docker"));
    assert!(
        docker.starts_with("Podman"),
        "the docker step says Podman\n{out}"
    );
    assert!(
        docker.contains("Podman 4") || docker.contains("Podman 5"),
        "{out}"
    );
    assert!(!docker.contains("Engine 4"), "{out}");
    assert_eq!(step(&out, "image")["status"], "changed", "{out}");
    assert!(
        summary(step(&out, "image")).contains(&podman_image()),
        "{out}"
    );
    assert_says_podman(&out);
    for id in ["container.run", "container.socket"] {
        assert_eq!(out.status(id), "pass", "{id}\n{out}");
    }
    assert!(podman.images().contains(&podman_image()), "{out}");
    let compose = std::fs::read_to_string(w.compose()).unwrap();
    assert!(
        compose.contains(&format!("image: \"{}\"", podman_image()))
            || compose.contains(&format!("image: {}", podman_image())),
        "the compose file names the image Podman finds:\n{compose}"
    );
    let env = std::fs::read_to_string(w.env_file()).unwrap();
    assert!(
        env.contains(&podman.socket().display().to_string()),
        "DOCKER_SOCKET is Podman's socket:\n{env}"
    );

    // A rerun changes nothing: the image is found again in Podman.
    let again = w.setup_json().arg("--no-check").run();
    again.assert_success();
    assert_eq!(step(&again, "image")["status"], "ok", "{again}");

    // docker-compose v1 runs the service through Podman.
    let repo = temp::dir();
    let compose_file = w.compose();
    let ran = w
        .run_in(
            repo.path(),
            "docker-compose",
            &[
                "-f",
                compose_file.to_str().unwrap(),
                "run",
                "--rm",
                "actions-simulator",
                "--bug-report",
            ],
        )
        .run();
    ran.assert_success();
    ran.assert_stdout_contains("Docker Engine:");

    // Back on Docker's socket: container.socket names the endpoint change, not a reinstall.
    if !require_daemon() {
        return;
    }
    w.set_docker_host(None);
    let back = w.doctor(60).run();
    assert_eq!(back.status("container.socket"), "fail", "{back}");
    let text = back.check_text("container.socket");
    assert!(text.contains("endpoint changed"), "{back}");
    assert!(
        text.contains(&podman.socket().display().to_string()),
        "{back}"
    );
    assert!(text.contains(&format!("gid {}", socket_gid())), "{back}");
    assert!(!text.contains("reinstalled"), "{back}");
    back.assert_fix_contains("container.socket", "actsim setup");
    back.assert_fix_contains(
        "container.socket",
        &format!("export DOCKER_HOST=unix://{}", podman.socket().display()),
    );
}
