//! Recurrent training (issue 13): one SGD step with backpropagation through time over a batch
//! of [`BATCH`] sequences of [`LENGTH`] steps, 12 features each, into a recurrent layer of 32
//! units (LSTM or GRU), its last step into a dense classifier of 9 classes, softmax
//! cross-entropy (mean over the batch), plain SGD at [`crate::LR`].
//!
//! The parameters are PyTorch's (`rnn.weight_ih_l0` `[G·H, 12]`, `rnn.weight_hh_l0`
//! `[G·H, H]`, `rnn.bias_ih_l0`, `rnn.bias_hh_l0` `[G·H]`, `out.weight` `[9, H]`, `out.bias`),
//! drawn from PyTorch's default `U(±1/√H)` (`U(±1/√H)` for `nn.Linear(H, 9)` too). Inputs are
//! uniform in `[-1, 1)`, labels uniform over the classes. [`reference_step`] is the same step
//! in plain f64 loops (forward, BPTT, update), which every implementation is checked against.

#[cfg(feature = "burn")]
pub mod burn_impl;
pub mod candle_impl;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::stream::Cell;

/// Sequences per step.
pub const BATCH: usize = 32;
/// Steps per sequence.
pub const LENGTH: usize = 100;
/// Features per step.
pub const INPUT: usize = 12;
/// Recurrent units.
pub const HIDDEN: usize = 32;
/// Classes.
pub const CLASSES: usize = 9;
/// Seed of the weights.
pub const WEIGHT_SEED: u64 = 5;
/// Seed of the inputs and labels.
pub const DATA_SEED: u64 = 6;

/// The group name of the training step with `cell` (`T_lstm-12-32-9`).
pub fn group(cell: Cell) -> String {
    let c = match cell {
        Cell::Gru => "gru",
        Cell::Lstm => "lstm",
    };
    format!("T_{c}-{INPUT}-{HIDDEN}-{CLASSES}")
}

/// The network's parameters, PyTorch layout and names.
#[derive(Clone, Debug, PartialEq)]
pub struct SeqParams {
    /// The recurrent cell.
    pub cell: Cell,
    /// `rnn.weight_ih_l0`, `[G·H, INPUT]` row-major.
    pub w_ih: Vec<f32>,
    /// `rnn.weight_hh_l0`, `[G·H, H]` row-major.
    pub w_hh: Vec<f32>,
    /// `rnn.bias_ih_l0`, `[G·H]`.
    pub b_ih: Vec<f32>,
    /// `rnn.bias_hh_l0`, `[G·H]`.
    pub b_hh: Vec<f32>,
    /// `out.weight`, `[CLASSES, H]` row-major.
    pub w_out: Vec<f32>,
    /// `out.bias`, `[CLASSES]`.
    pub b_out: Vec<f32>,
}

impl SeqParams {
    /// PyTorch's default initialization from `seed`.
    pub fn random(cell: Cell, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let bound = 1.0 / (HIDDEN as f32).sqrt();
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
        let g = cell.gates() * HIDDEN;
        Self {
            cell,
            w_ih: draw(g * INPUT),
            w_hh: draw(g * HIDDEN),
            b_ih: draw(g),
            b_hh: draw(g),
            w_out: draw(CLASSES * HIDDEN),
            b_out: draw(CLASSES),
        }
    }

    /// Every tensor with its PyTorch name and shape.
    pub fn named(&self) -> Vec<crate::named::Named<'_>> {
        let g = self.cell.gates() * HIDDEN;
        let shapes = [
            vec![g, INPUT],
            vec![g, HIDDEN],
            vec![g],
            vec![g],
            vec![CLASSES, HIDDEN],
            vec![CLASSES],
        ];
        self.tensors()
            .into_iter()
            .zip(shapes)
            .map(|((name, t), shape)| (name, t, shape))
            .collect()
    }

    /// Every tensor with its PyTorch name.
    pub fn tensors(&self) -> [(&'static str, &[f32]); 6] {
        [
            ("rnn.weight_ih_l0", &self.w_ih),
            ("rnn.weight_hh_l0", &self.w_hh),
            ("rnn.bias_ih_l0", &self.b_ih),
            ("rnn.bias_hh_l0", &self.b_hh),
            ("out.weight", &self.w_out),
            ("out.bias", &self.b_out),
        ]
    }
}

/// A batch of sequences.
#[derive(Clone, Debug)]
pub struct SeqData {
    /// `[BATCH, LENGTH, INPUT]` row-major (PyTorch's `batch_first` layout).
    pub x: Vec<f32>,
    /// The class of each sequence.
    pub labels: Vec<usize>,
}

impl SeqData {
    /// A batch from `seed`.
    pub fn random(seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = (0..BATCH * LENGTH * INPUT)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let labels = (0..BATCH).map(|_| rng.random_range(0..CLASSES)).collect();
        Self { x, labels }
    }

    /// Step `t` of sequence `s`.
    pub fn step(&self, s: usize, t: usize) -> &[f32] {
        let at = (s * LENGTH + t) * INPUT;
        &self.x[at..at + INPUT]
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `y += A x` for row-major `A` `[rows, x.len()]`.
fn mat_vec(a: &[f64], x: &[f64], y: &mut [f64]) {
    for (r, yr) in y.iter_mut().enumerate() {
        *yr += a[r * x.len()..(r + 1) * x.len()]
            .iter()
            .zip(x)
            .map(|(a, x)| a * x)
            .sum::<f64>();
    }
}

/// `x += Aᵀ y` for row-major `A` `[y.len(), x.len()]`.
fn mat_t_vec(a: &[f64], y: &[f64], x: &mut [f64]) {
    let cols = x.len();
    for (r, &yr) in y.iter().enumerate() {
        for (xc, &ac) in x.iter_mut().zip(&a[r * cols..(r + 1) * cols]) {
            *xc += ac * yr;
        }
    }
}

/// `A += y xᵀ` for row-major `A` `[y.len(), x.len()]`.
fn ger(a: &mut [f64], y: &[f64], x: &[f64]) {
    for (r, &yr) in y.iter().enumerate() {
        for (ac, &xc) in a[r * x.len()..(r + 1) * x.len()].iter_mut().zip(x) {
            *ac += yr * xc;
        }
    }
}

/// One step of the cell from `(h, c)` (`c` unused by the GRU): the gate pre-activations
/// `gi = W_ih x + b_ih`, `gh = W_hh h + b_hh`, and the new `(h, c)`.
type CellStep = (Vec<f64>, Vec<f64>, Vec<f64>, Vec<f64>);

fn cell_forward(cell: Cell, p: &[Vec<f64>; 6], x: &[f64], h: &[f64], c: &[f64]) -> CellStep {
    let [w_ih, w_hh, b_ih, b_hh, ..] = p;
    let (mut gi, mut gh) = (b_ih.clone(), b_hh.clone());
    mat_vec(w_ih, x, &mut gi);
    mat_vec(w_hh, h, &mut gh);
    let hn = h.len();
    let (mut h2, mut c2) = (vec![0.0; hn], vec![0.0; hn]);
    for k in 0..hn {
        match cell {
            Cell::Gru => {
                let r = sigmoid(gi[k] + gh[k]);
                let z = sigmoid(gi[hn + k] + gh[hn + k]);
                let n = (gi[2 * hn + k] + r * gh[2 * hn + k]).tanh();
                h2[k] = (1.0 - z) * n + z * h[k];
            }
            Cell::Lstm => {
                let a = |q: usize| gi[q * hn + k] + gh[q * hn + k];
                let (i, f, g, o) = (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                c2[k] = f * c[k] + i * g;
                h2[k] = o * c2[k].tanh();
            }
        }
    }
    (gi, gh, h2, c2)
}

/// The cell's backward step: from `dh`, `dc` at its output, the gradients of `gi` and `gh`
/// (which are those of the biases and, through `x` and `h`, of the weights) and `dh`, `dc` at
/// its input (`dh` before the `W_hhᵀ dgh` term).
fn cell_backward(
    cell: Cell,
    (gi, gh): (&[f64], &[f64]),
    (h, c, c2): (&[f64], &[f64], &[f64]),
    dh: &[f64],
    dc: &[f64],
) -> CellStep {
    let hn = h.len();
    let (mut dgi, mut dgh) = (vec![0.0; gi.len()], vec![0.0; gh.len()]);
    let (mut dh_prev, mut dc_prev) = (vec![0.0; hn], vec![0.0; hn]);
    for k in 0..hn {
        match cell {
            Cell::Gru => {
                let r = sigmoid(gi[k] + gh[k]);
                let z = sigmoid(gi[hn + k] + gh[hn + k]);
                let n = (gi[2 * hn + k] + r * gh[2 * hn + k]).tanh();
                let dn = dh[k] * (1.0 - z);
                let dz = dh[k] * (h[k] - n);
                dh_prev[k] = dh[k] * z;
                let da_n = dn * (1.0 - n * n);
                let da_r = da_n * gh[2 * hn + k] * r * (1.0 - r);
                let da_z = dz * z * (1.0 - z);
                (dgi[k], dgh[k]) = (da_r, da_r);
                (dgi[hn + k], dgh[hn + k]) = (da_z, da_z);
                (dgi[2 * hn + k], dgh[2 * hn + k]) = (da_n, da_n * r);
            }
            Cell::Lstm => {
                let a = |q: usize| gi[q * hn + k] + gh[q * hn + k];
                let (i, f, g, o) = (sigmoid(a(0)), sigmoid(a(1)), a(2).tanh(), sigmoid(a(3)));
                let tc = c2[k].tanh();
                let d_o = dh[k] * tc;
                let dck = dc[k] + dh[k] * o * (1.0 - tc * tc);
                let da = [
                    dck * g * i * (1.0 - i),
                    dck * c[k] * f * (1.0 - f),
                    dck * i * (1.0 - g * g),
                    d_o * o * (1.0 - o),
                ];
                for (q, d) in da.into_iter().enumerate() {
                    (dgi[q * hn + k], dgh[q * hn + k]) = (d, d);
                }
                dc_prev[k] = dck * f;
            }
        }
    }
    (dgi, dgh, dh_prev, dc_prev)
}

/// The step in f64: forward over every sequence, softmax cross-entropy (mean over the batch),
/// backpropagation through time, `θ ← θ − lr g`. Returns the loss and the updated parameters.
pub fn reference_step(p: &SeqParams, data: &SeqData, lr: f32) -> (f32, SeqParams) {
    let f = |v: &[f32]| -> Vec<f64> { v.iter().map(|&x| f64::from(x)).collect() };
    let w: [Vec<f64>; 6] = p.tensors().map(|(_, t)| f(t));
    let mut grad: [Vec<f64>; 6] = w.clone().map(|t| vec![0.0; t.len()]);
    let scale = 1.0 / BATCH as f64;
    let mut loss = 0.0;
    for s in 0..BATCH {
        // Forward, keeping every step's pre-activations and states.
        let mut hs = vec![vec![0.0; HIDDEN]];
        let mut cs = vec![vec![0.0; HIDDEN]];
        let mut gates = Vec::with_capacity(LENGTH);
        for t in 0..LENGTH {
            let (gi, gh, h2, c2) = cell_forward(p.cell, &w, &f(data.step(s, t)), &hs[t], &cs[t]);
            gates.push((gi, gh));
            hs.push(h2);
            cs.push(c2);
        }
        let h_last = &hs[LENGTH];
        let mut z = w[5].clone();
        mat_vec(&w[4], h_last, &mut z);
        let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let sum: f64 = z.iter().map(|v| (v - max).exp()).sum();
        let label = data.labels[s];
        loss += (max + sum.ln() - z[label]) * scale;
        // dL/dz = (softmax(z) − onehot) / B.
        let dz: Vec<f64> = z
            .iter()
            .enumerate()
            .map(|(k, v)| ((v - max).exp() / sum - f64::from(u8::from(k == label))) * scale)
            .collect();
        ger(&mut grad[4], &dz, h_last);
        for (g, d) in grad[5].iter_mut().zip(&dz) {
            *g += d;
        }
        let mut dh = vec![0.0; HIDDEN];
        mat_t_vec(&w[4], &dz, &mut dh);
        let mut dc = vec![0.0; HIDDEN];
        for t in (0..LENGTH).rev() {
            let (gi, gh) = &gates[t];
            let (dgi, dgh, mut dh_prev, dc_prev) =
                cell_backward(p.cell, (gi, gh), (&hs[t], &cs[t], &cs[t + 1]), &dh, &dc);
            ger(&mut grad[0], &dgi, &f(data.step(s, t)));
            ger(&mut grad[1], &dgh, &hs[t]);
            for (g, d) in grad[2].iter_mut().zip(&dgi) {
                *g += d;
            }
            for (g, d) in grad[3].iter_mut().zip(&dgh) {
                *g += d;
            }
            mat_t_vec(&w[1], &dgh, &mut dh_prev);
            (dh, dc) = (dh_prev, dc_prev);
        }
    }
    let lr = f64::from(lr);
    let upd = |k: usize| -> Vec<f32> {
        w[k].iter()
            .zip(&grad[k])
            .map(|(w, g)| (w - lr * g) as f32)
            .collect()
    };
    let after = SeqParams {
        cell: p.cell,
        w_ih: upd(0),
        w_hh: upd(1),
        b_ih: upd(2),
        b_hh: upd(3),
        w_out: upd(4),
        b_out: upd(5),
    };
    (loss as f32, after)
}

/// Largest relative difference of a loss from the reference's.
pub const TOL_LOSS: f32 = 1e-4;
/// Largest difference of a tensor's change in one step from the reference's, relative to the
/// largest change of that tensor (as `workloads::TOL_STEP`: f32 gradients summed over 3,200
/// steps against f64 ones).
pub const TOL_STEP: f32 = 2e-3;

/// Panics unless `(loss, got)` is the reference's step from `before`; returns the worst
/// relative difference of a tensor's change.
pub fn check_step(
    group: &str,
    name: &str,
    before: &SeqParams,
    (loss, got): (f32, &SeqParams),
    (want_loss, want): (f32, &SeqParams),
) -> f32 {
    let dl = (loss - want_loss).abs() / want_loss.abs();
    assert!(
        dl <= TOL_LOSS,
        "{group}: {name}: loss {loss} vs the reference's {want_loss}"
    );
    let mut worst = 0f32;
    for (((tname, b), (_, g)), (_, w)) in before
        .tensors()
        .into_iter()
        .zip(got.tensors())
        .zip(want.tensors())
    {
        let delta =
            |after: &[f32]| -> Vec<f32> { after.iter().zip(b).map(|(a, b)| a - b).collect() };
        let d = crate::rel_diff(&delta(g), &delta(w));
        assert!(
            d <= TOL_STEP,
            "{group}: {name}: the change of {tname} differs from the reference's by {d:e} of its \
             scale"
        );
        worst = worst.max(d);
    }
    eprintln!(
        "{group}: {name}: loss within {dl:.1e} of the f64 reference, one-step changes within \
         {worst:.1e}"
    );
    worst
}

/// nn's row: checked against `want`, then visited.
fn nn_row<N>(
    v: &mut impl crate::stream::StreamVisitor,
    group: &str,
    p: &SeqParams,
    data: &SeqData,
    want: (f32, &SeqParams),
) where
    N: nn_runtime::recurrent::SequenceNetwork<
            f32,
            INPUT,
            CLASSES,
            BatchTarget = nn_runtime::Batch<f32, CLASSES>,
        >,
{
    use crate::seqnets::{export_seq, seq_batch, seq_step};
    let batch = seq_batch(data);
    let mut net: Box<N> = crate::named::load(&p.named());
    let mut grad = N::boxed_zeros();
    let mut opt = crate::nets::sgd::<N>();
    let loss = seq_step(&mut *net, &mut grad, &mut opt, &batch);
    check_step(group, "nn", p, (loss, &export_seq(&*net, p.cell)), want);
    v.visit(group, "nn", &mut || {
        std::hint::black_box(seq_step(&mut *net, &mut grad, &mut opt, &batch));
    });
}

/// Builds, checks and visits the training rows of every cell whose group `wants` accepts.
pub fn run(v: &mut impl crate::stream::StreamVisitor, wants: &dyn Fn(&str) -> bool) {
    use std::hint::black_box;
    for cell in [Cell::Lstm, Cell::Gru] {
        let group = group(cell);
        if !wants(&group) {
            continue;
        }
        let p = SeqParams::random(cell, WEIGHT_SEED);
        let data = SeqData::random(DATA_SEED);
        let want = reference_step(&p, &data, crate::LR);
        let want = (want.0, &want.1);

        match cell {
            Cell::Lstm => nn_row::<crate::seqnets::LstmClassifier<f32>>(v, &group, &p, &data, want),
            Cell::Gru => nn_row::<crate::seqnets::GruClassifier<f32>>(v, &group, &p, &data, want),
        }

        let mut candle = candle_impl::CandleSeq::new(&p).expect("candle network");
        let (cx, cy) = candle_impl::batch(&data).expect("candle batch");
        let loss = candle.step(&cx, &cy).expect("candle step");
        let loss = loss.to_scalar::<f32>().expect("candle loss");
        let after = candle.params().expect("candle params");
        check_step(&group, "candle", &p, (loss, &after), want);

        v.visit(&group, "candle", &mut || {
            black_box(candle.step(&cx, &cy).expect("candle step"));
        });
        assert!(
            candle
                .params()
                .expect("candle params")
                .tensors()
                .iter()
                .all(|(_, t)| t.iter().all(|v| v.is_finite())),
            "{group}: candle's weights are no longer finite"
        );
    }
}
