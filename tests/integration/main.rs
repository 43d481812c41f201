//! The one integration test binary: real daemon, real act, real sockets, users and HTTP.

mod support;

mod compose;
mod doctor;
mod download_errors;
mod fleet;
mod layers;
mod lifecycle;
mod lock;
mod manual;
mod output;
mod podman;
mod resources;
mod run;
mod security;
mod setup_act;
mod setup_config;
mod setup_files;
mod sudo_join;
