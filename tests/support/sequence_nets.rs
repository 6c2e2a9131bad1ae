//! The sequence networks that several test files check (`tests/recurrent.rs`,
//! `tests/dual_recurrent.rs`, `tests/sequence_input_gradient.rs`): every cell, stacked,
//! residuals over time, per-step dense and layer norm, `last`/`mean`, sequence to sequence.
#![allow(dead_code)] // each test file uses its own part

use nn_runtime::network;

network! {
    /// A GRU classifier: the sketch of issue 13, smaller.
    pub struct GruClassifier {
        input: seq(3),
        r1: gru(4),
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// Stacked cells with a residual over time and a mean over the steps.
    pub struct Stacked {
        input: seq(2),
        r1: rnn(4),
        r2: lstm(4) + r1,
        r3: rnn(3, relu),
        pool: mean,
        hidden: dense(5, tanh),
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// Per-step dense and layer norm, a projected residual from the input, sequence to sequence.
    pub struct Effect {
        input: seq(2),
        pre: dense(4, tanh),
        r1: gru(4) + pre,
        norm: layer_norm,
        r2: lstm(3) + project(input),
        out: dense(1),
        loss: mse,
    }
}

network! {
    /// Sequence to sequence with binary labels per step.
    pub struct Tagger {
        input: seq(2),
        r1: lstm(3),
        out: dense(2),
        loss: binary_cross_entropy,
    }
}
