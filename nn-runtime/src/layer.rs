//! Parameter blocks of the layers a network is made of, and the layer math shared by the
//! per-sample and the batch code that `network!` generates.
//!
//! Layouts are PyTorch's: a weight is `[out, in]` (`nn.Linear`), a bias `[out]`, a layer norm's
//! gain and bias `[width]`. nalgebra stores matrices column-major; the tensor names and
//! PyTorch shapes of a network's parameters are listed in
//! [`Parameters::TENSORS`](crate::Parameters::TENSORS).

use nalgebra::allocator::Allocator;
use nalgebra::{Const, DefaultAllocator, Dim, Matrix, OMatrix, SMatrix, SVector, Storage, U1};

use crate::Real;
use crate::linalg::split::for_parts;
#[cfg(feature = "alloc")]
use crate::linalg::{Batch, BatchOf, BatchStorage, matmul};

/// Types whose all-zero bit pattern is a valid value: here, blocks of `f32` or `f64`.
///
/// # Safety
/// Implement only for types made solely of [`Real`] scalars (arrays and structs of them, no
/// padding requirements, no references or enums). `network!` implements it for the structs it
/// generates, through [`impl_zeroable!`](crate::__impl_zeroable), which proves its claim.
pub unsafe trait Zeroable: Sized {}

/// `Zeroable` for a network struct `$name<T>` with exactly the fields listed, each of a
/// `Zeroable` type: the impl `network!` asks for, written here so that its expansion holds no
/// `unsafe` (a crate with `#![forbid(unsafe_code)]` can use it).
///
/// Sound whoever invokes it, with whatever struct: the impl requires every listed field type to
/// be `Zeroable`, and a function destructures `$name` with a pattern of exactly those fields
/// (no `..`) and binds each to its listed type, so the build fails unless `$name<T>` is a
/// struct made of those fields and nothing else (whatever attributes or attribute macros its
/// definition carries).
#[doc(hidden)]
#[macro_export]
macro_rules! __impl_zeroable {
    ($name:ident { $($field:ident : $ty:ty),+ $(,)? }) => {
        // SAFETY: `$name<T>` is a struct of exactly these fields (proved below), each
        // `Zeroable` (the bounds), so its all-zero bits are a valid value.
        #[automatically_derived]
        unsafe impl<T: $crate::Real> $crate::Zeroable for $name<T>
        where
            $($ty: $crate::Zeroable),+
        {
        }
        const _: () = {
            #[allow(dead_code)]
            fn exactly_these_fields<T: $crate::Real>(value: $name<T>) {
                let $name { $($field),+ } = value;
                $(let _: $ty = $field;)+
            }
        };
    };
}

/// A dense layer's parameters: `z = W h + b`, weight `[OUT, IN]`, bias `[OUT]`.
///
/// The weight starts on a 64-byte line (as does [`Linear`]'s), so that the columns of a layer
/// whose output width is a multiple of 16 lie on whole lines: the AVX-512 product then loads
/// each 16-float piece from one line (see [`linalg`](crate::linalg)).
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct Dense<T, const IN: usize, const OUT: usize> {
    /// `W`, `[OUT, IN]` = `[out, in]`.
    pub weight: SMatrix<T, OUT, IN>,
    /// `b`, `[OUT]`.
    pub bias: SVector<T, OUT>,
}

/// A linear map without bias: `z = W h`, weight `[OUT, IN]`. Used by `dense(.., bias = false)`
/// and by a residual's learned projection.
#[derive(Clone, Debug, PartialEq)]
#[repr(C, align(64))]
pub struct Linear<T, const IN: usize, const OUT: usize> {
    /// `W`, `[OUT, IN]` = `[out, in]`.
    pub weight: SMatrix<T, OUT, IN>,
}

/// A layer norm's parameters: `y = γ ⊙ (x − μ)/√(σ² + ε) + β` over the `N` features of each
/// sample (PyTorch's `nn.LayerNorm(N)`, biased variance). `ε` is part of the declaration.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerNorm<T, const N: usize> {
    /// The gain `γ`, `[N]` (PyTorch's `weight`, initialized to 1).
    pub weight: SVector<T, N>,
    /// The shift `β`, `[N]` (initialized to 0).
    pub bias: SVector<T, N>,
}

/// Every parameter 0, as [`Parameters::zeros`](crate::Parameters::zeros) leaves them, so that
/// `#[derive(Default)]` on a `network!` struct works. Built on the stack: a large layer wants
/// `Parameters::boxed_zeros` instead.
impl<T: Real, const IN: usize, const OUT: usize> Default for Dense<T, IN, OUT> {
    fn default() -> Self {
        Self {
            weight: SMatrix::zeros(),
            bias: SVector::zeros(),
        }
    }
}

/// Every parameter 0, as for [`Dense`].
impl<T: Real, const IN: usize, const OUT: usize> Default for Linear<T, IN, OUT> {
    fn default() -> Self {
        Self {
            weight: SMatrix::zeros(),
        }
    }
}

/// Gain and shift 0 (not the trained default `γ = 1`), as `Parameters::zeros` leaves them.
impl<T: Real, const N: usize> Default for LayerNorm<T, N> {
    fn default() -> Self {
        Self {
            weight: SVector::zeros(),
            bias: SVector::zeros(),
        }
    }
}

// SAFETY: each is a struct of nalgebra `ArrayStorage`s of a `Real` scalar, i.e. plain floats.
unsafe impl<T: Real, const IN: usize, const OUT: usize> Zeroable for Dense<T, IN, OUT> {}
// SAFETY: as above.
unsafe impl<T: Real, const IN: usize, const OUT: usize> Zeroable for Linear<T, IN, OUT> {}
// SAFETY: as above.
unsafe impl<T: Real, const N: usize> Zeroable for LayerNorm<T, N> {}

/// `W X + b` for a batch: one GEMM, then the bias added to every column (in parts on the
/// threads of the caller's rayon pool when the batch is large; see
/// [`linalg`](crate::linalg#threads)).
#[cfg(feature = "alloc")]
#[inline]
pub fn dense_batch<T: Real, const IN: usize, const OUT: usize, S: BatchStorage<T, IN>>(
    layer: &Dense<T, IN, OUT>,
    x: &BatchOf<T, IN, S>,
) -> Batch<T, OUT> {
    let mut z = matmul(&layer.weight, x);
    let work = z.len();
    for_parts(z.as_mut_slice(), OUT, work, &|_, columns| {
        for column in columns.chunks_exact_mut(OUT) {
            for (z, &b) in column.iter_mut().zip(layer.bias.iter()) {
                *z += b;
            }
        }
    });
    z
}

/// `grad += Σ_columns d`: a bias gradient (or a layer norm's shift) summed over a batch, the
/// columns added in order (split by rows over the threads of the caller's rayon pool when the
/// batch is large: each row's sum is the same on any thread).
#[inline]
pub fn add_column_sums<T: Real, const N: usize, C: Dim>(
    grad: &mut SVector<T, N>,
    delta: &OMatrix<T, Const<N>, C>,
) where
    DefaultAllocator: Allocator<Const<N>, C>,
{
    let delta = delta.as_slice();
    for_parts(grad.as_mut_slice(), 1, delta.len(), &|start, rows| {
        for column in delta.chunks_exact(N) {
            for (g, &d) in rows.iter_mut().zip(&column[start..]) {
                *g += d;
            }
        }
    });
}

/// `x̂ = (x − μ) / √(σ² + ε)` for each column, `σ²` the biased variance (PyTorch's).
#[inline]
pub fn standardize<T: Real, const N: usize, C: Dim, S: Storage<T, Const<N>, C>>(
    x: &Matrix<T, Const<N>, C, S>,
    eps: T,
) -> OMatrix<T, Const<N>, C>
where
    DefaultAllocator: Allocator<Const<N>, C>,
{
    let mut xhat = x.clone_owned();
    for mut column in xhat.column_iter_mut() {
        let (mean, rstd) = moments(&column, eps);
        column.apply(|v| *v = (*v - mean) * rstd);
    }
    xhat
}

/// The backward pass of [`standardize`]: from `dx̂`, the gradient at its output, returns
/// `dx = (dx̂ − mean(dx̂) − x̂ · mean(dx̂ ⊙ x̂)) / √(σ² + ε)`, column by column.
///
/// Takes the input `x` (not `x̂`) and recomputes the column moments, so a layer keeps one
/// binding less.
#[inline]
pub fn standardize_backward<T: Real, const N: usize, C: Dim, S: Storage<T, Const<N>, C>>(
    x: &Matrix<T, Const<N>, C, S>,
    dxhat: &OMatrix<T, Const<N>, C>,
    eps: T,
) -> OMatrix<T, Const<N>, C>
where
    DefaultAllocator: Allocator<Const<N>, C>,
{
    let n = T::constant(N as f64);
    let mut dx = dxhat.clone();
    for (mut d, x) in dx.column_iter_mut().zip(x.column_iter()) {
        let (mean, rstd) = moments(&x, eps);
        let mut mean_d = T::zero();
        let mut mean_d_xhat = T::zero();
        for (dv, xv) in d.iter().zip(x.iter()) {
            mean_d += *dv;
            mean_d_xhat += *dv * (*xv - mean) * rstd;
        }
        mean_d /= n;
        mean_d_xhat /= n;
        d.zip_apply(&x, |dv, xv| {
            *dv = (*dv - mean_d - (xv - mean) * rstd * mean_d_xhat) * rstd
        });
    }
    dx
}

/// Mean and reciprocal standard deviation `1/√(σ² + ε)` of one column.
#[inline]
fn moments<T: Real, const N: usize, S: Storage<T, Const<N>>>(
    x: &Matrix<T, Const<N>, U1, S>,
    eps: T,
) -> (T, T) {
    let n = T::constant(N as f64);
    let mean = x.sum() / n;
    let var = x.fold(T::zero(), |acc, v| acc + (v - mean) * (v - mean)) / n;
    (mean, T::one() / (var + eps).sqrt())
}

impl<T: Real, const N: usize> LayerNorm<T, N> {
    /// `γ ⊙ x̂ + β` for each column of `xhat`.
    #[inline]
    pub fn scale_shift<C: Dim>(&self, xhat: &OMatrix<T, Const<N>, C>) -> OMatrix<T, Const<N>, C>
    where
        DefaultAllocator: Allocator<Const<N>, C>,
    {
        let mut z = xhat.clone();
        for mut column in z.column_iter_mut() {
            column.component_mul_assign(&self.weight);
            column += &self.bias;
        }
        z
    }

    /// `dx̂ = γ ⊙ dz` for each column: the gradient through the gain.
    #[inline]
    pub fn scale_backward<C: Dim>(&self, dz: &OMatrix<T, Const<N>, C>) -> OMatrix<T, Const<N>, C>
    where
        DefaultAllocator: Allocator<Const<N>, C>,
    {
        let mut dxhat = dz.clone();
        for mut column in dxhat.column_iter_mut() {
            column.component_mul_assign(&self.weight);
        }
        dxhat
    }

    /// Accumulates `∂L/∂γ += Σ dz ⊙ x̂` and `∂L/∂β += Σ dz` (sums over the columns) into `grad`.
    #[inline]
    pub fn accumulate_grad<C: Dim>(
        grad: &mut Self,
        xhat: &OMatrix<T, Const<N>, C>,
        dz: &OMatrix<T, Const<N>, C>,
    ) where
        DefaultAllocator: Allocator<Const<N>, C>,
    {
        for (x, d) in xhat.column_iter().zip(dz.column_iter()) {
            for i in 0..N {
                grad.weight[i] += x[i] * d[i];
                grad.bias[i] += d[i];
            }
        }
    }

    /// A plain SGD step on `γ` and `β` from one sample: `γ −= η dz ⊙ x̂`, `β −= η dz` (call
    /// after [`LayerNorm::scale_backward`], which needs the `γ` from before the step).
    #[inline]
    pub fn descend(&mut self, xhat: &SVector<T, N>, dz: &SVector<T, N>, lr: T) {
        for i in 0..N {
            self.weight[i] -= lr * xhat[i] * dz[i];
            self.bias[i] -= lr * dz[i];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{Matrix4x2, Vector4};

    #[test]
    fn standardize_matches_pytorch_semantics() {
        // (x - mean) / sqrt(biased var + 1e-5), evaluated with Python's `math` in float64.
        let xhat = standardize(&Vector4::new(1.0f64, 2.0, 4.0, 7.0), 1e-5);
        let expected = Vector4::new(
            -1.091_088_412_048_635_7,
            -0.654_653_047_229_181_5,
            0.218_217_682_409_727_14,
            1.527_523_776_868_09,
        );
        assert!((xhat - expected).amax() < 1e-14);
        assert!(xhat.sum().abs() < 1e-12);
    }

    #[test]
    fn standardize_backward_matches_central_differences() {
        let x = Matrix4x2::new(0.3, -1.0, 1.2, 0.5, -0.7, 2.0, 0.1, 0.05);
        let dxhat = Matrix4x2::new(0.5, 0.2, -1.0, 0.3, 0.25, -0.6, 0.8, 0.9);
        let eps = 1e-5;
        let analytic = standardize_backward(&x, &dxhat, eps);
        let f = |x: &Matrix4x2<f64>| standardize(x, eps).dot(&dxhat);
        let h = 1e-6;
        for i in 0..4 {
            for j in 0..2 {
                let (mut p, mut m) = (x, x);
                p[(i, j)] += h;
                m[(i, j)] -= h;
                let numeric = (f(&p) - f(&m)) / (2.0 * h);
                assert!((analytic[(i, j)] - numeric).abs() < 1e-8, "({i}, {j})");
            }
        }
    }
}
