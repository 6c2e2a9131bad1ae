//! The LeNet's training step in plain f64 loops, sample by sample: forward (keeping every
//! pre-activation and each pool's chosen input), softmax cross-entropy (mean over the batch),
//! backward, `θ ← θ − lr g`. Every implementation's step is checked against it.

use super::LeNetParams;

/// `z = conv(x, w) + b`, valid, stride 1, `[c, s, s]` → `[o, r, r]`, `r = s − k + 1`.
fn conv(x: &[f64], c: usize, s: usize, w: &[f64], b: &[f64], k: usize) -> Vec<f64> {
    let (o, r) = (b.len(), s - k + 1);
    let mut z = vec![0.0; o * r * r];
    for oc in 0..o {
        for py in 0..r {
            for px in 0..r {
                let mut v = b[oc];
                for ic in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            v += w[((oc * c + ic) * k + ky) * k + kx]
                                * x[(ic * s + py + ky) * s + px + kx];
                        }
                    }
                }
                z[(oc * r + py) * r + px] = v;
            }
        }
    }
    z
}

/// The gradients of `conv`'s weight and bias (added to `gw`, `gb`) and its input, from `dz`.
#[allow(clippy::too_many_arguments)]
fn conv_backward(
    x: &[f64],
    c: usize,
    s: usize,
    w: &[f64],
    k: usize,
    dz: &[f64],
    gw: &mut [f64],
    gb: &mut [f64],
) -> Vec<f64> {
    let (o, r) = (gb.len(), s - k + 1);
    let mut dx = vec![0.0; x.len()];
    for oc in 0..o {
        for py in 0..r {
            for px in 0..r {
                let d = dz[(oc * r + py) * r + px];
                gb[oc] += d;
                for ic in 0..c {
                    for ky in 0..k {
                        for kx in 0..k {
                            let wi = ((oc * c + ic) * k + ky) * k + kx;
                            let xi = (ic * s + py + ky) * s + px + kx;
                            gw[wi] += d * x[xi];
                            dx[xi] += d * w[wi];
                        }
                    }
                }
            }
        }
    }
    dx
}

/// `relu`, then 2×2 max pooling: the pooled map and, per output, the index of the input it
/// took (the first maximum).
fn relu_pool(z: &[f64], c: usize, s: usize) -> (Vec<f64>, Vec<usize>) {
    let r = s / 2;
    let (mut y, mut at) = (vec![0.0; c * r * r], vec![0; c * r * r]);
    for ch in 0..c {
        for py in 0..r {
            for px in 0..r {
                let o = (ch * r + py) * r + px;
                let mut best = (f64::NEG_INFINITY, 0);
                for (dy, dx) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
                    let i = (ch * s + 2 * py + dy) * s + 2 * px + dx;
                    if z[i].max(0.0) > best.0 {
                        best = (z[i].max(0.0), i);
                    }
                }
                (y[o], at[o]) = best;
            }
        }
    }
    (y, at)
}

/// The gradient of `relu_pool`'s input: `dy` routed to the chosen inputs, where `z > 0`.
fn relu_pool_backward(z: &[f64], at: &[usize], dy: &[f64]) -> Vec<f64> {
    let mut dz = vec![0.0; z.len()];
    for (&i, &d) in at.iter().zip(dy) {
        if z[i] > 0.0 {
            dz[i] += d;
        }
    }
    dz
}

/// `z = W x + b` for row-major `W` `[b.len(), x.len()]`.
fn dense(x: &[f64], w: &[f64], b: &[f64]) -> Vec<f64> {
    (0..b.len())
        .map(|r| {
            b[r] + w[r * x.len()..(r + 1) * x.len()]
                .iter()
                .zip(x)
                .map(|(w, x)| w * x)
                .sum::<f64>()
        })
        .collect()
}

/// `gW += dz xᵀ`, `gb += dz`; returns `Wᵀ dz`.
fn dense_backward(x: &[f64], w: &[f64], dz: &[f64], gw: &mut [f64], gb: &mut [f64]) -> Vec<f64> {
    let mut dx = vec![0.0; x.len()];
    for (r, &d) in dz.iter().enumerate() {
        gb[r] += d;
        for (c, &xc) in x.iter().enumerate() {
            gw[r * x.len() + c] += d * xc;
            dx[c] += d * w[r * x.len() + c];
        }
    }
    dx
}

/// One SGD step on the mean softmax cross-entropy of `n` images `x` (`[n, 1, 28, 28]`)
/// labelled `labels`; the loss and the updated parameters.
pub fn reference_step(p: &LeNetParams, x: &[f32], labels: &[usize], lr: f32) -> (f32, LeNetParams) {
    let f = |v: &[f32]| -> Vec<f64> { v.iter().map(|&x| f64::from(x)).collect() };
    let w: Vec<Vec<f64>> = p.tensors().iter().map(|(_, t, _)| f(t)).collect();
    let mut g: Vec<Vec<f64>> = w.iter().map(|t| vec![0.0; t.len()]).collect();
    let n = labels.len();
    let mut loss = 0.0;
    for (s, &label) in labels.iter().enumerate() {
        let x0 = f(&x[s * 784..(s + 1) * 784]);
        let z1 = conv(&x0, 1, 28, &w[0], &w[1], 5);
        let (p1, at1) = relu_pool(&z1, 6, 24);
        let z2 = conv(&p1, 6, 12, &w[2], &w[3], 5);
        let (p2, at2) = relu_pool(&z2, 16, 8);
        let z3 = dense(&p2, &w[4], &w[5]);
        let h3: Vec<f64> = z3.iter().map(|v| v.max(0.0)).collect();
        let z4 = dense(&h3, &w[6], &w[7]);
        let max = z4.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f64 = z4.iter().map(|v| (v - max).exp()).sum();
        loss += (max + sum.ln() - z4[label]) / n as f64;
        let dz4: Vec<f64> = z4
            .iter()
            .enumerate()
            .map(|(k, v)| ((v - max).exp() / sum - f64::from(u8::from(k == label))) / n as f64)
            .collect();
        let [g1w, g1b, g2w, g2b, g3w, g3b, g4w, g4b] = &mut g[..] else {
            unreachable!("eight tensors")
        };
        let dh3 = dense_backward(&h3, &w[6], &dz4, g4w, g4b);
        let dz3: Vec<f64> = dh3
            .iter()
            .zip(&z3)
            .map(|(d, z)| if *z > 0.0 { *d } else { 0.0 })
            .collect();
        let dp2 = dense_backward(&p2, &w[4], &dz3, g3w, g3b);
        let dz2 = relu_pool_backward(&z2, &at2, &dp2);
        let dp1 = conv_backward(&p1, 6, 12, &w[2], 5, &dz2, g2w, g2b);
        let dz1 = relu_pool_backward(&z1, &at1, &dp1);
        conv_backward(&x0, 1, 28, &w[0], 5, &dz1, g1w, g1b);
    }
    let lr = f64::from(lr);
    let upd = |k: usize| -> Vec<f32> {
        w[k].iter()
            .zip(&g[k])
            .map(|(w, g)| (w - lr * g) as f32)
            .collect()
    };
    let after = LeNetParams {
        conv1_w: upd(0),
        conv1_b: upd(1),
        conv2_w: upd(2),
        conv2_b: upd(3),
        fc1_w: upd(4),
        fc1_b: upd(5),
        fc2_w: upd(6),
        fc2_b: upd(7),
    };
    (loss as f32, after)
}
