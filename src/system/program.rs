//! Small helpers the checks share: running a program under a deadline (never inheriting a
//! terminal, so nothing can stop at a prompt), hashing a file, parsing versions.
//!
//! What can go wrong: a program that cannot start, fails while being waited for, or
//! outlives the deadline (killed, and reported as such): a [`ProgramError`]; an unreadable
//! file: a [`ReadError`]. Both display as one line naming the program or file.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::time::Instant;

/// What a finished program printed.
#[derive(Debug, Clone)]
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// stdout and stderr together, trimmed.
    pub fn output(&self) -> String {
        format!("{}\n{}", self.stdout.trim(), self.stderr.trim())
            .trim()
            .to_string()
    }
}

/// Why a program gave no [`Ran`].
#[derive(Debug, thiserror::Error)]
pub enum ProgramError {
    /// It could not be started (no such file, not executable).
    #[error("cannot run {}: {source}", .program.display())]
    NotStarted {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Waiting for it failed.
    #[error("running {}: {source}", .program.display())]
    Failed {
        program: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// It was still running at the deadline, and was killed.
    #[error("{} {args} did not finish before the deadline", .program.display())]
    Deadline { program: PathBuf, args: String },
}

/// A file that could not be read (to hash it).
#[derive(Debug, thiserror::Error)]
#[error("reading {}: {source}", .path.display())]
pub struct ReadError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The message, for callers that keep errors as text.
impl From<ProgramError> for String {
    fn from(e: ProgramError) -> String {
        e.to_string()
    }
}

impl From<ReadError> for String {
    fn from(e: ReadError) -> String {
        e.to_string()
    }
}

/// As root, a program root starts takes root's docker config and plugins from root's own
/// home (the user database), never from a `$HOME` or `$DOCKER_CONFIG` someone else could
/// have handed over (`sudo -E`).
pub fn root_is_root(cmd: &mut std::process::Command) {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    if let Some(home) = crate::system::identity::database_home() {
        cmd.env("HOME", home);
    }
    if let Some(cfg) = std::env::var_os("DOCKER_CONFIG")
        && !crate::system::identity::root_only_dir(Path::new(&cfg))
    {
        cmd.env_remove("DOCKER_CONFIG");
    }
}

/// Run `program args` with stdin closed, killed when `deadline` passes.
pub async fn run_program(
    program: &Path,
    args: &[&str],
    envs: &[(&str, &str)],
    cwd: Option<&Path>,
    deadline: Instant,
) -> Result<Ran, ProgramError> {
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    root_is_root(cmd.as_std_mut());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let child = cmd.spawn().map_err(|source| ProgramError::NotStarted {
        program: program.to_path_buf(),
        source,
    })?;
    match tokio::time::timeout_at(deadline, child.wait_with_output()).await {
        Ok(Ok(out)) => Ok(Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }),
        Ok(Err(source)) => Err(ProgramError::Failed {
            program: program.to_path_buf(),
            source,
        }),
        Err(_) => Err(ProgramError::Deadline {
            program: program.to_path_buf(),
            args: args.join(" "),
        }),
    }
}

/// SHA-256 of a file, hex ([`crate::system::files::sha256_file`]), computed off the async threads.
pub async fn sha256_file(path: &Path) -> Result<String, ReadError> {
    let owned = path.to_path_buf();
    blocking_read(path, move || crate::system::files::sha256_file(&owned)).await
}

/// Run the read `f` of `path` off the async threads.
pub async fn blocking_read<T: Send + 'static>(
    path: &Path,
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ReadError> {
    let read = tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e.to_string())));
    read.map_err(|source| ReadError {
        path: path.to_path_buf(),
        source,
    })
}

/// `"1.41"` -> `(1, 41)`.
pub fn parse_api(v: &str) -> Option<(u32, u32)> {
    let (a, b) = v.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// The first token that looks like a version (`0.2.89`, `v2.24.1`, `28.2.2,`).
pub fn first_version(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == ',')
        .map(|t| t.trim_start_matches('v'))
        .find(|t| {
            t.split('.').count() >= 2
                && t.split('.').all(|p| !p.is_empty())
                && t.chars().next().is_some_and(|c| c.is_ascii_digit())
        })
        .map(str::to_string)
}

/// Time left until `deadline`, at least zero.
pub fn left(deadline: Instant) -> Duration {
    deadline.saturating_duration_since(Instant::now())
}

/// Whether systemd manages services here (for "start the daemon" fixes).
pub fn has_systemd() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_found_in_tool_output() {
        assert_eq!(
            first_version("Docker version 28.2.2, build e6534b4").as_deref(),
            Some("28.2.2")
        );
        assert_eq!(
            first_version("act version 0.2.89").as_deref(),
            Some("0.2.89")
        );
        assert_eq!(
            first_version("Docker Compose version v2.24.1").as_deref(),
            Some("2.24.1")
        );
        assert_eq!(
            first_version("docker-compose version 1.29.2, build unknown").as_deref(),
            Some("1.29.2")
        );
        assert_eq!(first_version("no version here"), None);
    }

    #[test]
    fn api_versions_compare_numerically() {
        assert!(parse_api("1.9").unwrap() < parse_api("1.41").unwrap());
        assert_eq!(parse_api("1.44"), Some((1, 44)));
        assert_eq!(parse_api("x"), None);
    }

    #[tokio::test]
    async fn a_program_that_outlives_the_deadline_is_killed() {
        let start = Instant::now();
        let r = run_program(
            Path::new("/bin/sleep"),
            &["5"],
            &[],
            None,
            Instant::now() + Duration::from_millis(200),
        )
        .await;
        let e = r.unwrap_err();
        assert!(matches!(e, ProgramError::Deadline { .. }), "{e}");
        assert!(
            e.to_string()
                .ends_with("/bin/sleep 5 did not finish before the deadline")
        );
        assert!(start.elapsed() < Duration::from_secs(2));
    }
}
