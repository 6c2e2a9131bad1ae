//! The limit's batch-1 kernels in AVX2 + FMA intrinsics.

// Index loops: the tails run next to raw-pointer loops over the same columns.
#![allow(clippy::needless_range_loop)]

use std::arch::x86_64::*;

use super::{Kernels, Scalar, act};

/// The four lane sums of `a, b, c, d`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn hsum4(a: __m256, b: __m256, c: __m256, d: __m256) -> __m128 {
    let ab = _mm256_hadd_ps(a, b);
    let cd = _mm256_hadd_ps(c, d);
    let abcd = _mm256_hadd_ps(ab, cd);
    _mm_add_ps(
        _mm256_castps256_ps128(abcd),
        _mm256_extractf128_ps::<1>(abcd),
    )
}

/// The sum of the lanes of `a`.
#[target_feature(enable = "avx2,fma")]
#[inline]
fn hsum(a: __m256) -> f32 {
    let s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps::<1>(a));
    let s = _mm_hadd_ps(s, s);
    let s = _mm_hadd_ps(s, s);
    _mm_cvtss_f32(s)
}

/// [`Kernels::dense`]: four rows at a time, two accumulators each (16 columns a pass).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn dense<const O: usize, const I: usize, const ACT: u8>(
    w: &[f32],
    b: &[f32],
    x: &[f32],
    h: &mut [f32; O],
) {
    if I < 8 {
        return Scalar.dense::<O, I, ACT>(w, b, x, h);
    }
    let (w, b, x) = (&w[..O * I], &b[..O], &x[..I]);
    let (wp, xp) = (w.as_ptr(), x.as_ptr());
    let vec_end = I / 8 * 8;
    let mut r = 0;
    // SAFETY: (every load) row `r + k < O` and column `c + 8 ≤ vec_end ≤ I`, so each read
    // stays inside `w[..O * I]` and `x[..I]`.
    unsafe {
        while r + 4 <= O {
            let rows = [
                wp.add(r * I),
                wp.add((r + 1) * I),
                wp.add((r + 2) * I),
                wp.add((r + 3) * I),
            ];
            let mut a = [_mm256_setzero_ps(); 8];
            let mut c = 0;
            while c + 16 <= I {
                let x0 = _mm256_loadu_ps(xp.add(c));
                let x1 = _mm256_loadu_ps(xp.add(c + 8));
                for k in 0..4 {
                    a[k] = _mm256_fmadd_ps(_mm256_loadu_ps(rows[k].add(c)), x0, a[k]);
                    a[k + 4] = _mm256_fmadd_ps(_mm256_loadu_ps(rows[k].add(c + 8)), x1, a[k + 4]);
                }
                c += 16;
            }
            if c + 8 <= I {
                let x0 = _mm256_loadu_ps(xp.add(c));
                for k in 0..4 {
                    a[k] = _mm256_fmadd_ps(_mm256_loadu_ps(rows[k].add(c)), x0, a[k]);
                }
            }
            let s = hsum4(
                _mm256_add_ps(a[0], a[4]),
                _mm256_add_ps(a[1], a[5]),
                _mm256_add_ps(a[2], a[6]),
                _mm256_add_ps(a[3], a[7]),
            );
            let mut sums = [0f32; 4];
            _mm_storeu_ps(sums.as_mut_ptr(), s);
            for (k, &sum) in sums.iter().enumerate() {
                let row = &w[(r + k) * I..(r + k + 1) * I];
                let mut t = sum + b[r + k];
                for c in vec_end..I {
                    t += row[c] * x[c];
                }
                h[r + k] = act::<ACT>(t);
            }
            r += 4;
        }
        while r < O {
            let row = wp.add(r * I);
            let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut c = 0;
            while c + 16 <= I {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(c)), _mm256_loadu_ps(xp.add(c)), a0);
                a1 = _mm256_fmadd_ps(
                    _mm256_loadu_ps(row.add(c + 8)),
                    _mm256_loadu_ps(xp.add(c + 8)),
                    a1,
                );
                c += 16;
            }
            if c + 8 <= I {
                a0 = _mm256_fmadd_ps(_mm256_loadu_ps(row.add(c)), _mm256_loadu_ps(xp.add(c)), a0);
            }
            let mut t = hsum(_mm256_add_ps(a0, a1)) + b[r];
            for c in vec_end..I {
                t += w[r * I + c] * x[c];
            }
            h[r] = act::<ACT>(t);
            r += 1;
        }
    }
}

/// [`Kernels::update`]: four rows at a time; each 8-column piece of `dh` is loaded once,
/// gets the four rows' contributions (old weights) and is stored back, while the rows are
/// updated in the same pass.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
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
    let vec_end = I / 8 * 8;
    let (wp, hp, gp) = (w.as_mut_ptr(), h.as_ptr(), dh.as_mut_ptr());
    let mut r = 0;
    // SAFETY: (every access) row `r + k < O`, column `c + 8 ≤ vec_end ≤ I`.
    unsafe {
        while r + 4 <= O {
            let rows = [
                wp.add(r * I),
                wp.add((r + 1) * I),
                wp.add((r + 2) * I),
                wp.add((r + 3) * I),
            ];
            let dk = [d[r], d[r + 1], d[r + 2], d[r + 3]];
            let sk = dk.map(|v| -lr * v);
            let dv = dk.map(|v| _mm256_set1_ps(v));
            let sv = sk.map(|v| _mm256_set1_ps(v));
            let mut c = 0;
            while c + 8 <= I {
                let hv = _mm256_loadu_ps(hp.add(c));
                let mut g = if DH {
                    _mm256_loadu_ps(gp.add(c))
                } else {
                    _mm256_setzero_ps()
                };
                for k in 0..4 {
                    let wv = _mm256_loadu_ps(rows[k].add(c));
                    if DH {
                        g = _mm256_fmadd_ps(wv, dv[k], g);
                    }
                    _mm256_storeu_ps(rows[k].add(c), _mm256_fmadd_ps(hv, sv[k], wv));
                }
                if DH {
                    _mm256_storeu_ps(gp.add(c), g);
                }
                c += 8;
            }
            for c in vec_end..I {
                for k in 0..4 {
                    let wv = *rows[k].add(c);
                    if DH {
                        *gp.add(c) += wv * dk[k];
                    }
                    *rows[k].add(c) = wv + sk[k] * h[c];
                }
            }
            for k in 0..4 {
                b[r + k] += sk[k];
            }
            r += 4;
        }
        while r < O {
            let row = wp.add(r * I);
            let (dr, sr) = (d[r], -lr * d[r]);
            let (dv, sv) = (_mm256_set1_ps(dr), _mm256_set1_ps(sr));
            let mut c = 0;
            while c + 8 <= I {
                let wv = _mm256_loadu_ps(row.add(c));
                if DH {
                    let g = _mm256_loadu_ps(gp.add(c));
                    _mm256_storeu_ps(gp.add(c), _mm256_fmadd_ps(wv, dv, g));
                }
                let hv = _mm256_loadu_ps(hp.add(c));
                _mm256_storeu_ps(row.add(c), _mm256_fmadd_ps(hv, sv, wv));
                c += 8;
            }
            for c in vec_end..I {
                let wv = *row.add(c);
                if DH {
                    *gp.add(c) += wv * dr;
                }
                *row.add(c) = wv + sr * h[c];
            }
            b[r] += sr;
            r += 1;
        }
    }
}

/// [`super::floor_sum`]: eight accumulators, 64 floats a pass.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub(super) unsafe fn sum(tensors: &[Vec<f32>]) -> f32 {
    let mut a = [_mm256_setzero_ps(); 8];
    let mut tail = 0.0;
    for t in tensors {
        let p = t.as_ptr();
        let mut c = 0;
        // SAFETY: `c + 64 ≤ t.len()`.
        unsafe {
            while c + 64 <= t.len() {
                for (k, acc) in a.iter_mut().enumerate() {
                    *acc = _mm256_add_ps(*acc, _mm256_loadu_ps(p.add(c + 8 * k)));
                }
                c += 64;
            }
        }
        tail += t[c..].iter().sum::<f32>();
    }
    let s = _mm256_add_ps(
        _mm256_add_ps(_mm256_add_ps(a[0], a[1]), _mm256_add_ps(a[2], a[3])),
        _mm256_add_ps(_mm256_add_ps(a[4], a[5]), _mm256_add_ps(a[6], a[7])),
    );
    hsum(s) + tail
}
