//! The practical limit: hand-written kernels per workload, what a careful programmer would
//! write for exactly this computation without a framework.
//!
//! - Batch 1 ([`Infer`], [`SampleStep`]): straight matrix-vector loops on row-major `[out, in]`
//!   weights (PyTorch layout: every row a contiguous stream), sizes known at compile time,
//!   AVX2 + FMA chosen at run time (`is_x86_feature_detected!`), activations fused into the
//!   stores (`f32::tanh`, plain relu). The training step is fused per layer: one pass over the
//!   rows computes `dh = Wᵀ δ` with the old weights and updates `W −= lr δ hᵀ`, `b −= lr δ`.
//! - Batches ([`FusedStep`]): the forward GEMMs, softmax cross-entropy, then per layer from
//!   the top `dh = Wᵀ δ` and the update fused into a GEMM, `W ← W − (lr/B) δ hᵀ` (sgemm with
//!   `α = −lr/B`, `β = 1`, straight into `W`), `b −= (lr/B) Σ δ`; weights column-major as nn's;
//!   every buffer preallocated.
//! - [`Floor`]: reads every parameter once (an AVX2 sum with eight accumulators): the memory
//!   traffic bound of a batch-1 forward pass.

use crate::{Act, Arch, Data, LR, Layer, Params, transpose};

/// No activation (the logits).
const NONE: u8 = 0;
/// Relu.
const RELU: u8 = 1;
/// Tanh.
const TANH: u8 = 2;

#[inline(always)]
fn act<const ACT: u8>(z: f32) -> f32 {
    match ACT {
        RELU => z.max(0.0),
        TANH => z.tanh(),
        _ => z,
    }
}

/// The batch-1 kernels, on sizes known at compile time.
trait Kernels: Copy {
    /// `h = act(W x + b)`, `W` row-major `[O, I]`.
    fn dense<const O: usize, const I: usize, const ACT: u8>(
        self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        h: &mut [f32; O],
    );

    /// `dh = Wᵀ d` with `W` before the update (if `DH`), then `W −= lr d hᵀ`, `b −= lr d`.
    fn update<const O: usize, const I: usize, const DH: bool>(
        self,
        w: &mut [f32],
        b: &mut [f32],
        d: &[f32; O],
        h: &[f32],
        lr: f32,
        dh: &mut [f32; I],
    );
}

/// Plain loops for the baseline target (a CPU without AVX2 + FMA).
#[derive(Clone, Copy)]
struct Scalar;

impl Kernels for Scalar {
    fn dense<const O: usize, const I: usize, const ACT: u8>(
        self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        h: &mut [f32; O],
    ) {
        let (w, x) = (&w[..O * I], &x[..I]);
        for (r, hr) in h.iter_mut().enumerate() {
            let row = &w[r * I..(r + 1) * I];
            let s: f32 = row.iter().zip(x).map(|(a, b)| a * b).sum();
            *hr = act::<ACT>(s + b[r]);
        }
    }

    fn update<const O: usize, const I: usize, const DH: bool>(
        self,
        w: &mut [f32],
        b: &mut [f32],
        d: &[f32; O],
        h: &[f32],
        lr: f32,
        dh: &mut [f32; I],
    ) {
        let (w, h) = (&mut w[..O * I], &h[..I]);
        if DH {
            dh.fill(0.0);
        }
        for (r, &dr) in d.iter().enumerate() {
            let s = -lr * dr;
            for ((wv, &hv), g) in w[r * I..(r + 1) * I].iter_mut().zip(h).zip(dh.iter_mut()) {
                if DH {
                    *g += *wv * dr;
                }
                *wv += s * hv;
            }
            b[r] += s;
        }
    }
}

/// AVX2 + FMA, present (the only way to get one is [`Avx2::detect`]).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx2(());

#[cfg(target_arch = "x86_64")]
impl Avx2 {
    #[inline(always)]
    fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")).then_some(Avx2(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernels for Avx2 {
    #[inline(always)]
    fn dense<const O: usize, const I: usize, const ACT: u8>(
        self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        h: &mut [f32; O],
    ) {
        // SAFETY: `self` exists only when the CPU has AVX2 and FMA.
        unsafe { avx2::dense::<O, I, ACT>(w, b, x, h) }
    }

    #[inline(always)]
    fn update<const O: usize, const I: usize, const DH: bool>(
        self,
        w: &mut [f32],
        b: &mut [f32],
        d: &[f32; O],
        h: &[f32],
        lr: f32,
        dh: &mut [f32; I],
    ) {
        // SAFETY: as above.
        unsafe { avx2::update::<O, I, DH>(w, b, d, h, lr, dh) }
    }
}

/// Calls `$body` with the best [`Kernels`] of this CPU bound to `$k`.
macro_rules! with_kernels {
    (|$k:ident| $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            match Avx2::detect() {
                Some($k) => $body,
                None => {
                    let $k = Scalar;
                    $body
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            let $k = Scalar;
            $body
        }
    }};
}

#[cfg(target_arch = "x86_64")]
// Index loops: the tails run next to raw-pointer loops over the same columns.
#[allow(clippy::needless_range_loop)]
mod avx2 {
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
                        a[k + 4] =
                            _mm256_fmadd_ps(_mm256_loadu_ps(rows[k].add(c + 8)), x1, a[k + 4]);
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
                    a0 = _mm256_fmadd_ps(
                        _mm256_loadu_ps(row.add(c)),
                        _mm256_loadu_ps(xp.add(c)),
                        a0,
                    );
                    a1 = _mm256_fmadd_ps(
                        _mm256_loadu_ps(row.add(c + 8)),
                        _mm256_loadu_ps(xp.add(c + 8)),
                        a1,
                    );
                    c += 16;
                }
                if c + 8 <= I {
                    a0 = _mm256_fmadd_ps(
                        _mm256_loadu_ps(row.add(c)),
                        _mm256_loadu_ps(xp.add(c)),
                        a0,
                    );
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
}

/// `(loss, p − onehot(label))` of logits `z`.
#[inline(always)]
fn softmax_ce<const O: usize>(z: &[f32; O], label: usize) -> (f32, [f32; O]) {
    let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut p = z.map(|v| (v - max).exp());
    let sum: f32 = p.iter().sum();
    let inv = 1.0 / sum;
    for v in &mut p {
        *v *= inv;
    }
    p[label] -= 1.0;
    (max + sum.ln() - z[label], p)
}

// ---- Batch 1, per network. ----

fn tiny_forward<K: Kernels>(k: K, p: &Params, x: &[f32], out: &mut [f32]) {
    let l = &p.layers;
    let mut h = [0f32; 8];
    let mut z = [0f32; 1];
    k.dense::<8, 2, TANH>(&l[0].w, &l[0].b, x, &mut h);
    k.dense::<1, 8, NONE>(&l[1].w, &l[1].b, &h, &mut z);
    out.copy_from_slice(&z);
}

fn small_forward<K: Kernels>(k: K, p: &Params, x: &[f32], out: &mut [f32]) {
    let l = &p.layers;
    let (mut h1, mut h2, mut z) = ([0f32; 64], [0f32; 64], [0f32; 10]);
    k.dense::<64, 64, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<64, 64, RELU>(&l[1].w, &l[1].b, &h1, &mut h2);
    k.dense::<10, 64, NONE>(&l[2].w, &l[2].b, &h2, &mut z);
    out.copy_from_slice(&z);
}

fn mid_forward<K: Kernels>(k: K, p: &Params, x: &[f32], out: &mut [f32]) {
    let l = &p.layers;
    let (mut h1, mut z) = ([0f32; 128], [0f32; 10]);
    k.dense::<128, 784, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<10, 128, NONE>(&l[1].w, &l[1].b, &h1, &mut z);
    out.copy_from_slice(&z);
}

fn large_forward<K: Kernels>(k: K, p: &Params, x: &[f32], out: &mut [f32]) {
    let l = &p.layers;
    let (mut h1, mut h2, mut z) = ([0f32; 512], [0f32; 512], [0f32; 10]);
    k.dense::<512, 784, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<512, 512, RELU>(&l[1].w, &l[1].b, &h1, &mut h2);
    k.dense::<10, 512, NONE>(&l[2].w, &l[2].b, &h2, &mut z);
    out.copy_from_slice(&z);
}

fn small_step<K: Kernels>(k: K, p: &mut Params, x: &[f32], label: usize, lr: f32) -> f32 {
    let l = &mut p.layers;
    let (mut h1, mut h2, mut z) = ([0f32; 64], [0f32; 64], [0f32; 10]);
    k.dense::<64, 64, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<64, 64, RELU>(&l[1].w, &l[1].b, &h1, &mut h2);
    k.dense::<10, 64, NONE>(&l[2].w, &l[2].b, &h2, &mut z);
    let (loss, d3) = softmax_ce(&z, label);
    let (mut d2, mut d1, mut unused) = ([0f32; 64], [0f32; 64], [0f32; 64]);
    let [l0, l1, l2] = &mut l[..] else {
        unreachable!("three layers")
    };
    k.update::<10, 64, true>(&mut l2.w, &mut l2.b, &d3, &h2, lr, &mut d2);
    for (d, h) in d2.iter_mut().zip(&h2) {
        if *h <= 0.0 {
            *d = 0.0;
        }
    }
    k.update::<64, 64, true>(&mut l1.w, &mut l1.b, &d2, &h1, lr, &mut d1);
    for (d, h) in d1.iter_mut().zip(&h1) {
        if *h <= 0.0 {
            *d = 0.0;
        }
    }
    k.update::<64, 64, false>(&mut l0.w, &mut l0.b, &d1, x, lr, &mut unused);
    loss
}

/// The batch-1 forward pass of one of [`crate::ARCHS`], on `Params` (row-major weights).
fn forward_fn(arch: Arch) -> fn(&Params, &[f32], &mut [f32]) {
    match arch.name {
        "2-8-1" => |p, x, o| with_kernels!(|k| tiny_forward(k, p, x, o)),
        "64-64-64-10" => |p, x, o| with_kernels!(|k| small_forward(k, p, x, o)),
        "784-128-10" => |p, x, o| with_kernels!(|k| mid_forward(k, p, x, o)),
        "784-512-512-10" => |p, x, o| with_kernels!(|k| large_forward(k, p, x, o)),
        other => panic!("no limit kernel for {other}"),
    }
}

/// A: batch-1 inference, the limit.
pub struct Infer {
    params: Params,
    x: Vec<f32>,
    out: Vec<f32>,
    forward: fn(&Params, &[f32], &mut [f32]),
}

impl Infer {
    /// The network `p`, to be run on `x`.
    pub fn new(p: &Params, x: &[f32]) -> Self {
        Self {
            params: p.clone(),
            x: x.to_vec(),
            out: vec![0.0; p.arch.output()],
            forward: forward_fn(p.arch),
        }
    }

    /// The forward pass; the logits.
    #[inline]
    pub fn run(&mut self) -> &[f32] {
        (self.forward)(&self.params, &self.x, &mut self.out);
        &self.out
    }
}

/// A: read every parameter once (a sum over all weights and biases), the memory-traffic
/// floor of a batch-1 forward pass.
pub struct Floor {
    tensors: Vec<Vec<f32>>,
}

impl Floor {
    /// A copy of `p`'s tensors (weights row-major), allocated as a network's are.
    pub fn new(p: &Params) -> Self {
        let tensors = p
            .layers
            .iter()
            .flat_map(|l| [l.w.clone(), l.b.clone()])
            .collect();
        Self { tensors }
    }

    /// The sum of every parameter.
    #[inline]
    pub fn run(&self) -> f32 {
        floor_sum(&self.tensors)
    }
}

fn floor_sum(tensors: &[Vec<f32>]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if Avx2::detect().is_some() {
        // SAFETY: the CPU has AVX2 and FMA.
        return unsafe { avx2::sum(tensors) };
    }
    tensors.iter().flatten().sum()
}

/// C: one per-sample SGD step, the limit (64-64-64-10 only).
pub struct SampleStep {
    params: Params,
    x: Vec<f32>,
    label: usize,
}

impl SampleStep {
    /// The network `p`, stepping on `x` with class `label`.
    ///
    /// # Panics
    /// If `p` is not 64-64-64-10.
    pub fn new(p: &Params, x: &[f32], label: usize) -> Self {
        assert_eq!(
            p.arch,
            crate::SMALL,
            "the per-sample limit is written for 64-64-64-10"
        );
        Self {
            params: p.clone(),
            x: x.to_vec(),
            label,
        }
    }

    /// One step; the loss before it.
    #[inline]
    pub fn run(&mut self) -> f32 {
        let (p, x, label) = (&mut self.params, &self.x, self.label);
        with_kernels!(|k| small_step(k, p, x, label, LR))
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        self.params.clone()
    }
}

// ---- Batches: the fused training step on sgemm. ----

/// `C = α A B + β C`, `A` `m × k`, `B` `k × n`, each with (row stride, column stride).
#[allow(clippy::too_many_arguments)]
#[inline]
fn sgemm(
    (m, k, n): (usize, usize, usize),
    alpha: f32,
    a: &[f32],
    (rsa, csa): (usize, usize),
    b: &[f32],
    (rsb, csb): (usize, usize),
    beta: f32,
    c: &mut [f32],
    (rsc, csc): (usize, usize),
) {
    // The last element each operand addresses must be in bounds.
    assert!(a.len() > (m - 1) * rsa + (k - 1) * csa);
    assert!(b.len() > (k - 1) * rsb + (n - 1) * csb);
    assert!(c.len() > (m - 1) * rsc + (n - 1) * csc);
    let i = |s: usize| s as isize;
    // SAFETY: the assertions bound every element addressed; `c` is a unique borrow.
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            alpha,
            a.as_ptr(),
            i(rsa),
            i(csa),
            b.as_ptr(),
            i(rsb),
            i(csb),
            beta,
            c.as_mut_ptr(),
            i(rsc),
            i(csc),
        )
    }
}

/// B: one minibatch SGD step, the limit: forward GEMMs, softmax cross-entropy, then per layer
/// from the top `dh = Wᵀ δ` and `W ← W − (lr/B) δ hᵀ` in one sgemm (`α = −lr/B`, `β = 1`).
pub struct FusedStep {
    arch: Arch,
    batch: usize,
    /// Weights `[out, in]`, column-major.
    w: Vec<Vec<f32>>,
    b: Vec<Vec<f32>>,
    /// `[in, batch]`, column-major.
    x: Vec<f32>,
    labels: Vec<usize>,
    /// Each layer's output `[out, batch]` (after the activation).
    h: Vec<Vec<f32>>,
    /// Each layer's `δ = ∂L/∂z · B`, `[out, batch]`.
    d: Vec<Vec<f32>>,
    /// `Σ δ` over the batch, for the bias.
    sum: Vec<f32>,
}

impl FusedStep {
    /// The network `p`, stepping on all of `data`.
    pub fn new(p: &Params, data: &Data) -> Self {
        let n = data.n;
        Self {
            arch: p.arch,
            batch: n,
            w: p.layers
                .iter()
                .map(|l| transpose(l.out, l.inp, &l.w))
                .collect(),
            b: p.layers.iter().map(|l| l.b.clone()).collect(),
            x: data.x.clone(),
            labels: data.labels.clone(),
            h: p.layers.iter().map(|l| vec![0.0; l.out * n]).collect(),
            d: p.layers.iter().map(|l| vec![0.0; l.out * n]).collect(),
            sum: vec![0.0; p.layers.iter().map(|l| l.out).max().unwrap_or(0)],
        }
    }

    /// One step; the mean loss before it.
    pub fn run(&mut self) -> f32 {
        let n = self.batch;
        let layers = self.w.len();
        let hidden = self.arch.hidden;
        // Forward: h = act(W x + b), the bias added in the activation's pass.
        for k in 0..layers {
            let (o, i) = (self.b[k].len(), self.w[k].len() / self.b[k].len());
            let (before, rest) = self.h.split_at_mut(k);
            let h = &mut rest[0];
            let input: &[f32] = if k == 0 { &self.x } else { &before[k - 1] };
            sgemm(
                (o, i, n),
                1.0,
                &self.w[k],
                (1, o),
                input,
                (1, i),
                0.0,
                h,
                (1, o),
            );
            let b = &self.b[k];
            let last = k + 1 == layers;
            for col in h.chunks_exact_mut(o) {
                match (last, hidden) {
                    (true, _) => col.iter_mut().zip(b).for_each(|(v, b)| *v += b),
                    (false, Act::Relu) => col
                        .iter_mut()
                        .zip(b)
                        .for_each(|(v, b)| *v = (*v + b).max(0.0)),
                    (false, Act::Tanh) => col
                        .iter_mut()
                        .zip(b)
                        .for_each(|(v, b)| *v = (*v + b).tanh()),
                }
            }
        }
        // Softmax cross-entropy: δ = p − y (the 1/B goes into the updates' α).
        let top = layers - 1;
        let o = self.b[top].len();
        let mut loss = 0.0;
        for ((z, d), &label) in self.h[top]
            .chunks_exact(o)
            .zip(self.d[top].chunks_exact_mut(o))
            .zip(&self.labels)
        {
            let max = z.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0.0;
            for (dv, &zv) in d.iter_mut().zip(z) {
                *dv = (zv - max).exp();
                sum += *dv;
            }
            loss += max + sum.ln() - z[label];
            let inv = 1.0 / sum;
            d.iter_mut().for_each(|v| *v *= inv);
            d[label] -= 1.0;
        }
        // Backward and update, from the top.
        let scale = -LR / n as f32;
        for k in (0..layers).rev() {
            let (o, i) = (self.b[k].len(), self.w[k].len() / self.b[k].len());
            let (below, rest) = self.d.split_at_mut(k);
            let d = &rest[0];
            if k > 0 {
                // dh = Wᵀ δ (old W), into the δ buffer of the layer below.
                let dh = &mut below[k - 1];
                sgemm(
                    (i, o, n),
                    1.0,
                    &self.w[k],
                    (o, 1),
                    d,
                    (1, o),
                    0.0,
                    dh,
                    (1, i),
                );
                let h = &self.h[k - 1];
                match hidden {
                    Act::Relu => {
                        for (g, &hv) in dh.iter_mut().zip(h) {
                            if hv <= 0.0 {
                                *g = 0.0;
                            }
                        }
                    }
                    Act::Tanh => {
                        for (g, &hv) in dh.iter_mut().zip(h) {
                            *g *= 1.0 - hv * hv;
                        }
                    }
                }
            }
            let input: &[f32] = if k == 0 { &self.x } else { &self.h[k - 1] };
            // W ← W − (lr/B) δ inputᵀ: inputᵀ is [n, i] with strides (i, 1).
            sgemm(
                (o, n, i),
                scale,
                d,
                (1, o),
                input,
                (i, 1),
                1.0,
                &mut self.w[k],
                (1, o),
            );
            // b −= (lr/B) Σ δ, summed first.
            let sum = &mut self.sum[..o];
            sum.fill(0.0);
            for col in d.chunks_exact(o) {
                for (s, &dv) in sum.iter_mut().zip(col) {
                    *s += dv;
                }
            }
            for (bv, &s) in self.b[k].iter_mut().zip(sum.iter()) {
                *bv += scale * s;
            }
        }
        loss / n as f32
    }

    /// The parameters, PyTorch layout.
    pub fn params(&self) -> Params {
        let layers = self
            .w
            .iter()
            .zip(&self.b)
            .map(|(w, b)| {
                let (out, inp) = (b.len(), w.len() / b.len());
                Layer {
                    out,
                    inp,
                    w: transpose(inp, out, w),
                    b: b.clone(),
                }
            })
            .collect();
        Params {
            arch: self.arch,
            layers,
        }
    }
}
