//! What the sequence reference tests share (`tests/recurrent_reference.rs`,
//! `tests/causal_reference.rs`): reading a fixture written by a JAX script, and checking a
//! network's outputs, losses and gradients against it.

use nn_runtime::SequenceNetwork;
use nn_runtime::nalgebra::SVector;
use serde_json::Value;

/// Largest accepted `|got − expected| / max(1, |expected|)`: both sides evaluate the same
/// float64 functions in a different order (a few ulps per step and layer, ~1e-15), and the
/// JSON numbers read back within an ulp; a wrong equation errs by far more.
const TOLERANCE: f64 = 1e-10;

/// The fixture `name` of `tests/fixtures/<dir>/`.
pub fn fixture(dir: &str, name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/{dir}/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A nested JSON list, flattened row-major.
pub fn flat(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(flat).collect(),
        Value::Number(n) => vec![n.as_f64().expect("a float")],
        other => panic!("expected numbers, found {other}"),
    }
}

/// A row-major `[rows, cols]` tensor (or a vector) as nalgebra's column-major storage.
pub fn column_major(row_major: &[f64], shape: &[usize]) -> Vec<f64> {
    match shape {
        [rows, cols] => (0..rows * cols)
            .map(|k| row_major[(k % rows) * cols + k / rows])
            .collect(),
        _ => row_major.to_vec(),
    }
}

pub fn close(got: f64, expected: f64) -> bool {
    (got - expected).abs() / expected.abs().max(1.0) <= TOLERANCE
}

pub fn assert_close(what: &str, got: &[f64], expected: &[f64]) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (i, (&g, &e)) in got.iter().zip(expected).enumerate() {
        assert!(close(g, e), "{what}[{i}]: got {g:e}, expected {e:e}");
    }
}

pub fn steps<const N: usize>(value: &Value) -> Vec<SVector<f64, N>> {
    value
        .as_array()
        .expect("a list of steps")
        .iter()
        .map(|step| SVector::from_vec(flat(step)))
        .collect()
}

/// Loads the fixture's parameters (checking names and shapes) and checks every case's output,
/// loss and gradient; `output` and `target` convert the JSON to the network's types.
pub fn check<N, const IN: usize, const OUT: usize>(
    dir: &str,
    name: &str,
    output: impl Fn(&N::Output) -> Vec<f64>,
    target: impl Fn(&Value) -> Box<N::Target>,
) where
    N: SequenceNetwork<f64, IN, OUT>,
{
    let fixture = fixture(dir, name);
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
