//! The networks in candle 0.11 (CPU), as its users write them: `candle_nn::Linear` layers
//! created through a `VarMap` / `VarBuilder`, samples as rows (`[batch, in]`), the loss
//! `candle_nn::loss::cross_entropy` on `u32` labels, and `candle_nn::optim::SGD` over the
//! `VarMap`'s variables (`backward_step`).

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::optim::{Optimizer, SGD};
use candle_nn::{Linear, VarBuilder, VarMap};

use crate::{Act, Data, LR, Layer, Params};

/// An MLP of `candle_nn::Linear` layers and its optimizer.
pub struct CandleMlp {
    params: Params,
    varmap: VarMap,
    layers: Vec<Linear>,
    opt: SGD,
}

impl CandleMlp {
    /// The network holding `p` (PyTorch layout is candle's).
    pub fn new(p: &Params) -> Result<Self> {
        let dev = Device::Cpu;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let mut layers = Vec::new();
        for (k, l) in p.layers.iter().enumerate() {
            layers.push(candle_nn::linear(l.inp, l.out, vb.pp(format!("l{k}")))?);
        }
        let mut me = Self {
            params: p.clone(),
            opt: SGD::new(varmap.all_vars(), f64::from(LR))?,
            varmap,
            layers,
        };
        me.load(p)?;
        Ok(me)
    }

    /// Overwrites the variables with `p`.
    pub fn load(&mut self, p: &Params) -> Result<()> {
        let dev = Device::Cpu;
        for (k, l) in p.layers.iter().enumerate() {
            self.varmap.set_one(
                format!("l{k}.weight"),
                Tensor::from_slice(&l.w, (l.out, l.inp), &dev)?,
            )?;
            self.varmap
                .set_one(format!("l{k}.bias"), Tensor::from_slice(&l.b, l.out, &dev)?)?;
        }
        Ok(())
    }

    /// Logits `[batch, out]` of `x` `[batch, in]`.
    #[inline]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let last = self.layers.len() - 1;
        let mut h = x.clone();
        for (k, layer) in self.layers.iter().enumerate() {
            h = layer.forward(&h)?;
            if k < last {
                h = match self.params.arch.hidden {
                    Act::Relu => h.relu()?,
                    Act::Tanh => h.tanh()?,
                };
            }
        }
        Ok(h)
    }

    /// One SGD step on the mean cross-entropy of `x` `[batch, in]` against `labels`
    /// (`u32`, `[batch]`); returns the loss tensor.
    #[inline]
    pub fn step(&mut self, x: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let logits = self.forward(x)?;
        let loss = candle_nn::loss::cross_entropy(&logits, labels)?;
        self.opt.backward_step(&loss)?;
        Ok(loss)
    }

    /// The parameters, PyTorch layout.
    pub fn params(&self) -> Result<Params> {
        let data = self.varmap.data().lock().expect("varmap lock");
        let get = |name: String| -> Result<Vec<f32>> {
            data.get(&name)
                .expect("a variable per tensor")
                .as_tensor()
                .flatten_all()?
                .to_vec1()
        };
        let mut layers = Vec::new();
        for (k, l) in self.params.layers.iter().enumerate() {
            layers.push(Layer {
                out: l.out,
                inp: l.inp,
                w: get(format!("l{k}.weight"))?,
                b: get(format!("l{k}.bias"))?,
            });
        }
        Ok(Params {
            arch: self.params.arch,
            layers,
        })
    }
}

/// Samples `start..start + n` of `data` as candle tensors: inputs `[n, in]`, labels `u32`
/// `[n]`.
pub fn batch(data: &Data, start: usize, n: usize) -> Result<(Tensor, Tensor)> {
    let i = data.arch.input();
    let x = Tensor::from_slice(&data.x[start * i..(start + n) * i], (n, i), &Device::Cpu)?;
    let labels: Vec<u32> = data.labels[start..start + n]
        .iter()
        .map(|&l| l as u32)
        .collect();
    let y = Tensor::from_vec(labels, n, &Device::Cpu)?;
    Ok((x, y))
}
