//! Everything about act itself: releases, download and verification, atomic install.

/// The act version installed when `--act-version` is not given.
pub const DEFAULT_VERSION: &str = "0.2.89";
