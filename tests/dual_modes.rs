//! The input gradient of networks with dropout and batch norm, at inference: the generated
//! `input_gradient` and `input_gradient_batch` (the chain rule over the inference record:
//! dropout the identity, batch norm an affine map of its running statistics) against the
//! forward-mode derivative of `loss` along each input.
//!
//! `cargo test --test dual_modes -- --nocapture` prints the errors.

use nn_runtime::dual;
use nn_runtime::gradcheck::DUAL_RELATIVE_FLOOR;
use nn_runtime::nalgebra::SVector;
use nn_runtime::{Batch, Network, Parameters, TensorRole, Training, network, one_hot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Two f64 computations of the same derivative in a different order: rounding only.
const DUAL_TOLERANCE: f64 = 1e-12;

/// Samples per batch (and samples checked one by one).
const BATCH: usize = 6;

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
    /// A batch norm straight on the input, without activation, and a projected residual
    /// from the input around a dropout.
    pub struct InputNorm {
        input: 4,
        bn: batch_norm,
        drop: dropout(0.3),
        h: dense(3, gelu) + project(input),
        out: dense(2),
        loss: mse,
    }
}

network! {
    /// Batch norm over the channels of a signal (PyTorch's `BatchNorm1d` on `[N, C, L]`): on
    /// the input, and after a convolution with an activation.
    pub struct ChannelNorm {
        input: [2, 6],
        bn_in: batch_norm,
        c1: conv1d(3, kernel = 3, relu),
        bn: batch_norm(tanh),
        out: dense(2),
        loss: softmax_cross_entropy,
    }
}

/// Parameters from `U(−0.8, 0.8)`, running variances from `U(0.5, 1.5)`.
fn randomize<N: Parameters<f64>>(net: &mut N, rng: &mut StdRng) {
    for (index, info) in N::TENSORS.iter().enumerate() {
        let var = info.role == TensorRole::RunningVar;
        for value in net.tensor_mut(index) {
            *value = match var {
                true => rng.random_range(0.5..1.5),
                false => rng.random_range(-0.8..0.8),
            };
        }
    }
}

/// The worst relative error of `input_gradient` (each sample, and each column of
/// `input_gradient_batch` times the batch size) against `loss_along_input` along every input,
/// for network `N` with random parameters and running statistics; then again after a few
/// training steps (which move the running statistics and use dropout masks), to show that the
/// inference gradient does not depend on training mode's draws.
fn check_inference_input_gradient<N, const IN: usize, const OUT: usize>(
    seed: u64,
    target: impl Fn(&mut StdRng) -> SVector<f64, OUT>,
) -> f64
where
    N: Network<f64, IN, OUT> + dual::WithScalar<dual::Dual<f64>>,
    N::Net: Network<dual::Dual<f64>, IN, OUT>,
{
    let mut rng = StdRng::seed_from_u64(seed);
    let mut net = N::boxed_zeros();
    randomize(&mut *net, &mut rng);
    let xs: Vec<SVector<f64, IN>> = (0..BATCH)
        .map(|_| SVector::from_fn(|_, _| rng.random_range(-1.0..1.0)))
        .collect();
    let ys: Vec<SVector<f64, OUT>> = (0..BATCH).map(|_| target(&mut rng)).collect();
    let (xb, yb) = (Batch::from_columns(&xs), Batch::from_columns(&ys));

    let mut worst = 0.0f64;
    for trained in [false, true] {
        if trained {
            let mut grad = N::boxed_zeros();
            let mut training = Training::seeded(seed);
            for _ in 0..3 {
                net.train_batch(&xb, &yb, &mut grad, &mut training);
            }
        }
        let columns = net.input_gradient_batch(&xb, &yb);
        for i in 0..BATCH {
            let reverse = net.input_gradient(&xs[i], &ys[i]);
            let column = columns.column(i) * BATCH as f64;
            for j in 0..IN {
                let along = SVector::from_fn(|k, _| f64::from(u8::from(k == j)));
                let forward = dual::loss_along_input(&*net, &xs[i], &along, &ys[i]);
                assert_eq!(
                    forward.re,
                    net.loss(&xs[i], &ys[i]),
                    "the dual loss is the loss"
                );
                let forward = forward.derivative();
                for value in [reverse[j], column[j]] {
                    let relative = (value - forward).abs()
                        / value.abs().max(forward.abs()).max(DUAL_RELATIVE_FLOOR);
                    worst = worst.max(if relative.is_nan() {
                        f64::INFINITY
                    } else {
                        relative
                    });
                }
            }
        }
    }
    worst
}

#[test]
fn input_gradient_at_inference_matches_dual_numbers_exactly() {
    let rows = [
        (
            "regularized",
            check_inference_input_gradient::<Regularized<f64>, 5, 3>(1, |rng| {
                one_hot(rng.random_range(0..3))
            }),
        ),
        (
            "input_norm",
            check_inference_input_gradient::<InputNorm<f64>, 4, 2>(2, |rng| {
                SVector::from_fn(|_, _| rng.random_range(-1.0..1.0))
            }),
        ),
        (
            "channel_norm",
            check_inference_input_gradient::<ChannelNorm<f64>, 12, 2>(3, |rng| {
                one_hot(rng.random_range(0..2))
            }),
        ),
    ];
    for (name, worst) in &rows {
        println!("{name:<12} input gradient at inference: {worst:.2e}");
    }
    for (name, worst) in rows {
        assert!(
            worst < DUAL_TOLERANCE,
            "{name}: input gradient above {DUAL_TOLERANCE:e}: {worst:e}"
        );
    }
}
