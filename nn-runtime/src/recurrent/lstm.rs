//! The long short-term memory cell, PyTorch's `nn.LSTM`: gates `i`, `f`, `g`, `o` in that order.

use nalgebra::{SMatrix, SVector};

use super::stream::{self, same, same_mut};
use super::{Cell, gate_sigmoid};
use crate::Real;
use crate::activation::tanh;
use crate::layer::Zeroable;
use crate::linalg::{add_matvec, add_outer, tr_matvec};

/// An LSTM cell's parameters, PyTorch's `nn.LSTM(IN, H)` with one layer (`G4 = 4·H`):
/// ```text
/// [a_i; a_f; a_g; a_o] = W_ih x + b_ih + W_hh h + b_hh
/// i = σ(a_i)   f = σ(a_f)   g = tanh(a_g)   o = σ(a_o)
/// c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Lstm<T, const IN: usize, const H: usize, const G4: usize> {
    /// `[W_ii; W_if; W_ig; W_io]`, `[4H, IN]`.
    pub weight_ih_l0: SMatrix<T, G4, IN>,
    /// `[W_hi; W_hf; W_hg; W_ho]`, `[4H, H]`.
    pub weight_hh_l0: SMatrix<T, G4, H>,
    /// `[b_ii; b_if; b_ig; b_io]`, `[4H]`.
    pub bias_ih_l0: SVector<T, G4>,
    /// `[b_hi; b_hf; b_hg; b_ho]`, `[4H]`.
    pub bias_hh_l0: SVector<T, G4>,
}

/// An LSTM's state: the hidden output `h` and the cell `c` (PyTorch's `(h_n, c_n)`).
#[derive(Clone, Debug, PartialEq)]
pub struct LstmState<T, const H: usize> {
    /// The hidden output `h`.
    pub h: SVector<T, H>,
    /// The cell `c`.
    pub c: SVector<T, H>,
}

impl<T: Real, const H: usize> Default for LstmState<T, H> {
    fn default() -> Self {
        Self {
            h: SVector::zeros(),
            c: SVector::zeros(),
        }
    }
}

/// What one step of an [`Lstm`] keeps: its gates, `tanh(c')` and the new state.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmStep<T, const H: usize> {
    /// The input gate `i`.
    pub i: SVector<T, H>,
    /// The forget gate `f`.
    pub f: SVector<T, H>,
    /// The candidate `g`.
    pub g: SVector<T, H>,
    /// The output gate `o`.
    pub o: SVector<T, H>,
    /// `tanh(c')`.
    pub tanh_c: SVector<T, H>,
    /// The new state `(h', c')`.
    pub state: LstmState<T, H>,
}

impl<T: Real, const IN: usize, const H: usize, const G4: usize> Lstm<T, IN, H, G4> {
    /// Refuses, at compile time, a gate count other than `4·H`.
    const GATES: () = assert!(G4 == 4 * H, "an LSTM's gate rows `G4` must be `4 * H`");

    /// `[a_i; a_f; a_g; a_o] = W_ih x + b_ih + W_hh h + b_hh`, both products added into one
    /// accumulator that starts at `b_ih + b_hh` (shared by `forward_step` and `advance`, so the
    /// two agree bit for bit).
    #[inline]
    fn preactivation(&self, x: &SVector<T, IN>, h: &SVector<T, H>) -> SVector<T, G4> {
        let () = Self::GATES;
        let mut a: SVector<T, G4> = self.bias_ih_l0 + self.bias_hh_l0;
        add_matvec(&mut a, &self.weight_ih_l0, x);
        add_matvec(&mut a, &self.weight_hh_l0, h);
        a
    }
}

/// Every parameter 0, as `Parameters::zeros` leaves them.
impl<T: Real, const IN: usize, const H: usize, const G4: usize> Default for Lstm<T, IN, H, G4> {
    fn default() -> Self {
        Self {
            weight_ih_l0: SMatrix::zeros(),
            weight_hh_l0: SMatrix::zeros(),
            bias_ih_l0: SVector::zeros(),
            bias_hh_l0: SVector::zeros(),
        }
    }
}

// SAFETY: nalgebra `ArrayStorage`s of a `Real` scalar, i.e. plain floats.
unsafe impl<T: Real, const IN: usize, const H: usize, const G4: usize> Zeroable
    for Lstm<T, IN, H, G4>
{
}

impl<T: Real, const IN: usize, const H: usize, const G4: usize> Cell<T, IN, H>
    for Lstm<T, IN, H, G4>
{
    type State = LstmState<T, H>;
    type Step = LstmStep<T, H>;

    fn zero_state() -> Self::State {
        LstmState::default()
    }

    fn hidden(state: &Self::State) -> &SVector<T, H> {
        &state.h
    }

    fn hidden_mut(state: &mut Self::State) -> &mut SVector<T, H> {
        &mut state.h
    }

    #[inline]
    fn forward_step(&self, x: &SVector<T, IN>, previous: &LstmState<T, H>) -> LstmStep<T, H> {
        let a: SVector<T, G4> = self.preactivation(x, &previous.h);
        let i: SVector<T, H> = a.fixed_rows::<H>(0).map(gate_sigmoid);
        let f: SVector<T, H> = a.fixed_rows::<H>(H).map(gate_sigmoid);
        let g: SVector<T, H> = tanh(&a.fixed_rows::<H>(2 * H).into_owned());
        let o: SVector<T, H> = a.fixed_rows::<H>(3 * H).map(gate_sigmoid);
        let c: SVector<T, H> = f.component_mul(&previous.c) + i.component_mul(&g);
        let tanh_c: SVector<T, H> = tanh(&c);
        let h: SVector<T, H> = o.component_mul(&tanh_c);
        LstmStep {
            i,
            f,
            g,
            o,
            tanh_c,
            state: LstmState { h, c },
        }
    }

    fn state(step: &LstmStep<T, H>) -> &LstmState<T, H> {
        &step.state
    }

    /// The step of [`forward_step`](Cell::forward_step) with no record: one accumulator for
    /// the four gates' pre-activations, the gates lane-wise over the `H` units, and `c'`, `h'`
    /// written over `c`, `h`. In `f64` value for value; in `f32` one kernel chosen for the CPU
    /// at run time, equal up to rounding (see the `stream` module).
    #[inline]
    fn advance(&self, x: &SVector<T, IN>, state: &mut LstmState<T, H>) {
        let () = Self::GATES;
        if let (Some(cell), Some(x), Some(h), Some(c)) = (
            same(self),
            same(x),
            same_mut(&mut state.h),
            same_mut(&mut state.c),
        ) {
            return stream::lstm::<IN, H, G4>(cell, x, h, c);
        }
        let a: SVector<T, G4> = self.preactivation(x, &state.h);
        let i: SVector<T, H> = a.fixed_rows::<H>(0).map(gate_sigmoid);
        let f: SVector<T, H> = a.fixed_rows::<H>(H).map(gate_sigmoid);
        let g: SVector<T, H> = a.fixed_rows::<H>(2 * H).map(T::tanh_activation);
        let o: SVector<T, H> = a.fixed_rows::<H>(3 * H).map(gate_sigmoid);
        state
            .c
            .zip_zip_apply(&f, &(i.component_mul(&g)), |c, f, ig| *c = f * *c + ig);
        state.h = o.zip_map(&state.c, |o, c| o * c.tanh_activation());
    }

    /// ```text
    /// dc = dc' + dh' ⊙ o ⊙ (1 − tanh²c')
    /// da = [dc ⊙ g ⊙ i(1 − i); dc ⊙ c ⊙ f(1 − f); dc ⊙ i ⊙ (1 − g²); dh' ⊙ tanh c' ⊙ o(1 − o)]
    /// ∂W_ih += da xᵀ   ∂W_hh += da hᵀ   ∂b_ih = ∂b_hh += da
    /// dx = W_ihᵀ da    dh = W_hhᵀ da    dc_prev = dc ⊙ f
    /// ```
    #[inline]
    fn backward_step(
        &self,
        x: &SVector<T, IN>,
        previous: &LstmState<T, H>,
        step: &LstmStep<T, H>,
        d: &LstmState<T, H>,
        grad: &mut Self,
    ) -> (SVector<T, IN>, LstmState<T, H>) {
        let one = T::one();
        let LstmStep {
            i, f, g, o, tanh_c, ..
        } = step;
        let dc: SVector<T, H> = d.c
            + d.h
                .zip_zip_map(o, tanh_c, |dh, o, t| dh * o * (one - t * t));
        let da_i: SVector<T, H> = dc.zip_zip_map(g, i, |dc, g, i| dc * g * i * (one - i));
        let da_f: SVector<T, H> = dc.zip_zip_map(&previous.c, f, |dc, c, f| dc * c * f * (one - f));
        let da_g: SVector<T, H> = dc.zip_zip_map(i, g, |dc, i, g| dc * i * (one - g * g));
        let da_o: SVector<T, H> =
            d.h.zip_zip_map(tanh_c, o, |dh, t, o| dh * t * o * (one - o));
        let mut da: SVector<T, G4> = SVector::zeros();
        da.fixed_rows_mut::<H>(0).copy_from(&da_i);
        da.fixed_rows_mut::<H>(H).copy_from(&da_f);
        da.fixed_rows_mut::<H>(2 * H).copy_from(&da_g);
        da.fixed_rows_mut::<H>(3 * H).copy_from(&da_o);
        add_outer(&mut grad.weight_ih_l0, &da, x);
        add_outer(&mut grad.weight_hh_l0, &da, &previous.h);
        grad.bias_ih_l0 += &da;
        grad.bias_hh_l0 += &da;
        let dx: SVector<T, IN> = tr_matvec(&self.weight_ih_l0, &da);
        let dh: SVector<T, H> = tr_matvec(&self.weight_hh_l0, &da);
        (
            dx,
            LstmState {
                h: dh,
                c: dc.component_mul(f),
            },
        )
    }
}
