//! nn's LeNet for the `sequences` bench and the calls that are timed.

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Optimizer, Sgd, SgdConfig};
use nn_runtime::{Batch, Parameters};

use crate::conv::LeNetParams;

nn_runtime::network! {
    /// The LeNet of issue 12 on `[1, 28, 28]` images.
    pub struct LeNet {
        input: [1, 28, 28],
        conv1: conv2d(6, kernel = 5, relu),
        pool1: max_pool(2),
        conv2: conv2d(16, kernel = 5, relu),
        pool2: max_pool(2),
        fc1: dense(120, relu),
        fc2: dense(10),
        loss: softmax_cross_entropy,
    }
}

/// L: batch-1 inference.
pub fn lenet_forward(net: &LeNet<f32>, x: &SVector<f32, 784>) -> SVector<f32, 10> {
    net.forward(x)
}

/// M: one minibatch SGD step; the loss (batch mean).
pub fn lenet_step_batch(
    net: &mut LeNet<f32>,
    grad: &mut LeNet<f32>,
    opt: &mut Sgd<f32, LeNet<f32>>,
    x: &Batch<f32, 784>,
    labels: &[usize],
) -> f32 {
    grad.fill(0.0);
    let loss = net.backward_batch_labels(x, labels, grad);
    opt.step(net, grad);
    loss
}

/// Plain SGD at `lr`.
pub fn sgd(lr: f32) -> Sgd<f32, LeNet<f32>> {
    Sgd::new(SgdConfig {
        lr: f64::from(lr),
        ..Default::default()
    })
    .expect("a valid config")
}

/// nn's LeNet holding `p`.
pub fn load(p: &LeNetParams) -> Box<LeNet<f32>> {
    let named: Vec<crate::named::Named<'_>> = p
        .tensors()
        .iter()
        .map(|&(name, t, shape)| (name, t, shape.to_vec()))
        .collect();
    crate::named::load(&named)
}

/// nn's LeNet's parameters.
pub fn export(net: &LeNet<f32>) -> LeNetParams {
    let t = crate::named::export(net);
    let get = |name: &str| -> Vec<f32> {
        t.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("nn's LeNet has no {name}"))
            .1
            .clone()
    };
    LeNetParams {
        conv1_w: get("conv1.weight"),
        conv1_b: get("conv1.bias"),
        conv2_w: get("conv2.weight"),
        conv2_b: get("conv2.bias"),
        fc1_w: get("fc1.weight"),
        fc1_b: get("fc1.bias"),
        fc2_w: get("fc2.weight"),
        fc2_b: get("fc2.bias"),
    }
}

nn_runtime::network! {
    /// The GunPoint model of issue 12 (`GunPointCnn` of `src/ts_cnn.rs`) on `[1, 150]` signals.
    pub struct GunPoint {
        input: [1, 150],
        c1: conv1d(16, kernel = 9, padding = same, relu),
        p1: max_pool(2),
        c2: conv1d(32, kernel = 7, padding = same, relu),
        p2: max_pool(2),
        c3: conv1d(32, kernel = 5, padding = same, relu),
        g: global_avg_pool,
        out: dense(2),
        loss: softmax_cross_entropy,
    }
}

/// G: batch-1 inference.
pub fn gunpoint_forward(net: &GunPoint<f32>, x: &SVector<f32, 150>) -> SVector<f32, 2> {
    net.forward(x)
}

/// nn's GunPoint model holding `w`.
pub fn load_gunpoint(w: &crate::conv::gunpoint::Weights) -> Box<GunPoint<f32>> {
    crate::named::load(&w.named())
}
