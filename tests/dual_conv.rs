//! Forward mode through convolutional networks: the networks of `tests/conv.rs` (every option
//! of `conv1d`, `conv2d`, both pools, the global pool, residuals and projections) over dual
//! numbers. The generated backward, per sample and per batch (the im2col GEMM path), against
//! the exact forward-mode gradient; the generated `input_gradient` against the forward-mode
//! derivative along each input.
//!
//! `cargo test --test dual_conv -- --nocapture` prints the table of errors.

use nn_runtime::dual::{self, Dual, WithScalar};
use nn_runtime::gradcheck::{DUAL_RELATIVE_FLOOR, DualCheckable};
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, GradientCheck, Network, network, one_hot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Two f64 computations of the same derivative in a different order (forward mode against
/// the generated backward): rounding only.
const DUAL_TOLERANCE: f64 = 1e-12;

/// Samples per batch (and samples checked one by one).
const BATCH: usize = 5;

network! {
    /// 1-D: stride and padding, `same` padding with dilation and an identity residual, a max
    /// pool, a convolution without bias with a 1×1 projection, the global pool.
    pub struct Signal {
        input: [2, 13],
        c1: conv1d(3, kernel = 3, stride = 2, padding = 1, tanh),
        c2: conv1d(3, kernel = 2, dilation = 2, padding = same, silu) + c1,
        p: max_pool(2),
        c3: conv1d(5, kernel = 1, softplus, bias = false) + project(p),
        g: global_avg_pool,
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
        c2: conv2d(4, kernel = 3, padding = same, tanh) + project(c1),
        a: avg_pool(2),
        c3: conv2d(4, kernel = 2, padding = 1, sigmoid),
        m: max_pool((2, 3), stride = 1),
        out: dense(3),
        loss: mse,
    }
}

network! {
    /// A small LeNet: relu convolutions, max pools, an identity residual between equal feature
    /// maps, dense layers on the flattened maps; binary labels.
    pub struct Lenet {
        input: [1, 10, 10],
        c1: conv2d(3, kernel = 3, relu),
        c2: conv2d(3, kernel = 3, padding = 1, relu) + c1,
        p1: max_pool(2),
        c3: conv2d(4, kernel = 3, relu),
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
        p: avg_pool(2, stride = 1),
        c: conv2d(3, kernel = 2, bias = false),
        m: max_pool(2),
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

/// NaN compares as the worst error, so a NaN gradient can't pass.
fn error(check: &GradientCheck) -> f64 {
    relative_or_infinite(check.max_relative_error)
}

fn relative_or_infinite(relative: f64) -> f64 {
    if relative.is_nan() {
        f64::INFINITY
    } else {
        relative
    }
}

/// Network `N` with parameters from `U(−0.8, 0.8)` and `BATCH` samples with inputs from
/// `U(−1, 1)`: the worst relative error of `check_gradient_dual` over the samples, of
/// `check_gradient_dual_batch`, and of `input_gradient` (each sample, and each column of
/// `input_gradient_batch` times the batch size) against `loss_along_input` along every input.
fn check_dual<N, const IN: usize, const OUT: usize>(target: Target) -> [f64; 3]
where
    N: DualCheckable<IN, OUT> + WithScalar<Dual<f64>>,
    <N as WithScalar<Dual<f64>>>::Net: Network<Dual<f64>, IN, OUT>,
{
    let mut rng = StdRng::seed_from_u64(11);
    let mut net = N::boxed_zeros();
    for i in 0..N::TENSORS.len() {
        for v in net.tensor_mut(i) {
            *v = rng.random_range(-0.8..0.8);
        }
    }
    let xs: Vec<SVector<f64, IN>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let ys: Vec<SVector<f64, OUT>> = (0..BATCH)
        .map(|_| match target {
            Target::Values => SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)),
            Target::Labels => SVector::from_fn(|_, _| f64::from(u8::from(rng.random_bool(0.5)))),
            Target::OneHot => one_hot(rng.random_range(0..OUT)),
        })
        .collect();
    let (xb, yb) = (Batch::from_columns(&xs), Batch::from_columns(&ys));

    let sample = (0..BATCH)
        .map(|i| error(&nn_runtime::check_gradient_dual(&*net, &xs[i], &ys[i])))
        .fold(0.0, f64::max);
    let batch = error(&nn_runtime::check_gradient_dual_batch(&*net, &xb, &yb));

    let mut input = 0.0f64;
    let columns = net.input_gradient_batch(&xb, &yb);
    for i in 0..BATCH {
        let reverse = net.input_gradient(&xs[i], &ys[i]);
        let column = columns.column(i) * BATCH as f64;
        for j in 0..IN {
            let along = SVector::from_fn(|k, _| f64::from(u8::from(k == j)));
            let forward = dual::loss_along_input(&*net, &xs[i], &along, &ys[i]).derivative();
            for value in [reverse[j], column[j]] {
                let relative = (value - forward).abs()
                    / value.abs().max(forward.abs()).max(DUAL_RELATIVE_FLOOR);
                input = input.max(relative_or_infinite(relative));
            }
        }
    }
    [sample, batch, input]
}

#[test]
fn conv_gradients_match_dual_numbers_exactly() {
    let rows = [
        ("signal", check_dual::<Signal<f64>, _, _>(Target::OneHot)),
        ("image", check_dual::<Image<f64>, _, _>(Target::Values)),
        ("lenet", check_dual::<Lenet<f64>, _, _>(Target::Labels)),
        (
            "pool_first",
            check_dual::<PoolFirst<f64>, _, _>(Target::Values),
        ),
    ];
    println!("network      per sample   per batch  input gradient (exact checks)");
    for (name, [sample, batch, input]) in &rows {
        println!("{name:<12} {sample:>11.2e} {batch:>11.2e} {input:>15.2e}");
    }
    let worst = rows
        .iter()
        .flat_map(|(_, r)| r)
        .fold(0.0f64, |a, &b| a.max(b));
    println!("worst: {worst:.2e}");
    assert!(
        worst < DUAL_TOLERANCE,
        "exact checks above {DUAL_TOLERANCE:e}: worst {worst:e}"
    );
}
