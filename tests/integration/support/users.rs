//! Temporary users and groups with unique names (`asim<pid>g<n>`, `asim<pid>u<n>`), created
//! with `groupadd` / `useradd -m` and removed (`userdel -r`, `groupdel`) when dropped.
//! Never touches an existing group such as `docker`.
//!
//! What can go wrong: not root (the tests need it: skip or, under CI, fail), or another
//! process holding the passwd lock (retried until a deadline).

use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicUsize = AtomicUsize::new(0);
/// useradd/groupadd of parallel tests in this process take turns.
static LOCK: Mutex<()> = Mutex::new(());

/// `true` when running as root (needed to create users); else skip or, under CI, panic.
pub fn require_root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        true
    } else {
        super::fixtures::skip("creating temporary users and groups needs root")
    }
}

fn unique_name(kind: char) -> String {
    loop {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("asim{}{kind}{n}", std::process::id());
        assert!(name.len() < 32, "name {name} is too long");
        let taken = nix::unistd::User::from_name(&name).ok().flatten().is_some()
            || nix::unistd::Group::from_name(&name)
                .ok()
                .flatten()
                .is_some();
        if !taken {
            return name;
        }
    }
}

/// Run a user-database tool, retrying while another process holds the lock (exit 10 for
/// groupadd/useradd "cannot lock", 1 with "lock" in the message) for up to 30 s.
fn admin(program: &str, args: &[&str]) -> Result<(), String> {
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = Command::new(program)
            .args(args)
            .output()
            .map_err(|e| format!("running {program}: {e}"))?;
        if out.status.success() {
            return Ok(());
        }
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if err.contains("lock") && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        }
        return Err(format!(
            "{program} {}: {}: {}",
            args.join(" "),
            out.status,
            err.trim()
        ));
    }
}

/// A temporary group.
pub struct TempGroup {
    pub name: String,
    pub gid: u32,
}

impl TempGroup {
    pub fn new() -> TempGroup {
        let name = unique_name('g');
        admin("groupadd", &[&name]).unwrap_or_else(|e| panic!("{e}"));
        let gid = nix::unistd::Group::from_name(&name)
            .unwrap()
            .unwrap_or_else(|| panic!("group {name} missing right after groupadd"))
            .gid
            .as_raw();
        TempGroup { name, gid }
    }
}

impl Drop for TempGroup {
    fn drop(&mut self) {
        if let Err(e) = admin("groupdel", &[&self.name]) {
            eprintln!("cleanup: {e}");
        }
    }
}

/// A temporary user with a home directory and a personal primary group.
pub struct TempUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: std::path::PathBuf,
}

impl TempUser {
    pub fn new() -> TempUser {
        TempUser::with_groups(&[])
    }

    /// A user whose `/etc/group` entries list them in `groups`.
    pub fn with_groups(groups: &[&TempGroup]) -> TempUser {
        let name = unique_name('u');
        let list: Vec<&str> = groups.iter().map(|g| g.name.as_str()).collect();
        let joined = list.join(",");
        let mut args = vec!["-m", "-U", "-s", "/bin/sh"];
        if !list.is_empty() {
            args.extend(["-G", &joined]);
        }
        args.push(&name);
        admin("useradd", &args).unwrap_or_else(|e| panic!("{e}"));
        let u = nix::unistd::User::from_name(&name)
            .unwrap()
            .unwrap_or_else(|| panic!("user {name} missing right after useradd"));
        TempUser {
            uid: u.uid.as_raw(),
            gid: u.gid.as_raw(),
            home: u.dir,
            name,
        }
    }

    /// `usermod -aG group user` (what a fix tells the user to run).
    pub fn add_to(&self, group: &TempGroup) {
        admin("usermod", &["-aG", &group.name, &self.name]).unwrap_or_else(|e| panic!("{e}"));
    }
}

impl Drop for TempUser {
    fn drop(&mut self) {
        // -f: remove even if a stray process of the test is still around.
        if let Err(e) = admin("userdel", &["-r", "-f", &self.name]) {
            // userdel exits 12 when only the mail spool was missing; the user is gone.
            if nix::unistd::User::from_name(&self.name)
                .ok()
                .flatten()
                .is_some()
            {
                eprintln!("cleanup: {e}");
            }
        }
        // The personal group normally goes with the user; make sure.
        if nix::unistd::Group::from_name(&self.name)
            .ok()
            .flatten()
            .is_some()
        {
            let _ = admin("groupdel", &[&self.name]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_temp_users_and_groups_come_and_go() {
        if !require_root() {
            return;
        }
        let g = TempGroup::new();
        let u = TempUser::with_groups(&[&g]);
        let (uname, gname, home) = (u.name.clone(), g.name.clone(), u.home.clone());
        assert!(home.is_dir(), "useradd -m made no home");
        let gids = actsim::system::identity::database_gids(&u.name, u.gid);
        assert!(gids.contains(&g.gid), "{gids:?} lacks {}", g.gid);
        drop(u);
        drop(g);
        assert!(nix::unistd::User::from_name(&uname).unwrap().is_none());
        assert!(nix::unistd::Group::from_name(&gname).unwrap().is_none());
        assert!(!home.exists(), "userdel -r left {}", home.display());
    }
}
