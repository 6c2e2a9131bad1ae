//! Convolutional networks against reference values computed independently of nn.
//!
//! `tests/fixtures/conv/generate.py` evaluates the networks declared below with JAX in float64
//! (convolutions by `lax.conv_general_dilated`, pools by `lax.reduce_window`, gradients by
//! autodiff) and writes one JSON file per network: parameters in PyTorch's layout, a batch of
//! inputs and targets, the expected outputs, predictions, losses and gradients per sample and
//! for the batch's mean loss. It also writes `lenet_bce.safetensors`, a PyTorch-named state
//! dict, which must load here and reproduce the script's outputs. No Python is needed to run
//! this test.

use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Network, Parameters, network};
use serde_json::Value;

/// Largest accepted `|got − expected| / max(1, |expected|)`: both sides evaluate the same
/// float64 sums in different orders (direct loops or im2col GEMMs here, XLA there), a few ulps
/// per layer; 1e-10 leaves room for that and none for a wrong formula.
const TOLERANCE: f64 = 1e-10;

network! {
    /// `conv1d_ce.json`: stride, padding, `same` with dilation, an identity residual, a max
    /// pool, a 1×1 projection, the global pool; one-hot classes.
    pub struct Conv1dCe {
        input: [2, 16],
        c1: conv1d(4, kernel = 3, stride = 2, padding = 1, relu),
        c2: conv1d(4, kernel = 3, dilation = 2, padding = same, tanh) + c1,
        p: max_pool(2),
        c3: conv1d(6, kernel = 1, gelu) + project(p),
        g: global_avg_pool,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// `conv2d_mse.json`: pairs for every size, an average pool, an even kernel with `same`
    /// padding (one more zero after than before, as PyTorch), no bias.
    pub struct Conv2dMse {
        input: [2, 9, 8],
        c1: conv2d(3, kernel = (3, 2), stride = (2, 1), padding = (1, 0), dilation = (1, 2), silu),
        a: avg_pool(2),
        c2: conv2d(4, kernel = 2, padding = same, sigmoid, bias = false),
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// `lenet_bce.json` and `lenet_bce.safetensors`: a small LeNet, two binary labels.
    pub struct LenetBce {
        input: [1, 12, 12],
        c1: conv2d(4, kernel = 3, relu),
        p1: max_pool(2),
        c2: conv2d(6, kernel = 2, relu),
        p2: max_pool((2, 2), stride = 2),
        h: dense(8, tanh),
        out: dense(2),
        loss: binary_cross_entropy,
    }
}

#[test]
fn conv1d_ce() {
    check_fixture::<Conv1dCe<f64>, 32, 3>(include_str!("fixtures/conv/conv1d_ce.json"));
}

#[test]
fn conv2d_mse() {
    check_fixture::<Conv2dMse<f64>, 144, 2>(include_str!("fixtures/conv/conv2d_mse.json"));
}

#[test]
fn lenet_bce() {
    check_fixture::<LenetBce<f64>, 144, 2>(include_str!("fixtures/conv/lenet_bce.json"));
}

/// The state dict the script wrote with PyTorch's names and shapes loads, and the network then
/// gives the script's outputs.
#[test]
fn pytorch_state_dict_loads_and_reproduces_outputs() {
    let fixture: Value =
        serde_json::from_str(include_str!("fixtures/conv/lenet_bce.json")).expect("JSON");
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/conv/lenet_bce.safetensors"
    );
    let net: Box<LenetBce<f64>> = nn_runtime::io::load_boxed(path).expect("the file loads");
    let mut check = Checker::default();
    for (i, x) in samples::<144>(&fixture["inputs"]).iter().enumerate() {
        check.values(net.forward(x).as_slice(), &fixture["outputs"][i], "forward");
    }
    assert!(
        check.max_error <= TOLERANCE,
        "max error {}",
        check.max_error
    );
}

fn check_fixture<N, const IN: usize, const OUT: usize>(text: &str)
where
    N: Network<f64, IN, OUT>,
{
    let fixture: Value = serde_json::from_str(text).expect("fixture is valid JSON");
    let name = fixture["name"].as_str().expect("a name").to_owned();
    let tensors: Vec<(String, Vec<usize>)> = fixture["tensors"]
        .as_array()
        .expect("a tensor list")
        .iter()
        .map(|t| {
            (
                t["name"].as_str().expect("a name").to_owned(),
                shape(&t["shape"]),
            )
        })
        .collect();
    let declared: Vec<(String, Vec<usize>)> = N::TENSORS
        .iter()
        .map(|t| (t.name.to_owned(), t.shape.to_vec()))
        .collect();
    assert_eq!(declared, tensors, "{name}: tensor names and PyTorch shapes");

    let mut net = N::boxed_zeros();
    load_params(&mut *net, &fixture["params"]);
    let inputs = samples::<IN>(&fixture["inputs"]);
    let targets = samples::<OUT>(&fixture["targets"]);
    let mut check = Checker::default();
    for (i, (x, y)) in inputs.iter().zip(&targets).enumerate() {
        check.values(net.forward(x).as_slice(), &fixture["outputs"][i], "forward");
        check.values(
            net.predict(x).as_slice(),
            &fixture["predictions"][i],
            "predict",
        );
        check.scalar(net.loss(x, y), &fixture["losses"][i], "loss");
    }
    let mut grad = N::boxed_zeros();
    let loss = net.backward(&inputs[0], &targets[0], &mut grad);
    check.scalar(loss, &fixture["sample0_loss"], "backward loss, sample 0");
    check.tensors(&*grad, &fixture["sample0_grad"]);

    // The mean of the per-sample gradients is the batch gradient.
    let mut sum = N::boxed_zeros();
    for (x, y) in inputs.iter().zip(&targets) {
        net.backward(x, y, &mut sum);
    }
    for t in 0..N::TENSORS.len() {
        sum.tensor_mut(t)
            .iter_mut()
            .for_each(|g| *g /= inputs.len() as f64);
    }
    check.tensors(&*sum, &fixture["batch_grad"]);

    // The batch path: samples as columns.
    let (xb, yb) = (batch(&inputs), batch(&targets));
    let forward = net.forward_batch(&xb);
    for i in 0..inputs.len() {
        check.values(
            forward.column(i).as_slice(),
            &fixture["outputs"][i],
            "forward_batch",
        );
    }
    let mut grad = N::boxed_zeros();
    let loss = net.backward_batch(&xb, &yb, &mut grad);
    check.scalar(loss, &fixture["batch_loss"], "backward_batch loss");
    check.tensors(&*grad, &fixture["batch_grad"]);
    println!(
        "{name}: max error {:.3e} over {} numbers",
        check.max_error, check.count
    );
    assert!(
        check.max_error <= TOLERANCE,
        "{name}: max error {:e} above {TOLERANCE:e}",
        check.max_error
    );
}

/// Writes the fixture's tensors (nested lists in PyTorch's layout) into `net`: a 2-D weight is
/// transposed into nalgebra's column-major storage, a convolution's 3-D or 4-D weight is kept
/// row-major (its storage is PyTorch's, see `nn_runtime::conv`).
fn load_params<P: Parameters<f64>>(net: &mut P, params: &Value) {
    for (t, info) in P::TENSORS.iter().enumerate() {
        let value = storage_order(&params[info.name], info.shape);
        net.tensor_mut(t).copy_from_slice(&value);
    }
}

/// A tensor's nested lists in the order `Parameters::tensor` stores it.
fn storage_order(value: &Value, shape: &[usize]) -> Vec<f64> {
    let mut flat = Vec::new();
    flatten(value, &mut flat);
    assert_eq!(flat.len(), shape.iter().product::<usize>(), "tensor size");
    match *shape {
        [rows, cols] => (0..cols)
            .flat_map(|c| (0..rows).map(move |r| (r, c)))
            .map(|(r, c)| flat[r * cols + c])
            .collect(),
        _ => flat,
    }
}

/// Nested lists, row-major (C, then H, then W for a sample).
fn flatten(value: &Value, out: &mut Vec<f64>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| flatten(item, out)),
        number => out.push(number.as_f64().expect("a number")),
    }
}

fn shape(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .expect("a shape")
        .iter()
        .map(|d| d.as_u64().expect("a dimension") as usize)
        .collect()
}

fn samples<const N: usize>(value: &Value) -> Vec<SVector<f64, N>> {
    value
        .as_array()
        .expect("a list of samples")
        .iter()
        .map(|sample| {
            let mut flat = Vec::new();
            flatten(sample, &mut flat);
            SVector::from_column_slice(&flat)
        })
        .collect()
}

fn batch<const N: usize>(samples: &[SVector<f64, N>]) -> Batch<f64, N> {
    Batch::from_columns(samples)
}

/// Compares values with the fixture's and keeps the largest error.
#[derive(Default)]
struct Checker {
    max_error: f64,
    count: usize,
}

impl Checker {
    fn scalar(&mut self, got: f64, expected: &Value, what: &str) {
        let expected = expected.as_f64().expect("a number");
        let error = (got - expected).abs() / expected.abs().max(1.0);
        assert!(error.is_finite(), "{what}: {got} vs {expected}");
        self.max_error = self.max_error.max(error);
        self.count += 1;
    }

    fn values(&mut self, got: &[f64], expected: &Value, what: &str) {
        let mut flat = Vec::new();
        flatten(expected, &mut flat);
        assert_eq!(got.len(), flat.len(), "{what}: length");
        for (&g, e) in got.iter().zip(flat) {
            self.scalar(g, &Value::from(e), what);
        }
    }

    fn tensors<P: Parameters<f64>>(&mut self, got: &P, expected: &Value) {
        for (t, info) in P::TENSORS.iter().enumerate() {
            let expected = storage_order(&expected[info.name], info.shape);
            for (&g, e) in got.tensor(t).iter().zip(expected) {
                self.scalar(g, &Value::from(e), info.name);
            }
        }
    }
}

nn_runtime::embed! {
    /// The script's state dict, compiled into the binary (checked against `LenetBce<f64>`).
    static EMBEDDED: LenetBce<f64> = "fixtures/conv/lenet_bce.safetensors";
}

/// `embed!` builds the same network from the same file, bit for bit.
#[test]
fn embedded_state_dict_equals_the_loaded_one() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/conv/lenet_bce.safetensors"
    );
    let loaded: Box<LenetBce<f64>> = nn_runtime::io::load_boxed(path).expect("the file loads");
    for t in 0..LenetBce::<f64>::TENSORS.len() {
        assert_eq!(
            EMBEDDED.tensor(t),
            loaded.tensor(t),
            "{}",
            LenetBce::<f64>::TENSORS[t].name
        );
    }
}
