//! The LeNet's training-step limit at a batch of `n` images: im2col and `matrixmultiply::sgemm`
//! for both convolutions (one GEMM over the whole batch each: the patches of every image side
//! by side), relu fused into 2×2 max pooling (which records the input it took), the dense
//! layers as GEMMs, softmax cross-entropy, then backward with every update fused into the
//! GEMM that computes the weight gradient (`W ← W − lr δ Xᵀ`: `α = −lr`, `β = 1`, straight
//! into `W`, after the input gradient has used the old `W`), col2im for `conv2`'s input
//! gradient. Every buffer is allocated once, in [`LeNetStep::new`].
//!
//! Internal layouts, channel-major over the batch: a map `[C][n·H·W]`; patches
//! `[C·5·5][n·R·R]` (row `(c, ky, kx)`, column `(image, y, x)`); dense activations `[n][F]`.

use super::LeNetParams;
use crate::limit::sgemm;

/// A pool output that took nothing (its window was ≤ 0 after relu: no gradient).
const NONE: u32 = u32::MAX;

/// The step's parameters and buffers.
pub struct LeNetStep {
    n: usize,
    lr: f32,
    /// `[6, 25]`, `[6]`, `[16, 150]`, `[16]`, `[120, 256]`, `[120]`, `[10, 120]`, `[10]`,
    /// row-major (PyTorch's layout).
    w1: Vec<f32>,
    b1: Vec<f32>,
    w2: Vec<f32>,
    b2: Vec<f32>,
    w3: Vec<f32>,
    b3: Vec<f32>,
    w4: Vec<f32>,
    b4: Vec<f32>,
    x: Vec<f32>,
    labels: Vec<usize>,
    col1: Vec<f32>,
    z1: Vec<f32>,
    p1: Vec<f32>,
    at1: Vec<u32>,
    col2: Vec<f32>,
    z2: Vec<f32>,
    p2: Vec<f32>,
    at2: Vec<u32>,
    x3: Vec<f32>,
    h3: Vec<f32>,
    z4: Vec<f32>,
    dh3: Vec<f32>,
    dx3: Vec<f32>,
    dz2: Vec<f32>,
    dcol2: Vec<f32>,
    dp1: Vec<f32>,
    dz1: Vec<f32>,
}

/// Patches of `[c][n·s·s]` for a valid 5×5 convolution: `[c·25][n·r·r]`, `r = s − 4`.
fn im2col(x: &[f32], c: usize, n: usize, s: usize, col: &mut [f32]) {
    let r = s - 4;
    for ch in 0..c {
        for ky in 0..5 {
            for kx in 0..5 {
                let row = &mut col[((ch * 5 + ky) * 5 + kx) * n * r * r..][..n * r * r];
                for img in 0..n {
                    let src = &x[(ch * n + img) * s * s..][..s * s];
                    for y in 0..r {
                        row[(img * r + y) * r..][..r]
                            .copy_from_slice(&src[(y + ky) * s + kx..][..r]);
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds every patch gradient back into `[c][n·s·s]`.
fn col2im(col: &[f32], c: usize, n: usize, s: usize, x: &mut [f32]) {
    x.fill(0.0);
    let r = s - 4;
    for ch in 0..c {
        for ky in 0..5 {
            for kx in 0..5 {
                let row = &col[((ch * 5 + ky) * 5 + kx) * n * r * r..][..n * r * r];
                for img in 0..n {
                    let dst = &mut x[(ch * n + img) * s * s..][..s * s];
                    for y in 0..r {
                        let d = &mut dst[(y + ky) * s + kx..][..r];
                        for (a, b) in d.iter_mut().zip(&row[(img * r + y) * r..][..r]) {
                            *a += b;
                        }
                    }
                }
            }
        }
    }
}

/// `relu` then 2×2 max pooling of `[c][n·s·s]` into `[c][n·(s/2)²]`, recording the index of
/// the input taken ([`NONE`] when the window's maximum is ≤ 0).
fn relu_pool(z: &[f32], c: usize, n: usize, s: usize, p: &mut [f32], at: &mut [u32]) {
    let r = s / 2;
    for plane in 0..c * n {
        let base = plane * s * s;
        for y in 0..r {
            for x in 0..r {
                let mut best = (0f32, NONE);
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let i = base + (2 * y + dy) * s + 2 * x + dx;
                    if z[i] > best.0 {
                        best = (z[i], i as u32);
                    }
                }
                let o = (plane * r + y) * r + x;
                (p[o], at[o]) = best;
            }
        }
    }
}

/// The adjoint of [`relu_pool`]: `dp` routed to the recorded inputs.
fn relu_pool_backward(at: &[u32], dp: &[f32], dz: &mut [f32]) {
    dz.fill(0.0);
    for (&i, &d) in at.iter().zip(dp) {
        if i != NONE {
            dz[i as usize] += d;
        }
    }
}

/// `z[row] = b[row]` for every row of `[b.len()][cols]`.
fn fill_rows(z: &mut [f32], b: &[f32], cols: usize) {
    for (row, &bias) in z.chunks_exact_mut(cols).zip(b) {
        row.fill(bias);
    }
}

/// `b −= lr Σ` over each row of `[b.len()][cols]`.
fn update_bias_rows(b: &mut [f32], d: &[f32], cols: usize, lr: f32) {
    for (bias, row) in b.iter_mut().zip(d.chunks_exact(cols)) {
        *bias -= lr * row.iter().sum::<f32>();
    }
}

/// `b −= lr Σ` over the rows of `[n][b.len()]`.
fn update_bias_cols(b: &mut [f32], d: &[f32], lr: f32) {
    for row in d.chunks_exact(b.len()) {
        for (bias, v) in b.iter_mut().zip(row) {
            *bias -= lr * v;
        }
    }
}

impl LeNetStep {
    /// The network `p`, to step on the `n = labels.len()` images `x` (`[n, 1, 28, 28]`).
    pub fn new(p: &LeNetParams, x: &[f32], labels: &[usize], lr: f32) -> Self {
        let n = labels.len();
        assert_eq!(x.len(), n * 784, "{n} images of 28×28");
        let z = |len: usize| vec![0f32; len];
        Self {
            n,
            lr,
            w1: p.conv1_w.clone(),
            b1: p.conv1_b.clone(),
            w2: p.conv2_w.clone(),
            b2: p.conv2_b.clone(),
            w3: p.fc1_w.clone(),
            b3: p.fc1_b.clone(),
            w4: p.fc2_w.clone(),
            b4: p.fc2_b.clone(),
            x: x.to_vec(),
            labels: labels.to_vec(),
            col1: z(25 * n * 576),
            z1: z(6 * n * 576),
            p1: z(6 * n * 144),
            at1: vec![NONE; 6 * n * 144],
            col2: z(150 * n * 64),
            z2: z(16 * n * 64),
            p2: z(16 * n * 16),
            at2: vec![NONE; 16 * n * 16],
            x3: z(n * 256),
            h3: z(n * 120),
            z4: z(n * 10),
            dh3: z(n * 120),
            dx3: z(n * 256),
            dz2: z(16 * n * 64),
            dcol2: z(150 * n * 64),
            dp1: z(6 * n * 144),
            dz1: z(6 * n * 576),
        }
    }

    /// One step; the loss before it.
    pub fn run(&mut self) -> f32 {
        let (n, lr) = (self.n, self.lr);
        // conv1 (+ relu, pool).
        im2col(&self.x, 1, n, 28, &mut self.col1);
        fill_rows(&mut self.z1, &self.b1, n * 576);
        let cols1 = n * 576;
        sgemm(
            (6, 25, cols1),
            1.0,
            &self.w1,
            (25, 1),
            &self.col1,
            (cols1, 1),
            1.0,
            &mut self.z1,
            (cols1, 1),
        );
        relu_pool(&self.z1, 6, n, 24, &mut self.p1, &mut self.at1);
        // conv2 (+ relu, pool).
        im2col(&self.p1, 6, n, 12, &mut self.col2);
        let cols2 = n * 64;
        fill_rows(&mut self.z2, &self.b2, cols2);
        sgemm(
            (16, 150, cols2),
            1.0,
            &self.w2,
            (150, 1),
            &self.col2,
            (cols2, 1),
            1.0,
            &mut self.z2,
            (cols2, 1),
        );
        relu_pool(&self.z2, 16, n, 8, &mut self.p2, &mut self.at2);
        // Flatten as torch.flatten: sample-major, then channel, row, column.
        for c in 0..16 {
            for img in 0..n {
                self.x3[img * 256 + c * 16..][..16]
                    .copy_from_slice(&self.p2[(c * n + img) * 16..][..16]);
            }
        }
        // fc1 (+ relu), fc2.
        for row in self.h3.chunks_exact_mut(120) {
            row.copy_from_slice(&self.b3);
        }
        sgemm(
            (n, 256, 120),
            1.0,
            &self.x3,
            (256, 1),
            &self.w3,
            (1, 256),
            1.0,
            &mut self.h3,
            (120, 1),
        );
        for v in &mut self.h3 {
            *v = v.max(0.0);
        }
        for row in self.z4.chunks_exact_mut(10) {
            row.copy_from_slice(&self.b4);
        }
        sgemm(
            (n, 120, 10),
            1.0,
            &self.h3,
            (120, 1),
            &self.w4,
            (1, 120),
            1.0,
            &mut self.z4,
            (10, 1),
        );
        // Softmax cross-entropy, mean over the batch: z4 becomes δ4 = (p − y) / n.
        let mut loss = 0.0;
        for (row, &label) in self.z4.chunks_exact_mut(10).zip(&self.labels) {
            let (max, z_label) = (
                row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v)),
                row[label],
            );
            let mut sum = 0.0;
            for v in row.iter_mut() {
                *v = (*v - max).exp();
                sum += *v;
            }
            loss += (max + sum.ln() - z_label) / n as f32;
            for v in row.iter_mut() {
                *v /= sum * n as f32;
            }
            row[label] -= 1.0 / n as f32;
        }
        // fc2: dh3 = δ4 W4 (old W4), then W4 −= lr δ4ᵀ h3.
        sgemm(
            (n, 10, 120),
            1.0,
            &self.z4,
            (10, 1),
            &self.w4,
            (120, 1),
            0.0,
            &mut self.dh3,
            (120, 1),
        );
        sgemm(
            (10, n, 120),
            -lr,
            &self.z4,
            (1, 10),
            &self.h3,
            (120, 1),
            1.0,
            &mut self.w4,
            (120, 1),
        );
        update_bias_cols(&mut self.b4, &self.z4, lr);
        // fc1: δ3 = dh3 ⊙ relu'(z3), dx3 = δ3 W3, W3 −= lr δ3ᵀ x3.
        for (d, h) in self.dh3.iter_mut().zip(&self.h3) {
            if *h <= 0.0 {
                *d = 0.0;
            }
        }
        sgemm(
            (n, 120, 256),
            1.0,
            &self.dh3,
            (120, 1),
            &self.w3,
            (256, 1),
            0.0,
            &mut self.dx3,
            (256, 1),
        );
        sgemm(
            (120, n, 256),
            -lr,
            &self.dh3,
            (1, 120),
            &self.x3,
            (256, 1),
            1.0,
            &mut self.w3,
            (256, 1),
        );
        update_bias_cols(&mut self.b3, &self.dh3, lr);
        // pool2 and relu backward: dx3 (sample-major) back to the channel-major map.
        for c in 0..16 {
            for img in 0..n {
                let (dst, src) = ((c * n + img) * 16, img * 256 + c * 16);
                self.p2[dst..dst + 16].copy_from_slice(&self.dx3[src..src + 16]);
            }
        }
        relu_pool_backward(&self.at2, &self.p2, &mut self.dz2);
        // conv2: dcol2 = W2ᵀ δ2 (old W2), W2 −= lr δ2 col2ᵀ, then col2im.
        sgemm(
            (150, 16, cols2),
            1.0,
            &self.w2,
            (1, 150),
            &self.dz2,
            (cols2, 1),
            0.0,
            &mut self.dcol2,
            (cols2, 1),
        );
        sgemm(
            (16, cols2, 150),
            -lr,
            &self.dz2,
            (cols2, 1),
            &self.col2,
            (1, cols2),
            1.0,
            &mut self.w2,
            (150, 1),
        );
        update_bias_rows(&mut self.b2, &self.dz2, cols2, lr);
        col2im(&self.dcol2, 6, n, 12, &mut self.dp1);
        // pool1 and relu backward, conv1: W1 −= lr δ1 col1ᵀ.
        relu_pool_backward(&self.at1, &self.dp1, &mut self.dz1);
        sgemm(
            (6, cols1, 25),
            -lr,
            &self.dz1,
            (cols1, 1),
            &self.col1,
            (1, cols1),
            1.0,
            &mut self.w1,
            (25, 1),
        );
        update_bias_rows(&mut self.b1, &self.dz1, cols1, lr);
        loss
    }

    /// The parameters, PyTorch layout.
    pub fn params(&self) -> LeNetParams {
        LeNetParams {
            conv1_w: self.w1.clone(),
            conv1_b: self.b1.clone(),
            conv2_w: self.w2.clone(),
            conv2_b: self.b2.clone(),
            fc1_w: self.w3.clone(),
            fc1_b: self.b3.clone(),
            fc2_w: self.w4.clone(),
            fc2_b: self.b4.clone(),
        }
    }
}
