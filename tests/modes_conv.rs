//! Batch norm over channels: `batch_norm` after a `conv1d` (PyTorch's `nn.BatchNorm1d` on
//! `[N, C, L]`) and after a `conv2d` or on an image input (`nn.BatchNorm2d` on `[N, C, H, W]`).
//!
//! Gradients in training mode against central differences; outputs in both modes, losses,
//! gradients and updated running statistics against an independent JAX model
//! (`tests/fixtures/modes/generate_channels.py`); PyTorch-named weights files with
//! `num_batches_tracked`, loaded and embedded; per-sample inference without allocation; `fit`
//! reproducible by seed.

use nn_runtime::data::Dataset;
use nn_runtime::nalgebra::SVector;
use nn_runtime::optim::{Sgd, SgdConfig};
use nn_runtime::train::{self, TrainConfig};
use nn_runtime::{Batch, Network, Parameters, Training, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

/// Largest accepted relative error of a gradient against five-point central differences
/// (rounding ~1e-12, truncation ~h⁴ = 1e-16 at `STEP`); a batch norm differentiated as if its
/// statistics were constants, or statistics taken per position, errs by O(1).
const GRADIENT_TOLERANCE: f64 = 1e-6;
const STEP: f64 = 1e-4;
/// Gradients below this magnitude are compared absolutely against it.
const FLOOR: f64 = 1e-5;

network! {
    /// `nn.BatchNorm1d(3)` on the `[N, 3, 5]` output of a convolution, with an activation.
    pub struct SignalNorm {
        input: [2, 7],
        c1: conv1d(3, kernel = 3),
        bn: batch_norm(tanh, eps = 1e-3, momentum = 0.2),
        c2: conv1d(2, kernel = 2, sigmoid),
        out: dense(3),
        loss: softmax_cross_entropy,
    }
}

network! {
    /// `nn.BatchNorm2d` on the image input and after a convolution without bias (a bias
    /// before a batch norm has no effect), whose output a residual carries past the next
    /// convolution. The padding keeps `bn0.bias` effective (without it, a shift of an input
    /// channel would shift `c1`'s channels uniformly, which `bn` removes).
    pub struct ImageNorm {
        input: [2, 5, 4],
        bn0: batch_norm,
        c1: conv2d(3, kernel = 2, padding = 1, bias = false),
        bn: batch_norm(tanh, momentum = 0.3),
        c2: conv2d(3, kernel = 3, padding = same, sigmoid) + bn,
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
/// differences of the training-mode loss, over every trainable scalar; the buffers' gradients
/// must stay 0.
fn max_gradient_error<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &Batch<f64, IN>,
    y: &Batch<f64, OUT>,
    loss: impl Fn(&N) -> f64,
) -> f64
where
    N: Network<f64, IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.boxed_copy()
        .train_batch(x, y, &mut grad, &mut Training::seeded(0));
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
            let mut at = |delta: f64| {
                let original = net.tensor(index)[i];
                probe.tensor_mut(index)[i] = original + delta;
                let value = loss(&probe);
                probe.tensor_mut(index)[i] = original;
                value
            };
            let h = STEP;
            let numeric = (8.0 * (at(h) - at(-h)) - (at(2.0 * h) - at(-2.0 * h))) / (12.0 * h);
            let analytic = grad.tensor(index)[i];
            let scale = analytic.abs().max(numeric.abs()).max(FLOOR);
            worst = worst.max((analytic - numeric).abs() / scale);
        }
    }
    worst
}

#[test]
fn channel_batch_norm_gradients_match_central_differences_in_training_mode() {
    let mut net = SignalNorm::<f64>::boxed_zeros();
    randomize(&mut *net, 1);
    let x = batch::<14>(4, 2);
    let y = nn_runtime::one_hot_batch::<f64, 3>(&[0, 2, 1, 1]);
    let error = max_gradient_error(&*net, &x, &y, |net| {
        let output = net.forward_batch_train(&x, &mut Training::seeded(0));
        nn_runtime::loss::softmax_cross_entropy(&output, &y)
    });
    eprintln!("SignalNorm: max relative gradient error {error:.1e}");
    assert!(error < GRADIENT_TOLERANCE, "max relative error {error:e}");

    let mut net = ImageNorm::<f64>::boxed_zeros();
    randomize(&mut *net, 3);
    let (x, y) = (batch::<40>(3, 4), batch::<2>(3, 5));
    let error = max_gradient_error(&*net, &x, &y, |net| {
        nn_runtime::loss::mse(&net.forward_batch_train(&x, &mut Training::seeded(0)), &y)
    });
    eprintln!("ImageNorm: max relative gradient error {error:.1e}");
    assert!(error < GRADIENT_TOLERANCE, "max relative error {error:e}");
}

#[test]
fn channel_tensors_are_named_and_shaped_as_pytorch() {
    let shapes: Vec<(&str, &[usize])> = ImageNorm::<f32>::TENSORS
        .iter()
        .map(|t| (t.name, t.shape))
        .collect();
    assert_eq!(
        shapes[..4],
        [
            ("bn0.weight", &[2][..]),
            ("bn0.bias", &[2]),
            ("bn0.running_mean", &[2]),
            ("bn0.running_var", &[2]),
        ]
    );
    assert_eq!(shapes[4], ("c1.weight", &[3, 2, 2, 2][..]));
    assert_eq!(
        shapes[5..9],
        [
            ("bn.weight", &[3][..]),
            ("bn.bias", &[3]),
            ("bn.running_mean", &[3]),
            ("bn.running_var", &[3]),
        ]
    );
    // A fresh network is PyTorch's fresh layer: γ = 1, β = 0, mean 0, variance 1.
    let net: Box<SignalNorm<f32>> = nn_runtime::Init::new(0).build().expect("builds");
    assert_eq!(net.bn.weight.as_slice(), [1.0; 3]);
    assert_eq!(net.bn.running_var.as_slice(), [1.0; 3]);
    assert_eq!(net.bn.running_mean.as_slice(), [0.0; 3]);
}

/// Largest accepted `|got − expected| / max(1, |expected|)` against the JAX fixtures: the same
/// float64 functions in another order of operations differ by a few ulps per layer (~1e-15).
const REFERENCE_TOLERANCE: f64 = 1e-10;

fn fixture_path(file: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/modes")
        .join(file)
}

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(fixture_path(&format!("{name}.json"))).expect("committed");
    serde_json::from_str(&text).expect("valid JSON")
}

fn numbers(value: &Value) -> Vec<f64> {
    match value {
        Value::Array(items) => items.iter().flat_map(numbers).collect(),
        other => vec![other.as_f64().expect("a number")],
    }
}

/// `[N, ...]` samples (each in PyTorch's C×H×W order) as a batch, one sample per column.
fn samples<const N: usize>(value: &Value) -> Batch<f64, N> {
    let flat = numbers(value);
    Batch::from_fn(flat.len() / N, |i, j| flat[j * N + i])
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

/// The fixture's network from its PyTorch-named file, and the gradient the script computed
/// (both loaded by `io`, which knows the layouts).
fn check_reference<N, const IN: usize, const OUT: usize>(
    name: &str,
    targets: impl Fn(&Value) -> Batch<f64, OUT>,
    loss: impl Fn(&Batch<f64, OUT>, &Batch<f64, OUT>) -> f64,
    forward_train: impl Fn(&N, &Batch<f64, IN>) -> Batch<f64, OUT>,
    running: impl Fn(&N, &str) -> (Vec<f64>, Vec<f64>),
) where
    N: Network<f64, IN, OUT>,
{
    let fixture = fixture(name);
    let path = fixture_path(&format!("{name}.safetensors"));
    let mut net: Box<N> = nn_runtime::io::load_boxed(&path).expect("loads");
    let expected_grad: Box<N> =
        nn_runtime::io::load_boxed(fixture_path(&format!("{name}_grad.safetensors")))
            .expect("loads");
    let x = samples::<IN>(&fixture["x"]);
    let y = targets(&fixture["targets"]);

    // Inference: the running statistics; per sample the same as per batch.
    let eval = net.forward_batch(&x);
    let expected = samples::<OUT>(&fixture["eval_output"]);
    assert_close(eval.as_slice(), expected.as_slice(), "eval output");
    let eval_loss = fixture["eval_loss"].as_f64().expect("a loss");
    assert_close(&[loss(&eval, &y)], &[eval_loss], "eval loss");
    for (j, column) in x.column_iter().enumerate() {
        let one = net.forward(&column.into_owned());
        assert_close(
            one.as_slice(),
            expected.column(j).as_slice(),
            "per-sample eval",
        );
    }

    // Training: the batch's statistics, the gradient through them, the running update.
    let train = forward_train(&net, &x);
    let expected = samples::<OUT>(&fixture["train_output"]);
    assert_close(train.as_slice(), expected.as_slice(), "train output");
    let mut grad = N::boxed_zeros();
    let train_loss = net.train_batch(&x, &y, &mut grad, &mut Training::seeded(0));
    let expected_loss = fixture["train_loss"].as_f64().expect("a loss");
    assert_close(&[train_loss], &[expected_loss], "train loss");
    for (index, info) in N::TENSORS.iter().enumerate() {
        assert_close(grad.tensor(index), expected_grad.tensor(index), info.name);
    }
    let recorded = fixture["running"].as_object().expect("batch norms");
    for (bn, stats) in recorded {
        let (mean, var) = running(&net, bn);
        assert_close(&mean, &numbers(&stats["running_mean"]), bn);
        assert_close(&var, &numbers(&stats["running_var"]), bn);
    }
}

fn running<const C: usize>(bn: &nn_runtime::BatchNorm<f64, C>) -> (Vec<f64>, Vec<f64>) {
    let (mean, var) = (&bn.running_mean, &bn.running_var);
    (mean.as_slice().to_vec(), var.as_slice().to_vec())
}

#[test]
fn signal_batch_norm_matches_the_jax_reference_in_both_modes() {
    let labels = |value: &Value| {
        let labels: Vec<usize> = numbers(value).iter().map(|&l| l as usize).collect();
        nn_runtime::one_hot_batch::<f64, 3>(&labels)
    };
    check_reference::<SignalNorm<f64>, 14, 3>(
        "signal_norm",
        labels,
        nn_runtime::loss::softmax_cross_entropy,
        |net, x| net.forward_batch_train(x, &mut Training::seeded(0)),
        |net, _| running(&net.bn),
    );
}

#[test]
fn image_batch_norm_matches_the_jax_reference_in_both_modes() {
    check_reference::<ImageNorm<f64>, 40, 2>(
        "image_norm",
        samples::<2>,
        nn_runtime::loss::mse,
        |net, x| net.forward_batch_train(x, &mut Training::seeded(0)),
        |net, name| match name {
            "bn0" => running(&net.bn0),
            _ => running(&net.bn),
        },
    );
}

#[test]
fn the_written_file_round_trips_without_the_counter() {
    let net: Box<ImageNorm<f64>> =
        nn_runtime::io::load_boxed(fixture_path("image_norm.safetensors")).expect("loads");
    let bytes = nn_runtime::io::to_bytes(&*net);
    let text = String::from_utf8_lossy(&bytes);
    assert!(text.contains("\"bn0.running_var\"") && !text.contains("num_batches_tracked"));
    let mut again = ImageNorm::<f64>::boxed_zeros();
    nn_runtime::io::load_from_bytes(&mut *again, &bytes).expect("round trip");
    let x = batch::<40>(3, 8);
    assert_eq!(again.forward_batch(&x), net.forward_batch(&x));
}

nn_runtime::embed! {
    /// The PyTorch-named file, `num_batches_tracked` included, embedded at compile time.
    static EMBEDDED: ImageNorm<f64> = "fixtures/modes/image_norm.safetensors";
}

#[test]
fn an_embedded_network_with_channel_batch_norm_runs_in_inference_mode() {
    let fixture = fixture("image_norm");
    let x = samples::<40>(&fixture["x"]);
    let expected = samples::<2>(&fixture["eval_output"]);
    assert_close(
        EMBEDDED.forward_batch(&x).as_slice(),
        expected.as_slice(),
        "embedded",
    );
    let first = EMBEDDED.forward(&x.column(0).into_owned());
    assert_close(
        first.as_slice(),
        &expected.as_slice()[..2],
        "embedded, one sample",
    );
}

// Only `allocations` is used here.
#[allow(dead_code)]
#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[test]
fn inference_of_one_feature_map_allocates_nothing() {
    let mut net = ImageNorm::<f64>::boxed_zeros();
    randomize(&mut *net, 1);
    let x = SVector::<f64, 40>::from_fn(|i, _| i as f64 * 0.05 - 1.0);
    let y = SVector::<f64, 2>::new(0.5, -0.5);
    use counting_alloc::allocations as count;
    assert_eq!(count(|| _ = std::hint::black_box(net.forward(&x))), 0);
    assert_eq!(count(|| _ = std::hint::black_box(net.predict(&x))), 0);
    assert_eq!(count(|| _ = std::hint::black_box(net.loss(&x, &y))), 0);
    let xb = batch::<40>(4, 1);
    assert!(count(|| _ = std::hint::black_box(net.forward_batch(&xb))) > 0);
}

/// 96 signals of class 0, 1 or 2: a bump at the start, middle or end of channel 0 on noise.
fn bumps() -> Dataset<f32, 14, 3> {
    let mut rng = StdRng::seed_from_u64(9);
    let (mut inputs, mut labels) = (Vec::new(), Vec::new());
    for i in 0..96 {
        let label = i % 3;
        let x: [f32; 14] = std::array::from_fn(|k| {
            let bump = k < 7 && (k / 3).min(2) == label && k != 6;
            rng.random_range(-0.5..0.5) + if bump { 2.0 } else { 0.0 }
        });
        inputs.push(x);
        labels.push(label);
    }
    Dataset::classification(&inputs, &labels).expect("valid rows")
}

fn fit_signal(seed: u64) -> (Box<SignalNorm<f32>>, f64) {
    let mut net: Box<SignalNorm<f32>> = nn_runtime::Init::new(1).build().expect("builds");
    let mut sgd = Sgd::new(SgdConfig {
        lr: 0.1,
        ..SgdConfig::default()
    })
    .expect("valid");
    let config = TrainConfig {
        epochs: 30,
        batch_size: 8,
        seed,
        progress: false,
        ..TrainConfig::default()
    };
    let data = bumps();
    train::fit(&mut *net, &mut sgd, &data, None, &config).expect("trains");
    let accuracy = train::evaluate(&*net, &data)
        .accuracy
        .expect("a classifier");
    (net, accuracy)
}

#[test]
fn fit_with_channel_batch_norm_is_reproducible_by_seed_and_learns() {
    let ((a, accuracy), (b, _), (c, _)) = (fit_signal(3), fit_signal(3), fit_signal(4));
    let same = |x: &SignalNorm<f32>, y: &SignalNorm<f32>| {
        (0..SignalNorm::<f32>::TENSORS.len()).all(|i| x.tensor(i) == y.tensor(i))
    };
    assert!(same(&a, &b) && !same(&a, &c));
    assert_ne!(
        a.bn.running_var.as_slice(),
        [1.0; 3],
        "training moved the statistics"
    );
    eprintln!("bumps, conv1d + batch norm: training accuracy {accuracy:.4}");
    assert!(accuracy >= 0.95, "training accuracy {accuracy:.4}");
}

/// Channel batch norms export as `BatchNormalization` on the `[batch, C, H, W]` tensors (the
/// input reshaped, a convolution's output); `tests/onnx.rs` checks such networks' outputs
/// against ONNX Runtime (`Cnn`, `Pools`, `Signal`). A sequence network cannot reach the export
/// (it is no `Network`); `nn-runtime`'s `onnx::tests` check its layers' refusal by name.
#[test]
fn onnx_export_writes_channel_batch_norm() {
    let mut net = ImageNorm::<f64>::boxed_zeros();
    randomize(&mut *net, 8);
    let bytes = nn_runtime::onnx::to_bytes(&*net).expect("exports");
    let count = |needle: &str| {
        bytes
            .windows(needle.len())
            .filter(|window| *window == needle.as_bytes())
            .count()
    };
    // Each op type appears once per node as its `op_type` string.
    assert_eq!(count("BatchNormalization"), 2);
    assert_eq!(count("Conv"), 2);
    assert_eq!(
        count("Reshape"),
        1,
        "the input to `[batch, 2, 5, 4]`, for `bn0`"
    );
    assert_eq!(count("Flatten"), 1, "before `out`");
    let signal = nn_runtime::onnx::to_bytes(&*SignalNorm::<f32>::boxed_zeros()).expect("exports");
    assert!(signal.windows(18).any(|w| w == b"BatchNormalization"));
}

#[test]
fn one_feature_map_is_batch_enough() {
    // Each channel's statistics run over the 5 positions of even a single sample, as in
    // PyTorch's BatchNorm1d on [1, C, L]: `train_batch` and `fit` accept batches of one.
    let mut net = SignalNorm::<f64>::boxed_zeros();
    randomize(&mut *net, 6);
    let x = batch::<14>(1, 7);
    let y = nn_runtime::one_hot_batch::<f64, 3>(&[1]);
    let mut grad = SignalNorm::<f64>::boxed_zeros();
    let loss = net.train_batch(&x, &y, &mut grad, &mut Training::seeded(0));
    assert!(loss.is_finite() && grad.bn.weight.iter().all(|g| g.is_finite()));
    let error = max_gradient_error(&*net, &x, &y, |net| {
        let output = net.forward_batch_train(&x, &mut Training::seeded(0));
        nn_runtime::loss::softmax_cross_entropy(&output, &y)
    });
    assert!(error < GRADIENT_TOLERANCE, "max relative error {error:e}");

    let mut net: Box<SignalNorm<f32>> = nn_runtime::Init::new(1).build().expect("builds");
    let mut sgd = Sgd::new(SgdConfig::default()).expect("valid");
    let config = TrainConfig {
        epochs: 1,
        batch_size: 1,
        progress: false,
        ..TrainConfig::default()
    };
    train::fit(&mut *net, &mut sgd, &bumps(), None, &config).expect("trains");
}
