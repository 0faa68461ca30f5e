//! The linear probe: it recovers a linear map, survives a save and load, refuses non-finite
//! latents instead of panicking in its Cholesky solve, and names a corrupt file.

use prefrontal_worldmodel::LinearProbe;
use prefrontal_worldmodel::metrics::Latents;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// `rows` latents of width 4 and a state whose two columns are linear in them.
fn linear_data(rows: usize) -> (Latents, Vec<f32>, Vec<String>) {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let values: Vec<f32> = (0..rows * 4).map(|_| rng.random_range(-2.0..2.0)).collect();
    let state = values
        .chunks_exact(4)
        .flat_map(|z| [2.0 * z[0] - z[1] + 0.5, 0.25 * z[2] + z[3] - 1.0])
        .collect();
    let names = vec!["ball.pos.x".to_owned(), "ball.pos.z".to_owned()];
    (Latents { values, dim: 4 }, state, names)
}

#[test]
fn the_probe_recovers_a_linear_map_and_round_trips_through_its_file() {
    let (latents, state, names) = linear_data(500);
    let probe = LinearProbe::fit(&latents, &state, &names, &[0, 1]).expect("finite latents");
    assert_eq!(probe.targets, names);
    let predicted = probe.predict(&[1.0, -1.0, 0.5, 0.0]);
    let truth = [3.5, -0.875];
    for (p, t) in predicted.iter().zip(truth) {
        assert!(
            (p - t).abs() < 0.05,
            "predicted {predicted:?}, truth {truth:?}"
        );
    }
    let (fresh, fresh_state, _) = linear_data(100);
    let score = probe.score(&fresh, &fresh_state, &names);
    assert!(score.mean() > 0.99, "{score:?}");

    let dir = tempfile::tempdir().unwrap();
    assert_eq!(LinearProbe::load(dir.path()).unwrap(), None);
    probe.save(dir.path()).unwrap();
    // JSON keeps each f64 to its last bit or one unit short of it.
    let loaded = LinearProbe::load(dir.path()).unwrap().expect("saved");
    assert_eq!(loaded.targets, probe.targets);
    let values = |p: &LinearProbe| -> Vec<f64> {
        let mut all = [p.mean.clone(), p.std.clone()].concat();
        all.extend(p.weights.iter().flatten());
        all
    };
    for (a, b) in values(&loaded).iter().zip(values(&probe)) {
        assert!((a - b).abs() <= 1e-14 * b.abs().max(1.0), "{a} vs {b}");
    }
    std::fs::write(dir.path().join("probe.json"), "{\"targets\": 3}").unwrap();
    let error = LinearProbe::load(dir.path()).unwrap_err().to_string();
    assert!(
        error.contains("probe.json") && error.contains("not a probe"),
        "{error}"
    );
}

#[test]
fn non_finite_latents_give_no_probe_instead_of_a_panic() {
    let (mut latents, state, names) = linear_data(50);
    latents.values[7] = f32::NAN;
    assert_eq!(LinearProbe::fit(&latents, &state, &names, &[0, 1]), None);
    latents.values[7] = f32::INFINITY;
    assert_eq!(LinearProbe::fit(&latents, &state, &names, &[0, 1]), None);
}
