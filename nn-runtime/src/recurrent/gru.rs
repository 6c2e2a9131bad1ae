//! The gated recurrent unit, PyTorch's `nn.GRU`: gates `r`, `z`, `n` in that order, `r` applied
//! to `W_hn h + b_hn`.

use nalgebra::{SMatrix, SVector};

use super::stream::{self, same, same_mut};
use super::{Cell, gate_sigmoid};
use crate::Real;
use crate::activation::tanh;
use crate::layer::Zeroable;
use crate::linalg::{add_outer, matvec, tr_matvec};

/// A GRU cell's parameters, PyTorch's `nn.GRU(IN, H)` with one layer (`G3 = 3·H`):
/// ```text
/// r = σ(W_ir x + b_ir + W_hr h + b_hr)
/// z = σ(W_iz x + b_iz + W_hz h + b_hz)
/// n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
/// h' = (1 − z) ⊙ n + z ⊙ h
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Gru<T, const IN: usize, const H: usize, const G3: usize> {
    /// `[W_ir; W_iz; W_in]`, `[3H, IN]`.
    pub weight_ih_l0: SMatrix<T, G3, IN>,
    /// `[W_hr; W_hz; W_hn]`, `[3H, H]`.
    pub weight_hh_l0: SMatrix<T, G3, H>,
    /// `[b_ir; b_iz; b_in]`, `[3H]`.
    pub bias_ih_l0: SVector<T, G3>,
    /// `[b_hr; b_hz; b_hn]`, `[3H]`.
    pub bias_hh_l0: SVector<T, G3>,
}

/// What one step of a [`Gru`] keeps: its gates, `W_hn h + b_hn`, and `h'`.
#[derive(Clone, Debug, PartialEq)]
pub struct GruStep<T, const H: usize> {
    /// The reset gate `r`.
    pub r: SVector<T, H>,
    /// The update gate `z`.
    pub z: SVector<T, H>,
    /// The candidate `n`.
    pub n: SVector<T, H>,
    /// `W_hn h + b_hn`, which `r` multiplies.
    pub hn: SVector<T, H>,
    /// The new state `h'`.
    pub h: SVector<T, H>,
}

impl<T: Real, const IN: usize, const H: usize, const G3: usize> Gru<T, IN, H, G3> {
    /// Refuses, at compile time, a gate count other than `3·H`.
    const GATES: () = assert!(G3 == 3 * H, "a GRU's gate rows `G3` must be `3 * H`");
}

/// Every parameter 0, as `Parameters::zeros` leaves them.
impl<T: Real, const IN: usize, const H: usize, const G3: usize> Default for Gru<T, IN, H, G3> {
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
unsafe impl<T: Real, const IN: usize, const H: usize, const G3: usize> Zeroable
    for Gru<T, IN, H, G3>
{
}

impl<T: Real, const IN: usize, const H: usize, const G3: usize> Cell<T, IN, H>
    for Gru<T, IN, H, G3>
{
    type State = SVector<T, H>;
    type Step = GruStep<T, H>;

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
    fn forward_step(&self, x: &SVector<T, IN>, h: &SVector<T, H>) -> GruStep<T, H> {
        let () = Self::GATES;
        let gi: SVector<T, G3> = matvec(&self.weight_ih_l0, x) + self.bias_ih_l0;
        let gh: SVector<T, G3> = matvec(&self.weight_hh_l0, h) + self.bias_hh_l0;
        let r: SVector<T, H> = (gi.fixed_rows::<H>(0) + gh.fixed_rows::<H>(0)).map(gate_sigmoid);
        let z: SVector<T, H> = (gi.fixed_rows::<H>(H) + gh.fixed_rows::<H>(H)).map(gate_sigmoid);
        let hn: SVector<T, H> = gh.fixed_rows::<H>(2 * H).into_owned();
        let n: SVector<T, H> = tanh(&(gi.fixed_rows::<H>(2 * H) + r.component_mul(&hn)));
        let h_next: SVector<T, H> = n.zip_zip_map(&z, h, |n, z, h| (T::one() - z) * n + z * h);
        GruStep {
            r,
            z,
            n,
            hn,
            h: h_next,
        }
    }

    fn state(step: &GruStep<T, H>) -> &SVector<T, H> {
        &step.h
    }

    /// The step of [`forward_step`](Cell::forward_step) with no record: the two products
    /// `W_ih x + b_ih` and `W_hh h + b_hh` (kept apart, as `r` multiplies only
    /// `W_hn h + b_hn`), the gates lane-wise over the `H` units, and `h'` written over `h`.
    /// In `f64` value for value; in `f32` one kernel chosen for the CPU at run time, equal up
    /// to rounding (see the `stream` module).
    #[inline]
    fn advance(&self, x: &SVector<T, IN>, h: &mut SVector<T, H>) {
        let () = Self::GATES;
        if let (Some(cell), Some(x), Some(h)) = (same(self), same(x), same_mut(h)) {
            return stream::gru::<IN, H, G3>(cell, x, h);
        }
        let one = T::one();
        let gi: SVector<T, G3> = matvec(&self.weight_ih_l0, x) + self.bias_ih_l0;
        let gh: SVector<T, G3> = matvec(&self.weight_hh_l0, h) + self.bias_hh_l0;
        let r: SVector<T, H> = (gi.fixed_rows::<H>(0) + gh.fixed_rows::<H>(0)).map(gate_sigmoid);
        let z: SVector<T, H> = (gi.fixed_rows::<H>(H) + gh.fixed_rows::<H>(H)).map(gate_sigmoid);
        let a_n: SVector<T, H> =
            gi.fixed_rows::<H>(2 * H)
                .zip_zip_map(&gh.fixed_rows::<H>(2 * H), &r, |gi, hn, r| gi + r * hn);
        h.zip_zip_apply(&a_n, &z, |h, a_n, z| {
            *h = (one - z) * a_n.tanh_activation() + z * *h;
        });
    }

    /// ```text
    /// dn = dh' ⊙ (1 − z)         dz = dh' ⊙ (h − n)
    /// da_n = dn ⊙ (1 − n²)       dr = da_n ⊙ (W_hn h + b_hn)
    /// da_r = dr ⊙ r(1 − r)       da_z = dz ⊙ z(1 − z)
    /// d(W_ih x + b_ih) = [da_r; da_z; da_n]    d(W_hh h + b_hh) = [da_r; da_z; r ⊙ da_n]
    /// dh = W_hhᵀ d(W_hh h + b_hh) + z ⊙ dh'
    /// ```
    #[inline]
    fn backward_step(
        &self,
        x: &SVector<T, IN>,
        h: &SVector<T, H>,
        step: &GruStep<T, H>,
        dh_next: &SVector<T, H>,
        grad: &mut Self,
    ) -> (SVector<T, IN>, SVector<T, H>) {
        let one = T::one();
        let GruStep { r, z, n, hn, .. } = step;
        let dn: SVector<T, H> = dh_next.zip_map(z, |d, z| d * (one - z));
        let dz: SVector<T, H> = dh_next.zip_zip_map(h, n, |d, h, n| d * (h - n));
        let da_n: SVector<T, H> = dn.zip_map(n, |d, n| d * (one - n * n));
        let dr: SVector<T, H> = da_n.component_mul(hn);
        let da_r: SVector<T, H> = dr.zip_map(r, |d, r| d * r * (one - r));
        let da_z: SVector<T, H> = dz.zip_map(z, |d, z| d * z * (one - z));
        let mut dgi: SVector<T, G3> = SVector::zeros();
        dgi.fixed_rows_mut::<H>(0).copy_from(&da_r);
        dgi.fixed_rows_mut::<H>(H).copy_from(&da_z);
        dgi.fixed_rows_mut::<H>(2 * H).copy_from(&da_n);
        let mut dgh: SVector<T, G3> = dgi;
        dgh.fixed_rows_mut::<H>(2 * H)
            .copy_from(&da_n.component_mul(r));
        add_outer(&mut grad.weight_ih_l0, &dgi, x);
        add_outer(&mut grad.weight_hh_l0, &dgh, h);
        grad.bias_ih_l0 += &dgi;
        grad.bias_hh_l0 += &dgh;
        let dx: SVector<T, IN> = tr_matvec(&self.weight_ih_l0, &dgi);
        let dh: SVector<T, H> = tr_matvec(&self.weight_hh_l0, &dgh) + dh_next.component_mul(z);
        (dx, dh)
    }
}
