//! The cells over a batch of equal-length sequences, samples as columns: each step's products
//! are GEMMs (`W_ih X_t`, `W_hh H_{t−1}`, and in backward `Wᵀ Δ` and `Δ Xᵀ`), the math the same
//! as the per-sample cells'.

use alloc::vec::Vec;

use nalgebra::Dyn;

use super::{Cell, Gru, Lstm, Rnn, RnnActivation, gate_sigmoid};
use crate::Real;
use crate::activation::tanh;
use crate::layer::add_column_sums;
use crate::linalg::{Batch, add_mul_tr, matmul, tr_matmul};

/// `W X + b`, the bias added to every column.
fn affine<T: Real, const R: usize, const K: usize>(
    weight: &nalgebra::SMatrix<T, R, K>,
    x: &Batch<T, K>,
    bias: &nalgebra::SVector<T, R>,
) -> Batch<T, R> {
    let mut z = matmul(weight, x);
    for mut column in z.column_iter_mut() {
        column += bias;
    }
    z
}

/// Rows `[start, start + H)` of a batch of stacked gates.
fn gate<T: Real, const G: usize, const H: usize>(m: &Batch<T, G>, start: usize) -> Batch<T, H> {
    m.fixed_rows::<H>(start).into_owned()
}

/// A recurrent cell over a batch: [`Cell`] with every vector a batch of columns.
pub trait BatchCell<T: Real, const IN: usize, const H: usize>: Cell<T, IN, H> {
    /// The state of every sample: `H` (rnn, gru) or `(H, C)` (lstm), `[H, batch]` each.
    type BatchState: Clone;
    /// What one step over the batch keeps for backward.
    type BatchStep;

    /// The zero state of `columns` samples.
    fn zero_batch_state(columns: usize) -> Self::BatchState;
    /// The hidden outputs `H` of a batch state.
    fn batch_hidden(state: &Self::BatchState) -> &Batch<T, H>;
    /// The hidden outputs `H` of a batch state, to add a gradient into.
    fn batch_hidden_mut(state: &mut Self::BatchState) -> &mut Batch<T, H>;
    /// One step forward for every column.
    fn forward_step_batch(&self, x: &Batch<T, IN>, previous: &Self::BatchState) -> Self::BatchStep;
    /// The state a step produced.
    fn batch_state(step: &Self::BatchStep) -> &Self::BatchState;
    /// One step backward, summing the parameter gradient over the columns into `grad`;
    /// returns `(∂L/∂X_t, ∂L/∂state_{t−1})`.
    fn backward_step_batch(
        &self,
        x: &Batch<T, IN>,
        previous: &Self::BatchState,
        step: &Self::BatchStep,
        d: &Self::BatchState,
        grad: &mut Self,
    ) -> (Batch<T, IN>, Self::BatchState);
}

/// [`forward_sequence`](super::forward_sequence) over a batch: `xs[t]` holds step `t` of every
/// sample (one column each).
pub fn forward_sequence_batch<T: Real, C: BatchCell<T, IN, H>, const IN: usize, const H: usize>(
    cell: &C,
    xs: &[Batch<T, IN>],
    initial: &C::BatchState,
    steps: &mut Vec<C::BatchStep>,
) {
    steps.clear();
    steps.reserve(xs.len());
    for x in xs {
        let step = match steps.last() {
            Some(last) => cell.forward_step_batch(x, C::batch_state(last)),
            None => cell.forward_step_batch(x, initial),
        };
        steps.push(step);
    }
}

/// [`backward_sequence`](super::backward_sequence) over a batch.
///
/// # Panics
/// If `xs`, `steps`, `dhs` and `dxs` do not all have one entry per step.
#[allow(clippy::too_many_arguments)]
pub fn backward_sequence_batch<T: Real, C: BatchCell<T, IN, H>, const IN: usize, const H: usize>(
    cell: &C,
    xs: &[Batch<T, IN>],
    initial: &C::BatchState,
    steps: &[C::BatchStep],
    dhs: &[Batch<T, H>],
    d_final: C::BatchState,
    grad: &mut C,
    dxs: &mut [Batch<T, IN>],
) -> C::BatchState {
    let n = xs.len();
    assert!(
        steps.len() == n && dhs.len() == n && dxs.len() == n,
        "backward_sequence_batch needs one record, output gradient and input gradient per step"
    );
    let mut d = d_final;
    for t in (0..n).rev() {
        *C::batch_hidden_mut(&mut d) += &dhs[t];
        let previous = if t == 0 {
            initial
        } else {
            C::batch_state(&steps[t - 1])
        };
        let (dx, d_previous) = cell.backward_step_batch(&xs[t], previous, &steps[t], &d, grad);
        dxs[t] = dx;
        d = d_previous;
    }
    d
}

/// The hidden outputs of every step of a batch pass.
pub fn hidden_outputs_batch<T: Real, C: BatchCell<T, IN, H>, const IN: usize, const H: usize>(
    steps: &[C::BatchStep],
) -> Vec<Batch<T, H>> {
    steps
        .iter()
        .map(|step| C::batch_hidden(C::batch_state(step)).clone())
        .collect()
}

impl<T: Real, const IN: usize, const H: usize, A: RnnActivation> BatchCell<T, IN, H>
    for Rnn<T, IN, H, A>
{
    type BatchState = Batch<T, H>;
    type BatchStep = Batch<T, H>;

    fn zero_batch_state(columns: usize) -> Batch<T, H> {
        Batch::zeros_generic(nalgebra::Const::<H>, Dyn(columns))
    }
    fn batch_hidden(state: &Batch<T, H>) -> &Batch<T, H> {
        state
    }
    fn batch_hidden_mut(state: &mut Batch<T, H>) -> &mut Batch<T, H> {
        state
    }
    fn forward_step_batch(&self, x: &Batch<T, IN>, h: &Batch<T, H>) -> Batch<T, H> {
        let z = affine(&self.weight_ih_l0, x, &self.bias_ih_l0)
            + affine(&self.weight_hh_l0, h, &self.bias_hh_l0);
        z.map(A::apply)
    }
    fn batch_state(step: &Batch<T, H>) -> &Batch<T, H> {
        step
    }
    fn backward_step_batch(
        &self,
        x: &Batch<T, IN>,
        h_previous: &Batch<T, H>,
        h: &Batch<T, H>,
        dh: &Batch<T, H>,
        grad: &mut Self,
    ) -> (Batch<T, IN>, Batch<T, H>) {
        let dz: Batch<T, H> = h.zip_map(dh, |h, d| A::derivative_at_output(h) * d);
        add_mul_tr(&mut grad.weight_ih_l0, &dz, x);
        add_mul_tr(&mut grad.weight_hh_l0, &dz, h_previous);
        add_column_sums(&mut grad.bias_ih_l0, &dz);
        add_column_sums(&mut grad.bias_hh_l0, &dz);
        (
            tr_matmul(&self.weight_ih_l0, &dz),
            tr_matmul(&self.weight_hh_l0, &dz),
        )
    }
}

/// What one step of a [`Gru`] keeps over a batch (as [`GruStep`](super::GruStep)).
#[derive(Clone, Debug, PartialEq)]
pub struct GruBatchStep<T: Real, const H: usize> {
    r: Batch<T, H>,
    z: Batch<T, H>,
    n: Batch<T, H>,
    hn: Batch<T, H>,
    h: Batch<T, H>,
}

impl<T: Real, const IN: usize, const H: usize, const G3: usize> BatchCell<T, IN, H>
    for Gru<T, IN, H, G3>
{
    type BatchState = Batch<T, H>;
    type BatchStep = GruBatchStep<T, H>;

    fn zero_batch_state(columns: usize) -> Batch<T, H> {
        Batch::zeros_generic(nalgebra::Const::<H>, Dyn(columns))
    }
    fn batch_hidden(state: &Batch<T, H>) -> &Batch<T, H> {
        state
    }
    fn batch_hidden_mut(state: &mut Batch<T, H>) -> &mut Batch<T, H> {
        state
    }
    fn forward_step_batch(&self, x: &Batch<T, IN>, h: &Batch<T, H>) -> GruBatchStep<T, H> {
        let gi: Batch<T, G3> = affine(&self.weight_ih_l0, x, &self.bias_ih_l0);
        let gh: Batch<T, G3> = affine(&self.weight_hh_l0, h, &self.bias_hh_l0);
        let r: Batch<T, H> =
            (gate::<T, G3, H>(&gi, 0) + gate::<T, G3, H>(&gh, 0)).map(gate_sigmoid);
        let z: Batch<T, H> =
            (gate::<T, G3, H>(&gi, H) + gate::<T, G3, H>(&gh, H)).map(gate_sigmoid);
        let hn: Batch<T, H> = gate::<T, G3, H>(&gh, 2 * H);
        let n: Batch<T, H> = tanh(&(gate::<T, G3, H>(&gi, 2 * H) + r.component_mul(&hn)));
        let h_next = n.zip_zip_map(&z, h, |n, z, h| (T::one() - z) * n + z * h);
        GruBatchStep {
            r,
            z,
            n,
            hn,
            h: h_next,
        }
    }
    fn batch_state(step: &GruBatchStep<T, H>) -> &Batch<T, H> {
        &step.h
    }
    fn backward_step_batch(
        &self,
        x: &Batch<T, IN>,
        h: &Batch<T, H>,
        step: &GruBatchStep<T, H>,
        dh_next: &Batch<T, H>,
        grad: &mut Self,
    ) -> (Batch<T, IN>, Batch<T, H>) {
        let one = T::one();
        let GruBatchStep { r, z, n, hn, .. } = step;
        let dn = dh_next.zip_map(z, |d, z| d * (one - z));
        let dz = dh_next.zip_zip_map(h, n, |d, h, n| d * (h - n));
        let da_n = dn.zip_map(n, |d, n| d * (one - n * n));
        let da_r = da_n.component_mul(hn).zip_map(r, |d, r| d * r * (one - r));
        let da_z = dz.zip_map(z, |d, z| d * z * (one - z));
        let mut dgi: Batch<T, G3> = Batch::zeros_generic(nalgebra::Const::<G3>, Dyn(x.ncols()));
        dgi.fixed_rows_mut::<H>(0).copy_from(&da_r);
        dgi.fixed_rows_mut::<H>(H).copy_from(&da_z);
        dgi.fixed_rows_mut::<H>(2 * H).copy_from(&da_n);
        let mut dgh = dgi.clone();
        dgh.fixed_rows_mut::<H>(2 * H)
            .copy_from(&da_n.component_mul(r));
        add_mul_tr(&mut grad.weight_ih_l0, &dgi, x);
        add_mul_tr(&mut grad.weight_hh_l0, &dgh, h);
        add_column_sums(&mut grad.bias_ih_l0, &dgi);
        add_column_sums(&mut grad.bias_hh_l0, &dgh);
        let dx = tr_matmul(&self.weight_ih_l0, &dgi);
        let dh = tr_matmul(&self.weight_hh_l0, &dgh) + dh_next.component_mul(z);
        (dx, dh)
    }
}

/// An LSTM's state over a batch: `(H, C)`, `[H, batch]` each.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmBatchState<T: Real, const H: usize> {
    /// The hidden outputs.
    pub h: Batch<T, H>,
    /// The cells.
    pub c: Batch<T, H>,
}

/// What one step of an [`Lstm`] keeps over a batch (as [`LstmStep`](super::LstmStep)).
#[derive(Clone, Debug, PartialEq)]
pub struct LstmBatchStep<T: Real, const H: usize> {
    i: Batch<T, H>,
    f: Batch<T, H>,
    g: Batch<T, H>,
    o: Batch<T, H>,
    tanh_c: Batch<T, H>,
    state: LstmBatchState<T, H>,
}

impl<T: Real, const IN: usize, const H: usize, const G4: usize> BatchCell<T, IN, H>
    for Lstm<T, IN, H, G4>
{
    type BatchState = LstmBatchState<T, H>;
    type BatchStep = LstmBatchStep<T, H>;

    fn zero_batch_state(columns: usize) -> LstmBatchState<T, H> {
        let zeros = Batch::zeros_generic(nalgebra::Const::<H>, Dyn(columns));
        LstmBatchState {
            h: zeros.clone(),
            c: zeros,
        }
    }
    fn batch_hidden(state: &LstmBatchState<T, H>) -> &Batch<T, H> {
        &state.h
    }
    fn batch_hidden_mut(state: &mut LstmBatchState<T, H>) -> &mut Batch<T, H> {
        &mut state.h
    }
    fn forward_step_batch(
        &self,
        x: &Batch<T, IN>,
        previous: &LstmBatchState<T, H>,
    ) -> LstmBatchStep<T, H> {
        let a: Batch<T, G4> = affine(&self.weight_ih_l0, x, &self.bias_ih_l0)
            + affine(&self.weight_hh_l0, &previous.h, &self.bias_hh_l0);
        let i = gate::<T, G4, H>(&a, 0).map(gate_sigmoid);
        let f = gate::<T, G4, H>(&a, H).map(gate_sigmoid);
        let g = tanh(&gate::<T, G4, H>(&a, 2 * H));
        let o = gate::<T, G4, H>(&a, 3 * H).map(gate_sigmoid);
        let c = f.component_mul(&previous.c) + i.component_mul(&g);
        let tanh_c = tanh(&c);
        let h = o.component_mul(&tanh_c);
        LstmBatchStep {
            i,
            f,
            g,
            o,
            tanh_c,
            state: LstmBatchState { h, c },
        }
    }
    fn batch_state(step: &LstmBatchStep<T, H>) -> &LstmBatchState<T, H> {
        &step.state
    }
    fn backward_step_batch(
        &self,
        x: &Batch<T, IN>,
        previous: &LstmBatchState<T, H>,
        step: &LstmBatchStep<T, H>,
        d: &LstmBatchState<T, H>,
        grad: &mut Self,
    ) -> (Batch<T, IN>, LstmBatchState<T, H>) {
        let one = T::one();
        let LstmBatchStep {
            i, f, g, o, tanh_c, ..
        } = step;
        let dc = &d.c
            + d.h
                .zip_zip_map(o, tanh_c, |dh, o, t| dh * o * (one - t * t));
        let da_i = dc.zip_zip_map(g, i, |dc, g, i| dc * g * i * (one - i));
        let da_f = dc.zip_zip_map(&previous.c, f, |dc, c, f| dc * c * f * (one - f));
        let da_g = dc.zip_zip_map(i, g, |dc, i, g| dc * i * (one - g * g));
        let da_o =
            d.h.zip_zip_map(tanh_c, o, |dh, t, o| dh * t * o * (one - o));
        let mut da: Batch<T, G4> = Batch::zeros_generic(nalgebra::Const::<G4>, Dyn(x.ncols()));
        da.fixed_rows_mut::<H>(0).copy_from(&da_i);
        da.fixed_rows_mut::<H>(H).copy_from(&da_f);
        da.fixed_rows_mut::<H>(2 * H).copy_from(&da_g);
        da.fixed_rows_mut::<H>(3 * H).copy_from(&da_o);
        add_mul_tr(&mut grad.weight_ih_l0, &da, x);
        add_mul_tr(&mut grad.weight_hh_l0, &da, &previous.h);
        add_column_sums(&mut grad.bias_ih_l0, &da);
        add_column_sums(&mut grad.bias_hh_l0, &da);
        let dx = tr_matmul(&self.weight_ih_l0, &da);
        let state = LstmBatchState {
            h: tr_matmul(&self.weight_hh_l0, &da),
            c: dc.component_mul(f),
        };
        (dx, state)
    }
}
