//! Containers a doctor run created, removed at the end whatever happened (a finished run,
//! the deadline, Ctrl-C).
//!
//! What can go wrong: a removal that fails or hangs (best effort, within a budget, so the
//! run's deadline still holds).

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Containers created by this run, removed at the end whatever happened.
#[derive(Clone, Default)]
pub struct Cleanup {
    items: Arc<Mutex<Vec<(bollard::Docker, String)>>>,
}

impl Cleanup {
    pub fn add(&self, docker: &bollard::Docker, name: &str) {
        if let Ok(mut v) = self.items.lock() {
            v.push((docker.clone(), name.to_string()));
        }
    }

    pub fn forget(&self, name: &str) {
        if let Ok(mut v) = self.items.lock() {
            v.retain(|(_, n)| n != name);
        }
    }

    /// Force-remove every container still listed, spending at most `budget`.
    pub async fn purge(&self, budget: Duration) {
        let items: Vec<_> = match self.items.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(_) => return,
        };
        let removals = items.into_iter().map(|(docker, name)| async move {
            let opts = bollard::query_parameters::RemoveContainerOptionsBuilder::default()
                .force(true)
                .v(true)
                .build();
            let _ = docker.remove_container(&name, Some(opts)).await;
        });
        let _ = tokio::time::timeout(budget, futures_util::future::join_all(removals)).await;
    }
}
