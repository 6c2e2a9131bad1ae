//! The networks in candle-core (CPU), samples as columns like nn: `W` `[out, in]`, `x` `[in, n]`,
//! `z = W x + b` with `b` `[out, 1]` broadcast. The gradient comes from candle's autograd
//! (`Tensor::backward`, a fresh `GradStore` per call).

use candle_core::{D, DType, Device, Result, Tensor, Var};

use crate::{Data, Params, Shape};

/// The parameters as candle variables, and detached copies for inference.
pub struct CandleNet {
    shape: Shape,
    vars: [Var; 6],
    plain: [Tensor; 6],
}

/// The shapes of `w1, b1, w2, b2, w3, b3`: weights `[out, in]`, biases `[out, 1]`.
fn dims(s: Shape) -> [(usize, usize); 6] {
    let (i, h, o) = (s.input, s.hidden, s.output);
    [(h, i), (h, 1), (h, h), (h, 1), (o, h), (o, 1)]
}

impl CandleNet {
    /// The network holding `p` (row-major weights are candle's contiguous layout).
    pub fn new(p: &Params) -> Result<Self> {
        let dev = Device::Cpu;
        let ts = p.tensors();
        let dims = dims(p.shape);
        let make = |k: usize| Tensor::from_slice(ts[k].1, dims[k], &dev);
        let plain = [make(0)?, make(1)?, make(2)?, make(3)?, make(4)?, make(5)?];
        let vars = [
            Var::from_tensor(&plain[0])?,
            Var::from_tensor(&plain[1])?,
            Var::from_tensor(&plain[2])?,
            Var::from_tensor(&plain[3])?,
            Var::from_tensor(&plain[4])?,
            Var::from_tensor(&plain[5])?,
        ];
        Ok(Self {
            shape: p.shape,
            vars,
            plain,
        })
    }

    fn logits(&self, t: [&Tensor; 6], x: &Tensor) -> Result<Tensor> {
        let h1 = t[0].matmul(x)?.broadcast_add(t[1])?.relu()?;
        let mut h2 = t[2].matmul(&h1)?.broadcast_add(t[3])?.relu()?;
        if self.shape.residual {
            h2 = (h2 + h1)?;
        }
        t[4].matmul(&h2)?.broadcast_add(t[5])
    }

    /// Logits `[out, n]` of `x` `[in, n]`, without recording a graph.
    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let p = &self.plain;
        self.logits([&p[0], &p[1], &p[2], &p[3], &p[4], &p[5]], x)
    }

    /// Mean softmax cross-entropy of `x` `[in, n]` against one-hot `y` `[out, n]`, and the
    /// gradient of every parameter by autograd.
    pub fn backward(
        &self,
        x: &Tensor,
        y: &Tensor,
    ) -> Result<(Tensor, candle_core::backprop::GradStore)> {
        let v = &self.vars;
        let z = self.logits(
            [
                v[0].as_tensor(),
                v[1].as_tensor(),
                v[2].as_tensor(),
                v[3].as_tensor(),
                v[4].as_tensor(),
                v[5].as_tensor(),
            ],
            x,
        )?;
        let n = z.dim(D::Minus1)?;
        // log softmax over the classes (dim 0), stably: z − max − ln Σ e^(z − max).
        let max = z.max_keepdim(0)?.detach();
        let shifted = z.broadcast_sub(&max)?;
        let lse = shifted.exp()?.sum_keepdim(0)?.log()?;
        let log_p = shifted.broadcast_sub(&lse)?;
        let loss = (log_p * y)?.sum_all()?.affine(-1.0 / n as f64, 0.0)?;
        let grads = loss.backward()?;
        Ok((loss, grads))
    }

    /// The gradient in `grads` as [`Params`].
    pub fn grads_to_params(&self, grads: &candle_core::backprop::GradStore) -> Result<Params> {
        let mut p = Params::zeros(self.shape);
        let slots: [&mut Vec<f32>; 6] = [
            &mut p.w1, &mut p.b1, &mut p.w2, &mut p.b2, &mut p.w3, &mut p.b3,
        ];
        for (slot, var) in slots.into_iter().zip(&self.vars) {
            let g = grads
                .get(var.as_tensor())
                .expect("a gradient for every variable");
            *slot = g.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
        }
        Ok(p)
    }
}

/// Samples `start..start + n` as candle tensors `[in, n]`, `[out, n]` (samples as columns).
pub fn batch(data: &Data, start: usize, n: usize) -> Result<(Tensor, Tensor)> {
    let (i, o) = (data.shape.input, data.shape.output);
    // The data is sample after sample, i.e. row-major [n, in]: transpose to [in, n] and make
    // it contiguous, as nn's column-major batch is.
    let x = Tensor::from_slice(&data.x[start * i..(start + n) * i], (n, i), &Device::Cpu)?
        .t()?
        .contiguous()?;
    let y = Tensor::from_slice(&data.y[start * o..(start + n) * o], (n, o), &Device::Cpu)?
        .t()?
        .contiguous()?;
    Ok((x, y))
}
