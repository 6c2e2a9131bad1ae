//! The per-sample loops for `f32` in AVX-512 intrinsics, register-blocked for nalgebra's
//! column-major `[rows, cols]` weights, chosen at run time by [`simd`](super::simd).
//!
//! - `y += W x` walks the columns (axpy form) with a block of outputs in registers over the
//!   whole pass through the columns: up to 128 rows (eight 16-lane accumulators; for shorter
//!   blocks several columns in flight, so at least six independent accumulators hide the
//!   latency of the fused multiply-add), and taller matrices in blocks of 256 rows (sixteen
//!   accumulators: each column is read in 1 KiB runs, half as many passes over `x`). `y` is
//!   loaded and stored once per block. (Measured on 784-512-512-10: 128-row blocks and
//!   eight-column panels with `y` in L1 were both about 20% slower.) When the row count is a
//!   multiple of 16, every column starts at the same offset from a 64-byte line, and the
//!   pieces are shifted back onto the lines ([`line_shift`]): no load straddles two lines.
//!   A dense layer's forward pass (`affine_sized`) is the same loop, compiled per layer shape,
//!   whose last step adds the bias and stores `z` and `relu(z)` (or `z`) without reading them.
//!   Fewer than 16 rows (an output layer's 10) take `flat`: the weight read as one run of
//!   whole vectors, each lane multiplied by its column's `x` (a permutation of `x`), the lanes
//!   of a row added up at the end.
//! - `Wᵀ d` and `W += α d xᵀ` walk eight columns at a time: each 16-row piece of `d` is loaded
//!   once for the eight columns, the eight products are summed lane-wise and reduced together
//!   at the end (one shuffle tree for eight columns instead of eight horizontal sums), and the
//!   update is stored in the same pass, after every load of the piece. Columns shorter than 16
//!   (an output layer's) load the next eight columns before storing these: a load that
//!   overlaps an earlier masked store would wait for that store to complete.
//!
//! Row counts that are not a multiple of 16 take masked loads and stores on the last piece;
//! nothing outside the slices is read or written.

use core::arch::x86_64::*;
use core::mem::MaybeUninit;

/// Lanes of a `__m512`.
const LANES: usize = 16;

/// Columns per group of the transposed products.
const GROUP: usize = 8;

/// The mask of the first `n` lanes (all of them for `n ≥ 16`).
#[inline]
fn first(n: usize) -> __mmask16 {
    if n >= LANES {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

/// `y += W x`, `W` `[y.len(), x.len()]` column-major.
///
/// # Panics
/// If `w.len() != y.len() * x.len()`.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn gemv(w: &[f32], x: &[f32], y: &mut [f32]) {
    assert_eq!(w.len(), y.len() * x.len(), "gemv: W is [y, x]");
    let store = Store {
        accumulate: true,
        bias: core::ptr::null(),
        h: core::ptr::null_mut(),
        relu: false,
    };
    let shape = Dynamic {
        rows: y.len(),
        cols: x.len(),
    };
    // SAFETY: `W` is `[y.len(), x.len()]` (asserted), `y` is valid for its length, and
    // `store` names no other buffer; the CPU has AVX-512F (this function's contract).
    unsafe { product(w, x, shape, y.as_mut_ptr(), &store) }
}

/// A dense layer's forward pass in one pass over `W` (for any shape; the library calls
/// [`affine_sized`]): `z = W x + b` (without `b` if `None`) into `out[..rows]` and, if `out`
/// is twice that long, `h = max(z, 0)` if `relu`, else `h = z`, into `out[rows..]`; if `out`
/// is `rows` long, `h` alone into it (inference keeps no `z`). `out` is written, not read.
/// `rows = w.len() / x.len()`.
///
/// # Panics
/// If `out` is not `rows` or `2 rows` long, or `b` is not `rows` long.
///
/// # Safety
/// The CPU must have AVX-512F.
#[cfg(test)]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn affine(
    w: &[f32],
    x: &[f32],
    b: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
    relu: bool,
) {
    let shape = Dynamic {
        rows: w.len() / x.len(),
        cols: x.len(),
    };
    // SAFETY: this function's contract.
    unsafe { affine_in_place(w, x, b, out, relu, shape) }
}

/// [`affine`] for a weight `[R, K]`: the same kernel compiled with the shape as constants,
/// one copy per layer shape (as the layer functions of [`blocks`](crate::blocks) are), so
/// that a call pays for the product and little else: the choice of kernel, the masks and the
/// loop bounds fold away (measured: a 64 × 64 `dense_forward` 60.5 → 43.5 ns, 10 × 64
/// 26.4 → 21.1 ns). `z` and `h` come as one buffer, `out`, so that a caller whose result is
/// `(z, h)` can pass its own return slot, and the pair is not copied after the call (64 × 64:
/// 43.5 → 40.8 ns, 10 × 64: 21.1 → 14.9 ns).
///
/// # Panics
/// As [`affine`], or if `x` is not `K` long.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline(never)]
pub(super) unsafe fn affine_sized<const R: usize, const K: usize>(
    w: &[f32],
    x: &[f32],
    b: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
    relu: bool,
) {
    // SAFETY: this function's contract; the slices are cut to the constant lengths it states.
    unsafe { affine_in_place(&w[..R * K], &x[..K], b, out, relu, Fixed::<R, K>) }
}

/// [`affine`], inlined where it is called.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn affine_in_place<S: Shape>(
    w: &[f32],
    x: &[f32],
    b: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
    relu: bool,
    shape: S,
) {
    let rows = shape.rows();
    assert_eq!(x.len(), shape.cols(), "affine: x is as the shape says");
    assert_eq!(w.len(), rows * x.len(), "affine: W is [z, x]");
    assert!(
        out.len() == rows || out.len() == 2 * rows,
        "affine: out is z, or z then h"
    );
    let (z, h) = out.split_at_mut(rows);
    assert!(
        b.is_none_or(|b| b.len() == rows),
        "affine: b is as long as z"
    );
    let store = Store {
        accumulate: false,
        bias: b.map_or(core::ptr::null(), <[f32]>::as_ptr),
        h: if h.is_empty() {
            core::ptr::null_mut()
        } else {
            h.as_mut_ptr().cast()
        },
        // With `out` one vector long it is `h`: relu applies to what `y` receives.
        relu,
    };
    // SAFETY: the shapes are asserted; `z` and `h` are only written (`accumulate` is off);
    // the CPU has AVX-512F (this function's contract).
    unsafe { product(w, x, shape, z.as_mut_ptr().cast(), &store) }
}

/// The shape `[rows, cols]` of a product's weight: known at run time ([`Dynamic`]) or
/// constants of the instance ([`Fixed`]), so that the kernels compiled for a layer's shape
/// fold their choices and bounds away.
trait Shape: Copy {
    fn rows(self) -> usize;
    fn cols(self) -> usize;
}

/// A shape known at run time.
#[derive(Clone, Copy)]
struct Dynamic {
    rows: usize,
    cols: usize,
}

impl Shape for Dynamic {
    #[inline(always)]
    fn rows(self) -> usize {
        self.rows
    }

    #[inline(always)]
    fn cols(self) -> usize {
        self.cols
    }
}

/// The shape `[R, K]`.
#[derive(Clone, Copy)]
struct Fixed<const R: usize, const K: usize>;

impl<const R: usize, const K: usize> Shape for Fixed<R, K> {
    #[inline(always)]
    fn rows(self) -> usize {
        R
    }

    #[inline(always)]
    fn cols(self) -> usize {
        K
    }
}

/// A block of rows of a product: rows `r..r + n`, their pieces `shift` lanes back
/// from `r` (see [`line_shift`]).
///
/// [`Store`] and `Block` are passed by reference and read field by field: an aggregate passed
/// by value is copied with vector loads spanning the separate stores that built it, and such a
/// load waits for the stores to complete (measured on a 16 × 16 product: 16.5 ns by value,
/// 14.0 ns by reference).
#[derive(Clone, Copy)]
struct Block {
    r: usize,
    n: usize,
    shift: usize,
}

/// What a block of rows does with its sums `s = (W x)[rows]` at the end of its pass: `y += s`
/// (`accumulate`), or `y = s + b` (`b` at `bias`, if not null) written without reading `y`;
/// then, if `h` is not null, `h = max(y, 0)` (`relu`) or `h = y`; if `h` is null, `relu`
/// applies to `y` itself (`y = max(s + b, 0)`: a layer's output without its `z`). `bias` and
/// `h` are indexed as `y` is.
#[derive(Clone, Copy)]
struct Store {
    accumulate: bool,
    bias: *const f32,
    h: *mut f32,
    relu: bool,
}

impl Store {
    /// The rows of piece `m` at `y.add(at)` (and `bias`, `h`): `s` stored as this says.
    ///
    /// # Safety
    /// The lanes of `m` at `at` are inside `y` (and `bias`, `h`, where not null); the CPU has
    /// AVX-512F.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn put(&self, y: *mut f32, at: usize, m: __mmask16, s: __m512) {
        // SAFETY: this function's contract; masked-off lanes are neither read nor written.
        unsafe {
            let out = y.wrapping_add(at);
            let mut s = s;
            if self.accumulate {
                s = _mm512_add_ps(_mm512_maskz_loadu_ps(m, out), s);
            }
            if !self.bias.is_null() {
                s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, self.bias.wrapping_add(at)));
            }
            if self.h.is_null() && self.relu {
                s = _mm512_max_ps(s, _mm512_setzero_ps());
            }
            _mm512_mask_storeu_ps(out, m, s);
            if !self.h.is_null() {
                let h = if self.relu {
                    _mm512_max_ps(s, _mm512_setzero_ps())
                } else {
                    s
                };
                _mm512_mask_storeu_ps(self.h.wrapping_add(at), m, h);
            }
        }
    }
}

/// `W x` (`W` `[rows, x.len()]` column-major) stored into `y` by `store`, in blocks of rows.
///
/// # Safety
/// `w.len() == rows * x.len()`; `y` (and `store`'s buffers) valid for `rows` elements as
/// `store` uses them; the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn product<S: Shape>(w: &[f32], x: &[f32], shape: S, y: *mut f32, store: &Store) {
    let rows = shape.rows();
    if rows < LANES && rows > 0 {
        // SAFETY: this function's contract.
        unsafe {
            return match rows {
                1 => flat::<1, S>(w, x, shape, y, store),
                2 => flat::<2, S>(w, x, shape, y, store),
                3 => flat::<3, S>(w, x, shape, y, store),
                4 => flat::<4, S>(w, x, shape, y, store),
                5 => flat::<5, S>(w, x, shape, y, store),
                6 => flat::<6, S>(w, x, shape, y, store),
                7 => flat::<7, S>(w, x, shape, y, store),
                8 => flat::<8, S>(w, x, shape, y, store),
                9 => flat::<9, S>(w, x, shape, y, store),
                10 => flat::<10, S>(w, x, shape, y, store),
                11 => flat::<11, S>(w, x, shape, y, store),
                12 => flat::<12, S>(w, x, shape, y, store),
                13 => flat::<13, S>(w, x, shape, y, store),
                14 => flat::<14, S>(w, x, shape, y, store),
                _ => flat::<15, S>(w, x, shape, y, store),
            };
        }
    }
    let shift = line_shift(w, rows);
    let block = if rows > 8 * LANES {
        16 * LANES
    } else {
        8 * LANES
    };
    let mut r = 0;
    while r < rows {
        let n = (rows - r).min(block);
        // SAFETY: rows `r..r + n` exist in `y` and in every column of `W` (this function's
        // contract); the CPU has AVX-512F.
        unsafe {
            let block = Block { r, n, shift };
            match (n + shift).div_ceil(LANES) {
                1 => gemv_rows::<1, S>(w, x, shape, y, store, &block),
                2 => gemv_rows::<2, S>(w, x, shape, y, store, &block),
                3 => gemv_rows::<3, S>(w, x, shape, y, store, &block),
                4 => gemv_rows::<4, S>(w, x, shape, y, store, &block),
                5 => gemv_rows::<5, S>(w, x, shape, y, store, &block),
                6 => gemv_rows::<6, S>(w, x, shape, y, store, &block),
                7 => gemv_rows::<7, S>(w, x, shape, y, store, &block),
                8 => gemv_rows::<8, S>(w, x, shape, y, store, &block),
                9 => gemv_rows::<9, S>(w, x, shape, y, store, &block),
                10..=12 => gemv_rows::<12, S>(w, x, shape, y, store, &block),
                13..=16 => gemv_rows::<16, S>(w, x, shape, y, store, &block),
                _ => gemv_rows::<17, S>(w, x, shape, y, store, &block),
            }
        }
        r += n;
    }
}

/// `W x` for fewer than 16 rows (`R`, an output layer's): the weights as one flat run, 16 at
/// a time, with no masked lane. A group of `16 / gcd(R, 16)` columns is `R / gcd(R, 16)`
/// whole vectors; lane `l` of vector `v` holds row `(16 v + l) mod R` of column
/// `(16 v + l) / R` of the group, so it is multiplied by that column's `x`, spread over the
/// lanes by a permutation of the group's `x` loaded once. At the end the lanes of each row
/// are added up (one two-source permutation per column of a group; in registers: reading the
/// accumulators back from memory as rows of `R` would wait for their stores), the columns
/// left over after the last group are added one by one, and the sums stored by `store`. (The column-at-a-time loop of [`gemv_rows`] spends a load, a broadcast and a
/// 16-lane multiply-add per 10-row column, loads that straddle lines: measured 28 ns on a
/// 10 × 64 product.)
///
/// # Safety
/// As [`product`], with `rows == R`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn flat<const R: usize, S: Shape>(
    w: &[f32],
    x: &[f32],
    shape: S,
    y: *mut f32,
    store: &Store,
) {
    let group_cols = const { LANES / gcd(R, LANES) };
    let group_vectors = const { R / gcd(R, LANES) };
    let lanes: &'static [[i32; LANES]; 15] = &LaneColumns::<R>::TABLE;
    let cols = shape.cols();
    let groups = cols / group_cols;
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    // SAFETY: (every access) group `g < groups` covers the `16 · group_vectors` floats
    // `w[16 group_vectors g..]`, inside `w` (`R · cols` long), and `x[group_cols g..]` for
    // `group_cols` lanes; the columns after the groups are masked to their `R` rows.
    unsafe {
        let index: [__m512i; 15] =
            core::array::from_fn(|v| _mm512_loadu_si512(lanes[v].as_ptr().cast()));
        // Two sets of accumulators, alternate groups, so that short groups (five vectors for
        // R = 10) still keep enough multiply-adds in flight.
        let mut acc = [[_mm512_setzero_ps(); 15]; 2];
        let xmask = first(group_cols);
        let mut g = 0;
        while g < groups {
            for (set, acc) in acc.iter_mut().enumerate() {
                let at = g + set;
                if set == 1 && at >= groups {
                    break;
                }
                let xv = _mm512_maskz_loadu_ps(xmask, xp.add(at * group_cols));
                let base = wp.add(at * group_vectors * LANES);
                for (v, a) in acc.iter_mut().enumerate().take(group_vectors) {
                    let xs = _mm512_permutexvar_ps(index[v], xv);
                    *a = _mm512_fmadd_ps(_mm512_loadu_ps(base.add(v * LANES)), xs, *a);
                }
            }
            g += 2;
        }
        // Row `r` of the group's column `k` is float `k R + r` of the group: lane
        // `k R + r − 16 v` of vector `v = ⌊k R / 16⌋` or, past it, of vector `v + 1`. One
        // two-source permutation per column brings its rows to lanes `0..R`.
        let [first_set, second_set] = acc;
        let sums: [__m512; 15] =
            core::array::from_fn(|v| _mm512_add_ps(first_set[v], second_set[v]));
        let m = first(R);
        // The columns' rows added as a tree (depth 4 for 16 columns), not one after another:
        // this tail is on the layer's critical path.
        let mut parts: [__m512; LANES] = core::array::from_fn(|k| {
            if k >= group_cols {
                return _mm512_setzero_ps();
            }
            let v = k * R / LANES;
            let next = if v + 1 < group_vectors { v + 1 } else { v };
            let index = _mm512_loadu_si512(LaneColumns::<R>::FOLD[k].as_ptr().cast());
            _mm512_permutex2var_ps(sums[v], index, sums[next])
        });
        let mut width = group_cols.next_power_of_two();
        while width > 1 {
            width /= 2;
            for k in 0..width {
                parts[k] = _mm512_add_ps(parts[k], parts[k + width]);
            }
        }
        let mut sum = parts[0];
        for c in groups * group_cols..cols {
            let col = _mm512_maskz_loadu_ps(m, wp.add(c * R));
            sum = _mm512_fmadd_ps(col, _mm512_set1_ps(*xp.add(c)), sum);
        }
        store.put(y, 0, m, sum);
    }
}

/// The greatest common divisor.
const fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// [`lane_columns`] of `R`, as a constant (so a reference to it is a `static`, not a copy made
/// at each call).
struct LaneColumns<const R: usize>;

impl<const R: usize> LaneColumns<R> {
    const TABLE: [[i32; LANES]; 15] = lane_columns(R);
    const FOLD: [[i32; LANES]; LANES] = fold_lanes(R);
}

/// For [`flat`] with `rows` rows: for column `k` of a group, the lanes of the two vectors
/// `⌊k rows / 16⌋` and the next (lanes `16..32`) that hold its rows `0..rows`, in order.
const fn fold_lanes(rows: usize) -> [[i32; LANES]; LANES] {
    let mut table = [[0; LANES]; LANES];
    let columns = LANES / gcd(rows, LANES);
    let mut k = 0;
    while k < columns {
        let start = k * rows - k * rows / LANES * LANES;
        let mut r = 0;
        while r < rows {
            table[k][r] = (start + r) as i32;
            r += 1;
        }
        k += 1;
    }
    table
}

/// For [`flat`] with `rows` rows: lane `l` of vector `v` of a group holds column
/// `(16 v + l) / rows` of the group (as the permutation index of `x`).
const fn lane_columns(rows: usize) -> [[i32; LANES]; 15] {
    let mut table = [[0; LANES]; 15];
    let vectors = rows / gcd(rows, LANES);
    let mut v = 0;
    while v < vectors {
        let mut l = 0;
        while l < LANES {
            table[v][l] = ((v * LANES + l) / rows) as i32;
            l += 1;
        }
        v += 1;
    }
    table
}

/// How many floats the columns of `w` (`rows` long, column-major) start past a 64-byte line,
/// when that is the same for every column (`rows` a multiple of 16), else 0.
///
/// nalgebra's storage is aligned to 4 bytes only, so a layer's 16-float pieces would mostly
/// straddle two cache lines, and such a load costs about two (measured on a 64 × 64 `y += W x`:
/// 69–71 ns with the columns 4, 8 or 1 floats past a line, 39 ns on the line). Shifting the
/// pieces back by this many rows puts every load on a line: one more (masked) piece per
/// block of rows, and the accumulators hold rows `shift` lanes further on (48 ns).
#[inline]
fn line_shift(w: &[f32], rows: usize) -> usize {
    if rows.is_multiple_of(LANES) {
        (w.as_ptr() as usize / size_of::<f32>()) % LANES
    } else {
        0
    }
}

/// The lanes of piece `v` that hold rows `0..n` of a block whose rows start `shift` lanes into
/// piece 0: lanes `l` with `shift ≤ 16 v + l < shift + n`.
#[inline]
fn piece_mask(v: usize, shift: usize, n: usize) -> __mmask16 {
    let (start, end) = (v * LANES, v * LANES + LANES);
    let from = shift.clamp(start, end) - start;
    let to = (shift + n).clamp(start, end) - start;
    first(to) & !first(from)
}

/// Rows `r..r + n` of `W x` (stored by `store`), `n + shift ≤ 16 NV` (`block`): `NV`
/// accumulators per column in flight (piece `v`, lane `l` holding row `r + 16 v + l − shift`;
/// the lanes outside the block masked off), and `8 / NV` columns in flight (each into its own
/// accumulators; two for `NV = 5`).
///
/// # Safety
/// `w.len() == rows * x.len()`, `y` (and `store`'s buffers) valid for `rows` elements,
/// `r + n ≤ rows`, `shift < 16`, and the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gemv_rows<const NV: usize, S: Shape>(
    w: &[f32],
    x: &[f32],
    shape: S,
    y: *mut f32,
    store: &Store,
    block: &Block,
) {
    let Block { r, n, shift } = *block;
    let (rows, cols) = (shape.rows(), shape.cols());
    let phases = match NV {
        1 => 8,
        2 => 4,
        3..=5 => 2,
        _ => 1,
    };
    let masks: [__mmask16; NV] = core::array::from_fn(|v| piece_mask(v, shift, n));
    let mask = |v: usize| masks[v];
    // Piece `v` of column `c` starts at `wp + c · rows + r − shift + 16 v`, of `y` at
    // `yp + r − shift + 16 v`.
    let wp = w.as_ptr().wrapping_add(r).wrapping_sub(shift);
    let mut acc = [[_mm512_setzero_ps(); NV]; 8];
    let mut c = 0;
    // SAFETY: (every access) column `c + ph < cols`, and the unmasked lanes of piece `v` are
    // rows `r + 16 v + lane − shift`, in `r..r + n ⊆ 0..rows`: inside `w` and `y`. Masked-off
    // lanes are neither read nor written (nor can they fault).
    unsafe {
        while c + phases <= cols {
            for (ph, acc) in acc.iter_mut().enumerate().take(phases) {
                let xv = _mm512_set1_ps(*x.get_unchecked(c + ph));
                let col = wp.wrapping_add((c + ph) * rows);
                for (v, a) in acc.iter_mut().enumerate() {
                    let wv = _mm512_maskz_loadu_ps(mask(v), col.wrapping_add(v * LANES));
                    *a = _mm512_fmadd_ps(wv, xv, *a);
                }
            }
            c += phases;
        }
        while c < cols {
            let xv = _mm512_set1_ps(*x.get_unchecked(c));
            let col = wp.wrapping_add(c * rows);
            for (v, a) in acc[0].iter_mut().enumerate() {
                let wv = _mm512_maskz_loadu_ps(mask(v), col.wrapping_add(v * LANES));
                *a = _mm512_fmadd_ps(wv, xv, *a);
            }
            c += 1;
        }
        for v in 0..NV {
            let mut sum = acc[0][v];
            for acc in &acc[1..phases] {
                sum = _mm512_add_ps(sum, acc[v]);
            }
            // Piece `v` of `y` (and of `b`, `h`) starts `r − shift + 16 v` floats in.
            let at = (r + v * LANES).wrapping_sub(shift);
            store.put(y, at, mask(v), sum);
        }
    }
}

/// `out = Wᵀ d`, `W` `[d.len(), out.len()]` column-major.
///
/// # Panics
/// If `w.len() != d.len() * out.len()`.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tr_gemv(w: &[f32], d: &[f32], out: &mut [f32]) {
    assert_eq!(w.len(), d.len() * out.len(), "tr_gemv: W is [d, out]");
    // SAFETY: the shapes are asserted; `W` is only read (`UPDATE = false`), so the mutable
    // pointer made from a shared slice is never written through.
    unsafe {
        columns::<true, false>(
            w.as_ptr().cast_mut(),
            d,
            &[],
            0.0,
            out.as_mut_ptr(),
            out.len(),
        );
    }
}

/// `G += α d xᵀ`, `G` `[d.len(), x.len()]` column-major.
///
/// # Panics
/// If `g.len() != d.len() * x.len()`.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn ger(g: &mut [f32], d: &[f32], x: &[f32], alpha: f32) {
    assert_eq!(g.len(), d.len() * x.len(), "ger: G is [d, x]");
    // SAFETY: the shapes are asserted; no output is written (`DOT = false`).
    unsafe {
        columns::<false, true>(g.as_mut_ptr(), d, x, alpha, core::ptr::null_mut(), x.len());
    }
}

/// `out = Wᵀ d`, then `W += α d xᵀ`, one pass over `W`.
///
/// # Panics
/// If `w.len() != d.len() * x.len()` or `out.len() != x.len()`.
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn tr_gemv_ger(w: &mut [f32], d: &[f32], x: &[f32], alpha: f32, out: &mut [f32]) {
    assert_eq!(w.len(), d.len() * x.len(), "tr_gemv_ger: W is [d, x]");
    assert_eq!(out.len(), x.len(), "tr_gemv_ger: out is [x]");
    // SAFETY: the shapes are asserted.
    unsafe { columns::<true, true>(w.as_mut_ptr(), d, x, alpha, out.as_mut_ptr(), x.len()) }
}

/// The transposed product and/or the rank-one update, `GROUP` columns at a time.
///
/// # Safety
/// `w` is valid for `d.len() * cols` reads (and writes if `UPDATE`); if `DOT`, `out` for
/// `cols` writes; if `UPDATE`, `x.len() == cols`. The CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn columns<const DOT: bool, const UPDATE: bool>(
    w: *mut f32,
    d: &[f32],
    x: &[f32],
    alpha: f32,
    out: *mut f32,
    cols: usize,
) {
    let rows = d.len();
    if UPDATE && rows < LANES && rows > 0 {
        // SAFETY: this function's contract.
        return unsafe { narrow::<DOT>(w, d, x, alpha, out, cols) };
    }
    let scaled = |c: usize| -> [f32; GROUP] {
        core::array::from_fn(|j| if UPDATE { alpha * x[c + j] } else { 0.0 })
    };
    let mut c = 0;
    // SAFETY: (every call) columns `c..c + NC ≤ cols` of `w`, `out[c..c + NC]` (if `DOT`),
    // as this function's contract allows.
    unsafe {
        while c + GROUP <= cols {
            let acc = group::<GROUP, DOT, UPDATE>(w.add(c * rows), d, scaled(c));
            if DOT {
                let (low, high) = reduce8(acc);
                _mm_storeu_ps(out.add(c), low);
                _mm_storeu_ps(out.add(c + 4), high);
            }
            c += GROUP;
        }
        let tail = cols - c;
        let ax = if UPDATE && tail > 0 {
            core::array::from_fn(|j| x.get(c + j).map_or(0.0, |&v| alpha * v))
        } else {
            [0.0; GROUP]
        };
        match tail {
            0 => {}
            1 => rest::<1, DOT, UPDATE>(w.add(c * rows), d, &ax, out.wrapping_add(c)),
            2 => rest::<2, DOT, UPDATE>(w.add(c * rows), d, &ax, out.wrapping_add(c)),
            3 => rest::<3, DOT, UPDATE>(w.add(c * rows), d, &ax, out.wrapping_add(c)),
            4 => rest::<4, DOT, UPDATE>(w.add(c * rows), d, &ax, out.wrapping_add(c)),
            5 => rest::<5, DOT, UPDATE>(w.add(c * rows), d, &ax, out.wrapping_add(c)),
            6 => rest::<6, DOT, UPDATE>(w.add(c * rows), d, &ax, out.wrapping_add(c)),
            _ => rest::<7, DOT, UPDATE>(w.add(c * rows), d, &ax, out.wrapping_add(c)),
        }
    }
}

/// [`columns`] with an update, for columns shorter than 16 (an output layer's): each column is
/// one masked piece whose last lanes overlap the next column, so the next group of columns is
/// loaded before this group is stored (a load after an overlapping masked store would wait
/// for the store to complete).
///
/// # Safety
/// As [`columns`], with `0 < d.len() < 16` and `x.len() == cols`.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn narrow<const DOT: bool>(
    w: *mut f32,
    d: &[f32],
    x: &[f32],
    alpha: f32,
    out: *mut f32,
    cols: usize,
) {
    let rows = d.len();
    let m = first(rows);
    let groups = cols / GROUP;
    // SAFETY: (every access) the unmasked lanes are rows `< rows` of columns `< cols`, and
    // `out[..cols]`, as this function's contract allows.
    unsafe {
        let dv = _mm512_maskz_loadu_ps(m, d.as_ptr());
        let mut cur = [_mm512_setzero_ps(); GROUP];
        if groups > 0 {
            for (j, v) in cur.iter_mut().enumerate() {
                *v = _mm512_maskz_loadu_ps(m, w.add(j * rows));
            }
        }
        for g in 0..groups {
            let c = g * GROUP;
            let mut next = [_mm512_setzero_ps(); GROUP];
            if g + 1 < groups {
                for (j, v) in next.iter_mut().enumerate() {
                    *v = _mm512_maskz_loadu_ps(m, w.add((c + GROUP + j) * rows));
                }
            }
            if DOT {
                let mut prod = [_mm512_setzero_ps(); GROUP];
                for (p, &wv) in prod.iter_mut().zip(&cur) {
                    *p = _mm512_mul_ps(wv, dv);
                }
                let (low, high) = reduce8(prod);
                _mm_storeu_ps(out.add(c), low);
                _mm_storeu_ps(out.add(c + 4), high);
            }
            for (j, &wv) in cur.iter().enumerate() {
                let new = _mm512_fmadd_ps(dv, _mm512_set1_ps(alpha * x[c + j]), wv);
                _mm512_mask_storeu_ps(w.add((c + j) * rows), m, new);
            }
            cur = next;
        }
        let c = groups * GROUP;
        if c < cols {
            let ax: [f32; GROUP] =
                core::array::from_fn(|j| x.get(c + j).map_or(0.0, |&v| alpha * v));
            let (w, out) = (w.add(c * rows), out.wrapping_add(c));
            match cols - c {
                1 => rest::<1, DOT, true>(w, d, &ax, out),
                2 => rest::<2, DOT, true>(w, d, &ax, out),
                3 => rest::<3, DOT, true>(w, d, &ax, out),
                4 => rest::<4, DOT, true>(w, d, &ax, out),
                5 => rest::<5, DOT, true>(w, d, &ax, out),
                6 => rest::<6, DOT, true>(w, d, &ax, out),
                _ => rest::<7, DOT, true>(w, d, &ax, out),
            }
        }
    }
}

/// The last `NC < GROUP` columns: [`group`], then one horizontal sum per column.
///
/// # Safety
/// As [`group`]; if `DOT`, `out` valid for `NC` writes.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn rest<const NC: usize, const DOT: bool, const UPDATE: bool>(
    w: *mut f32,
    d: &[f32],
    ax: &[f32; GROUP],
    out: *mut f32,
) {
    // SAFETY: this function's contract.
    unsafe {
        let acc = group::<NC, DOT, UPDATE>(w, d, core::array::from_fn(|j| ax[j]));
        if DOT {
            for (j, a) in acc.into_iter().enumerate() {
                *out.add(j) = _mm512_reduce_add_ps(a);
            }
        }
    }
}

/// `NC` columns starting at `w` (each `d.len()` long): the lane-wise products with `d` (if
/// `DOT`), summed over the rows, and `W += d axᵀ` (if `UPDATE`), sixteen rows at a time, every
/// column of a piece loaded before any is stored.
///
/// # Safety
/// `w` valid for `NC · d.len()` reads (and writes if `UPDATE`); the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn group<const NC: usize, const DOT: bool, const UPDATE: bool>(
    w: *mut f32,
    d: &[f32],
    ax: [f32; NC],
) -> [__m512; NC] {
    let rows = d.len();
    let mut acc = [_mm512_setzero_ps(); NC];
    let mut axv = [_mm512_setzero_ps(); NC];
    if UPDATE {
        for (v, &a) in axv.iter_mut().zip(&ax) {
            *v = _mm512_set1_ps(a);
        }
    }
    let mut k = 0;
    // SAFETY: the unmasked lanes are rows `k + lane < rows` of columns `j < NC`, inside `w` and
    // `d` by this function's contract; masked-off lanes are neither read nor written.
    unsafe {
        while k < rows {
            let m = first(rows - k);
            let dv = _mm512_maskz_loadu_ps(m, d.as_ptr().add(k));
            let mut wv = [_mm512_setzero_ps(); NC];
            for (j, v) in wv.iter_mut().enumerate() {
                *v = _mm512_maskz_loadu_ps(m, w.add(j * rows + k));
            }
            if DOT {
                for (a, &wv) in acc.iter_mut().zip(&wv) {
                    *a = _mm512_fmadd_ps(wv, dv, *a);
                }
            }
            if UPDATE {
                for (j, (&wv, &axv)) in wv.iter().zip(&axv).enumerate() {
                    let new = _mm512_fmadd_ps(dv, axv, wv);
                    _mm512_mask_storeu_ps(w.add(j * rows + k), m, new);
                }
            }
            k += LANES;
        }
    }
    acc
}

/// The lane sums of eight vectors: `(sums of 0..4, sums of 4..8)`.
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce8(v: [__m512; GROUP]) -> (__m128, __m128) {
    let (q0, q1) = (
        quad(pair(v[0], v[1]), pair(v[2], v[3])),
        quad(pair(v[4], v[5]), pair(v[6], v[7])),
    );
    // Blocks: [q0 b0+b1, q0 b2+b3, q1 b0+b1, q1 b2+b3], then swap neighbours and add.
    let s = _mm512_add_ps(
        _mm512_shuffle_f32x4::<0b10_00_10_00>(q0, q1),
        _mm512_shuffle_f32x4::<0b11_01_11_01>(q0, q1),
    );
    let t = _mm512_add_ps(s, _mm512_shuffle_f32x4::<0b10_11_00_01>(s, s));
    (_mm512_castps512_ps128(t), _mm512_extractf32x4_ps::<2>(t))
}

/// Two vectors half-summed: per 128-bit block, `[a0+a2, b0+b2, a1+a3, b1+b3]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn pair(a: __m512, b: __m512) -> __m512 {
    _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b))
}

/// Two [`pair`]s of `(a, b)` and `(c, d)` summed: per 128-bit block, the block's sums of `a`,
/// `b`, `c`, `d`, in that order.
#[target_feature(enable = "avx512f")]
#[inline]
fn quad(ab: __m512, cd: __m512) -> __m512 {
    let (ab, cd) = (_mm512_castps_pd(ab), _mm512_castps_pd(cd));
    _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(ab, cd)),
        _mm512_castpd_ps(_mm512_unpackhi_pd(ab, cd)),
    )
}
