//! Build script: names the git commit in `--version` when built from a git checkout.
//!
//! Sets `ACTSIM_VERSION` to `0.1.0 (commit 1a2b3c4d5e6f)` when the crate directory is the
//! top of a git work tree and `git` answers, else to the crate version alone (a release
//! tarball, `cargo install` from crates.io, no git installed). What can go wrong: nothing
//! fails the build; any git error falls back to the crate version.

use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (!text.is_empty()).then_some(text)
}

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ACTSIM_BUILD_COMMIT");
    // Only a checkout of this crate counts, not a git repository that merely contains it.
    let ours = git(&dir, &["rev-parse", "--show-toplevel"])
        .and_then(|top| std::fs::canonicalize(top).ok())
        .zip(std::fs::canonicalize(&dir).ok())
        .is_some_and(|(top, dir)| top == dir);
    let commit = std::env::var("ACTSIM_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            ours.then(|| git(&dir, &["rev-parse", "--short=12", "HEAD"]))
                .flatten()
        });
    if ours {
        // Rebuild when HEAD moves: HEAD itself, the branch it points to, packed refs.
        // A path that does not exist would rerun the script on every build: only real ones.
        let mut watch = Vec::new();
        if let Some(git_dir) = git(&dir, &["rev-parse", "--absolute-git-dir"]) {
            watch.push(PathBuf::from(git_dir).join("HEAD"));
        }
        if let (Some(common), Some(head_ref)) = (
            git(
                &dir,
                &["rev-parse", "--path-format=absolute", "--git-common-dir"],
            ),
            git(&dir, &["symbolic-ref", "-q", "HEAD"]),
        ) {
            watch.push(Path::new(&common).join(head_ref));
            watch.push(Path::new(&common).join("packed-refs"));
        }
        for path in watch.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    let full = match commit {
        Some(c) => format!("{version} (commit {c})"),
        None => version,
    };
    println!("cargo:rustc-env=ACTSIM_VERSION={full}");
}
