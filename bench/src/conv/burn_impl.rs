//! The convolutional networks in burn 0.22 on its ndarray backend, as its users write them:
//! `#[derive(Module)]` structs of `burn::nn::conv::Conv2d` / `Conv1d`, `burn::nn::pool`'s
//! `MaxPool2d` / `MaxPool1d` / `AdaptiveAvgPool1d`, `burn::nn::Linear` and
//! `burn::tensor::activation::relu`; training with `CrossEntropyLoss` on integer labels,
//! `loss.backward()` on the autodiff device, `GradientsParams::from_grads` and the `Sgd`
//! optimizer (no momentum). Inference runs on the plain ndarray device.
//!
//! Three workloads: L (batch-1 inference of the LeNet of [`super`]), M (one SGD step of it at
//! batch [`super::BATCH`]) and G (batch-1 inference of the GunPoint model `GunPointCnn` of
//! `src/ts_cnn.rs`: `[1, 150]`, conv1d 16 k9 same relu, max pool 2, conv1d 32 k7 same relu,
//! max pool 2, conv1d 32 k5 same relu, global average pool, dense 2), each checked against an
//! f64 reference first. burn's convolution weights are PyTorch's `[out, in, k(, k)]`; its
//! `Linear` weights are `[in, out]`, so loading and exporting transpose them.

use burn::module::{Module, Param};
use burn::nn::conv::{Conv1d, Conv1dConfig, Conv2d, Conv2dConfig};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::pool::{
    AdaptiveAvgPool1d, AdaptiveAvgPool1dConfig, MaxPool1d, MaxPool1dConfig, MaxPool2d,
    MaxPool2dConfig,
};
use burn::nn::{Linear, LinearConfig, PaddingConfig1d};
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};

use super::{BATCH, CHECK_LR, GROUP_INFER, GROUP_TRAIN, LeNetParams, SIDE, gunpoint};
use crate::burn_impl::to_vec;
use crate::seqtrain::{TOL_LOSS, TOL_STEP};
use crate::stream::StreamVisitor;
use crate::{LR, transpose};

/// A parameter of shape `shape` holding the row-major `t`.
fn param<const D: usize>(t: &[f32], shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::from_data(
        TensorData::new(t.to_vec(), shape),
        device,
    ))
}

/// A `Linear` `[inp] → [out]` holding PyTorch's row-major `w` `[out, inp]` and `b` `[out]`.
fn linear(w: &[f32], b: &[f32], inp: usize, out: usize, device: &Device) -> Linear {
    let mut lin = LinearConfig::new(inp, out).init(device);
    // Row-major [out, in] transposed is row-major [in, out], burn's layout.
    lin.weight = param(&transpose(out, inp, w), [inp, out], device);
    lin.bias = Some(param(b, [out], device));
    lin
}

/// A convolution's or `Linear`'s bias.
fn bias(b: &Option<Param<Tensor<1>>>) -> Vec<f32> {
    to_vec(b.as_ref().expect("a bias").val())
}

/// The LeNet.
#[derive(Module, Debug)]
pub struct LeNet {
    conv1: Conv2d,
    conv2: Conv2d,
    pool: MaxPool2d,
    fc1: Linear,
    fc2: Linear,
}

impl LeNet {
    /// The network holding `p`, on `device`.
    pub fn new(p: &LeNetParams, device: &Device) -> Self {
        let conv = |w: &[f32], b: &[f32], [i, o]: [usize; 2]| {
            let mut c = Conv2dConfig::new([i, o], [5, 5]).init(device);
            c.weight = param(w, [o, i, 5, 5], device);
            c.bias = Some(param(b, [o], device));
            c
        };
        Self {
            conv1: conv(&p.conv1_w, &p.conv1_b, [1, 6]),
            conv2: conv(&p.conv2_w, &p.conv2_b, [6, 16]),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            fc1: linear(&p.fc1_w, &p.fc1_b, 256, 120, device),
            fc2: linear(&p.fc2_w, &p.fc2_b, 120, 10, device),
        }
    }

    /// The logits `[n, 10]` of `x` `[n, 1, 28, 28]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let h = self.pool.forward(activation::relu(self.conv1.forward(x)));
        let h = self.pool.forward(activation::relu(self.conv2.forward(h)));
        // [n, 16, 4, 4] → [n, 256], channel-major as `torch.flatten`.
        let h = activation::relu(self.fc1.forward(h.flatten(1, 3)));
        self.fc2.forward(h)
    }

    /// The parameters, PyTorch layout.
    fn params(&self) -> LeNetParams {
        let fc = |lin: &Linear| {
            let [inp, out] = lin.weight.val().dims();
            transpose(inp, out, &to_vec(lin.weight.val()))
        };
        LeNetParams {
            conv1_w: to_vec(self.conv1.weight.val()),
            conv1_b: bias(&self.conv1.bias),
            conv2_w: to_vec(self.conv2.weight.val()),
            conv2_b: bias(&self.conv2.bias),
            fc1_w: fc(&self.fc1),
            fc1_b: bias(&self.fc1.bias),
            fc2_w: fc(&self.fc2),
            fc2_b: bias(&self.fc2.bias),
        }
    }
}

/// burn's device for inference: plain ndarray.
// burn 0.22 deprecates the ndarray backend in favour of its new `flex` CPU backend; the
// workloads ask for ndarray, still burn's documented pure-Rust CPU backend of 0.22.
#[allow(deprecated)]
fn plain() -> Device {
    Device::ndarray()
}

/// `n` images `[n, 1, 28, 28]` on `device`.
fn images(x: &[f32], n: usize, device: &Device) -> Tensor<4> {
    Tensor::from_data(TensorData::new(x.to_vec(), [n, 1, SIDE, SIDE]), device)
}

/// The LeNet on the autodiff device, its loss and its optimizer.
pub struct BurnLeNetStep {
    model: Option<LeNet>,
    loss: CrossEntropyLoss,
    optim: ModuleOptimizer,
    lr: f32,
    x: Tensor<4>,
    y: Tensor<1, Int>,
}

impl BurnLeNetStep {
    /// The network holding `p`, trained on `x` `[BATCH, 1, 28, 28]` labelled `labels` at
    /// learning rate `lr`.
    pub fn new(p: &LeNetParams, x: &[f32], labels: &[usize], lr: f32) -> Self {
        let device = plain().autodiff();
        let labels: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        Self {
            model: Some(LeNet::new(p, &device)),
            loss: CrossEntropyLossConfig::new().init(&device),
            optim: SgdConfig::new().init(),
            lr,
            x: images(x, BATCH, &device),
            y: Tensor::from_data(TensorData::new(labels, [BATCH]), &device),
        }
    }

    /// One SGD step on the mean cross-entropy; returns the loss tensor.
    #[inline]
    pub fn step(&mut self) -> Tensor<1> {
        let model = self.model.take().expect("the network");
        let loss = self
            .loss
            .forward(model.forward(self.x.clone()), self.y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(f64::from(self.lr), model, grads));
        loss
    }

    /// The parameters, PyTorch layout.
    pub fn params(&self) -> LeNetParams {
        self.model.as_ref().expect("the network").params()
    }
}

/// Panics unless the step from `before` to `got` with loss `loss` is the reference's:
/// the loss within [`TOL_LOSS`], each tensor's change within [`TOL_STEP`] of its scale.
fn check_lenet_step(
    group: &str,
    before: &LeNetParams,
    (loss, got): (f32, &LeNetParams),
    (want_loss, want): (f32, &LeNetParams),
) {
    let dl = (loss - want_loss).abs() / want_loss.abs();
    assert!(
        dl <= TOL_LOSS,
        "{group}: burn: loss {loss} vs the reference's {want_loss}"
    );
    let mut worst = 0f32;
    for (((name, b, _), (_, g, _)), (_, w, _)) in before
        .tensors()
        .into_iter()
        .zip(got.tensors())
        .zip(want.tensors())
    {
        let change =
            |after: &[f32]| -> Vec<f32> { after.iter().zip(b).map(|(a, b)| a - b).collect() };
        let d = crate::rel_diff(&change(g), &change(w));
        assert!(
            d <= TOL_STEP,
            "{group}: burn: the change of {name} differs from the reference's by {d:e} of its \
             scale"
        );
        worst = worst.max(d);
    }
    eprintln!(
        "{group}: burn: loss within {dl:.1e} of the f64 reference, one-step changes within \
         {worst:.1e}"
    );
}

/// Builds, checks and visits burn's LeNet rows (L and M) whose group `wants` accepts.
pub fn run(v: &mut impl StreamVisitor, wants: &dyn Fn(&str) -> bool) {
    use std::hint::black_box;
    let p = LeNetParams::random(super::WEIGHT_SEED);
    if wants(GROUP_INFER) {
        let (x, _) = super::images(1, super::DATA_SEED);
        let want = super::reference(&p, &x);
        let device = plain();
        let net = LeNet::new(&p, &device);
        let bx = images(&x, 1, &device);
        super::check_logits(GROUP_INFER, "burn", &to_vec(net.forward(bx.clone())), &want);
        v.visit(GROUP_INFER, "burn", &mut || {
            black_box(net.forward(black_box(bx.clone())));
        });
    }
    if wants(GROUP_TRAIN) {
        let (x, labels) = super::images(BATCH, super::DATA_SEED);
        let (want_loss, want) = super::reference::reference_step(&p, &x, &labels, CHECK_LR);
        let mut burn = BurnLeNetStep::new(&p, &x, &labels, CHECK_LR);
        assert_eq!(
            burn.params(),
            p,
            "{GROUP_TRAIN}: burn's network holds the weights"
        );
        let loss = to_vec(burn.step())[0];
        check_lenet_step(GROUP_TRAIN, &p, (loss, &burn.params()), (want_loss, &want));

        let mut burn = BurnLeNetStep::new(&p, &x, &labels, LR);
        v.visit(GROUP_TRAIN, "burn", &mut || {
            black_box(burn.step());
        });
        assert!(
            burn.params()
                .tensors()
                .iter()
                .all(|(_, t, _)| t.iter().all(|v| v.is_finite())),
            "{GROUP_TRAIN}: burn's weights are no longer finite"
        );
    }
}

/// The convolutions of `GunPointCnn`: name, output channels, input channels, kernel.
const GUNPOINT_CONVS: [(&str, usize, usize, usize); 3] =
    [("c1", 16, 1, 9), ("c2", 32, 16, 7), ("c3", 32, 32, 5)];

/// The GunPoint model.
#[derive(Module, Debug)]
pub struct GunPoint {
    c1: Conv1d,
    c2: Conv1d,
    c3: Conv1d,
    pool: MaxPool1d,
    gap: AdaptiveAvgPool1d,
    out: Linear,
}

impl GunPoint {
    /// The network holding `p`, on `device`.
    pub fn new(p: &gunpoint::Weights, device: &Device) -> Self {
        let [c1, c2, c3] = GUNPOINT_CONVS.map(|(name, o, i, k)| {
            let mut c = Conv1dConfig::new(i, o, k)
                .with_padding(PaddingConfig1d::Same)
                .init(device);
            c.weight = param(p.get(&format!("{name}.weight")), [o, i, k], device);
            c.bias = Some(param(p.get(&format!("{name}.bias")), [o], device));
            c
        });
        Self {
            c1,
            c2,
            c3,
            pool: MaxPool1dConfig::new(2).init(),
            gap: AdaptiveAvgPool1dConfig::new(1).init(),
            out: linear(
                p.get("out.weight"),
                p.get("out.bias"),
                32,
                gunpoint::CLASSES,
                device,
            ),
        }
    }

    /// The logits `[n, 2]` of `x` `[n, 1, 150]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let h = self.pool.forward(activation::relu(self.c1.forward(x))); // [n, 16, 75]
        let h = self.pool.forward(activation::relu(self.c2.forward(h))); // [n, 32, 37]
        let h = activation::relu(self.c3.forward(h)); // [n, 32, 37]
        let h = self.gap.forward(h).flatten(1, 2); // [n, 32]
        self.out.forward(h)
    }
}

/// G's burn row, if `wants` accepts its group: the GunPoint model with the weights of the
/// other G rows, checked against [`gunpoint::reference`], then visited.
pub fn run_gunpoint(v: &mut impl StreamVisitor, wants: &dyn Fn(&str) -> bool) {
    use std::hint::black_box;
    if !wants(gunpoint::GROUP) {
        return;
    }
    let w = gunpoint::Weights::random(gunpoint::WEIGHT_SEED);
    let x = gunpoint::signal(gunpoint::DATA_SEED);
    let want = gunpoint::reference(&w, &x);
    let device = plain();
    let net = GunPoint::new(&w, &device);
    let bx = Tensor::from_data(TensorData::new(x, [1, 1, gunpoint::LENGTH]), &device);
    super::check_logits(
        gunpoint::GROUP,
        "burn",
        &to_vec(net.forward(bx.clone())),
        &want,
    );
    v.visit(gunpoint::GROUP, "burn", &mut || {
        black_box(net.forward(black_box(bx.clone())));
    });
}
