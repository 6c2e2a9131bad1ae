//! The same math written by hand on flat `f32` buffers: what a careful programmer would write
//! without a framework, and so the practical limit.
//!
//! Weights are row-major `[out, in]`; activations are `[width, batch]` column-major (each sample
//! contiguous, as nn's `Batch`). Every product is one `matrixmultiply::sgemm` call with strides
//! (a transpose is a swap of strides). Buffers live in a [`Scratch`] allocated once, so a step
//! allocates nothing.
//!
//! [`Hand::backward`] with `n = 1` is the per-sample version on sgemm. [`Loops`] is a
//! per-sample version on plain loops (axpys and dot products the compiler vectorizes), since
//! sgemm packs its operands on every call, which for one sample costs more than the product.

use crate::{Params, Shape};

/// Intermediates of a forward and backward pass for up to `capacity` samples.
pub struct Scratch {
    capacity: usize,
    z1: Vec<f32>,
    h1: Vec<f32>,
    z2: Vec<f32>,
    h2: Vec<f32>,
    z3: Vec<f32>,
    dh2: Vec<f32>,
    dh1: Vec<f32>,
}

impl Scratch {
    /// Buffers for batches of up to `capacity` samples.
    pub fn new(shape: Shape, capacity: usize) -> Self {
        let (h, o) = (shape.hidden, shape.output);
        Self {
            capacity,
            z1: vec![0.0; h * capacity],
            h1: vec![0.0; h * capacity],
            z2: vec![0.0; h * capacity],
            h2: vec![0.0; h * capacity],
            z3: vec![0.0; o * capacity],
            dh2: vec![0.0; h * capacity],
            dh1: vec![0.0; h * capacity],
        }
    }

    /// The logits of the last forward pass, `[output, n]`.
    pub fn logits(&self, shape: Shape, n: usize) -> &[f32] {
        &self.z3[..shape.output * n]
    }
}

/// Which library multiplies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// `matrixmultiply::sgemm`, as nn.
    Matrixmultiply,
    /// The `gemm` crate (candle's and faer's), single-threaded, which has AVX-512 kernels.
    GemmCrate,
}

/// `C = A B + β C`: `A` is `m × k`, `B` is `k × n`, each given by (row stride, column stride).
#[allow(clippy::too_many_arguments)]
#[inline]
fn gemm(
    backend: Backend,
    (m, k, n): (usize, usize, usize),
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
    // SAFETY: the assertions above bound every element addressed; `c` is a unique borrow.
    unsafe {
        match backend {
            Backend::Matrixmultiply => matrixmultiply::sgemm(
                m,
                k,
                n,
                1.0,
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
            ),
            // dst := α dst + β lhs rhs; strides are given column stride first.
            Backend::GemmCrate => ::gemm::gemm(
                m,
                n,
                k,
                c.as_mut_ptr(),
                i(csc),
                i(rsc),
                beta != 0.0,
                a.as_ptr(),
                i(csa),
                i(rsa),
                b.as_ptr(),
                i(csb),
                i(rsb),
                beta,
                1.0,
                false,
                false,
                false,
                ::gemm::Parallelism::None,
            ),
        }
    }
}

/// `z = W x + b` for every column, then `h = relu(z)`: `W` `[rows, k]` with strides `ws`,
/// `x` `[k, n]`.
#[allow(clippy::too_many_arguments)]
fn dense_relu(
    backend: Backend,
    (rows, k, n): (usize, usize, usize),
    w: &[f32],
    ws: (usize, usize),
    b: &[f32],
    x: &[f32],
    z: &mut [f32],
    h: &mut [f32],
) {
    gemm(backend, (rows, k, n), w, ws, x, (1, k), 0.0, z, (1, rows));
    for (zc, hc) in z
        .chunks_exact_mut(rows)
        .zip(h.chunks_exact_mut(rows))
        .take(n)
    {
        for ((zv, hv), bv) in zc.iter_mut().zip(hc.iter_mut()).zip(b) {
            *zv += bv;
            *hv = zv.max(0.0);
        }
    }
}

/// Mean softmax cross-entropy of logits `[o, n]` against targets `[o, n]`; overwrites the
/// logits with the gradient `(p Σy − y) / n` (`(p − y) / n` for one-hot targets), nn's formula.
fn softmax_ce_in_place(o: usize, n: usize, z: &mut [f32], y: &[f32]) -> f32 {
    let inv_n = 1.0 / n as f32;
    let mut loss = 0.0;
    for (zc, yc) in z.chunks_exact_mut(o).zip(y.chunks_exact(o)).take(n) {
        let max = zc.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
        let (mut sum, mut yz, mut mass) = (0.0, 0.0, 0.0);
        for (v, &t) in zc.iter_mut().zip(yc) {
            yz += t * *v;
            mass += t;
            *v = (*v - max).exp();
            sum += *v;
        }
        // −Σ y (z − lse) = lse Σy − Σ y z.
        loss += mass * (max + f32::ln(sum)) - yz;
        let inv_sum = 1.0 / sum;
        for (v, &t) in zc.iter_mut().zip(yc) {
            *v = (*v * inv_sum * mass - t) * inv_n;
        }
    }
    loss * inv_n
}

/// `g += Σ_columns d`: `d` is `[rows, n]`.
fn add_column_sums(rows: usize, n: usize, d: &[f32], g: &mut [f32]) {
    for dc in d.chunks_exact(rows).take(n) {
        for (gv, dv) in g.iter_mut().zip(dc) {
            *gv += dv;
        }
    }
}

/// How [`Hand`] stores its weights (and their gradients).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `[out, in]` row-major, PyTorch's layout (candle's, dfdx's).
    RowMajor,
    /// `[out, in]` column-major, nalgebra's (nn's).
    ColMajor,
}

/// The network on flat buffers, its products on sgemm.
pub struct Hand {
    shape: Shape,
    layout: Layout,
    backend: Backend,
    /// `W1, W2, W3` in `layout`.
    w: [Vec<f32>; 3],
    /// `b1, b2, b3`.
    b: [Vec<f32>; 3],
}

/// A gradient of [`Hand`], weights in the network's layout.
pub struct HandGrad {
    w: [Vec<f32>; 3],
    b: [Vec<f32>; 3],
}

impl Hand {
    /// The network holding `p`, its weights stored in `layout`, multiplied by matrixmultiply.
    pub fn new(p: &Params, layout: Layout) -> Self {
        Self::with_backend(p, layout, Backend::Matrixmultiply)
    }

    /// The network holding `p`, its weights stored in `layout`, multiplied by `backend`.
    pub fn with_backend(p: &Params, layout: Layout, backend: Backend) -> Self {
        let [(r1, c1), (r2, c2), (r3, c3)] = weight_shapes(p.shape);
        let store = |r, c, w: &[f32]| match layout {
            Layout::RowMajor => w.to_vec(),
            Layout::ColMajor => crate::transpose(r, c, w),
        };
        Self {
            shape: p.shape,
            layout,
            backend,
            w: [
                store(r1, c1, &p.w1),
                store(r2, c2, &p.w2),
                store(r3, c3, &p.w3),
            ],
            b: [p.b1.clone(), p.b2.clone(), p.b3.clone()],
        }
    }

    /// A zero gradient.
    pub fn zero_grad(&self) -> HandGrad {
        HandGrad {
            w: self.w.clone().map(|v| vec![0.0; v.len()]),
            b: self.b.clone().map(|v| vec![0.0; v.len()]),
        }
    }

    /// `g` as [`Params`] (row-major weights).
    pub fn grad_params(&self, g: &HandGrad) -> Params {
        let [(r1, c1), (r2, c2), (r3, c3)] = weight_shapes(self.shape);
        let load = |r, c, w: &[f32]| match self.layout {
            Layout::RowMajor => w.to_vec(),
            Layout::ColMajor => crate::transpose(c, r, w),
        };
        Params {
            shape: self.shape,
            w1: load(r1, c1, &g.w[0]),
            b1: g.b[0].clone(),
            w2: load(r2, c2, &g.w[1]),
            b2: g.b[1].clone(),
            w3: load(r3, c3, &g.w[2]),
            b3: g.b[2].clone(),
        }
    }

    /// (row stride, column stride) of a stored `[rows, cols]` weight.
    fn ws(&self, rows: usize, cols: usize) -> (usize, usize) {
        match self.layout {
            Layout::RowMajor => (cols, 1),
            Layout::ColMajor => (1, rows),
        }
    }

    /// (row stride, column stride) of the transpose `[cols, rows]` of a stored `[rows, cols]`
    /// weight, read in place.
    fn wts(&self, rows: usize, cols: usize) -> (usize, usize) {
        let (rs, cs) = self.ws(rows, cols);
        (cs, rs)
    }

    /// Logits of `n` samples `x` (`[input, n]`), left in `s` (see [`Scratch::logits`]).
    pub fn forward(&self, x: &[f32], n: usize, s: &mut Scratch) {
        let Shape {
            input: i,
            hidden: h,
            output: o,
            residual,
            ..
        } = self.shape;
        assert!(n <= s.capacity && x.len() >= i * n);
        let (w, b) = (&self.w, &self.b);
        let be = self.backend;
        dense_relu(
            be,
            (h, i, n),
            &w[0],
            self.ws(h, i),
            &b[0],
            x,
            &mut s.z1,
            &mut s.h1,
        );
        dense_relu(
            be,
            (h, h, n),
            &w[1],
            self.ws(h, h),
            &b[1],
            &s.h1,
            &mut s.z2,
            &mut s.h2,
        );
        if residual {
            for (a, b) in s.h2[..h * n].iter_mut().zip(&s.h1[..h * n]) {
                *a += b;
            }
        }
        gemm(
            self.backend,
            (o, h, n),
            &w[2],
            self.ws(o, h),
            &s.h2,
            (1, h),
            0.0,
            &mut s.z3,
            (1, o),
        );
        for zc in s.z3.chunks_exact_mut(o).take(n) {
            for (zv, bv) in zc.iter_mut().zip(&b[2]) {
                *zv += bv;
            }
        }
    }

    /// Forward and backward for `n` samples `x` (`[input, n]`) with targets `y` (`[output, n]`):
    /// adds the gradient of the mean loss into `g` and returns that loss.
    pub fn backward(
        &self,
        x: &[f32],
        y: &[f32],
        n: usize,
        g: &mut HandGrad,
        s: &mut Scratch,
    ) -> f32 {
        let Shape {
            input: i,
            hidden: h,
            output: o,
            residual,
            ..
        } = self.shape;
        self.forward(x, n, s);
        let w = &self.w;
        let loss = softmax_ce_in_place(o, n, &mut s.z3, y);
        let dz3 = &s.z3;
        // dW3 += dz3 h2ᵀ  ([o, n] · [n, h]); db3 += Σ dz3.
        gemm(
            self.backend,
            (o, n, h),
            dz3,
            (1, o),
            &s.h2,
            (h, 1),
            1.0,
            &mut g.w[2],
            self.ws(o, h),
        );
        add_column_sums(o, n, dz3, &mut g.b[2]);
        // dh2 = W3ᵀ dz3.
        gemm(
            self.backend,
            (h, o, n),
            &w[2],
            self.wts(o, h),
            dz3,
            (1, o),
            0.0,
            &mut s.dh2,
            (1, h),
        );
        // dz2 = dh2 ⊙ relu'(z2), in place of z2. The residual passes dh2 on to dh1 unchanged.
        if residual {
            s.dh1[..h * n].copy_from_slice(&s.dh2[..h * n]);
        }
        relu_backward_in_place(&mut s.z2[..h * n], &s.dh2[..h * n]);
        let dz2 = &s.z2;
        gemm(
            self.backend,
            (h, n, h),
            dz2,
            (1, h),
            &s.h1,
            (h, 1),
            1.0,
            &mut g.w[1],
            self.ws(h, h),
        );
        add_column_sums(h, n, dz2, &mut g.b[1]);
        // dh1 (+)= W2ᵀ dz2.
        let beta = if residual { 1.0 } else { 0.0 };
        gemm(
            self.backend,
            (h, h, n),
            &w[1],
            self.wts(h, h),
            dz2,
            (1, h),
            beta,
            &mut s.dh1,
            (1, h),
        );
        relu_backward_in_place(&mut s.z1[..h * n], &s.dh1[..h * n]);
        let dz1 = &s.z1;
        gemm(
            self.backend,
            (h, n, i),
            dz1,
            (1, h),
            x,
            (i, 1),
            1.0,
            &mut g.w[0],
            self.ws(h, i),
        );
        add_column_sums(h, n, dz1, &mut g.b[0]);
        loss
    }
}

/// `z ← dh ⊙ [z > 0]`.
#[inline]
fn relu_backward_in_place(z: &mut [f32], dh: &[f32]) {
    // relu'(z) · dh, as nn computes it: a select the compiler vectorizes (a branch on the
    // sign of z, `if z > 0 { dh } else { 0 }`, compiles to a mispredicted jump per element).
    for (zv, dv) in z.iter_mut().zip(dh) {
        *zv = if *zv > 0.0 { 1.0 } else { 0.0 } * *dv;
    }
}

/// The per-sample network on plain loops, weights stored column-major (`[out, in]`, each
/// column contiguous, nalgebra's layout): `z = W x` is an axpy per column, `dh = Wᵀ dz` a dot
/// product per column, `dW += dz xᵀ` an axpy per column. Intermediates live in a [`Scratch`].
///
/// Two builds of the same code: [`Loops::forward`] / [`Loops::backward`] for the baseline
/// x86-64 target (SSE2, what every crate here is compiled for by default, nn included), and
/// [`Loops::forward_avx2`] / [`Loops::backward_avx2`], the same functions compiled with
/// AVX2 and FMA enabled (`#[target_feature]`) and chosen at run time when the CPU has them,
/// as matrixmultiply, candle's and dfdx's `gemm` do for their kernels.
pub struct Loops {
    shape: Shape,
    /// `w1, b1, w2, b2, w3, b3`, weights column-major.
    t: [Vec<f32>; 6],
}

/// A gradient of [`Loops`]: the same layout as its parameters.
pub struct LoopsGrad {
    t: [Vec<f32>; 6],
}

fn weight_shapes(s: Shape) -> [(usize, usize); 3] {
    [
        (s.hidden, s.input),
        (s.hidden, s.hidden),
        (s.output, s.hidden),
    ]
}

impl Loops {
    /// The network holding `p` (row-major weights stored column-major).
    pub fn new(p: &Params) -> Self {
        let [(h1, i1), (h2, i2), (h3, i3)] = weight_shapes(p.shape);
        Self {
            shape: p.shape,
            t: [
                crate::transpose(h1, i1, &p.w1),
                p.b1.clone(),
                crate::transpose(h2, i2, &p.w2),
                p.b2.clone(),
                crate::transpose(h3, i3, &p.w3),
                p.b3.clone(),
            ],
        }
    }

    /// A zero gradient.
    pub fn zero_grad(&self) -> LoopsGrad {
        LoopsGrad {
            t: self.t.clone().map(|v| vec![0.0; v.len()]),
        }
    }

    /// `g` as [`Params`] (row-major weights).
    pub fn grad_params(&self, g: &LoopsGrad) -> Params {
        let [(h1, i1), (h2, i2), (h3, i3)] = weight_shapes(self.shape);
        Params {
            shape: self.shape,
            w1: crate::transpose(i1, h1, &g.t[0]),
            b1: g.t[1].clone(),
            w2: crate::transpose(i2, h2, &g.t[2]),
            b2: g.t[3].clone(),
            w3: crate::transpose(i3, h3, &g.t[4]),
            b3: g.t[5].clone(),
        }
    }

    /// Logits of one sample, left in `s` (see [`Scratch::logits`]); baseline target.
    pub fn forward(&self, x: &[f32], s: &mut Scratch) {
        forward_loops(self, x, s)
    }

    /// Forward and backward of one sample, its gradient added into `g`; baseline target.
    pub fn backward(&self, x: &[f32], y: &[f32], g: &mut LoopsGrad, s: &mut Scratch) -> f32 {
        backward_loops(self, x, y, g, s)
    }

    /// [`Loops::forward`] compiled for AVX2 + FMA, when the CPU has them.
    pub fn forward_avx2(&self, x: &[f32], s: &mut Scratch) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU supports the features the function is compiled for.
            return unsafe { avx2::forward(self, x, s) };
        }
        forward_loops(self, x, s)
    }

    /// [`Loops::backward`] compiled for AVX2 + FMA, when the CPU has them.
    pub fn backward_avx2(&self, x: &[f32], y: &[f32], g: &mut LoopsGrad, s: &mut Scratch) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { avx2::backward(self, x, y, g, s) };
        }
        backward_loops(self, x, y, g, s)
    }
}

/// The loop kernels compiled for AVX2 + FMA.
///
/// # Safety
/// Every function here may be called only on a CPU with AVX2 and FMA
/// (`is_x86_feature_detected!`).
#[cfg(target_arch = "x86_64")]
#[allow(clippy::missing_safety_doc)]
pub mod avx2 {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn forward(n: &Loops, x: &[f32], s: &mut Scratch) {
        forward_loops(n, x, s)
    }

    /// [`super::gemv`] for AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub fn gemv(w: &[f32], x: &[f32], y: &mut [f32]) {
        super::gemv(w, x, y)
    }

    /// [`super::tr_mul_loops`] for AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub fn tr_mul(w: &[f32], d: &[f32], out: &mut [f32]) {
        super::tr_mul_loops(w, d, out)
    }

    /// [`super::outer_loops`] for AVX2.
    #[target_feature(enable = "avx2,fma")]
    pub fn outer(d: &[f32], x: &[f32], g: &mut [f32]) {
        super::outer_loops(d, x, g)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) fn backward(
        n: &Loops,
        x: &[f32],
        y: &[f32],
        g: &mut LoopsGrad,
        s: &mut Scratch,
    ) -> f32 {
        backward_loops(n, x, y, g, s)
    }
}

/// `z = W x + b` (an axpy per column of `W`, `[z.len(), x.len()]` column-major), `h = relu(z)`.
#[inline(always)]
fn dense_relu_loops(w: &[f32], b: &[f32], x: &[f32], z: &mut [f32], h: &mut [f32]) {
    dense_loops(w, b, x, z);
    for (hv, zv) in h.iter_mut().zip(z.iter()) {
        *hv = zv.max(0.0);
    }
}

#[inline(always)]
fn dense_loops(w: &[f32], b: &[f32], x: &[f32], z: &mut [f32]) {
    z.copy_from_slice(b);
    gemv(w, x, z);
}

/// `y += W x`, `W` `[y.len(), x.len()]` column-major: four columns per pass over `y`, so `y` is
/// loaded and stored once per four columns rather than once per column (what an axpy per
/// column, nalgebra's `gemv`, does).
#[inline(always)]
pub fn gemv(w: &[f32], x: &[f32], y: &mut [f32]) {
    let rows = y.len();
    let mut cols = w.chunks_exact(rows).zip(x);
    let blocks = x.len() / 4;
    for _ in 0..blocks {
        let (c0, &x0) = cols.next().unwrap();
        let (c1, &x1) = cols.next().unwrap();
        let (c2, &x2) = cols.next().unwrap();
        let (c3, &x3) = cols.next().unwrap();
        for ((((yv, a), b), c), d) in y.iter_mut().zip(c0).zip(c1).zip(c2).zip(c3) {
            *yv += x0 * a + x1 * b + x2 * c + x3 * d;
        }
    }
    for (col, &xv) in cols {
        axpy(xv, col, y);
    }
}

#[inline(always)]
fn forward_loops(n: &Loops, x: &[f32], s: &mut Scratch) {
    let Shape {
        input: i,
        hidden: h,
        output: o,
        residual,
        ..
    } = n.shape;
    let t = &n.t;
    dense_relu_loops(&t[0], &t[1], &x[..i], &mut s.z1[..h], &mut s.h1[..h]);
    dense_relu_loops(&t[2], &t[3], &s.h1[..h], &mut s.z2[..h], &mut s.h2[..h]);
    if residual {
        for (a, b) in s.h2[..h].iter_mut().zip(&s.h1[..h]) {
            *a += b;
        }
    }
    dense_loops(&t[4], &t[5], &s.h2[..h], &mut s.z3[..o]);
}

#[inline(always)]
fn backward_loops(n: &Loops, x: &[f32], y: &[f32], g: &mut LoopsGrad, s: &mut Scratch) -> f32 {
    let Shape {
        input: i,
        hidden: h,
        output: o,
        residual,
        ..
    } = n.shape;
    forward_loops(n, x, s);
    let t = &n.t;
    let x = &x[..i];
    let loss = softmax_ce_in_place(o, 1, &mut s.z3, y);
    let dz3 = &s.z3[..o];
    // Output layer: dW3 += dz3 h2ᵀ, db3 += dz3, dh2 = W3ᵀ dz3.
    outer_loops(dz3, &s.h2[..h], &mut g.t[4]);
    axpy(1.0, dz3, &mut g.t[5]);
    tr_mul_loops(&t[4], dz3, &mut s.dh2[..h]);
    relu_backward_in_place(&mut s.z2[..h], &s.dh2[..h]);
    let dz2 = &s.z2[..h];
    outer_loops(dz2, &s.h1[..h], &mut g.t[2]);
    axpy(1.0, dz2, &mut g.t[3]);
    tr_mul_loops(&t[2], dz2, &mut s.dh1[..h]);
    if residual {
        for (a, b) in s.dh1[..h].iter_mut().zip(&s.dh2[..h]) {
            *a += b;
        }
    }
    relu_backward_in_place(&mut s.z1[..h], &s.dh1[..h]);
    outer_loops(&s.z1[..h], x, &mut g.t[0]);
    axpy(1.0, &s.z1[..h], &mut g.t[1]);
    loss
}

/// `G += d xᵀ`, `G` `[d.len(), x.len()]` column-major: an axpy per column.
#[inline(always)]
pub fn outer_loops(d: &[f32], x: &[f32], g: &mut [f32]) {
    for (col, &xv) in g.chunks_exact_mut(d.len()).zip(x) {
        axpy(xv, d, col);
    }
}

/// `out = Wᵀ d`, `W` `[d.len(), out.len()]` column-major: a dot product per column.
#[inline(always)]
pub fn tr_mul_loops(w: &[f32], d: &[f32], out: &mut [f32]) {
    for (ov, col) in out.iter_mut().zip(w.chunks_exact(d.len())) {
        *ov = dot(col, d);
    }
}

/// A dot product with 16 independent partial sums, so the compiler vectorizes it.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    const L: usize = 16;
    let mut acc = [0.0f32; L];
    let (ac, ar) = a.split_at(a.len() / L * L);
    let (bc, br) = b.split_at(ac.len());
    for (x, y) in ac.chunks_exact(L).zip(bc.chunks_exact(L)) {
        for l in 0..L {
            acc[l] += x[l] * y[l];
        }
    }
    let mut sum: f32 = acc.iter().sum();
    for (x, y) in ar.iter().zip(br) {
        sum += x * y;
    }
    sum
}

/// `y += a x`.
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += a * xv;
    }
}
