//! Imagining many candidate futures of one past, as planners do, with the work the
//! candidates share done once.
//!
//! A planner rolls out `N` action sequences from the same observed latents. In the causal
//! transformer the tokens made of observed latents and past actions are the same for every
//! candidate, so their keys and values are computed once (batch 1) and broadcast; only the
//! last position's output is needed from the last layer, so the other positions there
//! compute keys and values only; the query, key and value projections run as one matrix
//! product. The result equals [`WorldModel::rollout`] on the expanded inputs up to float
//! rounding (the arithmetic is grouped differently).

use std::collections::HashMap;

use burn::nn::transformer::TransformerEncoderLayer;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use rayon::prelude::*;

use crate::model::{Predictor, TransformerPredictor, WorldModel};

/// Keys and values of one layer: `[N, heads, tokens, head width]` each.
type KeysValues<B> = (Tensor<B, 4>, Tensor<B, 4>);

impl<B: Backend> WorldModel<B> {
    /// Open-loop rollout of `N` candidate action sequences from one shared past:
    /// `history` `[1, h, D]` observed latents, `past` `[1, h-1, A]` the actions taken between
    /// them (`None` when `h = 1`), `candidates` `[N, K, A]`. Returns the `K` imagined latents
    /// of each candidate, `[N, K, D]`: [`WorldModel::rollout`] of the expanded inputs, with
    /// what the candidates share computed once.
    pub fn imagine(
        &self,
        history: Tensor<B, 3>,
        past: Option<Tensor<B, 3>>,
        candidates: Tensor<B, 3>,
    ) -> Tensor<B, 3> {
        debug_assert_eq!(
            past.as_ref().map_or(0, |p| p.dims()[1]) + 1,
            history.dims()[1],
            "one past action between consecutive observed latents"
        );
        match self.predictor() {
            Predictor::Transformer(predictor) if predictor.norm_first() => {
                // Burn's CPU kernels other than the matrix products use one thread: the
                // candidates are split over the cores, each part imagined on its own.
                let projections = fused_projections(predictor);
                let [n, _, _] = candidates.dims();
                let parts = rayon::current_num_threads().min(n / MIN_PART).max(1);
                let size = n.div_ceil(parts);
                let parts: Vec<Tensor<B, 3>> = (0..n)
                    .step_by(size)
                    .map(|start| candidates.clone().narrow(0, start, size.min(n - start)))
                    .collect();
                let imagined: Vec<Tensor<B, 3>> = parts
                    .into_par_iter()
                    .map(|part| {
                        Imagination::new(
                            predictor,
                            &projections,
                            history.clone(),
                            past.clone(),
                            part,
                        )
                        .run()
                    })
                    .collect();
                Tensor::cat(imagined, 0)
            }
            _ => {
                let (history, actions) = repeat_past(history, past, candidates);
                self.rollout(history, actions)
            }
        }
    }
}

/// A shared past repeated for every candidate, as [`WorldModel::rollout`] takes it: history
/// `[1, h, D]`, past actions `[1, h-1, A]` (or `None`), candidates `[N, K, A]` → history
/// `[N, h, D]` and actions `[N, h-1+K, A]`.
pub fn repeat_past<B: Backend>(
    history: Tensor<B, 3>,
    past: Option<Tensor<B, 3>>,
    candidates: Tensor<B, 3>,
) -> (Tensor<B, 3>, Tensor<B, 3>) {
    let [n, _, m] = candidates.dims();
    let [_, h, d] = history.dims();
    let actions = match past {
        Some(past) => Tensor::cat(vec![past.expand([n, h - 1, m]), candidates], 1),
        None => candidates,
    };
    (history.expand([n, h, d]), actions)
}

/// A layer's query, key and value weights side by side, `[W, 3W]`, and biases, `[3W]`.
type Projection<B> = (Tensor<B, 2>, Tensor<B, 1>);

/// Every layer's fused query-key-value projection, built once per call and shared by the
/// parts of the candidates.
fn fused_projections<B: Backend>(predictor: &TransformerPredictor<B>) -> Vec<Projection<B>> {
    predictor
        .blocks
        .layers
        .iter()
        .map(|layer| {
            let mha = &layer.mha;
            let weight = Tensor::cat(
                vec![
                    mha.query.weight.val(),
                    mha.key.weight.val(),
                    mha.value.weight.val(),
                ],
                1,
            ); // [W, 3W]
            let bias = |linear: &burn::nn::Linear<B>| {
                let width = linear.weight.dims()[1];
                linear
                    .bias
                    .as_ref()
                    .map(|b| b.val())
                    .unwrap_or_else(|| Tensor::zeros([width], &weight.device()))
            };
            let bias = Tensor::cat(vec![bias(&mha.query), bias(&mha.key), bias(&mha.value)], 0);
            (weight, bias)
        })
        .collect()
}

/// Fewest candidates worth a thread of their own.
const MIN_PART: usize = 32;

/// One rollout of the causal transformer over candidates sharing a past.
struct Imagination<'a, B: Backend> {
    predictor: &'a TransformerPredictor<B>,
    /// See [`fused_projections`].
    projections: &'a [Projection<B>],
    /// Latents by absolute index: observed `[1, D]` then imagined `[N, D]`.
    latents: Vec<Tensor<B, 2>>,
    /// Input embeddings (before the position) by absolute token index: `[1, W]` for the
    /// shared tokens, `[N, W]` for the others.
    embedded: Vec<Tensor<B, 2>>,
    past: Option<Tensor<B, 3>>,
    candidates: Tensor<B, 3>,
    observed: usize,
    /// Keys and values of the shared tokens per layer, by the window's first token.
    shared: HashMap<usize, Vec<KeysValues<B>>>,
}

impl<'a, B: Backend> Imagination<'a, B> {
    fn new(
        predictor: &'a TransformerPredictor<B>,
        projections: &'a [Projection<B>],
        history: Tensor<B, 3>,
        past: Option<Tensor<B, 3>>,
        candidates: Tensor<B, 3>,
    ) -> Self {
        let [_, observed, d] = history.dims();
        let latents = (0..observed)
            .map(|i| history.clone().narrow(1, i, 1).reshape([1, d]))
            .collect();
        Imagination {
            predictor,
            projections,
            latents,
            embedded: Vec::new(),
            past,
            candidates,
            observed,
            shared: HashMap::new(),
        }
    }

    /// Whether token `j` (latent `j`, action `j`) is the same for every candidate.
    fn is_shared(&self, j: usize) -> bool {
        self.past.is_some() && j + 1 < self.observed
    }

    /// The action of token `j`: `[1, A]` for a past action, `[N, A]` for a candidate's.
    fn action(&self, j: usize) -> Tensor<B, 2> {
        let [n, _, m] = self.candidates.dims();
        match &self.past {
            Some(past) if self.is_shared(j) => past.clone().narrow(1, j, 1).reshape([1, m]),
            _ => {
                let k = j + 1 - self.observed;
                self.candidates.clone().narrow(1, k, 1).reshape([n, m])
            }
        }
    }

    /// The input embedding of token `j`, computed once.
    fn embedding(&mut self, j: usize) -> Tensor<B, 2> {
        while self.embedded.len() <= j {
            let i = self.embedded.len();
            let action = self.action(i);
            let latent = self.latents[i].clone();
            let rows = action.dims()[0].max(latent.dims()[0]);
            let [_, d] = latent.dims();
            let token = Tensor::cat(vec![latent.expand([rows, d]), action], 1); // [rows, D + A]
            self.embedded.push(self.predictor.input.forward(token));
        }
        self.embedded[j].clone()
    }

    /// Window positions `from..to` of the learned position table: `[1, to - from, W]`.
    fn positions(&self, from: usize, to: usize) -> Tensor<B, 3> {
        self.predictor.position.val().narrow(1, from, to - from)
    }

    /// Keys and values, per layer, of the shared tokens `first..first + len` at window
    /// positions `0..len`.
    fn shared_keys_values(&mut self, first: usize, len: usize) -> Vec<KeysValues<B>> {
        if let Some(cached) = self.shared.get(&first) {
            return cached.clone();
        }
        let tokens: Vec<Tensor<B, 2>> = (first..first + len).map(|j| self.embedding(j)).collect();
        let [_, width] = tokens[0].dims();
        let mut x = Tensor::stack::<3>(tokens, 1).reshape([1, len, width]) + self.positions(0, len);
        let mut layers = Vec::new();
        for (layer, projection) in self.predictor.blocks.layers.iter().zip(self.projections) {
            let (next, keys_values) = attend(layer, projection, x, None, false);
            layers.push(keys_values);
            x = next;
        }
        self.shared.insert(first, layers.clone());
        layers
    }

    /// Imagines every step: `[N, K, D]`.
    fn run(mut self) -> Tensor<B, 3> {
        let history = self.predictor_history();
        let [n, steps, _] = self.candidates.dims();
        let depth = self.predictor.blocks.layers.len();
        let mut imagined = Vec::with_capacity(steps);
        for step in 0..steps {
            let end = self.observed + step; // One past the window's last token.
            let len = end.min(history);
            let first = end - len;
            let shared = (first..end).take_while(|&j| self.is_shared(j)).count();
            let prefix = (shared > 0).then(|| self.shared_keys_values(first, shared));
            let tokens: Vec<Tensor<B, 2>> =
                (first + shared..end).map(|j| self.embedding(j)).collect();
            let [_, width] = tokens[0].dims();
            let varying = end - first - shared;
            let mut x = Tensor::stack::<3>(tokens, 1).reshape([n, varying, width])
                + self.positions(shared, len);
            for (l, (layer, projection)) in self
                .predictor
                .blocks
                .layers
                .iter()
                .zip(self.projections)
                .enumerate()
            {
                let prefix = prefix.as_ref().map(|layers| &layers[l]);
                x = attend(layer, projection, x, prefix, l + 1 == depth).0;
            }
            // The last layer kept the window's last position only: `[N, 1, W]`.
            let x = x.reshape([n, width]);
            let delta = self
                .predictor
                .output
                .forward(self.predictor.norm.forward(x)); // [N, D]
            let latest = self.latents[end - 1].clone();
            let next = latest.expand(delta.dims()) + delta; // [N, D]
            imagined.push(next.clone());
            self.latents.push(next);
        }
        Tensor::stack(imagined, 1) // [N, K, D]
    }

    fn predictor_history(&self) -> usize {
        self.predictor.position.dims()[1]
    }
}

/// One pre-norm transformer layer (as Burn's `TransformerEncoderLayer` with `norm_first`) on
/// the tokens `x` `[N, S, W]` that follow `prefix` (keys and values of earlier tokens,
/// `[1, heads, P, W/heads]`, the same for every row), each token seeing itself and what
/// precedes it. With `last_only` only the last token's output is computed: `[N, 1, W]`.
/// Returns the output and this layer's keys and values of `x`'s tokens, `[N, heads, S, W/heads]`.
fn attend<B: Backend>(
    layer: &TransformerEncoderLayer<B>,
    (weight, bias): &Projection<B>,
    x: Tensor<B, 3>,
    prefix: Option<&KeysValues<B>>,
    last_only: bool,
) -> (Tensor<B, 3>, KeysValues<B>) {
    let [n, s, width] = x.dims();
    let heads = layer.mha.n_heads;
    let head = width / heads;
    let normed = layer.norm_2.forward(x.clone());
    // One matrix product for all rows (a batched product would run one per candidate).
    let projected = (normed.reshape([n * s, width]).matmul(weight.clone())
        + bias.clone().unsqueeze::<2>())
    .reshape([n, s, 3 * width]); // [N, S, 3W]
    // Queries, keys and values head-first, `[N, heads, S, head]` each, from one copy.
    let [queries, keys, values] = [0, 1, 2].map({
        let split = projected
            .reshape([n, s, 3, heads, head])
            .permute([2, 0, 3, 1, 4]) // [3, N, heads, S, head]
            .reshape([3, n * heads * s * head]); // Copied once, in that order.
        move |i| split.clone().narrow(0, i, 1).reshape([n, heads, s, head])
    });
    let rows = if last_only { 1 } else { s };
    let queries = queries.narrow(2, s - rows, rows);
    let (all_keys, all_values) = match prefix {
        Some((shared_keys, shared_values)) => {
            let p = shared_keys.dims()[2];
            let expand = |t: &Tensor<B, 4>| t.clone().expand([n, heads, p, head]);
            (
                Tensor::cat(vec![expand(shared_keys), keys.clone()], 2),
                Tensor::cat(vec![expand(shared_values), values.clone()], 2),
            )
        }
        None => (keys.clone(), values.clone()),
    }; // [N, heads, T = P + S, head]
    // Burn's fused attention (one call for every candidate and head; the per-head products
    // are tiny). Causal with the queries aligned to the last keys: row r at position p + r.
    let options = AttentionModuleOptions {
        scale: None,
        softcap: None,
        is_causal: rows > 1,
    };
    // The linear layers see rows `[N·rows, W]`: on a 3-D input Burn multiplies per candidate.
    let context = attention(queries, all_keys, all_values, None, None, options) // [N, heads, rows, head]
        .swap_dims(1, 2)
        .reshape([n * rows, width]);
    let residual = if last_only { x.narrow(1, s - 1, 1) } else { x }.reshape([n * rows, width]);
    let x = residual + layer.mha.output.forward(context);
    let x = x.clone() + layer.pwff.forward(layer.norm_1.forward(x));
    (x.reshape([n, rows, width]), (keys, values))
}
