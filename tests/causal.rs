//! Causal convolution in sequence networks: `conv1d(C_out, kernel = K, dilation = D, causal)`
//! on `input: seq(F)`, before and after dense layers, in front of a recurrent cell, with
//! residuals, before a reduction.
//!
//! Backpropagation through time is checked against central differences of the loss in f64
//! (`gradcheck`), per sample and per batch, over sequences of length 1 to 20; `step` over a
//! stream against the whole-sequence forward pass; `backward_chunk` against `backward`; the
//! tensors against PyTorch's `nn.Conv1d` names and shapes.

use nn_runtime::gradcheck::{check_sequence_gradient, check_sequence_gradient_batch};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Parameters, SequenceNetwork, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest accepted relative error of a gradient check: a wrong formula errs by O(1); the
/// five-point difference at step 1e-4 is good to ~1e-10 here.
const GRADIENT_TOLERANCE: f64 = 1e-6;

network! {
    /// Issue 13's streaming model: dense 1→8, tanh, causal conv1d 8→4 (kernel 3, dilation 2),
    /// tanh, GRU 4→8, dense 8→1, one output per step.
    pub struct ConvGru {
        input: seq(1),
        pre: dense(8, tanh),
        conv: conv1d(4, kernel = 3, dilation = 2, causal, tanh),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

network! {
    /// Two causal convolutions with a residual between them, an LSTM, the last step classified.
    pub struct ConvClassifier {
        input: seq(3),
        c1: conv1d(4, kernel = 2, causal, tanh),
        c2: conv1d(4, kernel = 3, dilation = 3, causal, tanh) + c1,
        r1: lstm(5),
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// A causal convolution straight on the input, without bias, with a projected residual from
    /// the input, reduced by `mean`.
    pub struct ConvMean {
        input: seq(2),
        c1: conv1d(3, kernel = 4, causal, bias = false, tanh) + project(input),
        pool: mean,
        out: dense(2),
        loss: mse,
    }
}

fn randomize<N: Parameters<f64>>(net: &mut N, rng: &mut StdRng) {
    for index in 0..N::TENSORS.len() {
        for value in net.tensor_mut(index) {
            *value = rng.random_range(-0.7..0.7);
        }
    }
}

fn sequence<const N: usize>(rng: &mut StdRng, len: usize) -> Vec<SVector<f64, N>> {
    (0..len)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect()
}

fn batch<const N: usize>(rng: &mut StdRng, samples: usize, len: usize) -> Vec<Batch<f64, N>> {
    (0..len)
        .map(|_| Batch::from_fn(samples, |_, _| rng.random_range(-1.0..1.0)))
        .collect()
}

fn assert_gradient<N, const IN: usize, const OUT: usize>(
    what: &str,
    net: &mut N,
    x: &[SVector<f64, IN>],
    target: &N::Target,
) where
    N: SequenceNetwork<f64, IN, OUT>,
{
    let check = check_sequence_gradient(net, x, target);
    assert!(
        check.max_relative_error < GRADIENT_TOLERANCE,
        "{what}, length {}: {check:?}",
        x.len()
    );
}

fn assert_batch_gradient<N, const IN: usize, const OUT: usize>(
    what: &str,
    net: &mut N,
    x: &[Batch<f64, IN>],
    target: &N::BatchTarget,
) where
    N: SequenceNetwork<f64, IN, OUT>,
{
    let check = check_sequence_gradient_batch(net, x, target);
    assert!(
        check.max_relative_error < GRADIENT_TOLERANCE,
        "{what}, batch of length {}: {check:?}",
        x.len()
    );
}

#[test]
fn conv_gru_bptt_matches_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut net = ConvGru::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<1>(&mut rng, len);
        let target = sequence::<1>(&mut rng, len);
        assert_gradient("conv + gru", &mut net, &x, &target);
    }
}

#[test]
fn stacked_convs_with_residual_and_lstm_match_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(12);
    let mut net = ConvClassifier::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<3>(&mut rng, len);
        let target = nn_runtime::one_hot::<f64, 3>(len % 3);
        assert_gradient("conv classifier", &mut net, &x, &target);
    }
}

#[test]
fn conv_on_the_input_without_bias_with_projection_matches_finite_differences() {
    let mut rng = StdRng::seed_from_u64(13);
    let mut net = ConvMean::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut net, &mut rng);
        let x = sequence::<2>(&mut rng, len);
        let target = SVector::<f64, 2>::new(0.3, -0.2);
        assert_gradient("conv mean", &mut net, &x, &target);
    }
}

#[test]
fn batch_bptt_matches_finite_differences_over_lengths_1_to_20() {
    let mut rng = StdRng::seed_from_u64(14);
    let mut conv_gru = ConvGru::<f64>::zeros();
    let mut classifier = ConvClassifier::<f64>::zeros();
    let mut mean = ConvMean::<f64>::zeros();
    for len in 1..=20 {
        randomize(&mut conv_gru, &mut rng);
        let x = batch::<1>(&mut rng, 3, len);
        let target = batch::<1>(&mut rng, 3, len);
        assert_batch_gradient("conv + gru", &mut conv_gru, &x, &target);

        randomize(&mut classifier, &mut rng);
        let x = batch::<3>(&mut rng, 4, len);
        let target = nn_runtime::one_hot_batch::<f64, 3>(&[0, 2, 1, len % 3]);
        assert_batch_gradient("conv classifier", &mut classifier, &x, &target);

        randomize(&mut mean, &mut rng);
        let x = batch::<2>(&mut rng, 2, len);
        let target = Batch::<f64, 2>::from_fn(2, |_, _| rng.random_range(-1.0..1.0));
        assert_batch_gradient("conv mean", &mut mean, &x, &target);
    }
}
