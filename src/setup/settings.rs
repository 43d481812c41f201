//! Where setup's files go and for whom ([`Settings`], derived from the [`Context`]), the
//! receipts it reads and writes ([`Receipts`]), and the refusal of unsafe state dirs.
//!
//! What can go wrong: a receipt that cannot be parsed (warned about, treated as absent), a
//! receipt that cannot be saved, a state dir that is a link or someone else's (refused
//! before anything is written).

use std::path::PathBuf;
use std::time::Duration;

use crate::context::Context;
use crate::error::{Error, Result};
use crate::receipt::{self, Loaded, Receipt};
use crate::system::identity::TargetUser;
use crate::system::privsep::{Fs, Side};
use crate::ui::Ui;

/// Where things go and for whom, derived from the run's [`Context`].
#[derive(Debug, Clone)]
pub struct Settings {
    pub user: TargetUser,
    pub bin_dir: PathBuf,
    pub config_dir: PathBuf,
    /// The user's state dir: their receipt, lock and (for a bin dir of theirs) backups.
    pub state_dir: PathBuf,
    /// Root's own state dir (`/var/lib/actsim`, or `ACTSIM_SYSTEM_STATE_DIR`): records of
    /// acts in root-owned bin dirs and the hashes root verified. Used only as root.
    pub system_state_dir: PathBuf,
    /// Where act's record and backups go (see [`Records`]). As root for another user,
    /// an act in a root-owned bin dir is recorded in root's state dir, never the user's.
    pub records: Records,
    /// The home whose docker config (context) decides the endpoint: this process's own,
    /// never the target user's when root acts for them.
    pub docker_home: PathBuf,
    /// Every file operation goes through here (privilege separation).
    pub fs: Fs,
    /// `--timeout`, the deadline of each waiting step.
    pub timeout: Duration,
}

/// Which receipt records the installed act.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// The user's receipt (their own bin dir, or actsim runs as them).
    User,
    /// Root's receipt in the system state dir (root acting for another user, with a
    /// root-owned bin dir).
    System,
}

impl Settings {
    /// Derived from the run's context: the same user and paths, and how files are
    /// reached for them.
    pub fn from_context(ctx: &Context) -> Settings {
        let fs = Fs::for_user(&ctx.user);
        let records = if fs.is_separated() && fs.side(&ctx.bin_dir) == Side::Root {
            Records::System
        } else {
            Records::User
        };
        Settings {
            user: ctx.user.clone(),
            bin_dir: ctx.bin_dir.clone(),
            config_dir: ctx.config_dir.clone(),
            state_dir: ctx.state_dir.clone(),
            system_state_dir: ctx.system_state_dir.clone(),
            records,
            docker_home: ctx.docker_home.clone(),
            fs,
            timeout: ctx.timeout,
        }
    }

    /// The state dir holding act's record and backups.
    pub fn records_dir(&self) -> &std::path::Path {
        match self.records {
            Records::User => &self.state_dir,
            Records::System => &self.system_state_dir,
        }
    }
}

/// The receipts a run reads and writes.
#[derive(Debug, Clone, Default)]
pub struct Receipts {
    /// The user's: their files, and their act when it is in their bin dir.
    pub user: Receipt,
    /// Root's (only when root acts for another user): acts in root-owned bin dirs, and
    /// the hashes root verified.
    pub system: Option<Receipt>,
}

impl Receipts {
    /// Read both (root's only when root acts for another user); unusable ones count as
    /// absent, with a warning.
    pub fn load(s: &Settings, ui: &Ui) -> Receipts {
        let system =
            s.fs.is_separated()
                .then(|| load_receipt(&Fs::local(), &s.system_state_dir, ui));
        Receipts {
            user: load_receipt(&s.fs, &s.state_dir, ui),
            system,
        }
    }

    /// The receipt that records act (see [`Records`]).
    pub fn records_mut(&mut self, s: &Settings) -> &mut Receipt {
        match s.records {
            Records::User => &mut self.user,
            Records::System => self.system.get_or_insert_with(Receipt::default),
        }
    }

    /// The act record root may trust: root's own, or — as the user — the user's.
    pub fn trusted_act(&self, s: &Settings) -> Option<receipt::ActReceipt> {
        match (s.records, s.fs.is_separated()) {
            (Records::System, _) => self.system.as_ref().and_then(|r| r.act.clone()),
            (Records::User, false) => self.user.act.clone(),
            // Root for a user's own bin dir: only hashes root verified itself count.
            (Records::User, true) => None,
        }
    }

    /// Save the user's receipt.
    pub fn save_user(&self, s: &Settings) -> Result<()> {
        self.user.save(&s.fs, &s.state_dir)
    }

    /// Save the receipt that records act (and root's, when there is one).
    pub fn save_records(&self, s: &Settings) -> Result<()> {
        if let Some(system) = &self.system {
            system.save(&Fs::local(), &s.system_state_dir)?;
        }
        if s.records == Records::User {
            self.save_user(s)?;
        }
        Ok(())
    }
}

/// Read a receipt, warning when it is unusable (it is then treated as absent).
pub fn load_receipt(fs: &Fs, state_dir: &std::path::Path, ui: &Ui) -> Receipt {
    match Receipt::load(fs, state_dir) {
        Loaded::Found(r) => r,
        Loaded::Missing => Receipt::default(),
        Loaded::Corrupt(why) => {
            ui.warn(&format!("{why}; it will be rewritten"));
            Receipt::default()
        }
    }
}

/// Refuse, before anything is written, a state dir that is a link or someone else's: the
/// user's must be a directory of theirs, root's a root-owned one nobody else can write.
pub fn check_state_dirs(s: &Settings) -> Result<()> {
    let refuse = |dir: &std::path::Path, why: String| {
        Error::failed(
            format!("refusing the state dir {}: {why}", dir.display()),
            Some(format!(
                "move it away (mv {} {}.old) and run setup again",
                crate::system::process::sh_quote(&dir.display().to_string()),
                crate::system::process::sh_quote(&dir.display().to_string())
            )),
        )
    };
    if let Some(m) = s.fs.stat(&s.state_dir)? {
        if m.kind == crate::system::privsep::Kind::Link {
            return Err(refuse(&s.state_dir, "it is a symbolic link".into()));
        }
        if m.kind != crate::system::privsep::Kind::Dir {
            return Err(refuse(&s.state_dir, "it is not a directory".into()));
        }
        if m.uid != s.user.uid {
            return Err(refuse(
                &s.state_dir,
                format!(
                    "it belongs to {} (uid {}), not {}",
                    crate::system::identity::user_name(m.uid),
                    m.uid,
                    s.user.name
                ),
            ));
        }
    }
    if s.fs.is_separated() {
        match std::fs::symlink_metadata(&s.system_state_dir) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(&s.system_state_dir, "it is a symbolic link".into()));
            }
            Ok(m) if !m.is_dir() => {
                return Err(refuse(&s.system_state_dir, "it is not a directory".into()));
            }
            Ok(m)
                if {
                    use std::os::unix::fs::MetadataExt;
                    m.uid() != 0 || (m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0)
                } =>
            {
                return Err(refuse(
                    &s.system_state_dir,
                    "it must be owned by root and writable by nobody else".into(),
                ));
            }
            _ => {}
        }
    }
    Ok(())
}
