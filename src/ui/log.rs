//! Debug logs on stderr, off unless asked for: `ACTSIM_LOG` (else `RUST_LOG`) holds a level
//! (`debug`, `trace`, `info`, `warn`, `error`, `off`) for actsim, bollard and reqwest, or
//! directives `target=level,…` (`actsim=trace,hyper_util=debug`) for any crate. Lines look
//! like `[DEBUG actsim::docker::endpoint] resolved …`; stdout is never touched, so JSON
//! output stays one document.
//!
//! What can go wrong: an unknown level or directive is ignored (logs stay off for it); a
//! second `init` keeps the first logger.

use std::io::Write;

use log::{LevelFilter, Log, Metadata, Record};

use crate::system::process::Process;

/// The crates a bare level applies to.
const DEFAULT_TARGETS: [&str; 3] = ["actsim", "bollard", "reqwest"];

#[derive(Debug, Clone, PartialEq, Eq)]
struct Filter {
    /// `(target prefix, level)`, most specific first.
    directives: Vec<(String, LevelFilter)>,
}

impl Filter {
    fn parse(spec: &str) -> Filter {
        let mut directives = Vec::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('=') {
                Some((target, level)) => {
                    if let Ok(l) = level.trim().parse::<LevelFilter>() {
                        directives.push((target.trim().replace('-', "_"), l));
                    }
                }
                None => {
                    if let Ok(l) = part.parse::<LevelFilter>() {
                        directives.extend(DEFAULT_TARGETS.iter().map(|t| (t.to_string(), l)));
                    }
                }
            }
        }
        directives.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        Filter { directives }
    }

    fn level_for(&self, target: &str) -> LevelFilter {
        self.directives
            .iter()
            .find(|(t, _)| target == t || target.starts_with(&format!("{t}::")))
            .map_or(LevelFilter::Off, |(_, l)| *l)
    }

    fn max(&self) -> LevelFilter {
        self.directives
            .iter()
            .map(|(_, l)| *l)
            .max()
            .unwrap_or(LevelFilter::Off)
    }
}

struct Logger(Filter);

impl Log for Logger {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        m.level() <= self.0.level_for(m.target())
    }

    fn log(&self, r: &Record<'_>) {
        if self.enabled(r.metadata()) {
            let mut err = std::io::stderr().lock();
            // A log line carries daemon answers, paths and program output: escaped.
            let text = r.args().to_string();
            let _ = writeln!(
                err,
                "[{} {}] {}",
                r.level(),
                r.target(),
                super::escape_lines(&text)
            );
        }
    }

    fn flush(&self) {}
}

/// Install the logger when `ACTSIM_LOG` or `RUST_LOG` asks for logs.
pub fn init(process: &Process) {
    let Some(spec) = process
        .var_nonempty("ACTSIM_LOG")
        .or_else(|| process.var_nonempty("RUST_LOG"))
    else {
        return;
    };
    let filter = Filter::parse(spec);
    let max = filter.max();
    if max == LevelFilter::Off {
        return;
    }
    if log::set_boxed_logger(Box::new(Logger(filter))).is_ok() {
        log::set_max_level(max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_level_covers_actsim_bollard_and_reqwest_only() {
        let f = Filter::parse("debug");
        assert_eq!(f.level_for("actsim::docker::endpoint"), LevelFilter::Debug);
        assert_eq!(f.level_for("bollard::docker"), LevelFilter::Debug);
        assert_eq!(f.level_for("reqwest::connect"), LevelFilter::Debug);
        assert_eq!(f.level_for("hyper_util::client"), LevelFilter::Off);
        assert_eq!(f.level_for("actsimx"), LevelFilter::Off);
        assert_eq!(f.max(), LevelFilter::Debug);
    }

    #[test]
    fn directives_name_targets_and_the_most_specific_wins() {
        let f = Filter::parse("actsim=info, actsim::docker=trace,hyper-util=debug,bogus=loud");
        assert_eq!(f.level_for("actsim::setup"), LevelFilter::Info);
        assert_eq!(f.level_for("actsim::docker::client"), LevelFilter::Trace);
        assert_eq!(f.level_for("hyper_util::pool"), LevelFilter::Debug);
        assert_eq!(f.level_for("bogus"), LevelFilter::Off);
        assert_eq!(Filter::parse("off").max(), LevelFilter::Off);
        assert_eq!(Filter::parse("nonsense").max(), LevelFilter::Off);
    }
}
