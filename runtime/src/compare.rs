//! Finding finished runs and reading their summaries for comparison.

use std::path::{Path, PathBuf};

use crate::RuntimeError;
use crate::experiment::{RunSummary, read_json};

/// The summaries of every finished run (a folder with `summary.json` beside
/// `experiment.ron`) at or below the files, folders or globs in `patterns`, sorted by folder;
/// an error when a pattern matches nothing or holds no finished run, or when two runs are
/// the same seed of the same experiment.
pub fn compare_runs(patterns: &[String]) -> Result<Vec<RunSummary>, RuntimeError> {
    let mut found = Vec::new();
    for pattern in patterns {
        let paths: Vec<PathBuf> = glob::glob(pattern)
            .map_err(|error| RuntimeError::Context {
                context: format!("`{pattern}` is not a valid pattern"),
                source: Box::new(RuntimeError::invalid(error)),
            })?
            .filter_map(Result::ok)
            .collect();
        if paths.is_empty() {
            return Err(RuntimeError::invalid(format!(
                "no file or folder matches `{pattern}`"
            )));
        }
        let before = found.len();
        for path in paths {
            let path = std::fs::canonicalize(&path).unwrap_or(path);
            find_runs(&path, 3, &mut found);
        }
        if found.len() == before {
            return Err(RuntimeError::invalid(format!(
                "`{pattern}` holds no finished run (a folder with summary.json beside experiment.ron): has `prefrontal run` finished there?"
            )));
        }
    }
    found.sort();
    found.dedup();
    let mut summaries: Vec<RunSummary> = Vec::with_capacity(found.len());
    for dir in &found {
        let path = dir.join("summary.json");
        let summary: RunSummary = read_json(&path)?;
        if summary.contenders.is_empty() {
            return Err(RuntimeError::invalid(format!(
                "{}: lists no contender",
                path.display()
            )));
        }
        if let Some(index) = summaries.iter().position(|s| {
            (s.experiment.as_str(), s.seed) == (summary.experiment.as_str(), summary.seed)
        }) {
            return Err(RuntimeError::invalid(format!(
                "{} and {} are both seed {} of experiment \"{}\"; compare one of them (rename a run with --set name=…)",
                found[index].display(),
                dir.display(),
                summary.seed,
                summary.experiment
            )));
        }
        summaries.push(summary);
    }
    Ok(summaries)
}

/// Run folders at or below `path`, at most `depth` levels down.
pub fn find_runs(path: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    if path.join("summary.json").is_file() && path.join("experiment.ron").is_file() {
        found.push(path.to_owned());
        return;
    }
    if depth == 0 {
        return;
    }
    if let Ok(entries) = std::fs::read_dir(path) {
        let mut children: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_dir())
            .collect();
        children.sort();
        for child in children {
            find_runs(&child, depth - 1, found);
        }
    }
}
