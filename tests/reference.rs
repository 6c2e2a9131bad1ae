//! The generated networks against reference values computed independently of nn.
//!
//! `tests/fixtures/reference/generate.py` evaluates the networks declared below with JAX in
//! float64 (its own forward pass written from the PyTorch definitions, gradients by JAX's
//! autodiff) and writes one JSON file per network: parameters, a batch of inputs and targets,
//! and the expected outputs, predictions, losses and gradients, per sample and for the batch's
//! mean loss. This test loads each file into the generated network and checks every number; it
//! needs no Python. Regenerating the fixtures is described in the script's header.
//!
//! Each declaration here must stay the one the generator models (each fixture records it under
//! `declaration`); the tensor names, shapes and order are checked against the fixture too.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, LossKind, Parameters, network};
use serde_json::Value;

/// Largest accepted error, measured as `|got − expected| / max(1, |expected|)`: absolute for
/// values up to 1 in magnitude, relative above (outputs and gradients here reach about 10).
///
/// Both sides evaluate the same float64 functions in a different order of operations
/// (nalgebra and matrixmultiply here, XLA there), so they differ by a few ulps per layer, around
/// 1e-15; the JSON numbers read back within an ulp. 1e-10 leaves room for that, and none for a
/// wrong formula.
const TOLERANCE: f64 = 1e-10;

network! {
    /// `mlp_mse.json`: a plain MLP on mean squared error.
    pub struct MlpMse {
        input: 3,
        h1: dense(5, tanh),
        h2: dense(4, sigmoid),
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// `mixed_soft_ce.json`: identity and projected residuals, a layer norm, soft targets.
    pub struct Mixed {
        input: 4,
        h1: dense(8, tanh),
        h2: dense(8, relu) + h1,
        h3: dense(6, gelu) + project(h1),
        norm: layer_norm,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// `multilabel_bce.json`: three independent labels, hard and soft.
    pub struct Multilabel {
        input: 4,
        a: dense(6, leaky_relu(0.2)),
        b: dense(6, softplus, bias = false),
        c: dense(4, silu) + input,
        d: dense(5, gelu(tanh)),
        e: dense(5, softmax),
        out: dense(3),
        loss: binary_cross_entropy,
    }
}

network! {
    /// `assorted_mse.json`: a projection from the input, a step layer (zero gradient), a layer
    /// norm with an activation, an epsilon and a residual, layers without bias.
    pub struct Assorted {
        input: 3,
        a: dense(6, relu) + project(input),
        s: dense(6, step) + a,
        n: layer_norm(silu, eps = 1e-3) + s,
        g: dense(5, gelu, bias = false),
        t: dense(5, sigmoid, bias = false) + g,
        out: dense(4, identity),
        loss: mse,
    }
}

network! {
    /// `wide_onehot_ce.json`: wider layers, a larger batch, one-hot targets.
    pub struct Wide {
        input: 7,
        h1: dense(16, gelu),
        h2: dense(16, relu) + h1,
        h3: layer_norm(eps = 1e-3),
        h4: dense(12, leaky_relu),
        out: dense(5),
        loss: softmax_cross_entropy,
    }
}

const MLP_MSE: &str = include_str!("fixtures/reference/mlp_mse.json");
const MIXED_SOFT_CE: &str = include_str!("fixtures/reference/mixed_soft_ce.json");
const MULTILABEL_BCE: &str = include_str!("fixtures/reference/multilabel_bce.json");
const ASSORTED_MSE: &str = include_str!("fixtures/reference/assorted_mse.json");
const WIDE_ONEHOT_CE: &str = include_str!("fixtures/reference/wide_onehot_ce.json");

#[test]
fn mlp_mse() {
    check_fixture::<MlpMse<f64>, 3, 2>(MLP_MSE);
}

#[test]
fn mixed_soft_ce() {
    check_fixture::<Mixed<f64>, 4, 3>(MIXED_SOFT_CE);
}

#[test]
fn multilabel_bce() {
    check_fixture::<Multilabel<f64>, 4, 3>(MULTILABEL_BCE);
}

#[test]
fn assorted_mse() {
    check_fixture::<Assorted<f64>, 3, 4>(ASSORTED_MSE);
}

#[test]
fn wide_onehot_ce() {
    check_fixture::<Wide<f64>, 7, 5>(WIDE_ONEHOT_CE);
}

#[test]
fn tensor_lists_match_the_fixtures() {
    check_tensor_list::<MlpMse<f64>>(MLP_MSE);
    check_tensor_list::<Mixed<f64>>(MIXED_SOFT_CE);
    check_tensor_list::<Multilabel<f64>>(MULTILABEL_BCE);
    check_tensor_list::<Assorted<f64>>(ASSORTED_MSE);
    check_tensor_list::<Wide<f64>>(WIDE_ONEHOT_CE);
}

/// Checks `N` against one fixture: forward, predict and loss per sample and per batch,
/// backward of sample 0, of every sample accumulated, and of the batch.
fn check_fixture<N, const IN: usize, const OUT: usize>(text: &str)
where
    N: nn_runtime::gradcheck::DualCheckable<IN, OUT>,
{
    let fixture: Value = serde_json::from_str(text).expect("fixture is valid JSON");
    let name = field(&fixture, "name")
        .as_str()
        .expect("name is a string")
        .to_owned();
    assert_eq!(N::LOSS, loss_kind(field(&fixture, "loss")), "{name}: loss");
    assert_eq!(
        number(field(&fixture, "input")),
        IN as f64,
        "{name}: input width"
    );
    assert_eq!(
        number(field(&fixture, "output")),
        OUT as f64,
        "{name}: output width"
    );

    let mut net = N::boxed_zeros();
    load_params(&mut *net, field(&fixture, "params"));
    let inputs = samples::<IN>(field(&fixture, "inputs"));
    let targets = samples::<OUT>(field(&fixture, "targets"));
    let outputs = field(&fixture, "outputs");
    let predictions = field(&fixture, "predictions");
    let losses = field(&fixture, "losses");
    let batch_grad = field(&fixture, "batch_grad");
    assert_eq!(inputs.len(), targets.len(), "{name}: inputs and targets");
    let n = inputs.len();
    let mut check = Checker {
        fixture: name.clone(),
        max_error: 0.0,
    };

    // One sample at a time.
    for (i, (x, y)) in inputs.iter().zip(&targets).enumerate() {
        check.vector(
            &net.forward(x),
            &outputs[i],
            &format!("forward, sample {i}"),
        );
        check.vector(
            &net.predict(x),
            &predictions[i],
            &format!("predict, sample {i}"),
        );
        check.scalar(
            net.loss(x, y),
            number(&losses[i]),
            &format!("loss, sample {i}"),
        );
    }
    let mut grad = N::boxed_zeros();
    let loss = net.backward(&inputs[0], &targets[0], &mut grad);
    check.scalar(
        loss,
        number(field(&fixture, "sample0_loss")),
        "backward loss, sample 0",
    );
    check.tensors(
        &*grad,
        field(&fixture, "sample0_grad"),
        "backward, sample 0",
    );

    // `backward` adds: the per-sample gradients summed, over the batch size, are the gradient
    // of the batch's mean loss.
    let mut sum = N::boxed_zeros();
    for (i, (x, y)) in inputs.iter().zip(&targets).enumerate() {
        let loss = net.backward(x, y, &mut sum);
        check.scalar(
            loss,
            number(&losses[i]),
            &format!("backward loss, sample {i}"),
        );
    }
    for index in 0..N::TENSORS.len() {
        sum.tensor_mut(index)
            .iter_mut()
            .for_each(|g| *g /= n as f64);
    }
    check.tensors(&*sum, batch_grad, "mean of per-sample backward");

    // The whole batch at once (samples as columns).
    let xb = batch(&inputs);
    let yb = batch(&targets);
    let forward = net.forward_batch(&xb);
    let predicted = net.predict_batch(&xb);
    assert_eq!(
        (forward.ncols(), predicted.ncols()),
        (n, n),
        "{name}: batch widths"
    );
    for i in 0..n {
        check.vector(
            &forward.column(i).into_owned(),
            &outputs[i],
            &format!("forward_batch, column {i}"),
        );
        check.vector(
            &predicted.column(i).into_owned(),
            &predictions[i],
            &format!("predict_batch, column {i}"),
        );
    }
    let batch_loss = number(field(&fixture, "batch_loss"));
    check.scalar(net.loss_batch(&xb, &yb), batch_loss, "loss_batch");
    let mut grad = N::boxed_zeros();
    check.scalar(
        net.backward_batch(&xb, &yb, &mut grad),
        batch_loss,
        "backward_batch loss",
    );
    check.tensors(&*grad, batch_grad, "backward_batch");
    // A second call adds the same gradient again.
    net.backward_batch(&xb, &yb, &mut grad);
    for index in 0..N::TENSORS.len() {
        grad.tensor_mut(index).iter_mut().for_each(|g| *g /= 2.0);
    }
    check.tensors(&*grad, batch_grad, "backward_batch twice, halved");

    // Forward mode (dual numbers, no backward code) against JAX, and exactly against backward.
    let sample0 = nn_runtime::gradcheck::gradient_dual(&*net, &inputs[0], &targets[0]);
    let sample0_grad = field(&fixture, "sample0_grad");
    check.tensors(&*sample0, sample0_grad, "forward mode, sample 0");
    let forward_batch = nn_runtime::gradcheck::gradient_dual_batch(&*net, &xb, &yb);
    check.tensors(&*forward_batch, batch_grad, "forward mode, batch");
    let exact = [
        nn_runtime::check_gradient_dual(&*net, &inputs[0], &targets[0]),
        nn_runtime::check_gradient_dual_batch(&*net, &xb, &yb),
    ];
    println!(
        "{name}: backward against forward mode, worst relative {:.2e}",
        exact[0].max_relative_error.max(exact[1].max_relative_error)
    );
    for result in exact {
        assert!(
            result.max_relative_error < 1e-12,
            "{name}: backward against forward mode {result:?}"
        );
    }

    println!(
        "{name}: max error {:.3e} (tolerance {TOLERANCE:e})",
        check.max_error
    );
}

/// The network's tensors, in order, are the fixture's: same names, same PyTorch shapes.
fn check_tensor_list<P: Parameters<f64>>(text: &str) {
    let fixture: Value = serde_json::from_str(text).expect("fixture is valid JSON");
    let expected: Vec<(String, Vec<usize>)> = field(&fixture, "tensors")
        .as_array()
        .expect("tensors is a list")
        .iter()
        .map(|t| {
            (
                field(t, "name").as_str().expect("a name").to_owned(),
                shape(field(t, "shape")),
            )
        })
        .collect();
    let actual: Vec<(String, Vec<usize>)> = P::TENSORS
        .iter()
        .map(|info| (info.name.to_owned(), info.shape.to_vec()))
        .collect();
    assert_eq!(actual, expected, "{}: TENSORS", field(&fixture, "name"));
}

/// Writes the fixture's `params` (keyed by tensor name, PyTorch layout, row-major nested lists)
/// into `net`, tensor by tensor through [`Parameters::TENSORS`].
fn load_params<P: Parameters<f64>>(net: &mut P, params: &Value) {
    let params = params.as_object().expect("params is an object");
    assert_eq!(
        params.len(),
        P::TENSORS.len(),
        "the fixture has {:?}",
        params.keys()
    );
    for (index, info) in P::TENSORS.iter().enumerate() {
        let value = params
            .get(info.name)
            .unwrap_or_else(|| panic!("no tensor {} in the fixture", info.name));
        net.tensor_mut(index)
            .copy_from_slice(&column_major(value, info.shape, info.name));
    }
}

/// A tensor given as nested lists in PyTorch layout (`[out][in]`, or a flat `[width]`), in
/// nalgebra's column-major order: element `(row, col)` of an `[out, in]` tensor at
/// `col * out + row`.
fn column_major(value: &Value, shape: &[usize], name: &str) -> Vec<f64> {
    let rows = value
        .as_array()
        .unwrap_or_else(|| panic!("{name} is not a list"));
    assert_eq!(rows.len(), shape[0], "{name}: first dimension");
    match *shape {
        [_] => rows.iter().map(number).collect(),
        [_, cols] => {
            let rows: Vec<&Vec<Value>> =
                rows.iter().map(|r| r.as_array().expect("a row")).collect();
            assert!(
                rows.iter().all(|r| r.len() == cols),
                "{name}: rows of {cols}"
            );
            (0..cols)
                .flat_map(|col| rows.iter().map(move |r| number(&r[col])))
                .collect()
        }
        _ => panic!("{name}: unexpected shape {shape:?}"),
    }
}

/// Compares values with the fixture's and keeps the largest error seen.
struct Checker {
    fixture: String,
    max_error: f64,
}

impl Checker {
    fn scalar(&mut self, got: f64, expected: f64, what: &str) {
        let error = (got - expected).abs() / expected.abs().max(1.0);
        assert!(
            error <= TOLERANCE,
            "{}: {what}: got {got:e}, expected {expected:e} (error {error:.3e})",
            self.fixture
        );
        self.max_error = self.max_error.max(error);
    }

    fn vector<const N: usize>(&mut self, got: &SVector<f64, N>, expected: &Value, what: &str) {
        let expected = vector::<N>(expected);
        for i in 0..N {
            self.scalar(got[i], expected[i], &format!("{what}, element {i}"));
        }
    }

    /// Every tensor of `got` (a gradient, in the network's own type) against the fixture's.
    fn tensors<P: Parameters<f64>>(&mut self, got: &P, expected: &Value, what: &str) {
        for (index, info) in P::TENSORS.iter().enumerate() {
            let value = field(expected, info.name);
            let expected = column_major(value, info.shape, info.name);
            let rows = info.shape[0];
            for (k, (&g, &e)) in got.tensor(index).iter().zip(&expected).enumerate() {
                let at = match info.shape.len() {
                    1 => format!("[{k}]"),
                    _ => format!("[{}, {}]", k % rows, k / rows),
                };
                self.scalar(g, e, &format!("{what}: {}{at}", info.name));
            }
        }
    }
}

fn field<'a>(value: &'a Value, key: &str) -> &'a Value {
    value
        .get(key)
        .unwrap_or_else(|| panic!("the fixture has no `{key}`"))
}

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("{value} is not a number"))
}

fn shape(value: &Value) -> Vec<usize> {
    let dims = value.as_array().expect("a shape is a list");
    dims.iter()
        .map(|d| d.as_u64().expect("a dimension") as usize)
        .collect()
}

fn loss_kind(value: &Value) -> LossKind {
    match value.as_str() {
        Some("mse") => LossKind::Mse,
        Some("binary_cross_entropy") => LossKind::BinaryCrossEntropy,
        Some("softmax_cross_entropy") => LossKind::SoftmaxCrossEntropy,
        _ => panic!("unknown loss {value}"),
    }
}

fn vector<const N: usize>(value: &Value) -> SVector<f64, N> {
    let list = value.as_array().expect("a vector is a list");
    assert_eq!(list.len(), N, "vector length");
    SVector::from_iterator(list.iter().map(number))
}

fn samples<const N: usize>(value: &Value) -> Vec<SVector<f64, N>> {
    value
        .as_array()
        .expect("samples are a list")
        .iter()
        .map(vector::<N>)
        .collect()
}

/// Samples as the columns of a batch.
fn batch<const N: usize>(samples: &[SVector<f64, N>]) -> Batch<f64, N> {
    let flat: Vec<f64> = samples.iter().flat_map(|s| s.iter().copied()).collect();
    Batch::<f64, N>::from_column_slice(&flat)
}
