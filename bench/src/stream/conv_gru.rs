//! Streaming conv + GRU (issue 13): dense 1→8, tanh, causal conv1d 8→4 (kernel 3, dilation 2),
//! tanh, GRU 4→8, dense 8→1; one input sample per call, the state carried between calls.
//!
//! The parameters are PyTorch's (`pre`: `nn.Linear(1, 8)`; `conv`: `nn.Conv1d(8, 4, 3,
//! dilation=2)`, weight `[4, 8, 3]`, run causally: the output at step `t` reads the `pre`
//! outputs at `t − 4`, `t − 2` and `t`, zeros before the start; `r1`: one-layer `nn.GRU(4, 8)`;
//! `out`: `nn.Linear(8, 1)`), drawn from PyTorch's default `U(±1/√fan_in)`. [`reference`] is the
//! plain f64 model every implementation is checked against; [`Limit`] is the hand-written f32
//! step, [`NnConvGru`] nn's generated `step`.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::limit::{Level, Stream, madd, sigmoid, tanh};
use super::{CHECK_SAMPLES, SIGNAL_SEED, StreamVisitor, TIMED_SAMPLES, WEIGHT_SEED, signal};

/// The criterion group.
pub const GROUP: &str = "S_conv-gru";
/// RTNeural's compile-time API with Eigen at `-O3 -march=native`, median ns per sample, as
/// measured by the team on this machine kind (issue 13), not by this bench.
pub const RTNEURAL_NATIVE_NS: f64 = 169.0;

/// Width of `pre` (the convolution's input channels).
const PRE: usize = 8;
/// Output channels of the convolution (the GRU's input).
const CONV: usize = 4;
/// Taps of the convolution.
const KERNEL: usize = 3;
/// Steps between taps.
const DILATION: usize = 2;
/// Past `pre` outputs the convolution reads: `(KERNEL − 1)·DILATION`.
const HISTORY: usize = (KERNEL - 1) * DILATION;
/// Hidden units of the GRU.
const HIDDEN: usize = 8;
/// Gate rows of the GRU: `3·HIDDEN`.
const ROWS: usize = 3 * HIDDEN;

nn_runtime::network! {
    /// Dense 1→8, tanh, causal conv1d 8→4 (kernel 3, dilation 2), tanh, GRU 4→8, dense 8→1,
    /// one output per step.
    pub struct ConvGru {
        input: seq(1),
        pre: dense(8, tanh),
        conv: conv1d(4, kernel = 3, dilation = 2, causal, tanh),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

/// The model's parameters in PyTorch layout (row-major), names as in `state_dict()`.
#[derive(Clone, Debug, PartialEq)]
pub struct ConvGruParams {
    /// `pre.weight` `[8, 1]`.
    pub pre_w: Vec<f32>,
    /// `pre.bias` `[8]`.
    pub pre_b: Vec<f32>,
    /// `conv.weight` `[4, 8, 3]`.
    pub conv_w: Vec<f32>,
    /// `conv.bias` `[4]`.
    pub conv_b: Vec<f32>,
    /// `r1.weight_ih_l0` `[24, 4]`.
    pub w_ih: Vec<f32>,
    /// `r1.weight_hh_l0` `[24, 8]`.
    pub w_hh: Vec<f32>,
    /// `r1.bias_ih_l0` `[24]`.
    pub b_ih: Vec<f32>,
    /// `r1.bias_hh_l0` `[24]`.
    pub b_hh: Vec<f32>,
    /// `out.weight` `[1, 8]`.
    pub out_w: Vec<f32>,
    /// `out.bias` `[1]`.
    pub out_b: f32,
}

impl ConvGruParams {
    /// PyTorch's default initialization from `seed`: `U(±1/√fan_in)` (`fan_in` 1 for `pre`,
    /// `8·3` for `conv`, `H = 8` for the GRU and `out`).
    pub fn random(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut draw = |n: usize, fan_in: usize| -> Vec<f32> {
            let bound = 1.0 / (fan_in as f32).sqrt();
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        };
        let conv_fan_in = PRE * KERNEL;
        Self {
            pre_w: draw(PRE, 1),
            pre_b: draw(PRE, 1),
            conv_w: draw(CONV * conv_fan_in, conv_fan_in),
            conv_b: draw(CONV, conv_fan_in),
            w_ih: draw(ROWS * CONV, HIDDEN),
            w_hh: draw(ROWS * HIDDEN, HIDDEN),
            b_ih: draw(ROWS, HIDDEN),
            b_hh: draw(ROWS, HIDDEN),
            out_w: draw(HIDDEN, HIDDEN),
            out_b: draw(1, HIDDEN)[0],
        }
    }

    /// Every tensor with its PyTorch name and shape.
    pub fn tensors(&self) -> Vec<crate::named::Named<'_>> {
        vec![
            ("pre.weight", &self.pre_w, vec![PRE, 1]),
            ("pre.bias", &self.pre_b, vec![PRE]),
            ("conv.weight", &self.conv_w, vec![CONV, PRE, KERNEL]),
            ("conv.bias", &self.conv_b, vec![CONV]),
            ("r1.weight_ih_l0", &self.w_ih, vec![ROWS, CONV]),
            ("r1.weight_hh_l0", &self.w_hh, vec![ROWS, HIDDEN]),
            ("r1.bias_ih_l0", &self.b_ih, vec![ROWS]),
            ("r1.bias_hh_l0", &self.b_hh, vec![ROWS]),
            ("out.weight", &self.out_w, vec![1, HIDDEN]),
            ("out.bias", std::slice::from_ref(&self.out_b), vec![1]),
        ]
    }
}

/// The plain f64 model: the output after each sample of `xs`, from a zero state. Straight
/// from PyTorch's equations (the convolution as `nn.Conv1d` with `(K−1)·D` zeros before the
/// start), with `exp` and `tanh` from std.
pub fn reference(p: &ConvGruParams, xs: &[f32]) -> Vec<f64> {
    let f = |v: &[f32]| -> Vec<f64> { v.iter().map(|&x| f64::from(x)).collect() };
    let (pre_w, pre_b, conv_w, conv_b) = (f(&p.pre_w), f(&p.pre_b), f(&p.conv_w), f(&p.conv_b));
    let (w_ih, w_hh, b_ih, b_hh, out_w) =
        (f(&p.w_ih), f(&p.w_hh), f(&p.b_ih), f(&p.b_hh), f(&p.out_w));
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let pre: Vec<Vec<f64>> = xs
        .iter()
        .map(|&x| {
            (0..PRE)
                .map(|i| (pre_w[i] * f64::from(x) + pre_b[i]).tanh())
                .collect()
        })
        .collect();
    let mut h = vec![0f64; HIDDEN];
    let mut out = Vec::with_capacity(xs.len());
    for t in 0..xs.len() {
        // Padded input position `t + k·D` of `nn.Conv1d(padding = (K−1)·D)` is step
        // `t + k·D − (K−1)·D`; before step 0 it is a zero.
        let c: Vec<f64> = (0..CONV)
            .map(|o| {
                let mut z = conv_b[o];
                for k in 0..KERNEL {
                    let Some(s) = (t + k * DILATION).checked_sub(HISTORY) else {
                        continue;
                    };
                    for i in 0..PRE {
                        z += conv_w[(o * PRE + i) * KERNEL + k] * pre[s][i];
                    }
                }
                z.tanh()
            })
            .collect();
        let gi: Vec<f64> = (0..ROWS)
            .map(|r| (0..CONV).map(|j| w_ih[r * CONV + j] * c[j]).sum::<f64>() + b_ih[r])
            .collect();
        let gh: Vec<f64> = (0..ROWS)
            .map(|r| {
                (0..HIDDEN)
                    .map(|j| w_hh[r * HIDDEN + j] * h[j])
                    .sum::<f64>()
                    + b_hh[r]
            })
            .collect();
        for k in 0..HIDDEN {
            let r = sigmoid(gi[k] + gh[k]);
            let z = sigmoid(gi[HIDDEN + k] + gh[HIDDEN + k]);
            let n = (gi[2 * HIDDEN + k] + r * gh[2 * HIDDEN + k]).tanh();
            h[k] = (1.0 - z) * n + z * h[k];
        }
        out.push(out_w.iter().zip(&h).map(|(w, h)| w * h).sum::<f64>() + f64::from(p.out_b));
    }
    out
}

/// nn's generated network and the state it carries, driven as the limit is.
pub struct NnConvGru {
    net: Box<ConvGru<f32>>,
    state: ConvGruState<f32>,
}

impl NnConvGru {
    /// The network holding `p`, zero state.
    pub fn new(p: &ConvGruParams) -> Self {
        Self {
            net: crate::named::load(&p.tensors()),
            state: ConvGruState::default(),
        }
    }
}

impl Stream for NnConvGru {
    #[inline]
    fn step(&mut self, x: f32) -> f32 {
        let x = nn_runtime::nalgebra::SVector::<f32, 1>::new(x);
        self.net.step(&mut self.state, &x)[0]
    }

    fn reset(&mut self) {
        self.state.reset();
    }
}

/// The hand-written step for exactly these sizes. Layout chosen for it: every weight stored
/// transposed, so that each product is broadcast-FMAs of one input scalar over a contiguous
/// row of outputs (`conv` as `[K·8][4]`, tap-major; `W_ih` as `[4][24]`, `W_hh` as `[8][24]`).
/// The convolution's history is a ring of the last four `pre` outputs. Activations: the
/// rational tanh and `σ(x) = ½ tanh(x/2) + ½` of [`super::limit`]. Compiled for AVX-512F,
/// AVX2 + FMA and the baseline target, chosen at run time; nothing is allocated per step.
#[derive(Clone, Debug)]
pub struct Limit {
    pre_w: [f32; PRE],
    pre_b: [f32; PRE],
    /// `conv_t[k·8 + i][o] = conv.weight[o, i, k]`.
    conv_t: [[f32; CONV]; KERNEL * PRE],
    conv_b: [f32; CONV],
    /// `w_ih_t[j][r] = weight_ih_l0[r, j]`.
    w_ih_t: [[f32; ROWS]; CONV],
    /// `w_hh_t[j][r] = weight_hh_l0[r, j]`.
    w_hh_t: [[f32; ROWS]; HIDDEN],
    b_ih: [f32; ROWS],
    b_hh: [f32; ROWS],
    out_w: [f32; HIDDEN],
    out_b: f32,
    /// The last `HISTORY` `pre` outputs; `next` is the oldest (overwritten next).
    ring: [[f32; PRE]; HISTORY],
    next: usize,
    h: [f32; HIDDEN],
    level: Level,
}

fn array<const N: usize>(v: &[f32]) -> [f32; N] {
    v.try_into().expect("a tensor of the model's size")
}

impl Limit {
    /// The model `p`, zero state.
    pub fn new(p: &ConvGruParams) -> Self {
        Self {
            pre_w: array(&p.pre_w),
            pre_b: array(&p.pre_b),
            conv_t: std::array::from_fn(|ki| {
                let (k, i) = (ki / PRE, ki % PRE);
                std::array::from_fn(|o| p.conv_w[(o * PRE + i) * KERNEL + k])
            }),
            conv_b: array(&p.conv_b),
            w_ih_t: std::array::from_fn(|j| std::array::from_fn(|r| p.w_ih[r * CONV + j])),
            w_hh_t: std::array::from_fn(|j| std::array::from_fn(|r| p.w_hh[r * HIDDEN + j])),
            b_ih: array(&p.b_ih),
            b_hh: array(&p.b_hh),
            out_w: array(&p.out_w),
            out_b: p.out_b,
            ring: [[0.0; PRE]; HISTORY],
            next: 0,
            h: [0.0; HIDDEN],
            level: Level::detect(),
        }
    }

    /// `a = tanh(w x + b)`; `c = tanh(b_c + Σ_k W_k a_{t−(K−1−k)·D})`; the GRU step on `c`
    /// (`r, z, n`, `h ← n + z (h − n)`); the output `w_out · h + b_out`.
    #[inline(always)]
    fn body<const FMA: bool>(&mut self, x: f32) -> f32 {
        let mut a = [0f32; PRE];
        for (i, a) in a.iter_mut().enumerate() {
            *a = tanh::<FMA>(madd::<FMA>(self.pre_w[i], x, self.pre_b[i]));
        }
        let mut c = self.conv_b;
        for k in 0..KERNEL {
            let lag = (KERNEL - 1 - k) * DILATION;
            let tap = if lag == 0 {
                &a
            } else {
                &self.ring[(self.next + HISTORY - lag) % HISTORY]
            };
            for (i, &v) in tap.iter().enumerate() {
                for (c, &w) in c.iter_mut().zip(&self.conv_t[k * PRE + i]) {
                    *c = madd::<FMA>(w, v, *c);
                }
            }
        }
        self.ring[self.next] = a;
        self.next = (self.next + 1) % HISTORY;
        for c in c.iter_mut() {
            *c = tanh::<FMA>(*c);
        }
        let (mut gi, mut gh) = (self.b_ih, self.b_hh);
        for (j, &c) in c.iter().enumerate() {
            for (g, &w) in gi.iter_mut().zip(&self.w_ih_t[j]) {
                *g = madd::<FMA>(w, c, *g);
            }
        }
        for (j, &h) in self.h.iter().enumerate() {
            for (g, &w) in gh.iter_mut().zip(&self.w_hh_t[j]) {
                *g = madd::<FMA>(w, h, *g);
            }
        }
        // Lane-wise over the hidden units (no reduction in the loop, so it vectorizes).
        for k in 0..HIDDEN {
            let r = sigmoid::<FMA>(gi[k] + gh[k]);
            let z = sigmoid::<FMA>(gi[HIDDEN + k] + gh[HIDDEN + k]);
            let n = tanh::<FMA>(madd::<FMA>(r, gh[2 * HIDDEN + k], gi[2 * HIDDEN + k]));
            self.h[k] = madd::<FMA>(z, self.h[k] - n, n);
        }
        // `w_out · h + b_out` as a tree of the eight lane products.
        let p: [f32; HIDDEN] = std::array::from_fn(|k| self.out_w[k] * self.h[k]);
        ((p[0] + p[4]) + (p[2] + p[6])) + ((p[1] + p[5]) + (p[3] + p[7])) + self.out_b
    }
}

impl Stream for Limit {
    #[inline]
    fn step(&mut self, x: f32) -> f32 {
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512(s: &mut Limit, x: f32) -> f32 {
                s.body::<true>(x)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2(s: &mut Limit, x: f32) -> f32 {
                s.body::<true>(x)
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

    fn reset(&mut self) {
        self.ring = [[0.0; PRE]; HISTORY];
        self.next = 0;
        self.h = [0.0; HIDDEN];
    }
}

/// Times `s.step` on the signal, one sample per operation, the state carried.
fn visit(v: &mut impl StreamVisitor, name: &str, s: &mut impl Stream) {
    let xs = signal(TIMED_SAMPLES, SIGNAL_SEED);
    let mut t = 0;
    v.visit(GROUP, name, &mut || {
        std::hint::black_box(s.step(std::hint::black_box(xs[t])));
        t = (t + 1) & (TIMED_SAMPLES - 1);
    });
}

/// Builds the group's rows if `wants` accepts it, checks nn and the limit against the f64
/// reference, then visits them.
pub fn run(v: &mut impl StreamVisitor, wants: &dyn Fn(&str) -> bool) {
    if !wants(GROUP) {
        return;
    }
    let p = ConvGruParams::random(WEIGHT_SEED);
    let xs = signal(CHECK_SAMPLES, SIGNAL_SEED);
    let want = reference(&p, &xs);
    let (mut nn, mut limit) = (NnConvGru::new(&p), Limit::new(&p));
    super::check_stream(GROUP, "nn", &mut nn, &xs, &want);
    super::check_stream(GROUP, "limit", &mut limit, &xs, &want);
    visit(v, "nn", &mut nn);
    visit(v, "limit", &mut limit);
}
