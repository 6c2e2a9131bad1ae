//! The scalar types a network computes in.

use nalgebra::RealField;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// A floating-point scalar a network can be built over: `f32` (the default) or `f64`.
///
/// The trait is sealed: networks rely on every parameter being a plain IEEE float, for which
/// all-zero bits are the value `0.0` (see [`Zeroable`](crate::Zeroable)), and on a fast matrix
/// product from `matrixmultiply` for batches.
pub trait Real: RealField + Copy + Default + Send + Sync + sealed::Sealed + 'static {
    /// The safetensors dtype name of this scalar: `"F32"` or `"F64"`.
    const DTYPE: &'static str;

    /// Converts an `f64` constant (a learning rate, an epsilon) to this scalar, rounding.
    fn constant(value: f64) -> Self;

    /// Widens (or copies) this scalar to `f64`.
    fn to_f64(self) -> f64;

    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(−t²) dt`, from `libm`.
    fn erf(self) -> Self;

    /// `C = α A B + β C` on raw strided storage, by `matrixmultiply`.
    ///
    /// # Safety
    /// `a` is `m × k`, `b` is `k × n`, `c` is `m × n`, each valid for the given row and column
    /// strides (in elements), `c` writable and not overlapping `a` or `b`.
    #[doc(hidden)]
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
    ($t:ty, $dtype:literal, $erf:path, $gemm:path) => {
        impl Real for $t {
            const DTYPE: &'static str = $dtype;

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

impl_real!(f32, "F32", libm::erff, matrixmultiply::sgemm);
impl_real!(f64, "F64", libm::erf, matrixmultiply::dgemm);
