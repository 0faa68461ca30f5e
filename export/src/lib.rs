//! Prefrontal datasets in other libraries' formats.
//!
//! [`write_swm_hdf5`] writes stable-worldmodel's HDF5 layout (0.1.1, the data LeWorldModel
//! trains on; see `docs/stable-worldmodel-0.1.1.md`): one flat file whose columns are
//! concatenated over episodes, a row per frame —
//! - `pixels u8 [N, H, W, 3]`, frames resized to `size × size` when asked;
//! - `action f32 [N, A]`: the simulator action taken at that frame, NaN on each episode's
//!   last frame (no action follows it);
//! - `proprio f32 [N, P]`, `state f32 [N, S]`;
//! - `ep_idx i64 [N]` (the episode's position in the dataset), `step_idx i64 [N]` (0-based
//!   within the episode);
//! - per episode `ep_len i32 [E]` (frames, `T + 1`) and `ep_offset i64 [E]` (first row).
//!
//! stable-worldmodel's reader takes windows of `num_steps` frames `frameskip` rows apart
//! and, for each, the `num_steps · frameskip` actions from its first row: with history
//! `h`, the first `h` frames and `h − 1` action blocks of such a window are exactly
//! Prefrontal's training window of `h` frames at that start.

use std::path::{Path, PathBuf};

use hdf5_metno as hdf5;
use image::imageops::FilterType;
use image::{ImageBuffer, Rgb};
use ndarray::{Array1, ArrayView2, ArrayView4, s};
use prefrontal_dataset::{Dataset, DatasetError};

/// Why an export failed; every variant names the file concerned.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// The dataset could not be read.
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    /// Writing the HDF5 file failed.
    #[error("{path}: {source}")]
    Hdf5 {
        /// The output file.
        path: PathBuf,
        /// The HDF5 library's error.
        source: hdf5::Error,
    },
    /// The requested frame size is not usable.
    #[error("--size {0} is outside 1..=1024")]
    Size(u32),
    /// The finished file could not be moved into place.
    #[error("{path}: {source}")]
    Io {
        /// The output file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The dataset holds no episodes.
    #[error("{0}: the dataset holds no episodes")]
    Empty(PathBuf),
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSummary {
    /// Episodes written.
    pub episodes: usize,
    /// Rows (frames) written.
    pub rows: usize,
    /// `(height, width)` of the written frames.
    pub frame: (usize, usize),
}

/// Writes the dataset at `dataset` to `out` in stable-worldmodel's HDF5 layout (see the
/// crate docs), frames resized to `size × size` (bilinear) when `size` is given.
/// `progress(done, total)` is called after each episode. The file is written under a
/// temporary name and renamed when complete, so an interrupted export leaves no `out`.
pub fn write_swm_hdf5(
    dataset: &Path,
    out: &Path,
    size: Option<u32>,
    mut progress: impl FnMut(usize, usize),
) -> Result<ExportSummary, ExportError> {
    if let Some(size) = size
        && !(1..=1024).contains(&size)
    {
        return Err(ExportError::Size(size));
    }
    let dataset = Dataset::open(dataset)?;
    let index = dataset.index();
    let header = &index.header;
    let episodes = index.episodes.len();
    if episodes == 0 {
        return Err(ExportError::Empty(dataset.dir().to_owned()));
    }
    let (source_h, source_w) = (header.frame.height as usize, header.frame.width as usize);
    let (h, w) = size.map_or((source_h, source_w), |s| (s as usize, s as usize));
    let (a, p, st) = (
        header.action.names.len(),
        header.proprio_names.len(),
        header.state_names.len(),
    );
    let lengths: Vec<usize> = index.episodes.iter().map(|e| e.steps + 1).collect();
    let rows: usize = lengths.iter().sum();

    let partial = out.with_extension("h5.partial");
    let failed = |source: hdf5::Error| ExportError::Hdf5 {
        path: out.to_owned(),
        source,
    };
    let file = hdf5::File::create(&partial).map_err(failed)?;
    let column = |name: &str, shape: &[usize]| -> hdf5::Result<hdf5::Dataset> {
        let chunk: Vec<usize> = std::iter::once(1)
            .chain(shape[1..].iter().copied())
            .collect();
        file.new_dataset::<f32>()
            .shape(shape)
            .chunk(chunk)
            .create(name)
    };
    let pixels = file
        .new_dataset::<u8>()
        .shape([rows, h, w, 3])
        .chunk([1, h, w, 3])
        .create("pixels")
        .map_err(failed)?;
    let action = column("action", &[rows, a]).map_err(failed)?;
    let proprio = column("proprio", &[rows, p]).map_err(failed)?;
    let state = column("state", &[rows, st]).map_err(failed)?;

    let mut offsets = Vec::with_capacity(episodes);
    let (mut ep_idx, mut step_idx) = (Vec::with_capacity(rows), Vec::with_capacity(rows));
    let mut offset = 0;
    for (position, &len) in lengths.iter().enumerate() {
        let episode = dataset.read_episode(position)?;
        let frames = if (h, w) == (source_h, source_w) {
            episode.frames
        } else {
            resized(&episode.frames, (source_h, source_w), (h, w))
        };
        let view = ArrayView4::from_shape((len, h, w, 3), &frames).expect("frames [T+1, H, W, 3]");
        pixels
            .write_slice(view, s![offset..offset + len, .., .., ..])
            .map_err(failed)?;
        // The action at each frame; none follows the last one.
        let mut actions = episode.actions;
        actions.extend(std::iter::repeat_n(f32::NAN, a));
        for (column, values, width) in [
            (&action, &actions, a),
            (&proprio, &episode.proprio, p),
            (&state, &episode.state, st),
        ] {
            let view = ArrayView2::from_shape((len, width), values).expect("[T+1, width] rows");
            column
                .write_slice(view, s![offset..offset + len, ..])
                .map_err(failed)?;
        }
        ep_idx.extend(std::iter::repeat_n(position as i64, len));
        step_idx.extend(0..len as i64);
        offsets.push(offset as i64);
        offset += len;
        progress(position + 1, episodes);
    }
    let lengths: Vec<i32> = lengths.iter().map(|&l| l as i32).collect();
    let small = |name: &str, values: Array1<i64>| {
        file.new_dataset_builder().with_data(&values).create(name)
    };
    small("ep_idx", Array1::from(ep_idx)).map_err(failed)?;
    small("step_idx", Array1::from(step_idx)).map_err(failed)?;
    small("ep_offset", Array1::from(offsets)).map_err(failed)?;
    file.new_dataset_builder()
        .with_data(&Array1::from(lengths))
        .create("ep_len")
        .map_err(failed)?;
    file.close().map_err(failed)?;
    std::fs::rename(&partial, out).map_err(|source| ExportError::Io {
        path: out.to_owned(),
        source,
    })?;
    Ok(ExportSummary {
        episodes,
        rows,
        frame: (h, w),
    })
}

/// Frames `u8 [H, W, 3]` resized from `from` to `to` (bilinear).
fn resized(frames: &[u8], from: (usize, usize), to: (usize, usize)) -> Vec<u8> {
    let frame_len = from.0 * from.1 * 3;
    let mut out = Vec::with_capacity(frames.len() / frame_len * to.0 * to.1 * 3);
    for frame in frames.chunks_exact(frame_len) {
        let image = ImageBuffer::<Rgb<u8>, &[u8]>::from_raw(from.1 as u32, from.0 as u32, frame)
            .expect("a whole frame");
        let scaled =
            image::imageops::resize(&image, to.1 as u32, to.0 as u32, FilterType::Triangle);
        out.extend_from_slice(scaled.as_raw());
    }
    out
}
