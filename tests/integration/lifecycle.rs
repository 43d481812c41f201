//! The whole lifecycle (issue 12): `doctor --bundle`, `doctor --fix`, `uninstall`, on real
//! setups (a loopback mirror, the real act, real files). Tests that remove images or
//! volumes run against a private dockerd, so the machine's daemon and other tests keep
//! theirs.

use std::path::Path;
use std::time::Duration;

use crate::support::world::World;
use crate::support::{Cmd, temp};

/// A GitHub token shape the bundle must never contain.
const TOKEN: &str = "ghp_AsimTestToken0123456789abcdefABCDEF";

/// Every regular file under `dir`, with its text.
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let text = String::from_utf8_lossy(&std::fs::read(&p).unwrap()).into_owned();
                out.push((p.strip_prefix(dir).unwrap().display().to_string(), text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn lifecycle_bundle_of_a_machine_with_a_token_in_env_contains_no_token() {
    let Some(w) = World::new() else { return };
    w.fresh_setup();
    // The user puts a token into .env and an act secret into the actrc, and has it in the
    // environment too.
    let mut env = std::fs::read_to_string(w.env_file()).unwrap();
    env.push_str(&format!("GITHUB_TOKEN={TOKEN}\nMY_API_KEY=k-{TOKEN}\n"));
    std::fs::write(w.env_file(), env).unwrap();
    let mut actrc = std::fs::read_to_string(w.actrc()).unwrap();
    actrc.push_str(&format!("-s GITHUB_TOKEN={TOKEN}\n"));
    std::fs::write(w.actrc(), actrc).unwrap();

    let out_dir = temp::dir();
    let bundle = out_dir.path().join("report.tar.gz");
    let out = w
        .doctor(60)
        .arg("--bundle")
        .arg(&bundle)
        .env("GITHUB_TOKEN", TOKEN)
        .env("AWS_SECRET_ACCESS_KEY", TOKEN)
        .run();
    assert!(matches!(out.code, Some(0 | 1)), "{out}");
    assert!(
        !out.stdout.contains(TOKEN) && !out.stderr.contains(TOKEN),
        "{out}"
    );
    assert_eq!(out.json()["schema"], 1, "{out}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&bundle).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the bundle holds configuration: mode 0600");

    // Unpack it with the real tar and look at every file.
    let unpacked = temp::dir();
    Cmd::new("tar")
        .arg("-xzf")
        .arg(&bundle)
        .arg("-C")
        .arg(unpacked.path())
        .run()
        .assert_success();
    let files = files_under(unpacked.path());
    let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "actsim-bundle/MANIFEST.txt",
        "actsim-bundle/doctor.json",
        "actsim-bundle/versions.txt",
        "actsim-bundle/endpoint.txt",
        "actsim-bundle/environment.txt",
        "actsim-bundle/receipt.json",
        "actsim-bundle/actrc",
        "actsim-bundle/docker-compose.yml",
        "actsim-bundle/env",
        "actsim-bundle/act-bug-report.txt",
    ] {
        assert!(names.contains(&expected), "{expected} missing: {names:?}");
    }
    for (name, text) in &files {
        assert!(!text.contains(TOKEN), "{name} contains the token:\n{text}");
        assert!(
            !text.contains("AsimTestToken"),
            "{name} contains part of the token"
        );
    }
    let get = |n: &str| &files.iter().find(|(f, _)| f.ends_with(n)).unwrap().1;
    assert!(get("/env").contains("GITHUB_TOKEN=***"), "{}", get("/env"));
    assert!(get("/env").contains("MY_API_KEY=***"), "{}", get("/env"));
    assert!(get("/env").contains("DOCKER_GID="), "{}", get("/env"));
    assert!(
        get("/actrc").contains("-s GITHUB_TOKEN=***"),
        "{}",
        get("/actrc")
    );
    assert!(get("/actrc").contains(&format!("-P ubuntu-latest={}", w.image)));
    assert!(
        get("environment.txt").contains("GITHUB_TOKEN set (value withheld)"),
        "{}",
        get("environment.txt")
    );
    assert!(!get("environment.txt").contains("AWS_SECRET"));
    let versions = get("versions.txt");
    for needle in [
        "actsim 0.1.0",
        "act: pass: act 0.2.89",
        "docker engine:",
        "kernel:",
        "OS:",
    ] {
        assert!(versions.contains(needle), "{needle}: {versions}");
    }
    assert!(
        get("act-bug-report.txt").contains("act version:"),
        "{}",
        get("act-bug-report.txt")
    );
    let doctor: serde_json::Value = serde_json::from_str(get("doctor.json")).unwrap();
    assert_eq!(doctor["schema"], 1);
    let receipt: serde_json::Value = serde_json::from_str(get("receipt.json")).unwrap();
    assert_eq!(receipt["act"]["version"], "0.2.89");
    assert!(get("MANIFEST.txt").contains("last-run.log: no actsim run log"));
    // act --bug-report ran with a scratch HOME: nothing new in the user's home.
    assert!(!w.home().join(".cache/act").exists());
}

#[test]
fn lifecycle_bundle_to_an_unwritable_place_fails_naming_it() {
    let Some(w) = World::new() else { return };
    let out = w
        .doctor(30)
        .args(["--bundle", "/proc/actsim-no/report.tar.gz"])
        .timeout(Duration::from_secs(120))
        .run();
    out.assert_code(1).assert_stderr_contains("/proc/actsim-no");
}
