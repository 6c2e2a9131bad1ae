//! Training and inference modes: dropout and batch norm.
//!
//! Gradients in training mode against central differences of the training-mode loss (the
//! dropout masks fixed by the `Training` seed, batch norm over the batch); the modes'
//! outputs, loss, gradients and running statistics against an independent numpy model
//! (`tests/fixtures/modes/generate.py`); a PyTorch-named weights file with
//! `num_batches_tracked`; `fit` reproducible by seed and resumable bit for bit; and a digits
//! run with dropout and batch norm that reaches the project's accuracy bar.

use nn_runtime::data::Dataset;
use nn_runtime::optim::{Adam, AdamConfig, Sgd, SgdConfig};
use nn_runtime::train::{self, TrainConfig};
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
    assert!(error < GRADIENT_TOLERANCE, "max relative error {error:e}");

    let mut net = InputNorm::<f64>::boxed_zeros();
    randomize(&mut *net, 3);
    let (x, y) = (batch::<4>(5, 4), batch::<2>(5, 5));
    let error = max_gradient_error(&*net, &x, &y, |net, training| {
        nn_runtime::loss::mse(&net.forward_batch_train(&x, training), &y)
    });
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
