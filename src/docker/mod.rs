//! Everything about the Docker side: where the daemon is, how to talk to it, local images.
//! What can go wrong is told in each module.

pub mod client;
pub mod detect;
pub mod endpoint;
pub mod engine;
pub mod image;
