//! Losses on a network's output, and their gradients with respect to that output.
//!
//! Every loss is a mean over the samples of a batch (the columns), so the loss of a batch of one
//! equals the per-sample loss, and its gradient carries the `1 / batch` factor: summing a
//! batch's weight gradients then gives the gradient of the mean loss. The conventions are
//! PyTorch's (`reduction='mean'`), so losses and gradients compare one to one.
//!
//! A batch needs at least one sample: every loss and gradient panics on a batch of no columns
//! (whose mean would be `0 / 0`). Every loss and gradient is finite for finite inputs wherever
//! the exact value is: logits far apart, saturated probabilities and sums of large losses
//! neither overflow nor give NaN.

use nalgebra::allocator::Allocator;
use nalgebra::storage::Storage;
use nalgebra::{DefaultAllocator, Dim, OMatrix, SVector, Vector};

use crate::Real;
use crate::activation::{logistic, softplus_scalar};

type Mat<T, R, C> = OMatrix<T, R, C>;

/// The loss a network is trained on, as declared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LossKind {
    /// [`mse`]: mean squared error, the element mean `mean((ŷ − y)²)`.
    Mse,
    /// [`binary_cross_entropy`]: sigmoid fused with binary cross-entropy, on logits.
    BinaryCrossEntropy,
    /// [`softmax_cross_entropy`]: softmax fused with cross-entropy, on logits.
    SoftmaxCrossEntropy,
}

fn count<T: Real>(n: usize) -> T {
    T::constant(n as f64)
}

/// Panics on a batch of no samples, whose mean loss would be `0 / 0`.
#[inline]
#[track_caller]
pub(crate) fn check_not_empty(columns: usize) {
    assert!(
        columns > 0,
        "the batch has no samples; a batch needs at least one sample (column)"
    );
}

/// The mean `Σ terms / n`, given `sum(s)`, the sum of every term scaled by `s`: first
/// `sum(1) / n` (scaling by 1 is exact, so ordinary sums round as they always have), or, if that
/// sum overflows, `sum(1/n)`, each term scaled before it is added (a caller scales where it keeps
/// its term finite), which does not overflow when the mean is finite.
#[inline]
fn mean<T: Real>(n: usize, sum: impl Fn(T) -> T) -> T {
    let total = sum(T::one());
    let n = count::<T>(n);
    if total.is_finite() {
        total / n
    } else {
        sum(T::one() / n)
    }
}

/// Mean squared error `mean((ŷ − y)²)` over every element, PyTorch's `MSELoss()`.
///
/// For one sample of width `N` that is `‖ŷ − y‖² / N` (the element mean, not `½‖ŷ − y‖²`).
///
/// # Panics
/// On a batch of no samples.
#[inline]
#[track_caller]
pub fn mse<T: Real, R: Dim, C: Dim>(output: &Mat<T, R, C>, target: &Mat<T, R, C>) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    check_not_empty(output.ncols());
    // `d (d s)`: with `s = 1/n` a square that overflows alone is scaled before it is formed.
    mean(output.len(), |s| {
        output.zip_fold(target, T::zero(), |acc, o, y| acc + (o - y) * ((o - y) * s))
    })
}

/// Gradient of [`mse`]: `2 (ŷ − y) / (N · batch)`.
///
/// # Panics
/// On a batch of no samples.
#[inline]
#[track_caller]
pub fn mse_backward<T: Real, R: Dim, C: Dim>(
    output: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    check_not_empty(output.ncols());
    let scale = T::constant(2.0) / count(output.len());
    output.zip_map(target, |o, y| (o - y) * scale)
}

/// Sigmoid + binary cross-entropy on logits `x`, the element mean, PyTorch's
/// `BCEWithLogitsLoss()`: `mean(−y ln σ(x) − (1 − y) ln(1 − σ(x)))`.
///
/// Each output is an independent label in `[0, 1]`. Computed as `max(x, 0) − x y +
/// ln(1 + e^(−|x|))`, which is exact and never evaluates `ln(0)`.
///
/// # Panics
/// On a batch of no samples.
#[inline]
#[track_caller]
pub fn binary_cross_entropy<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    check_not_empty(logits.ncols());
    mean(logits.len(), |s| {
        logits.zip_fold(target, T::zero(), |acc, x, y| {
            acc + softplus_scalar(x) * s - x * y * s
        })
    })
}

/// Gradient of [`binary_cross_entropy`] with respect to the logits: `(σ(x) − y) / (N · batch)`.
///
/// # Panics
/// On a batch of no samples.
#[inline]
#[track_caller]
pub fn binary_cross_entropy_backward<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    check_not_empty(logits.ncols());
    let scale = T::one() / count(logits.len());
    logits.zip_map(target, |x, y| (logistic(x) - y) * scale)
}

/// Softmax + cross-entropy on logits `x`, the mean over samples of `−Σᵢ yᵢ ln softmax(x)ᵢ`,
/// PyTorch's `CrossEntropyLoss()` with probability targets.
///
/// `y` is a one-hot vector or any soft distribution (use [`one_hot`] for a class index).
/// `ln softmax(x) = x − logsumexp(x)` with the maximum subtracted first, so no term is `ln(0)`;
/// a class of target `0` adds nothing (not `0 · ∞` where its `x − logsumexp(x)` overflows).
///
/// # Panics
/// On a batch of no samples.
#[inline]
#[track_caller]
pub fn softmax_cross_entropy<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    check_not_empty(logits.ncols());
    mean(logits.ncols(), |s| {
        logits
            .column_iter()
            .zip(target.column_iter())
            .fold(T::zero(), |acc, (x, y)| {
                acc + cross_entropy_sample(&x, &y) * s
            })
    })
}

/// One sample's `−Σᵢ yᵢ (xᵢ − logsumexp(x))`.
#[inline]
fn cross_entropy_sample<T, R, S1, S2>(x: &Vector<T, R, S1>, y: &Vector<T, R, S2>) -> T
where
    T: Real,
    R: Dim,
    S1: Storage<T, R>,
    S2: Storage<T, R>,
{
    let max = x.max();
    let lse = max + x.fold(T::zero(), |acc, v| acc + (v - max).exp()).ln();
    x.zip_fold(y, T::zero(), |acc, x, y| {
        let term = y * (x - lse);
        if y == T::zero() {
            acc
        } else if term.is_finite() {
            acc - term
        } else {
            // `x − lse` overflowed; `y x − y lse` does not where the term is finite.
            acc - (y * x - y * lse)
        }
    })
}

/// Gradient of [`softmax_cross_entropy`] with respect to the logits: `(p Σy − y) / batch`,
/// which is the familiar `(p − y) / batch` when each target sums to 1.
///
/// # Panics
/// On a batch of no samples.
#[inline]
#[track_caller]
pub fn softmax_cross_entropy_backward<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    check_not_empty(logits.ncols());
    let scale = T::one() / count(logits.ncols());
    let mut grad = crate::activation::softmax(logits);
    for (mut p, y) in grad.column_iter_mut().zip(target.column_iter()) {
        let mass = y.sum();
        p.zip_apply(&y, |p, y| *p = (*p * mass - y) * scale);
    }
    grad
}

/// The one-hot vector of class `class`: `1` at that index, `0` elsewhere.
///
/// # Panics
/// If `class >= N`, with a message naming both (a class index is data, so check it where data
/// enters; [`one_hot_checked`] returns `None` instead).
pub fn one_hot<T: Real, const N: usize>(class: usize) -> SVector<T, N> {
    one_hot_checked(class)
        .unwrap_or_else(|| panic!("class index {class} is out of range for {N} classes"))
}

/// The one-hot columns of `labels`: a batch of targets for class indices.
#[cfg(feature = "alloc")]
///
/// # Panics
/// If a label is `>= N`, naming its position (check labels where data enters:
/// `data::Dataset::classification` does).
pub fn one_hot_batch<T: Real, const N: usize>(labels: &[usize]) -> crate::Batch<T, N> {
    let mut batch = crate::Batch::<T, N>::zeros(labels.len());
    for (sample, &class) in labels.iter().enumerate() {
        assert!(
            class < N,
            "label {class} of sample {sample} is out of range for {N} classes"
        );
        batch[(class, sample)] = T::one();
    }
    batch
}

/// The one-hot vector of class `class`, or `None` if `class >= N`.
pub fn one_hot_checked<T: Real, const N: usize>(class: usize) -> Option<SVector<T, N>> {
    (class < N).then(|| {
        let mut v = SVector::<T, N>::zeros();
        v[class] = T::one();
        v
    })
}

#[cfg(test)]
mod tests;
