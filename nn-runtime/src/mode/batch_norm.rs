//! Batch normalization (PyTorch's `nn.BatchNorm1d` on `[N, C]` and `[N, C, L]`,
//! `nn.BatchNorm2d` on `[N, C, H, W]`): each channel is normalized over the batch (and the
//! positions of a feature map) in training, with running estimates at inference.
//!
//! The kernels take a batch of `M` rows, one sample per column, holding `C` channels one
//! after the other (C×L or C×H×W order, as PyTorch lays a sample out): channel `c` is rows
//! `c·P .. (c + 1)·P`, `P = M/C` positions (`P = 1` for a vector). Each channel's
//! statistics run over its `columns × P` values.

use nalgebra::SVector;

use crate::Real;
use crate::layer::Zeroable;
#[cfg(feature = "alloc")]
use crate::linalg::Batch;

/// A batch norm's parameters and buffers over `N` channels:
/// `y = γ ⊙ (x − μ)/√(σ² + ε) + β`, with `μ`, `σ²` the batch's statistics in training and
/// the running estimates at inference. `ε` and the momentum are part of the declaration.
///
/// Tensor names as PyTorch's: `weight`, `bias` (trained), `running_mean`, `running_var`
/// (buffers: saved, loaded and embedded, updated by training, never by an optimizer).
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm<T, const N: usize> {
    /// The gain `γ`, `[N]` (initialized to 1).
    pub weight: SVector<T, N>,
    /// The shift `β`, `[N]` (initialized to 0).
    pub bias: SVector<T, N>,
    /// The running mean, `[N]` (initialized to 0).
    pub running_mean: SVector<T, N>,
    /// The running (unbiased) variance, `[N]` (initialized to 1).
    pub running_var: SVector<T, N>,
}

/// Everything 0, as [`Parameters::zeros`](crate::Parameters::zeros) leaves it (not PyTorch's
/// fresh layer: `Init` gives `γ = 1` and `running_var = 1`).
impl<T: Real, const N: usize> Default for BatchNorm<T, N> {
    fn default() -> Self {
        Self {
            weight: SVector::zeros(),
            bias: SVector::zeros(),
            running_mean: SVector::zeros(),
            running_var: SVector::zeros(),
        }
    }
}

// SAFETY: a struct of nalgebra `ArrayStorage`s of a `Real` scalar, i.e. plain floats.
unsafe impl<T: Real, const N: usize> Zeroable for BatchNorm<T, N> {}

/// Positions per channel when `M` rows hold `C` channels (`M = C·positions`, C×… order:
/// channel `c` is rows `c·positions .. (c + 1)·positions` of each column).
#[inline]
const fn positions<const C: usize, const M: usize>() -> usize {
    const {
        assert!(
            C > 0 && M.is_multiple_of(C),
            "a batch norm's rows are its channels times the positions"
        )
    };
    M / C
}

/// The scalars of `x` channel by channel: `(channel, values)` for each column in turn.
#[cfg(feature = "alloc")]
fn channel_chunks<T: Real, const C: usize, const M: usize>(
    x: &Batch<T, M>,
) -> impl Iterator<Item = (usize, &[T])> {
    let p = positions::<C, M>();
    x.as_slice()
        .chunks_exact(p)
        .enumerate()
        .map(|(k, values)| (k % C, values))
}

/// `μ`: the mean of each channel over the columns (and the positions of a feature map).
#[cfg(feature = "alloc")]
pub fn batch_mean<T: Real, const C: usize, const M: usize>(x: &Batch<T, M>) -> SVector<T, C> {
    let mut mean = SVector::zeros();
    for (c, values) in channel_chunks::<T, C, M>(x) {
        for &v in values {
            mean[c] += v;
        }
    }
    mean / T::constant((x.ncols() * positions::<C, M>()) as f64)
}

/// `σ²`: the biased variance of each channel over the columns (and positions): what
/// normalization uses.
///
/// # Panics
/// If a channel has fewer than 2 values (a vector batch of one sample): a batch norm in
/// training needs a batch to take statistics over (PyTorch refuses such a batch too).
#[cfg(feature = "alloc")]
pub fn batch_variance<T: Real, const C: usize, const M: usize>(
    x: &Batch<T, M>,
    mean: &SVector<T, C>,
) -> SVector<T, C> {
    let count = x.ncols() * positions::<C, M>();
    assert!(
        count >= 2,
        "batch norm in training needs at least 2 samples per batch, got {}: the batch's \
         variance is undefined; use larger batches",
        x.ncols()
    );
    let mut var = SVector::zeros();
    for (c, values) in channel_chunks::<T, C, M>(x) {
        for &v in values {
            let d = v - mean[c];
            var[c] += d * d;
        }
    }
    var / T::constant(count as f64)
}

/// `x̂ = (x − μ)/√(σ² + ε)`, channel by channel.
#[cfg(feature = "alloc")]
pub fn batch_normalize<T: Real, const C: usize, const M: usize>(
    x: &Batch<T, M>,
    mean: &SVector<T, C>,
    var: &SVector<T, C>,
    eps: T,
) -> Batch<T, M> {
    let rstd = var.map(|v| T::one() / (v + eps).sqrt());
    let mut xhat = x.clone();
    let p = positions::<C, M>();
    for (k, values) in xhat.as_mut_slice().chunks_exact_mut(p).enumerate() {
        let c = k % C;
        for v in values {
            *v = (*v - mean[c]) * rstd[c];
        }
    }
    xhat
}

/// The backward pass of [`batch_normalize`] with the batch's own statistics: from `dx̂`,
/// `dx = (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)) / √(σ² + ε)`, the means per channel over the
/// columns and positions (every value of a channel depends on all of them through `μ`, `σ²`).
#[cfg(feature = "alloc")]
pub fn batch_normalize_backward<T: Real, const C: usize, const M: usize>(
    xhat: &Batch<T, M>,
    dxhat: &Batch<T, M>,
    var: &SVector<T, C>,
    eps: T,
) -> Batch<T, M> {
    let n = T::constant((xhat.ncols() * positions::<C, M>()) as f64);
    let mut mean_d = SVector::<T, C>::zeros();
    let mut mean_d_xhat = SVector::<T, C>::zeros();
    for ((c, d), (_, x)) in channel_chunks::<T, C, M>(dxhat).zip(channel_chunks::<T, C, M>(xhat)) {
        for (&d, &x) in d.iter().zip(x) {
            mean_d[c] += d;
            mean_d_xhat[c] += d * x;
        }
    }
    mean_d /= n;
    mean_d_xhat /= n;
    let rstd = var.map(|v| T::one() / (v + eps).sqrt());
    let mut dx = dxhat.clone();
    let p = positions::<C, M>();
    let chunks = dx.as_mut_slice().chunks_exact_mut(p);
    for ((k, d), (_, x)) in chunks.enumerate().zip(channel_chunks::<T, C, M>(xhat)) {
        let c = k % C;
        for (d, &x) in d.iter_mut().zip(x) {
            *d = (*d - mean_d[c] - x * mean_d_xhat[c]) * rstd[c];
        }
    }
    dx
}

impl<T: Real, const N: usize> BatchNorm<T, N> {
    /// Inference: `γ ⊙ (x − running_mean)/√(running_var + ε) + β` per channel, for each
    /// column (one sample or a batch; samples stay independent). A column of `M` rows holds
    /// the `N` channels one after the other (`M = N` for a vector, `N·L` or `N·H·W` for a
    /// feature map).
    #[inline]
    pub fn infer<const M: usize, C: nalgebra::Dim, S: nalgebra::Storage<T, nalgebra::Const<M>, C>>(
        &self,
        x: &nalgebra::Matrix<T, nalgebra::Const<M>, C, S>,
        eps: T,
    ) -> nalgebra::OMatrix<T, nalgebra::Const<M>, C>
    where
        nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<nalgebra::Const<M>, C>,
    {
        let (scale, shift) = self.inference_affine(eps);
        let mut z = x.clone_owned();
        let p = positions::<N, M>();
        for (k, values) in z.as_mut_slice().chunks_exact_mut(p).enumerate() {
            let c = k % N;
            for v in values {
                *v = *v * scale[c] + shift[c];
            }
        }
        z
    }

    /// The backward of [`infer`](Self::infer) for each column: `dx = dz ⊙ γ/√(running_var + ε)`
    /// per channel (over its positions), the gain of the affine map (the running statistics are
    /// constants at inference).
    #[inline]
    pub fn infer_backward<
        const M: usize,
        C: nalgebra::Dim,
        S: nalgebra::Storage<T, nalgebra::Const<M>, C>,
    >(
        &self,
        dz: &nalgebra::Matrix<T, nalgebra::Const<M>, C, S>,
        eps: T,
    ) -> nalgebra::OMatrix<T, nalgebra::Const<M>, C>
    where
        nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<nalgebra::Const<M>, C>,
    {
        let (scale, _) = self.inference_affine(eps);
        let mut dx = dz.clone_owned();
        let p = positions::<N, M>();
        for (k, values) in dx.as_mut_slice().chunks_exact_mut(p).enumerate() {
            let c = k % N;
            for v in values {
                *v *= scale[c];
            }
        }
        dx
    }

    /// Inference as one affine map per channel: `scale = γ/√(running_var + ε)`,
    /// `shift = β − scale ⊙ running_mean`.
    fn inference_affine(&self, eps: T) -> (SVector<T, N>, SVector<T, N>) {
        let scale = self
            .weight
            .zip_map(&self.running_var, |g, v| g / (v + eps).sqrt());
        let shift = self.bias - scale.component_mul(&self.running_mean);
        (scale, shift)
    }

    /// Training: `γ ⊙ x̂ + β` per channel, for each column.
    #[cfg(feature = "alloc")]
    pub fn scale_shift<const M: usize>(&self, xhat: &Batch<T, M>) -> Batch<T, M> {
        let mut z = xhat.clone();
        let p = positions::<N, M>();
        for (k, values) in z.as_mut_slice().chunks_exact_mut(p).enumerate() {
            let c = k % N;
            for v in values {
                *v = *v * self.weight[c] + self.bias[c];
            }
        }
        z
    }

    /// `dx̂ = γ ⊙ dz` per channel, for each column: the gradient through the gain.
    #[cfg(feature = "alloc")]
    pub fn scale_backward<const M: usize>(&self, dz: &Batch<T, M>) -> Batch<T, M> {
        let mut dxhat = dz.clone();
        let p = positions::<N, M>();
        for (k, values) in dxhat.as_mut_slice().chunks_exact_mut(p).enumerate() {
            let c = k % N;
            for v in values {
                *v *= self.weight[c];
            }
        }
        dxhat
    }

    /// Accumulates `∂L/∂γ += Σ dz ⊙ x̂` and `∂L/∂β += Σ dz` (sums per channel over the
    /// columns and positions) into `grad`; its buffers are left alone.
    #[cfg(feature = "alloc")]
    pub fn accumulate_grad<const M: usize>(grad: &mut Self, xhat: &Batch<T, M>, dz: &Batch<T, M>) {
        let chunks = channel_chunks::<T, N, M>(xhat).zip(channel_chunks::<T, N, M>(dz));
        for ((c, x), (_, d)) in chunks {
            for (&x, &d) in x.iter().zip(d) {
                grad.weight[c] += d * x;
                grad.bias[c] += d;
            }
        }
    }

    /// Moves the running estimates towards a batch's statistics, as PyTorch does:
    /// `running = (1 − momentum) running + momentum batch`, with the batch variance made
    /// unbiased (`σ² n/(n − 1)`) for the running estimate, `n` the values per channel
    /// (the columns, times the positions of a feature map).
    ///
    /// `count` is at least 2 ([`batch_variance`] refused the batch otherwise).
    pub fn update_running(
        &mut self,
        mean: &SVector<T, N>,
        var: &SVector<T, N>,
        count: usize,
        momentum: T,
    ) {
        let n = T::constant(count as f64);
        let unbiased = var * (n / (n - T::one()));
        let keep = T::one() - momentum;
        self.running_mean = self.running_mean * keep + mean * momentum;
        self.running_var = self.running_var * keep + unbiased * momentum;
    }
}
