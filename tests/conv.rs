//! Convolutional networks: the unrolled backward pass against central differences (f64), per
//! sample and per batch, over networks that use every option of `conv1d`, `conv2d`, both pools,
//! the global pool, residuals and 1×1 projections; the batch path against the per-sample one;
//! the fused SGD step against `backward`; the tensors' PyTorch names and shapes.
//!
//! `cargo test --test conv -- --nocapture` prints the table of errors.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, GradientCheck, Network, Parameters, Real, network, one_hot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest accepted `max_relative_error` of a gradient check: as in `tests/gradients.rs`, a
/// right formula differs from the five-point difference by ~1e-7 at most relative to gradients
/// above the runtime's floor, a wrong one (a flipped kernel, a lost tap, a missing `1/batch`)
/// by O(1).
const GRADIENT_TOLERANCE: f64 = 1e-6;

/// Two f64 computations of the same sums in a different order (im2col GEMMs vs direct loops,
/// a batch mean vs per-sample means): a few ulps per operation over a few layers.
const REORDER_TOLERANCE: f64 = 1e-12;

/// Parameters from `U(−0.8, 0.8)`, inputs from `U(−1, 1)`: pre-activations where every
/// activation is curved.
const WEIGHT_SCALE: f64 = 0.8;

/// Samples per batch (and samples checked one by one).
const BATCH: usize = 5;

/// With this seed no relu pre-activation and no pair of max-pool candidates lies within the
/// difference step of a kink (where a central difference straddles it).
const SEED: u64 = 11;

network! {
    /// 1-D: stride and padding, `same` padding with dilation and an identity residual, a max
    /// pool, a convolution without bias with a 1×1 projection, the global pool.
    pub struct Signal {
        input: [2, 13],
        c1: conv1d(3, kernel = 3, stride = 2, padding = 1, tanh),  // [3, 7]
        c2: conv1d(3, kernel = 2, dilation = 2, padding = same, silu) + c1,
        p: max_pool(2),                                             // [3, 3]
        c3: conv1d(5, kernel = 1, softplus, bias = false) + project(p),
        g: global_avg_pool,                                         // [5]
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// 2-D: pairs for kernel, stride, padding and dilation; `same` with a projection; both pools
    /// (one with a pair kernel and its own stride); implicit flattening into a dense layer.
    pub struct Image {
        input: [2, 7, 6],
        c1: conv2d(3, kernel = (3, 2), stride = (2, 1), padding = (1, 0), dilation = (1, 2), gelu),
        c2: conv2d(4, kernel = 3, padding = same, tanh) + project(c1),   // [4, 4, 4]
        a: avg_pool(2),                                                  // [4, 2, 2]
        c3: conv2d(4, kernel = 2, padding = 1, sigmoid),                 // [4, 3, 3]
        m: max_pool((2, 3), stride = 1),                                 // [4, 2, 1]
        out: dense(3),
        loss: mse,
    }
}

network! {
    /// A small LeNet: relu convolutions, max pools, an identity residual between equal feature
    /// maps, dense layers on the flattened maps; binary labels.
    pub struct Lenet {
        input: [1, 10, 10],
        c1: conv2d(3, kernel = 3, relu),          // [3, 8, 8]
        c2: conv2d(3, kernel = 3, padding = 1, relu) + c1,
        p1: max_pool(2),                          // [3, 4, 4]
        c3: conv2d(4, kernel = 3, relu),          // [4, 2, 2]
        h: dense(5, tanh),
        out: dense(2),
        loss: binary_cross_entropy,
    }
}

network! {
    /// A pool first (no gradient flows to the input through it), then a convolution without
    /// bias or activation reading it, and a residual from the input through a projection.
    pub struct PoolFirst {
        input: [2, 6, 6],
        p: avg_pool(2, stride = 1),               // [2, 5, 5]
        c: conv2d(3, kernel = 2, bias = false),   // [3, 4, 4]
        m: max_pool(2),                           // [3, 2, 2]
        out: dense(2),
        loss: mse,
    }
}

/// What the targets of a network's samples are.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// Real values in `(−1, 1)` (mse).
    Values,
    /// Hard labels, each 0 or 1 (binary cross-entropy).
    Labels,
    /// One class per sample (softmax cross-entropy).
    OneHot,
}

/// A network with random parameters and `BATCH` random samples.
struct Setup<N, const IN: usize, const OUT: usize> {
    net: Box<N>,
    xs: Vec<SVector<f64, IN>>,
    ys: Vec<SVector<f64, OUT>>,
}

impl<N: Network<f64, IN, OUT>, const IN: usize, const OUT: usize> Setup<N, IN, OUT> {
    fn new(target: Target) -> Self {
        let mut rng = StdRng::seed_from_u64(SEED);
        let mut net = N::boxed_zeros();
        for i in 0..N::TENSORS.len() {
            for v in net.tensor_mut(i) {
                *v = rng.random_range(-WEIGHT_SCALE..WEIGHT_SCALE);
            }
        }
        let xs = (0..BATCH)
            .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
            .collect();
        let ys = (0..BATCH)
            .map(|_| match target {
                Target::Values => SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)),
                Target::Labels => {
                    SVector::from_fn(|_, _| f64::from(u8::from(rng.random_bool(0.5))))
                }
                Target::OneHot => one_hot(rng.random_range(0..OUT)),
            })
            .collect();
        Setup { net, xs, ys }
    }

    fn x_batch(&self) -> Batch<f64, IN> {
        Batch::from_columns(&self.xs)
    }

    fn y_batch(&self) -> Batch<f64, OUT> {
        Batch::from_columns(&self.ys)
    }
}

/// NaN compares as the worst error, so a NaN gradient can't pass.
fn error(check: &GradientCheck) -> f64 {
    if check.max_relative_error.is_nan() {
        f64::INFINITY
    } else {
        check.max_relative_error
    }
}

/// The worst per-sample check and the batch check of network `N`.
fn check<N, const IN: usize, const OUT: usize>(target: Target) -> (GradientCheck, GradientCheck)
where
    N: Network<f64, IN, OUT>,
{
    let mut s = Setup::<N, IN, OUT>::new(target);
    let sample = (0..BATCH)
        .map(|i| nn_runtime::check_gradient(&mut *s.net, &s.xs[i], &s.ys[i]))
        .max_by(|a, b| error(a).total_cmp(&error(b)))
        .expect("BATCH > 0");
    let (xb, yb) = (s.x_batch(), s.y_batch());
    let batch = nn_runtime::check_gradient_batch(&mut *s.net, &xb, &yb);
    (sample, batch)
}

#[test]
fn gradients_match_central_differences() {
    let rows = [
        ("signal", check::<Signal<f64>, _, _>(Target::OneHot)),
        ("image", check::<Image<f64>, _, _>(Target::Values)),
        ("lenet", check::<Lenet<f64>, _, _>(Target::Labels)),
        ("pool_first", check::<PoolFirst<f64>, _, _>(Target::Values)),
    ];
    println!("network       per sample   per batch  checked  worst (sample)");
    for (name, (sample, batch)) in &rows {
        let worst = sample.worst.unwrap_or_default();
        println!(
            "{name:<12} {:>11.2e} {:>11.2e} {:>8}  {}[{}]",
            sample.max_relative_error, batch.max_relative_error, sample.checked, worst.0, worst.1
        );
    }
    let failed: Vec<&str> = rows
        .iter()
        .filter(|(_, (s, b))| !(error(s) < GRADIENT_TOLERANCE && error(b) < GRADIENT_TOLERANCE))
        .map(|(name, _)| *name)
        .collect();
    assert!(
        failed.is_empty(),
        "gradient checks above {GRADIENT_TOLERANCE:e}: {failed:?}"
    );
}

/// `|a − b| ≤ tolerance · max(1, |b|)` for every parameter of two networks.
fn assert_params_close<T: Real, N: Parameters<T>>(a: &N, b: &N, tolerance: f64, what: &str) {
    for (t, info) in N::TENSORS.iter().enumerate() {
        for (i, (x, y)) in a.tensor(t).iter().zip(b.tensor(t)).enumerate() {
            let (x, y) = (x.to_f64(), y.to_f64());
            assert!(
                (x - y).abs() <= tolerance * y.abs().max(1.0),
                "{what}: {}[{i}]: {x} vs {y}",
                info.name
            );
        }
    }
}

/// The batch forms (im2col GEMMs) against the per-sample ones (direct loops): outputs column
/// by column, and the batch gradient against the mean of the per-sample gradients.
fn batch_is_the_mean_of_its_samples<N, const IN: usize, const OUT: usize>(target: Target)
where
    N: Network<f64, IN, OUT>,
{
    let s = Setup::<N, IN, OUT>::new(target);
    let (xb, yb) = (s.x_batch(), s.y_batch());
    let outputs = s.net.forward_batch(&xb);
    for (i, x) in s.xs.iter().enumerate() {
        let y = s.net.forward(x);
        assert!((y - outputs.column(i)).amax() <= REORDER_TOLERANCE * y.amax().max(1.0));
    }
    let mut batch = N::boxed_zeros();
    let batch_loss = s.net.backward_batch(&xb, &yb, &mut batch);
    let mut samples = N::boxed_zeros();
    let mut loss = 0.0;
    for (x, y) in s.xs.iter().zip(&s.ys) {
        loss += s.net.backward(x, y, &mut samples);
    }
    for t in 0..N::TENSORS.len() {
        samples
            .tensor_mut(t)
            .iter_mut()
            .for_each(|g| *g /= BATCH as f64);
    }
    assert!((batch_loss - loss / BATCH as f64).abs() < REORDER_TOLERANCE);
    assert_params_close(
        &*batch,
        &*samples,
        REORDER_TOLERANCE,
        "batch vs mean of samples",
    );
}

#[test]
fn batch_paths_match_the_sample_paths() {
    batch_is_the_mean_of_its_samples::<Signal<f64>, _, _>(Target::OneHot);
    batch_is_the_mean_of_its_samples::<Image<f64>, _, _>(Target::Values);
    batch_is_the_mean_of_its_samples::<Lenet<f64>, _, _>(Target::Labels);
    batch_is_the_mean_of_its_samples::<PoolFirst<f64>, _, _>(Target::Values);
}

/// `sgd_step` (fused) against `backward` then `θ −= lr g`.
fn fused_step_matches<N, const IN: usize, const OUT: usize>(target: Target)
where
    N: Network<f64, IN, OUT>,
{
    let s = Setup::<N, IN, OUT>::new(target);
    let lr = 0.1;
    let mut fused = N::boxed_zeros();
    let mut plain = N::boxed_zeros();
    let mut grad = N::boxed_zeros();
    for t in 0..N::TENSORS.len() {
        fused.tensor_mut(t).copy_from_slice(s.net.tensor(t));
        plain.tensor_mut(t).copy_from_slice(s.net.tensor(t));
    }
    let fused_loss = fused.sgd_step(&s.xs[0], &s.ys[0], lr);
    let loss = plain.backward(&s.xs[0], &s.ys[0], &mut grad);
    for t in 0..N::TENSORS.len() {
        for (p, g) in plain.tensor_mut(t).iter_mut().zip(grad.tensor(t)) {
            *p -= lr * g;
        }
    }
    assert!((fused_loss - loss).abs() < REORDER_TOLERANCE);
    assert_params_close(&*fused, &*plain, REORDER_TOLERANCE, "sgd_step vs backward");
}

#[test]
fn sgd_step_matches_backward() {
    fused_step_matches::<Signal<f64>, _, _>(Target::OneHot);
    fused_step_matches::<Image<f64>, _, _>(Target::Values);
    fused_step_matches::<Lenet<f64>, _, _>(Target::Labels);
    fused_step_matches::<PoolFirst<f64>, _, _>(Target::Values);
}

#[test]
fn tensors_have_pytorch_names_and_shapes() {
    let tensors: Vec<(&str, &[usize])> = Signal::<f32>::TENSORS
        .iter()
        .map(|t| (t.name, t.shape))
        .collect();
    assert_eq!(
        tensors,
        [
            ("c1.weight", &[3, 2, 3][..]),
            ("c1.bias", &[3]),
            ("c2.weight", &[3, 3, 2]),
            ("c2.bias", &[3]),
            ("c3.weight", &[5, 3, 1]),
            ("c3.proj.weight", &[5, 3, 1]),
            ("out.weight", &[3, 5]),
            ("out.bias", &[3]),
        ]
    );
    let image: Vec<(&str, &[usize])> = Image::<f32>::TENSORS
        .iter()
        .map(|t| (t.name, t.shape))
        .collect();
    assert_eq!(image[0], ("c1.weight", &[3, 2, 3, 2][..]));
    assert_eq!(image[4], ("c2.proj.weight", &[4, 3, 1, 1][..]));
    assert_eq!(Image::<f32>::INPUT_WIDTH, 2 * 7 * 6);
    assert_eq!(
        Lenet::<f32>::ARCHITECTURE,
        "input: [1, 10, 10], c1: conv2d(3, kernel = 3, relu), \
         c2: conv2d(3, kernel = 3, padding = 1, relu) + c1, p1: max_pool(2), \
         c3: conv2d(4, kernel = 3, relu), h: dense(5, tanh), out: dense(2), \
         loss: binary_cross_entropy"
    );
}

/// A batch larger than `conv::FORWARD_CHUNK` runs in pieces: every column is still the
/// per-sample output.
#[test]
fn large_batches_run_in_pieces() {
    let s = Setup::<Lenet<f64>, 100, 2>::new(Target::Labels);
    let columns = 2 * nn_runtime::conv::FORWARD_CHUNK + 7;
    let x =
        Batch::<f64, 100>::from_fn(columns, |r, c| ((r * 31 + c * 17) % 23) as f64 / 11.5 - 1.0);
    let outputs = s.net.forward_batch(&x);
    assert_eq!(outputs.ncols(), columns);
    for c in 0..columns {
        let y = s.net.forward(&x.column(c).into_owned());
        assert!(
            (y - outputs.column(c)).amax() <= REORDER_TOLERANCE,
            "column {c}"
        );
    }
}
