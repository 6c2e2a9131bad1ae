use nalgebra::SVector;

use super::*;
use crate::linalg::Batch;

/// Central differences in f64 agree with the analytic batch-norm gradient to about 1e-9
/// (step 1e-6: truncation ~h², rounding ~1e-16/h).
const FD_TOLERANCE: f64 = 1e-8;

fn batch() -> Batch<f64, 3> {
    let rows = [
        [0.3, -1.0, 1.2, 0.5],
        [-0.7, 2.0, 0.1, 0.05],
        [1.5, 1.4, -0.2, 0.9],
    ];
    Batch::from_fn(4, |i, j| rows[i][j])
}

#[test]
fn batch_normalize_backward_matches_central_differences() {
    let (x, eps) = (batch(), 1e-5);
    let weights = Batch::<f64, 3>::from_fn(4, |i, j| 0.3 * i as f64 - 0.2 * j as f64 + 0.1);
    let normalize = |x: &Batch<f64, 3>| {
        let mean = batch_mean(x);
        batch_normalize(x, &mean, &batch_variance(x, &mean), eps)
    };
    let xhat = normalize(&x);
    let var = batch_variance(&x, &batch_mean(&x));
    let analytic = batch_normalize_backward(&xhat, &weights, &var, eps);
    let h = 1e-6;
    for i in 0..3 {
        for j in 0..4 {
            let (mut p, mut m) = (x.clone(), x.clone());
            p[(i, j)] += h;
            m[(i, j)] -= h;
            let numeric = (normalize(&p).dot(&weights) - normalize(&m).dot(&weights)) / (2.0 * h);
            assert!(
                (analytic[(i, j)] - numeric).abs() < FD_TOLERANCE,
                "({i}, {j}): {} vs {numeric}",
                analytic[(i, j)]
            );
        }
    }
}

#[test]
fn running_statistics_use_the_unbiased_variance() {
    let x = batch();
    let mut norm = BatchNorm::<f64, 3> {
        running_var: SVector::repeat(1.0),
        ..BatchNorm::default()
    };
    let mean = batch_mean(&x);
    let var = batch_variance(&x, &mean);
    norm.update_running(&mean, &var, 4, 0.1);
    // Row 0 is [0.3, -1.0, 1.2, 0.5]: mean 0.25, squared deviations summing to 2.53, so an
    // unbiased variance of 2.53 / 3 (by hand).
    assert!((norm.running_mean[0] - 0.025).abs() < 1e-15);
    assert!((norm.running_var[0] - (0.9 + 0.1 * 2.53 / 3.0)).abs() < 1e-15);
}

#[test]
#[should_panic(expected = "batch norm in training needs at least 2 samples per batch, got 1")]
fn a_batch_of_one_is_refused_in_training() {
    let x = Batch::<f64, 3>::from_element(1, 1.0);
    let _ = batch_variance(&x, &batch_mean(&x));
}

#[test]
fn dropout_masks_are_inverted_seeded_and_drop_about_p() {
    let p = 0.3;
    let mask: Batch<f64, 10> = dropout_mask(&mut Training::seeded(1), p, 1000);
    let again: Batch<f64, 10> = dropout_mask(&mut Training::seeded(1), p, 1000);
    assert_eq!(mask, again);
    assert!(mask.iter().all(|&m| m == 0.0 || m == 1.0 / (1.0 - p)));
    let dropped = mask.iter().filter(|&&m| m == 0.0).count() as f64 / 10_000.0;
    // 10 000 Bernoulli(0.3) draws: standard deviation 0.0046, so ±0.02 is over 4σ.
    assert!((dropped - p).abs() < 0.02, "dropped {dropped}");
    let none: Batch<f64, 10> = dropout_mask(&mut Training::seeded(1), 0.0, 100);
    assert!(none.iter().all(|&m| m == 1.0));
}

#[test]
fn uniform_draws_stay_below_one() {
    let mut training = Training::seeded(u64::MAX);
    assert!(
        (0..10_000)
            .map(|_| training.uniform())
            .all(|u| (0.0..1.0).contains(&u))
    );
}
