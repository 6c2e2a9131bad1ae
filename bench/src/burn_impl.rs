//! The networks in burn 0.22 on its ndarray backend (CPU), as its users write them: a
//! `#[derive(Module)]` MLP of `burn::nn::Linear` layers, samples as rows, `CrossEntropyLoss`
//! on integer labels, `loss.backward()` on the autodiff device, `GradientsParams::from_grads`
//! and the `Sgd` optimizer (`SgdConfig::new().init()`, no momentum). Inference runs on the plain
//! ndarray device (no autodiff).
//!
//! burn's `Linear` stores its weight as `[in, out]`; loading and exporting transpose.

use burn::module::{Module, Param};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::{Linear, LinearConfig};
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData, activation};

use crate::{Act, Arch, Data, LR, Layer, Params, transpose};

/// The MLP.
#[derive(Module, Debug)]
pub struct Mlp {
    layers: Vec<Linear>,
}

impl Mlp {
    /// The network holding `p`, on `device`.
    fn new(p: &Params, device: &Device) -> Self {
        let layers = p
            .layers
            .iter()
            .map(|l| {
                let mut lin = LinearConfig::new(l.inp, l.out).init(device);
                // Row-major [out, in] transposed is row-major [in, out], burn's layout.
                let w = TensorData::new(transpose(l.out, l.inp, &l.w), [l.inp, l.out]);
                lin.weight = Param::from_tensor(Tensor::<2>::from_data(w, device));
                let b = TensorData::new(l.b.clone(), [l.out]);
                lin.bias = Some(Param::from_tensor(Tensor::<1>::from_data(b, device)));
                lin
            })
            .collect();
        Self { layers }
    }

    /// Logits `[batch, out]` of `x` `[batch, in]`.
    fn forward(&self, x: Tensor<2>, act: Act) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (k, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if k < last {
                h = match act {
                    Act::Relu => activation::relu(h),
                    Act::Tanh => activation::tanh(h),
                };
            }
        }
        h
    }
}

/// A burn MLP for inference and one for training, with its loss and optimizer.
pub struct BurnMlp {
    arch: Arch,
    plain: Device,
    autodiff: Device,
    infer: Mlp,
    train: Option<Mlp>,
    loss: CrossEntropyLoss,
    optim: ModuleOptimizer,
}

impl BurnMlp {
    /// Both networks holding `p`.
    // burn 0.22 deprecates the ndarray backend in favour of its new `flex` CPU backend; the
    // workloads ask for ndarray, still burn's documented pure-Rust CPU backend of 0.22.
    #[allow(deprecated)]
    pub fn new(p: &Params) -> Self {
        let plain = Device::ndarray();
        let autodiff = Device::ndarray().autodiff();
        Self {
            arch: p.arch,
            infer: Mlp::new(p, &plain),
            train: Some(Mlp::new(p, &autodiff)),
            loss: CrossEntropyLossConfig::new().init(&autodiff),
            optim: SgdConfig::new().init(),
            plain,
            autodiff,
        }
    }

    fn batch(data: &Data, device: &Device) -> (Tensor<2>, Tensor<1, Int>) {
        let x = TensorData::new(data.x.clone(), [data.n, data.arch.input()]);
        let labels: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
        let y = TensorData::new(labels, [data.n]);
        (Tensor::from_data(x, device), Tensor::from_data(y, device))
    }

    /// `data` on the inference device: inputs `[n, in]`, labels `[n]`.
    pub fn inference_batch(&self, data: &Data) -> (Tensor<2>, Tensor<1, Int>) {
        Self::batch(data, &self.plain)
    }

    /// `data` on the autodiff device.
    pub fn training_batch(&self, data: &Data) -> (Tensor<2>, Tensor<1, Int>) {
        Self::batch(data, &self.autodiff)
    }

    /// Logits of `x` (inference network).
    #[inline]
    pub fn infer(&self, x: &Tensor<2>) -> Tensor<2> {
        self.infer.forward(x.clone(), self.arch.hidden)
    }

    /// One SGD step of the training network; returns the loss tensor.
    #[inline]
    pub fn step(&mut self, x: &Tensor<2>, y: &Tensor<1, Int>) -> Tensor<1> {
        let model = self.train.take().expect("the training network");
        let logits = model.forward(x.clone(), self.arch.hidden);
        let loss = self.loss.forward(logits, y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.train = Some(self.optim.step(f64::from(LR), model, grads));
        loss
    }

    /// The training network's parameters, PyTorch layout.
    pub fn params(&self) -> Params {
        let model = self.train.as_ref().expect("the training network");
        let layers = model
            .layers
            .iter()
            .map(|lin| {
                let [inp, out] = lin.weight.val().dims();
                let w = to_vec(lin.weight.val());
                let b = to_vec(lin.bias.as_ref().expect("a bias").val());
                Layer {
                    out,
                    inp,
                    w: transpose(inp, out, &w),
                    b,
                }
            })
            .collect();
        Params {
            arch: self.arch,
            layers,
        }
    }
}

/// The values of a float tensor.
pub fn to_vec<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data()
        .try_into_vec::<f32>()
        .expect("f32 tensor data")
}
