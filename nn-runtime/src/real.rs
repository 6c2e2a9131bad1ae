//! The scalar types a network computes in.

#[cfg(feature = "alloc")]
use alloc::vec::Vec;
use core::mem::size_of;

use nalgebra::RealField;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl<T: super::Real, const N: usize> Sealed for crate::dual::DualN<T, N> {}
}

/// A floating-point scalar a network can be built over: `f32` (the default) or `f64`, or a
/// dual number over either ([`DualN`](crate::dual::DualN), for forward-mode derivatives).
///
/// The trait is sealed: networks rely on every parameter being made of plain IEEE floats, for
/// which all-zero bits are the value `0.0` (see [`Zeroable`](crate::Zeroable); a dual's are its
/// value and tangents), and on a matrix product for batches (`matrixmultiply` for `f32` and
/// `f64`, a plain loop for duals).
pub trait Real: RealField + Copy + Default + Send + Sync + sealed::Sealed + 'static {
    /// The safetensors dtype name of this scalar: `"F32"` or `"F64"`.
    const DTYPE: &'static str;

    /// Appends the little-endian bytes of every value to `out`: `size_of::<Self>()` bytes
    /// each (4 for `f32`, 8 for `f64`), bit for bit (NaN payloads included); the data of a
    /// safetensors tensor of dtype [`DTYPE`](Self::DTYPE).
    #[cfg(feature = "alloc")]
    fn extend_le_bytes(values: &[Self], out: &mut Vec<u8>);

    /// Sets `values` from the little-endian bytes `bytes`, the inverse of
    /// [`extend_le_bytes`](Self::extend_le_bytes): value `i` from bytes
    /// `i * size_of::<Self>()..`. Values beyond the end of `bytes` keep what they held; bytes
    /// beyond the end of `values` are ignored.
    fn copy_from_le_bytes(bytes: &[u8], values: &mut [Self]);

    /// The smallest positive normal value of this scalar, widened to `f64`: `1.1754944e-38`
    /// for `f32`, `2.2250738585072014e-308` for `f64`. A `network!` layer norm asserts its
    /// `eps` is at least this, when the network is built with this scalar.
    const MIN_NORMAL: f64;

    /// Converts an `f64` constant (a learning rate, an epsilon) to this scalar, rounding.
    fn constant(value: f64) -> Self;

    /// Widens (or copies) this scalar to `f64`.
    fn to_f64(self) -> f64;

    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(−t²) dt`, from `libm`.
    fn erf(self) -> Self;

    /// `tanh(x)` as the `tanh` activation computes it.
    ///
    /// For `f32`, Eigen's rational minimax approximation (odd degree 13 over even degree 6, on
    /// `x` clamped to `±7.905311`) in plain multiplies and adds, which the compiler inlines and
    /// vectorizes: within 8 ulp of the exact value (a test checks every 127th `f32` below 10),
    /// where a library `tanhf` call costs more than the whole matrix-vector product of a small
    /// layer. For `f64`, `libm`'s `tanh`.
    fn tanh_activation(self) -> Self;

    /// `C = α A B + β C` on raw strided storage, by `matrixmultiply`.
    ///
    /// # Safety
    /// `a` is `m × k`, `b` is `k × n`, `c` is `m × n`, each valid for the given row and column
    /// strides (in elements), `c` writable and not overlapping `a` or `b`.
    #[doc(hidden)]
    #[cfg(feature = "alloc")]
    #[allow(clippy::too_many_arguments)]
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
    );
}

macro_rules! impl_real {
    ($t:ty, $dtype:literal, $erf:path, $tanh:path, $gemm:path) => {
        impl Real for $t {
            const DTYPE: &'static str = $dtype;
            const MIN_NORMAL: f64 = <$t>::MIN_POSITIVE as f64;

            #[cfg(feature = "alloc")]
            fn extend_le_bytes(values: &[Self], out: &mut Vec<u8>) {
                out.reserve(values.len() * size_of::<Self>());
                for value in values {
                    out.extend_from_slice(&value.to_le_bytes());
                }
            }

            fn copy_from_le_bytes(bytes: &[u8], values: &mut [Self]) {
                let (chunks, _) = bytes.as_chunks::<{ size_of::<$t>() }>();
                for (value, chunk) in values.iter_mut().zip(chunks) {
                    *value = <$t>::from_le_bytes(*chunk);
                }
            }

            #[inline]
            fn constant(value: f64) -> Self {
                value as $t
            }

            #[inline]
            fn to_f64(self) -> f64 {
                self as f64
            }

            #[inline]
            fn erf(self) -> Self {
                $erf(self)
            }

            #[inline]
            fn tanh_activation(self) -> Self {
                $tanh(self)
            }

            #[cfg(feature = "alloc")]
            #[inline]
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
                // SAFETY: forwarded from the caller's contract, which is matrixmultiply's.
                unsafe { $gemm(m, k, n, alpha, a, rsa, csa, b, rsb, csb, beta, c, rsc, csc) }
            }
        }
    };
}

impl_real!(f32, "F32", libm::erff, tanh_f32, matrixmultiply::sgemm);
impl_real!(f64, "F64", libm::erf, libm::tanh, matrixmultiply::dgemm);

/// `tanh(x)` for `f32` within 8 ulp, without a library call or a branch.
///
/// The odd rational minimax approximation `p(x) / q(x²)` (degrees 13 and 6) that Eigen uses,
/// on `x` clamped to `±7.905311` (beyond which `tanh` rounds to `±1` at this accuracy); below
/// `|x| < 0.0004`, `tanh(x) = x` to within rounding. Plain multiplies and adds (no `mul_add`,
/// which is a library call without FMA in the target), so the loop over a layer vectorizes.
/// NaN gives NaN. The error bound is checked by a test against `f64` `tanh` on every 127th
/// `f32` below 10.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    tanh_f32_fused::<false>(x)
}

/// [`tanh_f32`] with its multiply-adds fused when `FMA` (only in code compiled with the FMA
/// instruction, where `mul_add` is one instruction rather than a library call): the same
/// polynomials, each step rounded once instead of twice.
#[inline(always)]
pub(crate) fn tanh_f32_fused<const FMA: bool>(x: f32) -> f32 {
    let madd = |a: f32, b: f32, c: f32| {
        if FMA {
            nalgebra::ComplexField::mul_add(a, b, c)
        } else {
            a * b + c
        }
    };
    const CLAMP: f32 = 7.905_311;
    let c = x.clamp(-CLAMP, CLAMP);
    let c2 = c * c;
    let p = madd(c2, -2.760_768_5e-16, 2.000_188e-13);
    let p = madd(p, c2, -8.604_672e-11);
    let p = madd(p, c2, 5.122_297e-8);
    let p = madd(p, c2, 1.485_722_4e-5);
    let p = madd(p, c2, 6.372_619_3e-4);
    let p = madd(p, c2, 4.893_524_6e-3);
    let q = madd(c2, 1.198_258_4e-6, 1.185_347_1e-4);
    let q = madd(q, c2, 2.268_434_6e-3);
    let q = madd(q, c2, 4.893_525e-3);
    let r = p * c / q;
    if x.abs() < 0.0004 { x } else { r }
}

#[cfg(test)]
mod tests {
    use super::{Real, tanh_f32, tanh_f32_fused};
    use alloc::vec::Vec;

    #[test]
    fn le_bytes_round_trip_bit_for_bit() {
        let values = [-0.0, f32::from_bits(1), f32::from_bits(0x7fc0_1234), 1.0];
        let mut bytes = Vec::new();
        f32::extend_le_bytes(&values, &mut bytes);
        assert_eq!(bytes[12..], [0, 0, 0x80, 0x3f]);
        let mut again = [0.0f32; 4];
        f32::copy_from_le_bytes(&bytes, &mut again);
        assert_eq!(again.map(f32::to_bits), values.map(f32::to_bits));

        let values = [f64::from_bits(0x7ff8_0000_dead_beef), -2.5];
        let mut bytes = Vec::new();
        f64::extend_le_bytes(&values, &mut bytes);
        assert_eq!(bytes.len(), 16);
        let mut again = [0.0f64; 3];
        f64::copy_from_le_bytes(&bytes, &mut again);
        assert_eq!(
            again.map(f64::to_bits),
            [values[0].to_bits(), values[1].to_bits(), 0]
        );
    }

    /// Distance in units in the last place of the exact value.
    fn ulps(approx: f32, exact: f64) -> f64 {
        let rounded = exact.abs() as f32;
        let ulp = f32::from_bits(rounded.to_bits() + 1) - rounded;
        (approx as f64 - exact).abs() / ulp as f64
    }

    #[test]
    fn tanh_f32_is_within_8_ulp() {
        let mut worst: (f64, f32) = (0.0, 0.0);
        // Every 127th bit pattern from 0 to 10 (0x4120_0000), and their negatives.
        for bits in (0..0x4120_0000u32).step_by(127) {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let e = ulps(tanh_f32(x), (x as f64).tanh());
                if e > worst.0 {
                    worst = (e, x);
                }
            }
        }
        assert!(worst.0 <= 8.0, "{} ulp at x = {}", worst.0, worst.1);
        assert_eq!(tanh_f32(20.0), 1.0);
        assert_eq!(tanh_f32(-1e30), -1.0);
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(1e-30), 1e-30);
    }

    /// With its multiply-adds fused (the streaming kernels' `tanh` where the CPU has FMA), the
    /// same bound.
    #[test]
    fn fused_tanh_f32_is_within_8_ulp() {
        let mut worst: (f64, f32) = (0.0, 0.0);
        // Every 1021st bit pattern from 0 to 10 (`mul_add` is a library call in this build).
        for bits in (0..0x4120_0000u32).step_by(1021) {
            for x in [f32::from_bits(bits), -f32::from_bits(bits)] {
                let e = ulps(tanh_f32_fused::<true>(x), (x as f64).tanh());
                if e > worst.0 {
                    worst = (e, x);
                }
            }
        }
        assert!(worst.0 <= 8.0, "{} ulp at x = {}", worst.0, worst.1);
        // Past the clamp the fused polynomials round to 2e-7 below 1, not to 1.
        assert!(ulps(tanh_f32_fused::<true>(1e30), 1.0) <= 8.0);
        assert!(ulps(tanh_f32_fused::<true>(-1e30), -1.0) <= 8.0);
        assert!(tanh_f32_fused::<true>(f32::NAN).is_nan());
    }
}
