//! The numerical check of the analytic gradient: central differences in `f64`.

use nalgebra::SVector;

use crate::linalg::Batch;
use crate::network::Network;

/// Step of the central difference. In f64 its truncation error (`~h²`) and rounding error
/// (`~ε/h`) balance near `1e-5`, giving about 10 correct digits.
pub const STEP: f64 = 1e-5;

/// Gradients smaller than this are compared absolutely: relative error is meaningless for a
/// true zero (a dead ReLU, a step unit), and finite differences can't resolve below ~1e-10.
pub const RELATIVE_FLOOR: f64 = 1e-6;

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

/// Checks the gradient of one sample's loss: every parameter of `net` is moved by `±STEP`,
/// the loss re-evaluated, and `(L(θ+h) − L(θ−h)) / 2h` compared with `backward`'s gradient.
///
/// `net` is restored exactly afterwards. Costs two forward passes per parameter: meant for
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

fn compare<N, const IN: usize, const OUT: usize>(
    net: &mut N,
    grad: &N,
    loss: impl Fn(&N) -> f64,
) -> GradientCheck
where
    N: Network<f64, IN, OUT>,
{
    let mut report = GradientCheck {
        max_relative_error: 0.0,
        max_absolute_error: 0.0,
        worst: None,
        checked: 0,
    };
    for (t, info) in N::TENSORS.iter().enumerate() {
        for i in 0..info.len() {
            let original = net.tensor(t)[i];
            net.tensor_mut(t)[i] = original + STEP;
            let plus = loss(net);
            net.tensor_mut(t)[i] = original - STEP;
            let minus = loss(net);
            net.tensor_mut(t)[i] = original;

            let numeric = (plus - minus) / (2.0 * STEP);
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
