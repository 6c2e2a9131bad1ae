use super::*;
use nalgebra::{Dyn, Matrix3x2, OMatrix, U2, Vector2, Vector3};

use crate::Parameters;
use crate::activation::tests::Extremes;

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

type Pairs<T> = OMatrix<T, U2, Dyn>;

/// Every ordered pair of extremes as a 2-row column.
fn extreme_pairs<T: Extremes>() -> Pairs<T> {
    let v = T::extremes();
    let k = v.len();
    Pairs::from_fn(k * k, |i, j| if i == 0 { v[j / k] } else { v[j % k] })
}

/// The columns `keep` selects, as a batch.
fn columns<T: Real>(m: &Pairs<T>, keep: impl Fn(T, T) -> bool) -> Pairs<T> {
    let kept: Vec<_> = m.column_iter().filter(|c| keep(c[0], c[1])).collect();
    Pairs::from_columns(&kept)
}

fn assert_finite<T: Real>(what: &str, inputs: (T, T), value: T) {
    assert!(
        value.is_finite(),
        "{what} at {:?} is {value}",
        (inputs.0.to_f64(), inputs.1.to_f64())
    );
}

/// Every loss, forward and backward, at every pair of extremes: never NaN; finite wherever
/// the exact loss is clearly below the overflow threshold; the batch mean of finite losses
/// finite too (their sum may overflow where their mean does not).
fn losses_stay_finite_at_extremes<T: Extremes>() {
    let pairs = extreme_pairs::<T>();
    let max = T::extremes()[1];
    let (zero, one, half) = (T::zero(), T::one(), T::constant(0.5));
    let targets = [[one, zero], [zero, one], [half, half], [zero, zero]];
    for target in targets {
        let y = |n| Pairs::<T>::from_fn(n, |i, _| target[i]);
        for column in pairs.column_iter() {
            let (x, inputs) = (Pairs::from_columns(&[column]), (column[0], column[1]));
            // Softmax cross-entropy is `Σ y (lse − x)`, at most `Σy · |x₀ − x₁|`: finite when
            // the logits are less than MAX/2 apart. Sigmoid BCE is at most `|x|` per element.
            let ce = softmax_cross_entropy(&x, &y(1));
            assert!(!ce.to_f64().is_nan(), "cross-entropy at {inputs:?} is NaN");
            if (column[0] * half - column[1] * half).abs() <= max * T::constant(0.25) {
                assert_finite("cross-entropy", inputs, ce);
            }
            let bce = binary_cross_entropy(&x, &y(1));
            assert_finite("binary cross-entropy", inputs, bce);
            for g in softmax_cross_entropy_backward(&x, &y(1)).iter() {
                assert_finite("cross-entropy backward", inputs, *g);
            }
            for g in binary_cross_entropy_backward(&x, &y(1)).iter() {
                assert_finite("binary cross-entropy backward", inputs, *g);
            }
            // MSE is `mean((x − y)²)`: finite where |x − y| < √MAX.
            let mse_value = mse(&x, &y(1));
            assert!(!mse_value.to_f64().is_nan(), "mse at {inputs:?} is NaN");
            let root = max.sqrt() * half;
            if column[0].abs() < root && column[1].abs() < root {
                assert_finite("mse", inputs, mse_value);
            }
            for g in mse_backward(&x, &y(1)).iter() {
                assert_finite("mse backward", inputs, *g);
            }
        }
        // Whole batches whose every sample's loss is finite: their mean is finite too.
        let ce_finite = columns(&pairs, |a, b| {
            (a * half - b * half).abs() <= max * T::constant(0.25)
        });
        let ce = softmax_cross_entropy(&ce_finite, &y(ce_finite.ncols()));
        assert!(ce.is_finite(), "mean cross-entropy {ce} for {target:?}");
        let bce = binary_cross_entropy(&pairs, &y(pairs.ncols()));
        assert!(
            bce.is_finite(),
            "mean binary cross-entropy {bce} for {target:?}"
        );
        let root = max.sqrt() * half;
        let mse_finite = columns(&pairs, |a, b| a.abs() < root && b.abs() < root);
        let mse_value = mse(&mse_finite, &y(mse_finite.ncols()));
        assert!(mse_value.is_finite(), "mean mse {mse_value} for {target:?}");
    }
    // Saturated values: a confident right answer costs 0, a confident wrong one its margin.
    let x = Pairs::from_column_slice(&[max, -max]);
    let right = Pairs::from_column_slice(&[one, zero]);
    assert_eq!(softmax_cross_entropy(&x, &right), zero);
    assert_eq!(binary_cross_entropy(&x, &right), zero);
    let x = Pairs::from_column_slice(&[max * half, zero]);
    assert_eq!(
        softmax_cross_entropy(&x, &Pairs::from_column_slice(&[zero, one])),
        max * half
    );
}

#[test]
fn losses_stay_finite_at_extremes_f32() {
    losses_stay_finite_at_extremes::<f32>();
}

#[test]
fn losses_stay_finite_at_extremes_f64() {
    losses_stay_finite_at_extremes::<f64>();
}

#[test]
fn cross_entropy_at_logits_of_2e38_is_finite() {
    // The case of the issue: f32 logits ±2e38, one-hot on the larger.
    let x = Vector2::new(2e38f32, -2e38);
    assert_eq!(softmax_cross_entropy(&x, &one_hot(0)), 0.0);
}

#[test]
#[should_panic(expected = "a batch needs at least one sample")]
fn empty_batch_loss_panics() {
    let _ = mse(&Pairs::<f32>::zeros(0), &Pairs::zeros(0));
}

#[test]
#[should_panic(expected = "a batch needs at least one sample")]
fn empty_batch_cross_entropy_panics() {
    let _ = softmax_cross_entropy(&Pairs::<f32>::zeros(0), &Pairs::zeros(0));
}

#[test]
#[should_panic(expected = "a batch needs at least one sample")]
fn empty_batch_binary_cross_entropy_backward_panics() {
    let _ = binary_cross_entropy_backward(&Pairs::<f64>::zeros(0), &Pairs::zeros(0));
}

nn_runtime::network! {
    struct Tiny {
        input: 3,
        h: dense(4, relu),
        norm: layer_norm,
        out: dense(2),
        loss: softmax_cross_entropy,
    }
}

#[test]
#[should_panic(expected = "the batch has no samples; a batch needs at least one sample (column)")]
fn loss_batch_of_no_samples_panics() {
    let net = Tiny::<f32>::zeros();
    let _ = net.loss_batch(&crate::Batch::zeros(0), &crate::Batch::zeros(0));
}

#[test]
#[should_panic(expected = "the batch has no samples; a batch needs at least one sample (column)")]
fn backward_batch_of_no_samples_panics() {
    let net = Tiny::<f64>::zeros();
    let mut grad = Tiny::<f64>::zeros();
    let _ = net.backward_batch_labels(&crate::Batch::zeros(0), &[], &mut grad);
}

#[test]
fn forward_and_predict_of_no_samples_are_no_samples() {
    let net = Tiny::<f32>::zeros();
    assert_eq!(net.forward_batch(&crate::Batch::zeros(0)).ncols(), 0);
    assert_eq!(net.predict_batch(&crate::Batch::zeros(0)).ncols(), 0);
}

/// `(loss, backward)` of each fused `*_and_backward` against the two separate functions, bit
/// for bit (`to_bits` tells `-0.0` from `0.0` and compares NaN too).
fn assert_fused_equals_separate<T: Real, C: Dim>(x: &OMatrix<T, U2, C>, y: &OMatrix<T, U2, C>)
where
    DefaultAllocator: Allocator<U2, C>,
{
    type Fused<T, C> = fn(&OMatrix<T, U2, C>, &OMatrix<T, U2, C>) -> (T, OMatrix<T, U2, C>);
    type Loss<T, C> = fn(&OMatrix<T, U2, C>, &OMatrix<T, U2, C>) -> T;
    type Grad<T, C> = fn(&OMatrix<T, U2, C>, &OMatrix<T, U2, C>) -> OMatrix<T, U2, C>;
    type Case<T, C> = (&'static str, Fused<T, C>, Loss<T, C>, Grad<T, C>);
    let cases: [Case<T, C>; 3] = [
        ("mse", mse_and_backward, mse, mse_backward),
        (
            "binary cross-entropy",
            binary_cross_entropy_and_backward,
            binary_cross_entropy,
            binary_cross_entropy_backward,
        ),
        (
            "softmax cross-entropy",
            softmax_cross_entropy_and_backward,
            softmax_cross_entropy,
            softmax_cross_entropy_backward,
        ),
    ];
    let bits = |v: T| v.to_f64().to_bits();
    for (name, fused, loss, grad) in cases {
        let (value, gradient) = fused(x, y);
        assert_eq!(bits(value), bits(loss(x, y)), "{name}: loss");
        let separate = grad(x, y);
        for (a, b) in gradient.iter().zip(separate.iter()) {
            assert_eq!(
                bits(*a),
                bits(*b),
                "{name}: gradient {gradient} vs {separate}"
            );
        }
    }
}

fn fused_losses_equal_the_separate_ones<T: Extremes>() {
    let pairs = extreme_pairs::<T>();
    let (zero, one, half) = (T::zero(), T::one(), T::constant(0.5));
    for target in [[one, zero], [zero, one], [half, half], [zero, zero]] {
        let y = |n| Pairs::<T>::from_fn(n, |i, _| target[i]);
        // Each pair of extremes alone, then all of them as one batch (whose cross-entropy
        // sum overflows: the fused function must fall back to the scaled mean too).
        for column in pairs.column_iter() {
            assert_fused_equals_separate(&Pairs::from_columns(&[column]), &y(1));
        }
        assert_fused_equals_separate(&pairs, &y(pairs.ncols()));
    }
    let x = Matrix3x2::new(0.5, -1.5, 2.0, 0.1, -0.3, 3.0).map(T::constant);
    let y = Matrix3x2::new(0.2, 0.0, 0.7, 1.0, 0.1, 0.0).map(T::constant);
    let (value, gradient) = softmax_cross_entropy_and_backward(&x, &y);
    assert_eq!(value, softmax_cross_entropy(&x, &y));
    assert_eq!(gradient, softmax_cross_entropy_backward(&x, &y));
}

#[test]
fn fused_losses_equal_the_separate_ones_f32() {
    fused_losses_equal_the_separate_ones::<f32>();
}

#[test]
fn fused_losses_equal_the_separate_ones_f64() {
    fused_losses_equal_the_separate_ones::<f64>();
}
