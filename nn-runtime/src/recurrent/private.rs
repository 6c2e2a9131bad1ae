//! What the code `network!` generates for sequence networks names, through `__private`: the
//! cells, and the small per-sequence helpers its forward and backward passes are wired from.

use nalgebra::SVector;

use crate::Real;
use crate::linalg::Batch;

pub use super::{Causal, CausalHistory, ConvParameters};
pub use super::{
    Cell, Gru, GruStep, Lstm, LstmState, LstmStep, Relu, Rnn, RnnStep, Tanh, backward_sequence,
    forward_sequence,
};
pub use super::{CellKind, Reduction, SequenceNetwork};
pub use alloc::vec::Vec;

/// Panics unless the sequence has at least one step (its output and mean loss need one).
#[inline]
#[track_caller]
pub fn check_sequence(steps: usize) {
    assert!(
        steps > 0,
        "the sequence is empty; a sequence needs at least one step"
    );
}

/// Panics unless a sequence-to-sequence target gives one vector per step.
#[inline]
#[track_caller]
pub fn check_sequence_targets(steps: usize, targets: usize) {
    assert!(
        steps == targets,
        "the sequence has {steps} steps but {targets} targets; give one target per step"
    );
}

/// The hidden output of every step of a recurrent pass.
pub fn hidden_outputs<T: Real, C: Cell<T, IN, H>, const IN: usize, const H: usize>(
    steps: &[C::Step],
) -> Vec<SVector<T, H>> {
    steps
        .iter()
        .map(|step| *C::hidden(C::state(step)))
        .collect()
}

/// `a_t + b_t` for every step: a residual over time.
pub fn add_steps<T: Real, const N: usize>(
    a: &[SVector<T, N>],
    b: &[SVector<T, N>],
) -> Vec<SVector<T, N>> {
    a.iter().zip(b).map(|(a, b)| a + b).collect()
}

/// `n` zero vectors.
pub fn zero_steps<T: Real, const N: usize>(n: usize) -> Vec<SVector<T, N>> {
    alloc::vec![SVector::zeros(); n]
}

/// The last step's value (`last`).
#[inline]
pub fn last_step<T: Real, const N: usize>(steps: &[SVector<T, N>]) -> SVector<T, N> {
    check_sequence(steps.len());
    steps[steps.len() - 1]
}

/// The gradient of `last` with respect to every step: `dh` at the last, zero elsewhere.
pub fn last_step_backward<T: Real, const N: usize>(
    steps: usize,
    dh: &SVector<T, N>,
) -> Vec<SVector<T, N>> {
    let mut d = zero_steps(steps);
    d[steps - 1] = *dh;
    d
}

/// `(1/n) Σ_t h_t` (`mean`).
pub fn mean_steps<T: Real, const N: usize>(steps: &[SVector<T, N>]) -> SVector<T, N> {
    check_sequence(steps.len());
    let sum = steps.iter().fold(SVector::zeros(), |sum, h| sum + h);
    sum / T::constant(steps.len() as f64)
}

/// The gradient of `mean` with respect to every step: `dh / n` each.
pub fn mean_steps_backward<T: Real, const N: usize>(
    steps: usize,
    dh: &SVector<T, N>,
) -> Vec<SVector<T, N>> {
    alloc::vec![dh / T::constant(steps as f64); steps]
}

/// The steps as the columns of a batch (a sequence-to-sequence loss is the batch mean over
/// the steps).
pub fn steps_to_batch<T: Real, const N: usize>(steps: &[SVector<T, N>]) -> Batch<T, N> {
    Batch::from_columns(steps)
}

/// The columns of a batch as steps.
pub fn batch_to_steps<T: Real, const N: usize>(batch: &Batch<T, N>) -> Vec<SVector<T, N>> {
    batch
        .column_iter()
        .map(|column| column.into_owned())
        .collect()
}

pub use super::{
    BatchCell, LstmBatchState, backward_sequence_batch, forward_sequence_batch,
    hidden_outputs_batch,
};

/// Panics unless a batch of sequences has at least one step, at least one sample, and the
/// same samples (columns) at every step.
#[track_caller]
pub fn check_sequence_batch<T: Real, const N: usize>(steps: &[Batch<T, N>]) {
    check_sequence(steps.len());
    let columns = steps[0].ncols();
    crate::loss::check_not_empty(columns);
    if let Some((t, step)) = steps.iter().enumerate().find(|(_, s)| s.ncols() != columns) {
        panic!(
            "step {t} of the batch has {} samples but step 0 has {columns}; a batch holds \
             sequences of equal length, one column per sample at every step",
            step.ncols()
        );
    }
}

/// `n` zero batches of `columns` samples.
pub fn zero_steps_batch<T: Real, const N: usize>(n: usize, columns: usize) -> Vec<Batch<T, N>> {
    alloc::vec![Batch::zeros(columns); n]
}

/// `a_t + b_t` for every step of a batch: a residual over time.
pub fn add_steps_batch<T: Real, const N: usize>(
    a: &[Batch<T, N>],
    b: &[Batch<T, N>],
) -> Vec<Batch<T, N>> {
    a.iter().zip(b).map(|(a, b)| a + b).collect()
}

/// The last step of every sample (`last`).
pub fn last_step_batch<T: Real, const N: usize>(steps: &[Batch<T, N>]) -> Batch<T, N> {
    check_sequence(steps.len());
    steps[steps.len() - 1].clone()
}

/// The gradient of `last` over a batch: `dh` at the last step, zero elsewhere.
pub fn last_step_backward_batch<T: Real, const N: usize>(
    steps: usize,
    dh: &Batch<T, N>,
) -> Vec<Batch<T, N>> {
    let mut d = zero_steps_batch(steps, dh.ncols());
    d[steps - 1] = dh.clone();
    d
}

/// The mean over the steps of every sample (`mean`).
pub fn mean_steps_batch<T: Real, const N: usize>(steps: &[Batch<T, N>]) -> Batch<T, N> {
    check_sequence(steps.len());
    let mut sum = steps[0].clone();
    for step in &steps[1..] {
        sum += step;
    }
    sum / T::constant(steps.len() as f64)
}

/// The gradient of `mean` over a batch: `dh / n` at every step.
pub fn mean_steps_backward_batch<T: Real, const N: usize>(
    steps: usize,
    dh: &Batch<T, N>,
) -> Vec<Batch<T, N>> {
    alloc::vec![dh / T::constant(steps as f64); steps]
}
