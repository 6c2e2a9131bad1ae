//! Causal 1-D convolution over a sequence: `conv1d(C_out, kernel = K, dilation = D, causal)` in
//! a network whose input is `seq(F)`.
//!
//! The output at step `t` sees the inputs `t − (K−1)·D, …, t − D, t`, zeros before the start:
//!
//! ```text
//! z_t[o] = b[o] + Σ_{i, k} W[o, i, k] · x_{t − (K−1−k)·D}[i]        (x_s = 0 for s < 0)
//! ```
//!
//! which is PyTorch's `nn.Conv1d(C_in, C_out, K, dilation=D, padding=(K−1)·D)` with the last
//! `(K−1)·D` outputs dropped (left padding only). The parameters are the convolution's
//! ([`Conv`]): weight `[C_out, C_in, K]`, bias `[C_out]`, the weight stored as nalgebra's
//! `[C_in·K, C_out]` column-major (the same bytes), so one step is one product with the
//! *patch* `p_t[i·K + k] = x_{t − (K−1−k)·D}[i]`: `z_t = Wᵀ p_t + b`.
//!
//! Streaming keeps the last `N = (K−1)·D` inputs of the layer in a fixed-size ring buffer
//! ([`CausalHistory`]); a whole sequence may start from such a history (a chunk of a long
//! stream) or from zeros.

use alloc::vec::Vec;

use nalgebra::{SMatrix, SVector};

use crate::Real;
use crate::conv::{Conv, ConvNoBias};
use crate::linalg::{Batch, add_mul_tr, add_outer, matmul, matvec, tr_matmul, tr_matvec};

/// A convolution's parameters as a causal convolution reads them: the weight `[C_in·K, C_out]`
/// (PyTorch's `[C_out, C_in, K]`, same bytes) and the bias, if the layer has one.
pub trait ConvParameters<T: Real, const FAN_IN: usize, const OUT: usize> {
    /// `W`, column `o` the kernel of output channel `o` in `[in, k]` order.
    fn weight(&self) -> &SMatrix<T, FAN_IN, OUT>;
    /// `b`, or `None` for `bias = false`.
    fn bias(&self) -> Option<&SVector<T, OUT>>;
    /// Both, to add gradients into.
    fn parts_mut(&mut self) -> (&mut SMatrix<T, FAN_IN, OUT>, Option<&mut SVector<T, OUT>>);
}

impl<T: Real, const FAN_IN: usize, const OUT: usize> ConvParameters<T, FAN_IN, OUT>
    for Conv<T, FAN_IN, OUT>
{
    #[inline]
    fn weight(&self) -> &SMatrix<T, FAN_IN, OUT> {
        &self.weight
    }

    #[inline]
    fn bias(&self) -> Option<&SVector<T, OUT>> {
        Some(&self.bias)
    }

    #[inline]
    fn parts_mut(&mut self) -> (&mut SMatrix<T, FAN_IN, OUT>, Option<&mut SVector<T, OUT>>) {
        (&mut self.weight, Some(&mut self.bias))
    }
}

impl<T: Real, const FAN_IN: usize, const OUT: usize> ConvParameters<T, FAN_IN, OUT>
    for ConvNoBias<T, FAN_IN, OUT>
{
    #[inline]
    fn weight(&self) -> &SMatrix<T, FAN_IN, OUT> {
        &self.weight
    }

    #[inline]
    fn bias(&self) -> Option<&SVector<T, OUT>> {
        None
    }

    #[inline]
    fn parts_mut(&mut self) -> (&mut SMatrix<T, FAN_IN, OUT>, Option<&mut SVector<T, OUT>>) {
        (&mut self.weight, None)
    }
}

/// The last `N` inputs (`C` features each) a causal convolution has seen, `N = (K−1)·D`: a ring
/// buffer of static size, all zeros before the first step (the convolution's left padding).
#[derive(Clone, Debug, PartialEq)]
pub struct CausalHistory<T, const C: usize, const N: usize> {
    /// Column `j` holds one past input; `next` is the oldest, overwritten by the next push.
    past: SMatrix<T, C, N>,
    next: usize,
}

impl<T: Real, const C: usize, const N: usize> Default for CausalHistory<T, C, N> {
    fn default() -> Self {
        Self {
            past: SMatrix::zeros(),
            next: 0,
        }
    }
}

impl<T: Real, const C: usize, const N: usize> CausalHistory<T, C, N> {
    /// The input `lag` steps before the next one (`1 ≤ lag ≤ N`): the last pushed is `lag = 1`.
    #[inline]
    pub fn ago(&self, lag: usize) -> SVector<T, C> {
        debug_assert!((1..=N).contains(&lag));
        self.past.column((self.next + N - lag) % N).into_owned()
    }

    /// [`Self::ago`] as a slice of the buffer.
    #[inline]
    fn ago_slice(&self, lag: usize) -> &[T] {
        let column = (self.next + N - lag) % N;
        &self.past.as_slice()[column * C..(column + 1) * C]
    }

    /// Remembers `x` as the newest input, forgetting the oldest.
    #[inline]
    pub fn push(&mut self, x: &SVector<T, C>) {
        if N == 0 {
            return;
        }
        self.past.set_column(self.next, x);
        self.next = (self.next + 1) % N;
    }

    /// Remembers every step of `xs`, in order: the history `step` would leave after the same
    /// steps (a chunk of a stream), ring position included.
    pub fn push_all(&mut self, xs: &[SVector<T, C>]) {
        for x in xs {
            self.push(x);
        }
    }
}

/// The taps of a causal convolution with kernel `KERNEL` and dilation `DILATION`: its forward
/// and backward passes per step, over a sequence and over a batch of equal-length sequences.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Causal<const KERNEL: usize, const DILATION: usize>;

impl<const K: usize, const D: usize> Causal<K, D> {
    /// How many steps back tap `k` reads: `(K−1−k)·D`.
    #[inline]
    const fn lag(k: usize) -> usize {
        (K - 1 - k) * D
    }

    /// Proves the weight's rows agree with the kernel (at compile time).
    const fn check_taps<const C: usize, const FAN_IN: usize>() {
        assert!(
            K >= 1 && D >= 1,
            "a causal convolution has kernel and dilation of at least 1"
        );
        assert!(FAN_IN == C * K, "the weight has C_in·K rows");
    }

    /// Proves the sizes agree with the kernel and dilation (at compile time).
    const fn check<const C: usize, const FAN_IN: usize, const N: usize>() {
        Self::check_taps::<C, FAN_IN>();
        assert!(N == (K - 1) * D, "the history holds (K−1)·D steps");
    }

    /// The patch `p[i·K + k] = x_{t − lag(k)}[i]`, `input(lag)` giving the input `lag` steps back.
    #[inline]
    fn patch<T: Real, const C: usize, const FAN_IN: usize>(
        input: impl Fn(usize) -> Option<SVector<T, C>>,
    ) -> SVector<T, FAN_IN> {
        let mut patch = SVector::<T, FAN_IN>::zeros();
        for k in 0..K {
            if let Some(x) = input(Self::lag(k)) {
                for i in 0..C {
                    patch[i * K + k] = x[i];
                }
            }
        }
        patch
    }

    /// `z = Wᵀ p + b`.
    #[inline]
    fn product<T: Real, P, const FAN_IN: usize, const OUT: usize>(
        params: &P,
        patch: &SVector<T, FAN_IN>,
    ) -> SVector<T, OUT>
    where
        P: ConvParameters<T, FAN_IN, OUT>,
    {
        let z = tr_matvec(params.weight(), patch);
        match params.bias() {
            Some(bias) => z + bias,
            None => z,
        }
    }

    /// One streaming step: `z_t` from `x` and the history, then `x` joins the history.
    /// Allocates nothing.
    #[inline]
    pub fn step<T: Real, P, const C: usize, const FAN_IN: usize, const OUT: usize, const N: usize>(
        params: &P,
        x: &SVector<T, C>,
        history: &mut CausalHistory<T, C, N>,
    ) -> SVector<T, OUT>
    where
        P: ConvParameters<T, FAN_IN, OUT>,
    {
        const { Self::check::<C, FAN_IN, N>() };
        // The patch straight from the history's columns (no copies of whole steps).
        let mut patch = SVector::<T, FAN_IN>::zeros();
        for k in 0..K {
            let lag = Self::lag(k);
            let tap: &[T] = if lag == 0 {
                x.as_slice()
            } else {
                history.ago_slice(lag)
            };
            for (p, &v) in patch.as_mut_slice().chunks_exact_mut(K).zip(tap) {
                p[k] = v;
            }
        }
        history.push(x);
        Self::product(params, &patch)
    }

    /// The input `lag` steps before step `t` of `xs`, reaching into `initial` before the start.
    #[inline]
    fn at<T: Real, const C: usize, const N: usize>(
        xs: &[SVector<T, C>],
        initial: &CausalHistory<T, C, N>,
        t: usize,
        lag: usize,
    ) -> SVector<T, C> {
        if lag <= t {
            xs[t - lag]
        } else {
            initial.ago(lag - t)
        }
    }

    /// `z_t` for every step of `xs`, the steps before the start read from `initial` (zeros for
    /// a whole sequence, a stream's history for a chunk).
    pub fn forward<
        T: Real,
        P,
        const C: usize,
        const FAN_IN: usize,
        const OUT: usize,
        const N: usize,
    >(
        params: &P,
        xs: &[SVector<T, C>],
        initial: &CausalHistory<T, C, N>,
    ) -> Vec<SVector<T, OUT>>
    where
        P: ConvParameters<T, FAN_IN, OUT>,
    {
        const { Self::check::<C, FAN_IN, N>() };
        (0..xs.len())
            .map(|t| {
                let patch = Self::patch::<T, C, FAN_IN>(|lag| Some(Self::at(xs, initial, t, lag)));
                Self::product(params, &patch)
            })
            .collect()
    }

    /// Backward over a sequence: given `dzs[t] = ∂L/∂z_t`, adds `∂L/∂W = Σ_t p_t dz_tᵀ` and
    /// `∂L/∂b = Σ_t dz_t` into `grad` and returns `∂L/∂x_t` for every step (`Σ` over the taps
    /// that read it). The gradient into `initial` is cut (a chunk's history is a constant).
    ///
    /// # Panics
    /// If `dzs` does not have one entry per step.
    pub fn backward<
        T: Real,
        P,
        const C: usize,
        const FAN_IN: usize,
        const OUT: usize,
        const N: usize,
    >(
        params: &P,
        xs: &[SVector<T, C>],
        initial: &CausalHistory<T, C, N>,
        dzs: &[SVector<T, OUT>],
        grad: &mut P,
    ) -> Vec<SVector<T, C>>
    where
        P: ConvParameters<T, FAN_IN, OUT>,
    {
        const { Self::check::<C, FAN_IN, N>() };
        assert_eq!(xs.len(), dzs.len(), "one output gradient per step");
        let (grad_weight, mut grad_bias) = grad.parts_mut();
        let mut dxs = alloc::vec![SVector::<T, C>::zeros(); xs.len()];
        for (t, dz) in dzs.iter().enumerate() {
            let patch = Self::patch::<T, C, FAN_IN>(|lag| Some(Self::at(xs, initial, t, lag)));
            add_outer(grad_weight, &patch, dz); // ∂W += p dzᵀ
            if let Some(grad_bias) = grad_bias.as_deref_mut() {
                *grad_bias += dz;
            }
            let dpatch: SVector<T, FAN_IN> = matvec(params.weight(), dz); // ∂p = W dz
            for k in (0..K).filter(|&k| Self::lag(k) <= t) {
                let dx = &mut dxs[t - Self::lag(k)];
                for i in 0..C {
                    dx[i] += dpatch[i * K + k];
                }
            }
        }
        dxs
    }

    /// The patches of step `t` of a batch (`FAN_IN` rows, one column per sample), zeros before
    /// the start.
    fn patch_batch<T: Real, const C: usize, const FAN_IN: usize>(
        xs: &[Batch<T, C>],
        t: usize,
    ) -> Batch<T, FAN_IN> {
        let columns = xs[t].ncols();
        let mut patch = Batch::<T, FAN_IN>::zeros(columns);
        for k in (0..K).filter(|&k| Self::lag(k) <= t) {
            let x = &xs[t - Self::lag(k)];
            for s in 0..columns {
                for i in 0..C {
                    patch[(i * K + k, s)] = x[(i, s)];
                }
            }
        }
        patch
    }

    /// `Z_t = Wᵀ P_t + b` for every step of a batch of equal-length sequences (`xs[t]`: step
    /// `t`, one column per sample), from zeros before the start; one GEMM per step.
    pub fn forward_batch<T: Real, P, const C: usize, const FAN_IN: usize, const OUT: usize>(
        params: &P,
        xs: &[Batch<T, C>],
    ) -> Vec<Batch<T, OUT>>
    where
        P: ConvParameters<T, FAN_IN, OUT>,
    {
        const { Self::check_taps::<C, FAN_IN>() };
        (0..xs.len())
            .map(|t| {
                let patch = Self::patch_batch::<T, C, FAN_IN>(xs, t);
                let mut z = tr_matmul(params.weight(), &patch);
                if let Some(bias) = params.bias() {
                    for mut column in z.column_iter_mut() {
                        column += bias;
                    }
                }
                z
            })
            .collect()
    }

    /// Backward over a batch: adds `Σ_t P_t dZ_tᵀ` and the column sums of `dZ_t` into `grad`
    /// and returns `∂L/∂X_t` for every step.
    ///
    /// # Panics
    /// If `dzs` does not have one entry per step.
    pub fn backward_batch<T: Real, P, const C: usize, const FAN_IN: usize, const OUT: usize>(
        params: &P,
        xs: &[Batch<T, C>],
        dzs: &[Batch<T, OUT>],
        grad: &mut P,
    ) -> Vec<Batch<T, C>>
    where
        P: ConvParameters<T, FAN_IN, OUT>,
    {
        const { Self::check_taps::<C, FAN_IN>() };
        assert_eq!(xs.len(), dzs.len(), "one output gradient per step");
        let (grad_weight, mut grad_bias) = grad.parts_mut();
        let mut dxs: Vec<Batch<T, C>> = xs.iter().map(|x| Batch::zeros(x.ncols())).collect();
        for (t, dz) in dzs.iter().enumerate() {
            let patch = Self::patch_batch::<T, C, FAN_IN>(xs, t);
            add_mul_tr(grad_weight, &patch, dz); // ∂W += P dZᵀ
            if let Some(grad_bias) = grad_bias.as_deref_mut() {
                crate::layer::add_column_sums(grad_bias, dz);
            }
            let dpatch: Batch<T, FAN_IN> = matmul(params.weight(), dz); // ∂P = W dZ
            for k in (0..K).filter(|&k| Self::lag(k) <= t) {
                let dx = &mut dxs[t - Self::lag(k)];
                for s in 0..dz.ncols() {
                    for i in 0..C {
                        dx[(i, s)] += dpatch[(i * K + k, s)];
                    }
                }
            }
        }
        dxs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ring keeps the last `N` pushes, newest at lag 1, across wrap-arounds.
    #[test]
    fn history_remembers_the_last_n_inputs() {
        let mut history = CausalHistory::<f64, 2, 3>::default();
        assert_eq!(history.ago(3), SVector::<f64, 2>::zeros());
        for t in 0..7 {
            history.push(&SVector::from([t as f64, -(t as f64)]));
        }
        assert_eq!(history.ago(1), SVector::from([6.0, -6.0]));
        assert_eq!(history.ago(2), SVector::from([5.0, -5.0]));
        assert_eq!(history.ago(3), SVector::from([4.0, -4.0]));
    }

    /// One output channel, one input channel, kernel 3, dilation 2, by hand:
    /// `z_t = b + w0 x_{t−4} + w1 x_{t−2} + w2 x_t`, zeros before the start; streaming gives
    /// the same, and `backward` gives `∂z/∂x` summed over the taps.
    #[test]
    fn a_dilated_kernel_reads_the_right_steps() {
        let conv = Conv::<f64, 3, 1> {
            weight: SMatrix::from([[1.0, 10.0, 100.0]]),
            bias: SVector::from([0.5]),
        };
        let xs: Vec<SVector<f64, 1>> = (1..=6).map(|t| SVector::from([t as f64])).collect();
        let zs = Causal::<3, 2>::forward(&conv, &xs, &CausalHistory::<f64, 1, 4>::default());
        let expected = [100.5, 200.5, 310.5, 420.5, 531.5, 642.5];
        let got: Vec<f64> = zs.iter().map(|z| z[0]).collect();
        assert_eq!(got, expected);
        let mut history = CausalHistory::<f64, 1, 4>::default();
        let streamed: Vec<f64> = xs
            .iter()
            .map(|x| Causal::<3, 2>::step(&conv, x, &mut history)[0])
            .collect();
        assert_eq!(streamed, expected);
        // dL/dz_t = 1 for every t: x_s feeds z_s (w2), z_{s+2} (w1), z_{s+4} (w0).
        let ones = alloc::vec![SVector::from([1.0]); 6];
        let mut grad = Conv::<f64, 3, 1>::default();
        let dxs = Causal::<3, 2>::backward(
            &conv,
            &xs,
            &CausalHistory::<f64, 1, 4>::default(),
            &ones,
            &mut grad,
        );
        let dx: Vec<f64> = dxs.iter().map(|d| d[0]).collect();
        assert_eq!(dx, [111.0, 111.0, 110.0, 110.0, 100.0, 100.0]);
        // dL/dw_k = Σ_t x_{t − lag(k)}: lags 4, 2, 0.
        assert_eq!(
            grad.weight.as_slice(),
            [1.0 + 2.0, 1.0 + 2.0 + 3.0 + 4.0, 21.0]
        );
        assert_eq!(grad.bias[0], 6.0);
    }
}
