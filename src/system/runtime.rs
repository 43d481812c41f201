//! The one async runtime of the process ([`Runtime`]), built by `lib::main` on first use,
//! and running a future until it ends or a signal stops it ([`Runtime::until_stopped`]).
//!
//! What can go wrong: the runtime cannot be built (an [`Error::Failed`], exit 1).

use std::future::Future;
use std::time::Duration;

use crate::error::{Error, Result};

/// The one async runtime of the process, built on first use: `doctor` for another user
/// drops to them before, while no other thread exists.
#[derive(Default)]
pub struct Runtime(std::cell::OnceCell<tokio::runtime::Runtime>);

impl Runtime {
    fn get(&self) -> Result<&tokio::runtime::Runtime> {
        if let Some(rt) = self.0.get() {
            return Ok(rt);
        }
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| Error::failed(format!("cannot start the async runtime: {e}"), None))?;
        Ok(self.0.get_or_init(|| rt))
    }

    /// Run `f` to its end.
    pub fn block_on<F: Future>(&self, f: F) -> Result<F::Output> {
        Ok(self.get()?.block_on(f))
    }

    /// Run `f` until it ends or SIGINT, SIGTERM or SIGHUP stops it ([`Error::Interrupted`];
    /// `f` is dropped, so its guards clean up).
    pub fn until_stopped<T>(&self, f: impl Future<Output = Result<T>>) -> Result<T> {
        self.get()?.block_on(async {
            tokio::select! {
                r = f => r,
                stop = crate::system::signals::stopped() => Err(Error::Interrupted(stop)),
            }
        })
    }

    /// End the runtime without waiting long for what still runs: a prompt thread waiting
    /// for a key after Ctrl-C, a blocking check or hash past its deadline.
    pub fn shutdown(self) {
        if let Some(rt) = self.0.into_inner() {
            rt.shutdown_timeout(Duration::from_millis(200));
        }
    }
}
