//! End-to-end checks of the `prefrontal` binary and of the workspace's layering.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{command, prefrontal, scene_names};
use prefrontal_sim::Scene;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn scene_check_summarises_every_shipped_scene() {
    for name in scene_names() {
        let file = format!("scenes/{name}.scene.ron");
        let out = prefrontal(&["scene", "check", &file]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains(&format!("{file}: ok")), "{stdout}");
        let scene = Scene::load(Path::new(env!("CARGO_MANIFEST_DIR")).join(&file)).unwrap();
        let actions = scene.action_space.low.len();
        assert!(
            stdout.contains(&format!("actions      {actions} dims")),
            "{stdout}"
        );
    }
}

#[test]
fn scene_check_reports_a_bad_scene_and_fails() {
    let dir = std::env::temp_dir().join(format!("prefrontal-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.scene.ron");
    let reach = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenes/reach.scene.ron"),
    )
    .unwrap();
    std::fs::write(&bad, reach.replace("radius: 0.08", "radius: -0.08")).unwrap();
    let out = prefrontal(&["scene", "check", bad.to_str().unwrap()]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.starts_with(&format!("error: {}:", bad.display()))
            && stderr.contains("bodies[0] \"agent\".shape: radius must be positive"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn sim_runs_a_seeded_random_rollout_and_prints_statistics() {
    let args = [
        "sim",
        "scenes/reach.scene.ron",
        "--steps",
        "250",
        "--seed",
        "3",
        "--envs",
        "2",
        "--policy",
        "random",
    ];
    let first = prefrontal(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let stdout = text(&first.stdout);
    assert!(stdout.contains("500 env-steps"), "{stdout}");
    assert!(
        stdout.contains("episodes ") && stdout.contains("success rate"),
        "{stdout}"
    );
    // The statistics line is the same on a second run: rollouts are seeded.
    let second = prefrontal(&args);
    let stats = |s: &str| s.lines().last().unwrap_or_default().to_owned();
    assert_eq!(stats(&stdout), stats(&text(&second.stdout)));
}

#[test]
fn bench_sim_prints_a_row_per_scene() {
    let out = prefrontal(&["bench", "sim", "--seconds", "0.05", "--envs", "1,2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for file in scene_names() {
        // Rows are named by the scene's `name` field.
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("scenes/{file}.scene.ron"));
        let name = Scene::load(path).unwrap().name;
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {name} |")))
            .unwrap_or_else(|| panic!("{stdout}"));
        let rates: Vec<f64> = row
            .split('|')
            .filter_map(|c| c.trim().parse().ok())
            .collect();
        assert!(rates.len() == 2 && rates.iter().all(|&r| r > 0.0), "{row}");
    }
}

/// Dependency names of every package in Cargo.lock.
fn lock_graph() -> BTreeMap<String, Vec<String>> {
    let lock =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock")).unwrap();
    let mut graph = BTreeMap::new();
    for package in lock.split("[[package]]").skip(1) {
        let name = package
            .lines()
            .find_map(|l| l.strip_prefix("name = \""))
            .map(|n| n.trim_end_matches('"').to_owned())
            .unwrap();
        let deps = package
            .split("dependencies = [")
            .nth(1)
            .map(|d| {
                d.split(']')
                    .next()
                    .unwrap_or_default()
                    .split('"')
                    .skip(1)
                    .step_by(2)
                    .map(|dep| dep.split(' ').next().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default();
        graph
            .entry(name)
            .or_insert_with(Vec::new)
            .extend::<Vec<String>>(deps);
    }
    graph
}

fn reachable(graph: &BTreeMap<String, Vec<String>>, root: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![root.to_owned()];
    while let Some(name) = stack.pop() {
        if seen.insert(name.clone()) {
            stack.extend(graph.get(&name).cloned().unwrap_or_default());
        }
    }
    seen
}

#[test]
fn the_simulation_never_depends_on_burn() {
    let graph = lock_graph();
    let deps = reachable(&graph, "prefrontal-sim");
    assert!(
        deps.contains("bevy_rapier3d"),
        "the lock file graph was not read"
    );
    let burn: Vec<_> = deps.iter().filter(|d| d.starts_with("burn")).collect();
    assert!(burn.is_empty(), "prefrontal-sim depends on {burn:?}");
}

#[test]
fn collect_info_and_export_frames_work_together() {
    let dir = std::env::temp_dir().join(format!("prefrontal-collect-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let out = prefrontal(&[
        "collect",
        "--scene",
        "scenes/reach.scene.ron",
        "--episodes",
        "3",
        "--steps",
        "10",
        "--seed",
        "4",
        "--policy",
        "smooth",
        "--envs",
        "2",
        "--out",
        data_arg,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("added 3 episodes"),
        "{}",
        text(&out.stdout)
    );

    let info = prefrontal(&["dataset", "info", data_arg]);
    assert!(info.status.success(), "{}", text(&info.stderr));
    let stdout = text(&info.stdout);
    for expected in [
        "scene        reach",
        "64×64 RGB",
        "episodes     3 (30 steps, 33 frames)",
        "agent.force.x",
        "agent.pos.z",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }

    let frames = dir.join("frames");
    let export = prefrontal(&[
        "dataset",
        "export-frames",
        data_arg,
        "--episode",
        "1",
        "--out",
        frames.to_str().unwrap(),
    ]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    assert_eq!(
        std::fs::read_dir(&frames).unwrap().count(),
        11,
        "T+1 PNG frames"
    );
    let gif = prefrontal(&[
        "dataset",
        "export-frames",
        data_arg,
        "--episode",
        "1",
        "--out",
        frames.to_str().unwrap(),
        "--format",
        "gif",
    ]);
    assert!(gif.status.success(), "{}", text(&gif.stderr));
    assert!(
        std::fs::read(frames.join("episode_000001.gif"))
            .unwrap()
            .starts_with(b"GIF89a")
    );
    let missing = prefrontal(&[
        "dataset",
        "export-frames",
        data_arg,
        "--episode",
        "9",
        "--out",
        frames.to_str().unwrap(),
    ]);
    assert!(
        !missing.status.success() && text(&missing.stderr).contains("no episode 9"),
        "{}",
        text(&missing.stderr)
    );

    // A truncated shard is named; the others are still read and summarised.
    let shard = data.join("episodes/000001.safetensors");
    let bytes = std::fs::read(&shard).unwrap();
    std::fs::write(&shard, &bytes[..bytes.len() - 100]).unwrap();
    let info = prefrontal(&["dataset", "info", data_arg]);
    assert!(!info.status.success());
    let stdout = text(&info.stdout);
    assert!(
        stdout.contains("1 unreadable shards") && stdout.contains("000001.safetensors"),
        "{stdout}"
    );
    assert!(
        stdout.contains("agent.force.x"),
        "statistics of the readable shards: {stdout}"
    );
    assert!(
        text(&info.stderr).contains("1 of 3 shards are unreadable"),
        "{}",
        text(&info.stderr)
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn the_world_model_never_depends_on_bevy() {
    let graph = lock_graph();
    let deps = reachable(&graph, "prefrontal-worldmodel");
    assert!(deps.contains("burn"), "the lock file graph was not read");
    let bevy: Vec<_> = deps
        .iter()
        .filter(|d| d.starts_with("bevy") || d.starts_with("prefrontal-sim"))
        .collect();
    assert!(bevy.is_empty(), "prefrontal-worldmodel depends on {bevy:?}");
}

#[test]
fn only_the_runtime_turns_a_device_into_backend_types() {
    // The front ends (the CLI, the viewer) go through `prefrontal_runtime::on_device`.
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut checked = 0;
    for folder in ["src", "viewer/src"] {
        for entry in std::fs::read_dir(root.join(folder)).unwrap() {
            let path = entry.unwrap().path();
            let code = std::fs::read_to_string(&path).unwrap();
            for backend in [
                "backend::Flex",
                "backend::Cuda",
                "backend::Wgpu",
                "FlexDevice",
            ] {
                assert!(
                    !code.contains(backend),
                    "{} names {backend}: choose backends with prefrontal_runtime::on_device",
                    path.display()
                );
            }
            checked += 1;
        }
    }
    assert!(checked > 10, "the front ends' sources were not read");
}

#[test]
fn the_dataset_format_depends_on_neither_bevy_nor_burn() {
    let graph = lock_graph();
    let deps = reachable(&graph, "prefrontal-dataset");
    assert!(
        deps.contains("safetensors"),
        "the lock file graph was not read"
    );
    let engines: Vec<_> = deps
        .iter()
        .filter(|d| d.starts_with("bevy") || d.starts_with("burn"))
        .collect();
    assert!(
        engines.is_empty(),
        "prefrontal-dataset depends on {engines:?}"
    );
}

/// The viewer alone turns on Bevy's window features; the simulation names its render
/// plugins (never `DefaultPlugins`, which would open a window with those features on).
#[test]
fn the_simulation_holds_no_window_code() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let workspace_bevy = manifest
        .lines()
        .find(|l| l.starts_with("bevy = "))
        .expect("the workspace's bevy dependency");
    let sim_manifest = std::fs::read_to_string(root.join("sim/Cargo.toml")).unwrap();
    for (what, text) in [
        ("workspace bevy", workspace_bevy),
        ("sim/Cargo.toml", &sim_manifest),
    ] {
        for window in ["winit", "x11", "wayland", "egui"] {
            assert!(!text.contains(window), "{what} mentions {window}: {text}");
        }
    }
    let mut sources = vec![root.join("sim/src")];
    while let Some(path) = sources.pop() {
        if path.is_dir() {
            sources.extend(std::fs::read_dir(&path).unwrap().map(|e| e.unwrap().path()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let code = std::fs::read_to_string(&path).unwrap();
            for window in ["winit", "DefaultPlugins", "PrimaryWindow"] {
                assert!(
                    !code.contains(window),
                    "{} mentions {window}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn view_says_what_is_missing_before_opening_a_window() {
    let view = |args: &[&str], display: Option<&str>| {
        let mut command = command(args);
        command.env_remove("DISPLAY");
        if let Some(display) = display {
            command.env("DISPLAY", display);
        }
        let out = command.output().unwrap();
        assert!(!out.status.success(), "view {args:?} succeeded");
        text(&out.stderr)
    };
    let no_display = view(&["view", "scenes/reach.scene.ron", "--frames", "1"], None);
    assert!(
        no_display.contains("no X display") && no_display.contains("xvfb-run"),
        "{no_display}"
    );
    let not_a_run = view(&["view", "--run", "scenes"], Some(":0"));
    assert!(
        not_a_run.contains("scenes is not a run folder"),
        "{not_a_run}"
    );
    let screenshot_alone = view(
        &["view", "scenes/reach.scene.ron", "--screenshot", "x.png"],
        Some(":0"),
    );
    assert!(screenshot_alone.contains("--frames"), "{screenshot_alone}");
}

#[test]
fn bench_refuses_a_measurement_length_that_is_not_positive() {
    for bench in ["sim", "render", "train", "plan"] {
        for seconds in ["-1", "0", "nan", "inf", "soon"] {
            let out = prefrontal(&["bench", bench, &format!("--seconds={seconds}")]);
            let stderr = text(&out.stderr);
            assert!(!out.status.success(), "bench {bench} --seconds={seconds}");
            assert!(
                stderr.contains("--seconds") && !stderr.contains("panicked"),
                "bench {bench} --seconds={seconds}: {stderr}"
            );
        }
    }
}

#[test]
fn rendering_needs_neither_the_scripts_environment_nor_a_panic_to_explain_a_missing_driver() {
    let out = common::scratch("render-environment");
    let render = [
        "collect",
        "--scene",
        "scenes/reach.scene.ron",
        "--episodes",
        "1",
        "--steps",
        "5",
        "--out",
        out.to_str().unwrap(),
    ];
    // Outside the scripts (no XDG_RUNTIME_DIR): nothing on stderr that reads as a failure.
    let quiet = command(&render)
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .unwrap();
    let stderr = text(&quiet.stderr);
    assert!(quiet.status.success(), "{stderr}");
    assert!(!stderr.contains("XDG_RUNTIME_DIR"), "{stderr}");
    std::fs::remove_dir_all(&out).unwrap();
    // No Vulkan driver (and no EGL one, which wgpu's GL backend would use instead): one line
    // naming the cause and the fix, no backtrace.
    let missing = command(&render)
        .env("VK_ICD_FILENAMES", "/nowhere/icd.json")
        .env("__EGL_VENDOR_LIBRARY_FILENAMES", "/nowhere/egl.json")
        .output()
        .unwrap();
    let stderr = text(&missing.stderr);
    assert!(!missing.status.success());
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no GPU adapter found (VK_ICD_FILENAMES is /nowhere/icd.json)")
            && stderr.contains("lavapipe")
            && stderr.contains("scripts/setup.sh"),
        "{stderr}"
    );
}

#[test]
fn output_folders_that_cannot_be_written_are_one_line_errors_naming_them() {
    let dir = common::scratch("unwritable");
    std::fs::create_dir_all(&dir).unwrap();
    // A file where a folder should go fails for every user, root included.
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "not a folder").unwrap();
    let inside = |name: &str| blocker.join(name).to_str().unwrap().to_owned();
    let one_line_naming_it = |args: &[&str]| {
        let output = prefrontal(args);
        let stderr = text(&output.stderr);
        assert!(!output.status.success(), "{args:?}");
        let last = stderr.trim().lines().last().unwrap_or_default().to_owned();
        assert!(
            last.starts_with("error:") && last.contains("a-file") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    };
    let collect = |out: &str| {
        vec![
            "collect".to_owned(),
            "--scene".into(),
            "scenes/reach.scene.ron".into(),
            "--episodes".into(),
            "2".into(),
            "--steps".into(),
            "30".into(),
            "--out".into(),
            out.to_owned(),
        ]
    };
    let args = collect(&inside("data"));
    one_line_naming_it(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let data = dir.join("data").to_str().unwrap().to_owned();
    let args = collect(&data);
    let output = prefrontal(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(output.status.success(), "{}", text(&output.stderr));
    one_line_naming_it(&[
        "train",
        "--data",
        &data,
        "--config",
        "configs/reach.worldmodel.ron",
        "--steps",
        "2",
        "--out",
        &inside("run"),
    ]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_cli_offers_every_registered_planner_policy_and_protocol() {
    use prefrontal_agent::PlannerKind;
    use prefrontal_agent::eval::ProtocolKind;
    use prefrontal_sim::policy::PolicyKind;
    let help = |args: &[&str]| text(&prefrontal(args).stdout);
    let eval = help(&["eval", "--help"]);
    for kind in PlannerKind::ALL {
        assert!(eval.contains(&format!("{}: ", kind.name())), "{eval}");
        assert!(eval.contains(&kind.about()), "{eval}");
    }
    for kind in ProtocolKind::ALL {
        assert!(eval.contains(&format!("{}: ", kind.name())), "{eval}");
    }
    for command in ["collect", "sim"] {
        let usage = help(&[command, "--help"]);
        for kind in PolicyKind::ALL {
            assert!(usage.contains(&format!("{}: ", kind.name())), "{usage}");
        }
    }
    // A name outside the registry is refused, listing the registry.
    let out = prefrontal(&[
        "eval",
        "--planner",
        "annealing",
        "--checkpoint",
        "x",
        "--scene",
        "y",
        "--out",
        "z",
    ]);
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    let names: Vec<&str> = PlannerKind::ALL.iter().map(|kind| kind.name()).collect();
    assert!(stderr.contains(&names.join(", ")), "{stderr}");
}
