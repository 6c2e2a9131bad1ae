//! Finite-difference checks of every cell's backward pass through time, in f64.

use alloc::vec::Vec;

use nalgebra::SVector;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::gradcheck::{RELATIVE_FLOOR, STEP};

/// The five-point difference in f64 agrees with an exact gradient to ~1e-10 relative; 1e-6
/// is the project's bar for every gradient check.
const TOLERANCE: f64 = 1e-6;

/// The four parameter tensors of a cell, as slices (PyTorch's order).
trait Tensors {
    fn tensors_mut(&mut self) -> [&mut [f64]; 4];
}

impl<const IN: usize, const H: usize, A> Tensors for Rnn<f64, IN, H, A> {
    fn tensors_mut(&mut self) -> [&mut [f64]; 4] {
        [
            self.weight_ih_l0.as_mut_slice(),
            self.weight_hh_l0.as_mut_slice(),
            self.bias_ih_l0.as_mut_slice(),
            self.bias_hh_l0.as_mut_slice(),
        ]
    }
}

impl<const IN: usize, const H: usize, const G: usize> Tensors for Gru<f64, IN, H, G> {
    fn tensors_mut(&mut self) -> [&mut [f64]; 4] {
        [
            self.weight_ih_l0.as_mut_slice(),
            self.weight_hh_l0.as_mut_slice(),
            self.bias_ih_l0.as_mut_slice(),
            self.bias_hh_l0.as_mut_slice(),
        ]
    }
}

impl<const IN: usize, const H: usize, const G: usize> Tensors for Lstm<f64, IN, H, G> {
    fn tensors_mut(&mut self) -> [&mut [f64]; 4] {
        [
            self.weight_ih_l0.as_mut_slice(),
            self.weight_hh_l0.as_mut_slice(),
            self.bias_ih_l0.as_mut_slice(),
            self.bias_hh_l0.as_mut_slice(),
        ]
    }
}

fn random_cell<C: Tensors + Default>(rng: &mut ChaCha8Rng) -> C {
    let mut cell = C::default();
    for tensor in cell.tensors_mut() {
        tensor
            .iter_mut()
            .for_each(|v| *v = rng.random_range(-0.8..0.8));
    }
    cell
}

fn random_vectors<const N: usize>(rng: &mut ChaCha8Rng, len: usize) -> Vec<SVector<f64, N>> {
    (0..len)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect()
}

/// `L = Σ_t w_t · h_t`: a loss that reads every step's output with its own weights.
fn loss<C: Cell<f64, IN, H>, const IN: usize, const H: usize>(
    cell: &C,
    xs: &[SVector<f64, IN>],
    weights: &[SVector<f64, H>],
) -> f64 {
    let mut steps = Vec::new();
    forward_sequence(cell, xs, &C::zero_state(), &mut steps);
    steps
        .iter()
        .zip(weights)
        .map(|(step, w)| C::hidden(C::state(step)).dot(w))
        .sum()
}

fn relative(analytic: f64, numeric: f64) -> f64 {
    (analytic - numeric).abs() / analytic.abs().max(numeric.abs()).max(RELATIVE_FLOOR)
}

fn difference(f: &mut impl FnMut(f64) -> f64) -> f64 {
    (f(-2.0 * STEP) - f(2.0 * STEP) + 8.0 * (f(STEP) - f(-STEP))) / (12.0 * STEP)
}

/// The worst relative error of BPTT's parameter and input gradients against five-point
/// differences, for a random cell over a random sequence of `len` steps.
fn check<C, const IN: usize, const H: usize>(seed: u64, len: usize) -> f64
where
    C: Cell<f64, IN, H> + Tensors + Default,
{
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut cell: C = random_cell(&mut rng);
    let xs = random_vectors::<IN>(&mut rng, len);
    let weights = random_vectors::<H>(&mut rng, len);

    let mut steps = Vec::new();
    forward_sequence(&cell, &xs, &C::zero_state(), &mut steps);
    let mut grad = C::default();
    let mut dxs = alloc::vec![SVector::zeros(); len];
    backward_sequence(
        &cell,
        &xs,
        &C::zero_state(),
        &steps,
        &weights,
        C::zero_state(),
        &mut grad,
        &mut dxs,
    );

    let mut worst: f64 = 0.0;
    let analytic: Vec<Vec<f64>> = grad.tensors_mut().iter().map(|t| t.to_vec()).collect();
    for (t, analytic) in analytic.iter().enumerate() {
        for (i, &analytic) in analytic.iter().enumerate() {
            let original = cell.tensors_mut()[t][i];
            let numeric = difference(&mut |offset| {
                cell.tensors_mut()[t][i] = original + offset;
                loss(&cell, &xs, &weights)
            });
            cell.tensors_mut()[t][i] = original;
            worst = worst.max(relative(analytic, numeric));
        }
    }
    for t in 0..len {
        for i in 0..IN {
            let numeric = difference(&mut |offset| {
                let mut moved = xs.clone();
                moved[t][i] += offset;
                loss(&cell, &moved, &weights)
            });
            worst = worst.max(relative(dxs[t][i], numeric));
        }
    }
    worst
}

#[test]
fn rnn_tanh_bptt_matches_finite_differences_over_lengths_1_to_20() {
    for len in 1..=20 {
        let error = check::<Rnn<f64, 3, 4, Tanh>, 3, 4>(len as u64, len);
        assert!(error < TOLERANCE, "length {len}: relative error {error:e}");
    }
}

#[test]
fn rnn_relu_bptt_matches_finite_differences_over_lengths_1_to_20() {
    for len in 1..=20 {
        let error = check::<Rnn<f64, 3, 4, Relu>, 3, 4>(100 + len as u64, len);
        assert!(error < TOLERANCE, "length {len}: relative error {error:e}");
    }
}

#[test]
fn gru_bptt_matches_finite_differences_over_lengths_1_to_20() {
    for len in 1..=20 {
        let error = check::<Gru<f64, 3, 4, 12>, 3, 4>(200 + len as u64, len);
        assert!(error < TOLERANCE, "length {len}: relative error {error:e}");
    }
}

#[test]
fn lstm_bptt_matches_finite_differences_over_lengths_1_to_20() {
    for len in 1..=20 {
        let error = check::<Lstm<f64, 3, 4, 16>, 3, 4>(300 + len as u64, len);
        assert!(error < TOLERANCE, "length {len}: relative error {error:e}");
    }
}

/// Truncated BPTT whose chunk covers the sequence is full BPTT; over two chunks the state is
/// carried (the outputs are the full sequence's) and the gradient is cut at the boundary.
#[test]
fn truncated_bptt_carries_the_state_and_cuts_the_gradient() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let cell: Lstm<f64, 2, 3, 12> = random_cell(&mut rng);
    let xs = random_vectors::<2>(&mut rng, 12);
    let dhs = random_vectors::<3>(&mut rng, 12);
    let zero = || LstmState::default();

    let mut steps = Vec::new();
    forward_sequence(&cell, &xs, &zero(), &mut steps);
    let mut full = Lstm::default();
    let mut dxs = alloc::vec![SVector::zeros(); 12];
    backward_sequence(
        &cell,
        &xs,
        &zero(),
        &steps,
        &dhs,
        zero(),
        &mut full,
        &mut dxs,
    );

    // One chunk of 12: the same computation, bit for bit.
    let mut chunked = Lstm::default();
    let mut state = zero();
    let mut chunk_steps = Vec::new();
    for (chunk_x, chunk_dh) in xs.chunks(12).zip(dhs.chunks(12)) {
        forward_sequence(&cell, chunk_x, &state, &mut chunk_steps);
        let mut dxs = alloc::vec![SVector::zeros(); chunk_x.len()];
        backward_sequence(
            &cell,
            chunk_x,
            &state,
            &chunk_steps,
            chunk_dh,
            zero(),
            &mut chunked,
            &mut dxs,
        );
        state = chunk_steps.last().unwrap().state.clone();
    }
    assert_eq!(chunked, full);

    // Chunks of 5: the outputs are the full run's; the gradient differs (it is cut).
    let mut state = zero();
    let mut outputs = Vec::new();
    let mut cut = Lstm::default();
    for (chunk_x, chunk_dh) in xs.chunks(5).zip(dhs.chunks(5)) {
        forward_sequence(&cell, chunk_x, &state, &mut chunk_steps);
        outputs.extend(chunk_steps.iter().map(|s| s.state.h));
        let mut dxs = alloc::vec![SVector::zeros(); chunk_x.len()];
        backward_sequence(
            &cell,
            chunk_x,
            &state,
            &chunk_steps,
            chunk_dh,
            zero(),
            &mut cut,
            &mut dxs,
        );
        state = chunk_steps.last().unwrap().state.clone();
    }
    let full_outputs: Vec<_> = steps.iter().map(|s| s.state.h).collect();
    assert_eq!(outputs, full_outputs);
    assert_ne!(cut, full);
}

/// `advance` (streaming, no record) carries `state` through `xs` and must reach, step for step,
/// bit for bit, the states of the recorded forward pass (`forward_step`).
fn advance_matches_forward_step<T, C, const IN: usize, const H: usize>(
    cell: &C,
    xs: &[SVector<T, IN>],
) where
    T: Real,
    C: Cell<T, IN, H>,
    C::State: PartialEq + core::fmt::Debug,
{
    let mut steps = Vec::new();
    forward_sequence(cell, xs, &C::zero_state(), &mut steps);
    let mut state = C::zero_state();
    for (t, (x, step)) in xs.iter().zip(&steps).enumerate() {
        cell.advance(x, &mut state);
        assert_eq!(&state, C::state(step), "step {t}");
    }
}

/// Every cell, small (the inlined baseline products) and wide (from 256 weights, the products
/// dispatched at run time), over 300 carried steps in f64: `advance` is bit-identical to
/// `forward_step` (both compute their pre-activations with the same products in the same
/// order, and the same scalar activations). In f32 `advance` runs the kernels of `stream`,
/// which follow `forward_step` to within 1e-5 (`stream::tests`).
#[test]
fn streaming_advance_matches_forward_sequence() {
    const STEPS: usize = 300;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let xs2 = random_vectors::<2>(&mut rng, STEPS);
    let xs3 = random_vectors::<3>(&mut rng, STEPS);
    let small_gru: Gru<f64, 2, 5, 15> = random_cell(&mut rng);
    advance_matches_forward_step(&small_gru, &xs2);
    let wide_gru: Gru<f64, 3, 16, 48> = random_cell(&mut rng);
    advance_matches_forward_step(&wide_gru, &xs3);
    let small_lstm: Lstm<f64, 2, 5, 20> = random_cell(&mut rng);
    advance_matches_forward_step(&small_lstm, &xs2);
    let wide_lstm: Lstm<f64, 3, 16, 64> = random_cell(&mut rng);
    advance_matches_forward_step(&wide_lstm, &xs3);
    let tanh_rnn: Rnn<f64, 2, 5, Tanh> = random_cell(&mut rng);
    advance_matches_forward_step(&tanh_rnn, &xs2);
    let wide_relu_rnn: Rnn<f64, 3, 20, Relu> = random_cell(&mut rng);
    advance_matches_forward_step(&wide_relu_rnn, &xs3);
}

/// Over a batch (samples as columns, GEMMs), every cell computes what it computes sample by
/// sample: the same outputs, input gradients, and the parameter gradient summed over samples.
fn batch_matches_samples<C, const IN: usize, const H: usize>(seed: u64)
where
    C: BatchCell<f64, IN, H> + Tensors + Default,
{
    use crate::linalg::Batch;
    const SAMPLES: usize = 3;
    const LEN: usize = 6;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cell: C = random_cell(&mut rng);
    let xs: Vec<Vec<SVector<f64, IN>>> = (0..SAMPLES)
        .map(|_| random_vectors(&mut rng, LEN))
        .collect();
    let dhs: Vec<Vec<SVector<f64, H>>> = (0..SAMPLES)
        .map(|_| random_vectors(&mut rng, LEN))
        .collect();
    let columns = |per: &[Vec<SVector<f64, IN>>], t: usize| {
        Batch::from_columns(&per.iter().map(|s| s[t]).collect::<Vec<_>>())
    };
    let xb: Vec<Batch<f64, IN>> = (0..LEN).map(|t| columns(&xs, t)).collect();
    let dhb: Vec<Batch<f64, H>> = (0..LEN)
        .map(|t| Batch::from_columns(&dhs.iter().map(|s| s[t]).collect::<Vec<_>>()))
        .collect();

    let mut steps = Vec::new();
    forward_sequence_batch(&cell, &xb, &C::zero_batch_state(SAMPLES), &mut steps);
    let mut batch_grad = C::default();
    let mut dxb = alloc::vec![Batch::zeros(SAMPLES); LEN];
    backward_sequence_batch(
        &cell,
        &xb,
        &C::zero_batch_state(SAMPLES),
        &steps,
        &dhb,
        C::zero_batch_state(SAMPLES),
        &mut batch_grad,
        &mut dxb,
    );

    let mut sample_grad = C::default();
    for s in 0..SAMPLES {
        let mut sample_steps = Vec::new();
        forward_sequence(&cell, &xs[s], &C::zero_state(), &mut sample_steps);
        let mut dxs = alloc::vec![SVector::zeros(); LEN];
        backward_sequence(
            &cell,
            &xs[s],
            &C::zero_state(),
            &sample_steps,
            &dhs[s],
            C::zero_state(),
            &mut sample_grad,
            &mut dxs,
        );
        for t in 0..LEN {
            let h = C::hidden(C::state(&sample_steps[t]));
            let hb = C::batch_hidden(C::batch_state(&steps[t])).column(s);
            assert!((h - hb).abs().max() < 1e-12, "output, sample {s}, step {t}");
            assert!(
                (dxs[t] - dxb[t].column(s)).abs().max() < 1e-12,
                "dx, sample {s}, step {t}"
            );
        }
    }
    let (batch, sample) = (batch_grad.tensors_mut(), sample_grad.tensors_mut());
    for (b, s) in batch.iter().zip(sample.iter()) {
        for (b, s) in b.iter().zip(s.iter()) {
            assert!((b - s).abs() < 1e-12, "gradient {b} vs {s}");
        }
    }
}

#[test]
fn batch_cells_match_the_per_sample_cells() {
    batch_matches_samples::<Rnn<f64, 3, 4, Tanh>, 3, 4>(1);
    batch_matches_samples::<Rnn<f64, 3, 4, Relu>, 3, 4>(2);
    batch_matches_samples::<Gru<f64, 3, 4, 12>, 3, 4>(3);
    batch_matches_samples::<Lstm<f64, 3, 4, 16>, 3, 4>(4);
}
