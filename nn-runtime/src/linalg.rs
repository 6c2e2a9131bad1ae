//! Matrix products for minibatches, on `matrixmultiply`.
//!
//! nalgebra multiplies statically-sized matrices with its own loops and transposes by copying;
//! a batch (samples as columns, a [`Dyn`] column count) goes here instead, where every product
//! is one GEMM call with strides, and a transpose is only a swap of strides.

use nalgebra::{Const, Dyn, OMatrix, SMatrix};

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
