//! Progress of long work: a bar with an ETA on a terminal, plain lines every tenth of the
//! work otherwise (logs, CI, pipes).

use std::time::Duration;

use indicatif::{HumanDuration, ProgressBar, ProgressStyle};

/// One stage's progress.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
    label: String,
    unit: &'static str,
    printed_tenths: u64,
}

impl Progress {
    /// A bar for `len` units of work labelled `label` (e.g. "train", "cem").
    pub fn new(label: &str, len: u64, unit: &'static str) -> Self {
        let bar = ProgressBar::new(len).with_style(
            ProgressStyle::with_template(
                "{prefix:>8} [{bar:30}] {pos}/{len} {msg} ({elapsed}, eta {eta})",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_owned());
        Progress {
            bar,
            label: label.to_owned(),
            unit,
            printed_tenths: 0,
        }
    }

    /// Moves to `position` with a message; without a terminal, prints a line at every
    /// further tenth of the work.
    pub fn set(&mut self, position: u64, message: String) {
        self.bar.set_position(position);
        if self.bar.is_hidden() {
            let len = self.bar.length().unwrap_or(0).max(1);
            let tenths = position.min(len) * 10 / len;
            if tenths > self.printed_tenths {
                self.printed_tenths = tenths;
                let eta = self.bar.eta();
                let eta = if eta > Duration::ZERO && position < len {
                    format!(", eta {}", HumanDuration(eta))
                } else {
                    String::new()
                };
                eprintln!(
                    "{}: {position}/{len} {}{eta} {message}",
                    self.label, self.unit
                );
            }
        }
        self.bar.set_message(format!("{} {message}", self.unit));
    }

    /// Sets the amount of work (e.g. when a resumed run knows its start).
    pub fn reset(&mut self, position: u64, len: u64) {
        self.bar.set_length(len);
        self.bar.set_position(position);
        self.bar.reset_eta();
        self.printed_tenths = position * 10 / len.max(1);
    }

    /// Prints a line above the bar (or plainly without a terminal).
    pub fn say(&self, line: impl AsRef<str>) {
        if self.bar.is_hidden() {
            eprintln!("{}", line.as_ref());
        } else {
            self.bar.println(line.as_ref());
        }
    }

    /// Removes the bar.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}
