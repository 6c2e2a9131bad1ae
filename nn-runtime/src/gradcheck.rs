//! Checks of the analytic gradient (the generated backward) in `f64`: numerically, by central
//! differences, and exactly, by forward-mode dual numbers.
//!
//! | | [`check_gradient`] | [`check_gradient_dual`] |
//! |---|---|---|
//! | derivative from | five-point central differences of the loss | dual numbers: one forward pass per [`TANGENTS`] parameters |
//! | error of the reference | truncation `O(h⁴)` + cancellation `ε·|L|/h`, ≈ 1e-12 absolute | rounding only, ≈ 1e-16 relative |
//! | agreement to expect | 1e-6 relative ([`RELATIVE_FLOOR`] below) | 1e-12 relative ([`DUAL_RELATIVE_FLOOR`] below) |
//! | kinks (`relu` at 0) | a step straddling a kink errs by O(1) | takes the branch backward takes: exact |
//! | needs | only `loss` (any function of the parameters) | the network over [`DualN`] (every `network!`) |
//! | cost per parameter | 4 forward passes | `1/TANGENTS` of an 8-tangent dual pass: ≈ 2.5 plain passes (measured, `examples/dual`) |
//!
//! Use the dual check to pin a backward pass exactly (a wrong term anywhere shows as O(1), a
//! right one as 1e-15); use central differences for code that is not generic over the
//! scalar, or to check the dual arithmetic itself, as the tests of this crate do.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::borrow::Borrow;

use nalgebra::SVector;

use crate::dual::{DualN, WithScalar, lift};
use crate::linalg::Batch;
use crate::network::{Network, Parameters};
use crate::recurrent::SequenceNetwork;

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
/// time ([`SequenceNetwork::backward`]).
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
/// [`SequenceNetwork::backward_batch`].
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

/// Parameters seeded per forward pass of [`check_gradient_dual`]: each pass carries this many
/// tangents, one per parameter. Eight amortizes the value's part of a pass over eight
/// derivatives while a dual scalar (72 bytes in `f64`) stays small.
pub const TANGENTS: usize = 8;

/// The scale below which [`check_gradient_dual`] compares gradients absolutely. Both sides
/// are exact up to rounding, but a derivative is a sum of products of O(1) terms (weights,
/// activations, a loss gradient), rounded at ≈ 1e-16 of those terms however small the sum is
/// (measured: 4e-16 absolute on a derivative of 2e-4 in the reference suite). Below 1e-3 a
/// relative 1e-12 would ask for less than that; with this floor a small derivative must match
/// to 1e-15 absolute.
pub const DUAL_RELATIVE_FLOOR: f64 = 1e-3;

/// The network and gradient check by dual numbers: `N` over `DualN<f64, TANGENTS>`.
pub trait DualCheckable<const IN: usize, const OUT: usize>:
    Network<f64, IN, OUT> + WithScalar<DualN<f64, TANGENTS>, Net = Self::Dual>
{
    /// `Self` over `DualN<f64, TANGENTS>`.
    type Dual: Network<DualN<f64, TANGENTS>, IN, OUT>;
}

impl<N, D, const IN: usize, const OUT: usize> DualCheckable<IN, OUT> for N
where
    N: Network<f64, IN, OUT> + WithScalar<DualN<f64, TANGENTS>, Net = D>,
    D: Network<DualN<f64, TANGENTS>, IN, OUT>,
{
    type Dual = D;
}

/// Checks the gradient of one sample's loss exactly: `backward`'s gradient against the
/// forward-mode derivative of the loss along every parameter ([`gradient_dual`]). No step
/// size: the two agree to rounding (≈ 1e-15 relative), so a test can ask for 1e-12.
///
/// Relative errors are taken against `max(|analytic|, |dual|, DUAL_RELATIVE_FLOOR)`. Costs
/// `PARAM_COUNT / TANGENTS` dual forward passes and a copy of the network in duals.
pub fn check_gradient_dual<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &SVector<f64, IN>,
    target: &SVector<f64, OUT>,
) -> GradientCheck
where
    N: DualCheckable<IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward(x, target, &mut grad);
    compare_exact(&*grad, &*gradient_dual(net, x, target))
}

/// [`check_gradient_dual`] for the mean loss of a batch and [`Network::backward_batch`].
pub fn check_gradient_dual_batch<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &Batch<f64, IN>,
    targets: &Batch<f64, OUT>,
) -> GradientCheck
where
    N: DualCheckable<IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward_batch(x, targets, &mut grad);
    compare_exact(&*grad, &*gradient_dual_batch(net, x, targets))
}

/// The gradient `∂L/∂θ` of one sample's loss by forward mode: the loss's derivative along
/// each parameter, [`TANGENTS`] parameters per dual forward pass. Exact up to rounding, and
/// independent of the generated backward (it runs only `loss`).
pub fn gradient_dual<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &SVector<f64, IN>,
    target: &SVector<f64, OUT>,
) -> Box<N>
where
    N: DualCheckable<IN, OUT>,
{
    let (x, target) = (crate::dual::constant(x), crate::dual::constant(target));
    forward_gradient(net, |dual| dual.loss(&x, &target))
}

/// [`gradient_dual`] of the mean loss of a batch.
pub fn gradient_dual_batch<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &Batch<f64, IN>,
    targets: &Batch<f64, OUT>,
) -> Box<N>
where
    N: DualCheckable<IN, OUT>,
{
    let (x, targets) = (x.map(DualN::constant), targets.map(DualN::constant));
    forward_gradient(net, |dual| dual.loss_batch(&x, &targets))
}

/// Seeds the parameters [`TANGENTS`] at a time (tangent `k` of the `k`-th parameter of the
/// pass) and reads each derivative from the loss's tangents.
fn forward_gradient<N>(net: &N, loss: impl Fn(&N::Net) -> DualN<f64, TANGENTS>) -> Box<N>
where
    N: Parameters<f64> + WithScalar<DualN<f64, TANGENTS>>,
{
    let mut dual = lift(net);
    let mut gradient = N::boxed_zeros();
    let parameters: Vec<(usize, usize)> = N::TENSORS
        .iter()
        .enumerate()
        .flat_map(|(t, info)| (0..info.len()).map(move |i| (t, i)))
        .collect();
    for pass in parameters.chunks(TANGENTS) {
        for (k, &(t, i)) in pass.iter().enumerate() {
            dual.tensor_mut(t)[i].eps[k] = 1.0;
        }
        let derivatives = loss(&dual).eps;
        for (k, &(t, i)) in pass.iter().enumerate() {
            dual.tensor_mut(t)[i].eps[k] = 0.0;
            gradient.tensor_mut(t)[i] = derivatives[k];
        }
    }
    gradient
}

/// A target over `f64` as constant duals (no tangent: the derivative is along the parameters
/// only). A vector or a batch, or one of them per step, as a sequence network's targets are.
pub trait ConstantDual {
    /// The target over `DualN<f64, TANGENTS>`.
    type Dual: ?Sized;
    /// An owned value that borrows as [`Self::Dual`] (a `Vec` for a target per step).
    type Owned: Borrow<Self::Dual>;

    /// Every value of the target as a dual with zero tangents.
    fn constant(&self) -> Self::Owned;
}

impl<const N: usize> ConstantDual for SVector<f64, N> {
    type Dual = SVector<DualN<f64, TANGENTS>, N>;
    type Owned = Self::Dual;

    fn constant(&self) -> Self::Owned {
        crate::dual::constant(self)
    }
}

impl<const N: usize> ConstantDual for Batch<f64, N> {
    type Dual = Batch<DualN<f64, TANGENTS>, N>;
    type Owned = Self::Dual;

    fn constant(&self) -> Self::Owned {
        self.map(DualN::constant)
    }
}

impl<V: ConstantDual<Owned = <V as ConstantDual>::Dual>> ConstantDual for [V]
where
    V::Dual: Sized,
{
    type Dual = [V::Dual];
    type Owned = Vec<V::Dual>;

    fn constant(&self) -> Self::Owned {
        self.iter().map(V::constant).collect()
    }
}

/// The sequence network and its gradient check by dual numbers: `N` over
/// `DualN<f64, TANGENTS>`, taking the same targets as constant duals.
pub trait DualSequenceCheckable<const IN: usize, const OUT: usize>:
    SequenceNetwork<f64, IN, OUT, Target: ConstantDual, BatchTarget: ConstantDual>
    + WithScalar<DualN<f64, TANGENTS>, Net = Self::Dual>
{
    /// `Self` over `DualN<f64, TANGENTS>`.
    type Dual: SequenceNetwork<
            DualN<f64, TANGENTS>,
            IN,
            OUT,
            Target = <Self::Target as ConstantDual>::Dual,
            BatchTarget = <Self::BatchTarget as ConstantDual>::Dual,
        >;
}

impl<N, D, const IN: usize, const OUT: usize> DualSequenceCheckable<IN, OUT> for N
where
    N: SequenceNetwork<f64, IN, OUT, Target: ConstantDual, BatchTarget: ConstantDual>
        + WithScalar<DualN<f64, TANGENTS>, Net = D>,
    D: SequenceNetwork<
            DualN<f64, TANGENTS>,
            IN,
            OUT,
            Target = <N::Target as ConstantDual>::Dual,
            BatchTarget = <N::BatchTarget as ConstantDual>::Dual,
        >,
{
    type Dual = D;
}

/// [`check_gradient_dual`] for one sequence of a sequence network: backpropagation through
/// time ([`SequenceNetwork::backward`]) against the forward-mode derivative of the sequence's
/// loss along every parameter, exact up to rounding.
pub fn check_sequence_gradient_dual<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &[SVector<f64, IN>],
    target: &N::Target,
) -> GradientCheck
where
    N: DualSequenceCheckable<IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward(x, target, &mut grad);
    let x: Vec<_> = x.iter().map(crate::dual::constant).collect();
    let target = target.constant();
    let exact = forward_gradient(net, |dual| dual.loss(&x, target.borrow()));
    compare_exact(&*grad, &*exact)
}

/// [`check_sequence_gradient_dual`] for the mean loss of a batch of equal-length sequences
/// and [`SequenceNetwork::backward_batch`].
pub fn check_sequence_gradient_dual_batch<N, const IN: usize, const OUT: usize>(
    net: &N,
    x: &[Batch<f64, IN>],
    target: &N::BatchTarget,
) -> GradientCheck
where
    N: DualSequenceCheckable<IN, OUT>,
{
    let mut grad = N::boxed_zeros();
    net.backward_batch(x, target, &mut grad);
    let x: Vec<_> = x.iter().map(ConstantDual::constant).collect();
    let target = target.constant();
    let exact = forward_gradient(net, |dual| dual.loss_batch(&x, target.borrow()));
    compare_exact(&*grad, &*exact)
}

/// The worst disagreement of two gradients both exact up to rounding.
fn compare_exact<N: Parameters<f64>>(analytic: &N, exact: &N) -> GradientCheck {
    let mut report = GradientCheck {
        max_relative_error: 0.0,
        max_absolute_error: 0.0,
        worst: None,
        checked: 0,
    };
    for (t, info) in N::TENSORS.iter().enumerate() {
        for (i, (&a, &e)) in analytic.tensor(t).iter().zip(exact.tensor(t)).enumerate() {
            let absolute = (a - e).abs();
            let relative = absolute / a.abs().max(e.abs()).max(DUAL_RELATIVE_FLOOR);
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
