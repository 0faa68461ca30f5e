//! Training losses: latent prediction (teacher forcing and open-loop rollout) and anti-collapse terms.

use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution as _, StandardNormal};

use crate::config::Distance;

/// Upper end of the characteristic-function integral; the weight `e^{-t²/2}` is 0.011 there.
pub const SIGREG_T_MAX: f64 = 3.0;

/// Knots `t_k` on `[0, t_max]` and trapezoid weights doubled for the symmetric integral over
/// `[-t_max, t_max]` (the integrand is even in `t`).
pub fn sigreg_quadrature(knots: usize) -> (Vec<f64>, Vec<f64>) {
    let dt = SIGREG_T_MAX / (knots - 1) as f64;
    let t = (0..knots).map(|k| k as f64 * dt).collect();
    let weights = (0..knots)
        .map(|k| {
            if k == 0 || k == knots - 1 {
                dt
            } else {
                2.0 * dt
            }
        })
        .collect();
    (t, weights)
}

/// `count` random unit directions in `dim` dimensions, as columns `[dim, count]`, from `seed`.
pub fn random_directions<B: Backend>(
    dim: usize,
    count: usize,
    seed: u64,
    device: &B::Device,
) -> Tensor<B, 2> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut values: Vec<f32> = (0..dim * count)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect();
    for column in 0..count {
        let norm = (0..dim)
            .map(|row| values[row * count + column].powi(2))
            .sum::<f32>()
            .sqrt()
            .max(f32::MIN_POSITIVE);
        for row in 0..dim {
            values[row * count + column] /= norm;
        }
    }
    Tensor::from_data(TensorData::new(values, [dim, count]), device)
}

/// SIGReg (LeJEPA): for each direction, the Epps–Pulley statistic
/// `N ∫ |φ̂(t) − e^{−t²/2}|² e^{−t²/2} dt` of the projected samples against N(0, 1),
/// by the trapezoid rule on `knots` knots; the mean over directions.
/// `z`: `[N, D]`, `directions`: `[D, M]` unit columns → scalar `[1]`.
pub fn sigreg<B: Backend>(z: Tensor<B, 2>, directions: Tensor<B, 2>, knots: usize) -> Tensor<B, 1> {
    let n = z.dims()[0];
    let device = z.device();
    let (t, weights) = sigreg_quadrature(knots);
    let window: Vec<f32> = t.iter().map(|t| (-t * t / 2.0).exp() as f32).collect();
    let weighted: Vec<f32> = window
        .iter()
        .zip(&weights)
        .map(|(w, q)| w * *q as f32)
        .collect();
    let t: Vec<f32> = t.iter().map(|&t| t as f32).collect();
    let t = Tensor::<B, 1>::from_floats(t.as_slice(), &device).reshape([1, knots]);
    let window = Tensor::<B, 1>::from_floats(window.as_slice(), &device).reshape([1, 1, knots]);
    let weighted = Tensor::<B, 1>::from_floats(weighted.as_slice(), &device).reshape([1, 1, knots]);
    let m = directions.dims()[1];
    // Every projection times every knot as an outer product (one product per element, so the
    // same values as broadcasting, but a contiguous matrix product instead of a strided loop).
    let x = z
        .matmul(directions)
        .reshape([n * m, 1])
        .matmul(t)
        .reshape([n, m, knots]); // [N, M, K]
    let real = x.clone().cos().mean_dim(0); // [1, M, K]
    let imaginary = x.sin().mean_dim(0); // [1, M, K]
    let error = (real - window).square() + imaginary.square(); // [1, M, K]
    let statistic = (error * weighted).sum_dim(2).mul_scalar(n as f32); // [1, M, 1]
    statistic.mean()
}

/// VICReg's anti-collapse terms of `z` `[N, D]`: the hinge `mean(relu(1 − std_d))` and the
/// squared off-diagonal covariances summed and divided by D. Returns two scalars `[1]`.
pub fn vicreg<B: Backend>(z: Tensor<B, 2>) -> (Tensor<B, 1>, Tensor<B, 1>) {
    let [n, d] = z.dims();
    let device = z.device();
    let centered = z.clone() - z.mean_dim(0); // [N, D]
    let variance = centered
        .clone()
        .square()
        .sum_dim(0)
        .div_scalar((n - 1) as f32); // [1, D]
    let std = variance.add_scalar(1e-4).sqrt();
    let hinge = relu(std.neg().add_scalar(1.0)).mean();
    let covariance = centered
        .clone()
        .transpose()
        .matmul(centered)
        .div_scalar((n - 1) as f32); // [D, D]
    let off_diagonal = covariance.clone() - covariance * Tensor::eye(d, &device);
    (hinge, off_diagonal.square().sum().div_scalar(d as f32))
}

/// Mean distance between predicted and target latents of any shape → scalar `[1]`.
pub fn distance<B: Backend, const D: usize>(
    kind: Distance,
    predicted: Tensor<B, D>,
    target: Tensor<B, D>,
) -> Tensor<B, 1> {
    let difference = predicted - target;
    match kind {
        Distance::Mse => difference.square().mean(),
        Distance::L1 => difference.abs().mean(),
    }
}
