//! The per-sample loops, generic over the scalar, and their run-time dispatch: each loop is
//! compiled for the baseline and (with `std` on x86-64) for AVX2 + FMA, and for `f32` there
//! are register-blocked AVX-512 kernels ([`avx512`](super::avx512)); the best the CPU can run
//! is chosen at each call ([`Isa::pick`]).

use core::mem::MaybeUninit;

#[cfg(all(feature = "std", target_arch = "x86_64"))]
use super::avx512;
use super::sample::Fused;
use crate::Real;

/// Below this many weights a layer stays on the inlined baseline loops: the dispatch (a
/// cached feature check and a call that is not inlined) costs more than it saves.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
const WIDE_MIN: usize = 256;

/// The instruction sets the per-sample loops run on.
///
/// A value other than `Baseline` is made only by [`Isa::pick`] (or, in tests, `available`),
/// after checking that the CPU has it: the dispatch relies on that.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Isa {
    /// The target's baseline (SSE2 on x86-64), loops inlined at the call site.
    Baseline,
    /// The generic loops compiled for AVX2 + FMA.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx2Fma,
    /// AVX-512F intrinsics for `f32` (`f64` takes the AVX2 + FMA loops); the CPU also has
    /// AVX2 + FMA.
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    Avx512,
}

impl Isa {
    /// The best this CPU runs, for a product of `size` weights. (Without std or off x86-64 only
    /// the baseline exists, and only the tests ask.)
    #[cfg_attr(not(all(feature = "std", target_arch = "x86_64")), allow(dead_code))]
    #[inline]
    pub(super) fn pick(size: usize) -> Self {
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if size >= WIDE_MIN
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma")
        {
            return if std::is_x86_feature_detected!("avx512f") {
                Isa::Avx512
            } else {
                Isa::Avx2Fma
            };
        }
        let _ = size;
        Isa::Baseline
    }

    /// Every instruction set this CPU runs, baseline first.
    #[cfg(test)]
    pub(super) fn available() -> alloc::vec::Vec<Self> {
        let mut all = alloc::vec![Isa::Baseline];
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        {
            let best = Isa::pick(WIDE_MIN);
            if best != Isa::Baseline {
                all.push(Isa::Avx2Fma);
            }
            if best == Isa::Avx512 {
                all.push(Isa::Avx512);
            }
        }
        all
    }
}

/// `s` as `f32`s, when `T` is `f32`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
fn f32s<T: Real>(s: &[T]) -> Option<&[f32]> {
    (core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `T` is `f32`: the same slice, retyped.
        unsafe { core::slice::from_raw_parts(s.as_ptr().cast::<f32>(), s.len()) }
    })
}

/// `s` as `f32`s, when `T` is `f32`.
#[cfg(all(feature = "std", target_arch = "x86_64"))]
#[inline(always)]
fn f32s_mut<T: Real>(s: &mut [T]) -> Option<&mut [f32]> {
    (core::any::TypeId::of::<T>() == core::any::TypeId::of::<f32>()).then(|| {
        // SAFETY: `T` is `f32`: the same slice, retyped, borrowed uniquely as `s` was.
        unsafe { core::slice::from_raw_parts_mut(s.as_mut_ptr().cast::<f32>(), s.len()) }
    })
}

/// Each kernel `$name(size, ..)`: below [`WIDE_MIN`] weights the baseline loops, inlined at the
/// call site; from there one call to `large`, a single copy per scalar type that picks the best
/// [`Isa`] this CPU runs. `large` is never inlined: `size` is a constant at each call site (`R * K`
/// of the layer), so a layer's call compiles to a branch the compiler folds and a call, and a deep
/// network's generated code does not carry a copy of every instruction set's loops per layer
/// (measured on a 128-layer network: 8% of the CPU time of its release build; see
/// BENCHMARKS.md, "History", "The forward record").
macro_rules! dispatch {
    ($(#[$doc:meta])* $name:ident => $on:ident($($arg:ident: $ty:ty),*)) => {
        $(#[$doc])*
        #[inline]
        pub(super) fn $name<T: Real>(size: usize, $($arg: $ty),*) {
            #[cfg(all(feature = "std", target_arch = "x86_64"))]
            if size >= WIDE_MIN {
                #[inline(never)]
                fn large<T: Real>($($arg: $ty),*) {
                    $on(Isa::pick(WIDE_MIN), $($arg),*)
                }
                return large::<T>($($arg),*);
            }
            let _ = size;
            $on(Isa::Baseline, $($arg),*)
        }
    };
}

dispatch! {
    /// `y += W x`, `W` `[y.len(), x.len()]` column-major.
    gemv => gemv_on(w: &[T], x: &[T], y: &mut [T])
}

dispatch! {
    /// `out = Wᵀ d`, `W` `[d.len(), out.len()]` column-major.
    tr_gemv => tr_gemv_on(w: &[T], d: &[T], out: &mut [T])
}

dispatch! {
    /// `G += α d xᵀ`, `G` `[d.len(), x.len()]` column-major.
    ger => ger_on(g: &mut [T], d: &[T], x: &[T], alpha: T)
}

dispatch! {
    /// `out = Wᵀ d`, then `W += α d xᵀ`, column by column.
    tr_gemv_ger => tr_gemv_ger_on(w: &mut [T], d: &[T], x: &[T], alpha: T, out: &mut [T])
}

/// `z = W x + b` (no `b` if `None`) into `out[..R]` and, if `out` is `2 R` long, `h = σ(z)`
/// for `σ` the [`Fused`] activation into `out[R..]`; if `out` is `R` long, `h` alone into it.
/// In one pass, `W` `[R, K]` column-major:
/// for `f32` from [`WIDE_MIN`] weights on a CPU with AVX-512F. Returns whether it ran; if not,
/// nothing is written and the caller computes the layer as before (the product, the bias, the
/// activation), so that every other scalar and CPU keeps its results bit for bit.
#[inline]
pub(super) fn affine<T: Real, const R: usize, const K: usize>(
    w: &[T],
    x: &[T],
    b: Option<&[T]>,
    out: &mut [MaybeUninit<T>],
    fused: Fused,
) -> bool {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if w.len() >= WIDE_MIN
        && let (Some(w), Some(x)) = (f32s(w), f32s(x))
        && Isa::pick(WIDE_MIN) == Isa::Avx512
    {
        // SAFETY: `T` is `f32` (`w` retyped above): the same slice, retyped, borrowed uniquely
        // as `out` was.
        let out = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast(), out.len()) };
        let b = b.map(|b| f32s(b).expect("`T` is `f32`"));
        // SAFETY: `Isa::Avx512` is made only when the CPU has AVX-512F.
        unsafe { avx512::affine_sized::<R, K>(w, x, b, out, fused == Fused::Relu) };
        return true;
    }
    let _ = (w, x, b, out, fused);
    false
}

/// [`gemv`] on `isa`.
#[inline]
fn gemv_on<T: Real>(isa: Isa, w: &[T], x: &[T], y: &mut [T]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if isa != Isa::Baseline {
        if isa == Isa::Avx512
            && let (Some(w), Some(x), Some(y)) = (f32s(w), f32s(x), f32s_mut(&mut *y))
        {
            // SAFETY: `Isa::Avx512` is made only when the CPU has AVX-512F.
            return unsafe { avx512::gemv(w, x, y) };
        }
        #[target_feature(enable = "avx2,fma")]
        fn wide<T: Real>(w: &[T], x: &[T], y: &mut [T]) {
            gemv_loops::<T, true>(w, x, y);
        }
        // SAFETY: `isa` is not the baseline, so the CPU has AVX2 and FMA.
        return unsafe { wide(w, x, y) };
    }
    let _ = isa;
    gemv_loops::<T, false>(w, x, y);
}

/// [`tr_gemv`] on `isa`.
#[inline]
fn tr_gemv_on<T: Real>(isa: Isa, w: &[T], d: &[T], out: &mut [T]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if isa != Isa::Baseline {
        if isa == Isa::Avx512
            && let (Some(w), Some(d), Some(out)) = (f32s(w), f32s(d), f32s_mut(&mut *out))
        {
            // SAFETY: `Isa::Avx512` is made only when the CPU has AVX-512F.
            return unsafe { avx512::tr_gemv(w, d, out) };
        }
        #[target_feature(enable = "avx2,fma")]
        fn wide<T: Real>(w: &[T], d: &[T], out: &mut [T]) {
            tr_gemv_loops::<T, true>(w, d, out);
        }
        // SAFETY: `isa` is not the baseline, so the CPU has AVX2 and FMA.
        return unsafe { wide(w, d, out) };
    }
    let _ = isa;
    tr_gemv_loops::<T, false>(w, d, out);
}

/// [`ger`] on `isa`.
#[inline]
fn ger_on<T: Real>(isa: Isa, g: &mut [T], d: &[T], x: &[T], alpha: T) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if isa != Isa::Baseline {
        if isa == Isa::Avx512
            && let (Some(g), Some(d), Some(x)) = (f32s_mut(&mut *g), f32s(d), f32s(x))
        {
            // SAFETY: `Isa::Avx512` is made only when the CPU has AVX-512F.
            return unsafe { avx512::ger(g, d, x, alpha.to_f64() as f32) };
        }
        #[target_feature(enable = "avx2,fma")]
        fn wide<T: Real>(g: &mut [T], d: &[T], x: &[T], alpha: T) {
            ger_loops::<T, true>(g, d, x, alpha);
        }
        // SAFETY: `isa` is not the baseline, so the CPU has AVX2 and FMA.
        return unsafe { wide(g, d, x, alpha) };
    }
    let _ = isa;
    ger_loops::<T, false>(g, d, x, alpha);
}

/// [`tr_gemv_ger`] on `isa`.
#[inline]
fn tr_gemv_ger_on<T: Real>(isa: Isa, w: &mut [T], d: &[T], x: &[T], alpha: T, out: &mut [T]) {
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    if isa != Isa::Baseline {
        if isa == Isa::Avx512
            && let (Some(w), Some(d), Some(x), Some(out)) =
                (f32s_mut(&mut *w), f32s(d), f32s(x), f32s_mut(&mut *out))
        {
            // SAFETY: `Isa::Avx512` is made only when the CPU has AVX-512F.
            return unsafe { avx512::tr_gemv_ger(w, d, x, alpha.to_f64() as f32, out) };
        }
        #[target_feature(enable = "avx2,fma")]
        fn wide<T: Real>(w: &mut [T], d: &[T], x: &[T], alpha: T, out: &mut [T]) {
            tr_gemv_ger_loops::<T, true>(w, d, x, alpha, out);
        }
        // SAFETY: `isa` is not the baseline, so the CPU has AVX2 and FMA.
        return unsafe { wide(w, d, x, alpha, out) };
    }
    let _ = isa;
    tr_gemv_ger_loops::<T, false>(w, d, x, alpha, out);
}

/// `a b + c`: one fused multiply-add where the loops are compiled with FMA (`FMA = true`,
/// only inside the `avx2,fma` copies), else a multiply and an add (`mul_add` without the
/// instruction would be a slow library call).
#[inline(always)]
pub(crate) fn madd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// Four columns per pass over `y`, so `y` is loaded and stored once per four columns.
#[inline(always)]
fn gemv_loops<T: Real, const FMA: bool>(w: &[T], x: &[T], y: &mut [T]) {
    let rows = y.len();
    if rows == 1 {
        // One output (a dense layer to one value, as a streaming model's head): a dot
        // product on eight partial sums rather than one chain of dependent adds.
        y[0] += dot8::<T, FMA>(w, x);
        return;
    }
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

/// A dot product on eight partial sums (`a[i] b[i]` into sum `i mod 8`), added up as a tree:
/// short rows, which [`dot`]'s sixteen lanes would leave to its sequential tail.
#[inline(always)]
fn dot8<T: Real, const FMA: bool>(a: &[T], b: &[T]) -> T {
    // `−0`, the identity of `+`: a sum's first product needs no add.
    let mut acc = [-T::zero(); 8];
    let (a_blocks, a_tail) = a.as_chunks::<8>();
    let (b_blocks, b_tail) = b.as_chunks::<8>();
    for (a, b) in a_blocks.iter().zip(b_blocks) {
        for l in 0..8 {
            acc[l] = madd::<T, FMA>(a[l], b[l], acc[l]);
        }
    }
    for ((acc, &a), &b) in acc.iter_mut().zip(a_tail).zip(b_tail) {
        *acc = madd::<T, FMA>(a, b, *acc);
    }
    let half = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (half[0] + half[2]) + (half[1] + half[3])
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

#[cfg(test)]
mod tests {
    use alloc::format;
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;

    /// Largest difference from the baseline allowed, relative to `Σ |a b|` of the sum it is
    /// in: the kernels add the same products in another order (lanes, trees, fused
    /// multiply-adds), each addition rounding by at most `ε / 2` (`f32`: 6e-8), over at most a
    /// few dozen additions per sum here.
    const TOL: f32 = 4e-6;

    /// Shapes that reach every tail: rows below, at and past 16, 64 and 128 (the AVX-512 row
    /// blocks and masks; below 16 every group shape of the flat kernel), columns below, at and
    /// past 4, 8 and 16 (column groups and phases).
    const ROWS: [usize; 13] = [1, 3, 5, 8, 10, 12, 15, 16, 17, 37, 64, 130, 257];
    const COLS: [usize; 7] = [1, 3, 7, 8, 9, 17, 64];

    fn values(n: usize, seed: usize) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 + seed * 11) % 23) as f32 / 11.0 - 1.0)
            .collect()
    }

    fn assert_close(isa: Isa, what: &str, got: &[f32], want: &[f32], scale: &[f32]) {
        for (i, ((g, w), s)) in got.iter().zip(want).zip(scale).enumerate() {
            assert!(
                (g - w).abs() <= TOL * s.max(1.0),
                "{what} on {isa:?}, element {i}: {g} against the baseline's {w}"
            );
        }
    }

    #[test]
    fn every_isa_matches_the_baseline() {
        for isa in Isa::available() {
            for rows in ROWS {
                for cols in COLS {
                    // 4 floats past a line: 16 bytes, as `malloc` aligns.
                    matches_the_baseline(isa, rows, cols, 4);
                }
            }
        }
    }

    /// A one-row `W x` (a dense layer to one output) is the dot product, from any `y`, for
    /// rows shorter than, equal to and longer than the eight partial sums.
    #[test]
    fn one_row_gemv_is_the_dot_product() {
        for cols in [1, 7, 8, 9, 16, 40] {
            let (w, x) = (values(cols, 5), values(cols, 6));
            let exact: f64 = 0.5
                + w.iter()
                    .zip(&x)
                    .map(|(&a, &b)| f64::from(a * b))
                    .sum::<f64>();
            for isa in Isa::available() {
                let mut y = [0.5];
                gemv_on(isa, &w, &x, &mut y);
                assert!(
                    (f64::from(y[0]) - exact).abs() < 1e-5,
                    "{isa:?}, {cols} columns"
                );
            }
        }
    }

    /// The weights at every offset from a 64-byte line (the AVX-512 kernels shift their loads
    /// onto the lines when every column starts at the same offset, rows a multiple of 16).
    #[test]
    fn every_isa_matches_the_baseline_at_every_alignment() {
        for isa in Isa::available() {
            for rows in [16, 48, 64, 128, 144, 256, 272, 512, 10] {
                let cols = 9;
                for shift in 0..16 {
                    matches_the_baseline(isa, rows, cols, shift);
                }
            }
        }
    }

    /// `values` copied `shift` floats past a 64-byte line of a new buffer: the buffer, and
    /// where in it the copy starts.
    fn past_a_line(values: &[f32], shift: usize) -> (Vec<f32>, usize) {
        let mut buffer = vec![0.0; values.len() + 2 * 16];
        let start = buffer.as_ptr().align_offset(64) + shift;
        buffer[start..start + values.len()].copy_from_slice(values);
        (buffer, start)
    }

    /// Every kernel on `isa` against the baseline, `W` `[rows, cols]` placed `shift` floats
    /// past a 64-byte line.
    fn matches_the_baseline(isa: Isa, rows: usize, cols: usize, shift: usize) {
        let n = rows * cols;
        let (x, d) = (values(cols, 2), values(rows, 3));
        let abs = |v: &[f32]| v.iter().map(|v| v.abs()).collect::<Vec<_>>();
        let what = |op: &str| format!("{op} [{rows}, {cols}], {shift} floats past a line");
        let (placed, start) = past_a_line(&values(n, 1), shift);
        let w = &placed[start..start + n];

        // y += W x, from a nonzero y.
        let (mut y, mut want) = (values(rows, 4), values(rows, 4));
        gemv_on(isa, w, &x, &mut y);
        gemv_on(Isa::Baseline, w, &x, &mut want);
        let mut scale = abs(&values(rows, 4));
        gemv_on(Isa::Baseline, &abs(w), &abs(&x), &mut scale);
        assert_close(isa, &what("gemv"), &y, &want, &scale);

        // z = W x + b and h = max(z, 0) (or h = z), written without reading z or h.
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if isa == Isa::Avx512 {
            affine_matches_the_baseline(w, &x, rows, &what("affine"));
        }

        // out = Wᵀ d.
        let (mut out, mut want) = (vec![9.0; cols], vec![0.0; cols]);
        tr_gemv_on(isa, w, &d, &mut out);
        tr_gemv_on(Isa::Baseline, w, &d, &mut want);
        let mut scale = vec![0.0; cols];
        tr_gemv_on(Isa::Baseline, &abs(w), &abs(&d), &mut scale);
        assert_close(isa, &what("tr_gemv"), &out, &want, &scale);

        // G += α d xᵀ: one product per element, rounded once either way.
        let ((mut g, at), mut want) = (past_a_line(w, shift), w.to_vec());
        let g = &mut g[at..at + n];
        ger_on(isa, g, &d, &x, -0.3);
        ger_on(Isa::Baseline, &mut want, &d, &x, -0.3);
        assert_close(isa, &what("ger"), g, &want, &abs(w));

        // The fused form: the same Wᵀ d (old weights) and the same update.
        let ((mut fused, at), mut dots) = (past_a_line(w, shift), vec![9.0; cols]);
        let fused = &mut fused[at..at + n];
        tr_gemv_ger_on(isa, fused, &d, &x, -0.3, &mut dots);
        assert_close(isa, &what("tr_gemv_ger (Wᵀ d)"), &dots, &out, &scale);
        assert_close(isa, &what("tr_gemv_ger (W)"), fused, g, &abs(w));
    }

    /// The AVX-512 `affine` on `W` `[rows, x.len()]` against the baseline's `W x`, `+ b` and
    /// relu, with and without a bias and a relu, writing `(z, h)` and `h` alone; every output
    /// starts as NaN (never read).
    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    fn affine_matches_the_baseline(w: &[f32], x: &[f32], rows: usize, what: &str) {
        let b = values(rows, 5);
        let abs = |v: &[f32]| v.iter().map(|v| v.abs()).collect::<Vec<_>>();
        let mut scale = abs(&b);
        gemv_on(Isa::Baseline, &abs(w), &abs(x), &mut scale);
        for (bias, relu) in [(Some(&b[..]), true), (Some(&b[..]), false), (None, true)] {
            let mut want = bias.map_or(vec![0.0; rows], <[f32]>::to_vec);
            gemv_on(Isa::Baseline, w, x, &mut want);
            let want_h: Vec<f32> = want
                .iter()
                .map(|&z| if z > 0.0 || !relu { z } else { 0.0 })
                .collect();
            let mut pair = vec![MaybeUninit::new(f32::NAN); 2 * rows];
            // SAFETY: the test runs this only where `Isa::Avx512` was picked.
            unsafe { avx512::affine(w, x, bias, &mut pair, relu) };
            let mut alone = vec![MaybeUninit::new(f32::NAN); rows];
            // SAFETY: as above.
            unsafe { avx512::affine(w, x, bias, &mut alone, relu) };
            // SAFETY: every element was initialized (as NaN) before the calls.
            let (pair, alone): (Vec<f32>, Vec<f32>) = unsafe {
                (
                    pair.iter().map(|v| v.assume_init()).collect(),
                    alone.iter().map(|v| v.assume_init()).collect(),
                )
            };
            let (z, h) = (pair[..rows].to_vec(), pair[rows..].to_vec());
            assert_eq!(alone, h, "{what}: h without z");
            let what = format!("{what}, bias {}, relu {relu}", bias.is_some());
            assert_close(Isa::Avx512, &format!("{what}: z"), &z, &want, &scale);
            assert_close(Isa::Avx512, &format!("{what}: h"), &h, &want_h, &scale);
        }
    }

    #[test]
    fn f64_takes_the_generic_loops_on_every_isa() {
        let (rows, cols) = (37, 17);
        let w: Vec<f64> = values(rows * cols, 1)
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let x: Vec<f64> = values(cols, 2).iter().map(|&v| f64::from(v)).collect();
        let mut want = vec![0.0; rows];
        gemv_on(Isa::Baseline, &w, &x, &mut want);
        for isa in Isa::available() {
            let mut y = vec![0.0; rows];
            gemv_on(isa, &w, &x, &mut y);
            for (g, w) in y.iter().zip(&want) {
                assert!((g - w).abs() < 1e-12, "{isa:?}: {g} against {w}");
            }
        }
    }

    #[cfg(all(feature = "std", target_arch = "x86_64"))]
    #[test]
    fn avx512_is_picked_where_the_cpu_has_it() {
        let has = std::is_x86_feature_detected!("avx512f")
            && std::is_x86_feature_detected!("avx2")
            && std::is_x86_feature_detected!("fma");
        assert_eq!(Isa::pick(WIDE_MIN) == Isa::Avx512, has);
        assert_eq!(Isa::pick(WIDE_MIN - 1), Isa::Baseline);
    }
}
