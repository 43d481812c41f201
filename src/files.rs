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
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat, readlinkat, renameat};
use nix::sys::stat::{Mode, SFlag, fstatat, mkdirat};
use nix::unistd::{Gid, Uid, UnlinkatFlags, fchown, fsync, unlinkat};
use sha2::{Digest, Sha256};

use crate::error::{Error, IoContext, Result};

/// Suffix of the file written beside a user-edited one.
pub const NEW_SUFFIX: &str = ".actsim-new";

/// Hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hex SHA-256 of a file's contents, read in chunks (never held whole in memory).
pub fn sha256_file(path: &Path) -> std::io::Result<String> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher)?;
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

/// A unified diff (3 lines of context) of two texts; bytes that are not UTF-8 are shown
/// replaced.
pub fn unified_diff(old_name: &str, new_name: &str, old: &[u8], new: &[u8]) -> String {
    let old = String::from_utf8_lossy(old);
    let new = String::from_utf8_lossy(new);
    similar::TextDiff::from_lines(old.as_ref(), new.as_ref())
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

/// `<path>.actsim-new`: where ours goes when the user edited the file.
pub fn beside_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(NEW_SUFFIX);
    path.with_file_name(name)
}

/// Write `bytes` to `<path>.actsim-new` (atomically, like [`write_atomic`]); returns it.
pub fn write_beside(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<PathBuf> {
    let beside = beside_path(path);
    write_atomic(&beside, bytes, mode, owner)?;
    Ok(beside)
}

/// The current bytes of `path`, `None` when it does not exist. A symbolic link or a
/// directory there is refused with the same error [`write_atomic`] gives.
pub fn read_existing(path: &Path) -> Result<Option<Vec<u8>>> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(path, e)),
        Ok(m) if m.file_type().is_symlink() => {
            let target = std::fs::read_link(path).unwrap_or_default();
            Err(symlink_error(path, &target))
        }
        Ok(m) if m.is_dir() => Err(directory_error(path)),
        Ok(_) => std::fs::read(path).map(Some).at(path),
    }
}

fn symlink_error(path: &Path, target: &Path) -> Error {
    Error::failed(
        format!(
            "refusing to write {}: it is a symbolic link (to {}), and actsim never writes through a link",
            path.display(),
            target.display()
        ),
        Some(format!(
            "remove the link (rm {}) or replace it with a regular file, then run setup again",
            path.display()
        )),
    )
}

fn directory_error(path: &Path) -> Error {
    Error::failed(
        format!("cannot write {}: it is a directory", path.display()),
        Some(format!(
            "move the directory {} away, then run setup again",
            path.display()
        )),
    )
}

/// Write `bytes` to `path` atomically with `mode`, owned by `owner` (uid, gid) when given.
///
/// Missing parent directories are created (mode 0700, owned by `owner` when given). See the
/// module documentation for the guarantees about links and leftovers.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32, owner: Option<(u32, u32)>) -> Result<()> {
    let path = std::path::absolute(path).at(path)?;
    let Some(name) = path
        .file_name()
        .filter(|_| !path.as_os_str().as_bytes().ends_with(b"/"))
    else {
        return Err(Error::usage(
            format!("{} is not a file path", path.display()),
            None,
        ));
    };
    let parent = path.parent().unwrap_or(Path::new("/"));
    let mut dir = OpenDir::open(parent, owner)?;
    let result = write_in(&dir.fd, name, &path, bytes, mode, owner);
    if result.is_err() {
        dir.remove_created();
    }
    result
}

/// An open directory and the directories created on the way to it (outermost first).
struct OpenDir {
    fd: OwnedFd,
    created: Vec<PathBuf>,
}

impl OpenDir {
    fn open(dir: &Path, owner: Option<(u32, u32)>) -> Result<Self> {
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
        let real = std::fs::canonicalize(existing).at(existing)?;
        let missing: Vec<&OsStr> = dir
            .strip_prefix(existing)
            .expect("an ancestor")
            .components()
            .map(|c| match c {
                Component::Normal(n) => Ok(n),
                _ => Err(Error::usage(
                    format!(
                        "{}: '.' or '..' after a directory that does not exist",
                        dir.display()
                    ),
                    Some("pass a plain absolute path".to_string()),
                )),
            })
            .collect::<Result<_>>()?;

        let dir_flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
        let mut fd: OwnedFd = openat(nix::fcntl::AT_FDCWD, "/", dir_flags, Mode::empty())
            .map_err(|e| Error::io("/", e.into()))?;
        let mut at = PathBuf::from("/");
        for comp in real.components().skip(1) {
            at.push(comp);
            fd = open_dir_nofollow(&fd, comp.as_os_str(), &at)?;
        }
        let mut opened = OpenDir {
            fd,
            created: Vec::new(),
        };
        for comp in missing {
            at.push(comp);
            let made = match mkdirat(&opened.fd, comp, Mode::from_bits_truncate(0o700)) {
                Ok(()) => true,
                Err(Errno::EEXIST) => false,
                Err(e) => {
                    opened.remove_created();
                    return Err(Error::io(&at, e.into()));
                }
            };
            if made {
                opened.created.push(at.clone());
            }
            let next = match open_dir_nofollow(&opened.fd, comp, &at) {
                Ok(fd) => fd,
                Err(e) => {
                    opened.remove_created();
                    return Err(e);
                }
            };
            if let (true, Some((uid, gid))) = (made, owner) {
                if let Err(e) = fchown(&next, Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid))) {
                    opened.remove_created();
                    return Err(Error::io(&at, e.into()));
                }
            }
            opened.fd = next;
        }
        Ok(opened)
    }

    /// Remove the directories this call created (innermost first), if still empty.
    fn remove_created(&mut self) {
        for dir in self.created.drain(..).rev() {
            let _ = std::fs::remove_dir(dir);
        }
    }
}

fn open_dir_nofollow(parent: &OwnedFd, name: &OsStr, shown: &Path) -> Result<OwnedFd> {
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
    openat(parent, name, flags, Mode::empty()).map_err(|e| match e {
        Errno::ELOOP | Errno::ENOTDIR => Error::failed(
            format!(
                "refusing to write under {}: it was replaced by a link or a file while writing",
                shown.display()
            ),
            Some("check who else writes there, then run setup again".to_string()),
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
            let who = crate::identity::user_name(m.uid());
            return Err(Error::failed(
                format!(
                    "refusing to write under {}: it is a symbolic link owned by {who} (uid {}), who could point it anywhere",
                    at.display(),
                    m.uid()
                ),
                Some(format!(
                    "replace the link {} with a real directory, or run setup as {who}",
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

fn write_in(
    dir: &OwnedFd,
    name: &OsStr,
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: Option<(u32, u32)>,
) -> Result<()> {
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
        }
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(Error::io(path, e.into())),
    }

    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let pid = std::process::id();
    let mut attempts = 0;
    let (temp, fd) = loop {
        attempts += 1;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let mut temp = std::ffi::OsString::from(".");
        temp.push(name);
        temp.push(format!(".actsim-tmp.{pid}.{n}"));
        match openat(
            dir,
            temp.as_os_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        ) {
            Ok(fd) => break (temp, fd),
            Err(Errno::EEXIST) if attempts < 100 => continue,
            Err(e) => return Err(Error::io(path.with_file_name(&temp), e.into())),
        }
    };
    let mut guard = TempFile {
        dir,
        name: temp,
        armed: true,
    };
    let temp_path = path.with_file_name(&guard.name);
    let mut file = std::fs::File::from(fd);
    file.write_all(bytes).at(&temp_path)?;
    if let Some((uid, gid)) = owner {
        fchown(
            file.as_fd(),
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
        )
        .map_err(|e| Error::io(&temp_path, e.into()))?;
    }
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .at(&temp_path)?;
    file.sync_all().at(&temp_path)?;
    drop(file);
    renameat(dir, guard.name.as_os_str(), dir, name).map_err(|e| Error::io(path, e.into()))?;
    guard.armed = false;
    let parent = path.parent().unwrap_or(Path::new("/"));
    fsync(dir).map_err(|e| Error::io(parent, e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tempdir(tag: &str) -> PathBuf {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("actsim-files-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
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
        write_atomic(&path, b"one\n", 0o600, None).unwrap();
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
        write_atomic(&path, b"two\n", 0o644, None).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two\n");
        let m = std::fs::metadata(&path).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o644);
        assert_eq!(entries(&dir.join("a/b")), vec![".env"], "no temp files");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn owner_is_set_on_the_file_and_created_dirs() {
        if !is_root() {
            eprintln!("skipped: chown to another user needs root");
            return;
        }
        let dir = tempdir("owner");
        let path = dir.join("cfg/file");
        write_atomic(&path, b"x", 0o640, Some((4321, 4322))).unwrap();
        for p in [&path, &dir.join("cfg")] {
            let m = std::fs::metadata(p).unwrap();
            assert_eq!((m.uid(), m.gid()), (4321, 4322), "{}", p.display());
        }
        // The existing tempdir was not chowned.
        assert_eq!(std::fs::metadata(&dir).unwrap().uid(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_symlink_at_the_destination_is_refused_and_its_target_untouched() {
        let dir = tempdir("link");
        let target = dir.join("target");
        std::fs::write(&target, b"precious").unwrap();
        let path = dir.join("actrc");
        symlink(&target, &path).unwrap();
        let err = write_atomic(&path, b"evil", 0o644, None).unwrap_err();
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
        assert!(write_atomic(&dangling, b"x", 0o644, None).is_err());
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
        let err =
            write_atomic(&link.join("actsim/x"), b"x", 0o644, Some((4321, 4321))).unwrap_err();
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
        write_atomic(&link.join("actsim/x"), b"x", 0o644, None).unwrap();
        assert_eq!(std::fs::read(elsewhere.join("actsim/x")).unwrap(), b"x");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_directory_at_the_destination_is_refused() {
        let dir = tempdir("isdir");
        std::fs::create_dir(dir.join("x")).unwrap();
        let err = write_atomic(&dir.join("x"), b"x", 0o644, None).unwrap_err();
        assert!(err.to_string().contains("is a directory"), "{err}");
        let err = write_atomic(&dir.join("x/"), b"x", 0o644, None).unwrap_err();
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
        let err = write_atomic(&ro.join("sub/file"), b"x", 0o644, None).unwrap_err();
        let err2 = write_atomic(&ro.join("file"), b"x", 0o644, None).unwrap_err();
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
        let err = write_atomic(&dir.join("keep"), &big, 0o644, None).unwrap_err();
        let err2 = write_atomic(&dir.join("new/deeper/file"), &big, 0o644, None).unwrap_err();
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
        let written = write_beside(&path, b"ours", 0o644, None).unwrap();
        assert_eq!(written, dir.join("docker-compose.yml.actsim-new"));
        assert_eq!(std::fs::read(&path).unwrap(), b"mine");
        assert_eq!(std::fs::read(&written).unwrap(), b"ours");
        assert_eq!(read_existing(&path).unwrap().unwrap(), b"mine");
        assert_eq!(read_existing(&dir.join("absent")).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
