//! The practical limit: hand-written kernels per workload, what a careful programmer would
//! write for exactly this computation without a framework.
//!
//! - Batch 1 ([`Infer`], [`SampleStep`]): straight matrix-vector loops on row-major `[out, in]`
//!   weights (PyTorch layout: every row a contiguous stream; copied onto 64-byte lines, as
//!   nn's weights are), sizes known at compile time,
//!   AVX-512F, else AVX2 + FMA, chosen at run time (`is_x86_feature_detected!`; AVX-512: eight
//!   rows a pass, one accumulator each, the eight sums reduced by one shuffle tree),
//!   activations fused into the stores (a rational tanh as nn's, plain relu). The training step is fused per layer: one pass over the
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
        TANH => tanh(z),
        _ => z,
    }
}

/// `tanh(x)` within 8 ulp without a library call: the odd rational minimax approximation
/// (degree 13 over 6) on `x` clamped to `±7.905311` that Eigen uses (and nn, so the limit
/// pays no more for its activation than nn does: a `tanhf` call costs more than a 2-8-1
/// network's products).
#[inline(always)]
fn tanh(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let c = x.clamp(-CLAMP, CLAMP);
    let c2 = c * c;
    let p = c2 * -2.760_768_5e-16 + 2.000_188e-13;
    let p = p * c2 + -8.604_672e-11;
    let p = p * c2 + 5.122_297e-8;
    let p = p * c2 + 1.485_722_4e-5;
    let p = p * c2 + 6.372_619_3e-4;
    let p = p * c2 + 4.893_524_6e-3;
    let q = c2 * 1.198_258_4e-6 + 1.185_347_1e-4;
    let q = q * c2 + 2.268_434_6e-3;
    let q = q * c2 + 4.893_525e-3;
    if x.abs() < 0.0004 { x } else { p * c / q }
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

/// AVX-512F (with AVX2 + FMA), present (the only way to get one is [`Avx512::detect`]).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
struct Avx512(());

#[cfg(target_arch = "x86_64")]
impl Avx512 {
    #[inline(always)]
    fn detect() -> Option<Self> {
        (is_x86_feature_detected!("avx512f") && Avx2::detect().is_some()).then_some(Avx512(()))
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernels for Avx512 {
    #[inline(always)]
    fn dense<const O: usize, const I: usize, const ACT: u8>(
        self,
        w: &[f32],
        b: &[f32],
        x: &[f32],
        h: &mut [f32; O],
    ) {
        // SAFETY: `self` exists only when the CPU has AVX-512F.
        unsafe { avx512::dense::<O, I, ACT>(w, b, x, h) }
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
        unsafe { avx512::update::<O, I, DH>(w, b, d, h, lr, dh) }
    }
}

/// Calls `$body` with the best [`Kernels`] of this CPU bound to `$k`.
macro_rules! with_kernels {
    (|$k:ident| $body:expr) => {{
        #[cfg(target_arch = "x86_64")]
        {
            match (Avx512::detect(), Avx2::detect()) {
                (Some($k), _) => $body,
                (None, Some($k)) => $body,
                (None, None) => {
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
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;

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

fn tiny_forward<K: Kernels>(k: K, l: &[OnLines], x: &[f32], out: &mut [f32]) {
    let mut h = [0f32; 8];
    let mut z = [0f32; 1];
    k.dense::<8, 2, TANH>(&l[0].w, &l[0].b, x, &mut h);
    k.dense::<1, 8, NONE>(&l[1].w, &l[1].b, &h, &mut z);
    out.copy_from_slice(&z);
}

fn small_forward<K: Kernels>(k: K, l: &[OnLines], x: &[f32], out: &mut [f32]) {
    let (mut h1, mut h2, mut z) = ([0f32; 64], [0f32; 64], [0f32; 10]);
    k.dense::<64, 64, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<64, 64, RELU>(&l[1].w, &l[1].b, &h1, &mut h2);
    k.dense::<10, 64, NONE>(&l[2].w, &l[2].b, &h2, &mut z);
    out.copy_from_slice(&z);
}

fn mid_forward<K: Kernels>(k: K, l: &[OnLines], x: &[f32], out: &mut [f32]) {
    let (mut h1, mut z) = ([0f32; 128], [0f32; 10]);
    k.dense::<128, 784, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<10, 128, NONE>(&l[1].w, &l[1].b, &h1, &mut z);
    out.copy_from_slice(&z);
}

fn large_forward<K: Kernels>(k: K, l: &[OnLines], x: &[f32], out: &mut [f32]) {
    let (mut h1, mut h2, mut z) = ([0f32; 512], [0f32; 512], [0f32; 10]);
    k.dense::<512, 784, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<512, 512, RELU>(&l[1].w, &l[1].b, &h1, &mut h2);
    k.dense::<10, 512, NONE>(&l[2].w, &l[2].b, &h2, &mut z);
    out.copy_from_slice(&z);
}

fn small_step<K: Kernels>(k: K, l: &mut [OnLines], x: &[f32], label: usize, lr: f32) -> f32 {
    let (mut h1, mut h2, mut z) = ([0f32; 64], [0f32; 64], [0f32; 10]);
    k.dense::<64, 64, RELU>(&l[0].w, &l[0].b, x, &mut h1);
    k.dense::<64, 64, RELU>(&l[1].w, &l[1].b, &h1, &mut h2);
    k.dense::<10, 64, NONE>(&l[2].w, &l[2].b, &h2, &mut z);
    let (loss, d3) = softmax_ce(&z, label);
    let (mut d2, mut d1, mut unused) = ([0f32; 64], [0f32; 64], [0f32; 64]);
    let [l0, l1, l2] = l else {
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
fn forward_fn(arch: Arch) -> fn(&[OnLines], &[f32], &mut [f32]) {
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
    layers: Vec<OnLines>,
    x: Vec<f32>,
    out: Vec<f32>,
    forward: fn(&[OnLines], &[f32], &mut [f32]),
}

impl Infer {
    /// The network `p`, to be run on `x`.
    pub fn new(p: &Params, x: &[f32]) -> Self {
        Self {
            layers: p.layers.iter().map(OnLines::new).collect(),
            x: x.to_vec(),
            out: vec![0.0; p.arch.output()],
            forward: forward_fn(p.arch),
        }
    }

    /// The forward pass; the logits.
    #[inline]
    pub fn run(&mut self) -> &[f32] {
        (self.forward)(&self.layers, &self.x, &mut self.out);
        &self.out
    }
}

/// A layer's weight and bias for [`Infer`], each copied to start on a 64-byte line, as a
/// hand-written kernel places them: a row whose length is a multiple of 16 floats then lies on
/// whole lines, and no 16-float load straddles two (a straddling load costs about two).
struct OnLines {
    w: Line,
    b: Line,
}

impl OnLines {
    fn new(l: &Layer) -> Self {
        Self {
            w: Line::new(&l.w),
            b: Line::new(&l.b),
        }
    }
}

/// Floats starting on a 64-byte line: a buffer 16 floats longer than needed, used from its first
/// line.
struct Line {
    buffer: Vec<f32>,
    start: usize,
    len: usize,
}

impl Line {
    fn new(values: &[f32]) -> Self {
        let mut buffer = vec![0.0; values.len() + 16];
        let start = buffer.as_ptr().align_offset(64);
        buffer[start..start + values.len()].copy_from_slice(values);
        Self {
            buffer,
            start,
            len: values.len(),
        }
    }
}

impl core::ops::Deref for Line {
    type Target = [f32];

    fn deref(&self) -> &[f32] {
        &self.buffer[self.start..self.start + self.len]
    }
}

impl core::ops::DerefMut for Line {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.buffer[self.start..self.start + self.len]
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
    /// The shapes (and the values at the start, overwritten by [`SampleStep::params`]).
    params: Params,
    /// The parameters being trained, on 64-byte lines as [`Infer`]'s.
    layers: Vec<OnLines>,
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
            layers: p.layers.iter().map(OnLines::new).collect(),
            x: x.to_vec(),
            label,
        }
    }

    /// One step; the loss before it.
    #[inline]
    pub fn run(&mut self) -> f32 {
        let (l, x, label) = (&mut self.layers[..], &self.x, self.label);
        with_kernels!(|k| small_step(k, l, x, label, LR))
    }

    /// The parameters.
    pub fn params(&self) -> Params {
        let mut p = self.params.clone();
        for (to, from) in p.layers.iter_mut().zip(&self.layers) {
            to.w.copy_from_slice(&from.w);
            to.b.copy_from_slice(&from.b);
        }
        p
    }
}

// ---- Batches: the fused training step on sgemm. ----

/// `C = α A B + β C`, `A` `m × k`, `B` `k × n`, each with (row stride, column stride).
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn sgemm(
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
