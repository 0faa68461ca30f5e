//! What a run found: `probe.json`, `summary.json`, `report.md`, the HParams view of an
//! experiment and the comparison table of several runs.

use std::collections::BTreeMap;
use std::path::Path;

use prefrontal_agent::eval::{EvalSummary, wilson_interval};
use prefrontal_board::HParam;
use prefrontal_worldmodel::EvalReport;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::RuntimeError;
use crate::experiment::spec::Experiment;

/// The final checkpoint on validation episodes (`probe.json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeFacts {
    /// Optimiser steps of the checkpoint.
    pub step: u64,
    /// Teacher-forced one-step prediction loss.
    pub loss_pred: f64,
    /// The same loss for predicting "no change".
    pub loss_no_change: f64,
    /// Open-loop rollout error by horizon in model steps (1, 5, 10).
    pub rollout_error: BTreeMap<usize, f64>,
    /// Mean per-dimension standard deviation of the latents.
    pub latent_std: f64,
    /// Effective rank of the latents.
    pub effective_rank: f64,
    /// Mean validation R² of the linear probe to positions.
    pub probe_r2: f64,
    /// R² per probed state component.
    pub probe: BTreeMap<String, f64>,
}

impl ProbeFacts {
    /// The facts of a probe report, as `probe.json` stores them; an error naming `checkpoint`
    /// when a metric is not finite.
    pub fn of(report: &EvalReport, checkpoint: &Path) -> Result<ProbeFacts, RuntimeError> {
        let facts = ProbeFacts {
            step: report.step,
            loss_pred: report.loss_pred,
            loss_no_change: report.loss_no_change,
            rollout_error: report.rollout_error.iter().map(|(h, e)| (*h, *e)).collect(),
            latent_std: report.latent_std,
            effective_rank: report.effective_rank,
            probe_r2: report.probe.mean(),
            probe: report.probe.per_target.iter().cloned().collect(),
        };
        let text = facts.to_json();
        if text.contains("null") {
            return Err(RuntimeError::invalid(format!(
                "the probe of {} gave a non-finite metric (NaN or infinity; written as null): {text}",
                checkpoint.display()
            )));
        }
        Ok(facts)
    }

    /// `probe.json`'s text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("facts serialise")
    }
}

/// What the data stage produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataFacts {
    /// The dataset folder.
    pub dataset: String,
    /// Episodes.
    pub episodes: usize,
    /// Actions recorded.
    pub steps: usize,
    /// Episodes that ended at their goal.
    pub successes: usize,
    /// Policies that acted.
    pub policies: Vec<String>,
}

/// The evaluation protocol a success rate belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProtocolFacts {
    /// Start/goal pairs, the same for every contender.
    pub episodes: usize,
    /// The seed their sequence was drawn from (offset for the run seed).
    pub seed: u64,
    /// How goals are picked.
    pub goals: String,
    /// Simulator steps an episode may take.
    pub step_limit: u32,
}

/// `summary.json`: the final metrics of one run seed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// The experiment's name.
    pub experiment: String,
    /// The run seed.
    pub seed: u64,
    /// The scene's name.
    pub scene: String,
    /// The evaluation protocol.
    pub protocol: ProtocolFacts,
    /// The agent's contender name (`cem`, `mppi`, `gd`).
    pub agent: String,
    /// What the world model reads besides actions (`pixels`, `pixels + proprioception`);
    /// empty in summaries written before it was recorded.
    #[serde(default)]
    pub inputs: String,
    /// The agent first, then the baselines.
    pub contenders: Vec<EvalSummary>,
    /// The world model on validation episodes.
    pub world_model: ProbeFacts,
    /// Wall-clock seconds of training (over all sessions, resumed ones included).
    pub training_wall_s: f64,
    /// The data.
    pub data: DataFacts,
}

impl RunSummary {
    /// The agent's evaluation.
    pub fn agent(&self) -> &EvalSummary {
        &self.contenders[0]
    }

    /// One line: the agent against its baselines.
    pub fn result_line(&self) -> String {
        let tallies: Vec<(String, usize, usize)> = self
            .contenders
            .iter()
            .map(|c| (c.name.clone(), c.successes, c.episodes))
            .collect();
        format!(
            "{} seed {} ({}): {}; probe R² {:.3}, {:.0} ms planning per action",
            self.experiment,
            self.seed,
            self.inputs,
            versus_line(&tallies),
            self.world_model.probe_r2,
            self.agent().plan_ms_per_action,
        )
    }

    /// `report.md`: what ran, on which protocol, and what it found; `stage_seconds` are
    /// the wall times of the stages.
    pub fn markdown(&self, experiment: &Experiment, stage_seconds: &[(&str, f64)]) -> String {
        let mut out = format!("# {} — seed {}\n\n", self.experiment, self.seed);
        if !experiment.description.is_empty() {
            out += &format!("{}\n\n", experiment.description);
        }
        out += &format!(
            "Scene `{}`; data in `{}` ({} episodes, {} steps; {} episodes reached the goal; policies {}).\n\n",
            self.scene,
            self.data.dataset,
            self.data.episodes,
            self.data.steps,
            self.data.successes,
            self.data.policies.join(", ")
        );
        out += &format!(
            "## Planning\n\nProtocol: {} start/goal pairs ({}), episode seed {}, at most {} simulator steps; the same pairs for every contender.\n\n",
            self.protocol.episodes,
            self.protocol.goals,
            self.protocol.seed,
            self.protocol.step_limit
        );
        out += &contender_table(&self.contenders);
        let w = &self.world_model;
        let rollout: Vec<String> = w
            .rollout_error
            .iter()
            .map(|(h, e)| format!("h{h} {e:.4}"))
            .collect();
        out += &format!(
            "\n## World model\n\nInputs: {} and actions. After {} steps ({:.0} s of training): validation prediction loss {:.4} against {:.4} for \"no change\"; open-loop rollout error {}; latent std {:.3}, effective rank {:.1}; probe R² {:.3} (",
            self.inputs,
            w.step,
            self.training_wall_s,
            w.loss_pred,
            w.loss_no_change,
            rollout.join(", "),
            w.latent_std,
            w.effective_rank,
            w.probe_r2
        );
        let probes: Vec<String> = w
            .probe
            .iter()
            .map(|(name, r2)| format!("{name} {r2:.3}"))
            .collect();
        out += &format!("{}).\n\n## Stages\n\n", probes.join(", "));
        out += "| stage | wall time (s) |\n|---|---:|\n";
        for (stage, seconds) in stage_seconds {
            out += &format!("| {stage} | {seconds:.1} |\n");
        }
        out += "\nThe resolved experiment is `experiment.ron` beside this file; `prefrontal run` on it repeats this run.\n";
        out
    }
}

/// Successes of episodes, the rate and its Wilson 95% interval: `k/n{unit} (p%, 95% CI lo–hi%)`.
pub fn success_text(successes: usize, episodes: usize, unit: &str) -> String {
    let (low, high) = wilson_interval(successes, episodes);
    format!(
        "{successes}/{episodes}{unit} ({:.0}%, 95% CI {:.0}–{:.0}%)",
        100.0 * successes as f64 / episodes.max(1) as f64,
        100.0 * low,
        100.0 * high
    )
}

/// Each contender's successes and episodes summed over `runs`, in the order contenders
/// first appear (the agent first): `(name, successes, episodes)`.
pub fn tallies<'a>(runs: impl IntoIterator<Item = &'a RunSummary>) -> Vec<(String, usize, usize)> {
    let mut tallies: Vec<(String, usize, usize)> = Vec::new();
    for run in runs {
        for c in &run.contenders {
            match tallies.iter_mut().find(|(name, _, _)| *name == c.name) {
                Some((_, k, n)) => {
                    *k += c.successes;
                    *n += c.episodes;
                }
                None => tallies.push((c.name.clone(), c.successes, c.episodes)),
            }
        }
    }
    tallies
}

/// The first contender's success against the others': `(name, successes, episodes)` each.
pub fn versus_line(tallies: &[(String, usize, usize)]) -> String {
    let (name, successes, episodes) = &tallies[0];
    let others: Vec<String> = tallies[1..]
        .iter()
        .map(|(name, k, n)| format!("{name} {k}/{n}"))
        .collect();
    format!(
        "{name} reached {}{}",
        success_text(*successes, *episodes, " goals"),
        if others.is_empty() {
            String::new()
        } else {
            format!(" vs {}", others.join(", "))
        }
    )
}

/// A Markdown table of contenders.
pub fn contender_table(contenders: &[EvalSummary]) -> String {
    let mut out = String::from(
        "| contender | success | 95% CI | final distance | steps to success | ms per plan | planning ms per action |\n|---|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in contenders {
        let steps = c
            .steps_to_success
            .map_or_else(|| "–".to_owned(), |s| format!("{s:.1}"));
        // Baselines that never plan show a dash, not 0 ms.
        let (per_plan, per_action) = if c.plan_ms > 0.0 {
            (
                format!("{:.1}", c.plan_ms),
                format!("{:.1}", c.plan_ms_per_action),
            )
        } else {
            ("–".to_owned(), "–".to_owned())
        };
        out += &format!(
            "| {} | {}/{} ({:.0}%) | {:.0}–{:.0}% | {:.3} | {steps} | {per_plan} | {per_action} |\n",
            c.name,
            c.successes,
            c.episodes,
            100.0 * c.success_rate,
            100.0 * c.success_ci95.0,
            100.0 * c.success_ci95.1,
            c.final_distance
        );
    }
    out
}

/// The experiment's hyper-parameters for TensorBoard's HParams tab: every field of the
/// resolved experiment, flattened to dotted names (`world_model.model.latent_dim`), plus
/// the run seed.
pub fn hparams(experiment: &Experiment, seed: u64) -> Vec<(String, HParam)> {
    let mut out = vec![("seed".to_owned(), HParam::Number(seed as f64))];
    let tree = serde_json::to_value(experiment).expect("experiments serialise");
    flatten("", &tree, &mut out);
    out.retain(|(name, _)| name != "seeds");
    out
}

fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, HParam)>) {
    let join = |key: &str| {
        if prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{prefix}.{key}")
        }
    };
    match value {
        Value::Object(fields) => {
            for (key, value) in fields {
                flatten(&join(key), value, out);
            }
        }
        Value::Number(n) => {
            let x = n.as_f64().unwrap_or(f64::NAN);
            // Show f32 fields as written (0.01, not 0.009999999776482582).
            // A value that is exactly an f32 (an f32 field) prints as that f32 does.
            let x = if f64::from(x as f32) == x {
                format!("{}", x as f32).parse().unwrap_or(x)
            } else {
                x
            };
            out.push((prefix.to_owned(), HParam::Number(x)));
        }
        Value::Bool(b) => out.push((prefix.to_owned(), HParam::Bool(*b))),
        Value::String(s) => out.push((prefix.to_owned(), HParam::Text(s.clone()))),
        Value::Null => out.push((prefix.to_owned(), HParam::Text("None".into()))),
        Value::Array(_) => out.push((prefix.to_owned(), HParam::Text(value.to_string()))),
    }
}

/// Mean and sample standard deviation.
fn mean_std(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = if values.len() > 1 {
        values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

fn mean_pm(values: &[f64], digits: usize) -> String {
    let (mean, std) = mean_std(values);
    if values.len() > 1 {
        format!("{mean:.digits$} ± {std:.digits$}")
    } else {
        format!("{mean:.digits$}")
    }
}

/// A Markdown table of several runs' final metrics, one row per experiment: over its
/// seeds, mean ± standard deviation, and the agent's and baselines' pooled success with
/// its Wilson interval.
pub fn compare(runs: &[RunSummary]) -> String {
    let mut groups: BTreeMap<&str, Vec<&RunSummary>> = BTreeMap::new();
    for run in runs {
        groups.entry(&run.experiment).or_default().push(run);
    }
    let mut baselines: Vec<&str> = Vec::new();
    for run in runs {
        for c in &run.contenders[1..] {
            if !baselines.contains(&c.name.as_str()) {
                baselines.push(&c.name);
            }
        }
    }
    let mut out = String::from(
        "| experiment | seeds | inputs | agent | success (pooled) | success per seed |",
    );
    for b in &baselines {
        out += &format!(" {b} |");
    }
    out += " probe R² | val. prediction loss | planning ms per action | training s |\n|---|---|---|---|---:|---:|";
    out += &"---:|".repeat(baselines.len() + 4);
    out += "\n";
    for (name, group) in groups {
        let mut seeds: Vec<u64> = group.iter().map(|r| r.seed).collect();
        seeds.sort_unstable();
        // The agent's name may differ between runs of one experiment; baselines' never do.
        let agent_successes = group.iter().map(|r| r.agent().successes).sum();
        let agent_episodes = group.iter().map(|r| r.agent().episodes).sum();
        let totals = tallies(group.iter().copied());
        let pooled = |name: &str| match totals.iter().find(|(n, _, _)| n == name) {
            Some((_, k, n)) => success_text(*k, *n, ""),
            None => "–".to_owned(),
        };
        // A text field of the group's runs, each run of repeats written once.
        let listed = |field: fn(&RunSummary) -> &str| {
            let mut values: Vec<&str> = group.iter().map(|r| field(r)).collect();
            values.dedup();
            values.join(", ")
        };
        let per_seed: Vec<f64> = group
            .iter()
            .map(|r| 100.0 * r.agent().success_rate)
            .collect();
        out += &format!(
            "| {name} | {} | {} | {} | {} | {}% |",
            seeds
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            listed(|r| &r.inputs),
            listed(|r| &r.agent),
            success_text(agent_successes, agent_episodes, ""),
            mean_pm(&per_seed, 0)
        );
        for b in &baselines {
            out += &format!(" {} |", pooled(b));
        }
        let metric =
            |f: &dyn Fn(&RunSummary) -> f64| group.iter().map(|r| f(r)).collect::<Vec<_>>();
        out += &format!(
            " {} | {} | {} | {} |\n",
            mean_pm(&metric(&|r| r.world_model.probe_r2), 3),
            mean_pm(&metric(&|r| r.world_model.loss_pred), 4),
            mean_pm(&metric(&|r| r.agent().plan_ms_per_action), 1),
            mean_pm(&metric(&|r| r.training_wall_s), 0),
        );
    }
    out
}
