//! One-dimensional convolutional networks on two time-series classification problems of the
//! UEA & UCR archive, on their official train/test splits (the files in `data/sequences/`, read
//! with `nn_runtime::ts`; provenance in the README's "Data"):
//!
//! - GunPoint: one channel of 150 steps (a hand's x coordinate), 2 classes, 50 training and
//!   150 test cases;
//! - BasicMotions: 6 channels (accelerometer and gyroscope axes) of 100 steps, 4 classes, 40
//!   training and 40 test cases.
//!
//! ```sh
//! cargo run --release --example ts_cnn            # both, seed 0
//! cargo run --release --example ts_cnn -- --seed 3
//! ```
//!
//! Each network is a small fully convolutional classifier (after Wang et al. 2017, without
//! batch norm): three `same`-padded relu convolutions (GunPoint's with max pooling between
//! them), a global average pool over time, a dense layer to the classes. Each channel is standardized with the training set's mean and deviation.
//! Adam (learning rate 2e-3, cosine-decayed), batch 8; the accuracies and times measured are in
//! the README's "Convolutional networks".

use std::process::ExitCode;
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
const BATCH_SIZE: usize = 8;
/// Adam's initial learning rate.
const LEARNING_RATE: f64 = 2e-3;

fn main() -> ExitCode {
    let mut seed = 0;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next().map(|v| v.parse::<u64>())) {
            ("--seed", Some(Ok(value))) => seed = value,
            _ => {
                eprintln!("usage: ts_cnn [--seed N]");
                return ExitCode::from(2);
            }
        }
    }
    let runs = [
        run::<GunPointCnn<f32>, 150, 2>("GunPoint", 1, 200, seed),
        run::<MotionsCnn<f32>, 600, 4>("BasicMotions", 6, 150, seed),
    ];
    for result in runs {
        if let Err(error) = result {
            eprintln!("error: {error}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Reads `<problem>_TRAIN` and `_TEST`, standardizes, trains for `epochs`, prints the test
/// accuracy; returns it.
fn run<N, const IN: usize, const OUT: usize>(
    problem: &str,
    channels: usize,
    epochs: usize,
    seed: u64,
) -> Result<f64, Box<dyn std::error::Error>>
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
    let final_train = history.epochs.last().and_then(|e| e.train.accuracy);
    println!(
        "{problem}: {} training, {} test cases; {} ({} parameters)\n  {epochs} epochs, seed \
         {seed}: training accuracy {:.4}, test accuracy {:.4} (test loss {:.4}), {:.2} s",
        train_set.len(),
        test_set.len(),
        N::ARCHITECTURE,
        N::PARAM_COUNT,
        final_train.unwrap_or(0.0),
        test.accuracy.unwrap_or(0.0),
        test.loss,
        started.elapsed().as_secs_f64(),
    );
    Ok(test.accuracy.unwrap_or(0.0))
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
