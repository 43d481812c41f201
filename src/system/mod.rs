//! The lowest layer: what any part of actsim needs from the operating system, and nothing
//! about Docker or act. Running programs under a deadline ([`program`]), the captured
//! environment ([`process`]), safe bounded file access ([`files`]), users and groups
//! ([`identity`]), privilege separation ([`privsep`]), signals ([`signals`]) and the one
//! async runtime ([`runtime`]), the
//! state-dir lock ([`lock`]), the notices they give ([`progress`]) and the one redaction
//! of secrets ([`redact`]). Modules here import only each other and `error`.

pub mod files;
pub mod hash;
pub mod identity;
pub mod lock;
pub mod privsep;
pub mod process;
pub mod program;
pub mod progress;
pub mod redact;
pub mod runtime;
pub mod signals;
