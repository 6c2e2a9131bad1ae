//! Matrix products for minibatches, on `matrixmultiply`, and for single samples.
//!
//! nalgebra multiplies statically-sized matrices with its own loops and transposes by copying;
//! a batch (samples as columns, a [`Dyn`] column count) goes here instead, where every product
//! is one GEMM call with strides, and a transpose is only a swap of strides.
//!
//! # Threads
//!
//! With the `std` feature, a large batch product (at least [`PARALLEL_MIN_MACS`]
//! multiply-adds) called from inside a rayon thread pool is split into one block of rows or
//! columns per thread of that pool; outside a pool every product runs on the calling thread.
//! So a training step runs on two threads when it runs inside a two-thread pool, which is
//! what [`fit`](crate::train::fit) does for `TrainConfig { threads: 2, .. }`:
//!
//! ```
//! # use nn_runtime::{Batch, Parameters};
//! nn_runtime::network! {
//!     struct Net { input: 784, h: dense(512, relu), out: dense(10), loss: softmax_cross_entropy }
//! }
//! let net = Net::<f32>::boxed_zeros();
//! let mut grad = Net::<f32>::boxed_zeros();
//! let x = Batch::<f32, 784>::from_element(128, 0.5);
//! let labels = [3; 128];
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
//! let loss = pool.install(|| net.backward_batch_labels(&x, &labels, &mut grad));
//! assert!((loss - 10f32.ln()).abs() < 1e-5); // zero weights: a uniform prediction
//! ```

use core::ops::Range;

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
    let parts = if m * n * k >= 2 * PARALLEL_MIN_MACS {
        pool_threads()
    } else {
        1
    };
    // SAFETY: the assertion above proves every operand holds exactly the elements its shape and
    // strides address; `c` is a unique borrow, so it overlaps neither input.
    unsafe { product.run(0..m, 0..n, parts) }
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
/// inside a thread pool: about 20 µs of work on one core, against the few microseconds it
/// takes to hand a block to a sleeping thread and wait for it.
pub const PARALLEL_MIN_MACS: usize = 1 << 20;

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
type Block = (Range<usize>, Range<usize>);

/// Where to cut a block of `C` that `parts` threads share: two blocks for `parts / 2` and
/// `parts - parts / 2` threads, or `None` if the block is too small to cut. The cut divides
/// the input that gets packed the most: the rows (of `A` and `C`) when `A` (`m × k`) is at
/// least as large as `B` (`k × n`), else the columns (of `B` and `C`); it falls on a multiple
/// of 16 from the block's start, so every part but the last runs whole GEMM micro-kernels.
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
                        $generic::<T, true>($($arg),*)
                    }
                    // SAFETY: the CPU has AVX2 and FMA, checked just above.
                    return unsafe { wide($($arg),*) };
                }
                let _ = size;
                $generic::<T, false>($($arg),*)
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
        /// `G += α d xᵀ`, `G` `[d.len(), x.len()]` column-major.
        ger => ger_loops(g: &mut [T], d: &[T], x: &[T], alpha: T)
    );
    dispatch!(
        /// `out = Wᵀ d`, then `W += α d xᵀ`, column by column.
        tr_gemv_ger => tr_gemv_ger_loops(w: &mut [T], d: &[T], x: &[T], alpha: T, out: &mut [T])
    );

    /// `a b + c`: one fused multiply-add where the loops are compiled with FMA (`FMA = true`,
    /// only inside the `avx2,fma` copies), else a multiply and an add (`mul_add` without the
    /// instruction would be a slow library call).
    #[inline(always)]
    fn madd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
        if FMA { a.mul_add(b, c) } else { a * b + c }
    }

    /// Four columns per pass over `y`, so `y` is loaded and stored once per four columns.
    #[inline(always)]
    fn gemv_loops<T: Real, const FMA: bool>(w: &[T], x: &[T], y: &mut [T]) {
        let rows = y.len();
        let blocks = w.chunks_exact(4 * rows);
        let (tail_w, x_blocks) = (blocks.remainder(), x.chunks_exact(4));
        let tail_x = x_blocks.remainder();
        for (block, xs) in blocks.zip(x_blocks) {
            let (c0, rest) = block.split_at(rows);
            let (c1, rest) = rest.split_at(rows);
            let (c2, c3) = rest.split_at(rows);
            for ((((y, &a), &b), &c), &d) in y.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3) {
                let sum = madd::<T, FMA>(xs[0], a, *y);
                let sum = madd::<T, FMA>(xs[1], b, sum);
                let sum = madd::<T, FMA>(xs[2], c, sum);
                *y = madd::<T, FMA>(xs[3], d, sum);
            }
        }
        for (col, &xv) in tail_w.chunks_exact(rows).zip(tail_x) {
            axpy::<T, FMA>(xv, col, y);
        }
    }

    /// Four columns per pass: four dot products with `d` at once, so that short columns (an
    /// output layer's 10 rows) run four independent sums instead of one chain of dependent adds.
    #[inline(always)]
    fn tr_gemv_loops<T: Real, const FMA: bool>(w: &[T], d: &[T], out: &mut [T]) {
        let rows = d.len();
        let mut blocks = w.chunks_exact(4 * rows);
        let mut outs = out.chunks_exact_mut(4);
        for (block, o) in (&mut blocks).zip(&mut outs) {
            let (c0, rest) = block.split_at(rows);
            let (c1, rest) = rest.split_at(rows);
            let (c2, c3) = rest.split_at(rows);
            o.copy_from_slice(&dot4([c0, c1, c2, c3], d));
        }
        for (o, col) in outs
            .into_remainder()
            .iter_mut()
            .zip(blocks.remainder().chunks_exact(rows))
        {
            *o = dot::<T, FMA>(col, d);
        }
    }

    #[inline(always)]
    fn ger_loops<T: Real, const FMA: bool>(g: &mut [T], d: &[T], x: &[T], alpha: T) {
        for (col, &xv) in g.chunks_exact_mut(d.len()).zip(x) {
            axpy::<T, FMA>(alpha * xv, d, col);
        }
    }

    /// [`tr_gemv_loops`] and [`ger_loops`] in one pass: each block of four columns gives its
    /// dot products with `d` and then takes its update.
    #[inline(always)]
    fn tr_gemv_ger_loops<T: Real, const FMA: bool>(
        w: &mut [T],
        d: &[T],
        x: &[T],
        alpha: T,
        out: &mut [T],
    ) {
        let rows = d.len();
        let mut blocks = w.chunks_exact_mut(4 * rows);
        let mut outs = out.chunks_exact_mut(4);
        let mut xs = x.chunks_exact(4);
        for ((block, o), xv) in (&mut blocks).zip(&mut outs).zip(&mut xs) {
            let (c0, rest) = block.split_at_mut(rows);
            let (c1, rest) = rest.split_at_mut(rows);
            let (c2, c3) = rest.split_at_mut(rows);
            o.copy_from_slice(&dot4([&*c0, &*c1, &*c2, &*c3], d));
            for (col, &xv) in [c0, c1, c2, c3].into_iter().zip(xv) {
                axpy::<T, FMA>(alpha * xv, d, col);
            }
        }
        let tail = blocks.into_remainder().chunks_exact_mut(rows);
        for ((o, col), &xv) in outs
            .into_remainder()
            .iter_mut()
            .zip(tail)
            .zip(xs.remainder())
        {
            *o = dot::<T, FMA>(col, d);
            axpy::<T, FMA>(alpha * xv, d, col);
        }
    }

    /// Four dot products with `d`, eight lanes per column, added up as a tree.
    #[inline(always)]
    fn dot4<T: Real>(cols: [&[T]; 4], d: &[T]) -> [T; 4] {
        const L: usize = 8;
        let mut acc = [[T::zero(); L]; 4];
        let split = d.len() / L * L;
        for (i, ds) in d[..split].chunks_exact(L).enumerate() {
            for (acc, col) in acc.iter_mut().zip(cols) {
                let col = &col[i * L..(i + 1) * L];
                for l in 0..L {
                    acc[l] += col[l] * ds[l];
                }
            }
        }
        let mut sums = acc.map(|a| {
            let half = [a[0] + a[4], a[1] + a[5], a[2] + a[6], a[3] + a[7]];
            (half[0] + half[2]) + (half[1] + half[3])
        });
        for (i, &dv) in d.iter().enumerate().skip(split) {
            for (sum, col) in sums.iter_mut().zip(cols) {
                *sum += col[i] * dv;
            }
        }
        sums
    }

    /// A dot product with 16 independent partial sums, which the compiler vectorizes, added
    /// up as a tree (8 + 8, 4 + 4, …: vector adds, not a chain of 16 scalar ones, which would
    /// cost more than the products on a 64-wide layer).
    #[inline(always)]
    fn dot<T: Real, const FMA: bool>(a: &[T], b: &[T]) -> T {
        const L: usize = 16;
        let mut acc = [T::zero(); L];
        let split = a.len() / L * L;
        for (x, y) in a[..split].chunks_exact(L).zip(b[..split].chunks_exact(L)) {
            for l in 0..L {
                // Not `madd`: LLVM vectorizes this loop with FMA only two lanes wide.
                acc[l] += x[l] * y[l];
            }
        }
        let mut width = L / 2;
        while width > 0 {
            for l in 0..width {
                acc[l] += acc[l + width];
            }
            width /= 2;
        }
        let mut sum = acc[0];
        for (&x, &y) in a[split..].iter().zip(&b[split..]) {
            sum = madd::<T, FMA>(x, y, sum);
        }
        sum
    }

    /// `y += a x`.
    #[inline(always)]
    fn axpy<T: Real, const FMA: bool>(a: T, x: &[T], y: &mut [T]) {
        for (y, &x) in y.iter_mut().zip(x) {
            *y = madd::<T, FMA>(a, x, *y);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nalgebra::{DMatrix, Matrix2x3, SMatrix};

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
        use nalgebra::SVector;
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
        const { assert!(64 * 40 * 1000 >= 2 * PARALLEL_MIN_MACS) };
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
