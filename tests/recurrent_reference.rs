//! Sequence networks against reference values computed independently of nn.
//!
//! `tests/fixtures/recurrent/generate.py` runs the networks declared below with JAX in float64
//! (its own `lax.scan` over PyTorch's equations for `nn.RNN`, `nn.GRU`, `nn.LSTM`; gradients by
//! JAX's autodiff through the scan) on sequences of lengths 1, 5 and 9, and writes one JSON file
//! per network: parameters in PyTorch's names and layouts, inputs, targets, outputs, losses and
//! gradients. It also writes `gru_classifier.safetensors`, the parameters as a PyTorch-named
//! file. This test checks every number; it needs no Python.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{SequenceNetwork, network};
use serde_json::Value;

/// Largest accepted `|got − expected| / max(1, |expected|)`: both sides evaluate the same
/// float64 functions in a different order (a few ulps per step and layer, ~1e-15), and the
/// JSON numbers read back within an ulp; a wrong equation errs by far more.
const TOLERANCE: f64 = 1e-10;

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

fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/recurrent/{name}.json",
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
fn rnn_regressor_matches_jax() {
    check::<RnnRegressor<f64>, 3, 2>(
        "rnn_regressor",
        |y| y.as_slice().to_vec(),
        |t| Box::new(SVector::from_vec(flat(t))),
    );
}

#[test]
fn gru_classifier_matches_jax() {
    check::<GruClassifier<f64>, 3, 3>(
        "gru_classifier",
        |y| y.as_slice().to_vec(),
        |t| Box::new(SVector::from_vec(flat(t))),
    );
}

#[test]
fn lstm_sequence_to_sequence_matches_jax() {
    check::<LstmEffect<f64>, 2, 1>(
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
