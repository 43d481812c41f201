//! Writing generated files safely, and deciding whether a file may be replaced.
//!
//! [`write_atomic`] writes a temp file in the destination's directory (created exclusively,
//! never through a link), fsyncs it, sets mode and owner, renames it over the destination
//! and fsyncs the directory: readers see the old file or the new one, never half of one.
//! It never writes through a symbolic link: a link planted at the destination is refused
//! (not replaced: it may be a dotfile link the user made on purpose, and silently cutting it
//! would lose their setup), and so is a link anywhere in the path that someone other than
//! root or the running user owns (root writing into a user's home must not be redirected
//! into `/etc` by that user). Directories are opened one component at a time without
//! following links, so a link swapped in while writing is refused too. On failure nothing
//! is left behind: no temp file, no directory this call created.
//!
//! [`decide`] compares the destination with what actsim last wrote there (its SHA-256,
//! from the receipt) so that a user's edit is never overwritten silently.

use std::ffi::OsStr;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat, renameat};
use nix::sys::stat::{Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{Uid, UnlinkatFlags, fsync, unlinkat};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

/// Suffix of the file written beside a user-edited one.
pub const NEW_SUFFIX: &str = ".actsim-new";

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of a file's contents, read in chunks (never held whole in memory).
/// A link, FIFO or device there is an error, and so is a file over `MAX_HASH` bytes.
/// An anonymous, sealed file holding `bytes`: nobody (root included) can change, grow or
/// shrink it any more. What root imports or hands on is exactly what it verified.
pub fn sealed_memfd(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use nix::libc;
    use std::io::{Seek, Write};
    use std::os::fd::FromRawFd;
    // SAFETY: memfd_create with a valid C string; the fd is owned right away.
    let raw = unsafe {
        libc::memfd_create(
            c"actsim-verified".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: raw is a fresh descriptor nobody else owns.
    let mut file = unsafe { std::fs::File::from_raw_fd(raw) };
    file.write_all(bytes)?;
    let seals = libc::F_SEAL_WRITE | libc::F_SEAL_GROW | libc::F_SEAL_SHRINK | libc::F_SEAL_SEAL;
    // SAFETY: fcntl on a descriptor we own.
    if unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&file),
            libc::F_ADD_SEALS,
            seals,
        )
    } != 0
    {
        return Err(std::io::Error::last_os_error());
    }
    file.rewind()?;
    Ok(file)
}

pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    log::debug!("hashing {}", path.display());
    let file = open_regular(path, MAX_HASH)
        .map_err(|e| std::io::Error::other(e.to_string()))?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
    sha256_reader(file)
}

/// The most actsim hashes of one file (an act binary is about 20 MiB).
pub const MAX_HASH: u64 = 512 << 20;

/// Hex SHA-256 of everything `reader` yields.
pub fn sha256_reader(mut reader: impl std::io::Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    std::io::copy(&mut reader, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// What to do with a destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// It already holds exactly the new bytes.
    Unchanged,
    /// It does not exist.
    Create,
    /// It is what actsim last wrote there: replace it.
    Update,
    /// It differs from what actsim last wrote (or actsim never wrote it): keep it unless
    /// the user agrees; with `--yes`, write ours beside it ([`write_beside`]).
    UserEdited,
}

/// An [`Action`] and the unified diff from the current file to the new bytes (empty when
/// unchanged; from `/dev/null` when creating).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub action: Action,
    pub diff: String,
}

/// Decide what to do with `path`, whose current bytes are `current` (`None`: absent), given
/// the `new` bytes and the SHA-256 actsim recorded when it last wrote there.
pub fn decide(
    path: &Path,
    current: Option<&[u8]>,
    new: &[u8],
    last_written_sha256: Option<&str>,
) -> Decision {
    let shown = path.display().to_string();
    let Some(current) = current else {
        return Decision {
            action: Action::Create,
            diff: unified_diff("/dev/null", &shown, b"", new),
        };
    };
    if current == new {
        return Decision {
            action: Action::Unchanged,
            diff: String::new(),
        };
    }
    let ours = last_written_sha256.is_some_and(|h| h.eq_ignore_ascii_case(&sha256_hex(current)));
    Decision {
        action: if ours {
            Action::Update
        } else {
            Action::UserEdited
        },
        diff: unified_diff(&shown, &format!("{shown} (actsim)"), current, new),
    }
}

/// A unified diff (3 lines of context) of two texts, secrets redacted
/// ([`super::redact::redact`]: a diff reaches JSON, plans and Ansible's `--diff`); bytes
/// that are not UTF-8 are shown replaced.
pub fn unified_diff(old_name: &str, new_name: &str, old: &[u8], new: &[u8]) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    let diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    super::redact::redact(&diff)
}

/// `<path>.actsim-new`: where ours goes when the user edited the file.
pub fn beside_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(NEW_SUFFIX);
    path.with_file_name(name)
}

/// The current bytes of `path`, `None` when it does not exist. A symbolic link or a
/// directory there is refused with the same error [`write_atomic`] gives; a FIFO, device,
/// socket or a file over [`MAX_READ`] is refused too (never read, never waited on).
pub fn read_existing(path: &Path) -> Result<Option<Vec<u8>>> {
    read_bounded(path, MAX_READ)
}

/// The most actsim reads of any configuration file or record.
pub const MAX_READ: u64 = 1 << 20;

/// Open `path` for reading as a regular file of at most `cap` bytes, `None` when it does
/// not exist. Opened with `O_NOFOLLOW|O_NONBLOCK|O_CLOEXEC` and checked with `fstat`, so a
/// link, FIFO, device or socket planted there is a clear error at once, never a wait.
pub fn open_regular(path: &Path, cap: u64) -> Result<Option<std::fs::File>> {
    use std::os::unix::fs::OpenOptionsExt;
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nix::libc::O_NOFOLLOW | nix::libc::O_NONBLOCK | nix::libc::O_CLOEXEC)
        .open(path);
    let file = match opened {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(nix::libc::ELOOP) => {
            let target = std::fs::read_link(path).unwrap_or_default();
            return Err(symlink_error(path, &target));
        }
        Err(e) => return Err(Error::io(path, e)),
    };
    check_regular(&file, path, cap)?;
    Ok(Some(file))
}

/// Refuse anything but a regular file of at most `cap` bytes (an open descriptor).
pub fn check_regular(file: &std::fs::File, path: &Path, cap: u64) -> Result<u64> {
    let meta = file.metadata().at(path)?;
    let kind = meta.file_type();
    use std::os::unix::fs::FileTypeExt;
    let what = if kind.is_file() {
        None
    } else if kind.is_dir() {
        return Err(directory_error(path));
    } else if kind.is_fifo() {
        Some("a FIFO (named pipe)")
    } else if kind.is_socket() {
        Some("a socket")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else {
        Some("not a regular file")
    };
    if let Some(what) = what {
        return Err(Error::failed(
            format!(
                "refusing to read {}: it is {what}; actsim reads only regular files",
                path.display()
            ),
            Some(format!(
                "replace it with a regular file (rm {}), then run actsim again",
                crate::system::process::sh_quote(&path.display().to_string())
            )),
        ));
    }
    if meta.len() > cap {
        return Err(too_large(path, cap));
    }
    Ok(meta.len())
}

fn too_large(path: &Path, cap: u64) -> Error {
    Error::failed(
        format!(
            "refusing to read {}: it is larger than the {cap} bytes actsim reads",
            path.display()
        ),
        Some(format!(
            "move {} away, then run actsim again",
            crate::system::process::sh_quote(&path.display().to_string())
        )),
    )
}

/// Read an open file to its end, at most `cap` bytes.
pub fn read_capped(file: std::fs::File, path: &Path, cap: u64) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    file.take(cap + 1).read_to_end(&mut out).at(path)?;
    if out.len() as u64 > cap {
        return Err(too_large(path, cap));
    }
    Ok(out)
}

/// The bytes of a regular file of at most `cap` bytes, `None` when it does not exist.
pub fn read_bounded(path: &Path, cap: u64) -> Result<Option<Vec<u8>>> {
    match open_regular(path, cap)? {
        None => Ok(None),
        Some(f) => read_capped(f, path, cap).map(Some),
    }
}

fn symlink_error(path: &Path, target: &Path) -> Error {
    Error::failed(
        format!(
            "refusing {}: it is a symbolic link (to {}), and actsim never reads or writes through a link",
            path.display(),
            target.display()
        ),
        Some(format!(
            "remove the link (rm {}) or replace it with a regular file, then run actsim again",
            crate::system::process::sh_quote(&path.display().to_string())
        )),
    )
}

fn directory_error(path: &Path) -> Error {
    Error::failed(
        format!("cannot use {}: it is a directory", path.display()),
        Some(format!(
            "move the directory {} away, then run actsim again",
            crate::system::process::sh_quote(&path.display().to_string())
        )),
    )
}

/// How directories are walked on the way to a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    /// As the user, in the user's own directories: links owned by root or the running
    /// user are followed (a dotfile manager's `~/.config -> dotfiles/config`), others are
    /// refused.
    Lenient,
    /// As root, into a root-owned directory: no link is followed on any component, and
    /// every directory must be owned by root (or the running user) and not writable by
    /// group or others unless sticky. Directories created on the way get mode 0755.
    Strict,
}

/// Write `bytes` to `path` atomically with `mode`, as the running user.
///
/// Missing parent directories are created (mode 0700, or 0755 with [`Walk::Strict`]). See
/// the module documentation for the guarantees about links and leftovers.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, walk: Walk) -> Result<()> {
    let (mut dir, name, path) = open_parent(path, walk)?;
    let result = write_in(&dir.fd, &name, &path, bytes, mode);
    if result.is_err() {
        dir.remove_created();
    }
    result
}

/// Write `<path>.actsim-new` (atomically, like [`write_atomic`]); returns it.
pub fn write_beside(path: &Path, bytes: &[u8], mode: u32, walk: Walk) -> Result<PathBuf> {
    let beside = beside_path(path);
    write_atomic(&beside, bytes, mode, walk)?;
    Ok(beside)
}

/// The open parent directory of `path` (created when missing), and the file name in it.
pub fn open_parent(path: &Path, walk: Walk) -> Result<(OpenDir, std::ffi::OsString, PathBuf)> {
    open_parent_with(path, walk, true)
}

fn open_parent_with(
    path: &Path,
    walk: Walk,
    create: bool,
) -> Result<(OpenDir, std::ffi::OsString, PathBuf)> {
    let path = std::path::absolute(path).at(path)?;
    let Some(name) = path
        .file_name()
        .filter(|_| !path.as_os_str().as_bytes().ends_with(b"/"))
        .map(OsStr::to_os_string)
    else {
        return Err(Error::usage(
            format!("{} is not a file path", path.display()),
            None,
        ));
    };
    let parent = path.parent().unwrap_or(Path::new("/")).to_path_buf();
    let dir = if create {
        OpenDir::open(&parent, walk)?
    } else {
        OpenDir::open_existing(&parent, walk)?
    };
    Ok((dir, name, path))
}

/// `mkdir -p` through descriptors, with the rules of `walk`.
pub fn create_dir_all(dir: &Path, walk: Walk) -> Result<()> {
    let dir = std::path::absolute(dir).at(dir)?;
    OpenDir::open(&dir, walk).map(|_| ())
}

/// Root creating a directory for a user under a root-owned parent: the parent is walked
/// strictly (created root-owned 0755 when missing), `dir` itself is made with `mkdirat`
/// (0700) and handed to `uid:gid` with `fchown` on its own descriptor, so no link or
/// race can redirect the chown. An existing `dir` is left as it is.
pub fn create_dir_for(dir: &Path, uid: u32, gid: u32) -> Result<()> {
    let dir = std::path::absolute(dir).at(dir)?;
    let Some(name) = dir.file_name() else {
        return Ok(());
    };
    let parent = OpenDir::open(dir.parent().unwrap_or(Path::new("/")), Walk::Strict)?;
    match mkdirat(&parent.fd, name, Mode::from_bits_truncate(0o700)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => return Ok(()),
        Err(e) => return Err(Error::io(&dir, e.into())),
    }
    let fd = open_dir_nofollow(&parent.fd, name, &dir)?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| Error::io(&dir, e.into()))?;
    if st.st_uid != Uid::effective().as_raw() {
        return Err(Error::failed(
            format!("{} was replaced while it was being created", dir.display()),
            Some("check who else writes there, then run setup again".to_string()),
        ));
    }
    nix::unistd::fchown(
        &fd,
        Some(Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .map_err(|e| Error::io(&dir, e.into()))
}

/// An open directory and the directories created on the way to it (outermost first).
pub struct OpenDir {
    pub fd: OwnedFd,
    created: Vec<PathBuf>,
    /// Missing directories are created (else: an error).
    create: bool,
}

impl OpenDir {
    /// Open `dir`, creating what is missing.
    pub fn open(dir: &Path, walk: Walk) -> Result<Self> {
        match walk {
            Walk::Lenient => Self::open_lenient(dir, true),
            Walk::Strict => Self::open_strict(dir, true),
        }
    }

    /// Open `dir`, which must exist.
    pub fn open_existing(dir: &Path, walk: Walk) -> Result<Self> {
        match walk {
            Walk::Lenient => Self::open_lenient(dir, false),
            Walk::Strict => Self::open_strict(dir, false),
        }
    }

    fn open_lenient(dir: &Path, create: bool) -> Result<Self> {
        // The deepest ancestor that exists, following links (which are checked below).
        let mut existing = dir;
        loop {
            match std::fs::metadata(existing) {
                Ok(m) if m.is_dir() => break,
                Ok(_) => {
                    return Err(Error::failed(
                        format!(
                            "cannot create {}: {} is not a directory",
                            dir.display(),
                            existing.display()
                        ),
                        Some(format!("move {} away", existing.display())),
                    ));
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    existing = existing.parent().ok_or_else(|| Error::io(dir, e))?;
                }
                Err(e) => return Err(Error::io(existing, e)),
            }
        }
        check_links(existing)?;
        // As the user, in the user's own tree: resolving links is no privilege matter.
        let real = std::fs::canonicalize(existing).at(existing)?;
        let missing = normal_components(dir.strip_prefix(existing).expect("an ancestor"), dir)?;
        let mut opened = OpenDir {
            fd: open_root()?,
            created: Vec::new(),
            create,
        };
        let mut at = PathBuf::from("/");
        for comp in real.components().skip(1) {
            at.push(comp);
            opened.fd = open_dir_nofollow(&opened.fd, comp.as_os_str(), &at)?;
        }
        opened.descend(&missing, &mut at, 0o700, Walk::Lenient)?;
        Ok(opened)
    }

    fn open_strict(dir: &Path, create: bool) -> Result<Self> {
        let comps = normal_components(dir, dir)?;
        let mut opened = OpenDir {
            fd: open_root()?,
            created: Vec::new(),
            create,
        };
        let mut at = PathBuf::from("/");
        check_strict_dir(&opened.fd, &at)?;
        opened.descend(&comps, &mut at, 0o755, Walk::Strict)?;
        Ok(opened)
    }

    /// Open (creating when missing) each of `comps` below the current directory.
    fn descend(&mut self, comps: &[&OsStr], at: &mut PathBuf, mode: u32, walk: Walk) -> Result<()> {
        for comp in comps {
            at.push(comp);
            if !self.create {
                let next = open_dir_nofollow(&self.fd, comp, at)?;
                if walk == Walk::Strict {
                    check_strict_dir(&next, at)?;
                }
                self.fd = next;
                continue;
            }
            let made = match mkdirat(&self.fd, *comp, Mode::from_bits_truncate(mode)) {
                Ok(()) => true,
                Err(Errno::EEXIST) => false,
                Err(e) => {
                    self.remove_created();
                    return Err(Error::io(&*at, e.into()));
                }
            };
            if made {
                self.created.push(at.clone());
            }
            let next = open_dir_nofollow(&self.fd, comp, at).and_then(|fd| {
                if walk == Walk::Strict {
                    check_strict_dir(&fd, at)?;
                }
                Ok(fd)
            });
            match next {
                Ok(fd) => self.fd = fd,
                Err(e) => {
                    self.remove_created();
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// Remove the directories this call created (innermost first), if still empty.
    fn remove_created(&mut self) {
        for dir in self.created.drain(..).rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn open_root() -> Result<OwnedFd> {
    let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    openat(nix::fcntl::AT_FDCWD, "/", dir_flags, Mode::empty())
        .map_err(|e| Error::io("/", e.into()))
}

/// The plain names of an absolute path; `.` is skipped, `..` refused.
fn normal_components<'a>(rel: &'a Path, shown: &Path) -> Result<Vec<&'a OsStr>> {
    rel.components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .map(|c| match c {
            Component::Normal(n) => Ok(n),
            _ => Err(Error::usage(
                format!("{}: '..' is not allowed here", shown.display()),
                Some("pass a plain absolute path".to_string()),
            )),
        })
        .collect()
}

/// A directory root writes into: owned by root (or the running user), and not writable by
/// group or others unless the sticky bit protects its entries.
fn check_strict_dir(fd: &OwnedFd, at: &Path) -> Result<()> {
    let st = nix::sys::stat::fstat(fd).map_err(|e| Error::io(at, e.into()))?;
    let me = Uid::effective().as_raw();
    if st.st_uid != 0 && st.st_uid != me {
        let who = crate::system::identity::user_name(st.st_uid);
        return Err(Error::failed(
            format!(
                "refusing to write under {} as root: it is owned by {who} (uid {}), who could redirect the write",
                at.display(),
                st.st_uid
            ),
            Some(format!(
                "use a root-owned directory, or run actsim as {who}"
            )),
        ));
    }
    let mode = st.st_mode;
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        return Err(Error::failed(
            format!(
                "refusing to write under {} as root: it is writable by group or others (mode {:04o}) without the sticky bit",
                at.display(),
                mode & 0o7777
            ),
            Some(format!(
                "chmod go-w {}, or pick another directory",
                crate::system::process::sh_quote(&at.display().to_string())
            )),
        ));
    }
    Ok(())
}

fn open_dir_nofollow(parent: &OwnedFd, name: &OsStr, shown: &Path) -> Result<OwnedFd> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    openat(parent, name, flags, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP | Errno::ENOTDIR => Error::failed(
            format!(
                "refusing to write under {}: it is a link or a file, not a directory (or was replaced by one while writing)",
                shown.display()
            ),
            Some(format!(
                "pass the real directory (realpath {}), or check who else writes there",
                crate::system::process::sh_quote(&shown.display().to_string())
            )),
        ),
        e => Error::io(shown, e.into()),
    })
}

/// Refuse a symbolic link on the way to `dir` that is owned by neither root nor the
/// running user: whoever owns it decides where the write lands.
fn check_links(dir: &Path) -> Result<()> {
    let me = Uid::effective().as_raw();
    let mut at = PathBuf::new();
    for comp in dir.components() {
        at.push(comp);
        let Ok(m) = std::fs::symlink_metadata(&at) else {
            continue;
        };
        if m.file_type().is_symlink() && m.uid() != 0 && m.uid() != me {
            let who = crate::system::identity::user_name(m.uid());
            return Err(Error::failed(
                format!(
                    "refusing to write under {}: it is a symbolic link owned by {who} (uid {}), who could point it anywhere",
                    at.display(),
                    m.uid()
                ),
                Some(format!(
                    "replace the link {} with a real directory, or run actsim as {who}",
                    at.display()
                )),
            ));
        }
    }
    Ok(())
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Removes the temp file unless disarmed.
struct TempFile<'a> {
    dir: &'a OwnedFd,
    name: std::ffi::OsString,
    armed: bool,
}

impl Drop for TempFile<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = unlinkat(self.dir, self.name.as_os_str(), UnlinkatFlags::NoRemoveDir);
        }
    }
}

/// What is at `name` in `dir` (not following a link): refuse a link or a directory.
fn refuse_link_or_dir(dir: &OwnedFd, name: &OsStr, path: &Path) -> Result<Option<SFlag>> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => {
            let kind = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT;
            if kind == SFlag::S_IFLNK {
                let target = readlinkat(dir, name).unwrap_or_default();
                return Err(symlink_error(path, Path::new(&target)));
            }
            if kind == SFlag::S_IFDIR {
                return Err(directory_error(path));
            }
            Ok(Some(kind))
        }
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(Error::io(path, e.into())),
    }
}

/// Create a new file `name` in `dir` exclusively (never through a link), mode 0600.
pub fn create_new_in(dir: &OwnedFd, name: &OsStr, shown: &Path) -> Result<std::fs::File> {
    let flags =
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    openat(dir, name, flags, Mode::from_bits_truncate(0o600))
        .map(std::fs::File::from)
        .map_err(|e| Error::io(shown, e.into()))
}

fn write_in(dir: &OwnedFd, name: &OsStr, path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    refuse_link_or_dir(dir, name, path)?;
    let pid = std::process::id();
    let mut attempts = 0;
    let (temp, mut file) = loop {
        attempts += 1;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp = std::ffi::OsString::from(".");
        temp.push(name);
        temp.push(format!(".actsim-tmp.{pid}.{n}"));
        match create_new_in(dir, temp.as_os_str(), &path.with_file_name(&temp)) {
            Ok(f) => break (temp, f),
            Err(Error::Io { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists && attempts < 100 =>
            {
                continue;
            }
            Err(e) => return Err(e),
        }
    };
    let mut guard = TempFile {
        dir,
        name: temp,
        armed: true,
    };
    let temp_path = path.with_file_name(&guard.name);
    file.write_all(bytes).at(&temp_path)?;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .at(&temp_path)?;
    file.sync_all().at(&temp_path)?;
    drop(file);
    renameat(dir, guard.name.as_os_str(), dir, name).map_err(|e| Error::io(path, e.into()))?;
    guard.armed = false;
    let parent = path.parent().unwrap_or(Path::new("/"));
    fsync(dir).map_err(|e| Error::io(parent, e.into()))
}

/// Rename `from` to `to` inside one directory (both plain names), never through a link.
pub fn rename_in(dir: &Path, from: &OsStr, to: &OsStr, walk: Walk) -> Result<()> {
    let opened = OpenDir::open_existing(dir, walk)?;
    let shown = dir.join(to);
    refuse_link_or_dir(&opened.fd, to, &shown)?;
    renameat(&opened.fd, from, &opened.fd, to).map_err(|e| Error::io(&shown, e.into()))?;
    fsync(&opened.fd).map_err(|e| Error::io(dir, e.into()))
}

/// Remove the file (not a directory; a link itself, never its target) at `path`.
pub fn remove_file(path: &Path, walk: Walk) -> Result<bool> {
    let (dir, name, path) = match open_parent_with(path, walk, false) {
        Ok(d) => d,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(false);
        }
        Err(e) => return Err(e),
    };
    match unlinkat(&dir.fd, name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
        Ok(()) => Ok(true),
        Err(Errno::ENOENT) => Ok(false),
        Err(e) => Err(Error::io(&path, e.into())),
    }
}

/// Remove the directory `path` if it is empty (a link there is not followed).
pub fn remove_empty_dir(path: &Path, walk: Walk) -> Result<()> {
    let (dir, name, path) = match open_parent_with(path, walk, false) {
        Ok(d) => d,
        Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            return Ok(());
        }
        Err(e) => return Err(e),
    };
    match unlinkat(&dir.fd, name.as_os_str(), UnlinkatFlags::RemoveDir) {
        Ok(()) | Err(Errno::ENOENT) | Err(Errno::ENOTEMPTY) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(Error::io(&path, e.into())),
    }
}

/// Create (or open) a lock file without following a link and without truncating it.
pub fn open_lock_file(path: &Path, walk: Walk) -> Result<std::fs::File> {
    let (dir, name, path) = open_parent(path, walk)?;
    refuse_link_or_dir(&dir.fd, &name, &path)?;
    let flags =
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK;
    let fd = openat(
        &dir.fd,
        name.as_os_str(),
        flags,
        Mode::from_bits_truncate(0o644),
    )
    .map_err(|e| Error::io(&path, e.into()))?;
    let file = std::fs::File::from(fd);
    check_regular(&file, &path, MAX_READ)?;
    Ok(file)
}

/// The regular files in `dir` whose names `keep` accepts (links and others are left out).
pub fn list_regular(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<String>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if keep(&name) && entry.file_type().is_ok_and(|t| t.is_file()) {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::unistd::Gid;
    use std::os::unix::fs::symlink;

    fn tempdir(tag: &str) -> PathBuf {
        let prefix = format!("actsim-files-{tag}-");
        tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir()
            .unwrap()
            .keep()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    fn is_root() -> bool {
        Uid::effective().is_root()
    }

    #[test]
    fn sha256_of_known_input() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn writes_creates_parents_sets_mode_and_replaces() {
        let dir = tempdir("write");
        let path = dir.join("a/b/.env");
        write_atomic(&path, b"one\n", 0o600, Walk::Lenient).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"one\n");
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o600);
        assert_eq!(
            std::fs::metadata(dir.join("a"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        write_atomic(&path, b"two\n", 0o644, Walk::Lenient).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o644);
        assert_eq!(entries(&dir.join("a/b")), vec![".env"], "no temp files");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn strict_walks_refuse_links_foreign_and_writable_dirs() {
        if !is_root() {
            eprintln!("skipped: strict walks are root's");
            return;
        }
        let dir = tempdir("strict");
        // A root-owned tree: written, dirs created 0755.
        write_atomic(&dir.join("a/b/file"), b"x", 0o644, Walk::Strict).unwrap();
        let m = std::fs::metadata(dir.join("a/b")).unwrap();
        assert_eq!(m.mode() & 0o7777, 0o755);
        // A link on the way, even root's own, is not followed.
        symlink(dir.join("a"), dir.join("link")).unwrap();
        let err = write_atomic(&dir.join("link/b/file2"), b"x", 0o644, Walk::Strict).unwrap_err();
        assert!(err.to_string().contains("link"), "{err}");
        assert!(!dir.join("a/b/file2").exists());
        // Another user's directory, and a group-writable one without sticky bit.
        std::fs::create_dir(dir.join("theirs")).unwrap();
        std::os::unix::fs::chown(dir.join("theirs"), Some(4321), Some(4321)).unwrap();
        let err = write_atomic(&dir.join("theirs/f"), b"x", 0o644, Walk::Strict).unwrap_err();
        assert!(err.to_string().contains("uid 4321"), "{err}");
        std::fs::create_dir(dir.join("gw")).unwrap();
        std::fs::set_permissions(dir.join("gw"), std::fs::Permissions::from_mode(0o775)).unwrap();
        let err = write_atomic(&dir.join("gw/f"), b"x", 0o644, Walk::Strict).unwrap_err();
        assert!(err.to_string().contains("without the sticky bit"), "{err}");
        // Sticky and world-writable (like /tmp) is fine.
        std::fs::set_permissions(dir.join("gw"), std::fs::Permissions::from_mode(0o1777)).unwrap();
        write_atomic(&dir.join("gw/f"), b"x", 0o644, Walk::Strict).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bounded_reads_refuse_fifos_devices_links_and_big_files() {
        let dir = tempdir("bounded");
        let fifo = dir.join("fifo");
        nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o644)).unwrap();
        let started = std::time::Instant::now();
        let err = read_bounded(&fifo, MAX_READ).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        let err = read_bounded(Path::new("/dev/zero"), MAX_READ).unwrap_err();
        assert!(err.to_string().contains("device"), "{err}");
        std::fs::write(dir.join("big"), vec![b'x'; 2048]).unwrap();
        let err = read_bounded(&dir.join("big"), 1024).unwrap_err();
        assert!(err.to_string().contains("larger than"), "{err}");
        symlink(dir.join("big"), dir.join("link")).unwrap();
        let err = read_bounded(&dir.join("link"), MAX_READ).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(read_bounded(&dir.join("none"), 10).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_at_the_destination_is_refused_and_its_target_untouched() {
        let dir = tempdir("link");
        let target = dir.join("target");
        std::fs::write(&target, b"precious").unwrap();
        let path = dir.join("actrc");
        symlink(&target, &path).unwrap();
        let err = write_atomic(&path, b"evil", 0o644, Walk::Lenient).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("symbolic link"), "{msg}");
        assert!(msg.contains(&path.display().to_string()), "{msg}");
        assert!(err.hint().unwrap().contains("rm "));
        assert_eq!(err.exit_code(), 1);
        assert_eq!(std::fs::read(&target).unwrap(), b"precious");
        assert!(
            std::fs::symlink_metadata(&path)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(entries(&dir), vec!["actrc", "target"]);
        // A dangling link too, and reading refuses it the same way.
        let dangling = dir.join("dangling");
        symlink(dir.join("nowhere"), &dangling).unwrap();
        assert!(write_atomic(&dangling, b"x", 0o644, Walk::Lenient).is_err());
        assert!(!dir.join("nowhere").exists());
        assert!(
            read_existing(&path)
                .unwrap_err()
                .to_string()
                .contains("symbolic link")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_link_in_the_path_owned_by_another_user_is_refused() {
        if !is_root() {
            eprintln!("skipped: planting a link owned by another user needs root");
            return;
        }
        let dir = tempdir("userlink");
        let elsewhere = dir.join("etc");
        std::fs::create_dir(&elsewhere).unwrap();
        let link = dir.join("config");
        symlink(&elsewhere, &link).unwrap();
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            &link,
            Some(Uid::from_raw(4321)),
            Some(Gid::from_raw(4321)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        let err = write_atomic(&link.join("actsim/x"), b"x", 0o644, Walk::Lenient).unwrap_err();
        assert!(err.to_string().contains("uid 4321"), "{err}");
        assert!(entries(&elsewhere).is_empty());
        // Owned by root (the running user), the same link is followed.
        nix::unistd::fchownat(
            nix::fcntl::AT_FDCWD,
            &link,
            Some(Uid::from_raw(0)),
            Some(Gid::from_raw(0)),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        )
        .unwrap();
        write_atomic(&link.join("actsim/x"), b"x", 0o644, Walk::Lenient).unwrap();
        assert_eq!(std::fs::read(elsewhere.join("actsim/x")).unwrap(), b"x");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_at_the_destination_is_refused() {
        let dir = tempdir("isdir");
        std::fs::create_dir(dir.join("x")).unwrap();
        let err = write_atomic(&dir.join("x"), b"x", 0o644, Walk::Lenient).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = write_atomic(&dir.join("x/"), b"x", 0o644, Walk::Lenient).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn an_unwritable_dir_fails_cleanly_and_leaves_nothing() {
        let dir = tempdir("ro");
        let ro = dir.join("ro");
        std::fs::create_dir(&ro).unwrap();
        // Root ignores mode bits; the immutable attribute stops root too.
        let locked = if is_root() {
            std::process::Command::new("chattr")
                .arg("+i")
                .arg(&ro)
                .status()
                .is_ok_and(|s| s.success())
        } else {
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).is_ok()
        };
        if !locked {
            eprintln!("skipped: cannot make a directory unwritable here (chattr)");
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
        let err = write_atomic(&ro.join("sub/file"), b"x", 0o644, Walk::Lenient).unwrap_err();
        let err2 = write_atomic(&ro.join("file"), b"x", 0o644, Walk::Lenient).unwrap_err();
        if is_root() {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .arg(&ro)
                .status();
        } else {
            std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        assert!(err.to_string().contains("sub"), "{err}");
        assert!(
            err2.to_string().contains(&ro.display().to_string()),
            "{err2}"
        );
        assert!(entries(&ro).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failure_mid_write_leaves_no_temp_file_and_no_new_directory() {
        if !is_root() {
            eprintln!("skipped: mounting a tiny tmpfs needs root");
            return;
        }
        let dir = tempdir("full");
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("skipped: cannot mount tmpfs here");
            std::fs::remove_dir_all(&dir).unwrap();
            return;
        }
        std::fs::write(dir.join("keep"), b"old").unwrap();
        let big = vec![b'x'; 1 << 20];
        let err = write_atomic(&dir.join("keep"), &big, 0o644, Walk::Lenient).unwrap_err();
        let err2 =
            write_atomic(&dir.join("new/deeper/file"), &big, 0o644, Walk::Lenient).unwrap_err();
        let left = entries(&dir);
        let kept = std::fs::read(dir.join("keep")).unwrap();
        let _ = std::process::Command::new("umount").arg(&dir).status();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.to_string().contains("keep"), "{err}");
        assert!(err2.to_string().contains("file"), "{err2}");
        assert_eq!(left, vec!["keep"], "no temp file, no created directory");
        assert_eq!(kept, b"old", "the old file is intact");
    }

    #[test]
    fn decide_covers_every_case() {
        let p = Path::new("/cfg/.env");
        let ours = b"A=1\nB=2\n";
        let new = b"A=1\nB=3\n";
        let d = decide(p, None, new, None);
        assert_eq!(d.action, Action::Create);
        assert!(d.diff.contains("+B=3"));
        let d = decide(p, Some(new), new, Some(&sha256_hex(ours)));
        assert_eq!(
            d,
            Decision {
                action: Action::Unchanged,
                diff: String::new()
            }
        );
        let d = decide(p, Some(ours), new, Some(&sha256_hex(ours).to_uppercase()));
        assert_eq!(d.action, Action::Update);
        assert!(d.diff.contains("-B=2\n+B=3"), "{}", d.diff);
        assert!(
            d.diff
                .starts_with("--- /cfg/.env\n+++ /cfg/.env (actsim)\n"),
            "{}",
            d.diff
        );
        let edited = b"A=1\nB=2\n# mine\n";
        let d = decide(p, Some(edited), new, Some(&sha256_hex(ours)));
        assert_eq!(d.action, Action::UserEdited);
        assert!(d.diff.contains("-# mine"), "{}", d.diff);
        let d = decide(p, Some(ours), new, None);
        assert_eq!(d.action, Action::UserEdited, "never written by actsim");
    }

    #[test]
    fn beside_keeps_the_users_file() {
        let dir = tempdir("beside");
        let path = dir.join("docker-compose.yml");
        std::fs::write(&path, b"mine").unwrap();
        let written = write_beside(&path, b"ours", 0o644, Walk::Lenient).unwrap();
        assert_eq!(written, dir.join("docker-compose.yml.actsim-new"));
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
        assert_eq!(std::fs::read(&written).unwrap(), b"ours");
        assert_eq!(read_existing(&path).unwrap().unwrap(), b"mine");
        assert_eq!(read_existing(&dir.join("absent")).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
