//! The training step in burn 0.22 on its ndarray backend with Autodiff, as its users write it:
//! a `#[derive(Module)]` network of `burn::nn::Lstm` / `burn::nn::Gru` (batch first) and
//! `burn::nn::Linear`, the last step's hidden state into the classifier, `CrossEntropyLoss`
//! on integer labels, `loss.backward()`, `GradientsParams::from_grads` and the `Sgd` optimizer
//! (`SgdConfig::new().init()`, no momentum).
//!
//! burn keeps one `GateController` per gate, each two `Linear`s (`input_transform` on `x`,
//! `hidden_transform` on `h`, weights `[in, out]`, each with its bias), where PyTorch stacks the
//! gates in one `[G·H, in]` matrix: loading slices PyTorch's tensors by gate (LSTM `i, f, g, o`;
//! GRU `r, z, n`) and transposes, exporting stacks them back. The equations are PyTorch's: the
//! LSTM's `c' = f c + i g`, `h' = o tanh(c')`; the GRU's default `reset_after = true` is
//! PyTorch's `n = tanh(W_in x + b_in + r (W_hn h + b_hn))`, `h' = (1 − z) n + z h`.

use burn::module::{Module, Param};
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::nn::{GateController, Gru, GruConfig, Linear, LinearConfig, Lstm, LstmConfig};
use burn::optim::{GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::{BATCH, CLASSES, HIDDEN, INPUT, LENGTH, SeqData, SeqParams, check_step};
use crate::burn_impl::to_vec;
use crate::stream::Cell;
use crate::{LR, transpose};

/// The recurrent layer.
// One per network: the bytes the GRU variant leaves unused do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Recurrent {
    /// PyTorch's `nn.LSTM`.
    Lstm(Lstm),
    /// PyTorch's `nn.GRU`.
    Gru(Gru),
}

/// The classifier: the recurrent layer, its last step into `out`.
#[derive(Module, Debug)]
pub struct SeqClassifier {
    rnn: Recurrent,
    out: Linear,
}

/// A `Linear` `[inp] → [out]` holding PyTorch's row-major `w` `[out, inp]` and `b` `[out]`.
fn linear(w: &[f32], b: &[f32], inp: usize, out: usize, device: &Device) -> Linear {
    let mut lin = LinearConfig::new(inp, out).init(device);
    // Row-major [out, in] transposed is row-major [in, out], burn's layout.
    let w = TensorData::new(transpose(out, inp, w), [inp, out]);
    lin.weight = Param::from_tensor(Tensor::from_data(w, device));
    let b = TensorData::new(b.to_vec(), [out]);
    lin.bias = Some(Param::from_tensor(Tensor::from_data(b, device)));
    lin
}

/// A `Linear`'s weight (PyTorch layout `[out, in]`) and bias.
fn export_linear(lin: &Linear) -> (Vec<f32>, Vec<f32>) {
    let [inp, out] = lin.weight.val().dims();
    let w = transpose(inp, out, &to_vec(lin.weight.val()));
    (w, to_vec(lin.bias.as_ref().expect("a bias").val()))
}

/// PyTorch's gate `q` (rows `q·H..(q+1)·H` of the stacked tensors) as a burn gate.
fn gate(p: &SeqParams, q: usize, device: &Device) -> GateController {
    let rows = q * HIDDEN..(q + 1) * HIDDEN;
    let w_ih = &p.w_ih[rows.start * INPUT..rows.end * INPUT];
    let w_hh = &p.w_hh[rows.start * HIDDEN..rows.end * HIDDEN];
    let (b_ih, b_hh) = (&p.b_ih[rows.clone()], &p.b_hh[rows]);
    GateController {
        input_transform: linear(w_ih, b_ih, INPUT, HIDDEN, device),
        hidden_transform: linear(w_hh, b_hh, HIDDEN, HIDDEN, device),
    }
}

impl SeqClassifier {
    /// The network holding `p`, on `device`.
    fn new(p: &SeqParams, device: &Device) -> Self {
        let rnn = match p.cell {
            Cell::Lstm => {
                let mut l = LstmConfig::new(INPUT, HIDDEN, true).init(device);
                // PyTorch's order: i, f, g, o.
                l.input_gate = gate(p, 0, device);
                l.forget_gate = Some(gate(p, 1, device));
                l.cell_gate = gate(p, 2, device);
                l.output_gate = gate(p, 3, device);
                Recurrent::Lstm(l)
            }
            Cell::Gru => {
                let mut g = GruConfig::new(INPUT, HIDDEN, true).init(device);
                // PyTorch's order: r, z, n.
                g.reset_gate = gate(p, 0, device);
                g.update_gate = gate(p, 1, device);
                g.new_gate = gate(p, 2, device);
                Recurrent::Gru(g)
            }
        };
        let out = linear(&p.w_out, &p.b_out, HIDDEN, CLASSES, device);
        Self { rnn, out }
    }

    /// The logits `[batch, CLASSES]` of `x` `[batch, length, INPUT]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let last = match &self.rnn {
            Recurrent::Lstm(l) => l.forward(x, None).1.hidden,
            Recurrent::Gru(g) => {
                let [_, length, _] = x.dims();
                g.forward(x, None).narrow(1, length - 1, 1).squeeze_dim(1)
            }
        };
        self.out.forward(last)
    }

    /// The parameters, PyTorch layout.
    fn params(&self) -> SeqParams {
        let gates: Vec<&GateController> = match &self.rnn {
            Recurrent::Lstm(l) => vec![
                &l.input_gate,
                l.forget_gate.as_ref().expect("a forget gate"),
                &l.cell_gate,
                &l.output_gate,
            ],
            Recurrent::Gru(g) => vec![&g.reset_gate, &g.update_gate, &g.new_gate],
        };
        let cell = match self.rnn {
            Recurrent::Lstm(_) => Cell::Lstm,
            Recurrent::Gru(_) => Cell::Gru,
        };
        let (mut w_ih, mut w_hh, mut b_ih, mut b_hh) = (vec![], vec![], vec![], vec![]);
        for g in gates {
            let (w, b) = export_linear(&g.input_transform);
            w_ih.extend(w);
            b_ih.extend(b);
            let (w, b) = export_linear(&g.hidden_transform);
            w_hh.extend(w);
            b_hh.extend(b);
        }
        let (w_out, b_out) = export_linear(&self.out);
        SeqParams {
            cell,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            w_out,
            b_out,
        }
    }
}

/// The network on the autodiff device, its loss and its optimizer.
pub struct BurnSeq {
    device: Device,
    model: Option<SeqClassifier>,
    loss: CrossEntropyLoss,
    optim: ModuleOptimizer,
}

impl BurnSeq {
    /// The network holding `p`.
    // burn 0.22 deprecates the ndarray backend in favour of its new `flex` CPU backend; the
    // workloads ask for ndarray, still burn's documented pure-Rust CPU backend of 0.22.
    #[allow(deprecated)]
    pub fn new(p: &SeqParams) -> Self {
        let device = Device::ndarray().autodiff();
        Self {
            model: Some(SeqClassifier::new(p, &device)),
            loss: CrossEntropyLossConfig::new().init(&device),
            optim: SgdConfig::new().init(),
            device,
        }
    }

    /// `data` on the autodiff device: inputs `[BATCH, LENGTH, INPUT]`, labels `[BATCH]`.
    pub fn batch(&self, data: &SeqData) -> (Tensor<3>, Tensor<1, Int>) {
        let x = TensorData::new(data.x.clone(), [BATCH, LENGTH, INPUT]);
        let labels: Vec<i64> = data.labels.iter().map(|&l| l as i64).collect();
        let y = TensorData::new(labels, [BATCH]);
        (
            Tensor::from_data(x, &self.device),
            Tensor::from_data(y, &self.device),
        )
    }

    /// One SGD step on the mean cross-entropy; returns the loss tensor.
    #[inline]
    pub fn step(&mut self, x: &Tensor<3>, y: &Tensor<1, Int>) -> Tensor<1> {
        let model = self.model.take().expect("the network");
        let loss = self.loss.forward(model.forward(x.clone()), y.clone());
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        self.model = Some(self.optim.step(f64::from(LR), model, grads));
        loss
    }

    /// The parameters, PyTorch layout.
    pub fn params(&self) -> SeqParams {
        self.model.as_ref().expect("the network").params()
    }
}

/// Builds, checks (against [`super::reference_step`], as candle's) and visits burn's training
/// rows of every cell whose group `wants` accepts.
pub fn run(v: &mut impl crate::stream::StreamVisitor, wants: &dyn Fn(&str) -> bool) {
    for cell in [Cell::Lstm, Cell::Gru] {
        let group = super::group(cell);
        if !wants(&group) {
            continue;
        }
        let p = SeqParams::random(cell, super::WEIGHT_SEED);
        let data = SeqData::random(super::DATA_SEED);
        let (want_loss, want) = super::reference_step(&p, &data, LR);

        let mut burn = BurnSeq::new(&p);
        assert_eq!(
            burn.params(),
            p,
            "{group}: burn's network holds the weights"
        );
        let (x, y) = burn.batch(&data);
        let loss = to_vec(burn.step(&x, &y))[0];
        check_step(
            &group,
            "burn",
            &p,
            (loss, &burn.params()),
            (want_loss, &want),
        );

        v.visit(&group, "burn", &mut || {
            std::hint::black_box(burn.step(&x, &y));
        });
        assert!(
            burn.params()
                .tensors()
                .iter()
                .all(|(_, t)| t.iter().all(|v| v.is_finite())),
            "{group}: burn's weights are no longer finite"
        );
    }
}
