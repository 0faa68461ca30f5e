//! Recording rendered episodes into a dataset, with progress as events.

use std::path::{Path, PathBuf};

use prefrontal_sim::collect::{CollectConfig, CollectSummary};
use prefrontal_sim::policy::PolicyKind;
use prefrontal_sim::{RenderOptions, Scene};

use crate::events::{Event, Observer};
use crate::{ResultExt, RuntimeError};

/// A collection into a dataset folder: created, or appended to when it holds a matching
/// dataset.
#[derive(Debug, Clone)]
pub struct CollectRequest {
    /// Episodes per policy, recorded in this order.
    pub policies: Vec<(PolicyKind, usize)>,
    /// Most actions per episode.
    pub steps: usize,
    /// The collection's episode `e` (counted over all policies) uses seed `seed + e`.
    pub seed: u64,
    /// Worlds stepping (and rendering) together.
    pub envs: usize,
    /// Camera and frame size.
    pub render: RenderOptions,
    /// The dataset folder.
    pub out: PathBuf,
}

/// Records the episodes `request` asks for in the scene of the file `scene`.
pub fn collect(
    scene: &Path,
    request: &CollectRequest,
    observe: Observer,
) -> Result<CollectSummary, RuntimeError> {
    let source =
        std::fs::read_to_string(scene).with_context(|| format!("reading {}", scene.display()))?;
    let parsed = Scene::parse(&source, scene)?;
    collect_in(&parsed, &source, request, observe)
}

/// Records the episodes `request` asks for in `scene`, parsed from `scene_source` (which
/// the dataset keeps).
pub fn collect_in(
    scene: &Scene,
    scene_source: &str,
    request: &CollectRequest,
    observe: Observer,
) -> Result<CollectSummary, RuntimeError> {
    let total = request.policies.iter().map(|(_, episodes)| episodes).sum();
    observe(Event::CollectStarted { total });
    let mut seed = request.seed;
    let (mut done, mut summary) = (0, CollectSummary::default());
    for &(policy, episodes) in &request.policies {
        // A mix's empty parts record nothing; a lone policy with no episodes still creates
        // (or checks) the dataset.
        if episodes == 0 && request.policies.len() > 1 {
            continue;
        }
        let config = CollectConfig {
            episodes,
            steps: request.steps,
            seed,
            policy,
            envs: request.envs,
            render: request.render.clone(),
        };
        let part = prefrontal_sim::collect::collect(
            scene.clone(),
            scene_source,
            &config,
            &request.out,
            |written| {
                observe(Event::Collected {
                    done: done + written,
                    policy: policy.name(),
                })
            },
        )?;
        summary.episodes += part.episodes;
        summary.steps += part.steps;
        summary.successes += part.successes;
        done += episodes;
        seed += episodes as u64;
    }
    observe(Event::CollectFinished);
    Ok(summary)
}
