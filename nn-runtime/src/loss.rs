//! Losses on a network's output, and their gradients with respect to that output.
//!
//! Every loss is a mean over the samples of a batch (the columns), so the loss of a batch of one
//! equals the per-sample loss, and its gradient carries the `1 / batch` factor: summing a
//! batch's weight gradients then gives the gradient of the mean loss. The conventions are
//! PyTorch's (`reduction='mean'`), so losses and gradients compare one to one.

use nalgebra::allocator::Allocator;
use nalgebra::{DefaultAllocator, Dim, OMatrix, SVector};

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

/// Mean squared error `mean((ŷ − y)²)` over every element, PyTorch's `MSELoss()`.
///
/// For one sample of width `N` that is `‖ŷ − y‖² / N` (the element mean, not `½‖ŷ − y‖²`).
#[inline]
pub fn mse<T: Real, R: Dim, C: Dim>(output: &Mat<T, R, C>, target: &Mat<T, R, C>) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    let sum = output.zip_fold(target, T::zero(), |acc, o, y| acc + (o - y) * (o - y));
    sum / count(output.len())
}

/// Gradient of [`mse`]: `2 (ŷ − y) / (N · batch)`.
#[inline]
pub fn mse_backward<T: Real, R: Dim, C: Dim>(
    output: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let scale = T::constant(2.0) / count(output.len());
    output.zip_map(target, |o, y| (o - y) * scale)
}

/// Sigmoid + binary cross-entropy on logits `x`, the element mean, PyTorch's
/// `BCEWithLogitsLoss()`: `mean(−y ln σ(x) − (1 − y) ln(1 − σ(x)))`.
///
/// Each output is an independent label in `[0, 1]`. Computed as `max(x, 0) − x y +
/// ln(1 + e^(−|x|))`, which is exact and never evaluates `ln(0)`.
#[inline]
pub fn binary_cross_entropy<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    let sum = logits.zip_fold(target, T::zero(), |acc, x, y| {
        acc + softplus_scalar(x) - x * y
    });
    sum / count(logits.len())
}

/// Gradient of [`binary_cross_entropy`] with respect to the logits: `(σ(x) − y) / (N · batch)`.
#[inline]
pub fn binary_cross_entropy_backward<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
    let scale = T::one() / count(logits.len());
    logits.zip_map(target, |x, y| (logistic(x) - y) * scale)
}

/// Softmax + cross-entropy on logits `x`, the mean over samples of `−Σᵢ yᵢ ln softmax(x)ᵢ`,
/// PyTorch's `CrossEntropyLoss()` with probability targets.
///
/// `y` is a one-hot vector or any soft distribution (use [`one_hot`] for a class index).
/// `ln softmax(x) = x − logsumexp(x)` with the maximum subtracted first, so no term is `ln(0)`.
#[inline]
pub fn softmax_cross_entropy<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> T
where
    DefaultAllocator: Allocator<R, C>,
{
    let mut sum = T::zero();
    for (x, y) in logits.column_iter().zip(target.column_iter()) {
        let max = x.max();
        let lse = max + x.fold(T::zero(), |acc, v| acc + (v - max).exp()).ln();
        sum += x.zip_fold(&y, T::zero(), |acc, x, y| acc - y * (x - lse));
    }
    sum / count(logits.ncols())
}

/// Gradient of [`softmax_cross_entropy`] with respect to the logits: `(p Σy − y) / batch`,
/// which is the familiar `(p − y) / batch` when each target sums to 1.
#[inline]
pub fn softmax_cross_entropy_backward<T: Real, R: Dim, C: Dim>(
    logits: &Mat<T, R, C>,
    target: &Mat<T, R, C>,
) -> Mat<T, R, C>
where
    DefaultAllocator: Allocator<R, C>,
{
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
mod tests {
    use super::*;
    use nalgebra::{Matrix3x2, Vector3};

    /// Analytic and central-difference gradients of smooth f64 functions agree to ~1e-10.
    const GRAD_TOL: f64 = 1e-8;

    fn numeric_grad(f: impl Fn(&Matrix3x2<f64>) -> f64, x: &Matrix3x2<f64>) -> Matrix3x2<f64> {
        let h = 1e-6;
        Matrix3x2::from_fn(|i, j| {
            let (mut p, mut m) = (*x, *x);
            p[(i, j)] += h;
            m[(i, j)] -= h;
            (f(&p) - f(&m)) / (2.0 * h)
        })
    }

    #[test]
    fn gradients_match_central_differences() {
        let x = Matrix3x2::new(0.5, -1.5, 2.0, 0.1, -0.3, 3.0);
        let y = Matrix3x2::new(0.2, 0.0, 0.7, 1.0, 0.1, 0.0);
        type Loss = fn(&Matrix3x2<f64>, &Matrix3x2<f64>) -> f64;
        type Grad = fn(&Matrix3x2<f64>, &Matrix3x2<f64>) -> Matrix3x2<f64>;
        let cases: [(Loss, Grad); 3] = [
            (mse, mse_backward),
            (binary_cross_entropy, binary_cross_entropy_backward),
            (softmax_cross_entropy, softmax_cross_entropy_backward),
        ];
        for (loss, grad) in cases {
            let numeric = numeric_grad(|x| loss(x, &y), &x);
            assert!((grad(&x, &y) - numeric).amax() < GRAD_TOL);
        }
    }

    #[test]
    fn reference_values() {
        // PyTorch: F.cross_entropy(tensor([[1., 2., 3.]]), tensor([2])) = 0.40760596444438
        let x = Vector3::new(1.0f64, 2.0, 3.0);
        let ce = softmax_cross_entropy(&x, &one_hot(2));
        assert!((ce - 0.407_605_964_444_380_1).abs() < 1e-14);
        // F.binary_cross_entropy_with_logits(tensor([0., 2., -1.]), tensor([1., 0., 1.]))
        let y = Vector3::new(1.0, 0.0, 1.0);
        let bce = binary_cross_entropy(&Vector3::new(0.0, 2.0, -1.0), &y);
        let expected =
            (core::f64::consts::LN_2 + (1.0 + 2f64.exp()).ln() + (1.0 + 1f64.exp()).ln()) / 3.0;
        assert!((bce - expected).abs() < 1e-14);
        assert!((mse(&x, &y) - (0.0 + 4.0 + 4.0) / 3.0).abs() < 1e-15);
    }

    #[test]
    fn extreme_logits_stay_finite() {
        let x = Vector3::new(1000.0f32, -1000.0, 0.0);
        let ce = softmax_cross_entropy(&x, &one_hot(1));
        assert_eq!(ce, 2000.0);
        let bce = binary_cross_entropy(&x, &Vector3::new(0.0, 1.0, 0.5));
        assert!(bce.is_finite());
        assert!(
            softmax_cross_entropy_backward(&x, &one_hot(1))
                .iter()
                .all(|g| g.is_finite())
        );
    }

    #[test]
    fn one_hot_checks_its_range() {
        assert_eq!(one_hot::<f32, 3>(1), Vector3::new(0.0, 1.0, 0.0));
        assert_eq!(one_hot_checked::<f32, 3>(3), None);
        let batch = one_hot_batch::<f64, 3>(&[2, 0]);
        assert_eq!(batch.as_slice(), &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    #[should_panic(expected = "label 3 of sample 1 is out of range for 3 classes")]
    fn one_hot_batch_names_the_bad_label() {
        let _ = one_hot_batch::<f64, 3>(&[2, 3]);
    }
}
