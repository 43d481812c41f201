//! How the lower layers tell the user what is going on without knowing how it is shown:
//! a waiting lock, a retried download, a progress bar. The output layer (`ui::Ui`)
//! implements [`Progress`]; tests and quiet callers pass [`Silent`].
//!
//! Nothing here can fail: a notice that cannot be shown is dropped.

/// Where notices and progress of a long stage go.
pub trait Progress: Send + Sync {
    /// An informational line (`waiting for another actsim setup …`, `retrying in 1.0s …`).
    fn info(&self, text: &str);
    /// A warning the user should read even when quiet.
    fn warn(&self, text: &str);
    /// A meter for a stage of `total` bytes (unknown when `None`), labelled `label`.
    fn meter(&self, label: &str, total: Option<u64>) -> Box<dyn Meter>;
}

/// Counts a stage's progress; finished when dropped at the latest.
pub trait Meter: Send {
    fn inc(&self, n: u64);
    fn finish(&self);
}

/// Shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Meter for Silent {
    fn inc(&self, _: u64) {}
    fn finish(&self) {}
}

impl Progress for Silent {
    fn info(&self, _: &str) {}
    fn warn(&self, _: &str) {}
    fn meter(&self, _: &str, _: Option<u64>) -> Box<dyn Meter> {
        Box::new(Silent)
    }
}
