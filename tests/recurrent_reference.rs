//! Sequence networks against reference values computed independently of nn.
//!
//! `tests/fixtures/recurrent/generate.py` runs the networks declared below with JAX in float64
//! (its own `lax.scan` over PyTorch's equations for `nn.RNN`, `nn.GRU`, `nn.LSTM`; gradients by
//! JAX's autodiff through the scan) on sequences of lengths 1, 5 and 9, and writes one JSON file
//! per network: parameters in PyTorch's names and layouts, inputs, targets, outputs, losses and
//! gradients. It also writes `gru_classifier.safetensors`, the parameters as a PyTorch-named
//! file. This test checks every number; it needs no Python.

use nn_runtime::nalgebra::SVector;
use nn_runtime::network;
use serde_json::Value;

network! {
    /// `rnn_regressor.json`.
    pub struct RnnRegressor {
        input: seq(3),
        r1: rnn(5),
        r2: rnn(5) + r1,
        last: last,
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// `gru_classifier.json` and `gru_classifier.safetensors`.
    pub struct GruClassifier {
        input: seq(3),
        r1: gru(4),
        r2: gru(4) + r1,
        pool: mean,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// `lstm_effect.json`: sequence to sequence.
    pub struct LstmEffect {
        input: seq(2),
        pre: dense(3, tanh),
        r1: lstm(4),
        norm: layer_norm,
        out: dense(1),
        loss: mse,
    }
}

#[path = "support/sequence_reference.rs"]
mod reference;

use reference::{assert_close, check, flat, steps};

/// The fixture `name` of `tests/fixtures/recurrent/`.
fn fixture(name: &str) -> Value {
    reference::fixture("recurrent", name)
}

#[test]
fn rnn_regressor_matches_jax() {
    check::<RnnRegressor<f64>, 3, 2>(
        "recurrent",
        "rnn_regressor",
        |y| y.as_slice().to_vec(),
        |t| Box::new(SVector::from_vec(flat(t))),
    );
}

#[test]
fn gru_classifier_matches_jax() {
    check::<GruClassifier<f64>, 3, 3>(
        "recurrent",
        "gru_classifier",
        |y| y.as_slice().to_vec(),
        |t| Box::new(SVector::from_vec(flat(t))),
    );
}

#[test]
fn lstm_sequence_to_sequence_matches_jax() {
    check::<LstmEffect<f64>, 2, 1>(
        "recurrent",
        "lstm_effect",
        |y| y.iter().flat_map(|s| s.iter().copied()).collect(),
        |t| steps::<1>(t).into_boxed_slice(),
    );
}

/// The PyTorch-named safetensors file the script wrote loads without renaming and reproduces
/// the script's outputs.
#[test]
fn a_pytorch_named_file_loads_and_reproduces_the_reference() {
    let path = format!(
        "{}/tests/fixtures/recurrent/gru_classifier.safetensors",
        env!("CARGO_MANIFEST_DIR")
    );
    let net: Box<GruClassifier<f64>> = nn_runtime::io::load_boxed(&path).expect("loads");
    let fixture = fixture("gru_classifier");
    for case in fixture["cases"].as_array().expect("cases") {
        let x = steps::<3>(&case["input"]);
        assert_close(
            "output from the file",
            net.forward(&x).as_slice(),
            &flat(&case["output"]),
        );
    }
}

nn_runtime::embed! {
    /// The script's GRU classifier, compiled into the binary (checked against the declaration).
    static EMBEDDED: GruClassifier<f64> = "fixtures/recurrent/gru_classifier.safetensors";
}

/// The file embedded as a `static` reproduces the reference, over a whole sequence and one
/// step at a time (one static network, the state owned by the caller).
#[test]
fn an_embedded_static_reproduces_the_reference_and_streams() {
    let fixture = fixture("gru_classifier");
    for case in fixture["cases"].as_array().expect("cases") {
        let x = steps::<3>(&case["input"]);
        assert_close(
            "embedded output",
            EMBEDDED.forward(&x).as_slice(),
            &flat(&case["output"]),
        );
        let mut state = GruClassifierState::default();
        let streamed = x.iter().map(|x_t| EMBEDDED.step(&mut state, x_t)).last();
        assert_close(
            "streamed output",
            streamed.expect("a step").as_slice(),
            &flat(&case["output"]),
        );
    }
}
