//! `--set path.to.field=value`: overrides of a resolved experiment, field by field.
//!
//! The experiment goes through its JSON form (field names as in the file; enum variants as
//! `{"Variant": …}`, e.g. `agent.planner.Cem.samples`). A value is read as JSON when it parses
//! as JSON (`64`, `0.5`, `true`, `[16, 32]`, `null`, `{"Vicreg": {…}}`) and as a string
//! otherwise (`Smooth`, `Cpu`, `../scenes/push.scene.ron`).

use std::path::Path;

use serde_json::Value;

use crate::experiment::ExperimentError;
use crate::experiment::spec::Experiment;

/// Applies `assignments` in order; errors name `file`, the experiment file.
pub fn apply(
    experiment: Experiment,
    assignments: &[String],
    file: &Path,
) -> Result<Experiment, ExperimentError> {
    if assignments.is_empty() {
        return Ok(experiment);
    }
    let mut tree = serde_json::to_value(&experiment).expect("experiments serialise");
    for assignment in assignments {
        let fail = |message: String| ExperimentError::Override {
            file: file.to_owned(),
            assignment: assignment.clone(),
            message,
        };
        let (path, text) = assignment
            .split_once('=')
            .ok_or_else(|| fail("expected `path.to.field=value`".into()))?;
        let value = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.into()));
        let path = path.trim();
        set(&mut tree, path, value.clone()).map_err(fail)?;
        // Check each assignment on its own, so that the error names the one at fault; a
        // value that reads as JSON but fits only as text (`name=2024`) is taken as text.
        if let Err(error) = serde_json::from_value::<Experiment>(tree.clone()) {
            let as_text = Value::String(text.into());
            set(&mut tree, path, as_text).map_err(fail)?;
            if value.is_string() || serde_json::from_value::<Experiment>(tree.clone()).is_err() {
                return Err(fail(format!("the value does not fit: {error}")));
            }
        }
    }
    Ok(serde_json::from_value(tree).expect("checked after each assignment"))
}

/// Sets the field at dotted `path` in `tree`, which must exist.
fn set(tree: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let mut node = tree;
    let mut walked = String::new();
    for key in path.split('.') {
        let here = if walked.is_empty() {
            "the experiment".to_owned()
        } else {
            format!("`{walked}`")
        };
        node = match node {
            Value::Object(fields) => {
                if !fields.contains_key(key) {
                    let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
                    names.sort_unstable();
                    return Err(format!(
                        "{here} has no field `{key}` (it has: {})",
                        names.join(", ")
                    ));
                }
                fields.get_mut(key).expect("checked")
            }
            Value::Array(items) => {
                let index: usize = key
                    .parse()
                    .map_err(|_| format!("{here} is a list: `{key}` is not an index"))?;
                let len = items.len();
                items
                    .get_mut(index)
                    .ok_or_else(|| format!("{here} has {len} items, no item {index}"))?
            }
            _ => return Err(format!("{here} is a value, it has no field `{key}`")),
        };
        if !walked.is_empty() {
            walked.push('.');
        }
        walked.push_str(key);
    }
    *node = value;
    Ok(())
}
