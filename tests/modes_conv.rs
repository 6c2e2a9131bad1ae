//! Batch norm over channels: `batch_norm` after a `conv1d` (PyTorch's `nn.BatchNorm1d` on
//! `[N, C, L]`) and after a `conv2d` or on an image input (`nn.BatchNorm2d` on `[N, C, H, W]`).
//!
//! Gradients in training mode against central differences; outputs in both modes, losses,
//! gradients and updated running statistics against an independent JAX model
//! (`tests/fixtures/modes/generate_channels.py`); PyTorch-named weights files with
//! `num_batches_tracked`, loaded and embedded; per-sample inference without allocation; `fit`
//! reproducible by seed.

use nn_runtime::{Batch, Network, Parameters, Training, network};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
