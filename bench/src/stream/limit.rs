//! The streaming limit: one GRU or LSTM step and the dense output, written for exactly these
//! sizes (`H`, and `N = G·H` rows of gates, as const generics, so every loop has a known trip
//! count and no bounds check survives).
//!
//! Layout chosen for the step: `W_hh` is stored transposed (`[H, N]`, column `j` of PyTorch's
//! `weight_hh_l0` contiguous), so `W_hh h` is `H` broadcast-FMAs over all `N` gate rows at
//! once, on two accumulator sets (even and odd `j`) to halve the FMA latency chain. The gates
//! then run lane-wise over `k < H` with a rational tanh (Eigen's, [`tanh`]) and
//! `σ(x) = ½ tanh(x/2) + ½`; the dense output is an 8-lane dot product.
//!
//! The same body is compiled three times and chosen at run time: with AVX-512F (+AVX2, FMA),
//! with AVX2 + FMA (products fused with `mul_add`), and for the baseline target (plain
//! multiply-add, no FMA instruction to call). Nothing is allocated per step.

/// Max absolute error of [`tanh`] against f64 `tanh` over `[-10, 10]` (checked in
/// `bench/tests/agree.rs` on a dense grid; Eigen states "within a few ulp").
pub const TANH_MAX_ERROR: f32 = 5e-7;
/// Max absolute error of [`sigmoid`] against f64 `1 / (1 + e^−x)` over `[-20, 20]` (half the
/// tanh error, plus the rounding of `½ t + ½`).
pub const SIGMOID_MAX_ERROR: f32 = 3e-7;

/// `a·b + c`, one FMA instruction when `FMA` (only used where the CPU has one), else a
/// multiply and an add (`mul_add` without FMA would call libm).
#[inline(always)]
pub(crate) fn madd<const FMA: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FMA { a.mul_add(b, c) } else { a * b + c }
}

/// `tanh(x)`: the odd rational minimax approximation (degree 13 over 6) on `x` clamped to
/// `±7.905311` that Eigen uses (and nn, and the dense limit), branch-free so that it runs
/// lane-wise. Max absolute error [`TANH_MAX_ERROR`].
#[inline(always)]
pub fn tanh<const FMA: bool>(x: f32) -> f32 {
    const CLAMP: f32 = 7.905_311;
    let c = x.clamp(-CLAMP, CLAMP);
    let c2 = c * c;
    let p = madd::<FMA>(c2, -2.760_768_5e-16, 2.000_188e-13);
    let p = madd::<FMA>(p, c2, -8.604_672e-11);
    let p = madd::<FMA>(p, c2, 5.122_297e-8);
    let p = madd::<FMA>(p, c2, 1.485_722_4e-5);
    let p = madd::<FMA>(p, c2, 6.372_619_3e-4);
    let p = madd::<FMA>(p, c2, 4.893_524_6e-3);
    let q = madd::<FMA>(c2, 1.198_258_4e-6, 1.185_347_1e-4);
    let q = madd::<FMA>(q, c2, 2.268_434_6e-3);
    let q = madd::<FMA>(q, c2, 4.893_525e-3);
    if x.abs() < 0.0004 { x } else { p * c / q }
}

/// `σ(x) = 1 / (1 + e^−x)` as `½ tanh(x/2) + ½`. Max absolute error [`SIGMOID_MAX_ERROR`].
#[inline(always)]
pub fn sigmoid<const FMA: bool>(x: f32) -> f32 {
    madd::<FMA>(0.5, tanh::<FMA>(0.5 * x), 0.5)
}

/// `W_hh h + b_hh`: column by column, even and odd columns in two accumulator sets.
#[inline(always)]
fn recurrent<const H: usize, const N: usize, const FMA: bool>(
    w_hh_t: &[[f32; N]; H],
    b_hh: &[f32; N],
    h: &[f32; H],
) -> [f32; N] {
    let (mut even, mut odd) = (*b_hh, [0f32; N]);
    for j in (0..H).step_by(2) {
        let (h0, col0) = (h[j], &w_hh_t[j]);
        for (a, &w) in even.iter_mut().zip(col0) {
            *a = madd::<FMA>(w, h0, *a);
        }
        if j + 1 < H {
            let (h1, col1) = (h[j + 1], &w_hh_t[j + 1]);
            for (a, &w) in odd.iter_mut().zip(col1) {
                *a = madd::<FMA>(w, h1, *a);
            }
        }
    }
    for (e, o) in even.iter_mut().zip(&odd) {
        *e += o;
    }
    even
}

/// `w · h + b` on eight lanes.
#[inline(always)]
fn dense_out<const H: usize, const FMA: bool>(w: &[f32; H], b: f32, h: &[f32; H]) -> f32 {
    let mut acc = [0f32; 8];
    for j in 0..H {
        acc[j % 8] = madd::<FMA>(w[j], h[j], acc[j % 8]);
    }
    let s4 = [
        acc[0] + acc[4],
        acc[1] + acc[5],
        acc[2] + acc[6],
        acc[3] + acc[7],
    ];
    (s4[0] + s4[2]) + (s4[1] + s4[3]) + b
}

/// The instruction set the step was compiled for, detected once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The baseline target.
    Scalar,
    /// AVX2 + FMA.
    Avx2,
    /// AVX-512F (with AVX2 + FMA).
    Avx512,
}

impl Level {
    /// The best this CPU has.
    pub fn detect() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let avx2 = is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma");
            if avx2 && is_x86_feature_detected!("avx512f") {
                return Level::Avx512;
            }
            if avx2 {
                return Level::Avx2;
            }
        }
        Level::Scalar
    }
}

/// A streaming model the bench can drive.
pub trait Stream {
    /// Feeds one sample; the output after it.
    fn step(&mut self, x: f32) -> f32;
    /// Back to the zero state.
    fn reset(&mut self);
}

/// Copies a row-major `[N, H]` matrix into `[H][N]` (its transpose).
fn transposed<const H: usize, const N: usize>(w: &[f32]) -> [[f32; N]; H] {
    assert_eq!(w.len(), N * H, "weight_hh_l0 is [{N}, {H}]");
    std::array::from_fn(|j| std::array::from_fn(|r| w[r * H + j]))
}

fn array<const N: usize>(v: &[f32]) -> [f32; N] {
    v.try_into().expect("a tensor of the model's size")
}

/// Compiles `$body::<H, N, FMA>` for each [`Level`] and dispatches on `$self.level`.
macro_rules! dispatch {
    ($self:ident, $x:ident, $body:ident) => {{
        #[cfg(target_arch = "x86_64")]
        {
            #[target_feature(enable = "avx512f,avx2,fma")]
            fn avx512<const H: usize, const N: usize>(s: &mut $body<H, N>, x: f32) -> f32 {
                s.body::<true>(x)
            }
            #[target_feature(enable = "avx2,fma")]
            fn avx2<const H: usize, const N: usize>(s: &mut $body<H, N>, x: f32) -> f32 {
                s.body::<true>(x)
            }
            match $self.level {
                // SAFETY: `level` is what `Level::detect` found on this CPU.
                Level::Avx512 => unsafe { avx512($self, $x) },
                // SAFETY: as above.
                Level::Avx2 => unsafe { avx2($self, $x) },
                Level::Scalar => $self.body::<false>($x),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            $self.body::<false>($x)
        }
    }};
}

/// GRU 1→H + dense H→1; `N = 3H`.
#[derive(Clone, Debug)]
pub struct Gru<const H: usize, const N: usize> {
    /// `weight_ih_l0` (one input feature: a column).
    w_ih: [f32; N],
    /// `bias_ih_l0`.
    b_ih: [f32; N],
    /// `weight_hh_l0`ᵀ.
    w_hh_t: [[f32; N]; H],
    /// `bias_hh_l0`.
    b_hh: [f32; N],
    w_out: [f32; H],
    b_out: f32,
    /// The carried state.
    h: [f32; H],
    level: Level,
}

impl<const H: usize, const N: usize> Gru<H, N> {
    /// The model `p`, zero state.
    pub fn new(p: &super::StreamParams) -> Self {
        assert_eq!(
            (p.model.cell, p.model.hidden, N),
            (super::Cell::Gru, H, 3 * H)
        );
        Self {
            w_ih: array(&p.w_ih),
            b_ih: array(&p.b_ih),
            w_hh_t: transposed(&p.w_hh),
            b_hh: array(&p.b_hh),
            w_out: array(&p.w_out),
            b_out: p.b_out,
            h: [0.0; H],
            level: Level::detect(),
        }
    }

    /// `r = σ(gi_r + gh_r)`, `z = σ(gi_z + gh_z)`, `n = tanh(gi_n + r gh_n)`,
    /// `h ← n + z (h − n)`; the output `w_out · h + b_out`.
    #[inline(always)]
    fn body<const FMA: bool>(&mut self, x: f32) -> f32 {
        let gh = recurrent::<H, N, FMA>(&self.w_hh_t, &self.b_hh, &self.h);
        let gi = |r: usize| madd::<FMA>(self.w_ih[r], x, self.b_ih[r]);
        let mut h = self.h;
        for (k, hk) in h.iter_mut().enumerate() {
            let r = sigmoid::<FMA>(gi(k) + gh[k]);
            let z = sigmoid::<FMA>(gi(H + k) + gh[H + k]);
            let n = tanh::<FMA>(madd::<FMA>(r, gh[2 * H + k], gi(2 * H + k)));
            *hk = madd::<FMA>(z, *hk - n, n);
        }
        self.h = h;
        dense_out::<H, FMA>(&self.w_out, self.b_out, &self.h)
    }
}

impl<const H: usize, const N: usize> Stream for Gru<H, N> {
    #[inline]
    fn step(&mut self, x: f32) -> f32 {
        dispatch!(self, x, Gru)
    }

    fn reset(&mut self) {
        self.h = [0.0; H];
    }
}

/// LSTM 1→H + dense H→1; `N = 4H`.
#[derive(Clone, Debug)]
pub struct Lstm<const H: usize, const N: usize> {
    /// `weight_ih_l0` (one input feature: a column).
    w_ih: [f32; N],
    /// `weight_hh_l0`ᵀ.
    w_hh_t: [[f32; N]; H],
    /// `bias_ih_l0 + bias_hh_l0` (they only ever appear summed).
    b: [f32; N],
    w_out: [f32; H],
    b_out: f32,
    /// The carried state.
    h: [f32; H],
    c: [f32; H],
    level: Level,
}

impl<const H: usize, const N: usize> Lstm<H, N> {
    /// The model `p`, zero state.
    pub fn new(p: &super::StreamParams) -> Self {
        assert_eq!(
            (p.model.cell, p.model.hidden, N),
            (super::Cell::Lstm, H, 4 * H)
        );
        let b: Vec<f32> = p.b_ih.iter().zip(&p.b_hh).map(|(a, b)| a + b).collect();
        Self {
            w_ih: array(&p.w_ih),
            w_hh_t: transposed(&p.w_hh),
            b: array(&b),
            w_out: array(&p.w_out),
            b_out: p.b_out,
            h: [0.0; H],
            c: [0.0; H],
            level: Level::detect(),
        }
    }

    /// `g = W_ih x + W_hh h + b`; `c ← σ(g_f) c + σ(g_i) tanh(g_g)`, `h ← σ(g_o) tanh(c)`; the
    /// output `w_out · h + b_out`.
    #[inline(always)]
    fn body<const FMA: bool>(&mut self, x: f32) -> f32 {
        let mut g = recurrent::<H, N, FMA>(&self.w_hh_t, &self.b, &self.h);
        for (a, &w) in g.iter_mut().zip(&self.w_ih) {
            *a = madd::<FMA>(w, x, *a);
        }
        let (mut h, mut c) = (self.h, self.c);
        for k in 0..H {
            let i = sigmoid::<FMA>(g[k]);
            let f = sigmoid::<FMA>(g[H + k]);
            let gg = tanh::<FMA>(g[2 * H + k]);
            let o = sigmoid::<FMA>(g[3 * H + k]);
            c[k] = madd::<FMA>(f, c[k], i * gg);
            h[k] = o * tanh::<FMA>(c[k]);
        }
        (self.h, self.c) = (h, c);
        dense_out::<H, FMA>(&self.w_out, self.b_out, &self.h)
    }
}

impl<const H: usize, const N: usize> Stream for Lstm<H, N> {
    #[inline]
    fn step(&mut self, x: f32) -> f32 {
        dispatch!(self, x, Lstm)
    }

    fn reset(&mut self) {
        self.h = [0.0; H];
        self.c = [0.0; H];
    }
}
