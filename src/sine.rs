//! Universal approximation in one dimension: one hidden layer of tanh units fitted to
//! `sin x` on `[−π, π]`, measured by the largest error on a grid finer than the training one.

use std::f64::consts::PI;
use std::time::{Duration, Instant};

use nn_runtime::Batch;
use nn_runtime::data::Dataset;
use nn_runtime::init::Init;
use nn_runtime::optim::{Adam, AdamConfig, Schedule};
use nn_runtime::train::{self, History, TrainConfig};

nn_runtime::network! {
    /// `ŷ = Σⱼ vⱼ tanh(wⱼ x + bⱼ) + c`: a sum of 32 shifted, scaled tanh steps.
    pub struct Sine {
        input: 1,
        hidden: dense(32, tanh),
        out: dense(1),
        loss: mse,
    }
}

/// Seed of the initialization and the shuffles, for the example and the test.
pub const SEED: u64 = 0;
/// Training points: the midpoints of `TRAIN_POINTS` equal cells of `[−π, π]`.
pub const TRAIN_POINTS: usize = 256;
/// Points of the evaluation grid: `[−π, π]` evenly, both ends included.
pub const TEST_POINTS: usize = 1000;
/// Passes over the training points.
pub const EPOCHS: usize = 1000;
/// Samples per Adam step.
pub const BATCH_SIZE: usize = 16;
/// Adam's initial learning rate, annealed (cosine) to [`MIN_LR`] over the run.
pub const LEARNING_RATE: f64 = 1e-2;
/// The learning rate at the end of the run.
pub const MIN_LR: f64 = 1e-4;

/// What [`fit`] produced.
pub struct Fitted {
    /// The trained network.
    pub net: Box<Sine<f32>>,
    /// Loss after each epoch.
    pub history: History,
    /// Wall time of [`train::fit`] (training and the per-epoch evaluation).
    pub elapsed: Duration,
    /// `max |ŷ(x) − sin x|` over the [`TEST_POINTS`] grid.
    pub max_error: f64,
    /// The grid point where the error is largest.
    pub worst_x: f64,
}

/// `n` evenly spaced points of `[−π, π]`, both ends included.
pub fn grid(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| (-PI + 2.0 * PI * i as f64 / (n - 1).max(1) as f64) as f32)
        .collect()
}

/// The training set: `sin x` at the midpoints of [`TRAIN_POINTS`] equal cells of `[−π, π]`,
/// so no training point lies on the evaluation grid's ends.
pub fn training_set() -> Result<Dataset<f32, 1, 1>, nn_runtime::data::DataError> {
    let cell = 2.0 * PI / TRAIN_POINTS as f64;
    let xs: Vec<f64> = (0..TRAIN_POINTS)
        .map(|i| -PI + (i as f64 + 0.5) * cell)
        .collect();
    let rows: Vec<[f32; 1]> = xs.iter().map(|&x| [x as f32]).collect();
    let targets: Vec<[f32; 1]> = xs.iter().map(|&x| [x.sin() as f32]).collect();
    Dataset::regression(&rows, &targets)
}

/// The largest error over `TEST_POINTS` evenly spaced points of `[−π, π]`, one batch:
/// `(max |ŷ(x) − sin x|, the x where it occurs)`. The error is taken in `f64` against `sin`
/// of the (`f32`) grid point.
pub fn max_error(net: &Sine<f32>) -> (f64, f64) {
    let xs = grid(TEST_POINTS);
    let predictions = net.forward_batch(&Batch::<f32, 1>::from_row_slice(&xs));
    xs.iter()
        .zip(predictions.iter())
        .map(|(&x, &y)| (f64::from(y) - f64::from(x).sin()).abs())
        .zip(xs.iter().map(|&x| f64::from(x)))
        .fold(
            (0.0, 0.0),
            |worst, (error, x)| if error > worst.0 { (error, x) } else { worst },
        )
}

/// Initializes [`Sine`] with `seed` and trains it with Adam on [`training_set`].
pub fn fit(seed: u64) -> Result<Fitted, Box<dyn std::error::Error>> {
    let data = training_set()?;
    let mut net: Box<Sine<f32>> = Init::new(seed).build()?;
    let steps = (TRAIN_POINTS.div_ceil(BATCH_SIZE) * EPOCHS) as u64;
    let mut optimizer = Adam::new(AdamConfig {
        lr: LEARNING_RATE,
        schedule: Schedule::Cosine {
            steps,
            min_lr: MIN_LR,
        },
        ..AdamConfig::default()
    })?;
    let config = TrainConfig {
        epochs: EPOCHS,
        batch_size: BATCH_SIZE,
        seed,
        early_stopping: None,
        progress: false,
        threads: 1,
    };
    let started = Instant::now();
    let history = train::fit(&mut *net, &mut optimizer, &data, None, &config)?;
    let elapsed = started.elapsed();
    let (max_error, worst_x) = max_error(&net);
    Ok(Fitted {
        net,
        history,
        elapsed,
        max_error,
        worst_x,
    })
}
