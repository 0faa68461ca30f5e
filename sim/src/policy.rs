//! Scripted action sources that need no world model: baselines and data collection.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::env::{Action, BoxSpace};

/// Independent uniform actions within the action space's bounds, seeded.
#[derive(Debug, Clone)]
pub struct RandomPolicy {
    rng: ChaCha8Rng,
    low: Vec<f32>,
    high: Vec<f32>,
}

impl RandomPolicy {
    /// A policy over `space` whose action sequence is fixed by `seed`.
    pub fn new(space: &BoxSpace, seed: u64) -> Self {
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            low: space.low.clone(),
            high: space.high.clone(),
        }
    }

    /// The next action.
    pub fn act(&mut self) -> Action {
        Action(
            self.low
                .iter()
                .zip(&self.high)
                .map(|(&lo, &hi)| self.rng.random_range(lo..=hi))
                .collect(),
        )
    }
}
