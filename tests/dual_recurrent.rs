//! Forward mode through sequence networks: the networks of `tests/support/sequence_nets.rs`
//! (every cell, stacked, residuals over time, per-step dense and layer norm, `last`/`mean`,
//! sequence to sequence) over dual numbers. Backpropagation through time, per sequence and
//! per batch, against the exact forward-mode gradient of the loss
//! (`gradcheck::check_sequence_gradient_dual`).
//!
//! `cargo test --test dual_recurrent -- --nocapture` prints the table of errors.

use nn_runtime::gradcheck::{
    DualSequenceCheckable, check_sequence_gradient_dual, check_sequence_gradient_dual_batch,
};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, GradientCheck};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

#[path = "support/sequence_gradients.rs"]
mod gradients;
use gradients::{batch, randomize, sequence};

#[path = "support/sequence_nets.rs"]
mod nets;
use nets::{Effect, GruClassifier, Stacked, Tagger};

/// Two f64 computations of the same derivative in a different order (forward mode against
/// BPTT): rounding only, over up to 20 steps.
const DUAL_TOLERANCE: f64 = 1e-12;

/// NaN compares as the worst error, so a NaN gradient can't pass.
fn error(check: &GradientCheck) -> f64 {
    if check.max_relative_error.is_nan() {
        f64::INFINITY
    } else {
        check.max_relative_error
    }
}

/// The worst exact check of network `N` over sequences of lengths 1 to 20 (`sample` draws a
/// random sequence and its target for a length) and over batches of 3 sequences of lengths
/// 1, 5 and 12 (`samples`), each with freshly random parameters.
fn check_dual<N, const IN: usize, const OUT: usize>(
    seed: u64,
    sample: impl Fn(&mut StdRng, usize) -> (Vec<SVector<f64, IN>>, Box<N::Target>),
    samples: impl Fn(&mut StdRng, usize) -> (Vec<Batch<f64, IN>>, Box<N::BatchTarget>),
) -> [f64; 2]
where
    N: DualSequenceCheckable<IN, OUT>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = N::boxed_zeros();
    let mut per_sequence = 0.0f64;
    for len in 1..=20 {
        randomize(&mut *net, &mut rng);
        let (x, target) = sample(&mut rng, len);
        per_sequence = per_sequence.max(error(&check_sequence_gradient_dual(&*net, &x, &target)));
    }
    let mut per_batch = 0.0f64;
    for len in [1, 5, 12] {
        randomize(&mut *net, &mut rng);
        let (x, target) = samples(&mut rng, len);
        per_batch = per_batch.max(error(&check_sequence_gradient_dual_batch(
            &*net, &x, &target,
        )));
    }
    [per_sequence, per_batch]
}

/// Binary labels from the signs of random values.
fn labels<const N: usize>(values: Vec<SVector<f64, N>>) -> Vec<SVector<f64, N>> {
    values
        .into_iter()
        .map(|v| v.map(|v| f64::from(u8::from(v > 0.0))))
        .collect()
}

#[test]
fn bptt_matches_dual_numbers_exactly() {
    let rows = [
        (
            "gru_classifier",
            check_dual::<GruClassifier<f64>, 3, 3>(
                1,
                |rng, len| {
                    let target = nn_runtime::one_hot::<f64, 3>(rng.random_range(0..3));
                    (sequence(rng, len), Box::new(target))
                },
                |rng, len| {
                    let labels: Vec<usize> = (0..3).map(|_| rng.random_range(0..3)).collect();
                    let target = nn_runtime::one_hot_batch::<f64, 3>(&labels);
                    (batch(rng, 3, len), Box::new(target))
                },
            ),
        ),
        (
            "stacked",
            check_dual::<Stacked<f64>, 2, 2>(
                2,
                |rng, len| (sequence(rng, len), Box::new(sequence::<2>(rng, 1)[0])),
                |rng, len| {
                    let target = Batch::<f64, 2>::from_fn(3, |_, _| rng.random_range(-1.0..1.0));
                    (batch(rng, 3, len), Box::new(target))
                },
            ),
        ),
        (
            "effect",
            check_dual::<Effect<f64>, 2, 1>(
                3,
                |rng, len| (sequence(rng, len), sequence(rng, len).into_boxed_slice()),
                |rng, len| (batch(rng, 3, len), batch(rng, 3, len).into_boxed_slice()),
            ),
        ),
        (
            "tagger",
            check_dual::<Tagger<f64>, 2, 2>(
                4,
                |rng, len| {
                    let x = sequence(rng, len);
                    (x, labels(sequence(rng, len)).into_boxed_slice())
                },
                |rng, len| {
                    let target: Vec<_> = batch::<2>(rng, 3, len)
                        .into_iter()
                        .map(|b| b.map(|v| f64::from(u8::from(v > 0.0))))
                        .collect();
                    (batch(rng, 3, len), target.into_boxed_slice())
                },
            ),
        ),
    ];
    println!("network          per sequence   per batch (exact checks, lengths 1-20 / 1, 5, 12)");
    for (name, [sequence, batch]) in &rows {
        println!("{name:<16} {sequence:>12.2e} {batch:>11.2e}");
    }
    let worst = rows
        .iter()
        .flat_map(|(_, r)| r)
        .fold(0.0f64, |a, &b| a.max(b));
    println!("worst: {worst:.2e}");
    assert!(
        worst < DUAL_TOLERANCE,
        "exact checks above {DUAL_TOLERANCE:e}: worst {worst:e}"
    );
}
