//! What a representation knows: spread, effective rank, and a linear probe to privileged state.

use nalgebra::{DMatrix, DVector, SymmetricEigen};

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
/// in the training rows. `state` is `[rows, names.len()]`.
pub fn probe_targets(names: &[String], state: &[f32]) -> Vec<usize> {
    let width = names.len();
    (0..width)
        .filter(|&j| names[j].contains(".pos."))
        .filter(|&j| {
            let column = state.iter().skip(j).step_by(width);
            let (low, high) = column.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), &v| {
                (lo.min(v), hi.max(v))
            });
            high - low > 1e-4
        })
        .collect()
}

/// Fits ridge regressions (with bias, standardised inputs) from `train` latents to the
/// `targets` columns of `train_state`, and scores R² on `validation`.
pub fn ridge_probe(
    train: &Latents,
    train_state: &[f32],
    validation: &Latents,
    validation_state: &[f32],
    names: &[String],
    targets: &[usize],
) -> ProbeScore {
    let width = names.len();
    let x = train.matrix();
    let mean = x.row_mean();
    let std = x.row_variance().map(|v| v.sqrt().max(1e-6));
    let standardise = |m: DMatrix<f64>| {
        let (r, c) = m.shape();
        DMatrix::from_fn(r, c + 1, |i, j| {
            if j == c {
                1.0
            } else {
                (m[(i, j)] - mean[j]) / std[j]
            }
        })
    };
    let x = standardise(x);
    let xv = standardise(validation.matrix());
    let d = x.ncols();
    let mut gram = x.transpose() * &x;
    let ridge = 1e-3 * x.nrows() as f64;
    for j in 0..d - 1 {
        gram[(j, j)] += ridge;
    }
    // The bias column gets a tiny ridge only, to keep the system positive definite.
    gram[(d - 1, d - 1)] += 1e-9;
    let cholesky = gram
        .cholesky()
        .expect("a ridge-regularised Gram matrix is positive definite");
    let per_target = targets
        .iter()
        .map(|&j| {
            let y = DVector::from_iterator(
                x.nrows(),
                train_state.iter().skip(j).step_by(width).map(|&v| v as f64),
            );
            let w = cholesky.solve(&(x.transpose() * &y));
            let yv = DVector::from_iterator(
                xv.nrows(),
                validation_state
                    .iter()
                    .skip(j)
                    .step_by(width)
                    .map(|&v| v as f64),
            );
            let predicted = &xv * w;
            let residual = (&yv - predicted).norm_squared();
            let mean = yv.mean();
            let total = yv
                .iter()
                .map(|v| (v - mean).powi(2))
                .sum::<f64>()
                .max(f64::MIN_POSITIVE);
            (names[j].clone(), 1.0 - residual / total)
        })
        .collect();
    ProbeScore { per_target }
}
