//! The stable-worldmodel HDF5 export, read back column by column.

use std::path::{Path, PathBuf};

use hdf5_metno as hdf5;
use prefrontal_dataset::{Dataset, Episode, FrameInfo, Header, SpaceInfo};
use prefrontal_export::{ExportError, write_swm_hdf5};

/// Writes `lengths.len()` synthetic episodes of those step counts (24×24 frames, 2 actions,
/// 4 proprioception and 13 state components, every value distinct) into `dir/data`.
fn record(dir: &Path, lengths: &[usize]) -> PathBuf {
    let data = dir.join("data");
    let header = Header {
        scene: "synthetic".into(),
        scene_source: String::new(),
        control_hz: 10.0,
        frame: FrameInfo {
            camera: "top".into(),
            width: 24,
            height: 24,
        },
        action: SpaceInfo {
            names: vec!["a.x".into(), "a.z".into()],
            low: vec![-1.0; 2],
            high: vec![1.0; 2],
        },
        proprio_names: (0..4).map(|i| format!("p{i}")).collect(),
        state_names: (0..13).map(|i| format!("s{i}")).collect(),
    };
    let mut dataset = Dataset::create_or_append(&data, header).unwrap();
    for (e, &t) in lengths.iter().enumerate() {
        let value = |i: usize| (e * 100_000 + i) as f32;
        let episode = Episode {
            frames: (0..(t + 1) * 24 * 24 * 3)
                .map(|i| ((i * 7 + e * 31) % 251) as u8)
                .collect(),
            actions: (0..t * 2).map(value).collect(),
            proprio: (0..(t + 1) * 4).map(value).collect(),
            state: (0..(t + 1) * 13).map(value).collect(),
            rewards: (0..t).map(value).collect(),
            success: vec![0; t + 1],
        };
        dataset
            .write_episode(e as u64, e as u64, "synthetic", &episode)
            .unwrap();
    }
    data
}

#[test]
fn every_column_holds_the_episodes_concatenated() {
    let dir = tempfile::tempdir().unwrap();
    let data = record(dir.path(), &[14, 9, 20]);
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
    let data = record(dir.path(), &[6]);
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
    let data = record(dir.path(), &[3]);
    let size = write_swm_hdf5(&data, &out, Some(0), |_, _| {}).unwrap_err();
    assert!(size.to_string().contains("--size 0"), "{size}");
    assert!(!out.exists());
}
