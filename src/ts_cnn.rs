//! The 1-D convolutional networks of `examples/ts_cnn` and their training on the UEA & UCR
//! problems in `data/sequences/` (official train/test splits), shared with `tests/conv_ts.rs`,
//! which pins GunPoint's accuracy.

use std::time::Instant;

use nn_runtime::data::Dataset;
use nn_runtime::init::Init;
use nn_runtime::optim::{Adam, AdamConfig, Schedule};
use nn_runtime::train::{self, TrainConfig};
use nn_runtime::{Network, ts};

nn_runtime::network! {
    /// GunPoint: `[1, 150]` → 2 classes.
    pub struct GunPointCnn {
        input: [1, 150],
        c1: conv1d(16, kernel = 9, padding = same, relu),
        p1: max_pool(2),                                    // [16, 75]
        c2: conv1d(32, kernel = 7, padding = same, relu),
        p2: max_pool(2),                                    // [32, 37]
        c3: conv1d(32, kernel = 5, padding = same, relu),
        g: global_avg_pool,
        out: dense(2),
        loss: softmax_cross_entropy,
    }
}

nn_runtime::network! {
    /// BasicMotions: `[6, 100]` → 4 classes.
    pub struct MotionsCnn {
        input: [6, 100],
        c1: conv1d(32, kernel = 7, padding = same, relu),
        c2: conv1d(32, kernel = 5, padding = same, relu),
        c3: conv1d(32, kernel = 3, padding = same, relu),
        g: global_avg_pool,
        out: dense(4),
        loss: softmax_cross_entropy,
    }
}

/// Samples per minibatch.
pub const BATCH_SIZE: usize = 8;
/// Adam's initial learning rate.
pub const LEARNING_RATE: f64 = 2e-3;

/// What one training run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Training and test cases.
    pub cases: (usize, usize),
    /// Accuracy on the training set after the last epoch.
    pub train_accuracy: f64,
    /// Accuracy on the test set.
    pub test_accuracy: f64,
    /// Mean loss on the test set.
    pub test_loss: f64,
    /// Wall time of the run, reading the files included.
    pub seconds: f64,
}

/// Reads `<problem>_TRAIN` and `_TEST` (`channels` channels each), standardizes them, trains a
/// fresh `N` for `epochs` epochs of Adam from `seed` on one thread and evaluates it.
pub fn run<N, const IN: usize, const OUT: usize>(
    problem: &str,
    channels: usize,
    epochs: usize,
    seed: u64,
) -> Result<Outcome, Box<dyn std::error::Error>>
where
    N: Network<f32, IN, OUT> + nn_runtime::Parameters<f32> + Send + Sync,
{
    let started = Instant::now();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/data/sequences");
    let mut train_set: Dataset<f32, IN, OUT> =
        ts::read(format!("{dir}/{problem}_TRAIN.ts.gz"))?.dataset()?;
    let mut test_set: Dataset<f32, IN, OUT> =
        ts::read(format!("{dir}/{problem}_TEST.ts.gz"))?.dataset()?;
    standardize(&mut train_set, &mut test_set, channels);

    let mut net: Box<N> = Init::new(seed).build()?;
    let steps = train_set.len().div_ceil(BATCH_SIZE) as u64 * epochs as u64;
    let mut optimizer = Adam::new(AdamConfig {
        lr: LEARNING_RATE,
        schedule: Schedule::Cosine { steps, min_lr: 0.0 },
        ..AdamConfig::default()
    })?;
    let config = TrainConfig {
        epochs,
        batch_size: BATCH_SIZE,
        seed,
        early_stopping: None,
        progress: false,
        threads: 1,
    };
    let history = train::fit(&mut *net, &mut optimizer, &train_set, None, &config)?;
    let test = train::evaluate(&*net, &test_set);
    Ok(Outcome {
        cases: (train_set.len(), test_set.len()),
        train_accuracy: history
            .epochs
            .last()
            .and_then(|e| e.train.accuracy)
            .unwrap_or(0.0),
        test_accuracy: test.accuracy.unwrap_or(0.0),
        test_loss: test.loss,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Each channel of both sets to zero mean and unit deviation, with the training set's figures
/// (a sample is `[channels, steps]`, channel by channel).
fn standardize<const IN: usize, const OUT: usize>(
    train: &mut Dataset<f32, IN, OUT>,
    test: &mut Dataset<f32, IN, OUT>,
    channels: usize,
) {
    let steps = IN / channels;
    for c in 0..channels {
        let rows = c * steps..(c + 1) * steps;
        let values: Vec<f64> = train
            .inputs
            .rows_range(rows.clone())
            .iter()
            .map(|&v| f64::from(v))
            .collect();
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / values.len() as f64;
        let deviation = variance.sqrt().max(1e-12);
        for set in [&mut *train, &mut *test] {
            set.inputs
                .rows_range_mut(rows.clone())
                .apply(|v| *v = ((f64::from(*v) - mean) / deviation) as f32);
        }
    }
}
