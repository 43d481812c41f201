//! `actsim lock`: the command line → [`LockOptions`], the lock built on the runtime and
//! written, each platform's line printed; errors end it (2 for a bad option, 4
//! for a failed download or checksum, 130/143 when interrupted).

use std::time::Duration;

use tokio::time::Instant;

use super::{Exit, Runtime};
use crate::act::lockfile::{self, LockOptions};
use crate::cli::LockArgs;
use crate::error::{Error, Result};
use crate::system::process::Process;
use crate::ui::{Format, Ui};

fn options(args: LockArgs) -> LockOptions {
    LockOptions {
        act_version: args.act_version,
        act_base_url: args.act_base_url,
        act_archive: args.act_archive,
        act_checksums: args.act_checksums,
        platform: args.platform,
        record_mirror_url: args.record_mirror_url,
        output: args.output,
        timeout: Duration::from_secs(args.timeout),
        ca_cert: args.ca_cert,
        allow_http: args.allow_http,
    }
}

/// Entry point of `actsim lock`.
pub fn main(args: LockArgs, process: &Process, runtime: &Runtime) -> Result<Exit> {
    let ui = Ui::new(process, Format::Human, false, false);
    let opts = options(args);
    let req = lockfile::lock_request(&opts, process)?;
    let deadline = Instant::now() + req.timeout;
    let lock = runtime.until_stopped(async {
        tokio::time::timeout_at(deadline, lockfile::build_lock(&req, &ui, deadline))
            .await
            .unwrap_or_else(|_| {
                Err(Error::Download {
                    url: req.base_url.clone(),
                    reason: format!("not finished within {}s (--timeout)", req.timeout.as_secs()),
                    hint: Some("check the network or the mirror, or raise --timeout".into()),
                })
            })
    })?;
    lockfile::write(&req.output, &lock)?;
    for (platform, entry) in &lock.platforms {
        ui.step(
            "locked",
            platform,
            &format!(
                "{} archive {}… binary {}…",
                entry.asset,
                &entry.archive_sha256[..12],
                &entry.binary_sha256[..12]
            ),
        );
    }
    let n = lock.platforms.len();
    ui.info(&format!(
        "wrote {} (act {}, {n} platform{})",
        req.output.display(),
        lock.act_version,
        if n == 1 { "" } else { "s" }
    ));
    Ok(Exit::Ok)
}
