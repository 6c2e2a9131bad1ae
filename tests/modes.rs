//! Training and inference modes: dropout and batch norm.
//!
//! Gradients in training mode against central differences of the training-mode loss (the
//! dropout masks fixed by the `Training` seed, batch norm over the batch); the modes'
//! outputs, loss, gradients and running statistics against an independent numpy model
//! (`tests/fixtures/modes/generate.py`); a PyTorch-named weights file with
//! `num_batches_tracked`; `fit` reproducible by seed and resumable bit for bit; and a digits
//! run with dropout and batch norm that reaches the project's accuracy bar.

use nn_runtime::data::Dataset;
use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use nn_runtime::train::{self, Control, TrainConfig, TrainError};
use nn_runtime::{Batch, Network, Parameters, Training, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Largest accepted relative error of a gradient against central differences. A wrong
/// formula (a mask not applied backward, batch norm differentiated as if its statistics were
/// constants) errs by O(1); the five-point difference at `STEP` has rounding ~1e-12 and
/// truncation ~h⁴ = 1e-16, so 1e-6 leaves margin (gradients under `FLOOR` compare absolutely).
const GRADIENT_TOLERANCE: f64 = 1e-6;
/// The finite-difference step.
const STEP: f64 = 1e-4;
/// Gradients below this magnitude are compared absolutely against it.
const FLOOR: f64 = 1e-5;

network! {
    /// Dropout on the input and between layers, a batch norm with an activation, a residual
    /// around the batch norm's output.
    pub struct Regularized {
        input: 5,
        drop_in: dropout(0.2),
        h1: dense(6, tanh),
        bn: batch_norm(tanh, eps = 1e-3, momentum = 0.2),
        drop: dropout(0.5),
        h2: dense(6, sigmoid) + bn,
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// A batch norm straight on the input, without activation.
    pub struct InputNorm {
        input: 4,
        bn: batch_norm,
        out: dense(2),
        loss: mse,
    }
}

/// Every tensor uniform in (−0.8, 0.8), the running variances in (0.5, 1.5).
fn randomize<N: Parameters<f64>>(net: &mut N, seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    for (index, info) in N::TENSORS.iter().enumerate() {
        let var = info.role == nn_runtime::TensorRole::RunningVar;
        for value in net.tensor_mut(index) {
            *value = if var {
                rng.random_range(0.5..1.5)
            } else {
                rng.random_range(-0.8..0.8)
            };
        }
    }
}

fn batch<const N: usize>(columns: usize, seed: u64) -> Batch<f64, N> {
    let mut rng = StdRng::seed_from_u64(seed);
    Batch::from_fn(columns, |_, _| rng.random_range(-1.0..1.0))
}

/// The largest relative error between `train_batch`'s gradient and five-point central
/// differences of the training-mode loss, over every trainable scalar; the masks are the same
/// in every evaluation (a fresh `Training` with the same seed).
fn max_gradient_error<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &Batch<f64, IN>,
    y: &Batch<f64, OUT>,
    loss: impl Fn(&N, &mut Training) -> f64,
) -> f64
where
    N: Network<f64, IN, OUT>,
{
    const SEED: u64 = 11;
    let mut grad = N::boxed_zeros();
    let mut copy = net.boxed_copy();
    copy.train_batch(x, y, &mut grad, &mut Training::seeded(SEED));
    let mut probe = net.boxed_copy();
    let mut worst: f64 = 0.0;
    for (index, info) in N::TENSORS.iter().enumerate() {
        if !info.role.is_trained() {
            assert!(
                grad.tensor(index).iter().all(|&g| g == 0.0),
                "{}",
                info.name
            );
            continue;
        }
        for i in 0..info.len() {
            let at = |probe: &mut N, delta: f64| {
                let original = net.tensor(index)[i];
                probe.tensor_mut(index)[i] = original + delta;
                let value = loss(probe, &mut Training::seeded(SEED));
                probe.tensor_mut(index)[i] = original;
                value
            };
            let h = STEP;
            let numeric = (8.0 * (at(&mut probe, h) - at(&mut probe, -h))
                - (at(&mut probe, 2.0 * h) - at(&mut probe, -2.0 * h)))
                / (12.0 * h);
            let analytic = grad.tensor(index)[i];
            let scale = analytic.abs().max(numeric.abs()).max(FLOOR);
            worst = worst.max((analytic - numeric).abs() / scale);
        }
    }
    worst
}

#[test]
fn dropout_and_batch_norm_gradients_match_central_differences_in_training_mode() {
    let mut net = Regularized::<f64>::boxed_zeros();
    randomize(&mut *net, 1);
    let x = batch::<5>(7, 2);
    let labels = [0, 2, 1, 1, 0, 2, 2];
    let y = nn_runtime::one_hot_batch::<f64, 3>(&labels);
    let error = max_gradient_error(&*net, &x, &y, |net, training| {
        nn_runtime::loss::softmax_cross_entropy(&net.forward_batch_train(&x, training), &y)
    });
    eprintln!("Regularized: max relative gradient error {error:.1e}");
    assert!(error < GRADIENT_TOLERANCE, "max relative error {error:e}");

    let mut net = InputNorm::<f64>::boxed_zeros();
    randomize(&mut *net, 3);
    let (x, y) = (batch::<4>(5, 4), batch::<2>(5, 5));
    let error = max_gradient_error(&*net, &x, &y, |net, training| {
        nn_runtime::loss::mse(&net.forward_batch_train(&x, training), &y)
    });
    eprintln!("InputNorm: max relative gradient error {error:.1e}");
    assert!(error < GRADIENT_TOLERANCE, "max relative error {error:e}");
}

#[test]
fn train_batch_returns_the_training_mode_loss_and_moves_the_running_statistics() {
    let mut net = Regularized::<f64>::boxed_zeros();
    randomize(&mut *net, 1);
    let x = batch::<5>(6, 2);
    let y = nn_runtime::one_hot_batch::<f64, 3>(&[0, 1, 2, 0, 1, 2]);
    let expected = nn_runtime::loss::softmax_cross_entropy(
        &net.forward_batch_train(&x, &mut Training::seeded(5)),
        &y,
    );
    let before = net.bn.clone();
    let mut grad = Regularized::<f64>::boxed_zeros();
    let loss = net.train_batch(&x, &y, &mut grad, &mut Training::seeded(5));
    assert_eq!(loss, expected);
    assert_ne!(net.bn.running_mean, before.running_mean);
    assert_ne!(net.bn.running_var, before.running_var);
    assert_eq!((net.bn.weight, net.bn.bias), (before.weight, before.bias));
    // Inference is deterministic and differs from training mode.
    let eval = net.forward_batch(&x);
    assert_eq!(eval, net.forward_batch(&x));
    assert_ne!(eval, net.forward_batch_train(&x, &mut Training::seeded(5)));
}

#[test]
fn batch_norm_buffers_are_named_as_pytorch_and_not_trained() {
    let names: Vec<&str> = InputNorm::<f32>::TENSORS.iter().map(|t| t.name).collect();
    assert_eq!(
        names,
        [
            "bn.weight",
            "bn.bias",
            "bn.running_mean",
            "bn.running_var",
            "out.weight",
            "out.bias"
        ]
    );
    // Trainable scalars only: γ, β and the dense layer.
    assert_eq!(InputNorm::<f32>::PARAM_COUNT, 4 + 4 + 2 * 4 + 2);
    // A fresh network is PyTorch's fresh layer: γ = 1, β = 0, mean 0, variance 1.
    let net: Box<InputNorm<f32>> = nn_runtime::Init::new(0).build().expect("builds");
    assert_eq!(net.bn.weight.as_slice(), [1.0; 4]);
    assert_eq!(net.bn.running_var.as_slice(), [1.0; 4]);
    assert_eq!(net.bn.running_mean.as_slice(), [0.0; 4]);
    // An optimizer leaves the buffers alone, even with weight decay.
    let mut net = net;
    let mut grad = InputNorm::<f32>::boxed_zeros();
    grad.fill(1.0);
    let mut adam = Adam::new(AdamConfig {
        weight_decay: 0.5,
        ..AdamConfig::default()
    })
    .expect("valid");
    nn_runtime::Optimizer::step(&mut adam, &mut *net, &grad);
    assert_eq!(net.bn.running_var.as_slice(), [1.0; 4]);
    assert_eq!(net.bn.running_mean.as_slice(), [0.0; 4]);
    assert_ne!(net.bn.weight.as_slice(), [1.0; 4]);
}

/// Two classes of 5-feature points on either side of a plane, 64 samples.
fn blobs() -> Dataset<f32, 5, 3> {
    let mut rng = StdRng::seed_from_u64(9);
    let mut inputs = Vec::new();
    let mut labels = Vec::new();
    for i in 0..64 {
        let label = i % 3;
        let x: [f32; 5] = std::array::from_fn(|j| {
            rng.random_range(-1.0..1.0) + if j == label { 1.5 } else { 0.0 }
        });
        inputs.push(x);
        labels.push(label);
    }
    Dataset::classification(&inputs, &labels).expect("valid rows")
}

fn fit_regularized(seed: u64, epochs: usize) -> Box<Regularized<f32>> {
    let mut net: Box<Regularized<f32>> = nn_runtime::Init::new(1).build().expect("builds");
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.1,
        ..SgdConfig::default()
    })
    .expect("valid");
    let config = TrainConfig {
        epochs,
        batch_size: 8,
        seed,
        progress: false,
        ..TrainConfig::default()
    };
    train::fit(&mut *net, &mut sgd, &blobs(), None, &config).expect("trains");
    net
}

fn same_weights<N: Parameters<f32>>(a: &N, b: &N) -> bool {
    (0..N::TENSORS.len()).all(|i| a.tensor(i) == b.tensor(i))
}

#[test]
fn fit_with_dropout_is_reproducible_by_seed() {
    let (a, b, c) = (
        fit_regularized(3, 3),
        fit_regularized(3, 3),
        fit_regularized(4, 3),
    );
    assert!(same_weights(&*a, &*b));
    assert!(!same_weights(&*a, &*c));
}

/// Largest accepted `|got − expected| / max(1, |expected|)` against the numpy fixture: the same
/// float64 functions in another order of operations differ by a few ulps per layer (~1e-15);
/// 1e-10 leaves room for that and none for a wrong formula.
const REFERENCE_TOLERANCE: f64 = 1e-10;

const FIXTURE: &str = include_str!("fixtures/modes/regularized.json");

fn fixture() -> serde_json::Value {
    serde_json::from_str(FIXTURE).expect("valid JSON")
}

fn numbers(value: &serde_json::Value) -> Vec<f64> {
    match value {
        serde_json::Value::Array(items) => items.iter().flat_map(numbers).collect(),
        other => vec![other.as_f64().expect("a number")],
    }
}

/// `[samples, features]` rows as a batch, one sample per column.
fn rows<const N: usize>(value: &serde_json::Value) -> Batch<f64, N> {
    let flat = numbers(value);
    Batch::from_fn(flat.len() / N, |i, j| flat[j * N + i])
}

/// A PyTorch tensor (row-major) as the column-major storage of `Parameters::tensor`.
fn column_major(value: &serde_json::Value, shape: &[usize]) -> Vec<f64> {
    let flat = numbers(value);
    match shape {
        [rows, cols] => (0..rows * cols)
            .map(|k| flat[(k % rows) * cols + k / rows])
            .collect(),
        _ => flat,
    }
}

fn assert_close(got: &[f64], expected: &[f64], what: &str) {
    assert_eq!(got.len(), expected.len(), "{what}");
    for (i, (g, e)) in got.iter().zip(expected).enumerate() {
        assert!(
            (g - e).abs() / e.abs().max(1.0) < REFERENCE_TOLERANCE,
            "{what}[{i}]: {g} vs {e}"
        );
    }
}

fn fixture_network(fixture: &serde_json::Value) -> Box<Regularized<f64>> {
    let mut net = Regularized::<f64>::boxed_zeros();
    for (index, info) in Regularized::<f64>::TENSORS.iter().enumerate() {
        let values = column_major(&fixture["params"][info.name], info.shape);
        net.tensor_mut(index).copy_from_slice(&values);
    }
    net
}

#[test]
fn both_modes_match_the_numpy_reference() {
    let fixture = fixture();
    assert_eq!(
        <Regularized<f64> as Parameters<f64>>::ARCHITECTURE,
        fixture["declaration"]
    );
    let mut net = fixture_network(&fixture);
    let x = rows::<5>(&fixture["x"]);
    let labels: Vec<usize> = numbers(&fixture["labels"])
        .iter()
        .map(|&l| l as usize)
        .collect();
    let seed = fixture["seed"].as_u64().expect("a seed");

    // Inference: dropout is the identity, batch norm uses the running statistics.
    let eval = net.forward_batch(&x);
    assert_close(
        eval.as_slice(),
        rows::<3>(&fixture["eval_output"]).as_slice(),
        "eval output",
    );
    let eval_loss = net.loss_batch_labels(&x, &labels);
    assert_close(
        &[eval_loss],
        &[fixture["eval_loss"].as_f64().unwrap()],
        "eval loss",
    );
    // One sample at a time gives the same: inference does not couple the samples.
    let first = net.forward(&x.column(0).into_owned());
    assert_close(
        first.as_slice(),
        &eval.as_slice()[..3],
        "per-sample eval output",
    );

    // Training: the masks of `Training::seeded(seed)`, the batch's statistics.
    let train = net.forward_batch_train(&x, &mut Training::seeded(seed));
    assert_close(
        train.as_slice(),
        rows::<3>(&fixture["train_output"]).as_slice(),
        "train output",
    );
    let mut grad = Regularized::<f64>::boxed_zeros();
    let y = nn_runtime::one_hot_batch::<f64, 3>(&labels);
    let loss = net.train_batch(&x, &y, &mut grad, &mut Training::seeded(seed));
    assert_close(
        &[loss],
        &[fixture["train_loss"].as_f64().unwrap()],
        "train loss",
    );
    for (index, info) in Regularized::<f64>::TENSORS.iter().enumerate() {
        if info.role.is_trained() {
            let expected = column_major(&fixture["gradients"][info.name], info.shape);
            assert_close(grad.tensor(index), &expected, info.name);
        }
    }
    assert_close(
        net.bn.running_mean.as_slice(),
        &numbers(&fixture["running_mean"]),
        "running mean",
    );
    assert_close(
        net.bn.running_var.as_slice(),
        &numbers(&fixture["running_var"]),
        "running var",
    );
}

#[test]
fn a_pytorch_file_with_num_batches_tracked_loads_and_reproduces_eval_mode() {
    let fixture = fixture();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/modes/regularized.safetensors");
    let net: Box<Regularized<f64>> = nn_runtime::io::load_boxed(&path).expect("loads");
    let x = rows::<5>(&fixture["x"]);
    let eval = net.forward_batch(&x);
    assert_close(
        eval.as_slice(),
        rows::<3>(&fixture["eval_output"]).as_slice(),
        "eval output",
    );

    // What this crate writes: every tensor of `TENSORS`, buffers included, and no counter.
    let bytes = nn_runtime::io::to_bytes(&*net);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\"bn.running_var\"") && !text.contains("num_batches_tracked"));
    let mut again = Regularized::<f64>::boxed_zeros();
    nn_runtime::io::load_from_bytes(&mut *again, &bytes).expect("round trip");
    assert_eq!(again.forward_batch(&x), eval);
}

#[test]
fn a_run_with_dropout_and_batch_norm_resumes_bit_for_bit() {
    let data = blobs();
    let config = TrainConfig {
        epochs: 4,
        batch_size: 8,
        seed: 2,
        progress: false,
        ..TrainConfig::default()
    };
    let adam = || {
        Adam::new(AdamConfig {
            lr: 0.01,
            ..AdamConfig::default()
        })
        .expect("valid")
    };
    let init = || -> Box<Regularized<f32>> { nn_runtime::Init::new(5).build().expect("builds") };
    let mut straight = init();
    train::fit(&mut *straight, &mut adam(), &data, None, &config).expect("trains");

    let dir = std::env::temp_dir().join(format!("nn-modes-resume-{}", std::process::id()));
    let mut first = init();
    train::fit_with(
        &mut *first,
        &mut adam(),
        &data,
        None,
        &config,
        |stats, net, opt| {
            train::save_checkpoint(&dir, net, opt, stats.epoch).expect("saved");
            if stats.epoch == 2 {
                Control::Stop
            } else {
                Control::Continue
            }
        },
    )
    .expect("trains");
    let mut resumed = Regularized::<f32>::boxed_zeros();
    let mut optimizer = adam();
    let epoch = train::load_checkpoint(&dir, &mut *resumed, &mut optimizer).expect("loads");
    assert_eq!(
        resumed.bn.running_var, first.bn.running_var,
        "buffers are checkpointed"
    );
    train::resume_with(
        &mut *resumed,
        &mut optimizer,
        &data,
        None,
        &config,
        epoch,
        |_, _, _| Control::Continue,
    )
    .expect("trains");
    let _ = std::fs::remove_dir_all(&dir);
    let bits = |net: &Regularized<f32>| -> Vec<u32> {
        (0..Regularized::<f32>::TENSORS.len())
            .flat_map(|i| {
                net.tensor(i)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    assert_eq!(bits(&resumed), bits(&straight));
}

#[test]
fn fit_refuses_a_batch_of_one_sample_for_batch_norm() {
    // 64 samples in batches of 9: the last batch of each epoch holds one sample.
    let mut net: Box<Regularized<f32>> = nn_runtime::Init::new(1).build().expect("builds");
    let mut sgd = Sgd::new(SgdConfig::default()).expect("valid");
    let config = TrainConfig {
        batch_size: 9,
        progress: false,
        ..TrainConfig::default()
    };
    let error = train::fit(&mut *net, &mut sgd, &blobs(), None, &config).expect_err("refused");
    assert!(matches!(error, TrainError::Config(_)), "{error:?}");
    assert_eq!(
        error.to_string(),
        "`batch_size` of `TrainConfig` is 9 (with 64 samples, a batch holds one sample); use a \
         batch size of at least 2 that leaves no batch of one sample: batch norm normalizes over \
         each batch"
    );
}

#[test]
#[should_panic(expected = "batch norm in training needs at least 2 samples per batch, got 1")]
fn train_batch_refuses_a_batch_of_one_for_batch_norm() {
    let mut net = InputNorm::<f64>::boxed_zeros();
    let mut grad = InputNorm::<f64>::boxed_zeros();
    net.train_batch(
        &batch::<4>(1, 0),
        &batch::<2>(1, 1),
        &mut grad,
        &mut Training::seeded(0),
    );
}

network! {
    /// The digits model with dropout on the input and a batch norm in place of the layer norm.
    pub struct RegularizedDigits {
        input: 64,
        drop_in: dropout(0.1),
        h1: dense(128, relu),
        bn: batch_norm,
        drop: dropout(0.2),
        out: dense(10),
        loss: softmax_cross_entropy,
    }
}

/// The project's digits bar (see `tests/digits.rs`).
const DIGITS_ACCURACY_BAR: f64 = 0.97;

#[test]
fn digits_with_dropout_and_batch_norm_reaches_the_accuracy_bar() {
    use nn_runtime::data::Standardizer;
    let all = nn::digits::load::<f32>().expect("loads");
    let (mut test, mut train_set) = all.split(nn::digits::TEST_FRACTION, 0).expect("splits");
    let standardizer = Standardizer::fit(&train_set.inputs);
    standardizer.apply(&mut train_set.inputs);
    standardizer.apply(&mut test.inputs);
    let mut net: Box<RegularizedDigits<f32>> = nn_runtime::Init::new(0).build().expect("builds");
    let mut adam = Adam::new(AdamConfig {
        lr: 2e-3,
        ..AdamConfig::default()
    })
    .expect("valid");
    let config = TrainConfig {
        epochs: 30,
        batch_size: 32,
        seed: 0,
        progress: false,
        ..TrainConfig::default()
    };
    train::fit(&mut *net, &mut adam, &train_set, None, &config).expect("trains");
    let accuracy = train::evaluate(&*net, &test)
        .accuracy
        .expect("a classifier");
    eprintln!("digits, dropout and batch norm: test accuracy {accuracy:.4}");
    assert!(
        accuracy >= DIGITS_ACCURACY_BAR,
        "test accuracy {accuracy:.4}"
    );
}

nn_runtime::embed! {
    /// The PyTorch-named file, `num_batches_tracked` included, embedded at compile time.
    static EMBEDDED: Regularized<f64> = "fixtures/modes/regularized.safetensors";
}

#[test]
fn an_embedded_network_with_batch_norm_runs_in_inference_mode() {
    let fixture = fixture();
    let x = rows::<5>(&fixture["x"]);
    let expected = rows::<3>(&fixture["eval_output"]);
    assert_close(
        EMBEDDED.forward_batch(&x).as_slice(),
        expected.as_slice(),
        "embedded",
    );
    let first = EMBEDDED.forward(&x.column(0).into_owned());
    assert_close(
        first.as_slice(),
        &expected.as_slice()[..3],
        "embedded, one sample",
    );
}

// Only `allocations` is used here.
#[allow(dead_code)]
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn inference_of_one_sample_allocates_nothing() {
    let mut net = Regularized::<f64>::boxed_zeros();
    randomize(&mut *net, 1);
    let x = SVector::<f64, 5>::from_fn(|i, _| i as f64 * 0.1);
    let y = SVector::<f64, 3>::new(0.0, 1.0, 0.0);
    use counting_alloc::allocations as count;
    assert_eq!(count(|| _ = std::hint::black_box(net.forward(&x))), 0);
    assert_eq!(count(|| _ = std::hint::black_box(net.predict(&x))), 0);
    assert_eq!(count(|| _ = std::hint::black_box(net.loss(&x, &y))), 0);
    // The counter counts: the batch path allocates its matrices.
    let xb = batch::<5>(4, 1);
    assert!(count(|| _ = std::hint::black_box(net.forward_batch(&xb))) > 0);
}

/// The ONNX export is inference mode; `onnx_outputs.json` holds ONNX Runtime's outputs for the
/// fixture's batch (`tests/fixtures/modes/onnx_check.py`, run by hand). ONNX attributes are
/// `f32`, so the exported `eps = 1e-3` is off by 4.7e-11 relative: 1e-9 allows that and far
/// less than any wrong formula.
const ONNX_TOLERANCE: f64 = 1e-9;

#[test]
fn onnx_export_of_dropout_and_batch_norm_matches_onnx_runtime() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/modes");
    let net: Box<Regularized<f64>> =
        nn_runtime::io::load_boxed(dir.join("regularized.safetensors")).expect("loads");
    let path = dir.join("regularized.onnx");
    if std::env::var("NN_FIXTURES").is_ok_and(|v| v == "overwrite") {
        nn_runtime::onnx::save(&*net, &path).expect("writes");
    }
    let bytes = nn_runtime::onnx::to_bytes(&*net).expect("exports");
    assert!(
        bytes == std::fs::read(&path).expect("committed"),
        "regularized.onnx differs from the export; rerun with NN_FIXTURES=overwrite and the script"
    );
    let recorded: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("onnx_outputs.json")).expect("committed"),
    )
    .expect("valid JSON");
    let x = rows::<5>(&fixture()["x"]);
    let ours = net.forward_batch(&x);
    let theirs = rows::<3>(&recorded["output"]);
    for (a, b) in ours.iter().zip(theirs.iter()) {
        assert!(
            (a - b).abs() / b.abs().max(1.0) < ONNX_TOLERANCE,
            "{a} vs {b}"
        );
    }
    assert_eq!(ours.len(), theirs.len());
}
