//! The world model: frame encoder (CNN or ViT), optional projector, action-conditioned predictor.

use burn::backend::Flex;
use burn::backend::flex::FlexDevice;
use burn::module::{Module, ModuleVisitor, Param};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::transformer::{
    TransformerEncoder, TransformerEncoderConfig, TransformerEncoderInput,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, Initializer, LayerNorm, LayerNormConfig, Linear, LinearConfig,
    PaddingConfig2d,
};
use burn::record::{BinBytesRecorder, FullPrecisionSettings, Recorder};
use burn::tensor::activation::gelu;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Distribution, Int, Tensor, TensorData};

use crate::config::{EncoderConfig, ModelConfig, PredictorConfig};
use crate::data::DataSpec;

/// Stride-2 convolutions then a linear head.
#[derive(Module, Debug)]
pub struct CnnEncoder<B: Backend> {
    convs: Vec<Conv2d<B>>,
    head: Linear<B>,
}

impl<B: Backend> CnnEncoder<B> {
    fn new(
        channels: &[usize],
        height: usize,
        width: usize,
        out: usize,
        device: &B::Device,
    ) -> Self {
        let mut input = 3;
        let convs = channels
            .iter()
            .map(|&output| {
                let conv = Conv2dConfig::new([input, output], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device);
                input = output;
                conv
            })
            .collect();
        // Each 3×3 stride-2 convolution with padding 1 maps a side s to ⌈s/2⌉.
        let side = |s: usize| channels.iter().fold(s, |s, _| s.div_ceil(2));
        let head = LinearConfig::new(input * side(height) * side(width), out).init(device);
        CnnEncoder { convs, head }
    }

    /// `[N, 3, H, W]` → `[N, out]`.
    fn forward(&self, frames: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self
            .convs
            .iter()
            .fold(frames, |x, conv| gelu(conv.forward(x)));
        let [n, c, h, w] = x.dims();
        self.head.forward(x.reshape([n, c * h * w]))
    }
}

/// Patch embedding, transformer, mean pooling, linear head.
#[derive(Module, Debug)]
pub struct VitEncoder<B: Backend> {
    patches: Conv2d<B>,
    position: Param<Tensor<B, 3>>,
    blocks: TransformerEncoder<B>,
    norm: LayerNorm<B>,
    head: Linear<B>,
}

impl<B: Backend> VitEncoder<B> {
    #[allow(clippy::too_many_arguments)]
    fn new(
        patch: usize,
        width: usize,
        depth: usize,
        heads: usize,
        height: usize,
        frame_width: usize,
        out: usize,
        device: &B::Device,
    ) -> Self {
        let tokens = (height / patch) * (frame_width / patch);
        VitEncoder {
            patches: Conv2dConfig::new([3, width], [patch, patch])
                .with_stride([patch, patch])
                .init(device),
            position: Param::from_tensor(Tensor::random(
                [1, tokens, width],
                Distribution::Normal(0.0, 0.02),
                device,
            )),
            blocks: TransformerEncoderConfig::new(width, 4 * width, heads, depth)
                .with_dropout(0.0)
                .with_norm_first(true)
                .init(device),
            norm: LayerNormConfig::new(width).init(device),
            head: LinearConfig::new(width, out).init(device),
        }
    }

    /// `[N, 3, H, W]` → `[N, out]`.
    fn forward(&self, frames: Tensor<B, 4>) -> Tensor<B, 2> {
        let x = self.patches.forward(frames); // [N, width, H/p, W/p]
        let [n, c, h, w] = x.dims();
        let tokens = x.reshape([n, c, h * w]).swap_dims(1, 2) + self.position.val(); // [N, P, width]
        let x = self
            .norm
            .forward(self.blocks.forward(TransformerEncoderInput::new(tokens)));
        self.head.forward(x.mean_dim(1).reshape([n, c]))
    }
}

/// The frame encoder.
// Built once per model and never moved in hot loops, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Encoder<B: Backend> {
    /// Convolutional encoder.
    Cnn(CnnEncoder<B>),
    /// Vision transformer encoder.
    Vit(VitEncoder<B>),
}

/// Two-layer MLP on latents with batch normalisation (as LeWorldModel's projector): it gives
/// the latents unit spread from the first step, where SIGReg's gradient is informative.
#[derive(Module, Debug)]
pub struct Projector<B: Backend> {
    input: Linear<B>,
    norm: BatchNorm<B>,
    output: Linear<B>,
}

/// Causal transformer over (latent, action) tokens.
#[derive(Module, Debug)]
pub struct TransformerPredictor<B: Backend> {
    pub(crate) input: Linear<B>,
    /// `[1, history, W]`.
    pub(crate) position: Param<Tensor<B, 3>>,
    pub(crate) blocks: TransformerEncoder<B>,
    pub(crate) norm: LayerNorm<B>,
    pub(crate) output: Linear<B>,
}

impl<B: Backend> TransformerPredictor<B> {
    /// Whether the layers normalise before attention and feed-forward (always, as built).
    pub(crate) fn norm_first(&self) -> bool {
        self.blocks.norm_first
    }
}

/// Markov MLP on the current (latent, action).
#[derive(Module, Debug)]
pub struct MlpPredictor<B: Backend> {
    layers: Vec<Linear<B>>,
    output: Linear<B>,
}

/// The action-conditioned predictor.
// Built once per model and never moved in hot loops, so variant sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Predictor<B: Backend> {
    /// Causal transformer.
    Transformer(TransformerPredictor<B>),
    /// MLP.
    Mlp(MlpPredictor<B>),
}

/// A linear layer that starts at zero: the predictor's residual head, so that an untrained
/// predictor says "no change" and training only has to learn the change.
fn zero_linear<B: Backend>(input: usize, output: usize, device: &B::Device) -> Linear<B> {
    LinearConfig::new(input, output)
        .with_initializer(Initializer::Zeros)
        .init(device)
}

/// Encoder, projector and predictor.
#[derive(Module, Debug)]
pub struct WorldModel<B: Backend> {
    encoder: Encoder<B>,
    proprio: Option<Linear<B>>,
    /// The proprioception columns `proprio` reads (all, or positions and angles only).
    #[module(skip)]
    proprio_columns: Vec<usize>,
    projector: Option<Projector<B>>,
    predictor: Predictor<B>,
    history: usize,
}

/// Holds Burn's process-wide random generator for one model's construction: everything
/// that builds a model (and so draws from it) takes this lock.
fn lock_generator() -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GENERATOR
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Whether a proprioception component is a velocity, by the simulator's names: `body.vx`,
/// `body.vz` of a planar-driven body, `joint.rate` of a driven joint.
fn is_velocity(name: &str) -> bool {
    [".vx", ".vz", ".rate"].iter().any(|s| name.ends_with(s))
}

/// The proprioception columns a model with `config` fuses.
fn fused_columns(config: &ModelConfig, spec: &DataSpec) -> Vec<usize> {
    (0..spec.proprio_dim)
        .filter(|&i| {
            config.fuse_velocities || spec.proprio_names.get(i).is_none_or(|n| !is_velocity(n))
        })
        .collect()
}

impl<B: Backend> WorldModel<B> {
    /// A freshly initialised model for data of shape `spec`, from the backend's generator
    /// as it stands.
    pub fn new(config: &ModelConfig, spec: &DataSpec, device: &B::Device) -> Self {
        Self::initialise(config, spec, None, device, &lock_generator())
    }

    /// A freshly initialised model whose weights depend on `seed` alone: they are drawn by
    /// the CPU backend and copied to `device`, so a seed gives the same model on every backend.
    pub fn seeded(config: &ModelConfig, spec: &DataSpec, seed: u64, device: &B::Device) -> Self {
        // Building the receiving model draws its position embeddings at once, and loading a
        // record may initialise lazy parameters first: all of it under the lock.
        let generator = lock_generator();
        let cpu = WorldModel::<Flex>::initialise(config, spec, Some(seed), &FlexDevice, &generator);
        let recorder = BinBytesRecorder::<FullPrecisionSettings>::default();
        let bytes = Recorder::<Flex>::record(&recorder, cpu.into_record(), ())
            .expect("a model record serialises to memory");
        let record =
            Recorder::<B>::load(&recorder, bytes, device).expect("a record written just now loads");
        Self::build(config, spec, device).load_record(record)
    }

    /// Burn initialises parameters lazily from one process-wide generator. Seeding,
    /// construction and initialisation happen while `_generator` holds the lock, so models
    /// built on other threads at the same time (parallel tests, several runs in one process)
    /// cannot draw from the generator in between.
    fn initialise(
        config: &ModelConfig,
        spec: &DataSpec,
        seed: Option<u64>,
        device: &B::Device,
        _generator: &std::sync::MutexGuard<'static, ()>,
    ) -> Self {
        if let Some(seed) = seed {
            B::seed(device, seed);
        }
        let model = Self::build(config, spec, device);
        /// Touches every parameter, which runs its pending initialiser.
        struct Initialise;
        impl<B: Backend> ModuleVisitor<B> for Initialise {
            fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
                let _ = param.val();
            }
        }
        model.visit(&mut Initialise);
        model
    }

    fn build(config: &ModelConfig, spec: &DataSpec, device: &B::Device) -> Self {
        let d = config.latent_dim;
        let encoder = match &config.encoder {
            EncoderConfig::Cnn { channels } => Encoder::Cnn(CnnEncoder::new(
                channels,
                spec.height,
                spec.width,
                d,
                device,
            )),
            EncoderConfig::Vit {
                patch,
                width,
                depth,
                heads,
            } => Encoder::Vit(VitEncoder::new(
                *patch,
                *width,
                *depth,
                *heads,
                spec.height,
                spec.width,
                d,
                device,
            )),
        };
        let action = spec.action_dim * config.frameskip;
        let predictor = match &config.predictor {
            PredictorConfig::Transformer {
                width,
                depth,
                heads,
            } => Predictor::Transformer(TransformerPredictor {
                input: LinearConfig::new(d + action, *width).init(device),
                position: Param::from_tensor(Tensor::random(
                    [1, config.history, *width],
                    Distribution::Normal(0.0, 0.02),
                    device,
                )),
                blocks: TransformerEncoderConfig::new(*width, 4 * width, *heads, *depth)
                    .with_dropout(0.0)
                    .with_norm_first(true)
                    .init(device),
                norm: LayerNormConfig::new(*width).init(device),
                output: zero_linear(*width, d, device),
            }),
            PredictorConfig::Mlp { hidden, layers } => Predictor::Mlp(MlpPredictor {
                layers: (0..*layers)
                    .map(|i| {
                        let input = if i == 0 { d + action } else { *hidden };
                        LinearConfig::new(input, *hidden).init(device)
                    })
                    .collect(),
                output: zero_linear(*hidden, d, device),
            }),
        };
        let proprio_columns = fused_columns(config, spec);
        WorldModel {
            encoder,
            proprio: config
                .use_proprio
                .then(|| LinearConfig::new(proprio_columns.len(), d).init(device)),
            proprio_columns,
            projector: config.projector.map(|hidden| Projector {
                input: LinearConfig::new(d, hidden).init(device),
                norm: BatchNormConfig::new(hidden).init(device),
                // Unit-variance outputs at initialisation (GELU of a standardised input has a
                // second moment of about 0.4), so the latents start spread out.
                output: LinearConfig::new(hidden, d)
                    .with_initializer(Initializer::KaimingNormal {
                        gain: 1.6,
                        fan_out_only: false,
                    })
                    .init(device),
            }),
            predictor,
            history: config.history,
        }
    }

    pub(crate) fn predictor(&self) -> &Predictor<B> {
        &self.predictor
    }

    /// Latents the predictor attends to.
    pub fn history(&self) -> usize {
        self.history
    }

    /// Encodes frames scaled to [-1, 1]: `[N, 3, H, W]` (+ proprio `[N, P]` when fused) → `[N, D]`.
    pub fn encode(&self, frames: Tensor<B, 4>, proprio: Tensor<B, 2>) -> Tensor<B, 2> {
        self.embed(self.features(frames), proprio)
    }

    /// The frame encoder alone, which treats every frame on its own (the part of `encode`
    /// that data-parallel workers share out): `[N, 3, H, W]` → `[N, D]`.
    pub fn features(&self, frames: Tensor<B, 4>) -> Tensor<B, 2> {
        match &self.encoder {
            Encoder::Cnn(cnn) => cnn.forward(frames),
            Encoder::Vit(vit) => vit.forward(frames),
        }
    }

    /// The rest of `encode`: fuses proprioception and runs the projector, whose batch norm
    /// couples the frames of a batch. Features `[N, D]`, proprio `[N, P]` → latents `[N, D]`.
    pub fn embed(&self, features: Tensor<B, 2>, proprio: Tensor<B, 2>) -> Tensor<B, 2> {
        let mut z = features;
        if let Some(fuse) = &self.proprio {
            let [_, p] = proprio.dims();
            let proprio = if self.proprio_columns.len() == p {
                proprio
            } else {
                let columns = self.proprio_columns.iter().map(|&c| c as i64).collect();
                let columns = Tensor::<B, 1, Int>::from_data(
                    TensorData::new(columns, [self.proprio_columns.len()]),
                    &proprio.device(),
                );
                proprio.select(1, columns) // [N, fused]
            };
            z = z + fuse.forward(proprio);
        }
        match &self.projector {
            Some(p) => p.output.forward(gelu(p.norm.forward(p.input.forward(z)))),
            None => z,
        }
    }

    /// One-step predictions for every position of a sequence of at most `history` tokens:
    /// latents `[B, T, D]`, actions `[B, T, A]` → predicted next latents `[B, T, D]`.
    pub fn predict(&self, latents: Tensor<B, 3>, actions: Tensor<B, 3>) -> Tensor<B, 3> {
        let [batch, time, _] = latents.dims();
        debug_assert!(time <= self.history, "predictor context exceeds history");
        let tokens = Tensor::cat(vec![latents.clone(), actions], 2); // [B, T, D + A]
        let delta = match &self.predictor {
            Predictor::Transformer(p) => {
                let position = p.position.val().narrow(1, 0, time); // [1, T, width]
                let x = p.input.forward(tokens) + position;
                let device = x.device();
                // True above the diagonal: no token sees its future.
                let mask = Tensor::<B, 2, Bool>::tril_mask([time, time], 0, &device)
                    .unsqueeze::<3>()
                    .expand([batch, time, time]);
                let x = p
                    .blocks
                    .forward(TransformerEncoderInput::new(x).mask_attn(mask));
                p.output.forward(p.norm.forward(x))
            }
            Predictor::Mlp(p) => {
                let x = p
                    .layers
                    .iter()
                    .fold(tokens, |x, layer| gelu(layer.forward(x)));
                p.output.forward(x)
            }
        };
        latents + delta
    }

    /// Open-loop rollout. `history`: observed latents `[B, h, D]`; `actions`: `[B, h-1+K, A]`,
    /// the `h-1` actions taken between the observed latents followed by `K` actions to imagine.
    /// Returns the `K` imagined latents `[B, K, D]`; each step sees at most `history` tokens.
    pub fn rollout(&self, history: Tensor<B, 3>, actions: Tensor<B, 3>) -> Tensor<B, 3> {
        let observed = history.dims()[1];
        let steps = actions.dims()[1] + 1 - observed;
        // `latents` holds the window of absolute indices `first..first + len`.
        let first_kept = observed.saturating_sub(self.history);
        let mut first = first_kept;
        let mut latents = history.narrow(1, first_kept, observed - first_kept);
        let mut imagined = Vec::with_capacity(steps);
        for _ in 0..steps {
            let len = latents.dims()[1];
            let acts = actions.clone().narrow(1, first, len); // [B, len, A]
            let next = self.predict(latents.clone(), acts).narrow(1, len - 1, 1); // [B, 1, D]
            imagined.push(next.clone());
            latents = Tensor::cat(vec![latents, next], 1);
            if len == self.history {
                latents = latents.narrow(1, 1, len);
                first += 1;
            }
        }
        Tensor::cat(imagined, 1)
    }
}
