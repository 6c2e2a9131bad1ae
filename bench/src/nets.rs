//! The networks in nn's DSL, the calls that are timed (one small function per workload, so
//! that nn's internals can change behind them), and conversions from and to [`Params`].

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Optimizer, Sgd, SgdConfig};
use nn_runtime::{Batch, Parameters};

use crate::{Arch, LR, Layer, Params, transpose};

nn_runtime::network! {
    /// 2-8-1, tanh hidden layer.
    pub struct Tiny { input: 2, h: dense(8, tanh), out: dense(1), loss: mse }
}

nn_runtime::network! {
    /// 64-64-64-10, relu.
    pub struct Small {
        input: 64,
        h1: dense(64, relu),
        h2: dense(64, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// 784-128-10, relu.
    pub struct Mid { input: 784, h1: dense(128, relu), out: dense(10), loss: softmax_cross_entropy }
}

nn_runtime::network! {
    /// 784-512-512-10, relu.
    pub struct Large {
        input: 784,
        h1: dense(512, relu),
        h2: dense(512, relu),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

// ---- The timed calls. ----

/// A: batch-1 inference on [`Tiny`].
pub fn tiny_forward(net: &Tiny<f32>, x: &SVector<f32, 2>) -> SVector<f32, 1> {
    net.forward(x)
}

/// A: batch-1 inference on [`Small`].
pub fn small_forward(net: &Small<f32>, x: &SVector<f32, 64>) -> SVector<f32, 10> {
    net.forward(x)
}

/// A: batch-1 inference on [`Mid`].
pub fn mid_forward(net: &Mid<f32>, x: &SVector<f32, 784>) -> SVector<f32, 10> {
    net.forward(x)
}

/// A: batch-1 inference on [`Large`].
pub fn large_forward(net: &Large<f32>, x: &SVector<f32, 784>) -> SVector<f32, 10> {
    net.forward(x)
}

/// B: one minibatch SGD step on [`Small`]; returns the loss (mean over the batch).
pub fn small_step_batch(
    net: &mut Small<f32>,
    grad: &mut Small<f32>,
    opt: &mut Sgd<f32, Small<f32>>,
    x: &Batch<f32, 64>,
    labels: &[usize],
) -> f32 {
    grad.fill(0.0);
    let loss = net.backward_batch_labels(x, labels, grad);
    opt.step(net, grad);
    loss
}

/// B: one minibatch SGD step on [`Large`]; returns the loss (mean over the batch).
pub fn large_step_batch(
    net: &mut Large<f32>,
    grad: &mut Large<f32>,
    opt: &mut Sgd<f32, Large<f32>>,
    x: &Batch<f32, 784>,
    labels: &[usize],
) -> f32 {
    grad.fill(0.0);
    let loss = net.backward_batch_labels(x, labels, grad);
    opt.step(net, grad);
    loss
}

/// C: one per-sample SGD step on [`Small`]; returns the loss.
pub fn small_step_sample(
    net: &mut Small<f32>,
    grad: &mut Small<f32>,
    opt: &mut Sgd<f32, Small<f32>>,
    x: &SVector<f32, 64>,
    label: usize,
) -> f32 {
    grad.fill(0.0);
    let loss = net.backward_label(x, label, grad);
    opt.step(net, grad);
    loss
}

/// D: [`small_step_batch`] inside `pool` (nn splits its work over the current rayon pool).
pub fn small_step_batch_in(
    pool: &rayon::ThreadPool,
    net: &mut Small<f32>,
    grad: &mut Small<f32>,
    opt: &mut Sgd<f32, Small<f32>>,
    x: &Batch<f32, 64>,
    labels: &[usize],
) -> f32 {
    pool.install(|| small_step_batch(net, grad, opt, x, labels))
}

/// D: [`large_step_batch`] inside `pool` (nn splits its work over the current rayon pool).
pub fn large_step_batch_in(
    pool: &rayon::ThreadPool,
    net: &mut Large<f32>,
    grad: &mut Large<f32>,
    opt: &mut Sgd<f32, Large<f32>>,
    x: &Batch<f32, 784>,
    labels: &[usize],
) -> f32 {
    pool.install(|| large_step_batch(net, grad, opt, x, labels))
}

/// B's step without the update (clear the gradient, forward and backward), on [`Small`]: the
/// breakdown rows of the report.
pub fn small_backward_batch(
    net: &Small<f32>,
    grad: &mut Small<f32>,
    x: &Batch<f32, 64>,
    labels: &[usize],
) -> f32 {
    grad.fill(0.0);
    net.backward_batch_labels(x, labels, grad)
}

/// B's step without the update, on [`Large`].
pub fn large_backward_batch(
    net: &Large<f32>,
    grad: &mut Large<f32>,
    x: &Batch<f32, 784>,
    labels: &[usize],
) -> f32 {
    grad.fill(0.0);
    net.backward_batch_labels(x, labels, grad)
}

/// C's step without the update, on [`Small`].
pub fn small_backward_sample(
    net: &Small<f32>,
    grad: &mut Small<f32>,
    x: &SVector<f32, 64>,
    label: usize,
) -> f32 {
    grad.fill(0.0);
    net.backward_label(x, label, grad)
}

/// C, fused: the same step as [`small_step_sample`] through the generated `sgd_step_label`,
/// which updates each weight in the backward pass that reads it (no gradient stored).
pub fn small_sgd_step(net: &mut Small<f32>, x: &SVector<f32, 64>, label: usize) -> f32 {
    net.sgd_step_label(x, label, LR)
}

/// The optimizer of every training workload: plain SGD, `lr = 0.01`.
pub fn sgd<N: Parameters<f32>>() -> Sgd<f32, N> {
    Sgd::new(SgdConfig {
        lr: f64::from(LR),
        ..Default::default()
    })
    .expect("a valid config")
}

// ---- Loading and exporting. ----

/// Checks that `N`'s tensors are `p`'s layers, weight then bias, in order.
fn check_layout<N: Parameters<f32>>(arch: Arch) {
    let t = N::TENSORS;
    assert_eq!(t.len(), 2 * arch.layers().count(), "{}: tensors", arch.name);
    for (k, (o, i)) in arch.layers().enumerate() {
        assert_eq!(t[2 * k].shape, &[o, i], "{}: {}", arch.name, t[2 * k].name);
        assert_eq!(
            t[2 * k + 1].shape,
            &[o],
            "{}: {}",
            arch.name,
            t[2 * k + 1].name
        );
    }
}

/// A boxed nn network holding `p` (PyTorch's row-major `[out, in]` weights converted to nn's
/// column-major storage).
pub fn load<N: Parameters<f32>>(p: &Params) -> Box<N> {
    check_layout::<N>(p.arch);
    let mut net = N::boxed_zeros();
    for (k, l) in p.layers.iter().enumerate() {
        net.tensor_mut(2 * k)
            .copy_from_slice(&transpose(l.out, l.inp, &l.w));
        net.tensor_mut(2 * k + 1).copy_from_slice(&l.b);
    }
    net
}

/// An nn network's parameters in PyTorch layout.
pub fn export<N: Parameters<f32>>(net: &N, arch: Arch) -> Params {
    check_layout::<N>(arch);
    let layers = arch
        .layers()
        .enumerate()
        .map(|(k, (out, inp))| Layer {
            out,
            inp,
            // Column-major [out, in] is row-major [in, out].
            w: transpose(inp, out, net.tensor(2 * k)),
            b: net.tensor(2 * k + 1).to_vec(),
        })
        .collect();
    Params { arch, layers }
}
