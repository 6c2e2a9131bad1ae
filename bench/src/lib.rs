//! The same two networks written four ways, for the side-by-side benchmarks in `benches/` and
//! the agreement test in `tests/agree.rs`:
//!
//! - [`nets`]: nn's `network!` (the thing being measured);
//! - [`hand`]: the same math by hand on flat `Vec<f32>`, products through `matrixmultiply::sgemm`
//!   (plus a per-sample variant on plain loops);
//! - [`candle_impl`]: candle-core tensors and its autograd;
//! - [`dfdx_impl`]: dfdx modules and its tape.
//!
//! Every version computes, for 3 dense layers `I → H → H → O`:
//! `z1 = W1 x + b1, h1 = relu(z1); z2 = W2 h1 + b2, h2 = relu(z2) (+ h1 when residual);
//! z3 = W3 h2 + b3`, softmax cross-entropy (mean over the batch), and the gradient
//! `dz3 = (p − y)/B, dW = dz hᵀ, db = Σ dz, dh = Wᵀ dz`.

pub mod candle_impl;
pub mod dfdx_impl;
pub mod hand;
pub mod nets;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The widths of a 3-layer MLP `input → hidden → hidden → output`, relu, softmax CE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    /// A short name for reports.
    pub name: &'static str,
    /// Input width.
    pub input: usize,
    /// Width of both hidden layers.
    pub hidden: usize,
    /// Output width (classes).
    pub output: usize,
    /// `h2 = relu(z2) + h1`.
    pub residual: bool,
}

/// 64-128-128-10, relu, residual around the second layer: the digits model without its layer
/// norm.
pub const DIGITS: Shape = Shape {
    name: "digits",
    input: 64,
    hidden: 128,
    output: 10,
    residual: true,
};

/// 784-512-512-10, relu: the MNIST MLP.
pub const MNIST: Shape = Shape {
    name: "mnist",
    input: 784,
    hidden: 512,
    output: 10,
    residual: false,
};

/// Parameters (or a gradient), PyTorch layout: weights row-major `[out, in]`, biases `[out]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Params {
    /// The widths.
    pub shape: Shape,
    /// `[hidden, input]`.
    pub w1: Vec<f32>,
    /// `[hidden]`.
    pub b1: Vec<f32>,
    /// `[hidden, hidden]`.
    pub w2: Vec<f32>,
    /// `[hidden]`.
    pub b2: Vec<f32>,
    /// `[output, hidden]`.
    pub w3: Vec<f32>,
    /// `[output]`.
    pub b3: Vec<f32>,
}

impl Params {
    /// All zeros.
    pub fn zeros(shape: Shape) -> Self {
        let (i, h, o) = (shape.input, shape.hidden, shape.output);
        Self {
            shape,
            w1: vec![0.0; h * i],
            b1: vec![0.0; h],
            w2: vec![0.0; h * h],
            b2: vec![0.0; h],
            w3: vec![0.0; o * h],
            b3: vec![0.0; o],
        }
    }

    /// He-uniform weights (`±√(6 / fan_in)`, halved for the residual sum to stay tame), small
    /// biases, from `seed`.
    pub fn random(shape: Shape, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut p = Self::zeros(shape);
        let (i, h) = (shape.input as f32, shape.hidden as f32);
        let mut fill = |v: &mut Vec<f32>, bound: f32| {
            for x in v.iter_mut() {
                *x = rng.random_range(-bound..bound);
            }
        };
        fill(&mut p.w1, (6.0 / i).sqrt());
        fill(&mut p.b1, 0.1);
        fill(&mut p.w2, 0.5 * (6.0 / h).sqrt());
        fill(&mut p.b2, 0.1);
        fill(&mut p.w3, (6.0 / h).sqrt());
        fill(&mut p.b3, 0.1);
        p
    }

    /// The tensors in order `w1, b1, w2, b2, w3, b3`, with their names.
    pub fn tensors(&self) -> [(&'static str, &[f32]); 6] {
        [
            ("w1", &self.w1),
            ("b1", &self.b1),
            ("w2", &self.w2),
            ("b2", &self.b2),
            ("w3", &self.w3),
            ("b3", &self.b3),
        ]
    }
}

/// Synthetic samples: inputs `[input, n]` column-major (each sample contiguous, which is also
/// row-major `[n, input]`), labels, and one-hot targets `[output, n]` column-major.
#[derive(Clone, Debug)]
pub struct Data {
    /// The widths.
    pub shape: Shape,
    /// Number of samples.
    pub n: usize,
    /// `n` samples of `input` values, sample after sample.
    pub x: Vec<f32>,
    /// Class of each sample.
    pub labels: Vec<usize>,
    /// One-hot targets, `output` values per sample, sample after sample.
    pub y: Vec<f32>,
}

impl Data {
    /// `n` samples with inputs uniform in `[0, 1)` (pixel-like) and uniform labels.
    pub fn random(shape: Shape, n: usize, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x: Vec<f32> = (0..n * shape.input)
            .map(|_| rng.random_range(0.0..1.0))
            .collect();
        let labels: Vec<usize> = (0..n).map(|_| rng.random_range(0..shape.output)).collect();
        let mut y = vec![0.0; n * shape.output];
        for (s, &l) in labels.iter().enumerate() {
            y[s * shape.output + l] = 1.0;
        }
        Self {
            shape,
            n,
            x,
            labels,
            y,
        }
    }

    /// Input of sample `s`.
    pub fn sample(&self, s: usize) -> &[f32] {
        &self.x[s * self.shape.input..(s + 1) * self.shape.input]
    }

    /// One-hot target of sample `s`.
    pub fn target(&self, s: usize) -> &[f32] {
        &self.y[s * self.shape.output..(s + 1) * self.shape.output]
    }

    /// The rows, one `Vec` per sample (for `nn_runtime::data::Dataset::classification`).
    pub fn rows(&self) -> Vec<Vec<f32>> {
        (0..self.n).map(|s| self.sample(s).to_vec()).collect()
    }
}

/// Row-major `[rows, cols]` to column-major (nalgebra) storage, and back (`cols, rows` swapped).
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

/// Makes the peers single-threaded: `RAYON_NUM_THREADS=1` is read by rayon's global pool (dfdx's
/// GEMMs run on it) and by candle, which passes `Parallelism::None` to its GEMM when it is 1.
/// Call first thing in `main`, before any thread exists.
pub fn single_thread() {
    if std::env::var("RAYON_NUM_THREADS").as_deref() != Ok("1") {
        // SAFETY: called at the start of `main`, while the process has a single thread.
        unsafe { std::env::set_var("RAYON_NUM_THREADS", "1") };
    }
    // dfdx uses `rayon::current_num_threads()`, which reads the global pool; building it now
    // with one thread makes that explicit (it fails harmlessly if the pool already exists).
    let _ = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build_global();
}
