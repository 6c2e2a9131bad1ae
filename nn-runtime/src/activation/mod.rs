//! Activations `h = σ(z)` and their backward passes `dz = σ'(z) ⊙ dh`.
//!
//! Every function works on a single sample (`SVector<T, N>`) and on a batch (`Batch<T, N>`,
//! one sample per column) alike. Elementwise activations act on each entry; [`softmax`] acts on
//! each column. A backward function takes the pre-activation `z` and the gradient `dh` arriving
//! at the activation's output, and returns `dz`; it recomputes what it needs from `z`, so a layer
//! keeps only `z`. Where the derivative has a kink, the value PyTorch uses is taken
//! (`relu'(0) = 0`).
//!
//! Inside a rayon pool, an element-wise activation or backward pass over a batch of at least
//! [`PARALLEL_MIN_ELEMENTS`](crate::linalg::PARALLEL_MIN_ELEMENTS) values is split over the
//! pool's threads, with results bit for bit those of one thread.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, OMatrix};

use crate::Real;

/// The activation a layer applies, as declared; initializers read it to pick their gain.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ActivationKind {
    /// `h = z`.
    Identity,
    /// Heaviside step `h = 1` if `z ≥ 0`, else `0`; its gradient is zero everywhere.
    Step,
    /// `h = max(z, 0)`.
    Relu,
    /// `h = z` if `z ≥ 0`, else `slope · z`.
    LeakyRelu {
        /// The slope for negative inputs (PyTorch's `negative_slope`, default 0.01).
        slope: f64,
    },
    /// `h = 1 / (1 + e^(−z))`.
    Sigmoid,
    /// `h = tanh(z)`.
    Tanh,
    /// `h = ln(1 + e^z)`.
    Softplus,
    /// `h = z Φ(z)`, with the exact normal CDF `Φ` (PyTorch's `approximate='none'`).
    Gelu,
    /// The tanh approximation of GELU (PyTorch's `approximate='tanh'`).
    GeluTanh,
    /// `h = z σ(z)` (also called swish).
    Silu,
    /// `h = e^z / Σ e^z` over the layer's features.
    Softmax,
}

type Mat<T, R, C> = OMatrix<T, R, C>;

macro_rules! elementwise {
    (
        $(#[$doc:meta])*
        $name:ident, $backward:ident, |$z:ident $(, $p:ident)?| $value:expr, $(#[$bdoc:meta])* |$bz:ident $(, $bp:ident)?| $derivative:expr
    ) => {
        $(#[$doc])*
        #[inline]
        pub fn $name<T: Real, R: Dim, C: Dim>(z: &Mat<T, R, C> $(, $p: T)?) -> Mat<T, R, C>
        where
            DefaultAllocator: Allocator<R, C>,
        {
            if crate::linalg::split::splits(z.len()) {
                return crate::linalg::split::map(z, |$z| $value);
            }
            // A copy updated in place: `map` builds its result through an iterator, which in a
            // debug build holds several copies of a feature map on the stack at once.
            let mut h = z.clone_owned();
            h.apply(|h| {
                let $z = *h;
                *h = $value;
            });
            h
        }

        $(#[$bdoc])*
        #[inline]
        pub fn $backward<T: Real, R: Dim, C: Dim>(
            z: &Mat<T, R, C>,
            dh: &Mat<T, R, C>
            $(, $bp: T)?
        ) -> Mat<T, R, C>
        where
            DefaultAllocator: Allocator<R, C>,
        {
            if crate::linalg::split::splits(z.len()) {
                return crate::linalg::split::zip_map(z, dh, |$bz, d| $derivative * d);
            }
            // In place, as the forward function.
            let mut dz = dh.clone_owned();
            dz.zip_apply(z, |d, $bz| *d = $derivative * *d);
            dz
        }
    };
}

elementwise!(
    /// Heaviside step: `1` where `z ≥ 0`, else `0` (the threshold unit of a perceptron).
    step, step_backward, |z| if z >= T::zero() { T::one() } else { T::zero() },
    /// The step's gradient is zero everywhere (and undefined at 0, taken as 0): nothing learns
    /// through a step unit, which is why perceptrons were trained by other rules.
    |_z| T::zero()
);

elementwise!(
    /// `max(z, 0)`.
    relu, relu_backward, |z| if z > T::zero() { z } else { T::zero() },
    /// `dh` where `z > 0`, else `0` (`relu'(0) = 0`, as PyTorch).
    |z| if z > T::zero() { T::one() } else { T::zero() }
);

elementwise!(
    /// `z` where `z > 0`, else `slope · z`.
    leaky_relu, leaky_relu_backward, |z, slope| if z > T::zero() { z } else { slope * z },
    /// `dh` where `z > 0`, else `slope · dh` (the derivative at 0 is `slope`, as PyTorch).
    |z, slope| if z > T::zero() { T::one() } else { slope }
);

elementwise!(
    /// `1 / (1 + e^(−z))`, computed without overflow for large `|z|`.
    sigmoid, sigmoid_backward, |z| logistic(z),
    /// `σ(z)(1 − σ(z)) dh`.
    |z| { let s = logistic(z); s * (T::one() - s) }
);

elementwise!(
    /// `tanh(z)` ([`Real::tanh_activation`]: within 8 ulp for `f32`, inlined and vectorized).
    tanh, tanh_backward, |z| z.tanh_activation(),
    /// `(1 − tanh²z) dh`.
    |z| { let t = z.tanh_activation(); T::one() - t * t }
);

elementwise!(
    /// `ln(1 + e^z)`, computed as `max(z, 0) + ln(1 + e^(−|z|))` so it never overflows.
    softplus, softplus_backward, |z| softplus_scalar(z),
    /// `σ(z) dh`.
    |z| logistic(z)
);

elementwise!(
    /// Exact GELU `z Φ(z) = ½ z (1 + erf(z/√2))`.
    gelu, gelu_backward, |z| z * normal_cdf(z),
    /// `(Φ(z) + z φ(z)) dh`, `φ` the standard normal density.
    |z| normal_cdf(z) + z * normal_pdf(z)
);

elementwise!(
    /// GELU's tanh approximation `½ z (1 + tanh(√(2/π)(z + 0.044715 z³)))`.
    gelu_tanh, gelu_tanh_backward, |z| {
        let half = T::constant(0.5);
        half * z * (T::one() + gelu_tanh_inner(z).tanh_activation())
    },
    /// The derivative of the tanh approximation, exactly (not the exact GELU's); `1` and `0`
    /// where the tanh saturates, for every finite `z`.
    |z| {
        let half = T::constant(0.5);
        let t = gelu_tanh_inner(z).tanh_activation();
        // Where the tanh saturates (`1 − t² = 0`), `z²` may overflow: `0 · ∞` would be NaN.
        let z = gelu_tanh_clamp(z);
        let du = T::constant(GELU_TANH_K) * (T::one() + T::constant(3.0 * GELU_TANH_C) * z * z);
        half * (T::one() + t) + half * z * (T::one() - t * t) * du
    }
);

elementwise!(
    /// SiLU (swish) `z σ(z)`.
    silu, silu_backward, |z| z * logistic(z),
    /// `σ(z)(1 + z(1 − σ(z))) dh`.
    |z| { let s = logistic(z); s * (T::one() + z * (T::one() - s)) }
);

/// `dh` unchanged: the backward pass of the identity activation.
#[inline]
pub fn identity_backward<T: Real, R: Dim, C: Dim>(
    _z: &Mat<T, R, C>,
    dh: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    dh.clone()
}

/// Softmax over each column: `p = e^(z − max z) / Σ e^(z − max z)`.
///
/// Subtracting the column's maximum keeps every exponent ≤ 0, so no column overflows; the
/// result is the same as the textbook `e^z / Σ e^z`.
#[inline]
pub fn softmax<T: Real, R: Dim, C: Dim>(z: &Mat<T, R, C>) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut p = z.clone();
    for mut column in p.column_iter_mut() {
        let max = column.max();
        column.apply(|v| *v = (*v - max).exp());
        let sum = column.sum();
        column.apply(|v| *v /= sum);
    }
    p
}

/// The full softmax Jacobian applied to `dh`: `dz = p ⊙ (dh − (p · dh))` per column.
///
/// This is `J dh` for `J = diag(p) − p pᵀ`, without forming `J`. Used when softmax is a hidden
/// activation or sits before a loss other than the fused cross-entropy.
#[inline]
pub fn softmax_backward<T: Real, R: Dim, C: Dim>(
    z: &Mat<T, R, C>,
    dh: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut dz = softmax(z);
    for (mut p, d) in dz.column_iter_mut().zip(dh.column_iter()) {
        let dot = p.dot(&d);
        p.zip_apply(&d, |p, d| *p *= d - dot);
    }
    dz
}

/// √(2/π), the scale inside GELU's tanh approximation.
const GELU_TANH_K: f64 = 0.797_884_560_802_865_4;
/// The cubic coefficient of GELU's tanh approximation.
const GELU_TANH_C: f64 = 0.044_715;

/// Past this `|z|`, the tanh in GELU's approximation is `±1` in `f32` and `f64` alike (its
/// argument is over 10¹⁷), so clamping `z` there changes nothing but keeps `z³` finite.
const GELU_TANH_SATURATED: f64 = 1e6;

/// `z` clamped to `±GELU_TANH_SATURATED` (a min and a max: no branch in the loop).
#[inline]
fn gelu_tanh_clamp<T: Real>(z: T) -> T {
    let bound = T::constant(GELU_TANH_SATURATED);
    z.max(-bound).min(bound)
}

/// `√(2/π)(z + 0.044715 z³)`, on `z` clamped where the tanh of it saturates.
#[inline]
fn gelu_tanh_inner<T: Real>(z: T) -> T {
    let z = gelu_tanh_clamp(z);
    T::constant(GELU_TANH_K) * (z + T::constant(GELU_TANH_C) * z * z * z)
}

/// The logistic function, evaluated on the side where `e^x` cannot overflow.
#[inline]
pub(crate) fn logistic<T: Real>(z: T) -> T {
    if z >= T::zero() {
        T::one() / (T::one() + (-z).exp())
    } else {
        let e = z.exp();
        e / (T::one() + e)
    }
}

/// `ln(1 + e^z)` without overflow.
#[inline]
pub(crate) fn softplus_scalar<T: Real>(z: T) -> T {
    z.max(T::zero()) + (-z.abs()).exp().ln_1p()
}

/// `Φ(z) = ½ (1 + erf(z / √2))`.
#[inline]
fn normal_cdf<T: Real>(z: T) -> T {
    T::constant(0.5) * (T::one() + (z * T::constant(core::f64::consts::FRAC_1_SQRT_2)).erf())
}

/// `φ(z) = e^(−z²/2) / √(2π)`.
#[inline]
fn normal_pdf<T: Real>(z: T) -> T {
    // 1/√(2π)
    T::constant(0.398_942_280_401_432_7) * (-(z * z) * T::constant(0.5)).exp()
}

#[cfg(test)]
pub(crate) mod tests;
