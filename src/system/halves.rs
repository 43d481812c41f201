//! The user half: when root acts for another user U, everything about U's side runs in a
//! child that *is* U. [`run_as`] is the one primitive: this binary
//! (`/proc/self/exe __user …`) started with U's groups (the group database), gid and uid
//! (real = effective = saved), in a new session (no terminal of root's), every descriptor
//! but 0/1/2 closed at exec, stdin a pipe (or `/dev/null`), stdout and stderr pipes root
//! reads with a cap, an environment rebuilt from an allow-list ([`user_env`]), and killed
//! with its whole process group at the deadline. The child makes itself not dumpable first
//! thing ([`enter`]), so nothing of root's that it is handed can be read by ptrace.
//!
//! Root treats what comes back as untrusted data: capped here, parsed by the caller into
//! typed answers, shown only through `ui` (which escapes).
//!
//! What can go wrong: the child cannot start (an error naming U), it outlives the deadline
//! (killed; `timed_out`), it prints more than the cap (cut; `truncated`).

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::system::identity::TargetUser;
use crate::system::process::Process;

/// The hidden first argument that starts the user half.
pub const USER_COMMAND: &str = "__user";
/// The PATH the user half and the programs it runs get.
pub const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Set in the user half's environment: this process is the user half (root started it).
pub const USER_HALF_VAR: &str = "ACTSIM_USER_HALF";
/// Largest stdout root keeps (a JSON report, a plan).
pub const MAX_STDOUT: usize = 8 << 20;
/// Largest stderr root keeps (lines to relay).
pub const MAX_STDERR: usize = 256 << 10;

/// What the user half did, as root saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Output {
    /// Exit code; `None` when killed by a signal or at the deadline.
    pub code: Option<i32>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// stdout or stderr was longer than its cap (the rest was dropped).
    pub truncated: bool,
}

impl Output {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }

    /// stderr as text, capped by [`MAX_STDERR`]: untrusted, show it through `ui` only.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }
}

/// The user's identity as the database gives it: uid, gid, groups, home.
#[derive(Debug, Clone)]
pub struct Creds {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gids: Vec<u32>,
    pub home: PathBuf,
}

impl Creds {
    /// From the passwd and group databases, never from anything the user can set.
    pub fn of(user: &TargetUser) -> Result<Creds> {
        let entry = nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(user.uid))
            .ok()
            .flatten()
            .ok_or_else(|| {
                Error::failed(
                    format!("uid {} has no entry in the user database", user.uid),
                    Some("pass an existing login name with --user".into()),
                )
            })?;
        Ok(Creds {
            gids: crate::system::identity::database_gids(&entry.name, entry.gid.as_raw()),
            name: entry.name,
            uid: entry.uid.as_raw(),
            gid: entry.gid.as_raw(),
            home: entry.dir,
        })
    }
}

/// Root's variables the user half may see: language and the log level. Nothing else of
/// root's environment (tokens, proxy credentials, docker config) crosses.
fn passes(name: &str) -> bool {
    name == "LANG"
        || name.starts_with("LC_")
        || matches!(name, "ACTSIM_LOG" | "NO_COLOR" | "CLICOLOR" | "TZ")
}

/// The user half's environment: the user's own identity from the database, a safe PATH,
/// and the few of root's variables [`passes`] allows.
pub fn user_env(c: &Creds, process: &Process) -> Vec<(String, String)> {
    let mut env = vec![
        ("HOME".to_string(), c.home.to_string_lossy().into_owned()),
        ("USER".to_string(), c.name.clone()),
        ("LOGNAME".to_string(), c.name.clone()),
        ("PATH".to_string(), SAFE_PATH.to_string()),
        (USER_HALF_VAR.to_string(), "1".to_string()),
    ];
    env.extend(
        process
            .vars()
            .filter(|(k, _)| passes(k))
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    env
}

/// Run `actsim __user ARGS…` as `user` until `deadline` (see the module doc). `stdin`
/// empty: `/dev/null`.
pub fn run_as(
    user: &TargetUser,
    process: &Process,
    args: &[String],
    stdin: &[u8],
    deadline: Instant,
) -> Result<Output> {
    let c = Creds::of(user)?;
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg(USER_COMMAND).args(args);
    run_cmd(&c, cmd, user_env(&c, process), stdin, deadline)
}

/// Run any program as the user with the user half's isolation (tests, and programs root
/// would otherwise run from a place the user can write).
pub fn run_program_as(
    user: &TargetUser,
    process: &Process,
    argv: &[String],
    stdin: &[u8],
    deadline: Instant,
) -> Result<Output> {
    let c = Creds::of(user)?;
    let (program, rest) = argv
        .split_first()
        .ok_or_else(|| Error::failed("run_program_as: no program", None))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(rest);
    run_cmd(&c, cmd, user_env(&c, process), stdin, deadline)
}

fn run_cmd(
    c: &Creds,
    mut cmd: std::process::Command,
    env: Vec<(String, String)>,
    stdin: &[u8],
    deadline: Instant,
) -> Result<Output> {
    let (uid, gid) = (c.uid, c.gid);
    let gids: Vec<nix::libc::gid_t> = c.gids.clone();
    cmd.env_clear()
        .envs(env)
        .current_dir("/")
        .stdin(if stdin.is_empty() {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            use nix::libc;
            // A session of its own: no controlling terminal, its own process group.
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            // Every descriptor but 0/1/2 closes at exec (std's own error pipe still works).
            if libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setgroups(gids.len(), gids.as_ptr()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // Dropped for good: getting root back must fail.
            if uid != 0 && libc::setuid(0) == 0 {
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
            // After the uid change (which clears it): die with root.
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::prctl(libc::PR_SET_DUMPABLE, 0);
            libc::umask(0o022);
            Ok(())
        });
    }
    let mut child = cmd.spawn().map_err(|e| {
        Error::failed(
            format!("cannot start actsim's user half as {}: {e}", c.name),
            Some("check that the user exists and may run programs".to_string()),
        )
    })?;
    let pid = child.id() as i32;
    let writer = child.stdin.take().map(|mut w| {
        let bytes = stdin.to_vec();
        std::thread::spawn(move || {
            let _ = w.write_all(&bytes);
        })
    });
    let out = capture(child.stdout.take(), MAX_STDOUT);
    let err = capture(child.stderr.take(), MAX_STDERR);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None) => {}
            Err(_) => break None,
        }
        if Instant::now() >= deadline {
            timed_out = true;
            kill_group(pid);
            break child.wait().ok();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    // Whatever it left behind in its group goes with it.
    kill_group(pid);
    drop(writer);
    // A descendant that left the group may hold the pipes: wait no longer than the
    // deadline (plus a moment to collect what was written).
    let until = deadline.max(Instant::now()) + Duration::from_millis(200);
    let (stdout, t1) = collect(out, until);
    let (stderr, t2) = collect(err, until);
    Ok(Output {
        code: status.and_then(|s| s.code()),
        timed_out,
        stdout,
        stderr,
        truncated: t1 || t2,
    })
}

fn kill_group(pid: i32) {
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

type Captured = mpsc::Receiver<(Vec<u8>, bool)>;

/// Read a pipe on a thread, keeping at most `cap` bytes (the rest is read and dropped).
fn capture(pipe: Option<impl Read + Send + 'static>, cap: usize) -> Captured {
    let (tx, rx) = mpsc::channel();
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let (mut kept, mut cut, mut buf) = (Vec::new(), false, [0u8; 16384]);
            loop {
                match pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let room = cap - kept.len();
                        kept.extend_from_slice(&buf[..n.min(room)]);
                        cut |= n > room;
                    }
                }
            }
            let _ = tx.send((kept, cut));
        });
    } else {
        let _ = tx.send((Vec::new(), false));
    }
    rx
}

fn collect(rx: Captured, until: Instant) -> (Vec<u8>, bool) {
    rx.recv_timeout(until.saturating_duration_since(Instant::now()))
        .unwrap_or_default()
}

/// Whether this process is root acting for someone else (the user half must do their side).
pub fn needs_separation(user: &TargetUser) -> bool {
    nix::unistd::Uid::effective().is_root() && user.uid != 0 && !user.is_current
}

/// First thing in `actsim __user …`: not dumpable, never root. Returns the arguments of the
/// command to run (`actsim` + the rest), or an error to print.
pub fn enter(
    args: Vec<std::ffi::OsString>,
) -> std::result::Result<Vec<std::ffi::OsString>, String> {
    // SAFETY: prctl with constant arguments.
    unsafe {
        nix::libc::prctl(nix::libc::PR_SET_DUMPABLE, 0);
    }
    if nix::unistd::Uid::effective().is_root() || nix::unistd::Uid::current().is_root() {
        return Err(format!(
            "{USER_COMMAND} is internal to actsim and never runs as root"
        ));
    }
    let mut out = vec![std::ffi::OsString::from("actsim")];
    out.extend(args.into_iter().skip(2));
    Ok(out)
}

/// This process is the user half (started by [`run_as`]).
pub fn is_user_half(process: &Process) -> bool {
    process.var_nonempty(USER_HALF_VAR).is_some() && !nix::unistd::Uid::effective().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_allow_list_crosses() {
        let process = Process::with_vars([
            ("GITHUB_TOKEN", "ghp_x"),
            ("HTTPS_PROXY", "http://u:p@proxy"),
            ("HOME", "/root"),
            ("DOCKER_CONFIG", "/home/u/.docker"),
            ("LANG", "C.UTF-8"),
            ("LC_ALL", "C"),
        ]);
        let c = Creds {
            name: "u".into(),
            uid: 1000,
            gid: 1000,
            gids: vec![1000],
            home: "/home/u".into(),
        };
        let env = user_env(&c, &process);
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        assert!(!names.contains(&"GITHUB_TOKEN"));
        assert!(!names.contains(&"HTTPS_PROXY"));
        assert!(!names.contains(&"DOCKER_CONFIG"));
        assert!(env.contains(&("HOME".into(), "/home/u".into())));
        assert!(names.contains(&"LANG") && names.contains(&"LC_ALL"));
    }
}
