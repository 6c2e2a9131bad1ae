//! G: batch-1 inference of the GunPoint model (`GunPointCnn` of `src/ts_cnn.rs`, issue 12): a
//! `[1, 150]` signal, `c1` conv1d 16 channels kernel 9 `same` relu, max pool 2, `c2` conv1d 32
//! kernel 7 `same` relu, max pool 2 (`[32, 37]`), `c3` conv1d 32 kernel 5 `same` relu, global
//! average pool, `out` dense 32→2 (logits).
//!
//! [`Weights`] holds the tensors under nn's (and PyTorch's) names, from PyTorch's default
//! initialization; [`reference`] is the forward pass in plain f64 loops; [`Limit`] is the
//! hand-written limit: every size a constant, each convolution keeping a block of positions ×
//! all output channels in registers (each tap's vector of output-channel weights against the
//! broadcast input value, as `conv2` of the LeNet's limit), `same` padding as zeros stored
//! around each map, relu on the store, the max pool a pass over the maps. The body is compiled
//! for AVX-512F (the convolutions in intrinsics, see [`conv_relu_avx512`]), AVX2 + FMA and
//! the baseline, chosen at run time.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stream::limit::{Level, madd};

/// The criterion group.
pub const GROUP: &str = "G_gunpoint";
/// Samples of the signal.
pub const LENGTH: usize = 150;
/// Classes.
pub const CLASSES: usize = 2;
/// Seed of the weights.
pub const WEIGHT_SEED: u64 = 11;
/// Seed of the signal.
pub const DATA_SEED: u64 = 12;

/// The model's tensors, PyTorch layout, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// `(name, values, shape)` in the order `c1.weight` `[16, 1, 9]`, `c1.bias`, `c2.weight`
    /// `[32, 16, 7]`, `c2.bias`, `c3.weight` `[32, 32, 5]`, `c3.bias`, `out.weight` `[2, 32]`,
    /// `out.bias`.
    pub tensors: Vec<(&'static str, Vec<f32>, Vec<usize>)>,
}

/// `(name, shape, fan_in)` of every tensor.
const TENSORS: [(&str, &[usize], usize); 8] = [
    ("c1.weight", &[16, 1, 9], 9),
    ("c1.bias", &[16], 9),
    ("c2.weight", &[32, 16, 7], 16 * 7),
    ("c2.bias", &[32], 16 * 7),
    ("c3.weight", &[32, 32, 5], 32 * 5),
    ("c3.bias", &[32], 32 * 5),
    ("out.weight", &[2, 32], 32),
    ("out.bias", &[2], 32),
];

impl Weights {
    /// PyTorch's default initialization `U(±1/√fan_in)` from `seed`.
    pub fn random(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let tensors = TENSORS
            .iter()
            .map(|&(name, shape, fan_in)| {
                let bound = 1.0 / (fan_in as f32).sqrt();
                let n = shape.iter().product();
                let values = (0..n).map(|_| rng.random_range(-bound..bound)).collect();
                (name, values, shape.to_vec())
            })
            .collect();
        Self { tensors }
    }

    /// The values of tensor `name`.
    pub fn get(&self, name: &str) -> &[f32] {
        let (_, values, _) = self
            .tensors
            .iter()
            .find(|(n, ..)| *n == name)
            .unwrap_or_else(|| panic!("the GunPoint model has no {name}"));
        values
    }

    /// Every tensor as [`crate::named::Named`], for `named::load`.
    pub fn named(&self) -> Vec<crate::named::Named<'_>> {
        self.tensors
            .iter()
            .map(|(name, values, shape)| (*name, values.as_slice(), shape.clone()))
            .collect()
    }
}

/// One signal of [`LENGTH`] samples, uniform in `[-2, 2)`.
pub fn signal(seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..LENGTH).map(|_| rng.random_range(-2.0..2.0)).collect()
}

/// `relu(conv1d(x, w) + b)` with `same` zero padding (odd `k`), on `[c, l]` → `[o, l]`.
fn conv_relu_f64(x: &[f64], c: usize, w: &[f32], b: &[f32], k: usize) -> Vec<f64> {
    let (o, l, pad) = (b.len(), x.len() / c, k / 2);
    let mut y = vec![0.0; o * l];
    for oc in 0..o {
        for t in 0..l {
            let mut z = f64::from(b[oc]);
            for ic in 0..c {
                for j in 0..k {
                    let Some(s) = (t + j).checked_sub(pad).filter(|&s| s < l) else {
                        continue;
                    };
                    z += f64::from(w[(oc * c + ic) * k + j]) * x[ic * l + s];
                }
            }
            y[oc * l + t] = z.max(0.0);
        }
    }
    y
}

/// Max pooling by 2, stride 2 (an odd last sample dropped), on `[c, l]`.
fn pool_f64(x: &[f64], c: usize) -> Vec<f64> {
    let (l, r) = (x.len() / c, x.len() / c / 2);
    (0..c * r)
        .map(|i| {
            let (ch, t) = (i / r, i % r);
            x[ch * l + 2 * t].max(x[ch * l + 2 * t + 1])
        })
        .collect()
}

/// The logits of one signal, in plain f64 loops.
pub fn reference(w: &Weights, x: &[f32]) -> Vec<f64> {
    let x: Vec<f64> = x.iter().map(|&v| f64::from(v)).collect();
    let h = conv_relu_f64(&x, 1, w.get("c1.weight"), w.get("c1.bias"), 9);
    let h = pool_f64(&h, 16);
    let h = conv_relu_f64(&h, 16, w.get("c2.weight"), w.get("c2.bias"), 7);
    let h = pool_f64(&h, 32);
    let h = conv_relu_f64(&h, 32, w.get("c3.weight"), w.get("c3.bias"), 5);
    let l = h.len() / 32;
    let g: Vec<f64> = (0..32)
        .map(|c| h[c * l..(c + 1) * l].iter().sum::<f64>() / l as f64)
        .collect();
    let (ow, ob) = (w.get("out.weight"), w.get("out.bias"));
    (0..CLASSES)
        .map(|r| {
            f64::from(ob[r])
                + (0..32)
                    .map(|j| f64::from(ow[r * 32 + j]) * g[j])
                    .sum::<f64>()
        })
        .collect()
}

/// Output channels per vector.
const LANES: usize = 16;

/// One vector of output channels.
type Lanes = [f32; LANES];

/// A convolution's weight `[16·V, C, K]` row-major as `[C][K][V]` vectors: the output
/// channels of one tap contiguous.
fn taps<const V: usize, const C: usize, const K: usize>(w: &[f32]) -> Box<[[[Lanes; V]; K]; C]> {
    assert_eq!(
        w.len(),
        LANES * V * C * K,
        "a [{}, {C}, {K}] weight",
        LANES * V
    );
    Box::new(std::array::from_fn(|c| {
        std::array::from_fn(|k| {
            std::array::from_fn(|v| std::array::from_fn(|l| w[((v * LANES + l) * C + c) * K + k]))
        })
    }))
}

/// `a += w x`, lane by lane.
#[inline(always)]
fn fma<const FMA: bool>(a: &mut Lanes, w: &Lanes, x: f32) {
    for (a, &w) in a.iter_mut().zip(w) {
        *a = madd::<FMA>(w, x, *a);
    }
}

fn array<const N: usize>(v: &[f32]) -> [f32; N] {
    v.try_into().expect("a tensor of the GunPoint model's size")
}

/// A bias of `16·V` channels as vectors.
fn lanes<const V: usize>(v: &[f32]) -> [Lanes; V] {
    std::array::from_fn(|i| array(&v[i * LANES..(i + 1) * LANES]))
}

/// The hand-written limit.
pub struct Limit {
    c1_w: Box<[[[Lanes; 1]; 9]; 1]>,
    c1_b: [Lanes; 1],
    c2_w: Box<[[[Lanes; 2]; 7]; 16]>,
    c2_b: [Lanes; 2],
    c3_w: Box<[[[Lanes; 2]; 5]; 32]>,
    c3_b: [Lanes; 2],
    out_w: [[f32; 32]; 2],
    out_b: [f32; 2],
    level: Level,
}

/// `y[o][t] = relu(b[o] + Σ_{c,k} w[c][k][o] · x[c][t + k])` (`o` as `16 v + lane`) for `L` outputs of a map stored
/// with its `same` padding in front (`x[c]` holds `LP ≥ ⌈L/R⌉·R + K − 1` positions, zeros
/// around the signal), `R` positions × `O` channels in registers at a time.
#[inline(always)]
fn conv_relu<
    const C: usize,
    const LP: usize,
    const K: usize,
    const V: usize,
    const L: usize,
    const R: usize,
    const FMA: bool,
>(
    x: &[[f32; LP]; C],
    w: &[[[Lanes; V]; K]; C],
    b: &[Lanes; V],
    y: &mut [[[f32; L]; LANES]; V],
) {
    for t0 in (0..L).step_by(R) {
        let mut acc = [*b; R];
        for (row, wc) in x.iter().zip(w) {
            let row = &row[t0..t0 + R + K - 1];
            for (k, tap) in wc.iter().enumerate() {
                for (r, a) in acc.iter_mut().enumerate() {
                    let xv = row[r + k];
                    for (a, w) in a.iter_mut().zip(tap) {
                        fma::<FMA>(a, w, xv);
                    }
                }
            }
        }
        // Positions past the end were computed on the zeros after the map: not stored.
        for (r, a) in acc.iter().enumerate().take(L - t0) {
            for (y, a) in y.iter_mut().zip(a) {
                for (y, &v) in y.iter_mut().zip(a) {
                    y[t0 + r] = v.max(0.0);
                }
            }
        }
    }
}

/// [`conv_relu`] with AVX-512 intrinsics: one register per 16 output channels of a position
/// (the generic body's arrays are not kept in registers by the compiler at these sizes).
///
/// # Safety
/// The CPU has AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn conv_relu_avx512<
    const C: usize,
    const LP: usize,
    const K: usize,
    const V: usize,
    const L: usize,
    const R: usize,
>(
    x: &[[f32; LP]; C],
    w: &[[[Lanes; V]; K]; C],
    b: &[Lanes; V],
    y: &mut [[[f32; L]; LANES]; V],
) {
    use std::arch::x86_64::*;
    for t0 in (0..L).step_by(R) {
        let mut acc = [[_mm512_setzero_ps(); V]; R];
        for a in &mut acc {
            for (a, b) in a.iter_mut().zip(b) {
                // SAFETY: `b` is 16 `f32`s, one unaligned 512-bit load.
                *a = unsafe { _mm512_loadu_ps(b.as_ptr()) };
            }
        }
        for (row, wc) in x.iter().zip(w) {
            let row = &row[t0..t0 + R + K - 1];
            for (k, tap) in wc.iter().enumerate() {
                let tap: [__m512; V] =
                    // SAFETY: `tap[v]` is 16 `f32`s, one unaligned 512-bit load.
                    std::array::from_fn(|v| unsafe { _mm512_loadu_ps(tap[v].as_ptr()) });
                for (r, a) in acc.iter_mut().enumerate() {
                    let xv = _mm512_set1_ps(row[r + k]);
                    for (a, &w) in a.iter_mut().zip(&tap) {
                        *a = _mm512_fmadd_ps(w, xv, *a);
                    }
                }
            }
        }
        for (r, a) in acc.iter().enumerate().take(L - t0) {
            for (y, &a) in y.iter_mut().zip(a) {
                let mut v = [0f32; LANES];
                // SAFETY: `v` is 16 `f32`s, one unaligned 512-bit store.
                unsafe { _mm512_storeu_ps(v.as_mut_ptr(), _mm512_max_ps(a, _mm512_setzero_ps())) };
                for (y, v) in y.iter_mut().zip(v) {
                    y[t0 + r] = v;
                }
            }
        }
    }
}

/// Max pooling by 2 of each channel of `x` into `y[c][PAD..PAD + N]` (the rest of `y` stays
/// zero: the next convolution's padding).
#[inline(always)]
fn pool_into<const C: usize, const L: usize, const N: usize, const PAD: usize, const LP: usize>(
    x: &[[f32; L]; C],
    y: &mut [[f32; LP]; C],
) {
    for (x, y) in x.iter().zip(y) {
        for (t, y) in y[PAD..PAD + N].iter_mut().enumerate() {
            *y = x[2 * t].max(x[2 * t + 1]);
        }
    }
}

impl Limit {
    /// The model holding `w`.
    pub fn new(w: &Weights) -> Self {
        let out_w = w.get("out.weight");
        Self {
            c1_w: taps(w.get("c1.weight")),
            c1_b: lanes(w.get("c1.bias")),
            c2_w: taps(w.get("c2.weight")),
            c2_b: lanes(w.get("c2.bias")),
            c3_w: taps(w.get("c3.weight")),
            c3_b: lanes(w.get("c3.bias")),
            out_w: [array(&out_w[..32]), array(&out_w[32..])],
            out_b: array(w.get("out.bias")),
            level: Level::detect(),
        }
    }

    /// The logits of `x`.
    #[inline]
    pub fn forward(&self, x: &[f32; LENGTH]) -> [f32; CLASSES] {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512(n: &Limit, x: &[f32; LENGTH]) -> [f32; CLASSES] {
                n.body::<true, true>(x)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2(n: &Limit, x: &[f32; LENGTH]) -> [f32; CLASSES] {
                n.body::<true, false>(x)
            }
            match self.level {
                // SAFETY: `level` is what `Level::detect` found on this CPU.
                Level::Avx512 => unsafe { avx512(self, x) },
                // SAFETY: as above.
                Level::Avx2 => unsafe { avx2(self, x) },
                Level::Scalar => self.body::<false, false>(x),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            self.body::<false, false>(x)
        }
    }

    /// The forward pass; with `AVX512` (only where the CPU has it) the convolutions run on
    /// [`conv_relu_avx512`].
    #[inline(always)]
    fn body<const FMA: bool, const AVX512: bool>(&self, x: &[f32; LENGTH]) -> [f32; CLASSES] {
        macro_rules! conv_relu {
            ($c:literal, $lp:literal, $k:literal, $v:literal, $l:literal, $r:literal, $x:expr, $w:expr, $b:expr, $y:expr) => {
                #[cfg(target_arch = "x86_64")]
                if AVX512 {
                    // SAFETY: `AVX512` is set only in the body compiled for AVX-512F, which
                    // `forward` runs only where `Level::detect` found it.
                    unsafe { conv_relu_avx512::<$c, $lp, $k, $v, $l, $r>($x, $w, $b, $y) }
                } else {
                    conv_relu::<$c, $lp, $k, $v, $l, $r, FMA>($x, $w, $b, $y)
                }
                #[cfg(not(target_arch = "x86_64"))]
                conv_relu::<$c, $lp, $k, $v, $l, $r, FMA>($x, $w, $b, $y)
            };
        }
        // Each map with its `same` padding (k/2 zeros in front) and room for the last block
        // of positions behind.
        let mut x0 = [[0f32; 152 + 8]; 1];
        x0[0][4..4 + LENGTH].copy_from_slice(x);
        let mut h1 = [[[0f32; 150]; 16]; 1];
        conv_relu!(1, 160, 9, 1, 150, 8, &x0, &self.c1_w, &self.c1_b, &mut h1);
        let mut p1 = [[0f32; 78 + 6]; 16];
        pool_into::<16, 150, 75, 3, 84>(h1.as_flattened().try_into().expect("16"), &mut p1);
        let mut h2 = [[[0f32; 75]; 16]; 2];
        conv_relu!(16, 84, 7, 2, 75, 6, &p1, &self.c2_w, &self.c2_b, &mut h2);
        let mut p2 = [[0f32; 42 + 4]; 32];
        pool_into::<32, 75, 37, 2, 46>(h2.as_flattened().try_into().expect("32"), &mut p2);
        let mut h3 = [[[0f32; 37]; 16]; 2];
        conv_relu!(32, 46, 5, 2, 37, 6, &p2, &self.c3_w, &self.c3_b, &mut h3);
        let h3 = h3.as_flattened();
        let g: [f32; 32] = std::array::from_fn(|c| h3[c].iter().sum::<f32>() * (1.0 / 37.0));
        std::array::from_fn(|r| {
            let mut z = self.out_b[r];
            for (&w, &v) in self.out_w[r].iter().zip(&g) {
                z = madd::<FMA>(w, v, z);
            }
            z
        })
    }
}
