//! Everything about the Docker side: where the daemon is, how to talk to it, local images.

pub mod client;
pub mod endpoint;
pub mod image;
