//! Datasets for Python: episodes as numpy arrays.

use std::path::PathBuf;

use numpy::{PyArray1, PyArrayMethods};
use pyo3::exceptions::PyIndexError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::value_error;

/// A Prefrontal dataset folder. `len(dataset)` episodes; `dataset[i]` is episode `i` as a
/// dict of numpy arrays: `pixels u8 [T+1, H, W, 3]`, `action f32 [T, A]` (one per simulator
/// step), `proprio f32 [T+1, P]`, `state f32 [T+1, S]`, `reward f32 [T]`, `success bool
/// [T+1]`, and `seed` and `policy`.
#[derive(Debug)]
#[pyclass(module = "prefrontal._prefrontal")]
pub struct Dataset {
    dataset: prefrontal_dataset::Dataset,
}

#[pymethods]
impl Dataset {
    /// Opens the dataset in folder `dir` (its index; episodes are read on demand).
    #[new]
    fn new(dir: PathBuf) -> PyResult<Self> {
        let dataset = prefrontal_dataset::Dataset::open(&dir).map_err(value_error)?;
        Ok(Dataset { dataset })
    }

    fn __len__(&self) -> usize {
        self.dataset.index().episodes.len()
    }

    fn __getitem__<'py>(&self, py: Python<'py>, index: isize) -> PyResult<Bound<'py, PyDict>> {
        let len = self.__len__() as isize;
        let position = if index < 0 { index + len } else { index };
        if !(0..len).contains(&position) {
            return Err(PyIndexError::new_err(format!(
                "episode {index} is out of range: the dataset holds {len}"
            )));
        }
        let position = position as usize;
        let episode = self.dataset.read_episode(position).map_err(value_error)?;
        let header = &self.dataset.index().header;
        let entry = &self.dataset.index().episodes[position];
        let (h, w) = (header.frame.height as usize, header.frame.width as usize);
        let (a, p, s) = (
            header.action.names.len(),
            header.proprio_names.len(),
            header.state_names.len(),
        );
        let t = episode.steps();
        let item = PyDict::new(py);
        let pixels = PyArray1::from_vec(py, episode.frames).reshape([t + 1, h, w, 3])?;
        item.set_item("pixels", pixels)?;
        item.set_item(
            "action",
            PyArray1::from_vec(py, episode.actions).reshape([t, a])?,
        )?;
        let proprio = PyArray1::from_vec(py, episode.proprio).reshape([t + 1, p])?;
        item.set_item("proprio", proprio)?;
        let state = PyArray1::from_vec(py, episode.state).reshape([t + 1, s])?;
        item.set_item("state", state)?;
        item.set_item("reward", PyArray1::from_vec(py, episode.rewards))?;
        let success: Vec<bool> = episode.success.iter().map(|&s| s != 0).collect();
        item.set_item("success", PyArray1::from_vec(py, success))?;
        item.set_item("seed", entry.seed)?;
        item.set_item("policy", &entry.policy)?;
        Ok(item)
    }

    /// The scene's name.
    #[getter]
    fn scene(&self) -> String {
        self.dataset.index().header.scene.clone()
    }

    /// The scene file's text the episodes were recorded in.
    #[getter]
    fn scene_source(&self) -> String {
        self.dataset.index().header.scene_source.clone()
    }

    /// Control steps per simulated second.
    #[getter]
    fn control_hz(&self) -> f32 {
        self.dataset.index().header.control_hz
    }

    /// `(height, width)` of a frame.
    #[getter]
    fn frame_shape(&self) -> (u32, u32) {
        let frame = &self.dataset.index().header.frame;
        (frame.height, frame.width)
    }

    /// The camera the frames were rendered through.
    #[getter]
    fn camera(&self) -> String {
        self.dataset.index().header.frame.camera.clone()
    }

    /// Names of the action components.
    #[getter]
    fn action_names(&self) -> Vec<String> {
        self.dataset.index().header.action.names.clone()
    }

    /// Names of the proprioception components.
    #[getter]
    fn proprio_names(&self) -> Vec<String> {
        self.dataset.index().header.proprio_names.clone()
    }

    /// Names of the privileged-state components.
    #[getter]
    fn state_names(&self) -> Vec<String> {
        self.dataset.index().header.state_names.clone()
    }

    /// Actions per episode, in index order.
    #[getter]
    fn steps(&self) -> Vec<usize> {
        let episodes = &self.dataset.index().episodes;
        episodes.iter().map(|entry| entry.steps).collect()
    }
}

/// Writes the dataset in folder `dataset` to `out` in stable-worldmodel's HDF5 layout
/// (`prefrontal dataset export --format swm-hdf5`), frames resized to `size × size` when
/// given. Returns `(episodes, rows)`.
#[pyfunction]
#[pyo3(signature = (dataset, out, size = None))]
pub fn export_swm_hdf5(
    dataset: PathBuf,
    out: PathBuf,
    size: Option<u32>,
) -> PyResult<(usize, usize)> {
    let summary =
        prefrontal_export::write_swm_hdf5(&dataset, &out, size, |_, _| {}).map_err(value_error)?;
    Ok((summary.episodes, summary.rows))
}
