//! Progress of long work: a bar with an ETA on a terminal, plain lines every tenth of the
//! work otherwise (logs, CI, pipes); [`Reporter`] draws the runtime's events with them.

use std::time::Duration;

use indicatif::{HumanDuration, ProgressBar, ProgressStyle};
use prefrontal_agent::SuiteEvent;
use prefrontal_runtime::Event;
use prefrontal_runtime::experiment::report;
use prefrontal_worldmodel::{EvalReport, TrainEvent};

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

/// Draws the runtime's events: a bar for a collection, for training and for each
/// contender's episodes, lines for the rest (stages, probes, results).
#[derive(Debug, Default)]
pub struct Reporter {
    collect: Option<Progress>,
    train: Option<Progress>,
    /// The current contender's bar, episodes done and goals reached.
    contender: Option<(Progress, usize, usize)>,
}

impl Reporter {
    /// Draws one event.
    pub fn observe(&mut self, event: Event) {
        match event {
            Event::CollectStarted { total } => {
                self.collect = Some(Progress::new("collect", total as u64, "episodes"));
            }
            Event::Collected { done, policy } => {
                if let Some(bar) = self.collect.as_mut() {
                    bar.set(done as u64, policy.to_owned());
                }
            }
            Event::CollectFinished => {
                if let Some(bar) = self.collect.take() {
                    bar.finish();
                }
            }
            Event::Train(event) => self.train(event),
            Event::TrainFinished => {
                if let Some(bar) = self.train.take() {
                    bar.finish();
                }
            }
            Event::Suite(event) => self.suite(event),
            Event::Evaluated(summaries) => print!("{}", report::contender_table(summaries)),
            Event::RunStarted {
                experiment,
                seed,
                dir,
            } => eprintln!("== {experiment} seed {seed}: {}", dir.display()),
            Event::StageSkipped(stage) => eprintln!("{}: up to date, skipped", stage.name()),
            Event::StageStarted(_) => {}
            Event::StageFinished { stage, seconds } => {
                eprintln!("{}: done in {seconds:.1} s", stage.name())
            }
            Event::Probed(facts) => eprintln!(
                "probe: R² {:.3}, validation prediction loss {:.4} (no change {:.4})",
                facts.probe_r2, facts.loss_pred, facts.loss_no_change
            ),
            Event::RunFinished(summary) => println!("{}", summary.result_line()),
            Event::Notice(line) => self.say(line),
        }
    }

    /// A line above the training bar, or plainly.
    fn say(&self, line: String) {
        match &self.train {
            Some(bar) => bar.say(line),
            None => eprintln!("{line}"),
        }
    }

    fn train(&mut self, event: &TrainEvent) {
        let bar = self
            .train
            .get_or_insert_with(|| Progress::new("train", 0, "steps"));
        match event {
            TrainEvent::Started {
                step,
                total,
                train_windows,
                validation_windows,
            } => {
                bar.say(format!(
                    "{} at step {step} of {total}: {train_windows} training windows, {validation_windows} validation windows",
                    if *step == 0 { "training" } else { "resuming" }
                ));
                bar.reset(*step, *total);
            }
            TrainEvent::Step {
                step,
                losses,
                samples_per_s,
                ..
            } => {
                let message = format!(
                    "loss {:.4} (pred {:.4} vs no-change {:.4}, rollout {:.4}, sigreg {:.3}) {samples_per_s:.1} samples/s",
                    losses.total,
                    losses.prediction,
                    losses.no_change,
                    losses.rollout,
                    losses.sigreg
                );
                bar.set(*step, message);
            }
            TrainEvent::Evaluated(report) => bar.say(describe(report)),
            TrainEvent::Checkpointed(dir) => bar.say(format!("checkpoint {}", dir.display())),
            TrainEvent::Notice(note) => bar.say(note),
        }
    }

    fn suite(&mut self, event: SuiteEvent) {
        match event {
            SuiteEvent::Started { name, episodes } => {
                self.contender = Some((Progress::new(name, episodes as u64, "episodes"), 0, 0));
            }
            SuiteEvent::Episode { result, .. } => {
                if let Some((bar, done, reached)) = self.contender.as_mut() {
                    *done += 1;
                    *reached += usize::from(result.success);
                    bar.set(*done as u64, format!("{reached} reached"));
                }
            }
            SuiteEvent::Finished { .. } => {
                if let Some((bar, _, _)) = self.contender.take() {
                    bar.finish();
                }
            }
            SuiteEvent::Skipped { name, reason } => eprintln!("{name}: skipped ({reason})"),
        }
    }
}

/// One line per validation report.
pub fn describe(report: &EvalReport) -> String {
    let rollout: Vec<String> = report
        .rollout_error
        .iter()
        .map(|(h, e)| format!("h{h} {e:.4}"))
        .collect();
    format!(
        "step {}: val loss_pred {:.4} (no-change {:.4}), rollout {}, latent std {:.3}, eff. rank {:.1}, probe R² {:.3}",
        report.step,
        report.loss_pred,
        report.loss_no_change,
        rollout.join(" "),
        report.latent_std,
        report.effective_rank,
        report.probe.mean()
    )
}
