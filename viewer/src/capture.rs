//! Runs without a person: after a number of frames, a PNG screenshot of the window (or a
//! GIF of every frame), or just closing the window; then the app exits.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bevy::prelude::*;
use bevy::render::view::screenshot::{Screenshot, ScreenshotCaptured};
use bevy::window::PrimaryWindow;
use prefrontal_sim::Frame;
use prefrontal_sim::frame::write_gif;

use crate::Outcome;
use crate::state::ViewState;

/// What to capture before exiting.
#[derive(Debug, Clone, Default)]
pub struct CaptureOptions {
    /// A PNG of the window after `frames` frames.
    pub screenshot: Option<PathBuf>,
    /// An animated GIF of the window's first `frames` frames.
    pub record: Option<PathBuf>,
    /// Frames to draw before the screenshot, in the GIF, or before the window closes.
    pub frames: Option<u32>,
}

impl CaptureOptions {
    /// Whether the viewer runs by itself (one control step per frame, then exits).
    pub fn unattended(&self) -> bool {
        self.frames.is_some()
    }
}

/// The capture in progress; `failure` holds the first error.
#[derive(Resource, Debug)]
pub struct Capture {
    options: CaptureOptions,
    /// Frames of the GIF, in order of capture.
    recorded: Arc<Mutex<Vec<Option<Frame>>>>,
    /// Screenshots requested and not yet captured.
    pending: Arc<Mutex<u32>>,
    /// The screenshot was written.
    shot: Arc<Mutex<Option<Result<(), String>>>>,
    /// The control rate, the GIF's frame rate.
    hz: f32,
    finished: bool,
}

impl Capture {
    /// A capture of `options`, recording at `hz` frames per second.
    pub fn new(options: CaptureOptions, hz: f32) -> Self {
        Capture {
            options,
            recorded: Arc::default(),
            pending: Arc::default(),
            shot: Arc::default(),
            hz,
            finished: false,
        }
    }
}

/// An RGB frame of a captured window image.
fn captured_frame(image: &Image) -> Result<Frame, String> {
    let rgb = image
        .clone()
        .try_into_dynamic()
        .map_err(|error| format!("the window image cannot be converted: {error}"))?
        .to_rgb8();
    Ok(Frame {
        width: rgb.width(),
        height: rgb.height(),
        pixels: rgb.into_raw(),
    })
}

/// Requests screenshots as the options ask, writes the files and exits when done.
pub fn capture(
    mut commands: Commands,
    state: Res<ViewState>,
    mut capture: ResMut<Capture>,
    windows: Query<Entity, With<PrimaryWindow>>,
    outcome: Res<Outcome>,
    mut exit: MessageWriter<AppExit>,
) {
    let Some(frames) = capture.options.frames else {
        return;
    };
    if capture.finished {
        return;
    }
    let drawn = state.frames;
    if capture.options.record.is_some() && drawn <= u64::from(frames) {
        let slot = {
            let mut recorded = capture.recorded.lock().expect("not poisoned");
            recorded.push(None);
            recorded.len() - 1
        };
        *capture.pending.lock().expect("not poisoned") += 1;
        let (recorded, pending) = (capture.recorded.clone(), capture.pending.clone());
        commands.spawn(Screenshot::primary_window()).observe(
            move |captured: On<ScreenshotCaptured>| {
                if let Ok(frame) = captured_frame(&captured.image) {
                    recorded.lock().expect("not poisoned")[slot] = Some(frame);
                }
                *pending.lock().expect("not poisoned") -= 1;
            },
        );
    }
    if let Some(path) = capture.options.screenshot.clone()
        && drawn == u64::from(frames)
    {
        let shot = capture.shot.clone();
        commands.spawn(Screenshot::primary_window()).observe(
            move |captured: On<ScreenshotCaptured>| {
                let written = captured_frame(&captured.image).and_then(|frame| {
                    image::save_buffer(
                        &path,
                        &frame.pixels,
                        frame.width,
                        frame.height,
                        image::ExtendedColorType::Rgb8,
                    )
                    .map_err(|error| format!("{}: {error}", path.display()))
                });
                *shot.lock().expect("not poisoned") = Some(written);
            },
        );
    }
    if drawn < u64::from(frames) {
        return;
    }
    let shot_done = capture.options.screenshot.is_none()
        || capture.shot.lock().expect("not poisoned").is_some();
    let record_done = *capture.pending.lock().expect("not poisoned") == 0;
    if !(shot_done && record_done) {
        return;
    }
    capture.finished = true;
    let mut failure = None;
    if let Some(Some(Err(error))) = capture.shot.lock().ok().map(|s| s.clone()) {
        failure = Some(error);
    }
    if let Some(path) = &capture.options.record {
        let frames: Vec<Frame> = capture
            .recorded
            .lock()
            .expect("not poisoned")
            .drain(..)
            .flatten()
            .collect();
        if let Err(error) = write_gif(path, frames, capture.hz) {
            failure = Some(format!("{}: {error}", path.display()));
        }
    }
    match failure {
        Some(error) => {
            *outcome.failure.lock().expect("not poisoned") = Some(error);
            exit.write(AppExit::error());
        }
        None => {
            // Closing the window is how a person ends the viewer: the same path exits.
            for window in &windows {
                commands.entity(window).despawn();
            }
        }
    }
}
