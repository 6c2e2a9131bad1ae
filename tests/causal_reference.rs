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
use nn_runtime::{SequenceNetwork, network};
use serde_json::Value;

/// Largest accepted `|got − expected| / max(1, |expected|)`: both sides evaluate the same
/// float64 functions in a different order (a few ulps per step and layer, ~1e-15), and the
/// JSON numbers read back within an ulp; a wrong equation errs by far more.
const TOLERANCE: f64 = 1e-10;

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

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/causal/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A nested JSON list, flattened row-major.
fn flat(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a float")],
        other => panic!("expected numbers, found {other}"),
    }
}

/// A row-major `[rows, cols]` tensor (or a vector) as nalgebra's column-major storage.
fn column_major(row_major: &[f64], shape: &[usize]) -> Vec<f64> {
    match shape {
        [rows, cols] => (0..rows * cols)
            .map(|k| row_major[(k % rows) * cols + k / rows])
            .collect(),
        _ => row_major.to_vec(),
    }
}

fn close(got: f64, expected: f64) -> bool {
    (got - expected).abs() / expected.abs().max(1.0) <= TOLERANCE
}

fn assert_close(what: &str, got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        assert!(close(g, e), "{what}[{i}]: got {g:e}, expected {e:e}");
    }
}

fn steps<const N: usize>(value: &Value) -> Vec<SVector<f64, N>> {
    value
        .as_array()
        .expect("a list of steps")
        .iter()
        .map(|step| SVector::from_vec(flat(step)))
        .collect()
}

/// Loads the fixture's parameters (checking names and shapes) and checks every case's output,
/// loss and gradient; `output` and `target` convert the JSON to the network's types.
fn check<N, const IN: usize, const OUT: usize>(
    name: &str,
    output: impl Fn(&N::Output) -> Vec<f64>,
    target: impl Fn(&Value) -> Box<N::Target>,
) where
    N: SequenceNetwork<f64, IN, OUT>,
{
    let fixture = fixture(name);
    let mut net = N::boxed_zeros();
    let tensors = fixture["tensors"].as_array().expect("tensors");
    assert_eq!(tensors.len(), N::TENSORS.len(), "{name}: tensor count");
    for (index, (info, tensor)) in N::TENSORS.iter().zip(tensors).enumerate() {
        assert_eq!(info.name, tensor["name"], "{name}: tensor {index}");
        let shape: Vec<usize> = flat(&tensor["shape"]).iter().map(|&d| d as usize).collect();
        assert_eq!(info.shape, shape, "{name}: shape of {}", info.name);
        let values = column_major(&flat(&fixture["params"][info.name]), info.shape);
        net.tensor_mut(index).copy_from_slice(&values);
    }
    for case in fixture["cases"].as_array().expect("cases") {
        let x = steps::<IN>(&case["input"]);
        let what = format!("{name}, length {}", x.len());
        let target = target(&case["target"]);
        assert_close(
            &format!("{what}: output"),
            &output(&net.forward(&x)),
            &flat(&case["output"]),
        );
        let mut grad = N::boxed_zeros();
        let loss = net.backward(&x, &target, &mut grad);
        let expected_loss = case["loss"].as_f64().expect("loss");
        assert!(
            close(loss, expected_loss),
            "{what}: loss {loss:e}, expected {expected_loss:e}"
        );
        for (index, info) in N::TENSORS.iter().enumerate() {
            let expected = column_major(&flat(&case["grad"][info.name]), info.shape);
            assert_close(
                &format!("{what}: ∂L/∂{}", info.name),
                grad.tensor(index),
                &expected,
            );
        }
    }
}

#[test]
fn conv_gru_sequence_to_sequence_matches_jax() {
    check::<ConvGru<f64>, 1, 1>(
        "conv_gru",
        |y| y.iter().flat_map(|s| s.iter().copied()).collect(),
        |t| steps::<1>(t).into_boxed_slice(),
    );
}

#[test]
fn stacked_convs_with_residual_and_lstm_match_jax() {
    check::<ConvClassifier<f64>, 3, 3>(
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
