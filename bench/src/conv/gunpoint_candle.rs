//! The GunPoint model in candle 0.11 (CPU), as its users write it: `candle_nn::conv1d` with
//! `same` padding and `candle_nn::linear` under a `VarMap`, relu, max pooling by 2 (candle
//! pools 2-D maps: the signal as `[n, c, 1, l]`), the global average pool as a mean over the
//! positions.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::{Conv1d, Conv1dConfig, Linear, VarBuilder, VarMap};

use super::gunpoint::{LENGTH, Weights};

/// The network.
pub struct CandleGunPoint {
    c1: Conv1d,
    c2: Conv1d,
    c3: Conv1d,
    out: Linear,
}

/// Max pooling by 2 along the last axis of `[n, c, l]`.
fn pool(x: &Tensor) -> Result<Tensor> {
    let (n, c, l) = x.dims3()?;
    x.reshape((n, c, 1, l))?
        .max_pool2d_with_stride((1, 2), (1, 2))?
        .squeeze(2)
}

impl CandleGunPoint {
    /// The network holding `w`.
    pub fn new(w: &Weights) -> Result<Self> {
        let dev = Device::Cpu;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let same = |padding| Conv1dConfig {
            padding,
            ..Default::default()
        };
        let c1 = candle_nn::conv1d(1, 16, 9, same(4), vb.pp("c1"))?;
        let c2 = candle_nn::conv1d(16, 32, 7, same(3), vb.pp("c2"))?;
        let c3 = candle_nn::conv1d(32, 32, 5, same(2), vb.pp("c3"))?;
        let out = candle_nn::linear(32, 2, vb.pp("out"))?;
        for (name, values, shape) in &w.tensors {
            varmap.set_one(*name, Tensor::from_slice(values, shape.as_slice(), &dev)?)?;
        }
        Ok(Self { c1, c2, c3, out })
    }

    /// The logits `[n, 2]` of `x` `[n, 1, 150]`.
    #[inline]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let h = pool(&self.c1.forward(x)?.relu()?)?;
        let h = pool(&self.c2.forward(&h)?.relu()?)?;
        let h = self.c3.forward(&h)?.relu()?.mean(2)?;
        self.out.forward(&h)
    }
}

/// One signal (`[1, 1, 150]`) as a candle tensor.
pub fn signal(x: &[f32]) -> Result<Tensor> {
    Tensor::from_slice(x, (1, 1, LENGTH), &Device::Cpu)
}
