//! `actsim completions`, `actsim man` and `--version`: what a shell, man and a bug report
//! get from the real binary.

use crate::support::Cmd;
use crate::support::exit;
use crate::support::fixtures::repo_root;

#[test]
fn completions_load_in_bash() {
    let exe = env!("CARGO_BIN_EXE_actsim");
    let script = format!("source <('{exe}' completions bash) && complete -p actsim");
    let out = Cmd::new("bash").args(["-c", &script]).run();
    out.assert_success();
    assert!(
        out.stdout.contains("-F _actsim actsim"),
        "bash did not register the completion function\n{out}"
    );
    // The script completes the subcommands, the new ones included.
    let words = format!(
        "source <('{exe}' completions bash); COMP_WORDS=(actsim ''); COMP_CWORD=1; _actsim actsim '' actsim; printf '%s\\n' \"${{COMPREPLY[@]}}\""
    );
    let out = Cmd::new("bash").args(["-c", &words]).run();
    out.assert_success();
    for sub in ["setup", "doctor", "uninstall", "completions", "man"] {
        assert!(
            out.stdout.lines().any(|l| l == sub),
            "{sub} is not completed\n{out}"
        );
    }
}

#[test]
fn completions_for_zsh_and_fish_name_every_command() {
    for shell in ["zsh", "fish"] {
        let out = Cmd::actsim().args(["completions", shell]).run();
        out.assert_success();
        for sub in ["setup", "doctor", "uninstall", "completions", "man"] {
            assert!(out.stdout.contains(sub), "{shell}: {sub} missing\n{out}");
        }
    }
    Cmd::actsim()
        .args(["completions", "tcsh"])
        .run()
        .assert_code(exit::USAGE)
        .assert_stderr_contains("bash");
}

#[test]
fn man_page_renders_and_dir_gets_one_page_per_command() {
    let out = Cmd::actsim().arg("man").run();
    out.assert_success();
    assert!(out.stdout.contains(".TH actsim 1"), "{out}");
    // man itself renders it, naming the subcommands.
    let rendered = Cmd::new("man")
        .args(["-l", "-"])
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100")
        .stdin_bytes(out.stdout.clone())
        .run();
    rendered.assert_success();
    for sub in ["setup", "doctor", "completions"] {
        assert!(rendered.stdout.contains(sub), "{sub}\n{rendered}");
    }
    let dir = crate::support::temp::dir();
    Cmd::actsim()
        .args(["man", "--dir"])
        .arg(dir.path())
        .run()
        .assert_success();
    for page in [
        "actsim.1",
        "actsim-setup.1",
        "actsim-doctor.1",
        "actsim-completions.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page))
            .unwrap_or_else(|e| panic!("{page}: {e}"));
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
}

/// Built from a git checkout, `--version` names its commit; otherwise only the version.
#[test]
fn version_names_the_commit() {
    let out = Cmd::actsim().arg("--version").run();
    out.assert_success();
    let line = out.stdout.trim();
    let crate_version = env!("CARGO_PKG_VERSION");
    assert!(
        line.starts_with(&format!("actsim {crate_version}")),
        "{out}"
    );
    let root = repo_root();
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&root)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match git(&["rev-parse", "HEAD"]) {
        Some(head) if git(&["rev-parse", "--show-toplevel"]).is_some() => {
            let short = &head[..12];
            assert_eq!(
                line,
                format!("actsim {crate_version} (commit {short})"),
                "{out}"
            );
        }
        _ => assert_eq!(line, format!("actsim {crate_version}"), "{out}"),
    }
}
