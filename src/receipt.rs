//! `receipt.json` in the state dir: what actsim installed, so a rerun can prove nothing
//! needs doing (and doctor can report drift).
//!
//! The receipt grows by sections: each is optional with `#[serde(default)]`, and sections
//! this version does not know are kept verbatim when the receipt is rewritten. Reads and
//! writes go through [`Fs`] (bounded, regular files only; atomic writes by whoever owns
//! the directory, never through a link).
//!
//! There are two: the user's, in their state dir, which describes only the user's own
//! files (root never trusts it: the user can edit it), and root's, in the root-owned
//! system state dir (`/var/lib/actsim`), which records acts installed into root-owned
//! bin dirs, their backups, and the archive and binary hashes root verified (`verified`).
//!
//! What can go wrong: an unreadable or corrupt receipt (treated as absent, with a warning;
//! the next write replaces it), a state dir that cannot be written (exit 1 naming it).

use std::fs::File;
use std::path::{Path, PathBuf};

use crate::system::privsep::Fs;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub const FILE_NAME: &str = "receipt.json";
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Receipt {
    #[serde(default)]
    pub schema: u32,
    /// The act binary actsim installed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub act: Option<ActReceipt>,
    /// Files actsim wrote, by step id (`compose`, `env`, `actrc`), with their hashes.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub files: std::collections::BTreeMap<String, FileReceipt>,
    /// The Docker side: socket group, group change, simulator image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker: Option<DockerReceipt>,
    /// Root's record only: act releases whose archive and binary hashes root verified.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub verified: Vec<Verified>,
    /// Root's record only: the uids of the users root ran setup for, who share root's
    /// installs (an act in a root-owned bin dir, the simulator image). Uninstall for one
    /// of them removes a shared install only when no other uid is left.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<u32>,
    /// Root's record only: group memberships root's setup added, by user (what
    /// `uninstall --remove-group` for that user may take away again).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups_added: Vec<GroupAdded>,
    /// Sections written by other versions of actsim, kept as they are.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// A group membership root's setup added for a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupAdded {
    pub uid: u32,
    pub group: String,
}

/// One act release asset root downloaded and verified.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    pub version: String,
    pub asset: String,
    pub archive_sha256: String,
    pub binary_sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileReceipt {
    pub path: PathBuf,
    /// SHA-256 of the bytes actsim wrote.
    pub sha256: String,
    /// `.env` only: the values actsim wrote for the keys it owns (a value that differs
    /// from both this and the machine's is the user's own, confirmed before it goes).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub values: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DockerReceipt {
    /// `DOCKER_GID` as written to `.env`: the socket's numeric group.
    #[serde(default)]
    pub docker_gid: Option<u32>,
    /// The group the user was added to, and whether actsim added them.
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub group_added: bool,
    /// The simulator image and the act binary it holds.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub image_sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActReceipt {
    pub version: String,
    /// Release asset name (or the local archive's file name).
    pub asset: String,
    /// The URL or local file the archive came from.
    pub source: String,
    pub archive_sha256: String,
    pub binary_sha256: String,
    pub install_path: PathBuf,
    /// RFC 3339, UTC.
    pub installed_at: String,
    /// Binaries this install replaced, oldest first, with where they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replaced: Vec<Replaced>,
    /// Setup created the bin dir for it (uninstall removes it when it is empty).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub created_dir: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replaced {
    pub path: PathBuf,
    pub sha256: String,
    #[serde(default)]
    pub version: Option<String>,
    /// The copy in the state dir.
    pub backup: PathBuf,
    /// Whether actsim had installed it (false: the user's own act).
    #[serde(default)]
    pub installed_by_actsim: bool,
    pub replaced_at: String,
}

/// How loading went.
// Loaded once per run; boxing the receipt would only complicate every match.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Loaded {
    Missing,
    Found(Receipt),
    /// Present but unusable; the reason names the file.
    Corrupt(String),
}

impl Receipt {
    pub fn path(state_dir: &Path) -> PathBuf {
        state_dir.join(FILE_NAME)
    }

    pub fn load(fs: &Fs, state_dir: &Path) -> Loaded {
        let path = Self::path(state_dir);
        match fs.read(&path, crate::system::files::MAX_READ) {
            Ok(None) => Loaded::Missing,
            Err(e) => Loaded::Corrupt(format!("cannot read {}: {e}", path.display())),
            Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
                Ok(r) => Loaded::Found(r),
                Err(e) => {
                    Loaded::Corrupt(format!("{} is not a valid receipt: {e}", path.display()))
                }
            },
        }
    }

    /// Write atomically into `state_dir` (created if missing), by whoever owns it.
    pub fn save(&self, fs: &Fs, state_dir: &Path) -> Result<()> {
        let mut copy = self.clone();
        copy.schema = SCHEMA;
        let mut text = serde_json::to_vec_pretty(&copy)
            .map_err(|e| Error::failed(format!("serializing the receipt: {e}"), None))?;
        text.push(b'\n');
        fs.create_dir_all(state_dir)?;
        fs.write_atomic(&Self::path(state_dir), &text, 0o644)
    }

    /// Remember a verified release asset (newest last, one entry per version and asset).
    pub fn remember(&mut self, v: Verified) {
        self.verified
            .retain(|o| !(o.version == v.version && o.asset == v.asset));
        self.verified.push(v);
    }

    /// The verified hashes of `version`'s `asset`, if root verified them.
    pub fn verified(&self, version: &str, asset: &str) -> Option<&Verified> {
        self.verified
            .iter()
            .rfind(|v| v.version == version && v.asset == asset)
    }
}

/// fsync a directory so a rename in it survives a crash (best effort).
pub fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Now, as RFC 3339 UTC to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(tag: &str) -> PathBuf {
        let prefix = format!("actsim-receipt-{tag}-");
        let d = tempfile::Builder::new()
            .prefix(&prefix)
            .tempdir()
            .unwrap()
            .keep();
        std::fs::remove_dir(&d).unwrap();
        d
    }

    #[test]
    fn round_trip_keeps_unknown_sections() {
        let d = dir("rt");
        assert!(matches!(Receipt::load(&Fs::local(), &d), Loaded::Missing));
        let mut r = Receipt {
            act: Some(ActReceipt {
                version: "0.2.89".into(),
                asset: "act_Linux_x86_64.tar.gz".into(),
                source: "http://127.0.0.1/x".into(),
                archive_sha256: "a".repeat(64),
                binary_sha256: "b".repeat(64),
                install_path: "/tmp/bin/act".into(),
                installed_at: now_rfc3339(),
                replaced: vec![],
                created_dir: false,
            }),
            ..Default::default()
        };
        r.other
            .insert("docker_gid".into(), serde_json::json!({"gid": 105}));
        r.save(&Fs::local(), &d).unwrap();
        let Loaded::Found(back) = Receipt::load(&Fs::local(), &d) else {
            panic!("receipt not found")
        };
        assert_eq!(back.schema, SCHEMA);
        assert_eq!(back.act, r.act);
        assert_eq!(back.other["docker_gid"]["gid"], 105);
        // No temp file is left beside it.
        let names: Vec<_> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from(FILE_NAME)]);
        std::fs::write(Receipt::path(&d), "{not json").unwrap();
        match Receipt::load(&Fs::local(), &d) {
            Loaded::Corrupt(why) => assert!(why.contains(FILE_NAME), "{why}"),
            other => panic!("{other:?}"),
        }
        std::fs::remove_dir_all(&d).unwrap();
    }
}
