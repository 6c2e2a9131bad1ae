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
    let rows = y.len();
    let shift = line_shift(w, rows);
    let block = if rows > 8 * LANES {
        16 * LANES
    } else {
        8 * LANES
    };
    let mut r = 0;
    while r < rows {
        let n = (rows - r).min(block);
        // SAFETY: rows `r..r + n` exist in `y` and in every column of `W` (asserted above);
        // the CPU has AVX-512F (this function's contract).
        unsafe {
            match (n + shift).div_ceil(LANES) {
                1 => gemv_rows::<1>(w, x, y, r, n, shift),
                2 => gemv_rows::<2>(w, x, y, r, n, shift),
                3 => gemv_rows::<3>(w, x, y, r, n, shift),
                4 => gemv_rows::<4>(w, x, y, r, n, shift),
                5 => gemv_rows::<5>(w, x, y, r, n, shift),
                6 => gemv_rows::<6>(w, x, y, r, n, shift),
                7 => gemv_rows::<7>(w, x, y, r, n, shift),
                8 => gemv_rows::<8>(w, x, y, r, n, shift),
                9 => gemv_rows::<9>(w, x, y, r, n, shift),
                10..=12 => gemv_rows::<12>(w, x, y, r, n, shift),
                13..=16 => gemv_rows::<16>(w, x, y, r, n, shift),
                _ => gemv_rows::<17>(w, x, y, r, n, shift),
            }
        }
        r += n;
    }
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

/// Rows `r..r + n` of `y += W x`, `n + shift ≤ 16 NV`: `NV` accumulators per column in flight
/// (piece `v`, lane `l` holding row `r + 16 v + l − shift`; the lanes outside the block masked
/// off), and `8 / NV` columns in flight (each into its own accumulators; two for `NV = 5`).
///
/// # Safety
/// `w.len() == y.len() * x.len()`, `r + n ≤ y.len()`, `shift < 16`, and the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn gemv_rows<const NV: usize>(
    w: &[f32],
    x: &[f32],
    y: &mut [f32],
    r: usize,
    n: usize,
    shift: usize,
) {
    let (rows, cols) = (y.len(), x.len());
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
    let (wp, yp) = (
        w.as_ptr().wrapping_add(r).wrapping_sub(shift),
        y.as_mut_ptr().wrapping_add(r).wrapping_sub(shift),
    );
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
            let out = yp.wrapping_add(v * LANES);
            let old = _mm512_maskz_loadu_ps(mask(v), out);
            _mm512_mask_storeu_ps(out, mask(v), _mm512_add_ps(old, sum));
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
