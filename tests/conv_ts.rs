//! `examples/ts_cnn`'s GunPoint network, trained as the example trains it (same data, seed,
//! optimizer and batch) but for fewer epochs, so that a debug test run pins its accuracy claim
//! in seconds: the README's 1.0 comes from 200 epochs in release.

use nn::ts_cnn::{self, GunPointCnn};

/// Epochs of the shortened run (the example runs 200).
const EPOCHS: usize = 60;

/// GunPoint's test accuracy after [`EPOCHS`] epochs from seed 0 must reach this bar.
const BAR: f64 = 0.98;

#[test]
fn gunpoint_cnn_clears_the_bar_with_seed_0() {
    let outcome =
        ts_cnn::run::<GunPointCnn<f32>, 150, 2>("GunPoint", 1, EPOCHS, 0).expect("trains");
    eprintln!("{outcome:?}");
    assert_eq!(outcome.cases, (50, 150));
    assert!(
        outcome.test_accuracy >= BAR,
        "GunPoint test accuracy {:.4} after {EPOCHS} epochs, below {BAR}",
        outcome.test_accuracy
    );
}
