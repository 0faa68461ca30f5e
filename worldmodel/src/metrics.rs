//! What a representation knows: spread, effective rank, and a linear probe to privileged state.

use std::path::Path;

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};

use crate::WorldModelError;

/// Latents as a row-major `[rows, dim]` matrix on the CPU.
#[derive(Debug, Clone)]
pub struct Latents {
    /// `f32 [rows, dim]`.
    pub values: Vec<f32>,
    /// Width of one latent.
    pub dim: usize,
}

impl Latents {
    fn rows(&self) -> usize {
        self.values.len() / self.dim
    }

    fn matrix(&self) -> DMatrix<f64> {
        DMatrix::from_row_iterator(self.rows(), self.dim, self.values.iter().map(|&v| v as f64))
    }

    fn covariance(&self) -> DMatrix<f64> {
        let x = self.matrix();
        let mean = x.row_mean();
        let centered = DMatrix::from_fn(x.nrows(), x.ncols(), |i, j| x[(i, j)] - mean[j]);
        centered.transpose() * &centered / (x.nrows().max(2) - 1) as f64
    }

    /// Mean over dimensions of each dimension's standard deviation.
    pub fn mean_std(&self) -> f64 {
        let covariance = self.covariance();
        (0..self.dim)
            .map(|j| covariance[(j, j)].max(0.0).sqrt())
            .sum::<f64>()
            / self.dim as f64
    }

    /// Effective rank (Roy & Vetterli): `exp` of the entropy of the normalised covariance
    /// eigenvalues. 1 for a collapsed or one-dimensional set, `dim` for an isotropic one.
    pub fn effective_rank(&self) -> f64 {
        let eigenvalues = SymmetricEigen::new(self.covariance()).eigenvalues;
        let total: f64 = eigenvalues.iter().map(|e| e.max(0.0)).sum();
        if total <= f64::MIN_POSITIVE {
            return 1.0;
        }
        let entropy: f64 = eigenvalues
            .iter()
            .map(|e| e.max(0.0) / total)
            .filter(|p| *p > 0.0)
            .map(|p| -p * p.ln())
            .sum();
        entropy.exp()
    }
}

/// R² of a ridge probe on each target, scored on held-out rows.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeScore {
    /// Target names with their validation R².
    pub per_target: Vec<(String, f64)>,
}

impl ProbeScore {
    /// Mean R² over targets.
    pub fn mean(&self) -> f64 {
        self.per_target.iter().map(|(_, r2)| r2).sum::<f64>() / self.per_target.len().max(1) as f64
    }

    /// R² of the target called `name`.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.per_target
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r2)| *r2)
    }
}

/// Privileged-state components a probe predicts: every position component (`*.pos.*`) that varies
/// by more than a centimetre in the training rows (a body held at one height by joints
/// wobbles by a millimetre or two when pressed against an obstacle, too little to see in a
/// frame, and its R² would be noise). `state` is `[rows, names.len()]`.
pub fn probe_targets(names: &[String], state: &[f32]) -> Vec<usize> {
    let width = names.len();
    (0..width)
        .filter(|&j| names[j].contains(".pos."))
        .filter(|&j| {
            let column = state.iter().skip(j).step_by(width);
            let (low, high) = column.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
            high - low > 1e-2
        })
        .collect()
}

/// File of a checkpoint folder holding its fitted probe.
pub const PROBE_FILE: &str = "probe.json";

/// A ridge regression from latents to privileged-state components (with bias, on
/// standardised latents), fitted on training latents: it decodes a latent to positions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearProbe {
    /// Names of the predicted state components, e.g. `tee.pos.x`.
    pub targets: Vec<String>,
    /// Per-dimension mean of the training latents.
    pub mean: Vec<f64>,
    /// Per-dimension standard deviation of the training latents.
    pub std: Vec<f64>,
    /// One row per target: a weight per latent dimension, then the bias.
    pub weights: Vec<Vec<f64>>,
}

impl LinearProbe {
    /// Fits the `targets` columns of `state` (`[rows, names.len()]`) from `latents`; `None`
    /// when the latents are not finite (the least-squares system has no solution).
    pub fn fit(
        latents: &Latents,
        state: &[f32],
        names: &[String],
        targets: &[usize],
    ) -> Option<LinearProbe> {
        if latents.values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        let width = names.len();
        let x = latents.matrix();
        let mean: Vec<f64> = x.row_mean().iter().copied().collect();
        let std: Vec<f64> = x
            .row_variance()
            .iter()
            .map(|v| v.sqrt().max(1e-6))
            .collect();
        let x = standardise(&x, &mean, &std);
        let d = x.ncols();
        let mut gram = x.transpose() * &x;
        let ridge = 1e-3 * x.nrows() as f64;
        for j in 0..d - 1 {
            gram[(j, j)] += ridge;
        }
        // The bias column gets a tiny ridge only, to keep the system positive definite.
        gram[(d - 1, d - 1)] += 1e-9;
        let cholesky = gram.cholesky()?;
        let weights = targets
            .iter()
            .map(|&j| {
                let y = DVector::from_iterator(
                    x.nrows(),
                    state.iter().skip(j).step_by(width).map(|&v| v as f64),
                );
                cholesky
                    .solve(&(x.transpose() * &y))
                    .iter()
                    .copied()
                    .collect()
            })
            .collect();
        Some(LinearProbe {
            targets: targets.iter().map(|&j| names[j].clone()).collect(),
            mean,
            std,
            weights,
        })
    }

    /// The targets predicted from one latent `[D]`, in `targets` order.
    pub fn predict(&self, latent: &[f32]) -> Vec<f64> {
        self.weights
            .iter()
            .map(|w| {
                let bias = w[self.mean.len()];
                latent
                    .iter()
                    .zip(self.mean.iter().zip(&self.std))
                    .zip(w)
                    .map(|((&z, (m, s)), w)| (z as f64 - m) / s * w)
                    .sum::<f64>()
                    + bias
            })
            .collect()
    }

    /// R² of each target on `latents` with their `state` (columns named by `names`).
    pub fn score(&self, latents: &Latents, state: &[f32], names: &[String]) -> ProbeScore {
        let width = names.len();
        let x = standardise(&latents.matrix(), &self.mean, &self.std);
        let per_target = self
            .targets
            .iter()
            .zip(&self.weights)
            .map(|(name, w)| {
                let j = names
                    .iter()
                    .position(|n| n == name)
                    .expect("a state column");
                let y = DVector::from_iterator(
                    x.nrows(),
                    state.iter().skip(j).step_by(width).map(|&v| v as f64),
                );
                let residual = (&y - &x * DVector::from_column_slice(w)).norm_squared();
                let mean = y.mean();
                let total = y
                    .iter()
                    .map(|v| (v - mean).powi(2))
                    .sum::<f64>()
                    .max(f64::MIN_POSITIVE);
                (name.clone(), 1.0 - residual / total)
            })
            .collect();
        ProbeScore { per_target }
    }

    /// Writes the probe into a checkpoint folder.
    pub fn save(&self, checkpoint: &Path) -> Result<(), WorldModelError> {
        let path = checkpoint.join(PROBE_FILE);
        let text = serde_json::to_string(self).expect("a probe serialises");
        std::fs::write(&path, text).map_err(|source| WorldModelError::Io { path, source })
    }

    /// The probe saved in a checkpoint folder, `None` when there is none.
    pub fn load(checkpoint: &Path) -> Result<Option<LinearProbe>, WorldModelError> {
        let path = checkpoint.join(PROBE_FILE);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(WorldModelError::Io { path, source }),
        };
        let probe: LinearProbe =
            serde_json::from_str(&text).map_err(|error| WorldModelError::Checkpoint {
                path: path.clone(),
                message: format!("not a probe: {error}"),
            })?;
        let columns = probe.mean.len() + 1;
        if probe.std.len() + 1 != columns
            || probe.weights.len() != probe.targets.len()
            || probe.weights.iter().any(|w| w.len() != columns)
        {
            return Err(WorldModelError::Checkpoint {
                path,
                message: "the probe's weights do not match its latent width".into(),
            });
        }
        Ok(Some(probe))
    }
}

/// `m` with each column standardised by `mean` and `std`, and a bias column of ones.
fn standardise(m: &DMatrix<f64>, mean: &[f64], std: &[f64]) -> DMatrix<f64> {
    let (r, c) = m.shape();
    DMatrix::from_fn(r, c + 1, |i, j| {
        if j == c {
            1.0
        } else {
            (m[(i, j)] - mean[j]) / std[j]
        }
    })
}

#[cfg(test)]
mod probe_target_tests {
    use super::probe_targets;

    #[test]
    fn probe_targets_are_the_positions_that_move_by_more_than_a_centimetre() {
        let names: Vec<String> = ["arm.pos.x", "arm.pos.y", "arm.vel.x", "post.pos.z"]
            .iter()
            .map(|n| n.to_string())
            .collect();
        // Rows: [arm.pos.x, arm.pos.y (a 2 mm wobble), arm.vel.x, post.pos.z (fixed)].
        let state = [
            0.0, 0.170, 1.0, 0.5, //
            0.4, 0.172, -1.0, 0.5, //
            -0.3, 0.171, 0.0, 0.5,
        ];
        assert_eq!(probe_targets(&names, &state), vec![0]);
    }
}
