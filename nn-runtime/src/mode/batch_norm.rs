//! Batch normalization (PyTorch's `nn.BatchNorm1d` on `[N, C]`): each feature (channel) is
//! normalized over the samples of the batch in training, with running estimates at inference.
//!
//! The kernels take the observations of each channel as the columns of a `[C, columns]`
//! matrix. For a vector input the columns are the samples; for `[C, L]` or `[C, H, W]`
//! samples (`BatchNorm1d`/`2d` over channels) they are the batch × positions, and the same
//! kernels apply to that view unchanged.

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

/// `μ`: the mean of each channel over the columns.
#[cfg(feature = "alloc")]
pub fn batch_mean<T: Real, const N: usize>(x: &Batch<T, N>) -> SVector<T, N> {
    let mut mean = SVector::zeros();
    for column in x.column_iter() {
        mean += column;
    }
    mean / T::constant(x.ncols() as f64)
}

/// `σ²`: the biased variance of each channel over the columns (what normalization uses).
///
/// # Panics
/// If the batch has fewer than 2 columns: a batch norm in training needs a batch to take
/// statistics over (PyTorch refuses such a batch in training too).
#[cfg(feature = "alloc")]
pub fn batch_variance<T: Real, const N: usize>(
    x: &Batch<T, N>,
    mean: &SVector<T, N>,
) -> SVector<T, N> {
    assert!(
        x.ncols() >= 2,
        "batch norm in training needs at least 2 samples per batch, got {}: the batch's \
         variance is undefined; use larger batches",
        x.ncols()
    );
    let mut var = SVector::zeros();
    for column in x.column_iter() {
        let d = column - mean;
        var += d.component_mul(&d);
    }
    var / T::constant(x.ncols() as f64)
}

/// `x̂ = (x − μ)/√(σ² + ε)`, channel by channel.
#[cfg(feature = "alloc")]
pub fn batch_normalize<T: Real, const N: usize>(
    x: &Batch<T, N>,
    mean: &SVector<T, N>,
    var: &SVector<T, N>,
    eps: T,
) -> Batch<T, N> {
    let rstd = var.map(|v| T::one() / (v + eps).sqrt());
    let mut xhat = x.clone();
    for mut column in xhat.column_iter_mut() {
        column -= mean;
        column.component_mul_assign(&rstd);
    }
    xhat
}

/// The backward pass of [`batch_normalize`] with the batch's own statistics: from `dx̂`,
/// `dx = (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)) / √(σ² + ε)`, the means over the columns
/// (every column's `x̂` depends on every column through `μ` and `σ²`).
#[cfg(feature = "alloc")]
pub fn batch_normalize_backward<T: Real, const N: usize>(
    xhat: &Batch<T, N>,
    dxhat: &Batch<T, N>,
    var: &SVector<T, N>,
    eps: T,
) -> Batch<T, N> {
    let n = T::constant(xhat.ncols() as f64);
    let mut mean_d = SVector::<T, N>::zeros();
    let mut mean_d_xhat = SVector::<T, N>::zeros();
    for (d, x) in dxhat.column_iter().zip(xhat.column_iter()) {
        mean_d += d;
        mean_d_xhat += d.component_mul(&x);
    }
    mean_d /= n;
    mean_d_xhat /= n;
    let rstd = var.map(|v| T::one() / (v + eps).sqrt());
    let mut dx = dxhat.clone();
    for (mut d, x) in dx.column_iter_mut().zip(xhat.column_iter()) {
        d -= &mean_d;
        d -= x.component_mul(&mean_d_xhat);
        d.component_mul_assign(&rstd);
    }
    dx
}

impl<T: Real, const N: usize> BatchNorm<T, N> {
    /// Inference: `γ ⊙ (x − running_mean)/√(running_var + ε) + β` for each column (one
    /// sample or a batch; samples stay independent).
    #[inline]
    pub fn infer<C: nalgebra::Dim, S: nalgebra::Storage<T, nalgebra::Const<N>, C>>(
        &self,
        x: &nalgebra::Matrix<T, nalgebra::Const<N>, C, S>,
        eps: T,
    ) -> nalgebra::OMatrix<T, nalgebra::Const<N>, C>
    where
        nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<nalgebra::Const<N>, C>,
    {
        let (scale, shift) = self.inference_affine(eps);
        let mut z = x.clone_owned();
        for mut column in z.column_iter_mut() {
            column.component_mul_assign(&scale);
            column += &shift;
        }
        z
    }

    /// The backward of [`infer`](Self::infer) for each column: `dx = dz ⊙ γ/√(running_var + ε)`,
    /// the gain of the affine map (the running statistics are constants at inference).
    #[inline]
    pub fn infer_backward<C: nalgebra::Dim, S: nalgebra::Storage<T, nalgebra::Const<N>, C>>(
        &self,
        dz: &nalgebra::Matrix<T, nalgebra::Const<N>, C, S>,
        eps: T,
    ) -> nalgebra::OMatrix<T, nalgebra::Const<N>, C>
    where
        nalgebra::DefaultAllocator: nalgebra::allocator::Allocator<nalgebra::Const<N>, C>,
    {
        let (scale, _) = self.inference_affine(eps);
        let mut dx = dz.clone_owned();
        for mut column in dx.column_iter_mut() {
            column.component_mul_assign(&scale);
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

    /// Training: `γ ⊙ x̂ + β` for each column.
    #[cfg(feature = "alloc")]
    pub fn scale_shift(&self, xhat: &Batch<T, N>) -> Batch<T, N> {
        let mut z = xhat.clone();
        for mut column in z.column_iter_mut() {
            column.component_mul_assign(&self.weight);
            column += &self.bias;
        }
        z
    }

    /// `dx̂ = γ ⊙ dz` for each column: the gradient through the gain.
    #[cfg(feature = "alloc")]
    pub fn scale_backward(&self, dz: &Batch<T, N>) -> Batch<T, N> {
        let mut dxhat = dz.clone();
        for mut column in dxhat.column_iter_mut() {
            column.component_mul_assign(&self.weight);
        }
        dxhat
    }

    /// Accumulates `∂L/∂γ += Σ dz ⊙ x̂` and `∂L/∂β += Σ dz` (sums over the columns) into
    /// `grad`; its buffers are left alone.
    #[cfg(feature = "alloc")]
    pub fn accumulate_grad(grad: &mut Self, xhat: &Batch<T, N>, dz: &Batch<T, N>) {
        for (x, d) in xhat.column_iter().zip(dz.column_iter()) {
            grad.weight += d.component_mul(&x);
            grad.bias += d;
        }
    }

    /// Moves the running estimates towards a batch's statistics, as PyTorch does:
    /// `running = (1 − momentum) running + momentum batch`, with the batch variance made
    /// unbiased (`σ² n/(n − 1)`) for the running estimate.
    ///
    /// `columns` is at least 2 ([`batch_variance`] refused the batch otherwise).
    pub fn update_running(
        &mut self,
        mean: &SVector<T, N>,
        var: &SVector<T, N>,
        columns: usize,
        momentum: T,
    ) {
        let n = T::constant(columns as f64);
        let unbiased = var * (n / (n - T::one()));
        let keep = T::one() - momentum;
        self.running_mean = self.running_mean * keep + mean * momentum;
        self.running_var = self.running_var * keep + unbiased * momentum;
    }
}
