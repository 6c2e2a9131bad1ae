//! What the sequence tests share (`tests/recurrent.rs`, `tests/causal.rs`,
//! `tests/dual_recurrent.rs`, `tests/sequence_fit.rs`): random parameters and sequences, and
//! the finite-difference checks of backpropagation through time.
#![allow(dead_code)] // each test file uses its own part

use nn_runtime::gradcheck::{check_sequence_gradient, check_sequence_gradient_batch};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Parameters, SequenceNetwork};
use rand::Rng;
use rand::rngs::StdRng;

/// Largest accepted relative error of a finite-difference check in f64.
pub const GRADIENT_TOLERANCE: f64 = 1e-6;

/// Every parameter uniform in `[-0.7, 0.7)`.
pub fn randomize<N: Parameters<f64>>(net: &mut N, rng: &mut StdRng) {
    for index in 0..N::TENSORS.len() {
        for value in net.tensor_mut(index) {
            *value = rng.random_range(-0.7..0.7);
        }
    }
}

/// A random sequence of `len` steps, each feature uniform in `[-1, 1)`.
pub fn sequence<const N: usize>(rng: &mut StdRng, len: usize) -> Vec<SVector<f64, N>> {
    (0..len)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect()
}

/// A batch of `samples` equal-length random sequences: step `t` of every sample as columns.
pub fn batch<const N: usize>(rng: &mut StdRng, samples: usize, len: usize) -> Vec<Batch<f64, N>> {
    (0..len)
        .map(|_| Batch::from_fn(samples, |_, _| rng.random_range(-1.0..1.0)))
        .collect()
}

/// BPTT over one sequence against central differences.
pub fn assert_gradient<N, const IN: usize, const OUT: usize>(
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

/// BPTT over a batch (GEMMs) against central differences.
pub fn assert_batch_gradient<N, const IN: usize, const OUT: usize>(
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
