//! The one integration test binary: real daemon, real act, real sockets, users and HTTP.

mod support;

mod compose;
mod doctor;
mod download_errors;
mod env_merge;
mod fleet;
mod halves;
mod layers;
mod lifecycle;
mod lock;
mod manual;
mod output;
mod podman;
mod receipt_memory;
mod resources;
mod run;
mod run_corpus;
mod run_security;
mod run_verdicts;
mod security;
mod setup_act;
mod setup_actrc;
mod setup_compose;
mod setup_docker;
mod setup_env;
mod setup_files;
mod setup_flow;
mod setup_group;
mod setup_replan;
mod snapshots;
mod sudo_join;
mod uninstall_inverse;
