//! The per-sample loops, generic over the scalar, and their run-time dispatch: each loop is
//! compiled twice, for the baseline and (with `std` on x86-64) for AVX2 + FMA, and the copy the
//! CPU can run is chosen at each call.

use crate::Real;

/// Below this many weights a layer stays on the inlined baseline loops: the dispatch (a
/// cached feature check and a call that is not inlined) costs more than it saves.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const WIDE_MIN: usize = 256;

/// Each kernel `$name(size, ..)`: below [`WIDE_MIN`] weights the baseline loops, inlined at the
/// call site; from there one call to `large`, a single copy per scalar type that checks the CPU
/// and runs the AVX2 + FMA loops or the baseline ones. `large` is never inlined: `size` is a
/// constant at each call site (`R * K` of the layer), so a layer's call compiles to a branch
/// the compiler folds and a call, and a deep network's generated code does not carry a copy of
/// the baseline loops per layer (measured on a 128-layer network: 8% of the CPU time of its
/// release build; see BENCHMARKS.md, "Compile time").
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident => $generic:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        #[inline]
        pub(super) fn $name<T: Real>(size: usize, $($arg: $ty),*) {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            if size >= WIDE_MIN {
                #[inline(never)]
                fn large<T: Real>($($arg: $ty),*) {
                    #[target_feature(enable = "avx2,fma")]
                    fn wide<T: Real>($($arg: $ty),*) {
                        $generic::<T, true>($($arg),*)
                    }
                    if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                        // SAFETY: the CPU has AVX2 and FMA, checked just above.
                        unsafe { wide($($arg),*) }
                    } else {
                        $generic::<T, false>($($arg),*)
                    }
                }
                return large::<T>($($arg),*);
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
