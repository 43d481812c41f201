//! Who actsim acts for: the target user, their groups, and where their files go.
//!
//! The target user is `--user`, else `SUDO_USER` when run through sudo, else the current
//! user. The current user's home is `$HOME`; another user's comes from the user database.
//! Group facts come from two places that can disagree: the group database (`getgrouplist`,
//! what a new login gets) and the groups the current process carries (`getgroups`, what this
//! login has now). The difference is the classic "I was added to docker but it still says
//! permission denied" case. What can go wrong: an unknown user (exit 2), a uid with no
//! entry in the user database (exit 1, pass `--user`).

use std::path::PathBuf;

use nix::unistd::{Gid, Group, Uid, User};

use crate::error::{Error, Result};
use crate::system::process::Process;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: PathBuf,
    /// The target user is the user this process runs as.
    pub is_current: bool,
}

impl TargetUser {
    /// Resolve `--user`, then `SUDO_USER` (only when running as root), then the current user.
    pub fn resolve(flag: Option<&str>, process: &Process) -> Result<Self> {
        let euid = Uid::effective();
        let name = match flag.filter(|s| !s.is_empty()) {
            Some(name) => Some(name.to_string()),
            None if euid.is_root() => process
                .var_nonempty("SUDO_USER")
                .filter(|u| *u != "root")
                .map(str::to_string),
            None => None,
        };
        let user = match &name {
            Some(name) => User::from_name(name)
                .map_err(|e| Error::failed(format!("looking up user {name}: {e}"), None))?
                .ok_or_else(|| {
                    Error::usage(
                        format!("no such user: {name}"),
                        Some("pass an existing login name with --user".to_string()),
                    )
                })?,
            None => User::from_uid(euid)
                .map_err(|e| Error::failed(format!("looking up uid {euid}: {e}"), None))?
                .ok_or_else(|| {
                    Error::failed(
                        format!("the current uid {euid} has no entry in the user database"),
                        Some("pass --user NAME".to_string()),
                    )
                })?,
        };
        let is_current = user.uid == euid;
        // The current user's `$HOME` wins over the user database, as for every XDG tool;
        // another user's home comes from the database.
        let home = match process.var_nonempty("HOME") {
            Some(h) if is_current && h.starts_with('/') => PathBuf::from(h),
            _ => user.dir,
        };
        Ok(TargetUser {
            is_current,
            name: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            home,
        })
    }

    /// Gids the group database gives this user at login (primary included).
    pub fn database_gids(&self) -> Vec<u32> {
        database_gids(&self.name, self.gid)
    }

    /// A `$XDG_*` directory of the target user: the variable only when it is the current
    /// user's environment, otherwise the XDG default under their home.
    fn xdg(&self, process: &Process, var: &str, default: &str) -> PathBuf {
        match process.var_nonempty(var) {
            Some(v) if self.is_current && v.starts_with('/') => PathBuf::from(v),
            _ => self.home.join(default),
        }
    }

    /// `$XDG_CONFIG_HOME/actsim`.
    pub fn config_dir(&self, process: &Process) -> PathBuf {
        self.xdg(process, "XDG_CONFIG_HOME", ".config")
            .join("actsim")
    }

    /// `$XDG_STATE_HOME/actsim`.
    pub fn state_dir(&self, process: &Process) -> PathBuf {
        self.xdg(process, "XDG_STATE_HOME", ".local/state")
            .join("actsim")
    }

    /// act's cache on the host: `$XDG_CACHE_HOME/act`.
    pub fn act_cache_dir(&self, process: &Process) -> PathBuf {
        self.xdg(process, "XDG_CACHE_HOME", ".cache").join("act")
    }

    /// act's config: `$XDG_CONFIG_HOME/act/actrc`.
    pub fn actrc_path(&self, process: &Process) -> PathBuf {
        self.xdg(process, "XDG_CONFIG_HOME", ".config")
            .join("act")
            .join("actrc")
    }

    /// `/usr/local/bin` when running as root, else `~/.local/bin` of the target user.
    pub fn default_bin_dir(&self) -> PathBuf {
        if Uid::effective().is_root() {
            PathBuf::from("/usr/local/bin")
        } else {
            self.home.join(".local/bin")
        }
    }
}

/// The home of the effective user from the user database (`getpwuid(geteuid())`), never
/// `$HOME`: root's own docker config and plugins come from here.
pub fn database_home() -> Option<PathBuf> {
    User::from_uid(Uid::effective())
        .ok()
        .flatten()
        .map(|u| u.dir)
}

/// A directory only root can change: root-owned, not a link, writable by nobody else. As
/// root, `$DOCKER_CONFIG` counts only when it names one.
pub fn root_only_dir(path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .is_ok_and(|m| m.is_dir() && m.uid() == 0 && m.mode() & 0o022 == 0)
}

/// Gids the group database gives `name` at login.
pub fn database_gids(name: &str, primary: u32) -> Vec<u32> {
    let Ok(cname) = std::ffi::CString::new(name) else {
        return vec![primary];
    };
    match nix::unistd::getgrouplist(&cname, Gid::from_raw(primary)) {
        Ok(gids) => gids.into_iter().map(Gid::as_raw).collect(),
        Err(_) => vec![primary],
    }
}

/// Gids this process carries now (effective gid and supplementary groups).
pub fn process_gids() -> Vec<u32> {
    let mut gids: Vec<u32> = nix::unistd::getgroups()
        .unwrap_or_default()
        .into_iter()
        .map(Gid::as_raw)
        .collect();
    gids.push(Gid::effective().as_raw());
    gids.sort_unstable();
    gids.dedup();
    gids
}

/// The group's name, or the number when it has none.
pub fn group_name(gid: u32) -> String {
    Group::from_gid(Gid::from_raw(gid))
        .ok()
        .flatten()
        .map(|g| g.name)
        .unwrap_or_else(|| gid.to_string())
}

/// The user's name, or the number when it has none.
pub fn user_name(uid: u32) -> String {
    User::from_uid(Uid::from_raw(uid))
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| uid.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn current_user_resolves_and_sudo_user_is_ignored_for_non_root() {
        let p = Process::with_vars([]);
        let me = TargetUser::resolve(None, &p).unwrap();
        assert_eq!(me.uid, Uid::effective().as_raw());
        assert!(me.is_current);
        assert!(me.database_gids().contains(&me.gid));
    }

    #[test]
    fn the_current_users_home_is_home() {
        let p = Process::with_vars([("HOME", "/tmp/actsim-elsewhere")]);
        let me = TargetUser::resolve(None, &p).unwrap();
        assert_eq!(me.home, PathBuf::from("/tmp/actsim-elsewhere"));
        assert_eq!(
            me.config_dir(&p),
            PathBuf::from("/tmp/actsim-elsewhere/.config/actsim")
        );
        // Another user's home is theirs, whatever this process's HOME says.
        let other = TargetUser::resolve(Some("nobody"), &p).unwrap();
        assert_ne!(other.home, PathBuf::from("/tmp/actsim-elsewhere"));
    }

    #[test]
    fn unknown_user_is_a_usage_error() {
        let p = Process::with_vars([]);
        let err = TargetUser::resolve(Some("actsim-no-such-user-xyz"), &p).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(err.to_string().contains("actsim-no-such-user-xyz"));
    }

    #[test]
    fn xdg_dirs_follow_the_environment_only_for_the_current_user() {
        let p = Process::with_vars([("XDG_CONFIG_HOME", "/cfg"), ("XDG_STATE_HOME", "/st")]);
        let mut u = TargetUser {
            name: "alice".into(),
            uid: 4242,
            gid: 4242,
            home: PathBuf::from("/home/alice"),
            is_current: true,
        };
        assert_eq!(u.config_dir(&p), PathBuf::from("/cfg/actsim"));
        assert_eq!(u.state_dir(&p), PathBuf::from("/st/actsim"));
        assert_eq!(u.actrc_path(&p), PathBuf::from("/cfg/act/actrc"));
        u.is_current = false;
        assert_eq!(
            u.config_dir(&p),
            PathBuf::from("/home/alice/.config/actsim")
        );
        assert_eq!(
            u.state_dir(&p),
            PathBuf::from("/home/alice/.local/state/actsim")
        );
    }
}
