//! Causal convolutions in sequence networks against reference values computed independently
//! of nn.
//!
//! `tests/fixtures/causal/generate.py` runs the networks declared below with JAX in float64: a
//! causal convolution as PyTorch's `nn.Conv1d(padding=(K-1)·D)` over the whole sequence with the
//! last `(K-1)·D` outputs dropped (`lax.conv_general_dilated`), the cells as a `lax.scan` over
//! PyTorch's equations, gradients by JAX's autodiff; on sequences of lengths 1, 6 and 13. It
//! writes one JSON file per network (parameters in PyTorch's names and layouts, inputs,
//! targets, outputs, losses, gradients) and `conv_gru.safetensors`, the parameters as a
//! PyTorch-named file. This test checks every number; it needs no Python.

use nn_runtime::nalgebra::SVector;
use nn_runtime::network;
use serde_json::Value;

network! {
    /// `conv_gru.json` and `conv_gru.safetensors`: issue 13's streaming model.
    pub struct ConvGru {
        input: seq(1),
        pre: dense(8, tanh),
        conv: conv1d(4, kernel = 3, dilation = 2, causal, tanh),
        r1: gru(8),
        out: dense(1),
        loss: mse,
    }
}

network! {
    /// `conv_classifier.json`: two causal convolutions with a residual, an LSTM, `last`.
    pub struct ConvClassifier {
        input: seq(3),
        c1: conv1d(4, kernel = 2, causal, tanh),
        c2: conv1d(4, kernel = 3, dilation = 3, causal, tanh) + c1,
        r1: lstm(5),
        last: last,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

#[path = "support/sequence_reference.rs"]
mod reference;

use reference::{assert_close, check, flat, steps};

/// The fixture `name` of `tests/fixtures/causal/`.
fn fixture(name: &str) -> Value {
    reference::fixture("causal", name)
}

#[test]
fn conv_gru_sequence_to_sequence_matches_jax() {
    check::<ConvGru<f64>, 1, 1>(
        "causal",
        "conv_gru",
        |y| y.iter().flat_map(|s| s.iter().copied()).collect(),
        |t| steps::<1>(t).into_boxed_slice(),
    );
}

#[test]
fn stacked_convs_with_residual_and_lstm_match_jax() {
    check::<ConvClassifier<f64>, 3, 3>(
        "causal",
        "conv_classifier",
        |y| y.as_slice().to_vec(),
        |t| Box::new(SVector::from_vec(flat(t))),
    );
}

/// The PyTorch-named safetensors file the script wrote loads without renaming and reproduces
/// the script's outputs.
#[test]
fn a_pytorch_named_file_loads_and_reproduces_the_reference() {
    let path = format!(
        "{}/tests/fixtures/causal/conv_gru.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let net: Box<ConvGru<f64>> = nn_runtime::io::load_boxed(&path).expect("loads");
    let fixture = fixture("conv_gru");
    for case in fixture["cases"].as_array().expect("cases") {
        let x = steps::<1>(&case["input"]);
        let y: Vec<f64> = net.forward(&x).iter().map(|y| y[0]).collect();
        assert_close("output from the file", &y, &flat(&case["output"]));
    }
}

nn_runtime::embed! {
    /// The script's conv + GRU model, compiled into the binary (checked against the declaration).
    static EMBEDDED: ConvGru<f64> = "fixtures/causal/conv_gru.safetensors";
}

/// The file embedded as a `static` reproduces the reference one step at a time: the state
/// carries the convolution's history and the cell's `h`.
#[test]
fn an_embedded_static_streams_the_reference() {
    let fixture = fixture("conv_gru");
    for case in fixture["cases"].as_array().expect("cases") {
        let x = steps::<1>(&case["input"]);
        let mut state = ConvGruState::default();
        let streamed: Vec<f64> = x
            .iter()
            .map(|x_t| EMBEDDED.step(&mut state, x_t)[0])
            .collect();
        assert_close("streamed output", &streamed, &flat(&case["output"]));
    }
}
