//! The LeNet in candle 0.11 (CPU), as its users write it: `candle_nn::conv2d` and
//! `candle_nn::linear` under a `VarMap`, `Tensor::max_pool2d`, `flatten_from(1)`,
//! `candle_nn::loss::cross_entropy` and `candle_nn::optim::SGD::backward_step`.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::optim::{Optimizer, SGD};
use candle_nn::{Conv2d, Conv2dConfig, Linear, VarBuilder, VarMap};

use super::{LeNetParams, SIDE};

/// The network and its optimizer.
pub struct CandleLeNet {
    varmap: VarMap,
    conv1: Conv2d,
    conv2: Conv2d,
    fc1: Linear,
    fc2: Linear,
    opt: SGD,
}

impl CandleLeNet {
    /// The network holding `p`, trained at learning rate `lr`.
    pub fn new(p: &LeNetParams, lr: f32) -> Result<Self> {
        let dev = Device::Cpu;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let cfg = Conv2dConfig::default();
        let conv1 = candle_nn::conv2d(1, 6, 5, cfg, vb.pp("conv1"))?;
        let conv2 = candle_nn::conv2d(6, 16, 5, cfg, vb.pp("conv2"))?;
        let fc1 = candle_nn::linear(256, 120, vb.pp("fc1"))?;
        let fc2 = candle_nn::linear(120, 10, vb.pp("fc2"))?;
        for (name, t, shape) in p.tensors() {
            varmap.set_one(name, Tensor::from_slice(t, shape, &dev)?)?;
        }
        Ok(Self {
            opt: SGD::new(varmap.all_vars(), f64::from(lr))?,
            varmap,
            conv1,
            conv2,
            fc1,
            fc2,
        })
    }

    /// The logits `[n, 10]` of `x` `[n, 1, 28, 28]`.
    #[inline]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = self.conv1.forward(x)?.relu()?.max_pool2d(2)?;
        let h = self.conv2.forward(&h)?.relu()?.max_pool2d(2)?;
        let h = self.fc1.forward(&h.flatten_from(1)?)?.relu()?;
        self.fc2.forward(&h)
    }

    /// One SGD step on the mean cross-entropy; returns the loss tensor.
    #[inline]
    pub fn step(&mut self, x: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let loss = candle_nn::loss::cross_entropy(&self.forward(x)?, labels)?;
        self.opt.backward_step(&loss)?;
        Ok(loss)
    }

    /// The parameters, PyTorch layout.
    pub fn params(&self) -> Result<LeNetParams> {
        let data = self.varmap.data().lock().expect("varmap lock");
        let get = |name: &str| -> Result<Vec<f32>> {
            data.get(name)
                .expect("a variable per tensor")
                .as_tensor()
                .flatten_all()?
                .to_vec1()
        };
        Ok(LeNetParams {
            conv1_w: get("conv1.weight")?,
            conv1_b: get("conv1.bias")?,
            conv2_w: get("conv2.weight")?,
            conv2_b: get("conv2.bias")?,
            fc1_w: get("fc1.weight")?,
            fc1_b: get("fc1.bias")?,
            fc2_w: get("fc2.weight")?,
            fc2_b: get("fc2.bias")?,
        })
    }
}

/// `n` images (`[n, 1, 28, 28]` row-major) as a candle tensor.
pub fn batch(x: &[f32], n: usize) -> Result<Tensor> {
    Tensor::from_slice(x, (n, 1, SIDE, SIDE), &Device::Cpu)
}

/// Labels as a candle `u32` tensor.
pub fn labels(labels: &[usize]) -> Result<Tensor> {
    let l: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    Tensor::from_vec(l, labels.len(), &Device::Cpu)
}
