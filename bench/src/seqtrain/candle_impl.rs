//! The training step in candle 0.11 (CPU), as its users write it: `candle_nn::lstm` /
//! `candle_nn::gru` (PyTorch's equations and tensor names) and `candle_nn::linear` under a
//! `VarMap`, `seq` over the `[batch, length, features]` input, the last state's `h` into the
//! classifier, `candle_nn::loss::cross_entropy`, `candle_nn::optim::SGD::backward_step`.

use candle_core::{DType, Device, Module, Result, Tensor};
use candle_nn::optim::{Optimizer, SGD};
use candle_nn::rnn::{GRU, GRUConfig, LSTM, LSTMConfig, RNN};
use candle_nn::{Linear, VarBuilder, VarMap};

use super::{BATCH, CLASSES, HIDDEN, INPUT, LENGTH, SeqData, SeqParams};
use crate::LR;
use crate::stream::Cell;

/// The recurrent layer.
enum Recurrent {
    Lstm(LSTM),
    Gru(GRU),
}

/// The network and its optimizer.
pub struct CandleSeq {
    cell: Cell,
    varmap: VarMap,
    rnn: Recurrent,
    out: Linear,
    opt: SGD,
}

impl CandleSeq {
    /// The network holding `p`.
    pub fn new(p: &SeqParams) -> Result<Self> {
        let dev = Device::Cpu;
        let mut varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
        let rnn = match p.cell {
            Cell::Lstm => Recurrent::Lstm(candle_nn::lstm(
                INPUT,
                HIDDEN,
                LSTMConfig::default(),
                vb.pp("rnn"),
            )?),
            Cell::Gru => Recurrent::Gru(candle_nn::gru(
                INPUT,
                HIDDEN,
                GRUConfig::default(),
                vb.pp("rnn"),
            )?),
        };
        let out = candle_nn::linear(HIDDEN, CLASSES, vb.pp("out"))?;
        for (name, t) in p.tensors() {
            let g = p.cell.gates() * HIDDEN;
            let shape: &[usize] = match name {
                "rnn.weight_ih_l0" => &[g, INPUT],
                "rnn.weight_hh_l0" => &[g, HIDDEN],
                "out.weight" => &[CLASSES, HIDDEN],
                _ => &[t.len()],
            };
            varmap.set_one(name, Tensor::from_slice(t, shape, &dev)?)?;
        }
        Ok(Self {
            cell: p.cell,
            opt: SGD::new(varmap.all_vars(), f64::from(LR))?,
            varmap,
            rnn,
            out,
        })
    }

    /// The logits `[batch, CLASSES]` of `x` `[batch, length, INPUT]`.
    #[inline]
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let last = match &self.rnn {
            Recurrent::Lstm(l) => l.seq(x)?.pop().map(|s| s.h),
            Recurrent::Gru(g) => g.seq(x)?.pop().map(|s| s.h),
        };
        let last = last.ok_or_else(|| candle_core::Error::Msg("an empty sequence".into()))?;
        self.out.forward(&last)
    }

    /// One SGD step on the mean cross-entropy; returns the loss tensor.
    #[inline]
    pub fn step(&mut self, x: &Tensor, labels: &Tensor) -> Result<Tensor> {
        let loss = candle_nn::loss::cross_entropy(&self.forward(x)?, labels)?;
        self.opt.backward_step(&loss)?;
        Ok(loss)
    }

    /// The parameters, PyTorch layout.
    pub fn params(&self) -> Result<SeqParams> {
        let data = self.varmap.data().lock().expect("varmap lock");
        let get = |name: &str| -> Result<Vec<f32>> {
            data.get(name)
                .expect("a variable per tensor")
                .as_tensor()
                .flatten_all()?
                .to_vec1()
        };
        Ok(SeqParams {
            cell: self.cell,
            w_ih: get("rnn.weight_ih_l0")?,
            w_hh: get("rnn.weight_hh_l0")?,
            b_ih: get("rnn.bias_ih_l0")?,
            b_hh: get("rnn.bias_hh_l0")?,
            w_out: get("out.weight")?,
            b_out: get("out.bias")?,
        })
    }
}

/// `data` as candle tensors: inputs `[BATCH, LENGTH, INPUT]`, labels `u32` `[BATCH]`.
pub fn batch(data: &SeqData) -> Result<(Tensor, Tensor)> {
    let x = Tensor::from_slice(&data.x, (BATCH, LENGTH, INPUT), &Device::Cpu)?;
    let labels: Vec<u32> = data.labels.iter().map(|&l| l as u32).collect();
    Ok((x, Tensor::from_vec(labels, BATCH, &Device::Cpu)?))
}
