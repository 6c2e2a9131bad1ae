//! Recurrent streaming (issue 13): one input sample per call, the state carried between calls,
//! on the four models RTNeural publishes figures for: GRU 1→8, GRU 1→16, LSTM 1→16 and
//! LSTM 1→40, each followed by a dense layer to one output.
//!
//! The parameters are PyTorch's one-layer `nn.GRU`/`nn.LSTM` (`weight_ih_l0` `[G·H, 1]`,
//! `weight_hh_l0` `[G·H, H]`, `bias_ih_l0`, `bias_hh_l0` `[G·H]`, gates GRU `r, z, n`, LSTM
//! `i, f, g, o`) and `nn.Linear(H, 1)`, drawn from PyTorch's default `U(±1/√H)`. The input is
//! a seeded signal in `[-1, 1)`. [`reference`] is the plain f64 recurrence every implementation
//! is checked against; [`limit`] is the hand-written f32 kernel.

pub mod conv_gru;
pub mod limit;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cell {
    /// PyTorch's `nn.GRU`: three gates `r, z, n`.
    Gru,
    /// PyTorch's `nn.LSTM`: four gates `i, f, g, o`.
    Lstm,
}

impl Cell {
    /// Gates per hidden unit.
    pub fn gates(self) -> usize {
        match self {
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }
}

/// A streaming model: one input feature, a recurrent layer of `hidden` units, dense to one
/// output.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Model {
    /// The criterion group's suffix (`S_gru-8`).
    pub name: &'static str,
    /// The cell.
    pub cell: Cell,
    /// Hidden width `H`.
    pub hidden: usize,
    /// RTNeural's compile-time API with Eigen at `-O3 -march=native`, median ns per sample, as
    /// measured by the team on this machine kind (issue 13), not by this bench.
    pub rtneural_native_ns: f64,
}

/// GRU 1→8, dense 8→1.
pub const GRU8: Model = Model {
    name: "gru-8",
    cell: Cell::Gru,
    hidden: 8,
    rtneural_native_ns: 102.0,
};
/// GRU 1→16, dense 16→1.
pub const GRU16: Model = Model {
    name: "gru-16",
    cell: Cell::Gru,
    hidden: 16,
    rtneural_native_ns: 107.0,
};
/// LSTM 1→16, dense 16→1.
pub const LSTM16: Model = Model {
    name: "lstm-16",
    cell: Cell::Lstm,
    hidden: 16,
    rtneural_native_ns: 109.0,
};
/// LSTM 1→40, dense 40→1.
pub const LSTM40: Model = Model {
    name: "lstm-40",
    cell: Cell::Lstm,
    hidden: 40,
    rtneural_native_ns: 374.0,
};
/// Every streaming model, in report order.
pub const MODELS: [Model; 4] = [GRU8, GRU16, LSTM16, LSTM40];

impl Model {
    /// The model named `name`.
    pub fn by_name(name: &str) -> Option<Model> {
        MODELS.into_iter().find(|m| m.name == name)
    }

    /// `G·H`: rows of the recurrent weights.
    pub fn rows(&self) -> usize {
        self.cell.gates() * self.hidden
    }
}

/// A streaming model's parameters in PyTorch layout, names as in `state_dict()` (`rnn.*`,
/// `out.*`).
#[derive(Clone, Debug, PartialEq)]
pub struct StreamParams {
    /// The model.
    pub model: Model,
    /// `rnn.weight_ih_l0`, `[G·H, 1]`.
    pub w_ih: Vec<f32>,
    /// `rnn.weight_hh_l0`, `[G·H, H]` row-major.
    pub w_hh: Vec<f32>,
    /// `rnn.bias_ih_l0`, `[G·H]`.
    pub b_ih: Vec<f32>,
    /// `rnn.bias_hh_l0`, `[G·H]`.
    pub b_hh: Vec<f32>,
    /// `out.weight`, `[1, H]`.
    pub w_out: Vec<f32>,
    /// `out.bias`, `[1]`.
    pub b_out: f32,
}

impl StreamParams {
    /// PyTorch's default initialization, `U(±1/√H)` for every tensor (the recurrent layer's
    /// and `nn.Linear(H, 1)`'s bound are the same), from `seed`.
    pub fn random(model: Model, seed: u64) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let bound = 1.0 / (model.hidden as f32).sqrt();
        let mut draw =
            |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
        let (n, h) = (model.rows(), model.hidden);
        let w_ih = draw(n);
        let w_hh = draw(n * h);
        let b_ih = draw(n);
        let b_hh = draw(n);
        let w_out = draw(h);
        let b_out = draw(1)[0];
        Self {
            model,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            w_out,
            b_out,
        }
    }

    /// Every tensor with its PyTorch name and shape.
    pub fn tensors(&self) -> Vec<crate::named::Named<'_>> {
        let (n, h) = (self.model.rows(), self.model.hidden);
        vec![
            ("rnn.weight_ih_l0", &self.w_ih, vec![n, 1]),
            ("rnn.weight_hh_l0", &self.w_hh, vec![n, h]),
            ("rnn.bias_ih_l0", &self.b_ih, vec![n]),
            ("rnn.bias_hh_l0", &self.b_hh, vec![n]),
            ("out.weight", &self.w_out, vec![1, h]),
            ("out.bias", std::slice::from_ref(&self.b_out), vec![1]),
        ]
    }
}

/// `n` input samples: a sine sweep plus seeded noise, in `[-1, 1)` (audio-like).
pub fn signal(n: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..n)
        .map(|t| {
            let phase = 0.002 * (t * t % 100_000) as f32;
            0.7 * phase.sin() + rng.random_range(-0.3..0.3)
        })
        .collect()
}

/// The plain f64 recurrence: the output after each sample of `xs`, from a zero state.
/// Straight from PyTorch's documented equations, with `exp` and `tanh` from std.
pub fn reference(p: &StreamParams, xs: &[f32]) -> Vec<f64> {
    let h_n = p.model.hidden;
    let f = |v: &[f32]| -> Vec<f64> { v.iter().map(|&x| f64::from(x)).collect() };
    let (w_ih, w_hh, b_ih, b_hh, w_out) =
        (f(&p.w_ih), f(&p.w_hh), f(&p.b_ih), f(&p.b_hh), f(&p.w_out));
    let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
    let mut h = vec![0f64; h_n];
    let mut c = vec![0f64; h_n];
    let mut out = Vec::with_capacity(xs.len());
    for &x in xs {
        let x = f64::from(x);
        // `gi = W_ih x + b_ih`, `gh = W_hh h + b_hh`, all gates.
        let gi: Vec<f64> = (0..p.model.rows()).map(|r| w_ih[r] * x + b_ih[r]).collect();
        let gh: Vec<f64> = (0..p.model.rows())
            .map(|r| (0..h_n).map(|j| w_hh[r * h_n + j] * h[j]).sum::<f64>() + b_hh[r])
            .collect();
        match p.model.cell {
            Cell::Gru => {
                for k in 0..h_n {
                    let r = sigmoid(gi[k] + gh[k]);
                    let z = sigmoid(gi[h_n + k] + gh[h_n + k]);
                    let n = (gi[2 * h_n + k] + r * gh[2 * h_n + k]).tanh();
                    h[k] = (1.0 - z) * n + z * h[k];
                }
            }
            Cell::Lstm => {
                for k in 0..h_n {
                    let g = |q: usize| gi[q * h_n + k] + gh[q * h_n + k];
                    let (i, fg, gg, o) = (sigmoid(g(0)), sigmoid(g(1)), g(2).tanh(), sigmoid(g(3)));
                    c[k] = fg * c[k] + i * gg;
                    h[k] = o * c[k].tanh();
                }
            }
        }
        out.push(w_out.iter().zip(&h).map(|(w, h)| w * h).sum::<f64>() + f64::from(p.b_out));
    }
    out
}

/// Samples every implementation is checked on, from a zero state.
pub const CHECK_SAMPLES: usize = 2000;
/// Samples the timed loop cycles through (a power of two: the index wraps with a mask).
pub const TIMED_SAMPLES: usize = 4096;
/// Seed of the weights.
pub const WEIGHT_SEED: u64 = 3;
/// Seed of the signal.
pub const SIGNAL_SEED: u64 = 4;
/// Largest difference of an f32 implementation's outputs from the f64 reference, relative to
/// the largest reference output, over [`CHECK_SAMPLES`] carried steps (f32 rounding and the
/// fast activations' ~5e-7 compound over the recurrence; a wrong gate order or bias is off by
/// more than 1e-1).
pub const TOL_STREAM: f64 = 1e-4;

/// Receives the streaming rows, already checked against the reference.
pub trait StreamVisitor {
    /// One row of group `S_<model>`: `op` feeds one sample.
    fn visit(&mut self, group: &str, name: &str, op: &mut dyn FnMut());
}

impl StreamVisitor for crate::workloads::CheckOnly {
    fn visit(&mut self, _group: &str, _name: &str, _op: &mut dyn FnMut()) {}
}

/// `max |got − want| / max |want|`, in f64.
pub fn rel_diff_f64(got: &[f32], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "lengths");
    let scale = want.iter().fold(0f64, |m, v| m.max(v.abs()));
    let err = got
        .iter()
        .zip(want)
        .fold(0f64, |m, (&a, b)| m.max((f64::from(a) - b).abs()));
    err / scale
}

/// Panics unless `s`, fed [`CHECK_SAMPLES`] samples from a zero state, follows the f64
/// reference; leaves `s` reset.
pub fn check_stream(group: &str, name: &str, s: &mut impl limit::Stream, xs: &[f32], want: &[f64]) {
    s.reset();
    let got: Vec<f32> = xs.iter().map(|&x| s.step(x)).collect();
    s.reset();
    let d = rel_diff_f64(&got, want);
    eprintln!("{group}: {name}: outputs within {d:.1e} of the f64 reference");
    assert!(
        d <= TOL_STREAM,
        "{group}: {name} disagrees with the f64 reference by {d:e} of its scale"
    );
}

/// Times `s.step` on the signal, one sample per operation, the state carried.
fn visit_stream(v: &mut impl StreamVisitor, group: &str, name: &str, s: &mut impl limit::Stream) {
    let xs = signal(TIMED_SAMPLES, SIGNAL_SEED);
    let mut t = 0;
    v.visit(group, name, &mut || {
        std::hint::black_box(s.step(std::hint::black_box(xs[t])));
        t = (t + 1) & (TIMED_SAMPLES - 1);
    });
}

/// Checks nn and the limit against `want`, then visits them.
fn rows(
    v: &mut impl StreamVisitor,
    group: &str,
    xs: &[f32],
    want: &[f64],
    mut lim: impl limit::Stream,
    mut nn: impl limit::Stream,
) {
    check_stream(group, "nn", &mut nn, xs, want);
    check_stream(group, "limit", &mut lim, xs, want);
    visit_stream(v, group, "nn", &mut nn);
    visit_stream(v, group, "limit", &mut lim);
}

/// Builds, checks and visits the streaming rows of every model whose group `wants` accepts.
pub fn run(v: &mut impl StreamVisitor, wants: &dyn Fn(&str) -> bool) {
    for m in MODELS {
        let group = format!("S_{}", m.name);
        if !wants(&group) {
            continue;
        }
        let p = StreamParams::random(m, WEIGHT_SEED);
        let xs = signal(CHECK_SAMPLES, SIGNAL_SEED);
        let want = reference(&p, &xs);
        use crate::seqnets::{Gru8, Gru16, Lstm16, Lstm40, NnStream};
        match m.name {
            "gru-8" => rows(
                v,
                &group,
                &xs,
                &want,
                limit::Gru::<8, 24>::new(&p),
                NnStream::<Gru8<f32>>::new(&p),
            ),
            "gru-16" => rows(
                v,
                &group,
                &xs,
                &want,
                limit::Gru::<16, 48>::new(&p),
                NnStream::<Gru16<f32>>::new(&p),
            ),
            "lstm-16" => rows(
                v,
                &group,
                &xs,
                &want,
                limit::Lstm::<16, 64>::new(&p),
                NnStream::<Lstm16<f32>>::new(&p),
            ),
            "lstm-40" => rows(
                v,
                &group,
                &xs,
                &want,
                limit::Lstm::<40, 160>::new(&p),
                NnStream::<Lstm40<f32>>::new(&p),
            ),
            other => unreachable!("no streaming model {other}"),
        }
    }
}
