//! The stable-worldmodel HDF5 export, read back column by column.

use std::path::Path;

use hdf5_metno as hdf5;
use prefrontal_dataset::Dataset;
use prefrontal_export::{ExportError, write_swm_hdf5};
use prefrontal_sim::collect::{CollectConfig, collect};
use prefrontal_sim::policy::PolicyKind;
use prefrontal_sim::{RenderOptions, Scene};

/// Records `episodes` short reach episodes (varied lengths: some end at the goal) into
/// `dir/data`.
fn record(dir: &Path, episodes: usize) -> std::path::PathBuf {
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenes/reach.scene.ron");
    let source = std::fs::read_to_string(&file).unwrap();
    let scene = Scene::load(&file).unwrap();
    let config = CollectConfig {
        episodes,
        steps: 14,
        seed: 5,
        policy: PolicyKind::Smooth,
        envs: 2,
        render: RenderOptions {
            camera: None,
            resolution: Some((24, 24)),
        },
    };
    let data = dir.join("data");
    collect(scene, &source, &config, &data, |_| {}).unwrap();
    data
}

#[test]
fn every_column_holds_the_episodes_concatenated() {
    let dir = tempfile::tempdir().unwrap();
    let data = record(dir.path(), 3);
    let out = dir.path().join("data.h5");
    let mut calls = Vec::new();
    let summary =
        write_swm_hdf5(&data, &out, None, |done, total| calls.push((done, total))).unwrap();
    assert_eq!(calls, vec![(1, 3), (2, 3), (3, 3)]);
    assert!(!dir.path().join("data.h5.partial").exists());

    let dataset = Dataset::open(&data).unwrap();
    let file = hdf5::File::open(&out).unwrap();
    let ep_len = file.dataset("ep_len").unwrap();
    let ep_offset = file.dataset("ep_offset").unwrap();
    assert_eq!(ep_len.dtype().unwrap().size(), 4, "ep_len is int32");
    assert_eq!(ep_offset.dtype().unwrap().size(), 8, "ep_offset is int64");
    let lengths: Vec<i32> = ep_len.read_raw().unwrap();
    let offsets: Vec<i64> = ep_offset.read_raw().unwrap();
    let pixels: Vec<u8> = file.dataset("pixels").unwrap().read_raw().unwrap();
    let actions: Vec<f32> = file.dataset("action").unwrap().read_raw().unwrap();
    let states: Vec<f32> = file.dataset("state").unwrap().read_raw().unwrap();
    let proprio: Vec<f32> = file.dataset("proprio").unwrap().read_raw().unwrap();
    let ep_idx: Vec<i64> = file.dataset("ep_idx").unwrap().read_raw().unwrap();
    let step_idx: Vec<i64> = file.dataset("step_idx").unwrap().read_raw().unwrap();
    assert_eq!(
        file.dataset("pixels").unwrap().shape(),
        [summary.rows, 24, 24, 3]
    );
    assert_eq!(
        summary.rows,
        lengths.iter().map(|&l| l as usize).sum::<usize>()
    );

    let (frame, a) = (24 * 24 * 3, 2);
    let (p, s) = (proprio.len() / summary.rows, states.len() / summary.rows);
    for position in 0..3 {
        let episode = dataset.read_episode(position).unwrap();
        let (len, offset) = (lengths[position] as usize, offsets[position] as usize);
        assert_eq!(len, episode.steps() + 1);
        let rows = offset..offset + len;
        assert_eq!(
            pixels[rows.start * frame..rows.end * frame],
            episode.frames[..]
        );
        assert_eq!(states[rows.start * s..rows.end * s], episode.state[..]);
        assert_eq!(proprio[rows.start * p..rows.end * p], episode.proprio[..]);
        let stored = &actions[rows.start * a..rows.end * a];
        assert_eq!(stored[..len * a - a], episode.actions[..]);
        assert!(
            stored[len * a - a..].iter().all(|v| v.is_nan()),
            "no action after the last frame"
        );
        assert!(ep_idx[rows.clone()].iter().all(|&e| e == position as i64));
        assert_eq!(step_idx[rows], (0..len as i64).collect::<Vec<_>>()[..]);
    }
}

#[test]
fn frames_are_resized_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let data = record(dir.path(), 1);
    let out = dir.path().join("big.h5");
    let summary = write_swm_hdf5(&data, &out, Some(56), |_, _| {}).unwrap();
    assert_eq!(summary.frame, (56, 56));
    let file = hdf5::File::open(&out).unwrap();
    let pixels = file.dataset("pixels").unwrap();
    assert_eq!(pixels.shape(), [summary.rows, 56, 56, 3]);
    // Bilinear scaling keeps the mean colour.
    let big: Vec<u8> = pixels.read_raw().unwrap();
    let small = Dataset::open(&data)
        .unwrap()
        .read_episode(0)
        .unwrap()
        .frames;
    let mean = |v: &[u8]| v.iter().map(|&x| x as f64).sum::<f64>() / v.len() as f64;
    assert!((mean(&big) - mean(&small)).abs() < 2.0);
}

#[test]
fn bad_input_names_the_problem_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.h5");
    let missing = write_swm_hdf5(&dir.path().join("nowhere"), &out, None, |_, _| {}).unwrap_err();
    assert!(matches!(missing, ExportError::Dataset(_)), "{missing}");
    assert!(missing.to_string().contains("nowhere"), "{missing}");
    let data = record(dir.path(), 1);
    let size = write_swm_hdf5(&data, &out, Some(0), |_, _| {}).unwrap_err();
    assert!(size.to_string().contains("--size 0"), "{size}");
    assert!(!out.exists());
}
