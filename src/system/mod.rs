//! The lowest layer: what any part of actsim needs from the operating system, and nothing
//! about Docker or act. Running programs under a deadline ([`program`]), the captured
//! environment ([`process`]), safe bounded file access ([`files`]), users and groups
//! ([`identity`]), privilege separation ([`privsep`]), signals ([`signals`]), the
//! state-dir lock ([`lock`]) and the notices they give ([`progress`]). Modules here import only each other and `error`.

pub mod files;
pub mod hash;
pub mod identity;
pub mod lock;
pub mod log;
pub mod privsep;
pub mod process;
pub mod program;
pub mod progress;
pub mod signals;
