//! Recurrent cells as PyTorch defines them (`nn.RNN`, `nn.GRU`, `nn.LSTM` with one layer), their
//! per-step forward and backward, and backpropagation through time over a sequence.
//!
//! Every size is static: a cell with `IN` inputs and `H` hidden units keeps its weights as
//! `weight_ih_l0` `[G·H, IN]` and `weight_hh_l0` `[G·H, H]` (PyTorch's names and layouts, gates
//! stacked along the rows in PyTorch's order), so a wrong shape anywhere in a cell's chain rule
//! is a type error. The gate count `G·H` is the cell's last const parameter (`G3 = 3H` for a GRU,
//! `G4 = 4H` for an LSTM; stable Rust cannot write `3 * H` in a type), checked at compile time.
//!
//! A step keeps what its backward pass needs in a record ([`Cell::Step`]); a sequence's forward
//! pass fills a `Vec` of records and [`backward_sequence`] walks them from the last, adding each
//! step's parameter gradient into a cell of the same type.

#[cfg(feature = "alloc")]
mod batch;
#[cfg(feature = "alloc")]
mod causal;
#[cfg(feature = "std")]
mod data;
#[cfg(feature = "alloc")]
mod embed;
#[cfg(feature = "alloc")]
mod gru;
#[cfg(feature = "alloc")]
mod lstm;
#[cfg(feature = "alloc")]
#[doc(hidden)]
pub mod private;
#[cfg(feature = "alloc")]
mod rnn;
#[cfg(feature = "alloc")]
mod stream;
#[cfg(all(test, feature = "std"))]
mod tests;

#[cfg(feature = "alloc")]
use alloc::vec::Vec;

#[cfg(feature = "alloc")]
use nalgebra::SVector;

#[cfg(feature = "alloc")]
use crate::Real;

#[cfg(feature = "alloc")]
pub use batch::{
    BatchCell, GruBatchStep, LstmBatchState, LstmBatchStep, backward_sequence_batch,
    forward_sequence_batch, hidden_outputs_batch,
};
#[cfg(feature = "alloc")]
pub use causal::{Causal, CausalHistory, ConvParameters};
#[cfg(feature = "std")]
pub use data::{Columns, SequenceDataError, SequenceDataset, StackTargets, StepBatches};
#[cfg(feature = "alloc")]
pub use gru::{Gru, GruStep};
#[cfg(feature = "alloc")]
pub use lstm::{Lstm, LstmState, LstmStep};
#[cfg(feature = "alloc")]
pub use rnn::{Relu, Rnn, RnnActivation, RnnStep, Tanh};

/// The cell of a recurrent layer, as [`LayerKind::Recurrent`](crate::LayerKind::Recurrent)
/// records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CellKind {
    /// The Elman cell ([`Rnn`]), `tanh` or `relu` (`relu: true`).
    Rnn {
        /// Whether the nonlinearity is `relu` (else `tanh`).
        relu: bool,
    },
    /// The gated recurrent unit ([`Gru`]).
    Gru,
    /// The long short-term memory cell ([`Lstm`]).
    Lstm,
}

/// How a sequence becomes one vector, as [`LayerKind::Reduce`](crate::LayerKind::Reduce)
/// records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reduction {
    /// The last step's value.
    Last,
    /// The mean over the steps.
    Mean,
}

#[cfg(feature = "alloc")]
/// `σ(z) = 1 / (1 + e^−z)`, a gate's activation, computed as `½ tanh(z/2) + ½` with
/// [`Real::tanh_activation`]: for `f32` Eigen's inlined rational `tanh` (within 4e-7 absolute
/// of the exact value), where a library `expf` call per gate unit would cost more than the
/// cell's products; for `f64` libm's `tanh` (within a few ulp). The sequence forward pass, the
/// batch forward pass and streaming all use it, so they agree (in `f32` streaming computes it
/// in its own kernels, with the multiply-adds fused where the CPU has FMA).
#[inline]
pub(crate) fn gate_sigmoid<T: Real>(z: T) -> T {
    let half = T::constant(0.5);
    half * (half * z).tanh_activation() + half
}

#[cfg(feature = "alloc")]
/// One recurrent cell with `IN` inputs and `H` hidden units: a step forward
/// `(x_t, state_{t−1}) → state_t`, and its backward pass.
pub trait Cell<T: Real, const IN: usize, const H: usize>: Sized {
    /// What the cell carries from one step to the next: `h` (rnn, gru) or `(h, c)` (lstm). The
    /// gradient with respect to a state has the same type.
    type State: Clone;
    /// What one step keeps for its backward pass (gate values, the new state).
    type Step;

    /// The state before the first step: all zeros, as PyTorch's default `h_0` (and `c_0`).
    fn zero_state() -> Self::State;

    /// The hidden output `h` of a state (what the next layer reads).
    fn hidden(state: &Self::State) -> &SVector<T, H>;

    /// The hidden output `h` of a state, to add a gradient into.
    fn hidden_mut(state: &mut Self::State) -> &mut SVector<T, H>;

    /// One step forward, keeping what backward needs.
    fn forward_step(&self, x: &SVector<T, IN>, previous: &Self::State) -> Self::Step;

    /// The state a step produced.
    fn state(step: &Self::Step) -> &Self::State;

    /// One step forward for streaming: replaces `state` with the next one, allocates nothing.
    fn advance(&self, x: &SVector<T, IN>, state: &mut Self::State) {
        let next = Self::state(&self.forward_step(x, state)).clone();
        *state = next;
    }

    /// One step backward: given `d`, the gradient of the loss with respect to the state this
    /// step produced, adds the step's parameter gradient into `grad` and returns `(∂L/∂x_t,
    /// ∂L/∂state_{t−1})`.
    fn backward_step(
        &self,
        x: &SVector<T, IN>,
        previous: &Self::State,
        step: &Self::Step,
        d: &Self::State,
        grad: &mut Self,
    ) -> (SVector<T, IN>, Self::State);
}

#[cfg(feature = "alloc")]
/// A sequence network generated by `network!` (its input is `seq(IN)`), over the scalar `T`:
/// forward, loss and backpropagation through time over a whole sequence, and streaming `step`.
///
/// A sequence-to-one network (one that reduces with `last` or `mean`) has `Output = Target =
/// SVector<T, OUT>`; a sequence-to-sequence one has one output and one target per step
/// (`Vec<SVector<T, OUT>>`, `[SVector<T, OUT>]`), its loss the mean over the steps.
pub trait SequenceNetwork<T: Real, const IN: usize, const OUT: usize>:
    crate::Parameters<T>
{
    /// The loss the network is trained on.
    const LOSS: crate::LossKind;
    /// What `forward` returns for a sequence.
    type Output;
    /// What `loss` and `backward` compare the output with.
    type Target: ?Sized;
    /// The streaming state `step` carries (one field per recurrent layer).
    type State: Default + Clone;

    /// The output for the sequence `x` (one vector per step).
    fn forward(&self, x: &[SVector<T, IN>]) -> Self::Output;

    /// The loss of one sequence.
    fn loss(&self, x: &[SVector<T, IN>], target: &Self::Target) -> T;

    /// Forward and backpropagation through time over `x`: adds `∂L/∂θ` into `grad`, returns
    /// the loss.
    fn backward(&self, x: &[SVector<T, IN>], target: &Self::Target, grad: &mut Self) -> T;

    /// One step for streaming: advances `state` and returns this step's output.
    fn step(&self, state: &mut Self::State, x: &SVector<T, IN>) -> SVector<T, OUT>;

    /// What `forward_batch` returns: `Batch<T, OUT>`, or one per step.
    type BatchOutput;
    /// What `loss_batch` and `backward_batch` compare it with.
    type BatchTarget: ?Sized;

    /// The outputs for a batch of equal-length sequences (`x[t]`: step `t`, one column per
    /// sample).
    fn forward_batch(&self, x: &[crate::Batch<T, IN>]) -> Self::BatchOutput;

    /// The mean loss over the batch.
    fn loss_batch(&self, x: &[crate::Batch<T, IN>], target: &Self::BatchTarget) -> T;

    /// Adds the gradient of the batch's mean loss into `grad`, returns that loss.
    fn backward_batch(
        &self,
        x: &[crate::Batch<T, IN>],
        target: &Self::BatchTarget,
        grad: &mut Self,
    ) -> T;

    /// The gradient of one sequence's loss with respect to each of its steps, `∂L/∂x_t` (one
    /// per step), from the zero initial state: backpropagation through time run on to the
    /// input, for exactly the loss [`SequenceNetwork::backward`] computes. About the cost of
    /// `backward` (a recurrent layer's parameter gradient still goes into a scratch gradient).
    /// See [`dual`](crate::dual) for forward-mode derivatives.
    ///
    /// # Panics
    /// If the sequence is empty (or, sequence to sequence, the targets are not one per step).
    fn input_gradient(&self, x: &[SVector<T, IN>], target: &Self::Target) -> Vec<SVector<T, IN>>;

    /// The gradient of the batch's mean loss (as [`SequenceNetwork::backward_batch`]) with
    /// respect to each input: column `j` of step `t` is `∂L/∂x_{t,j}`, sample `j`'s own input
    /// gradient over the batch size.
    ///
    /// # Panics
    /// As [`SequenceNetwork::loss_batch`].
    fn input_gradient_batch(
        &self,
        x: &[crate::Batch<T, IN>],
        target: &Self::BatchTarget,
    ) -> Vec<crate::Batch<T, IN>>;
}

#[cfg(feature = "alloc")]
/// The cell run over `xs` from `initial`: one record per step, appended to `steps` (cleared
/// first). The outputs are `C::hidden(C::state(&steps[t]))`.
pub fn forward_sequence<T: Real, C: Cell<T, IN, H>, const IN: usize, const H: usize>(
    cell: &C,
    xs: &[SVector<T, IN>],
    initial: &C::State,
    steps: &mut Vec<C::Step>,
) {
    steps.clear();
    steps.reserve(xs.len());
    for x in xs {
        let step = match steps.last() {
            Some(last) => cell.forward_step(x, C::state(last)),
            None => cell.forward_step(x, initial),
        };
        steps.push(step);
    }
}

#[cfg(feature = "alloc")]
/// Backpropagation through time over the steps of [`forward_sequence`]: `dhs[t]` is `∂L/∂h_t`
/// from the layers above (one per step), `d_final` the gradient reaching the last state from
/// beyond the sequence (zero for a whole sequence, or for truncated backpropagation, where the
/// gradient is cut at the chunk's end). Adds the parameter gradient into `grad`, writes
/// `∂L/∂x_t` into `dxs[t]`, and returns `∂L/∂initial`.
///
/// # Panics
/// If `xs`, `steps`, `dhs` and `dxs` do not all have one entry per step.
#[allow(clippy::too_many_arguments)]
pub fn backward_sequence<T: Real, C: Cell<T, IN, H>, const IN: usize, const H: usize>(
    cell: &C,
    xs: &[SVector<T, IN>],
    initial: &C::State,
    steps: &[C::Step],
    dhs: &[SVector<T, H>],
    d_final: C::State,
    grad: &mut C,
    dxs: &mut [SVector<T, IN>],
) -> C::State {
    let n = xs.len();
    assert!(
        steps.len() == n && dhs.len() == n && dxs.len() == n,
        "backward_sequence needs one record, output gradient and input gradient per step: \
         {n} inputs, {} records, {} output gradients, {} input gradients",
        steps.len(),
        dhs.len(),
        dxs.len()
    );
    let mut d = d_final;
    for t in (0..n).rev() {
        *C::hidden_mut(&mut d) += &dhs[t];
        let previous = if t == 0 {
            initial
        } else {
            C::state(&steps[t - 1])
        };
        let (dx, d_previous) = cell.backward_step(&xs[t], previous, &steps[t], &d, grad);
        dxs[t] = dx;
        d = d_previous;
    }
    d
}
