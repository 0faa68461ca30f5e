//! Running the `prefrontal` binary from tests. Each test binary uses a subset.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use protobuf::Message;
use tensorboard_proto::event::Event;

/// `prefrontal ARGS`, to run in the repository root.
pub fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_prefrontal"));
    command.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    command
}

/// Runs `prefrontal ARGS` in the repository root and waits for it.
pub fn prefrontal(args: &[&str]) -> Output {
    command(args).output().expect("the binary runs")
}

pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

pub fn run_ok(args: &[&str]) -> String {
    succeeded(args, prefrontal(args))
}

/// The output of `prefrontal ARGS`, which must have succeeded.
fn succeeded(args: &[&str], output: Output) -> String {
    let text = text(&output);
    assert!(
        output.status.success(),
        "prefrontal {args:?} failed:\n{text}"
    );
    text
}

/// Runs `prefrontal ARGS`, which must fail, and returns its output.
pub fn run_failing(args: &[&str]) -> String {
    let output = prefrontal(args);
    let text = text(&output);
    assert!(
        !output.status.success(),
        "prefrontal {args:?} succeeded:\n{text}"
    );
    text
}

/// The names of the shipped scenes (`scenes/NAME.scene.ron`), sorted; there is at least one.
pub fn scene_names() -> Vec<String> {
    prefrontal_sim::Scene::names_in(concat!(env!("CARGO_MANIFEST_DIR"), "/scenes"))
        .expect("the shipped scenes")
}

pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("prefrontal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

pub fn collect(dir: &Path, episodes: &str) -> String {
    let data = dir.join("data");
    run_ok(&[
        "collect",
        "--scene",
        "scenes/reach.scene.ron",
        "--episodes",
        episodes,
        "--steps",
        "100",
        "--seed",
        "1",
        "--policy",
        "smooth",
        "--envs",
        "16",
        "--out",
        data.to_str().unwrap(),
    ]);
    data.to_str().unwrap().to_owned()
}

/// The number after `label` in `text`.
pub fn number_after(text: &str, label: &str) -> f64 {
    let start = text
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        + label.len();
    text[start..]
        .trim_start()
        .split(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-'))
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {label:?} in:\n{text}"))
}

/// Waits until `path` exists (e.g. a checkpoint of a running child), at most `seconds`.
pub fn wait_for_file(path: &Path, seconds: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(seconds);
    while !path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "{} did not appear",
            path.display()
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Runs `prefrontal ARGS` on a private virtual X display (Xvfb, installed by
/// `scripts/setup.sh`), as a window needs; the display ends with the command.
pub fn prefrontal_on_display(args: &[&str]) -> Output {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let number = 200 + (std::process::id() % 300) * 8 + NEXT.fetch_add(1, Ordering::Relaxed) % 8;
    let display = format!(":{number}");
    let mut server = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("Xvfb runs (scripts/setup.sh installs it)");
    let socket = PathBuf::from(format!("/tmp/.X11-unix/X{number}"));
    wait_for_file(&socket, 20);
    let output = command(args)
        .env("DISPLAY", &display)
        .output()
        .expect("the binary runs");
    let _ = server.kill();
    let _ = server.wait();
    output
}

/// Runs `prefrontal ARGS` on a virtual display; it must succeed.
pub fn run_on_display_ok(args: &[&str]) -> String {
    succeeded(args, prefrontal_on_display(args))
}

/// A PNG's size and RGB pixels.
pub fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let image = image::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .to_rgb8();
    (image.width(), image.height(), image.into_raw())
}

/// Pixels of an RGB image (`width` wide) within the rectangle `[x0, x1) × [y0, y1)`.
pub fn region(pixels: &[u8], width: u32, (x0, y0, x1, y1): (u32, u32, u32, u32)) -> Vec<[u8; 3]> {
    (y0..y1)
        .flat_map(|y| (x0..x1).map(move |x| (y * width + x) as usize * 3))
        .map(|i| [pixels[i], pixels[i + 1], pixels[i + 2]])
        .collect()
}

/// How many of `pixels` are within `tolerance` (per channel) of `color`.
pub fn count_near(pixels: &[[u8; 3]], color: [u8; 3], tolerance: u8) -> usize {
    pixels
        .iter()
        .filter(|p| (0..3).all(|c| p[c].abs_diff(color[c]) <= tolerance))
        .count()
}

/// The arguments of `prefrontal train` on `data` with `config` into the run folder `out`.
pub fn train_args<'a>(data: &'a str, config: &'a str, out: &'a str) -> Vec<&'a str> {
    vec!["train", "--data", data, "--config", config, "--out", out]
}

/// `prefrontal train` on `data` with the world-model `config` into `out`, `steps` long
/// when given (the config's otherwise); it must succeed.
pub fn train(data: &str, config: &str, out: &str, steps: Option<&str>) -> String {
    let mut args = train_args(data, config, out);
    if let Some(steps) = steps {
        args.extend(["--steps", steps]);
    }
    run_ok(&args)
}

/// Reads every record of a TFRecord event file, checking the framing and both masked
/// CRC32C checksums; parses each record as an `Event`.
pub fn read_events(path: &Path) -> Vec<Event> {
    let bytes = std::fs::read(path).unwrap();
    let mut events = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        assert!(
            at + 12 <= bytes.len(),
            "{}: truncated header",
            path.display()
        );
        let header = &bytes[at..at + 8];
        let length = u64::from_le_bytes(header.try_into().unwrap()) as usize;
        let header_crc = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap());
        assert_eq!(masked_crc32c(header), header_crc, "length checksum");
        let data = &bytes[at + 12..at + 12 + length];
        let data_crc = u32::from_le_bytes(
            bytes[at + 12 + length..at + 16 + length]
                .try_into()
                .unwrap(),
        );
        assert_eq!(masked_crc32c(data), data_crc, "data checksum");
        events.push(Event::parse_from_bytes(data).unwrap());
        at += 16 + length;
    }
    events
}

/// CRC-32C (Castagnoli), bit by bit, masked as TFRecord does.
fn masked_crc32c(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82f6_3b78
            } else {
                crc >> 1
            };
        }
    }
    let crc = !crc;
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

/// Every event of every event file in `dir` (not below it).
pub fn events_in(dir: &Path) -> Vec<Event> {
    let mut events = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("events.out.tfevents.") {
            let read = read_events(&path);
            assert_eq!(
                read[0].get_file_version(),
                "brain.Event:2",
                "{}",
                path.display()
            );
            events.extend(read);
        }
    }
    assert!(!events.is_empty(), "no events in {}", dir.display());
    events
}

/// `(step, value)` of every scalar summary tagged `tag` in `events`.
pub fn scalars(events: &[Event], tag: &str) -> Vec<(i64, f32)> {
    events
        .iter()
        .flat_map(|event| {
            event
                .get_summary()
                .get_value()
                .iter()
                .filter(|value| value.get_tag() == tag && value.has_simple_value())
                .map(move |value| (event.get_step(), value.get_simple_value()))
        })
        .collect()
}
