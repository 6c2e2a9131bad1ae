//! Products for a minibatch (samples as columns), each one `matrixmultiply` GEMM with strides
//! (a transpose is a swap of strides), split over the threads of the caller's rayon pool when
//! it is large (see [the module's threads](super#threads)).

use core::ops::Range;

use nalgebra::SMatrix;

use super::Batch;
use super::view::{BatchOf, BatchStorage, packed};
use crate::Real;

/// A read-only view of column-major storage, possibly transposed.
pub(crate) struct View<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: isize,
    col_stride: isize,
}

impl<'a, T> View<'a, T> {
    /// A column-major `rows × cols` matrix as it is stored.
    pub(crate) fn plain(data: &'a [T], rows: usize, cols: usize) -> Self {
        Self {
            data,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows as isize,
        }
    }

    /// The transpose of a column-major `rows × cols` matrix, without copying.
    pub(crate) fn transposed(data: &'a [T], rows: usize, cols: usize) -> Self {
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
pub(crate) fn gemm<T: Real>(a: View<'_, T>, b: View<'_, T>, beta: T, c: &mut [T]) {
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
    let product = Product {
        a: a.data.as_ptr(),
        a_strides: (a.row_stride, a.col_stride),
        b: b.data.as_ptr(),
        b_strides: (b.row_stride, b.col_stride),
        c: c.as_mut_ptr(),
        c_rows: m,
        k,
        beta,
    };
    let parts = parts(m * k * n);
    // SAFETY: the assertion above proves every operand holds exactly the elements its shape and
    // strides address; `c` is a unique borrow, so it overlaps neither input.
    unsafe { product.run(0..m, 0..n, parts) }
}

/// How many blocks a product of `macs` multiply-adds is split into: one per thread of the
/// caller's rayon pool from [`PARALLEL_MIN_MACS`] on, else 1.
fn parts(macs: usize) -> usize {
    if macs >= PARALLEL_MIN_MACS {
        pool_threads()
    } else {
        1
    }
}

/// The threads of the rayon pool the caller runs in, or 1 outside a pool.
fn pool_threads() -> usize {
    #[cfg(feature = "std")]
    if rayon::current_thread_index().is_some() {
        return rayon::current_num_threads();
    }
    1
}

/// Below this many multiply-adds (`m · k · n`) a product stays on the calling thread even
/// inside a thread pool: about 40 µs of work on one core, against the few microseconds it
/// takes to hand a block to a sleeping thread and wait for it. (2²¹ = 2 097 152: a
/// 512 × 784 layer splits from 6 samples on, a 64 × 64 one from 512.)
pub const PARALLEL_MIN_MACS: usize = 1 << 21;

/// The operands of `C = A B + β C` as raw parts, column-major `C` (`c_rows` rows), so blocks
/// of it can go to different threads.
struct Product<T> {
    a: *const T,
    a_strides: (isize, isize),
    b: *const T,
    b_strides: (isize, isize),
    c: *mut T,
    c_rows: usize,
    k: usize,
    beta: T,
}

// SAFETY: a `Product` is only shared while its `run` calls write disjoint blocks of `C` and
// read `A` and `B`, which nothing writes meanwhile (see `Product::run`).
unsafe impl<T: Send> Send for Product<T> {}
// SAFETY: as for `Send`: shared only while the blocks written are disjoint.
unsafe impl<T: Sync> Sync for Product<T> {}

impl<T: Real> Product<T> {
    /// Computes the block `rows × cols` of `C` as `parts` blocks of about equal size (see
    /// [`halves`]), on as many tasks of the current rayon pool.
    ///
    /// # Safety
    /// The operands are valid for their shapes and strides, `C` is writable and overlaps
    /// neither input, and no other code touches this block of `C` meanwhile.
    #[cfg_attr(not(feature = "std"), allow(unused_variables))]
    unsafe fn run(&self, rows: Range<usize>, cols: Range<usize>, parts: usize) {
        #[cfg(feature = "std")]
        if parts > 1 {
            let halves = halves(&rows, &cols, parts);
            if let Some(((r0, c0), (r1, c1))) = halves {
                // SAFETY: the two halves are disjoint blocks of this block.
                rayon::join(
                    || unsafe { self.run(r0, c0, parts / 2) },
                    || unsafe { self.run(r1, c1, parts - parts / 2) },
                );
                return;
            }
        }
        let (m, n) = (rows.len(), cols.len());
        let ((ars, acs), (brs, bcs)) = (self.a_strides, self.b_strides);
        // SAFETY: the caller's contract; the offsets select rows `rows` of `A` and `C` and
        // columns `cols` of `B` and `C`, inside their storage.
        unsafe {
            T::gemm(
                m,
                self.k,
                n,
                T::one(),
                self.a.offset(rows.start as isize * ars),
                ars,
                acs,
                self.b.offset(cols.start as isize * bcs),
                brs,
                bcs,
                self.beta,
                self.c.add(rows.start + cols.start * self.c_rows),
                1,
                self.c_rows as isize,
            );
        }
    }
}

/// A block's rows and columns.
#[cfg(feature = "std")]
type Block = (Range<usize>, Range<usize>);

/// Where to cut a block of `C` that `parts` threads share: two blocks for `parts / 2` and
/// `parts - parts / 2` threads, or `None` if the block is too small to cut. The cut divides
/// the input that gets packed the most: the rows (of `A` and `C`) when `A` (`m × k`) is at
/// least as large as `B` (`k × n`), else the columns (of `B` and `C`); it falls on a multiple
/// of 16 from the block's start, so every part but the last runs whole GEMM micro-kernels.
#[cfg(feature = "std")]
fn halves(rows: &Range<usize>, cols: &Range<usize>, parts: usize) -> Option<(Block, Block)> {
    let cut = |r: &Range<usize>| {
        let at = (r.len() * (parts / 2) / parts).next_multiple_of(16);
        (parts > 1 && at < r.len()).then_some(r.start + at)
    };
    if rows.len() >= cols.len() {
        let mid = cut(rows)?;
        Some((
            (rows.start..mid, cols.clone()),
            (mid..rows.end, cols.clone()),
        ))
    } else {
        let mid = cut(cols)?;
        Some((
            (rows.clone(), cols.start..mid),
            (rows.clone(), mid..cols.end),
        ))
    }
}

/// `W X`: a weight `[R, K]` applied to every column of a batch (owned or a view).
#[inline]
pub fn matmul<T: Real, const R: usize, const K: usize, S: BatchStorage<T, K>>(
    weight: &SMatrix<T, R, K>,
    x: &BatchOf<T, K, S>,
) -> Batch<T, R> {
    let n = x.ncols();
    let mut out = Batch::<T, R>::zeros(n);
    gemm(
        View::plain(weight.as_slice(), R, K),
        View::plain(&packed(x), K, n),
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

/// `G += D Hᵀ`: a weight gradient summed over the columns of a batch (`H` owned or a view).
#[inline]
pub fn add_mul_tr<T: Real, const R: usize, const K: usize, S: BatchStorage<T, K>>(
    grad: &mut SMatrix<T, R, K>,
    delta: &Batch<T, R>,
    h: &BatchOf<T, K, S>,
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
        View::transposed(&packed(h), K, n),
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

    #[cfg(feature = "std")]
    #[test]
    fn blocks_split_on_the_larger_input_at_multiples_of_16() {
        // A 512 × k times k × 128: the rows (A's) are cut, in two for two threads.
        assert_eq!(
            halves(&(0..512), &(0..128), 2),
            Some(((0..256, 0..128), (256..512, 0..128)))
        );
        // Columns when B is larger; 100 / 2 = 50 rounds up to 64.
        assert_eq!(
            halves(&(0..10), &(0..100), 2),
            Some(((0..10, 0..64), (0..10, 64..100)))
        );
        // Three threads: a third, then the rest for two.
        assert_eq!(
            halves(&(16..400), &(0..8), 3),
            Some(((16..144, 0..8), (144..400, 0..8)))
        );
        // Too narrow to cut, or one thread.
        assert_eq!(halves(&(0..16), &(0..4), 2), None);
        assert_eq!(halves(&(0..512), &(0..128), 1), None);
    }

    #[cfg(feature = "std")]
    #[test]
    fn products_split_over_a_pool_equal_the_serial_ones() {
        // 64 × 40 weights, 1000 samples: 2.56M multiply-adds, above the threshold. (Small
        // static matrices: debug builds keep every temporary on the stack.)
        const { assert!(64 * 40 * 1000 >= PARALLEL_MIN_MACS) };
        let w = SMatrix::<f64, 64, 40>::from_fn(|i, j| ((i * 31 + j * 7) % 23) as f64 - 11.0);
        let x = Batch::<f64, 40>::from_fn(1000, |i, j| ((i * 5 + j * 13) % 17) as f64 * 0.5);
        let d = Batch::<f64, 64>::from_fn(1000, |i, j| ((i * 3 + j) % 19) as f64 - 9.0);
        let products = || {
            let mut g = SMatrix::<f64, 64, 40>::from_element(1.0);
            add_mul_tr(&mut g, &d, &x);
            (matmul(&w, &x), tr_matmul(&w, &d), g)
        };
        let serial = products();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        let parallel = pool.install(|| {
            assert_eq!(pool_threads(), 2);
            products()
        });
        assert_eq!(pool_threads(), 1);
        // Small integers and halves: every sum is exact, so a lost or doubled block would show.
        assert_eq!(serial, parallel);
        let dyn_w = DMatrix::from_column_slice(64, 40, w.as_slice());
        let dyn_x = DMatrix::from_column_slice(40, 1000, x.as_slice());
        assert_eq!(parallel.0, dyn_w * dyn_x);
    }

    #[cfg(feature = "std")]
    #[test]
    fn products_split_from_parallel_min_macs_on() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap();
        pool.install(|| {
            assert_eq!(parts(PARALLEL_MIN_MACS - 1), 1);
            assert_eq!(parts(PARALLEL_MIN_MACS), 2);
        });
        assert_eq!(parts(PARALLEL_MIN_MACS), 1, "outside a pool");
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
