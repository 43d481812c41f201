//! The run's daemon: the endpoint the context resolved (once), and the connection the
//! preflight's `docker.daemon` check made when it ran, else one made now and kept in the
//! context. Every later request of the run (images, the watchdog, cleanup) uses it.
//!
//! What can go wrong: no endpoint, or no daemon answering at it (exit 1 pointing at
//! `actsim doctor`); a signal while connecting.

use std::time::Duration;

use bollard::Docker;

use super::halt::{Halt, Signals};
use crate::context::Context;
use crate::docker::endpoint::Endpoint;

/// How long connecting may take (and bollard's per-request limit of the client).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

fn doctor_hint() -> Option<String> {
    Some("actsim doctor shows what is wrong".to_string())
}

/// The endpoint and the run's client.
pub async fn connect(ctx: &Context, sigs: &mut Signals) -> Result<(Endpoint, Docker), Halt> {
    let endpoint = match ctx.endpoint() {
        Ok(e) => e.clone(),
        Err(e) => return Err(Halt::message(e.clone(), doctor_hint())),
    };
    if ctx.daemon().is_some() {
        log::debug!(
            "run: the preflight's connection to {} answered",
            endpoint.host
        );
    }
    // The run's one client (the preflight's when it connected), with the run's own
    // per-request limit, not what was left of the preflight's deadline.
    match sigs.or_stop(ctx.docker(CONNECT_TIMEOUT)).await? {
        Ok(docker) => Ok((endpoint, docker.with_timeout(CONNECT_TIMEOUT))),
        Err(e) => Err(Halt::message(
            format!("cannot reach the daemon at {}: {e}", endpoint.host),
            doctor_hint(),
        )),
    }
}
