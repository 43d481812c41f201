//! The constants the tests share, in one place: taken from the crate wherever the crate
//! has them (check ids, step ids, exit codes, file names, labels), so a test never holds
//! a copy that can drift. The only literal here is the PATH every run gets after its bin
//! dir, which the crate does not own.
//!
//! When the crate's lists change shape (a `CheckId` or `StepId` enum with `ALL`), only the
//! one line of the matching function below changes.
//!
//! What can go wrong: nothing at run time; a renamed crate constant fails the build here.

/// The process exit codes (`exit::OK`, `exit::FAILED`, `exit::PRIVILEGE`, …).
pub use actsim::error::exit;

/// Directories every run gets on PATH after the bin dir (act is in none of them).
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Every doctor check id, in report order.
pub fn check_ids() -> Vec<&'static str> {
    actsim::doctor::CheckId::ALL
        .iter()
        .map(|c| c.as_str())
        .collect()
}

/// Every setup step id, in report order.
pub fn step_ids() -> Vec<&'static str> {
    actsim::setup::steps::StepId::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// Every uninstall step id, in report order.
pub fn uninstall_step_ids() -> Vec<&'static str> {
    actsim::uninstall::UninstallStep::ALL
        .iter()
        .map(|s| s.as_str())
        .collect()
}

/// The runner labels actrc maps to the platform image.
pub const LABELS: [&str; 3] = actsim::render::PLATFORM_LABELS;

/// The receipt's file name in the state dir.
pub const RECEIPT: &str = actsim::receipt::FILE_NAME;

/// The simulator image setup builds for the mirror's act version.
pub fn simulator_image() -> String {
    actsim::render::image_for(super::mirror::VERSION)
}
