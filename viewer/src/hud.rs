//! The HUD (egui): episode and plan numbers, the agent's and the goal's camera frames as
//! the model sees them, the energy over the planner's iterations, and a help line.

use bevy::asset::RenderAssetUsages;
use bevy::image::ImageSampler;
use bevy::prelude::*;
use bevy::render::render_resource::{Extent3d, TextureDimension, TextureFormat};
use bevy_egui::{EguiContexts, EguiTextureHandle, egui};
use prefrontal_agent::PlannerKind;
use prefrontal_sim::Frame;

use crate::controls::PLANNER_KEYS;
use crate::state::{Pilot, ViewState};

/// Side of each camera inset, in logical pixels.
pub const INSET_SIDE: f32 = 160.0;
/// Margin between the HUD windows and the window's edges.
pub const MARGIN: f32 = 8.0;

/// The one-line help at the bottom of the window.
pub fn help_line() -> &'static str {
    static LINE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LINE.get_or_init(|| {
        let planners: Vec<String> = PlannerKind::ALL
            .iter()
            .zip(1..=PLANNER_KEYS.len())
            .map(|(kind, key)| format!("{key} {}", kind.label()))
            .collect();
        format!(
            "Space pause · . step · R reset · G new goal · click floor: place goal · \
Tab agent/keyboard · WASD/arrows drive · +/- speed · {} · \
drag orbit · right-drag pan · wheel zoom",
            planners.join(" ")
        )
    })
}

/// The insets' images and the frame version they show.
#[derive(Resource, Debug, Default)]
pub struct Insets {
    agent: Option<Handle<Image>>,
    goal: Option<Handle<Image>>,
    version: u64,
}

/// An RGB frame as a Bevy image, sampled nearest so pixels stay crisp.
fn frame_image(frame: &Frame) -> Image {
    let rgba: Vec<u8> = frame
        .pixels
        .chunks_exact(3)
        .flat_map(|p| [p[0], p[1], p[2], 255])
        .collect();
    let mut image = Image::new(
        Extent3d {
            width: frame.width,
            height: frame.height,
            depth_or_array_layers: 1,
        },
        TextureDimension::D2,
        rgba,
        TextureFormat::Rgba8UnormSrgb,
        RenderAssetUsages::RENDER_WORLD | RenderAssetUsages::MAIN_WORLD,
    );
    image.sampler = ImageSampler::nearest();
    image
}

/// Uploads new camera frames into the insets' images.
pub fn update_insets(
    state: Res<ViewState>,
    mut insets: ResMut<Insets>,
    mut images: ResMut<Assets<Image>>,
) {
    if insets.version == state.frame_version {
        return;
    }
    insets.version = state.frame_version;
    let mut put = |slot: &mut Option<Handle<Image>>, frame: &Option<Frame>| {
        let Some(frame) = frame else {
            return;
        };
        let image = frame_image(frame);
        match slot {
            Some(handle) => {
                images
                    .insert(handle.id(), image)
                    .expect("the inset's image is alive");
            }
            None => *slot = Some(images.add(image)),
        }
    };
    put(&mut insets.agent, &state.frame);
    put(&mut insets.goal, &state.goal_frame);
}

/// Draws the HUD.
pub fn draw_hud(mut contexts: EguiContexts, state: Res<ViewState>, insets: Res<Insets>) -> Result {
    let textures: Vec<Option<egui::TextureId>> = [&insets.agent, &insets.goal]
        .into_iter()
        .map(|handle| {
            handle
                .as_ref()
                .map(|h| contexts.add_image(EguiTextureHandle::Weak(h.id())))
        })
        .collect();
    let ctx = contexts.ctx_mut()?;
    let frame = egui::Frame::new()
        .fill(egui::Color32::from_black_alpha(220))
        .inner_margin(egui::Margin::same(8))
        .corner_radius(4.0);
    egui::Window::new("Prefrontal")
        .frame(frame)
        .anchor(egui::Align2::LEFT_TOP, [MARGIN, MARGIN])
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| status(ui, &state));
    egui::Window::new("What the model sees")
        .frame(frame)
        .anchor(egui::Align2::RIGHT_TOP, [-MARGIN, MARGIN])
        .resizable(false)
        .collapsible(false)
        .show(ctx, |ui| {
            ui.horizontal(|ui| {
                for (texture, label) in textures.iter().zip(["agent", "goal"]) {
                    ui.vertical(|ui| {
                        ui.label(label);
                        match texture {
                            Some(id) => {
                                ui.image(egui::load::SizedTexture::new(
                                    *id,
                                    egui::vec2(INSET_SIDE, INSET_SIDE),
                                ));
                            }
                            None => {
                                ui.allocate_space(egui::vec2(INSET_SIDE, INSET_SIDE));
                            }
                        }
                    });
                }
            });
            if state.planner.is_some() {
                ui.label("plan energy over the search's iterations");
                energy_plot(ui, &state.trace);
            }
        });
    egui::Area::new(egui::Id::new("help"))
        .anchor(egui::Align2::LEFT_BOTTOM, [MARGIN, -MARGIN])
        .show(ctx, |ui| {
            egui::Frame::NONE
                .fill(egui::Color32::from_black_alpha(200))
                .inner_margin(4.0)
                .show(ui, |ui| ui.label(help_line()));
        });
    Ok(())
}

/// The numbers of the episode and the plan.
fn status(ui: &mut egui::Ui, state: &ViewState) {
    let title = match &state.checkpoint {
        Some(checkpoint) => format!("{} — {checkpoint}", state.scene),
        None => state.scene.clone(),
    };
    ui.strong(title);
    if !state.protocol.is_empty() {
        ui.label(format!("goals: {}", state.protocol));
    }
    ui.label(format!(
        "episode {} (seed {}), step {}",
        state.episodes, state.seed, state.step
    ));
    let reached = if state.success { "reached" } else { "not yet" };
    ui.label(format!(
        "distance to goal {:.3} m — {reached}",
        state.distance
    ));
    let pilot = match (state.pilot, state.planner) {
        (Pilot::Agent, Some(planner)) => format!("agent ({})", planner.label()),
        _ => "keyboard".to_owned(),
    };
    let clock = if state.paused { "paused" } else { "running" };
    ui.label(format!("{pilot}, {clock}, {:.3}× real time", state.speed));
    if state.planner.is_some() {
        let energy = state.energy.map_or("—".to_owned(), |e| format!("{e:.4}"));
        let millis = state
            .plan_ms
            .map_or("—".to_owned(), |m| format!("{m:.0} ms"));
        ui.label(format!("plan energy {energy}, planning {millis}"));
        ui.label(format!("{:.1} plans per second", state.plans_per_second));
        ui.horizontal(|ui| {
            ui.colored_label(egui::Color32::from_rgb(255, 0, 255), "— imagined");
            ui.colored_label(egui::Color32::from_rgb(0, 255, 255), "— simulator");
        });
    }
    if let Some(outcome) = &state.outcome {
        ui.strong(outcome);
    }
    if let Some(note) = &state.note {
        ui.colored_label(egui::Color32::from_rgb(255, 200, 80), note);
    }
}

/// A line plot of `values` (lower is better), scaled to its range.
fn energy_plot(ui: &mut egui::Ui, values: &[f32]) {
    let size = egui::vec2(2.0 * INSET_SIDE + ui.spacing().item_spacing.x, 60.0);
    let (response, painter) = ui.allocate_painter(size, egui::Sense::hover());
    let rect = response.rect;
    painter.rect_stroke(
        rect,
        0.0,
        egui::Stroke::new(1.0, egui::Color32::GRAY),
        egui::StrokeKind::Inside,
    );
    if values.len() < 2 {
        return;
    }
    let low = values.iter().copied().fold(f32::INFINITY, f32::min);
    let high = values.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let span = (high - low).max(1e-6);
    let last = (values.len() - 1) as f32;
    let points = values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            egui::pos2(
                egui::lerp(rect.left() + 4.0..=rect.right() - 4.0, i as f32 / last),
                egui::lerp(rect.bottom() - 4.0..=rect.top() + 4.0, (v - low) / span),
            )
        })
        .collect();
    painter.add(egui::Shape::line(
        points,
        egui::Stroke::new(1.5, egui::Color32::LIGHT_GREEN),
    ));
    painter.text(
        rect.left_top() + egui::vec2(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("{high:.3} → {:.3}", values[values.len() - 1]),
        egui::FontId::monospace(10.0),
        egui::Color32::LIGHT_GRAY,
    );
}
