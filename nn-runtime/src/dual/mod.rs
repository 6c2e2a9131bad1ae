//! Forward-mode differentiation: dual numbers `a + b·ε` (`ε² = 0`) as a network's scalar.
//!
//! A [`DualN<T, N>`] carries a value and `N` tangents. Every operation applies the chain rule
//! to the tangents as it computes the value, so a function evaluated on `x + v·ε` returns
//! `f(x) + f'(x)·v·ε`: the value and its exact derivative along `v`, with no step size and
//! no truncation error. [`Dual<T>`] is the common case of one tangent.
//!
//! Duals implement [`Real`], so every network `network!` generates runs over
//! them unchanged: `Net::<Dual<f64>>` has `forward`, `predict` and `loss`, with every
//! activation, layer norm and loss differentiated exactly. Where a function has a kink, the
//! tangent takes the branch the code takes, which is the value the generated backward uses
//! (`relu'(0) = 0`, `leaky_relu'(0) = slope`, `|x|' = 1` at `0`). Batches run too: their
//! products take a plain generic loop (the `f32`/`f64` GEMM and SIMD kernels are untouched).
//!
//! What to differentiate with what (the functions of this module, one forward pass each):
//!
//! | derivative | function | cost |
//! |---|---|---|
//! | loss or outputs along a parameter direction `v` | [`loss_along`], [`output_along`] | one dual pass (2–3× an `f64` forward) and a copy of the network |
//! | loss or outputs along an input direction `dx` | [`loss_along_input`], [`output_along_input`] | as above |
//! | input Jacobian `∂f/∂x`, `OUT × IN` | [`input_jacobian`] on a [`lift`]ed network | `⌈IN / K⌉` passes with `K` tangents |
//! | the whole gradient `∂L/∂θ` | the generated `backward` (reverse mode) | ≈ 2 forward passes |
//! | input gradient `∂L/∂x` | the generated `input_gradient` (reverse mode) | ≈ 2 forward passes |
//!
//! Forward mode pays one pass per direction; reverse mode one pass per output. So the gradient
//! of a scalar loss is reverse mode's job, and forward mode checks it exactly
//! ([`check_gradient_dual`](crate::gradcheck::check_gradient_dual)), differentiates along the
//! few directions a user cares about, or gives a Jacobian with few inputs.
//!
//! Equality and ordering compare the values only (`a + bε == a + cε`), so every branch on a
//! comparison takes the same side as it does on the plain value.
//!
//! Weight files hold `f32` or `f64` parameters: a dual network is not saved or loaded
//! (`io::save` panics naming this, `io::load` returns a dtype mismatch); save and load the
//! plain network, and [`lift`] it.
//!
//! ```
//! use nn_runtime::dual::{self, Dual};
//! use nn_runtime::{Parameters, nalgebra::SVector};
//!
//! nn_runtime::network! {
//!     struct Net { input: 2, h: dense(3, tanh), out: dense(1), loss: mse }
//! }
//! let mut net = Net::<f64>::boxed_zeros();
//! net.h.weight.fill(0.5);
//! net.out.weight.fill(1.0);
//! let x = SVector::<f64, 2>::new(0.2, -0.1);
//! // d/dt out(x + t e₀): 3 units of slope 0.5 (1 − tanh²(0.05)).
//! let y = dual::output_along_input(&*net, &x, &SVector::x());
//! let expected = 1.5 * (1.0 - 0.05f64.tanh().powi(2));
//! assert!((y[0].derivative() - expected).abs() < 1e-15);
//! # let _: Dual<f64> = y[0];
//! ```

mod derivative;
mod scalar;
#[cfg(test)]
mod tests;

use core::fmt;
use core::ops::{
    Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Rem, RemAssign, Sub, SubAssign,
};

#[cfg(feature = "alloc")]
use num_traits::Zero;

use crate::Real;

pub use derivative::{WithScalar, constant, input_jacobian, seed};
#[cfg(feature = "alloc")]
pub use derivative::{
    lift, lift_along, loss_along, loss_along_input, output_along, output_along_input,
};

/// A dual number with `N` tangents: `re + Σₖ eps[k]·εₖ`, every `εⱼ εₖ = 0`.
///
/// Arithmetic and every function of [`Real`] propagate the tangents by the chain rule, so
/// after any computation `eps[k]` is the exact derivative of `re` along the `k`-th seeded
/// direction. Over `f32` or `f64` (or another dual, for second derivatives).
#[derive(Clone, Copy, Debug)]
pub struct DualN<T, const N: usize> {
    /// The value.
    pub re: T,
    /// The derivatives of the value along each of the `N` seeded directions.
    pub eps: [T; N],
}

/// A dual number with one tangent, `re + eps·ε`: the value and one directional derivative.
pub type Dual<T> = DualN<T, 1>;

impl<T: Real, const N: usize> DualN<T, N> {
    /// The constant `re`: every tangent zero.
    #[inline]
    pub fn constant(re: T) -> Self {
        Self {
            re,
            eps: [T::zero(); N],
        }
    }

    /// The variable `re` seeded along direction `k`: tangent `k` one, the others zero.
    ///
    /// # Panics
    /// If `k >= N`.
    #[inline]
    pub fn variable(re: T, k: usize) -> Self {
        let mut eps = [T::zero(); N];
        eps[k] = T::one();
        Self { re, eps }
    }

    /// The value with the tangents `f'(re)·eps`: the chain rule through a scalar function
    /// whose value is `value` and derivative at `re` is `slope`.
    #[inline]
    fn chain(self, value: T, slope: T) -> Self {
        Self {
            re: value,
            eps: self.eps.map(|e| e * slope),
        }
    }
}

impl<T: Real> DualN<T, 1> {
    /// `re + eps·ε`.
    #[inline]
    pub fn new(re: T, eps: T) -> Self {
        Self { re, eps: [eps] }
    }

    /// The one tangent: the derivative along the seeded direction.
    #[inline]
    pub fn derivative(self) -> T {
        self.eps[0]
    }
}

impl<T: Real, const N: usize> Default for DualN<T, N> {
    fn default() -> Self {
        Self::constant(T::zero())
    }
}

/// Compares the values only, as [`PartialOrd`] does.
impl<T: PartialEq, const N: usize> PartialEq for DualN<T, N> {
    #[inline]
    fn eq(&self, other: &Self) -> bool {
        self.re == other.re
    }
}

/// Orders by the values: a branch on a comparison takes the side the plain value takes.
impl<T: PartialOrd, const N: usize> PartialOrd for DualN<T, N> {
    #[inline]
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        self.re.partial_cmp(&other.re)
    }
}

/// `re + [e₀, e₁, …]ε`.
impl<T: fmt::Display, const N: usize> fmt::Display for DualN<T, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} + [", self.re)?;
        for (k, e) in self.eps.iter().enumerate() {
            if k > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{e}")?;
        }
        f.write_str("]ε")
    }
}

impl<T: Real, const N: usize> Neg for DualN<T, N> {
    type Output = Self;
    #[inline]
    fn neg(self) -> Self {
        Self {
            re: -self.re,
            eps: self.eps.map(|e| -e),
        }
    }
}

/// `(a + a'ε) + (b + b'ε) = (a + b) + (a' + b')ε`.
impl<T: Real, const N: usize> Add for DualN<T, N> {
    type Output = Self;
    #[inline]
    fn add(mut self, other: Self) -> Self {
        self.re += other.re;
        for (e, o) in self.eps.iter_mut().zip(other.eps) {
            *e += o;
        }
        self
    }
}

/// `(a + a'ε) − (b + b'ε) = (a − b) + (a' − b')ε`.
impl<T: Real, const N: usize> Sub for DualN<T, N> {
    type Output = Self;
    #[inline]
    fn sub(mut self, other: Self) -> Self {
        self.re -= other.re;
        for (e, o) in self.eps.iter_mut().zip(other.eps) {
            *e -= o;
        }
        self
    }
}

/// `(a + a'ε)(b + b'ε) = ab + (a'b + ab')ε`.
impl<T: Real, const N: usize> Mul for DualN<T, N> {
    type Output = Self;
    #[inline]
    fn mul(self, other: Self) -> Self {
        let mut eps = self.eps;
        for (e, o) in eps.iter_mut().zip(other.eps) {
            *e = *e * other.re + self.re * o;
        }
        Self {
            re: self.re * other.re,
            eps,
        }
    }
}

/// `(a + a'ε)/(b + b'ε) = a/b + (a' − (a/b) b')/b ε`.
impl<T: Real, const N: usize> Div for DualN<T, N> {
    type Output = Self;
    #[inline]
    fn div(self, other: Self) -> Self {
        let q = self.re / other.re;
        let mut eps = self.eps;
        for (e, o) in eps.iter_mut().zip(other.eps) {
            *e = (*e - q * o) / other.re;
        }
        Self { re: q, eps }
    }
}

/// `a mod b = a − trunc(a/b) b`: tangent `a' − trunc(a/b) b'`.
impl<T: Real, const N: usize> Rem for DualN<T, N> {
    type Output = Self;
    #[inline]
    fn rem(self, other: Self) -> Self {
        let n = (self.re / other.re).trunc();
        let mut eps = self.eps;
        for (e, o) in eps.iter_mut().zip(other.eps) {
            *e -= n * o;
        }
        Self {
            re: self.re % other.re,
            eps,
        }
    }
}

macro_rules! assign_ops {
    ($($trait:ident $method:ident $op:tt),*) => {$(
        impl<T: Real, const N: usize> $trait for DualN<T, N> {
            #[inline]
            fn $method(&mut self, other: Self) {
                *self = *self $op other;
            }
        }
    )*};
}
assign_ops!(AddAssign add_assign +, SubAssign sub_assign -, MulAssign mul_assign *,
    DivAssign div_assign /, RemAssign rem_assign %);

/// Duals are a network scalar: the functions `Real` adds, differentiated; batch products by a
/// generic loop; weight-file bytes refused.
impl<T: Real, const N: usize> Real for DualN<T, N> {
    /// Not a safetensors dtype: a file never matches it, so loading a dual network fails with a
    /// dtype mismatch naming it.
    const DTYPE: &'static str =
        "dual (weight files hold f32 or f64; load the plain network and lift it)";
    const MIN_NORMAL: f64 = T::MIN_NORMAL;

    /// Panics: weight files hold plain `f32` or `f64` values.
    #[cfg(feature = "alloc")]
    fn extend_le_bytes(_: &[Self], _: &mut alloc::vec::Vec<u8>) {
        refuse_weight_bytes()
    }

    /// Panics: weight files hold plain `f32` or `f64` values.
    fn copy_from_le_bytes(_: &[u8], _: &mut [Self]) {
        refuse_weight_bytes()
    }

    #[inline]
    fn constant(value: f64) -> Self {
        Self::constant(T::constant(value))
    }

    #[inline]
    fn to_f64(self) -> f64 {
        self.re.to_f64()
    }

    /// `erf' = 2/√π e^(−x²)`.
    #[inline]
    fn erf(self) -> Self {
        let slope = T::constant(core::f64::consts::FRAC_2_SQRT_PI) * (-(self.re * self.re)).exp();
        self.chain(self.re.erf(), slope)
    }

    /// The value of `T`'s `tanh_activation` and the tangent `1 − t²` from it, the derivative
    /// the generated backward uses.
    #[inline]
    fn tanh_activation(self) -> Self {
        let t = self.re.tanh_activation();
        self.chain(t, T::one() - t * t)
    }

    /// `C = α A B + β C` by a plain loop (`C` overwritten when `β = 0`, as `matrixmultiply`
    /// does).
    #[inline]
    #[cfg(feature = "alloc")]
    unsafe fn gemm(
        m: usize,
        k: usize,
        n: usize,
        alpha: Self,
        a: *const Self,
        rsa: isize,
        csa: isize,
        b: *const Self,
        rsb: isize,
        csb: isize,
        beta: Self,
        c: *mut Self,
        rsc: isize,
        csc: isize,
    ) {
        let at = |i: usize, j: usize, rs: isize, cs: isize| i as isize * rs + j as isize * cs;
        for i in 0..m {
            for j in 0..n {
                let mut sum = Self::zero();
                for l in 0..k {
                    // SAFETY: `i < m`, `l < k`, `j < n`: inside `a`, `b` by the caller's
                    // contract (matrixmultiply's).
                    sum += unsafe { *a.offset(at(i, l, rsa, csa)) * *b.offset(at(l, j, rsb, csb)) };
                }
                // SAFETY: inside `c`, which does not overlap `a` or `b` (the contract).
                let c = unsafe { &mut *c.offset(at(i, j, rsc, csc)) };
                *c = if beta == Self::zero() {
                    alpha * sum
                } else {
                    alpha * sum + beta * *c
                };
            }
        }
    }
}

#[cold]
#[track_caller]
fn refuse_weight_bytes() -> ! {
    panic!(
        "a dual-number network cannot be saved or loaded: weight files hold f32 or f64; \
         save or load the plain network and lift it with `nn_runtime::dual::lift`"
    )
}
