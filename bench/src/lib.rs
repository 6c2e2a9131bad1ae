//! The benchmark workloads of BENCHMARKS.md, each written in every implementation:
//!
//! - [`nets`]: nn's `network!` (the thing being measured);
//! - [`limit`]: the practical limit, hand-written kernels per workload (AVX2 matrix-vector
//!   loops for batch 1, a fused training step on `matrixmultiply::sgemm` for batches), and the
//!   "read every parameter once" floor;
//! - [`candle_impl`], [`dfdx_impl`] and (feature `burn`) `burn_impl`: the frameworks, written
//!   as their users would.
//!
//! [`workloads`] builds every implementation of a workload from the same weights and data,
//! checks that they agree (outputs; loss and updated weights after one training step) and hands
//! them to a [`workloads::Visitor`] (the criterion bench times them, `tests/agree.rs` only
//! checks).
//!
//! Every network is a dense MLP, f32: `z = W x + b`, the hidden activation (relu or tanh) on
//! every layer but the last, logits out. Training is one plain SGD step (`lr = 0.01`, no
//! momentum) on the softmax cross-entropy, mean over the batch.

#[cfg(feature = "burn")]
pub mod burn_impl;
pub mod candle_impl;
pub mod conv;
pub mod convnets;
pub mod dfdx_impl;
pub mod limit;
pub mod named;
pub mod nets;
pub mod seqnets;
pub mod seqtrain;
pub mod stream;
pub mod workloads;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The learning rate of every training step.
pub const LR: f32 = 0.01;
/// The batch of workloads B and D.
pub const BATCH: usize = 128;
/// Seed of the weights.
pub const WEIGHT_SEED: u64 = 1;
/// Seed of the inputs and labels.
pub const DATA_SEED: u64 = 2;

/// The activation of the hidden layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// `max(z, 0)`.
    Relu,
    /// `tanh(z)`.
    Tanh,
}

/// A dense MLP: the widths from input to output, and the hidden activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Arch {
    /// `in-h…-out`, as in the group names.
    pub name: &'static str,
    /// Input width, hidden widths, output width.
    pub widths: &'static [usize],
    /// Activation of every layer but the last (which gives logits).
    pub hidden: Act,
}

/// 2-8-1, tanh hidden layer.
pub const TINY: Arch = Arch {
    name: "2-8-1",
    widths: &[2, 8, 1],
    hidden: Act::Tanh,
};
/// 64-64-64-10, relu.
pub const SMALL: Arch = Arch {
    name: "64-64-64-10",
    widths: &[64, 64, 64, 10],
    hidden: Act::Relu,
};
/// 784-128-10, relu.
pub const MID: Arch = Arch {
    name: "784-128-10",
    widths: &[784, 128, 10],
    hidden: Act::Relu,
};
/// 784-512-512-10, relu.
pub const LARGE: Arch = Arch {
    name: "784-512-512-10",
    widths: &[784, 512, 512, 10],
    hidden: Act::Relu,
};
/// Every network.
pub const ARCHS: [Arch; 4] = [TINY, SMALL, MID, LARGE];

impl Arch {
    /// The network named `name`.
    pub fn by_name(name: &str) -> Option<Arch> {
        ARCHS.into_iter().find(|a| a.name == name)
    }

    /// Input width.
    pub fn input(&self) -> usize {
        self.widths[0]
    }

    /// Output width.
    pub fn output(&self) -> usize {
        *self.widths.last().expect("widths")
    }

    /// `(out, in)` of every layer.
    pub fn layers(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.widths.windows(2).map(|w| (w[1], w[0]))
    }

    /// `Σ in·out`: the multiply-adds of one sample's forward pass.
    pub fn macs(&self) -> usize {
        self.layers().map(|(o, i)| o * i).sum()
    }

    /// Weights and biases.
    pub fn params(&self) -> usize {
        self.layers().map(|(o, i)| o * i + o).sum()
    }

    /// FLOPs of a forward pass of one sample: `2 Σ in·out`.
    pub fn forward_flops(&self) -> f64 {
        2.0 * self.macs() as f64
    }

    /// FLOPs of one training step on `batch` samples: per sample the forward pass (`2 Σ in·out`),
    /// the weight gradients (`2 Σ in·out`) and the input gradients of every layer but the first
    /// (`2 Σ in·out − 2 in₁·out₁`); per step the SGD update (`2` per parameter).
    pub fn step_flops(&self, batch: usize) -> f64 {
        let (o1, i1) = self.layers().next().expect("a layer");
        let per_sample = 6.0 * self.macs() as f64 - 2.0 * (o1 * i1) as f64;
        batch as f64 * per_sample + 2.0 * self.params() as f64
    }
}

/// One layer's parameters in PyTorch layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Layer {
    /// Output width.
    pub out: usize,
    /// Input width.
    pub inp: usize,
    /// `[out, in]`, row-major.
    pub w: Vec<f32>,
    /// `[out]`.
    pub b: Vec<f32>,
}

/// A network's parameters in PyTorch layout (what every implementation loads and exports).
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The network.
    pub arch: Arch,
    /// Its layers, input first.
    pub layers: Vec<Layer>,
}

impl Params {
    /// PyTorch's default initialization of `nn.Linear`: weights and biases uniform in
    /// `±1/√in`, from `seed`.
    pub fn random(arch: Arch, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let layers = arch
            .layers()
            .map(|(out, inp)| {
                let bound = 1.0 / (inp as f32).sqrt();
                let mut draw = |n: usize| -> Vec<f32> {
                    (0..n).map(|_| rng.random_range(-bound..bound)).collect()
                };
                let w = draw(out * inp);
                let b = draw(out);
                Layer { out, inp, w, b }
            })
            .collect();
        Self { arch, layers }
    }

    /// Every tensor with a name (`l0.weight`, `l0.bias`, …), weights row-major `[out, in]`.
    pub fn tensors(&self) -> Vec<(String, &[f32])> {
        let mut t = Vec::new();
        for (k, l) in self.layers.iter().enumerate() {
            t.push((format!("l{k}.weight"), l.w.as_slice()));
            t.push((format!("l{k}.bias"), l.b.as_slice()));
        }
        t
    }

    /// Whether every parameter is finite.
    pub fn is_finite(&self) -> bool {
        self.layers
            .iter()
            .all(|l| l.w.iter().chain(&l.b).all(|v| v.is_finite()))
    }
}

/// Samples: inputs uniform in `[0, 1)` (pixel-like), labels uniform over the classes.
#[derive(Clone, Debug)]
pub struct Data {
    /// The network they are for.
    pub arch: Arch,
    /// Number of samples.
    pub n: usize,
    /// `n` samples of `input` values, sample after sample: row-major `[n, in]`, which is also
    /// column-major `[in, n]` (nn's `Batch`).
    pub x: Vec<f32>,
    /// The class of each sample.
    pub labels: Vec<usize>,
}

impl Data {
    /// `n` samples from `seed`.
    pub fn random(arch: Arch, n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = (0..n * arch.input())
            .map(|_| rng.random_range(0.0..1.0))
            .collect();
        let labels = (0..n).map(|_| rng.random_range(0..arch.output())).collect();
        Self { arch, n, x, labels }
    }

    /// Input of sample `s`.
    pub fn sample(&self, s: usize) -> &[f32] {
        let i = self.arch.input();
        &self.x[s * i..(s + 1) * i]
    }

    /// The one-hot targets, row-major `[n, out]`.
    pub fn one_hot(&self) -> Vec<f32> {
        let o = self.arch.output();
        let mut y = vec![0.0; self.n * o];
        for (s, &l) in self.labels.iter().enumerate() {
            y[s * o + l] = 1.0;
        }
        y
    }
}

/// Row-major `[rows, cols]` to column-major storage (or column-major `[cols, rows]`, read as
/// row-major, back: the same transposition).
pub fn transpose(rows: usize, cols: usize, data: &[f32]) -> Vec<f32> {
    assert_eq!(data.len(), rows * cols);
    let mut out = vec![0.0; data.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

/// Makes every library single-threaded and flushes subnormals to zero; call first thing in
/// `main`, before any thread
/// exists. `RAYON_NUM_THREADS=1` is read by rayon's global pool (dfdx's GEMMs run on it with
/// `rayon::current_num_threads()`) and by candle (its GEMM's `Parallelism`); burn-ndarray is
/// built without its `multi-threads` feature; `MATMUL_NUM_THREADS=1` covers matrixmultiply
/// should its `threading` feature ever be on. The global pool is then built with that many
/// threads, which makes it explicit.
///
/// `NN_BENCH_PEER_THREADS=n` sets `n` instead of 1: only to check that the setting reaches the
/// peers (their times and CPU use change with it), never for the figures of BENCHMARKS.md.
///
/// It also flushes subnormal floats to zero for the rest of the process, on this thread and
/// on every thread of rayon's global pool ([`nn_runtime::fpenv`]), for every library alike:
/// `nn`'s `fit` does so, and a timed loop that drifts into subnormals would otherwise measure
/// the CPU's microcode assists rather than the library.
pub fn single_thread() {
    // The setting is meant to last as long as the process: the guards are never dropped.
    std::mem::forget(nn_runtime::FlushSubnormals::new());
    let n = std::env::var("NN_BENCH_PEER_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1);
    for var in ["RAYON_NUM_THREADS", "MATMUL_NUM_THREADS"] {
        // SAFETY: called at the start of `main`, while the process has a single thread.
        unsafe { std::env::set_var(var, n.to_string()) };
    }
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .start_handler(|_| std::mem::forget(nn_runtime::FlushSubnormals::new()))
        .build_global();
    assert_eq!(rayon::current_num_threads(), n, "rayon's global pool");
}

/// `max |got − want| / max |want|`: the difference relative to the tensor's scale (so that
/// entries that cancel to nearly zero do not make the check meaningless).
pub fn rel_diff(got: &[f32], want: &[f32]) -> f32 {
    assert_eq!(got.len(), want.len(), "lengths");
    let scale = want.iter().fold(0f32, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0f32, |m, (a, b)| m.max((a - b).abs()));
    if scale == 0.0 {
        if err == 0.0 { 0.0 } else { f32::INFINITY }
    } else {
        err / scale
    }
}
