//! The anti-collapse terms: SIGReg against a direct f64 evaluation of the Epps–Pulley
//! integral and its gradient; what VICReg's variance hinge does to shrunk latents.

use burn::backend::{Autodiff, Flex};
use burn::tensor::{Tensor, TensorData};
use prefrontal_worldmodel::objective::{random_directions, sigreg, sigreg_quadrature, vicreg};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

type B = Autodiff<Flex>;

fn tensor(values: &[f64], rows: usize, cols: usize) -> Tensor<B, 2> {
    let values: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(values, [rows, cols]), &Default::default())
}

fn to_vec(t: Tensor<B, 2>) -> Vec<f64> {
    t.into_data()
        .to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn gaussian(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..rows * cols)
        .map(|_| StandardNormal.sample(&mut rng))
        .collect()
}

/// `|φ̂(t) − e^{−t²/2}|² e^{−t²/2}` for one projection.
fn integrand(projection: &[f64], t: f64) -> f64 {
    let n = projection.len() as f64;
    let real = projection.iter().map(|x| (t * x).cos()).sum::<f64>() / n;
    let imaginary = projection.iter().map(|x| (t * x).sin()).sum::<f64>() / n;
    let normal = (-t * t / 2.0).exp();
    ((real - normal).powi(2) + imaginary.powi(2)) * normal
}

/// Projections of `x` `[rows, dim]` on the columns of `directions` `[dim, count]`.
fn projections(
    x: &[f64],
    rows: usize,
    dim: usize,
    directions: &[f64],
    count: usize,
) -> Vec<Vec<f64>> {
    (0..count)
        .map(|m| {
            (0..rows)
                .map(|i| {
                    (0..dim)
                        .map(|j| x[i * dim + j] * directions[j * count + m])
                        .sum()
                })
                .collect()
        })
        .collect()
}

/// The statistic by the same trapezoid rule as the tensor code, in f64.
fn trapezoid(projections: &[Vec<f64>], knots: usize) -> f64 {
    let (t, weights) = sigreg_quadrature(knots);
    let mean = projections
        .iter()
        .map(|p| {
            p.len() as f64
                * t.iter()
                    .zip(&weights)
                    .map(|(t, w)| w * integrand(p, *t))
                    .sum::<f64>()
        })
        .sum::<f64>();
    mean / projections.len() as f64
}

/// The statistic by Simpson's rule over [-10, 10] on 20,001 points: the integral itself.
fn direct(projections: &[Vec<f64>]) -> f64 {
    let (a, b, intervals) = (-10.0f64, 10.0f64, 20_000usize);
    let h = (b - a) / intervals as f64;
    let mean = projections
        .iter()
        .map(|p| {
            let sum: f64 = (0..=intervals)
                .map(|k| {
                    let weight = if k == 0 || k == intervals {
                        1.0
                    } else if k % 2 == 1 {
                        4.0
                    } else {
                        2.0
                    };
                    weight * integrand(p, a + k as f64 * h)
                })
                .sum();
            p.len() as f64 * sum * h / 3.0
        })
        .sum::<f64>();
    mean / projections.len() as f64
}

/// Autodiff gradient of SIGReg with respect to every sample value.
fn gradient(
    x: &[f64],
    rows: usize,
    dim: usize,
    directions: Tensor<B, 2>,
    knots: usize,
) -> Vec<f64> {
    let input = tensor(x, rows, dim).require_grad();
    let value = sigreg(input.clone(), directions, knots);
    to_vec(
        input
            .grad(&value.backward())
            .map(Tensor::from_inner)
            .unwrap(),
    )
}

fn statistic(x: &[f64], rows: usize, dim: usize, directions: &Tensor<B, 2>, knots: usize) -> f64 {
    let value = sigreg(tensor(x, rows, dim), directions.clone(), knots);
    value.into_scalar() as f64
}

#[test]
fn sigreg_matches_a_direct_f64_evaluation_of_the_integral() {
    let (rows, dim, count, knots) = (512, 8, 16, 17);
    let directions = random_directions::<B>(dim, count, 7, &Default::default());
    let d = to_vec(directions.clone());
    let normal = gaussian(rows, dim, 1);
    let cases = [
        ("gaussian", normal.clone()),
        ("scaled ×3", normal.iter().map(|v| 3.0 * v).collect()),
        ("shifted by 1", normal.iter().map(|v| v + 1.0).collect()),
        ("collapsed", vec![0.25; rows * dim]),
    ];
    for (name, x) in cases {
        let ours = statistic(&x, rows, dim, &directions, knots);
        let p = projections(&x, rows, dim, &d, count);
        let same_rule = trapezoid(&p, knots);
        let integral = direct(&p);
        assert!(
            (ours - same_rule).abs() <= 1e-3 * same_rule.abs().max(1.0),
            "{name}: tensor {ours} vs f64 trapezoid {same_rule}"
        );
        assert!(
            (ours - integral).abs() <= 0.05 * integral.abs().max(1.0),
            "{name}: tensor {ours} vs f64 integral {integral}"
        );
    }
}

#[test]
fn sigreg_is_near_its_null_value_for_gaussians_and_large_for_collapse_or_scale() {
    let (rows, dim, count, knots) = (4096, 16, 64, 17);
    let directions = random_directions::<B>(dim, count, 3, &Default::default());
    let normal = gaussian(rows, dim, 2);
    let gaussian_value = statistic(&normal, rows, dim, &directions, knots);
    // N ∫ E|φ̂ − φ|² w dt = ∫ (1 − e^{−t²}) e^{−t²/2} dt ≈ 1.06 for a true Gaussian, whatever N:
    // the per-sample discrepancy goes to 0.
    assert!(gaussian_value < 3.0, "gaussian: {gaussian_value}");
    assert!(gaussian_value / rows as f64 <= 1e-3);
    let collapsed = statistic(&vec![0.0; rows * dim], rows, dim, &directions, knots);
    let scaled: Vec<f64> = normal.iter().map(|v| 3.0 * v).collect();
    let scaled = statistic(&scaled, rows, dim, &directions, knots);
    let shrunk: Vec<f64> = normal.iter().map(|v| 0.2 * v).collect();
    let shrunk = statistic(&shrunk, rows, dim, &directions, knots);
    for (name, value) in [
        ("collapsed", collapsed),
        ("scaled ×3", scaled),
        ("shrunk ×0.2", shrunk),
    ] {
        assert!(
            value > 100.0 * gaussian_value,
            "{name}: {value} vs gaussian {gaussian_value}"
        );
    }
}

#[test]
fn sigreg_gradient_matches_finite_differences_of_the_f64_statistic() {
    let (rows, dim, count, knots) = (64, 4, 8, 17);
    let directions = random_directions::<B>(dim, count, 11, &Default::default());
    let d = to_vec(directions.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let x: Vec<f64> = (0..rows * dim)
        .map(|_| rng.random_range(-1.5..2.5))
        .collect();
    let gradient = gradient(&x, rows, dim, directions, knots);
    let f = |x: &[f64]| trapezoid(&projections(x, rows, dim, &d, count), knots);
    let h = 1e-5;
    let (mut error, mut norm) = (0.0, 0.0);
    for i in 0..rows * dim {
        let (mut up, mut down) = (x.clone(), x.clone());
        up[i] += h;
        down[i] -= h;
        let numeric = (f(&up) - f(&down)) / (2.0 * h);
        error += (numeric - gradient[i]).powi(2);
        norm += numeric.powi(2);
    }
    let relative = (error / norm).sqrt();
    assert!(relative < 1e-2, "relative gradient error {relative}");
}

/// Frobenius distance of the sample covariance from the identity, and the norm of the mean.
fn distance_from_standard(x: &[f64], rows: usize, dim: usize) -> (f64, f64) {
    let mean: Vec<f64> = (0..dim)
        .map(|j| (0..rows).map(|i| x[i * dim + j]).sum::<f64>() / rows as f64)
        .collect();
    let mut frobenius = 0.0;
    for a in 0..dim {
        for b in 0..dim {
            let c = (0..rows)
                .map(|i| (x[i * dim + a] - mean[a]) * (x[i * dim + b] - mean[b]))
                .sum::<f64>()
                / (rows - 1) as f64;
            frobenius += (c - if a == b { 1.0 } else { 0.0 }).powi(2);
        }
    }
    (
        frobenius.sqrt(),
        mean.iter().map(|m| m * m).sum::<f64>().sqrt(),
    )
}

#[test]
fn sigreg_gradient_moves_a_non_gaussian_batch_toward_isotropy() {
    let (rows, dim, count, knots) = (256, 4, 32, 17);
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let scales = [0.2, 1.0, 3.0, 2.0];
    let offsets = [0.0, 1.0, -0.5, 2.0];
    let mut x: Vec<f64> = (0..rows * dim)
        .map(|k| offsets[k % dim] + scales[k % dim] * rng.random_range(-1.0..1.0))
        .collect();
    let (covariance_before, mean_before) = distance_from_standard(&x, rows, dim);
    for step in 0..300 {
        let directions = random_directions::<B>(dim, count, step, &Default::default());
        let step_gradient = gradient(&x, rows, dim, directions, knots);
        for (v, g) in x.iter_mut().zip(step_gradient) {
            *v -= 2.0 * g;
        }
    }
    let (covariance_after, mean_after) = distance_from_standard(&x, rows, dim);
    assert!(
        covariance_after < 0.25 * covariance_before,
        "covariance distance from I: {covariance_before} → {covariance_after}"
    );
    assert!(
        mean_after < 0.25 * mean_before,
        "mean norm: {mean_before} → {mean_after}"
    );
}

/// Standard deviation of each column of `values` `[rows, cols]`.
fn column_std(values: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    (0..cols)
        .map(|c| {
            let column: Vec<f64> = (0..rows).map(|r| values[r * cols + c]).collect();
            let mean = column.iter().sum::<f64>() / rows as f64;
            let variance =
                column.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (rows - 1) as f64;
            variance.sqrt()
        })
        .collect()
}

#[test]
fn vicreg_variance_term_restores_the_spread_of_shrunk_latents_and_stops_at_one() {
    let (rows, cols) = (64, 8);
    let shrunk: Vec<f64> = gaussian(rows, cols, 3).iter().map(|v| 0.01 * v).collect();
    let mut z = tensor(&shrunk, rows, cols).require_grad();
    // Each step adds lr / (D (N − 1)) to every column's std while it is below one.
    let lr = 20.0;
    for _ in 0..60 {
        let (variance, _) = vicreg(z.clone());
        let gradients = variance.backward();
        let gradient = z.grad(&gradients).expect("z requires a gradient");
        z = Tensor::from_inner(z.inner() - gradient.mul_scalar(lr)).require_grad();
    }
    let spread = column_std(&to_vec(z.clone()), rows, cols);
    assert!(
        spread.iter().all(|s| (0.97..1.06).contains(s)),
        "every column back near std 1, from 0.01: {spread:?}"
    );
    // At std one the hinge is flat: no term pushes the latents further apart.
    let (variance, _) = vicreg(z.clone());
    let value = variance.into_scalar();
    assert!(value < 1e-3, "hinge {value}");
    // The covariance term alone leaves the shrunk spread where it was.
    let mut z = tensor(&shrunk, rows, cols).require_grad();
    for _ in 0..60 {
        let (_, covariance) = vicreg(z.clone());
        let gradients = covariance.backward();
        let gradient = z.grad(&gradients).expect("z requires a gradient");
        z = Tensor::from_inner(z.inner() - gradient.mul_scalar(lr)).require_grad();
    }
    let spread = column_std(&to_vec(z), rows, cols);
    assert!(spread.iter().all(|s| *s < 0.011), "{spread:?}");
}
