//! `actsim run` against hostile repositories and a hostile machine (issue 16, findings 6, 7,
//! 8, 10 and 11): alias bombs under a memory cap, workflow names that steer act's container
//! names, containers of other users created during a run, control sequences in names and
//! output, secrets in a step's output, a daemon whose answer never ends, a planted link in
//! the log directory's parents.

use std::path::Path;
use std::time::Duration;

use crate::support::cmd::Cmd;
use crate::support::temp;

/// Finding 7's bomb: nine levels of nine aliases each (a few hundred bytes, 9^9 nodes).
fn alias_bomb() -> String {
    let mut s = String::from(
        "name: bomb\non: push\na: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    let names = ["a", "b", "c", "d", "e", "f", "g", "h", "i"];
    for w in names.windows(2) {
        s.push_str(&format!(
            "{}: &{} [{}]\n",
            w[1],
            w[1],
            vec![format!("*{}", w[0]); 9].join(",")
        ));
    }
    s + "jobs:\n  j:\n    runs-on: ubuntu-latest\n    steps: [*i]\n"
}

/// `actsim run` under `prlimit --as` (1 GiB of address space: the bomb needs gigabytes).
fn capped_run(repo: &Path, args: &[&str]) -> Cmd {
    Cmd::new("prlimit")
        .arg(format!("--as={}", 1u64 << 30))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_actsim"))
        .arg("run")
        .args(args)
        .current_dir(repo)
        .timeout(Duration::from_secs(60))
}

#[test]
fn run_alias_bomb_ends_quickly_naming_the_file_within_a_memory_cap() {
    let dir = temp::dir();
    let bomb = alias_bomb();
    assert!(bomb.len() < 500, "{}", bomb.len());
    temp::write(&dir.path().join(".github/workflows/bomb.yml"), &bomb);
    let out = capped_run(dir.path(), &["--no-preflight", "--timeout", "20"]).run();
    out.assert_code(1)
        .assert_stderr_contains("bomb.yml")
        .assert_stderr_contains("aliases");
    assert!(out.elapsed < Duration::from_secs(10), "{out}");
}
