//! nn's recurrent networks for the `sequences` bench and the calls that are timed (small
//! functions, so that nn's internals can change behind them).

use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Optimizer, Sgd};
use nn_runtime::recurrent::SequenceNetwork;
use nn_runtime::{Batch, Parameters};

use crate::seqtrain::{BATCH, CLASSES, INPUT, LENGTH, SeqData, SeqParams};
use crate::stream::StreamParams;
use crate::stream::limit::Stream;

nn_runtime::network! {
    /// GRU 1→8, dense 8→1, one output per step.
    pub struct Gru8 { input: seq(1), rnn: gru(8), out: dense(1), loss: mse }
}

nn_runtime::network! {
    /// GRU 1→16, dense 16→1, one output per step.
    pub struct Gru16 { input: seq(1), rnn: gru(16), out: dense(1), loss: mse }
}

nn_runtime::network! {
    /// LSTM 1→16, dense 16→1, one output per step.
    pub struct Lstm16 { input: seq(1), rnn: lstm(16), out: dense(1), loss: mse }
}

nn_runtime::network! {
    /// LSTM 1→40, dense 40→1, one output per step.
    pub struct Lstm40 { input: seq(1), rnn: lstm(40), out: dense(1), loss: mse }
}

nn_runtime::network! {
    /// LSTM 12→32, its last step, dense 32→9.
    pub struct LstmClassifier {
        input: seq(12),
        rnn: lstm(32),
        last: last,
        out: dense(9),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// GRU 12→32, its last step, dense 32→9.
    pub struct GruClassifier {
        input: seq(12),
        rnn: gru(32),
        last: last,
        out: dense(9),
        loss: softmax_cross_entropy,
    }
}

/// An nn streaming network and the state it carries, driven as the limit is.
pub struct NnStream<N: SequenceNetwork<f32, 1, 1>> {
    net: Box<N>,
    state: N::State,
}

impl<N: SequenceNetwork<f32, 1, 1>> NnStream<N> {
    /// The network holding `p`, zero state.
    pub fn new(p: &StreamParams) -> Self {
        Self {
            net: crate::named::load(&p.tensors()),
            state: N::State::default(),
        }
    }
}

impl<N: SequenceNetwork<f32, 1, 1>> Stream for NnStream<N> {
    #[inline]
    fn step(&mut self, x: f32) -> f32 {
        self.net.step(&mut self.state, &SVector::<f32, 1>::new(x))[0]
    }

    fn reset(&mut self) {
        self.state = N::State::default();
    }
}

/// A classifier's step: `(steps, one-hot targets)` as nn takes them.
pub type SeqBatch = (Vec<Batch<f32, INPUT>>, Batch<f32, CLASSES>);

/// `data` as nn's batch of sequences: step `t` is a `[12, 32]` batch (one column per
/// sequence); the targets one-hot columns.
pub fn seq_batch(data: &SeqData) -> SeqBatch {
    let steps = (0..LENGTH)
        .map(|t| Batch::<f32, INPUT>::from_fn(BATCH, |f, s| data.step(s, t)[f]))
        .collect();
    let targets =
        Batch::<f32, CLASSES>::from_fn(BATCH, |c, s| f32::from(u8::from(data.labels[s] == c)));
    (steps, targets)
}

/// T: one SGD step with BPTT on a batch; the loss (batch mean).
pub fn seq_step<N>(net: &mut N, grad: &mut N, opt: &mut Sgd<f32, N>, batch: &SeqBatch) -> f32
where
    N: SequenceNetwork<f32, INPUT, CLASSES, BatchTarget = Batch<f32, CLASSES>>,
{
    grad.fill(0.0);
    let loss = net.backward_batch(&batch.0, &batch.1, grad);
    opt.step(net, grad);
    loss
}

/// An nn classifier's parameters as [`SeqParams`].
pub fn export_seq<N: Parameters<f32>>(net: &N, cell: crate::stream::Cell) -> SeqParams {
    let t = crate::named::export(net);
    let get = |name: &str| -> Vec<f32> {
        t.iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("nn's classifier has no {name}"))
            .1
            .clone()
    };
    SeqParams {
        cell,
        w_ih: get("rnn.weight_ih_l0"),
        w_hh: get("rnn.weight_hh_l0"),
        b_ih: get("rnn.bias_ih_l0"),
        b_hh: get("rnn.bias_hh_l0"),
        w_out: get("out.weight"),
        b_out: get("out.bias"),
    }
}
