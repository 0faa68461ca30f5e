//! Sweeps: an experiment file expanded over a grid of `--set` values into runs, each a
//! resolved experiment file of its own, named after its swept values so that no two runs
//! share a folder. Front ends run the files (`prefrontal run FILE`) locally or as the tasks
//! of a scheduler's job array; [`Sweep::pending`] says which runs are not finished yet, so a
//! re-submitted sweep runs only those.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{ResultExt, RuntimeError};
use crate::experiment::Experiment;
use crate::runner::PreparedExperiment;

/// One swept field: `path=[v1,v2,…]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// The dotted field path, as `--set` takes it.
    pub path: String,
    /// Each value as `--set` text (`0.05`, `Cem`, `[16,32]`).
    pub values: Vec<String>,
}

impl std::str::FromStr for Axis {
    type Err = String;

    /// Reads `path=[v1,v2,…]`: a JSON array (`[0.05, 0.2]`, `["Cem", "Mppi"]`) or bare
    /// comma-separated values (`[Cem,Mppi]`, `[[16,32],[32,64]]`).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (path, list) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}`: expected `path.to.field=[value1,value2,…]`"))?;
        let (path, list) = (path.trim(), list.trim());
        let inner = list
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
            .ok_or_else(|| format!("`{text}`: the values go in brackets, `{path}=[a,b]`"))?;
        let values: Vec<String> = match serde_json::from_str::<Vec<Value>>(list) {
            Ok(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => text,
                    other => other.to_string(),
                })
                .collect(),
            Err(_) => split_top_level(inner),
        };
        if path.is_empty() || values.is_empty() || values.iter().any(String::is_empty) {
            return Err(format!(
                "`{text}`: expected a field path and at least one non-empty value"
            ));
        }
        let mut seen = values.clone();
        seen.sort();
        seen.dedup();
        if seen.len() != values.len() {
            return Err(format!("`{text}`: a value is listed twice"));
        }
        Ok(Axis {
            path: path.to_owned(),
            values,
        })
    }
}

/// Splits `a,b,[c,d]` at the commas outside brackets, braces, parentheses and quotes.
fn split_top_level(text: &str) -> Vec<String> {
    let (mut items, mut current, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '[' | '{' | '(' if !quoted => depth += 1,
            ']' | '}' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => {
                items.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    items.push(current.trim().to_owned());
    items
}

/// One run of a sweep.
#[derive(Debug, Clone)]
pub struct SweepRun {
    /// The run's experiment name: the sweep's name and its swept values.
    pub name: String,
    /// The swept assignments that make this run (`path=value`).
    pub assignments: Vec<String>,
    /// The resolved experiment (paths absolute), as its file holds it.
    pub experiment: Experiment,
    /// Its resolved experiment file.
    pub file: PathBuf,
}

/// An experiment expanded over a grid.
#[derive(Debug, Clone)]
pub struct Sweep {
    /// The experiment's own name.
    pub name: String,
    /// Where the runs go (`OUT/<run name>/seed-<s>/`).
    pub out: PathBuf,
    /// The sweep's own files: resolved experiments, logs, job scripts.
    pub dir: PathBuf,
    /// Every combination of the grid's values, the first axis varying slowest.
    pub runs: Vec<SweepRun>,
}

impl Sweep {
    /// Expands `file` (with `set` applied to every run) over every combination of `axes`.
    /// Each run is loaded and validated as `prefrontal run --set` would; its name is the
    /// experiment's name followed by `.<field>-<value>` for each axis.
    pub fn expand(
        file: &Path,
        set: &[String],
        axes: &[Axis],
        out: &Path,
    ) -> Result<Sweep, RuntimeError> {
        if axes.is_empty() {
            return Err(RuntimeError::invalid(
                "a sweep needs at least one --grid 'path=[a,b]'",
            ));
        }
        for (index, axis) in axes.iter().enumerate() {
            if axes[..index].iter().any(|other| other.path == axis.path) {
                return Err(RuntimeError::invalid(format!(
                    "`{}` is swept twice; give all its values in one --grid",
                    axis.path
                )));
            }
        }
        let base = Experiment::load(file, set)?;
        let keys = axis_keys(axes);
        let out = absolute(out)?;
        let dir = out.join(".sweeps").join(&base.name);
        let mut runs: Vec<SweepRun> = Vec::new();
        for choice in combinations(axes) {
            let assignments: Vec<String> = axes
                .iter()
                .zip(&choice)
                .map(|(axis, &value)| format!("{}={}", axis.path, axis.values[value]))
                .collect();
            let mut name = base.name.clone();
            for ((key, axis), &value) in keys.iter().zip(axes).zip(&choice) {
                name.push_str(&format!(".{key}-{}", slug(&axis.values[value])));
            }
            if let Some(other) = runs.iter().find(|run| run.name == name) {
                return Err(RuntimeError::invalid(format!(
                    "{} and {} would both be named `{name}`; give values that differ in letters or digits",
                    other.assignments.join(" "),
                    assignments.join(" ")
                )));
            }
            let all: Vec<String> = set.iter().chain(&assignments).cloned().collect();
            let mut experiment = Experiment::load(file, &all)?;
            experiment.name = name.clone();
            experiment.scene = absolute(&experiment.scene)?;
            if let Some(dataset) = &experiment.data.dataset {
                experiment.data.dataset = Some(absolute(dataset)?);
            }
            runs.push(SweepRun {
                file: dir.join(format!("{name}.experiment.ron")),
                name,
                assignments,
                experiment,
            });
        }
        Ok(Sweep {
            name: base.name,
            out,
            dir,
            runs,
        })
    }

    /// Writes each run's resolved experiment file (and makes the logs folder).
    pub fn write_files(&self) -> Result<(), RuntimeError> {
        let logs = self.logs();
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        for run in &self.runs {
            std::fs::write(&run.file, run.experiment.to_ron())
                .with_context(|| format!("writing {}", run.file.display()))?;
        }
        Ok(())
    }

    /// The folder of the runs' logs.
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// The log file of `run`.
    pub fn log(&self, run: &SweepRun) -> PathBuf {
        self.logs().join(format!("{}.log", run.name))
    }

    /// The indices of the runs with a stage still to run for some seed (not started,
    /// failed, interrupted, or stale after a change), in order.
    pub fn pending(&self) -> Result<Vec<usize>, RuntimeError> {
        let mut pending = Vec::new();
        for (index, run) in self.runs.iter().enumerate() {
            let prepared =
                PreparedExperiment::prepare(run.experiment.clone(), &self.out, &run.file)?;
            // A run folder that cannot be read is unfinished; running it says why.
            let unfinished = run.experiment.seeds.iter().any(|&seed| {
                prepared
                    .pending_stages(seed)
                    .map_or(true, |stages| stages.iter().any(|(_, runs)| *runs))
            });
            if unfinished {
                pending.push(index);
            }
        }
        Ok(pending)
    }

    /// The folders of the runs (`OUT/<run name>`), for `compare`.
    pub fn run_dirs(&self) -> Vec<PathBuf> {
        self.runs
            .iter()
            .map(|run| self.out.join(&run.name))
            .collect()
    }
}

/// Every combination of one value index per axis, the first axis varying slowest.
fn combinations(axes: &[Axis]) -> Vec<Vec<usize>> {
    axes.iter().fold(vec![Vec::new()], |partial, axis| {
        partial
            .iter()
            .flat_map(|prefix| {
                (0..axis.values.len()).map(move |value| {
                    let mut next = prefix.clone();
                    next.push(value);
                    next
                })
            })
            .collect()
    })
}

/// Each axis's name in run names: its path's last field, or as many trailing fields as it
/// takes to tell it from the other axes.
fn axis_keys(axes: &[Axis]) -> Vec<String> {
    let fields: Vec<Vec<&str>> = axes.iter().map(|a| a.path.rsplit('.').collect()).collect();
    (0..axes.len())
        .map(|index| {
            let own = &fields[index];
            let mut take = 1;
            while take < own.len()
                && fields.iter().enumerate().any(|(other, theirs)| {
                    other != index && theirs.len() >= take && theirs[..take] == own[..take]
                })
            {
                take += 1;
            }
            let mut key: Vec<&str> = own[..take].to_vec();
            key.reverse();
            slug(&key.join("_"))
        })
        .collect()
}

/// `text` with every character a run name cannot hold replaced by `_` (runs of them once).
fn slug(text: &str) -> String {
    let mut slug = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-.".contains(c) {
            slug.push(c);
        } else if !slug.ends_with('_') {
            slug.push('_');
        }
    }
    slug.trim_matches('_').to_owned()
}

/// `path` made absolute against the working folder (and canonical where it exists).
fn absolute(path: &Path) -> Result<PathBuf, RuntimeError> {
    if let Ok(canonical) = std::fs::canonicalize(path) {
        return Ok(canonical);
    }
    let here = std::env::current_dir().with_context(|| "reading the working folder")?;
    Ok(here.join(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_read_json_lists_and_bare_values() {
        let axis: Axis = "a.b=[0.05, 0.2]".parse().unwrap();
        assert_eq!(axis.path, "a.b");
        assert_eq!(axis.values, ["0.05", "0.2"]);
        let axis: Axis = "agent.planner=[Cem,Mppi]".parse().unwrap();
        assert_eq!(axis.values, ["Cem", "Mppi"]);
        let axis: Axis = r#"p=["Cem", "Mppi"]"#.parse().unwrap();
        assert_eq!(axis.values, ["Cem", "Mppi"]);
        let axis: Axis = "channels=[[16,32],[32, 64]]".parse().unwrap();
        assert_eq!(axis.values, ["[16,32]", "[32,64]"]);
        let axis: Axis = "x=[{\"Vicreg\": (1, 2)}, None]".parse().unwrap();
        assert_eq!(axis.values, ["{\"Vicreg\": (1, 2)}", "None"]);
        for (bad, problem) in [
            ("a.b", "expected `path.to.field=[value1,value2,…]`"),
            ("a.b=0.1", "the values go in brackets"),
            ("a.b=[]", "at least one non-empty value"),
            ("=[1]", "at least one non-empty value"),
            ("a=[1,1]", "listed twice"),
        ] {
            let error = bad.parse::<Axis>().unwrap_err();
            assert!(error.contains(problem), "{bad}: {error}");
        }
    }

    #[test]
    fn combinations_vary_the_first_axis_slowest() {
        let axes: Vec<Axis> = ["a=[1,2]", "b=[x,y,z]"]
            .iter()
            .map(|t| t.parse().unwrap())
            .collect();
        let all = combinations(&axes);
        assert_eq!(all.len(), 6);
        assert_eq!(all[0], [0, 0]);
        assert_eq!(all[1], [0, 1]);
        assert_eq!(all[5], [1, 2]);
    }

    #[test]
    fn axis_keys_are_last_fields_made_unique() {
        let axes: Vec<Axis> = [
            "world_model.objective.anti_collapse.Sigreg.weight=[1]",
            "agent.planner.Cem.samples=[1]",
            "world_model.training.seed=[1]",
            "evaluation.seed=[1]",
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        assert_eq!(
            axis_keys(&axes),
            ["weight", "samples", "training_seed", "evaluation_seed"]
        );
        assert_eq!(slug("[16, 32]"), "16_32");
        assert_eq!(slug("Sigreg(weight: 0.1)"), "Sigreg_weight_0.1");
    }
}
