//! The limit's batch-1 kernels in AVX-512F intrinsics, on row-major `[out, in]` weights.
//!
//! - `dense`: eight rows at a time, one 16-lane accumulator each (eight independent
//!   fused multiply-add chains), `x` loaded once per 16 columns for the eight rows, the eight
//!   sums reduced together by one shuffle tree; the last piece of a row masked.
//! - `update`: four rows at a time; each 16-column piece of `dh` is loaded once, gets the
//!   four rows' contributions (old weights) and is stored back, while the rows are updated in
//!   the same pass.

use std::arch::x86_64::*;

use super::{Kernels, Scalar, act};

/// Lanes of a `__m512`.
const LANES: usize = 16;

/// The mask of the first `n` lanes (all of them for `n ≥ 16`).
#[inline]
fn first(n: usize) -> __mmask16 {
    if n >= LANES {
        u16::MAX
    } else {
        (1u16 << n) - 1
    }
}

/// [`Kernels::dense`].
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn dense<const O: usize, const I: usize, const ACT: u8>(
    w: &[f32],
    b: &[f32],
    x: &[f32],
    h: &mut [f32; O],
) {
    if I < LANES {
        return Scalar.dense::<O, I, ACT>(w, b, x, h);
    }
    let (w, b, x) = (&w[..O * I], &b[..O], &x[..I]);
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let mut r = 0;
    // SAFETY: (every load) row `r + j < O`, and the unmasked lanes are columns `c + lane < I`:
    // inside `w[..O * I]` and `x[..I]`; masked-off lanes are not read.
    unsafe {
        while r + 8 <= O {
            let mut acc = [_mm512_setzero_ps(); 8];
            let mut c = 0;
            while c < I {
                let m = first(I - c);
                let xv = _mm512_maskz_loadu_ps(m, xp.add(c));
                for (j, a) in acc.iter_mut().enumerate() {
                    let wv = _mm512_maskz_loadu_ps(m, wp.add((r + j) * I + c));
                    *a = _mm512_fmadd_ps(wv, xv, *a);
                }
                c += LANES;
            }
            let (low, high) = reduce8(acc);
            let mut sums = [0f32; 8];
            _mm_storeu_ps(sums.as_mut_ptr(), low);
            _mm_storeu_ps(sums.as_mut_ptr().add(4), high);
            for (j, s) in sums.into_iter().enumerate() {
                h[r + j] = act::<ACT>(s + b[r + j]);
            }
            r += 8;
        }
        while r < O {
            let (mut a0, mut a1) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            let row = wp.add(r * I);
            let mut c = 0;
            while c < I {
                let m = first(I - c);
                let xv = _mm512_maskz_loadu_ps(m, xp.add(c));
                a0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, row.add(c)), xv, a0);
                (a0, a1) = (a1, a0);
                c += LANES;
            }
            h[r] = act::<ACT>(_mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) + b[r]);
            r += 1;
        }
    }
}

/// [`Kernels::update`].
///
/// # Safety
/// The CPU must have AVX-512F.
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn update<const O: usize, const I: usize, const DH: bool>(
    w: &mut [f32],
    b: &mut [f32],
    d: &[f32; O],
    h: &[f32],
    lr: f32,
    dh: &mut [f32; I],
) {
    let (w, b, h) = (&mut w[..O * I], &mut b[..O], &h[..I]);
    if DH {
        dh.fill(0.0);
    }
    let mut r = 0;
    // SAFETY: rows `r..r + N ≤ O` of `w[..O * I]`, `b[..O]`, `d`; `h[..I]`, `dh`.
    unsafe {
        while r + 4 <= O {
            rows::<4, I, DH>(w.as_mut_ptr().add(r * I), &mut b[r..], &d[r..], h, lr, dh);
            r += 4;
        }
        let (w, b, d) = (w.as_mut_ptr().add(r * I), &mut b[r..], &d[r..]);
        match O - r {
            1 => rows::<1, I, DH>(w, b, d, h, lr, dh),
            2 => rows::<2, I, DH>(w, b, d, h, lr, dh),
            3 => rows::<3, I, DH>(w, b, d, h, lr, dh),
            _ => {}
        }
    }
}

/// [`update`] on `N` rows starting at `w`: each 16-column piece of `dh` is loaded once, gets
/// the `N` rows' contributions (old weights) and is stored back, while the rows are updated.
///
/// # Safety
/// `w` valid for `N · I` reads and writes, `b` and `d` at least `N` long, `h` at least `I`;
/// the CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn rows<const N: usize, const I: usize, const DH: bool>(
    w: *mut f32,
    b: &mut [f32],
    d: &[f32],
    h: &[f32],
    lr: f32,
    dh: &mut [f32; I],
) {
    let (hp, gp) = (h.as_ptr(), dh.as_mut_ptr());
    let mut dv = [_mm512_setzero_ps(); N];
    let mut sv = [_mm512_setzero_ps(); N];
    for k in 0..N {
        dv[k] = _mm512_set1_ps(d[k]);
        sv[k] = _mm512_set1_ps(-lr * d[k]);
    }
    let mut c = 0;
    // SAFETY: the unmasked lanes are columns `c + lane < I` of rows `k < N`: inside `w`, `h`
    // and `dh` by this function's contract; masked-off lanes are neither read nor written.
    unsafe {
        while c < I {
            let m = first(I - c);
            let hv = _mm512_maskz_loadu_ps(m, hp.add(c));
            let mut g = if DH {
                _mm512_maskz_loadu_ps(m, gp.add(c))
            } else {
                _mm512_setzero_ps()
            };
            for k in 0..N {
                let p = w.add(k * I + c);
                let wv = _mm512_maskz_loadu_ps(m, p);
                if DH {
                    g = _mm512_fmadd_ps(wv, dv[k], g);
                }
                _mm512_mask_storeu_ps(p, m, _mm512_fmadd_ps(hv, sv[k], wv));
            }
            if DH {
                _mm512_mask_storeu_ps(gp.add(c), m, g);
            }
            c += LANES;
        }
    }
    for k in 0..N {
        b[k] += -lr * d[k];
    }
}

/// The lane sums of eight vectors: `(sums of 0..4, sums of 4..8)`.
#[target_feature(enable = "avx512f")]
#[inline]
fn reduce8(v: [__m512; 8]) -> (__m128, __m128) {
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

/// Per 128-bit block, `[a0+a2, b0+b2, a1+a3, b1+b3]`.
#[target_feature(enable = "avx512f")]
#[inline]
fn pair(a: __m512, b: __m512) -> __m512 {
    _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b))
}

/// Per 128-bit block, the block's sums of the four vectors behind two [`pair`]s, in order.
#[target_feature(enable = "avx512f")]
#[inline]
fn quad(ab: __m512, cd: __m512) -> __m512 {
    let (ab, cd) = (_mm512_castps_pd(ab), _mm512_castps_pd(cd));
    _mm512_add_ps(
        _mm512_castpd_ps(_mm512_unpacklo_pd(ab, cd)),
        _mm512_castpd_ps(_mm512_unpackhi_pd(ab, cd)),
    )
}
