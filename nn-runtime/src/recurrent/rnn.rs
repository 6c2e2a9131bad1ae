//! The Elman cell, PyTorch's `nn.RNN`: `h_t = σ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)`.

use core::marker::PhantomData;

use nalgebra::{SMatrix, SVector};

use super::Cell;
use super::stream::{self, same, same_mut};
use crate::Real;
use crate::layer::Zeroable;
use crate::linalg::{add_matvec, add_outer, tr_matvec};

/// The nonlinearity of an [`Rnn`] cell (PyTorch's `nonlinearity`): [`Tanh`] or [`Relu`].
pub trait RnnActivation: 'static {
    /// `σ(z)`.
    fn apply<T: Real>(z: T) -> T;
    /// `σ'(z)`, written in terms of the output `h = σ(z)` (all a step keeps).
    fn derivative_at_output<T: Real>(h: T) -> T;
}

/// `tanh`, PyTorch's default: `σ'(z) = 1 − h²`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tanh;

/// `max(z, 0)`: `σ'(z) = 1` where `h > 0`, else `0` (PyTorch's `relu'(0) = 0`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relu;

impl RnnActivation for Tanh {
    #[inline]
    fn apply<T: Real>(z: T) -> T {
        z.tanh_activation()
    }
    #[inline]
    fn derivative_at_output<T: Real>(h: T) -> T {
        T::one() - h * h
    }
}

impl RnnActivation for Relu {
    #[inline]
    fn apply<T: Real>(z: T) -> T {
        if z > T::zero() { z } else { T::zero() }
    }
    #[inline]
    fn derivative_at_output<T: Real>(h: T) -> T {
        if h > T::zero() { T::one() } else { T::zero() }
    }
}

/// An Elman cell's parameters, PyTorch's `nn.RNN(IN, H, nonlinearity)` with one layer:
/// `h_t = σ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)`.
#[derive(Clone, Debug, PartialEq)]
pub struct Rnn<T, const IN: usize, const H: usize, A = Tanh> {
    /// `W_ih`, `[H, IN]`.
    pub weight_ih_l0: SMatrix<T, H, IN>,
    /// `W_hh`, `[H, H]`.
    pub weight_hh_l0: SMatrix<T, H, H>,
    /// `b_ih`, `[H]`.
    pub bias_ih_l0: SVector<T, H>,
    /// `b_hh`, `[H]`.
    pub bias_hh_l0: SVector<T, H>,
    /// The nonlinearity, a type (no data).
    pub activation: PhantomData<A>,
}

/// What one step of an [`Rnn`] keeps: its output `h_t`.
#[derive(Clone, Debug, PartialEq)]
pub struct RnnStep<T, const H: usize> {
    /// `h_t`.
    pub h: SVector<T, H>,
}

/// Every parameter 0, as `Parameters::zeros` leaves them.
impl<T: Real, const IN: usize, const H: usize, A> Default for Rnn<T, IN, H, A> {
    fn default() -> Self {
        Self {
            weight_ih_l0: SMatrix::zeros(),
            weight_hh_l0: SMatrix::zeros(),
            bias_ih_l0: SVector::zeros(),
            bias_hh_l0: SVector::zeros(),
            activation: PhantomData,
        }
    }
}

impl<T: Real, const IN: usize, const H: usize, A> Rnn<T, IN, H, A> {
    /// `W_ih x + b_ih + W_hh h + b_hh`, both products added into one accumulator that starts at
    /// `b_ih + b_hh` (shared by `forward_step` and `advance`, so the two agree bit for bit).
    #[inline]
    fn preactivation(&self, x: &SVector<T, IN>, h: &SVector<T, H>) -> SVector<T, H> {
        let mut z: SVector<T, H> = self.bias_ih_l0 + self.bias_hh_l0;
        add_matvec(&mut z, &self.weight_ih_l0, x);
        add_matvec(&mut z, &self.weight_hh_l0, h);
        z
    }
}

// SAFETY: nalgebra `ArrayStorage`s of a `Real` scalar (plain floats) and a zero-sized marker.
unsafe impl<T: Real, const IN: usize, const H: usize, A> Zeroable for Rnn<T, IN, H, A> {}

impl<T: Real, const IN: usize, const H: usize, A: RnnActivation> Cell<T, IN, H>
    for Rnn<T, IN, H, A>
{
    type State = SVector<T, H>;
    type Step = RnnStep<T, H>;

    fn zero_state() -> Self::State {
        SVector::zeros()
    }

    fn hidden(state: &Self::State) -> &SVector<T, H> {
        state
    }

    fn hidden_mut(state: &mut Self::State) -> &mut SVector<T, H> {
        state
    }

    #[inline]
    fn forward_step(&self, x: &SVector<T, IN>, h: &SVector<T, H>) -> RnnStep<T, H> {
        RnnStep {
            h: self.preactivation(x, h).map(A::apply),
        }
    }

    fn state(step: &RnnStep<T, H>) -> &SVector<T, H> {
        &step.h
    }

    /// The step of [`forward_step`](Cell::forward_step) with no record. In `f64` value for
    /// value; in `f32` one kernel chosen for the CPU at run time, equal up to rounding (see the
    /// `stream` module).
    #[inline]
    fn advance(&self, x: &SVector<T, IN>, h: &mut SVector<T, H>) {
        if let (Some(cell), Some(x), Some(h)) = (same(self), same(x), same_mut(h)) {
            return stream::rnn::<A, IN, H>(cell, x, h);
        }
        let z: SVector<T, H> = self.preactivation(x, h);
        for (h, &z) in h.iter_mut().zip(z.iter()) {
            *h = A::apply(z);
        }
    }

    /// `dz = σ'(z) ⊙ dh`; `∂W_ih += dz xᵀ`, `∂W_hh += dz h_{t−1}ᵀ`, `∂b_ih = ∂b_hh += dz`;
    /// `dx = W_ihᵀ dz`, `dh_{t−1} = W_hhᵀ dz`.
    #[inline]
    fn backward_step(
        &self,
        x: &SVector<T, IN>,
        h_previous: &SVector<T, H>,
        step: &RnnStep<T, H>,
        dh: &SVector<T, H>,
        grad: &mut Self,
    ) -> (SVector<T, IN>, SVector<T, H>) {
        let dz: SVector<T, H> = step.h.zip_map(dh, |h, d| A::derivative_at_output(h) * d);
        add_outer(&mut grad.weight_ih_l0, &dz, x);
        add_outer(&mut grad.weight_hh_l0, &dz, h_previous);
        grad.bias_ih_l0 += &dz;
        grad.bias_hh_l0 += &dz;
        let dx: SVector<T, IN> = tr_matvec(&self.weight_ih_l0, &dz);
        let dh_previous: SVector<T, H> = tr_matvec(&self.weight_hh_l0, &dz);
        (dx, dh_previous)
    }
}
