//! Privilege separation: when actsim runs as root on behalf of another user, every read and
//! write under a path that user can modify happens in a process running as that user.
//!
//! [`Fs`] is the one door to the file system for setup. It classifies each path
//! ([`Side`]): `Local` when there is nobody to separate from (actsim runs as the target
//! user, or root for root), `User` when the target user could change the path (a
//! component they own or can write, or a link they own), `Root` otherwise. `User` paths are
//! served by the *agent*: this same binary re-executed (`/proc/self/exe __agent`) with the
//! user's uid, gid and groups, talking over a `SOCK_SEQPACKET` socket pair. The agent
//! opens files as the user and hands back descriptors (`SCM_RIGHTS`), so a planted link, a
//! FIFO or a race reaches only what the user could reach alone; root reads from those
//! descriptors with a cap, after `fstat` says they are regular files. `Root` paths are
//! written by root itself with [`Walk::Strict`]: no link followed on any component, every
//! directory root-owned and not writable by others. Nothing is ever chowned by path: files
//! the agent creates are the user's by construction.
//!
//! Root never executes a file the user can write: such a program (their `act`) runs in the
//! agent, as the user. Doctor needs no agent: `doctor --user U` as root runs entirely in
//! the user half ([`crate::system::halves`]). The agent is isolated like the user half (its
//! own session, no inherited descriptor but its socket, no stderr of root's, not
//! dumpable); it remains only for setup's file steps until those run in the user half.
//!
//! What can go wrong: the agent cannot start (exit 1 naming the reason), it does not answer
//! within the deadline (killed; exit 1), or it answers nonsense (the user can ptrace their
//! own agent, so every reply is checked like any untrusted input: an error, never a wider
//! privilege).

use std::ffi::OsStr;
use std::io::{IoSlice, IoSliceMut, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nix::sys::socket::{
    ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg, sendmsg,
};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::system::files::{self, Walk};
use crate::system::identity::TargetUser;

/// The file descriptor the agent finds its socket on.
const AGENT_FD: RawFd = 3;
/// The hidden subcommand that runs the agent.
pub const AGENT_COMMAND: &str = "__agent";
/// Largest message either side sends (replies carry at most two capped outputs).
const MAX_MESSAGE: usize = 256 * 1024;
/// Output of a program run by the agent, kept per stream.
const MAX_OUTPUT: usize = 32 * 1024;
/// How long one file operation of the agent may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// The PATH the agent and the programs it runs get.
pub const SAFE_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Who does the I/O for a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// No separation needed: this process is the target user (or root for root).
    Local,
    /// The target user could change the path: the agent does it, as them.
    User,
    /// Root-owned all the way: root does it, following no link.
    Root,
}

impl Side {
    fn walk(self) -> Walk {
        match self {
            Side::Root => Walk::Strict,
            Side::Local | Side::User => Walk::Lenient,
        }
    }
}

/// Metadata of a path, not following a link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meta {
    pub kind: Kind,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub size: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    File,
    Dir,
    Link,
    Other,
}

/// A program's outcome, as run by [`Fs::run`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ran {
    /// Exit code; `None` when killed by a signal or at the deadline.
    pub code: Option<i32>,
    pub timed_out: bool,
    /// Why it could not start at all.
    pub spawn_error: Option<String>,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

/// One operation. A descriptor travels beside the message where noted.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Request {
    /// Open a regular file of at most `cap` bytes for reading: reply `Fd` (+ fd) or `Absent`.
    Open { path: PathBuf, cap: u64 },
    /// `lstat`: reply `Meta` or `Absent`.
    Stat { path: PathBuf },
    /// Write the bytes of the attached fd (at most `MAX_WRITE`) atomically.
    Write { path: PathBuf, mode: u32 },
    /// `mkdir -p`.
    Mkdir { path: PathBuf },
    /// Create `dir/name` exclusively (dir created when missing): reply `Staged` (+ fd).
    Stage { dir: PathBuf, name: String },
    /// Rename `from` to `to` in `dir`.
    Rename {
        dir: PathBuf,
        from: String,
        to: String,
    },
    /// Remove a file (never a directory): reply `Removed`.
    Remove { path: PathBuf },
    /// Remove an empty directory.
    Rmdir { path: PathBuf },
    /// Regular files in `dir` named `prefix…suffix`: reply `Names`.
    List {
        dir: PathBuf,
        prefix: String,
        suffix: String,
    },
    /// Open (create) a lock file: reply `Fd` (+ fd).
    Lock { path: PathBuf },
    /// Run a program with exactly `env`, stdin closed: reply `Ran`.
    Run {
        argv: Vec<String>,
        env: Vec<(String, String)>,
        timeout_ms: u64,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
enum Reply {
    Done,
    Absent,
    Fd,
    Staged {
        created_dir: Option<PathBuf>,
    },
    Meta(Meta),
    Removed {
        removed: bool,
    },
    Names {
        names: Vec<String>,
    },
    Ran(Ran),
    Error {
        message: String,
        hint: Option<String>,
    },
}

/// The largest file written through [`Fs::write_atomic`].
const MAX_WRITE: u64 = 4 << 20;

impl Reply {
    fn from_error(e: Error) -> Reply {
        Reply::Error {
            message: e.to_string(),
            hint: e.hint(),
        }
    }
}

/// Do one operation here, with this process's credentials and `walk`'s rules.
fn serve(req: Request, attached: Option<OwnedFd>, walk: Walk) -> (Reply, Option<OwnedFd>) {
    match serve_inner(req, attached, walk) {
        Ok(r) => r,
        Err(e) => (Reply::from_error(e), None),
    }
}

fn serve_inner(
    req: Request,
    attached: Option<OwnedFd>,
    walk: Walk,
) -> Result<(Reply, Option<OwnedFd>)> {
    Ok(match req {
        Request::Open { path, cap } => match files::open_regular(&path, cap)? {
            None => (Reply::Absent, None),
            Some(f) => (Reply::Fd, Some(f.into())),
        },
        Request::Stat { path } => match std::fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (Reply::Absent, None),
            Err(e) => return Err(Error::io(&path, e)),
            Ok(m) => (Reply::Meta(meta_of(&m)), None),
        },
        Request::Write { path, mode } => {
            let fd = attached.ok_or_else(|| Error::failed("write: no content attached", None))?;
            let file = std::fs::File::from(fd);
            files::check_regular(&file, &path, MAX_WRITE)?;
            use std::io::Seek;
            let mut file = file;
            let _ = file.rewind();
            let bytes = files::read_capped(file, &path, MAX_WRITE)?;
            files::write_atomic(&path, &bytes, mode, walk)?;
            (Reply::Done, None)
        }
        Request::Mkdir { path } => {
            files::create_dir_all(&path, walk)?;
            (Reply::Done, None)
        }
        Request::Stage { dir, name } => {
            let existed = dir.is_dir();
            let opened = files::OpenDir::open(&dir, walk)?;
            let shown = dir.join(&name);
            let file = files::create_new_in(&opened.fd, OsStr::new(&name), &shown)?;
            (
                Reply::Staged {
                    created_dir: (!existed).then_some(dir),
                },
                Some(file.into()),
            )
        }
        Request::Rename { dir, from, to } => {
            files::rename_in(&dir, OsStr::new(&from), OsStr::new(&to), walk)?;
            (Reply::Done, None)
        }
        Request::Remove { path } => {
            let removed = files::remove_file(&path, walk)?;
            (Reply::Removed { removed }, None)
        }
        Request::Rmdir { path } => {
            files::remove_empty_dir(&path, walk)?;
            (Reply::Done, None)
        }
        Request::List {
            dir,
            prefix,
            suffix,
        } => {
            let names = files::list_regular(&dir, |n| {
                n.len() > prefix.len() + suffix.len()
                    && n.starts_with(&prefix)
                    && n.ends_with(&suffix)
            })?;
            (Reply::Names { names }, None)
        }
        Request::Lock { path } => {
            let f = files::open_lock_file(&path, walk)?;
            (Reply::Fd, Some(f.into()))
        }
        Request::Run {
            argv,
            env,
            timeout_ms,
        } => (
            Reply::Ran(run_here(&argv, &env, Duration::from_millis(timeout_ms))),
            None,
        ),
    })
}

fn meta_of(m: &std::fs::Metadata) -> Meta {
    let t = m.file_type();
    Meta {
        kind: if t.is_symlink() {
            Kind::Link
        } else if t.is_dir() {
            Kind::Dir
        } else if t.is_file() {
            Kind::File
        } else {
            Kind::Other
        },
        uid: m.uid(),
        gid: m.gid(),
        mode: m.mode(),
        size: m.size(),
    }
}

/// Run `argv` with exactly `env`, stdin closed, output capped, killed at the deadline.
fn run_here(argv: &[String], env: &[(String, String)], timeout: Duration) -> Ran {
    let Some((program, args)) = argv.split_first() else {
        return Ran {
            spawn_error: Some("nothing to run".into()),
            ..Ran::default()
        };
    };
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0);
    // SAFETY: one async-signal-safe system call between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            // The agent's socket (fd 3, no close-on-exec) never reaches the user's program.
            crate::system::halves::close_from_3_at_exec()
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ran {
                spawn_error: Some(format!("cannot run {program}: {e}")),
                ..Ran::default()
            };
        }
    };
    let out = child.stdout.take().map(capture);
    let err = child.stderr.take().map(capture);
    let start = std::time::Instant::now();
    let (code, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status.code(), false),
            Ok(None) if start.elapsed() < timeout => std::thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                let _ = child.wait();
                break (None, true);
            }
        }
    };
    let take = |h: Option<std::thread::JoinHandle<Vec<u8>>>| {
        h.and_then(|h| h.join().ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    };
    Ran {
        code,
        timed_out,
        spawn_error: None,
        stdout: take(out),
        stderr: take(err),
    }
}

/// Read a stream to its end in a thread, keeping the first [`MAX_OUTPUT`] bytes.
fn capture(mut r: impl std::io::Read + Send + 'static) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = r.read(&mut buf) {
            if n == 0 {
                break;
            }
            let room = MAX_OUTPUT.saturating_sub(kept.len());
            kept.extend_from_slice(&buf[..n.min(room)]);
        }
        kept
    })
}

/// The user the agent runs as, and what root needs to classify paths for them.
#[derive(Debug, Clone)]
struct Creds {
    uid: u32,
    gid: u32,
    gids: Vec<u32>,
    home: PathBuf,
    name: String,
}

struct Agent {
    sock: OwnedFd,
    child: std::process::Child,
}

impl Drop for Agent {
    fn drop(&mut self) {
        // Closing the socket ends the agent; do not wait for ever.
        let _ = nix::sys::socket::shutdown(self.sock.as_raw_fd(), nix::sys::socket::Shutdown::Both);
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The file system as setup sees it; cheap to clone.
#[derive(Clone)]
pub struct Fs {
    inner: Arc<FsInner>,
}

struct FsInner {
    creds: Option<Creds>,
    agent: Mutex<Option<Agent>>,
}

impl std::fmt::Debug for Fs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.inner.creds {
            None => write!(f, "Fs(local)"),
            Some(c) => write!(f, "Fs(separated for {} uid {})", c.name, c.uid),
        }
    }
}

/// Whether this process, acting for `user`, must separate: it is root and they are not
/// (the one rule: [`super::halves::needs_separation`]).
pub fn needs_separation(user: &TargetUser) -> bool {
    super::halves::needs_separation(user)
}

impl Fs {
    /// No separation: every operation here, as this process.
    pub fn local() -> Fs {
        Fs {
            inner: Arc::new(FsInner {
                creds: None,
                agent: Mutex::new(None),
            }),
        }
    }

    /// For `user`: separated (an agent is started on first use) when root acts for another
    /// user, else local.
    pub fn for_user(user: &TargetUser) -> Fs {
        if !needs_separation(user) {
            return Fs::local();
        }
        Fs {
            inner: Arc::new(FsInner {
                creds: Some(Creds {
                    uid: user.uid,
                    gid: user.gid,
                    gids: user.database_gids(),
                    home: user.home.clone(),
                    name: user.name.clone(),
                }),
                agent: Mutex::new(None),
            }),
        }
    }

    pub fn is_separated(&self) -> bool {
        self.inner.creds.is_some()
    }

    /// Who does the I/O for `path` (see [`Side`]).
    pub fn side(&self, path: &Path) -> Side {
        match &self.inner.creds {
            None => Side::Local,
            Some(c) if user_can_modify(c, path) => Side::User,
            Some(_) => Side::Root,
        }
    }

    /// Who may execute `path`: root only a root-owned file nobody else can write, in a
    /// root-owned tree; anything else runs as the user.
    pub fn exec_side(&self, path: &Path) -> Side {
        match self.side(path) {
            Side::Root => match std::fs::symlink_metadata(path) {
                Ok(m) if m.is_file() && m.uid() == 0 && m.mode() & 0o022 == 0 => Side::Root,
                _ => Side::User,
            },
            other => other,
        }
    }

    fn call(
        &self,
        side: Side,
        req: Request,
        attached: Option<OwnedFd>,
        timeout: Duration,
    ) -> Result<(Reply, Option<OwnedFd>)> {
        let (reply, fd) = match side {
            Side::Local | Side::Root => serve(req, attached, side.walk()),
            Side::User => self.remote(req, attached, timeout)?,
        };
        match reply {
            Reply::Error { message, hint } => Err(Error::Failed { message, hint }),
            r => Ok((r, fd)),
        }
    }

    fn remote(
        &self,
        req: Request,
        attached: Option<OwnedFd>,
        timeout: Duration,
    ) -> Result<(Reply, Option<OwnedFd>)> {
        let creds = self.inner.creds.as_ref().expect("separated");
        let mut guard = self
            .inner
            .agent
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if guard.is_none() {
            *guard = Some(spawn_agent(creds)?);
        }
        let agent = guard.as_mut().expect("started");
        let result = exchange(&agent.sock, &req, attached.as_ref(), timeout);
        if result.is_err() {
            // A broken or stuck agent is not reused.
            *guard = None;
        }
        result.map_err(|why| {
            Error::failed(
                format!("the helper process running as {} failed: {why}", creds.name),
                Some("run actsim setup again; if it persists, run it as that user".to_string()),
            )
        })
    }

    /// The bytes of a regular file of at most `cap` bytes, `None` when absent.
    pub fn read(&self, path: &Path, cap: u64) -> Result<Option<Vec<u8>>> {
        match self.open(path, cap)? {
            None => Ok(None),
            Some(f) => files::read_capped(f, path, cap).map(Some),
        }
    }

    /// A regular file of at most `cap` bytes, open for reading; `None` when absent.
    pub fn open(&self, path: &Path, cap: u64) -> Result<Option<std::fs::File>> {
        let side = self.side(path);
        let (reply, fd) = self.call(
            side,
            Request::Open {
                path: path.to_path_buf(),
                cap,
            },
            None,
            CALL_TIMEOUT,
        )?;
        match (reply, fd) {
            (Reply::Absent, _) => Ok(None),
            (Reply::Fd, Some(fd)) => {
                let file = std::fs::File::from(fd);
                // The agent is the user's: check what it handed over.
                files::check_regular(&file, path, cap)?;
                Ok(Some(file))
            }
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// `lstat`, `None` when absent.
    pub fn stat(&self, path: &Path) -> Result<Option<Meta>> {
        let side = self.side(path);
        match self.call(
            side,
            Request::Stat {
                path: path.to_path_buf(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Absent, _) => Ok(None),
            (Reply::Meta(m), _) => Ok(Some(m)),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Write `bytes` atomically (see [`files::write_atomic`]), by whoever `path` belongs to.
    pub fn write_atomic(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
        let side = self.side(path);
        if side != Side::User {
            return files::write_atomic(path, bytes, mode, side.walk());
        }
        let content = memfd_with(bytes)?;
        match self.call(
            side,
            Request::Write {
                path: path.to_path_buf(),
                mode,
            },
            Some(content),
            CALL_TIMEOUT,
        )? {
            (Reply::Done, _) => Ok(()),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Write `<path>.actsim-new`; returns it.
    pub fn write_beside(&self, path: &Path, bytes: &[u8], mode: u32) -> Result<PathBuf> {
        let beside = files::beside_path(path);
        self.write_atomic(&beside, bytes, mode)?;
        Ok(beside)
    }

    /// Copy a regular file of at most `cap` bytes: read by whoever owns `from`, written by
    /// whoever owns `to`.
    pub fn copy(&self, from: &Path, to: &Path, mode: u32, cap: u64) -> Result<()> {
        let Some(source) = self.open(from, cap)? else {
            return Err(Error::failed(
                format!("cannot copy {}: it is gone", from.display()),
                None,
            ));
        };
        let side = self.side(to);
        if side != Side::User {
            let bytes = files::read_capped(source, from, cap)?;
            return files::write_atomic(to, &bytes, mode, side.walk());
        }
        match self.call(
            side,
            Request::Write {
                path: to.to_path_buf(),
                mode,
            },
            Some(source.into()),
            CALL_TIMEOUT,
        )? {
            (Reply::Done, _) => Ok(()),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Make sure `dir` exists as a directory of the user's (their config dir given as a
    /// path under a root-owned directory): when it is missing there, root creates it and
    /// hands it to them on its descriptor ([`files::create_dir_for`]); then everything in
    /// it is done as the user. Elsewhere this is `mkdir -p` by whoever owns the path.
    pub fn ensure_user_dir(&self, dir: &Path) -> Result<()> {
        if let Some(c) = &self.inner.creds
            && self.side(dir) == Side::Root
            && std::fs::symlink_metadata(dir).is_err()
        {
            return files::create_dir_for(dir, c.uid, c.gid);
        }
        self.create_dir_all(dir)
    }

    /// `mkdir -p`.
    pub fn create_dir_all(&self, path: &Path) -> Result<()> {
        let side = self.side(path);
        match self.call(
            side,
            Request::Mkdir {
                path: path.to_path_buf(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Done, _) => Ok(()),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Create `dir/name` exclusively for writing (mode 0600); also says whether `dir` was
    /// created for it.
    pub fn stage(&self, dir: &Path, name: &str) -> Result<(std::fs::File, Option<PathBuf>)> {
        let side = self.side(&dir.join(name));
        match self.call(
            side,
            Request::Stage {
                dir: dir.to_path_buf(),
                name: name.to_string(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Staged { created_dir }, Some(fd)) => {
                let file = std::fs::File::from(fd);
                files::check_regular(&file, &dir.join(name), u64::MAX)?;
                Ok((file, created_dir.filter(|d| d == dir)))
            }
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Rename `from` to `to` inside `dir`.
    pub fn rename(&self, dir: &Path, from: &str, to: &str) -> Result<()> {
        let side = self.side(&dir.join(to));
        match self.call(
            side,
            Request::Rename {
                dir: dir.to_path_buf(),
                from: from.to_string(),
                to: to.to_string(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Done, _) => Ok(()),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Remove a file (a link itself, never a directory); whether there was one.
    pub fn remove(&self, path: &Path) -> Result<bool> {
        let side = self.side(path);
        match self.call(
            side,
            Request::Remove {
                path: path.to_path_buf(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Removed { removed }, _) => Ok(removed),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Remove the directory `path` when it is empty.
    pub fn remove_empty_dir(&self, path: &Path) -> Result<()> {
        let side = self.side(path);
        match self.call(
            side,
            Request::Rmdir {
                path: path.to_path_buf(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Done, _) => Ok(()),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Names of the regular files in `dir` called `prefix…suffix`.
    pub fn list(&self, dir: &Path, prefix: &str, suffix: &str) -> Result<Vec<String>> {
        let side = self.side(dir);
        match self.call(
            side,
            Request::List {
                dir: dir.to_path_buf(),
                prefix: prefix.to_string(),
                suffix: suffix.to_string(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Names { names }, _) => Ok(names
                .into_iter()
                .filter(|n| n.starts_with(prefix) && n.ends_with(suffix) && !n.contains('/'))
                .collect()),
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// The lock file at `path`, opened (created) by whoever owns its directory, without
    /// following a link and without truncating it.
    pub fn open_lock(&self, path: &Path) -> Result<std::fs::File> {
        let side = self.side(path);
        match self.call(
            side,
            Request::Lock {
                path: path.to_path_buf(),
            },
            None,
            CALL_TIMEOUT,
        )? {
            (Reply::Fd, Some(fd)) => {
                let file = std::fs::File::from(fd);
                files::check_regular(&file, path, files::MAX_READ)?;
                Ok(file)
            }
            (r, _) => Err(unexpected(&r)),
        }
    }

    /// Run `program` with `args`: as the user when [`Fs::exec_side`] says so, else here.
    /// The environment is exactly `env`, plus a system `PATH` when it has none; as the
    /// user, `HOME`, `USER` and `LOGNAME` are theirs.
    pub fn run(
        &self,
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        timeout: Duration,
    ) -> Result<Ran> {
        let side = self.exec_side(program);
        let mut argv = vec![program.to_string_lossy().into_owned()];
        argv.extend(args.iter().map(|a| a.to_string()));
        let mut full: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let has = |full: &[(String, String)], k: &str| full.iter().any(|(key, _)| key == k);
        if side == Side::User
            && let Some(c) = &self.inner.creds
        {
            // As the user, with the user's own identity, whatever the caller passed.
            full.retain(|(k, _)| !matches!(k.as_str(), "HOME" | "USER" | "LOGNAME"));
            full.push(("HOME".into(), c.home.to_string_lossy().into_owned()));
            full.push(("USER".into(), c.name.clone()));
            full.push(("LOGNAME".into(), c.name.clone()));
        }
        if !has(&full, "PATH") {
            full.push(("PATH".into(), SAFE_PATH.into()));
        }
        let req = Request::Run {
            argv,
            env: full,
            timeout_ms: timeout.as_millis() as u64,
        };
        match self.call(side, req, None, timeout + Duration::from_secs(5))? {
            (Reply::Ran(r), _) => Ok(r),
            (r, _) => Err(unexpected(&r)),
        }
    }
}

fn unexpected(r: &Reply) -> Error {
    Error::failed(
        format!("the helper process answered out of turn ({r:?})"),
        Some("run actsim setup again".to_string()),
    )
}

/// Whether the user described by `c` could change what `path` names: a component they own
/// or can write (without a sticky bit protecting it), or a link someone other than root
/// owns. Checked on the path as given and once links are resolved.
fn user_can_modify(c: &Creds, path: &Path) -> bool {
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let modifiable = |m: &std::fs::Metadata| {
        if m.file_type().is_symlink() {
            return m.uid() != 0;
        }
        if m.uid() == c.uid {
            return true;
        }
        if !m.is_dir() {
            return false;
        }
        let mode = m.mode();
        let writable = mode & 0o002 != 0 || (mode & 0o020 != 0 && c.gids.contains(&m.gid()));
        writable && mode & 0o1000 == 0
    };
    let mut at = PathBuf::new();
    let mut deepest = PathBuf::from("/");
    for comp in path.components() {
        at.push(comp);
        match std::fs::symlink_metadata(&at) {
            Ok(m) => {
                if modifiable(&m) {
                    return true;
                }
                deepest = at.clone();
            }
            Err(_) => break,
        }
    }
    // In doubt (a link loop, a component that vanished), the user does it: the agent can
    // never do more than the user could.
    let Ok(real) = std::fs::canonicalize(&deepest) else {
        return true;
    };
    let mut at = PathBuf::new();
    for comp in real.components() {
        at.push(comp);
        if std::fs::symlink_metadata(&at).is_ok_and(|m| modifiable(&m)) {
            return true;
        }
    }
    false
}

/// A sealed-size anonymous file holding `bytes` (the content of a write by the agent).
fn memfd_with(bytes: &[u8]) -> Result<OwnedFd> {
    // SAFETY: memfd_create with a valid C string; the fd is owned right away.
    let raw =
        unsafe { nix::libc::memfd_create(c"actsim-content".as_ptr(), nix::libc::MFD_CLOEXEC) };
    if raw < 0 {
        return Err(Error::failed(
            format!("memfd_create: {}", std::io::Error::last_os_error()),
            None,
        ));
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes)
        .map_err(|e| Error::failed(format!("memfd: {e}"), None))?;
    Ok(file.into())
}

/// Why talking to the agent failed (the message follows "the helper process running as
/// USER failed: ").
#[derive(Debug, thiserror::Error)]
enum WireError {
    #[error("{0}")]
    Encode(serde_json::Error),
    #[error("sending: {0}")]
    Send(nix::Error),
    #[error("it exited")]
    Exited,
    #[error("unreadable reply: {0}")]
    Decode(serde_json::Error),
    #[error("no answer within {0}s")]
    Silent(u64),
    #[error("waiting: {0}")]
    Wait(nix::Error),
    #[error("receiving: {0}")]
    Receive(nix::Error),
    #[error("a message was too long")]
    TooLong,
}

/// Send one request (and an fd) and wait for the reply until `timeout`.
fn exchange(
    sock: &OwnedFd,
    req: &Request,
    attached: Option<&OwnedFd>,
    timeout: Duration,
) -> std::result::Result<(Reply, Option<OwnedFd>), WireError> {
    let body = serde_json::to_vec(req).map_err(WireError::Encode)?;
    send(sock, &body, attached).map_err(WireError::Send)?;
    let (bytes, fd) = recv(sock, Some(timeout))?.ok_or(WireError::Exited)?;
    let reply: Reply = serde_json::from_slice(&bytes).map_err(WireError::Decode)?;
    Ok((reply, fd))
}

fn send(sock: &OwnedFd, body: &[u8], fd: Option<&OwnedFd>) -> nix::Result<()> {
    let iov = [IoSlice::new(body)];
    let raw: Vec<RawFd> = fd.iter().map(|f| f.as_raw_fd()).collect();
    let cmsg = [ControlMessage::ScmRights(&raw)];
    let cmsgs: &[ControlMessage] = if raw.is_empty() { &[] } else { &cmsg };
    sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None).map(|_| ())
}

/// One message and the descriptors beside it; `None` at end of stream.
#[allow(clippy::type_complexity)]
fn recv(
    sock: &OwnedFd,
    timeout: Option<Duration>,
) -> std::result::Result<Option<(Vec<u8>, Option<OwnedFd>)>, WireError> {
    if let Some(timeout) = timeout {
        let mut fds = [nix::poll::PollFd::new(
            sock.as_fd(),
            nix::poll::PollFlags::POLLIN,
        )];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        match nix::poll::poll(
            &mut fds,
            nix::poll::PollTimeout::try_from(ms).unwrap_or(nix::poll::PollTimeout::MAX),
        ) {
            Ok(0) => return Err(WireError::Silent(timeout.as_secs())),
            Ok(_) => {}
            Err(e) => return Err(WireError::Wait(e)),
        }
    }
    let mut buf = vec![0u8; MAX_MESSAGE];
    let mut space = nix::cmsg_space!([RawFd; 2]);
    let (len, fds, truncated) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<()>(
            sock.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(WireError::Receive)?;
        let mut fds: Vec<OwnedFd> = Vec::new();
        for c in msg.cmsgs().map_err(WireError::Receive)? {
            if let ControlMessageOwned::ScmRights(list) = c {
                // SAFETY: the kernel just installed these descriptors for us.
                fds.extend(
                    list.into_iter()
                        .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                );
            }
        }
        let truncated = msg
            .flags
            .intersects(MsgFlags::MSG_TRUNC | MsgFlags::MSG_CTRUNC);
        (msg.bytes, fds, truncated)
    };
    if truncated {
        return Err(WireError::TooLong);
    }
    if len == 0 && fds.is_empty() {
        return Ok(None);
    }
    buf.truncate(len);
    Ok(Some((buf, fds.into_iter().next())))
}

/// Start the agent: this binary, as the user (their uid, primary gid and the groups the
/// database gives them), with a minimal environment and the socket on fd 3.
fn spawn_agent(c: &Creds) -> Result<Agent> {
    let (mine, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|e| Error::failed(format!("socketpair: {e}"), None))?;
    let (uid, gid) = (c.uid, c.gid);
    let gids: Vec<nix::libc::gid_t> = c.gids.clone();
    let their_raw = theirs.as_raw_fd();
    let mut cmd = std::process::Command::new("/proc/self/exe");
    cmd.arg(AGENT_COMMAND)
        .env_clear()
        .env("HOME", &c.home)
        .env("USER", &c.name)
        .env("LOGNAME", &c.name)
        .env("PATH", SAFE_PATH)
        .env("LC_ALL", "C.UTF-8")
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        // Never root's terminal: the agent's errors travel as replies.
        .stderr(std::process::Stdio::null());
    // SAFETY: only async-signal-safe system calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            use nix::libc;
            // Its own session (no controlling terminal of root's); every descriptor root
            // had closes at exec, but the socket dup'ed onto fd 3 after this.
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            crate::system::halves::close_from_3_at_exec()?;
            if their_raw == AGENT_FD {
                if libc::fcntl(AGENT_FD, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(their_raw, AGENT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            if libc::setgroups(gids.len(), gids.as_ptr()) != 0
                || libc::setresgid(gid, gid, gid) != 0
                || libc::setresuid(uid, uid, uid) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            // Dropped for good: getting root back must fail.
            if libc::setuid(0) == 0 {
                return Err(std::io::Error::from_raw_os_error(libc::EPERM));
            }
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            libc::prctl(libc::PR_SET_DUMPABLE, 0);
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(|e| {
        Error::failed(
            format!("cannot start the helper process as {}: {e}", c.name),
            Some("check that the user exists and may run programs".to_string()),
        )
    })?;
    drop(theirs);
    Ok(Agent { sock: mine, child })
}

/// `actsim __agent`: serve requests on fd 3 until the other end closes it. Runs as the
/// target user; refuses to run as root (there is nothing to separate then).
pub fn agent_main() -> std::process::ExitCode {
    // SAFETY: prctl with constant arguments; first thing, before anything is read.
    unsafe {
        nix::libc::prctl(nix::libc::PR_SET_DUMPABLE, 0);
    }
    if nix::unistd::Uid::effective().is_root() {
        eprintln!("actsim: the helper process does not run as root");
        return std::process::ExitCode::from(crate::error::exit::USAGE);
    }
    // SAFETY: fd 3 was set up by the parent for us alone.
    let sock = unsafe { OwnedFd::from_raw_fd(AGENT_FD) };
    if nix::sys::socket::getsockopt(&sock, nix::sys::socket::sockopt::SockType).ok()
        != Some(SockType::SeqPacket)
    {
        eprintln!("actsim: {AGENT_COMMAND} is internal to actsim setup");
        return std::process::ExitCode::from(crate::error::exit::USAGE);
    }
    loop {
        let (bytes, fd) = match recv(&sock, None) {
            Ok(Some(m)) => m,
            Ok(None) | Err(_) => return std::process::ExitCode::SUCCESS,
        };
        let (reply, out) = match serde_json::from_slice::<Request>(&bytes) {
            Ok(req) => serve(req, fd, Walk::Lenient),
            Err(e) => (
                Reply::Error {
                    message: format!("unreadable request: {e}"),
                    hint: None,
                },
                None,
            ),
        };
        let body = serde_json::to_vec(&reply).unwrap_or_else(|_| b"{\"reply\":\"done\"}".to_vec());
        if send(&sock, &body, out.as_ref()).is_err() {
            return std::process::ExitCode::SUCCESS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let req = Request::Run {
            argv: vec!["/bin/true".into()],
            env: vec![("A".into(), "b".into())],
            timeout_ms: 5,
        };
        let text = serde_json::to_string(&req).unwrap();
        assert!(text.contains("\"op\":\"run\""));
        let back: Request = serde_json::from_str(&text).unwrap();
        assert!(matches!(back, Request::Run { timeout_ms: 5, .. }));
        let reply = Reply::Error {
            message: "m".into(),
            hint: None,
        };
        let back: Reply = serde_json::from_str(&serde_json::to_string(&reply).unwrap()).unwrap();
        assert!(matches!(back, Reply::Error { .. }));
    }

    #[test]
    fn local_fs_reads_writes_and_runs_here() {
        let dir = std::env::temp_dir().join(format!("actsim-privsep-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let fs = Fs::local();
        let file = dir.join("a/b");
        fs.write_atomic(&file, b"hello", 0o600).unwrap();
        assert_eq!(fs.read(&file, 10).unwrap().as_deref(), Some(&b"hello"[..]));
        assert!(fs.read(&file, 2).is_err(), "over the cap");
        assert_eq!(fs.read(&dir.join("none"), 10).unwrap(), None);
        let ran = fs
            .run(
                Path::new("/bin/sh"),
                &["-c", "echo $X"],
                &[("X", "1")],
                Duration::from_secs(5),
            )
            .unwrap();
        assert_eq!(ran.stdout, "1\n");
        let ran = fs
            .run(
                Path::new("/bin/sleep"),
                &["5"],
                &[],
                Duration::from_millis(100),
            )
            .unwrap();
        assert!(ran.timed_out);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
