//! Training on toy data: learning beats "no change", probes find the position, SIGReg prevents
//! the collapse that happens without it, checkpoints round-trip and resume exactly.

mod common;

use std::collections::HashMap;

use burn::backend::{Autodiff, Flex};
use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::backend::Backend;
use burn::tensor::{Distribution, Tensor};
use common::{SIZE, options, run, small_config, write_toy_dataset};
use prefrontal_worldmodel::config::AntiCollapse;
use prefrontal_worldmodel::{Checkpoint, EpisodeSet, Learner, WorldModel};

fn toy(episodes: usize, steps: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    write_toy_dataset(&dir.path().join("data"), episodes, steps, 1);
    dir
}

#[test]
fn training_beats_no_change_and_the_probe_finds_the_position() {
    let dir = toy(24, 60);
    let data = dir.path().join("data");
    let summary = run(&options(&data, &dir.path().join("run"), small_config(300))).unwrap();
    let report = &summary.evaluation;
    assert!(
        report.loss_pred < 0.6 * report.loss_no_change,
        "prediction {} vs no-change {}",
        report.loss_pred,
        report.loss_no_change
    );
    let first = summary.history[..20]
        .iter()
        .map(|(_, l, _)| l.prediction)
        .sum::<f32>();
    let last = summary.history[summary.history.len() - 20..]
        .iter()
        .map(|(_, l, _)| l.prediction)
        .sum::<f32>();
    assert!(last < first, "training loss did not fall: {first} → {last}");
    for target in ["agent.pos.x", "agent.pos.z"] {
        let r2 = report.probe.get(target).unwrap();
        assert!(r2 >= 0.9, "probe R² of {target}: {r2}");
    }
    assert!(
        report.probe.get("agent.pos.y").is_none(),
        "a constant is not a probe target"
    );
    let errors: Vec<f64> = report.rollout_error.iter().map(|(_, e)| *e).collect();
    assert_eq!(
        report
            .rollout_error
            .iter()
            .map(|(h, _)| *h)
            .collect::<Vec<_>>(),
        [1, 5, 10]
    );
    assert!(errors.iter().all(|e| e.is_finite()));
    // TensorBoard events landed in the run folder with the documented tags.
    let events: Vec<u8> = std::fs::read_dir(dir.path().join("run"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("events.out.tfevents")
        })
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    for tag in [
        "train/loss_pred",
        "train/loss_rollout",
        "train/sigreg",
        "train/lr",
        "val/loss_pred",
        "val/rollout_error_h10",
        "repr/latent_std",
        "repr/effective_rank",
        "repr/probe_r2",
        "perf/samples_per_s",
    ] {
        assert!(
            events.windows(tag.len()).any(|w| w == tag.as_bytes()),
            "no {tag} in the TensorBoard events"
        );
    }
}

#[test]
fn sigreg_prevents_the_collapse_that_happens_without_it() {
    let dir = toy(16, 40);
    let data = dir.path().join("data");
    let mut free = small_config(150);
    free.objective.anti_collapse = AntiCollapse::None;
    let collapsed = run(&options(&data, &dir.path().join("free"), free))
        .unwrap()
        .evaluation;
    let regularised = run(&options(
        &data,
        &dir.path().join("sigreg"),
        small_config(150),
    ))
    .unwrap()
    .evaluation;
    assert!(
        regularised.latent_std > 0.3,
        "SIGReg latent std {}",
        regularised.latent_std
    );
    assert!(
        regularised.effective_rank > 4.0,
        "SIGReg effective rank {}",
        regularised.effective_rank
    );
    assert!(
        collapsed.latent_std < 0.1 * regularised.latent_std,
        "without a regulariser the latents should shrink: std {} vs {}",
        collapsed.latent_std,
        regularised.latent_std
    );
}

#[test]
fn vicreg_and_ema_train_without_collapse() {
    let dir = toy(16, 40);
    let data = dir.path().join("data");
    for (name, anti_collapse) in [
        (
            "vicreg",
            AntiCollapse::Vicreg {
                variance: 1.0,
                covariance: 0.04,
            },
        ),
        ("ema", AntiCollapse::Ema { momentum: 0.99 }),
    ] {
        let mut config = small_config(60);
        config.objective.anti_collapse = anti_collapse;
        let summary = run(&options(&data, &dir.path().join(name), config)).unwrap();
        assert!(
            summary.history.iter().all(|(_, l, _)| l.total.is_finite()),
            "{name}"
        );
        let report = &summary.evaluation;
        println!(
            "{name}: latent std {}, effective rank {}",
            report.latent_std, report.effective_rank
        );
        assert!(
            report.effective_rank > 2.0,
            "{name}: effective rank {}",
            report.effective_rank
        );
    }
}

/// Every float parameter of `model`, flattened, by id; and whether each requires a gradient.
fn parameters<B: Backend>(model: &WorldModel<B>) -> HashMap<ParamId, (Vec<f32>, bool)> {
    struct Collect(HashMap<ParamId, (Vec<f32>, bool)>);
    impl<B: Backend> ModuleVisitor<B> for Collect {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            let values = param.val().into_data().to_vec::<f32>().unwrap();
            self.0.insert(param.id, (values, param.is_require_grad()));
        }
    }
    let mut collect = Collect(HashMap::new());
    model.visit(&mut collect);
    collect.0
}

#[test]
fn the_ema_target_follows_the_online_model_at_its_rate_and_gets_no_gradient() {
    type B = Autodiff<Flex>;
    let dir = toy(4, 20);
    let mut config = small_config(3);
    let momentum = 0.9;
    config.objective.anti_collapse = AntiCollapse::Ema { momentum };
    let data = EpisodeSet::load(&dir.path().join("data"), 0.2, 0).unwrap();
    let (frames, frameskip) = (config.window_frames(), config.model.frameskip);
    let windows = data.windows(data.train_episodes(), frames, frameskip);
    let device = Default::default();
    let batch = data.batch::<B>(&windows[..8], frames, frameskip, &device);
    let mut learner = Learner::<B>::new(&config, data.spec(), &device).unwrap();
    let start = parameters(learner.target().expect("EMA keeps a target"));
    assert!(
        start.values().all(|(_, grad)| !grad),
        "the target is outside autodiff"
    );
    // Batch norm's running statistics are visited too, never trained, never blended.
    let online = parameters(&learner.model);
    let trained: Vec<ParamId> = online
        .iter()
        .filter(|(_, (_, grad))| *grad)
        .map(|(id, _)| *id)
        .collect();
    assert!(trained.len() > 30, "{} trained parameters", trained.len());
    assert!(
        trained.iter().all(|id| start[id].0 == online[id].0),
        "a copy at first"
    );
    let mut previous = start;
    for step in 0..3 {
        learner.step(&batch, step, 1e-2).unwrap();
        let online = parameters(&learner.model);
        let target = parameters(learner.target().unwrap());
        let mut moved = 0.0f32;
        for id in &trained {
            let (values, grad) = &target[id];
            assert!(!grad);
            for ((t, before), o) in values.iter().zip(&previous[id].0).zip(&online[id].0) {
                let expected = momentum * before + (1.0 - momentum) * o;
                assert!(
                    (t - expected).abs() <= 1e-6 * (1.0 + expected.abs()),
                    "{t} vs {expected}"
                );
                moved = moved.max((t - before).abs());
            }
        }
        assert!(
            moved > 1e-5,
            "step {step}: the target moved toward the online model"
        );
        previous = target;
    }
    // The target's encoding gives its parameters no gradient.
    let target = learner.target().unwrap();
    let observed = &batch.observed;
    let gradients = target
        .encode(observed.frames.clone(), observed.proprio.clone())
        .sum()
        .backward();
    struct NoGradient<'a>(
        &'a <B as burn::tensor::backend::AutodiffBackend>::Gradients,
        usize,
    );
    impl ModuleVisitor<B> for NoGradient<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
            if param.val().grad(self.0).is_some() {
                self.1 += 1;
            }
        }
    }
    let mut check = NoGradient(&gradients, 0);
    target.visit(&mut check);
    assert_eq!(check.1, 0, "target parameters with a gradient");
}

#[test]
fn save_then_load_gives_identical_outputs() {
    let dir = toy(6, 20);
    let summary = run(&options(
        &dir.path().join("data"),
        &dir.path().join("run"),
        small_config(5),
    ))
    .unwrap();
    let checkpoint = Checkpoint::open(dir.path().join("run")).unwrap();
    assert_eq!(checkpoint.dir, summary.checkpoint);
    let device = Default::default();
    let a = checkpoint.load_model::<Flex>(&device).unwrap();
    let b = Checkpoint::open(&summary.checkpoint)
        .unwrap()
        .load_model::<Flex>(&device)
        .unwrap();
    let frames = Tensor::<Flex, 4>::random(
        [4, 3, SIZE, SIZE],
        Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let proprio = Tensor::<Flex, 2>::zeros([4, 4], &device);
    let za = a.encode(frames.clone(), proprio.clone());
    let zb = b.encode(frames.clone(), proprio.clone());
    assert_eq!(za.clone().into_data(), zb.into_data());
    // Model actions are `frameskip` (4) simulator actions of 2 components.
    let actions = Tensor::<Flex, 3>::random([4, 3, 8], Distribution::Uniform(-1.0, 1.0), &device);
    let history = za.reshape([4, 1, 32]);
    assert_eq!(
        a.rollout(history.clone(), actions.clone()).into_data(),
        b.rollout(history, actions).into_data()
    );
    // The loaded weights are the trained ones, not a fresh initialisation.
    let fresh = prefrontal_worldmodel::WorldModel::<Flex>::new(
        &checkpoint.config.model,
        &checkpoint.state.spec,
        &device,
    );
    assert_ne!(
        fresh.encode(frames.clone(), proprio.clone()).into_data(),
        a.encode(frames, proprio).into_data()
    );
}

#[test]
fn the_vit_encoder_and_mlp_predictor_train_and_roll_out() {
    let dir = toy(6, 50);
    let mut config = small_config(30);
    config.model.encoder = prefrontal_worldmodel::config::EncoderConfig::Vit {
        patch: 8,
        width: 32,
        depth: 1,
        heads: 2,
    };
    config.model.predictor = prefrontal_worldmodel::config::PredictorConfig::Mlp {
        hidden: 64,
        layers: 2,
    };
    config.model.use_proprio = true;
    let summary = run(&options(
        &dir.path().join("data"),
        &dir.path().join("run"),
        config,
    ))
    .unwrap();
    let first = summary.history[..5]
        .iter()
        .map(|(_, l, _)| l.total)
        .sum::<f32>();
    let last = summary.history[25..]
        .iter()
        .map(|(_, l, _)| l.total)
        .sum::<f32>();
    assert!(last < first, "loss did not fall: {first} → {last}");
    let report = &summary.evaluation;
    assert!(report.loss_pred.is_finite() && report.rollout_error.len() == 3);
    let model = Checkpoint::open(&summary.checkpoint)
        .unwrap()
        .load_model::<Flex>(&Default::default())
        .unwrap();
    let device = Default::default();
    let history = Tensor::<Flex, 3>::zeros([5, 2, 32], &device);
    let actions = Tensor::<Flex, 3>::zeros([5, 1 + 4, 8], &device);
    assert_eq!(model.rollout(history, actions).dims(), [5, 4, 32]);
}

#[test]
fn without_fused_velocities_the_latent_ignores_them_after_a_checkpoint_round_trip() {
    let dir = toy(4, 30);
    let mut config = small_config(4);
    config.model.use_proprio = true;
    config.model.fuse_velocities = false;
    let summary = run(&options(
        &dir.path().join("data"),
        &dir.path().join("run"),
        config,
    ))
    .unwrap();
    let device = Default::default();
    let model = Checkpoint::open(&summary.checkpoint)
        .unwrap()
        .load_model::<Flex>(&device)
        .unwrap();
    let frames = Tensor::<Flex, 4>::random(
        [1, 3, SIZE, SIZE],
        Distribution::Uniform(-1.0, 1.0),
        &device,
    );
    let encode = |proprio: [f32; 4]| {
        let proprio = Tensor::<Flex, 1>::from_floats(proprio, &device).reshape([1, 4]);
        model.encode(frames.clone(), proprio).into_data()
    };
    let at_rest = encode([0.2, -0.3, 0.0, 0.0]);
    assert_eq!(
        at_rest,
        encode([0.2, -0.3, 1.5, -2.0]),
        "velocities changed it"
    );
    assert_ne!(at_rest, encode([0.5, -0.3, 0.0, 0.0]), "positions did not");
}
