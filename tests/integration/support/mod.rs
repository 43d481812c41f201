//! Test support: the one test world, the fluent command builder, the shared constants,
//! report and file helpers, fixtures, fault-injection sockets, users.
//!
//! Not every test uses every helper; unused ones are fine here.
#![allow(dead_code, unused_imports)]

pub mod cmd;
pub mod compose;
pub mod consts;
pub mod dockerd;
pub mod files;
pub mod fixtures;
pub mod images;
pub mod mirror;
pub mod podman;
pub mod proxy;
pub mod pty;
pub mod report;
pub mod sockets;
pub mod temp;
pub mod tls;
pub mod users;
pub mod world;

pub use cmd::{Cmd, Outcome, actsim_for_others};
pub use consts::{SYSTEM_PATH, exit};
pub use fixtures::{require_act, require_busybox, require_daemon};
