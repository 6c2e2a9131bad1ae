//! The scalar traits of nalgebra (simba), `num-traits` and `approx` for [`DualN`]: what
//! [`Real`]'s `RealField` bound asks, each function with its derivative.

use approx::{AbsDiffEq, RelativeEq, UlpsEq};
use nalgebra::{ComplexField, Field, RealField, SimdValue};
use num_traits::{FromPrimitive, Num, One, Signed, Zero};
use simba::scalar::SubsetOf;

use super::DualN;
use crate::Real;

impl<T: Real, const N: usize> Zero for DualN<T, N> {
    #[inline]
    fn zero() -> Self {
        Self::constant(T::zero())
    }
    #[inline]
    fn is_zero(&self) -> bool {
        self.re.is_zero()
    }
}

impl<T: Real, const N: usize> One for DualN<T, N> {
    #[inline]
    fn one() -> Self {
        Self::constant(T::one())
    }
}

impl<T: Real, const N: usize> Num for DualN<T, N> {
    type FromStrRadixErr = T::FromStrRadixErr;
    fn from_str_radix(text: &str, radix: u32) -> Result<Self, Self::FromStrRadixErr> {
        T::from_str_radix(text, radix).map(Self::constant)
    }
}

/// `|x|` with tangent `sign(x) x'`, taking `+x'` at `x = 0` (and `−0`).
impl<T: Real, const N: usize> Signed for DualN<T, N> {
    #[inline]
    fn abs(&self) -> Self {
        if self.re >= T::zero() { *self } else { -*self }
    }
    #[inline]
    fn abs_sub(&self, other: &Self) -> Self {
        if *self <= *other {
            Self::zero()
        } else {
            *self - *other
        }
    }
    #[inline]
    fn signum(&self) -> Self {
        Self::constant(Signed::signum(&self.re))
    }
    #[inline]
    fn is_positive(&self) -> bool {
        self.re.is_positive()
    }
    #[inline]
    fn is_negative(&self) -> bool {
        self.re.is_negative()
    }
}

impl<T: Real, const N: usize> FromPrimitive for DualN<T, N> {
    fn from_i64(n: i64) -> Option<Self> {
        T::from_i64(n).map(Self::constant)
    }
    fn from_u64(n: u64) -> Option<Self> {
        T::from_u64(n).map(Self::constant)
    }
    fn from_f32(n: f32) -> Option<Self> {
        T::from_f32(n).map(Self::constant)
    }
    fn from_f64(n: f64) -> Option<Self> {
        T::from_f64(n).map(Self::constant)
    }
}

/// One lane: a dual is a scalar.
impl<T: Real, const N: usize> SimdValue for DualN<T, N> {
    const LANES: usize = 1;
    type Element = Self;
    type SimdBool = bool;

    #[inline]
    fn splat(val: Self) -> Self {
        val
    }
    #[inline]
    fn extract(&self, _: usize) -> Self {
        *self
    }
    #[inline]
    unsafe fn extract_unchecked(&self, _: usize) -> Self {
        *self
    }
    #[inline]
    fn replace(&mut self, _: usize, val: Self) {
        *self = val
    }
    #[inline]
    unsafe fn replace_unchecked(&mut self, _: usize, val: Self) {
        *self = val
    }
    #[inline]
    fn select(self, cond: bool, other: Self) -> Self {
        if cond { self } else { other }
    }
}

impl<T: Real, const N: usize> Field for DualN<T, N> {}

impl<T: Real, const N: usize> SubsetOf<DualN<T, N>> for DualN<T, N> {
    #[inline]
    fn to_superset(&self) -> Self {
        *self
    }
    #[inline]
    fn from_superset_unchecked(element: &Self) -> Self {
        *element
    }
    #[inline]
    fn is_in_subset(_: &Self) -> bool {
        true
    }
}

macro_rules! plain_subset {
    ($($t:ty),*) => {$(
        /// A plain float is the constant dual; a dual is one when its tangents are zero.
        impl<T: Real, const N: usize> SubsetOf<DualN<T, N>> for $t {
            #[inline]
            fn to_superset(&self) -> DualN<T, N> {
                DualN::constant(T::from_subset(self))
            }
            #[inline]
            fn from_superset_unchecked(element: &DualN<T, N>) -> $t {
                element.re.to_subset_unchecked()
            }
            #[inline]
            fn is_in_subset(element: &DualN<T, N>) -> bool {
                <T as simba::scalar::SupersetOf<$t>>::is_in_subset(&element.re) && element.eps.iter().all(|e| e.is_zero())
            }
        }
    )*};
}
plain_subset!(f32, f64);

/// Compares the values, as `PartialEq` does.
impl<T: Real, const N: usize> AbsDiffEq for DualN<T, N> {
    type Epsilon = Self;
    fn default_epsilon() -> Self {
        Self::constant(T::default_epsilon())
    }
    fn abs_diff_eq(&self, other: &Self, epsilon: Self) -> bool {
        self.re.abs_diff_eq(&other.re, epsilon.re)
    }
}

impl<T: Real, const N: usize> RelativeEq for DualN<T, N> {
    fn default_max_relative() -> Self {
        Self::constant(T::default_max_relative())
    }
    fn relative_eq(&self, other: &Self, epsilon: Self, max_relative: Self) -> bool {
        self.re.relative_eq(&other.re, epsilon.re, max_relative.re)
    }
}

impl<T: Real, const N: usize> UlpsEq for DualN<T, N> {
    fn default_max_ulps() -> u32 {
        T::default_max_ulps()
    }
    fn ulps_eq(&self, other: &Self, epsilon: Self, max_ulps: u32) -> bool {
        self.re.ulps_eq(&other.re, epsilon.re, max_ulps)
    }
}

/// A real dual: its own real part; every function with its derivative.
impl<T: Real, const N: usize> ComplexField for DualN<T, N> {
    type RealField = Self;

    #[inline]
    fn from_real(re: Self) -> Self {
        re
    }
    #[inline]
    fn real(self) -> Self {
        self
    }
    #[inline]
    fn imaginary(self) -> Self {
        Self::zero()
    }
    #[inline]
    fn modulus(self) -> Self {
        Signed::abs(&self)
    }
    #[inline]
    fn modulus_squared(self) -> Self {
        self * self
    }
    #[inline]
    fn argument(self) -> Self {
        if self.re >= T::zero() {
            Self::zero()
        } else {
            Self::pi()
        }
    }
    #[inline]
    fn norm1(self) -> Self {
        Signed::abs(&self)
    }
    #[inline]
    fn scale(self, factor: Self) -> Self {
        self * factor
    }
    #[inline]
    fn unscale(self, factor: Self) -> Self {
        self / factor
    }
    #[inline]
    fn floor(self) -> Self {
        Self::constant(self.re.floor())
    }
    #[inline]
    fn ceil(self) -> Self {
        Self::constant(self.re.ceil())
    }
    #[inline]
    fn round(self) -> Self {
        Self::constant(self.re.round())
    }
    #[inline]
    fn trunc(self) -> Self {
        Self::constant(self.re.trunc())
    }
    #[inline]
    fn fract(self) -> Self {
        Self {
            re: self.re.fract(),
            eps: self.eps,
        }
    }
    #[inline]
    fn mul_add(self, a: Self, b: Self) -> Self {
        self * a + b
    }
    #[inline]
    fn abs(self) -> Self {
        Signed::abs(&self)
    }
    /// `√(a² + b²)`: tangent `(a a' + b b') / h`.
    #[inline]
    fn hypot(self, other: Self) -> Self {
        let h = self.re.hypot(other.re);
        let mut eps = self.eps;
        for (e, o) in eps.iter_mut().zip(other.eps) {
            *e = (self.re * *e + other.re * o) / h;
        }
        Self { re: h, eps }
    }
    #[inline]
    fn recip(self) -> Self {
        let r = self.re.recip();
        self.chain(r, -(r * r))
    }
    #[inline]
    fn conjugate(self) -> Self {
        self
    }
    #[inline]
    fn sin(self) -> Self {
        self.chain(self.re.sin(), self.re.cos())
    }
    #[inline]
    fn cos(self) -> Self {
        self.chain(self.re.cos(), -self.re.sin())
    }
    #[inline]
    fn sin_cos(self) -> (Self, Self) {
        (self.sin(), self.cos())
    }
    #[inline]
    fn tan(self) -> Self {
        let t = self.re.tan();
        self.chain(t, T::one() + t * t)
    }
    #[inline]
    fn asin(self) -> Self {
        self.chain(
            self.re.asin(),
            (T::one() - self.re * self.re).sqrt().recip(),
        )
    }
    #[inline]
    fn acos(self) -> Self {
        self.chain(
            self.re.acos(),
            -(T::one() - self.re * self.re).sqrt().recip(),
        )
    }
    #[inline]
    fn atan(self) -> Self {
        self.chain(self.re.atan(), (T::one() + self.re * self.re).recip())
    }
    #[inline]
    fn sinh(self) -> Self {
        self.chain(self.re.sinh(), self.re.cosh())
    }
    #[inline]
    fn cosh(self) -> Self {
        self.chain(self.re.cosh(), self.re.sinh())
    }
    #[inline]
    fn tanh(self) -> Self {
        let t = self.re.tanh();
        self.chain(t, T::one() - t * t)
    }
    #[inline]
    fn asinh(self) -> Self {
        self.chain(
            self.re.asinh(),
            (self.re * self.re + T::one()).sqrt().recip(),
        )
    }
    #[inline]
    fn acosh(self) -> Self {
        self.chain(
            self.re.acosh(),
            (self.re * self.re - T::one()).sqrt().recip(),
        )
    }
    #[inline]
    fn atanh(self) -> Self {
        self.chain(self.re.atanh(), (T::one() - self.re * self.re).recip())
    }
    #[inline]
    fn log(self, base: Self) -> Self {
        self.ln() / base.ln()
    }
    #[inline]
    fn log2(self) -> Self {
        self.chain(self.re.log2(), (self.re * T::ln_2()).recip())
    }
    #[inline]
    fn log10(self) -> Self {
        self.chain(self.re.log10(), (self.re * T::ln_10()).recip())
    }
    #[inline]
    fn ln(self) -> Self {
        self.chain(self.re.ln(), self.re.recip())
    }
    #[inline]
    fn ln_1p(self) -> Self {
        self.chain(self.re.ln_1p(), (T::one() + self.re).recip())
    }
    #[inline]
    fn sqrt(self) -> Self {
        let s = self.re.sqrt();
        self.chain(s, (s + s).recip())
    }
    #[inline]
    fn exp(self) -> Self {
        let e = self.re.exp();
        self.chain(e, e)
    }
    #[inline]
    fn exp2(self) -> Self {
        let e = self.re.exp2();
        self.chain(e, e * T::ln_2())
    }
    #[inline]
    fn exp_m1(self) -> Self {
        self.chain(self.re.exp_m1(), self.re.exp())
    }
    #[inline]
    fn powi(self, n: i32) -> Self {
        let slope = if n == 0 {
            T::zero()
        } else {
            T::from_i32(n).unwrap_or_else(T::zero) * self.re.powi(n - 1)
        };
        self.chain(self.re.powi(n), slope)
    }
    /// `x^y`: tangent `y x^(y−1) x' + x^y ln(x) y'`, the second term only where `y'` is not
    /// zero (so a constant exponent on `x ≤ 0` gives no `0 · NaN`).
    #[inline]
    fn powf(self, n: Self) -> Self {
        let value = self.re.powf(n.re);
        let slope = n.re * self.re.powf(n.re - T::one());
        let mut eps = self.eps;
        for (e, o) in eps.iter_mut().zip(n.eps) {
            *e *= slope;
            if !o.is_zero() {
                *e += value * self.re.ln() * o;
            }
        }
        Self { re: value, eps }
    }
    #[inline]
    fn powc(self, n: Self) -> Self {
        self.powf(n)
    }
    #[inline]
    fn cbrt(self) -> Self {
        let c = self.re.cbrt();
        self.chain(c, (T::constant(3.0) * c * c).recip())
    }
    #[inline]
    fn is_finite(&self) -> bool {
        self.re.is_finite() && self.eps.iter().all(|e| e.is_finite())
    }
    #[inline]
    fn try_sqrt(self) -> Option<Self> {
        (self.re >= T::zero()).then(|| self.sqrt())
    }
}

impl<T: Real, const N: usize> RealField for DualN<T, N> {
    #[inline]
    fn is_sign_positive(&self) -> bool {
        self.re.is_sign_positive()
    }
    #[inline]
    fn is_sign_negative(&self) -> bool {
        self.re.is_sign_negative()
    }
    #[inline]
    fn copysign(self, sign: Self) -> Self {
        let magnitude = Signed::abs(&self);
        if sign.re.is_sign_negative() {
            -magnitude
        } else {
            magnitude
        }
    }
    /// The larger, `self` on a tie (so `max(z, 0)` at `z = 0` carries `z`'s tangent).
    #[inline]
    fn max(self, other: Self) -> Self {
        if other.re > self.re { other } else { self }
    }
    /// The smaller, `self` on a tie.
    #[inline]
    fn min(self, other: Self) -> Self {
        if other.re < self.re { other } else { self }
    }
    #[inline]
    fn clamp(self, min: Self, max: Self) -> Self {
        RealField::min(RealField::max(self, min), max)
    }
    /// `atan2(y, x)`: tangent `(x y' − y x') / (x² + y²)`.
    #[inline]
    fn atan2(self, other: Self) -> Self {
        let r2 = self.re * self.re + other.re * other.re;
        let mut eps = self.eps;
        for (e, o) in eps.iter_mut().zip(other.eps) {
            *e = (other.re * *e - self.re * o) / r2;
        }
        Self {
            re: self.re.atan2(other.re),
            eps,
        }
    }
    fn min_value() -> Option<Self> {
        T::min_value().map(Self::constant)
    }
    fn max_value() -> Option<Self> {
        T::max_value().map(Self::constant)
    }
    fn pi() -> Self {
        Self::constant(T::pi())
    }
    fn two_pi() -> Self {
        Self::constant(T::two_pi())
    }
    fn frac_pi_2() -> Self {
        Self::constant(T::frac_pi_2())
    }
    fn frac_pi_3() -> Self {
        Self::constant(T::frac_pi_3())
    }
    fn frac_pi_4() -> Self {
        Self::constant(T::frac_pi_4())
    }
    fn frac_pi_6() -> Self {
        Self::constant(T::frac_pi_6())
    }
    fn frac_pi_8() -> Self {
        Self::constant(T::frac_pi_8())
    }
    fn frac_1_pi() -> Self {
        Self::constant(T::frac_1_pi())
    }
    fn frac_2_pi() -> Self {
        Self::constant(T::frac_2_pi())
    }
    fn frac_2_sqrt_pi() -> Self {
        Self::constant(T::frac_2_sqrt_pi())
    }
    fn e() -> Self {
        Self::constant(T::e())
    }
    fn log2_e() -> Self {
        Self::constant(T::log2_e())
    }
    fn log10_e() -> Self {
        Self::constant(T::log10_e())
    }
    fn ln_2() -> Self {
        Self::constant(T::ln_2())
    }
    fn ln_10() -> Self {
        Self::constant(T::ln_10())
    }
}
