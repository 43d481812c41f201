//! Everything about act itself: releases, download and verification, atomic install.
//!
//! [`release`] holds the pure release-layout rules, [`download`] the HTTP side (retries,
//! URL policy, streaming), [`install`] the one-pass extraction and the atomic install.

pub mod download;
pub mod install;
pub mod lockfile;
pub mod release;

/// The act version installed when `--act-version` is not given.
pub const DEFAULT_VERSION: &str = "0.2.89";
