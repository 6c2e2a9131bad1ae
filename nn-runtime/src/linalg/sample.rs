//! Products for one sample (`SVector` columns): `W x`, `Wᵀ d`, `G += d xᵀ` and the fused SGD
//! forms, on the loops of [`simd`](super::simd).

use core::mem::MaybeUninit;

use nalgebra::{SMatrix, SVector};

use super::simd as kernels;
use crate::Real;

/// An activation that [`affine_fused`] applies as it stores `z`, in the same pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fused {
    /// `h = z`.
    Identity,
    /// `h = max(z, 0)` (`0` where `z` is NaN, as [`relu`](crate::activation::relu)).
    Relu,
}

/// A dense layer's forward pass for one sample in one pass over `W`, written into `out`:
/// `(z, h)` with `z = W x + b` (no `b` if `None`) and `h = σ(z)`, `σ` the [`Fused`]
/// activation. Returns whether it ran; where there is no such kernel it writes nothing and
/// returns `false`.
///
/// There is one for `f32` on a CPU with AVX-512F, from 256 weights: the product's last step
/// adds `b`, stores `z` and stores `σ(z)` as `h`, without reading `z` back (the unfused form
/// is three passes: [`matvec`], the bias, the activation). Its `z` is the unfused `z` bit for
/// bit (the same sums, then `+ b`). Elsewhere (`f64`, dual numbers, smaller layers, other
/// CPUs) it returns `false` at no cost, and the caller computes the layer unfused. `out` is
/// written in place, so that a caller returning it needs no copy.
#[inline]
pub fn affine_fused<T: Real, const R: usize, const K: usize>(
    weight: &SMatrix<T, R, K>,
    bias: Option<&SVector<T, R>>,
    x: &SVector<T, K>,
    fused: Fused,
    out: &mut MaybeUninit<(SVector<T, R>, SVector<T, R>)>,
) -> bool {
    type Pair<T, const R: usize> = (SVector<T, R>, SVector<T, R>);
    // The kernel writes `z` then `h` into one buffer of `2 R` scalars: the pair itself, when
    // its fields lie in that order (a constant; otherwise no kernel runs).
    let in_order = core::mem::offset_of!(Pair<T, R>, 0) == 0
        && core::mem::offset_of!(Pair<T, R>, 1) == R * size_of::<T>()
        && size_of::<Pair<T, R>>() == 2 * R * size_of::<T>();
    if !in_order {
        return false;
    }
    // SAFETY: the pair is `2 R` scalars, `z` then `h` (checked above; an `SVector<T, R>` is `R`
    // scalars, see `lanes`), borrowed uniquely as `out` is.
    let both = unsafe {
        core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<MaybeUninit<T>>(), 2 * R)
    };
    let b = bias.map(|b| b.as_slice());
    kernels::affine::<T, R, K>(weight.as_slice(), x.as_slice(), b, both, fused)
}

/// [`affine_fused`] for inference: `h = σ(W x + b)` alone into `out`, no `z` kept. Returns
/// whether it ran (where [`affine_fused`] would); if not, nothing is written. Its `h` is the
/// `h` of [`affine_fused`] bit for bit.
#[inline]
pub fn affine_output<T: Real, const R: usize, const K: usize>(
    weight: &SMatrix<T, R, K>,
    bias: Option<&SVector<T, R>>,
    x: &SVector<T, K>,
    fused: Fused,
    out: &mut MaybeUninit<SVector<T, R>>,
) -> bool {
    let b = bias.map(|b| b.as_slice());
    kernels::affine::<T, R, K>(weight.as_slice(), x.as_slice(), b, lanes(out), fused)
}

/// The `R` elements of an uninitialized `SVector<T, R>`.
#[inline(always)]
fn lanes<T: Real, const R: usize>(v: &mut MaybeUninit<SVector<T, R>>) -> &mut [MaybeUninit<T>] {
    // SAFETY: an `SVector<T, R>` is `R` values of `T` in a row (nalgebra's `Matrix` is
    // `repr(C)` with its `ArrayStorage` first and only zero-sized markers after it, and
    // `ArrayStorage` is `repr(transparent)` over `[[T; R]; 1]`).
    unsafe { core::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<MaybeUninit<T>>(), R) }
}

/// `W x` for one sample: `W` `[R, K]` times `x` `[K]`.
///
/// nalgebra's `&W * x` is one axpy per column of `W`, compiled for the target's baseline
/// (SSE2 on x86-64). Below 256 weights this runs the same math inlined, four columns per pass;
/// from 256 on, with `std` on x86-64, it dispatches at run time (as matrixmultiply chooses its
/// GEMM kernel) to the best the CPU has: for `f32` on a CPU with AVX-512F, a register-blocked
/// kernel that keeps up to 128 outputs in registers over the whole pass through the columns
/// (fewer than 16 rows: the flat kernel of an output layer), compiled for the shape `[R, K]`
/// and writing `W x` without zeroing or reading it first; else the loops compiled for AVX2 +
/// FMA.
#[inline]
pub fn matvec<T: Real, const R: usize, const K: usize>(
    weight: &SMatrix<T, R, K>,
    x: &SVector<T, K>,
) -> SVector<T, R> {
    // On the kernel of `affine_fused` where it runs: `y` written without being zeroed and read.
    let mut z = MaybeUninit::<SVector<T, R>>::uninit();
    if kernels::affine::<T, R, K>(
        weight.as_slice(),
        x.as_slice(),
        None,
        lanes(&mut z),
        Fused::Identity,
    ) {
        // SAFETY: the kernel ran: it wrote every element.
        return unsafe { z.assume_init() };
    }
    let mut y = SVector::<T, R>::zeros();
    kernels::gemv(R * K, weight.as_slice(), x.as_slice(), y.as_mut_slice());
    y
}

/// `y += W x` for one sample: `W` `[R, K]` times `x` `[K]`, added into `y` (so that two products
/// and their biases share one accumulator; see [`matvec`] for the dispatch).
#[inline]
pub fn add_matvec<T: Real, const R: usize, const K: usize>(
    y: &mut SVector<T, R>,
    weight: &SMatrix<T, R, K>,
    x: &SVector<T, K>,
) {
    kernels::gemv(R * K, weight.as_slice(), x.as_slice(), y.as_mut_slice());
}

/// `Wᵀ d` for one sample: the gradient flowing back through a weight `[R, K]`, a dot product
/// per column of `W` (see [`matvec`] for the dispatch).
#[inline]
pub fn tr_matvec<T: Real, const R: usize, const K: usize>(
    weight: &SMatrix<T, R, K>,
    delta: &SVector<T, R>,
) -> SVector<T, K> {
    let mut out = SVector::<T, K>::zeros();
    kernels::tr_gemv(
        R * K,
        weight.as_slice(),
        delta.as_slice(),
        out.as_mut_slice(),
    );
    out
}

/// `G += d xᵀ` for one sample: a weight gradient, an axpy per column of `G` (see [`matvec`]
/// for the dispatch).
#[inline]
pub fn add_outer<T: Real, const R: usize, const K: usize>(
    grad: &mut SMatrix<T, R, K>,
    delta: &SVector<T, R>,
    x: &SVector<T, K>,
) {
    kernels::ger(
        R * K,
        grad.as_mut_slice(),
        delta.as_slice(),
        x.as_slice(),
        T::one(),
    );
}

/// `W −= η d xᵀ`: a plain SGD step on a weight `[R, K]` from one sample's `dz` and input, without
/// materializing the gradient (the first layer of a fused step, which needs no `Wᵀ d`).
#[inline]
pub fn descend_outer<T: Real, const R: usize, const K: usize>(
    weight: &mut SMatrix<T, R, K>,
    delta: &SVector<T, R>,
    x: &SVector<T, K>,
    lr: T,
) {
    kernels::ger(
        R * K,
        weight.as_mut_slice(),
        delta.as_slice(),
        x.as_slice(),
        -lr,
    );
}

/// `Wᵀ d`, then `W −= η d xᵀ`, in one pass over `W`: each column gives its dot product with
/// `d` and then takes its update, so the gradient flowing back sees the weights from before
/// the step, as in [`tr_matvec`] followed by an SGD step, with `W` read once instead of three
/// times.
#[inline]
pub fn tr_matvec_descend<T: Real, const R: usize, const K: usize>(
    weight: &mut SMatrix<T, R, K>,
    delta: &SVector<T, R>,
    x: &SVector<T, K>,
    lr: T,
) -> SVector<T, K> {
    let mut out = SVector::<T, K>::zeros();
    kernels::tr_gemv_ger(
        R * K,
        weight.as_mut_slice(),
        delta.as_slice(),
        x.as_slice(),
        -lr,
        out.as_mut_slice(),
    );
    out
}

/// `v −= η d`: a plain SGD step on a bias (or any vector) from its gradient.
#[inline]
pub fn descend<T: Real, const N: usize>(v: &mut SVector<T, N>, delta: &SVector<T, N>, lr: T) {
    v.axpy(-lr, delta, T::one());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_sample_products_match_nalgebra() {
        // 37 columns: four-column blocks and a remainder; 19 rows: 16-lane dots and a rest.
        let w = SMatrix::<f64, 19, 37>::from_fn(|i, j| ((i * 37 + j) % 11) as f64 * 0.1 - 0.5);
        let x = SVector::<f64, 37>::from_fn(|i, _| (i % 7) as f64 * 0.3 - 1.0);
        let d = SVector::<f64, 19>::from_fn(|i, _| (i % 5) as f64 * 0.2 - 0.4);
        assert!((matvec(&w, &x) - w * x).amax() < 1e-12);
        assert!((tr_matvec(&w, &d) - w.tr_mul(&d)).amax() < 1e-12);
        let mut g = SMatrix::<f64, 19, 37>::from_element(1.0);
        add_outer(&mut g, &d, &x);
        let mut expected = SMatrix::<f64, 19, 37>::from_element(1.0);
        expected.ger(1.0, &d, &x, 1.0);
        assert!((g - expected).amax() < 1e-12);

        // The fused SGD forms: the returned `Wᵀ d` uses the weights from before the update.
        let (lr, mut stepped, mut first) = (0.1, w, w);
        let dh = tr_matvec_descend(&mut stepped, &d, &x, lr);
        descend_outer(&mut first, &d, &x, lr);
        let mut expected = w;
        expected.ger(-lr, &d, &x, 1.0);
        assert!((dh - w.tr_mul(&d)).amax() < 1e-12);
        assert!((stepped - expected).amax() < 1e-12);
        assert!((first - expected).amax() < 1e-12);
        let mut b = d;
        descend(&mut b, &d, 0.25);
        assert_eq!(b, d * 0.75);
    }
}
