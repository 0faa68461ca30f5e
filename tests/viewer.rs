//! The viewer on every scene, by hand (no agent), under a virtual X display: a screenshot
//! of the requested size with the scene, the HUD and the camera insets in it.

mod common;

use common::{count_near, read_png, region, run_ok, run_on_display_ok, scene_names, scratch};
use prefrontal_viewer::{INSET_SIDE, MARGIN};

/// The most common colour of a PNG (the floor, in a top-down observation frame).
fn dominant_color(pixels: &[u8]) -> [u8; 3] {
    let mut counts = std::collections::HashMap::new();
    for p in pixels.chunks_exact(3) {
        *counts.entry([p[0], p[1], p[2]]).or_insert(0usize) += 1;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).unwrap().0
}

#[test]
fn every_scene_opens_with_its_hud_and_what_the_model_sees() {
    let dir = scratch("viewer-scenes");
    std::fs::create_dir_all(&dir).unwrap();
    for scene in scene_names() {
        let file = format!("scenes/{scene}.scene.ron");
        // The observation camera's floor colour, from a recorded frame.
        let data = dir.join(format!("{scene}-data"));
        run_ok(&[
            "collect",
            "--scene",
            &file,
            "--episodes",
            "1",
            "--steps",
            "2",
            "--envs",
            "1",
            "--out",
            data.to_str().unwrap(),
        ]);
        let frames = dir.join(format!("{scene}-frames"));
        run_ok(&[
            "dataset",
            "export-frames",
            data.to_str().unwrap(),
            "--episode",
            "0",
            "--out",
            frames.to_str().unwrap(),
        ]);
        let first = std::fs::read_dir(&frames)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "png"))
            .min()
            .unwrap();
        let floor = dominant_color(&read_png(&first).2);

        let png = dir.join(format!("{scene}.png"));
        let out = run_on_display_ok(&[
            "view",
            &file,
            "--size",
            "720x420",
            "--frames",
            "8",
            "--screenshot",
            png.to_str().unwrap(),
        ]);
        assert!(out.contains("viewer: "), "{out}");
        let (width, height, pixels) = read_png(&png);
        assert_eq!((width, height), (720, 420), "{scene}");

        // Not blank: the lit scene has many shades.
        let shades: std::collections::HashSet<&[u8]> = pixels.chunks_exact(3).collect();
        assert!(shades.len() > 200, "{scene}: {} colours", shades.len());

        // The HUD's status window: a dark panel with light text, `MARGIN` from the top
        // left corner, sampled over its first lines.
        let margin = MARGIN as u32;
        let hud = region(
            &pixels,
            width,
            (margin + 2, margin + 2, margin + 222, margin + 102),
        );
        let dark = hud.iter().filter(|p| p.iter().all(|&c| c < 45)).count();
        let light = hud.iter().filter(|p| p.iter().all(|&c| c > 150)).count();
        assert!(
            dark > hud.len() / 3 && light > 40,
            "{scene}: HUD region has {dark} dark and {light} light pixels of {}",
            hud.len()
        );

        // The insets, top right: the agent's frame (left) and the goal's (right), each
        // mostly the observation camera's floor. Each is `INSET_SIDE` square, in a window
        // `MARGIN` from the corner; the offsets of 20 and 62 pixels allow for that window's
        // padding, title and labels, and the regions sampled keep clear of the insets' edges.
        let side = INSET_SIDE as u32;
        let x = width - margin - 2 * side - 20;
        let top = margin + 62;
        for (name, x0) in [("agent", x), ("goal", x + side + 20)] {
            let inset = region(
                &pixels,
                width,
                (x0 + 10, top, x0 + side - 20, top + side - 40),
            );
            let floor_pixels = count_near(&inset, floor, 8);
            assert!(
                floor_pixels > inset.len() / 4,
                "{scene}: the {name} inset has {floor_pixels} of {} pixels of the floor colour {floor:?}",
                inset.len()
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
