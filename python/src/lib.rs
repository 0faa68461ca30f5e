//! Prefrontal from Python: the native half of the `prefrontal` package. It only converts
//! between numpy and the Rust crates (worlds from `prefrontal-sim`, datasets from
//! `prefrontal-dataset`, models and planners from `prefrontal-agent`); the Gymnasium classes
//! in `prefrontal/*.py` are a thin shim over it. Rust errors become Python exceptions
//! (`ValueError` for bad input, `RuntimeError` otherwise) carrying the whole error chain.

mod data;
mod env;
mod model;

use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// The error and its causes, one clause each.
fn chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !message.contains(&cause_text) {
            message.push_str(": ");
            message.push_str(&cause_text);
        }
        source = cause.source();
    }
    message
}

/// Bad input from the caller: a Python `ValueError`.
fn value_error(error: impl std::error::Error) -> PyErr {
    PyValueError::new_err(chain(&error))
}

/// A failure that is not the caller's input: a Python `RuntimeError`.
fn runtime_error(error: impl std::error::Error) -> PyErr {
    PyRuntimeError::new_err(chain(&error))
}

#[pymodule]
fn _prefrontal(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<env::Worlds>()?;
    module.add_class::<data::Dataset>()?;
    module.add_class::<model::WorldModel>()?;
    module.add_class::<model::Agent>()?;
    module.add_function(wrap_pyfunction!(env::shipped_scenes, module)?)?;
    module.add_function(wrap_pyfunction!(env::evaluation_episodes, module)?)?;
    module.add_function(wrap_pyfunction!(data::export_swm_hdf5, module)?)?;
    module.add_function(wrap_pyfunction!(model::view, module)?)?;
    Ok(())
}
