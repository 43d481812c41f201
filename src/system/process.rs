//! The process context: environment variables and terminal facts, captured once.
//!
//! Code reads the environment through [`Process`] instead of `std::env`, so unit tests can
//! build one from a map and exercise resolution logic without touching the real process.
//! What can go wrong: a variable that is not UTF-8 is treated as unset.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::PathBuf;

#[derive(Debug, Clone, Default)]
pub struct Process {
    vars: HashMap<String, String>,
    /// Standard input is a terminal (a prompt can be answered).
    pub stdin_tty: bool,
    /// Standard error is a terminal (colour and progress bars may be used).
    pub stderr_tty: bool,
}

impl Process {
    /// The real process: its environment (non-UTF-8 values are skipped) and terminals.
    pub fn from_os() -> Self {
        Process {
            vars: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            stdin_tty: std::io::stdin().is_terminal(),
            stderr_tty: std::io::stderr().is_terminal(),
        }
    }

    /// A context for tests: exactly these variables, no terminal.
    pub fn with_vars<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Process {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        }
    }

    /// A prompt can be shown and answered: stdin and stderr are both terminals. The one
    /// test of it (prompts are on stderr).
    pub fn can_prompt(&self) -> bool {
        self.stdin_tty && self.stderr_tty
    }

    /// The variable's value, `Some("")` when set but empty.
    pub fn var(&self, key: &str) -> Option<&str> {
        self.vars.get(key).map(String::as_str)
    }

    /// The variable's value when set and not empty.
    /// Every variable, in no particular order.
    pub fn vars(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn var_nonempty(&self, key: &str) -> Option<&str> {
        self.var(key).filter(|v| !v.is_empty())
    }

    pub fn set_var(&mut self, key: &str, value: &str) {
        self.vars.insert(key.to_string(), value.to_string());
    }

    /// This context with `DOCKER_HOST` set to `host` when given (`--docker-host`); the
    /// real environment gets it too, so programs actsim starts (act, compose, its own
    /// final check) reach the same daemon. Call from `main`'s thread before any other
    /// thread starts.
    pub fn with_docker_host(&self, host: Option<&str>) -> Process {
        let mut p = self.clone();
        if let Some(h) = host.filter(|h| !h.is_empty()) {
            p.set_var("DOCKER_HOST", h);
            // SAFETY: called before the async runtime or any other thread exists.
            unsafe { std::env::set_var("DOCKER_HOST", h) };
        }
        p
    }

    /// Directories of `PATH`, in order.
    pub fn path_dirs(&self) -> Vec<PathBuf> {
        self.var("PATH")
            .map(|p| std::env::split_paths(p).collect())
            .unwrap_or_default()
    }

    /// First executable called `name` on `PATH`.
    pub fn which(&self, name: &str) -> Option<PathBuf> {
        self.which_all(name).into_iter().next()
    }

    /// Every executable called `name` on `PATH`, in `PATH` order, without duplicates.
    pub fn which_all(&self, name: &str) -> Vec<PathBuf> {
        let mut found: Vec<PathBuf> = Vec::new();
        for dir in self.path_dirs() {
            let candidate = dir.join(name);
            if is_executable(&candidate) && !found.contains(&candidate) {
                found.push(candidate);
            }
        }
        found
    }
}

/// Two paths name the same file or directory (equal, or equal once links are resolved).
pub fn same_path(a: &std::path::Path, b: &std::path::Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

pub fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// One word for a POSIX shell: as it is when it holds only safe characters, else in single
/// quotes (a `'` inside becomes `'\''`). Every command actsim prints goes through this.
pub fn sh_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'-' | b'_' | b'.' | b'/' | b':' | b'=' | b'@' | b'+' | b',' | b'%'
                )
        });
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// `export PATH=DIR:"$PATH"` with `DIR` quoted for the shell.
pub fn export_path(dir: &std::path::Path) -> String {
    format!(
        "export PATH={}:\"$PATH\"",
        sh_quote(&dir.display().to_string())
    )
}

/// Words joined into one command line for a POSIX shell, each quoted by [`sh_quote`].
pub fn sh_join<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| sh_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(sh_quote("/home/a/.local/bin"), "/home/a/.local/bin");
        assert_eq!(sh_quote("/x y$(id)/act"), "'/x y$(id)/act'");
        assert_eq!(sh_quote("it's"), r"'it'\''s'");
        assert_eq!(sh_quote(""), "''");
        assert_eq!(
            sh_join(&["usermod", "-aG", "docker", "a b"]),
            "usermod -aG docker 'a b'"
        );
    }

    #[test]
    fn empty_and_unset_are_told_apart() {
        let p = Process::with_vars([("DOCKER_HOST", "")]);
        assert_eq!(p.var("DOCKER_HOST"), Some(""));
        assert_eq!(p.var_nonempty("DOCKER_HOST"), None);
        assert_eq!(p.var("NOPE"), None);
    }

    #[test]
    fn which_finds_executables_in_path_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let (a, b) = (dir.join("a"), dir.join("b"));
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        for d in [&a, &b] {
            let f = d.join("tool");
            std::fs::write(&f, "#!/bin/sh\n").unwrap();
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        std::fs::write(a.join("plain"), "").unwrap();
        let path = format!("{}:{}", a.display(), b.display());
        let p = Process::with_vars([("PATH", path.as_str())]);
        assert_eq!(p.which_all("tool"), vec![a.join("tool"), b.join("tool")]);
        assert_eq!(p.which("plain"), None);
    }
}
