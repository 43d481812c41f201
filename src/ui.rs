//! All terminal output goes through here.
//!
//! Human text goes to stderr; `--format json` puts exactly one JSON document on stdout and
//! nothing else there. Colour is used only on a terminal and never with `NO_COLOR`; progress
//! bars only on a terminal, a plain line per stage otherwise.
//! What can go wrong: a closed stdout or stderr; writes are best effort and never panic.

use std::io::Write;
use std::time::Duration;

use console::Style;
use serde::Serialize;

use crate::cli::Format;
use crate::doctor::{Finding, Status};
use crate::error::Error;
use crate::process::Process;

/// `"schema"` of every JSON document actsim prints (setup, doctor, uninstall, run). Raised
/// only when a field changes meaning or goes away; new fields do not raise it.
pub const JSON_SCHEMA: u32 = 1;

#[derive(Debug, Clone)]
pub struct Ui {
    pub format: Format,
    pub color: bool,
    pub verbose: bool,
    pub quiet: bool,
    /// Progress bars allowed (stderr is a terminal and human output).
    pub bars: bool,
}

impl Ui {
    pub fn new(process: &Process, format: Format, verbose: bool, quiet: bool) -> Self {
        let color = process.stderr_tty
            && process.var("NO_COLOR").is_none_or(str::is_empty)
            && process.var("TERM") != Some("dumb");
        Ui {
            format,
            color,
            verbose,
            quiet,
            bars: process.stderr_tty && format == Format::Human && !quiet,
        }
    }

    /// A plain UI for tests and internal use: human, no colour, no bars.
    pub fn plain() -> Self {
        Ui {
            format: Format::Human,
            color: false,
            verbose: false,
            quiet: false,
            bars: false,
        }
    }

    fn human(&self) -> bool {
        self.format == Format::Human
    }

    fn style(&self, s: Style) -> Style {
        if self.color {
            s
        } else {
            Style::new().force_styling(false)
        }
    }

    fn eprint(&self, text: &str) {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "{text}");
    }

    /// An informational line (human format, not `-q`).
    pub fn info(&self, text: &str) {
        if self.human() && !self.quiet {
            self.eprint(text);
        }
    }

    /// A line printed in human format even with `-q` (status and summary lines).
    pub fn always(&self, text: &str) {
        if self.human() {
            self.eprint(text);
        }
    }

    /// A heading line, bold on a terminal.
    pub fn heading(&self, text: &str) {
        if self.human() && !self.quiet {
            self.eprint(&self.style(Style::new().bold()).apply_to(text).to_string());
        }
    }

    /// A warning: on stderr in every format (JSON owns only stdout), even with `-q`.
    pub fn warn(&self, text: &str) {
        let tag = self
            .style(Style::new().yellow().bold())
            .apply_to("warning:");
        self.eprint(&format!("{tag} {text}"));
    }

    /// A fatal error with its hint. Always printed to stderr, in every format, so a script
    /// reading JSON from stdout still sees why.
    pub fn error(&self, err: &Error) {
        let tag = self.style(Style::new().red().bold()).apply_to("error:");
        self.eprint(&format!("{tag} {err}"));
        if let Some(hint) = err.hint() {
            let tag = self.style(Style::new().cyan()).apply_to("hint:");
            self.eprint(&format!("{tag} {hint}"));
        }
    }

    /// Write one JSON document to stdout.
    pub fn json<T: Serialize>(&self, value: &T) {
        let mut out = std::io::stdout().lock();
        let _ = serde_json::to_writer_pretty(&mut out, value);
        let _ = writeln!(out);
        let _ = out.flush();
    }

    pub fn mark(&self, status: Status) -> String {
        let (mark, style) = match status {
            Status::Pass => ("✓", Style::new().green()),
            Status::Warn => ("!", Style::new().yellow().bold()),
            Status::Fail => ("✗", Style::new().red().bold()),
            Status::Skip => ("-", Style::new().dim()),
        };
        self.style(style).apply_to(mark).to_string()
    }

    /// One line per check, fixes under a warn or fail, details with `-v`, a summary line.
    pub fn findings(&self, findings: &[Finding]) {
        if !self.human() {
            return;
        }
        let width = findings.iter().map(|f| f.id.len()).max().unwrap_or(0);
        for f in findings {
            let problem = matches!(f.status, Status::Warn | Status::Fail);
            if self.quiet && !problem {
                continue;
            }
            self.eprint(&format!(
                "{} {:width$}  {}",
                self.mark(f.status),
                f.id,
                f.summary
            ));
            if self.verbose {
                self.eprint(&format!(
                    "      {}",
                    self.style(Style::new().dim())
                        .apply_to(format!("took {} ms", f.duration_ms))
                ));
            }
            if self.verbose && !f.detail.is_empty() {
                for line in f.detail.lines() {
                    self.eprint(&format!(
                        "      {}",
                        self.style(Style::new().dim()).apply_to(line)
                    ));
                }
            }
            if problem {
                for fix in &f.fix {
                    let arrow = self.style(Style::new().cyan()).apply_to("→");
                    self.eprint(&format!("    {arrow} {fix}"));
                }
            }
        }
        self.eprint(&summary_line(findings));
    }

    /// A setup step line: `changed  act  installed act 0.2.89 …`.
    pub fn step(&self, status: &str, id: &str, summary: &str) {
        if !self.human() {
            return;
        }
        let style = match status {
            "ok" => Style::new().green(),
            "changed" => Style::new().cyan().bold(),
            "skipped" => Style::new().dim(),
            _ => Style::new().red().bold(),
        };
        if self.quiet && status != "failed" {
            return;
        }
        let tag = self.style(style).apply_to(format!("{status:>7}"));
        self.eprint(&format!("{tag}  {id:<9} {summary}"));
    }

    /// A progress reporter for a download or other long stage.
    pub fn progress(&self, label: &str, total: Option<u64>) -> Progress {
        if self.bars {
            let bar = match total {
                Some(n) => indicatif::ProgressBar::new(n),
                None => indicatif::ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
            } else {
                "{spinner} {msg} {bytes} {bytes_per_sec}"
            };
            if let Ok(style) = indicatif::ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            Progress { bar: Some(bar) }
        } else {
            self.info(&format!("{label} ..."));
            Progress { bar: None }
        }
    }
}

/// Drives a progress bar on a terminal; silent otherwise (the stage line was printed).
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    /// A reporter that shows nothing.
    pub fn hidden() -> Self {
        Progress { bar: None }
    }

    pub fn set_total(&self, total: u64) {
        if let Some(b) = &self.bar {
            b.set_length(total);
        }
    }

    pub fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Restart from zero (a retry).
    pub fn reset(&self) {
        if let Some(b) = &self.bar {
            b.reset();
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `No problems found (5 passed, 1 warning, 2 skipped).` — or how many checks failed.
pub fn summary_line(findings: &[Finding]) -> String {
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    let (pass, warn, fail, skip) = (
        count(Status::Pass),
        count(Status::Warn),
        count(Status::Fail),
        count(Status::Skip),
    );
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let tally = format!(
        "{pass} passed, {}, {fail} failed, {skip} skipped",
        plural(warn, "warning")
    );
    if fail == 0 {
        format!("No problems found ({tally}).")
    } else {
        format!("{} ({tally}).", plural(fail, "check") + " failed")
    }
}
