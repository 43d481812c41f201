//! The lowest layer: what any part of actsim needs from the operating system, and nothing
//! about Docker or act. Running programs under a deadline ([`program`]), the captured
//! environment ([`process`]), safe bounded file access ([`files`]), users and groups
//! ([`identity`]), privilege separation ([`privsep`]), signals ([`signals`]) and the one
//! async runtime ([`runtime`]), the
//! state-dir lock ([`lock`]), the notices they give ([`progress`]) and the one redaction
//! of secrets ([`redact`]). Modules here import only each other and `error`.

pub mod files;
pub mod halves;
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

/// An enum of named variants, each name a contract (the output's and the JSON's id):
/// the enum with serde through the names, `ALL` (declaration order), `as_str`, `parse`
/// and `Display`.
#[macro_export]
macro_rules! named_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident {
        $($(#[$vmeta:meta])* $variant:ident = $text:expr,)*
    }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize,
        )]
        $vis enum $name {
            $($(#[$vmeta])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// Every variant, in declaration order.
            pub const ALL: [$name; [$($text),*].len()] = [$($name::$variant),*];

            /// The variant's name.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)*
                }
            }

            /// The variant named `name`, if any.
            pub fn parse(name: &str) -> Option<$name> {
                $name::ALL.into_iter().find(|v| v.as_str() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
