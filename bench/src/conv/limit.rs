//! The LeNet's batch-1 limit: direct convolution written for exactly these sizes (every
//! shape a const generic, every loop a known trip count).
//!
//! `conv1` (one input channel, 24-pixel rows) computes 4 output rows of one channel at once,
//! broadcasting one weight against a shifted input row per FMA; `conv2` (16 output channels,
//! 8-pixel rows) puts the 16 output channels in the lanes instead (its weight stored
//! `[in, ky, kx, out]`) and computes one output row of 8 pixels at a time, each tap's 16
//! weights against the broadcast input pixel. Either way the accumulators stay in registers
//! and no im2col buffer is built; relu is applied on the store, the 2×2 max pool in a pass
//! over the (L1-resident) map. The dense layers keep their weights transposed (`[in, out]`) and
//! accumulate `Σ_j x_j W[:, j]` over all outputs at once. The body is compiled for AVX-512F,
//! AVX2 + FMA and the baseline target, chosen at run time ([`Level`]).

use crate::stream::limit::{Level, madd};

/// One `1×28×28` image.
pub type Image = [[f32; 28]; 28];

/// `x` (`[1, 28, 28]`, row-major) as an [`Image`].
pub fn image(x: &[f32]) -> Box<Image> {
    assert_eq!(x.len(), 28 * 28, "one 28×28 image");
    Box::new(std::array::from_fn(|r| {
        std::array::from_fn(|c| x[r * 28 + c])
    }))
}

/// The network, in the layout its kernels read.
pub struct LeNet {
    conv1_w: [[[[f32; 5]; 5]; 1]; 6],
    conv1_b: [f32; 6],
    /// `conv2.weight` as `[in, ky, kx, out]`: the 16 output channels of one tap contiguous.
    conv2_w: [[[[f32; 16]; 5]; 5]; 6],
    conv2_b: [f32; 16],
    /// `fc1.weight`ᵀ.
    fc1_wt: Box<[[f32; 120]; 256]>,
    fc1_b: [f32; 120],
    /// `fc2.weight`ᵀ.
    fc2_wt: Box<[[f32; 10]; 120]>,
    fc2_b: [f32; 10],
    level: Level,
}

fn kernels<const O: usize, const C: usize>(w: &[f32]) -> [[[[f32; 5]; 5]; C]; O] {
    assert_eq!(w.len(), O * C * 25, "a [{O}, {C}, 5, 5] weight");
    std::array::from_fn(|o| {
        std::array::from_fn(|c| {
            std::array::from_fn(|ky| std::array::from_fn(|kx| w[((o * C + c) * 5 + ky) * 5 + kx]))
        })
    })
}

/// `[O, C, 5, 5]` row-major as `[C][5][5][O]`.
fn taps<const O: usize, const C: usize>(w: &[f32]) -> [[[[f32; O]; 5]; 5]; C] {
    assert_eq!(w.len(), O * C * 25, "a [{O}, {C}, 5, 5] weight");
    std::array::from_fn(|c| {
        std::array::from_fn(|ky| {
            std::array::from_fn(|kx| std::array::from_fn(|o| w[((o * C + c) * 5 + ky) * 5 + kx]))
        })
    })
}

fn transposed<const I: usize, const O: usize>(w: &[f32]) -> Box<[[f32; O]; I]> {
    assert_eq!(w.len(), O * I, "an [{O}, {I}] weight");
    Box::new(std::array::from_fn(|j| {
        std::array::from_fn(|r| w[r * I + j])
    }))
}

fn array<const N: usize>(v: &[f32]) -> [f32; N] {
    v.try_into().expect("a tensor of the LeNet's size")
}

/// `y = relu(conv(x, w) + b)`, valid 5×5, stride 1, `RB` output rows at a time.
#[inline(always)]
fn conv_relu<
    const C: usize,
    const S: usize,
    const O: usize,
    const R: usize,
    const RB: usize,
    const FMA: bool,
>(
    x: &[[[f32; S]; S]; C],
    w: &[[[[f32; 5]; 5]; C]; O],
    b: &[f32; O],
    y: &mut [[[f32; R]; R]; O],
) {
    for o in 0..O {
        for r0 in (0..R).step_by(RB) {
            let mut acc = [[b[o]; R]; RB];
            for c in 0..C {
                for ky in 0..5 {
                    for kx in 0..5 {
                        let wv = w[o][c][ky][kx];
                        for (i, row) in acc.iter_mut().enumerate() {
                            let src = &x[c][r0 + i + ky][kx..kx + R];
                            for (a, &s) in row.iter_mut().zip(src) {
                                *a = madd::<FMA>(wv, s, *a);
                            }
                        }
                    }
                }
            }
            for (i, row) in acc.iter().enumerate() {
                y[o][r0 + i] = row.map(|v| v.max(0.0));
            }
        }
    }
}

/// `y = relu(conv(x, w) + b)`, valid 5×5, stride 1, with the output channels in the lanes:
/// one output row (`R` pixels × `O` channels) at a time, each tap's `O` weights against the
/// broadcast input pixel.
#[inline(always)]
fn conv_relu_channels<
    const C: usize,
    const S: usize,
    const O: usize,
    const R: usize,
    const FMA: bool,
>(
    x: &[[[f32; S]; S]; C],
    w: &[[[[f32; O]; 5]; 5]; C],
    b: &[f32; O],
    y: &mut [[[f32; R]; R]; O],
) {
    for r in 0..R {
        let mut acc = [*b; R];
        for c in 0..C {
            for ky in 0..5 {
                let row = &x[c][r + ky];
                for kx in 0..5 {
                    let tap = &w[c][ky][kx];
                    for (q, a) in acc.iter_mut().enumerate() {
                        let xv = row[q + kx];
                        for (ao, &wo) in a.iter_mut().zip(tap) {
                            *ao = madd::<FMA>(wo, xv, *ao);
                        }
                    }
                }
            }
        }
        for (q, a) in acc.iter().enumerate() {
            for (o, &v) in a.iter().enumerate() {
                y[o][r][q] = v.max(0.0);
            }
        }
    }
}

/// 2×2 max pooling, stride 2.
#[inline(always)]
fn max_pool<const C: usize, const S: usize, const R: usize>(
    x: &[[[f32; S]; S]; C],
    y: &mut [[[f32; R]; R]; C],
) {
    for (xc, yc) in x.iter().zip(y.iter_mut()) {
        for (r, yr) in yc.iter_mut().enumerate() {
            let (a, b) = (&xc[2 * r], &xc[2 * r + 1]);
            for (q, v) in yr.iter_mut().enumerate() {
                *v = a[2 * q].max(a[2 * q + 1]).max(b[2 * q].max(b[2 * q + 1]));
            }
        }
    }
}

/// `b + Σ_j x_j W[:, j]` (`W` given transposed), with relu if `RELU`.
#[inline(always)]
fn dense_t<const I: usize, const O: usize, const RELU: bool, const FMA: bool>(
    w_t: &[[f32; O]; I],
    b: &[f32; O],
    x: &[f32; I],
) -> [f32; O] {
    let mut z = *b;
    for (&xj, col) in x.iter().zip(w_t) {
        for (a, &w) in z.iter_mut().zip(col) {
            *a = madd::<FMA>(w, xj, *a);
        }
    }
    if RELU { z.map(|v| v.max(0.0)) } else { z }
}

impl LeNet {
    /// The network `p`.
    pub fn new(p: &super::LeNetParams) -> Self {
        Self {
            conv1_w: kernels(&p.conv1_w),
            conv1_b: array(&p.conv1_b),
            conv2_w: taps(&p.conv2_w),
            conv2_b: array(&p.conv2_b),
            fc1_wt: transposed(&p.fc1_w),
            fc1_b: array(&p.fc1_b),
            fc2_wt: transposed(&p.fc2_w),
            fc2_b: array(&p.fc2_b),
            level: Level::detect(),
        }
    }

    /// The logits of `x`.
    #[inline]
    pub fn forward(&self, x: &Image) -> [f32; 10] {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512(n: &LeNet, x: &Image) -> [f32; 10] {
                n.body::<true>(x)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2(n: &LeNet, x: &Image) -> [f32; 10] {
                n.body::<true>(x)
            }
            match self.level {
                // SAFETY: `level` is what `Level::detect` found on this CPU.
                Level::Avx512 => unsafe { avx512(self, x) },
                // SAFETY: as above.
                Level::Avx2 => unsafe { avx2(self, x) },
                Level::Scalar => self.body::<false>(x),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self.body::<false>(x)
        }
    }

    #[inline(always)]
    fn body<const FMA: bool>(&self, x: &Image) -> [f32; 10] {
        let x: &[Image; 1] = std::slice::from_ref(x).try_into().expect("one channel");
        let mut h1 = [[[0f32; 24]; 24]; 6];
        conv_relu::<1, 28, 6, 24, 4, FMA>(x, &self.conv1_w, &self.conv1_b, &mut h1);
        let mut p1 = [[[0f32; 12]; 12]; 6];
        max_pool(&h1, &mut p1);
        let mut h2 = [[[0f32; 8]; 8]; 16];
        conv_relu_channels::<6, 12, 16, 8, FMA>(&p1, &self.conv2_w, &self.conv2_b, &mut h2);
        let mut p2 = [[[0f32; 4]; 4]; 16];
        max_pool(&h2, &mut p2);
        // torch.flatten's order: channel, row, column.
        let flat: [f32; 256] = std::array::from_fn(|i| p2[i / 16][i / 4 % 4][i % 4]);
        let h3 = dense_t::<256, 120, true, FMA>(&self.fc1_wt, &self.fc1_b, &flat);
        dense_t::<120, 10, false, FMA>(&self.fc2_wt, &self.fc2_b, &h3)
    }
}
