//! A `#![no_std]` crate using nn's inference path, so that `cargo build -p nn-nostd` proves the
//! runtime builds without `std` (run it on its own: in a workspace build, another member turns
//! `std` on for everyone). It enables `alloc`, which its streaming sequence network needs;
//! `nn-bare/` goes further for vector networks: a binary that links with no allocator.

#![no_std]

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Network, Parameters};

nn_runtime::network! {
    /// A small classifier with every layer kind.
    pub struct Controller {
        input: 6,
        h1: dense(16, gelu),
        h2: dense(16, tanh) + h1,
        norm: layer_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

/// Class probabilities of one sample, through the `Network` trait: no heap, no std.
pub fn classify<N: Network<f32, 6, 3>>(net: &N, x: &SVector<f32, 6>) -> SVector<f32, 3> {
    net.predict(x)
}

/// One training step's gradient for one sample, without std: accumulates into `grad`.
pub fn gradient(
    net: &Controller,
    x: &SVector<f32, 6>,
    y: &SVector<f32, 3>,
    grad: &mut Controller,
) -> f32 {
    net.backward(x, y, grad)
}

/// A zeroed network built on the stack (`Parameters::zeros`).
pub fn untrained() -> Controller {
    Controller::zeros()
}

nn_runtime::network! {
    /// Dropout and batch norm, which `no_std` code runs in inference mode: dropout is the
    /// identity, batch norm uses its running statistics.
    pub struct Regularized {
        input: 6,
        drop: dropout(0.5),
        bn: batch_norm(relu),
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// A small 1-D convolutional classifier over 3 sensor channels of 32 steps.
    pub struct Sensor {
        input: [3, 32],
        c1: conv1d(8, kernel = 5, padding = same, relu),
        p: max_pool(2),
        c2: conv1d(12, kernel = 3, padding = same, relu) + project(p),
        g: global_avg_pool,
        out: dense(2),
        loss: softmax_cross_entropy,
    }
}

/// Class probabilities of one sample of a network with dropout and batch norm: no heap, no
/// std, no random generator.
pub fn classify_regularized(net: &Regularized, x: &SVector<f32, 6>) -> SVector<f32, 3> {
    net.predict(x)
}

nn_runtime::network! {
    /// A streaming audio-style model: a GRU then a per-step dense layer (sequence to sequence).
    pub struct Effect {
        input: seq(1),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

/// One sample of a stream through the recurrent model, the state carried by the caller: no
/// heap, no std.
pub fn process(net: &Effect, state: &mut EffectState, x: f32) -> f32 {
    net.step(state, &SVector::from([x]))[0]
}

/// A convolutional network's class probabilities, without std, from values laid out as
/// PyTorch's `[3, 32]` (channel by channel), read in place.
pub fn classify_signal(net: &Sensor, x: &[f32; 96]) -> SVector<f32, 2> {
    net.predict(nn_runtime::conv::as_sample(x))
}

nn_runtime::network! {
    /// Issue 13's streaming model: a causal convolution in front of a GRU, the convolution's
    /// last inputs carried in the state beside the cell's.
    pub struct ConvEffect {
        input: seq(1),
        pre: dense(8, tanh),
        conv: conv1d(4, kernel = 3, dilation = 2, causal, tanh),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

/// One sample of a stream through the convolution and the GRU: no heap, no std.
pub fn process_conv(net: &ConvEffect, state: &mut ConvEffectState, x: f32) -> f32 {
    net.step(state, &SVector::from([x]))[0]
}
