//! The numerical check of the analytic gradient: central differences in `f64`.

use nalgebra::SVector;

use crate::linalg::Batch;
use crate::network::Network;

/// Step `h` of the five-point central difference
/// `f'(θ) ≈ (−f(θ+2h) + 8f(θ+h) − 8f(θ−h) + f(θ−2h)) / 12h`. Its truncation error is `O(h⁴)`
/// (about 1e-16 here) and its rounding error about `ε·|L|/h` ≈ 1e-12 in f64: two orders of
/// magnitude below the plain central difference at its best step. Small enough that a
/// ReLU kink is rarely within `2h` of a pre-activation.
pub const STEP: f64 = 1e-4;

/// The scale below which gradients are compared absolutely: relative error means nothing for a
/// true zero (a dead ReLU, a step unit), and the numeric derivative carries ~1e-12 of rounding
/// noise, so a gradient of 1e-7 can't be resolved to 1e-6 relative. With this floor, a
/// gradient smaller than 1e-5 must match to 1e-11 absolute for a relative error of 1e-6.
pub const RELATIVE_FLOOR: f64 = 1e-5;

/// The outcome of a gradient check: the worst disagreement between the analytic gradient
/// (from `backward`) and central differences of the loss.
#[derive(Clone, Debug, PartialEq)]
pub struct GradientCheck {
    /// `max |analytic − numeric| / max(|analytic|, |numeric|, RELATIVE_FLOOR)` over all
    /// parameters.
    pub max_relative_error: f64,
    /// `max |analytic − numeric|` over all parameters.
    pub max_absolute_error: f64,
    /// The tensor name and storage index of the worst relative error.
    pub worst: Option<(&'static str, usize)>,
    /// Number of parameters checked.
    pub checked: usize,
}

/// Checks the gradient of one sample's loss: every parameter of `net` is moved by `±STEP` and
/// `±2·STEP`, the loss re-evaluated, and the five-point central difference compared with
/// `backward`'s gradient.
///
/// `net` is restored exactly afterwards. Costs four forward passes per parameter: meant for
/// small networks in tests.
pub fn check_gradient<N, const IN: usize, const OUT: usize>(
    net: &mut N,
    x: &SVector<f64, IN>,
    target: &SVector<f64, OUT>,
) -> GradientCheck
where
    N: Network<f64, IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward(x, target, &mut grad);
    compare(net, &grad, |net| net.loss(x, target))
}

/// [`check_gradient`] for the mean loss of a batch and [`Network::backward_batch`].
pub fn check_gradient_batch<N, const IN: usize, const OUT: usize>(
    net: &mut N,
    x: &Batch<f64, IN>,
    targets: &Batch<f64, OUT>,
) -> GradientCheck
where
    N: Network<f64, IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward_batch(x, targets, &mut grad);
    compare(net, &grad, |net| net.loss_batch(x, targets))
}

/// [`check_gradient`] for one sequence of a sequence network and its backpropagation through
/// time ([`SequenceNetwork::backward`](crate::SequenceNetwork::backward)).
pub fn check_sequence_gradient<N, const IN: usize, const OUT: usize>(
    net: &mut N,
    x: &[SVector<f64, IN>],
    target: &N::Target,
) -> GradientCheck
where
    N: crate::SequenceNetwork<f64, IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward(x, target, &mut grad);
    compare(net, &grad, |net| net.loss(x, target))
}

/// [`check_sequence_gradient`] for the mean loss of a batch of equal-length sequences and
/// [`SequenceNetwork::backward_batch`](crate::SequenceNetwork::backward_batch).
pub fn check_sequence_gradient_batch<N, const IN: usize, const OUT: usize>(
    net: &mut N,
    x: &[Batch<f64, IN>],
    target: &N::BatchTarget,
) -> GradientCheck
where
    N: crate::SequenceNetwork<f64, IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward_batch(x, target, &mut grad);
    compare(net, &grad, |net| net.loss_batch(x, target))
}

fn compare<N: crate::Parameters<f64>>(
    net: &mut N,
    grad: &N,
    loss: impl Fn(&N) -> f64,
) -> GradientCheck {
    let mut report = GradientCheck {
        max_relative_error: 0.0,
        max_absolute_error: 0.0,
        worst: None,
        checked: 0,
    };
    for (t, info) in N::TENSORS.iter().enumerate() {
        for i in 0..info.len() {
            let original = net.tensor(t)[i];
            let mut at = |offset: f64| {
                net.tensor_mut(t)[i] = original + offset;
                loss(net)
            };
            let (plus2, plus, minus, minus2) =
                (at(2.0 * STEP), at(STEP), at(-STEP), at(-2.0 * STEP));
            net.tensor_mut(t)[i] = original;

            let numeric = (minus2 - plus2 + 8.0 * (plus - minus)) / (12.0 * STEP);
            let analytic = grad.tensor(t)[i];
            let absolute = (analytic - numeric).abs();
            let relative = absolute / analytic.abs().max(numeric.abs()).max(RELATIVE_FLOOR);
            report.max_absolute_error = report.max_absolute_error.max(absolute);
            if relative > report.max_relative_error || relative.is_nan() {
                report.max_relative_error = relative;
                report.worst = Some((info.name, i));
            }
            report.checked += 1;
        }
    }
    report
}
