//! `input_gradient` and `input_gradient_batch` of sequence networks: `∂L/∂x_t` for every step,
//! by backpropagation through time run on to the input.
//!
//! Per sequence, against five-point central differences of `loss` on every input scalar (in
//! f64, sequences of 1, 3 and 7 steps) and against forward mode (`nn_runtime::dual`: the
//! network lifted to duals, one step's features seeded at a time). Per batch, column `j` of
//! step `t` against sample `j`'s own `input_gradient` over the batch size. The networks cover
//! every cell (sequence to one with `last` and `mean`, and sequence to sequence), a causal
//! convolution (kernel 3, dilation 2) on the input and in the middle, per-step dense and layer
//! norm (first, on the input, too), and residuals reading the input with and without `project`.
//!
//! `cargo test --test sequence_input_gradient -- --nocapture` prints the table of errors.

use nn_runtime::dual::{self, DualN};
use nn_runtime::gradcheck::{DUAL_RELATIVE_FLOOR, RELATIVE_FLOOR, STEP};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, SequenceNetwork, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/sequence_gradients.rs"]
mod gradients;
use gradients::{GRADIENT_TOLERANCE, batch, randomize, sequence};

#[path = "support/sequence_nets.rs"]
mod nets;
use nets::{Effect, Tagger};

/// Forward mode against reverse mode, and a batch's column against the per-sample gradient:
/// two f64 computations of the same derivative in a different order (GEMMs against
/// matrix-vector products, duals against BPTT), so rounding only. Compared relative to
/// `max(|a|, |b|, DUAL_RELATIVE_FLOOR)`, as `check_sequence_gradient_dual` does: a derivative
/// is a sum of O(1) terms, rounded at ≈ 1e-16 of them however small the sum.
const EXACT_TOLERANCE: f64 = 1e-12;

/// Sequence lengths checked per sequence: one step (no recurrence, the causal taps reading
/// zeros before the start), and lengths past the causal convolution's reach of 4 steps.
const LENGTHS: [usize; 3] = [1, 3, 7];

/// Samples of a checked batch, and the lengths of its equal-length sequences.
const SAMPLES: usize = 3;
const BATCH_LENGTHS: [usize; 2] = [1, 7];

network! {
    /// GRU, its last step, a dense head: sequence to one.
    pub struct GruLast {
        input: seq(3),
        r1: gru(4),
        last: last,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// LSTM, the mean over the steps, a classifier.
    pub struct LstmMean {
        input: seq(2),
        r1: lstm(4),
        pool: mean,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// Stacked RNNs (tanh, relu) with a residual over time, the last step.
    pub struct RnnLast {
        input: seq(2),
        r1: rnn(4),
        r2: rnn(4, relu) + r1,
        last: last,
        out: dense(2, tanh),
        loss: mse,
    }
}

network! {
    /// A causal convolution (kernel 3, dilation 2) on the input, then a GRU: sequence to
    /// sequence.
    pub struct ConvGru {
        input: seq(2),
        conv: conv1d(4, kernel = 3, dilation = 2, causal, tanh),
        r1: gru(4),
        out: dense(1),
        loss: mse,
    }
}

network! {
    /// Layer norm on the input, residuals reading the input without projection (a per-step
    /// dense and a GRU of the input's width), the mean.
    pub struct InputResidual {
        input: seq(3),
        norm: layer_norm,
        d: dense(3, tanh) + input,
        r1: gru(3) + input,
        pool: mean,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// A causal convolution in the middle with a residual from the input, an RNN with a
    /// projected one.
    pub struct ConvResidual {
        input: seq(2),
        pre: dense(3, tanh),
        conv: conv1d(2, kernel = 3, dilation = 2, causal, tanh) + input,
        r1: rnn(3) + project(input),
        last: last,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// No recurrent layer (so no scratch gradient): per-step dense, the mean.
    pub struct PerStep {
        input: seq(2),
        h: dense(4, tanh),
        pool: mean,
        out: dense(1),
        loss: mse,
    }
}

/// The worst errors of one network: central differences, forward mode, the batch.
#[derive(Default)]
struct Errors {
    numeric: f64,
    dual: f64,
    batch: f64,
}

/// NaN compares as the worst error, so a NaN gradient can't pass.
fn worse(worst: f64, error: f64) -> f64 {
    if error.is_nan() {
        f64::INFINITY
    } else {
        worst.max(error)
    }
}

fn relative(a: f64, b: f64, floor: f64) -> f64 {
    (a - b).abs() / a.abs().max(b.abs()).max(floor)
}

/// `input_gradient` against the five-point central difference of `loss` on every scalar of
/// every step (`gradcheck`'s stencil, step and floor).
fn numeric_error<const IN: usize>(
    x: &[SVector<f64, IN>],
    analytic: &[SVector<f64, IN>],
    loss: impl Fn(&[SVector<f64, IN>]) -> f64,
) -> f64 {
    assert_eq!(analytic.len(), x.len(), "one gradient per step");
    let mut worst = 0.0f64;
    let mut shifted = x.to_vec();
    for t in 0..x.len() {
        for i in 0..IN {
            let mut at = |offset: f64| {
                shifted[t][i] = x[t][i] + offset;
                let value = loss(&shifted);
                shifted[t][i] = x[t][i];
                value
            };
            let numeric = (-at(2.0 * STEP) + 8.0 * at(STEP) - 8.0 * at(-STEP) + at(-2.0 * STEP))
                / (12.0 * STEP);
            worst = worse(worst, relative(analytic[t][i], numeric, RELATIVE_FLOOR));
        }
    }
    worst
}

/// `input_gradient` against forward mode: per step `t`, the sequence with `x_t`'s features
/// seeded (tangent `i` along `x_{t,i}`) and every other step constant; the loss's tangents
/// are then `∂L/∂x_t`, exactly.
fn dual_error<const IN: usize>(
    x: &[SVector<f64, IN>],
    analytic: &[SVector<f64, IN>],
    loss: impl Fn(&[SVector<DualN<f64, IN>, IN>]) -> DualN<f64, IN>,
) -> f64 {
    assert_eq!(analytic.len(), x.len(), "one gradient per step");
    let mut worst = 0.0f64;
    for (t, analytic_t) in analytic.iter().enumerate() {
        let seeded: Vec<SVector<DualN<f64, IN>, IN>> = x
            .iter()
            .enumerate()
            .map(|(s, x_s)| {
                if s == t {
                    SVector::from_fn(|i, _| DualN::variable(x_s[i], i))
                } else {
                    dual::constant(x_s)
                }
            })
            .collect();
        let tangents = loss(&seeded).eps;
        for i in 0..IN {
            worst = worse(
                worst,
                relative(analytic_t[i], tangents[i], DUAL_RELATIVE_FLOOR),
            );
        }
    }
    worst
}

/// Sample `j` of a batch of sequences.
fn column<const N: usize>(steps: &[Batch<f64, N>], j: usize) -> Vec<SVector<f64, N>> {
    steps.iter().map(|b| b.column(j).into_owned()).collect()
}

/// `input_gradient_batch` against each sample's own `input_gradient` over the batch size.
fn batch_error<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &[Batch<f64, IN>],
    target: &N::BatchTarget,
    sample_target: impl Fn(usize) -> Box<N::Target>,
) -> f64
where
    N: SequenceNetwork<f64, IN, OUT>,
{
    let gradient = net.input_gradient_batch(x, target);
    assert_eq!(gradient.len(), x.len(), "one gradient batch per step");
    let samples = x[0].ncols() as f64;
    let mut worst = 0.0f64;
    for j in 0..x[0].ncols() {
        let own = net.input_gradient(&column(x, j), &sample_target(j));
        for (batch_t, own_t) in gradient.iter().zip(&own) {
            assert_eq!(batch_t.ncols(), x[0].ncols(), "one column per sample");
            for i in 0..IN {
                let expected = own_t[i] / samples;
                worst = worse(
                    worst,
                    relative(batch_t[(i, j)], expected, DUAL_RELATIVE_FLOOR),
                );
            }
        }
    }
    worst
}

/// Every check of a sequence-to-one network (`Target = SVector<f64, OUT>`), each length with
/// freshly random parameters, `target` drawing one target.
fn check_to_one<N, const IN: usize, const OUT: usize>(
    seed: u64,
    target: impl Fn(&mut StdRng) -> SVector<f64, OUT>,
) -> Errors
where
    N: SequenceNetwork<f64, IN, OUT, Target = SVector<f64, OUT>, BatchTarget = Batch<f64, OUT>>
        + dual::WithScalar<DualN<f64, IN>>,
    <N as dual::WithScalar<DualN<f64, IN>>>::Net:
        SequenceNetwork<DualN<f64, IN>, IN, OUT, Target = SVector<DualN<f64, IN>, OUT>>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = N::boxed_zeros();
    let mut errors = Errors::default();
    for len in LENGTHS {
        randomize(&mut *net, &mut rng);
        let (x, y) = (sequence::<IN>(&mut rng, len), target(&mut rng));
        let analytic = net.input_gradient(&x, &y);
        errors.numeric = worse(
            errors.numeric,
            numeric_error(&x, &analytic, |x| net.loss(x, &y)),
        );
        let lifted = dual::lift::<f64, IN, N>(&*net);
        let y_dual = dual::constant(&y);
        errors.dual = worse(
            errors.dual,
            dual_error(&x, &analytic, |x| lifted.loss(x, &y_dual)),
        );
    }
    for len in BATCH_LENGTHS {
        randomize(&mut *net, &mut rng);
        let x = batch::<IN>(&mut rng, SAMPLES, len);
        let columns: Vec<SVector<f64, OUT>> = (0..SAMPLES).map(|_| target(&mut rng)).collect();
        let y = Batch::<f64, OUT>::from_columns(&columns);
        let error = batch_error(&*net, &x, &y, |j| Box::new(columns[j]));
        errors.batch = worse(errors.batch, error);
    }
    errors
}

/// Every check of a sequence-to-sequence network (one target per step), `target` drawing one
/// step's target.
fn check_to_sequence<N, const IN: usize, const OUT: usize>(
    seed: u64,
    target: impl Fn(&mut StdRng) -> SVector<f64, OUT>,
) -> Errors
where
    N: SequenceNetwork<f64, IN, OUT, Target = [SVector<f64, OUT>], BatchTarget = [Batch<f64, OUT>]>
        + dual::WithScalar<DualN<f64, IN>>,
    <N as dual::WithScalar<DualN<f64, IN>>>::Net:
        SequenceNetwork<DualN<f64, IN>, IN, OUT, Target = [SVector<DualN<f64, IN>, OUT>]>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = N::boxed_zeros();
    let mut errors = Errors::default();
    for len in LENGTHS {
        randomize(&mut *net, &mut rng);
        let x = sequence::<IN>(&mut rng, len);
        let y: Vec<SVector<f64, OUT>> = (0..len).map(|_| target(&mut rng)).collect();
        let analytic = net.input_gradient(&x, &y);
        errors.numeric = worse(
            errors.numeric,
            numeric_error(&x, &analytic, |x| net.loss(x, &y)),
        );
        let lifted = dual::lift::<f64, IN, N>(&*net);
        let y_dual: Vec<_> = y.iter().map(dual::constant).collect();
        errors.dual = worse(
            errors.dual,
            dual_error(&x, &analytic, |x| lifted.loss(x, &y_dual)),
        );
    }
    for len in BATCH_LENGTHS {
        randomize(&mut *net, &mut rng);
        let x = batch::<IN>(&mut rng, SAMPLES, len);
        let steps: Vec<Vec<SVector<f64, OUT>>> = (0..len)
            .map(|_| (0..SAMPLES).map(|_| target(&mut rng)).collect())
            .collect();
        let y: Vec<Batch<f64, OUT>> = steps.iter().map(|s| Batch::from_columns(s)).collect();
        let error = batch_error(&*net, &x, &y, |j| {
            steps
                .iter()
                .map(|s| s[j])
                .collect::<Vec<_>>()
                .into_boxed_slice()
        });
        errors.batch = worse(errors.batch, error);
    }
    errors
}

/// A regression target: every feature uniform in `[-1, 1)`.
fn real<const N: usize>(rng: &mut StdRng) -> SVector<f64, N> {
    SVector::from_fn(|_, _| rng.random_range(-1.0..1.0))
}

/// A class as a one-hot vector.
fn class<const N: usize>(rng: &mut StdRng) -> SVector<f64, N> {
    nn_runtime::one_hot::<f64, N>(rng.random_range(0..N))
}

/// Binary labels, one per feature.
fn labels<const N: usize>(rng: &mut StdRng) -> SVector<f64, N> {
    SVector::from_fn(|_, _| f64::from(u8::from(rng.random_bool(0.5))))
}

#[test]
fn input_gradients_match_central_differences_forward_mode_and_the_batch() {
    let rows = [
        ("gru_last", check_to_one::<GruLast<f64>, 3, 2>(1, real)),
        ("lstm_mean", check_to_one::<LstmMean<f64>, 2, 3>(2, class)),
        ("rnn_last", check_to_one::<RnnLast<f64>, 2, 2>(3, real)),
        ("effect", check_to_sequence::<Effect<f64>, 2, 1>(4, real)),
        ("tagger", check_to_sequence::<Tagger<f64>, 2, 2>(5, labels)),
        ("conv_gru", check_to_sequence::<ConvGru<f64>, 2, 1>(6, real)),
        (
            "input_residual",
            check_to_one::<InputResidual<f64>, 3, 2>(7, real),
        ),
        (
            "conv_residual",
            check_to_one::<ConvResidual<f64>, 2, 2>(8, real),
        ),
        ("per_step", check_to_one::<PerStep<f64>, 2, 1>(9, real)),
    ];
    println!("network          differences   forward mode   batch / per sample");
    for (name, errors) in &rows {
        println!(
            "{name:<16} {:>11.2e} {:>14.2e} {:>20.2e}",
            errors.numeric, errors.dual, errors.batch
        );
    }
    let worst = |part: fn(&Errors) -> f64| rows.iter().map(|(_, e)| part(e)).fold(0.0, f64::max);
    let (numeric, exact, batch) = (worst(|e| e.numeric), worst(|e| e.dual), worst(|e| e.batch));
    println!("worst: {numeric:.2e} {exact:.2e} {batch:.2e}");
    for (name, errors) in &rows {
        assert!(
            errors.numeric < GRADIENT_TOLERANCE,
            "{name}: central differences {:e}",
            errors.numeric
        );
        assert!(
            errors.dual < EXACT_TOLERANCE,
            "{name}: forward mode {:e}",
            errors.dual
        );
        assert!(
            errors.batch < EXACT_TOLERANCE,
            "{name}: batch against per sample {:e}",
            errors.batch
        );
    }
}
