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
        let mean: SVector<f64, 3> = batch_mean(x);
        batch_normalize(x, &mean, &batch_variance(x, &mean), eps)
    };
    let xhat = normalize(&x);
    let var: SVector<f64, 3> = batch_variance(&x, &batch_mean(&x));
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
    let mean: SVector<f64, 3> = batch_mean(&x);
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
    let _: SVector<f64, 3> = batch_variance(&x, &batch_mean(&x));
}

/// A batch of two `[2, 3]` samples as `[6, 2]`: channel 0 is rows 0..3, channel 1 rows 3..6.
fn feature_maps() -> Batch<f64, 6> {
    let columns = [
        [0.3, -1.0, 1.2, 0.5, 2.0, -0.4],
        [-0.7, 0.1, 0.05, 1.5, 1.4, -0.2],
    ];
    Batch::from_fn(2, |i, j| columns[j][i])
}

#[test]
fn channel_statistics_run_over_samples_and_positions() {
    let x = feature_maps();
    let mean: SVector<f64, 2> = batch_mean(&x);
    let var = batch_variance(&x, &mean);
    // Channel 0 holds 0.3, -1.0, 1.2, -0.7, 0.1, 0.05: sum -0.05; channel 1 holds 0.5, 2.0,
    // -0.4, 1.5, 1.4, -0.2: sum 4.8 (by hand).
    assert!((mean[0] - -0.05 / 6.0).abs() < 1e-15);
    assert!((mean[1] - 0.8).abs() < 1e-15);
    let values = [0.5, 2.0, -0.4, 1.5, 1.4, -0.2];
    let by_hand = values.iter().map(|v| (v - 0.8) * (v - 0.8)).sum::<f64>() / 6.0;
    assert!((var[1] - by_hand).abs() < 1e-15);
    let mut norm = BatchNorm::<f64, 2> {
        weight: SVector::from([2.0, 0.5]),
        bias: SVector::from([0.1, -0.3]),
        running_mean: mean,
        running_var: var,
    };
    // Inference with the batch's own statistics as running ones equals training's output.
    let eps = 1e-5;
    let trained = norm.scale_shift(&batch_normalize(&x, &mean, &var, eps));
    assert!((norm.infer(&x, eps) - &trained).amax() < 1e-14);
    assert!((trained[(4, 1)] - (0.5 * (1.4 - 0.8) / (by_hand + eps).sqrt() - 0.3)).abs() < 1e-14);
    norm.update_running(&mean, &var, 6, 0.1);
    assert!((norm.running_var[1] - (0.9 * by_hand + 0.1 * by_hand * 6.0 / 5.0)).abs() < 1e-15);
}

#[test]
fn channel_normalize_backward_matches_central_differences() {
    let (x, eps) = (feature_maps(), 1e-5);
    let weights = Batch::<f64, 6>::from_fn(2, |i, j| 0.3 * i as f64 - 0.7 * j as f64 + 0.1);
    let normalize = |x: &Batch<f64, 6>| {
        let mean: SVector<f64, 2> = batch_mean(x);
        batch_normalize(x, &mean, &batch_variance(x, &mean), eps)
    };
    let xhat = normalize(&x);
    let var: SVector<f64, 2> = batch_variance(&x, &batch_mean(&x));
    let analytic = batch_normalize_backward(&xhat, &weights, &var, eps);
    let h = 1e-6;
    for i in 0..6 {
        for j in 0..2 {
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
fn one_feature_map_has_enough_values_per_channel() {
    let x = Batch::<f64, 6>::from_fn(1, |i, _| i as f64);
    let mean: SVector<f64, 2> = batch_mean(&x);
    assert_eq!(
        batch_variance(&x, &mean),
        SVector::from([2.0 / 3.0, 2.0 / 3.0])
    );
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
