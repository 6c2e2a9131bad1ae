//! Matrix products for minibatches, on `matrixmultiply`.
//!
//! nalgebra multiplies statically-sized matrices with its own loops and transposes by copying;
//! a batch (samples as columns, a [`Dyn`] column count) goes here instead, where every product
//! is one GEMM call with strides, and a transpose is only a swap of strides.

use nalgebra::{Const, Dyn, OMatrix, SMatrix, SVector};

use crate::Real;

/// A minibatch of `N`-wide vectors, one sample per column: `OMatrix<T, Const<N>, Dyn>`.
///
/// Feature sizes stay static, so a shape mistake is a type error; the batch size is chosen at
/// run time.
pub type Batch<T, const N: usize> = OMatrix<T, Const<N>, Dyn>;

/// A read-only view of column-major storage, possibly transposed.
struct View<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a, T> View<'a, T> {
    /// A column-major `rows × cols` matrix as it is stored.
    fn plain(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows as isize,
        }
    }

    /// The transpose of a column-major `rows × cols` matrix, without copying.
    fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows: cols,
            cols: rows,
            row_stride: rows as isize,
            col_stride: 1,
        }
    }
}

/// `C = A B + β C`, `C` column-major `A.rows × B.cols`.
fn gemm<T: Real>(a: View<'_, T>, b: View<'_, T>, beta: T, c: &mut [T]) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert!(
        a.cols == b.rows && c.len() == m * n && a.data.len() == m * k && b.data.len() == k * n,
        "nn-runtime internal error: gemm shapes {m}x{k} * {}x{n} into {} elements",
        b.rows,
        c.len()
    );
    if m == 0 || n == 0 {
        return;
    }
    // SAFETY: the assertion above proves every operand holds exactly the elements its shape and
    // strides address; `c` is a unique borrow, so it overlaps neither input.
    unsafe {
        T::gemm(
            m,
            k,
            n,
            T::one(),
            a.data.as_ptr(),
            a.row_stride,
            a.col_stride,
            b.data.as_ptr(),
            b.row_stride,
            b.col_stride,
            beta,
            c.as_mut_ptr(),
            1,
            m as isize,
        );
    }
}

/// `W X`: a weight `[R, K]` applied to every column of a batch.
#[inline]
pub fn matmul<T: Real, const R: usize, const K: usize>(
    weight: &SMatrix<T, R, K>,
    x: &Batch<T, K>,
) -> Batch<T, R> {
    let n = x.ncols();
    let mut out = Batch::<T, R>::zeros(n);
    gemm(
        View::plain(weight.as_slice(), R, K),
        View::plain(x.as_slice(), K, n),
        T::zero(),
        out.as_mut_slice(),
    );
    out
}

/// `Wᵀ D`: the gradient flowing back through a weight `[R, K]`, for every column of a batch.
#[inline]
pub fn tr_matmul<T: Real, const R: usize, const K: usize>(
    weight: &SMatrix<T, R, K>,
    delta: &Batch<T, R>,
) -> Batch<T, K> {
    let n = delta.ncols();
    let mut out = Batch::<T, K>::zeros(n);
    gemm(
        View::transposed(weight.as_slice(), R, K),
        View::plain(delta.as_slice(), R, n),
        T::zero(),
        out.as_mut_slice(),
    );
    out
}

/// `G += D Hᵀ`: a weight gradient summed over the columns of a batch.
#[inline]
pub fn add_mul_tr<T: Real, const R: usize, const K: usize>(
    grad: &mut SMatrix<T, R, K>,
    delta: &Batch<T, R>,
    h: &Batch<T, K>,
) {
    let n = delta.ncols();
    assert_eq!(
        n,
        h.ncols(),
        "nn-runtime internal error: batch sizes differ"
    );
    if n == 0 {
        return;
    }
    gemm(
        View::plain(delta.as_slice(), R, n),
        View::transposed(h.as_slice(), K, n),
        T::one(),
        grad.as_mut_slice(),
    );
}

/// `W x` for one sample: `W` `[R, K]` times `x` `[K]`.
///
/// nalgebra's `&W * x` is one axpy per column of `W`, compiled for the target's baseline
/// (SSE2 on x86-64). This walks four columns per pass and, with `std` on x86-64, runs a copy
/// of the same loops compiled for AVX2 + FMA when the CPU has them (chosen at run time, as
/// matrixmultiply chooses its GEMM kernel).
#[inline]
pub fn matvec<T: Real, const R: usize, const K: usize>(
    weight: &SMatrix<T, R, K>,
    x: &SVector<T, K>,
) -> SVector<T, R> {
    let mut y = SVector::<T, R>::zeros();
    kernels::gemv(R * K, weight.as_slice(), x.as_slice(), y.as_mut_slice());
    y
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
    kernels::ger(R * K, grad.as_mut_slice(), delta.as_slice(), x.as_slice());
}

/// The per-sample loops, generic over the scalar, and their run-time dispatch.
mod kernels {
    use crate::Real;

    /// Below this many weights a layer stays on the inlined baseline loops: the dispatch (a
    /// cached feature check and a call that is not inlined) costs more than it saves.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    const WIDE_MIN: usize = 256;

    macro_rules! dispatch {
        ($(#[$doc:meta])* $name:ident => $generic:ident($($arg:ident: $ty:ty),*)) => {
            $(#[$doc])*
            #[inline]
            pub(super) fn $name<T: Real>(size: usize, $($arg: $ty),*) {
                #[cfg(all(feature = "std", target_arch = "x86_64"))]
                if size >= WIDE_MIN
                    && std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                {
                    #[target_feature(enable = "avx2,fma")]
                    fn wide<T: Real>($($arg: $ty),*) {
                        $generic($($arg),*)
                    }
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { wide($($arg),*) };
                }
                let _ = size;
                $generic($($arg),*)
            }
        };
    }

    dispatch!(
        /// `y = W x`, `W` `[y.len(), x.len()]` column-major.
        gemv => gemv_loops(w: &[T], x: &[T], y: &mut [T])
    );
    dispatch!(
        /// `out = Wᵀ d`, `W` `[d.len(), out.len()]` column-major.
        tr_gemv => tr_gemv_loops(w: &[T], d: &[T], out: &mut [T])
    );
    dispatch!(
        /// `G += d xᵀ`, `G` `[d.len(), x.len()]` column-major.
        ger => ger_loops(g: &mut [T], d: &[T], x: &[T])
    );

    /// Four columns per pass over `y`, so `y` is loaded and stored once per four columns.
    #[inline(always)]
    fn gemv_loops<T: Real>(w: &[T], x: &[T], y: &mut [T]) {
        let rows = y.len();
        let blocks = w.chunks_exact(4 * rows);
        let (tail_w, x_blocks) = (blocks.remainder(), x.chunks_exact(4));
        let tail_x = x_blocks.remainder();
        for (block, xs) in blocks.zip(x_blocks) {
            let (c0, rest) = block.split_at(rows);
            let (c1, rest) = rest.split_at(rows);
            let (c2, c3) = rest.split_at(rows);
            for ((((y, &a), &b), &c), &d) in y.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3) {
                *y += xs[0] * a + xs[1] * b + xs[2] * c + xs[3] * d;
            }
        }
        for (col, &xv) in tail_w.chunks_exact(rows).zip(tail_x) {
            axpy(xv, col, y);
        }
    }

    #[inline(always)]
    fn tr_gemv_loops<T: Real>(w: &[T], d: &[T], out: &mut [T]) {
        for (o, col) in out.iter_mut().zip(w.chunks_exact(d.len())) {
            *o = dot(col, d);
        }
    }

    #[inline(always)]
    fn ger_loops<T: Real>(g: &mut [T], d: &[T], x: &[T]) {
        for (col, &xv) in g.chunks_exact_mut(d.len()).zip(x) {
            axpy(xv, d, col);
        }
    }

    /// A dot product with 16 independent partial sums, which the compiler vectorizes.
    #[inline(always)]
    fn dot<T: Real>(a: &[T], b: &[T]) -> T {
        const L: usize = 16;
        let mut acc = [T::zero(); L];
        let split = a.len() / L * L;
        for (x, y) in a[..split].chunks_exact(L).zip(b[..split].chunks_exact(L)) {
            for l in 0..L {
                acc[l] += x[l] * y[l];
            }
        }
        let mut sum = acc.iter().fold(T::zero(), |s, &v| s + v);
        for (&x, &y) in a[split..].iter().zip(&b[split..]) {
            sum += x * y;
        }
        sum
    }

    /// `y += a x`.
    #[inline(always)]
    fn axpy<T: Real>(a: T, x: &[T], y: &mut [T]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y += a * x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, Matrix2x3};

    #[test]
    fn batch_products_match_nalgebra() {
        let w = Matrix2x3::new(1.0, -2.0, 0.5, 3.0, 0.25, -1.0);
        let x = Batch::<f64, 3>::from_fn(4, |i, j| (i * 4 + j) as f64 * 0.1 - 0.3);
        let d = Batch::<f64, 2>::from_fn(4, |i, j| (i + 2 * j) as f64 * 0.2 - 0.5);
        let dyn_w = DMatrix::from_column_slice(2, 3, w.as_slice());
        let dyn_x = DMatrix::from_column_slice(3, 4, x.as_slice());
        let dyn_d = DMatrix::from_column_slice(2, 4, d.as_slice());

        assert_eq!(matmul(&w, &x).as_slice(), (&dyn_w * &dyn_x).as_slice());
        assert_eq!(
            tr_matmul(&w, &d).as_slice(),
            (dyn_w.transpose() * &dyn_d).as_slice()
        );
        let mut g = Matrix2x3::from_element(1.0);
        add_mul_tr(&mut g, &d, &x);
        let expected = DMatrix::from_element(2, 3, 1.0) + &dyn_d * dyn_x.transpose();
        assert!((DMatrix::from_column_slice(2, 3, g.as_slice()) - expected).amax() < 1e-12);
    }

    #[test]
    fn per_sample_products_match_nalgebra() {
        use nalgebra::{SMatrix, SVector};
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
    }

    #[test]
    fn empty_batch_is_a_no_op() {
        let w = Matrix2x3::<f32>::from_element(1.0);
        assert_eq!(matmul(&w, &Batch::<f32, 3>::zeros(0)).ncols(), 0);
        let mut g = w;
        add_mul_tr(
            &mut g,
            &Batch::<f32, 2>::zeros(0),
            &Batch::<f32, 3>::zeros(0),
        );
        assert_eq!(g, w);
    }
}
