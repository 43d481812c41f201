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

use crate::error::Error;
use crate::system::process::Process;

/// `"schema"` of every JSON document actsim prints (setup, doctor, uninstall, run). Raised
/// only when a field changes meaning or goes away; new fields do not raise it.
pub const JSON_SCHEMA: u32 = 1;

/// `--format`: who reads the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum Format {
    /// Readable lines on stderr.
    #[default]
    Human,
    /// One JSON document on stdout, nothing else there.
    Json,
}

/// A check's or a job's verdict, as its mark shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Pass,
    Warn,
    Fail,
    Skip,
}

/// Whether a stream that is (`tty`) or is not a terminal gets colour, as anstream decides:
/// `NO_COLOR` (any non-empty value) turns it off; else `CLICOLOR_FORCE` (not `0`) turns it
/// on; else `CLICOLOR=0` or `TERM=dumb` turn it off; else colour only on a terminal
/// (<https://no-color.org>, <https://bixense.com/clicolors>).
pub fn colour_for(process: &Process, tty: bool) -> bool {
    if process.var_nonempty("NO_COLOR").is_some() {
        return false;
    }
    if process
        .var_nonempty("CLICOLOR_FORCE")
        .is_some_and(|v| v != "0")
    {
        return true;
    }
    if process.var("CLICOLOR") == Some("0") || process.var("TERM") == Some("dumb") {
        return false;
    }
    tty
}

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
        // Human output goes to stderr: its colour is decided by stderr alone.
        let color = colour_for(process, process.stderr_tty);
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
            // console would decide by stdout being a terminal; the decision is ours.
            s.force_styling(true)
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

    pub fn mark(&self, mark: Mark) -> String {
        let (text, style) = match mark {
            Mark::Pass => ("✓", Style::new().green()),
            Mark::Warn => ("!", Style::new().yellow().bold()),
            Mark::Fail => ("✗", Style::new().red().bold()),
            Mark::Skip => ("-", Style::new().dim()),
        };
        self.style(style).apply_to(text).to_string()
    }

    /// Whether human lines are printed (human format).
    pub fn is_human(&self) -> bool {
        self.human()
    }

    /// A raw line on stderr (human format only), for renderers of other modules.
    pub fn line(&self, text: &str) {
        if self.human() {
            self.eprint(text);
        }
    }

    /// `text` dimmed on a colour terminal.
    pub fn dim(&self, text: &str) -> String {
        self.style(Style::new().dim()).apply_to(text).to_string()
    }

    /// `text` in cyan on a colour terminal (fix arrows, hints).
    pub fn cyan(&self, text: &str) -> String {
        self.style(Style::new().cyan()).apply_to(text).to_string()
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

impl crate::system::progress::Meter for Progress {
    fn inc(&self, n: u64) {
        Progress::inc(self, n)
    }
    fn finish(&self) {
        Progress::finish(self)
    }
}

/// The lower layers' notices ([`crate::system::progress`]) shown like any other line.
impl crate::system::progress::Progress for Ui {
    fn info(&self, text: &str) {
        Ui::info(self, text)
    }
    fn warn(&self, text: &str) {
        Ui::warn(self, text)
    }
    fn meter(&self, label: &str, total: Option<u64>) -> Box<dyn crate::system::progress::Meter> {
        Box::new(self.progress(label, total))
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.finish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_no_color_then_clicolor_force_then_clicolor_then_the_terminal() {
        let p = |vars: &[(&str, &str)]| Process::with_vars(vars.iter().copied());
        assert!(colour_for(&p(&[]), true));
        assert!(!colour_for(&p(&[]), false));
        assert!(!colour_for(&p(&[("NO_COLOR", "1")]), true));
        assert!(
            colour_for(&p(&[("NO_COLOR", "")]), true),
            "an empty NO_COLOR is unset"
        );
        assert!(colour_for(&p(&[("CLICOLOR_FORCE", "1")]), false));
        assert!(!colour_for(&p(&[("CLICOLOR_FORCE", "0")]), false));
        assert!(!colour_for(
            &p(&[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]),
            false
        ));
        assert!(!colour_for(&p(&[("CLICOLOR", "0")]), true));
        assert!(colour_for(
            &p(&[("CLICOLOR", "0"), ("CLICOLOR_FORCE", "1")]),
            false
        ));
        assert!(!colour_for(&p(&[("TERM", "dumb")]), true));
    }
}
