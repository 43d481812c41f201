//! The one integration test binary: real daemon, real act, real sockets, users and HTTP.

mod support;

mod doctor;
mod fleet;
mod lifecycle;
mod lock;
mod manual;
mod resources;
mod run;
mod security;
mod setup_act;
mod setup_config;
mod setup_files;
